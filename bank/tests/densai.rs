//! The densai screens end to end (issue 16): a logged-on customer registers a 譲渡記録請求, the
//! approval page's calls are made as its script makes them, the real host signs on the virtual
//! token, and the bank approves only what matches its own row. The token's record of what it
//! signed holds the digest recomputed from the bank's database row: what was signed is what
//! the bank approved.

mod common;

use common::*;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, LoginToken, Nonce, Origin, TxSignature};
use kagi_rig::{Host, Rig, VToken};
use kagi_verify::TxStatus;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const NEW_PIN: &str = "471129";

struct Customer {
    _rig: Rig,
    token: VToken,
    host: Host,
    bank: TestBank,
    client: Client,
    _dir: tempfile::TempDir,
}

/// The demo bank, a token recording what it signs with the bank's certificate on it, and a
/// browser session logged on with it.
fn logged_on_customer() -> Customer {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).record_signatures(true).spawn().expect("virtual token");
    let mut host = Host::spawn().expect("host");
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let begin: EnrollBeginResult = host
        .request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":PIN,"newPin":NEW_PIN,"algorithm":"P-256","issuers":bank.issuers()}))
        .into_result()
        .expect("enroll.begin");
    let r = c.submit_csr(&unb64(&begin.csr));
    assert_eq!(r.status, 201, "{}", r.body);
    let _: EnrollFinishResult = host
        .request(json!({"cmd":"enroll.finish","origin":bank.origin,"certificate":r.json()["certificate"]}))
        .into_result()
        .expect("enroll.finish");
    let mut client = bank.client();
    let nonce = client.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
    let token_: LoginToken = host
        .request(json!({"cmd":"authenticate","origin":bank.origin,"nonce":nonce,"pin":NEW_PIN,"issuers":bank.issuers()}))
        .into_result()
        .expect("authenticate");
    let r = client.post_json("/api/login", &json!({"nonce": nonce, "token": token_}));
    assert_eq!(r.status, 200, "{}", r.body);
    Customer { _rig: rig, token, host, bank, client, _dir: dir }
}

/// The 譲渡記録請求 form's fields.
fn form() -> Value {
    json!({
        "counterparty.userNo": "987654321", "counterparty.name": "ｶﾌﾞｼｷｶﾞｲｼｬ ﾐﾅﾐﾌﾞﾋﾝ", "counterparty.bankCode": "0999",
        "counterparty.bankName": "かぎ信用金庫", "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
        "counterparty.accountType": "1", "counterparty.accountNo": "7654321", "amountYen": "12345678", "dueDate": "2027-02-26"
    })
}

impl Customer {
    fn register(&mut self) -> String {
        let r = self.client.post_json("/api/densai/transfer", &form());
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["requestId"].as_str().unwrap().to_owned()
    }

    /// What the approval page's script does: challenge, Kagi (here the host directly, with the
    /// `tx` the page hands over, possibly altered by `tamper`), post the result.
    fn approve(&mut self, id: &str, tamper: impl FnOnce(&mut Value)) -> (String, Resp) {
        let ch = self.client.post_json("/api/densai/challenge", &json!({"requestId": id}));
        assert_eq!(ch.status, 200, "{}", ch.body);
        let (nonce, mut tx) = (ch.json()["nonce"].as_str().unwrap().to_owned(), ch.json()["tx"].clone());
        tamper(&mut tx);
        let signed: TxSignature = self
            .host
            .request(json!({"cmd":"confirm","origin":self.bank.origin,"nonce":nonce,"pin":NEW_PIN,"issuers":self.bank.issuers(),"tx":tx}))
            .into_result()
            .expect("confirm");
        let r = self.client.post_json("/api/densai/confirm", &json!({"requestId": id, "nonce": nonce, "confirmation": signed}));
        (nonce, r)
    }

    fn status(&self, id: &str) -> TxStatus {
        self.bank.bank.db.densai_request(id).unwrap().unwrap().status
    }
}

#[test]
fn an_honest_transfer_is_approved_and_the_token_signed_the_digest_of_the_banks_row() {
    let mut c = logged_on_customer();
    let id = c.register();
    let page = c.client.get(&format!("/densai/approve?id={id}"));
    assert_eq!(page.status, 200);
    for shown in ["承認", "12,345,678円", "1234万5678円", "カブシキガイシャ ミナミブヒン", "2027年2月26日（金）", "初めての相手先です", "当座"] {
        assert!(page.body.contains(shown), "{shown} not on the approval page");
    }
    assert_eq!(c.status(&id), TxStatus::AwaitingApproval);
    let (nonce, r) = c.approve(&id, |_| {});
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "approved");
    assert_eq!(c.status(&id), TxStatus::Approved);

    // From the bank's database row, recompute what must have been signed, and find it in the
    // token's own record.
    let row = c.bank.bank.db.densai_request(&id).unwrap().unwrap();
    let origin = Origin::parse(&c.bank.origin).unwrap();
    let digest = row.tx.digest(&origin, &Nonce::parse(&nonce).unwrap());
    let signed = c.token.signed_digests().unwrap();
    assert!(signed.iter().any(|(_, d)| d[..] == digest[..]), "the token's record holds the digest of the bank's row");
    let evidence = c.bank.bank.db.densai_evidence(&id).unwrap().expect("evidence stored");
    assert_eq!(Sha256::digest(&evidence.message)[..], digest[..], "the stored message is the one signed");
    assert_eq!(evidence.message.len(), 105);

    // Approved once: a new challenge is refused, and the list shows it approved.
    let ch = c.client.post_json("/api/densai/challenge", &json!({"requestId": id}));
    assert_eq!((ch.status, ch.code()), (403, "TX_NOT_AWAITING_APPROVAL".to_owned()));
    let list = c.client.get("/api/densai/requests").json();
    assert_eq!(list["requests"][0]["status"], "approved");
    // The next request to the same counterparty is no longer to a new one.
    let id2 = c.register();
    assert!(!c.bank.bank.db.densai_request(&id2).unwrap().unwrap().tx.new_counterparty());
}

#[test]
fn a_lowered_amount_handed_to_kagi_is_tx_mismatch_and_nothing_is_approved() {
    let mut c = logged_on_customer();
    let mut bad = form();
    bad["amountYen"] = json!("１２３");
    let r = c.client.post_json("/api/densai/transfer", &bad);
    assert_eq!((r.status, r.code()), (400, "TX_INVALID".to_owned()), "{}", r.body);
    assert!(r.body.contains("amountYen") && !r.body.contains("１２３"), "{}", r.body);
    let id = c.register();
    let (_, r) = c.approve(&id, |tx| tx["amountYen"] = json!("1234"));
    assert_eq!((r.status, r.code()), (403, "TX_MISMATCH".to_owned()), "{}", r.body);
    assert_eq!(c.status(&id), TxStatus::AwaitingApproval);
    assert!(c.bank.bank.db.densai_evidence(&id).unwrap().is_none());
    assert!(c.bank.log.lines().iter().any(|l| l.contains("densai confirmation refused: TX_MISMATCH")));
}

#[test]
fn a_request_edited_after_the_challenge_is_tx_changed() {
    let mut c = logged_on_customer();
    let id = c.register();
    let ch = c.client.post_json("/api/densai/challenge", &json!({"requestId": id}));
    let (nonce, tx) = (ch.json()["nonce"].as_str().unwrap().to_owned(), ch.json()["tx"].clone());
    kagi_bank::densai::edit(&c.bank.bank.db, &id, "amountYen", "22345678", c.bank.clock_now()).unwrap();
    let signed: TxSignature = c
        .host
        .request(json!({"cmd":"confirm","origin":c.bank.origin,"nonce":nonce,"pin":NEW_PIN,"issuers":c.bank.issuers(),"tx":tx}))
        .into_result()
        .unwrap();
    let r = c.client.post_json("/api/densai/confirm", &json!({"requestId": id, "nonce": nonce, "confirmation": signed}));
    assert_eq!((r.status, r.code()), (409, "TX_CHANGED".to_owned()), "{}", r.body);
    assert_eq!(c.status(&id), TxStatus::AwaitingApproval);
}

#[test]
fn registration_applies_the_text_rules_and_needs_a_log_on() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut anon = bank.client();
    assert_eq!(anon.post_json("/api/densai/transfer", &form()).status, 401);
    assert_eq!(anon.get("/densai").location.as_deref(), Some("/?reason=session"));
    // The same rules as Kagi's window, checked directly against the bank's registration.
    let customer = bank.bank.db.customer_by_contract(CONTRACT).unwrap().unwrap();
    for (field, value) in [("amountYen", "１２３"), ("counterparty.accountNo", "765432"), ("counterparty.name", "南\u{202E}品部"), ("dueDate", "2027-02-30")] {
        let mut f = form();
        f[field] = json!(value);
        let pairs: Vec<(String, String)> = f.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
        match kagi_bank::densai::register(&bank.bank.db, &customer, &pairs, bank.clock_now()) {
            Err(kagi_bank::BankError::TxInvalid(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(bank.bank.db.densai_requests_of(customer.id).unwrap().is_empty());
}
