# Fuzz smoke run: every target for a few seconds (see fuzz/README.md for long runs).
# Without ASan (scripts/fuzz.sh says why); scripts/prebuild.sh builds the same way.
KAGI_FUZZ_SANITIZER=${KAGI_FUZZ_SANITIZER:-none} exec "$KAGI_ROOT/scripts/fuzz.sh" "${KAGI_FUZZ_SECONDS:-5}"
