//! Verifying a `kagi-tx:1` transaction confirmation (issue 16; docs/protocol.md, *Transaction
//! confirmation*) before the bank executes the request it approves.
//!
//! The bank keeps its requests and the transaction challenges in its own storage, through
//! [`TxRecords`] and [`TxChallengeStore`] (new traits: the log-on's [`crate::NonceStore`] is
//! untouched, so a log-on nonce can never be spent as a transaction challenge nor the other way
//! round). What is left to the bank: executing the approved request, and what to show.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use kagi_proto::{tx, Nonce, Origin, SignatureAlgorithm, Transaction, TxSignature};

use crate::cert::CertInfo;
use crate::error::{StoreError, VerifyError};
use crate::nonce::{NonceStore, NONCE_TTL};
use crate::records::{CertStatus, CertificateRecords};
use crate::signature;
use crate::verifier::{contract_number, Verifier};

/// Where a request stands in the bank's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Registered, waiting for the customer's confirmation.
    AwaitingApproval,
    /// Confirmed with a verified signature.
    Approved,
    /// Anything else (cancelled, rejected, executed, expired).
    Closed,
}

/// A request as the bank's records hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxRecord {
    /// Built by the bank from its own row with [`Transaction::from_pairs`]: the body is rebuilt
    /// from this, never from what the page posted.
    pub tx: Transaction,
    /// The contract number of the customer the request belongs to (the one in the customer's
    /// certificate CN, see [`crate::Identity::contract_number`]).
    pub customer: String,
    pub status: TxStatus,
}

/// The evidence stored with an approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxEvidence {
    /// The 105-byte `kagi-tx:1` message the token signed (rebuilt from the bank's row).
    pub message: Vec<u8>,
    /// The signature as the host returned it (ES256 `r ‖ s`, or RS256).
    pub signature: Vec<u8>,
    pub algorithm: SignatureAlgorithm,
    /// SHA-256 of the signing certificate's DER, lowercase hex.
    pub certificate_sha256: String,
    /// The certificate's serial, lowercase hex.
    pub certificate_serial: String,
    pub approved_at: SystemTime,
}

/// The bank's requests. Implemented over its database.
pub trait TxRecords {
    /// The request `request_id`, or `None` when there is none.
    fn load(&self, request_id: &str) -> Result<Option<TxRecord>, StoreError>;
    /// In ONE database transaction: if the request is still awaiting approval at `version`,
    /// mark it approved and store `evidence`, and return `true`; else change nothing and return
    /// `false` (it was edited or approved meanwhile).
    fn approve(&self, request_id: &str, version: &str, evidence: &TxEvidence) -> Result<bool, StoreError>;
}

/// A transaction challenge: a nonce bound to (session, request id, version, purpose =
/// transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxChallenge {
    pub nonce: String,
    pub session: String,
    pub request_id: String,
    pub version: String,
    pub expires_at: SystemTime,
    pub used: bool,
}

/// Where transaction challenges live. [`TxChallengeStore::take_tx_challenge`] must be atomic
/// like [`NonceStore::take`].
pub trait TxChallengeStore {
    fn insert_tx_challenge(&self, challenge: TxChallenge) -> Result<(), StoreError>;
    /// Marks the challenge used and returns it as it was, or `None` when it was never issued.
    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, StoreError>;
}

/// Issues a challenge for approving `request_id` at `version` in `session`, valid for
/// [`NONCE_TTL`].
pub fn issue_tx_challenge(
    store: &dyn TxChallengeStore,
    session: &str,
    request_id: &str,
    version: &str,
    now: SystemTime,
) -> Result<Nonce, VerifyError> {
    let mut bytes = [0u8; kagi_proto::login::MIN_NONCE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| VerifyError::Store(format!("no randomness: {e}")))?;
    let nonce = Nonce::from_random(&bytes);
    store
        .insert_tx_challenge(TxChallenge {
            nonce: nonce.as_str().to_owned(),
            session: session.to_owned(),
            request_id: request_id.to_owned(),
            version: version.to_owned(),
            expires_at: now + NONCE_TTL,
            used: false,
        })
        .map_err(|e| VerifyError::Store(e.to_string()))?;
    Ok(nonce)
}

/// A confirmation as the bank's endpoint received it.
#[derive(Debug, Clone, Copy)]
pub struct TxConfirmation<'a> {
    /// What the page posted: the host's result.
    pub signed: &'a TxSignature,
    /// The request the page says it approves (looked up, never trusted).
    pub request_id: &'a str,
    /// The nonce the page says it signed (looked up, never trusted).
    pub nonce: &'a str,
    /// The bank's handle of the session posting it.
    pub session: &'a str,
    /// The contract number of the customer logged on in that session.
    pub session_customer: &'a str,
    /// The bank's own origin, from its configuration.
    pub expected_origin: &'a Origin,
}

/// What was approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxApproval {
    pub request_id: String,
    pub version: String,
    pub evidence: TxEvidence,
}

/// The stores a confirmation touches.
#[derive(Clone, Copy)]
pub struct TxStores<'a> {
    pub challenges: &'a dyn TxChallengeStore,
    /// The log-on nonces: a log-on nonce posted as a challenge is spent and refused
    /// (`NONCE_WRONG_PURPOSE`), not merely unknown.
    pub login_nonces: &'a dyn NonceStore,
    pub requests: &'a dyn TxRecords,
    pub certificates: &'a dyn CertificateRecords,
}

impl Verifier {
    /// The whole confirmation check, in this order: the challenge is spent (issued to this
    /// session, for this request, unused, not expired — a log-on nonce is refused); the request
    /// is loaded, belongs to the session's customer, awaits approval and is at the challenged
    /// version (`TX_CHANGED`); the message is rebuilt from the bank's row, the bank's origin and
    /// the challenge; the certificate chains to the bank's CA, is valid now with clientAuth and
    /// digitalSignature, is not revoked, and names the request's customer; the signature
    /// verifies (`TX_MISMATCH`); then the request is approved with its evidence in one step.
    pub fn confirm(&self, c: TxConfirmation<'_>, stores: TxStores<'_>, now: SystemTime) -> Result<TxApproval, VerifyError> {
        let challenge = redeem_tx_challenge(stores, c.nonce, c.session, now)?;
        if challenge.request_id != c.request_id {
            return Err(VerifyError::NonceWrongRequest);
        }
        let record = stores.requests.load(c.request_id).map_err(|e| VerifyError::Store(e.to_string()))?.ok_or(VerifyError::TxUnknown)?;
        if record.customer != c.session_customer {
            return Err(VerifyError::TxOtherCustomer);
        }
        if record.status != TxStatus::AwaitingApproval {
            return Err(VerifyError::TxNotAwaitingApproval);
        }
        if record.tx.request_id() != c.request_id || record.tx.request_version() != challenge.version {
            return Err(VerifyError::TxChanged);
        }
        if c.signed.format != tx::FORMAT {
            return Err(VerifyError::UnsupportedFormat(c.signed.format.clone()));
        }
        let cert_der = c.signed.certificate_der().ok_or_else(|| VerifyError::MalformedToken("certificate is not base64".into()))?;
        let sig = c.signed.signature_bytes().ok_or_else(|| VerifyError::MalformedToken("signature is not base64".into()))?;
        let info = self.check_certificate(&cert_der, stores.certificates, now)?;
        let cn = info.subject.common_name.clone().unwrap_or_default();
        if contract_number(&cn).as_deref() != Some(record.customer.as_str()) {
            return Err(VerifyError::CertificateOtherCustomer);
        }
        // The nonce was parsed when it was redeemed; the message comes from the bank's row.
        let nonce = Nonce::parse(&challenge.nonce).map_err(|_| VerifyError::NonceUnknown)?;
        let message = record.tx.signed_message(c.expected_origin, &nonce);
        signature::check(&info.public_key, c.signed.algorithm, &message, &sig).map_err(|e| match e {
            VerifyError::BadSignature => VerifyError::TxMismatch,
            other => other,
        })?;
        let evidence = TxEvidence {
            message,
            signature: sig,
            algorithm: c.signed.algorithm,
            certificate_sha256: info.sha256.clone(),
            certificate_serial: info.serial.clone(),
            approved_at: now,
        };
        if !stores.requests.approve(c.request_id, &challenge.version, &evidence).map_err(|e| VerifyError::Store(e.to_string()))? {
            return Err(VerifyError::TxChanged);
        }
        Ok(TxApproval { request_id: c.request_id.to_owned(), version: challenge.version, evidence })
    }

    /// Chain, validity, key usages and the bank's records of `cert_der` (as for a log-on).
    fn check_certificate(&self, cert_der: &[u8], records: &dyn CertificateRecords, now: SystemTime) -> Result<CertInfo, VerifyError> {
        let info = CertInfo::parse(cert_der)?;
        self.check_path(cert_der, now)?;
        if info.digital_signature != Some(true) {
            return Err(VerifyError::MissingDigitalSignature);
        }
        match records.status(&info).map_err(|e| VerifyError::Store(e.to_string()))? {
            CertStatus::Active => Ok(info),
            CertStatus::Revoked => Err(VerifyError::Revoked),
            CertStatus::Unknown => Err(VerifyError::UnknownToBank),
        }
    }
}

/// Spends the transaction challenge `nonce` for `session`, whatever the outcome. A nonce that is
/// not a transaction challenge but a log-on nonce is spent there and refused.
fn redeem_tx_challenge(stores: TxStores<'_>, nonce: &str, session: &str, now: SystemTime) -> Result<TxChallenge, VerifyError> {
    Nonce::parse(nonce).map_err(|_| VerifyError::NonceUnknown)?;
    let Some(challenge) = stores.challenges.take_tx_challenge(nonce).map_err(|e| VerifyError::Store(e.to_string()))? else {
        return match stores.login_nonces.take(nonce).map_err(|e| VerifyError::Store(e.to_string()))? {
            Some(_) => Err(VerifyError::NonceWrongPurpose),
            None => Err(VerifyError::NonceUnknown),
        };
    };
    if challenge.used {
        return Err(VerifyError::NonceReplayed);
    }
    if challenge.session != session {
        return Err(VerifyError::NonceWrongSession);
    }
    if now > challenge.expires_at {
        return Err(VerifyError::NonceExpired);
    }
    Ok(challenge)
}

/// Transaction challenges in memory, for a single server process (like
/// [`crate::MemoryNonceStore`]).
#[derive(Debug, Default)]
pub struct MemoryTxChallengeStore {
    records: Mutex<HashMap<String, TxChallenge>>,
}

impl MemoryTxChallengeStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl TxChallengeStore for MemoryTxChallengeStore {
    fn insert_tx_challenge(&self, challenge: TxChallenge) -> Result<(), StoreError> {
        let mut map = self.records.lock().map_err(|_| "challenge store lock poisoned")?;
        let horizon = challenge.expires_at.checked_sub(NONCE_TTL * 2).unwrap_or(SystemTime::UNIX_EPOCH);
        map.retain(|_, r| r.expires_at > horizon);
        map.insert(challenge.nonce.clone(), challenge);
        Ok(())
    }

    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, StoreError> {
        let mut map = self.records.lock().map_err(|_| "challenge store lock poisoned")?;
        Ok(map.get_mut(nonce).map(|r| {
            let before = r.clone();
            r.used = true;
            before
        }))
    }
}
