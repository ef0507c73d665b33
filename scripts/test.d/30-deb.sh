#!/usr/bin/env bash
# Debian package suite: package the host built earlier in the run as build/kagi-host_*.deb, install it with dpkg, check its files and
# that `kagi-host doctor` finds the system-wide manifests for all four browsers, purge it, and
# check nothing is left. Needs root (dpkg). The package is purged on any exit, also when a step
# fails; an installation of kagi-host that predates this run is never touched (the suite fails
# instead). Doctor reaches PC/SC through a rig of the suite's own (`kagi-rig up`). Holds the
# machine's browser-configuration lock exclusively: it writes the system manifest directories
# that every browser test reads (they hold it shared).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=30-deb
passed=0; failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
finish() { echo "kagi-suite $name: $passed passed, $failed failed"; [ "$failed" = 0 ]; exit $?; }

if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  not_ok "root or sudo is needed to install a package"; finish
fi

exec 9>"${KAGI_RIG_LOCK:-/tmp/kagi-rig.lock}"
flock 9

installed() { dpkg-query -W -f='${Status}' kagi-host 2>/dev/null | grep -q "ok installed\|config-files"; }
if installed; then
  not_ok "kagi-host is already installed on this machine: not touching it (dpkg -P kagi-host to run this suite)"; finish
fi

tmp=$(mktemp -d)
we_installed=0
cleanup() {
  if [ "$we_installed" = 1 ] && installed; then as_root dpkg -P kagi-host >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
  stop_started
}
trap cleanup EXIT
rig_up "$tmp/rig"

start=$(date +%s.%N)
# The package of the host the run built already (scripts/test.sh builds the workspace first):
# this suite checks the packaging, so it does not compile the host again (release builds of the
# package: scripts/build-deb.sh without --bin).
build_debug kagi-host || { not_ok "building kagi-host"; finish; }
if scripts/build-deb.sh --bin "${CARGO_TARGET_DIR:-$KAGI_ROOT/target}/debug/kagi-host" >"$tmp/build.log" 2>&1; then
  ok "build the package ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s)"
else
  cat "$tmp/build.log"; not_ok "build the package"; finish
fi
deb=$(sed -n 's/^deb: \([^ ]*\) .*/\1/p' "$tmp/build.log")
check "package file exists" test -s "$deb"

# Every path the package holds, and which of them exist before it is installed.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' | grep -v '^/$' | sort >"$tmp/paths"
while read -r p; do [ -e "$p" ] && echo "$p"; done <"$tmp/paths" >"$tmp/before"

we_installed=1
if as_root dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1; then ok "dpkg -i"; else cat "$tmp/dpkg.log"; not_ok "dpkg -i"; finish; fi

check "/usr/bin/kagi-host runs" sh -c '/usr/bin/kagi-host --version | grep -q "^kagi-host "'
manifests="/etc/opt/chrome/native-messaging-hosts /etc/chromium/native-messaging-hosts /etc/opt/edge/native-messaging-hosts /usr/lib/mozilla/native-messaging-hosts"
for d in $manifests; do
  check "$d/jp.kagi.host.json names /usr/bin/kagi-host" \
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m["path"]=="/usr/bin/kagi-host" and m["name"]=="jp.kagi.host" else 1)' "$d/jp.kagi.host.json"
done

# Doctor from the installed program, with an empty home so only system manifests count.
mkdir -p "$tmp/home"
HOME="$tmp/home" /usr/bin/kagi-host doctor --json >"$tmp/doctor.json" 2>"$tmp/doctor.err"
echo "doctor exit status: $? (1 is expected when no token holds a certificate)"
check "doctor finds the system manifests of all four browsers" python3 - "$tmp/doctor.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
found = {c["browser"]: c for c in r["checks"] if c["code"] == "HOST_MANIFEST_OK"}
want = {"chrome": "/etc/opt/chrome/", "chromium": "/etc/chromium/", "edge": "/etc/opt/edge/", "firefox": "/usr/lib/mozilla/"}
bad = [b for b, prefix in want.items() if b not in found or found[b]["scope"] != "system" or not found[b]["subject"].startswith(prefix)]
for c in r["checks"]:
    print(f'  {c["status"]:8} {c["code"]} {c.get("browser", "")}')
sys.exit(1 if bad or r["hostPath"] != "/usr/bin/kagi-host" else 0)
PY
check "doctor reaches the PC/SC service" python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if any(c["code"]=="PCSC_OK" for c in r["checks"]) else 1)' "$tmp/doctor.json"

if as_root dpkg -P kagi-host >"$tmp/purge.log" 2>&1; then ok "dpkg -P"; else cat "$tmp/purge.log"; not_ok "dpkg -P"; fi
check "package gone from dpkg's database" sh -c '! dpkg-query -W kagi-host >/dev/null 2>&1'
while read -r p; do [ -e "$p" ] && echo "$p"; done <"$tmp/paths" >"$tmp/after"
left=$(comm -13 "$tmp/before" "$tmp/after")
if [ -z "$left" ]; then ok "nothing the package installed is left"; else echo "$left"; not_ok "files left after purge (above)"; fi
# dpkg also removes an empty directory the package shared with nobody (e.g. an empty /etc/opt
# that existed before): put such directories back so the machine is as it was.
for d in $(comm -23 "$tmp/before" "$tmp/after"); do echo "restoring empty directory $d (dpkg removed it)"; as_root mkdir -p "$d"; done
finish
