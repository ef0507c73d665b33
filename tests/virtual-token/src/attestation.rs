//! YubiKey-style PIV key attestation for the virtual token (Yubico "PIV attestation",
//! developers.yubico.com/PIV/Introduction/PIV_attestation.html): a per-token attestation key in
//! slot F9 whose certificate (object 5FFF01) is issued by a TEST attestation root, and the
//! X.509 statement ATTEST (INS F9) makes for a key generated on the token.
//!
//! The test root's private key is derived at run time from a fixed, public seed
//! ([`ROOT_SEED`]): every kagi-vtoken, in every run, chains to the same root, so a demo bank can
//! be configured with it (`kagi-vtoken --print-attestation-root`). Anyone can derive that key:
//! the root proves nothing outside tests, and its name says so. The F9 key is random per token.

use crate::crypto::{AsymKey, CryptoError};
use crate::tlv;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm, SigningKey,
};
use sha2::{Digest, Sha256};

/// Public seed of the test attestation root's key (see the module note: not a secret).
pub const ROOT_SEED: &[u8] = b"kagi-vtoken TEST attestation root v1 (public seed, tests only)";
/// Common name of the test root.
pub const ROOT_CN: &str = "Kagi vtoken TEST PIV Attestation Root (not for production)";
/// Common name of a token's F9 certificate, as a YubiKey's says "Yubico PIV Attestation".
pub const F9_CN: &str = "Kagi vtoken PIV Attestation";

/// Yubico's PIV attestation extensions (arc 1.3.6.1.4.1.41482.3): firmware version (3 raw
/// bytes), serial number (DER INTEGER), PIN and touch policy (2 raw bytes), form factor (1 raw
/// byte).
pub const OID_FIRMWARE: &[u64] = &[1, 3, 6, 1, 4, 1, 41482, 3, 3];
pub const OID_SERIAL: &[u64] = &[1, 3, 6, 1, 4, 1, 41482, 3, 7];
pub const OID_POLICY: &[u64] = &[1, 3, 6, 1, 4, 1, 41482, 3, 8];
pub const OID_FORM_FACTOR: &[u64] = &[1, 3, 6, 1, 4, 1, 41482, 3, 9];
/// Form factor byte: 0 "unspecified" in Yubico's list (a virtual token has none of theirs).
const FORM_FACTOR_UNSPECIFIED: u8 = 0x00;

/// A P-256 key signing certificates for rcgen (the root and F9 keys).
struct EcSigner {
    key: p256::ecdsa::SigningKey,
    point: Vec<u8>,
}

impl EcSigner {
    fn new(key: p256::ecdsa::SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false).as_bytes().to_vec();
        EcSigner { key, point }
    }
}

impl PublicKeyData for EcSigner {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for EcSigner {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let digest = Sha256::digest(msg);
        let sig: p256::ecdsa::DerSignature = self.key.sign_prehash(&digest).map_err(|_| rcgen::Error::RingUnspecified)?;
        Ok(sig.as_bytes().to_vec())
    }
}

/// The public half of a slot's key as an X.509 subjectPublicKey (EC point, or DER
/// RSAPublicKey), for the attestation certificate's SubjectPublicKeyInfo.
struct SlotPublic {
    bits: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for SlotPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// DER INTEGER of a big-endian unsigned value (a leading 00 when the top bit is set).
fn der_uint(v: &[u8]) -> Vec<u8> {
    let v = match v.iter().position(|b| *b != 0) {
        Some(i) => &v[i..],
        None => &[0][..],
    };
    let mut body = Vec::with_capacity(v.len() + 1);
    if v[0] & 0x80 != 0 {
        body.push(0);
    }
    body.extend_from_slice(v);
    tlv::encode(0x02, &body)
}

fn slot_public(key: &AsymKey) -> Result<SlotPublic, CryptoError> {
    let content = key.public_template_content();
    let items = tlv::parse_all(&content).ok_or_else(|| CryptoError("public key template".into()))?;
    let get = |t: u32| items.iter().find(|i| i.tag == t).map(|i| i.value);
    match key {
        AsymKey::EccP256(_) => {
            let point = get(0x86).ok_or_else(|| CryptoError("no EC point".into()))?;
            Ok(SlotPublic { bits: point.to_vec(), alg: &rcgen::PKCS_ECDSA_P256_SHA256 })
        }
        AsymKey::Rsa2048(_) => {
            let (Some(n), Some(e)) = (get(0x81), get(0x82)) else {
                return Err(CryptoError("no RSA modulus or exponent".into()));
            };
            let mut seq = der_uint(n);
            seq.extend_from_slice(&der_uint(e));
            Ok(SlotPublic { bits: tlv::encode(0x30, &seq), alg: &rcgen::PKCS_RSA_SHA256 })
        }
    }
}

fn rc(e: rcgen::Error) -> CryptoError {
    CryptoError(format!("certificate: {e}"))
}

/// Subject key identifier: the first 20 bytes of SHA-256 over the SubjectPublicKeyInfo (RFC
/// 7093 §2 method 1), set explicitly because the token links no rcgen crypto backend.
fn key_id(k: &impl PublicKeyData) -> KeyIdMethod {
    KeyIdMethod::PreSpecified(Sha256::digest(k.subject_public_key_info())[..20].to_vec())
}

/// The test root's key, derived from [`ROOT_SEED`] (SHA-256 of the seed and a counter, the
/// first value that is a valid P-256 scalar).
fn root_key() -> Result<p256::ecdsa::SigningKey, CryptoError> {
    for i in 0u8..=255 {
        let d = Sha256::new().chain_update(ROOT_SEED).chain_update([i]).finalize();
        if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&d) {
            return Ok(k);
        }
    }
    Err(CryptoError("no root key from the seed".into()))
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Kagi test");
    dn.push(DnType::CommonName, cn);
    dn
}

/// The root's parameters: fixed serial and validity, so its certificate is the same bytes in
/// every run (ECDSA signing here is deterministic, RFC 6979).
fn root_params(signer: &EcSigner) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(ROOT_CN);
    p.serial_number = Some(SerialNumber::from_slice(&[0x01]));
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.key_identifier_method = key_id(signer);
    p
}

/// The test attestation root certificate, DER.
#[cfg(test)]
pub fn root_certificate() -> Result<Vec<u8>, CryptoError> {
    let signer = EcSigner::new(root_key()?);
    Ok(root_params(&signer).self_signed(&signer).map_err(rc)?.der().to_vec())
}

/// The test attestation root certificate, PEM (what `--print-attestation-root` prints).
pub fn root_pem() -> Result<String, CryptoError> {
    let signer = EcSigner::new(root_key()?);
    Ok(root_params(&signer).self_signed(&signer).map_err(rc)?.pem())
}

fn random_serial() -> Result<SerialNumber, CryptoError> {
    let mut s = crate::crypto::random_bytes(16)?;
    s[0] = (s[0] & 0x7F) | 0x01;
    Ok(SerialNumber::from_slice(&s))
}

/// The F9 certificate's parameters (issuer side of every attestation), for token `serial`.
fn f9_params(signer: &EcSigner, serial: Option<SerialNumber>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(F9_CN);
    p.serial_number = serial;
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    // An intermediate that signs only attestation statements (YubiKey F9 certificates are CAs).
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    p.key_identifier_method = key_id(signer);
    p
}

/// A new F9 attestation key and its certificate from the test root: (P-256 scalar, DER).
pub fn new_f9() -> Result<(AsymKey, Vec<u8>), CryptoError> {
    let key = AsymKey::generate(crate::crypto::ALG_ECCP256)?;
    let AsymKey::EccP256(k) = &key else {
        return Err(CryptoError("F9 key is not P-256".into()));
    };
    let f9 = EcSigner::new(k.clone());
    let root = EcSigner::new(root_key()?);
    let root_issuer = Issuer::new(root_params(&root), root);
    let cert = f9_params(&f9, Some(random_serial()?)).signed_by(&f9, &root_issuer).map_err(rc)?;
    Ok((key, cert.der().to_vec()))
}

/// What the attestation statement says about the attested key.
pub struct Facts {
    pub slot: u8,
    pub firmware: [u8; 3],
    pub token_serial: u32,
    pub pin_policy: u8,
    pub touch_policy: u8,
}

/// The attestation statement for `key` (Yubico "PIV attestation"): subject
/// `CN=YubiKey PIV Attestation <slot>`-style (here "Kagi vtoken PIV Attestation <slot>"), the
/// slot's public key, issued and signed by the F9 key, with the firmware, serial, policy and
/// form-factor extensions.
pub fn attest(f9_key: &AsymKey, key: &AsymKey, facts: &Facts) -> Result<Vec<u8>, CryptoError> {
    let AsymKey::EccP256(k) = f9_key else {
        return Err(CryptoError("F9 key is not P-256".into()));
    };
    let f9 = EcSigner::new(k.clone());
    let issuer = Issuer::new(f9_params(&f9, None), f9);
    let public = slot_public(key)?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("Kagi vtoken PIV Attestation {:02x}", facts.slot));
    p.distinguished_name = dn;
    p.serial_number = Some(random_serial()?);
    // A YubiKey copies its F9 certificate's validity into the statement.
    p.not_before = rcgen::date_time_ymd(2025, 1, 1);
    p.not_after = rcgen::date_time_ymd(2099, 12, 31);
    p.key_identifier_method = key_id(&public);
    let serial = der_uint(&facts.token_serial.to_be_bytes());
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(OID_FIRMWARE, facts.firmware.to_vec()),
        CustomExtension::from_oid_content(OID_SERIAL, serial),
        CustomExtension::from_oid_content(OID_POLICY, vec![facts.pin_policy, facts.touch_policy]),
        CustomExtension::from_oid_content(OID_FORM_FACTOR, vec![FORM_FACTOR_UNSPECIFIED]),
    ];
    Ok(p.signed_by(&public, &issuer).map_err(rc)?.der().to_vec())
}

/// The F9 certificate as its data object 5FFF01 holds it: `53 { 70 cert, 71 00, FE 00 }`, the
/// layout of every PIV certificate object (SP 800-73-4 Part 1 Appendix A, Table 15).
pub fn f9_object(cert: &[u8]) -> Vec<u8> {
    let mut inner = tlv::encode(0x70, cert);
    inner.extend_from_slice(&[0x71, 0x01, 0x00, 0xFE, 0x00]);
    tlv::encode(0x53, &inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_same_every_time() {
        assert_eq!(root_certificate().unwrap(), root_certificate().unwrap());
        assert!(root_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn der_uint_pads_the_sign_bit() {
        assert_eq!(der_uint(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(der_uint(&[0, 0, 0x7F]), [0x02, 0x01, 0x7F]);
        assert_eq!(der_uint(&[0, 0]), [0x02, 0x01, 0x00]);
    }
}
