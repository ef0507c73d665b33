//! Login tokens made by the real host on the virtual token, verified as a bank would, and
//! tampered with in every way the verifier must catch.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, LoginToken};
use kagi_rig::{Host, Rig, VToken};
use kagi_verify::{
    issue_nonce, CertInfo, CertStatus, CertificateRecords, LoginAttempt, MemoryNonceStore, NonceStore, Origin, StoreError,
    Verifier, VerifyError, NONCE_TTL,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde_json::json;

const ORIGIN: &str = "https://bank.example";
/// The customer's PIN, set on the virtual token before it is plugged in.
const PIN: &str = "482915";
const CN: &str = "SH001 SH001001 1898";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: Vec<u8>,
}

/// What to put in a customer certificate; the default is the bank's layout, valid now.
struct Issue {
    start_days: i64,
    days: i64,
    eku: bool,
    digital_signature: bool,
}

const GOOD: Issue = Issue { start_days: 0, days: 365, eku: true, digital_signature: true };

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Kagi Test Bank");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { issuer: Issuer::new(params, key), der }
    }

    fn issue(&self, csr_b64: &str, how: &Issue) -> Vec<u8> {
        let mut req = CertificateSigningRequestParams::from_der(&b64().decode(csr_b64).unwrap().into()).unwrap();
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Kagi Test Bank");
        dn.push(DnType::OrganizationalUnitName, "Kagi Test CA");
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 11]), "IssuedCount=001");
        dn.push(DnType::CommonName, CN);
        p.distinguished_name = dn;
        // Back-dated a minute, as CAs do for clock skew: a certificate issued within the second
        // the test then reads as "now" must not be CERT_NOT_YET_VALID (seen once as a flake).
        let now = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
        p.not_before = now + time::Duration::days(how.start_days);
        p.not_after = now + time::Duration::days(how.start_days + how.days);
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).unwrap();
        serial[0] = (serial[0] & 0x7f) | 0x40;
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        p.key_usages = if how.digital_signature { vec![KeyUsagePurpose::DigitalSignature] } else { vec![KeyUsagePurpose::KeyEncipherment] };
        p.extended_key_usages = if how.eku { vec![ExtendedKeyUsagePurpose::ClientAuth] } else { vec![ExtendedKeyUsagePurpose::EmailProtection] };
        req.params = p;
        req.signed_by(&self.issuer).unwrap().der().to_vec()
    }
}

/// The bank's records: serials it issued, and those it revoked.
#[derive(Default)]
struct Records {
    issued: HashSet<String>,
    revoked: HashSet<String>,
}

impl CertificateRecords for Records {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError> {
        Ok(if self.revoked.contains(&cert.serial) {
            CertStatus::Revoked
        } else if self.issued.contains(&cert.serial) {
            CertStatus::Active
        } else {
            CertStatus::Unknown
        })
    }
}

impl Records {
    fn add(&mut self, der: &[u8]) {
        self.issued.insert(CertInfo::parse(der).unwrap().serial);
    }
}

/// Enrolls a key of `alg` on the token with `ca`, then signs in for `nonce`.
fn enroll(host: &mut Host, ca: &Ca, alg: &str) -> (EnrollBeginResult, Vec<u8>) {
    let begin: EnrollBeginResult =
        host.request(json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":PIN,"algorithm":alg,"issuers":[b64().encode(&ca.der)]}))
            .into_result()
            .expect("enroll.begin");
    let cert = ca.issue(&begin.csr, &GOOD);
    let _: EnrollFinishResult =
        host.request(json!({"cmd":"enroll.finish","origin":ORIGIN,"certificate":b64().encode(&cert)})).into_result().expect("enroll.finish");
    (begin, cert)
}

fn sign(host: &mut Host, ca: &Ca, nonce: &str) -> LoginToken {
    host.request(json!({"cmd":"authenticate","origin":ORIGIN,"nonce":nonce,"pin":PIN,"issuers":[b64().encode(&ca.der)]}))
        .into_result()
        .expect("authenticate")
}

fn origin() -> Origin {
    Origin::parse(ORIGIN).unwrap()
}

fn code(r: Result<kagi_verify::Identity, VerifyError>) -> &'static str {
    match r {
        Ok(_) => "OK",
        Err(e) => e.code(),
    }
}

#[test]
fn p256_tokens_from_the_host_verify_and_every_tampering_is_caught() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    let ca = Ca::new("Kagi Test CA");
    let (begin, cert) = enroll(&mut host, &ca, "P-256");
    let verifier = Verifier::new([ca.der.clone()]).unwrap();
    let nonces = MemoryNonceStore::new();
    let mut records = Records::default();
    records.add(&cert);
    let now = SystemTime::now();
    let o = origin();

    // The genuine article.
    let n = issue_nonce(&nonces, "session-1", now).unwrap();
    let token = sign(&mut host, &ca, n.as_str());
    let attempt = LoginAttempt { token: &token, nonce: n.as_str(), session: "session-1", expected_origin: &o };
    let id = verifier.login(attempt, &nonces, &records, now).expect("genuine token verifies");
    assert_eq!(id.common_name, CN);
    assert_eq!(id.contract_number.as_deref(), Some("SH001001"));
    assert_eq!(id.issued_count, Some(1));
    assert_eq!(id.serial, CertInfo::parse(&cert).unwrap().serial);
    assert_eq!(id.algorithm, kagi_proto::SignatureAlgorithm::ES256);

    // Replayed nonce: the same token again.
    assert_eq!(code(verifier.login(attempt, &nonces, &records, now)), "NONCE_REPLAYED");

    // Wrong origin: the bank expects another origin than the token was signed for.
    let n = issue_nonce(&nonces, "s", now).unwrap();
    let token = sign(&mut host, &ca, n.as_str());
    let evil = Origin::parse("https://bank.example.evil.example").unwrap();
    let a = LoginAttempt { token: &token, nonce: n.as_str(), session: "s", expected_origin: &evil };
    assert_eq!(code(verifier.login(a, &nonces, &records, now)), "BAD_SIGNATURE");

    // Expired nonce: used one second after its five minutes.
    let n = issue_nonce(&nonces, "s", now).unwrap();
    let token = sign(&mut host, &ca, n.as_str());
    let a = LoginAttempt { token: &token, nonce: n.as_str(), session: "s", expected_origin: &o };
    let late = now + NONCE_TTL + Duration::from_secs(1);
    assert_eq!(code(verifier.login(a, &nonces, &records, late)), "NONCE_EXPIRED");

    // A nonce issued to another session.
    let n = issue_nonce(&nonces, "victim", now).unwrap();
    let token = sign(&mut host, &ca, n.as_str());
    let a = LoginAttempt { token: &token, nonce: n.as_str(), session: "attacker", expected_origin: &o };
    assert_eq!(code(verifier.login(a, &nonces, &records, now)), "NONCE_WRONG_SESSION");

    // A nonce the bank never issued (the token itself is fine).
    let n = kagi_proto::Nonce::from_random(&[3u8; 32]);
    let token = sign(&mut host, &ca, n.as_str());
    let a = LoginAttempt { token: &token, nonce: n.as_str(), session: "s", expected_origin: &o };
    assert_eq!(code(verifier.login(a, &nonces, &records, now)), "NONCE_UNKNOWN");

    // From here on: one good token, variations of it, checked against a fresh nonce each time.
    let check = |t: &LoginToken, v: &Verifier, recs: &Records, at: SystemTime| -> &'static str {
        code(v.verify_token(t, &o, &fixed_nonce(), recs, at))
    };
    let good = sign(&mut host, &ca, fixed_nonce().as_str());
    assert_eq!(check(&good, &verifier, &records, now), "OK");

    // Bit-flipped signature (every byte position class: first, middle, last).
    for i in [0usize, 31, 32, 63] {
        let mut sig = good.signature_bytes().unwrap();
        sig[i] ^= 0x01;
        let t = LoginToken { signature: b64().encode(&sig), ..good.clone() };
        assert_eq!(check(&t, &verifier, &records, now), "BAD_SIGNATURE", "flip in byte {i}");
    }
    // Truncated signature.
    let t = LoginToken { signature: b64().encode(&good.signature_bytes().unwrap()[..63]), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "BAD_SIGNATURE");

    // The same key certified by another CA: the signature is right, the chain is not.
    let other = Ca::new("Other CA");
    let foreign = other.issue(&begin.csr, &GOOD);
    let t = LoginToken { certificate: b64().encode(&foreign), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_UNKNOWN_ISSUER");
    // ...and a bank trusting both CAs still refuses it when its records do not know it.
    let both = Verifier::new([ca.der.clone(), other.der.clone()]).unwrap();
    assert_eq!(check(&t, &both, &records, now), "CERT_UNKNOWN_TO_BANK");

    // Expired certificate: issued for the same key, validity over yesterday.
    let expired = ca.issue(&begin.csr, &Issue { start_days: -366, days: 365, ..GOOD });
    records.add(&expired);
    let t = LoginToken { certificate: b64().encode(&expired), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_EXPIRED");
    // The genuine certificate one year and a day later.
    assert_eq!(check(&good, &verifier, &records, now + Duration::from_secs(366 * 86400)), "CERT_EXPIRED");
    // Not valid yet.
    let future = ca.issue(&begin.csr, &Issue { start_days: 2, ..GOOD });
    records.add(&future);
    let t = LoginToken { certificate: b64().encode(&future), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_NOT_YET_VALID");

    // Missing clientAuth, missing digitalSignature.
    let no_eku = ca.issue(&begin.csr, &Issue { eku: false, ..GOOD });
    records.add(&no_eku);
    let t = LoginToken { certificate: b64().encode(&no_eku), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_NO_CLIENT_AUTH");
    let no_ds = ca.issue(&begin.csr, &Issue { digital_signature: false, ..GOOD });
    records.add(&no_ds);
    let t = LoginToken { certificate: b64().encode(&no_ds), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_NO_DIGITAL_SIGNATURE");

    // The CA certificate itself is not a customer certificate.
    let t = LoginToken { certificate: b64().encode(&ca.der), ..good.clone() };
    assert_ne!(check(&t, &verifier, &records, now), "OK");

    // Revoked in the bank's records.
    let mut revoked = Records::default();
    revoked.add(&cert);
    revoked.revoked.insert(CertInfo::parse(&cert).unwrap().serial);
    assert_eq!(check(&good, &verifier, &revoked, now), "CERT_REVOKED");

    // Algorithm that does not fit the key, wrong format, garbage.
    let t = LoginToken { algorithm: kagi_proto::SignatureAlgorithm::RS256, ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "ALGORITHM_MISMATCH");
    let t = LoginToken { format: "kagi-auth:2".into(), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "UNSUPPORTED_FORMAT");
    let t = LoginToken { certificate: "%%%".into(), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "MALFORMED_TOKEN");
    let t = LoginToken { certificate: b64().encode(b"not a certificate"), ..good.clone() };
    assert_eq!(check(&t, &verifier, &records, now), "CERT_MALFORMED");

    // How long one verification takes (chain + signature + records), for the report.
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
        verifier.verify_token(&good, &o, &fixed_nonce(), &records, now).unwrap();
    }
    eprintln!("ES256 verify_token: {:?} per token ({rounds} rounds, {} build)", start.elapsed() / rounds, if cfg!(debug_assertions) { "debug" } else { "release" });
}

#[test]
fn rsa2048_tokens_from_the_host_verify() {
    let _rig = Rig::start().unwrap();
    let _token = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    let ca = Ca::new("Kagi Test CA");
    let (_, cert) = enroll(&mut host, &ca, "RSA-2048");
    let verifier = Verifier::new([ca.der.clone()]).unwrap();
    let nonces = MemoryNonceStore::new();
    let mut records = Records::default();
    records.add(&cert);
    let now = SystemTime::now();
    let o = origin();
    let n = issue_nonce(&nonces, "s", now).unwrap();
    let token = sign(&mut host, &ca, n.as_str());
    assert_eq!(token.algorithm, kagi_proto::SignatureAlgorithm::RS256);
    let a = LoginAttempt { token: &token, nonce: n.as_str(), session: "s", expected_origin: &o };
    let id = verifier.login(a, &nonces, &records, now).expect("RS256 token verifies");
    assert_eq!(id.common_name, CN);

    let mut sig = token.signature_bytes().unwrap();
    sig[128] ^= 0x80;
    let t = LoginToken { signature: b64().encode(&sig), ..token.clone() };
    let n2 = issue_nonce(&nonces, "s", now).unwrap();
    let a = LoginAttempt { token: &t, nonce: n2.as_str(), session: "s", expected_origin: &o };
    assert_eq!(code(verifier.login(a, &nonces, &records, now)), "BAD_SIGNATURE");
    let t = LoginToken { algorithm: kagi_proto::SignatureAlgorithm::ES256, ..token.clone() };
    assert_eq!(code(verifier.verify_token(&t, &o, &n, &records, now)), "ALGORITHM_MISMATCH");

    let start = Instant::now();
    for _ in 0..50 {
        verifier.verify_token(&token, &o, &n, &records, now).unwrap();
    }
    eprintln!("RS256 verify_token: {:?} per token (50 rounds, {} build)", start.elapsed() / 50, if cfg!(debug_assertions) { "debug" } else { "release" });
}

#[test]
fn a_verifier_needs_a_usable_ca() {
    assert_eq!(Verifier::new(Vec::<Vec<u8>>::new()).unwrap_err().code(), "BAD_TRUST_ANCHOR");
    assert_eq!(Verifier::new([b"junk".to_vec()]).unwrap_err().code(), "BAD_TRUST_ANCHOR");
    // nonce stores are used through the trait object
    let s: &dyn NonceStore = &MemoryNonceStore::new();
    assert!(issue_nonce(s, "x", SystemTime::now()).is_ok());
}

fn fixed_nonce() -> kagi_proto::Nonce {
    kagi_proto::Nonce::from_random(&[42u8; 32])
}
