#!/usr/bin/env bash
# Benchmarks: release builds of the host and the virtual token on pcscd + vpcd, the token with the
# latency model of a USB token and its APDU counter; every figure is compared with baselines
# measured in the same run (see docs/evidence.md); then the bank side without the token: verified
# log-ons per second per core on SQLite and on PostgreSQL (a throwaway cluster; Debian package
# `postgresql`, left out with a note when it cannot start). Writes build/bench/latest.json.
#
#   scripts/bench.sh [--quick] [--evidence]
#   scripts/bench.sh --evidence-only
#
#   --quick          fewer samples, 10 s idle window instead of 60 s (under a minute of measuring)
#   --evidence       afterwards, rewrite the benchmark section of docs/evidence.md from the JSON
#                    (and keep that JSON as docs/evidence-bench.json)
#   --evidence-only  only that, from the existing build/bench/latest.json
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

args=()
evidence=0
measure=1
for a in "$@"; do
  case "$a" in
    --quick) args+=("$a") ;;
    --evidence) evidence=1 ;;
    --evidence-only) evidence=1; measure=0 ;;
    *) die "unknown option $a" ;;
  esac
done

say "building release binaries"
cargo build --release --locked -q -p kagi-host -p kagi-vtoken -p kagi-bench || die "build failed"
export KAGI_HOST_BIN="$KAGI_ROOT/target/release/kagi-host"
export KAGI_VTOKEN_BIN="$KAGI_ROOT/target/release/kagi-vtoken"
if [ "$measure" = 1 ]; then
  # The rig gives the benchmark a pcscd of its own (private socket and vpcd ports).
  "$KAGI_ROOT/target/release/kagi-bench" ${args[@]+"${args[@]}"} || die "benchmark failed"
fi
if [ "$evidence" = 1 ]; then
  "$KAGI_ROOT/target/release/kagi-bench" evidence "$KAGI_BUILD/bench/latest.json" "$KAGI_ROOT/docs/evidence.md" \
    || die "docs/evidence.md not rewritten"
  # The run the document quotes, committed beside it.
  cp "$KAGI_BUILD/bench/latest.json" "$KAGI_ROOT/docs/evidence-bench.json" || die "docs/evidence-bench.json not written"
fi
