#!/usr/bin/env bash
# Kagi's main command: builds everything, starts the test rig's pcscd and virtual token (or uses
# a real token on the machine's pcscd), and shows a bank customer's journey with the USB token.
#
#   scripts/demo.sh              with a display: the demo bank on http://127.0.0.1:8480/ and
#                                Chromium with the extension and the host in a private profile;
#                                click through acquisition (choosing your own PIN) and log-on
#   scripts/demo.sh --headless   (also without DISPLAY) the scripted journey, step by step, with
#                                screenshots in build/screenshots/chromium/
#   --no-install                 skip the prerequisite check
#   --reset                      forget the demo bank's data and the virtual token's state
#                                (the token is new again: PIN 123456, PUK 12345678)
#
# Ctrl-C (or the end of the headless run) stops everything the demo started, by PID.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

install=1
headless=0
reset=0
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --headless) headless=1 ;;
    --reset) reset=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $a (see --help)" ;;
  esac
done
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then headless=1; fi

trap 'stop_started' EXIT
trap 'exit 130' INT TERM

if [ "$install" = 1 ]; then "$KAGI_ROOT/scripts/prereqs.sh" || die "installing prerequisites failed"; fi
say "building the workspace and the extension"
cargo build --workspace --bins --locked -q || die "build failed"
# The development build: the demo bank is on http://127.0.0.1 (a release build serves only
# configured origins).
scripts/build-extension.sh --dev >"$KAGI_BUILD/build-extension-dev.log" 2>&1 || die "building the extension failed (see $KAGI_BUILD/build-extension-dev.log)"
# A real token is any reader with a card that is not one of vpcd's virtual readers, on the
# machine's pcscd if one runs (it owns the USB readers then).
real_token() { opensc-tool -l 2>/dev/null | awk '$2=="Yes" && $0 !~ /Virtual PCD/' | head -1; }
real=
if [ -S /run/pcscd/pcscd.comm ]; then real=$(PCSCLITE_CSOCK_NAME=/run/pcscd/pcscd.comm real_token); fi

if [ "$headless" = 1 ]; then
  # The scripted journey owns its bank (on a loopback port of its own) and the virtual token: it
  # pulls and plugs the token, so a real one must not be in the way.
  [ -z "$real" ] || die "a real token is inserted ($real): the scripted journey pulls and plugs the virtual token; remove it, or run the demo with a display"
  say "the customer's journey in headless Chromium (tests/browser/journey.mjs)"
  KAGI_JOURNEY_BROWSER=chromium KAGI_JOURNEY_DIR="$KAGI_BUILD/demo-journey" \
    node --test-reporter=spec tests/browser/journey.mjs &
  pid=$!
  remember_pid "$pid"
  # Let the journey stop its browser, bank and token itself (it may take a few seconds).
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 130' INT TERM
  wait "$pid"
  rc=$?
  trap 'exit 130' INT TERM
  echo
  echo "Screenshots: $KAGI_BUILD/screenshots/chromium/"
  ls "$KAGI_BUILD/screenshots/chromium/" 2>/dev/null | sed 's/^/  /'
  echo "Bank data, token state and host log of this run: $KAGI_BUILD/demo-journey/"
  [ "$rc" = 0 ] || die "the journey failed"
  exit 0
fi

# --- With a display: the bank and a browser for the customer -------------------------------
bank_dir="$KAGI_BUILD/demo-bank"
state="$KAGI_BUILD/demo-token.json"
profile="$KAGI_BUILD/demo-home/.config/chromium"
if [ "$reset" = 1 ]; then rm -rf "$bank_dir" "$state" "$KAGI_BUILD/demo-home"; fi

# The virtual token through the rig (tests/rig: `kagi-rig`), on a pcscd of the demo's own with
# its own vpcd ports; the browser hands PCSCLITE_CSOCK_NAME on to the host it starts.
plugged=0
plug() { "$KAGI_RIG_BIN" token plug --dir "$KAGI_RIG_DIR" --reader 0 --state "$state" >/dev/null && plugged=1; }
pull() { "$KAGI_RIG_BIN" token pull --dir "$KAGI_RIG_DIR" --reader 0 >/dev/null && plugged=0; }
if [ -z "$real" ]; then
  rig_up "$KAGI_BUILD/demo-rig"
  # Without a pcscd of the machine, the rig's own pcscd is the one that sees USB readers.
  real=$(real_token)
fi
if [ -n "$real" ]; then
  say "using the token already inserted: $real"
else
  if [ -f "$state" ]; then
    say "starting the virtual token (state in $state: the PIN you chose; --reset for a new token)"
  else
    say "starting a new virtual token (state in $state; PIN 123456, PUK 12345678)"
  fi
  plug
fi

if (exec 3<>/dev/tcp/127.0.0.1/8480) 2>/dev/null; then die "port 8480 is in use: stop what runs there first"; fi
say "starting the demo bank on http://127.0.0.1:8480/ (data in $bank_dir)"
"$KAGI_ROOT/target/debug/kagi-bank" serve --demo --port 8480 --data-dir "$bank_dir" >"$KAGI_BUILD/demo-bank.log" 2>&1 &
remember_pid $!
for _ in $(seq 1 100); do grep -q "Kagi demo bank on" "$KAGI_BUILD/demo-bank.log" 2>/dev/null && break; sleep 0.1; done
grep -q "Kagi demo bank on" "$KAGI_BUILD/demo-bank.log" || die "the bank did not start (see $KAGI_BUILD/demo-bank.log)"

browser=
for b in /usr/bin/chromium /usr/bin/google-chrome /usr/bin/google-chrome-stable; do [ -x "$b" ] && { browser=$b; break; }; done
[ -n "$browser" ] || die "no Chromium or Google Chrome found"
# The host registered for the demo's profile by `kagi-host install` (through `kagi-rig
# register`): Chromium reads a user's manifests from <user-data-dir>/NativeMessagingHosts, and
# `install --scope user` writes $HOME/.config/chromium/NativeMessagingHosts.
"$KAGI_RIG_BIN" register --browser chromium --profile "$profile" --host "$KAGI_ROOT/target/debug/kagi-host" >/dev/null \
  || die "registering the host for $profile failed"
args=(--user-data-dir="$profile" --load-extension="$KAGI_BUILD/extension-dev" --disable-extensions-except="$KAGI_BUILD/extension-dev"
      --no-first-run --no-default-browser-check --lang=ja)
# Branded Chrome ignores --load-extension unless this feature is off.
case "$browser" in *google-chrome*) args+=(--disable-features=DisableLoadExtensionCommandLineSwitch) ;; esac
[ "$(id -u)" = 0 ] && args+=(--no-sandbox)
say "starting $(basename "$browser") with the Kagi extension (profile $profile)"
KAGI_LOG_FILE="$KAGI_BUILD/demo-host.log" "$browser" "${args[@]}" "http://127.0.0.1:8480/" >"$KAGI_BUILD/demo-browser.log" 2>&1 &
browser_pid=$!
remember_pid "$browser_pid"

cat <<EOF

  Demo bank: http://127.0.0.1:8480/   (logs: build/demo-bank.log, build/demo-host.log)
  契約者番号 SH001001   電子証明書取得パスワード kagi-demo-1234
  A new virtual token: 暗証番号 (PIN) 123456, ロック解除番号 (PUK) 12345678

  1. 「電子証明書取得」 → enter the contract number and password → 【取得】 → 【専用USBに保存する】
     → confirm in the Kagi window; the first time, type 123456 and then a new PIN of your own
     (6-8 digits, twice; not 123456, not one digit repeated) → the certificate information.
  2. Back to ログオン → 「ログオン」 → your PIN → logged on.
     The Kagi toolbar button: 暗証番号の変更 (change PIN) and ロック解除 (unblock with the PUK).
EOF
if [ -z "$real" ]; then
  echo "  3. Press Enter here to pull the virtual token (the bank logs you off), Enter again to plug it in."
fi
echo "  Ctrl-C here or closing the browser stops everything."
echo

while kill -0 "$browser_pid" 2>/dev/null; do
  if [ -z "$real" ] && [ -t 0 ] && read -r -t 1 _; then
    if [ "$plugged" = 1 ]; then pull; say "virtual token pulled (Enter plugs it in)"; else plug; say "virtual token plugged in"; fi
  else
    sleep 1
  fi
done
say "the browser closed; stopping"
