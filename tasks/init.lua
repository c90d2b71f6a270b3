-- The built-in init task: the starter files of a dbtrun project, fitted to
-- the dbt project it runs in (its profile's adapter, how it installs Python
-- packages). Existing files are kept (say which); --force replaces them.
-- The work is in lua/scaffold.lua and lua/init_templates.lua, loaded only
-- when init runs.

local USAGE = "init [--force] [--adapter NAME]"

local function parse_flags(words, adapters)
  local o = {}
  local i = 1
  while i <= #words do
    local w = words[i]
    local value = w:match("^%-%-adapter=(.*)$")
    if w == "--adapter" then
      value, i = words[i + 1], i + 1
      if not value then
        error(("init: --adapter needs a name (%s)"):format(table.concat(adapters, ", ")), 0)
      end
    end
    if value then
      o.adapter = value:lower()
    elseif w == "--force" then
      o.force = true
    else
      error(("init: unknown flag %s (%s)"):format(w, USAGE), 0)
    end
    i = i + 1
  end
  if o.adapter and not table.concat(adapters, " "):find("%f[%w]" .. o.adapter .. "%f[^%w]") then
    error(("init: --adapter %s: no template for it (one of %s)"):format(o.adapter, table.concat(adapters, ", ")), 0)
  end
  return o
end

-- The adapter: --adapter, else the profile's target type, else the one
-- adapter the dependency files name. Raises, saying what was searched,
-- when none says.
local function detect(scaffold, project, flags)
  local profile, searched = scaffold.find_profile(project.profile)
  if profile then
    log(("profile  %s in %s (%s): target %s, type %s"):format(project.profile, profile.path, profile.label,
      tostring(profile.target), tostring(profile.type)))
  end
  if flags.adapter then
    if profile and profile.type and profile.type ~= flags.adapter then
      warn(("--adapter %s: the profile's target is %s; writing %s templates as asked"):format(flags.adapter,
        profile.type, flags.adapter))
    end
    return flags.adapter, profile
  end
  if profile and profile.type then
    return profile.type, profile
  elseif profile then
    error(("init: profile '%s' in %s has no type for target %s (an output with `type:` is what tells the adapter); "
      .. "name it: dbtrun init --adapter NAME (one of %s)"):format(project.profile, profile.path,
      tostring(profile.target), table.concat(scaffold.ADAPTERS, ", ")), 0)
  end
  local declared, files = scaffold.declared_adapters()
  if #declared == 1 then
    log(("adapter  %s: named by %s (no profile '%s' found: %s)"):format(declared[1], table.concat(files, ", "),
      project.profile, table.concat(searched, ", ")))
    return declared[1], nil
  end
  error(("init: cannot tell the adapter: profile '%s' (dbt_project.yml) is not in %s%s; name it: "
    .. "dbtrun init --adapter NAME (one of %s)"):format(project.profile, table.concat(searched, ", "),
    #declared > 1 and (", and " .. table.concat(files, ", ") .. " name " .. table.concat(declared, " and "))
      or (#files > 0 and (", nor named by " .. table.concat(files, ", ")) or ""),
    table.concat(scaffold.ADAPTERS, ", ")), 0)
end

-- Writes path unless it exists (kept, said; --force replaces). Returns
-- whether it was written.
local function put(path, text, force, kept)
  if fs.exists(path) and not force then
    local same = fs.isfile(path) and fs.read(path) == text
    log(("kept     %s (%s)"):format(path, same and "unchanged" or "exists; --force replaces it"))
    if not same then
      kept[#kept + 1] = path
    end
    return false
  end
  local dir = path:match("^(.*)/[^/]*$")
  if dir then
    fs.mkdir(dir)
  end
  fs.write(path, text)
  if not require("dbtrun.ui").dry_run then -- a dry run has said "write PATH"
    log("wrote    " .. path)
  end
  return true
end

local function merge_gitignore(scaffold)
  local text = fs.isfile(".gitignore") and fs.read(".gitignore") or nil
  local merged, added = scaffold.gitignore(text, scaffold.IGNORED)
  if merged then
    fs.write(".gitignore", merged)
    log(("%s .gitignore (+ %s)"):format(text and "appended" or "wrote   ", table.concat(added, " ")))
  else
    log("kept     .gitignore (has " .. table.concat(scaffold.IGNORED, " ") .. ")")
  end
end

task("init", {
  params = { "*FLAGS" },
  doc = "Write dbtrun.lua, a profile template for the project's adapter, CI schema macros, .gitignore lines "
    .. "and GitHub workflows (--adapter NAME, --force replaces)",
}, function(a)
  local scaffold = require("dbtrun.scaffold")
  local templates = require("dbtrun.init_templates")
  local flags = parse_flags(a.FLAGS, scaffold.ADAPTERS)
  if not fs.isfile("dbt_project.yml") then
    error(("init: no dbt_project.yml in %s: run dbtrun init in your dbt project's folder"):format(fs.cwd()), 0)
  end
  local project = scaffold.project(fs.read("dbt_project.yml"))
  if not project.profile then
    error("init: dbt_project.yml names no profile (profile: NAME): dbt needs one, and so do the templates", 0)
  end
  local adapter, profile = detect(scaffold, project, flags)
  local installer, uv_locked = scaffold.installer()
  local ctx = {
    adapter = adapter,
    profile_name = project.profile,
    project_name = project.name,
    version = require("dbtrun.native").version,
    installer = installer,
    merge_base = config.get("state") == "merge-base", -- ci.yml checks out the PR's head, full history
    uv_locked = uv_locked,
    project_requirements = fs.isfile("requirements.txt") and "requirements.txt" or nil,
    installed = scaffold.installed_version,
    plain = function(field)
      return profile and profile.type == adapter and scaffold.plain(profile, field) or nil
    end,
    raw = function(field)
      return profile and profile.type == adapter and scaffold.raw(profile, field) or nil
    end,
    output_lines = function(indent)
      return profile and profile.type == adapter and scaffold.output_lines(profile, indent) or nil
    end,
  }
  local template = templates.profile(ctx)
  ctx.template = template ~= nil
  if not template then
    warn(("no profile template for adapter %s: ci, deploy and docs use your profiles.yml's ci and prod "
      .. "targets (set config profile to a template of your own: README, dbtrun init)"):format(adapter))
  end
  log(("adapter  %s; workflows install with %s"):format(adapter, installer == "uv" and "uv sync"
    or ("pip (" .. templates.REQUIREMENTS .. ")")))
  -- GitHub reads workflows at the repository's root only: a project in a
  -- folder of it gets them there, running in that folder.
  local cwd = fs.cwd()
  local git = scaffold.git_root(cwd)
  local workflows = ".github/workflows/"
  if git and git ~= cwd then
    ctx.workdir = cwd:sub(#git + 2)
    workflows = ctx.workdir:gsub("[^/]+", "..") .. "/" .. workflows
    log(("repository %s: the workflows go to its .github/workflows/ and run in %s/"):format(git, ctx.workdir))
  end
  local kept = {}
  put("dbtrun.lua", templates.starter(ctx), flags.force, kept)
  if template then
    put("ci/profiles.yml", template, flags.force, kept)
  end
  for _, m in ipairs({ { "drop_schema", templates.DROP_SCHEMA }, { "drop_ci_schemas", templates.DROP_CI_SCHEMAS },
    { "list_ci_schemas", templates.LIST_CI_SCHEMAS } }) do
    local path = project.macro_dir .. "/" .. m[1] .. ".sql"
    if scaffold.has_macro(project.macro_dir, m[1], path) then
      log(("kept     %s: macro %s is defined elsewhere in %s/"):format(path, m[1], project.macro_dir))
    else
      put(path, m[2], flags.force, kept)
    end
  end
  if installer == "pip" then
    put(templates.REQUIREMENTS, templates.requirements(ctx), flags.force, kept)
  end
  put(workflows .. "ci.yml", templates.workflow("ci", ctx), flags.force, kept)
  put(workflows .. "deploy.yml", templates.workflow("deploy", ctx), flags.force, kept)
  put(workflows .. "ci-cleanup.yml", templates.workflow("cleanup", ctx), flags.force, kept)
  merge_gitignore(scaffold)
  if #kept > 0 then
    log(("kept %d file(s) that differ from what init writes: %s (dbtrun init --force replaces them)")
      :format(#kept, table.concat(kept, ", ")))
  end
  print(templates.next_steps(ctx))
end)
