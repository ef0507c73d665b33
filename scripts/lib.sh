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
}

pcscd_running() {
  [ -S /run/pcscd/pcscd.comm ] && [ -f /run/pcscd/pcscd.pid ] && kill -0 "$(cat /run/pcscd/pcscd.pid)" 2>/dev/null
}

# Starts pcscd unless one already answers (see PLATFORM notes: no systemd here).
ensure_pcscd() {
  if pcscd_running; then return 0; fi
  as_root rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
  as_root mkdir -p /run/pcscd
  pcscd --foreground --error >"$KAGI_BUILD/pcscd.log" 2>&1 &
  local pid=$!
  remember_pid "$pid"
  for _ in $(seq 1 100); do [ -S /run/pcscd/pcscd.comm ] && return 0; sleep 0.05; done
  die "pcscd did not start (see $KAGI_BUILD/pcscd.log)"
}
