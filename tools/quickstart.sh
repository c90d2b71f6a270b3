#!/usr/bin/env bash
# tools/quickstart.sh — the main job on the embedded default, from a fresh
# Debian machine: install what is needed, build dbtrun, then run the seed's
# loop on the example dbt project (DuckDB, local artifact store):
#   1. a production deploy (full dbt build, manifest published to the store),
#   2. an edit of one model,
#   3. a dev run that rebuilds only what changed, deferring the rest to prod.
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
dbtrun deploy
printf '\n-- quickstart edit: this model changed\n' >> "$model"
dbtrun fetch-manifest
echo "== models dev will build (dbt's state:modified+):"
dbtrun -q changed
dbtrun dev
