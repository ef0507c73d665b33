//! What the host tells the extension about readers, tokens and certificates.

use serde::{Deserialize, Serialize};

/// A PC/SC reader and whether a card is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReaderInfo {
    pub name: String,
    pub token_present: bool,
}

/// Subject (or issuer) name fields in the layout the bank's screens show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subject {
    pub country: Option<String>,
    pub organization: Option<String>,
    /// In certificate order, e.g. `["Shinkin Internet Banking Intermediates CA", "IssuedCount=001"]`.
    pub organizational_units: Vec<String>,
    pub common_name: Option<String>,
}

/// A certificate as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertSummary {
    /// PIV key reference of the slot holding it, hex: `"9A"`, or `"82"`..`"95"` (retired slots).
    pub slot: String,
    pub subject: Subject,
    pub issuer: Subject,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// `"P-256"`, `"RSA-2048"`, or a description of another key type.
    pub key_algorithm: String,
    /// SHA-256 of the DER certificate, lowercase hex (for support desks and bank records).
    pub sha256: String,
}

/// Who can write to the token, as far as Kagi can tell without the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagementKeyState {
    /// Still the factory management key: the first acquisition initialises it (a random key
    /// stored on the token behind the PIN).
    Factory,
    /// A management key stored on the token behind the PIN (YubiKey "PIN-protected" layout).
    PinProtected,
    /// Neither: Kagi cannot write to this token (`MANAGEMENT_KEY_UNKNOWN`).
    Unknown,
}

/// A PIV token in a reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenSummary {
    pub reader: String,
    /// Card identity: the CHUID GUID (SP 800-73-4 tag 34), lowercase hex, when the token has one.
    pub guid: Option<String>,
    /// PIN tries left, when the token says (`null` when the PIN is already verified or unknown).
    pub pin_retries: Option<u8>,
    /// PUK tries left, when the token says (YubiKey GET METADATA; `null` otherwise).
    pub puk_retries: Option<u8>,
    /// Whether the PIN is still the factory PIN, when the token says (YubiKey GET METADATA).
    pub pin_default: Option<bool>,
    pub management_key: ManagementKeyState,
    /// The login certificate of the bank named by the request's `issuers` (its newest valid
    /// one on this token), if any. Always `null` for a `status` without `issuers`: Kagi never
    /// shows a page another issuer's certificate.
    pub certificate: Option<CertSummary>,
}

/// Result of `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusResult {
    pub readers: Vec<ReaderInfo>,
    /// Every PIV token found, in reader order.
    pub tokens: Vec<TokenSummary>,
    /// The host's package version (as in its hello), for a page's support information:
    /// kagi.js's `status().versions.host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_version: Option<String>,
}

impl StatusResult {
    /// The tokens holding one of the bank's certificates (the request named `issuers`).
    pub fn with_certificate(&self) -> impl Iterator<Item = (&TokenSummary, &CertSummary)> {
        self.tokens.iter().filter_map(|t| t.certificate.as_ref().map(|c| (t, c)))
    }
}

/// Result of `pin.change` and `pin.unblock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinResult {
    /// The reader of the token whose PIN was set.
    pub reader: String,
}

/// Result of `enroll.begin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollBeginResult {
    /// The reader of the token that holds the new key (`enroll.finish` stores it there).
    pub reader: String,
    /// Slot of the new key, hex (a retired slot `"82"`..`"95"`).
    pub slot: String,
    pub algorithm: crate::KeyAlgorithm,
    /// PKCS#10 certificate signing request, DER, standard base64, signed by the new key on the token.
    pub csr: String,
    /// The token's attestation that it generated this key (YubiKey PIV attestation: ATTEST,
    /// INS F9): an X.509 certificate for the CSR's public key, DER, standard base64. Absent
    /// when the token cannot attest (not a YubiKey, firmware before 4.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// The certificate of the token's attestation key (slot F9, object 5FFF01) that signed
    /// `attestation`, DER, standard base64; it chains to the token vendor's attestation root.
    /// Present exactly when `attestation` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_intermediate: Option<String>,
}

/// Result of `enroll.finish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollFinishResult {
    /// The stored certificate as read back from the token; now the active login certificate.
    pub certificate: CertSummary,
}
