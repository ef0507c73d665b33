//! A throwaway bank CA and an independent check of login tokens, for tests, the demo and the
//! benchmarks: what a bank does with the host's CSR and login token, done without the host's code.

use base64::Engine;
use kagi_proto::{login, LoginToken, Nonce, Origin, SignatureAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The CA certificate, PEM, in a directory [`TestCa::save`] wrote.
pub const CA_PEM: &str = "ca.pem";
/// The CA certificate, DER.
pub const CA_DER: &str = "ca.der";
/// The CA's private key, PKCS#8 PEM (a throwaway test key, made at run time).
pub const CA_KEY: &str = "ca.key";

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

    /// Writes the CA to `dir` ([`CA_PEM`], [`CA_DER`] and its key, [`CA_KEY`]) for
    /// [`TestCa::load`]: the scripts' CA (`kagi-rig ca new`) lives between calls this way.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(CA_DER), &self.der)?;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64(&self.der).as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\n")
        );
        std::fs::write(dir.join(CA_PEM), pem)?;
        std::fs::write(dir.join(CA_KEY), self.issuer.key().serialize_pem())
    }

    /// The CA [`TestCa::save`] wrote to `dir`.
    pub fn load(dir: &Path) -> std::io::Result<TestCa> {
        let bad = |e: rcgen::Error| std::io::Error::other(format!("test CA in {}: {e}", dir.display()));
        let der = std::fs::read(dir.join(CA_DER))?;
        let key = KeyPair::from_pem(&std::fs::read_to_string(dir.join(CA_KEY))?).map_err(bad)?;
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key).map_err(bad)?;
        Ok(TestCa { issuer, der })
    }

    /// Issues a certificate for the CSR (standard base64 DER; its signature is checked):
    /// `C=JP, O=…, OU=Kagi Test CA, OU=IssuedCount=NNN, CN=SH001 SH001001 1898`, valid from
    /// `start_days` from now for `days` days.
    pub fn issue(&self, csr_b64: &str, issued_count: u32, start_days: i64, days: i64) -> Vec<u8> {
        self.issue_for("SH001 SH001001 1898", csr_b64, issued_count, start_days, days)
    }

    /// [`TestCa::issue`] for the customer named by `common_name` (`<code> <contract> <branch>`).
    pub fn issue_for(&self, common_name: &str, csr_b64: &str, issued_count: u32, start_days: i64, days: i64) -> Vec<u8> {
        self.try_issue_for(common_name, csr_b64, issued_count, start_days, days, None).expect("CSR parses and its signature verifies")
    }

    /// [`TestCa::issue_for`] with a CSR that comes from outside (`kagi-rig ca issue`): a bad
    /// one is an error, not a panic. `serial`: this serial number instead of a random one (a
    /// test that checks what the host reports of the certificate).
    pub fn try_issue_for(
        &self,
        common_name: &str,
        csr_b64: &str,
        issued_count: u32,
        start_days: i64,
        days: i64,
        serial: Option<&[u8]>,
    ) -> std::io::Result<Vec<u8>> {
        let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let csr = base64::engine::general_purpose::STANDARD.decode(csr_b64).map_err(|e| bad(format!("CSR base64: {e}")))?;
        let mut req = CertificateSigningRequestParams::from_der(&csr.into()).map_err(|e| bad(format!("CSR: {e}")))?;
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
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| std::io::Error::other(format!("random: {e}")))?;
        random[0] = (random[0] & 0x7f) | 0x40;
        req.params.serial_number = Some(SerialNumber::from_slice(serial.unwrap_or(&random)));
        req.params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        req.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        Ok(req.signed_by(&self.issuer).map_err(|e| std::io::Error::other(format!("issue: {e}")))?.der().to_vec())
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
