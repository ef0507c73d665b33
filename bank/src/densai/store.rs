//! The densai requests, their transaction challenges and the approval evidence, in tables of
//! their own (`densai_requests`, `densai_evidence`, `tx_challenges`) of whichever database the
//! bank runs on: [`DensaiStore`] is implemented here for SQLite and in `store_pg.rs` for
//! PostgreSQL. kagi-verify's [`TxRecords`] and [`TxChallengeStore`] are implemented for [`Db`]
//! on top of it.

use std::time::SystemTime;

use kagi_verify::{StoreError, Transaction, TxChallenge, TxChallengeStore, TxEvidence, TxRecord, TxRecords, TxStatus};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::clock::{from_unix, unix};
use crate::db::sqlite::SqliteStore;
use crate::db::Db;
use crate::error::BankError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS densai_requests (
    id          TEXT PRIMARY KEY,            -- requestId, e.g. TR-20261130-0001
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    version     INTEGER NOT NULL,            -- requestVersion: raised by every edit
    status      TEXT NOT NULL CHECK (status IN ('awaiting', 'approved', 'closed')),
    fields      TEXT NOT NULL,               -- the kagi-tx:1 fields as a flat JSON object of strings
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS densai_requests_customer ON densai_requests(customer_id);
CREATE TABLE IF NOT EXISTS densai_evidence (
    request_id         TEXT PRIMARY KEY REFERENCES densai_requests(id),
    version            INTEGER NOT NULL,
    message            BLOB NOT NULL,        -- the 105-byte kagi-tx:1 message rebuilt from the row
    signature          BLOB NOT NULL,
    algorithm          TEXT NOT NULL,
    certificate_sha256 TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    approved_at        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tx_challenges (
    nonce      TEXT PRIMARY KEY,
    session    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    version    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
";

pub fn init(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)
}

/// What the densai screens need from the database. The approval (status change and evidence)
/// is one database transaction; a challenge is redeemed in one statement or transaction.
pub trait DensaiStore: Send + Sync {
    /// Stores a new request (version 1, awaiting approval).
    fn insert_densai(&self, customer_id: i64, tx: &Transaction, now: SystemTime) -> Result<(), BankError>;
    /// Replaces a request awaiting approval by `tx` (same id, the next version).
    fn update_densai(&self, tx: &Transaction, now: SystemTime) -> Result<bool, BankError>;
    fn densai_request(&self, id: &str) -> Result<Option<RequestRow>, BankError>;
    /// The customer's requests, newest first.
    fn densai_requests_of(&self, customer_id: i64) -> Result<Vec<RequestRow>, BankError>;
    /// How many requests there are (for the next request id).
    fn densai_count(&self) -> Result<i64, BankError>;
    /// Whether the customer has an approved request to this counterparty (利用者番号): else the
    /// counterparty is new (`newCounterparty` = 1).
    fn densai_known_counterparty(&self, customer_id: i64, user_no: &str) -> Result<bool, BankError>;
    /// The evidence stored with an approval.
    fn densai_evidence(&self, id: &str) -> Result<Option<TxEvidence>, BankError>;
    /// Marks the request approved at `version` and stores the evidence, in one transaction;
    /// `false` when it was not awaiting approval at that version.
    fn approve_densai(&self, request_id: &str, version: i64, evidence: &TxEvidence) -> Result<bool, BankError>;
    fn insert_tx_challenge(&self, c: &TxChallenge) -> Result<(), BankError>;
    /// The challenge, marked used (it comes back with the `used` it had before).
    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, BankError>;
}

pub(crate) fn algorithm_name(a: kagi_verify::SignatureAlgorithm) -> &'static str {
    match a {
        kagi_verify::SignatureAlgorithm::ES256 => "ES256",
        kagi_verify::SignatureAlgorithm::RS256 => "RS256",
    }
}

pub(crate) fn algorithm_of(name: &str) -> kagi_verify::SignatureAlgorithm {
    if name == "RS256" {
        kagi_verify::SignatureAlgorithm::RS256
    } else {
        kagi_verify::SignatureAlgorithm::ES256
    }
}

/// A request row with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    pub id: String,
    pub customer_id: i64,
    pub version: i64,
    pub status: TxStatus,
    pub tx: Transaction,
}

pub(crate) fn status_of(s: &str) -> TxStatus {
    match s {
        "awaiting" => TxStatus::AwaitingApproval,
        "approved" => TxStatus::Approved,
        _ => TxStatus::Closed,
    }
}

/// The stored fields as a checked transaction: a row the text rules refuse is the bank's own
/// fault and never shown or signed.
pub(crate) fn tx_of(fields: &str) -> Result<Transaction, BankError> {
    let v: serde_json::Value = serde_json::from_str(fields).map_err(|e| BankError::Internal(format!("densai row: {e}")))?;
    Transaction::from_json(&v).map_err(|e| BankError::Internal(format!("densai row: {e}")))
}

impl DensaiStore for SqliteStore {
    /// Stores a new request (version 1, awaiting approval).
    fn insert_densai(&self, customer_id: i64, tx: &Transaction, now: SystemTime) -> Result<(), BankError> {
        self.conn().execute(
            "INSERT INTO densai_requests (id, customer_id, version, status, fields, created_at, updated_at) VALUES (?1, ?2, ?3, 'awaiting', ?4, ?5, ?5)",
            params![tx.request_id(), customer_id, tx.request_version().parse::<i64>().unwrap_or(1), tx.to_json().to_string(), unix(now)],
        )?;
        Ok(())
    }

    /// Replaces a request awaiting approval by `tx` (same id, the next version).
    fn update_densai(&self, tx: &Transaction, now: SystemTime) -> Result<bool, BankError> {
        let n = self.conn().execute(
            "UPDATE densai_requests SET version = ?2, fields = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'awaiting' AND version = ?2 - 1",
            params![tx.request_id(), tx.request_version().parse::<i64>().unwrap_or(0), tx.to_json().to_string(), unix(now)],
        )?;
        Ok(n == 1)
    }

    fn densai_request(&self, id: &str) -> Result<Option<RequestRow>, BankError> {
        let row: Option<(String, i64, i64, String, String)> = self
            .conn()
            .query_row("SELECT id, customer_id, version, status, fields FROM densai_requests WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        row.map(|(id, customer_id, version, status, fields)| Ok(RequestRow { id, customer_id, version, status: status_of(&status), tx: tx_of(&fields)? }))
            .transpose()
    }

    /// The customer's requests, newest first.
    fn densai_requests_of(&self, customer_id: i64) -> Result<Vec<RequestRow>, BankError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT id, customer_id, version, status, fields FROM densai_requests WHERE customer_id = ?1 ORDER BY created_at DESC, id DESC")?;
        let rows: Vec<(String, i64, i64, String, String)> =
            st.query_map([customer_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, customer_id, version, status, fields)| Ok(RequestRow { id, customer_id, version, status: status_of(&status), tx: tx_of(&fields)? }))
            .collect()
    }

    /// How many requests of the customer today carry (for the next request id).
    fn densai_count(&self) -> Result<i64, BankError> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM densai_requests", [], |r| r.get(0))?)
    }

    /// Whether the customer has an approved request to this counterparty (利用者番号): else the
    /// counterparty is new (`newCounterparty` = 1).
    fn densai_known_counterparty(&self, customer_id: i64, user_no: &str) -> Result<bool, BankError> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT fields FROM densai_requests WHERE customer_id = ?1 AND status = 'approved'")?;
        let fields: Vec<String> = st.query_map([customer_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(fields.iter().any(|f| serde_json::from_str::<serde_json::Value>(f).is_ok_and(|v| v["counterparty.userNo"] == user_no)))
    }

    /// The evidence stored with an approval.
    fn densai_evidence(&self, id: &str) -> Result<Option<TxEvidence>, BankError> {
        let row = self
            .conn()
            .query_row(
                "SELECT message, signature, algorithm, certificate_sha256, certificate_serial, approved_at FROM densai_evidence WHERE request_id = ?1",
                [id],
                |r| {
                    let alg: String = r.get(2)?;
                    Ok(TxEvidence {
                        message: r.get(0)?,
                        signature: r.get(1)?,
                        algorithm: algorithm_of(&alg),
                        certificate_sha256: r.get(3)?,
                        certificate_serial: r.get(4)?,
                        approved_at: from_unix(r.get(5)?),
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    /// The status change and the evidence in one IMMEDIATE transaction.
    fn approve_densai(&self, request_id: &str, version: i64, evidence: &TxEvidence) -> Result<bool, BankError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE densai_requests SET status = 'approved', updated_at = ?3 WHERE id = ?1 AND version = ?2 AND status = 'awaiting'",
            params![request_id, version, unix(evidence.approved_at)],
        )?;
        if n != 1 {
            return Ok(false);
        }
        let alg = algorithm_name(evidence.algorithm);
        tx.execute(
            "INSERT INTO densai_evidence (request_id, version, message, signature, algorithm, certificate_sha256, certificate_serial, approved_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![request_id, version, evidence.message, evidence.signature, alg, evidence.certificate_sha256, evidence.certificate_serial, unix(evidence.approved_at)],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn insert_tx_challenge(&self, c: &TxChallenge) -> Result<(), BankError> {
        let conn = self.conn();
        let horizon = unix(c.expires_at) - 2 * kagi_verify::NONCE_TTL.as_secs() as i64;
        conn.execute("DELETE FROM tx_challenges WHERE expires_at < ?1", [horizon])?;
        conn.execute(
            "INSERT INTO tx_challenges (nonce, session, request_id, version, expires_at, used) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.nonce, c.session, c.request_id, c.version, unix(c.expires_at), c.used],
        )?;
        Ok(())
    }

    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, BankError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String, String, i64, bool)> = tx
            .query_row("SELECT session, request_id, version, expires_at, used FROM tx_challenges WHERE nonce = ?1", [nonce], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        tx.execute("UPDATE tx_challenges SET used = 1 WHERE nonce = ?1", [nonce])?;
        tx.commit()?;
        Ok(row.map(|(session, request_id, version, expires_at, used)| TxChallenge {
            nonce: nonce.to_owned(),
            session,
            request_id,
            version,
            expires_at: from_unix(expires_at),
            used,
        }))
    }
}

/// The request as kagi-verify sees it: the owner as the contract number.
impl TxRecords for Db {
    fn load(&self, request_id: &str) -> Result<Option<TxRecord>, StoreError> {
        let Some(row) = self.densai_request(request_id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let customer = self.customer(row.customer_id).map_err(|e| e.to_string())?.ok_or("request without customer")?;
        Ok(Some(TxRecord { tx: row.tx, customer: customer.contract_number, status: row.status }))
    }

    fn approve(&self, request_id: &str, version: &str, evidence: &TxEvidence) -> Result<bool, StoreError> {
        let version: i64 = version.parse().map_err(|_| "version is not a number")?;
        Ok(self.approve_densai(request_id, version, evidence).map_err(|e| e.to_string())?)
    }
}

impl TxChallengeStore for Db {
    fn insert_tx_challenge(&self, c: TxChallenge) -> Result<(), StoreError> {
        Ok(DensaiStore::insert_tx_challenge(&**self, &c).map_err(|e| e.to_string())?)
    }

    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, StoreError> {
        Ok(DensaiStore::take_tx_challenge(&**self, nonce).map_err(|e| e.to_string())?)
    }
}
