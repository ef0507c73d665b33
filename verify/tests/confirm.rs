//! Transaction confirmations made by the real host on the virtual token, verified as the bank
//! does before it executes a request (`Verifier::confirm`), and every refusal issue 16 names:
//! any single field changed, a signature for request A posted for B, a spent nonce, a log-on
//! nonce or token, another origin, a request edited after the challenge, another customer's
//! certificate, a revoked one.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::SystemTime;

use kagi_proto::{LoginToken, Transaction, TxSignature};
use kagi_rig::testca::{b64, TestCa};
use kagi_rig::{Host, Rig, VToken};
use kagi_verify::{
    issue_nonce, issue_tx_challenge, CertInfo, CertStatus, CertificateRecords, MemoryNonceStore, MemoryTxChallengeStore, Origin, StoreError,
    TxConfirmation, TxEvidence, TxRecord, TxRecords, TxStatus, TxStores, Verifier, VerifyError,
};
use serde_json::{json, Value};

const ORIGIN: &str = "https://bank.example";
const PIN: &str = "482915";
/// The customer of the token's certificate (`CN=SH001 SH001001 1898`).
const CUSTOMER: &str = "SH001001";

/// Request A as the bank's row holds it.
fn row_a() -> Value {
    json!({
        "kind": "densai.transfer/1", "requestId": "TR-A", "requestVersion": "1",
        "recordNumber": "20261130KG0000000001", "amountYen": "12345678", "recordDate": "2026-12-01", "dueDate": "2027-02-26",
        "payer.userNo": "123456789", "payer.name": "株式会社鍵商事", "payer.bankCode": "0999", "payer.bankName": "鍵デモ信用金庫",
        "payer.branchCode": "001", "payer.branchName": "本店", "payer.accountType": "1", "payer.accountNo": "1234567",
        "counterparty.userNo": "987654321", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ", "counterparty.bankCode": "0999",
        "counterparty.bankName": "鍵デモ信用金庫", "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
        "counterparty.accountType": "2", "counterparty.accountNo": "7654321",
        "transferRestricted": "0", "guarantee": "1", "newCounterparty": "1"
    })
}

/// A request in which every value differs from A's (for single-field substitutions).
fn row_other() -> Value {
    json!({
        "kind": "densai.issue.debtor/1", "requestId": "TR-B", "requestVersion": "2",
        "recordNumber": "20261130KG0000000002", "amountYen": "1234567", "recordDate": "2026-12-02", "dueDate": "2027-02-27",
        "payer.userNo": "123456780", "payer.name": "株式会社鍵商亊", "payer.bankCode": "0998", "payer.bankName": "鍵デモ信用銀庫",
        "payer.branchCode": "003", "payer.branchName": "本店営業部", "payer.accountType": "2", "payer.accountNo": "1234568",
        "counterparty.userNo": "987654320", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾟﾝ", "counterparty.bankCode": "0997",
        "counterparty.bankName": "鍵デモ信用組合", "counterparty.branchCode": "004", "counterparty.branchName": "駅南支店",
        "counterparty.accountType": "9", "counterparty.accountNo": "7654320",
        "transferRestricted": "1", "guarantee": "0", "newCounterparty": "0"
    })
}

fn tx(v: &Value) -> Transaction {
    Transaction::from_json(v).unwrap()
}

/// The bank's requests, in memory: approval and evidence under one lock (one transaction).
#[derive(Default)]
struct Requests {
    rows: Mutex<HashMap<String, TxRecord>>,
    evidence: Mutex<HashMap<String, TxEvidence>>,
}

impl Requests {
    fn put(&self, customer: &str, row: &Value) {
        let t = tx(row);
        self.rows.lock().unwrap().insert(t.request_id().to_owned(), TxRecord { tx: t, customer: customer.into(), status: TxStatus::AwaitingApproval });
    }
    fn status(&self, id: &str) -> TxStatus {
        self.rows.lock().unwrap()[id].status
    }
}

impl TxRecords for Requests {
    fn load(&self, request_id: &str) -> Result<Option<TxRecord>, StoreError> {
        Ok(self.rows.lock().unwrap().get(request_id).cloned())
    }
    fn approve(&self, request_id: &str, version: &str, evidence: &TxEvidence) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        match rows.get_mut(request_id) {
            Some(r) if r.status == TxStatus::AwaitingApproval && r.tx.request_version() == version => {
                r.status = TxStatus::Approved;
                self.evidence.lock().unwrap().insert(request_id.into(), evidence.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[derive(Default)]
struct Certs {
    revoked: Mutex<HashSet<String>>,
}

impl CertificateRecords for Certs {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError> {
        Ok(if self.revoked.lock().unwrap().contains(&cert.serial) { CertStatus::Revoked } else { CertStatus::Active })
    }
}

/// The bank and the customer's PC: a token with the bank's certificate for `common_name`.
struct World {
    _rig: Rig,
    _token: VToken,
    host: Host,
    ca: TestCa,
    cert: Vec<u8>,
    verifier: Verifier,
    challenges: MemoryTxChallengeStore,
    login_nonces: MemoryNonceStore,
    requests: Requests,
    certs: Certs,
}

impl World {
    fn new(common_name: &str) -> World {
        let rig = Rig::start().expect("rig");
        let token = VToken::builder().reader(0).pin(PIN).spawn().expect("virtual token");
        let mut host = Host::spawn().expect("host");
        let ca = TestCa::new("Kagi Test CA");
        let begin: kagi_proto::EnrollBeginResult = host
            .request(json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":PIN,"algorithm":"P-256","issuers":[b64(&ca.der)]}))
            .into_result()
            .expect("enroll.begin");
        let cert = ca.issue_for(common_name, &begin.csr, 1, 0, 365);
        let _: kagi_proto::EnrollFinishResult =
            host.request(json!({"cmd":"enroll.finish","origin":ORIGIN,"certificate":b64(&cert)})).into_result().expect("enroll.finish");
        let verifier = Verifier::new([ca.der.clone()]).unwrap();
        let requests = Requests::default();
        requests.put(CUSTOMER, &row_a());
        requests.put(CUSTOMER, &json!(row_other()));
        World {
            _rig: rig,
            _token: token,
            host,
            ca,
            cert,
            verifier,
            challenges: MemoryTxChallengeStore::new(),
            login_nonces: MemoryNonceStore::new(),
            requests,
            certs: Certs::default(),
        }
    }

    /// The approval page: a challenge bound to (session, request, its current version).
    fn challenge(&self, request_id: &str) -> String {
        let version = self.requests.rows.lock().unwrap()[request_id].tx.request_version().to_owned();
        issue_tx_challenge(&self.challenges, "session-1", request_id, &version, SystemTime::now()).unwrap().as_str().to_owned()
    }

    /// The customer confirms `tx` in Kagi's window for the page at `origin`.
    fn sign(&mut self, origin: &str, nonce: &str, tx: &Value) -> TxSignature {
        let r = self.host.request(json!({"cmd":"confirm","origin":origin,"nonce":nonce,"pin":PIN,"issuers":[b64(&self.ca.der)],"tx":tx}));
        r.into_result().expect("confirm")
    }

    /// The bank's confirmation endpoint.
    fn verify(&self, signed: &TxSignature, request_id: &str, nonce: &str, session_customer: &str) -> Result<kagi_verify::TxApproval, VerifyError> {
        let origin = Origin::parse(ORIGIN).unwrap();
        let c = TxConfirmation { signed, request_id, nonce, session: "session-1", session_customer, expected_origin: &origin };
        let stores = TxStores { challenges: &self.challenges, login_nonces: &self.login_nonces, requests: &self.requests, certificates: &self.certs };
        self.verifier.confirm(c, stores, SystemTime::now())
    }
}

fn code<T>(r: Result<T, VerifyError>) -> &'static str {
    r.err().map_or("OK", |e| e.code())
}

#[test]
fn an_honest_confirmation_is_approved_once_with_its_evidence() {
    let mut w = World::new("SH001 SH001001 1898");
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &row_a());
    let approval = w.verify(&signed, "TR-A", &n, CUSTOMER).expect("approved");
    assert_eq!((approval.request_id.as_str(), approval.version.as_str()), ("TR-A", "1"));
    assert_eq!(w.requests.status("TR-A"), TxStatus::Approved);
    let stored = w.requests.evidence.lock().unwrap()["TR-A"].clone();
    let nonce = kagi_proto::Nonce::parse(&n).unwrap();
    assert_eq!(stored.message, tx(&row_a()).signed_message(&Origin::parse(ORIGIN).unwrap(), &nonce), "the message rebuilt from the bank's row");
    assert_eq!(stored.message.len(), 105);
    assert_eq!(stored.certificate_sha256, kagi_rig::testca::sha256_hex(&w.cert));
    assert_eq!(stored.signature, signed.signature_bytes().unwrap());
    // The same confirmation again: the challenge is spent.
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "NONCE_REPLAYED");
    // A fresh challenge for an approved request: not awaiting approval any more.
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "TX_NOT_AWAITING_APPROVAL");
}

#[test]
fn changing_any_single_field_is_tx_mismatch_and_nothing_is_approved() {
    let mut w = World::new("SH001 SH001001 1898");
    let (a, other) = (row_a(), row_other());
    for (name, _) in tx(&a).fields() {
        let mut tampered = a.clone();
        tampered[name] = other[name].clone();
        let n = w.challenge("TR-A");
        let signed = w.sign(ORIGIN, &n, &tampered);
        assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "TX_MISMATCH", "{name}");
        assert_eq!(w.requests.status("TR-A"), TxStatus::AwaitingApproval, "{name}");
    }
    // And the honest one still goes through.
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &a);
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "OK");
}

#[test]
fn a_signature_for_request_a_is_refused_for_b() {
    let mut w = World::new("SH001 SH001001 1898");
    let n_a = w.challenge("TR-A");
    let signed_a = w.sign(ORIGIN, &n_a, &row_a());
    // Posted for B with A's challenge: the challenge is bound to A.
    assert_eq!(code(w.verify(&signed_a, "TR-B", &n_a, CUSTOMER)), "NONCE_WRONG_REQUEST");
    // Posted for B with B's challenge: B's row and challenge give another message.
    let n_b = w.challenge("TR-B");
    assert_eq!(code(w.verify(&signed_a, "TR-B", &n_b, CUSTOMER)), "TX_MISMATCH");
    assert_eq!(w.requests.status("TR-B"), TxStatus::AwaitingApproval);
}

#[test]
fn spent_nonces_log_on_nonces_and_log_on_tokens_are_refused() {
    let mut w = World::new("SH001 SH001001 1898");
    // A failed attempt spends the challenge: the right signature cannot use it afterwards.
    let n = w.challenge("TR-A");
    let mut lowered = row_a();
    lowered["amountYen"] = "1234567".into();
    let wrong = w.sign(ORIGIN, &n, &lowered);
    assert_eq!(code(w.verify(&wrong, "TR-A", &n, CUSTOMER)), "TX_MISMATCH");
    let right = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&right, "TR-A", &n, CUSTOMER)), "NONCE_REPLAYED");

    // A log-on nonce is no transaction challenge (and is spent for log-on too).
    let login_nonce = issue_nonce(&w.login_nonces, "session-1", SystemTime::now()).unwrap();
    let signed = w.sign(ORIGIN, login_nonce.as_str(), &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", login_nonce.as_str(), CUSTOMER)), "NONCE_WRONG_PURPOSE");
    assert!(matches!(kagi_verify::redeem_nonce(&w.login_nonces, login_nonce.as_str(), "session-1", SystemTime::now()), Err(VerifyError::NonceReplayed)));
    // A transaction challenge never logs anyone on.
    let n = w.challenge("TR-A");
    assert!(matches!(kagi_verify::redeem_nonce(&w.login_nonces, &n, "session-1", SystemTime::now()), Err(VerifyError::NonceUnknown)));

    // A log-on token posted as a confirmation: refused by its format, and relabelled by its
    // signature (another domain, another message).
    let n = w.challenge("TR-A");
    let login: LoginToken = w
        .host
        .request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n,"pin":PIN,"issuers":[b64(&w.ca.der)]}))
        .into_result()
        .expect("authenticate");
    let posed = TxSignature { format: login.format.clone(), certificate: login.certificate.clone(), algorithm: login.algorithm, signature: login.signature.clone(), body_sha256: String::new() };
    assert_eq!(code(w.verify(&posed, "TR-A", &n, CUSTOMER)), "UNSUPPORTED_FORMAT");
    let n = w.challenge("TR-A");
    let login: LoginToken = w
        .host
        .request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":n,"pin":PIN,"issuers":[b64(&w.ca.der)]}))
        .into_result()
        .expect("authenticate");
    let relabelled = TxSignature { format: "kagi-tx:1".into(), ..posed };
    let relabelled = TxSignature { signature: login.signature, ..relabelled };
    assert_eq!(code(w.verify(&relabelled, "TR-A", &n, CUSTOMER)), "TX_MISMATCH");
    assert_eq!(w.requests.status("TR-A"), TxStatus::AwaitingApproval);
}

#[test]
fn another_origin_is_tx_mismatch() {
    let mut w = World::new("SH001 SH001001 1898");
    let n = w.challenge("TR-A");
    let signed = w.sign("https://bank.example.evil.example", &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "TX_MISMATCH");
}

#[test]
fn a_request_edited_after_the_challenge_is_tx_changed() {
    let mut w = World::new("SH001 SH001001 1898");
    let n = w.challenge("TR-A");
    // The bank's clerk (or the customer in another tab) edits the request: a new version.
    let mut edited = row_a();
    edited["requestVersion"] = "2".into();
    edited["amountYen"] = "99999".into();
    w.requests.put(CUSTOMER, &edited);
    let signed = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "TX_CHANGED");
    assert_eq!(w.requests.status("TR-A"), TxStatus::AwaitingApproval);
}

#[test]
fn another_customers_certificate_or_request_is_refused() {
    // The token's certificate is for customer SH001002; the request is SH001001's.
    let mut w = World::new("SH001 SH001002 1898");
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "CERT_OTHER_CUSTOMER");
    // A session of SH001002 approving SH001001's request.
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, "SH001002")), "TX_OTHER_CUSTOMER");
    assert_eq!(w.requests.status("TR-A"), TxStatus::AwaitingApproval);
}

#[test]
fn a_revoked_certificate_is_refused() {
    let mut w = World::new("SH001 SH001001 1898");
    w.certs.revoked.lock().unwrap().insert(CertInfo::parse(&w.cert).unwrap().serial);
    let n = w.challenge("TR-A");
    let signed = w.sign(ORIGIN, &n, &row_a());
    assert_eq!(code(w.verify(&signed, "TR-A", &n, CUSTOMER)), "CERT_REVOKED");
    assert_eq!(w.requests.status("TR-A"), TxStatus::AwaitingApproval);
}
