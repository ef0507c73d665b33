//! A throwaway bank CA and an independent check of login tokens, for tests, the demo and the
//! benchmarks: what a bank does with the host's CSR and login token, done without the host's code.

use base64::Engine;
use kagi_proto::{login, LoginToken, Nonce, Origin, SignatureAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};

pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Standard base64 → bytes; panics on bad input (test data).
pub fn unb64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64")
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// A fresh random nonce as a bank issues it.
pub fn nonce() -> Nonce {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("random");
    Nonce::from_random(&b)
}

/// A CA issuing certificates in the bank's subject layout.
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

    /// Issues a certificate for the CSR (standard base64 DER; its signature is checked):
    /// `C=JP, O=…, OU=Kagi Test CA, OU=IssuedCount=NNN, CN=SH001 SH001001 1898`, valid from
    /// `start_days` from now for `days` days.
    pub fn issue(&self, csr_b64: &str, issued_count: u32, start_days: i64, days: i64) -> Vec<u8> {
        self.issue_for("SH001 SH001001 1898", csr_b64, issued_count, start_days, days)
    }

    /// [`TestCa::issue`] for the customer named by `common_name` (`<code> <contract> <branch>`).
    pub fn issue_for(&self, common_name: &str, csr_b64: &str, issued_count: u32, start_days: i64, days: i64) -> Vec<u8> {
        let mut req = CertificateSigningRequestParams::from_der(&unb64(csr_b64).into())
            .expect("CSR parses and its signature verifies");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Kagi Test Bank");
        dn.push(DnType::OrganizationalUnitName, "Kagi Test CA");
        // rcgen keys names by type; the second OU goes in under its OID (2.5.4.11) so both stay.
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 11]), format!("IssuedCount={issued_count:03}"));
        dn.push(DnType::CommonName, common_name);
        req.params.distinguished_name = dn;
        let now = time::OffsetDateTime::now_utc();
        req.params.not_before = now + time::Duration::days(start_days);
        req.params.not_after = now + time::Duration::days(start_days + days);
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).expect("random");
        serial[0] = (serial[0] & 0x7f) | 0x40;
        req.params.serial_number = Some(SerialNumber::from_slice(&serial));
        req.params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        req.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        req.signed_by(&self.issuer).expect("issue").der().to_vec()
    }
}

/// Verifies a login token with the public key of its certificate, independently of the host
/// (RustCrypto): the signature over `kagi-auth:1 ‖ H(origin) ‖ H(nonce)`.
pub fn verify_login(token: &LoginToken, origin: &str, nonce: &Nonce) -> Result<(), String> {
    if token.format != "kagi-auth:1" {
        return Err(format!("format {}", token.format));
    }
    let cert_der = token.certificate_der().map_err(|e| e.to_string())?;
    let message = login::signed_message(&Origin::parse(origin).map_err(|e| e.to_string())?, nonce);
    let sig = token.signature_bytes().map_err(|e| e.to_string())?;
    verify_signature(&cert_der, token.algorithm, &message, &sig)
}

/// A `kagi-tx:1` signature checked independently of the host: the message rebuilt from
/// `origin`, `nonce` and the transaction `tx` (as the bank holds it), the signature with the
/// certificate's key.
pub fn verify_tx(signed: &kagi_proto::TxSignature, origin: &str, nonce: &Nonce, tx: &kagi_proto::Transaction) -> Result<(), String> {
    if signed.format != "kagi-tx:1" {
        return Err(format!("format {}", signed.format));
    }
    let cert_der = signed.certificate_der().ok_or("certificate is not base64")?;
    let sig = signed.signature_bytes().ok_or("signature is not base64")?;
    let message = tx.signed_message(&Origin::parse(origin).map_err(|e| e.to_string())?, nonce);
    verify_signature(&cert_der, signed.algorithm, &message, &sig)
}

/// ES256 (`r ‖ s`) or RS256 over `message` with the key of the certificate `cert_der`.
pub fn verify_signature(cert_der: &[u8], algorithm: SignatureAlgorithm, message: &[u8], sig: &[u8]) -> Result<(), String> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    let bits = cert.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes().to_vec();
    match algorithm {
        SignatureAlgorithm::ES256 => {
            use p256::ecdsa::signature::Verifier;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&bits).map_err(|e| e.to_string())?;
            let sig = p256::ecdsa::Signature::from_slice(sig).map_err(|e| e.to_string())?;
            vk.verify(message, &sig).map_err(|e| e.to_string())
        }
        SignatureAlgorithm::RS256 => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::signature::Verifier;
            let pk = rsa::PublicKey::from_pkcs1_der(&bits).map_err(|e| e.to_string())?;
            let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| e.to_string())?;
            vk.verify(message, &sig).map_err(|e| e.to_string())
        }
    }
}
