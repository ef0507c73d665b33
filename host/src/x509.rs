//! Reading the parts of an X.509 certificate the customer and the host care about (RFC 5280).

use der::{Decode, Encode};
use kagi_proto::{CertSummary, Subject};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::error::{Error, Result};

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_C: &str = "2.5.4.6";
const OID_O: &str = "2.5.4.10";
const OID_OU: &str = "2.5.4.11";
const OID_CN: &str = "2.5.4.3";

/// The key types Kagi signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKey {
    P256,
    Rsa2048,
    /// Anything else: shown in summaries, never used to sign.
    Other,
}

/// A parsed certificate with the facts the host needs.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    pub der: Vec<u8>,
    pub key: CertKey,
    /// The subjectPublicKey BIT STRING contents (EC point, or DER RSAPublicKey).
    pub public_key_bits: Vec<u8>,
    pub not_before: u64,
    pub not_after: u64,
    /// DER of the issuer Name, compared with a CA's subject.
    pub issuer_der: Vec<u8>,
    /// DER of the subject Name (a CA certificate's subject is what its children name as issuer).
    pub subject_der: Vec<u8>,
    /// DER of the TBSCertificate: what the issuer signed.
    pub tbs_der: Vec<u8>,
    /// The certificate's signatureAlgorithm OID, dotted.
    pub signature_algorithm: String,
    /// The signatureValue BIT STRING contents.
    pub signature: Vec<u8>,
    /// The SubjectPublicKeyInfo algorithm OID, dotted (a CA's key may be other than Kagi's two).
    pub spki_algorithm: String,
    summary_without_slot: CertSummary,
}

impl ParsedCert {
    pub fn parse(der_bytes: &[u8]) -> Result<ParsedCert> {
        let cert = Certificate::from_der(der_bytes).map_err(|e| Error::Malformed(format!("certificate: {e}")))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        let public_key_bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Malformed("certificate: public key bit string has unused bits".into()))?
            .to_vec();
        let alg = spki.algorithm.oid.to_string();
        let key = if alg == OID_EC_PUBLIC_KEY {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            if curve.map(|c| c.to_string()).as_deref() == Some(OID_P256) && public_key_bits.len() == 65 {
                CertKey::P256
            } else {
                CertKey::Other
            }
        } else if alg == OID_RSA && rsa_modulus_bits(&public_key_bits) == Some(2048) {
            CertKey::Rsa2048
        } else {
            CertKey::Other
        };
        let key_algorithm = match key {
            CertKey::P256 => "P-256".to_owned(),
            CertKey::Rsa2048 => "RSA-2048".to_owned(),
            CertKey::Other => format!("other ({alg})"),
        };
        let validity = tbs.validity();
        let not_before = validity.not_before.to_unix_duration().as_secs();
        let not_after = validity.not_after.to_unix_duration().as_secs();
        let summary_without_slot = CertSummary {
            slot: String::new(),
            subject: subject(tbs.subject()),
            issuer: subject(tbs.issuer()),
            serial: hex::encode(strip_sign_byte(tbs.serial_number().as_bytes())),
            not_before: rfc3339(validity.not_before.to_date_time()),
            not_after: rfc3339(validity.not_after.to_date_time()),
            key_algorithm,
            sha256: hex::encode(Sha256::digest(der_bytes)),
        };
        let enc = |r: der::Result<Vec<u8>>| r.map_err(|e| Error::Malformed(format!("certificate: {e}")));
        let signature = cert
            .signature()
            .as_bytes()
            .ok_or_else(|| Error::Malformed("certificate: signature bit string has unused bits".into()))?
            .to_vec();
        Ok(ParsedCert {
            der: der_bytes.to_vec(),
            key,
            public_key_bits,
            not_before,
            not_after,
            issuer_der: enc(tbs.issuer().to_der())?,
            subject_der: enc(tbs.subject().to_der())?,
            tbs_der: enc(tbs.to_der())?,
            signature_algorithm: cert.signature_algorithm().oid.to_string(),
            signature,
            spki_algorithm: alg,
            summary_without_slot,
        })
    }

    /// The summary shown to the customer, for the slot `slot` (hex key reference).
    pub fn summary(&self, slot: &str) -> CertSummary {
        CertSummary { slot: slot.to_owned(), ..self.summary_without_slot.clone() }
    }

    pub fn is_valid_at(&self, unix: u64) -> bool {
        self.not_before <= unix && unix <= self.not_after
    }
}

/// DER INTEGERs carry a leading 00 when the top bit is set; serial numbers are shown without it.
fn strip_sign_byte(b: &[u8]) -> &[u8] {
    match b {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => b,
    }
}

pub(crate) fn rfc3339(t: der::DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    )
}

fn subject(name: &x509_cert::name::Name) -> Subject {
    let mut s = Subject::default();
    for atv in name.iter() {
        let Ok(value) = x509_cert::ext::pkix::name::DirectoryString::try_from(&atv.value).map(|d| d.value().into_owned())
        else {
            continue;
        };
        match atv.oid.to_string().as_str() {
            OID_C => s.country = Some(value),
            OID_O => s.organization = Some(value),
            OID_OU => s.organizational_units.push(value),
            OID_CN => s.common_name = Some(value),
            _ => {}
        }
    }
    s
}

/// Bit length of the modulus in a DER RSAPublicKey (RFC 8017 A.1.1), if it parses.
fn rsa_modulus_bits(rsa_public_key: &[u8]) -> Option<usize> {
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        modulus: der::asn1::UintRef<'a>,
        _exponent: der::asn1::UintRef<'a>,
    }
    let k = RsaPublicKey::from_der(rsa_public_key).ok()?;
    let n = k.modulus.as_bytes();
    let first = *n.first()?;
    Some(n.len() * 8 - first.leading_zeros() as usize)
}

/// Converts a DER `Ecdsa-Sig-Value` (what PIV cards return, RFC 3279 §2.2.3) into the 64-byte
/// `r ‖ s` form of JOSE ES256 (RFC 7518 §3.4).
pub fn ecdsa_der_to_raw(sig: &[u8]) -> Result<[u8; 64]> {
    #[derive(der::Sequence)]
    struct EcdsaSig<'a> {
        r: der::asn1::UintRef<'a>,
        s: der::asn1::UintRef<'a>,
    }
    let bad = |what: &str| Error::Malformed(format!("ECDSA signature: {what}"));
    let parsed = EcdsaSig::from_der(sig).map_err(|e| bad(&e.to_string()))?;
    let mut out = [0u8; 64];
    for (i, v) in [parsed.r.as_bytes(), parsed.s.as_bytes()].into_iter().enumerate() {
        if v.len() > 32 {
            return Err(bad("integer longer than 32 bytes"));
        }
        out[i * 32 + 32 - v.len()..(i + 1) * 32].copy_from_slice(v);
    }
    Ok(out)
}

/// The subjectPublicKey BIT STRING contents of a DER SubjectPublicKeyInfo.
pub fn spki_bits(spki_der: &[u8]) -> Result<Vec<u8>> {
    let spki = x509_cert::spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| Error::Malformed(format!("public key: {e}")))?;
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::Malformed("public key: bit string has unused bits".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_der_to_raw_pads_short_integers() {
        // SEQUENCE { INTEGER 0x01, INTEGER 0x00ff.. (33 bytes with sign byte) }
        let mut s = vec![0x00];
        s.extend([0xffu8; 32]);
        let mut der = vec![0x30, 3 + 2 + 33, 0x02, 0x01, 0x01, 0x02, 33];
        der.extend(&s);
        let raw = ecdsa_der_to_raw(&der).unwrap();
        assert_eq!(raw[..31], [0u8; 31]);
        assert_eq!(raw[31], 1);
        assert_eq!(raw[32..], [0xffu8; 32]);
        assert!(ecdsa_der_to_raw(&der[..der.len() - 1]).is_err());
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(ecdsa_der_to_raw(&trailing).is_err());
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"not a cert"] {
            assert!(matches!(ParsedCert::parse(bytes), Err(Error::Malformed(_))));
        }
    }
}
