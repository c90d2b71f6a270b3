#!/usr/bin/env bash
# bench/dev.sh — the dev loop: `dbtrun dev` against the seed's plain
# `dbt build --select state:modified+ --defer --state .artifacts/`, on the
# example project (after a `dbtrun deploy` to the local store) and on a
# synthetic project of 5,000 models (bench/genproject.py). Before every run
# a model is edited, as in a real loop, so each run re-parses it and builds
# it. The two commands alternate (A B A B ...) and each pair gives a ratio
# of wall time and of CPU time (user + sys, dbt included): the median ratios
# are the figures to quote, robust to a shared machine whose speed drifts
# (CPU time the more so when other work competes for the cores). Slow (real dbt): never run by tests.
#   PAIRS=5  MODELS=5000  PROJECTS="example synthetic"  KEEP=1 (keep the folder)
#   ARGS="--vars '{day: 1}'" (dbt words for both commands, split as a shell splits them)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dbtrun=${DBTRUN_BIN:-$root/build/dbtrun}
venv=$root/.venv/bin
[ -x "$venv/dbt" ] || { echo "dev.sh: .venv/bin/dbt not found (run tools/venv.sh)" >&2; exit 1; }
[ -x "$dbtrun" ] || { echo "dev.sh: $dbtrun not found (run make)" >&2; exit 1; }
pairs=${PAIRS:-5}
models=${MODELS:-5000}
python=$venv/python
work=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] && echo "dev.sh: kept $work" >&2 || rm -rf "$work"' EXIT
export PATH="$venv:$PATH" DBT_SEND_ANONYMOUS_USAGE_STATS=false
export GITHUB_ACTIONS= GITHUB_EVENT_PATH= GITHUB_STEP_SUMMARY= GITHUB_TOKEN= AWS_EC2_METADATA_DISABLED=true
plain="dbt build --select state:modified+ --defer --state .artifacts/"
args=()
[ -z "${ARGS:-}" ] || eval "args=($ARGS)"

# paired NAME MODEL_FILE: PAIRS alternating runs of dbtrun dev and the plain
# build, each after an edit of MODEL_FILE; prints the medians and ratio.
paired() {
  local name=$1 model=$2 i
  : > "$work/$name.times"
  for i in $(seq 0 "$pairs"); do # run 0 warms up both and is not counted
    printf -- '-- edit %s a\n' "$i" >> "$model"
    /usr/bin/time -f '%e %U %S' -o "$work/a.time" "$dbtrun" -q dev ${args[@]+"${args[@]}"} \
      >> "$work/$name.dev.log" 2>&1 || { tail -30 "$work/$name.dev.log" >&2; exit 1; }
    printf -- '-- edit %s b\n' "$i" >> "$model"
    /usr/bin/time -f '%e %U %S' -o "$work/b.time" $plain ${args[@]+"${args[@]}"} \
      >> "$work/$name.plain.log" 2>&1 || { tail -30 "$work/$name.plain.log" >&2; exit 1; }
    [ "$i" = 0 ] || echo "$(cat "$work/a.time") $(cat "$work/b.time")" >> "$work/$name.times"
  done
  "$python" - "$name" "$work/$name.times" <<'EOF'
import statistics, sys
# per run: wall, user, sys of dbtrun dev (with its dbt children), then of dbt
rows = [[float(x) for x in l.split()] for l in open(sys.argv[2])]
med = statistics.median
wall = sorted(r[0] / r[3] for r in rows)
cpu = sorted((r[1] + r[2]) / (r[4] + r[5]) for r in rows)
print(f"{sys.argv[1]:>10}: dbtrun dev {med([r[0] for r in rows]):6.2f}s  plain dbt build "
      f"{med([r[3] for r in rows]):6.2f}s  wall ratio {med(wall):.2f}x [{wall[0]:.2f}-{wall[-1]:.2f}]  "
      f"cpu ratio {med(cpu):.2f}x [{cpu[0]:.2f}-{cpu[-1]:.2f}]  (paired, median of {len(rows)})")
EOF
}

example() {
  cp -r "$root/examples/jaffle_contacts" "$work/example"
  cd "$work/example"
  rm -rf target logs .artifacts .dbtrun ./*.duckdb*
  echo "dev.sh: example: dbtrun deploy to the local store..." >&2
  "$dbtrun" -q deploy > "$work/example.deploy.log" 2>&1 || { tail -30 "$work/example.deploy.log" >&2; exit 1; }
  paired example models/intermediate/int_contacts__enriched.sql
}

synthetic() {
  "$python" "$root/bench/genproject.py" "$work/synthetic" "$models"
  cd "$work/synthetic"
  export DBT_PROFILES_DIR=$PWD DBT_DUCKDB_PATH="$work/synthetic.duckdb"
  # the model being developed: a leaf over one model of layer 0
  printf 'select id, k from {{ ref("m0_0001") }}\n' > models/dev_leaf.sql
  "$python" -c '
import duckdb, sys
c = duckdb.connect(sys.argv[1])
c.execute("create schema raw")
for t in range(50):
    c.execute(f"create table raw.t{t} as select 1 as id")' "$DBT_DUCKDB_PATH"
  echo "dev.sh: synthetic: dbt parse of $models models, production = its manifest..." >&2
  dbt -q run --select +dev_leaf > /dev/null
  mkdir -p .dbtrun/store/artifacts
  cp target/manifest.json .dbtrun/store/artifacts/manifest.json
  paired synthetic models/dev_leaf.sql
}

echo "dev.sh: $pairs pairs each${ARGS:+, ARGS $ARGS}; ratios are dbtrun dev / plain dbt build, paired run by run" >&2
for p in ${PROJECTS:-example synthetic}; do
  (cd "$work" && "$p")
done
