//! kagi.js as integrators get it (`extension/page/`, the npm package `@kagi/kagi-js`): its
//! TypeScript union `KagiErrorCode` names every code of [`ErrorCode`] plus the codes the extension
//! and the library set themselves, and nothing else; `package.json`, `VERSION` in kagi.js and the
//! Cargo workspace give one version. (`scripts/test.d/25-kagi-js.sh` packs and imports it.)

use std::collections::BTreeSet;

use kagi_proto::ErrorCode;

/// Codes a page can get that the host never sends: set by the extension (`wasm/src/broker`) or
/// by kagi.js itself.
const PAGE_ONLY: [&str; 4] = ["EXTENSION_NOT_INSTALLED", "CANCELLED", "TIMEOUT", "BUSY"];

fn page_file(name: &str) -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../extension/page/").to_owned() + name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The string literals of `export type KagiErrorCode = … ;`, comments skipped.
fn union_codes(dts: &str) -> Vec<String> {
    let start = dts.find("export type KagiErrorCode =").expect("KagiErrorCode in kagi.d.ts");
    let code: String = dts[start..].lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let body = &code[..code.find(';').expect("the union ends with ;")];
    body.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn the_typescript_union_is_every_error_code() {
    let codes = union_codes(&page_file("kagi.d.ts"));
    let listed: BTreeSet<&str> = codes.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), codes.len(), "a code is listed twice: {codes:?}");
    let expected: BTreeSet<&str> = ErrorCode::ALL.iter().chain(PAGE_ONLY.iter()).copied().collect();
    let missing: Vec<_> = expected.difference(&listed).collect();
    let unknown: Vec<_> = listed.difference(&expected).collect();
    assert!(missing.is_empty() && unknown.is_empty(), "kagi.d.ts KagiErrorCode: missing {missing:?}, not a code {unknown:?}");
}

#[test]
fn the_union_check_sees_a_missing_code() {
    let dts = "export type KagiErrorCode =\n  | \"TOKEN_ABSENT\" // | \"NO_READER\"; said\n  | \"BUSY\";\nexport type X = \"NO_READER\";";
    assert_eq!(union_codes(dts), ["TOKEN_ABSENT", "BUSY"]);
}

#[test]
fn package_json_kagi_js_and_the_workspace_give_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    let pkg: serde_json::Value = serde_json::from_str(&page_file("package.json")).expect("package.json");
    assert_eq!(pkg["version"], version, "package.json");
    assert_eq!(pkg["type"], "module");
    assert_eq!(pkg["types"], "./kagi.d.ts");
    assert_eq!(pkg["exports"]["."]["import"], "./kagi.js");
    let js = page_file("kagi.js");
    assert!(js.contains(&format!("export const VERSION = \"{version}\";")), "kagi.js VERSION is not {version}");
}
