#!/usr/bin/env bash
# The Windows host, for real, under Wine 10 (a Debian trixie root in build/wine/root, made by
# scripts/wine/root.sh): the cross-built kagi-host.exe, both MSI packages, and the installed exe
# as a native messaging host against pcscd + vpcd + the virtual token.
#
#  1. build: kagi-host.exe (MinGW) and the two MSIs (scripts/build-msi.sh);
#  2. per-machine MSI: silent install; files in C:\Program Files\Kagi; HKLM keys of Chrome,
#     Chromium, Edge and Firefox point at the manifests beside the exe; `doctor` finds all four
#     (HOST_MANIFEST_OK, the manifests' relative path resolved) and names SCardSvr, not pcscd;
#  3. the installed exe driven by the host's own integration tests through the rig's launcher
#     variable (KAGI_HOST_LAUNCHER=wine, KAGI_HOST_BIN=<installed exe>): token_flows (status,
#     P-256 and RSA-2048 acquisition, log-on verified by the test CA and OpenSC, wrong PIN,
#     insert/remove events), service_faults (pcscd crash and restart, readers unplugged, port
#     closed mid-request) and cli's --parent-window launch. The tests run inside the root (the
#     cargo runner is `scripts/wine/root.sh run`), where trixie's pcscd and OpenSC live;
#     `diagnose` answers from the installed exe. Then the host policy as the ADMX policy writes it (`wine reg add HKLM\Software\Policies\Kagi
#     /v allowedOrigins /t REG_MULTI_SZ`): doctor reports it (HOST_POLICY_OK), the installed exe
#     refuses another origin (ORIGIN_NOT_ALLOWED) and passes the named one; a REG_SZ value fails
#     closed (POLICY_INVALID for every request, HOST_POLICY_INVALID); without it HOST_POLICY_NONE;
#     the policy's `log` value (REG_SZ) turns on %LOCALAPPDATA%\Kagi\host.log;
#  4. silent uninstall leaves no file and no key;
#  5. per-user MSI: install runs `kagi-host.exe install --scope user` (HKCU keys, manifests with
#     the absolute path), doctor finds all four, the host logs to %LOCALAPPDATA%\Kagi\host.log
#     as the user's %APPDATA%\Kagi\host.json asks and removes the always-on kagi-host.log of
#     earlier versions, uninstall removes keys, files, the log directory %LOCALAPPDATA%\Kagi and
#     Programs\Kagi.
#
# Everything started here is stopped by PID; mounts exist only inside `root.sh run` (private
# namespaces). Every pcscd in the root is a rig's (kagi-rig for the doctor check, the Rust rig
# for the host tests): private socket, vpcd ports of its own, so the machine's pcscd and the
# other suites are not disturbed. Measured on 2 busy cores: warm ~80 s (the host tests under Wine ~65 s
# of it); cold ~5 min (+ the root, ~140 s, and the release cross build, ~105 s).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=16-windows-wine
passed=0; failed=0; skipped=0
ok() { passed=$((passed + 1)); echo "ok     $*"; }
bad() { failed=$((failed + 1)); echo "FAILED $*"; }
skip() { local n=$1; shift; skipped=$((skipped + n)); echo "skip   $n: $*"; }
finish() {
  echo "kagi-suite $name: $passed passed, $failed failed, $skipped skipped"
  [ "$failed" = 0 ]
  exit
}
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

log="$KAGI_BUILD/test-logs/$name"
mkdir -p "$log"
target_dir="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}"
ROOT="$KAGI_ROOT/scripts/wine/root.sh"
# The number of checks each part would have made, so a part that cannot run is counted as skipped.
N_MSI_MACHINE=8; N_TOKEN_TESTS=22; N_POLICY=6; N_UNINSTALL=3; N_MSI_USER=7

# ---- 1. build
t0=$(date +%s)
if cargo build -q --release --locked -p kagi-host --target x86_64-pc-windows-gnu 2>"$log/cross-build.log"; then
  ok "kagi-host.exe cross-built ($(( $(date +%s) - t0 )) s)"
else
  bad "kagi-host.exe cross build (see $log/cross-build.log)"; tail -20 "$log/cross-build.log"
  skip "$((1 + N_MSI_MACHINE + N_TOKEN_TESTS + N_POLICY + N_UNINSTALL + N_MSI_USER))" "checks that need the exe"; finish
fi
mapfile -t msis < <(scripts/build-msi.sh --no-build 2>"$log/build-msi.log")
if [ ${#msis[@]} = 2 ] && [ -s "${msis[0]}" ] && [ -s "${msis[1]}" ]; then
  ok "MSI packages built: $(basename "${msis[0]}") $(basename "${msis[1]}")"
else
  bad "MSI packages (see $log/build-msi.log)"; cat "$log/build-msi.log"
  skip "$((N_MSI_MACHINE + N_TOKEN_TESTS + N_POLICY + N_UNINSTALL + N_MSI_USER))" "checks that need the packages"; finish
fi
machine_msi=${msis[0]}; user_msi=${msis[1]}

# ---- the Wine root
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  skip "$((N_MSI_MACHINE + N_TOKEN_TESTS + N_POLICY + N_UNINSTALL + N_MSI_USER))" "checks under Wine: they need root (chroot)"
  finish
fi
t0=$(date +%s)
if "$ROOT" ensure >"$log/root.log" 2>&1; then
  echo "       Wine root ready ($(( $(date +%s) - t0 )) s): $("$ROOT" path)"
else
  bad "creating the Wine root (see $log/root.log)"; tail -20 "$log/root.log"
  skip "$((N_MSI_MACHINE + N_TOKEN_TESTS + N_POLICY + N_UNINSTALL + N_MSI_USER))" "checks under Wine: no root"
  finish
fi
w() { "$ROOT" run "$@"; }
# Windows paths of the checkout's files (Wine maps Z: to /).
winpath() { printf 'Z:%s' "${1//\//\\}"; }
prefix_unix="$("$ROOT" path)/root/kagi-prefix"
drive_c="$prefix_unix/drive_c"
local_appdata="$drive_c/users/root/AppData/Local"
roaming_appdata="$drive_c/users/root/AppData/Roaming"
# The customer's own switch for the host's log file (host/src/log/config.rs).
user_log_config() { mkdir -p "$roaming_appdata/Kagi" && printf '{"log": "info"}\n' >"$roaming_appdata/Kagi/host.json"; }

# One Windows suite at a time on this machine: the roots of all checkouts share the vpcd ports.
exec 9>/tmp/kagi-wine-rig.lock
flock 9

# A fresh prefix from the clean one made by wineboot: hard links (Wine replaces files rather
# than writing into them), except the registry files, which are copied.
w sh -c 'rm -rf /root/kagi-prefix && cp -al /root/kagi-prefix.clean /root/kagi-prefix &&
         for f in system.reg user.reg userdef.reg; do cp --remove-destination /root/kagi-prefix.clean/$f /root/kagi-prefix/$f; done' \
  || { bad "fresh Wine prefix"; finish; }

# A persistent wineserver for the whole suite (each host start is then ~0.3 s).
"$ROOT" run wineserver -f -p >"$log/wineserver.log" 2>&1 &
remember_pid $!
trap 'w wineserver -k >/dev/null 2>&1; stop_started' EXIT

reg_default() { # KEY -> the key's default value, or nothing
  w wine reg query "$1" /ve 2>/dev/null | tr -d '\r' | sed -n 's/^ *(Default) *REG_SZ *//p'
}
reg_absent() { ! w wine reg query "$1" >/dev/null 2>&1; }
keys=('Software\Google\Chrome' 'Software\Chromium' 'Software\Microsoft\Edge' 'Software\Mozilla')
# doctor --json of an exe -> "code browser scope" lines
doctor_codes() {
  w wine "$1" doctor --json 2>"$log/doctor.stderr" | tr -d '\r' >"$log/doctor.json"
  python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
for c in r["checks"]: print(c["code"], c.get("browser","-"), c.get("scope","-"))' "$log/doctor.json"
}
all_four_ok() { # SCOPE: every browser's manifest found and right in that scope
  local codes=$1 scope=$2 b
  for b in chrome chromium edge firefox; do grep -qx "HOST_MANIFEST_OK $b $scope" <<<"$codes" || return 1; done
}

# The virtual token and the rig (Linux programs, run inside the root on vpcd ports of their own).
build_debug kagi-vtoken kagi-rig 2>"$log/vtoken-build.log" || { bad "building kagi-vtoken / kagi-rig (see $log/vtoken-build.log)"; }

CHROME_EXTENSION_ID=$(sed -n 's/.*CHROME_EXTENSION_ID: &str = "\([a-p]*\)".*/\1/p' proto/src/ids.rs)
# The installed exe as Chrome starts it, given requests (JSON without id) as arguments: prints
# each reply's error code, or "ok".
nm_codes() {
  python3 - "$ROOT" "$1" "chrome-extension://$CHROME_EXTENSION_ID/" "${@:2}" <<'PY'
import json, struct, subprocess, sys
root, exe, origin, *reqs = sys.argv[1:]
p = subprocess.Popen([root, "run", "wine", exe, origin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def read():
    n = struct.unpack("=I", p.stdout.read(4))[0]
    return json.loads(p.stdout.read(n))
read()  # hello
for i, r in enumerate(reqs, 1):
    body = json.dumps(dict(json.loads(r), id=i)).encode()
    p.stdin.write(struct.pack("=I", len(body)) + body); p.stdin.flush()
    m = read()
    while m["type"] != "reply" or m["id"] != i:
        m = read()
    print(m["error"]["code"] if "error" in m else "ok")
p.stdin.close(); p.wait(timeout=30)
PY
}

# ---- 2. per-machine MSI
machine_exe='C:\Program Files\Kagi\kagi-host.exe'
if w wine msiexec /i "$(winpath "$machine_msi")" /qn >"$log/msiexec-machine.log" 2>&1; then
  ok "per-machine MSI: msiexec /i /qn"
  check "per-machine: kagi-host.exe and both manifests in Program Files\\Kagi" \
    test -f "$drive_c/Program Files/Kagi/kagi-host.exe" -a -f "$drive_c/Program Files/Kagi/jp.kagi.host.json" -a -f "$drive_c/Program Files/Kagi/jp.kagi.host.firefox.json"
  regs_ok=1
  for k in "${keys[@]}"; do
    want='C:\Program Files\Kagi\jp.kagi.host.json'; [[ $k == *Mozilla ]] && want='C:\Program Files\Kagi\jp.kagi.host.firefox.json'
    got=$(reg_default "HKLM\\$k\\NativeMessagingHosts\\jp.kagi.host")
    [ "$got" = "$want" ] || { regs_ok=0; echo "       HKLM\\$k: '$got', wanted '$want'"; }
  done
  check "per-machine: HKLM keys of Chrome, Chromium, Edge, Firefox name the manifests" test "$regs_ok" = 1
  check "per-machine: manifests name kagi-host.exe relative to themselves" \
    grep -q '"path": "kagi-host.exe"' "$drive_c/Program Files/Kagi/jp.kagi.host.json"
  codes=$(doctor_codes "$machine_exe")
  check "per-machine: doctor finds Kagi for all four browsers (HOST_MANIFEST_OK, system)" all_four_ok "$codes" system
  # No smart card service and no reader seen: on Windows that is SCardSvr stopped for want of
  # a reader, which doctor explains naming SCardSvr (never pcscd).
  check "per-machine: doctor without a service: NO_READER, naming Windows' SCardSvr, not pcscd" \
    python3 -c 'import json,sys
checks=json.load(open(sys.argv[1]))["checks"]
c=[c for c in checks if c["code"]=="NO_READER"]
sys.exit(0 if c and "SCardSvr" in c[0]["fixEn"] and "pcscd" not in json.dumps(checks) else 1)' "$log/doctor.json"
  # With the rig inside the root (`kagi-rig up`: the root's pcscd on a private socket with vpcd
  # ports of its own, tests/rig/README.md) and the virtual token plugged in through it: doctor
  # reads the token through winscard. Wine's winscard reaches that pcscd the way every client
  # does, through PCSCLITE_CSOCK_NAME (root.sh passes the environment into the root).
  doctor_rig="$log/doctor-rig"
  codes=
  if rig_json=$(w "$KAGI_RIG_BIN" up --dir "$doctor_rig" --owner-pid $$ 2>"$log/doctor-rig.err") \
     && w "$KAGI_RIG_BIN" token plug --dir "$doctor_rig" --reader 0 >"$log/doctor-vtoken.log" 2>&1; then
    doctor_socket=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["env"]["PCSCLITE_CSOCK_NAME"])' "$rig_json")
    codes=$(PCSCLITE_CSOCK_NAME="$doctor_socket" doctor_codes "$machine_exe")
  else
    cat "$log/doctor-rig.err" "$log/doctor-vtoken.log" "$doctor_rig/rig.log" 2>/dev/null
  fi
  check "per-machine: doctor through winscard and pcscd: PCSC_OK, READERS_OK, TOKEN_OK" \
    sh -c 'for c in PCSC_OK READERS_OK TOKEN_OK; do printf "%s\n" "$1" | grep -q "^$c " || exit 1; done' _ "$codes"
  w "$KAGI_RIG_BIN" down --dir "$doctor_rig" >/dev/null 2>&1 || echo "kagi-rig down --dir $doctor_rig failed"
  check "per-machine: --version of the installed exe" sh -c "$ROOT run wine '$machine_exe' --version | grep -q '^kagi-host '"
  machine_installed=1
else
  bad "per-machine MSI: msiexec /i /qn (see $log/msiexec-machine.log)"
  skip "$((N_MSI_MACHINE - 1 + N_TOKEN_TESTS + N_POLICY + N_UNINSTALL))" "per-machine checks and host tests: not installed"
  machine_installed=0
fi

# ---- 3. the installed exe as the native messaging host: the host's own tests, under Wine
if [ "$machine_installed" = 1 ]; then
  vtoken="$target_dir/debug/kagi-vtoken"
  # The host's test executables as the workspace build made them (`cargo test --workspace
  # --no-run` compiles nothing after scripts/test.sh's build). `cargo test -p kagi-host` would
  # resolve the dependencies' features for kagi-host alone and compile 43 crates again (65 s).
  host_tests=$(cargo test --workspace --locked --no-run --message-format=json 2>"$log/cargo-no-run.log" | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line) if line.startswith("{") else {}
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"] \
       and m["package_id"].split("#")[0].endswith("/host"):
        print(m["target"]["name"], m["executable"])')
  host_test() { awk -v t="$1" '$1 == t {print $2}' <<<"$host_tests"; }
  run_tests() { # NAME TEST-TARGET[,TARGET...] [FILTER]: runs inside the root (the cargo runner's way), counts the results
    local out="$log/cargo-$1.log" t exe rc=0
    : >"$out"
    for t in ${2//,/ }; do
      exe=$(host_test "$t")
      if [ -z "$exe" ]; then echo "no test executable $t (see $log/cargo-no-run.log)" >>"$out"; rc=1; continue; fi
      (cd "$KAGI_ROOT/host" && CARGO_MANIFEST_DIR="$KAGI_ROOT/host" CARGO_PKG_NAME=kagi-host \
        KAGI_HOST_LAUNCHER=wine KAGI_HOST_BIN="/root/kagi-prefix/drive_c/Program Files/Kagi/kagi-host.exe" \
        KAGI_VTOKEN_BIN="$vtoken" \
        "$ROOT" run "$exe" ${3:+"$3"} --test-threads=1 --nocapture) >>"$out" 2>&1 || rc=1
    done
    # Indented, so scripts/test.sh counts this suite's line, not cargo's.
    grep -E '^test |^(failures|---- )|panicked|^test result' "$out" | sed 's/^/       /'
    local p f
    p=$(awk '/^test result: /{for(i=1;i<=NF;i++) if($(i+1)~/^passed/) s+=$i} END{print s+0}' "$out")
    f=$(awk '/^test result: /{for(i=1;i<=NF;i++) if($(i+1)~/^failed/) s+=$i} END{print s+0}' "$out")
    # A fault test that finds a pcscd it did not start reports a skip and returns: not a pass.
    local n
    n=$(grep -c 'kagi-skip ' "$out")
    if [ "$n" -gt 0 ]; then p=$((p - n)); skip "$n" "host tests that did not run (kagi-skip lines in $out)"; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then bad "cargo test $1 (see $out)"; tail -30 "$out"; fi
  }
  # The log file is off by default: the customer's config turns it on, as support would ask.
  user_log_config
  t0=$(date +%s)
  run_tests token-flows token_flows,service_faults
  run_tests cli cli browser_launch_is_native_messaging_even_with_parent_window
  echo "       host tests under Wine: $(( $(date +%s) - t0 )) s"
  # Proof that the tests drove the installed Windows exe, not a Linux build: its log.
  check "the tests drove the installed kagi-host.exe (its %LOCALAPPDATA%\Kagi\host.log, as %APPDATA%\Kagi\host.json asks)" \
    grep -q 'started by Chromium' "$local_appdata/Kagi/host.log"
  check "diagnose over native messaging from the installed exe" test "$(nm_codes "$machine_exe" '{"cmd":"diagnose"}' | tr -d '\r')" = ok
fi

# ---- 3b. the host policy in the registry, read by the installed exe
if [ "$machine_installed" = 1 ]; then
  pkey='HKLM\Software\Policies\Kagi'
  nonce=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
  auth() { printf '{"cmd":"authenticate","origin":"%s","nonce":"%s","pin":"482915","issuers":["MAA="]}' "$1" "$nonce"; }
  w wine reg add "$pkey" /v allowedOrigins /t REG_MULTI_SZ /d 'https://bank.example\0https://www2.bank.example' /f >"$log/policy.log" 2>&1
  codes=$(doctor_codes "$machine_exe")
  check "host policy (REG_MULTI_SZ): doctor reports HOST_POLICY_OK with both origins" \
    sh -c 'printf "%s\n" "$1" | grep -q "^HOST_POLICY_OK " && grep -q "https://www2.bank.example" "$2"' _ "$codes" "$log/doctor.json"
  replies=$(nm_codes "$machine_exe" "$(auth https://evil.example)" "$(auth https://bank.example)" '{"cmd":"status"}' | tr -d '\r' | tr '\n' ' ')
  echo "       replies under the policy: $replies"
  # The named origin passes the policy (and then fails on the stand-in CA certificate).
  check "host policy: the installed exe refuses another origin itself (ORIGIN_NOT_ALLOWED), not the named one" \
    sh -c 'set -- $1; [ "$1" = ORIGIN_NOT_ALLOWED ] && [ "$2" != ORIGIN_NOT_ALLOWED ] && [ "$2" != POLICY_INVALID ] && [ "$3" != POLICY_INVALID ]' _ "$replies"
  w wine reg add "$pkey" /v allowedOrigins /t REG_SZ /d 'https://bank.example' /f >>"$log/policy.log" 2>&1
  replies=$(nm_codes "$machine_exe" '{"cmd":"status"}' "$(auth https://bank.example)" | tr -d '\r' | tr '\n' ' ')
  echo "       replies under a REG_SZ policy: $replies"
  check "host policy of another type (REG_SZ): every request refused (POLICY_INVALID)" test "$replies" = "POLICY_INVALID POLICY_INVALID "
  check "host policy of another type: doctor says HOST_POLICY_INVALID" sh -c 'printf "%s\n" "$1" | grep -q "^HOST_POLICY_INVALID "' _ "$(doctor_codes "$machine_exe")"
  w wine reg delete "$pkey" /f >>"$log/policy.log" 2>&1
  check "no host policy: doctor says HOST_POLICY_NONE" sh -c 'printf "%s\n" "$1" | grep -q "^HOST_POLICY_NONE "' _ "$(doctor_codes "$machine_exe")"
  # The administrator's switch for the log (ADMX "Host log file"), without the user's config.
  rm -f "$roaming_appdata/Kagi/host.json" "$local_appdata/Kagi/host.log"
  w wine reg add "$pkey" /v log /t REG_SZ /d info /f >>"$log/policy.log" 2>&1
  w sh -c "wine '$machine_exe' chrome-extension://$CHROME_EXTENSION_ID/ </dev/null >/dev/null 2>&1"
  check "host policy log=info (REG_SZ): the host writes %LOCALAPPDATA%\\Kagi\\host.log" \
    grep -q 'logging at info (machine policy HKLM' "$local_appdata/Kagi/host.log"
  w wine reg delete "$pkey" /f >>"$log/policy.log" 2>&1
fi

# ---- 4. per-machine uninstall
if [ "$machine_installed" = 1 ]; then
  if w wine msiexec /x "$(winpath "$machine_msi")" /qn >>"$log/msiexec-machine.log" 2>&1; then
    ok "per-machine MSI: msiexec /x /qn"
    check "per-machine uninstall: Program Files\\Kagi is gone" test ! -e "$drive_c/Program Files/Kagi"
    gone=1
    for k in "${keys[@]}"; do reg_absent "HKLM\\$k\\NativeMessagingHosts" || { gone=0; echo "       HKLM\\$k\\NativeMessagingHosts is still there"; }; done
    check "per-machine uninstall: no NativeMessagingHosts key left in HKLM" test "$gone" = 1
  else
    bad "per-machine MSI: msiexec /x /qn (see $log/msiexec-machine.log)"; skip "$((N_UNINSTALL - 1))" "uninstall checks"
  fi
fi

# ---- 5. per-user MSI
user_dir="$local_appdata/Programs/Kagi"
user_exe_win='C:\users\root\AppData\Local\Programs\Kagi\kagi-host.exe'
if w wine msiexec /i "$(winpath "$user_msi")" /qn >"$log/msiexec-user.log" 2>&1; then
  ok "per-user MSI: msiexec /i /qn"
  check "per-user: kagi-host.exe in %LOCALAPPDATA%\\Programs\\Kagi, manifests written by install --scope user" \
    test -f "$user_dir/kagi-host.exe" -a -f "$user_dir/jp.kagi.host.json" -a -f "$user_dir/jp.kagi.host.firefox.json"
  regs_ok=1
  for k in "${keys[@]}"; do
    got=$(reg_default "HKCU\\$k\\NativeMessagingHosts\\jp.kagi.host")
    [[ "$got" == *'\AppData\Local\Programs\Kagi\jp.kagi.host'*.json ]] || { regs_ok=0; echo "       HKCU\\$k: '$got'"; }
  done
  check "per-user: HKCU keys of Chrome, Chromium, Edge, Firefox name the manifests" test "$regs_ok" = 1
  codes=$(doctor_codes "$user_exe_win")
  check "per-user: doctor finds Kagi for all four browsers (HOST_MANIFEST_OK, user)" all_four_ok "$codes" user
  # A browser's launch (stdin closed at once) leaves its lines where support will look for them,
  # when the customer's config asks; the always-on log of earlier versions goes.
  user_log_config
  mkdir -p "$local_appdata/Kagi" && echo "old" >"$local_appdata/Kagi/kagi-host.log"
  w sh -c "wine '$user_exe_win' chrome-extension://$CHROME_EXTENSION_ID/ </dev/null >/dev/null 2>&1"
  check "per-user: the host logs to %LOCALAPPDATA%\\Kagi\\host.log and removed the old kagi-host.log" \
    sh -c 'grep -q "started by Chromium" "$1/host.log" && test ! -e "$1/kagi-host.log"' _ "$local_appdata/Kagi"
  if w wine msiexec /x "$(winpath "$user_msi")" /qn >>"$log/msiexec-user.log" 2>&1; then
    ok "per-user MSI: msiexec /x /qn"
    gone=1
    for k in "${keys[@]}"; do reg_absent "HKCU\\$k\\NativeMessagingHosts" || { gone=0; echo "       HKCU\\$k\\NativeMessagingHosts is still there"; }; done
    reg_absent 'HKCU\Software\Kagi' || { gone=0; echo "       HKCU\\Software\\Kagi is still there"; }
    for d in "$user_dir" "$local_appdata/Programs" "$local_appdata/Kagi"; do
      [ ! -e "$d" ] || { gone=0; echo "       ${d#"$drive_c"/} is still there: $(ls -A "$d" | tr '\n' ' ')"; }
    done
    check "per-user uninstall: no key, no file, no log left" test "$gone" = 1
  else
    bad "per-user MSI: msiexec /x /qn (see $log/msiexec-user.log)"; skip 1 "uninstall check"
  fi
else
  bad "per-user MSI: msiexec /i /qn (see $log/msiexec-user.log)"
  skip "$((N_MSI_USER - 1))" "per-user checks: not installed"
fi

finish
