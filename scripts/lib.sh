# Shared shell helpers for scripts/*.sh. Source it; do not run it.
# Everything started here is stopped by PID (never by name: other runs may share the machine).

KAGI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KAGI_ROOT
KAGI_BUILD="${KAGI_BUILD:-$KAGI_ROOT/build}"
export KAGI_BUILD
mkdir -p "$KAGI_BUILD"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi
}

# PIDs this script started; stopped in reverse order by stop_started.
KAGI_STARTED_PIDS=()
remember_pid() { KAGI_STARTED_PIDS+=("$1"); }
stop_started() {
  local i pid
  for ((i=${#KAGI_STARTED_PIDS[@]}-1; i>=0; i--)); do
    pid="${KAGI_STARTED_PIDS[$i]}"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  KAGI_STARTED_PIDS=()
  rig_down
}

# Builds the debug binaries of these packages (`build_debug kagi-host kagi-vtoken`), unless the
# test command built every target of the workspace earlier in this run (it exports
# KAGI_WORKSPACE_BUILT=1). Not only a no-op saved: `cargo build -p <a few>` resolves the
# dependencies' features for those packages alone, which differ from `--workspace
# --all-targets`, so cargo would compile several dependencies a second time and overwrite
# target/debug/<bin> with another build of the same sources.
build_debug() {
  [ "${KAGI_WORKSPACE_BUILT:-}" = 1 ] && return 0
  local args=() p
  for p in "$@"; do args+=(-p "$p"); done
  cargo build -q --locked "${args[@]}"
}

# The test rig's command (tests/rig/src/bin/kagi-rig.rs), the one implementation of pcscd, vpcd
# ports, virtual tokens and host registration that the Rust tests, the browser tests and these
# scripts share.
KAGI_RIG_BIN="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}/debug/kagi-rig"

# Starts a rig in directory $1 (`kagi-rig up`: a pcscd of its own on a private socket, with its
# own vpcd ports) and points this script and what it starts at it (PCSCLITE_CSOCK_NAME, exported).
# KAGI_RIG_DIR names the rig for `kagi-rig token … --dir`; it is not exported, so that a script
# started from here, sourcing this file, never stops this rig. `rig_down` (also run by
# stop_started) stops it; it also ends by itself when this shell is gone.
rig_up() {
  local dir=$1 info
  build_debug kagi-rig || die "building kagi-rig failed"
  info=$("$KAGI_RIG_BIN" up --dir "$dir" --owner-pid $$) || die "kagi-rig up failed (see $dir/rig.log)"
  PCSCLITE_CSOCK_NAME=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["env"]["PCSCLITE_CSOCK_NAME"])' "$info") \
    || die "kagi-rig up printed no socket: $info"
  export PCSCLITE_CSOCK_NAME
  KAGI_RIG_DIR=$dir
}

rig_down() {
  if [ -n "${KAGI_RIG_DIR:-}" ]; then
    "$KAGI_RIG_BIN" down --dir "$KAGI_RIG_DIR" >/dev/null || warn "kagi-rig down --dir $KAGI_RIG_DIR failed"
    KAGI_RIG_DIR=
  fi
}
