#!/usr/bin/env bash
# Builds the Kagi extension:
#   build/extension/          unpacked, loadable in Chromium/Chrome/Edge and Firefox
#   build/kagi-extension.zip  the same files, for the Chrome Web Store / Edge / AMO
#   build/kagi-extension.crx  packed and signed with extension/keys/dev-signing-key.pem
# The WASM is built with the workspace's `wasm-release` profile (Cargo.toml), bound with
# wasm-bindgen at the version Cargo.lock pins and shrunk with wasm-opt -Oz. Prints the WASM size
# (raw and gzip -9) at the end.
#
#   --wasm-only   build only the WASM (build/wasm/: kagi_wasm.js, kagi_wasm_bg.wasm) and print
#                 its size; scripts/test.d/20-wasm.sh checks it against the budget.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$KAGI_ROOT/scripts/prereqs.d/extension.sh"
cd "$KAGI_ROOT"

wasm_only=0
case "${1:-}" in
  --wasm-only) wasm_only=1 ;;
  "") ;;
  *) die "usage: $0 [--wasm-only]" ;;
esac

prereq_extension_rust_target
prereq_extension_wasm_bindgen
prereq_extension_npm

out="$KAGI_BUILD/extension"
wasm_dir="$KAGI_BUILD/wasm"
wasm_in="$KAGI_ROOT/target/wasm32-unknown-unknown/wasm-release/kagi_wasm.wasm"

say "building kagi-wasm (profile wasm-release, wasm32)"
cargo build -q -p kagi-wasm --profile wasm-release --target wasm32-unknown-unknown --locked
rm -rf "$wasm_dir"
mkdir -p "$wasm_dir"
"$KAGI_ROOT/build/tools/bin/wasm-bindgen" --target web --no-typescript --out-dir "$wasm_dir" "$wasm_in"
# --converge: repeat -Oz while it still shrinks; the producers and target_features custom
# sections are build metadata no browser reads.
"$KAGI_ROOT/tests/browser/node_modules/.bin/wasm-opt" -Oz --converge --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types \
  --enable-multivalue --enable-mutable-globals \
  -o "$wasm_dir/kagi_wasm_bg.wasm" "$wasm_dir/kagi_wasm_bg.wasm"
wasm_size() {
  echo "wasm: $(stat -c %s "$wasm_dir/kagi_wasm_bg.wasm") bytes raw, $(gzip -9 -c "$wasm_dir/kagi_wasm_bg.wasm" | wc -c) bytes gzip -9"
}
if [ "$wasm_only" = 1 ]; then
  wasm_size
  exit 0
fi

say "assembling $out"
rm -rf "$out"
mkdir -p "$out"
cp -r "$wasm_dir" "$out/wasm"
src="$KAGI_ROOT/extension"
cp "$src/manifest.json" "$src/managed_schema.json" "$src/background.js" "$src/content.js" "$src/ui.js" "$src/ui.css" \
   "$src/popup.html" "$src/pin.html" "$src/options.html" "$out/"
cp -r "$src/_locales" "$src/icons" "$out/"

# The manifest's key must be the committed public key (it fixes the extension id).
key=$(tr -d '\n' < "$src/keys/public-key.b64")
grep -q "\"key\": \"$key\"" "$out/manifest.json" || die "manifest key differs from extension/keys/public-key.b64"

say "zip"
rm -f "$KAGI_BUILD/kagi-extension.zip"
# Fixed timestamps and order so the same sources give the same zip.
find "$out" -exec touch -h -d '2024-01-01T00:00:00Z' {} +
(cd "$out" && find . -type f | LC_ALL=C sort | sed 's|^\./||' | zip -q -X -9 "$KAGI_BUILD/kagi-extension.zip" -@)

say "crx"
rm -f "$KAGI_BUILD/extension.crx" "$KAGI_BUILD/kagi-extension.crx"
profile=$(mktemp -d)
# chromium writes <dir>.crx next to the directory.
HOME="$profile" chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile/ud" \
  --pack-extension="$out" --pack-extension-key="$src/keys/dev-signing-key.pem" >"$profile/pack.log" 2>&1 || true
# Chromium helpers may still be writing to the profile for a moment.
sleep 0.2; rm -rf "$profile" 2>/dev/null || { sleep 1; rm -rf "$profile" 2>/dev/null || true; }
[ -s "$KAGI_BUILD/extension.crx" ] || die "chromium did not produce a CRX"
mv "$KAGI_BUILD/extension.crx" "$KAGI_BUILD/kagi-extension.crx"

echo "extension: $out"
echo "zip: $KAGI_BUILD/kagi-extension.zip ($(stat -c %s "$KAGI_BUILD/kagi-extension.zip") bytes)"
echo "crx: $KAGI_BUILD/kagi-extension.crx ($(stat -c %s "$KAGI_BUILD/kagi-extension.crx") bytes)"
wasm_size
