-- list: what dbtrun shows about tasks without running any — the --list
-- table (aligned like just's), --json, --summary and shell completions.

local native = require("dbtrun.native")
local params = require("dbtrun.params")
local tasks = require("dbtrun.tasks")
local ui = require("dbtrun.ui")

local M = {}

local MAX_ALIGN = 50 -- signatures longer than this do not push the doc column

local function doc_of(t)
  local doc = t.doc
  if #t.aliases > 0 then
    local tag = "[alias: " .. table.concat(t.aliases, ", ") .. "]"
    doc = doc and (doc .. " " .. tag) or tag
  end
  return doc
end

-- The --list text: ungrouped tasks first, then each [group] in name order.
function M.text(heading)
  local groups, names = {}, {}
  for _, t in ipairs(tasks.list(false)) do
    local g = t.group or ""
    if not groups[g] then
      groups[g] = {}
      names[#names + 1] = g
    end
    table.insert(groups[g], t)
  end
  table.sort(names)
  local width = 0
  for _, t in ipairs(tasks.list(false)) do
    local n = #params.signature(t.name, t.params)
    if n <= MAX_ALIGN and n > width then
      width = n
    end
  end
  local out = { heading or "Available tasks:" }
  for _, g in ipairs(names) do
    if g ~= "" then
      out[#out + 1] = "    " .. ui.paint("cyan", "[" .. g .. "]")
    end
    for _, t in ipairs(groups[g]) do
      local sig = params.signature(t.name, t.params)
      local doc = doc_of(t)
      if doc then
        sig = sig .. string.rep(" ", math.max(1, width - #sig + 1)) .. ui.paint("dim", "# " .. doc)
      end
      out[#out + 1] = "    " .. sig
    end
  end
  return table.concat(out, "\n") .. "\n"
end

function M.json()
  local list = setmetatable({}, native.json.array_mt)
  for _, t in ipairs(tasks.list(false)) do
    local plist = setmetatable({}, native.json.array_mt)
    for _, p in ipairs(t.params) do
      plist[#plist + 1] = { name = p.name, kind = p.kind, default = p.default }
    end
    local deps = setmetatable({}, native.json.array_mt)
    for _, d in ipairs(t.deps) do
      deps[#deps + 1] = type(d) == "table" and table.concat(d, " ") or d
    end
    list[#list + 1] = {
      name = t.name,
      doc = t.doc,
      params = plist,
      deps = deps,
      group = t.group,
      aliases = setmetatable({ table.unpack(t.aliases) }, native.json.array_mt),
      builtin = t.builtin,
      usage = params.signature(t.name, t.params),
    }
  end
  return native.json.encode({ tasks = list }, { indent = true }) .. "\n"
end

function M.summary()
  local names = {}
  for _, t in ipairs(tasks.list(false)) do
    names[#names + 1] = t.name
  end
  return table.concat(names, " ") .. "\n"
end

local OPTIONS = "-l --list -n --dry-run --json -f --file -C --directory --set -v --verbose "
  .. "-q --quiet --color --completions -h --help --version"

local scripts = {
  bash = [==[
_dbtrun() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        -f|--file|-C|--directory) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        --completions) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "@OPTIONS@" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$(dbtrun --summary 2>/dev/null)" -- "$cur"))
    fi
}
complete -o default -F _dbtrun dbtrun
]==],
  zsh = [==[
#compdef dbtrun
_dbtrun() {
    local -a tasks
    tasks=(${(s: :)"$(dbtrun --summary 2>/dev/null)"})
    _arguments -s \
        '(-l --list)'{-l,--list}'[list tasks]' \
        '(-n --dry-run)'{-n,--dry-run}'[print commands instead of running them]' \
        '--json[list tasks as JSON]' \
        '(-f --file)'{-f,--file}'[task file]:file:_files' \
        '(-C --directory)'{-C,--directory}'[run as if started in DIR]:directory:_files -/' \
        '*--set[override a config value]:KEY=VALUE:' \
        '*'{-v,--verbose}'[say more]' \
        '(-q --quiet)'{-q,--quiet}'[do not echo commands]' \
        '--color[colour]:when:(auto always never)' \
        '--completions[completion script]:shell:(bash zsh fish)' \
        '(-h --help)'{-h,--help}'[help]' \
        '--version[version]' \
        '1:task:($tasks)' \
        '*::argument:_default'
}
_dbtrun "$@"
]==],
  fish = [==[
complete -c dbtrun -f -a '(dbtrun --summary 2>/dev/null | string split " ")'
complete -c dbtrun -s l -l list -d 'list tasks'
complete -c dbtrun -s n -l dry-run -d 'print commands instead of running them'
complete -c dbtrun -l json -d 'list tasks as JSON'
complete -c dbtrun -s f -l file -r -F -d 'task file'
complete -c dbtrun -s C -l directory -r -a '(__fish_complete_directories)' -d 'run as if started in DIR'
complete -c dbtrun -l set -r -d 'override a config value KEY=VALUE'
complete -c dbtrun -s v -l verbose -d 'say more'
complete -c dbtrun -s q -l quiet -d 'do not echo commands'
complete -c dbtrun -l color -r -a 'auto always never' -d 'colour'
complete -c dbtrun -l completions -r -a 'bash zsh fish' -d 'completion script'
complete -c dbtrun -s h -l help -d 'help'
complete -c dbtrun -l version -d 'version'
]==],
}

-- The completion script for `shell`, or nil.
function M.completions(shell)
  local script = scripts[shell]
  return script and (script:gsub("@OPTIONS@", OPTIONS))
end

return M
