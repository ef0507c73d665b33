//! The PostgreSQL [`Store`] (`kagi-bank serve --database postgres://…`): one database shared by
//! any number of bank instances behind a load balancer, so a nonce issued by one is redeemed at
//! another, a replay across instances is caught, and a revocation at one holds at all.
//!
//! The client is the `postgres` crate (the blocking face of `tokio-postgres`, maintained by the
//! rust-postgres project) without TLS (`NoTls`): the bank talks to a database on the same host or
//! network over a Unix socket or TCP; a connection string asking for `sslmode=require` is refused
//! at connect rather than silently downgraded. A small pool of connections ([`pool`]) serves the
//! handlers; the calls block like the SQLite store's do, moved off the async worker.

mod pool;

use std::time::{Duration, SystemTime};

use kagi_verify::{CertInfo, CertStatus, CertificateRecords, NonceRecord, NonceStore, StoreError};
use postgres::{Client, Row};

use super::{cert_status, LegacyPassword, nonce_horizon, CertRow, Customer, RevokedRow, SessionRow, Sign, Store};
use crate::clock::{from_unix, unix};
use crate::error::BankError;
use crate::renewal::CustomerCerts;
use pool::{blocking, Pool};

/// Any constant: the advisory lock that serialises schema creation when several instances start
/// at once (`CREATE TABLE IF NOT EXISTS` alone races on the catalog).
const SCHEMA_LOCK: i64 = 0x4b61_6769_4261_6e6b; // "KagiBank"

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id              BIGSERIAL PRIMARY KEY,
    contract_number TEXT NOT NULL UNIQUE,
    common_name     TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    password_phc    TEXT NOT NULL,
    issued_count    BIGINT NOT NULL DEFAULT 0,
    reissue_pending BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    serial        TEXT PRIMARY KEY,
    customer_id   BIGINT NOT NULL REFERENCES customers(id),
    issued_count  BIGINT NOT NULL,
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    sha256        TEXT NOT NULL,
    der           BYTEA NOT NULL,
    issued_at     BIGINT NOT NULL,
    revoked_at    BIGINT,
    revoke_reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_customer ON certificates(customer_id);
CREATE TABLE IF NOT EXISTS sessions (
    handle           TEXT PRIMARY KEY,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    acquire_customer BIGINT REFERENCES customers(id),
    acquire_until    BIGINT,
    acquire_serial   TEXT,
    login_customer   BIGINT REFERENCES customers(id),
    login_serial     TEXT
);
CREATE TABLE IF NOT EXISTS password_failures (
    contract_number TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS password_failures_contract ON password_failures(contract_number, at);
CREATE TABLE IF NOT EXISTS nonces (
    nonce      TEXT PRIMARY KEY,
    session    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS nonces_expiry ON nonces(expires_at);
";

pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Connects the pool and creates the tables if they are missing (under an advisory lock:
    /// several instances may start at once).
    pub fn connect(url: &str) -> Result<PgStore, BankError> {
        let pool = Pool::connect(url, |first| {
            let mut tx = first.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            tx.batch_execute(SCHEMA)?;
            tx.batch_execute(crate::densai::store_pg::SCHEMA)?;
            tx.commit()
        })?;
        Ok(PgStore { pool })
    }

    pub(crate) fn with<R: Send>(&self, f: impl FnOnce(&mut Client) -> Result<R, postgres::Error> + Send) -> Result<R, BankError> {
        self.pool.with(f)
    }
}

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn customer_from_row(r: &Row) -> Result<Customer, postgres::Error> {
    Ok(Customer {
        id: r.try_get(0)?,
        contract_number: r.try_get(1)?,
        common_name: r.try_get(2)?,
        name: r.try_get(3)?,
        issued_count: count(r.try_get(4)?),
        reissue_pending: r.try_get(5)?,
    })
}

fn cert_from_row(r: &Row) -> Result<CertRow, postgres::Error> {
    let status: String = r.try_get(5)?;
    Ok(CertRow {
        serial: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        issued_count: count(r.try_get(2)?),
        not_before: from_unix(r.try_get(3)?),
        not_after: from_unix(r.try_get(4)?),
        revoked: status != "active",
        sha256: r.try_get(6)?,
        der: r.try_get(7)?,
    })
}

fn session_from_row(r: &Row) -> Result<SessionRow, postgres::Error> {
    Ok(SessionRow {
        handle: r.try_get(0)?,
        expires_at: r.try_get(1)?,
        acquire_customer: r.try_get(2)?,
        acquire_until: r.try_get(3)?,
        acquire_serial: r.try_get(4)?,
        login_customer: r.try_get(5)?,
        login_serial: r.try_get(6)?,
    })
}

const CUSTOMER_SELECT: &str = "SELECT id, contract_number, common_name, name, issued_count, reissue_pending FROM customers";
const CERT_SELECT: &str = "SELECT serial, customer_id, issued_count, not_before, not_after, status, sha256, der FROM certificates";
const SESSION_SELECT: &str =
    "SELECT handle, expires_at, acquire_customer, acquire_until, acquire_serial, login_customer, login_serial FROM sessions";

impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn insert_customer(&self, contract_number: &str, common_name: &str, name: &str, phc: &str, now: SystemTime) -> Result<i64, BankError> {
        self.with(|c| {
            c.query_one(
                "INSERT INTO customers (contract_number, common_name, name, password_phc, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&contract_number, &common_name, &name, &phc, &unix(now)],
            )?
            .try_get(0)
        })
    }

    fn customer_count(&self) -> Result<i64, BankError> {
        self.with(|c| c.query_one("SELECT COUNT(*) FROM customers", &[])?.try_get(0))
    }

    fn customers(&self) -> Result<Vec<Customer>, BankError> {
        self.with(|c| c.query(&format!("{CUSTOMER_SELECT} ORDER BY id"), &[])?.iter().map(customer_from_row).collect())
    }

    fn customer(&self, id: i64) -> Result<Option<Customer>, BankError> {
        self.with(|c| c.query_opt(&format!("{CUSTOMER_SELECT} WHERE id = $1"), &[&id])?.as_ref().map(customer_from_row).transpose())
    }

    fn customer_by_contract(&self, contract_number: &str) -> Result<Option<Customer>, BankError> {
        self.with(|c| {
            c.query_opt(&format!("{CUSTOMER_SELECT} WHERE contract_number = $1"), &[&contract_number])?.as_ref().map(customer_from_row).transpose()
        })
    }

    fn password_phc(&self, contract_number: &str) -> Result<Option<String>, BankError> {
        self.with(|c| c.query_opt("SELECT password_phc FROM customers WHERE contract_number = $1", &[&contract_number])?.map(|r| r.try_get(0)).transpose())
    }

    /// PostgreSQL databases were made after Argon2id: no PBKDF2 passwords.
    fn legacy_password(&self, _: &str) -> Result<Option<LegacyPassword>, BankError> {
        Ok(None)
    }

    fn set_password_phc(&self, contract_number: &str, phc: &str) -> Result<(), BankError> {
        self.with(|c| c.execute("UPDATE customers SET password_phc = $2 WHERE contract_number = $1", &[&contract_number, &phc]).map(drop))
    }

    fn record_password_failure(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(), BankError> {
        let horizon = unix(now) - window.as_secs() as i64;
        self.with(|c| {
            c.execute("DELETE FROM password_failures WHERE at <= $1", &[&horizon])?;
            c.execute("INSERT INTO password_failures (contract_number, at) VALUES ($1, $2)", &[&contract_number, &unix(now)]).map(drop)
        })
    }

    fn password_failures(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(u32, Option<SystemTime>), BankError> {
        let horizon = unix(now) - window.as_secs() as i64;
        let (n, oldest): (i64, Option<i64>) = self.with(|c| {
            let r = c.query_one("SELECT COUNT(*), MIN(at) FROM password_failures WHERE contract_number = $1 AND at > $2", &[&contract_number, &horizon])?;
            Ok((r.try_get(0)?, r.try_get(1)?))
        })?;
        Ok((count(n), oldest.map(from_unix)))
    }

    fn customer_certs(&self, customer_id: i64) -> Result<CustomerCerts, BankError> {
        let (issued, pending, newest): (i64, bool, Option<i64>) = self.with(|c| {
            let r = c.query_one(
                "SELECT issued_count, reissue_pending,
                        (SELECT MAX(not_after) FROM certificates WHERE customer_id = $1 AND status = 'active')
                 FROM customers WHERE id = $1",
                &[&customer_id],
            )?;
            Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
        })?;
        Ok(CustomerCerts { issued_count: count(issued), reissue_pending: pending, newest_not_after: newest.map(from_unix) })
    }

    fn record_issue(&self, customer_id: i64, now: SystemTime, sign: Sign<'_>) -> Result<CertRow, BankError> {
        blocking(|| {
            let mut client = self.pool.client();
            let mut tx = client.transaction()?;
            // FOR UPDATE: a second instance issuing for the same customer waits, then reads the
            // count this one wrote.
            let issued: i64 = tx.query_one("SELECT issued_count FROM customers WHERE id = $1 FOR UPDATE", &[&customer_id])?.try_get(0)?;
            let row = sign(count(issued).saturating_add(1))?;
            tx.execute(
                "INSERT INTO certificates (serial, customer_id, issued_count, not_before, not_after, status, sha256, der, issued_at)
                 VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8)",
                &[
                    &row.serial,
                    &customer_id,
                    &i64::from(row.issued_count),
                    &unix(row.not_before),
                    &unix(row.not_after),
                    &row.sha256,
                    &row.der,
                    &unix(now),
                ],
            )?;
            tx.execute("UPDATE customers SET issued_count = $2, reissue_pending = FALSE WHERE id = $1", &[&customer_id, &i64::from(row.issued_count)])?;
            tx.commit()?;
            Ok(row)
        })
    }

    fn certificate(&self, serial: &str) -> Result<Option<CertRow>, BankError> {
        self.with(|c| c.query_opt(&format!("{CERT_SELECT} WHERE serial = $1"), &[&serial])?.as_ref().map(cert_from_row).transpose())
    }

    fn certificates_of(&self, customer_id: i64) -> Result<Vec<CertRow>, BankError> {
        self.with(|c| c.query(&format!("{CERT_SELECT} WHERE customer_id = $1 ORDER BY issued_count"), &[&customer_id])?.iter().map(cert_from_row).collect())
    }

    fn revoke(&self, serial: &str, reason: &str, now: SystemTime) -> Result<bool, BankError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = $2, revoke_reason = $3 WHERE serial = $1 AND status = 'active'",
                &[&serial, &unix(now), &reason],
            )
        })?;
        Ok(n > 0)
    }

    fn mark_reissue(&self, customer_id: i64, now: SystemTime) -> Result<usize, BankError> {
        let n = self.with(|c| {
            let mut tx = c.transaction()?;
            let n = tx.execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = $2, revoke_reason = 'reissue' WHERE customer_id = $1 AND status = 'active'",
                &[&customer_id, &unix(now)],
            )?;
            tx.execute("UPDATE customers SET reissue_pending = TRUE WHERE id = $1", &[&customer_id])?;
            tx.commit()?;
            Ok(n)
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn revoked_certificates(&self, now: SystemTime) -> Result<Vec<RevokedRow>, BankError> {
        self.with(|c| {
            c.query(
                "SELECT serial, COALESCE(revoked_at, 0) FROM certificates WHERE status = 'revoked' AND not_after >= $1 ORDER BY revoked_at, serial",
                &[&unix(now)],
            )?
            .iter()
            .map(|r| Ok(RevokedRow { serial: r.try_get(0)?, revoked_at: from_unix(r.try_get(1)?) }))
            .collect()
        })
    }

    fn create_session(&self, handle: &str, now: SystemTime, ttl: Duration) -> Result<(), BankError> {
        self.with(|c| {
            c.execute("DELETE FROM sessions WHERE expires_at < $1", &[&unix(now)])?;
            c.execute("INSERT INTO sessions (handle, created_at, expires_at) VALUES ($1, $2, $3)", &[&handle, &unix(now), &unix(now + ttl)]).map(drop)
        })
    }

    fn session(&self, handle: &str, now: SystemTime) -> Result<Option<SessionRow>, BankError> {
        self.with(|c| {
            c.query_opt(&format!("{SESSION_SELECT} WHERE handle = $1 AND expires_at >= $2"), &[&handle, &unix(now)])?
                .as_ref()
                .map(session_from_row)
                .transpose()
        })
    }

    fn start_acquisition(&self, handle: &str, customer_id: i64, until: SystemTime) -> Result<(), BankError> {
        self.with(|c| {
            c.execute(
                "UPDATE sessions SET acquire_customer = $2, acquire_until = $3, acquire_serial = NULL WHERE handle = $1",
                &[&handle, &customer_id, &unix(until)],
            )
            .map(drop)
        })
    }

    fn set_acquired(&self, handle: &str, serial: &str) -> Result<(), BankError> {
        self.with(|c| c.execute("UPDATE sessions SET acquire_serial = $2 WHERE handle = $1", &[&handle, &serial]).map(drop))
    }

    fn set_login(&self, handle: &str, customer_id: i64, serial: &str) -> Result<(), BankError> {
        self.with(|c| c.execute("UPDATE sessions SET login_customer = $2, login_serial = $3 WHERE handle = $1", &[&handle, &customer_id, &serial]).map(drop))
    }

    fn rotate_session(&self, old: &str, new: &str, now: SystemTime, ttl: Duration, keep_login_of: Option<i64>) -> Result<(), BankError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let login = tx.query_opt("DELETE FROM sessions WHERE handle = $1 RETURNING login_customer, login_serial", &[&old])?;
            let (login_customer, login_serial): (Option<i64>, Option<String>) = match login {
                Some(r) => (r.try_get(0)?, r.try_get(1)?),
                None => (None, None),
            };
            let (login_customer, login_serial) = match login_customer {
                Some(cid) if Some(cid) == keep_login_of => (Some(cid), login_serial),
                _ => (None, None),
            };
            tx.execute(
                "INSERT INTO sessions (handle, created_at, expires_at, login_customer, login_serial) VALUES ($1, $2, $3, $4, $5)",
                &[&new, &unix(now), &unix(now + ttl), &login_customer, &login_serial],
            )?;
            tx.commit()
        })
    }

    fn delete_session(&self, handle: &str) -> Result<(), BankError> {
        self.with(|c| c.execute("DELETE FROM sessions WHERE handle = $1", &[&handle]).map(drop))
    }
}

impl NonceStore for PgStore {
    fn insert(&self, record: NonceRecord) -> Result<(), StoreError> {
        let horizon = nonce_horizon(&record);
        let expires = unix(record.expires_at);
        self.with(|c| {
            c.execute("DELETE FROM nonces WHERE expires_at < $1", &[&horizon])?;
            c.execute(
                "INSERT INTO nonces (nonce, session, expires_at, used) VALUES ($1, $2, $3, $4)",
                &[&record.nonce, &record.session, &expires, &record.used],
            )
            .map(drop)
        })?;
        Ok(())
    }

    /// Single use is decided by one statement: under READ COMMITTED a concurrent UPDATE of the
    /// same row waits for the first to commit and then re-checks `NOT used` on the new row
    /// version (PostgreSQL 15 manual §13.2.1), so exactly one redeemer, on any instance, gets
    /// the row back. The SELECT after a miss only tells a replay from an unknown nonce.
    fn take(&self, nonce: &str) -> Result<Option<NonceRecord>, StoreError> {
        let found: Option<(String, i64, bool)> = self.with(|c| {
            if let Some(r) = c.query_opt("UPDATE nonces SET used = TRUE WHERE nonce = $1 AND NOT used RETURNING session, expires_at", &[&nonce])? {
                return Ok(Some((r.try_get(0)?, r.try_get(1)?, false)));
            }
            match c.query_opt("SELECT session, expires_at FROM nonces WHERE nonce = $1", &[&nonce])? {
                Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?, true))),
                None => Ok(None),
            }
        })?;
        Ok(found.map(|(session, expires_at, used)| NonceRecord { nonce: nonce.to_owned(), session, expires_at: from_unix(expires_at), used }))
    }
}

impl CertificateRecords for PgStore {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError> {
        let serial = cert.serial.as_str();
        let row: Option<(String, String)> = self.with(|c| {
            c.query_opt("SELECT status, sha256 FROM certificates WHERE serial = $1", &[&serial])?.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
        })?;
        Ok(cert_status(row, cert))
    }
}
