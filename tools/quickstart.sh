#!/usr/bin/env bash
# tools/quickstart.sh — the main job on the embedded default, from a fresh
# Debian machine: install what is needed, build dbtrun, then run the seed's
# loop on the example dbt project with the built-in dbt tasks (DuckDB, the
# local artifact store .dbtrun/store/, no cloud):
#   1. dbtrun deploy: full dbt build, manifest and docs site published to the store,
#   2. an edit of one model,
#   3. dbtrun dev: fetch the manifest, print the plan, rebuild only what
#      changed, deferring the rest to prod.
# The edit is undone at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/deps.sh
tools/venv.sh
make -s
export PATH="$root/build:$root/.venv/bin:$PATH"

cd examples/jaffle_contacts
model=models/intermediate/int_contacts__enriched.sql
cp "$model" "$model.orig"
trap 'mv "$model.orig" "$model"' EXIT

dbtrun clean-artifacts
echo "== dbtrun deploy: full production build, manifest and docs published to the local store"
dbtrun deploy
printf '\n-- quickstart edit: this model changed\n' >> "$model"
echo "== dbtrun dev: the plan, then only the edited model and its children, deferring the rest to prod"
dbtrun dev
echo "== docs site: examples/jaffle_contacts/.dbtrun/store/docs/index.html"
