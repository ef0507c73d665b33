#!/usr/bin/env bash
# Browser suite, Firefox half of 40-extension-chromium: headless Firefox ESR (puppeteer-core over
# WebDriver BiDi) with the development build as a temporary add-on, the real native host and the
# virtual token (tests/browser/extension-firefox.mjs): PIN isolation from the page, cancel by
# 取消 and by Escape, the popup and the options page. The test starts a rig of its own (kagi-rig)
# and takes the browser-configuration lock shared.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=41-extension-firefox
fail() { echo "$1" >&2; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
[ -x "${KAGI_FIREFOX:-/usr/bin/firefox-esr}" ] || fail "firefox-esr is missing (scripts/prereqs.sh installs it)"
[ -d tests/browser/node_modules/puppeteer-core ] || fail "tests/browser/node_modules is missing puppeteer-core (scripts/prereqs.sh runs npm ci)"

# The development build, rebuilt only when its sources changed (build-extension.sh keeps a stamp).
scripts/build-extension.sh --dev >"$KAGI_BUILD/build-extension-dev.log" 2>&1 || fail "scripts/build-extension.sh --dev failed (see $KAGI_BUILD/build-extension-dev.log)"
build_debug kagi-host kagi-vtoken kagi-rig || fail "building kagi-host / kagi-vtoken / kagi-rig failed"

out="$KAGI_BUILD/test-logs/$name.tap"
mkdir -p "$(dirname "$out")"
node --test --test-concurrency=1 --test-reporter=tap tests/browser/extension-firefox.mjs >"$out" 2>&1
rc=$?
cat "$out"
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
failed=$(awk '/^# fail /{print $3}' "$out" | tail -1)
pass=${pass:-0}; failed=${failed:-0}
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "kagi-suite $name: $pass passed, $failed failed"
[ "$rc" = 0 ]
