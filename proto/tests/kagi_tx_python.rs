//! The `kagi-tx:1` golden vector three ways: the values docs/protocol.md states, what this crate
//! computes from the document's `tx`, and what the Python reference `docs/kagi-tx.py` prints.
//! Any one drifting from the others fails here (python3 is part of the development machine, see
//! PLATFORM.md; a missing interpreter fails rather than skips).

use std::process::Command;

use kagi_proto::{Nonce, Origin, Transaction};

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The hex value of a `label   value` line of the golden vector's text block (lines that start
/// with the label but end in something else, as the formula `digest = SHA-256(message)`, are
/// not it).
fn stated(doc: &str, label: &str) -> String {
    let value = doc.lines().filter_map(|l| l.strip_prefix(label)).filter_map(|rest| rest.split_whitespace().last()).find(|v| {
        v.len() >= 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
    });
    value.unwrap_or_else(|| panic!("docs/protocol.md states no `{label}`")).to_owned()
}

#[test]
fn document_rust_and_python_agree() {
    let doc = std::fs::read_to_string(root().join("docs/protocol.md")).expect("docs/protocol.md");
    let tx_line = doc.lines().find(|l| l.starts_with(r#"{"kind":"densai.transfer/1""#)).expect("golden tx in docs/protocol.md");
    let tx = Transaction::from_json(&serde_json::from_str(tx_line).unwrap()).unwrap();
    let (origin, nonce) = (Origin::parse("https://bank.example").unwrap(), Nonce::parse(&"A".repeat(43)).unwrap());

    let body_sha = hex(&tx.body_sha256());
    let message = hex(&tx.signed_message(&origin, &nonce));
    let digest = hex(&tx.digest(&origin, &nonce));
    assert_eq!(stated(&doc, "body SHA-256"), body_sha, "docs/protocol.md body SHA-256");
    assert_eq!(stated(&doc, "message"), message, "docs/protocol.md message");
    assert_eq!(stated(&doc, "digest"), digest, "docs/protocol.md digest");
    let begins: String = doc.lines().find(|l| l.starts_with("body begins")).unwrap().split_whitespace().skip(2).filter(|w| *w != "…").collect();
    assert!(hex(&tx.encode_body()).starts_with(&begins), "docs/protocol.md body bytes");

    let out = Command::new("python3").arg(root().join("docs/kagi-tx.py")).output().expect("python3 runs docs/kagi-tx.py");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let value = |label: &str| printed.lines().find_map(|l| l.strip_prefix(label)).map(str::trim).unwrap_or_default().to_owned();
    assert_eq!(value("body bytes"), tx.encode_body().len().to_string());
    assert_eq!(value("body sha256"), body_sha);
    assert_eq!(value("message"), message);
    assert_eq!(value("digest"), digest);
}
