#!/usr/bin/env bash
# Builds the Kagi extension (issue 11: a release build has no built-in origin and is signed
# only with a key from outside the tree):
#   (release, default)  build/extension/          unpacked, loadable in Chromium/Chrome/Edge and Firefox
#                       build/kagi-extension.zip  the same files, for the Chrome Web Store / Edge / AMO
#                       build/kagi-extension.crx  only with KAGI_SIGNING_KEY=<path to the release
#                                                 signing key, outside the source tree>; the test
#                                                 key (tests/fixtures/) is refused
#   --dev               build/extension-dev/      development build (kagi-wasm feature dev-origins:
#                                                 http://localhost and http://127.0.0.1 on any port
#                                                 are allowed); scripts/demo.sh and the browser
#                                                 tests load it unpacked. Never distributed.
# The WASM is built with the workspace's `wasm-release` profile (Cargo.toml), bound with
# wasm-bindgen at the version Cargo.lock pins and shrunk with wasm-opt -Oz. Prints the WASM size
# (raw and gzip -9) at the end.
#
#   --wasm-only   build only the WASM (build/wasm/ or, with --dev, build/wasm-dev/: kagi_wasm.js,
#                 kagi_wasm_bg.wasm for the service worker, kagi_ui.js, kagi_ui_bg.wasm for the
#                 pages) and print their sizes; scripts/test.d/20-wasm.sh checks the release ones
#                 against the budget.
#
# Nothing is rebuilt when no input changed since the last build of the same kind (a stamp of
# the inputs' hashes in build/.stamps/; KAGI_REBUILD=1 builds anyway).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$KAGI_ROOT/scripts/prereqs.d/extension.sh"
cd "$KAGI_ROOT"

wasm_only=0
dev=0
for a in "$@"; do
  case "$a" in
    --wasm-only) wasm_only=1 ;;
    --dev) dev=1 ;;
    *) die "usage: $0 [--dev] [--wasm-only]" ;;
  esac
done

src="$KAGI_ROOT/extension"
# The public half of the test signing key: the manifest's `key`, which fixes the extension id
# the demo, the tests and kagi_proto::ids::CHROME_EXTENSION_ID use.
test_public_key=$(tr -d '\n' < "$src/keys/public-key.b64")

# Chromium extension id of a base64 SPKI: first 32 hex digits of its SHA-256, 0-f written a-p.
extension_id() { base64 -d <<<"$1" | sha256sum | cut -c1-32 | tr 0-9a-f a-p; }

# Checked before anything is built, so a wrong key fails at once.
release_key=""
if [ "$dev" = 0 ] && [ "$wasm_only" = 0 ] && [ -n "${KAGI_SIGNING_KEY:-}" ]; then
  [ -r "$KAGI_SIGNING_KEY" ] || die "KAGI_SIGNING_KEY=$KAGI_SIGNING_KEY is not a readable file"
  key_path=$(realpath "$KAGI_SIGNING_KEY")
  case "$key_path/" in
    "$KAGI_ROOT"/*) die "refusing to sign a release with a key inside the source tree ($key_path): keep the release signing key outside it" ;;
  esac
  release_public_key=$(openssl pkey -in "$key_path" -pubout -outform DER 2>/dev/null | base64 -w0) \
    || die "KAGI_SIGNING_KEY=$key_path is not a private key openssl can read"
  [ -n "$release_public_key" ] || die "KAGI_SIGNING_KEY=$key_path is not a private key openssl can read"
  [ "$release_public_key" != "$test_public_key" ] \
    || die "refusing to sign a release with the test key (tests/fixtures/test-only-extension-signing-key.pem or a copy of it)"
  release_id=$(extension_id "$release_public_key")
  expected_id=$(sed -nE 's/^pub const CHROME_EXTENSION_ID: &str = "([a-p]{32})";$/\1/p' proto/src/ids.rs)
  # The id follows the signing key. The host accepts only kagi_proto::ids::CHROME_EXTENSION_ID,
  # and the policy templates in manifests/ name it: a CRX with another id would be refused.
  [ "$release_id" = "$expected_id" ] || die "the release key gives the extension id $release_id, but the host (kagi_proto::ids::CHROME_EXTENSION_ID) and manifests/ name $expected_id (the test key's): put the release key's public key in extension/keys/public-key.b64 and extension/manifest.json \"key\" and its id in proto/src/ids.rs and manifests/ first"
  release_key="$key_path"
fi

# One build at a time in this checkout (suites may run side by side, scripts/test.sh): the next
# one then finds the outputs current by their stamps instead of writing into the same files.
# Taken after the checks above, which refuse a key without building (05-keys runs them).
exec 8>"$KAGI_BUILD/.build-extension.lock"
flock 8
prereq_extension_rust_target
prereq_extension_wasm_bindgen
prereq_extension_npm

if [ "$dev" = 1 ]; then
  out="$KAGI_BUILD/extension-dev"
  wasm_dir="$KAGI_BUILD/wasm-dev"
  features=(--features dev-origins)
  kind="development build (built-in http://localhost and http://127.0.0.1)"
else
  out="$KAGI_BUILD/extension"
  wasm_dir="$KAGI_BUILD/wasm"
  features=()
  kind="release build (no built-in origin)"
fi
wasm_in="$KAGI_ROOT/target/wasm32-unknown-unknown/wasm-release/kagi_wasm.wasm"

# Rebuilt only when an input changed: a stamp per output holds the hash of everything the build
# reads (the crates linked into the WASM, the extension's files, the catalog, the lock and
# workspace manifests, this script, the toolchain and tool versions, the build's options). The
# browser suites call this script each; only the first of a run builds. A signed release is
# always built (its key is not an input this hash should hold). KAGI_REBUILD=1 forces a build.
stamps="$KAGI_BUILD/.stamps"
inputs_hash() {
  {
    echo "dev=$dev"
    rustc -V; cargo -V
    "$KAGI_ROOT/build/tools/bin/wasm-bindgen" --version
    sha256sum "$KAGI_ROOT/tests/browser/node_modules/.package-lock.json" | cut -d' ' -f1
    (cd "$KAGI_ROOT" && find extension wasm proto catalog -type f -not -path '*/target/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    (cd "$KAGI_ROOT" && sha256sum Cargo.toml Cargo.lock scripts/build-extension.sh scripts/prereqs.d/extension.sh)
  } 2>&1 | sha256sum | cut -d' ' -f1
}
inputs=$(inputs_hash)
# What a step's stamp must say for its output to be current.
current() { [ -z "$release_key" ] && [ "${KAGI_REBUILD:-}" != 1 ] && [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$inputs" ]; }
stamp() { mkdir -p "$stamps" && echo "$inputs" >"$stamps/$1"; }
# One line per module: `wasm: <raw> bytes raw, <gz> bytes gzip -9` (the service worker's, the
# first, is the one issue 13's budget was set for), then `wasm kagi_ui: …`.
wasm_size() {
  echo "wasm: $(stat -c %s "$wasm_dir/kagi_wasm_bg.wasm") bytes raw, $(gzip -9 -c "$wasm_dir/kagi_wasm_bg.wasm" | wc -c) bytes gzip -9"
  echo "wasm kagi_ui: $(stat -c %s "$wasm_dir/kagi_ui_bg.wasm") bytes raw, $(gzip -9 -c "$wasm_dir/kagi_ui_bg.wasm" | wc -c) bytes gzip -9"
}
wasm_stamp=$(basename "$wasm_dir")
out_stamp=$(basename "$out")
if [ "$wasm_only" = 1 ] && current "$wasm_stamp" && [ -s "$wasm_dir/kagi_wasm_bg.wasm" ] && [ -s "$wasm_dir/kagi_ui_bg.wasm" ]; then
  echo "unchanged since the last build (inputs $inputs): $wasm_dir"
  wasm_size
  exit 0
fi
if [ "$wasm_only" = 0 ] && current "$out_stamp" && [ -s "$out/manifest.json" ] && [ -s "$wasm_dir/kagi_wasm_bg.wasm" ] && [ -s "$wasm_dir/kagi_ui_bg.wasm" ] \
   && { [ "$dev" = 1 ] || [ -s "$KAGI_BUILD/kagi-extension.zip" ]; }; then
  echo "unchanged since the last build (inputs $inputs): $out"
  if [ "$dev" = 1 ]; then
    echo "extension (development build, not for distribution): $out"
  else
    echo "extension (release build): $out"
    echo "zip: $KAGI_BUILD/kagi-extension.zip ($(stat -c %s "$KAGI_BUILD/kagi-extension.zip") bytes)"
  fi
  wasm_size
  exit 0
fi
# A build that stops half-way leaves no stamp saying its outputs are current.
rm -f "$stamps/$out_stamp"

# The WASM of a full build is the one a --wasm-only build of the same inputs made already
# (scripts/test.d/20-wasm.sh builds it first): assembled from that, not built again.
if [ "$wasm_only" = 0 ] && current "$wasm_stamp" && [ -s "$wasm_dir/kagi_wasm_bg.wasm" ] && [ -s "$wasm_dir/kagi_ui_bg.wasm" ]; then
  say "kagi-wasm, $kind: unchanged since the last build ($wasm_dir)"
else
  rm -f "$stamps/$wasm_stamp"
  # Two modules from kagi-wasm (issue 16): kagi_wasm (feature `sw`: the service worker, loaded by
  # background.js) and kagi_ui (feature `pages`: popup, PIN and confirmation window, options,
  # loaded by ui.js). Each is built alone so that neither carries the other's code; each has its
  # own budget (scripts/test.d/20-wasm.sh).
  rm -rf "$wasm_dir"
  mkdir -p "$wasm_dir"
  for module in kagi_wasm:sw kagi_ui:pages; do
    name=${module%%:*}
    feature=${module##*:}
    say "building $name (kagi-wasm feature $feature), $kind (profile wasm-release, wasm32)"
    cargo build -q -p kagi-wasm --profile wasm-release --target wasm32-unknown-unknown --locked \
      --no-default-features --features "$feature" ${features[@]+"${features[@]}"}
    "$KAGI_ROOT/build/tools/bin/wasm-bindgen" --target web --no-typescript --out-name "$name" --out-dir "$wasm_dir" "$wasm_in"
    # --converge: repeat -Oz while it still shrinks; the producers and target_features custom
    # sections are build metadata no browser reads.
    "$KAGI_ROOT/tests/browser/node_modules/.bin/wasm-opt" -Oz --converge --strip-producers --strip-target-features \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types \
      --enable-multivalue --enable-mutable-globals \
      -o "$wasm_dir/${name}_bg.wasm" "$wasm_dir/${name}_bg.wasm"
  done
fi
stamp "$wasm_stamp"
if [ "$wasm_only" = 1 ]; then
  wasm_size
  exit 0
fi

say "assembling $out"
rm -rf "$out"
mkdir -p "$out"
cp -r "$wasm_dir" "$out/wasm"
cp "$src/manifest.json" "$src/managed_schema.json" "$src/background.js" "$src/content.js" "$src/ui.js" "$src/ui.css" \
   "$src/popup.html" "$src/pin.html" "$src/options.html" "$out/"
cp -r "$src/_locales" "$src/icons" "$out/"
# The text catalog the pages read at run time (wasm/src/i18n.rs), shared with the bank pages.
mkdir -p "$out/catalog" && cp "$KAGI_ROOT"/catalog/*.json "$out/catalog/"

# The manifest's key must be the committed public key (it fixes the extension id).
grep -q "\"key\": \"$test_public_key\"" "$out/manifest.json" || die "manifest key differs from extension/keys/public-key.b64"

if [ "$dev" = 1 ]; then
  stamp "$out_stamp"
  echo "extension (development build, not for distribution): $out"
  wasm_size
  exit 0
fi

say "zip"
rm -f "$KAGI_BUILD/kagi-extension.zip"
# Fixed timestamps and order so the same sources give the same zip.
find "$out" -exec touch -h -d '2024-01-01T00:00:00Z' {} +
(cd "$out" && find . -type f | LC_ALL=C sort | sed 's|^\./||' | zip -q -X -9 "$KAGI_BUILD/kagi-extension.zip" -@)

rm -f "$KAGI_BUILD/extension.crx" "$KAGI_BUILD/kagi-extension.crx"
if [ -n "$release_key" ]; then
  say "crx (signed with $release_key)"
  profile=$(mktemp -d)
  # chromium writes <dir>.crx next to the directory.
  HOME="$profile" chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile/ud" \
    --pack-extension="$out" --pack-extension-key="$release_key" >"$profile/pack.log" 2>&1 || true
  # Chromium helpers may still be writing to the profile for a moment.
  sleep 0.2; rm -rf "$profile" 2>/dev/null || { sleep 1; rm -rf "$profile" 2>/dev/null || true; }
  [ -s "$KAGI_BUILD/extension.crx" ] || die "chromium did not produce a CRX"
  mv "$KAGI_BUILD/extension.crx" "$KAGI_BUILD/kagi-extension.crx"
fi

[ -n "$release_key" ] || stamp "$out_stamp"
echo "extension (release build): $out"
echo "zip: $KAGI_BUILD/kagi-extension.zip ($(stat -c %s "$KAGI_BUILD/kagi-extension.zip") bytes)"
if [ -n "$release_key" ]; then
  echo "crx: $KAGI_BUILD/kagi-extension.crx ($(stat -c %s "$KAGI_BUILD/kagi-extension.crx") bytes)"
else
  echo "crx: not made (set KAGI_SIGNING_KEY to the release signing key, kept outside the tree)"
fi
wasm_size
