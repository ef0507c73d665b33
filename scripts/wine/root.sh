#!/usr/bin/env bash
# The Wine 10 root for the Windows suite: a Debian trixie directory (debootstrap, minbase) with
# wine, pcscd, vsmartcard-vpcd and OpenSC, under build/wine/root. Debian 12's own Wine 8 has a
# stub winscard.dll; trixie's Wine 10 forwards winscard to pcsc-lite, and its libpcsclite speaks
# client protocol 4:5, which bookworm's pcscd (4:4) refuses: so the trixie pcscd runs inside the
# root, beside any pcscd of the machine, with vpcd on ports of its own (WINE_VPCD_PORT, +1).
#
#   scripts/wine/root.sh ensure      create the root when missing (~2 min, ~2.4 GB); quick when present
#   scripts/wine/root.sh run CMD...  run CMD inside the root (also the cargo runner of the suite)
#   scripts/wine/root.sh path        print the root's directory
#
# `run` mounts proc, sys and dev and binds the checkout (same path inside) in a private mount
# namespace of its own (unshare): the mounts exist only for CMD's lifetime, vanish with it even
# when it is killed, and never propagate to the machine's /dev or /proc. Nothing is mounted
# outside such a namespace, so there is nothing to unmount afterwards.
#
# Inside: WINEPREFIX=/root/kagi-prefix, WINEDEBUG=-all, HOME=/root; `pcscd` is a wrapper adding
# --disable-polkit (no polkit daemon in the root). The Rust rig's tests run here too: each test
# process starts its own pcscd (this wrapper) on a private socket and private vpcd ports
# (tests/rig/README.md); KAGI_MOUNTS_PRIVATE=1 tells the rig that mounts made here stay here
# (this namespace is private; "/" of the chroot is no mount point it could make private itself).
# The root's own ports above keep a pcscd started there by hand (outside the rig) off the
# machine's vpcd ports.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

WINE_ROOT="${KAGI_WINE_ROOT:-$KAGI_BUILD/wine/root}"
# Bump when the root's content changes: an older root is rebuilt.
ROOT_VERSION=1
STAMP="$WINE_ROOT/.kagi-wine-root-v$ROOT_VERSION"
# vpcd ports of the root's pcscd (the machine's vpcd has 35963 and 35964).
WINE_VPCD_PORT="${KAGI_WINE_VPCD_PORT:-35983}"
ROOT_PACKAGES=(wine64 wine pcscd vsmartcard-vpcd opensc libpcsclite1)

# The Debian mirror the machine's apt uses (deb822 or one-line format), else deb.debian.org.
debian_mirror() {
  local uri
  uri=$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
          /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^[:space:]]+' | grep -v -- '-security' | head -1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

ensure() {
  if [ -e "$STAMP" ]; then return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap missing (scripts/prereqs.sh installs it)"
  local tmp="$WINE_ROOT.tmp" mirror
  mirror=$(debian_mirror)
  mkdir -p "$(dirname "$WINE_ROOT")"
  if [ ! -x "$tmp/usr/bin/apt-get" ] || [ ! -e "$tmp/.kagi-debootstrap-done" ]; then
    rm -rf "$tmp"
    say "debootstrap trixie from $mirror into $tmp"
    as_root debootstrap --variant=minbase trixie "$tmp" "$mirror" >"$KAGI_BUILD/wine/debootstrap.log" 2>&1 \
      || die "debootstrap failed (see $KAGI_BUILD/wine/debootstrap.log)"
    touch "$tmp/.kagi-debootstrap-done"
  fi
  say "installing ${ROOT_PACKAGES[*]} in the Wine root"
  WINE_ROOT="$tmp" in_root env DEBIAN_FRONTEND=noninteractive apt-get -qq update
  WINE_ROOT="$tmp" in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${ROOT_PACKAGES[@]}" \
    >"$KAGI_BUILD/wine/apt.log" 2>&1 || die "apt-get in the Wine root failed (see $KAGI_BUILD/wine/apt.log)"
  WINE_ROOT="$tmp" in_root apt-get clean
  configure "$tmp"
  say "creating the Wine prefix (wineboot)"
  WINE_ROOT="$tmp" in_root sh -c 'rm -rf /root/kagi-prefix.clean && WINEPREFIX=/root/kagi-prefix.clean wineboot -i && WINEPREFIX=/root/kagi-prefix.clean wineserver -w' \
    >"$KAGI_BUILD/wine/wineboot.log" 2>&1 || die "wineboot failed (see $KAGI_BUILD/wine/wineboot.log)"
  rm -rf "$WINE_ROOT"
  mv "$tmp" "$WINE_ROOT"
  touch "$STAMP"
}

# Files of ours in the root: vpcd ports and the pcscd wrapper.
configure() {
  local r=$1
  local conf="$r/etc/reader.conf.d/vpcd"
  [ -f "$conf" ] || die "$conf missing: vsmartcard-vpcd not installed in the root?"
  # One reader entry per port: DEVICENAME /dev/null:0x8C7B (35963) and 0x8C7C (35964).
  sed -i -E "s/0x8C7B/$(printf '0x%X' "$WINE_VPCD_PORT")/I; s/0x8C7C/$(printf '0x%X' $((WINE_VPCD_PORT + 1)))/I" "$conf"
  grep -qi "$(printf '0x%X' "$WINE_VPCD_PORT")" "$conf" || die "could not set the vpcd port in $conf:\n$(cat "$conf")"
  mkdir -p "$r/usr/local/sbin" "$r/usr/local/bin"
  cat >"$r/usr/local/sbin/pcscd" <<'EOF'
#!/bin/sh
# No polkit daemon in this root: without --disable-polkit trixie's pcscd refuses every client.
exec /usr/sbin/pcscd --disable-polkit "$@"
EOF
  chmod 755 "$r/usr/local/sbin/pcscd"
}

# Runs "$@" inside $WINE_ROOT, with private mounts (see the header).
in_root() {
  as_root unshare --mount --propagation private -- "$KAGI_ROOT/scripts/wine/root.sh" __inside "$WINE_ROOT" "$@"
}

# The same as the last thing this process does: CMD keeps this process's PID, so a caller that
# started `root.sh run CMD &` stops CMD itself by that PID.
exec_in_root() {
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  exec "${sudo[@]}" unshare --mount --propagation private -- "$KAGI_ROOT/scripts/wine/root.sh" __inside "$WINE_ROOT" "$@"
}

inside() {
  local r=$1; shift
  mount -t proc proc "$r/proc"
  mount -t sysfs -o ro sysfs "$r/sys"
  mount --rbind /dev "$r/dev"
  mkdir -p "$r$KAGI_ROOT"
  mount --bind "$KAGI_ROOT" "$r$KAGI_ROOT"
  local t="${CARGO_TARGET_DIR:-}"
  if [ -n "$t" ] && [ -d "$t" ] && [[ "$t" != "$KAGI_ROOT"/* ]]; then
    mkdir -p "$r$t"
    mount --bind "$t" "$r$t"
  fi
  # resolv.conf for apt (the root's own may be empty).
  [ -s "$r/etc/resolv.conf" ] || cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  mkdir -p -m 700 "$r/tmp/kagi-xdg"
  exec chroot "$r" /usr/bin/env \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root XDG_RUNTIME_DIR=/tmp/kagi-xdg KAGI_MOUNTS_PRIVATE=1 \
    WINEPREFIX="${WINEPREFIX:-/root/kagi-prefix}" WINEDEBUG="${WINEDEBUG:--all}" \
    sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PWD" "$@"
}

case "${1:-}" in
  ensure) ensure ;;
  run) shift; [ -e "$STAMP" ] || die "no Wine root at $WINE_ROOT (scripts/wine/root.sh ensure)"; exec_in_root "$@" ;;
  path) echo "$WINE_ROOT" ;;
  __inside) shift; inside "$@" ;;
  *) die "usage: $0 ensure | run CMD... | path" ;;
esac
