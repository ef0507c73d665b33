//! What can fail when verifying a login token or a transaction confirmation. Each variant has a stable code (see
//! [`VerifyError::code`]) a bank can log, count and map to its own screens.

use std::time::SystemTime;

/// Why a login was refused, or why the verifier could not decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not valid JSON/base64 or misses parts.
    #[error("malformed login token: {0}")]
    MalformedToken(String),
    /// `format` is not `kagi-auth:1`.
    #[error("unsupported token format {0:?}")]
    UnsupportedFormat(String),
    /// The nonce is not one this bank issued (or it was purged long ago).
    #[error("nonce was never issued by this bank")]
    NonceUnknown,
    /// The nonce was already used for a login attempt: a replay.
    #[error("nonce was already used")]
    NonceReplayed,
    /// The nonce is older than its time to live.
    #[error("nonce expired")]
    NonceExpired,
    /// The nonce was issued to another session.
    #[error("nonce belongs to another session")]
    NonceWrongSession,
    /// The certificate in the token does not parse.
    #[error("certificate does not parse: {0}")]
    CertificateMalformed(String),
    /// The certificate was not issued by one of the bank's CAs.
    #[error("certificate was not issued by the bank's CA")]
    UnknownIssuer,
    /// The certificate's validity ended.
    #[error("certificate expired")]
    CertificateExpired { not_after: SystemTime },
    /// The certificate's validity has not started.
    #[error("certificate is not valid yet")]
    CertificateNotYetValid { not_before: SystemTime },
    /// The certificate lacks the clientAuth extended key usage.
    #[error("certificate lacks the clientAuth extended key usage")]
    MissingClientAuth,
    /// The certificate lacks the digitalSignature key usage.
    #[error("certificate lacks the digitalSignature key usage")]
    MissingDigitalSignature,
    /// Another path validation failure (the message names it).
    #[error("certificate path is not valid: {0}")]
    CertificateInvalid(String),
    /// The token's algorithm does not fit the certificate's key (ES256 needs P-256, RS256 RSA).
    #[error("algorithm {algorithm} does not match the certificate's {key} key")]
    AlgorithmMismatch { algorithm: &'static str, key: String },
    /// The certificate's key is neither P-256 nor RSA of at least 2048 bits.
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
    /// The signature does not verify for the expected origin and the issued nonce (tampered
    /// token, a token made for another origin, or the wrong nonce).
    #[error("signature does not verify for this origin and nonce")]
    BadSignature,
    /// The bank's records, or a CRL given to [`crate::Verifier::with_crls`], say the
    /// certificate is revoked.
    #[error("certificate is revoked")]
    Revoked,
    /// The bank's records do not know this certificate (e.g. a test certificate, or the
    /// records were restored from an old backup).
    #[error("certificate is not in the bank's records")]
    UnknownToBank,
    /// A CRL given to [`crate::Verifier::with_crls`] does not parse, is past its nextUpdate, is
    /// not signed by the CA, or none covers the certificate's issuer: the bank's configuration.
    #[error("CRL not usable: {0}")]
    CrlInvalid(String),
    /// A bank-supplied store (nonces, certificate records) failed.
    #[error("store failure: {0}")]
    Store(String),
    /// A CA certificate given to [`crate::Verifier::new`] (or an attestation root given to
    /// [`crate::AttestationPolicy::new`]) is not usable as a trust anchor.
    #[error("CA certificate is not a usable trust anchor: {0}")]
    BadTrustAnchor(String),
    /// The bank requires key attestation and the request carries none (a key made in
    /// software, or a token that cannot attest).
    #[error("key attestation is required")]
    AttestationRequired,
    /// The key attestation does not hold (the fault says what).
    #[error("key attestation is not valid: {0}")]
    AttestationInvalid(AttestationFault),
    /// A log-on nonce was posted as a transaction challenge (it is spent): purposes never mix.
    #[error("nonce was issued for another purpose")]
    NonceWrongPurpose,
    /// The transaction challenge was issued for another request (a signature for request A
    /// posted for B).
    #[error("challenge was issued for another request")]
    NonceWrongRequest,
    /// The bank's records hold no such request.
    #[error("no such request")]
    TxUnknown,
    /// The request belongs to another customer than the session's.
    #[error("request belongs to another customer")]
    TxOtherCustomer,
    /// The request is not awaiting approval (approved, cancelled, executed).
    #[error("request is not awaiting approval")]
    TxNotAwaitingApproval,
    /// The request was edited after the challenge was issued (another version), or meanwhile.
    #[error("request changed after the challenge")]
    TxChanged,
    /// The signature does not verify over the message rebuilt from the bank's record: the
    /// customer approved something else (a changed amount or counterparty), or for another
    /// origin or challenge.
    #[error("signature does not match the bank's record of the request")]
    TxMismatch,
    /// The certificate is valid but names another customer than the request's.
    #[error("certificate belongs to another customer than the request's")]
    CertificateOtherCustomer,
}

/// What is wrong with a key attestation: every one is `ATTESTATION_INVALID`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationFault {
    /// The CSR does not parse.
    Csr(String),
    /// The statement or the attestation key certificate does not parse.
    Malformed(String),
    /// The chain statement ← attestation key certificate ← configured root does not validate
    /// (unknown root, bad signature, outside validity, CA constraints); rustls-webpki's reason.
    Chain(String),
    /// The attested key is not the key of the CSR.
    KeyMismatch,
    /// One of Yubico's attestation extensions is malformed (named).
    Extension(&'static str),
}

impl std::fmt::Display for AttestationFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttestationFault::Csr(m) => write!(f, "CSR does not parse: {m}"),
            AttestationFault::Malformed(m) => write!(f, "certificate does not parse: {m}"),
            AttestationFault::Chain(m) => write!(f, "does not chain to an attestation root: {m}"),
            AttestationFault::KeyMismatch => f.write_str("attests another key than the CSR's"),
            AttestationFault::Extension(what) => write!(f, "malformed {what} extension"),
        }
    }
}

impl VerifyError {
    /// Stable code for logs and for mapping to screens. Never renamed; new ones may be added.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::MalformedToken(_) => "MALFORMED_TOKEN",
            VerifyError::UnsupportedFormat(_) => "UNSUPPORTED_FORMAT",
            VerifyError::NonceUnknown => "NONCE_UNKNOWN",
            VerifyError::NonceReplayed => "NONCE_REPLAYED",
            VerifyError::NonceExpired => "NONCE_EXPIRED",
            VerifyError::NonceWrongSession => "NONCE_WRONG_SESSION",
            VerifyError::CertificateMalformed(_) => "CERT_MALFORMED",
            VerifyError::UnknownIssuer => "CERT_UNKNOWN_ISSUER",
            VerifyError::CertificateExpired { .. } => "CERT_EXPIRED",
            VerifyError::CertificateNotYetValid { .. } => "CERT_NOT_YET_VALID",
            VerifyError::MissingClientAuth => "CERT_NO_CLIENT_AUTH",
            VerifyError::MissingDigitalSignature => "CERT_NO_DIGITAL_SIGNATURE",
            VerifyError::CertificateInvalid(_) => "CERT_INVALID",
            VerifyError::AlgorithmMismatch { .. } => "ALGORITHM_MISMATCH",
            VerifyError::UnsupportedKey(_) => "UNSUPPORTED_KEY",
            VerifyError::BadSignature => "BAD_SIGNATURE",
            VerifyError::Revoked => "CERT_REVOKED",
            VerifyError::UnknownToBank => "CERT_UNKNOWN_TO_BANK",
            VerifyError::CrlInvalid(_) => "CRL_INVALID",
            VerifyError::Store(_) => "STORE",
            VerifyError::BadTrustAnchor(_) => "BAD_TRUST_ANCHOR",
            VerifyError::AttestationRequired => "ATTESTATION_REQUIRED",
            VerifyError::AttestationInvalid(_) => "ATTESTATION_INVALID",
            VerifyError::NonceWrongPurpose => "NONCE_WRONG_PURPOSE",
            VerifyError::NonceWrongRequest => "NONCE_WRONG_REQUEST",
            VerifyError::TxUnknown => "TX_UNKNOWN",
            VerifyError::TxOtherCustomer => "TX_OTHER_CUSTOMER",
            VerifyError::TxNotAwaitingApproval => "TX_NOT_AWAITING_APPROVAL",
            VerifyError::TxChanged => "TX_CHANGED",
            VerifyError::TxMismatch => "TX_MISMATCH",
            VerifyError::CertificateOtherCustomer => "CERT_OTHER_CUSTOMER",
        }
    }

    /// Whether the failure is the bank's own (store down, bad configuration) rather than
    /// something about the token: a server error, not a refusal.
    pub fn is_internal(&self) -> bool {
        matches!(self, VerifyError::Store(_) | VerifyError::BadTrustAnchor(_) | VerifyError::CrlInvalid(_))
    }
}

/// A failure of a bank-supplied store.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;
