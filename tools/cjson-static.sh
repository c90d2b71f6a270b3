#!/usr/bin/env bash
# tools/cjson-static.sh OUT.a — a static cJSON for `make wheel`.
#
# Debian's libcjson-dev ships only libcjson.so (no libcjson.a), and a wheel's
# binary must not need libcjson1 on the host. So this builds cJSON.c from
# Debian's own source package, at exactly the version whose headers
# (/usr/include/cjson/cJSON.h, from libcjson-dev) the rest of dbtrun is
# compiled against, with Debian's patches applied. Nothing of cJSON is kept in
# this repository. Needs a deb-src entry (tools/deps.sh adds one) and dpkg-dev.
set -euo pipefail

out=${1:?usage: tools/cjson-static.sh OUT.a}
cc=${CC:-cc}
mkdir -p "$(dirname "$out")"
dir=$(cd "$(dirname "$out")" && pwd)/src
version=$(dpkg-query -W -f='${source:Version}' libcjson-dev 2>/dev/null) ||
  { echo "cjson-static.sh: libcjson-dev is not installed (tools/deps.sh)" >&2; exit 1; }

rm -rf "$dir" && mkdir -p "$dir"
if ! (cd "$dir" && apt-get source -qq "cjson=$version" >/dev/null 2>"$dir/apt.log"); then
  cat "$dir/apt.log" >&2
  echo "cjson-static.sh: cannot fetch Debian's source of cjson $version (the version of the" \
       "installed libcjson-dev). tools/deps.sh adds the deb-src entry this needs; if Debian" \
       "has a newer cjson since, upgrade libcjson-dev first." >&2
  exit 1
fi
src=$(find "$dir" -mindepth 2 -maxdepth 2 -name cJSON.c | head -n 1)
[ -n "$src" ] || { echo "cjson-static.sh: no cJSON.c in the source package" >&2; exit 1; }
"$cc" -std=c89 -O2 -c -o "$dir/cJSON.o" "$src"
rm -f "$out" && ar rcs "$out" "$dir/cJSON.o"
echo "  AR   $out (cJSON $version from Debian's source package)"
