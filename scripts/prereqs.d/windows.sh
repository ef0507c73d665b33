# The Windows host, built and tested here (scripts/test.d/16-windows-wine.sh):
# - MinGW and the x86_64-pc-windows-gnu target: `cargo build --target x86_64-pc-windows-gnu`;
# - wixl (msitools): the MSI packages (scripts/build-msi.sh);
# - debootstrap: the Debian trixie root with Wine 10, pcscd and vpcd under build/wine
#   (scripts/wine/root.sh; Debian 12's Wine 8 has no working winscard). python3 reads doctor's JSON.
APT_PACKAGES+=(gcc-mingw-w64-x86-64 wixl debootstrap python3)

prereq_windows_target() {
  rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu && return 0
  rustup target add x86_64-pc-windows-gnu
}

# The Wine root (~3 min and ~2.4 GB the first time, from the machine's Debian mirror; then
# reused). Not fatal here: the Windows suite tries again and reports the failure as its own.
# KAGI_PREREQS_DEFER=1: scripts/test.sh makes it in the background (scripts/prebuild.sh).
prereq_wine_root() {
  [ "${KAGI_PREREQS_DEFER:-}" = 1 ] && return 0
  "$KAGI_ROOT/scripts/wine/root.sh" ensure || warn "the Wine root could not be made; the Windows suite will say why"
}
