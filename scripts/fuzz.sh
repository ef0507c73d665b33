#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 5: the smoke run of the test command).
# Longer runs: scripts/fuzz.sh 600. Prints executions per target and a summary line, and records
# them in build/fuzz/executions.json ({"seconds": S, "sanitizer": "none", "targets":
# {"<target>": {"executions": N, "ok": true}}}), which scripts/test.sh quotes in its summary.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh --build          only build the targets (scripts/prebuild.sh)
#
# KAGI_FUZZ_SANITIZER: cargo-fuzz's sanitizer, `address` (ASan, the default) or `none`. The test
# command's smoke run (scripts/test.d/60-fuzz.sh) uses `none`: a crash in our code (which has no
# `unsafe`: a panic, an overflow, an allocation too large) is found without ASan, whose
# instrumentation costs a third of the build (measured: 101 s against 74 s on 2 cores) and slows
# the few seconds of fuzzing. Long runs keep ASan for the dependencies' unsafe code.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT/fuzz"
build_only=0
if [ "${1:-}" = --build ]; then build_only=1; shift; fi
secs="${1:-5}"; shift || true
sanitizer="${KAGI_FUZZ_SANITIZER:-address}"
case "$sanitizer" in address|none) ;; *) die "KAGI_FUZZ_SANITIZER must be address or none, not $sanitizer" ;; esac
export PATH="$KAGI_ROOT/build/tools/bin:$PATH"
command -v cargo-fuzz >/dev/null || die "cargo-fuzz missing: run scripts/prereqs.sh"
cargo +nightly --version >/dev/null 2>&1 || die "the nightly toolchain is missing (rustup toolchain install nightly)"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
say "building fuzz targets"
cargo +nightly fuzz build -O -s "$sanitizer" >/dev/null 2>"$KAGI_BUILD/fuzz-build.log" || { cat "$KAGI_BUILD/fuzz-build.log" >&2; die "fuzz build failed"; }
[ "$build_only" = 0 ] || exit 0
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
  if cargo +nightly fuzz run -O -s "$sanitizer" "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
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
{ printf '{"seconds": %s, "sanitizer": "%s", "targets": {' "$secs" "$sanitizer"
  sep=""; for e in "${entries[@]}"; do printf '%s%s' "$sep" "$e"; sep=", "; done
  printf '}}\n'; } >"$record"
echo "kagi-suite fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
