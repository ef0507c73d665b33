//! Cryptography of the token: PIV asymmetric keys (SP 800-78-4 §3: ECC P-256 and RSA-2048)
//! and the card management key (SP 800-78-4 §3.1: 3DES or AES).

use aes::cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::BoxedUint;
use serde::{Deserialize, Serialize};

/// PIV algorithm identifiers (SP 800-78-4 Table 6-2).
pub const ALG_3DES: u8 = 0x03;
pub const ALG_RSA2048: u8 = 0x07;
pub const ALG_AES128: u8 = 0x08;
pub const ALG_AES192: u8 = 0x0A;
pub const ALG_AES256: u8 = 0x0C;
pub const ALG_ECCP256: u8 = 0x11;

/// Failure of a cryptographic operation (the card answers a status word for it).
#[derive(Debug)]
pub struct CryptoError(pub String);

fn err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError(e.to_string())
}

/// Fills `n` bytes from the operating system's random source.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut v = vec![0u8; n];
    getrandom::fill(&mut v).map_err(err)?;
    Ok(v)
}

/// An asymmetric private key as stored in the state file (hex big-endian values).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoredKey {
    /// ECC P-256 private scalar.
    EccP256 { d: String },
    /// RSA-2048 by its primes and public exponent.
    Rsa2048 { p: String, q: String, e: String },
}

/// A usable asymmetric key.
pub enum AsymKey {
    EccP256(p256::ecdsa::SigningKey),
    Rsa2048(Box<rsa::PrivateKey>),
}

impl AsymKey {
    /// Generates a fresh key for the PIV algorithm `alg` (0x11 or 0x07).
    pub fn generate(alg: u8) -> Result<Self, CryptoError> {
        match alg {
            ALG_ECCP256 => loop {
                let d = random_bytes(32)?;
                if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&d) {
                    return Ok(AsymKey::EccP256(k));
                }
            },
            ALG_RSA2048 => {
                let k = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).map_err(err)?;
                Ok(AsymKey::Rsa2048(Box::new(k)))
            }
            _ => Err(CryptoError(format!("unsupported algorithm {alg:#04x}"))),
        }
    }

    /// The PIV algorithm identifier of this key.
    pub fn alg(&self) -> u8 {
        match self {
            AsymKey::EccP256(_) => ALG_ECCP256,
            AsymKey::Rsa2048(_) => ALG_RSA2048,
        }
    }

    /// Restores a key from its stored form.
    pub fn from_stored(s: &StoredKey) -> Result<Self, CryptoError> {
        let h = |x: &str| hex::decode(x).map_err(err);
        match s {
            StoredKey::EccP256 { d } => Self::from_ec_scalar(&h(d)?),
            StoredKey::Rsa2048 { p, q, e } => Self::from_rsa_primes(&h(p)?, &h(q)?, &h(e)?),
        }
    }

    /// A P-256 key from its private scalar (big-endian, at most 32 bytes: a YubiKey IMPORT
    /// sends it left-padded to 32).
    pub fn from_ec_scalar(d: &[u8]) -> Result<Self, CryptoError> {
        if d.is_empty() || d.len() > 32 {
            return Err(CryptoError(format!("P-256 scalar of {} bytes", d.len())));
        }
        let mut full = [0u8; 32];
        full[32 - d.len()..].copy_from_slice(d);
        Ok(AsymKey::EccP256(p256::ecdsa::SigningKey::from_slice(&full).map_err(err)?))
    }

    /// An RSA key from its primes and public exponent; only 2048-bit moduli are accepted.
    pub fn from_rsa_primes(p: &[u8], q: &[u8], e: &[u8]) -> Result<Self, CryptoError> {
        let p = BoxedUint::from_be_slice_vartime(p);
        let q = BoxedUint::from_be_slice_vartime(q);
        let e = BoxedUint::from_be_slice_vartime(e);
        let k = rsa::PrivateKey::from_p_q(p, q, e).map_err(err)?;
        if k.size() != 256 {
            return Err(CryptoError(format!("RSA modulus of {} bytes, not 256", k.size())));
        }
        Ok(AsymKey::Rsa2048(Box::new(k)))
    }

    /// The form written to the state file.
    pub fn to_stored(&self) -> StoredKey {
        match self {
            AsymKey::EccP256(k) => StoredKey::EccP256 { d: hex::encode(k.to_bytes()) },
            AsymKey::Rsa2048(k) => {
                let pr = k.primes();
                StoredKey::Rsa2048 {
                    p: hex::encode(pr[0].to_be_bytes_trimmed_vartime()),
                    q: hex::encode(pr[1].to_be_bytes_trimmed_vartime()),
                    e: hex::encode(k.e().to_be_bytes_trimmed_vartime()),
                }
            }
        }
    }

    /// The public key as the data of the 7F49 template (SP 800-73-4 Part 2 §3.3.2, Table 7):
    /// ECC: `86` uncompressed point; RSA: `81` modulus, `82` public exponent.
    pub fn public_template_content(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            AsymKey::EccP256(k) => {
                let pt = k.verifying_key().to_sec1_point(false);
                crate::tlv::push(&mut out, 0x86, pt.as_bytes());
            }
            AsymKey::Rsa2048(k) => {
                let n = k.n().as_ref().to_be_bytes_trimmed_vartime();
                let e = k.e().to_be_bytes_trimmed_vartime();
                crate::tlv::push(&mut out, 0x81, &n);
                crate::tlv::push(&mut out, 0x82, &e);
            }
        }
        out
    }

    /// The key as YubiKey IMPORT ASYMMETRIC KEY data, built as ykpiv
    /// `ykpiv_import_private_key` builds it: RSA `01 p, 02 q, 03 dP, 04 dQ, 05 qInv`, each
    /// left-padded to 128 bytes; P-256 `06 d` (32 bytes). For tests of the import path.
    #[cfg(test)]
    pub fn import_template(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            AsymKey::EccP256(k) => crate::tlv::push(&mut out, 0x06, &k.to_bytes()),
            AsymKey::Rsa2048(k) => {
                let pad = |b: &BoxedUint| {
                    let v = b.to_be_bytes_trimmed_vartime();
                    let mut p = vec![0u8; 128usize.saturating_sub(v.len())];
                    p.extend_from_slice(&v);
                    p
                };
                let pr = k.primes();
                let (p, q) = (pr[0].as_ref(), pr[1].as_ref());
                let dp = k.dp().cloned().unwrap_or_default();
                let dq = k.dq().cloned().unwrap_or_default();
                let qinv = k.crt_coefficient().unwrap_or_default();
                for (tag, v) in [(1u32, p), (2, q), (3, &dp), (4, &dq), (5, &qinv)] {
                    crate::tlv::push(&mut out, tag, &pad(v));
                }
            }
        }
        out
    }

    /// ECDSA over a digest the client computed (SP 800-73-4 Part 2 §3.2.4 with alg 0x11):
    /// returns the DER `Ecdsa-Sig-Value`. The digest is truncated/left-padded to 32 bytes.
    pub fn ecdsa_sign(&self, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let AsymKey::EccP256(k) = self else {
            return Err(CryptoError("not an ECC key".into()));
        };
        if digest.is_empty() {
            return Err(CryptoError("empty digest".into()));
        }
        let mut h = [0u8; 32];
        if digest.len() >= 32 {
            h.copy_from_slice(&digest[..32]);
        } else {
            h[32 - digest.len()..].copy_from_slice(digest);
        }
        let sig: p256::ecdsa::DerSignature = k.sign_prehash(&h).map_err(err)?;
        Ok(sig.as_bytes().to_vec())
    }

    /// The raw RSA private-key operation on a block the client has already padded
    /// (SP 800-73-4 Part 2 §3.2.4 with alg 0x07; used for both signing and key transport).
    pub fn rsa_raw(&self, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let AsymKey::Rsa2048(k) = self else {
            return Err(CryptoError("not an RSA key".into()));
        };
        let size = k.size();
        if input.len() != size {
            return Err(CryptoError(format!("input is {} bytes, modulus {size}", input.len())));
        }
        let c = BoxedUint::from_be_slice(input, k.n_bits_precision()).map_err(err)?;
        if c >= *k.n().as_ref() {
            return Err(CryptoError("input not below the modulus".into()));
        }
        let m = rsa::hazmat::rsa_decrypt_and_check(k.as_ref(), Some(&mut getrandom::SysRng), &c)
            .map_err(err)?;
        let m = m.to_be_bytes_trimmed_vartime();
        let mut out = vec![0u8; size.saturating_sub(m.len())];
        out.extend_from_slice(&m);
        Ok(out)
    }
}

/// The card management key (key reference 9B, SP 800-73-4 Part 1 §3.1.4 / Part 2 §3.2.4).
#[derive(Clone)]
pub struct MgmtKey {
    pub alg: u8,
    pub key: Vec<u8>,
}

/// The conventional default management key (3DES 0102..08 ×3).
pub const DEFAULT_MGMT_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

impl MgmtKey {
    /// Checks that the key length fits the algorithm.
    pub fn new(alg: u8, key: Vec<u8>) -> Result<Self, CryptoError> {
        let want = match alg {
            ALG_3DES => 24,
            ALG_AES128 => 16,
            ALG_AES192 => 24,
            ALG_AES256 => 32,
            _ => return Err(CryptoError(format!("unsupported management key algorithm {alg:#04x}"))),
        };
        if key.len() != want {
            return Err(CryptoError(format!("key for alg {alg:#04x} must be {want} bytes")));
        }
        Ok(MgmtKey { alg, key })
    }

    /// Cipher block size: 8 for 3DES, 16 for AES.
    pub fn block_len(&self) -> usize {
        if self.alg == ALG_3DES {
            8
        } else {
            16
        }
    }

    /// Encrypts one block (ECB, as the challenge-response uses it).
    pub fn encrypt(&self, block: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.apply(block, true)
    }

    /// Decrypts one block (what the client side does with the witness).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn decrypt(&self, block: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.apply(block, false)
    }

    fn apply(&self, block: &[u8], enc: bool) -> Result<Vec<u8>, CryptoError> {
        if block.len() != self.block_len() {
            return Err(CryptoError("wrong block length".into()));
        }
        fn run<C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt>(
            key: &[u8],
            block: &[u8],
            enc: bool,
        ) -> Result<Vec<u8>, CryptoError> {
            let c = C::new_from_slice(key).map_err(err)?;
            let mut b = Array::try_from(block).map_err(|_| CryptoError("block size".into()))?;
            if enc {
                c.encrypt_block(&mut b);
            } else {
                c.decrypt_block(&mut b);
            }
            Ok(b.to_vec())
        }
        match self.alg {
            ALG_3DES => run::<des::TdesEde3>(&self.key, block, enc),
            ALG_AES128 => run::<aes::Aes128>(&self.key, block, enc),
            ALG_AES192 => run::<aes::Aes192>(&self.key, block, enc),
            ALG_AES256 => run::<aes::Aes256>(&self.key, block, enc),
            _ => Err(CryptoError("unsupported algorithm".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tdes_known_answer() {
        // Single-DES test vector from FIPS 81 / NBS "Now is t" with K1=K2=K3 (3DES degenerates to DES).
        let k = hex::decode("0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
        let m = MgmtKey::new(ALG_3DES, k).unwrap();
        let c = m.encrypt(b"Now is t").unwrap();
        assert_eq!(hex::encode(&c), "3fa40e8a984d4815");
        assert_eq!(m.decrypt(&c).unwrap(), b"Now is t");
    }

    #[test]
    fn aes_known_answer() {
        // FIPS 197 Appendix C.1.
        let k = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let m = MgmtKey::new(ALG_AES128, k).unwrap();
        let p = hex::decode("00112233445566778899aabbccddeeff").unwrap();
        assert_eq!(hex::encode(m.encrypt(&p).unwrap()), "69c4e0d86a7b0430d8cdb78070b4c55a");
    }

    #[test]
    fn ecc_roundtrip_and_sign() {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let k = AsymKey::generate(ALG_ECCP256).unwrap();
        let k2 = AsymKey::from_stored(&k.to_stored()).unwrap();
        let digest = [7u8; 32];
        let sig = k2.ecdsa_sign(&digest).unwrap();
        let AsymKey::EccP256(sk) = &k else { unreachable!() };
        let s = p256::ecdsa::Signature::from_der(&sig).unwrap();
        sk.verifying_key().verify_prehash(&digest, &s).unwrap();
        let t = k.public_template_content();
        assert_eq!(&t[..3], &[0x86, 65, 0x04]);
    }
}
