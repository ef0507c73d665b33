//! The bank's storage: customers and their contracts, issued certificates, sessions, password
//! failures and challenge nonces, behind one trait ([`Store`]) with two implementations:
//! SQLite ([`sqlite`], one file in the data directory: the embedded default) and PostgreSQL
//! ([`postgres`], `--database postgres://…`, shared by any number of bank instances behind a
//! load balancer). [`Db`] adds what does not depend on the database (password hashing).
//!
//! Time is the bank's injected clock ([`crate::clock::Clock`]) everywhere, also for nonce
//! expiry: the store keeps `expires_at` as the bank computed it and `kagi_verify::redeem_nonce`
//! compares it with the bank's `now`. The database clock is never asked, so the renewal tests'
//! manual clock and `--clock-offset-days` keep working on PostgreSQL too; instances sharing a
//! database must have synchronised clocks (NTP), as for any cookie expiry.

pub mod postgres;
pub mod sqlite;

use std::num::NonZeroU32;
use std::ops::Deref;
use std::path::Path;
use std::time::{Duration, SystemTime};

use kagi_verify::{CertInfo, CertStatus, CertificateRecords, NonceRecord, NonceStore, StoreError};

use crate::error::BankError;
use crate::renewal::CustomerCerts;

/// Databases made before Argon2id kept a PBKDF2-HMAC-SHA256 hash (salt and hash columns); such a
/// password is checked the old way once and then stored as Argon2id.
const LEGACY_PBKDF2_ITERATIONS: u32 = 20_000;

/// Argon2id (RFC 9106 §3) with the parameters OWASP's Password Storage Cheat Sheet gives as the
/// minimum: 19 MiB of memory, 2 passes, 1 lane, 32-byte output, 16-byte random salt. The PHC
/// string stores them, so raising them later still verifies old hashes.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_PASSES: u32 = 2;
pub const ARGON2_LANES: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub contract_number: String,
    pub common_name: String,
    pub name: String,
    pub issued_count: u32,
    pub reissue_pending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRow {
    pub serial: String,
    pub customer_id: i64,
    pub issued_count: u32,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub revoked: bool,
    pub sha256: String,
    pub der: Vec<u8>,
}

/// A revoked certificate as the CRL lists it (RFC 5280 §5.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedRow {
    /// Lowercase hex, as in [`CertRow::serial`].
    pub serial: String,
    pub revoked_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionRow {
    pub handle: String,
    pub expires_at: i64,
    pub acquire_customer: Option<i64>,
    pub acquire_until: Option<i64>,
    pub acquire_serial: Option<String>,
    pub login_customer: Option<i64>,
    pub login_serial: Option<String>,
}

/// A PBKDF2 password from before Argon2id: (salt, hash).
pub type LegacyPassword = (Vec<u8>, Vec<u8>);

/// Makes the certificate for the next IssuedCount inside [`Store::record_issue`]'s transaction.
pub type Sign<'a> = &'a mut (dyn FnMut(u32) -> Result<CertRow, BankError> + Send);

/// What a database must do for the bank. Every change is committed before the call returns, so
/// the answer the customer sees is what every instance sees next. The nonce half
/// ([`NonceStore`]) must redeem in one atomic statement; the certificate half
/// ([`CertificateRecords`]) answers the verifier's revocation question.
pub trait Store: NonceStore + CertificateRecords + crate::densai::store::DensaiStore + Send + Sync {
    /// `sqlite` or `postgres`, for logs and the benchmark.
    fn kind(&self) -> &'static str;

    // ---- customers ----
    fn insert_customer(&self, contract_number: &str, common_name: &str, name: &str, password_phc: &str, now: SystemTime) -> Result<i64, BankError>;
    fn customer_count(&self) -> Result<i64, BankError>;
    fn customers(&self) -> Result<Vec<Customer>, BankError>;
    fn customer(&self, id: i64) -> Result<Option<Customer>, BankError>;
    fn customer_by_contract(&self, contract_number: &str) -> Result<Option<Customer>, BankError>;
    /// The stored Argon2id PHC string; empty for a password still stored the PBKDF2 way.
    fn password_phc(&self, contract_number: &str) -> Result<Option<String>, BankError>;
    /// Salt and hash of a PBKDF2 password (SQLite databases from before Argon2id only).
    fn legacy_password(&self, contract_number: &str) -> Result<Option<LegacyPassword>, BankError>;
    /// Stores `phc` as the password hash (and forgets a PBKDF2 one).
    fn set_password_phc(&self, contract_number: &str, phc: &str) -> Result<(), BankError>;
    /// Records a wrong password for `contract_number` and forgets failures older than `window`.
    fn record_password_failure(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(), BankError>;
    /// Wrong passwords for `contract_number` within `window` before `now`: how many, and when
    /// the oldest of them was made.
    fn password_failures(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(u32, Option<SystemTime>), BankError>;

    // ---- certificates ----
    /// What the renewal rule needs about the customer.
    fn customer_certs(&self, customer_id: i64) -> Result<CustomerCerts, BankError>;
    /// Issues a certificate inside one transaction: `sign(next_issued_count)` makes it, the row
    /// is stored, the customer's IssuedCount moves on and a reissue mark is cleared. Two
    /// instances issuing for one customer at once get different IssuedCounts.
    fn record_issue(&self, customer_id: i64, now: SystemTime, sign: Sign<'_>) -> Result<CertRow, BankError>;
    fn certificate(&self, serial: &str) -> Result<Option<CertRow>, BankError>;
    fn certificates_of(&self, customer_id: i64) -> Result<Vec<CertRow>, BankError>;
    fn revoke(&self, serial: &str, reason: &str, now: SystemTime) -> Result<bool, BankError>;
    /// The operator's reissue: revokes every certificate in force and lets the customer acquire
    /// a new one whatever the renewal window says. Returns the number revoked.
    fn mark_reissue(&self, customer_id: i64, now: SystemTime) -> Result<usize, BankError>;
    /// Every revoked certificate not yet expired at `now` (what the CRL lists).
    fn revoked_certificates(&self, now: SystemTime) -> Result<Vec<RevokedRow>, BankError>;

    // ---- sessions ----
    fn create_session(&self, handle: &str, now: SystemTime, ttl: Duration) -> Result<(), BankError>;
    /// The session, if it exists and has not expired.
    fn session(&self, handle: &str, now: SystemTime) -> Result<Option<SessionRow>, BankError>;
    fn start_acquisition(&self, handle: &str, customer_id: i64, until: SystemTime) -> Result<(), BankError>;
    fn set_acquired(&self, handle: &str, serial: &str) -> Result<(), BankError>;
    fn set_login(&self, handle: &str, customer_id: i64, serial: &str) -> Result<(), BankError>;
    /// Moves a session to a new handle (the cookie changes): the old handle stops working. The
    /// log-on is kept only if it belongs to `keep_login_of`; a pending acquisition is dropped
    /// (the caller opens the new one).
    fn rotate_session(&self, old: &str, new: &str, now: SystemTime, ttl: Duration, keep_login_of: Option<i64>) -> Result<(), BankError>;
    fn delete_session(&self, handle: &str) -> Result<(), BankError>;
}

/// Where the bank's data lives: `--database` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `bank.sqlite3` in the data directory (the default).
    Sqlite,
    /// A PostgreSQL connection string (`postgres://user@host:port/db`, or the key=value form
    /// with `host=/path/to/socket/dir`).
    Postgres(String),
}

impl Database {
    /// `sqlite` (or nothing) for the file in the data directory; `postgres://…`,
    /// `postgresql://…` or a libpq `key=value` string for PostgreSQL.
    pub fn parse(s: &str) -> Result<Database, BankError> {
        let s = s.trim();
        if s.is_empty() || s == "sqlite" {
            Ok(Database::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") || s.contains("host=") {
            Ok(Database::Postgres(s.to_owned()))
        } else {
            Err(BankError::BadRequest(format!("--database: expected `sqlite` or a postgres:// URL, not {s:?}")))
        }
    }
}

/// The bank's database: a [`Store`] plus what the bank does on top of any store.
pub struct Db {
    store: Box<dyn Store>,
}

impl Deref for Db {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

impl Db {
    /// The SQLite file at `path` (created if missing).
    pub fn open(path: &Path) -> Result<Db, BankError> {
        Ok(Db { store: Box::new(sqlite::SqliteStore::open(path)?) })
    }

    /// `database` for the bank whose data directory is `data_dir`.
    pub fn open_database(database: &Database, data_dir: &Path) -> Result<Db, BankError> {
        match database {
            Database::Sqlite => Db::open(&data_dir.join("bank.sqlite3")),
            Database::Postgres(url) => Ok(Db { store: Box::new(postgres::PgStore::connect(url)?) }),
        }
    }

    pub fn add_customer(&self, contract_number: &str, common_name: &str, name: &str, password: &str, now: SystemTime) -> Result<i64, BankError> {
        let phc = hash_password(password)?;
        self.store.insert_customer(contract_number, common_name, name, &phc, now)
    }

    /// The customer, if the contract number exists and the password matches.
    pub fn check_password(&self, contract_number: &str, password: &str) -> Result<Option<Customer>, BankError> {
        let ok = match self.store.password_phc(contract_number)?.as_deref() {
            None => {
                // Same work for an unknown contract number, so timing does not tell which exist.
                let _ = hash_password(password)?;
                false
            }
            Some("") => self.check_legacy_password(contract_number, password)?,
            Some(phc) => verify_password(phc, password)?,
        };
        if ok {
            self.store.customer_by_contract(contract_number)
        } else {
            Ok(None)
        }
    }

    /// A password stored before Argon2id (PBKDF2): checked, and on success stored as Argon2id.
    fn check_legacy_password(&self, contract_number: &str, password: &str) -> Result<bool, BankError> {
        let Some((salt, hash)) = self.store.legacy_password(contract_number)? else {
            return Ok(false);
        };
        let iterations = NonZeroU32::new(LEGACY_PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN);
        let ok = ring::pbkdf2::verify(ring::pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, password.as_bytes(), &hash).is_ok();
        if ok {
            self.store.set_password_phc(contract_number, &hash_password(password)?)?;
        }
        Ok(ok)
    }

    /// Issues inside the store's transaction (see [`Store::record_issue`]).
    pub fn record_issue(
        &self,
        customer_id: i64,
        now: SystemTime,
        sign: impl FnOnce(u32) -> Result<CertRow, BankError> + Send,
    ) -> Result<CertRow, BankError> {
        let mut once = Some(sign);
        self.store.record_issue(customer_id, now, &mut |count| match once.take() {
            Some(f) => f(count),
            None => Err(BankError::Internal("record_issue signed twice".into())),
        })
    }
}

/// The verifier's nonces, in the bank's database (shared by every instance on PostgreSQL).
impl NonceStore for Db {
    fn insert(&self, record: NonceRecord) -> Result<(), StoreError> {
        self.store.insert(record)
    }
    fn take(&self, nonce: &str) -> Result<Option<NonceRecord>, StoreError> {
        self.store.take(nonce)
    }
}

/// Revocation: the bank's own table of what its CA issued.
impl CertificateRecords for Db {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError> {
        self.store.status(cert)
    }
}

/// What a certificate row says to the verifier: the SHA-256 must match too, so a serial
/// collision (another CA, a forged certificate) reads as unknown.
fn cert_status(row: Option<(String, String)>, cert: &CertInfo) -> CertStatus {
    match row {
        Some((_, sha)) if sha != cert.sha256 => CertStatus::Unknown,
        Some((status, _)) if status == "active" => CertStatus::Active,
        Some(_) => CertStatus::Revoked,
        None => CertStatus::Unknown,
    }
}

/// How long used and unused nonces are kept past their expiry, so a late replay reads as a
/// replay (`NONCE_REPLAYED`), not as unknown.
fn nonce_horizon(record: &NonceRecord) -> i64 {
    crate::clock::unix(record.expires_at) - 2 * kagi_verify::NONCE_TTL.as_secs() as i64
}

fn argon2() -> Result<argon2::Argon2<'static>, BankError> {
    let params = argon2::Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, Some(32))
        .map_err(|e| BankError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
}

/// The Argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`.
fn hash_password(password: &str) -> Result<String, BankError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| BankError::Internal(format!("randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| BankError::Internal(format!("salt: {e}")))?;
    let hash = argon2()?.hash_password(password.as_bytes(), &salt).map_err(|e| BankError::Internal(format!("argon2: {e}")))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC string (constant-time comparison inside argon2).
fn verify_password(phc: &str, password: &str) -> Result<bool, BankError> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let parsed = PasswordHash::new(phc).map_err(|e| BankError::Internal(format!("stored password hash: {e}")))?;
    match argon2()?.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(BankError::Internal(format!("argon2: {e}"))),
    }
}
