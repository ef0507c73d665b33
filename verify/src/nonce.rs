//! Challenge nonces: 256 random bits, base64url, bound to the session that asked for one,
//! single use, five minutes to live.
//!
//! The bank keeps them in its own storage through [`NonceStore`]; [`MemoryNonceStore`] is
//! enough for a single-process server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use kagi_proto::Nonce;

use crate::error::{StoreError, VerifyError};

/// How long an issued nonce may be used.
pub const NONCE_TTL: Duration = Duration::from_secs(5 * 60);

/// A nonce as the bank stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRecord {
    pub nonce: String,
    /// The bank's handle of the session the nonce was issued to (an opaque string; a hash of
    /// the session cookie is a good choice).
    pub session: String,
    pub expires_at: SystemTime,
    /// Whether a login attempt already used it.
    pub used: bool,
}

/// Where issued nonces live. Implementations must make [`NonceStore::take`] atomic: of two
/// concurrent calls for the same nonce, only one may see `used == false`.
pub trait NonceStore {
    /// Records a freshly issued nonce.
    fn insert(&self, record: NonceRecord) -> Result<(), StoreError>;
    /// Marks the nonce used and returns its record as it was before, or `None` if it was never
    /// issued. Used records should be kept until they expire so a replay is told apart from
    /// an unknown nonce.
    fn take(&self, nonce: &str) -> Result<Option<NonceRecord>, StoreError>;
}

/// Issues a new nonce for `session`, valid for [`NONCE_TTL`] from `now`.
pub fn issue_nonce(store: &dyn NonceStore, session: &str, now: SystemTime) -> Result<Nonce, VerifyError> {
    let mut bytes = [0u8; kagi_proto::login::MIN_NONCE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| VerifyError::Store(format!("no randomness: {e}")))?;
    let nonce = Nonce::from_random(&bytes);
    store
        .insert(NonceRecord { nonce: nonce.as_str().to_owned(), session: session.to_owned(), expires_at: now + NONCE_TTL, used: false })
        .map_err(|e| VerifyError::Store(e.to_string()))?;
    Ok(nonce)
}

/// Uses up `nonce` for a login attempt by `session`. The nonce is spent whatever the outcome,
/// so a failed attempt cannot be retried with the same challenge.
pub fn redeem_nonce(store: &dyn NonceStore, nonce: &str, session: &str, now: SystemTime) -> Result<Nonce, VerifyError> {
    // Refuse garbage before it reaches the store.
    let parsed = Nonce::parse(nonce).map_err(|_| VerifyError::NonceUnknown)?;
    let record = store.take(nonce).map_err(|e| VerifyError::Store(e.to_string()))?.ok_or(VerifyError::NonceUnknown)?;
    if record.used {
        return Err(VerifyError::NonceReplayed);
    }
    if record.session != session {
        return Err(VerifyError::NonceWrongSession);
    }
    if now > record.expires_at {
        return Err(VerifyError::NonceExpired);
    }
    Ok(parsed)
}

/// An in-memory [`NonceStore`] for a single server process. Expired records are purged on insert.
#[derive(Debug, Default)]
pub struct MemoryNonceStore {
    records: Mutex<HashMap<String, NonceRecord>>,
}

impl MemoryNonceStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl NonceStore for MemoryNonceStore {
    fn insert(&self, record: NonceRecord) -> Result<(), StoreError> {
        let mut map = self.records.lock().map_err(|_| "nonce store lock poisoned")?;
        // Keep expired records for one more TTL so late replays still read as replays.
        let horizon = record.expires_at.checked_sub(NONCE_TTL * 2).unwrap_or(SystemTime::UNIX_EPOCH);
        map.retain(|_, r| r.expires_at > horizon);
        map.insert(record.nonce.clone(), record);
        Ok(())
    }

    fn take(&self, nonce: &str) -> Result<Option<NonceRecord>, StoreError> {
        let mut map = self.records.lock().map_err(|_| "nonce store lock poisoned")?;
        Ok(map.get_mut(nonce).map(|r| {
            let before = r.clone();
            r.used = true;
            before
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_life_cycle() {
        let store = MemoryNonceStore::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let n = issue_nonce(&store, "s1", t0).unwrap();
        assert_eq!(n.as_str().len(), 43, "32 bytes, base64url without padding");
        assert!(!n.as_str().contains(['+', '/', '=']));
        assert!(redeem_nonce(&store, n.as_str(), "s1", t0 + NONCE_TTL).is_ok(), "valid up to the TTL");
        assert!(matches!(redeem_nonce(&store, n.as_str(), "s1", t0), Err(VerifyError::NonceReplayed)));

        let n = issue_nonce(&store, "s1", t0).unwrap();
        let late = t0 + NONCE_TTL + Duration::from_secs(1);
        assert!(matches!(redeem_nonce(&store, n.as_str(), "s1", late), Err(VerifyError::NonceExpired)));

        let n = issue_nonce(&store, "s1", t0).unwrap();
        assert!(matches!(redeem_nonce(&store, n.as_str(), "s2", t0), Err(VerifyError::NonceWrongSession)));
        assert!(matches!(redeem_nonce(&store, n.as_str(), "s1", t0), Err(VerifyError::NonceReplayed)), "spent by the failed try");

        let other = Nonce::from_random(&[1u8; 32]);
        assert!(matches!(redeem_nonce(&store, other.as_str(), "s1", t0), Err(VerifyError::NonceUnknown)));
        assert!(matches!(redeem_nonce(&store, "short", "s1", t0), Err(VerifyError::NonceUnknown)));
    }

    #[test]
    fn nonces_differ() {
        let store = MemoryNonceStore::new();
        let now = SystemTime::now();
        let a = issue_nonce(&store, "s", now).unwrap();
        let b = issue_nonce(&store, "s", now).unwrap();
        assert_ne!(a, b);
    }
}
