# Fuzz smoke run: every target for a few seconds (see fuzz/README.md for long runs).
exec "$KAGI_ROOT/scripts/fuzz.sh" "${KAGI_FUZZ_SECONDS:-5}"
