#!/usr/bin/env bash
# Builds ahead of time what the suites in scripts/test.d would otherwise build for themselves,
# with the same commands, so that each suite then finds it fresh. scripts/test.sh runs it in the
# background (niced) while the machine mostly waits: the Wine root during the workspace build
# (network and disk), the rest during the cargo suite, whose card tests wait on pcscd's polls
# (measured: 2 cores ~90 % idle over its 165 s).
#
#   scripts/prebuild.sh wine-root   the Wine root of 16-windows-wine (scripts/wine/root.sh ensure)
#   scripts/prebuild.sh main        wasm-bindgen-cli, the WASM tests and the release extension
#                                   (20, 40-51), kagi-host.exe (16), the development extension (70, 71)
#   scripts/prebuild.sh fuzz        cargo-fuzz and the fuzz targets (60)
#
# scripts/test.sh runs `main` at nice 10 and `fuzz` beside it at nice 19: the fuzz build takes
# what CPU is left, e.g. while `main` links or runs the WASM's fat LTO on one core.
#
# The steps print "prebuild <step>: …" when they end; scripts/test.sh starts a suite once the
# steps it needs have ended.
#
# Nothing here is a test: a step that fails is reported and the suite that needs it builds it
# again and reports the error itself. Prints one line per step with its time; exits non-zero if
# any step failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"
unset KAGI_PREREQS_DEFER   # this script is where the deferred work is done
# Leading a session of its own (scripts/test.sh starts it with setsid), this script is also a
# scheduler autogroup of its own (Linux, sched_autogroup_enabled), which competes with the others
# by the autogroup's niceness, not its processes': without this, `nice` would not hold the
# builds back from the suites (measured: wasm-bindgen-cli built in 138 s beside the fuzz build
# at nice 19, against 59 s alone). Not when run from a terminal: that would nice the terminal.
if [ "$(ps -o sid= -p $$ | tr -d ' ')" = "$$" ] && [ -w /proc/self/autogroup ]; then
  echo "$(nice)" 2>/dev/null >/proc/self/autogroup || true
fi

rc=0
started=$(date +%s)
step() {
  local what=$1; shift
  local t0; t0=$(date +%s)
  if "$@"; then
    echo "prebuild $what: done in $(( $(date +%s) - t0 )) s"
  else
    echo "prebuild $what: FAILED after $(( $(date +%s) - t0 )) s (the suite that needs it builds it again)"
    rc=1
  fi
}

case "${1:-}" in
  wine-root)
    step "Wine root" scripts/wine/root.sh ensure
    ;;
  main)
    # The tool scripts/prereqs.sh leaves to this script under KAGI_PREREQS_DEFER=1.
    . scripts/prereqs.d/extension.sh
    step "wasm-bindgen-cli" prereq_extension_wasm_bindgen
    # 20-wasm: the web-sys tests, then the shipped modules (build-extension.sh keeps stamps of
    # its inputs, so the suites' own calls find them built).
    step "WASM tests" cargo test -q -p kagi-wasm --target wasm32-unknown-unknown --locked --lib --no-run
    step "extension (release)" scripts/build-extension.sh
    # 16-windows-wine, step 1 (scripts/build-msi.sh --no-build packages it).
    step "kagi-host.exe" cargo build -q --release --locked -p kagi-host --target x86_64-pc-windows-gnu
    step "extension (development)" scripts/build-extension.sh --dev
    ;;
  fuzz)
    # As scripts/test.d/60-fuzz.sh runs it (no sanitizer), with the tool scripts/prereqs.sh
    # leaves to this script under KAGI_PREREQS_DEFER=1.
    . scripts/prereqs.d/fuzz.sh
    step "cargo-fuzz" prereq_cargo_fuzz
    step "fuzz targets" env KAGI_FUZZ_SANITIZER=none scripts/fuzz.sh --build
    ;;
  *) die "usage: $0 wine-root | main | fuzz" ;;
esac
echo "prebuild $1 in all: $(( $(date +%s) - started )) s"
exit "$rc"
