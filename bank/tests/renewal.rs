//! The renewal rule at its edges (30 days before expiry to 90 days after, inclusive), the
//! operator's reissue, and the acquisition session's limits. Software CSRs: no token needed.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use kagi_bank::clock::Clock;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kagi-bank")
}

#[test]
fn renewal_window_edges_and_operator_reissue() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).json()["eligibility"], "FIRST_ISSUE");
    let r = c.submit_csr(&software_csr());
    assert_eq!(r.status, 201, "{}", r.body);
    let first_serial = r.json()["serial"].as_str().unwrap().to_owned();
    let not_after = kagi_verify::CertInfo::parse(&unb64(r.json()["certificate"].as_str().unwrap())).unwrap().not_after;
    let day = DAY as i64;

    let expect = |secs_from_expiry: i64, status: u16, code: &str| {
        bank.clock.set(at(not_after, secs_from_expiry));
        let mut c = bank.client();
        let r = c.acquire_start(CONTRACT, PASSWORD);
        let got = if r.status == 200 { r.json()["eligibility"].as_str().unwrap().to_owned() } else { r.code() };
        assert_eq!((r.status, got.as_str()), (status, code), "at expiry {secs_from_expiry:+} s");
    };
    expect(-300 * day, 403, "NOT_IN_RENEWAL_PERIOD");
    expect(-30 * day - 1, 403, "NOT_IN_RENEWAL_PERIOD");
    expect(-30 * day, 200, "RENEWAL");
    expect(0, 200, "RENEWAL");
    expect(90 * day, 200, "RENEWAL");
    expect(90 * day + 1, 403, "REISSUE_REQUIRED");

    // The pages say so in the bank's words.
    bank.clock.set(at(not_after, -30 * day - 1));
    let page = bank.client().post_form("/acquire", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert_eq!(page.status, 403);
    assert!(page.body.contains(r#"data-code="NOT_IN_RENEWAL_PERIOD""#), "{}", page.body);
    assert!(page.body.contains("更新期間ではありません") && page.body.contains("再発行依頼書"));
    bank.clock.set(at(not_after, 90 * day + 1));
    let page = bank.client().post_form("/acquire", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert_eq!(page.status, 403);
    assert!(page.body.contains(r#"data-code="REISSUE_REQUIRED""#));
    assert!(page.body.contains("再発行依頼書"));
    let page = bank.client().post_form("/acquire?lang=en", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert!(page.body.contains("reissue request"), "English second");

    // An acquisition opened inside the window is checked again at CSR time.
    bank.clock.set(at(not_after, 90 * day));
    let mut late = bank.client();
    assert_eq!(late.acquire_start(CONTRACT, PASSWORD).status, 200);
    bank.clock.set(at(not_after, 90 * day + 2));
    let r = late.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (403, "REISSUE_REQUIRED"));

    // The operator marks the customer for reissue (CLI, while the server runs).
    let out = Command::new(bin()).arg("--data-dir").arg(dir.path()).args(["reissue", CONTRACT]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 certificate(s) revoked"));
    assert!(bank.bank.db.certificate(&first_serial).unwrap().unwrap().revoked);
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).json()["eligibility"], "REISSUE");
    let r = c.submit_csr(&software_csr());
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["issuedCount"], 2);
    assert_eq!(r.json()["subject"]["organizationalUnits"][1], "IssuedCount=002");
    // The new certificate starts at the bank's (moved) clock: a year from now on the clock.
    let info = kagi_verify::CertInfo::parse(&unb64(r.json()["certificate"].as_str().unwrap())).unwrap();
    assert_eq!(info.not_before, kagi_bank::clock::from_unix(kagi_bank::clock::unix(bank.clock.now())));
    // The mark is used up: a new acquisition is bound by the window of the new certificate.
    let r = bank.client().acquire_start(CONTRACT, PASSWORD);
    assert_eq!((r.status, r.code().as_str()), (403, "NOT_IN_RENEWAL_PERIOD"));

    let out = Command::new(bin()).arg("--data-dir").arg(dir.path()).arg("customers").output().unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("IssuedCount=002") && listing.contains("revoked") && listing.contains("active"), "{listing}");
    let out = Command::new(bin()).arg("--data-dir").arg(dir.path()).args(["reissue", "NOSUCH"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn renewing_inside_the_window_counts_up() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    c.acquire_start(CONTRACT, PASSWORD);
    let r = c.submit_csr(&software_csr());
    let not_after = kagi_verify::CertInfo::parse(&unb64(r.json()["certificate"].as_str().unwrap())).unwrap().not_after;
    // Exactly at the start of the renewal period.
    bank.clock.set(at(not_after, -30 * DAY as i64));
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).json()["eligibility"], "RENEWAL");
    let r = c.submit_csr(&software_csr());
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["issuedCount"], 2);
    // The renewed-from certificate stays valid until its own expiry (the customer may still
    // hold only it if the save failed in a later session).
    let certs = bank.bank.db.certificates_of(1).unwrap();
    assert_eq!(certs.iter().filter(|c| !c.revoked).count(), 2);
}

#[test]
fn acquisition_session_limits() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());

    // No 【取得】 first: no CSR accepted.
    let mut c = bank.client();
    let r = c.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (401, "NO_SESSION"));
    c.post_json("/api/nonce", &serde_json::json!({}));
    let r = c.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (401, "NO_ACQUISITION"));

    // Wrong password.
    let r = c.acquire_start(CONTRACT, "wrong");
    assert_eq!((r.status, r.code().as_str()), (401, "INVALID_CREDENTIALS"));
    let r = c.acquire_start("NOSUCH", PASSWORD);
    assert_eq!((r.status, r.code().as_str()), (401, "INVALID_CREDENTIALS"));

    // Ten minutes to submit the CSR.
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    bank.clock.advance(kagi_bank::session::ACQUISITION_TTL + Duration::from_secs(1));
    let r = c.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (401, "ACQUISITION_EXPIRED"));
}

#[test]
fn requested_extensions_are_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(vec!["evil.example".to_string()]).unwrap();
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::CodeSigning];
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "SOMEONE ELSE");
    p.distinguished_name = dn;
    let csr = p.serialize_request(&key).unwrap();
    let mut c = bank.client();
    c.acquire_start(CONTRACT, PASSWORD);
    let r = c.submit_csr(csr.der());
    assert_eq!(r.status, 201, "{}", r.body);
    let der = unb64(r.json()["certificate"].as_str().unwrap());
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let tbs = cert.tbs_certificate();
    let oids: Vec<String> = tbs.extensions().unwrap().iter().map(|e| e.extn_id.to_string()).collect();
    assert!(!oids.contains(&"2.5.29.17".to_string()), "no subjectAltName: {oids:?}");
    let (_, eku) = tbs.get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>().unwrap().unwrap();
    assert_eq!(eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>(), vec!["1.3.6.1.5.5.7.3.2"]);
    let (_, bc) = tbs.get_extension::<x509_cert::ext::pkix::BasicConstraints>().unwrap().unwrap();
    assert!(!bc.ca);
    let (_, ku) = tbs.get_extension::<x509_cert::ext::pkix::KeyUsage>().unwrap().unwrap();
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    let info = kagi_verify::CertInfo::parse(&der).unwrap();
    assert_eq!(info.subject.common_name.as_deref(), Some(CN), "the subject is the bank's, not the CSR's");
}
