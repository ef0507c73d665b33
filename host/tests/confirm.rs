//! `confirm` (issue 16) on the real stack — host, pcscd, vpcd, kagi-vtoken — as a bank's page
//! drives it through the extension: the host encodes the body from the typed `tx` itself, the
//! token's own record of what it signed holds the digest recomputed from the bank's copy of the
//! request, the PIN is verified on every confirmation, and the card is reset afterwards.

mod common;

use common::*;
use kagi_proto::{ErrorCode, LoginToken, Nonce, Origin, Transaction, TxSignature};
use kagi_rig::testca::verify_tx;
use kagi_rig::{Host, Rig, VToken};
use serde_json::{json, Value};

/// The bank's record of a 譲渡記録請求, as its database row would give it.
fn bank_row() -> Value {
    json!({
        "kind": "densai.transfer/1", "requestId": "TR-20261130-0007", "requestVersion": "2",
        "recordNumber": "20261130KG0000000007", "amountYen": "3500000", "recordDate": "2026-12-01", "dueDate": "2027-03-31",
        "payer.userNo": "123456789", "payer.name": "株式会社鍵商事", "payer.bankCode": "0999", "payer.bankName": "鍵デモ信用金庫",
        "payer.branchCode": "001", "payer.branchName": "本店", "payer.accountType": "1", "payer.accountNo": "1234567",
        "counterparty.userNo": "987654321", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ", "counterparty.bankCode": "0999",
        "counterparty.bankName": "鍵デモ信用金庫", "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
        "counterparty.accountType": "2", "counterparty.accountNo": "7654321",
        "transferRestricted": "0", "guarantee": "0", "newCounterparty": "1"
    })
}

fn confirm(host: &mut Host, ca: &TestCa, nonce: &Nonce, pin: &str, tx: &Value) -> kagi_proto::Reply {
    host.request(json!({"cmd": "confirm", "origin": ORIGIN, "nonce": nonce.as_str(), "pin": pin, "issuers": issuers(ca), "tx": tx}))
}

/// A token that records what it signs and counts APDUs, with the customer's PIN and the bank's
/// P-256 certificate.
fn recording_token() -> (Rig, VToken, Host, TestCa) {
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).record_signatures(true).count_apdus(true).spawn().expect("virtual token");
    let mut host = Host::spawn().expect("host");
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    let ca = TestCa::new("Kagi Test CA");
    enroll(&mut host, &ca, "P-256", 1);
    (rig, token, host, ca)
}

#[test]
fn confirm_signs_the_body_the_host_encoded_and_the_token_recorded_the_banks_digest() {
    let (_rig, token, mut host, ca) = recording_token();
    let n = nonce();
    let before = token.signed_digests().unwrap().len();
    let signed: TxSignature = confirm(&mut host, &ca, &n, PIN, &bank_row()).into_result().expect("confirm");
    assert_eq!(signed.format, "kagi-tx:1");
    assert_eq!(signed.signature_bytes().unwrap().len(), 64, "ES256 r‖s");

    // The bank's side: the message rebuilt from its own row, never from the reply.
    let row = Transaction::from_json(&bank_row()).unwrap();
    let origin = Origin::parse(ORIGIN).unwrap();
    verify_tx(&signed, ORIGIN, &n, &row).expect("the signature verifies over the bank's row");
    assert_eq!(signed.body_sha256, sha256_hex(&row.encode_body()));
    let digests = token.signed_digests().unwrap();
    assert_eq!(digests.len(), before + 1, "one signature");
    assert_eq!(digests.last().unwrap(), &(0x82, row.digest(&origin, &n).to_vec()), "the token signed the digest of the bank's row");

    // A row that differs in one field (the amount) is not what was signed.
    let mut lowered = bank_row();
    lowered["amountYen"] = "350000".into();
    let lowered = Transaction::from_json(&lowered).unwrap();
    assert!(verify_tx(&signed, ORIGIN, &n, &lowered).is_err());
    assert!(!digests.iter().any(|(_, d)| d == &lowered.digest(&origin, &n).to_vec()));
    // Bound to the origin and the nonce, and never a log-on token.
    assert!(verify_tx(&signed, "https://evil.example", &n, &row).is_err());
    assert!(verify_tx(&signed, ORIGIN, &nonce(), &row).is_err());
    let as_login = LoginToken { format: "kagi-auth:1".into(), certificate: signed.certificate.clone(), algorithm: signed.algorithm, signature: signed.signature.clone() };
    assert!(verify_login(&as_login, ORIGIN, &n).is_err(), "a transaction signature is no log-on");
}

#[test]
fn the_pin_is_verified_on_every_confirmation_and_the_card_is_reset_after() {
    let (_rig, token, mut host, ca) = recording_token();
    let count = || token.apdu_count().unwrap();
    for round in 0..2 {
        let before = count();
        let _: TxSignature = confirm(&mut host, &ca, &nonce(), PIN, &bank_row()).into_result().expect("confirm");
        let d = &count() - &before;
        assert_eq!(d.by_ins.get(&0x20).copied(), Some(1), "round {round}: one VERIFY of the PIN: {d:?}");
        assert!(d.resets >= 1, "round {round}: the card was reset after signing: {d:?}");
    }
    // Nothing of the last confirmation is left: a wrong PIN is wrong, and nothing is signed.
    let signed = token.signed_digests().unwrap().len();
    let r = confirm(&mut host, &ca, &nonce(), "000000", &bank_row());
    assert_eq!(r.error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    assert_eq!(token.signed_digests().unwrap().len(), signed);
    // A log-on only clears the PIN (VERIFY P1=FF), without a reset: the reset is confirm's own.
    let before = count();
    let _: LoginToken = authenticate(&mut host, &ca, &nonce(), PIN).into_result().expect("authenticate");
    let d = &count() - &before;
    assert_eq!(d.resets, 0, "{d:?}");
}

#[test]
fn a_bad_tx_is_tx_invalid_before_any_apdu() {
    let (_rig, token, mut host, ca) = recording_token();
    let before = token.apdu_count().unwrap();
    let signed = token.signed_digests().unwrap().len();
    for (field, value) in [("amountYen", json!("１２３")), ("counterparty.name", json!("南\u{202E}品部")), ("dueDate", json!("2027-02-30")), ("memo", json!("x"))] {
        let mut tx = bank_row();
        tx[field] = value;
        let r = confirm(&mut host, &ca, &nonce(), PIN, &tx);
        assert_eq!(r.error.unwrap().code, ErrorCode::TxInvalid { field: field.into() });
    }
    let r = host.request(json!({"cmd": "confirm", "origin": ORIGIN, "nonce": nonce().as_str(), "pin": PIN, "issuers": issuers(&ca), "tx": "00".repeat(32)}));
    assert_eq!(r.error.unwrap().code, ErrorCode::BadRequest, "a digest is no transaction");
    let d = &token.apdu_count().unwrap() - &before;
    assert_eq!(d.apdus, 0, "nothing reached the token: {d:?}");
    assert_eq!(token.signed_digests().unwrap().len(), signed);
}
