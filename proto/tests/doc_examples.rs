//! Every one-line JSON example in `docs/protocol.md` is a message this crate reads: requests
//! parse (with the placeholder CA certificates `MIIB…` standing for real ones), host messages
//! deserialise, and the status and acquisition results decode as their types. A field renamed
//! in the code and not in the document fails here.

use kagi_proto::{DiagnoseResult, EnrollBeginResult, EnrollFinishResult, Outgoing, PinResult, Request, StatusResult, Transaction, TxSignature};

fn examples() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md")).expect("docs/protocol.md");
    let mut out = Vec::new();
    let mut in_json = false;
    for line in doc.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            l if in_json && l.starts_with('{') && l.ends_with('}') => out.push(l.to_owned()),
            _ => {}
        }
    }
    out
}

/// A base64 CA certificate shortened with `…` in the document stands for a real one.
fn with_real_certificates(line: &str) -> String {
    let mut out = String::new();
    for (i, part) in line.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        if i % 2 == 1 && part.starts_with("MII") && part.ends_with('…') {
            out.push_str("MAA=");
        } else {
            out.push_str(part);
        }
    }
    out
}

#[test]
fn every_example_in_the_protocol_document_parses() {
    let lines = examples();
    let (mut requests, mut messages, mut txs) = (0, 0, 0);
    for line in &lines {
        if line.starts_with(r#"{"kind""#) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}\n{e}"));
            Transaction::from_json(&v).unwrap_or_else(|e| panic!("{line}\n{e}"));
            txs += 1;
        } else if line.contains(r#""cmd""#) {
            let req = Request::parse(with_real_certificates(line).as_bytes()).unwrap_or_else(|e| panic!("{line}\n{e:?}"));
            assert_eq!(req.to_json()["cmd"], serde_json::Value::from(req.command.name()));
            requests += 1;
        } else if line.contains(r#""type""#) {
            let msg: Outgoing = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}\n{e}"));
            if let Outgoing::Reply(r) = msg {
                if let Some(result) = &r.result {
                    let checked = if result.get("bodySha256").is_some() {
                        serde_json::from_value::<TxSignature>(result.clone()).map(drop)
                    } else if result.get("checks").is_some() {
                        serde_json::from_value::<DiagnoseResult>(result.clone()).map(drop)
                    } else if result.get("readers").is_some() {
                        serde_json::from_value::<StatusResult>(result.clone()).map(drop)
                    } else if result.get("csr").is_some() {
                        serde_json::from_value::<EnrollBeginResult>(result.clone()).map(drop)
                    } else if result.get("certificate").is_some_and(|c| c.is_object()) {
                        serde_json::from_value::<EnrollFinishResult>(result.clone()).map(drop)
                    } else if result.get("reader").is_some() {
                        serde_json::from_value::<PinResult>(result.clone()).map(drop)
                    } else {
                        Ok(())
                    };
                    checked.unwrap_or_else(|e| panic!("{line}\n{e}"));
                }
            }
            messages += 1;
        }
    }
    assert!(requests >= 11 && messages >= 14 && txs >= 1, "{requests} requests, {messages} host messages, {txs} transactions found");
}
