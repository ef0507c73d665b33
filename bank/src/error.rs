//! The bank's errors. Each has a stable code and an HTTP status; the JSON API answers
//! `{"error": {"code": "...", "message": "..."}}`. Bad input is always a 4xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kagi_verify::VerifyError;

use crate::renewal::Eligibility;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("request body too large")]
    TooLarge,
    #[error("no session: open the page again")]
    NoSession,
    #[error("not logged on")]
    NotLoggedOn,
    #[error("no acquisition in progress: enter the contract information first")]
    NoAcquisition,
    #[error("the acquisition session expired: enter the contract information again")]
    AcquisitionExpired,
    #[error("contract number or password is wrong")]
    InvalidCredentials,
    /// Too many wrong passwords for one contract number: the Japanese text is the message the
    /// API answers with (pages show it too, English under `?lang=en`).
    #[error("電子証明書取得パスワードの誤りが続いたため、この契約者番号での電子証明書の取得を一時的に停止しています。しばらくしてから再度お試しいただくか、当金庫までお問い合わせください。")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("the customer may not acquire a certificate now ({})", .0.code())]
    NotEligible(Eligibility),
    #[error("CSR does not parse: {0}")]
    CsrInvalid(String),
    #[error("CSR signature does not verify")]
    CsrSignature,
    #[error("CSR key not accepted: {0}")]
    CsrKey(String),
    #[error("log-on refused: {0}")]
    Login(#[from] VerifyError),
    /// The bank requires key attestation and the CSR's key is not attested (`attestation.rs`).
    #[error("certificate not issued: {0}")]
    Attestation(VerifyError),
    /// A transaction confirmation was refused (kagi-verify's code: `TX_MISMATCH`, `TX_CHANGED`…).
    #[error("confirmation refused: {0}")]
    Confirm(VerifyError),
    /// A densai request the bank would not show or sign: the field is named, never its value.
    #[error("{0}")]
    TxInvalid(kagi_proto::tx::TxError),
    #[error("this server does not serve origin {0}")]
    OriginNotServed(String),
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The PostgreSQL store failed (connection, statement); details go to the log only.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("certificate authority: {0}")]
    Ca(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl BankError {
    pub fn code(&self) -> &'static str {
        match self {
            BankError::BadRequest(_) => "BAD_REQUEST",
            BankError::TooLarge => "TOO_LARGE",
            BankError::NoSession => "NO_SESSION",
            BankError::NotLoggedOn => "NOT_LOGGED_ON",
            BankError::NoAcquisition => "NO_ACQUISITION",
            BankError::AcquisitionExpired => "ACQUISITION_EXPIRED",
            BankError::InvalidCredentials => "INVALID_CREDENTIALS",
            BankError::TooManyAttempts { .. } => "TOO_MANY_ATTEMPTS",
            BankError::NotEligible(e) => e.code(),
            BankError::CsrInvalid(_) => "CSR_INVALID",
            BankError::CsrSignature => "CSR_SIGNATURE",
            BankError::CsrKey(_) => "CSR_KEY_UNSUPPORTED",
            BankError::Login(e) | BankError::Attestation(e) | BankError::Confirm(e) => e.code(),
            BankError::TxInvalid(_) => "TX_INVALID",
            BankError::OriginNotServed(_) => "ORIGIN_NOT_SERVED",
            BankError::NotFound => "NOT_FOUND",
            BankError::Db(_) | BankError::Postgres(_) | BankError::Io(_) | BankError::Ca(_) | BankError::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            BankError::BadRequest(_) | BankError::CsrInvalid(_) | BankError::CsrSignature | BankError::CsrKey(_) => StatusCode::BAD_REQUEST,
            BankError::NoSession | BankError::NotLoggedOn | BankError::NoAcquisition | BankError::AcquisitionExpired => StatusCode::UNAUTHORIZED,
            BankError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            BankError::NotEligible(_) | BankError::OriginNotServed(_) => StatusCode::FORBIDDEN,
            BankError::Login(e) if e.is_internal() => StatusCode::INTERNAL_SERVER_ERROR,
            BankError::Login(_) => StatusCode::UNAUTHORIZED,
            BankError::Attestation(_) => StatusCode::FORBIDDEN,
            BankError::Confirm(e) if e.is_internal() => StatusCode::INTERNAL_SERVER_ERROR,
            BankError::Confirm(VerifyError::TxChanged) => StatusCode::CONFLICT,
            BankError::Confirm(_) => StatusCode::FORBIDDEN,
            BankError::TxInvalid(_) => StatusCode::BAD_REQUEST,
            BankError::NotFound => StatusCode::NOT_FOUND,
            BankError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BankError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            BankError::Db(_) | BankError::Postgres(_) | BankError::Io(_) | BankError::Ca(_) | BankError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a 500 says: the details (SQL, paths, library messages) go to the bank's log only.
pub const INTERNAL_MESSAGE: &str = "internal error: the bank could not complete the request";

impl IntoResponse for BankError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            eprintln!("kagi-bank: {} {self}", self.code());
            INTERNAL_MESSAGE.to_owned()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": message}});
        let mut res = (status, Json(body)).into_response();
        if let BankError::TooManyAttempts { retry_after_secs } = self {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after_secs));
        }
        res
    }
}
