//! The bank's production posture, without a token (software CSRs): anonymous renewal refused,
//! the password lock-out (5 wrong per contract per hour, then 429 even for the right one), the
//! session id rotated at acquisition start, `__Host-` cookie attributes, Argon2id password
//! storage (and the upgrade of an older PBKDF2 database), and 500s without internal text.
//! Renewal from a real certificate log-on is in `token_flows.rs` (needs the token).

mod common;

use std::time::Duration;

use common::*;
use kagi_bank::acquisition::{FAILURE_WINDOW, MAX_PASSWORD_FAILURES};
use serde_json::json;

/// The attributes of a `Set-Cookie` header, lower-cased, after the `name=value` pair.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect()
}

#[test]
fn anonymous_renewal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    // A certificate in its renewal window, so only the missing log-on can be the reason.
    let mut c = bank.client();
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let r = c.submit_csr(&software_csr());
    assert_eq!(r.status, 201, "{}", r.body);
    let not_after = kagi_verify::CertInfo::parse(&unb64(r.json()["certificate"].as_str().unwrap())).unwrap().not_after;
    bank.clock.set(at(not_after, -10 * DAY as i64));
    assert_eq!(bank.client().acquire_start(CONTRACT, PASSWORD).json()["eligibility"], "RENEWAL", "the window is open");

    // No cookie at all.
    let r = bank.client().acquire_renew();
    assert_eq!((r.status, r.code().as_str()), (401, "NOT_LOGGED_ON"));
    // A session that only fetched a nonce.
    let mut anon = bank.client();
    anon.post_json("/api/nonce", &json!({}));
    assert!(anon.cookie.is_some());
    let r = anon.acquire_renew();
    assert_eq!((r.status, r.code().as_str()), (401, "NOT_LOGGED_ON"));
    // A session that passed 【取得】 with the password is still not a certificate log-on.
    let mut pw = bank.client();
    assert_eq!(pw.acquire_start(CONTRACT, PASSWORD).status, 200);
    let r = pw.acquire_renew();
    assert_eq!((r.status, r.code().as_str()), (401, "NOT_LOGGED_ON"));
    // A forged cookie.
    let mut forged = bank.client();
    forged.cookie = Some(format!("{}={}", kagi_bank::session::COOKIE_NAME, "A".repeat(43)));
    let r = forged.acquire_renew();
    assert_eq!((r.status, r.code().as_str()), (401, "NOT_LOGGED_ON"));
    // The page's button without a log-on goes back to the log-on page, no save step.
    let r = bank.client().post_form("/acquire/renew", "");
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/?reason=session"));
    // None of these opened an acquisition: no CSR is taken on them.
    let r = anon.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (401, "NO_ACQUISITION"));
    assert_eq!(bank.bank.db.certificates_of(1).unwrap().len(), 1, "nothing issued");
}

#[test]
fn sixth_password_attempt_is_refused_even_when_right() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    bank.bank.db.add_customer("SH001002", "SH001 SH001002 1898", "かぎ物産株式会社", "other-pass-5678", bank.clock_now()).unwrap();
    let wrong = "kagi-demo-WRONG";
    assert_eq!(MAX_PASSWORD_FAILURES, 5);
    for i in 1..=5 {
        let r = bank.client().acquire_start(CONTRACT, wrong);
        assert_eq!((r.status, r.code().as_str()), (401, "INVALID_CREDENTIALS"), "attempt {i}");
        bank.clock.advance(Duration::from_secs(60));
    }
    // The sixth, with the right password: 429, in Japanese, with Retry-After.
    let mut c = bank.client();
    let r = c.acquire_start(CONTRACT, PASSWORD);
    assert_eq!((r.status, r.code().as_str()), (429, "TOO_MANY_ATTEMPTS"), "{}", r.body);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("電子証明書取得パスワード") && message.contains("当金庫"), "{message}");
    let retry: u64 = r.retry_after.as_deref().expect("Retry-After").parse().unwrap();
    assert!(retry > 0 && retry <= FAILURE_WINDOW.as_secs() - 5 * 60 + 1, "retry after {retry}");
    assert!(c.cookie.is_none(), "no session for a refused attempt");
    // The form says it on the page too (Japanese first, English second).
    let page = bank.client().post_form("/acquire", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert_eq!(page.status, 429);
    assert!(page.body.contains(r#"data-code="TOO_MANY_ATTEMPTS""#), "{}", page.body);
    assert!(page.body.contains("一時的に停止しています"), "{}", page.body);
    assert!(!page.body.contains("PIN"));
    let page = bank.client().post_form("/acquire?lang=en", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert!(page.body.contains("wrong too many times"), "{}", page.body);
    // Another contract number is not locked.
    assert_eq!(bank.client().acquire_start("SH001002", "other-pass-5678").status, 200);

    // The log: each wrong password and the lock-out, with code and contract number, no password.
    let log = bank.log.lines();
    let wrongs = log.iter().filter(|l| l.contains("INVALID_CREDENTIALS") && l.contains(CONTRACT)).count();
    assert_eq!(wrongs, 5, "{log:#?}");
    assert!(log.iter().any(|l| l.contains("TOO_MANY_ATTEMPTS") && l.contains(CONTRACT)), "{log:#?}");
    for l in &log {
        assert!(!l.contains(wrong) && !l.contains(PASSWORD), "a password in the log: {l}");
    }

    // An hour after the first failure it is open again, for the right password.
    bank.clock.advance(FAILURE_WINDOW - Duration::from_secs(5 * 60));
    let r = bank.client().acquire_start(CONTRACT, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn acquisition_start_rotates_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    c.post_json("/api/nonce", &json!({}));
    let before = c.cookie.clone().expect("a session from the nonce");
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    let after = c.cookie.clone().expect("a session after 【取得】");
    assert_ne!(before, after, "【取得】 gives the session a new id");
    // The old id is dead: it cannot submit the CSR of the acquisition opened on the new one.
    let mut planted = bank.client();
    planted.cookie = Some(before);
    let r = planted.submit_csr(&software_csr());
    assert_eq!((r.status, r.code().as_str()), (401, "NO_SESSION"), "{}", r.body);
    let r = c.submit_csr(&software_csr());
    assert_eq!(r.status, 201, "{}", r.body);

    // The form (【取得】 on the page) rotates too.
    let mut f = bank.client();
    f.get("/acquire");
    f.post_json("/api/nonce", &json!({}));
    let before = f.cookie.clone().unwrap();
    bank.bank.db.mark_reissue(1, bank.clock_now()).unwrap();
    let page = f.post_form("/acquire", &format!("contract_number={CONTRACT}&password={PASSWORD}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"id="save-usb-button""#));
    assert_ne!(f.cookie.clone().unwrap(), before);
}

#[test]
fn session_cookie_has_host_prefix_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    c.post_json("/api/nonce", &json!({}));
    assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
    // The bank reads only the prefixed name: the same value under the old unprefixed name is no
    // session, under the prefixed one it is.
    let value = c.cookie.clone().unwrap().split_once('=').unwrap().1.to_owned();
    let mut old = bank.client();
    old.cookie = Some(format!("kagi_sid={value}"));
    assert_eq!(old.get("/api/certificate").code(), "NO_SESSION");
    let mut same = bank.client();
    same.cookie = Some(format!("__Host-kagi_sid={value}"));
    assert_eq!(same.get("/api/certificate").code(), "NOT_FOUND", "a live session without a certificate yet");
    c.post_json("/api/logoff", &json!({}));
    c.post_form("/logoff", "");
    assert_eq!(c.set_cookies.len(), 4, "{:?}", c.set_cookies);
    for sc in &c.set_cookies {
        let name = sc.split('=').next().unwrap();
        assert_eq!(name, "__Host-kagi_sid", "{sc}");
        let a = attributes(sc);
        for want in ["secure", "path=/", "httponly", "samesite=strict"] {
            assert!(a.iter().any(|x| x == want), "{sc} lacks {want}");
        }
        assert!(!a.iter().any(|x| x.starts_with("domain")), "{sc} has a Domain");
    }
}

#[test]
fn passwords_are_stored_as_argon2id() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let phc = bank.bank.db.password_phc(CONTRACT).unwrap().unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    let parts: Vec<&str> = phc.split('$').collect();
    assert_eq!(parts.len(), 6, "{phc}");
    assert_eq!(parts[4].len(), 22, "16-byte salt, base64 without padding");
    assert_eq!(parts[5].len(), 43, "32-byte hash, base64 without padding");
    // Two customers with the same password get different hashes (random salts).
    bank.bank.db.add_customer("SH001003", "SH001 SH001003 1898", "同じパスワード商会", PASSWORD, bank.clock_now()).unwrap();
    assert_ne!(bank.bank.db.password_phc("SH001003").unwrap().unwrap(), phc);
    // The password itself is nowhere in the database file.
    drop(bank);
    let mut raw = std::fs::read(dir.path().join("bank.sqlite3")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("bank.sqlite3-wal")) {
        raw.extend(wal);
    }
    assert!(!raw.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()));
}

/// A database from before Argon2id (PBKDF2 columns) opens; its password still works once and is
/// then stored as Argon2id; new customers can be added to it.
#[test]
fn older_pbkdf2_database_is_upgraded_on_use() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("bank.sqlite3")).unwrap();
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, contract_number TEXT NOT NULL UNIQUE, common_name TEXT NOT NULL UNIQUE,
             name TEXT NOT NULL, password_salt BLOB NOT NULL, password_hash BLOB NOT NULL, issued_count INTEGER NOT NULL DEFAULT 0,
             reissue_pending INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);",
        )
        .unwrap();
        let salt = [7u8; 16];
        let mut hash = [0u8; 32];
        let iterations = std::num::NonZeroU32::new(20_000).unwrap();
        ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, iterations, &salt, PASSWORD.as_bytes(), &mut hash);
        conn.execute(
            "INSERT INTO customers (contract_number, common_name, name, password_salt, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            rusqlite::params![CONTRACT, CN, "かぎ商事株式会社", &salt[..], &hash[..]],
        )
        .unwrap();
    }
    let bank = TestBank::start(dir.path(), manual_clock());
    assert_eq!(bank.bank.db.password_phc(CONTRACT).unwrap().as_deref(), Some(""), "not upgraded before use");
    assert_eq!(bank.client().acquire_start(CONTRACT, "wrong").code(), "INVALID_CREDENTIALS");
    assert_eq!(bank.bank.db.password_phc(CONTRACT).unwrap().as_deref(), Some(""), "a wrong password upgrades nothing");
    assert_eq!(bank.client().acquire_start(CONTRACT, PASSWORD).status, 200);
    let phc = bank.bank.db.password_phc(CONTRACT).unwrap().unwrap();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert_eq!(bank.client().acquire_start(CONTRACT, PASSWORD).status, 200, "the Argon2id hash verifies");
    bank.bank.db.add_customer("SH001002", "SH001 SH001002 1898", "かぎ物産株式会社", "x-5678", bank.clock_now()).unwrap();
    assert_eq!(bank.client().acquire_start("SH001002", "x-5678").status, 200);
}

#[test]
fn internal_errors_show_no_internal_text() {
    let dir = tempfile::tempdir().unwrap();
    let bank = TestBank::start(dir.path(), manual_clock());
    let mut c = bank.client();
    c.post_json("/api/nonce", &json!({}));
    // Break the database under the running bank: every session lookup now fails in SQLite.
    let conn = rusqlite::Connection::open(dir.path().join("bank.sqlite3")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute_batch("ALTER TABLE sessions RENAME TO sessions_gone").unwrap();
    for r in [c.post_json("/api/nonce", &json!({})), c.get("/home"), c.get("/api/certificate"), c.acquire_renew()] {
        assert_eq!(r.status, 500, "{}", r.body);
        assert_eq!(r.code(), "INTERNAL");
        assert_eq!(r.json()["error"]["message"], kagi_bank::error::INTERNAL_MESSAGE);
        for leak in ["sessions", "no such table", "SQL", "sqlite", "database", "rusqlite", dir.path().to_str().unwrap()] {
            assert!(!r.body.contains(leak), "500 body shows {leak:?}: {}", r.body);
        }
    }
}
