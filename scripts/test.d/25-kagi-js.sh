#!/usr/bin/env bash
# kagi.js as the npm package @kagi/kagi-js (issue 15, integrators): `npm pack` of extension/page
# builds the tarball with package.json, kagi.js, kagi.d.ts and README.md and nothing else; it
# installs offline into an empty project; node imports the packed module by its name and runs it
# against a stand-in content script (tests/kagi-js/import-packed.mjs: versions, lang, errors).
# The TypeScript union of error codes is checked against kagi_proto::ErrorCode by the cargo
# suite (proto/tests/kagi_js_types.rs).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$KAGI_ROOT"

name=25-kagi-js
pass=0; failed=0
ok() { echo "ok: $1"; pass=$((pass + 1)); }
bad() { echo "FAILED: $1"; failed=$((failed + 1)); }
finish() { echo "kagi-suite $name: $pass passed, $failed failed"; [ "$failed" = 0 ]; exit; }

command -v npm >/dev/null && command -v node >/dev/null || { bad "node and npm are needed"; finish; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log="$KAGI_BUILD/test-logs/$name"
mkdir -p "$log"

if tarball=$(npm pack "$KAGI_ROOT/extension/page" --pack-destination "$tmp" --json 2>"$log/pack.err" | tee "$log/pack.json" \
    | node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8"))[0]; console.log(r.filename)'); then
  ok "npm pack builds $tarball"
else
  bad "npm pack (see $log/pack.err)"; cat "$log/pack.err"; finish
fi
files=$(tar -tzf "$tmp/$tarball" | sort | tr '\n' ' ')
if [ "$files" = "package/README.md package/kagi.d.ts package/kagi.js package/package.json " ]; then
  ok "the tarball holds package.json, kagi.js, kagi.d.ts, README.md and nothing else"
else
  bad "tarball contents: $files"
fi
case "$tarball" in
  kagi-kagi-js-"$version".tgz) ok "the package's version is the workspace's ($version)" ;;
  *) bad "tarball $tarball, expected kagi-kagi-js-$version.tgz (workspace version $version)" ;;
esac

mkdir -p "$tmp/app"
printf '{"name":"integrator-app","version":"1.0.0","private":true,"type":"module"}\n' >"$tmp/app/package.json"
if (cd "$tmp/app" && npm install --offline --no-audit --no-fund --ignore-scripts "$tmp/$tarball") >"$log/install.log" 2>&1; then
  ok "the tarball installs offline into an empty project"
else
  bad "npm install of the tarball (see $log/install.log)"; tail -20 "$log/install.log"; finish
fi
cp tests/kagi-js/import-packed.mjs "$tmp/app/"
if (cd "$tmp/app" && node import-packed.mjs "$version") >"$log/import.log" 2>&1; then
  sed 's/^/       /' "$log/import.log"
  ok "node imports the packed module and it runs (tests/kagi-js/import-packed.mjs)"
else
  sed 's/^/       /' "$log/import.log"
  bad "the packed module in node (see $log/import.log)"
fi
finish
