#!/usr/bin/env bash
# Browser suite: headless Chromium with the unpacked extension, the real native host and the
# virtual token (tests/browser/*.test.mjs: extension.test.mjs on the development build,
# release.test.mjs on the release build). Builds both first; each test file starts a rig of its
# own (kagi-rig: a private pcscd with its own vpcd ports) and takes the browser-configuration
# lock shared.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=40-extension-chromium
fail() { echo "$1" >&2; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }

# Both builds; each is rebuilt only when its sources changed (build-extension.sh keeps a stamp).
scripts/build-extension.sh --dev >"$KAGI_BUILD/build-extension-dev.log" 2>&1 || fail "scripts/build-extension.sh --dev failed (see $KAGI_BUILD/build-extension-dev.log)"
scripts/build-extension.sh >"$KAGI_BUILD/build-extension.log" 2>&1 || fail "scripts/build-extension.sh failed (see $KAGI_BUILD/build-extension.log)"
build_debug kagi-host kagi-vtoken kagi-rig || fail "building kagi-host / kagi-vtoken / kagi-rig failed"

out="$KAGI_BUILD/test-logs/$name.tap"
mkdir -p "$(dirname "$out")"
node --test --test-concurrency=1 --test-reporter=tap tests/browser/ >"$out" 2>&1
rc=$?
cat "$out"
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
failed=$(awk '/^# fail /{print $3}' "$out" | tail -1)
pass=${pass:-0}; failed=${failed:-0}
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "kagi-suite $name: $pass passed, $failed failed"
[ "$rc" = 0 ]
