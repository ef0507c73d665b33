#!/usr/bin/env bash
# Type-checks kagi-host for Windows (the registry code in host/src/install/windows.rs is behind
# cfg(windows) and would otherwise never be compiled here). Library and binary only: the tests
# pull in ring, which needs a MinGW C compiler. About 80 s cold, seconds warm.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=15-windows-check
if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1 || { echo "cannot add the x86_64-pc-windows-gnu target"; echo "kagi-suite $name: 0 passed, 1 failed"; exit 1; }
fi
if cargo check -q -p kagi-host --lib --bins --locked --target x86_64-pc-windows-gnu; then
  echo "kagi-suite $name: 1 passed, 0 failed"
else
  echo "kagi-suite $name: 0 passed, 1 failed"
  exit 1
fi
