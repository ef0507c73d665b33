#!/usr/bin/env bash
# Kagi's main command: builds everything, starts pcscd if none runs and the virtual token unless
# a real token is present, then walks through what the browser extension does with the token.
#
#   scripts/demo.sh [--no-install]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

install=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --headless) ;;  # the walk-through has no window yet
    *) die "unknown option $a" ;;
  esac
done
trap 'stop_started' EXIT
trap 'exit 130' INT TERM

if [ "$install" = 1 ]; then "$KAGI_ROOT/scripts/prereqs.sh" || die "installing prerequisites failed"; fi
say "building"
cargo build --workspace --bins --examples --locked -q || die "build failed"
ensure_pcscd
sleep 0.5   # let pcscd poll its readers once

# A real token is any reader with a card that is not one of vpcd's virtual readers.
real=$(opensc-tool -l 2>/dev/null | awk '$2=="Yes" && $0 !~ /Virtual PCD/' | head -1)
if [ -n "$real" ]; then
  say "using the token already inserted: $real"
else
  exec 9>/tmp/kagi-rig.lock
  flock 9   # the virtual readers are shared with test runs
  state="$KAGI_BUILD/demo-token.json"
  say "starting the virtual token (state in $state; PIN 123456)"
  "$KAGI_ROOT/target/debug/kagi-vtoken" --reader 0 --state "$state" 2>"$KAGI_BUILD/vtoken.log" &
  remember_pid $!
  for _ in $(seq 1 50); do opensc-tool -l 2>/dev/null | grep -q "Yes.*Virtual PCD 00 00" && break; sleep 0.1; done
fi

say "walk-through"
"$KAGI_ROOT/target/debug/examples/walkthrough"
