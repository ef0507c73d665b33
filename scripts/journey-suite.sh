#!/usr/bin/env bash
# Runs the customer journey (tests/browser/journey.mjs) in one browser as a scripts/test.d suite:
#   scripts/journey-suite.sh chromium|firefox <suite name>
# Builds what the journey needs and runs it; the journey starts a rig of its own (kagi-rig: a
# private pcscd and vpcd ports) and holds the browser-configuration lock shared. Prints the
# suite's summary line and exits non-zero on any failure. Everything started is stopped by PID.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

browser=${1:?browser}
name=${2:-journey-$browser}
fail() { echo "$1" >&2; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

case "$browser" in
  chromium) [ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (scripts/prereqs.sh installs it)" ;;
  firefox) [ -x "${KAGI_FIREFOX:-/usr/bin/firefox-esr}" ] || fail "firefox-esr is missing (scripts/prereqs.sh installs it)" ;;
  *) fail "unknown browser $browser" ;;
esac
[ -d tests/browser/node_modules/puppeteer-core ] || fail "tests/browser/node_modules is missing puppeteer-core (scripts/prereqs.sh runs npm ci)"

# The development build (the demo bank is on loopback), rebuilt only when its sources changed
# (build-extension.sh keeps a stamp).
scripts/build-extension.sh --dev >"$KAGI_BUILD/build-extension-dev.log" 2>&1 || fail "scripts/build-extension.sh --dev failed (see $KAGI_BUILD/build-extension-dev.log)"
build_debug kagi-host kagi-vtoken kagi-bank kagi-rig || fail "building kagi-host / kagi-vtoken / kagi-bank / kagi-rig failed"

out="$KAGI_BUILD/test-logs/$name.tap"
mkdir -p "$(dirname "$out")"
start=$(date +%s)
# The journey starts its own rig (tests/browser/rig.mjs, startRig) and stops what it started.
KAGI_JOURNEY_BROWSER="$browser" \
  node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
       --test-reporter=tap --test-reporter-destination="$out" tests/browser/journey.mjs
rc=$?
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
failed=$(awk '/^# fail /{print $3}' "$out" | tail -1)
skipped=$(awk '/^# skipped /{print $3}' "$out" | tail -1)
pass=${pass:-0}; failed=${failed:-0}; skipped=${skipped:-0}
# A step that reported part of itself skipped (`kagi-skip` line, TAP comment) passed only in part:
# it counts as skipped, not passed.
partial=$(grep -c '^# kagi-skip ' "$out")
pass=$((pass - partial)); skipped=$((skipped + partial))
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "$browser journey: $(( $(date +%s) - start ))s; screenshots in build/screenshots/$browser/"
echo "kagi-suite $name: $pass passed, $failed failed, $skipped skipped"
[ "$rc" = 0 ]
