//! The CA's CRL (`GET /ca.crl`): DER that OpenSSL parses, nextUpdate one day after thisUpdate,
//! updated by the operator's `reissue`; and `kagi-verify` refusing a revoked certificate from
//! the CRL alone (`Verifier::with_crls` with `NoRecords`: no access to the bank's database).

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{manual_clock, TestBank, CONTRACT, PASSWORD};
use kagi_verify::{LoginToken, NoRecords, Nonce, Origin, SignatureAlgorithm, Verifier};

fn fetch_crl(bank: &TestBank) -> Vec<u8> {
    let resp = ureq::get(&format!("{}/ca.crl", bank.base)).call().expect("GET /ca.crl");
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pkix-crl"));
    resp.into_body().read_to_vec().unwrap()
}

/// `openssl crl -inform DER -text`, checking the CRL's signature with the CA certificate.
fn openssl_text(crl: &[u8], dir: &std::path::Path) -> String {
    let path = dir.join("ca.crl");
    std::fs::write(&path, crl).unwrap();
    let out = Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&path)
        .arg("-CAfile")
        .arg(dir.join("ca-cert.pem"))
        .output()
        .expect("openssl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl crl: {stderr}");
    assert!(stderr.contains("verify OK"), "the CA's signature: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_certificate_revoked_by_reissue_is_refused_from_the_crl_alone() {
    let dir = kagi_rig::temp_dir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let origin = Origin::parse(&bank.origin).unwrap();

    // A customer's software key and the certificate the bank issued for it.
    let key = rcgen::KeyPair::generate().unwrap();
    let csr = rcgen::CertificateParams::new(vec![]).unwrap().serialize_request(&key).unwrap().der().to_vec();
    let mut client = bank.client();
    assert_eq!(client.acquire_start(CONTRACT, PASSWORD).status, 200);
    let issued = client.submit_csr(&csr);
    assert_eq!(issued.status, 201, "{}", issued.body);
    let cert_der = common::unb64(issued.json()["certificate"].as_str().unwrap());
    let serial = issued.json()["serial"].as_str().unwrap().to_uppercase();
    let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &key.serialize_der(),
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let nonce = Nonce::from_random(&[7u8; 32]);
    let sig = signer.sign(&ring::rand::SystemRandom::new(), &kagi_proto::login::signed_message(&origin, &nonce)).unwrap();
    let token = LoginToken::new(&cert_der, SignatureAlgorithm::ES256, sig.as_ref());
    let now = bank.clock_now();
    let verify = |crl: &[u8], at: SystemTime| {
        Verifier::new([bank.bank.ca.cert_der.clone()])
            .and_then(|v| v.with_crls([crl.to_vec()]))
            .and_then(|v| v.verify_token(&token, &origin, &nonce, &NoRecords, at))
            .map(|id| id.serial)
            .map_err(|e| e.code())
    };

    let before = fetch_crl(&bank);
    let text = openssl_text(&before, dir.path());
    assert!(!text.contains(&serial), "nothing revoked yet:\n{text}");
    assert!(text.contains("No Revoked Certificates"), "{text}");
    assert!(text.contains("Next Update:"), "{text}");
    // thisUpdate and nextUpdate (RFC 5280 §5.1.2.4-5) read independently with x509-cert.
    use der::Decode;
    let list = <x509_cert::crl::CertificateList>::from_der(&before).unwrap();
    let this = list.tbs_cert_list.this_update.to_unix_duration();
    let next = list.tbs_cert_list.next_update.expect("nextUpdate").to_unix_duration();
    assert_eq!(next - this, Duration::from_secs(86_400), "nextUpdate one day after thisUpdate");
    assert_eq!(verify(&before, now), Ok(issued.json()["serial"].as_str().unwrap().to_owned()), "in force by the CRL");

    // The operator's reissue revokes it; the next CRL lists it.
    let out = Command::new(env!("CARGO_BIN_EXE_kagi-bank")).arg("--data-dir").arg(dir.path()).args(["reissue", CONTRACT]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = fetch_crl(&bank);
    let text = openssl_text(&after, dir.path());
    assert!(text.contains(&format!("Serial Number: {serial}")), "the revoked serial is listed:\n{text}");
    assert_eq!(verify(&after, now), Err("CERT_REVOKED"), "refused from the CRL alone (no records)");
    // The old CRL still says in force: it is the CRL that decided.
    assert_eq!(verify(&before, now), Ok(issued.json()["serial"].as_str().unwrap().to_owned()));
    // A CRL past its nextUpdate refuses every log-on rather than trusting old news.
    assert_eq!(verify(&before, now + Duration::from_secs(86_400 + 60)), Err("CRL_INVALID"));
    // Not a CRL at all: refused when the verifier is built.
    let garbage = Verifier::new([bank.bank.ca.cert_der.clone()]).unwrap().with_crls([vec![0x30, 0x03, 0x02, 0x01, 0x00]]);
    assert_eq!(garbage.err().map(|e| e.code()), Some("CRL_INVALID"));
}
