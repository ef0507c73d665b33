//! [`DensaiStore`] on PostgreSQL: the same three tables as on SQLite, shared by every bank
//! instance on the database, so a request registered at one instance is approved at another.
//! A challenge is redeemed in one statement (see `db/postgres`'s nonces for why that is
//! single use under concurrency).

use std::time::SystemTime;

use kagi_verify::{Transaction, TxChallenge, TxEvidence};

use crate::clock::{from_unix, unix};
use crate::db::postgres::PgStore;
use crate::densai::store::{algorithm_name, algorithm_of, status_of, tx_of, DensaiStore, RequestRow};
use crate::error::BankError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS densai_requests (
    id          TEXT PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    version     BIGINT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('awaiting', 'approved', 'closed')),
    fields      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS densai_requests_customer ON densai_requests(customer_id);
CREATE TABLE IF NOT EXISTS densai_evidence (
    request_id         TEXT PRIMARY KEY REFERENCES densai_requests(id),
    version            BIGINT NOT NULL,
    message            BYTEA NOT NULL,
    signature          BYTEA NOT NULL,
    algorithm          TEXT NOT NULL,
    certificate_sha256 TEXT NOT NULL,
    certificate_serial TEXT NOT NULL,
    approved_at        BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tx_challenges (
    nonce      TEXT PRIMARY KEY,
    session    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    version    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL DEFAULT FALSE
);
";

type Raw = (String, i64, i64, String, String);

fn row_of(r: Raw) -> Result<RequestRow, BankError> {
    let (id, customer_id, version, status, fields) = r;
    Ok(RequestRow { id, customer_id, version, status: status_of(&status), tx: tx_of(&fields)? })
}

const SELECT_REQUEST: &str = "SELECT id, customer_id, version, status, fields FROM densai_requests";

impl DensaiStore for PgStore {
    fn insert_densai(&self, customer_id: i64, tx: &Transaction, now: SystemTime) -> Result<(), BankError> {
        let (id, version, fields, now) = (tx.request_id().to_owned(), tx.request_version().parse::<i64>().unwrap_or(1), tx.to_json().to_string(), unix(now));
        self.with(|c| {
            c.execute(
                "INSERT INTO densai_requests (id, customer_id, version, status, fields, created_at, updated_at) VALUES ($1, $2, $3, 'awaiting', $4, $5, $5)",
                &[&id, &customer_id, &version, &fields, &now],
            )
            .map(drop)
        })
    }

    fn update_densai(&self, tx: &Transaction, now: SystemTime) -> Result<bool, BankError> {
        let (id, version, fields, now) = (tx.request_id().to_owned(), tx.request_version().parse::<i64>().unwrap_or(0), tx.to_json().to_string(), unix(now));
        let n = self.with(|c| {
            c.execute(
                "UPDATE densai_requests SET version = $2, fields = $3, updated_at = $4 WHERE id = $1 AND status = 'awaiting' AND version = $2 - 1",
                &[&id, &version, &fields, &now],
            )
        })?;
        Ok(n == 1)
    }

    fn densai_request(&self, id: &str) -> Result<Option<RequestRow>, BankError> {
        let raw: Option<Raw> = self.with(|c| {
            c.query_opt(&format!("{SELECT_REQUEST} WHERE id = $1"), &[&id])?
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .transpose()
        })?;
        raw.map(row_of).transpose()
    }

    fn densai_requests_of(&self, customer_id: i64) -> Result<Vec<RequestRow>, BankError> {
        let raw: Vec<Raw> = self.with(|c| {
            c.query(&format!("{SELECT_REQUEST} WHERE customer_id = $1 ORDER BY created_at DESC, id DESC"), &[&customer_id])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
                .collect()
        })?;
        raw.into_iter().map(row_of).collect()
    }

    fn densai_count(&self) -> Result<i64, BankError> {
        self.with(|c| c.query_one("SELECT COUNT(*) FROM densai_requests", &[])?.try_get(0))
    }

    fn densai_known_counterparty(&self, customer_id: i64, user_no: &str) -> Result<bool, BankError> {
        let fields: Vec<String> = self.with(|c| {
            c.query("SELECT fields FROM densai_requests WHERE customer_id = $1 AND status = 'approved'", &[&customer_id])?
                .iter()
                .map(|r| r.try_get(0))
                .collect()
        })?;
        Ok(fields.iter().any(|f| serde_json::from_str::<serde_json::Value>(f).is_ok_and(|v| v["counterparty.userNo"] == user_no)))
    }

    fn densai_evidence(&self, id: &str) -> Result<Option<TxEvidence>, BankError> {
        self.with(|c| {
            c.query_opt(
                "SELECT message, signature, algorithm, certificate_sha256, certificate_serial, approved_at FROM densai_evidence WHERE request_id = $1",
                &[&id],
            )?
            .map(|r| {
                let alg: String = r.try_get(2)?;
                Ok(TxEvidence {
                    message: r.try_get(0)?,
                    signature: r.try_get(1)?,
                    algorithm: algorithm_of(&alg),
                    certificate_sha256: r.try_get(3)?,
                    certificate_serial: r.try_get(4)?,
                    approved_at: from_unix(r.try_get(5)?),
                })
            })
            .transpose()
        })
    }

    fn approve_densai(&self, request_id: &str, version: i64, evidence: &TxEvidence) -> Result<bool, BankError> {
        let at = unix(evidence.approved_at);
        let alg = algorithm_name(evidence.algorithm);
        self.with(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE densai_requests SET status = 'approved', updated_at = $3 WHERE id = $1 AND version = $2 AND status = 'awaiting'",
                &[&request_id, &version, &at],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO densai_evidence (request_id, version, message, signature, algorithm, certificate_sha256, certificate_serial, approved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&request_id, &version, &evidence.message, &evidence.signature, &alg, &evidence.certificate_sha256, &evidence.certificate_serial, &at],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn insert_tx_challenge(&self, ch: &TxChallenge) -> Result<(), BankError> {
        let expires = unix(ch.expires_at);
        let horizon = expires - 2 * kagi_verify::NONCE_TTL.as_secs() as i64;
        self.with(|c| {
            c.execute("DELETE FROM tx_challenges WHERE expires_at < $1", &[&horizon])?;
            c.execute(
                "INSERT INTO tx_challenges (nonce, session, request_id, version, expires_at, used) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&ch.nonce, &ch.session, &ch.request_id, &ch.version, &expires, &ch.used],
            )
            .map(drop)
        })
    }

    /// One statement: the row locked, marked used, and returned with the `used` it had.
    fn take_tx_challenge(&self, nonce: &str) -> Result<Option<TxChallenge>, BankError> {
        let row: Option<(String, String, String, i64, bool)> = self.with(|c| {
            c.query_opt(
                "UPDATE tx_challenges t SET used = TRUE FROM (SELECT nonce, used FROM tx_challenges WHERE nonce = $1 FOR UPDATE) old \
                 WHERE t.nonce = old.nonce RETURNING t.session, t.request_id, t.version, t.expires_at, old.used",
                &[&nonce],
            )?
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?)))
            .transpose()
        })?;
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
