-- scaffold: what `dbtrun init` learns about the project it runs in — the
-- profile dbt_project.yml names, where dbt would find it, the adapter (the
-- target's `type`), how the project installs Python packages — and the
-- .gitignore merge. Pure functions apart from reading files, so
-- tests/e2e/test_init.py drives them through the real task. Loaded only by
-- tasks/init.lua, when init runs.

local native = require("dbtrun.native")

local M = {}

-- The adapters init has profile templates for (lua/init_templates.lua).
M.ADAPTERS = { "duckdb", "postgres", "snowflake", "bigquery", "redshift", "databricks" }

-- The lines init wants in .gitignore: the fetched production state, the local
-- store and private files, and the developer's environment file.
M.IGNORED = { ".artifacts/", ".dbtrun/", ".env" }

local function read(path)
  return native.fs.stat(path) == "file" and native.fs.read(path) or nil
end

-- A scalar as written, without a trailing comment.
local function strip_comment(s)
  s = s:match("^%s*(.-)%s*$")
  local q = s:sub(1, 1)
  local close = (q == '"' or q == "'") and s:find(q, 2, true)
  if close then
    return s:sub(1, close)
  end
  return (s:gsub("%s+#.*$", ""))
end

local function unquote(s)
  s = strip_comment(s)
  local q, inner = s:match("^([\"'])(.*)%1$")
  return q and inner or s
end

--- A small YAML reader ----------------------------------------------------------
-- Enough of YAML for profiles.yml: block mappings by indentation, comments,
-- quoted keys and scalars, anchors (&a) and merge keys (<<: *a). Lists and
-- flow collections are skipped (no profile field init reads is one). Each
-- node keeps its line range, so a block can be copied as written.

local function new_node(first)
  return { map = {}, keys = {}, merges = {}, first = first, last = first }
end

-- Parses text into a tree of { map, keys, value, first, last } and the anchors.
function M.yaml(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = (line:gsub("\r$", ""))
  end
  local root = new_node(0)
  local stack = { { indent = -1, node = root } }
  local anchors = {}
  for i, line in ipairs(lines) do
    local indent, rest = line:match("^( *)(.*)$")
    if rest ~= "" and not rest:match("^#") and not rest:match("^%-%-%-") and not rest:match("^%.%.%.") then
      while #stack > 1 and stack[#stack].indent >= #indent do
        table.remove(stack)
      end
      for j = 2, #stack do -- every open block reaches this line
        stack[j].node.last = i
      end
      local key, value = rest:match("^([\"'][^\"']*[\"'])%s*:%s*(.*)$")
      if not key then
        key, value = rest:match("^([^%s#%-][^:]-)%s*:%s+(.*)$")
      end
      if not key then
        key, value = rest:match("^([^%s#%-][^:]-)%s*:()$")
        value = value and ""
      end
      if key then
        key = unquote(key)
        local node = new_node(i)
        value = value:gsub("^%s*#.*$", "")
        local anchor, after = value:match("^&([%w_%-]+)%s*(.*)$")
        if anchor then
          anchors[anchor], value = node, after
        end
        local parent = stack[#stack].node
        local alias = value:match("^%*([%w_%-]+)%s*$")
        if key == "<<" and alias then
          parent.merges[#parent.merges + 1] = alias
        else
          if alias then
            node.alias = alias
          elseif value ~= "" then
            node.value = unquote(value)
            node.raw = strip_comment(value)
          end
          if not parent.map[key] then
            parent.keys[#parent.keys + 1] = key
          end
          parent.map[key] = node
        end
        stack[#stack + 1] = { indent = #indent, node = node }
      end
    end
  end
  return { root = root, anchors = anchors, lines = lines }
end

-- The child `key` of node, following aliases and merge keys.
function M.get(doc, node, key, depth)
  depth = depth or 0
  if not node or depth > 16 then
    return nil
  end
  if node.alias then
    return M.get(doc, doc.anchors[node.alias], key, depth + 1)
  end
  if node.map[key] then
    return node.map[key]
  end
  for _, alias in ipairs(node.merges) do
    local found = M.get(doc, doc.anchors[alias], key, depth + 1)
    if found then
      return found
    end
  end
  return nil
end

--- The project, its profile and the adapter ------------------------------------

-- dbt_project.yml's fields init reads: name, profile, the first macro path.
function M.project(text)
  local doc = M.yaml(text)
  local function scalar(key)
    local n = doc.root.map[key]
    return n and n.value
  end
  local macro_dir = (text:match("\n%s*macro%-paths%s*:%s*%[%s*[\"']([^\"']+)[\"']")) or "macros"
  return { name = scalar("name"), profile = scalar("profile"), macro_dir = macro_dir }
end

-- Where dbt looks for profiles.yml, in dbt's order: DBT_PROFILES_DIR, the
-- project folder, ~/.dbt. Each entry: { path, label }.
function M.profile_places()
  local places = {}
  local dir = native.env.get("DBT_PROFILES_DIR")
  if dir and dir ~= "" then
    places[#places + 1] = { path = dir:gsub("/+$", "") .. "/profiles.yml", label = "DBT_PROFILES_DIR" }
  end
  places[#places + 1] = { path = "profiles.yml", label = "the project folder" }
  local home = native.env.get("HOME")
  if home and home ~= "" then
    places[#places + 1] = { path = home:gsub("/+$", "") .. "/.dbt/profiles.yml", label = "~/.dbt" }
  end
  return places
end

-- The target name a `target:` value gives, also from dbt's
-- "{{ env_var('DBT_TARGET', 'dev') }}" (its default).
local function target_name(value)
  if not value then
    return nil
  end
  if value:find("{{", 1, true) then
    return value:match("env_var%(%s*['\"][^'\"]+['\"]%s*,%s*['\"]([^'\"]+)['\"]")
  end
  return value
end

-- Reads profile `name` from the text of a profiles.yml. Returns nil when the
-- file does not define it, else { target = name, type = adapter, output =
-- node, doc = doc } for the default target (the first output when the
-- target is not among them).
function M.read_profile(text, name)
  local doc = M.yaml(text)
  local profile = M.get(doc, doc.root, name)
  if not profile then
    return nil
  end
  local outputs = M.get(doc, profile, "outputs")
  local target = target_name((M.get(doc, profile, "target") or {}).value)
  local output = outputs and target and M.get(doc, outputs, target)
  if outputs and not output then
    target = outputs.keys[1]
    output = target and M.get(doc, outputs, target)
  end
  local kind = output and (M.get(doc, output, "type") or {}).value
  return { target = target, type = kind and kind:lower(), output = output, doc = doc }
end

-- Finds the project's profile where dbt would. Returns the profile (as
-- read_profile, plus path and label) or nil, and the list of what each
-- place held ("<path> (absent)", "<path> (no profile 'x')").
function M.find_profile(name)
  local searched = {}
  for _, place in ipairs(M.profile_places()) do
    local text = read(place.path)
    local found = text and M.read_profile(text, name)
    if found then
      found.path, found.label = place.path, place.label
      return found, searched
    end
    searched[#searched + 1] = ("%s (%s)"):format(place.path, text and ("no profile '" .. name .. "'")
      or "absent")
  end
  return nil, searched
end

-- Whether a line of a profile may hold a credential written out (a key
-- named like one with a value that is not Jinja, or a token in a URL):
-- such a line never goes into a file init writes.
local SECRET_WORDS = { "token", "secret", "password", "passwd", "credential", "key" }
function M.secretish(line)
  local lower = line:lower()
  if lower:find("token=", 1, true) or lower:find("password=", 1, true) then
    return true
  end
  local key, value = lower:match("^%s*%-?%s*([%w_%-]+)%s*:%s*(.-)%s*$")
  if not key or value == "" or value:find("{{", 1, true) then
    return false
  end
  for _, w in ipairs(SECRET_WORDS) do
    if key:find(w, 1, true) then
      return true
    end
  end
  return false
end

-- The value of field `key` of the profile's output as plain text, or nil
-- when absent or not a plain value (Jinja, quotes, spaces): only such a value
-- can be a template's ${NAME:-default}.
function M.plain(profile, key)
  local node = profile and profile.output and M.get(profile.doc, profile.output, key)
  local v = node and node.value
  if v and v:match("^[%w%._%-/:@]+$") and not M.secretish(key .. ": " .. v) then
    return v
  end
  return nil
end

-- The value of field `key` as written in the profile (quotes, Jinja), or nil
-- when absent, a credential, or holding "${" (the template's own syntax).
function M.raw(profile, key)
  local node = profile and profile.output and M.get(profile.doc, profile.output, key)
  local v = node and node.raw
  if v and not v:find("${", 1, true) and not M.secretish(key .. ": " .. v) then
    return v
  end
  return nil
end

-- The output block of the profile as written, re-indented by `indent`,
-- without its `schema:` and `type:` lines; nil when it cannot be copied
-- alone (it merges an anchor defined elsewhere) or holds a credential.
function M.output_lines(profile, indent)
  local out = profile and profile.output
  if not out or out.alias or #out.merges > 0 or out.last <= out.first then
    return nil
  end
  local lines, base = {}, nil
  local skip_below
  for i = out.first + 1, out.last do
    local line = profile.doc.lines[i]
    local lead = #line:match("^( *)")
    if line:match("^%s*$") or line:match("^%s*#") then
      lead = nil
    end
    base = base or lead
    if lead and skip_below and lead > skip_below then
      lead = nil -- part of a dropped key's block
    elseif lead then
      skip_below = nil
      if lead == base and (line:match("^%s*schema%s*:") or line:match("^%s*type%s*:")) then
        skip_below = lead
        lead = nil
      elseif (line:find("*", 1, true) and line:match(":%s*%*[%w_%-]+%s*$")) or M.secretish(line) then
        return nil
      end
    end
    if lead then
      lines[#lines + 1] = indent .. line:sub(base + 1)
    end
  end
  return lines
end

-- The adapters a project's dependency files name (dbt-<adapter> in
-- requirements*.txt, pyproject.toml, uv.lock), for a project whose profile
-- is not here. Returns the sorted list and the files read.
function M.declared_adapters()
  local found, files = {}, {}
  local names = { "pyproject.toml", "uv.lock" }
  for _, entry in ipairs(native.fs.list(".") or {}) do
    if entry:match("^requirements.*%.txt$") or entry:match("^requirements.*%.in$") then
      names[#names + 1] = entry
    end
  end
  table.sort(names)
  for _, file in ipairs(names) do
    local text = read(file)
    if text then
      files[#files + 1] = file
      for _, adapter in ipairs(M.ADAPTERS) do
        if ("\n" .. text:lower()):find("[%s\"'=]dbt%-" .. adapter .. "[%s\"'=<>~!%[;,]") then
          found[adapter] = true
        end
      end
    end
  end
  local list = {}
  for _, adapter in ipairs(M.ADAPTERS) do
    if found[adapter] then
      list[#list + 1] = adapter
    end
  end
  return list, files
end

-- How the workflows install dbt and dbtrun: "uv" when pyproject.toml or
-- uv.lock names dbtrun (`uv add --dev dbtrun`), else "pip".
function M.installer()
  for _, file in ipairs({ "uv.lock", "pyproject.toml" }) do
    local text = read(file)
    if text and (text:find('name = "dbtrun"', 1, true) or text:find("[\"'%s]dbtrun[\"'=<>~!%s%[]")) then
      return "uv", native.fs.stat("uv.lock") == "file"
    end
  end
  return "pip", false
end

-- The version of an installed Python distribution in the project's .venv
-- (dist-info folder name), or nil.
function M.installed_version(dist)
  for _, root in ipairs({ ".venv", "venv" }) do
    for _, lib in ipairs(native.fs.list(root .. "/lib") or {}) do
      for _, name in ipairs(native.fs.list(root .. "/lib/" .. lib .. "/site-packages") or {}) do
        local v = name:match("^" .. dist:gsub("%-", "_") .. "%-([^%-]+)%.dist%-info$")
        if v then
          return v
        end
      end
    end
  end
  return nil
end

-- Whether a macro of that name is defined in a .sql file under dir (not
-- counting `except`, the file init would write).
function M.has_macro(dir, name, except)
  local pattern = "macro%s+" .. name .. "%s*%("
  local function scan(d, depth)
    for _, entry in ipairs(native.fs.list(d) or {}) do
      local path = d .. "/" .. entry
      local kind = native.fs.stat(path)
      if kind == "dir" and depth < 8 and scan(path, depth + 1) then
        return true
      elseif kind == "file" and path ~= except and entry:match("%.sql$")
        and (native.fs.read(path) or ""):find(pattern) then
        return true
      end
    end
    return false
  end
  return scan(dir, 0)
end

-- The folder of the git repository holding dir (a .git folder, or a .git
-- file in a worktree), or nil.
function M.git_root(dir)
  while dir and dir ~= "" do
    if native.fs.stat(dir .. "/.git") then
      return dir
    end
    dir = dir:match("^(.*)/[^/]*$")
  end
  return native.fs.stat("/.git") and "/" or nil
end

--- .gitignore --------------------------------------------------------------------

-- Whether an ignore line already covers `want` (".dbtrun/" is covered by
-- ".dbtrun", "/.dbtrun/" and "/.dbtrun").
local function covers(line, want)
  local bare = want:gsub("/$", "")
  line = line:match("^%s*(.-)%s*$")
  return line == want or line == bare or line == "/" .. want or line == "/" .. bare
end

-- The .gitignore text with `wanted` lines appended when missing (nil when
-- nothing is missing), and the list of lines added. A text without a final
-- newline gets one before the additions.
function M.gitignore(text, wanted)
  local added = {}
  for _, want in ipairs(wanted) do
    local present = false
    for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
      if covers(line:gsub("\r$", ""), want) then
        present = true
        break
      end
    end
    if not present then
      added[#added + 1] = want
    end
  end
  if #added == 0 then
    return nil, added
  end
  local head = text or ""
  if head ~= "" and not head:match("\n$") then
    head = head .. "\n"
  end
  local block = "# dbtrun: fetched production state, local store, local secrets\n"
    .. table.concat(added, "\n") .. "\n"
  return head .. (head ~= "" and "\n" or "") .. block, added
end

return M
