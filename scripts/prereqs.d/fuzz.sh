# cargo-fuzz for the fuzz smoke runs, installed into the checkout (build/tools), not ~/.cargo.
# A debug build: it only drives cargo, and builds in less time. KAGI_PREREQS_DEFER=1:
# scripts/test.sh builds it in the background (scripts/prebuild.sh).
prereq_cargo_fuzz() {
  [ "${KAGI_PREREQS_DEFER:-}" = 1 ] && return 0
  [ -x "$KAGI_ROOT/build/tools/bin/cargo-fuzz" ] && return 0
  say "installing cargo-fuzz into build/tools"
  cargo install --locked --quiet --debug cargo-fuzz --version 0.13.2 --root "$KAGI_ROOT/build/tools"
}
