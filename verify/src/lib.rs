//! Verification of Kagi `kagi-auth:1` login tokens for bank servers, independent of any web
//! framework or database.
//!
//! - [`issue_nonce`] / [`NonceStore`]: challenges of 256 random bits, bound to a session,
//!   single use, [`NONCE_TTL`] to live.
//! - [`Verifier::login`]: spends the nonce, then checks the token: digest rebuilt from the
//!   bank's own origin and the issued nonce, ES256/RS256 signature with the certificate's key,
//!   chain to the bank's CA (rustls-webpki), validity, digitalSignature, clientAuth, and the
//!   bank's records through [`CertificateRecords`], and the CA's CRLs when given
//!   ([`Verifier::with_crls`]).
//! - [`Verifier::confirm`]: a `kagi-tx:1` transaction confirmation against the bank's own
//!   record of the request ([`TxRecords`]), its challenge ([`issue_tx_challenge`],
//!   [`TxChallengeStore`]) and the customer's certificate; approval and evidence in one step.
//! - [`AttestationPolicy::check`]: for issuance, that a CSR's key was generated on a token
//!   whose attestation chains to the bank's configured attestation roots (YubiKey-style).
//! - [`VerifyError`]: exactly what failed, with a stable [`VerifyError::code`].
//!
//! See README.md for an integrator's walk-through and `docs/protocol.md` for the digest.
#![forbid(unsafe_code)]

mod attestation;
mod cert;
mod confirm;
mod error;
mod nonce;
mod records;
mod signature;
mod verifier;

pub use attestation::{AttestationPolicy, AttestedKey, KeyAttestation};
pub use cert::{CertInfo, PublicKey};
pub use confirm::{
    issue_tx_challenge, MemoryTxChallengeStore, TxApproval, TxChallenge, TxChallengeStore, TxConfirmation, TxEvidence, TxRecord, TxRecords,
    TxStatus, TxStores,
};
pub use error::{AttestationFault, StoreError, VerifyError};
pub use kagi_proto::{LoginToken, Nonce, Origin, SignatureAlgorithm, Transaction, TxSignature};
pub use nonce::{issue_nonce, redeem_nonce, MemoryNonceStore, NonceRecord, NonceStore, NONCE_TTL};
pub use records::{CertStatus, CertificateRecords, NoRecords};
pub use verifier::{Identity, LoginAttempt, Verifier};
