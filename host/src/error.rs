//! The host's one error type. Every failure the browser can see maps to a stable wire code
//! (`kagi_proto::ErrorCode`), so the UI can show the customer what to do.

use kagi_proto::ErrorCode;

/// Everything that can go wrong in the host, from the card up to the browser protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// pcscd is not running or refused us (SCARD_E_NO_SERVICE and friends).
    #[error("PC/SC service unavailable: {0}")]
    PcscUnavailable(String),
    /// PC/SC works but there is no reader at all.
    #[error("no smart card reader is connected")]
    NoReader,
    /// Readers exist but none holds a token.
    #[error("no token is inserted")]
    TokenAbsent,
    /// The token went away (or was reset by someone else) while we were using it.
    #[error("the token was removed during the operation")]
    CardRemoved,
    /// The card does not answer SELECT of the PIV application.
    #[error("the token is not a PIV card")]
    NotPiv,
    /// SP 800-73-4 §3.2.1 status 63Cx.
    #[error("PIN incorrect, {retries} tries left")]
    PinIncorrect { retries: u8 },
    /// SP 800-73-4 §3.2.1 status 6983.
    #[error("PIN blocked")]
    PinBlocked,
    /// The PIN does not have the PIV format (6 to 8 digits).
    #[error("PIN must be 6 to 8 digits")]
    PinFormat,
    /// The PUK is not 6 to 8 printable ASCII characters.
    #[error("PUK must be 6 to 8 characters")]
    PukFormat,
    /// RESET RETRY COUNTER answered 63Cx: wrong PUK.
    #[error("PUK incorrect, {retries} tries left")]
    PukIncorrect { retries: u8 },
    /// RESET RETRY COUNTER answered 6983 / 63C0.
    #[error("PUK blocked")]
    PukBlocked,
    /// A new PIN that is the factory PIN or one digit repeated.
    #[error("the new PIN is too easy to guess")]
    PinWeak,
    /// The token still has the factory PIN and the request brought no new one.
    #[error("the token still has the factory PIN: choose a new PIN first")]
    PinChangeRequired,
    /// No retired slot Kagi may use is free.
    #[error("no free key slot on the token: {0}")]
    TokenFull(String),
    /// The management key is neither the factory key nor stored behind the PIN.
    #[error("the token's management key is not one Kagi can use: {0}")]
    ManagementKeyUnknown(String),
    /// Several of the bank's certificates or tokens match and the request chose none.
    #[error("several tokens or certificates match: {0}")]
    ChoiceRequired(String),
    /// 6982: an operation needed the PIN or the management key and did not have it.
    #[error("security status not satisfied for {0}")]
    SecurityStatus(&'static str),
    /// The card management key was refused (mutual authentication failed).
    #[error("card management key rejected")]
    ManagementKeyRejected,
    /// A status word we have no better mapping for; `op` names the command.
    #[error("{op} failed with status {sw:04X}")]
    Status { op: &'static str, sw: u16 },
    /// 6A82: the data object or key is not on the card.
    #[error("{0} not found on the token")]
    NotFound(&'static str),
    /// A card answer we could not parse; the message names the missing or bad field.
    #[error("malformed card response: {0}")]
    Malformed(String),
    /// The token holds no certificate for the slot that was asked for.
    #[error("no certificate on the token")]
    NoCertificate,
    /// A certificate whose public key is not the token's key.
    #[error("the certificate does not match the key on the token")]
    CertMismatch,
    /// The request was well-formed JSON but not acceptable.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The request's origin is not a bank origin Kagi may serve.
    #[error("origin not allowed: {0}")]
    OriginNotAllowed(String),
    /// The machine's host policy exists but cannot be used (`policy.rs`): every request is
    /// refused until the administrator fixes it.
    #[error("host policy invalid: {0}")]
    PolicyInvalid(String),
    /// `enroll.finish` without a matching `enroll.begin` in this connection.
    #[error("no certificate acquisition in progress")]
    NoEnrollment,
    /// A bug or an environment failure the user cannot fix.
    #[error("internal error: {0}")]
    Internal(String),
    /// Installing or removing the host's registration (`kagi-host install` / `uninstall`):
    /// a file or registry operation failed; the message names the path.
    #[error("{op} {path}: {source}")]
    Install { op: &'static str, path: String, source: std::io::Error },
    /// `install` / `uninstall` cannot go on (e.g. no home directory, a relative host path).
    #[error("{0}")]
    Setup(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code the browser sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::PcscUnavailable(_) => ErrorCode::PcscUnavailable,
            Error::NoReader => ErrorCode::NoReader,
            Error::TokenAbsent => ErrorCode::TokenAbsent,
            Error::CardRemoved => ErrorCode::CardRemoved,
            Error::NotPiv => ErrorCode::NotPiv,
            Error::PinIncorrect { retries } => ErrorCode::PinIncorrect { retries: *retries },
            Error::PinBlocked => ErrorCode::PinBlocked,
            Error::PinFormat | Error::PukFormat => ErrorCode::PinFormat,
            Error::PukIncorrect { retries } => ErrorCode::PukIncorrect { retries: *retries },
            Error::PukBlocked => ErrorCode::PukBlocked,
            Error::PinWeak => ErrorCode::PinWeak,
            Error::PinChangeRequired => ErrorCode::PinChangeRequired,
            Error::TokenFull(_) => ErrorCode::TokenFull,
            Error::ManagementKeyUnknown(_) => ErrorCode::ManagementKeyUnknown,
            Error::ChoiceRequired(_) => ErrorCode::ChoiceRequired,
            Error::NoCertificate => ErrorCode::NoCertificate,
            Error::CertMismatch => ErrorCode::CertMismatch,
            Error::BadRequest(_) => ErrorCode::BadRequest,
            Error::OriginNotAllowed(_) => ErrorCode::OriginNotAllowed,
            Error::PolicyInvalid(_) => ErrorCode::PolicyInvalid,
            Error::NoEnrollment => ErrorCode::NoEnrollment,
            Error::SecurityStatus(_)
            | Error::ManagementKeyRejected
            | Error::Status { .. }
            | Error::NotFound(_)
            | Error::Malformed(_)
            | Error::Internal(_)
            | Error::Install { .. }
            | Error::Setup(_) => ErrorCode::Internal,
        }
    }

    /// The error as it goes on the wire.
    pub fn to_wire(&self) -> kagi_proto::WireError {
        kagi_proto::WireError { code: self.code(), message: self.to_string() }
    }
}
