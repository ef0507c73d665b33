//! The login signature: ES256 or RS256 over the 75-byte `kagi-auth:1` message.

use kagi_proto::SignatureAlgorithm;
use sha2::Sha256;

use crate::cert::PublicKey;
use crate::error::VerifyError;

/// Checks `signature` over `message` with the certificate's key.
pub fn check(key: &PublicKey, algorithm: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    match (algorithm, key) {
        (SignatureAlgorithm::ES256, PublicKey::P256(point)) => {
            use p256::ecdsa::signature::Verifier;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| VerifyError::UnsupportedKey(format!("P-256 point: {e}")))?;
            // JOSE ES256: exactly 64 bytes r ‖ s.
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
            vk.verify(message, &sig).map_err(|_| VerifyError::BadSignature)
        }
        (SignatureAlgorithm::RS256, PublicKey::Rsa(pkcs1)) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            use rsa::signature::Verifier;
            use rsa::traits::PublicKeyParts as _;
            let pk = rsa::PublicKey::from_pkcs1_der(pkcs1).map_err(|e| VerifyError::UnsupportedKey(format!("RSA key: {e}")))?;
            if pk.size() < 256 {
                return Err(VerifyError::UnsupportedKey(format!("RSA key of {} bits; at least 2048 required", pk.size() * 8)));
            }
            let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk);
            let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| VerifyError::BadSignature)?;
            vk.verify(message, &sig).map_err(|_| VerifyError::BadSignature)
        }
        (alg, PublicKey::Other(desc)) => Err(VerifyError::AlgorithmMismatch { algorithm: name(alg), key: desc.clone() }),
        (alg, key) => Err(VerifyError::AlgorithmMismatch { algorithm: name(alg), key: key.describe() }),
    }
}

fn name(alg: SignatureAlgorithm) -> &'static str {
    match alg {
        SignatureAlgorithm::ES256 => "ES256",
        SignatureAlgorithm::RS256 => "RS256",
    }
}
