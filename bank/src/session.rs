//! Session cookies. The cookie holds 32 random bytes; the database only ever sees their SHA-256
//! (the "handle"), so a leaked database does not hand out live sessions. Its name has the
//! `__Host-` prefix (RFC 6265bis §4.1.3.2): browsers take it only with `Secure`, `Path=/` and no
//! `Domain`, so a sibling subdomain cannot plant or overwrite it. Browsers count
//! `http://127.0.0.1` and `http://localhost` as secure contexts (W3C Secure Contexts §3.2), so
//! the demo on loopback gets it too: verified in Chromium 156 and Firefox ESR 153 (README).

use std::time::Duration;

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::BankError;

pub const COOKIE_NAME: &str = "__Host-kagi_sid";
/// How long a session lives (log-on, acquisition or just a nonce).
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// How long after 【取得】 the CSR may be submitted.
pub const ACQUISITION_TTL: Duration = Duration::from_secs(10 * 60);

/// The handle of the session cookie in `headers`, if there is a well-formed one.
pub fn handle_from(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == COOKIE_NAME && v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Some(handle_of(v));
                }
            }
        }
    }
    None
}

pub fn handle_of(cookie_value: &str) -> String {
    hex::encode(Sha256::digest(cookie_value.as_bytes()))
}

/// A fresh cookie value and its handle.
pub fn fresh() -> Result<(String, String), BankError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| BankError::Internal(format!("randomness: {e}")))?;
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let handle = handle_of(&value);
    Ok((value, handle))
}

/// `Set-Cookie` for `value` (empty value = delete): always `Secure; Path=/` and no `Domain`,
/// as the `__Host-` prefix requires.
pub fn set_cookie(headers: &mut HeaderMap, value: &str) {
    let mut c = format!("{COOKIE_NAME}={value}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if value.is_empty() {
        c.push_str("; Max-Age=0");
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(SET_COOKIE, v);
    }
}
