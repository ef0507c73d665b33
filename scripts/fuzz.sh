#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 5: the smoke run of the test command).
# Longer runs: scripts/fuzz.sh 600. Prints executions per target and a summary line, and records
# them in build/fuzz/executions.json ({"seconds": S, "targets": {"<target>": {"executions": N,
# "ok": true}}}), which scripts/test.sh quotes in its summary.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT/fuzz"
secs="${1:-5}"; shift || true
export PATH="$KAGI_ROOT/build/tools/bin:$PATH"
command -v cargo-fuzz >/dev/null || die "cargo-fuzz missing: run scripts/prereqs.sh"
cargo +nightly --version >/dev/null 2>&1 || die "the nightly toolchain is missing (rustup toolchain install nightly)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
say "building fuzz targets"
cargo +nightly fuzz build -O >/dev/null 2>"$KAGI_BUILD/fuzz-build.log" || { cat "$KAGI_BUILD/fuzz-build.log" >&2; die "fuzz build failed"; }
passed=0; failed=0
record="$KAGI_BUILD/fuzz/executions.json"
mkdir -p "$(dirname "$record")"
rm -f "$record"
entries=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Seeds checked in next to the targets, if any.
  [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null
  log="$KAGI_BUILD/fuzz-$t.log"
  if cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    printf '%-16s ok   %12s executions in %ss\n' "$t" "${runs:-?}" "$secs"
    passed=$((passed + 1))
    entries+=("\"$t\": {\"executions\": ${runs:-null}, \"ok\": true}")
  else
    printf '%-16s FAILED (see %s)\n' "$t" "$log"
    tail -30 "$log"
    failed=$((failed + 1))
    entries+=("\"$t\": {\"executions\": null, \"ok\": false}")
  fi
done
# Written whole at the end so a run that died leaves no stale numbers behind.
{ printf '{"seconds": %s, "targets": {' "$secs"
  sep=""; for e in "${entries[@]}"; do printf '%s%s' "$sep" "$e"; sep=", "; done
  printf '}}\n'; } >"$record"
echo "kagi-suite fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
