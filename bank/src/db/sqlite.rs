//! The SQLite [`Store`]: one file in the data directory (`bank.sqlite3`), the embedded default
//! (`scripts/demo.sh` needs nothing else). Every change is committed before the response goes
//! out, so state survives a restart; WAL mode and a busy timeout let the operator CLI write while
//! the server runs. One process at a time serves from it: several instances need PostgreSQL.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use kagi_verify::{CertInfo, CertStatus, CertificateRecords, NonceRecord, NonceStore, StoreError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::clock::{from_unix, unix};
use super::{cert_status, LegacyPassword, nonce_horizon, CertRow, Customer, RevokedRow, SessionRow, Sign, Store};
use crate::error::BankError;
use crate::renewal::CustomerCerts;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id              INTEGER PRIMARY KEY,
    contract_number TEXT NOT NULL UNIQUE,   -- 契約者番号, typed on the acquisition page
    common_name     TEXT NOT NULL UNIQUE,   -- customer id string, the certificate's CN
    name            TEXT NOT NULL,          -- company name shown after log-on
    password_phc    TEXT NOT NULL,          -- Argon2id PHC string of the acquisition password
    issued_count    INTEGER NOT NULL DEFAULT 0,
    reissue_pending INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    serial       TEXT PRIMARY KEY,          -- lowercase hex
    customer_id  INTEGER NOT NULL REFERENCES customers(id),
    issued_count INTEGER NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    sha256       TEXT NOT NULL,
    der          BLOB NOT NULL,
    issued_at    INTEGER NOT NULL,
    revoked_at   INTEGER,
    revoke_reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_customer ON certificates(customer_id);
CREATE TABLE IF NOT EXISTS sessions (
    handle           TEXT PRIMARY KEY,      -- SHA-256 of the cookie value, hex
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    acquire_customer INTEGER REFERENCES customers(id),
    acquire_until    INTEGER,
    acquire_serial   TEXT,
    login_customer   INTEGER REFERENCES customers(id),
    login_serial     TEXT
);
CREATE TABLE IF NOT EXISTS password_failures (
    contract_number TEXT NOT NULL,          -- as typed (trimmed): unknown numbers count too
    at              INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS password_failures_contract ON password_failures(contract_number, at);
CREATE TABLE IF NOT EXISTS nonces (
    nonce      TEXT PRIMARY KEY,
    session    TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
";

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// A database made before Argon2id: `customers` still has the NOT NULL PBKDF2 columns.
    legacy_password_columns: bool,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, BankError> {
        let conn = Connection::open(path)?;
        // The operator CLI writes while the server runs: wait for the other writer.
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        crate::densai::store::init(&conn)?;
        let legacy_password_columns = migrate(&conn)?;
        Ok(SqliteStore { conn: Mutex::new(conn), legacy_password_columns })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    // ---- customers ----

    fn insert_customer(&self, contract_number: &str, common_name: &str, name: &str, phc: &str, now: SystemTime) -> Result<i64, BankError> {
        let conn = self.conn();
        let sql = if self.legacy_password_columns {
            "INSERT INTO customers (contract_number, common_name, name, password_phc, created_at, password_salt, password_hash) VALUES (?1, ?2, ?3, ?4, ?5, x'', x'')"
        } else {
            "INSERT INTO customers (contract_number, common_name, name, password_phc, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"
        };
        conn.execute(sql, params![contract_number, common_name, name, phc, unix(now)])?;
        Ok(conn.last_insert_rowid())
    }

    fn customer_count(&self) -> Result<i64, BankError> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM customers", [], |r| r.get(0))?)
    }

    fn customers(&self) -> Result<Vec<Customer>, BankError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!("{CUSTOMER_SELECT} ORDER BY id"))?;
        let rows = st.query_map([], customer_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn customer(&self, id: i64) -> Result<Option<Customer>, BankError> {
        Ok(self.conn().query_row(&format!("{CUSTOMER_SELECT} WHERE id = ?1"), [id], customer_from_row).optional()?)
    }

    fn customer_by_contract(&self, contract_number: &str) -> Result<Option<Customer>, BankError> {
        Ok(self
            .conn()
            .query_row(&format!("{CUSTOMER_SELECT} WHERE contract_number = ?1"), [contract_number], customer_from_row)
            .optional()?)
    }

    fn legacy_password(&self, contract_number: &str) -> Result<Option<LegacyPassword>, BankError> {
        if !self.legacy_password_columns {
            return Ok(None);
        }
        Ok(self
            .conn()
            .query_row(
                "SELECT password_salt, password_hash FROM customers WHERE contract_number = ?1",
                [contract_number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn set_password_phc(&self, contract_number: &str, phc: &str) -> Result<(), BankError> {
        let sql = if self.legacy_password_columns {
            "UPDATE customers SET password_phc = ?2, password_salt = x'', password_hash = x'' WHERE contract_number = ?1"
        } else {
            "UPDATE customers SET password_phc = ?2 WHERE contract_number = ?1"
        };
        self.conn().execute(sql, params![contract_number, phc])?;
        Ok(())
    }

    fn password_phc(&self, contract_number: &str) -> Result<Option<String>, BankError> {
        Ok(self
            .conn()
            .query_row("SELECT password_phc FROM customers WHERE contract_number = ?1", [contract_number], |r| r.get(0))
            .optional()?)
    }

    fn record_password_failure(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(), BankError> {
        let conn = self.conn();
        conn.execute("DELETE FROM password_failures WHERE at <= ?1", [unix(now) - window.as_secs() as i64])?;
        conn.execute("INSERT INTO password_failures (contract_number, at) VALUES (?1, ?2)", params![contract_number, unix(now)])?;
        Ok(())
    }

    fn password_failures(&self, contract_number: &str, now: SystemTime, window: Duration) -> Result<(u32, Option<SystemTime>), BankError> {
        let (n, oldest): (u32, Option<i64>) = self.conn().query_row(
            "SELECT COUNT(*), MIN(at) FROM password_failures WHERE contract_number = ?1 AND at > ?2",
            params![contract_number, unix(now) - window.as_secs() as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((n, oldest.map(from_unix)))
    }

    fn customer_certs(&self, customer_id: i64) -> Result<CustomerCerts, BankError> {
        let conn = self.conn();
        let (issued_count, pending): (u32, bool) =
            conn.query_row("SELECT issued_count, reissue_pending FROM customers WHERE id = ?1", [customer_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let newest: Option<i64> = conn.query_row(
            "SELECT MAX(not_after) FROM certificates WHERE customer_id = ?1 AND status = 'active'",
            [customer_id],
            |r| r.get(0),
        )?;
        Ok(CustomerCerts { issued_count, reissue_pending: pending, newest_not_after: newest.map(from_unix) })
    }

    fn record_issue(&self, customer_id: i64, now: SystemTime, sign: Sign<'_>) -> Result<CertRow, BankError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let count: u32 = tx.query_row("SELECT issued_count FROM customers WHERE id = ?1", [customer_id], |r| r.get(0))?;
        let row = sign(count + 1)?;
        tx.execute(
            "INSERT INTO certificates (serial, customer_id, issued_count, not_before, not_after, status, sha256, der, issued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?8)",
            params![row.serial, customer_id, row.issued_count, unix(row.not_before), unix(row.not_after), row.sha256, row.der, unix(now)],
        )?;
        tx.execute("UPDATE customers SET issued_count = ?2, reissue_pending = 0 WHERE id = ?1", params![customer_id, row.issued_count])?;
        tx.commit()?;
        Ok(row)
    }

    fn certificate(&self, serial: &str) -> Result<Option<CertRow>, BankError> {
        Ok(self.conn().query_row(&format!("{CERT_SELECT} WHERE serial = ?1"), [serial], cert_from_row).optional()?)
    }

    fn certificates_of(&self, customer_id: i64) -> Result<Vec<CertRow>, BankError> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!("{CERT_SELECT} WHERE customer_id = ?1 ORDER BY issued_count"))?;
        let rows = st.query_map([customer_id], cert_from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn revoke(&self, serial: &str, reason: &str, now: SystemTime) -> Result<bool, BankError> {
        let n = self.conn().execute(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?2, revoke_reason = ?3 WHERE serial = ?1 AND status = 'active'",
            params![serial, unix(now), reason],
        )?;
        Ok(n > 0)
    }

    fn mark_reissue(&self, customer_id: i64, now: SystemTime) -> Result<usize, BankError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE certificates SET status = 'revoked', revoked_at = ?2, revoke_reason = 'reissue' WHERE customer_id = ?1 AND status = 'active'",
            params![customer_id, unix(now)],
        )?;
        tx.execute("UPDATE customers SET reissue_pending = 1 WHERE id = ?1", [customer_id])?;
        tx.commit()?;
        Ok(n)
    }

    fn revoked_certificates(&self, now: SystemTime) -> Result<Vec<RevokedRow>, BankError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT serial, COALESCE(revoked_at, 0) FROM certificates WHERE status = 'revoked' AND not_after >= ?1 ORDER BY revoked_at, serial",
        )?;
        let rows = st
            .query_map([unix(now)], |r| Ok(RevokedRow { serial: r.get(0)?, revoked_at: from_unix(r.get(1)?) }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    // ---- sessions ----

    fn create_session(&self, handle: &str, now: SystemTime, ttl: Duration) -> Result<(), BankError> {
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [unix(now)])?;
        conn.execute(
            "INSERT INTO sessions (handle, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![handle, unix(now), unix(now + ttl)],
        )?;
        Ok(())
    }

    fn session(&self, handle: &str, now: SystemTime) -> Result<Option<SessionRow>, BankError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT handle, expires_at, acquire_customer, acquire_until, acquire_serial, login_customer, login_serial
                 FROM sessions WHERE handle = ?1 AND expires_at >= ?2",
                params![handle, unix(now)],
                |r| {
                    Ok(SessionRow {
                        handle: r.get(0)?,
                        expires_at: r.get(1)?,
                        acquire_customer: r.get(2)?,
                        acquire_until: r.get(3)?,
                        acquire_serial: r.get(4)?,
                        login_customer: r.get(5)?,
                        login_serial: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    fn start_acquisition(&self, handle: &str, customer_id: i64, until: SystemTime) -> Result<(), BankError> {
        self.conn().execute(
            "UPDATE sessions SET acquire_customer = ?2, acquire_until = ?3, acquire_serial = NULL WHERE handle = ?1",
            params![handle, customer_id, unix(until)],
        )?;
        Ok(())
    }

    fn set_acquired(&self, handle: &str, serial: &str) -> Result<(), BankError> {
        self.conn().execute("UPDATE sessions SET acquire_serial = ?2 WHERE handle = ?1", params![handle, serial])?;
        Ok(())
    }

    fn set_login(&self, handle: &str, customer_id: i64, serial: &str) -> Result<(), BankError> {
        self.conn().execute(
            "UPDATE sessions SET login_customer = ?2, login_serial = ?3 WHERE handle = ?1",
            params![handle, customer_id, serial],
        )?;
        Ok(())
    }

    fn rotate_session(&self, old: &str, new: &str, now: SystemTime, ttl: Duration, keep_login_of: Option<i64>) -> Result<(), BankError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let login: Option<(Option<i64>, Option<String>)> = tx
            .query_row("SELECT login_customer, login_serial FROM sessions WHERE handle = ?1", [old], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        tx.execute("DELETE FROM sessions WHERE handle = ?1", [old])?;
        let (login_customer, login_serial) = match login {
            Some((Some(c), serial)) if Some(c) == keep_login_of => (Some(c), serial),
            _ => (None, None),
        };
        tx.execute(
            "INSERT INTO sessions (handle, created_at, expires_at, login_customer, login_serial) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![new, unix(now), unix(now + ttl), login_customer, login_serial],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delete_session(&self, handle: &str) -> Result<(), BankError> {
        self.conn().execute("DELETE FROM sessions WHERE handle = ?1", [handle])?;
        Ok(())
    }
}

const CUSTOMER_SELECT: &str = "SELECT id, contract_number, common_name, name, issued_count, reissue_pending FROM customers";
const CERT_SELECT: &str = "SELECT serial, customer_id, issued_count, not_before, not_after, status, sha256, der FROM certificates";

fn customer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: r.get(0)?,
        contract_number: r.get(1)?,
        common_name: r.get(2)?,
        name: r.get(3)?,
        issued_count: r.get(4)?,
        reissue_pending: r.get(5)?,
    })
}

fn cert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertRow> {
    let status: String = r.get(5)?;
    Ok(CertRow {
        serial: r.get(0)?,
        customer_id: r.get(1)?,
        issued_count: r.get(2)?,
        not_before: from_unix(r.get(3)?),
        not_after: from_unix(r.get(4)?),
        revoked: status != "active",
        sha256: r.get(6)?,
        der: r.get(7)?,
    })
}

/// Brings a database made by an older bank up to the current schema: customers whose password
/// was PBKDF2-hashed get an empty `password_phc` (checked the old way once, see
/// `Db::check_password`). Returns whether the old PBKDF2 columns are there.
fn migrate(conn: &Connection) -> Result<bool, BankError> {
    let column = |name: &str| -> Result<bool, BankError> {
        Ok(conn.query_row("SELECT COUNT(*) FROM pragma_table_info('customers') WHERE name = ?1", [name], |r| r.get(0))?)
    };
    if !column("password_phc")? {
        conn.execute_batch("ALTER TABLE customers ADD COLUMN password_phc TEXT NOT NULL DEFAULT ''")?;
    }
    column("password_salt")
}

/// Nonces live in the same database, so a restart does not invalidate a log-on in progress.
impl NonceStore for SqliteStore {
    fn insert(&self, record: NonceRecord) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute("DELETE FROM nonces WHERE expires_at < ?1", [nonce_horizon(&record)])?;
        conn.execute(
            "INSERT INTO nonces (nonce, session, expires_at, used) VALUES (?1, ?2, ?3, ?4)",
            params![record.nonce, record.session, unix(record.expires_at), record.used],
        )?;
        Ok(())
    }

    /// Single use is decided by one statement: the UPDATE matches only an unused nonce, so of
    /// concurrent takes (threads or processes) exactly one gets the row back. The SELECT after a
    /// miss only tells a replay from an unknown nonce.
    fn take(&self, nonce: &str) -> Result<Option<NonceRecord>, StoreError> {
        let conn = self.conn();
        let won: Option<(String, i64)> = conn
            .query_row("UPDATE nonces SET used = 1 WHERE nonce = ?1 AND used = 0 RETURNING session, expires_at", [nonce], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (row, used) = match won {
            Some(row) => (Some(row), false),
            None => {
                let seen = conn
                    .query_row("SELECT session, expires_at FROM nonces WHERE nonce = ?1", [nonce], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                (seen, true)
            }
        };
        Ok(row.map(|(session, expires_at)| NonceRecord { nonce: nonce.to_owned(), session, expires_at: from_unix(expires_at), used }))
    }
}

/// Revocation: the bank's own table of what its CA issued.
impl CertificateRecords for SqliteStore {
    fn status(&self, cert: &CertInfo) -> Result<CertStatus, StoreError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row("SELECT status, sha256 FROM certificates WHERE serial = ?1", [&cert.serial], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(cert_status(row, cert))
    }
}
