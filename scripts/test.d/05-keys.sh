#!/usr/bin/env bash
# No private key in the repository but the test key (issue 11): fails when a tracked file outside
# tests/fixtures/ contains a PEM private-key marker, or when a key under tests/fixtures/ is not
# named as a test key; and the release build refuses to sign with the test key or with a key
# inside the tree (scripts/build-extension.sh checks KAGI_SIGNING_KEY before building anything).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=05-keys
pass=0; failed=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAILED: $1"; failed=$((failed + 1)); }

# Written in two parts so that this file does not match its own pattern.
marker="PRIVATE"" KEY"
hits=$(git grep -l -F "$marker" -- . ':(exclude)tests/fixtures/' 2>/dev/null)
if [ -z "$hits" ]; then ok "no tracked file outside tests/fixtures/ holds a private key"; else bad "private key text in: $(echo $hits)"; fi

misnamed=$(git grep -l -F "$marker" -- tests/fixtures/ 2>/dev/null | grep -v '/test-only-[^/]*$')
if [ -z "$misnamed" ]; then ok "every key under tests/fixtures/ is named test-only-*"; else bad "keys under tests/fixtures/ not named test-only-*: $(echo $misnamed)"; fi

test_key=tests/fixtures/test-only-extension-signing-key.pem
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The refusal must come from the key check, before any build step (so: fast, and no CRX).
expect_refusal() { # <what> <key path> <expected message part>
  local out
  out=$(KAGI_SIGNING_KEY="$2" timeout 60 scripts/build-extension.sh 2>&1); local rc=$?
  if [ "$rc" != 0 ] && grep -q -- "$3" <<<"$out" && ! grep -q "building kagi-wasm" <<<"$out"; then
    ok "release signing refuses $1"
  else
    bad "release signing with $1: rc=$rc, output: $out"
  fi
}
cp "$test_key" "$tmp/copy.pem"
expect_refusal "the test key (a copy outside the tree)" "$tmp/copy.pem" "with the test key"
expect_refusal "a key inside the source tree" "$test_key" "inside the source tree"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/other.pem" 2>/dev/null
expect_refusal "a key whose extension id the host does not accept" "$tmp/other.pem" "extension id"

echo "kagi-suite $name: $pass passed, $failed failed"
[ "$failed" = 0 ]
