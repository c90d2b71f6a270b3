-- completions: shell completion — the scripts (dbtrun --completions SHELL)
-- and what they ask for when the user presses tab: `dbtrun --complete --
-- WORD...` prints a directive line (words, files or dirs) and then the
-- candidates for the last WORD, one a line. Task names in the task position;
-- dbt node names and selector methods for selection parameters, read from
-- target/manifest.json or the state manifest by the native manifest reader.

local M = {}

local OPTIONS = "-l --list -n --dry-run --json --usage -f --file -C --directory --set --dotenv -v --verbose "
  .. "-q --quiet -y --yes --color --kill-after --completions -h --help --version"

-- Options that take a value, and what completes it.
local VALUED = {
  ["-f"] = "files",
  ["--file"] = "files",
  ["--dotenv"] = "files",
  ["--script"] = "files",
  ["-C"] = "dirs",
  ["--directory"] = "dirs",
  ["--color"] = { "auto", "always", "never" },
  ["--completions"] = { "bash", "zsh", "fish" },
  ["--set"] = {},
  ["--kill-after"] = {},
  ["--usage"] = "tasks",
}

-- A parameter holds a dbt selection when it is named like one; so does the
-- word after one of dbt's selection flags in any task's arguments.
local SELECTION_PARAMS = { SELECTION = true, SELECT = true, EXCLUDE = true, MODELS = true }
local SELECTION_FLAGS = { ["--select"] = true, ["-s"] = true, ["--exclude"] = true, ["--models"] = true, ["-m"] = true }

local METHODS = { "state:", "tag:", "path:", "file:", "fqn:", "package:", "source:", "exposure:", "resource_type:",
  "test_type:", "test_name:", "group:", "access:", "version:", "result:", "source_status:" }
local STATES = { "new", "modified", "modified.body", "modified.configs", "modified.relation",
  "modified.persisted_descriptions", "modified.macros", "modified.contract", "old", "unmodified" }
local RESOURCE_TYPES = { "model", "seed", "snapshot", "source", "test", "unit_test", "exposure", "metric",
  "semantic_model", "saved_query", "analysis" }
local NAMED = { model = true, seed = true, snapshot = true } -- plain names offered

-- Each script hands the words of the line to `dbtrun --complete --` and
-- acts on the directive: "words" (offer the lines that follow, nothing
-- else), "files" or "dirs" (the shell's own file or folder completion).
local scripts = {
  -- COMP_WORDS splits at ':' and '=' (COMP_WORDBREAKS), so the words are
  -- taken from COMP_LINE instead, and the candidates lose the part of the
  -- current word before its last ':' or '=', which bash keeps in place.
  bash = [==[
_dbtrun() {
    local words=() cur out kind rest
    if [[ -n ${COMP_LINE-} ]]; then
        local line=${COMP_LINE:0:COMP_POINT}
        read -ra words <<< "$line"
        [[ $line == *[[:space:]] ]] && words+=("")
    else
        words=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
    fi
    cur=${words[${#words[@]}-1]}
    local cmd=${words[0]}
    [[ $cmd == */* && -x $cmd ]] || cmd=dbtrun
    out=$("$cmd" --complete -- "${words[@]:1}" 2>/dev/null) || return 0
    kind=${out%%$'\n'*}
    rest=""
    [[ $out == *$'\n'* ]] && rest=${out#*$'\n'}
    case $kind in
        dirs) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
        files) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    esac
    compopt +o default 2>/dev/null
    local IFS=$'\n'
    COMPREPLY=($rest)
    local before=${cur%"${cur##*[:=]}"}
    [[ -n $before ]] && COMPREPLY=("${COMPREPLY[@]#"$before"}")
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[:/] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -o default -F _dbtrun dbtrun
]==],
  zsh = [==[
#compdef dbtrun
_dbtrun() {
    local -a out cands nospace
    local cmd=${words[1]} c
    [[ $cmd == */* && -x $cmd ]] || cmd=dbtrun
    out=("${(@f)$($cmd --complete -- "${(@)words[2,CURRENT-1]}" "$PREFIX" 2>/dev/null)}")
    case ${out[1]} in
        dirs) _files -/; return ;;
        files) _files; return ;;
    esac
    for c in "${(@)out[2,-1]}"; do
        [[ -z $c ]] && continue
        if [[ $c == *[:/] ]]; then nospace+=("$c"); else cands+=("$c"); fi
    done
    (( ${#cands} )) && compadd -U -- "${cands[@]}"
    (( ${#nospace} )) && compadd -U -S '' -- "${nospace[@]}"
    return 0
}
if [[ $funcstack[1] == _dbtrun ]]; then _dbtrun "$@"; else compdef _dbtrun dbtrun; fi
]==],
  fish = [==[
function __dbtrun_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l cmd $words[1]
    string match -q -- '*/*' $cmd; and test -x $cmd; or set cmd dbtrun
    set -l out ($cmd --complete -- $words[2..-1] 2>/dev/null)
    switch "$out[1]"
        case dirs
            __fish_complete_directories (commandline -ct)
        case files
            __fish_complete_path (commandline -ct)
        case '*'
            printf '%s\n' $out[2..-1]
    end
end
complete -c dbtrun -f -a '(__dbtrun_complete)'
]==],
}

-- The completion script for `shell`, or nil.
function M.script(shell)
  local script = scripts[shell]
  return script
end

-- Splits the words of a command line (without "dbtrun"; the last one is the
-- word being completed) the way runner/cli.c does. Returns a table: cur,
-- and either value_of (the option whose value cur is), task_position, or
-- task and args (the words between the task and cur); file and directory
-- when -f/-C were given.
function M.parse(words)
  local line = { cur = words[#words] or "" }
  local i, n = 1, #words
  while i < n do
    local w = words[i]
    if w == "--" then
      i = i + 1
      break
    elseif w:sub(1, 1) ~= "-" or w == "-" then
      break
    end
    local name, value = w:match("^(%-%-[^=]+)=(.*)$")
    if not name and (w:match("^%-[fC].") and not w:match("^%-%-")) then
      name, value = w:sub(1, 2), w:sub(3)
    end
    name = name or w
    if VALUED[name] and not value then
      if i + 1 == n then
        line.value_of = name
        return line
      end
      value, i = words[i + 1], i + 1
    end
    if name == "-f" or name == "--file" then
      line.file = value
    elseif name == "-C" or name == "--directory" then
      line.directory = value
    end
    i = i + 1
  end
  if i >= n then
    line.task_position = true
  else
    line.task = words[i]
    line.args = { table.unpack(words, i + 1, n - 1) }
  end
  return line
end

local function starting_with(prefix, list, out, before)
  for _, word in ipairs(list) do
    if word:sub(1, #prefix) == prefix then
      out[#out + 1] = (before or "") .. word
    end
  end
  return out
end

local function sorted_keys(set)
  local list = {}
  for k in pairs(set) do
    list[#list + 1] = k
  end
  table.sort(list)
  return list
end

-- The project's manifest: target/manifest.json when dbt has parsed, else
-- the production state's. Returns the node list of plan.names, or {}.
local function manifest_nodes()
  local native = require("dbtrun.native")
  local state_dir = require("dbtrun.config").get("state_dir") or ".artifacts"
  for _, path in ipairs({ "target/manifest.json", state_dir .. "/manifest.json" }) do
    if native.fs.stat(path) then
      return native.plan.names(path) or {}
    end
  end
  return {}
end

-- The values a selector method offers, from the manifest's nodes.
local function method_values(method, nodes)
  if method == "state" then
    return STATES
  elseif method == "resource_type" then
    return RESOURCE_TYPES
  end
  local json = require("dbtrun.native").json
  local set = {}
  for _, node in ipairs(nodes) do
    if method == "tag" and node.tags then
      for _, tag in ipairs(json.decode(node.tags)) do
        set[tag] = true
      end
    elseif (method == "path" or method == "file") and node.path then
      set[method == "file" and node.path:match("[^/]*$") or node.path] = true
    elseif method == "package" and node.package then
      set[node.package] = true
    elseif method == "source" and node.type == "source" then
      local source, tbl = node.id:match("^source%.[^.]+%.(.+)%.([^.]+)$")
      if source then
        set[source] = true
        set[source .. "." .. tbl] = true
      end
    elseif method == "exposure" and node.type == "exposure" then
      set[node.name] = true
    end
  end
  return sorted_keys(set)
end

-- Paths one folder level at a time, as the shell completes files: under
-- "models/" come "models/marts/" and "models/src.yml", not every file below.
local function next_level(prefix, paths, before)
  local set = {}
  for _, path in ipairs(paths) do
    if path:sub(1, #prefix) == prefix then
      local slash = path:find("/", #prefix + 1, true)
      set[slash and path:sub(1, slash) or path] = true
    end
  end
  local out = {}
  for _, path in ipairs(sorted_keys(set)) do
    out[#out + 1] = before .. path
  end
  return out
end

-- Candidates for a selection word: "a,b" intersections, graph operators
-- (+, N+, @) before, node names and method:value after.
function M.selection(cur, nodes)
  local head, rest = cur:match("^(.*,)(.*)$")
  head, rest = head or "", rest or cur
  local op, body = rest:match("^([@]?%d*%+?)(.*)$")
  local before = head .. op
  local method, value = body:match("^([%w_%.]+):(.*)$")
  if method == "path" then
    return next_level(value, method_values(method, nodes), before .. method .. ":")
  elseif method then
    return starting_with(value, method_values(method, nodes), {}, before .. method .. ":")
  end
  local names = {}
  for _, node in ipairs(nodes) do
    if NAMED[node.type] and node.name then
      names[node.name] = true
    end
  end
  local out = starting_with(body, sorted_keys(names), {}, before)
  return starting_with(body, METHODS, out, before)
end

-- Whether the word after `args` of task `t` is a dbt selection.
local function is_selection(t, args)
  if SELECTION_FLAGS[args[#args] or ""] then
    return true
  end
  local p = t.params[#args + 1]
  local last = t.params[#t.params]
  if not p and last and (last.kind == "star" or last.kind == "plus") then
    p = last
  end
  return p ~= nil and (SELECTION_PARAMS[p.name] or p.name:match("_SELECT") ~= nil or p.name:match("_EXCLUDE$") ~= nil)
end

local function task_names(prefix)
  local names = {}
  for _, t in ipairs(require("dbtrun.tasks").list(false)) do
    names[#names + 1] = t.name
    for _, alias in ipairs(t.aliases) do
      names[#names + 1] = alias
    end
  end
  table.sort(names)
  return starting_with(prefix, names, {})
end

-- What `dbtrun --complete` prints for a parsed line: the directive, then
-- one candidate a line.
function M.complete(line)
  local kind, words = "words", {}
  local cur = line.cur
  if line.value_of then
    local how = VALUED[line.value_of]
    if how == "tasks" then
      words = task_names(cur)
    elseif type(how) == "string" then
      kind = how
    else
      words = starting_with(cur, how, {})
    end
  elseif line.task_position and cur:sub(1, 1) == "-" then
    words = starting_with(cur, M.options(), {})
  elseif line.task_position then
    words = task_names(cur)
  else
    local t = require("dbtrun.tasks").find(line.task)
    local flag, value = cur:match("^(%-%-[%w-]+=)(.*)$")
    if flag and SELECTION_FLAGS[flag:sub(1, -2)] then
      words = M.selection(value, manifest_nodes())
      for i, w in ipairs(words) do
        words[i] = flag .. w
      end
    elseif t and is_selection(t, line.args) then
      words = M.selection(cur, manifest_nodes())
    else
      kind = "files"
    end
  end
  words[#words + 1] = ""
  return kind .. "\n" .. table.concat(words, "\n")
end

function M.options()
  local list = {}
  for opt in OPTIONS:gmatch("%S+") do
    list[#list + 1] = opt
  end
  return list
end

return M
