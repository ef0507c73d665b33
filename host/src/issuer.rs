//! The bank's CAs named by a request (`issuers`), the test "did this bank issue that
//! certificate?", and the check of the token's own signatures against a certificate.
//!
//! A certificate on the token is the bank's only if its issuer Name equals one CA's subject
//! byte for byte AND its signature verifies with that CA's key (RFC 5280 §6.1.3 (a)(1), (a)(4)):
//! a look-alike CA with the same name but another key does not count. Supported signatures:
//! ecdsa-with-SHA256 by a P-256 CA key and sha256WithRSAEncryption by an RSA CA key of 2048
//! bits or more — what the demo bank's and Japanese banks' CAs use.

use kagi_proto::Issuers;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::x509::{CertKey, ParsedCert};

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// A CA's public key, ready to verify.
enum CaKey {
    P256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::pkcs1v15::VerifyingKey<Sha256>),
}

struct Ca {
    subject_der: Vec<u8>,
    key: CaKey,
    /// SHA-256 of the CA certificate's DER: names this CA in [`VERDICTS`].
    id: [u8; 32],
}

/// Signature verdicts already reached in this process, by SHA-256 of (CA certificate ‖
/// certificate): a verdict depends on those bytes only, so a log-on that finds the same
/// certificate on the token again does not check its signature again (issue 13: a warm log-on
/// costs the PIN and the signature). Bounded: emptied when it grows past [`MAX_VERDICTS`].
static VERDICTS: std::sync::Mutex<Option<std::collections::HashMap<[u8; 32], bool>>> = std::sync::Mutex::new(None);
const MAX_VERDICTS: usize = 256;

/// The bank's CA certificates from one request.
pub struct BankCas {
    cas: Vec<Ca>,
}

impl std::fmt::Debug for BankCas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BankCas({})", self.cas.len())
    }
}

impl BankCas {
    /// Parses the request's `issuers`. A certificate that does not parse, or whose key Kagi
    /// cannot verify with, is the page's mistake: `BAD_REQUEST`.
    pub fn from_wire(issuers: &Issuers) -> Result<BankCas> {
        let mut cas = Vec::new();
        for (i, der) in issuers.certificates().iter().enumerate() {
            let bad = |why: String| Error::BadRequest(format!("issuers[{i}]: {why}"));
            let cert = ParsedCert::parse(der).map_err(|e| bad(e.to_string()))?;
            let key = ca_key(&cert).map_err(|e| bad(e.to_string()))?;
            cas.push(Ca { subject_der: cert.subject_der, key, id: Sha256::digest(der).into() });
        }
        Ok(BankCas { cas })
    }

    /// Whether one of these CAs issued `cert`: same issuer name, and its signature verifies.
    pub fn issued(&self, cert: &ParsedCert) -> bool {
        self.cas.iter().any(|ca| ca.subject_der == cert.issuer_der && ca.verifies_once(cert))
    }
}

impl Ca {
    /// [`verifies`](Self::verifies), remembered (see [`VERDICTS`]).
    fn verifies_once(&self, cert: &ParsedCert) -> bool {
        let key: [u8; 32] = Sha256::new().chain_update(self.id).chain_update(&cert.der).finalize().into();
        let known = VERDICTS.lock().ok().and_then(|m| m.as_ref().and_then(|m| m.get(&key).copied()));
        if let Some(v) = known {
            return v;
        }
        let v = self.verifies(cert);
        if let Ok(mut m) = VERDICTS.lock() {
            let m = m.get_or_insert_with(Default::default);
            if m.len() >= MAX_VERDICTS {
                m.clear();
            }
            m.insert(key, v);
        }
        v
    }

    fn verifies(&self, cert: &ParsedCert) -> bool {
        match (&self.key, cert.signature_algorithm.as_str()) {
            (CaKey::P256(vk), OID_ECDSA_SHA256) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_der(&cert.signature).is_ok_and(|sig| vk.verify(&cert.tbs_der, &sig).is_ok())
            }
            (CaKey::Rsa(vk), OID_RSA_SHA256) => {
                use rsa::signature::Verifier;
                rsa::pkcs1v15::Signature::try_from(cert.signature.as_slice())
                    .is_ok_and(|sig| vk.verify(&cert.tbs_der, &sig).is_ok())
            }
            _ => false,
        }
    }
}

fn ca_key(cert: &ParsedCert) -> Result<CaKey> {
    match cert.spki_algorithm.as_str() {
        OID_EC_PUBLIC_KEY if cert.key == CertKey::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(&cert.public_key_bits)
            .map(CaKey::P256)
            .map_err(|e| Error::Malformed(format!("CA P-256 key: {e}"))),
        OID_RSA => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::traits::PublicKeyParts as _;
            let pk = rsa::PublicKey::from_pkcs1_der(&cert.public_key_bits)
                .map_err(|e| Error::Malformed(format!("CA RSA key: {e}")))?;
            if pk.size() < 256 {
                return Err(Error::Malformed("CA RSA key shorter than 2048 bits".into()));
            }
            Ok(CaKey::Rsa(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk)))
        }
        other => Err(Error::Malformed(format!("CA key algorithm {other} is not supported (P-256 or RSA)"))),
    }
}

/// Whether `cert` marks a slot of an acquisition Kagi began and did not finish: the fixed
/// reservation certificate ([`crate::token::slots::RESERVATION`]), or the placeholder beside the
/// new key — Kagi's subject, self-issued, self-signed with the slot's key (so no other issuer's
/// certificate passes for one by its name alone).
pub fn is_placeholder(cert: &ParsedCert) -> bool {
    if cert.der == crate::token::slots::RESERVATION {
        return true;
    }
    if cert.summary("").subject.common_name.as_deref() != Some(crate::csr::PLACEHOLDER_CN) || cert.issuer_der != cert.subject_der {
        return false;
    }
    let key = match cert.key {
        CertKey::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(&cert.public_key_bits).ok().map(CaKey::P256),
        CertKey::Rsa2048 => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            rsa::PublicKey::from_pkcs1_der(&cert.public_key_bits).ok().map(|pk| CaKey::Rsa(rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk)))
        }
        CertKey::Other => None,
    };
    key.is_some_and(|key| Ca { subject_der: cert.subject_der.clone(), key, id: [0; 32] }.verifies(cert))
}

/// Checks a signature the token made over `digest` (SHA-256) with `cert`'s key: a faulty card
/// must never hand the bank a login token that cannot verify. `signature` is as the card
/// returned it (DER ECDSA-Sig-Value, or the RSA PKCS#1 v1.5 signature).
pub fn check_token_signature(cert: &ParsedCert, digest: &[u8; 32], signature: &[u8]) -> Result<()> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let bad = || Error::Internal("the token's signature does not verify with its certificate".into());
    match cert.key {
        CertKey::P256 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&cert.public_key_bits).map_err(|_| bad())?;
            let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| bad())?;
            vk.verify_prehash(digest, &sig).map_err(|_| bad())
        }
        CertKey::Rsa2048 => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let pk = rsa::PublicKey::from_pkcs1_der(&cert.public_key_bits).map_err(|_| bad())?;
            let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| bad())?;
            vk.verify_prehash(digest, &sig).map_err(|_| bad())
        }
        CertKey::Other => Err(Error::NoCertificate),
    }
}

/// SHA-256 of a DER certificate, lowercase hex: how a request names a certificate.
pub fn cert_id(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};

    fn ca(name: &str, alg: &'static rcgen::SignatureAlgorithm) -> (Issuer<'static, KeyPair>, Vec<u8>) {
        let key = KeyPair::generate_for(alg).unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        (Issuer::new(params, key), der)
    }

    fn leaf(issuer: &Issuer<'static, KeyPair>) -> (KeyPair, ParsedCert) {
        let key = KeyPair::generate().unwrap();
        let der = CertificateParams::default().signed_by(&key, issuer).unwrap().der().to_vec();
        (key, ParsedCert::parse(&der).unwrap())
    }

    fn cas(ders: &[&[u8]]) -> BankCas {
        BankCas::from_wire(&Issuers::from_der(ders.iter().map(|d| d.to_vec()).collect())).unwrap()
    }

    #[test]
    fn issued_needs_the_name_and_the_key() {
        let (bank, bank_der) = ca("Bank CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (twin, twin_der) = ca("Bank CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (other, other_der) = ca("Other CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, by_bank) = leaf(&bank);
        let (_, by_twin) = leaf(&twin);
        let (_, by_other) = leaf(&other);
        let bank_cas = cas(&[&bank_der]);
        assert!(bank_cas.issued(&by_bank));
        assert!(!bank_cas.issued(&by_twin), "same name, another key");
        assert!(!bank_cas.issued(&by_other));
        assert!(cas(&[&other_der, &twin_der]).issued(&by_twin), "any of several CAs");
        assert!(!cas(&[&other_der]).issued(&by_bank));
    }

    #[test]
    fn remembered_verdicts_belong_to_one_ca_and_one_certificate() {
        let (bank, bank_der) = ca("Bank CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, twin_der) = ca("Bank CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, by_bank) = leaf(&bank);
        // Asked twice (the second answer remembered), then by a look-alike CA (same name,
        // another key) and for a certificate that differs in one byte of its signature.
        assert!(cas(&[&bank_der]).issued(&by_bank));
        assert!(cas(&[&bank_der]).issued(&by_bank));
        assert!(!cas(&[&twin_der]).issued(&by_bank));
        assert!(!cas(&[&twin_der]).issued(&by_bank));
        let mut tampered = by_bank.der.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        if let Ok(t) = ParsedCert::parse(&tampered) {
            assert!(!cas(&[&bank_der]).issued(&t));
        }
    }

    #[test]
    fn unusable_issuers_are_bad_requests() {
        let e = BankCas::from_wire(&Issuers::from_der(vec![vec![0x30, 0x00]])).unwrap_err();
        assert!(matches!(e, Error::BadRequest(m) if m.starts_with("issuers[0]")));
        let (_, p384) = ca("P-384 CA", &rcgen::PKCS_ECDSA_P384_SHA384);
        let (_, p256) = ca("P-256 CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let e = BankCas::from_wire(&Issuers::from_der(vec![p256, p384])).unwrap_err();
        assert!(matches!(e, Error::BadRequest(m) if m.starts_with("issuers[1]") && m.contains("not supported")));
    }

    #[test]
    fn token_signatures_are_checked_against_the_certificate() {
        let (bank, _) = ca("Bank CA", &rcgen::PKCS_ECDSA_P256_SHA256);
        let (key, cert) = leaf(&bank);
        let digest = [7u8; 32];
        // A signature by the certificate's key over the digest (ECDSA over the prehash).
        let sk = p256::ecdsa::SigningKey::from_pkcs8_der(&key.serialize_der()).unwrap();
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        use p256::pkcs8::DecodePrivateKey;
        let sig: p256::ecdsa::Signature = sk.sign_prehash(&digest).unwrap();
        let der = sig.to_der();
        check_token_signature(&cert, &digest, der.as_bytes()).unwrap();
        // A faulty card: another digest, garbage, or another key's signature.
        assert!(matches!(check_token_signature(&cert, &[8u8; 32], der.as_bytes()), Err(Error::Internal(_))));
        assert!(matches!(check_token_signature(&cert, &digest, b"\x30\x00"), Err(Error::Internal(_))));
        let (_, other_cert) = leaf(&bank);
        assert!(matches!(check_token_signature(&other_cert, &digest, der.as_bytes()), Err(Error::Internal(_))));
    }
}
