#!/usr/bin/env bash
# Installs what building and testing Kagi needs on Debian 12 (as root, or with sudo).
# Idempotent and quick when everything is present. Other parts append to the lists below.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
  pkg-config libpcsclite-dev pcscd vsmartcard-vpcd   # PC/SC stack with virtual readers
  opensc yubico-piv-tool openssl                     # independent PIV clients used by tests
)
# Parts of the project add their needs in scripts/prereqs.d/*.sh (APT_PACKAGES+=(...), functions).
for f in "$KAGI_ROOT"/scripts/prereqs.d/*.sh; do [ -e "$f" ] && . "$f"; done

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt run to finish rather than failing on its lock.
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs) first"

# Hooks defined by prereqs.d files (rustup targets, wasm-bindgen-cli, npm packages, browsers...).
for hook in $(declare -F | awk '{print $3}' | grep '^prereq_' || true); do "$hook"; done
