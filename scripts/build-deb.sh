#!/usr/bin/env bash
# Builds the Debian package of the native host: build/kagi-host_<version>_<arch>.deb
#
#   /usr/bin/kagi-host
#   /etc/opt/chrome/native-messaging-hosts/jp.kagi.host.json      Google Chrome
#   /etc/chromium/native-messaging-hosts/jp.kagi.host.json        Chromium
#   /etc/opt/edge/native-messaging-hosts/jp.kagi.host.json        Microsoft Edge
#   /usr/lib/mozilla/native-messaging-hosts/jp.kagi.host.json     Firefox
#   /usr/share/doc/kagi-host/{copyright,README.md}
#
# The manifests are written by the host itself (`kagi-host install --scope system` into the
# staging tree), so the package and a manual install never differ. They are ordinary package
# files, not conffiles: removing the package removes them (a manifest left behind would point at
# a missing program, the "native host not found" case), and purge leaves nothing.
# Built with dpkg-deb from a staged tree: no packaging tool to compile first (cargo-deb would
# add a few minutes of build on a fresh machine for the same result).
#
#   scripts/build-deb.sh [--debug]     (default: release build)
#   scripts/build-deb.sh --bin PATH    package a kagi-host built already (e.g. the debug build
#                                      scripts/test.sh made earlier in the run: the .deb suite
#                                      checks the packaging, and does not compile the host again)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

profile=release
bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --bin) shift; bin=${1:?--bin needs a path}; profile=given ;;
    *) die "unknown option $1" ;;
  esac
  shift
done

target_dir="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}"
if [ -n "$bin" ]; then
  [ -x "$bin" ] || die "--bin $bin: not an executable"
  say "packaging the kagi-host built already: $bin"
else
  say "building kagi-host ($profile)"
  if [ "$profile" = release ]; then
    cargo build -q --release -p kagi-host --locked
  else
    cargo build -q -p kagi-host --locked
  fi
  bin="$target_dir/$profile/kagi-host"
fi

version=$("$bin" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
stage="$KAGI_BUILD/deb/kagi-host_${version}_${arch}"
out="$KAGI_BUILD/kagi-host_${version}_${arch}.deb"

rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/share/doc/kagi-host"
install -m 0755 "$bin" "$stage/usr/bin/kagi-host"
# Debug information stays out of the package (a debug build given with --bin is ~10x larger).
[ "$profile" != debug ] && strip --strip-unneeded "$stage/usr/bin/kagi-host"
"$bin" install --scope system --browser all --root "$stage" --host-path /usr/bin/kagi-host --no-record >/dev/null
install -m 0644 host/README.md "$stage/usr/share/doc/kagi-host/README.md"
cat >"$stage/usr/share/doc/kagi-host/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: kagi
Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
chmod 0644 "$stage/usr/share/doc/kagi-host/copyright"
find "$stage" -type d -exec chmod 0755 {} +

# libpcsclite1: the program links libpcsclite.so.1; pcscd: the service it talks to.
installed_size=$(du -k -s --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: kagi-host
Version: $version
Architecture: $arch
Maintainer: Kagi maintainers <kagi@kagi.example>
Installed-Size: $installed_size
Depends: libc6 (>= 2.34), libpcsclite1 (>= 1.9), pcscd
Section: utils
Priority: optional
Homepage: https://kagi.example/
Description: Kagi native messaging host: bank log-on with a PIV USB token
 Lets the Kagi browser extension (Chrome, Chromium, Edge, Firefox) use the
 certificate on a PIV USB token to log on to the bank. Registers the native
 messaging host jp.kagi.host system-wide for all four browsers.
 .
 Check the installation with: kagi-host doctor
CONTROL

rm -f "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "deb: $out ($(stat -c %s "$out") bytes)"
