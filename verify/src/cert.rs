//! The facts of a customer certificate the verifier and the bank need (RFC 5280 fields read
//! with `x509-cert`; path validation is `rustls-webpki`'s job, in `verifier.rs`).

use std::time::{Duration, SystemTime};

use der::Decode;
use kagi_proto::Subject;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::Certificate;

use crate::error::VerifyError;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_RSA: &str = "1.2.840.113549.1.1.1";

/// The certificate's public key, in a form the signature check uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// SEC1 uncompressed point.
    P256(Vec<u8>),
    /// DER `RSAPublicKey` (PKCS#1).
    Rsa(Vec<u8>),
    /// Anything else, described.
    Other(String),
}

impl PublicKey {
    pub fn describe(&self) -> String {
        match self {
            PublicKey::P256(_) => "P-256".into(),
            PublicKey::Rsa(_) => "RSA".into(),
            PublicKey::Other(s) => s.clone(),
        }
    }
}

/// A parsed certificate: what the bank shows and looks up.
#[derive(Debug, Clone)]
pub struct CertInfo {
    pub subject: Subject,
    pub issuer: Subject,
    /// Serial number, lowercase hex without the DER sign byte (as `CertSummary::serial`).
    pub serial: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    pub public_key: PublicKey,
    /// `None` when the certificate has no keyUsage extension.
    pub digital_signature: Option<bool>,
}

impl CertInfo {
    pub fn parse(der_bytes: &[u8]) -> Result<CertInfo, VerifyError> {
        let bad = |e: &dyn std::fmt::Display| VerifyError::CertificateMalformed(e.to_string());
        let cert = Certificate::from_der(der_bytes).map_err(|e| bad(&e))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        let bits = spki.subject_public_key.as_bytes().ok_or_else(|| bad(&"public key has unused bits"))?.to_vec();
        let alg = spki.algorithm.oid.to_string();
        let public_key = if alg == OID_EC_PUBLIC_KEY {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok());
            match curve.map(|c| c.to_string()) {
                Some(c) if c == OID_P256 => PublicKey::P256(bits),
                Some(c) => PublicKey::Other(format!("EC curve {c}")),
                None => PublicKey::Other("EC without named curve".into()),
            }
        } else if alg == OID_RSA {
            PublicKey::Rsa(bits)
        } else {
            PublicKey::Other(format!("key algorithm {alg}"))
        };
        let digital_signature = tbs.get_extension::<KeyUsage>().map_err(|e| bad(&e))?.map(|(_, ku)| ku.digital_signature());
        let validity = tbs.validity();
        Ok(CertInfo {
            subject: subject(tbs.subject()),
            issuer: subject(tbs.issuer()),
            serial: hex::encode(strip_sign_byte(tbs.serial_number().as_bytes())),
            not_before: SystemTime::UNIX_EPOCH + validity.not_before.to_unix_duration(),
            not_after: SystemTime::UNIX_EPOCH + validity.not_after.to_unix_duration(),
            sha256: hex::encode(Sha256::digest(der_bytes)),
            public_key,
            digital_signature,
        })
    }

    /// `IssuedCount=NNN` from the subject's organizational units, if present.
    pub fn issued_count(&self) -> Option<u32> {
        self.subject.organizational_units.iter().find_map(|ou| ou.strip_prefix("IssuedCount=")).and_then(|n| n.trim().parse().ok())
    }
}

/// DER INTEGERs carry a leading 00 when the top bit is set; serial numbers are shown without it.
fn strip_sign_byte(b: &[u8]) -> &[u8] {
    match b {
        [0, rest @ ..] if !rest.is_empty() => rest,
        _ => b,
    }
}

fn subject(name: &x509_cert::name::Name) -> Subject {
    let mut s = Subject::default();
    for atv in name.iter() {
        let Ok(value) = x509_cert::ext::pkix::name::DirectoryString::try_from(&atv.value).map(|d| d.value().into_owned()) else {
            continue;
        };
        match atv.oid.to_string().as_str() {
            "2.5.4.6" => s.country = Some(value),
            "2.5.4.10" => s.organization = Some(value),
            "2.5.4.11" => s.organizational_units.push(value),
            "2.5.4.3" => s.common_name = Some(value),
            _ => {}
        }
    }
    s
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}
