//! A PKCS#10 certificate signing request signed by a key that never leaves the token.
//!
//! rcgen builds the request and hands us the to-be-signed bytes; we hash them and let the token
//! sign the digest (PLATFORM note: `rcgen::SigningKey::sign` receives the whole TBS).

use std::cell::RefCell;

use kagi_proto::KeyAlgorithm;
use rcgen::{CertificateParams, DistinguishedName, DnType, PublicKeyData, SignatureAlgorithm, SigningKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Signs SHA-256 digests with the token's key: returns a DER ECDSA signature or a PKCS#1 v1.5 one.
pub type DigestSigner<'a> = dyn FnMut(&[u8; 32]) -> Result<Vec<u8>> + 'a;

struct TokenKey<'s, 'a> {
    algorithm: KeyAlgorithm,
    public_key_bits: &'s [u8],
    signer: RefCell<&'s mut DigestSigner<'a>>,
    /// rcgen's error type cannot carry ours; keep the real cause here.
    failure: RefCell<Option<Error>>,
}

impl PublicKeyData for TokenKey<'_, '_> {
    fn der_bytes(&self) -> &[u8] {
        self.public_key_bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self.algorithm {
            KeyAlgorithm::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
        }
    }
}

impl SigningKey for TokenKey<'_, '_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        let digest: [u8; 32] = Sha256::digest(msg).into();
        let result = (self.signer.borrow_mut())(&digest);
        result.map_err(|e| {
            *self.failure.borrow_mut() = Some(e);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// Common name of the placeholder certificate: marks a slot holding the key of an acquisition
/// Kagi began and has not finished (see [`placeholder`]).
pub const PLACEHOLDER_CN: &str = "Kagi acquisition in progress";

/// A self-signed certificate for the new key, stored in its slot until the bank's certificate
/// replaces it. It pairs the key with a certificate (other PIV middleware sees a consistent
/// slot) and tells a later acquisition that this key is Kagi's own, left by an acquisition that
/// did not finish (the token pulled, the bank never answered): that slot may be used again.
pub fn placeholder(algorithm: KeyAlgorithm, public_key_bits: &[u8], signer: &mut DigestSigner<'_>) -> Result<Vec<u8>> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Kagi");
    dn.push(DnType::CommonName, PLACEHOLDER_CN);
    params.distinguished_name = dn;
    // rcgen makes a random serial only with a crypto backend, which the host does not link.
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| Error::Internal(format!("placeholder serial: {e}")))?;
    serial[0] &= 0x7F;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let key = TokenKey { algorithm, public_key_bits, signer: RefCell::new(signer), failure: RefCell::new(None) };
    match params.self_signed(&key) {
        Ok(cert) => Ok(cert.der().to_vec()),
        Err(e) => Err(key.failure.borrow_mut().take().unwrap_or_else(|| Error::Internal(format!("placeholder: {e}")))),
    }
}

/// Builds a CSR for the token key whose public part is `public_key_bits` (the SubjectPublicKeyInfo
/// BIT STRING contents: the uncompressed EC point, or the DER RSAPublicKey). The subject carries
/// only `common_name`: the bank's CA sets the real subject and every extension itself.
pub fn build(
    algorithm: KeyAlgorithm,
    public_key_bits: &[u8],
    common_name: &str,
    signer: &mut DigestSigner<'_>,
) -> Result<Vec<u8>> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let key = TokenKey { algorithm, public_key_bits, signer: RefCell::new(signer), failure: RefCell::new(None) };
    match params.serialize_request(&key) {
        Ok(csr) => Ok(csr.der().to_vec()),
        Err(e) => Err(key.failure.borrow_mut().take().unwrap_or_else(|| Error::Internal(format!("CSR: {e}")))),
    }
}
