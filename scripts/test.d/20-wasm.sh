#!/usr/bin/env bash
# kagi-wasm's web-sys tests (wasm/src/web_tests.rs) with wasm-bindgen-test in headless Chromium
# through chromedriver. The plain-logic tests run natively in the cargo suite.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
. "$KAGI_ROOT/scripts/prereqs.d/extension.sh"
cd "$KAGI_ROOT"

name=20-wasm
prereq_extension_rust_target >/dev/null && prereq_extension_wasm_bindgen >/dev/null \
  || { echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
log="$KAGI_BUILD/test-logs/$name.out"
mkdir -p "$(dirname "$log")"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$KAGI_ROOT/build/tools/bin/wasm-bindgen-test-runner" \
CHROMEDRIVER=/usr/bin/chromedriver \
  cargo test -p kagi-wasm --target wasm32-unknown-unknown --locked --lib >"$log" 2>&1
rc=$?
grep -vE '^\s+(Compiling|Blocking)' "$log"
pass=$(awk '/^test result:/{for(i=1;i<=NF;i++) if($(i+1)~/^passed/) p+=$i} END{print p+0}' "$log")
failed=$(awk '/^test result:/{for(i=1;i<=NF;i++) if($(i+1)~/^failed/) f+=$i} END{print f+0}' "$log")
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "kagi-suite $name: $pass passed, $failed failed"
[ "$rc" = 0 ]
