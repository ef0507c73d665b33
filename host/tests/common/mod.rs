//! Shared by the host's integration tests: a test CA, certificate issuance from the host's CSR,
//! and signature checks done independently of the host (RustCrypto).
#![allow(dead_code)]

use base64::Engine;
use kagi_proto::{login, EnrollBeginResult, EnrollFinishResult, LoginToken, Nonce, Origin, Reply, SignatureAlgorithm, StatusResult};
use kagi_rig::{Host, Rig, VToken};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const ORIGIN: &str = "https://bank.example";
pub const PIN: &str = "123456";

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

/// pcscd (shared or started) + one virtual token in reader 0.
pub fn rig_with_token() -> (Rig, VToken) {
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).spawn().expect("virtual token");
    (rig, token)
}

pub struct TestCa {
    pub issuer: Issuer<'static, KeyPair>,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Kagi Test Bank");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA cert");
        let der = cert.der().to_vec();
        TestCa { issuer: Issuer::new(params, key), der }
    }

    /// Issues a certificate in the bank's subject layout for the CSR; `days_from_now` shifts the
    /// validity window (negative = already started / expired).
    pub fn issue(&self, csr_b64: &str, issued_count: u32, start_days: i64, days: i64) -> Vec<u8> {
        let csr = CertificateSigningRequestParams::from_der(&unb64(csr_b64).into()).expect("CSR parses and its signature verifies");
        let mut req = csr;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Kagi Test Bank");
        dn.push(DnType::OrganizationalUnitName, "Kagi Test CA");
        // rcgen keys names by type; the second OU goes in under its OID (2.5.4.11) so both stay.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 11]), format!("IssuedCount={issued_count:03}"));
        dn.push(DnType::CommonName, "SH001 SH001001 1898");
        req.params.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        req.params.not_before = now + time::Duration::days(start_days);
        req.params.not_after = now + time::Duration::days(start_days + days);
        req.params.serial_number = Some(SerialNumber::from_slice(&rand_serial()));
        req.params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        req.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        req.signed_by(&self.issuer).expect("issue").der().to_vec()
    }
}

fn rand_serial() -> [u8; 16] {
    let mut s = [0u8; 16];
    getrandom::fill(&mut s).expect("random");
    s[0] &= 0x7f;
    s[0] |= 0x40;
    s
}

pub fn status(host: &mut Host) -> StatusResult {
    host.request(json!({"cmd": "status"})).into_result().expect("status")
}

pub fn enroll_begin(host: &mut Host, alg: &str) -> Reply {
    host.request(json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": PIN, "algorithm": alg}))
}

pub fn enroll_finish(host: &mut Host, cert: &[u8]) -> Reply {
    host.request(json!({"cmd": "enroll.finish", "origin": ORIGIN, "certificate": b64(cert)}))
}

/// A full acquisition: begin, issue with `ca`, finish. Returns the issued certificate.
pub fn enroll(host: &mut Host, ca: &TestCa, alg: &str, issued_count: u32) -> (EnrollBeginResult, Vec<u8>, EnrollFinishResult) {
    let begin: EnrollBeginResult = enroll_begin(host, alg).into_result().expect("enroll.begin");
    let cert = ca.issue(&begin.csr, issued_count, 0, 365);
    let finish: EnrollFinishResult = enroll_finish(host, &cert).into_result().expect("enroll.finish");
    (begin, cert, finish)
}

pub fn nonce() -> Nonce {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random");
    Nonce::from_random(&b)
}

pub fn authenticate(host: &mut Host, nonce: &Nonce, pin: &str) -> Reply {
    host.request(json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": nonce.as_str(), "pin": pin}))
}

/// Verifies a login token with the public key of its certificate, independently of the host.
pub fn verify_login(token: &LoginToken, origin: &str, nonce: &Nonce) -> Result<(), String> {
    use der::Decode;
    assert_eq!(token.format, "kagi-auth:1");
    let cert_der = token.certificate_der().map_err(|e| e.to_string())?;
    let cert = x509_cert::Certificate::from_der(&cert_der).map_err(|e| e.to_string())?;
    let bits = cert.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes().to_vec();
    let message = login::signed_message(&Origin::parse(origin).unwrap(), nonce);
    let sig = token.signature_bytes().map_err(|e| e.to_string())?;
    match token.algorithm {
        SignatureAlgorithm::ES256 => {
            use p256::ecdsa::signature::Verifier;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&bits).map_err(|e| e.to_string())?;
            let sig = p256::ecdsa::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
            vk.verify(&message, &sig).map_err(|e| e.to_string())
        }
        SignatureAlgorithm::RS256 => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::signature::Verifier;
            let pk = rsa::PublicKey::from_pkcs1_der(&bits).map_err(|e| e.to_string())?;
            let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).map_err(|e| e.to_string())?;
            vk.verify(&message, &sig).map_err(|e| e.to_string())
        }
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn error_code(r: &Reply) -> Value {
    serde_json::to_value(r.error.as_ref().expect("an error reply")).unwrap()
}
