#!/usr/bin/env bash
# Vendor the front-end assets into src/tradeloop/static/vendor/ from the npm registry.
#
# Versions are pinned exactly (chosen with `npm view`); the expected tarball integrity is pinned
# too and checked against both `npm view NAME@VER dist.integrity` and the sha512 of the tarball
# that `npm pack` downloaded. To upgrade: change VERSION and INTEGRITY below, rerun, commit.
#
# Usage: scripts/vendor-static.sh        (needs npm, tar, openssl or python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/tradeloop/static/vendor"

# name | exact version | expected dist.integrity
HTMX_VERSION="2.0.11"
HTMX_INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
PICO_VERSION="2.1.1"
PICO_INTEGRITY="sha512-kIDugA7Ps4U+2BHxiNHmvgPIQDWPDU4IeU6TNRdvXQM1uZX+FibqDQT2xUOnnO2yq/LUHcwnGlu1hvf4KfXnMg=="
ECHARTS_VERSION="6.1.0"
ECHARTS_INTEGRITY="sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA=="

command -v npm >/dev/null || { echo "vendor-static: npm is required" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

sha512_b64() {
  if command -v openssl >/dev/null; then
    openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n'
  else
    python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode(), end="")' "$1"
  fi
}

VERSIONS_LINES=()

# fetch NAME VERSION EXPECTED_INTEGRITY -> extracts to $WORK/<slug>/package, sets PKG_DIR, PKG_LICENSE
fetch() {
  local name="$1" version="$2" expected="$3"
  local slug="${name//[@\/]/_}"
  local dir="$WORK/$slug"
  mkdir -p "$dir"

  local integrity license
  integrity="$(npm view "$name@$version" dist.integrity)"
  license="$(npm view "$name@$version" license)"
  if [[ "$integrity" != "$expected" ]]; then
    echo "vendor-static: $name@$version: registry integrity $integrity != pinned $expected" >&2
    exit 1
  fi

  local tgz
  tgz="$(cd "$dir" && npm pack "$name@$version" --silent | tail -n 1)"
  local actual="sha512-$(sha512_b64 "$dir/$tgz")"
  if [[ "$actual" != "$expected" ]]; then
    echo "vendor-static: $name@$version: tarball sha512 $actual != pinned $expected" >&2
    exit 1
  fi
  tar -xzf "$dir/$tgz" -C "$dir"

  PKG_DIR="$dir/package"
  VERSIONS_LINES+=("$name	$version	$integrity	$license")
  echo "vendor-static: $name@$version ($license) ok"
}

rm -rf "$DEST/htmx" "$DEST/pico" "$DEST/echarts"
mkdir -p "$DEST/htmx" "$DEST/pico" "$DEST/echarts"

# htmx.org 2.0.x
fetch "htmx.org" "$HTMX_VERSION" "$HTMX_INTEGRITY"
install -m 0644 "$PKG_DIR/dist/htmx.min.js" "$DEST/htmx/htmx.min.js"
install -m 0644 "$PKG_DIR/LICENSE" "$DEST/htmx/LICENSE"

# @picocss/pico 2.x: the standard (class-based, non-classless) build
fetch "@picocss/pico" "$PICO_VERSION" "$PICO_INTEGRITY"
install -m 0644 "$PKG_DIR/css/pico.min.css" "$DEST/pico/pico.min.css"
install -m 0644 "$PKG_DIR/LICENSE.md" "$DEST/pico/LICENSE.md"

# echarts: full minified build, Apache-2.0 LICENSE, NOTICE and the bundled d3 (BSD-3-Clause) licence
fetch "echarts" "$ECHARTS_VERSION" "$ECHARTS_INTEGRITY"
install -m 0644 "$PKG_DIR/dist/echarts.min.js" "$DEST/echarts/echarts.min.js"
install -m 0644 "$PKG_DIR/LICENSE" "$DEST/echarts/LICENSE"
if [[ -f "$PKG_DIR/NOTICE" ]]; then
  install -m 0644 "$PKG_DIR/NOTICE" "$DEST/echarts/NOTICE"
fi
# LICENSE points at licenses/LICENSE-d3 for d3 code compiled into echarts.min.js (BSD-3 requires the notice)
if [[ -f "$PKG_DIR/licenses/LICENSE-d3" ]]; then
  install -m 0644 "$PKG_DIR/licenses/LICENSE-d3" "$DEST/echarts/LICENSE-d3"
fi

{
  echo "# Vendored front-end assets, written by scripts/vendor-static.sh -- do not edit by hand."
  echo "# Source: the npm registry (npm pack NAME@VERSION). Columns are tab-separated."
  echo "# name	version	integrity	license"
  printf '%s\n' "${VERSIONS_LINES[@]}"
} > "$DEST/VERSIONS.txt"

echo "vendor-static: wrote $DEST"
