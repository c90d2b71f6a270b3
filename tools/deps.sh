#!/usr/bin/env bash
# tools/deps.sh — installs the Debian packages dbtrun builds and tests with
# (clang and libclang-rt-14-dev: the libFuzzer runtime of `make fuzz`).
# Idempotent: packages already present are not fetched again. Run as root
# (or with sudo available).
set -euo pipefail

packages=(
  build-essential pkg-config dpkg-dev
  liblua5.4-dev libcurl4-openssl-dev libssl-dev libcjson-dev libexpat1-dev
  clang libclang-rt-14-dev clang-format valgrind python3 python3-venv
  zsh fish  # tests/e2e/test_completion.py presses Tab in bash, zsh and fish
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# `make wheel` builds a static cJSON from Debian's source package
# (tools/cjson-static.sh: Debian ships no libcjson.a), which needs a deb-src
# entry: added beside Debian's own deb822 sources file when there is none.
srcs=/etc/apt/sources.list.d/debian.sources
deb_src=/etc/apt/sources.list.d/dbtrun-deb-src.sources
need_update=0
if [ -f "$srcs" ] && [ ! -f "$deb_src" ] &&
   ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "deps.sh: adding deb-src entries ($deb_src)"
  sed 's/^Types: deb$/Types: deb-src/' "$srcs" | $sudo tee "$deb_src" >/dev/null
  need_update=1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "$need_update" -eq 1 ]; then
  $sudo apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A static cJSON for every build (Debian ships only libcjson.so): the Makefile
# links /usr/local/lib/dbtrun/libcjson.a when it is there, sparing each start
# of dbtrun the loading of one shared library (~2% of `dbtrun --list`). Built
# from Debian's source of the installed libcjson-dev (tools/cjson-static.sh),
# again only when that version changes.
cjson_a=/usr/local/lib/dbtrun/libcjson.a
cjson_version=$(dpkg-query -W -f='${source:Version}' libcjson-dev)
if [ "$(cat "$cjson_a.version" 2>/dev/null)" != "$cjson_version" ]; then
  tmp=$(mktemp -d)
  if "$(dirname "$0")/cjson-static.sh" "$tmp/libcjson.a" >/dev/null; then
    $sudo install -D -m 0644 "$tmp/libcjson.a" "$cjson_a"
    echo "$cjson_version" | $sudo tee "$cjson_a.version" >/dev/null
    echo "deps.sh: built $cjson_a (cJSON $cjson_version)"
  else
    echo "deps.sh: no static cJSON; dbtrun links libcjson.so instead" >&2
  fi
  rm -rf "$tmp"
fi

# actionlint checks the workflows `dbtrun init` writes. It is not packaged
# for Debian; with a Go toolchain it is built into ~/go/bin (cached after the
# first time). Without Go that test is skipped (and fails under CI=true).
actionlint=github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
go=$(command -v go || echo /usr/local/go/bin/go)
# gofakes3 is the second S3 implementation the end-to-end tests run against
# (tests/e2e/test_s3_gofakes3.py), built the same way.
gofakes3=github.com/johannesboyne/gofakes3/cmd/gofakes3@v1.2.0
for tool in "$actionlint" "$gofakes3"; do
  name=${tool%@*}; name=${name##*/}
  if [ ! -x "$HOME/go/bin/$name" ] && [ -x "$go" ]; then
    echo "deps.sh: go install $tool"
    "$go" install "$tool" || echo "deps.sh: $name not installed; its tests will be skipped" >&2
  fi
done
