#!/usr/bin/env bash
# Builds the Windows host and its two MSI packages, on Linux:
#
#   build/windows/kagi-host-<version>-x64.msi        per-machine: C:\Program Files\Kagi, HKLM keys
#                                                     (GPO, Intune, SCCM: msiexec /i … /qn)
#   build/windows/kagi-host-<version>-x64-user.msi   per-user: %LOCALAPPDATA%\Programs\Kagi, HKCU
#                                                     keys written by `kagi-host.exe install`
#
# kagi-host.exe is cross-compiled with MinGW (`cargo build --release --target
# x86_64-pc-windows-gnu`); the packages come from manifests/windows/*.wxs with wixl (msitools),
# whose Version is the workspace's Cargo version. Neither package is signed: see README
# ("Windows") for what signing and a real Windows PC add.
#
#   scripts/build-msi.sh [--no-build]   (--no-build: package the exe already built)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$KAGI_ROOT"

build=1
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    *) die "unknown option $a" ;;
  esac
done

command -v wixl >/dev/null || die "wixl missing (apt-get install wixl; scripts/prereqs.sh does it)"
target_dir="${CARGO_TARGET_DIR:-$KAGI_ROOT/target}"
exe="$target_dir/x86_64-pc-windows-gnu/release/kagi-host.exe"
if [ "$build" = 1 ]; then
  say "building kagi-host.exe (release, x86_64-pc-windows-gnu)"
  cargo build -q --release --locked -p kagi-host --target x86_64-pc-windows-gnu
fi
[ -f "$exe" ] || die "$exe missing (build it, or drop --no-build)"

# The workspace version (host/Cargo.toml says version.workspace = true). MSI versions are
# numeric major.minor.build: a pre-release suffix is dropped.
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -1)
version=${version%%[-+]*}
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "cannot read the workspace version from Cargo.toml (got '$version')"

out="$KAGI_BUILD/windows"
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage"
# wixl resolves Source= relative to its working directory: stage everything side by side.
cp "$exe" "$stage/kagi-host.exe"
cp manifests/native-host/windows/jp.kagi.host.json manifests/native-host/windows/jp.kagi.host.firefox.json "$stage/"
cp manifests/windows/kagi-host.wxs manifests/windows/kagi-host-user.wxs "$stage/"
for pkg in kagi-host:"" kagi-host-user:"-user"; do
  wxs=${pkg%%:*}; suffix=${pkg#*:}
  msi="$out/kagi-host-$version-x64$suffix.msi"
  (cd "$stage" && wixl -a x64 -D Version="$version" -o "$msi" "$wxs.wxs" 2>"$stage/$wxs.wixl.log") \
    || die "wixl $wxs.wxs failed: $(cat "$stage/$wxs.wixl.log")"
  echo "$msi"
done
