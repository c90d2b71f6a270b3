#!/usr/bin/env bash
# tools/venv.sh — create or refresh the Python environment at <repo>/.venv.
#
#   tools/venv.sh            install requirements.txt if the venv is missing or
#                            requirements.txt changed since the last install;
#                            otherwise return at once (a hash compare, no pip)
#   tools/venv.sh --force    reinstall requirements.txt into the existing venv
#   tools/venv.sh --clean    delete the venv and build it again from scratch
#
# Environment: PYTHON (interpreter that creates the venv, default python3),
# DBTRUN_VENV (venv directory, default <repo>/.venv), DBTRUN_REQUIREMENTS
# (the requirements file, default <repo>/requirements.txt; tools/venv-fakesnow.sh
# sets both for .venv-fakesnow).
# The stamp .venv/.requirements.stamp holds the hash of requirements.txt and
# the interpreter version of the last successful install. Concurrent runs are
# serialised with flock(1) on .venv/.lock when flock is available.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DBTRUN_VENV:-$root/.venv}
req=${DBTRUN_REQUIREMENTS:-$root/requirements.txt}
python=${PYTHON:-python3}
stamp=$venv/.requirements.stamp

mode=auto
case "${1:-}" in
  "") ;;
  --force) mode=force ;;
  --clean) mode=clean ;;
  -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
  *) echo "venv.sh: unknown option: $1 (try --help)" >&2; exit 2 ;;
esac

[ -f "$req" ] || { echo "venv.sh: $req not found" >&2; exit 1; }

# The stamp: requirements.txt's hash plus the venv interpreter's version.
want_stamp() {
  local h
  h=$(sha256sum "$req" | cut -d' ' -f1)
  printf '%s %s\n' "$h" "$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
}

# Fast path: no lock, no pip, no Python start-up beyond the version check.
if [ "$mode" = auto ] && [ -f "$stamp" ] && [ -x "$venv/bin/python" ] &&
   [ "$(cat "$stamp")" = "$(want_stamp 2>/dev/null)" ]; then
  exit 0
fi

mkdir -p "$venv"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv/.lock"
  flock 9
  # Another run may have finished the work while we waited.
  if [ "$mode" = auto ] && [ -f "$stamp" ] && [ -x "$venv/bin/python" ] &&
     [ "$(cat "$stamp")" = "$(want_stamp 2>/dev/null)" ]; then
    exit 0
  fi
fi

start=$(date +%s)

# Remove everything but the lock file (which we hold). Only ever a venv (it
# has pyvenv.cfg) or an empty folder: DBTRUN_VENV=$HOME must not wipe $HOME.
wipe() {
  if [ ! -e "$venv/pyvenv.cfg" ] &&
     [ -n "$(find "$venv" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit)" ]; then
    echo "venv.sh: $venv is not empty and not a venv; not touching it" >&2
    exit 1
  fi
  find "$venv" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
}

if [ "$mode" = clean ]; then
  wipe
elif ! "$venv/bin/python" -c '' 2>/dev/null; then
  # Missing, dangling (the interpreter it pointed at is gone) or broken.
  if [ -e "$venv/pyvenv.cfg" ] || [ -L "$venv/bin/python" ] || [ -e "$venv/bin" ]; then
    echo "venv.sh: $venv/bin/python does not run; recreating the venv" >&2
  fi
  wipe
fi

if [ ! -x "$venv/bin/python" ]; then
  command -v "$python" >/dev/null 2>&1 ||
    { echo "venv.sh: $python not found (set PYTHON=...)" >&2; exit 1; }
  echo "venv.sh: creating $venv with $("$python" --version 2>&1)" >&2
  "$python" -m venv "$venv"
fi

rm -f "$stamp"
echo "venv.sh: installing $(basename "$req") into $venv" >&2
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
  "$venv/bin/python" -m pip install --quiet -r "$req"
want_stamp >"$stamp"
echo "venv.sh: done in $(($(date +%s) - start))s" >&2
