#!/usr/bin/env bash
# bench/startup.sh — start-up cost of dbtrun against just, in the same run:
# `--list` and a trivial task on equivalent 20-task files. Prints the mean
# times and the ratios (dbtrun / just; below 1 means dbtrun is faster).
# Needs just (tools/venv.sh installs rust-just into .venv) and hyperfine
# (Debian package) — without hyperfine it falls back to a timing loop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dbtrun=${DBTRUN_BIN:-$root/build/dbtrun}
just=$(command -v just || echo "$root/.venv/bin/just")
[ -x "$just" ] || { echo "startup.sh: just not found (run tools/venv.sh)" >&2; exit 1; }
runs=${RUNS:-300}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  for i in $(seq 1 19); do
    printf '# Task number %d with a doc comment\ntask%02d TARGET="dev":\n    @echo building {{TARGET}} %d\n\n' "$i" "$i" "$i"
  done
  printf '# Say hello\nhello:\n    @echo hello\n'
} > "$work/justfile"
{
  for i in $(seq 1 19); do
    printf -- '-- Task number %d with a doc comment\ntask("task%02d", { params = { "TARGET=dev" } }, function(a)\n  run { "echo", "building", a.TARGET, "%d" }\nend)\n\n' "$i" "$i" "$i"
  done
  printf -- '-- Say hello\ntask("hello", function() run { "echo", "hello" } end)\n'
} > "$work/dbtrun.lua"
cd "$work"

# mean seconds of a command over $runs runs
mean() {
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 20 -r "$runs" --export-json "$work/h.json" "$1" >/dev/null 2>&1
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/h.json"
  else
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do $1 >/dev/null 2>&1; done
    end=$(date +%s%N)
    python3 -c "print(($end - $start) / 1e9 / $runs)"
  fi
}

printf '%-28s %10s %10s %8s\n' case dbtrun just ratio
for case in "--list|--list|--list" "trivial task|-q hello|hello"; do
  IFS='|' read -r name dargs jargs <<<"$case"
  d=$(mean "$dbtrun $dargs")
  j=$(mean "$just $jargs")
  python3 -c "import sys; d, j = float(sys.argv[2]), float(sys.argv[3]); print(f'{sys.argv[1]:<28} {d*1e3:8.2f}ms {j*1e3:8.2f}ms {d/j:7.2f}x')" "$name" "$d" "$j"
done
echo "($("$just" --version), dbtrun $("$dbtrun" --version | cut -d' ' -f2), $runs runs each, $(nproc) cores)"
