-- completions: shell completion scripts (dbtrun --completions SHELL). Task
-- names come from `dbtrun --summary` when the user presses tab.

local M = {}

local OPTIONS = "-l --list -n --dry-run --json -f --file -C --directory --set -v --verbose "
  .. "-q --quiet -y --yes --color --completions -h --help --version"

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
        '(-y --yes)'{-y,--yes}'[answer yes to every confirmation]' \
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
complete -c dbtrun -s y -l yes -d 'answer yes to every confirmation'
complete -c dbtrun -l color -r -a 'auto always never' -d 'colour'
complete -c dbtrun -l completions -r -a 'bash zsh fish' -d 'completion script'
complete -c dbtrun -s h -l help -d 'help'
complete -c dbtrun -l version -d 'version'
]==],
}

-- The completion script for `shell`, or nil.
function M.script(shell)
  local script = scripts[shell]
  return script and (script:gsub("@OPTIONS@", OPTIONS))
end

return M
