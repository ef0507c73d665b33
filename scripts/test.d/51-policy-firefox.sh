#!/usr/bin/env bash
# Firefox ESR enterprise policy suite (tests/browser/policy-firefox.mjs), the Firefox half of
# 50-policy-chromium: /etc/firefox/policies/policies.json force-installs the release build
# (build/extension, as an XPI from a localhost install_url) and sets allowedOrigins through
# 3rdparty managed storage; the native host is found through the system manifest written by
# `kagi-host install --scope system --browser firefox`. Needs root (writes under /etc and
# /usr/lib); the files it writes are removed on any exit. The test holds the browser-configuration
# lock (/tmp/kagi-rig.lock) exclusively for its whole run; PC/SC comes from a rig of its own.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=51-policy-firefox
fail() { echo "$1" >&2; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root: it writes /etc/firefox/policies and /usr/lib/mozilla/native-messaging-hosts"
[ -x "${KAGI_FIREFOX:-/usr/bin/firefox-esr}" ] || fail "firefox-esr is missing (scripts/prereqs.sh installs it)"
command -v zip >/dev/null || fail "zip is missing (the test packs the XPI with it)"

policy=/etc/firefox/policies/policies.json
manifest=/usr/lib/mozilla/native-messaging-hosts/jp.kagi.host.json
[ -e "$policy" ] && fail "$policy exists already: remove it first"
[ -e "$manifest" ] && fail "$manifest exists already (kagi-host package installed?): this suite will not overwrite it"

# Rebuilt only when its sources changed (build-extension.sh keeps a stamp).
scripts/build-extension.sh >"$KAGI_BUILD/build-extension.log" 2>&1 || fail "scripts/build-extension.sh failed (see $KAGI_BUILD/build-extension.log)"
build_debug kagi-host kagi-vtoken kagi-rig || fail "building kagi-host / kagi-vtoken / kagi-rig failed"
host="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}/debug/kagi-host"

declare -A existed
for d in /etc/firefox/policies /etc/firefox /usr/lib/mozilla/native-messaging-hosts /usr/lib/mozilla; do [ -d "$d" ] && existed[$d]=1; done
# The test removes what it wrote; this is the safety net if node dies first. Both paths were
# checked absent above, so anything there now is this run's.
cleanup() {
  rm -f "$policy"
  if [ -e "$manifest" ]; then "$host" uninstall --scope system --browser firefox >/dev/null || rm -f "$manifest"; fi
  for d in /etc/firefox/policies /etc/firefox /usr/lib/mozilla/native-messaging-hosts /usr/lib/mozilla; do
    [ -n "${existed[$d]:-}" ] || rmdir "$d" 2>/dev/null || true
  done
}
trap cleanup EXIT

out="$KAGI_BUILD/test-logs/$name.tap"
mkdir -p "$(dirname "$out")"
node --test --test-concurrency=1 --test-reporter=tap tests/browser/policy-firefox.mjs >"$out" 2>&1
rc=$?
cat "$out"
pass=$(awk '/^# pass /{print $3}' "$out" | tail -1)
failed=$(awk '/^# fail /{print $3}' "$out" | tail -1)
pass=${pass:-0}; failed=${failed:-0}
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "kagi-suite $name: $pass passed, $failed failed"
[ "$rc" = 0 ]
