#!/usr/bin/env bash
# bench/startup.sh — start-up cost of dbtrun against just and the floor of
# exec'ing /bin/true, in the same run: `--list` (with the task file's
# bytecode cache warm, and cold: the file edited before each run, so dbtrun
# compiles it and rewrites .dbtrun/cache/) and a trivial task on equivalent
# 20-task files — once as written (run{} execs /bin/echo, just's sh uses its
# builtin) and once with the same child on both sides (sh -c 'echo hello'),
# with that child's own time to subtract. Prints median times and the
# ratios (dbtrun / just: below 1 means dbtrun is faster; dbtrun / true: how
# far from the cost of starting any process at all).
# Needs just (tools/venv.sh installs rust-just into .venv) and hyperfine
# (Debian package) — without hyperfine it falls back to a timing loop (means).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dbtrun=${DBTRUN_BIN:-$root/build/dbtrun}
just=$(command -v just || echo "$root/.venv/bin/just")
true_bin=/bin/true
[ -x "$just" ] || { echo "startup.sh: just not found (run tools/venv.sh)" >&2; exit 1; }
runs=${RUNS:-300}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the two 20-task files in folder $1; the dbtrun task "hello" runs $2 (just's
# recipe is always `echo hello`, which just runs as sh -cu 'echo hello')
write_files() {
  mkdir -p "$1"
  {
    for i in $(seq 1 19); do
      printf '# Task number %d with a doc comment\ntask%02d TARGET="dev":\n    @echo building {{TARGET}} %d\n\n' "$i" "$i" "$i"
    done
    printf '# Say hello\nhello:\n    @echo hello\n'
  } > "$1/justfile"
  {
    for i in $(seq 1 19); do
      printf -- '-- Task number %d with a doc comment\ntask("task%02d", { params = { "TARGET=dev" } }, function(a)\n  run { "echo", "building", a.TARGET, "%d" }\nend)\n\n' "$i" "$i" "$i"
    done
    printf -- '-- Say hello\ntask("hello", function() %s end)\n' "$2"
  } > "$1/dbtrun.lua"
}
write_files "$work" 'run { "echo", "hello" }'
# equal work: the same child as just's, sh -c 'echo hello' (a shell builtin),
# where run{} execs /bin/echo (coreutils, which reads locale files)
write_files "$work/same-child" 'sh "echo hello"'
# a task file whose top level reads the environment: dbtrun cannot keep its
# --list text (.dbtrun/cache/list-*), so every --list loads the library and
# runs the file, as a task run does
write_files "$work/fresh" 'run { "echo", "hello" }'
echo 'if os.getenv("DBTRUN_BENCH_UNSET") then task("never", function() end) end' >> "$work/fresh/dbtrun.lua"
cd "$work"

# median seconds of each command ("prepare|command" runs prepare before
# each run), all in one hyperfine call so they share the machine's state
medians() {
  if command -v hyperfine >/dev/null; then
    local args=()
    for c in "$@"; do
      if [[ $c == *"|"* ]]; then
        args+=(--prepare "${c%%|*}" "${c#*|}")
      else
        args+=(--prepare "$true_bin" "$c") # hyperfine wants one per command or none
      fi
    done
    hyperfine -N -w 20 -r "$runs" --export-json "$work/h.json" "${args[@]}" >/dev/null 2>&1
    python3 -c 'import json,sys; [print(r["median"]) for r in json.load(open(sys.argv[1]))["results"]]' "$work/h.json"
  else
    for c in "$@"; do
      local prep="" cmd=$c start end
      [[ $c == *"|"* ]] && { prep=${c%%|*}; cmd=${c#*|}; }
      local total=0
      for _ in $(seq "$runs"); do
        [ -n "$prep" ] && eval "$prep"
        start=$(date +%s%N)
        eval "$cmd" >/dev/null 2>&1
        end=$(date +%s%N)
        total=$((total + end - start))
      done
      python3 -c "print($total / 1e9 / $runs)"
    done
  fi
}

cp dbtrun.lua dbtrun.lua.orig
"$dbtrun" --list >/dev/null # the task file's bytecode cache, for the warm rows
"$dbtrun" -f same-child/dbtrun.lua --list >/dev/null
"$dbtrun" -f fresh/dbtrun.lua --list >/dev/null
printf '%-24s %9s %9s %9s %12s %12s\n' case dbtrun just true dbtrun/just dbtrun/true
for case in "--list|--list|--list" \
            "--list, after an edit|sh -c 'echo -- edited >> dbtrun.lua'|--list|--list" \
            "--list, made afresh|-f fresh/dbtrun.lua --list|-f fresh/justfile --list" \
            "trivial task|-q hello|hello"; do
  IFS='|' read -r -a f <<<"$case"
  if [ ${#f[@]} -eq 4 ]; then
    mapfile -t m < <(medians "${f[1]}|$dbtrun ${f[2]}" "$just ${f[3]}" "$true_bin")
    cp dbtrun.lua.orig dbtrun.lua
  else
    mapfile -t m < <(medians "$dbtrun ${f[1]}" "$just ${f[2]}" "$true_bin")
  fi
  python3 -c "
import sys
n, d, j, t = sys.argv[1], *map(float, sys.argv[2:])
print(f'{n:<24} {d*1e3:7.2f}ms {j*1e3:7.2f}ms {t*1e3:7.2f}ms {d/j:11.2f}x {d/t:11.2f}x')" "${f[0]}" "${m[@]}"
done
# the trivial task with the same child on both sides, and that child alone:
# what is left after subtracting it is each runner's own part. The floor of
# any runner that starts that child: a bare sh starting it (fork and exec),
# or exec'ing it (no fork, no wait) — two process images either way.
mapfile -t m < <(medians "$dbtrun -q -f same-child/dbtrun.lua hello" \
  "$just -f same-child/justfile hello" "$true_bin" "/bin/sh -c 'echo hello'" \
  "/bin/sh -c \"/bin/sh -c 'echo hello'\"" "/bin/sh -c \"exec /bin/sh -c 'echo hello'\"")
python3 -c "
import sys
d, j, t, c, f, e = map(float, sys.argv[1:])
n = 'trivial, same child'
print(f'{n:<24} {d*1e3:7.2f}ms {j*1e3:7.2f}ms {t*1e3:7.2f}ms {d/j:11.2f}x {d/t:11.2f}x')
print(f'  the child (sh -c \'echo hello\') alone {c*1e3:.2f}ms; without it: dbtrun {(d-c)*1e3:.2f}ms,'
      f' just {(j-c)*1e3:.2f}ms, {(d-c)/(j-c):.2f}x')
print(f'  floor: sh starting that child {f*1e3:.2f}ms ({f/j:.2f}x just), sh exec\'ing it'
      f' {e*1e3:.2f}ms ({e/j:.2f}x just)')" "${m[@]}"
"$dbtrun" --list >/dev/null
echo "($("$just" --version), dbtrun $("$dbtrun" --version | cut -d' ' -f2), $runs runs each, medians, $(nproc) cores;"
echo " before each run of the edit row a comment line is appended to dbtrun.lua, outside the timing)"
