//! Stable error codes. The UI maps each code to Japanese/English text; the `message` is for logs
//! and support desks, never shown as the only explanation.

use serde::{Deserialize, Serialize};

/// A user-visible failure class. Serialised as `{"code": "PIN_INCORRECT", "retries": 2}`.
///
/// Codes are part of the protocol: never rename one; add new ones (clients treat unknown codes
/// as `INTERNAL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Readers exist, but no token is inserted.
    TokenAbsent,
    /// No smart card reader at all.
    NoReader,
    /// The PC/SC service (pcscd / Smart Card service) is not running.
    PcscUnavailable,
    /// Wrong PIN; `retries` tries are left before the PIN is blocked.
    PinIncorrect { retries: u8 },
    /// The PIN is blocked; the bank must help the customer.
    PinBlocked,
    /// The PIN is not 6 to 8 digits (nothing was sent to the token).
    PinFormat,
    /// The token was removed during the operation.
    CardRemoved,
    /// The token is not a PIV token.
    NotPiv,
    /// The token holds no usable certificate.
    NoCertificate,
    /// The certificate does not belong to the key on the token.
    CertMismatch,
    /// The origin is not a bank origin Kagi serves: not in the form browsers give, not the one
    /// that began an acquisition, or not in the machine's host policy (`allowedOrigins`).
    OriginNotAllowed,
    /// `enroll.finish` without a preceding `enroll.begin`.
    NoEnrollment,
    /// The command name is not known to this host (older host, newer extension).
    UnknownCommand { command: String },
    /// The frame or the request was malformed: bad JSON, missing or unknown field, wrong type,
    /// oversize frame.
    BadRequest,
    /// The native host is not installed (set by the extension, never by the host).
    HostNotInstalled,
    /// Something the user cannot fix; the message says what.
    Internal,
    /// Wrong PUK; `retries` tries are left before the PUK is blocked.
    PukIncorrect { retries: u8 },
    /// The PUK is blocked too: only the bank (or the token's reset) can help.
    PukBlocked,
    /// The new PIN is the factory PIN or one digit repeated (nothing was written).
    PinWeak,
    /// The token still has the factory PIN: the customer must choose a new one (`newPin`)
    /// before Kagi writes anything to it.
    PinChangeRequired,
    /// No retired key slot is free for a new key: every one holds another issuer's key or
    /// certificate, or the bank's current one. The customer frees one, or uses another token.
    TokenFull,
    /// The token's management key is neither the factory key nor one stored on the token behind
    /// the PIN: Kagi cannot write to it (the bank's help desk re-initialises it).
    ManagementKeyUnknown,
    /// Several of the bank's certificates (or tokens) match and the request did not say which:
    /// the customer chooses in Kagi's window.
    ChoiceRequired,
    /// The machine's host policy (`/etc/kagi/policy.json`, or `HKLM\Software\Policies\Kagi` on
    /// Windows) exists but cannot be read: the host refuses every request until the
    /// administrator fixes it (fail closed; `kagi-host doctor` says what is wrong).
    PolicyInvalid,
    /// The transaction to confirm (`confirm`'s `tx`) was refused before any window or PIN
    /// prompt: unknown kind or field, a missing field, or a value that breaks its rule
    /// (`docs/protocol.md`, *Transaction confirmation*). `field` names the field, never its value.
    /// With feature `tx-core` (`tx` includes it).
    #[cfg(feature = "tx-core")]
    TxInvalid { field: String },
}

impl ErrorCode {
    /// Every code as [`ErrorCode::as_str`] writes it. `extension/page/kagi.d.ts`'s `KagiErrorCode`
    /// union is checked against this list (`proto/tests/kagi_js_types.rs`); a unit test keeps it
    /// complete.
    pub const ALL: [&'static str; 25] = [
        "TOKEN_ABSENT",
        "NO_READER",
        "PCSC_UNAVAILABLE",
        "PIN_INCORRECT",
        "PIN_BLOCKED",
        "PIN_FORMAT",
        "CARD_REMOVED",
        "NOT_PIV",
        "NO_CERTIFICATE",
        "CERT_MISMATCH",
        "ORIGIN_NOT_ALLOWED",
        "NO_ENROLLMENT",
        "UNKNOWN_COMMAND",
        "BAD_REQUEST",
        "HOST_NOT_INSTALLED",
        "INTERNAL",
        "PUK_INCORRECT",
        "PUK_BLOCKED",
        "PIN_WEAK",
        "PIN_CHANGE_REQUIRED",
        "TOKEN_FULL",
        "MANAGEMENT_KEY_UNKNOWN",
        "CHOICE_REQUIRED",
        "POLICY_INVALID",
        "TX_INVALID",
    ];

    /// The bare code string, e.g. `PIN_INCORRECT`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::TokenAbsent => "TOKEN_ABSENT",
            ErrorCode::NoReader => "NO_READER",
            ErrorCode::PcscUnavailable => "PCSC_UNAVAILABLE",
            ErrorCode::PinIncorrect { .. } => "PIN_INCORRECT",
            ErrorCode::PinBlocked => "PIN_BLOCKED",
            ErrorCode::PinFormat => "PIN_FORMAT",
            ErrorCode::CardRemoved => "CARD_REMOVED",
            ErrorCode::NotPiv => "NOT_PIV",
            ErrorCode::NoCertificate => "NO_CERTIFICATE",
            ErrorCode::CertMismatch => "CERT_MISMATCH",
            ErrorCode::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            ErrorCode::NoEnrollment => "NO_ENROLLMENT",
            ErrorCode::UnknownCommand { .. } => "UNKNOWN_COMMAND",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::HostNotInstalled => "HOST_NOT_INSTALLED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::PukIncorrect { .. } => "PUK_INCORRECT",
            ErrorCode::PukBlocked => "PUK_BLOCKED",
            ErrorCode::PinWeak => "PIN_WEAK",
            ErrorCode::PinChangeRequired => "PIN_CHANGE_REQUIRED",
            ErrorCode::TokenFull => "TOKEN_FULL",
            ErrorCode::ManagementKeyUnknown => "MANAGEMENT_KEY_UNKNOWN",
            ErrorCode::ChoiceRequired => "CHOICE_REQUIRED",
            ErrorCode::PolicyInvalid => "POLICY_INVALID",
            #[cfg(feature = "tx-core")]
            ErrorCode::TxInvalid { .. } => "TX_INVALID",
        }
    }
}

/// An error as it travels on the wire: the code (with its data) plus a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    #[serde(flatten)]
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError { code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        WireError::new(ErrorCode::BadRequest, message)
    }
}

/// Failures of this crate's own parsing and validation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    #[error("frame truncated: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error("frame is not valid UTF-8")]
    NotUtf8,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("origin {origin:?} is not allowed: {why}")]
    Origin { origin: String, why: &'static str },
    #[error("nonce is not acceptable: {0}")]
    Nonce(&'static str),
    #[error("issuers: {0}")]
    Issuers(&'static str),
    #[error("invalid base64 in {field}")]
    Base64 { field: &'static str },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_with_their_data() {
        let e = WireError::new(ErrorCode::PinIncorrect { retries: 2 }, "PIN incorrect");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"code":"PIN_INCORRECT","retries":2,"message":"PIN incorrect"}"#);
        assert_eq!(serde_json::from_str::<WireError>(&json).unwrap(), e);

        let e = WireError::new(ErrorCode::TokenAbsent, "no token");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"code":"TOKEN_ABSENT","message":"no token"}"#);
        assert_eq!(serde_json::from_str::<WireError>(&json).unwrap(), e);
    }

    #[test]
    fn as_str_matches_serde_name() {
        let mut seen = Vec::new();
        for code in [
            ErrorCode::TokenAbsent,
            ErrorCode::NoReader,
            ErrorCode::PcscUnavailable,
            ErrorCode::PinIncorrect { retries: 1 },
            ErrorCode::PinBlocked,
            ErrorCode::PinFormat,
            ErrorCode::CardRemoved,
            ErrorCode::NotPiv,
            ErrorCode::NoCertificate,
            ErrorCode::CertMismatch,
            ErrorCode::OriginNotAllowed,
            ErrorCode::NoEnrollment,
            ErrorCode::UnknownCommand { command: "x".into() },
            ErrorCode::BadRequest,
            ErrorCode::HostNotInstalled,
            ErrorCode::Internal,
            ErrorCode::PukIncorrect { retries: 2 },
            ErrorCode::PukBlocked,
            ErrorCode::PinWeak,
            ErrorCode::PinChangeRequired,
            ErrorCode::TokenFull,
            ErrorCode::ManagementKeyUnknown,
            ErrorCode::ChoiceRequired,
            ErrorCode::PolicyInvalid,
            #[cfg(feature = "tx-core")]
            ErrorCode::TxInvalid { field: "amountYen".into() },
        ] {
            let v = serde_json::to_value(&code).unwrap();
            assert_eq!(v["code"], code.as_str());
            assert!(ErrorCode::ALL.contains(&code.as_str()), "{} is not in ErrorCode::ALL", code.as_str());
            seen.push(code.as_str());
        }
        // A build without `tx` (the extension's) relays the host's TX_INVALID all the same.
        #[cfg(not(feature = "tx-core"))]
        seen.push("TX_INVALID");
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), ErrorCode::ALL.len(), "ErrorCode::ALL names a code this list lacks");
    }

    /// Fails to compile when a variant is added: add it to the list above and to
    /// [`ErrorCode::ALL`] too.
    #[allow(dead_code)]
    fn every_variant_is_listed(c: &ErrorCode) {
        match c {
            ErrorCode::TokenAbsent
            | ErrorCode::NoReader
            | ErrorCode::PcscUnavailable
            | ErrorCode::PinIncorrect { .. }
            | ErrorCode::PinBlocked
            | ErrorCode::PinFormat
            | ErrorCode::CardRemoved
            | ErrorCode::NotPiv
            | ErrorCode::NoCertificate
            | ErrorCode::CertMismatch
            | ErrorCode::OriginNotAllowed
            | ErrorCode::NoEnrollment
            | ErrorCode::UnknownCommand { .. }
            | ErrorCode::BadRequest
            | ErrorCode::HostNotInstalled
            | ErrorCode::Internal
            | ErrorCode::PukIncorrect { .. }
            | ErrorCode::PukBlocked
            | ErrorCode::PinWeak
            | ErrorCode::PinChangeRequired
            | ErrorCode::TokenFull
            | ErrorCode::ManagementKeyUnknown
            | ErrorCode::ChoiceRequired
            | ErrorCode::PolicyInvalid => {}
            #[cfg(feature = "tx-core")]
            ErrorCode::TxInvalid { .. } => {}
        }
    }
}
