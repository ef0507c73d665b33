//! Bank instances behind a load balancer, on one real PostgreSQL (a throwaway cluster started
//! by the test: `kagi_rig::Postgres`). Two instances share the database and the CA files and
//! serve one public origin (`https://ib.kagi.test`, its `Host` sent as the TLS-terminating load
//! balancer would):
//! a nonce issued by one is redeemed at the other; 100 nonces with 10 concurrent redeemers each,
//! spread over both instances, give exactly 100 log-ons; a certificate revoked through one is
//! refused by the other, and both serve a CRL listing it. When PostgreSQL cannot be started the
//! test prints `kagi-skip <test>: <reason>` and does nothing (scripts/test.sh counts it as a
//! skip, never as a pass).
//!
//! Log-ons are signed with a software P-256 key whose certificate the bank issued through its
//! own acquisition API: this file tests the bank side (shared nonces, sessions, records); the
//! token side of the same log-on is `token_flows.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{manual_clock, TestBank, CONTRACT, PASSWORD};
use kagi_bank::db::Database;
use kagi_rig::Postgres;
use kagi_verify::{LoginToken, Nonce, Origin, SignatureAlgorithm};
use serde_json::{json, Value};

const PUBLIC_HOST: &str = "ib.kagi.test";
const PUBLIC_ORIGIN: &str = "https://ib.kagi.test";

/// A throwaway cluster, or the skip line (`kagi_rig::skip`, counted by the test command) and
/// `None`.
fn cluster(test: &str) -> Option<Postgres> {
    match Postgres::start() {
        Ok(pg) => Some(pg),
        Err(reason) => {
            kagi_rig::skip(&format!("postgres::{test}"), &reason);
            None
        }
    }
}

/// Two instances on `pg`'s database `db`, sharing one data directory (the CA).
fn two_instances(pg: &Postgres, db: &str, dir: &std::path::Path) -> (TestBank, TestBank) {
    pg.create_database(db).expect("createdb");
    let clock = manual_clock();
    let start = |demo| TestBank::start_on(dir, clock.clone(), demo, Database::Postgres(pg.url(db)), &[PUBLIC_ORIGIN], |b| b);
    // The first creates the CA, the tables and the demo customer; the second finds them.
    let a = start(true);
    let b = start(true);
    (a, b)
}

/// One HTTP/1.1 exchange with an instance, `Host` set to the public origin's, no redirects.
struct Resp {
    status: u16,
    cookie: Option<String>,
    body: Value,
}

fn http(port: u16, method: &str, path: &str, cookie: Option<&str>, body: &Value) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let payload = body.to_string();
    let cookie_line = cookie.map(|c| format!("Cookie: {}={c}\r\n", kagi_bank::session::COOKIE_NAME)).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\n{cookie_line}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status");
    let prefix = format!("{}=", kagi_bank::session::COOKIE_NAME);
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .filter_map(|v| v.strip_prefix(&prefix))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|v| !v.is_empty());
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    Resp { status, cookie, body }
}

/// A customer's software key with the certificate the bank issued for it (acquired at `port`).
struct Customer {
    key: ring::signature::EcdsaKeyPair,
    cert_der: Vec<u8>,
    serial: String,
}

fn acquire(port: u16) -> Customer {
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(vec![]).unwrap().serialize_request(&key).unwrap().der().to_vec();
    let start = http(port, "POST", "/api/acquire/start", None, &json!({"contractNumber": CONTRACT, "password": PASSWORD}));
    assert_eq!(start.status, 200, "{}", start.body);
    let issued = http(port, "POST", "/api/csr", start.cookie.as_deref(), &json!({"csr": common::b64(&csr)}));
    assert_eq!(issued.status, 201, "{}", issued.body);
    let cert_der = common::unb64(issued.body["certificate"].as_str().unwrap());
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &ring::rand::SystemRandom::new()).unwrap();
    Customer { key, cert_der, serial: issued.body["serial"].as_str().unwrap().to_owned() }
}

impl Customer {
    /// The login token for `nonce` on the public origin (what the extension would return).
    fn token(&self, nonce: &str) -> Value {
        let message = kagi_proto::login::signed_message(&Origin::parse(PUBLIC_ORIGIN).unwrap(), &Nonce::parse(nonce).unwrap());
        let sig = self.key.sign(&ring::rand::SystemRandom::new(), &message).unwrap();
        serde_json::to_value(LoginToken::new(&self.cert_der, SignatureAlgorithm::ES256, sig.as_ref())).unwrap()
    }
}

/// A session and a nonce from the instance at `port`.
fn nonce(port: u16) -> (String, String) {
    let r = http(port, "POST", "/api/nonce", None, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    (r.cookie.expect("session cookie"), r.body["nonce"].as_str().unwrap().to_owned())
}

#[test]
fn a_nonce_issued_by_one_instance_logs_on_at_the_other_once() {
    let Some(pg) = cluster("a_nonce_issued_by_one_instance_logs_on_at_the_other_once") else { return };
    let dir = kagi_rig::temp_dir().unwrap();
    let (a, b) = two_instances(&pg, "handover", dir.path());
    let customer = acquire(a.port);

    let (cookie, n) = nonce(a.port);
    let login = json!({"nonce": n, "token": customer.token(&n)});
    let at_b = http(b.port, "POST", "/api/login", Some(&cookie), &login);
    assert_eq!(at_b.status, 200, "B redeems A's nonce: {}", at_b.body);
    assert_eq!(at_b.body["certificate"]["serial"], customer.serial.as_str());
    // The session B made at log-on is good at A too (sessions are shared).
    let session = http(a.port, "GET", "/api/session", at_b.cookie.as_deref(), &Value::Null);
    assert_eq!(session.body["loggedOn"], true, "{}", session.body);
    // A replay at either instance is a replay, not an unknown nonce.
    for port in [a.port, b.port] {
        let again = http(port, "POST", "/api/login", Some(&cookie), &login);
        assert_eq!((again.status, again.body["error"]["code"].as_str()), (401, Some("NONCE_REPLAYED")), "{}", again.body);
    }
    // Expiry is judged on the bank's clock (the instances' shared manual clock here), not the
    // database's: a nonce from A, five minutes and a second later at B, has expired.
    let (cookie, n) = nonce(a.port);
    a.clock.advance(kagi_verify::NONCE_TTL + Duration::from_secs(1));
    let late = http(b.port, "POST", "/api/login", Some(&cookie), &json!({"nonce": n, "token": customer.token(&n)}));
    assert_eq!(late.body["error"]["code"], "NONCE_EXPIRED", "{}", late.body);
    // An instance whose own database never saw the nonce would say NONCE_UNKNOWN: a bank on
    // SQLite, with the same CA, does.
    let alone = TestBank::start_on(dir.path(), manual_clock(), true, Database::Sqlite, &[PUBLIC_ORIGIN], |b| b);
    let (cookie, n) = nonce(a.port);
    let r = http(alone.port, "POST", "/api/login", Some(&cookie), &json!({"nonce": n, "token": customer.token(&n)}));
    assert_eq!(r.body["error"]["code"], "NONCE_UNKNOWN", "{}", r.body);
}

#[test]
fn a_hundred_nonces_with_ten_concurrent_redeemers_each_log_on_a_hundred_times() {
    let Some(pg) = cluster("a_hundred_nonces_with_ten_concurrent_redeemers_each_log_on_a_hundred_times") else { return };
    let dir = kagi_rig::temp_dir().unwrap();
    let (a, b) = two_instances(&pg, "race", dir.path());
    let customer = acquire(b.port);
    const NONCES: usize = 100;
    const REDEEMERS: usize = 10;
    // Issued alternately by A and B; each with its session and the signed log-on.
    let attempts: Arc<Vec<(String, Value)>> = Arc::new(
        (0..NONCES)
            .map(|i| {
                let (cookie, n) = nonce(if i % 2 == 0 { a.port } else { b.port });
                let body = json!({"nonce": n, "token": customer.token(&n)});
                (cookie, body)
            })
            .collect(),
    );
    // Ten redeemers, five per instance, go through the same nonces in the same order at once:
    // every nonce is raced by all ten.
    let barrier = Arc::new(Barrier::new(REDEEMERS));
    let threads: Vec<_> = (0..REDEEMERS)
        .map(|r| {
            let port = if r % 2 == 0 { a.port } else { b.port };
            let (attempts, barrier) = (attempts.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                attempts
                    .iter()
                    .map(|(cookie, body)| {
                        let resp = http(port, "POST", "/api/login", Some(cookie), body);
                        (resp.status, resp.body["error"]["code"].as_str().unwrap_or("").to_owned())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<Vec<(u16, String)>> = threads.into_iter().map(|t| t.join().expect("redeemer")).collect();
    let mut wins_per_nonce = vec![0usize; NONCES];
    let mut wins_per_instance = [0usize; 2];
    for (r, outcomes) in results.iter().enumerate() {
        for (i, (status, code)) in outcomes.iter().enumerate() {
            match status {
                200 => {
                    wins_per_nonce[i] += 1;
                    wins_per_instance[r % 2] += 1;
                }
                401 => assert_eq!(code, "NONCE_REPLAYED", "nonce {i}, redeemer {r}"),
                other => panic!("nonce {i}, redeemer {r}: HTTP {other} {code}"),
            }
        }
    }
    assert_eq!(wins_per_nonce.iter().sum::<usize>(), NONCES, "exactly one log-on per nonce in all");
    assert!(wins_per_nonce.iter().all(|&w| w == 1), "each nonce exactly once: {wins_per_nonce:?}");
    println!("log-ons won at A: {}, at B: {}", wins_per_instance[0], wins_per_instance[1]);
}

#[test]
fn a_certificate_revoked_through_one_instance_is_refused_by_the_other() {
    let Some(pg) = cluster("a_certificate_revoked_through_one_instance_is_refused_by_the_other") else { return };
    let dir = kagi_rig::temp_dir().unwrap();
    let (a, b) = two_instances(&pg, "revocation", dir.path());
    let customer = acquire(a.port);
    let (cookie, n) = nonce(b.port);
    let ok = http(b.port, "POST", "/api/login", Some(&cookie), &json!({"nonce": n, "token": customer.token(&n)}));
    assert_eq!(ok.status, 200, "before: {}", ok.body);

    // The operator's reissue, run against the shared database (as beside instance A).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kagi-bank"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--database")
        .arg(pg.url("revocation"))
        .args(["reissue", CONTRACT])
        .output()
        .unwrap();
    assert!(out.status.success(), "reissue: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 certificate(s) revoked"), "{}", String::from_utf8_lossy(&out.stdout));

    for port in [b.port, a.port] {
        let (cookie, n) = nonce(port);
        let r = http(port, "POST", "/api/login", Some(&cookie), &json!({"nonce": n, "token": customer.token(&n)}));
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (401, Some("CERT_REVOKED")), "{}", r.body);
    }
    // Both instances' CRLs list it (made from the shared records).
    for bank in [&a, &b] {
        let crl = ureq::get(&format!("{}/ca.crl", bank.base)).call().unwrap().into_body().read_to_vec().unwrap();
        let serial = hex::decode(&customer.serial).unwrap();
        assert!(crl.windows(serial.len()).any(|w| w == serial.as_slice()), "CRL of {} lists the serial", bank.base);
    }
}

#[test]
fn a_densai_request_registered_at_one_instance_is_approved_at_the_other_once() {
    let test = "a_densai_request_registered_at_one_instance_is_approved_at_the_other_once";
    let Some(pg) = cluster(test) else { return };
    let dir = kagi_rig::temp_dir().unwrap();
    let (a, b) = two_instances(&pg, "densai", dir.path());
    let customer = acquire(a.port);
    let (cookie, n) = nonce(a.port);
    let login = http(a.port, "POST", "/api/login", Some(&cookie), &json!({"nonce": n, "token": customer.token(&n)}));
    assert_eq!(login.status, 200, "{}", login.body);
    let session = login.cookie.expect("session");

    let form = json!({
        "counterparty.userNo": "987654321", "counterparty.name": "株式会社南部品", "counterparty.bankCode": "0999",
        "counterparty.bankName": "かぎ信用金庫", "counterparty.branchCode": "002", "counterparty.branchName": "駅前支店",
        "counterparty.accountType": "1", "counterparty.accountNo": "7654321", "amountYen": "12345678", "dueDate": "2027-02-26"
    });
    let r = http(a.port, "POST", "/api/densai/transfer", Some(&session), &form);
    assert_eq!(r.status, 201, "registered at A: {}", r.body);
    let id = r.body["requestId"].as_str().unwrap().to_owned();
    let listed = http(b.port, "GET", "/api/densai/requests", Some(&session), &Value::Null);
    assert_eq!(listed.body["requests"][0]["requestId"], id.as_str(), "B lists it: {}", listed.body);

    // The challenge from B, the confirmation posted at A (what the token would sign).
    let ch = http(b.port, "POST", "/api/densai/challenge", Some(&session), &json!({"requestId": id}));
    assert_eq!(ch.status, 200, "{}", ch.body);
    let nonce = ch.body["nonce"].as_str().unwrap().to_owned();
    let tx = kagi_proto::tx::Transaction::from_json(&ch.body["tx"]).unwrap();
    let message = tx.signed_message(&Origin::parse(PUBLIC_ORIGIN).unwrap(), &Nonce::parse(&nonce).unwrap());
    let sig = customer.key.sign(&ring::rand::SystemRandom::new(), &message).unwrap();
    let signed = kagi_proto::tx::TxSignature::new(&customer.cert_der, SignatureAlgorithm::ES256, sig.as_ref(), &tx.body_sha256());
    let confirm = json!({"requestId": id, "nonce": nonce, "confirmation": signed});
    let ok = http(a.port, "POST", "/api/densai/confirm", Some(&session), &confirm);
    assert_eq!((ok.status, ok.body["status"].as_str()), (200, Some("approved")), "{}", ok.body);
    // Spent: the same confirmation is refused at both instances, and the evidence is stored once.
    for port in [a.port, b.port] {
        let again = http(port, "POST", "/api/densai/confirm", Some(&session), &confirm);
        assert_ne!(again.status, 200, "{}", again.body);
    }
    let evidence = b.bank.db.densai_evidence(&id).unwrap().expect("evidence");
    assert_eq!(evidence.message, message);
}
