//! The `kagi-auth:1` login token.
//!
//! The token signs a digest bound to the bank's origin and a nonce the bank issued:
//!
//! ```text
//! digest = SHA-256( "kagi-auth:1" ‖ SHA-256(origin) ‖ SHA-256(nonce) )
//! ```
//!
//! where `origin` is the ASCII serialisation of the page's origin exactly as a browser writes it
//! (`https://bank.example`, `https://bank.example:8443`, `http://127.0.0.1:8080`: lowercase, no
//! trailing slash, default port omitted) and `nonce` is the ASCII base64url string the bank issued,
//! exactly as issued. The token signs this 32-byte digest: ES256 with the token's P-256 key (the
//! ECDSA input is the digest itself, i.e. ECDSA-with-SHA-256 over the 75-byte message
//! `"kagi-auth:1" ‖ SHA-256(origin) ‖ SHA-256(nonce)`), or RS256 (RSASSA-PKCS1-v1_5 with SHA-256,
//! over the same message). A verifier recomputes the digest from its OWN origin and the nonce it
//! issued, never from values carried in the token.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::b64::{self, Alphabet};
use crate::error::ProtoError;

/// The token format tag, also the digest's domain separator.
pub const FORMAT: &str = "kagi-auth:1";

/// Minimum nonce entropy in bytes (decoded).
pub const MIN_NONCE_BYTES: usize = 32;

/// A web origin Kagi may sign for: `https://host[:port]`, or `http://localhost[:port]` /
/// `http://127.0.0.1[:port]` for the demo. Only the canonical form browsers produce is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Origin(String);

impl Origin {
    pub fn parse(s: &str) -> Result<Origin, ProtoError> {
        let bad = |why| ProtoError::Origin { origin: s.to_owned(), why };
        let (scheme, rest) = split_scheme(s).ok_or_else(|| bad("missing scheme"))?;
        if rest.is_empty() {
            return Err(bad("missing host"));
        }
        if rest.contains(['/', '?', '#', '@', '\\']) {
            return Err(bad("an origin has no path, query, fragment or user"));
        }
        let (host, port) = split_port(rest).ok_or_else(|| bad("bad port"))?;
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let host_ok = host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            || (host.starts_with('[') && host.ends_with(']'));
        if !host_ok {
            return Err(bad("host must be lowercase ASCII (punycode for IDNs)"));
        }
        let loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
        match scheme {
            "https" => {
                if port == Some(443) {
                    return Err(bad("default port must be omitted"));
                }
            }
            "http" if loopback => {
                if port == Some(80) {
                    return Err(bad("default port must be omitted"));
                }
            }
            "http" => return Err(bad("http is only allowed for localhost")),
            _ => return Err(bad("scheme must be https")),
        }
        Ok(Origin(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `s.split_once("://")`, by bytes: core's substring search and its panic formatting cost the
/// extension's WASM ~4 KB.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let i = find_bytes(s, b"://")?;
    Some((s.get(..i)?, s.get(i + 3..)?))
}

/// Where `needle` (ASCII) first occurs in `s`.
fn find_bytes(s: &str, needle: &[u8]) -> Option<usize> {
    s.as_bytes().windows(needle.len()).position(|w| w == needle)
}

/// Splits `host[:port]`; `None` when the port is present but not 1..=65535.
fn split_port(rest: &str) -> Option<(&str, Option<u16>)> {
    // IPv6 literal: [..]:port
    let colon = if rest.starts_with('[') { find_bytes(rest, b"]:").map(|i| i + 1) } else { rest.rfind(':') };
    match colon {
        None => Some((rest, None)),
        Some(i) => {
            let p = rest.get(i + 1..)?;
            if p.is_empty() || p.starts_with('0') || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let port: u16 = p.parse().ok()?;
            Some((rest.get(..i)?, Some(port)))
        }
    }
}

impl TryFrom<String> for Origin {
    type Error = ProtoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Origin::parse(&s)
    }
}

impl From<Origin> for String {
    fn from(o: Origin) -> String {
        o.0
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bank-issued challenge: base64url (no padding) of at least 32 random bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nonce(String);

impl Nonce {
    pub fn parse(s: &str) -> Result<Nonce, ProtoError> {
        if s.len() > 1024 {
            return Err(ProtoError::Nonce("longer than 1024 characters"));
        }
        let bytes = b64::decode(s, Alphabet::UrlSafeNoPad).ok_or(ProtoError::Nonce("not base64url without padding"))?;
        if bytes.len() < MIN_NONCE_BYTES {
            return Err(ProtoError::Nonce("shorter than 32 bytes"));
        }
        Ok(Nonce(s.to_owned()))
    }

    /// Encodes random bytes as a nonce (the caller supplies the randomness).
    pub fn from_random(bytes: &[u8; MIN_NONCE_BYTES]) -> Nonce {
        Nonce(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Nonce {
    type Error = ProtoError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Nonce::parse(&s)
    }
}

impl From<Nonce> for String {
    fn from(n: Nonce) -> String {
        n.0
    }
}

/// The 75-byte message that is hashed and signed: `"kagi-auth:1" ‖ SHA-256(origin) ‖ SHA-256(nonce)`.
pub fn signed_message(origin: &Origin, nonce: &Nonce) -> Vec<u8> {
    let mut m = Vec::with_capacity(FORMAT.len() + 64);
    m.extend_from_slice(FORMAT.as_bytes());
    m.extend_from_slice(&Sha256::digest(origin.as_str().as_bytes()));
    m.extend_from_slice(&Sha256::digest(nonce.as_str().as_bytes()));
    m
}

/// The 32-byte digest the token signs.
pub fn digest(origin: &Origin, nonce: &Nonce) -> [u8; 32] {
    Sha256::digest(signed_message(origin, nonce)).into()
}

/// JOSE names of the signature algorithms a login token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureAlgorithm {
    /// ECDSA P-256 with SHA-256; signature is `r ‖ s`, 32 bytes each (RFC 7518 §3.4).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    RS256,
}

/// What `authenticate` returns and what the page posts to the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginToken {
    /// Always [`FORMAT`].
    pub format: String,
    /// The signer's X.509 certificate, DER, standard base64.
    pub certificate: String,
    pub algorithm: SignatureAlgorithm,
    /// The signature, standard base64 (ES256: 64 bytes `r ‖ s`; RS256: 256 bytes).
    pub signature: String,
}

impl LoginToken {
    pub fn new(certificate_der: &[u8], algorithm: SignatureAlgorithm, signature: &[u8]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        LoginToken {
            format: FORMAT.to_owned(),
            certificate: b64.encode(certificate_der),
            algorithm,
            signature: b64.encode(signature),
        }
    }

    pub fn certificate_der(&self) -> Result<Vec<u8>, ProtoError> {
        b64::decode(&self.certificate, Alphabet::Standard).ok_or(ProtoError::Base64 { field: "certificate" })
    }

    pub fn signature_bytes(&self) -> Result<Vec<u8>, ProtoError> {
        b64::decode(&self.signature, Alphabet::Standard).ok_or(ProtoError::Base64 { field: "signature" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "https://bank.example",
            "https://bank.example:8443",
            "https://xn--eckwd4c7c.jp",
            "http://localhost",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "https://127.0.0.1",
            "http://[::1]:8080",
        ] {
            assert!(Origin::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://bank.example",
            "https://bank.example/",
            "https://bank.example/login",
            "https://Bank.example",
            "https://bank.example:443",
            "https://bank.example:0",
            "https://bank.example:99999",
            "https://bank.example:",
            "https://user@bank.example",
            "ftp://bank.example",
            "chrome-extension://abc",
            "bank.example",
            "https://",
            "http://localhost.evil.example",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonces() {
        let n = Nonce::from_random(&[7u8; 32]);
        assert_eq!(n.as_str().len(), 43);
        assert!(Nonce::parse(n.as_str()).is_ok());
        assert!(Nonce::parse("AAAA").is_err());
        assert!(Nonce::parse(&format!("{}=", n.as_str())).is_err());
        assert!(Nonce::parse(&"+".repeat(44)).is_err());
    }

    /// A fixed vector so verifiers in other languages can check their implementation.
    #[test]
    fn digest_vector() {
        let origin = Origin::parse("https://bank.example").unwrap();
        let nonce = Nonce::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let m = signed_message(&origin, &nonce);
        assert_eq!(m.len(), 75);
        assert_eq!(&m[..11], b"kagi-auth:1");
        let d = digest(&origin, &nonce);
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        // Computed independently: python3 -c "import hashlib;h=lambda b:hashlib.sha256(b).digest();
        //   print(h(b'kagi-auth:1'+h(b'https://bank.example')+h(b'A'*43)).hex())"
        assert_eq!(hex, DIGEST_VECTOR);
    }

    const DIGEST_VECTOR: &str = "1047b24bb29d0784867f0daa4550c4271d4f97289f8f666f930271d36234d717";

    #[test]
    fn login_token_round_trip() {
        let t = LoginToken::new(&[0x30, 0x03, 1, 2, 3], SignatureAlgorithm::ES256, &[9u8; 64]);
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""format":"kagi-auth:1""#));
        assert!(json.contains(r#""algorithm":"ES256""#));
        let back: LoginToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.signature_bytes().unwrap(), vec![9u8; 64]);
        assert!(serde_json::from_str::<LoginToken>(&json.replace("}", r#","extra":1}"#)).is_err());
    }
}
