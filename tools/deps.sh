#!/usr/bin/env bash
# tools/deps.sh — installs the Debian packages dbtrun builds and tests with
# (clang and libclang-rt-14-dev: the libFuzzer runtime of `make fuzz`).
# Idempotent: packages already present are not fetched again. Run as root
# (or with sudo available).
set -euo pipefail

packages=(
  build-essential pkg-config
  liblua5.4-dev libcurl4-openssl-dev libssl-dev libcjson-dev libexpat1-dev
  clang libclang-rt-14-dev clang-format valgrind python3 python3-venv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "deps.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# actionlint checks the workflows `dbtrun init` writes. It is not packaged
# for Debian; with a Go toolchain it is built into ~/go/bin (cached after the
# first time). Without Go that test is skipped, nothing else depends on it.
actionlint=github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
go=$(command -v go || echo /usr/local/go/bin/go)
if [ ! -x "$HOME/go/bin/actionlint" ] && [ -x "$go" ]; then
  echo "deps.sh: go install $actionlint"
  "$go" install "$actionlint" || echo "deps.sh: actionlint not installed; its test will be skipped" >&2
fi
