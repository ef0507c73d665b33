#!/usr/bin/env bash
# Kagi's test command: installs prerequisites, builds, runs every suite (starting pcscd when a
# suite needs one), prints one summary line, stops what it started, exits non-zero on any failure.
#
#   scripts/test.sh            everything
#   scripts/test.sh --no-install   skip the prerequisite check (a developer machine you manage)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

install=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    *) die "unknown option $a" ;;
  esac
done

trap 'stop_started' EXIT
trap 'exit 130' INT TERM
start=$(date +%s)

if [ "$install" = 1 ]; then
  "$KAGI_ROOT/scripts/prereqs.sh" || die "installing prerequisites failed"
fi

say "building"
cargo build --workspace --all-targets --locked || die "build failed"

total_passed=0
total_failed=0
failed_suites=()
log="$KAGI_BUILD/test-logs"
mkdir -p "$log"

# Adds up the "test result:" lines of cargo's output: prints "passed failed".
count_cargo() {
  awk '/^test result: /{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i}} END{print p+0, f+0}' "$1"
}

run_suite() {
  local name=$1; shift
  say "suite: $name"
  local out="$log/$name.log"
  "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local p q
  if grep -qE '^test result: ' "$out"; then
    read -r p q < <(count_cargo "$out")
  elif grep -qE '^kagi-suite [^:]+: [0-9]+ passed, [0-9]+ failed' "$out"; then
    p=$(grep -E '^kagi-suite ' "$out" | tail -1 | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
    q=$(grep -E '^kagi-suite ' "$out" | tail -1 | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
  else
    p=0; q=0
  fi
  if [ "$rc" != 0 ] && [ "$q" = 0 ]; then q=1; fi   # a suite that died counts as a failure
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + q))
  [ "$rc" = 0 ] || failed_suites+=("$name")
}

# Unit and integration tests of every crate. Integration tests use pcscd + vpcd + kagi-vtoken
# through the rig, which starts pcscd for each test when none runs (some fault tests kill and
# restart it, which they may only do to a pcscd of their own).
run_suite cargo cargo test --workspace --locked --no-fail-fast

ensure_pcscd

# Further suites (wasm, browsers, packages...) live in scripts/test.d/, run in name order.
for s in "$KAGI_ROOT"/scripts/test.d/*.sh; do
  [ -e "$s" ] || continue
  run_suite "$(basename "$s" .sh)" bash "$s"
done

elapsed=$(( $(date +%s) - start ))
echo
if [ ${#failed_suites[@]} -gt 0 ]; then
  echo "failed suites: ${failed_suites[*]} (logs in $log)"
fi
echo "kagi: ${total_passed} passed, ${total_failed} failed (${elapsed}s)"
[ "$total_failed" = 0 ] && [ ${#failed_suites[@]} = 0 ]
