#!/usr/bin/env bash
# Kagi's test command: installs prerequisites, builds, runs every suite (each starts the pcscd it
# needs through the rig, tests/rig), prints one summary line, stops what it started, exits
# non-zero on any failure.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --no-install    skip the prerequisite check (a developer machine you manage)
#   scripts/test.sh --allow-skips   let tests that cannot run here (a `kagi-skip <test>: <reason>`
#                                   line, e.g. a suite whose tools are missing) pass the run;
#                                   refused when CI=true
#
# No silent passes: a skipped test is counted and listed, and any skip fails the run unless
# --allow-skips is given (never in CI). The rig's replugs of a token that pcscd did not report
# (tests/rig/src/vtoken.rs) are counted over the run; more than KAGI_MAX_REPLUGS (default 2) fail
# it, so a host that wedges a reader is noticed rather than cured by the rig.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

install=1
allow_skips=0
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --allow-skips) allow_skips=1 ;;
    *) die "unknown option $a" ;;
  esac
done
if [ "$allow_skips" = 1 ] && [ "${CI:-}" = true ]; then
  die "--allow-skips is refused when CI=true: in CI every test runs"
fi
max_replugs=${KAGI_MAX_REPLUGS:-2}

# Background work of scripts/prebuild.sh: each job in a session of its own (setsid), so that
# stopping it stops the cargo and debootstrap processes under it (prebuild.sh also gives its
# session's scheduler autogroup its niceness).
bg_pids=()
bg_names=()
bg_start() { # NAME NICENESS: scripts/prebuild.sh NAME, niced, output in $log/prebuild-NAME.log
  setsid nice -n "$2" "$KAGI_ROOT/scripts/prebuild.sh" "$1" >"$log/prebuild-$1.log" 2>&1 &
  bg_pids+=($!); bg_names+=("$1")
}
bg_running() {
  local pid
  for pid in "${bg_pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
  return 1
}
bg_waited=0
# Whether each STEP has ended (scripts/prebuild.sh prints "prebuild STEP: …") or no job is left.
bg_steps_ended() {
  local step
  bg_running || return 0
  for step in "$@"; do grep -qsF "prebuild $step: " "$log"/prebuild-*.log || return 1; done
}
# Waits until each STEP has ended, or until no job is left running; adds the wait to bg_waited.
bg_wait_steps() {
  local t0; t0=$(date +%s)
  until bg_steps_ended "$@"; do sleep 1; done
  bg_waited=$((bg_waited + $(date +%s) - t0))
}
# The prebuild steps a suite of scripts/test.d needs before it starts.
suite_needs() {
  case "$1" in
    16-windows-wine) printf '%s\n' "Wine root" "kagi-host.exe" ;;
    20-wasm|4[0-9]-*|5[0-9]-*) printf '%s\n' "extension (release)" ;;
    60-fuzz) printf '%s\n' "fuzz targets" ;;
    7[0-9]-*) printf '%s\n' "extension (development)" ;;
  esac
}
bg_wait() { # waits for every job; one line each in the suite times
  local i rc t0 secs; t0=$(date +%s)
  for i in "${!bg_pids[@]}"; do
    wait "${bg_pids[$i]}"; rc=$?
    grep '^prebuild ' "$log/prebuild-${bg_names[$i]}.log"
    [ "$rc" = 0 ] || warn "scripts/prebuild.sh ${bg_names[$i]} failed (see $log/prebuild-${bg_names[$i]}.log): the suites build it themselves"
    secs=$(sed -nE 's/^prebuild .* in all: ([0-9]+) s$/\1/p' "$log/prebuild-${bg_names[$i]}.log")
    suite_times+=("background:${bg_names[$i]} ${secs:-?}")
  done
  suite_times+=("waited-for-background $(( bg_waited + $(date +%s) - t0 ))")
  bg_pids=(); bg_names=()
}
bg_stop() {
  local pid
  for pid in "${bg_pids[@]}" "${beside_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}

trap 'bg_stop; stop_started' EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
total_passed=0
total_failed=0
total_skipped=0
failed_suites=()
suite_times=()
log="$KAGI_BUILD/test-logs"
mkdir -p "$log"
rm -f "$log"/prebuild-*.log   # an earlier run's "step ended" lines must not be waited on

t0=$(date +%s)
if [ "$install" = 1 ]; then
  # What only later suites need, and takes minutes to build, is left to scripts/prebuild.sh.
  KAGI_PREREQS_DEFER=1 "$KAGI_ROOT/scripts/prereqs.sh" || die "installing prerequisites failed"
fi
suite_times+=("prerequisites $(( $(date +%s) - t0 ))")

# The Wine root (debootstrap, packages, wineboot: network and disk) is made while the workspace
# builds; scripts/wine/root.sh needs root, and a background job cannot ask for a password.
if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then bg_start wine-root 10; fi
say "building"
t0=$(date +%s)
cargo build --workspace --all-targets --locked || die "build failed"
suite_times+=("build $(( $(date +%s) - t0 ))")
# The suites use these binaries as built here (scripts/lib.sh build_debug), the .deb suite too.
export KAGI_WORKSPACE_BUILT=1
# Every replug the Rust rig makes in any test process of this run, one line each.
export KAGI_RIG_REPLUG_LOG="$log/rig-replugs.log"
: >"$KAGI_RIG_REPLUG_LOG"
# The fuzz suite (scripts/fuzz.sh) writes this afresh; an old record must not be quoted.
rm -f "$KAGI_BUILD/fuzz/executions.json"

# Adds up the "test result:" lines of cargo's output: prints "passed failed".
count_cargo() {
  awk '/^test result: /{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i}} END{print p+0, f+0}' "$1"
}

# `kagi-skip <test>: <reason>` lines in a suite's output (anywhere in a line: cargo may have
# printed "test name ... " before the test's own stderr line).
skip_lines() {
  grep -oE 'kagi-skip .+: .*' "$1" || true
}

# The first failures a suite's output names, each with its message up to the stack trace (at
# most 6 lines each, 16 in all): a failed test (node's "✖", TAP "not ok", cargo's "panicked at")
# or a suite's own FAILED line. Node's spec reporter repeats the failures at the end: not again.
failure_digest() {
  awk '/failing tests:/ {exit}
       /^ *(✖|not ok )|panicked at|^FAILED|^error(\[|:)/ {n = 6}
       /^ +at / {n = 0}
       n > 0 && NF {print; n--; if (++shown == 16) exit}' "$1" 2>/dev/null
}

# Runs suite NAME (the command after it), its output shown and kept in $log/NAME.log.
run_suite() {
  local name=$1; shift
  say "suite: $name"
  local t0; t0=$(date +%s)
  "$@" 2>&1 | tee "$log/$name.log"
  count_suite "$name" "${PIPESTATUS[0]}" "$(( $(date +%s) - t0 ))"
}

# Suites that run beside the ones after them (see the list below the cargo suite): started in
# a session of their own, output only to $log/NAME.log, shown and counted when they end.
beside_pids=()
beside_names=()
start_beside() {
  local name=$1; shift
  say "suite: $name (beside the next suites; its output follows when it ends)"
  rm -f "$log/$name.rc"
  KAGI_RC_FILE="$log/$name.rc" setsid bash -c 't0=$(date +%s); "$@"; rc=$?
    echo "$rc $(( $(date +%s) - t0 ))" >"$KAGI_RC_FILE"; exit "$rc"' _ "$@" >"$log/$name.log" 2>&1 &
  beside_pids+=($!); beside_names+=("$name")
}
collect_beside() {
  local i rc secs
  for i in "${!beside_pids[@]}"; do
    wait "${beside_pids[$i]}"
    read -r rc secs <"$log/${beside_names[$i]}.rc" 2>/dev/null || { rc=1; secs=0; }
    say "suite: ${beside_names[$i]} (ran beside the others)"
    cat "$log/${beside_names[$i]}.log"
    count_suite "${beside_names[$i]}" "$rc" "$secs"
  done
  beside_pids=(); beside_names=()
}

# Counts suite NAME's results from its log, given its exit code and time.
count_suite() {
  local name=$1 rc=$2 secs=$3
  local out="$log/$name.log"
  suite_times+=("$name $secs")
  local p q k line
  # Skips the suite reported in its own line (it took them out of its passes), else the
  # kagi-skip lines, which the test runner counted as passes.
  local skips; skips=$(skip_lines "$out" | wc -l)
  if grep -qE '^test result: ' "$out"; then
    read -r p q < <(count_cargo "$out")
    k=$skips; p=$((p - k))
  elif line=$(grep -E '^kagi-suite [^:]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -1) && [ -n "$line" ]; then
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
    q=$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$line")
    if [[ "$line" =~ ([0-9]+)\ skipped ]]; then k=${BASH_REMATCH[1]}; else k=$skips; p=$((p - k)); fi
  else
    p=0; q=0; k=$skips
  fi
  [ "$p" -ge 0 ] || p=0
  if [ "$rc" != 0 ] && [ "$q" = 0 ]; then q=1; fi   # a suite that died counts as a failure
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + q))
  total_skipped=$((total_skipped + k))
  [ "$rc" = 0 ] || failed_suites+=("$name")
}

# Unit and integration tests of every crate. Integration tests use pcscd + vpcd + kagi-vtoken
# through the rig, which gives each test process a pcscd of its own on a private socket and
# private vpcd ports (tests/rig/README.md): no test process waits for another, so they run in
# three streams side by side: the host's fault test (cut at every APDU, the longest binary by
# far), the host's other tests, everything else (then the doc tests). The card tests mostly wait
# for pcscd's 0.4 s polls, so three streams fit two cores. KAGI_CARGO_JOBS=1 runs `cargo test
# --workspace` alone.
#
# The test executables are the ones `cargo test --workspace --no-run` lists, built with the
# whole workspace's feature resolution, as the build above did (so nothing compiles here), and
# run directly, each from its package's directory as cargo runs them. `cargo test -p kagi-host
# …` per stream would resolve the dependencies' features for that package alone, compile
# kagi-host and several dependencies again, and make the streams wait for each other's builds
# (measured: 1 min 46 s before the fault test's first test ran).
# Lists the test executables before the suite starts (and before the background builds, which
# would hold cargo's lock on target/debug): one line each: stream, package directory, package,
# target, executable.
list_cargo_tests() {
  rm -f "$log/cargo-tests.list"
  [ "${KAGI_CARGO_JOBS:-3}" = 1 ] && return 0
  cargo test --workspace --locked --no-run --message-format=json-render-diagnostics >"$log/cargo-tests.json" || return 1
  python3 - "$log/cargo-tests.json" >"$log/cargo-tests.list.tmp" <<'PY' || return 1
import json, os, sys, tomllib
seen = set()
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    m = json.loads(line)
    exe = m.get("executable")
    if m.get("reason") != "compiler-artifact" or not exe or not m.get("profile", {}).get("test") or exe in seen:
        continue
    seen.add(exe)
    with open(m["manifest_path"], "rb") as f:
        pkg = tomllib.load(f)["package"]["name"]
    target = m["target"]["name"]
    stream = 3
    if pkg == "kagi-host":
        stream = 1 if target == "faults" and "test" in m["target"]["kind"] else 2
    print(stream, os.path.dirname(m["manifest_path"]), pkg, target, exe, sep="\t")
PY
  mv "$log/cargo-tests.list.tmp" "$log/cargo-tests.list"
}

cargo_tests() {
  if [ "${KAGI_CARGO_JOBS:-3}" = 1 ]; then
    cargo test --workspace --locked --no-fail-fast
    return
  fi
  [ -s "$log/cargo-tests.list" ] || { echo "FAILED: listing the test executables (cargo test --workspace --no-run, see $log/cargo-tests.json)"; return 1; }
  # Runs the executables of stream $1 one after the other; fails if any failed.
  run_stream() {
    local want=$1 stream dir pkg target exe rc=0
    while IFS=$'\t' read -r stream dir pkg target exe; do
      [ "$stream" = "$want" ] || continue
      echo "     Running $pkg $target ($exe)"
      (cd "$dir" && CARGO_MANIFEST_DIR="$dir" CARGO_PKG_NAME="$pkg" "$exe") || rc=1
    done <"$log/cargo-tests.list"
    return "$rc"
  }
  local pids=() rcs=0 i
  run_stream 1 >"$log/cargo-1.out" 2>&1 &
  pids+=($!)
  run_stream 2 >"$log/cargo-2.out" 2>&1 &
  pids+=($!)
  { run_stream 3; r=$?; cargo test --workspace --locked --doc || r=1; exit "$r"; } >"$log/cargo-3.out" 2>&1 &
  pids+=($!)
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || rcs=1; done
  cat "$log"/cargo-[123].out
  [ "$rcs" = 0 ]
}
# The builds of the later suites run beside the cargo suite, whose card tests mostly wait, and
# go on while the first suites of scripts/test.d run; each suite waits for what it needs.
list_cargo_tests
bg_start main 10
bg_start fuzz 19
run_suite cargo cargo_tests

# Further suites (wasm, browsers, packages...) live in scripts/test.d/, run in name order.
# These start beside the suites after them, which they cannot disturb:
# - 16-windows-wine: its pcscd and tokens live in the Wine root (vpcd ports and a lock of its
#   own) and it drives no browser; it mostly waits on Wine (the browser suites run meanwhile);
# - 70-journey-chromium: each journey starts its own rig, bank and browser profile and holds the
#   browser-configuration lock shared, as the Firefox journey does (which runs meanwhile).
# A suite to run beside waits in `pending` for the prebuild steps it needs while the suites after
# it go on; it starts between two suites once those steps have ended (at the end, at the latest).
BESIDE=" 16-windows-wine 70-journey-chromium "
pending=()
start_pending() { # [all]: starts the pending suites whose steps have ended (all of them: waiting)
  local rest=() n needs
  for n in "${pending[@]}"; do
    mapfile -t needs < <(suite_needs "$n")
    if [ "${1:-}" = all ]; then
      [ ${#needs[@]} = 0 ] || bg_wait_steps "${needs[@]}"
    elif [ ${#needs[@]} -gt 0 ] && ! bg_steps_ended "${needs[@]}"; then
      rest+=("$n"); continue
    fi
    start_beside "$n" bash "$KAGI_ROOT/scripts/test.d/$n.sh"
  done
  pending=(${rest[@]+"${rest[@]}"})
}
for s in "$KAGI_ROOT"/scripts/test.d/*.sh; do
  [ -e "$s" ] || continue
  name=$(basename "$s" .sh)
  if [[ "$BESIDE" == *" $name "* ]]; then
    pending+=("$name")
    start_pending
    continue
  fi
  start_pending
  mapfile -t needs < <(suite_needs "$name")
  [ ${#needs[@]} = 0 ] || bg_wait_steps "${needs[@]}"
  start_pending   # what waited for the same steps starts with it
  run_suite "$name" bash "$s"
done
start_pending all
collect_beside
bg_wait

elapsed=$(( $(date +%s) - start ))
echo
echo "suite times:"
for st in "${suite_times[@]}"; do printf '  %-24s %5ss\n' ${st}; done
mapfile -t skipped_tests < <(cat "$log"/*.log 2>/dev/null | grep -oE 'kagi-skip .+: .*' | sort -u)
if [ ${#skipped_tests[@]} -gt 0 ]; then
  echo "skipped:"
  printf '  %s\n' "${skipped_tests[@]}"
fi
# Executions per fuzz target of this run's timed fuzz run (scripts/fuzz.sh records them).
fuzz_record="$KAGI_BUILD/fuzz/executions.json"
if [ -s "$fuzz_record" ]; then
  echo "fuzz executions: $(python3 -c 'import json,sys
r=json.load(open(sys.argv[1]))
print(", ".join("%s %s" % (t, v["executions"] if v["ok"] else "FAILED") for t, v in r["targets"].items()), "in %ss each (sanitizer: %s)" % (r["seconds"], r.get("sanitizer", "address")))' "$fuzz_record")"
else
  echo "fuzz executions: none recorded by this run ($fuzz_record)"
fi
replugs=$(grep -c . "$KAGI_RIG_REPLUG_LOG" 2>/dev/null || true)
replugs=${replugs:-0}
echo "rig replugs of a token pcscd did not report: $replugs (at most $max_replugs; $KAGI_RIG_REPLUG_LOG)"
ok=1
if [ ${#failed_suites[@]} -gt 0 ]; then
  # What failed, in the summary itself: CI keeps only the end of the output, not build/test-logs.
  for s in "${failed_suites[@]}"; do
    echo "why $s:"
    failure_digest "$log/$s.log" | sed 's/^/  /'
  done
  echo "failed suites: ${failed_suites[*]} (logs in $log)"
  ok=0
fi
[ "$total_failed" = 0 ] || ok=0
if [ "$replugs" -gt "$max_replugs" ]; then
  echo "FAILED: $replugs rig replugs (more than $max_replugs): a reader stayed \"no card\" after a token was plugged in"
  ok=0
fi
if [ "$total_skipped" -gt 0 ] && [ "$allow_skips" = 0 ]; then
  echo "FAILED: $total_skipped skipped (each test must run; a developer may pass --allow-skips, CI may not)"
  ok=0
fi
echo "kagi: ${total_passed} passed, ${total_failed} failed, ${total_skipped} skipped (${elapsed}s)"
[ "$ok" = 1 ]
