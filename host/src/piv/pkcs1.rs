//! PKCS#1 v1.5 signature padding (RFC 8017 §9.2 EMSA-PKCS1-v1_5) for SHA-256.
//!
//! A PIV card's RSA GENERAL AUTHENTICATE is a raw private-key operation on a block as long as the
//! modulus (SP 800-73-4 Part 2 §3.2.4, SP 800-78-4 §3.1): the host builds
//! `00 01 FF..FF 00 DigestInfo` itself.

use crate::error::{Error, Result};

/// RFC 8017 §9.2 note 1: DER of `DigestInfo { AlgorithmIdentifier { id-sha256, NULL }, OCTET STRING (32) }`
/// up to the digest.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// RSA-2048 modulus length in bytes.
pub const RSA2048_LEN: usize = 256;

/// The DER DigestInfo for a SHA-256 digest.
pub fn sha256_digest_info(digest: &[u8; 32]) -> [u8; 51] {
    let mut out = [0u8; 51];
    out[..19].copy_from_slice(&SHA256_DIGEST_INFO_PREFIX);
    out[19..].copy_from_slice(digest);
    out
}

/// The encoded message `00 01 FF.. 00 DigestInfo(SHA-256, digest)` of `k` bytes (the modulus
/// length). RFC 8017 requires at least 8 bytes of `FF` padding.
pub fn sha256_signature_block(digest: &[u8; 32], k: usize) -> Result<Vec<u8>> {
    let t = sha256_digest_info(digest);
    if k < t.len() + 11 {
        return Err(Error::Internal(format!("RSA modulus of {k} bytes is too short for PKCS#1")));
    }
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(k - t.len() - 1, 0xFF);
    em.push(0x00);
    em.extend_from_slice(&t);
    Ok(em)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recovered with `openssl pkeyutl -verifyrecover -pkeyopt rsa_padding_mode:none` from an
    /// `openssl dgst -sha256 -sign` signature over "abc" with a 2048-bit key.
    const OPENSSL_BLOCK_ABC: &str = concat!(
        "0001ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "ffffffffffffffffffffffff003031300d060960864801650304020105000420ba7816bf8f01cfea414140de5dae2223",
        "b00361a396177a9cb410ff61f20015ad"
    );

    #[test]
    fn matches_openssl() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let d: [u8; 32] =
            hex::decode("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap()
                .try_into()
                .unwrap();
        let block = sha256_signature_block(&d, RSA2048_LEN).unwrap();
        assert_eq!(hex::encode(&block), OPENSSL_BLOCK_ABC);
        assert_eq!(block.len(), 256);
    }

    #[test]
    fn too_short() {
        assert!(sha256_signature_block(&[0; 32], 61).is_err());
        assert_eq!(sha256_signature_block(&[0; 32], 62).unwrap().len(), 62);
    }
}
