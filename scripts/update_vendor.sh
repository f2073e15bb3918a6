#!/usr/bin/env bash
# Reproduce pwa/vendor/ and tests/pwa/vendor/ from the npm registry (no CDN at run time).
#
#   scripts/update_vendor.sh            # the pinned versions below
#   ZXING=3.1.5 scripts/update_vendor.sh   # try another version, then run the browser tests
#
# The app serves these files itself and its service worker caches them, so scanning
# and the enrollment QR work on a set with no signal. Each folder keeps the package's
# licence; bump the version, run this, run `.venv/bin/pytest -m browser`, commit.
set -euo pipefail
cd "$(dirname "$0")/.."

ZXING="${ZXING:-3.1.4}"   # zxing-wasm: ZXing-C++ decoder as WebAssembly (reader only)
UQR="${UQR:-0.1.3}"       # uqr: a small QR encoder (enrollment QR on screen)
AXE="${AXE:-4.14.1}"      # axe-core: accessibility checks, tests only

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION -> $work/NAME/package
  (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
  mkdir -p "$work/$1"
  tar xzf "$work/$1-$2.tgz" -C "$work/$1"
}

fetch zxing-wasm "$ZXING"
dst="pwa/vendor/zxing-wasm-$ZXING"
rm -rf pwa/vendor/zxing-wasm-*
mkdir -p "$dst/es/reader" "$dst/reader"
src="$work/zxing-wasm/package"
cp "$src/dist/es/reader/index.js" "$dst/es/reader/index.js"
cp "$src/dist/es/share.js" "$dst/es/share.js"
cp "$src/dist/reader/zxing_reader.wasm" "$dst/reader/zxing_reader.wasm"
cp "$src/LICENSE" "$dst/LICENSE"

fetch uqr "$UQR"
dst="pwa/vendor/uqr-$UQR"
rm -rf pwa/vendor/uqr-*
mkdir -p "$dst"
cp "$work/uqr/package/dist/index.mjs" "$dst/index.mjs"
cp "$work/uqr/package/LICENSE" "$dst/LICENSE"

fetch axe-core "$AXE"
dst="tests/pwa/vendor/axe-core-$AXE"
rm -rf tests/pwa/vendor/axe-core-*
mkdir -p "$dst"
cp "$work/axe-core/package/axe.min.js" "$dst/axe.min.js"
cp "$work/axe-core/package/LICENSE" "$dst/LICENSE"

# The app and the tests name the versions in one place each; say where to update them.
cat <<MSG
Vendored zxing-wasm $ZXING, uqr $UQR, axe-core $AXE.
If a version changed, update: pwa/js/vendor.js (paths) and tests/pwa/a11y.py (AXE path),
then bump CACHE_VERSION in pwa/sw.js and run .venv/bin/pytest -m browser.
MSG
