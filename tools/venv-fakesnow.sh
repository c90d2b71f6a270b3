#!/usr/bin/env bash
# tools/venv-fakesnow.sh — create or refresh <repo>/.venv-fakesnow, the
# Snowflake emulator's own venv (tools/requirements-fakesnow.txt says why it
# is separate), the same stamp-based way as tools/venv.sh; same options
# (--force, --clean, --help).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DBTRUN_VENV=${DBTRUN_FAKESNOW_VENV:-$root/.venv-fakesnow}
export DBTRUN_REQUIREMENTS=$root/tools/requirements-fakesnow.txt
exec "$root/tools/venv.sh" "$@"
