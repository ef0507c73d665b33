//! The bank's key attestation policy (`--attestation-root`), with the real host on the virtual
//! token: off by default; on, a CSR from a software key is refused (`ATTESTATION_REQUIRED`), a
//! token-generated key with its attestation is issued and stored on the token, and a statement
//! for another key or under another root is refused (`ATTESTATION_INVALID`).

mod common;

use common::*;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult};
use kagi_rig::{Host, Rig, VToken};
use serde_json::json;

const NEW_PIN: &str = "471129";

fn begin(host: &mut Host, bank: &TestBank) -> EnrollBeginResult {
    host.request(json!({"cmd":"enroll.begin","origin":bank.origin,"pin":PIN,"newPin":NEW_PIN,"algorithm":"P-256","issuers":bank.issuers()}))
        .into_result()
        .expect("enroll.begin")
}

fn submit(c: &mut Client, csr: &str, attestation: Option<(&str, &str)>) -> Resp {
    let mut body = json!({"csr": csr});
    if let Some((a, i)) = attestation {
        body["attestation"] = json!(a);
        body["attestationIntermediate"] = json!(i);
    }
    c.post_json("/api/csr", &body)
}

/// A bank requiring attestation under the roots in `pem`, read from a file as `serve` reads it.
fn bank_requiring(dir: &std::path::Path, pem: &str) -> TestBank {
    let file = dir.join("roots.pem");
    std::fs::write(&file, pem).unwrap();
    let policy = kagi_bank::attestation::load_roots(&[&file]).unwrap();
    TestBank::start_with(&dir.join("bank"), manual_clock(), |b| b.require_attestation(policy))
}

#[test]
fn with_the_policy_on_only_token_generated_keys_are_issued() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bank = bank_requiring(dir.path(), &kagi_rig::attestation_root_pem().unwrap());
    let mut host = Host::spawn().unwrap();
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);

    let b = begin(&mut host, &bank);
    let (att, f9) = (b.attestation.clone().expect("attestation"), b.attestation_intermediate.clone().expect("F9 certificate"));
    let soft = b64(&software_csr());

    // A key made in software: no attestation to give.
    let r = submit(&mut c, &soft, None);
    assert_eq!((r.status, r.code()), (403, "ATTESTATION_REQUIRED".to_string()), "{}", r.body);
    // The token's CSR without its attestation (an old extension, a page that drops it).
    let r = submit(&mut c, &b.csr, None);
    assert_eq!((r.status, r.code()), (403, "ATTESTATION_REQUIRED".to_string()), "{}", r.body);
    // A software key dressed in the token's attestation.
    let r = submit(&mut c, &soft, Some((&att, &f9)));
    assert_eq!((r.status, r.code()), (403, "ATTESTATION_INVALID".to_string()), "{}", r.body);
    let r = submit(&mut c, &b.csr, Some((&att, "")));
    assert_eq!(r.code(), "ATTESTATION_INVALID", "{}", r.body);
    let customer = bank.bank.db.customer_by_contract(CONTRACT).unwrap().unwrap();
    assert_eq!(bank.bank.db.customer_certs(customer.id).unwrap().issued_count, 0, "nothing issued so far");

    // The token's key with the token's attestation: issued, and the token stores it.
    let r = submit(&mut c, &b.csr, Some((&att, &f9)));
    assert_eq!(r.status, 201, "{}", r.body);
    let cert = r.json()["certificate"].as_str().unwrap().to_owned();
    let finish: EnrollFinishResult =
        host.request(json!({"cmd":"enroll.finish","origin":bank.origin,"certificate":cert})).into_result().expect("enroll.finish");
    assert_eq!(finish.certificate.serial, r.json()["serial"].as_str().unwrap());
}

#[test]
fn off_by_default_and_other_roots_are_not_trusted() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut host = Host::spawn().unwrap();

    // A bank trusting another vendor's root refuses the virtual token's attestation.
    let other = {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name.push(rcgen::DnType::CommonName, "Other vendor attestation root");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.self_signed(&key).unwrap().pem()
    };
    let strict = bank_requiring(dir.path(), &other);
    let mut c = strict.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let b = begin(&mut host, &strict);
    let r = submit(&mut c, &b.csr, Some((b.attestation.as_deref().unwrap(), b.attestation_intermediate.as_deref().unwrap())));
    assert_eq!((r.status, r.code()), (403, "ATTESTATION_INVALID".to_string()), "{}", r.body);
    drop(strict);

    // The default bank does not ask: a software CSR is issued, attestation fields are accepted.
    let plain = TestBank::start(&dir.path().join("plain"), manual_clock());
    let mut c = plain.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let r = submit(&mut c, &b64(&software_csr()), None);
    assert_eq!(r.status, 201, "{}", r.body);
    let r = submit(&mut c, &b64(&software_csr()), Some(("AAAA", "AAAA")));
    assert_eq!(r.status, 201, "ignored when not required: {}", r.body);
}
