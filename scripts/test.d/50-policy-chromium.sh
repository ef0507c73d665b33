#!/usr/bin/env bash
# Real-browser enterprise policy suite (tests/browser/policy-chromium.mjs): a policy file in
# /etc/chromium/policies/managed/ force-installs the release build (build/extension, packed by
# the test with the test signing key) from a localhost update URL, sets allowedOrigins by
# managed storage; the native host is found through the system
# manifest written by `kagi-host install --scope system`. Needs root (writes under /etc); the
# files it writes are removed on any exit. The test holds the browser-configuration lock
# (/tmp/kagi-rig.lock) exclusively for its whole run; PC/SC comes from a rig of its own.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=50-policy-chromium
fail() { echo "$1" >&2; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root: it writes /etc/chromium/policies/managed and /etc/chromium/native-messaging-hosts"

policy=/etc/chromium/policies/managed/kagi-test.json
manifest=/etc/chromium/native-messaging-hosts/jp.kagi.host.json
[ -e "$policy" ] && fail "$policy exists already: remove it first"
[ -e "$manifest" ] && fail "$manifest exists already (kagi-host package installed?): this suite will not overwrite it"

# Rebuilt only when its sources changed (build-extension.sh keeps a stamp).
scripts/build-extension.sh >"$KAGI_BUILD/build-extension.log" 2>&1 || fail "scripts/build-extension.sh failed (see $KAGI_BUILD/build-extension.log)"
build_debug kagi-host kagi-rig || fail "building kagi-host / kagi-rig failed"
host="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}/debug/kagi-host"

declare -A existed
for d in /etc/chromium/policies/managed /etc/chromium/policies; do [ -d "$d" ] && existed[$d]=1; done
# The test removes what it wrote; this is the safety net if node dies first. Both paths were
# checked absent above, so anything there now is this run's.
cleanup() {
  rm -f "$policy"
  for d in /etc/chromium/policies/managed /etc/chromium/policies; do
    [ -n "${existed[$d]:-}" ] || rmdir "$d" 2>/dev/null || true
  done
  if [ -e "$manifest" ]; then "$host" uninstall --scope system --browser chromium >/dev/null || rm -f "$manifest"; fi
}
trap cleanup EXIT

out="$KAGI_BUILD/test-logs/$name.tap"
mkdir -p "$(dirname "$out")"
node --test --test-concurrency=1 --test-reporter=tap tests/browser/policy-chromium.mjs >"$out" 2>&1
rc=$?
cat "$out"
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
failed=$(awk '/^# fail /{print $3}' "$out" | tail -1)
pass=${pass:-0}; failed=${failed:-0}
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "kagi-suite $name: $pass passed, $failed failed"
[ "$rc" = 0 ]
