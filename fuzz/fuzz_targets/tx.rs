//! The extension's `tx` parser (`kagi_proto::Transaction::from_json`) and the body decoder: any
//! bytes give a checked transaction or a `TX_INVALID` naming a field; an accepted transaction
//! round-trips through its JSON and its body, and every display helper runs on it without panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use kagi_proto::tx::display;
use kagi_proto::Transaction;

fuzz_target!(|data: &[u8]| {
    let parsed = std::str::from_utf8(data).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    let tx = match parsed {
        Some(v) => Transaction::from_json(&v),
        None => Transaction::decode_body(data),
    };
    match tx {
        Ok(t) => {
            assert_eq!(Transaction::from_json(&t.to_json()).as_ref(), Ok(&t));
            assert_eq!(Transaction::decode_body(&t.encode_body()).as_ref(), Ok(&t));
            let _ = (display::amount(t.amount_yen()), display::amount_man(t.amount_yen()));
            for name in ["recordDate", "dueDate"] {
                let _ = t.date(name).map(display::date_ja);
            }
            for (_, v) in t.fields() {
                let _ = (display::fold_halfwidth_kana(v), display::skeleton(v), display::confusable(v));
            }
        }
        Err(e) => {
            let w = e.to_wire();
            assert_eq!(w.code.as_str(), "TX_INVALID");
        }
    }
});
