//! Tests of `kagi-tx:1`: the golden vector of docs/protocol.md, the encoding's round trip and
//! injectivity over generated transactions, each text-rule refusal, and the rendering helpers.

use serde_json::{json, Value};

use super::display::{amount, amount_man, confusable, date_ja, fold_halfwidth_kana, skeleton};
use super::*;

/// The golden transaction of docs/protocol.md (and docs/kagi-tx.py).
pub(crate) fn golden_json() -> Value {
    json!({
        "kind": "densai.transfer/1",
        "requestId": "TR-20261130-0001",
        "requestVersion": "1",
        "recordNumber": "20261130KG0000000001",
        "amountYen": "12345678",
        "recordDate": "2026-12-01",
        "dueDate": "2027-02-26",
        "payer.userNo": "123456789",
        "payer.name": "株式会社鍵商事",
        "payer.bankCode": "0999",
        "payer.bankName": "鍵デモ信用金庫",
        "payer.branchCode": "001",
        "payer.branchName": "本店",
        "payer.accountType": "1",
        "payer.accountNo": "1234567",
        "counterparty.userNo": "987654321",
        "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ",
        "counterparty.bankCode": "0999",
        "counterparty.bankName": "鍵デモ信用金庫",
        "counterparty.branchCode": "002",
        "counterparty.branchName": "駅前支店",
        "counterparty.accountType": "2",
        "counterparty.accountNo": "7654321",
        "transferRestricted": "0",
        "guarantee": "1",
        "newCounterparty": "1"
    })
}

fn golden() -> Transaction {
    Transaction::from_json(&golden_json()).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

const ORIGIN: &str = "https://bank.example";
const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The values docs/protocol.md states (and docs/kagi-tx.py prints).
pub(crate) const GOLDEN_BODY_SHA256: &str = "312241bf21b06c888704b1c602d937560ee1e8ce57ae658effc9349bb80bb161";
pub(crate) const GOLDEN_DIGEST: &str = "1296fcbe18df9dd90e4fba1dde57be16380f1dad18a4bc632dc5a9f5dbe52caf";

#[test]
fn golden_vector() {
    let t = golden();
    let body = t.encode_body();
    // The first field, byte for byte: u8 4, "kind", u32 BE 17, "densai.transfer/1".
    assert_eq!(hex(&body[..26]), "046b696e6400000011".to_owned() + &hex(b"densai.transfer/1"));
    let (origin, nonce) = (Origin::parse(ORIGIN).unwrap(), Nonce::parse(NONCE).unwrap());
    let m = t.signed_message(&origin, &nonce);
    assert_eq!(m.len(), 105);
    assert_eq!(&m[..9], b"kagi-tx:1");
    println!("body {} bytes\nbody sha256 {}\nmessage {}\ndigest {}", body.len(), hex(&t.body_sha256()), hex(&m), hex(&t.digest(&origin, &nonce)));
    assert_eq!(hex(&t.body_sha256()), GOLDEN_BODY_SHA256);
    assert_eq!(hex(&t.digest(&origin, &nonce)), GOLDEN_DIGEST);
    // The nonce and the origin are bound: another of either gives another digest.
    let other = Nonce::parse(&("B".repeat(42) + "A")).unwrap();
    assert_ne!(t.digest(&origin, &other), t.digest(&origin, &nonce));
    assert_ne!(t.digest(&Origin::parse("https://evil.example").unwrap(), &nonce), t.digest(&origin, &nonce));
    // The other kind signs differently with the same fields.
    let mut v = golden_json();
    v["kind"] = "densai.issue.debtor/1".into();
    assert_ne!(Transaction::from_json(&v).unwrap().body_sha256(), t.body_sha256());
}

#[test]
fn json_round_trip_and_field_order() {
    let t = golden();
    assert_eq!(Transaction::from_json(&t.to_json()).unwrap(), t);
    let names: Vec<&str> = t.fields().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 26);
    assert_eq!(&names[..7], ["kind", "requestId", "requestVersion", "recordNumber", "amountYen", "recordDate", "dueDate"]);
    assert_eq!(names[7], "payer.userNo");
    assert_eq!(names[15], "counterparty.userNo");
    assert_eq!(&names[23..], ["transferRestricted", "guarantee", "newCounterparty"]);
    assert_eq!(t.amount_yen(), 12_345_678);
    assert!(t.new_counterparty());
    assert_eq!(t.kind().label_ja(), "譲渡記録請求");
}

/// A small deterministic generator (xorshift64*): no dependency, and a failure names its seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
    /// A name from characters that stress the encoding: multi-byte, half-width kana, the bytes
    /// a naive `name=value;` encoding would confuse.
    fn name(&mut self, cap: usize) -> String {
        const POOL: &[char] = &['a', 'Z', '1', '=', ';', ',', '"', '\\', ':', '株', '鍵', 'ア', 'ｶ', 'ﾞ', 'é', '𠮷', 'ー', '・', '（', ' '];
        loop {
            let n = 1 + self.below(cap as u64) as usize;
            let s: String = (0..n).map(|_| POOL[self.below(POOL.len() as u64) as usize]).collect();
            if text::check_text(&s, cap).is_ok() {
                return s;
            }
        }
    }
    fn value(&mut self, rule: Rule) -> String {
        match rule {
            Rule::Kind => self.pick(&TxKind::NAMES).to_owned(),
            Rule::RequestId => {
                let n = 1 + self.below(40) as usize;
                (0..n).map(|_| char::from(b"AZ09-az"[self.below(7) as usize])).collect()
            }
            Rule::Version => (1 + self.below(u64::from(u32::MAX))).to_string(),
            Rule::RecordNumber => (0..20).map(|_| char::from(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[self.below(36) as usize])).collect(),
            Rule::Amount => (1 + self.below(99_999_999_999)).to_string(),
            Rule::Date => loop {
                let s = format!("{:04}-{:02}-{:02}", 1900 + self.below(300), 1 + self.below(12), 1 + self.below(31));
                if Date::parse(&s).is_some() {
                    return s;
                }
            },
            Rule::Digits(n) => self.digits(n),
            Rule::Text(cap) => self.name(cap.min(12)),
            Rule::AccountType => self.pick(&["1", "2", "9"]).to_owned(),
            Rule::Flag => self.pick(&["0", "1"]).to_owned(),
        }
    }
    fn tx(&mut self) -> Transaction {
        let kind = self.pick(&TxKind::NAMES);
        let schema = TxKind::parse(kind).unwrap().schema();
        let values: Vec<(&str, String)> =
            schema.iter().map(|(n, r)| (*n, if *n == "kind" { kind.to_owned() } else { self.value(*r) })).collect();
        Transaction::from_pairs(values.iter().map(|(n, v)| (*n, v.as_str()))).unwrap()
    }
}

/// Property: decode(encode(t)) == t for generated transactions, so the encoding is injective
/// (equal bodies decode to one transaction); and two different transactions never share a body.
#[test]
fn body_encoding_round_trips_and_is_injective() {
    for seed in 1..=2000u64 {
        let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let (a, b) = (g.tx(), g.tx());
        let body = a.encode_body();
        assert_eq!(Transaction::decode_body(&body).as_ref(), Ok(&a), "seed {seed}");
        assert_eq!(a == b, body == b.encode_body(), "seed {seed}");
        // One field changed to another valid value: another body.
        let i = 1 + g.below(25) as usize;
        let (name, rule) = a.kind().schema()[i];
        let new = g.value(rule);
        let changed: Vec<(&str, &str)> = a.fields().map(|(n, v)| (n, if n == name { new.as_str() } else { v })).collect();
        let c = Transaction::from_pairs(changed).unwrap();
        assert_eq!(c == a, c.encode_body() == body, "seed {seed}, {name}");
    }
}

/// Bytes moved from one field's end to the next field's start give another body: the length
/// prefixes, not separators, delimit values.
#[test]
fn shifting_bytes_between_fields_changes_the_body() {
    let mut v = golden_json();
    v["payer.branchName"] = "本".into();
    v["payer.bankName"] = "鍵デモ信用金庫本".into();
    // Not a valid shift of a field boundary in the JSON sense, but the names differ and so must
    // the bodies.
    assert_ne!(Transaction::from_json(&v).unwrap().encode_body(), golden().encode_body());
}

#[test]
fn decode_refuses_reordered_truncated_or_extended_bodies() {
    let body = golden().encode_body();
    assert!(Transaction::decode_body(&body[..body.len() - 1]).is_err());
    let mut longer = body.clone();
    longer.push(0);
    assert!(Transaction::decode_body(&longer).is_err());
    // Swap the first two fields (kind and requestId).
    let first = 1 + 4 + 4 + 17;
    let second = 1 + 9 + 4 + 16;
    let mut swapped = body[first..first + second].to_vec();
    swapped.extend_from_slice(&body[..first]);
    swapped.extend_from_slice(&body[first + second..]);
    assert_eq!(Transaction::decode_body(&swapped).unwrap_err().field, "body");
}

/// Each refusal: TX_INVALID naming the field, never the value.
#[test]
fn refusals_name_the_field() {
    let cases: Vec<(&str, Value, TxProblem)> = vec![
        ("kind", "densai.transfer/2".into(), TxProblem::UnknownKind),
        ("amountYen", "0".into(), TxProblem::Format),
        ("amountYen", "012".into(), TxProblem::Format),
        ("amountYen", "100000000000".into(), TxProblem::Format),
        ("amountYen", "1,000".into(), TxProblem::Format),
        ("amountYen", "１２３".into(), TxProblem::Format),
        ("amountYen", "1e3".into(), TxProblem::Format),
        ("amountYen", 1000.into(), TxProblem::NotAString),
        ("payer.userNo", "１２３４５６７８９".into(), TxProblem::Format),
        ("payer.userNo", "12345678".into(), TxProblem::Format),
        ("counterparty.bankCode", "099".into(), TxProblem::Format),
        ("counterparty.branchCode", "０２".into(), TxProblem::Format),
        ("counterparty.accountNo", "765432１".into(), TxProblem::Format),
        ("counterparty.accountType", "3".into(), TxProblem::Format),
        ("recordNumber", "20261130kg0000000001".into(), TxProblem::Format),
        ("recordNumber", "20261130KG000000001".into(), TxProblem::Format),
        ("dueDate", "2027-02-29".into(), TxProblem::NotADate),
        ("dueDate", "2027-2-26".into(), TxProblem::NotADate),
        ("dueDate", "2027-13-01".into(), TxProblem::NotADate),
        ("recordDate", "２０２６-１２-０１".into(), TxProblem::NotADate),
        ("guarantee", "yes".into(), TxProblem::Format),
        ("newCounterparty", "".into(), TxProblem::Format),
        ("requestVersion", "0".into(), TxProblem::Format),
        ("requestId", "TR 1".into(), TxProblem::Format),
        ("counterparty.name", "".into(), TxProblem::Empty),
        ("counterparty.name", "ア".repeat(81).into(), TxProblem::TooLong),
        ("counterparty.name", "株式会社\u{202E}事商".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "株式会社\u{2066}南\u{2069}".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南\u{200B}部品".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南\u{200D}部品".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "\u{FEFF}南部品".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南部品\n".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南部品\u{7}".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南部品\u{85}".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "南部品\u{E000}".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", "葛\u{E0100}".into(), TxProblem::ForbiddenCharacter),
        ("counterparty.name", " 南部品".into(), TxProblem::ForbiddenCharacter),
        // カ + combining voiced mark: NFC composes it to ガ.
        ("counterparty.name", "カ\u{3099}イシャ".into(), TxProblem::NotNfc),
        ("counterparty.name", "Cafe\u{301}".into(), TxProblem::NotNfc),
        ("payer.bankName", "鍵".repeat(41).into(), TxProblem::TooLong),
        ("payer.name", Value::Null, TxProblem::NotAString),
    ];
    for (field, value, problem) in cases {
        let mut v = golden_json();
        v[field] = value.clone();
        let e = Transaction::from_json(&v).unwrap_err();
        assert_eq!((e.field.as_str(), e.problem), (field, problem), "{field} = {value}");
        let w = e.to_wire();
        assert_eq!(w.code, crate::ErrorCode::TxInvalid { field: field.to_owned() });
        if let Some(s) = value.as_str().filter(|s| s.len() > 2) {
            assert!(!w.message.contains(s), "{}", w.message);
        }
    }
    let mut v = golden_json();
    v.as_object_mut().unwrap().remove("guarantee");
    assert_eq!(Transaction::from_json(&v).unwrap_err(), TxError::new("guarantee", TxProblem::Missing));
    let mut v = golden_json();
    v["memo"] = "x".into();
    assert_eq!(Transaction::from_json(&v).unwrap_err(), TxError::new("memo", TxProblem::UnknownField));
    let mut v = golden_json();
    v["482915"] = "x".into();
    let e = Transaction::from_json(&v).unwrap_err();
    assert!(e.field.contains("not shown") && !e.to_string().contains("482915"), "{e}");
    let mut v = golden_json();
    v["payer"] = json!({"name": "x"});
    assert_eq!(Transaction::from_json(&v).unwrap_err().problem, TxProblem::UnknownField, "flat object only");
    assert_eq!(Transaction::from_json(&json!(["x"])).unwrap_err().problem, TxProblem::NotAnObject);
    let mut v = golden_json();
    v.as_object_mut().unwrap().remove("kind");
    assert_eq!(Transaction::from_json(&v).unwrap_err(), TxError::new("kind", TxProblem::Missing));
    // Allowed: full-width digits and spaces inside a name, half-width kana, a leap day.
    let mut v = golden_json();
    v["counterparty.name"] = "第２営業部　ﾐﾅﾐ".into();
    v["dueDate"] = "2028-02-29".into();
    assert!(Transaction::from_json(&v).is_ok());
}

#[test]
fn limits_of_the_amount() {
    for (s, yen) in [("1", 1u64), ("99999999999", 99_999_999_999)] {
        let mut v = golden_json();
        v["amountYen"] = s.into();
        assert_eq!(Transaction::from_json(&v).unwrap().amount_yen(), yen);
    }
}

#[test]
fn rendering() {
    assert_eq!(amount(1), "1円");
    assert_eq!(amount(999), "999円");
    assert_eq!(amount(1000), "1,000円");
    assert_eq!(amount(12_345_678), "12,345,678円");
    assert_eq!(amount(99_999_999_999), "99,999,999,999円");
    assert_eq!(amount_man(1), "1円");
    assert_eq!(amount_man(10_000), "1万円");
    assert_eq!(amount_man(12_345_678), "1234万5678円");
    assert_eq!(amount_man(100_000_001), "1億1円");
    assert_eq!(amount_man(99_999_999_999), "999億9999万9999円");
    let d = |s| date_ja(Date::parse(s).unwrap());
    assert_eq!(d("2026-11-30"), "2026年11月30日（月）");
    assert_eq!(d("2027-02-26"), "2027年2月26日（金）");
    assert_eq!(d("2028-02-29"), "2028年2月29日（火）");
    assert_eq!(d("2000-01-01"), "2000年1月1日（土）");
    assert_eq!(d("2100-03-01"), "2100年3月1日（月）");
    assert_eq!(Date::parse("2100-02-29"), None, "2100 is not a leap year");
    assert!(Date::parse("2000-02-29").is_some(), "2000 is");
}

#[test]
fn half_width_kana_fold_for_display_only() {
    assert_eq!(fold_halfwidth_kana("ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ"), "カブシキガイシャ ミナミブヒン");
    assert_eq!(fold_halfwidth_kana("ﾊﾟﾝ ｳﾞｨ ｯﾞ ﾞ"), "パン ヴィ ッ゛ ゛");
    assert_eq!(fold_halfwidth_kana("株式会社ABC"), "株式会社ABC");
    // A name at its cap is shown whole: nothing is shortened.
    let long = "ｱ".repeat(text::MAX_NAME);
    assert_eq!(fold_halfwidth_kana(&long), "ア".repeat(text::MAX_NAME));
    // The signed bytes stay the bank's.
    assert_eq!(golden().get("counterparty.name"), Some("ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ"));
}

#[test]
fn confusable_names_are_flagged() {
    for honest in ["株式会社鍵商事", "カブシキガイシャ ミナミブヒン", "ｶﾌﾞｼｷｶﾞｲｼｬ", "ABC Trading", "山口工業", "エース工業", "へいわ", "ヘルスケア", "第２営業部"] {
        assert!(!confusable(honest), "{honest}");
    }
    for lookalike in [
        "АBC Trading",     // Cyrillic А
        "ΑΒC",             // Greek
        "ABC Ｔrading",    // full-width Ｔ among ASCII
        "カブシキ力イシャ", // kanji 力 among katakana
        "山ロ工業",         // katakana ロ between kanji
        "カ一ド",           // kanji 一 for ー
        "へルスケア",       // hiragana へ among katakana
        "カ—ド",            // em dash for ー
    ] {
        assert!(confusable(lookalike), "{lookalike}");
    }
    assert_eq!(skeleton("カブシキ力イシャ"), skeleton("カブシキカイシャ"));
    assert_eq!(skeleton("ｶﾌﾞｼｷｶﾞｲｼｬ"), "カブシキガイシャ");
    assert_eq!(skeleton("АＢC"), "ABC");
    assert_ne!(skeleton("山口"), skeleton("山田"));
}

#[cfg(feature = "tx-core")]
#[test]
fn confirm_request_parses_and_refuses_bad_tx_as_tx_invalid() {
    let req = json!({"id": 7, "cmd": "confirm", "origin": ORIGIN, "nonce": NONCE, "pin": "482915", "issuers": ["MAA="], "tx": golden_json()});
    let r = crate::Request::parse(req.to_string().as_bytes()).unwrap();
    let crate::Command::Confirm { tx, .. } = &r.command else { panic!() };
    assert_eq!(**tx, golden());
    assert_eq!(r.to_json(), req);
    let mut bad = req.clone();
    bad["tx"]["amountYen"] = "１２３".into();
    let e = crate::Request::parse(bad.to_string().as_bytes()).unwrap_err();
    assert_eq!((e.id, e.error.code), (Some(7), crate::ErrorCode::TxInvalid { field: "amountYen".into() }));
    let mut bad = req.clone();
    bad["tx"] = "digest".into();
    let e = crate::Request::parse(bad.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.error.code, crate::ErrorCode::BadRequest, "tx must be the typed object, never a digest");
    let mut bad = req;
    bad["digest"] = "00".into();
    assert_eq!(crate::Request::parse(bad.to_string().as_bytes()).unwrap_err().error.code, crate::ErrorCode::BadRequest);
}

