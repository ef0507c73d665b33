//! Public keys returned by GENERATE ASYMMETRIC KEY PAIR and their SubjectPublicKeyInfo DER.
//!
//! SP 800-73-4 Part 2 §3.3.2 / Part 1 Table 25: the response is template `7F49` holding
//! `81` modulus + `82` public exponent (RSA) or `86` uncompressed point (ECC).

use crate::error::{Error, Result};
use crate::piv::objects::KeyAlgorithm;
use crate::piv::tlv;

/// A public key generated on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// P-256 public point, uncompressed SEC1 encoding `04 || X || Y`.
    EcP256 { point: [u8; 65] },
    /// RSA modulus and public exponent, big-endian without leading zero bytes.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

/// DER prefix of SPKI for id-ecPublicKey / prime256v1 up to the BIT STRING's content (RFC 5480).
const EC_P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// DER AlgorithmIdentifier { rsaEncryption, NULL } (RFC 8017 appendix A.1).
const RSA_ALG_ID: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn strip_zeros(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|x| **x == 0).count();
    &b[skip..]
}

/// DER INTEGER for a non-negative big-endian magnitude.
fn der_uint(mag: &[u8], out: &mut Vec<u8>) {
    let mag = strip_zeros(mag);
    let mut v = Vec::with_capacity(mag.len() + 1);
    if mag.first().is_none_or(|b| b & 0x80 != 0) {
        v.push(0);
    }
    v.extend_from_slice(mag);
    tlv::encode_into(0x02, &v, out);
}

impl PublicKey {
    /// Parse the `7F49` template of a GENERATE ASYMMETRIC KEY PAIR response for `alg`.
    /// SP 800-73-4 Part 2 §3.3.2.
    pub fn from_7f49(data: &[u8], alg: KeyAlgorithm) -> Result<Self> {
        let inner = tlv::expect_single(data, 0x7F49, "generated public key")?;
        match alg {
            KeyAlgorithm::EccP256 => {
                let p = tlv::exactly_one(inner, 0x86, "ECC public key 7F49")?;
                let point: [u8; 65] = p.try_into().map_err(|_| {
                    Error::Malformed(format!("ECC public key 7F49: tag 86 has {} bytes, want 65", p.len()))
                })?;
                if point[0] != 0x04 {
                    return Err(Error::Malformed("ECC public key 7F49: tag 86 is not an uncompressed point".into()));
                }
                Ok(PublicKey::EcP256 { point })
            }
            KeyAlgorithm::Rsa2048 => {
                let n = strip_zeros(tlv::exactly_one(inner, 0x81, "RSA public key 7F49")?);
                let e = strip_zeros(tlv::exactly_one(inner, 0x82, "RSA public key 7F49")?);
                if n.len() != 256 || n[0] & 0x80 == 0 {
                    return Err(Error::Malformed(format!(
                        "RSA public key 7F49: tag 81 is not a 2048-bit modulus ({} bytes)",
                        n.len()
                    )));
                }
                if e.is_empty() || e.len() > 8 {
                    return Err(Error::Malformed("RSA public key 7F49: bad exponent in tag 82".into()));
                }
                Ok(PublicKey::Rsa { n: n.to_vec(), e: e.to_vec() })
            }
            KeyAlgorithm::Unsupported(x) => {
                Err(Error::Internal(format!("unsupported key algorithm {x:02X}")))
            }
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            PublicKey::EcP256 { .. } => KeyAlgorithm::EccP256,
            PublicKey::Rsa { .. } => KeyAlgorithm::Rsa2048,
        }
    }

    /// DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7; RFC 5480 for EC, RFC 8017 A.1 for RSA).
    pub fn spki_der(&self) -> Vec<u8> {
        match self {
            PublicKey::EcP256 { point } => {
                let mut out = EC_P256_SPKI_PREFIX.to_vec();
                out.extend_from_slice(point);
                out
            }
            PublicKey::Rsa { n, e } => {
                let mut ints = Vec::new();
                der_uint(n, &mut ints);
                der_uint(e, &mut ints);
                let rsa_pub = tlv::encode(0x30, &ints);
                let mut bits = Vec::with_capacity(rsa_pub.len() + 1);
                bits.push(0); // no unused bits
                bits.extend_from_slice(&rsa_pub);
                let mut body = RSA_ALG_ID.to_vec();
                tlv::encode_into(0x03, &bits, &mut body);
                tlv::encode(0x30, &body)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `openssl ecparam -name prime256v1 -genkey` + `openssl pkey -pubout -outform DER`.
    const EC_SPKI: &str = "3059301306072a8648ce3d020106082a8648ce3d0301070342000415931da75e99628369332824458bf8532945206553a96b681cc248c9acbecd100d5299b66ef2b7d46856ea963b7fbdf1af4a62ffe51166b3ed80f78fd98e4945";
    // `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` + `openssl pkey -pubout -outform DER`.
    pub(crate) const RSA_N: &str = "a8593e3cb678511c3d80b6111c43b2495c653ba66c59c44fcd64c3e90d7de644d3b34be8a4bbe43414b20263d3f7add64908d61b5cf0932761f255f0a30e946b3a0dc767774b9b2be2925088fced3adc4bc8d6d741b7f7fdc58488d1ff801d9ad97b2d8d265bc9a8fb0f304b2b43f489b815135bf01dff9a10b84049a24bfe2bad09905ba1823acf1ebc22843805b35d2c35d11ac0c8a0b63553c347b1ad6f3026f1b5346c0d869c1470daca2f66c723bd59ef6b25c9b43abd6ffd4795cc3a20865c9b60aca6604c17a700e9f9da419ecdf893995d459a2d40f32b3a982f7e751ac23bbce7cee5e9e4968dd0c74aa6ecdbe9b724c0d782f43913fde673590aab";
    const RSA_SPKI_HEAD: &str = "30820122300d06092a864886f70d01010105000382010f003082010a0282010100";

    #[test]
    fn ec_from_7f49_and_spki() {
        let point = &hex::decode(EC_SPKI).unwrap()[26..];
        let mut resp = vec![0x7F, 0x49, 0x43, 0x86, 0x41];
        resp.extend_from_slice(point);
        let k = PublicKey::from_7f49(&resp, KeyAlgorithm::EccP256).unwrap();
        assert_eq!(hex::encode(k.spki_der()), EC_SPKI);
        assert_eq!(k.algorithm(), KeyAlgorithm::EccP256);
    }

    #[test]
    fn rsa_from_7f49_and_spki() {
        // The YubiKey's layout: 7F49 82 01 09 { 81 82 01 00 n, 82 03 010001 }.
        let n = hex::decode(RSA_N).unwrap();
        let mut inner = tlv::encode(0x81, &n);
        tlv::encode_into(0x82, &[1, 0, 1], &mut inner);
        let resp = tlv::encode(0x7F49, &inner);
        assert_eq!(&resp[..4], &[0x7F, 0x49, 0x82, 0x01]);
        let k = PublicKey::from_7f49(&resp, KeyAlgorithm::Rsa2048).unwrap();
        let expect = format!("{RSA_SPKI_HEAD}{RSA_N}0203010001");
        assert_eq!(hex::encode(k.spki_der()), expect);
    }

    #[test]
    fn malformed_7f49() {
        let e = PublicKey::from_7f49(&[0x7F, 0x49, 0x02, 0x87, 0x00], KeyAlgorithm::EccP256)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing tag 86"), "{e}");
        let e = PublicKey::from_7f49(&[0x7F, 0x49, 0x03, 0x86, 0x01, 0x04], KeyAlgorithm::EccP256)
            .unwrap_err()
            .to_string();
        assert!(e.contains("65"), "{e}");
        let mut ok = vec![0x7F, 0x49, 0x43, 0x86, 0x41, 0x04];
        ok.extend_from_slice(&[1; 64]);
        let mut extra = ok.clone();
        extra.push(0);
        assert!(PublicKey::from_7f49(&extra, KeyAlgorithm::EccP256).unwrap_err().to_string().contains("leftover"));
        assert!(PublicKey::from_7f49(&ok[..20], KeyAlgorithm::EccP256).is_err());
        let e = PublicKey::from_7f49(&tlv::encode(0x7F49, &tlv::encode(0x81, &[0x80; 256])), KeyAlgorithm::Rsa2048)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing tag 82"), "{e}");
        assert!(PublicKey::from_7f49(&ok, KeyAlgorithm::Unsupported(0x14)).is_err());
    }
}
