# The Windows target, so the host's Windows-only code (registry registration, policies) is
# type-checked here (scripts/test.d/15-windows-check.sh). Only the standard library is
# downloaded; no linker or Windows SDK is needed for `cargo check`.
prereq_windows_target() {
  rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu && return 0
  rustup target add x86_64-pc-windows-gnu
}
