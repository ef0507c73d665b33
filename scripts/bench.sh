#!/usr/bin/env bash
# Benchmarks: release builds of the host and the virtual token on pcscd + vpcd, compared with
# baselines measured in the same run (see README "Benchmarks"). Writes build/bench/latest.json.
#
#   scripts/bench.sh [--quick]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"
say "building release binaries"
cargo build --release --locked -q -p kagi-host -p kagi-vtoken -p kagi-bench || die "build failed"
export KAGI_HOST_BIN="$KAGI_ROOT/target/release/kagi-host"
export KAGI_VTOKEN_BIN="$KAGI_ROOT/target/release/kagi-vtoken"
"$KAGI_ROOT/target/release/kagi-bench" "$@"
