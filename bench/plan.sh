#!/usr/bin/env bash
# bench/plan.sh — `dbtrun plan` against `dbt ls --select state:modified+` on a
# synthetic project of 5,000 models (and as many tests) parsed by real dbt,
# in the same run: times, ratio, peak RSS, and a check that both select the
# same models. Then a ~100 MB manifest (the real one, its nodes replicated)
# for the memory bound. Slow (dbt parses 5,000 models): never run by tests.
#   MODELS=5000  RUNS=10 (dbtrun)  DBT_RUNS=3 (dbt ls)  BIG=1 (100 MB part)
#   KEEP=1 (keep the generated project and manifests)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dbtrun=${DBTRUN_BIN:-$root/build/dbtrun}
venv=$root/.venv/bin
[ -x "$venv/dbt" ] || { echo "plan.sh: .venv/bin/dbt not found (run tools/venv.sh)" >&2; exit 1; }
[ -x "$dbtrun" ] || { echo "plan.sh: $dbtrun not found (run make)" >&2; exit 1; }
models=${MODELS:-5000}
runs=${RUNS:-10}
dbt_runs=${DBT_RUNS:-3}
python=$venv/python

work=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] && echo "plan.sh: kept $work" >&2 || rm -rf "$work"' EXIT
export PATH="$venv:$PATH" DBT_PROFILES_DIR="$work/project" DBT_DUCKDB_PATH="$work/bench.duckdb"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false

# ---- a layered project (bench/genproject.py)
"$python" "$root/bench/genproject.py" "$work/project" "$models"

cd "$work/project"
echo "plan.sh: dbt parse of $models models (production state)..." >&2
dbt parse -q >/dev/null
mkdir -p "$work/state"
mv target/manifest.json "$work/state/manifest.json"

# ---- a few edits: three bodies, a macro called (through others) by some
# models, a config, a description.
last=$((models / 10 - 1))
sed -i 's/^select /select  /' models/l5/m5_0001.sql models/l7/m7_0002.sql models/l2/m2_0003.sql
sed -i 's/+ 3)/+ 33)/' macros/helper_3.sql
printf '{{ config(materialized="table") }}\n' | cat - models/l4/m4_0004.sql > "$work/t" && mv "$work/t" models/l4/m4_0004.sql
sed -i "s/Model m1_$(printf %04d "$last") of/A model m1_$(printf %04d "$last") of/" models/l1/_models.yml
sleep 1
echo "plan.sh: dbt parse after the edits (current manifest)..." >&2
dbt parse -q >/dev/null
size=$(stat -c %s target/manifest.json)

plan_cmd="$dbtrun plan --state $work/state --format json --no-parse"
ls_cmd="dbt -q ls --select state:modified+ --state $work/state --resource-type model --output json --output-keys unique_id"

# ---- the same answer first
$plan_cmd > "$work/plan.json"
$ls_cmd > "$work/ls.txt"
"$python" - "$work/plan.json" "$work/ls.txt" <<'EOF'
import json, sys
plan = {s["unique_id"] for s in json.load(open(sys.argv[1]))["selected"] if s["resource_type"] == "model"}
dbt = {json.loads(l)["unique_id"] for l in open(sys.argv[2]) if l.startswith("{")}
print(f"selected models: dbtrun plan {len(plan)}, dbt ls {len(dbt)}, identical: {plan == dbt}")
if plan != dbt:
    print("  only dbtrun:", sorted(plan - dbt)[:10], " only dbt:", sorted(dbt - plan)[:10])
    sys.exit(1)
EOF

# mean seconds of a command over n runs (hyperfine when installed)
mean() { # n command
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 1 -r "$1" --export-json "$work/h.json" "$2" >/dev/null 2>&1
    "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$work/h.json"
  else
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$1"); do $2 >/dev/null 2>&1; done
    end=$(date +%s%N)
    "$python" -c "print(($end - $start) / 1e9 / $1)"
  fi
}
# peak resident set size of one run, in MB
peak() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident set size/ { printf "%.1f", $NF / 1024 }'
}

t_plan=$(mean "$runs" "$plan_cmd")
t_ls=$(mean "$dbt_runs" "$ls_cmd")
rss_plan=$(peak $plan_cmd)
rss_ls=$(peak $ls_cmd)
# dbtrun plan when the manifest is stale: it runs dbt parse first (one run:
# a second would find the manifest fresh)
touch models/l5/m5_0001.sql
start=$(date +%s%N)
"$dbtrun" -q plan --state "$work/state" --format json >/dev/null
t_stale=$("$python" -c "print(($(date +%s%N) - $start) / 1e9)")

"$python" - "$models" "$size" "$t_plan" "$t_ls" "$rss_plan" "$rss_ls" "$t_stale" <<'EOF'
import sys
models, size, tp, tl, rp, rl, ts = sys.argv[1:]
tp, tl, ts = float(tp), float(tl), float(ts)
print(f"project: {models} models, manifest {int(size) / 1e6:.1f} MB")
print(f"{'':34} {'time':>10} {'peak RSS':>10}")
print(f"{'dbtrun plan (fresh manifest)':34} {tp * 1000:8.1f}ms {rp:>8}MB")
print(f"{'dbt ls state:modified+ (warm)':34} {tl * 1000:8.1f}ms {rl:>8}MB")
print(f"ratio: dbtrun plan is {tl / tp:.0f}x faster than dbt ls")
print(f"dbtrun plan with a stale manifest (runs dbt parse first): {ts:.1f}s")
EOF

# ---- a ~100 MB manifest: the nodes replicated under new ids, each with a
# compiled_code, as a production manifest written by dbt build carries.
if [ "${BIG:-1}" = 1 ]; then
  "$python" - target/manifest.json "$work/big" <<'EOF'
import copy, json, os, sys
src, out = sys.argv[1], sys.argv[2]
m = json.load(open(src))
os.makedirs(f"{out}/state"); os.makedirs(f"{out}/current")
base_nodes, base_child = m["nodes"], m["child_map"]
nodes, child = dict(base_nodes), dict(base_child)

def replica(r):
    reps = {}
    for uid, n in base_nodes.items():
        c = copy.deepcopy(n)
        c["unique_id"] = f"{uid}_r{r}"
        c["compiled_code"] = (c.get("raw_code") or "") * 3
        reps[c["unique_id"]] = c
        child[c["unique_id"]] = [f"{k}_r{r}" for k in base_child.get(uid, [])]
    return reps

first = replica(1)
nodes.update(first)
need = int((100e6 - len(json.dumps(m))) / len(json.dumps(first))) + 1
for r in range(2, need + 1):
    nodes.update(replica(r))
m["nodes"], m["child_map"] = nodes, child
json.dump(m, open(f"{out}/state/manifest.json", "w"))
for uid in list(nodes)[::1000]:
    nodes[uid]["raw_code"] = (nodes[uid].get("raw_code") or "") + " "
json.dump(m, open(f"{out}/current/manifest.json", "w"))
EOF
  big_size=$(stat -c %s "$work/big/current/manifest.json")
  big_cmd="$dbtrun plan --state $work/big/state --target-manifest $work/big/current/manifest.json --format json --no-parse"
  t_big=$(mean 3 "$big_cmd")
  rss_big=$(peak $big_cmd)
  printf 'big manifests: 2 x %.0f MB, dbtrun plan %.0fms, peak RSS %sMB\n' \
    "$("$python" -c "print($big_size / 1e6)")" "$("$python" -c "print($t_big * 1000)")" "$rss_big"
fi
