# Prerequisites of the extension (wasm/, extension/, tests/browser/). Sourced by scripts/prereqs.sh
# and by scripts/build-extension.sh (which calls the prereq_extension_* functions itself so a
# fresh clone builds with one command).

APT_PACKAGES+=(chromium chromium-driver zip fonts-ipafont-gothic)   # fonts: Japanese text in screenshots

# The wasm32 target for kagi-wasm.
prereq_extension_rust_target() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && return 0
  rustup target add wasm32-unknown-unknown
}

# The wasm-bindgen crate version Cargo.lock pins (the CLI must match it exactly).
extension_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$KAGI_ROOT/Cargo.lock"
}

# wasm-bindgen-cli at exactly that version, in the checkout's build/tools (not ~/.cargo). A debug
# build: it writes the same bytes as a release build (compared on both modules) in 0.25 s
# instead of 0.04 s, and builds in half the time (57 s against 115 s on 2 cores).
# KAGI_PREREQS_DEFER=1: scripts/test.sh builds it in the background (scripts/prebuild.sh); the
# scripts that need it (build-extension.sh, 20-wasm) call this function themselves.
prereq_extension_wasm_bindgen() {
  [ "${KAGI_PREREQS_DEFER:-}" = 1 ] && return 0
  local v bin="$KAGI_ROOT/build/tools/bin/wasm-bindgen"
  v=$(extension_wasm_bindgen_version)
  [ -n "$v" ] || { echo "wasm-bindgen not found in Cargo.lock" >&2; return 1; }
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q " $v\$"; then return 0; fi
  echo "installing wasm-bindgen-cli $v into build/tools (about 1 minute)" >&2
  cargo install -q --debug wasm-bindgen-cli --version "$v" --root "$KAGI_ROOT/build/tools" --force \
    --bin wasm-bindgen --bin wasm-bindgen-test-runner
}

# playwright-core (browser tests) and binaryen (wasm-opt; Debian's is too old), from the lock file.
prereq_extension_npm() {
  local dir="$KAGI_ROOT/tests/browser"
  if [ -x "$dir/node_modules/.bin/wasm-opt" ] && [ -d "$dir/node_modules/playwright-core" ] && [ -d "$dir/node_modules/axe-core" ] \
     && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then return 0; fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}
