#!/usr/bin/env bash
# tools/deps.sh — installs the Debian packages dbtrun builds and tests with.
# Idempotent: packages already present are not fetched again. Run as root
# (or with sudo available).
set -euo pipefail

packages=(
  build-essential pkg-config
  liblua5.4-dev libcurl4-openssl-dev libssl-dev libcjson-dev libexpat1-dev
  clang-format valgrind python3 python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps.sh: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
