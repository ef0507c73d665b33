//! The bank's CA certificates a request names (`issuers`), so the host uses and replaces only
//! certificates that bank issued (protocol 2).
//!
//! This crate only checks the envelope: 1 to [`MAX_ISSUERS`] standard-base64 strings that decode
//! to something shaped like a DER SEQUENCE. The host parses the certificates and decides which
//! certificates on the token each one issued (issuer name equal to the CA's subject AND a
//! signature that verifies with the CA's key).

use base64::Engine;
use serde::{Serialize, Serializer};

use crate::b64::{self, Alphabet};
use crate::error::ProtoError;

/// Most CA certificates one request may name (a bank's current and next CA, with room to spare).
pub const MAX_ISSUERS: usize = 8;

/// Largest CA certificate accepted, in DER bytes.
pub const MAX_ISSUER_BYTES: usize = 16 * 1024;

/// The bank's CA certificates, DER, in the order the page gave them, with their wire form (kept
/// from the page's text: the strict decoder accepts only the canonical encoding, so it is what
/// encoding again would give, and the extension's WASM needs no base64 encoder).
#[derive(Clone, PartialEq, Eq)]
pub struct Issuers {
    der: Vec<Vec<u8>>,
    base64: Vec<String>,
}

impl Issuers {
    /// Parses the wire form: an array of 1..=8 standard-base64 DER certificates.
    pub fn parse(items: &[String]) -> Result<Issuers, ProtoError> {
        if items.is_empty() || items.len() > MAX_ISSUERS {
            return Err(ProtoError::Issuers("issuers must name 1 to 8 CA certificates"));
        }
        let mut out = Vec::with_capacity(items.len());
        for s in items {
            let der = b64::decode(s.trim(), Alphabet::Standard).ok_or(ProtoError::Base64 { field: "issuers" })?;
            if der.len() > MAX_ISSUER_BYTES {
                return Err(ProtoError::Issuers("an issuer certificate is larger than 16 KiB"));
            }
            if der.first() != Some(&0x30) {
                return Err(ProtoError::Issuers("an issuer is not a DER certificate"));
            }
            out.push(der);
        }
        Ok(Issuers { der: out, base64: items.iter().map(|s| s.trim().to_owned()).collect() })
    }

    /// From DER certificates (bank side and tests). Does not check the count.
    pub fn from_der(certs: Vec<Vec<u8>>) -> Issuers {
        let base64 = certs.iter().map(|d| base64::engine::general_purpose::STANDARD.encode(d)).collect();
        Issuers { der: certs, base64 }
    }

    pub fn certificates(&self) -> &[Vec<u8>] {
        &self.der
    }

    /// The wire form.
    pub fn to_base64(&self) -> Vec<String> {
        self.base64.clone()
    }
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuers({} certificates)", self.der.len())
    }
}

impl Serialize for Issuers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_base64().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_rules() {
        assert!(Issuers::parse(&[]).is_err());
        assert!(Issuers::parse(&vec!["MAA=".to_string(); 9]).is_err());
        assert!(matches!(Issuers::parse(&["!!".into()]), Err(ProtoError::Base64 { field: "issuers" })));
        assert!(Issuers::parse(&["AQI=".into()]).is_err(), "not a SEQUENCE");
        let i = Issuers::parse(&["MAA=".into(), " MAEA ".into()]).unwrap();
        assert_eq!(i.certificates(), &[vec![0x30, 0], vec![0x30, 1, 0]]);
        assert_eq!(i.to_base64(), vec!["MAA=", "MAEA"]);
        assert_eq!(format!("{i:?}"), "Issuers(2 certificates)");
    }

    #[test]
    fn kept_wire_form_is_the_canonical_encoding() {
        // Only canonical base64 is accepted, so the text kept is what encoding gives.
        for s in ["MAF=", "MAA", "MB==", "MA EA"] {
            assert!(Issuers::parse(&[s.into()]).is_err(), "{s}");
        }
        let parsed = Issuers::parse(&[" MAEA ".into(), "MAA=".into()]).unwrap();
        assert_eq!(parsed, Issuers::from_der(vec![vec![0x30, 1, 0], vec![0x30, 0]]));
    }
}
