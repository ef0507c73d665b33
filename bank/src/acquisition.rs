//! Certificate acquisition, shared by the pages and the JSON API. Two ways to open one:
//!
//! - [`start`], 【取得】 with the contract number and password: first issue, reissue, and a
//!   renewal when the certificate can no longer log on (expired, still inside the window).
//! - [`renew`], one click from a session logged on with the customer's certificate inside its
//!   renewal window: no password, the certificate log-on is the proof.
//!
//! Either checks the renewal rule, gives the session a new id (the cookie changes, so an id
//! planted or seen before is worth nothing for the issuance) and opens the acquisition on it; the
//! CSR the token made is then issued for that customer ([`issue`]).

use std::time::Duration;

use axum::http::HeaderMap;
use kagi_verify::VerifyError;

use crate::app::Bank;
use crate::clock::unix;
use crate::db::{CertRow, Customer};
use crate::error::BankError;
use crate::renewal::{decide, Eligibility};
use crate::session::{self, ACQUISITION_TTL, SESSION_TTL};

/// Longest contract number / password accepted before any lookup.
const MAX_FIELD: usize = 64;

/// Wrong passwords allowed per contract number within [`FAILURE_WINDOW`]; the next attempt,
/// right or wrong, is refused with 429 until the oldest failure leaves the window.
pub const MAX_PASSWORD_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(3600);

/// 【取得】: the contract information must match and the customer must be allowed to acquire
/// now. On success the session (a new one: `out` gets its cookie) may submit a CSR for
/// [`ACQUISITION_TTL`].
pub fn start(bank: &Bank, headers: &HeaderMap, out: &mut HeaderMap, contract_number: &str, password: &str) -> Result<(Customer, Eligibility), BankError> {
    let contract_number = contract_number.trim();
    if contract_number.is_empty() || password.is_empty() {
        return Err(BankError::BadRequest("contract number and password are required".into()));
    }
    if contract_number.len() > MAX_FIELD || password.len() > MAX_FIELD {
        return Err(BankError::BadRequest("contract number or password too long".into()));
    }
    let now = bank.now();
    // The lock-out comes before the password check: once it holds, even the right password is
    // refused, so guessing gains nothing from the answers.
    let (failures, oldest) = bank.db.password_failures(contract_number, now, FAILURE_WINDOW)?;
    if failures >= MAX_PASSWORD_FAILURES {
        let until = oldest.map(|t| t + FAILURE_WINDOW).unwrap_or(now + FAILURE_WINDOW);
        let retry_after_secs = until.duration_since(now).map(|d| d.as_secs()).unwrap_or(0).max(1);
        bank.log(&format!("acquisition refused: TOO_MANY_ATTEMPTS contract={contract_number:?} failures={failures} retry_after={retry_after_secs}s"));
        return Err(BankError::TooManyAttempts { retry_after_secs });
    }
    let Some(customer) = bank.db.check_password(contract_number, password)? else {
        bank.db.record_password_failure(contract_number, now, FAILURE_WINDOW)?;
        bank.log(&format!("acquisition refused: INVALID_CREDENTIALS contract={contract_number:?} failures={}", failures + 1));
        return Err(BankError::InvalidCredentials);
    };
    let eligibility = decide(bank.db.customer_certs(customer.id)?, now);
    if !eligibility.allowed() {
        return Err(BankError::NotEligible(eligibility));
    }
    open(bank, headers, out, &customer)?;
    Ok((customer, eligibility))
}

/// One-click renewal: the session must be logged on with a certificate that is still in force,
/// and the customer's newest certificate must be inside its renewal window. No password.
/// Anonymous sessions get [`BankError::NotLoggedOn`].
pub fn renew(bank: &Bank, headers: &HeaderMap, out: &mut HeaderMap) -> Result<(Customer, Eligibility), BankError> {
    let now = bank.now();
    let s = match session::handle_from(headers) {
        Some(h) => bank.db.session(&h, now)?,
        None => None,
    };
    let Some((customer_id, serial)) = s.and_then(|s| Some((s.login_customer?, s.login_serial?))) else {
        return Err(BankError::NotLoggedOn);
    };
    // Revoked since the log-on (an operator's reissue): the log-on proves nothing any more.
    let cert = bank.db.certificate(&serial)?.ok_or(BankError::NotLoggedOn)?;
    if cert.revoked || cert.customer_id != customer_id {
        return Err(BankError::Login(VerifyError::Revoked));
    }
    let customer = bank.db.customer(customer_id)?.ok_or(BankError::NotLoggedOn)?;
    let eligibility = decide(bank.db.customer_certs(customer_id)?, now);
    if !matches!(eligibility, Eligibility::Renewal { .. }) {
        return Err(BankError::NotEligible(eligibility));
    }
    open(bank, headers, out, &customer)?;
    bank.log(&format!("renewal opened from certificate log-on: contract={:?} serial={serial}", customer.contract_number));
    Ok((customer, eligibility))
}

/// Rotates the session id and opens the acquisition on the new one. A log-on of the same
/// customer carries over (the renewal comes from /home); another customer's log-on ends here.
fn open(bank: &Bank, headers: &HeaderMap, out: &mut HeaderMap, customer: &Customer) -> Result<(), BankError> {
    let now = bank.now();
    let (value, handle) = session::fresh()?;
    let old = session::handle_from(headers);
    match old {
        Some(old) => bank.db.rotate_session(&old, &handle, now, SESSION_TTL, Some(customer.id))?,
        None => bank.db.create_session(&handle, now, SESSION_TTL)?,
    }
    bank.db.start_acquisition(&handle, customer.id, now + ACQUISITION_TTL)?;
    session::set_cookie(out, &value);
    Ok(())
}

/// Issues a certificate for the CSR, for the customer whose acquisition this session opened.
/// A second CSR in the same acquisition (the first save failed: token pulled, PIN window
/// closed...) replaces the certificate issued for the first, which never reached the token.
pub fn issue(bank: &Bank, session: &str, csr_der: &[u8]) -> Result<CertRow, BankError> {
    let now = bank.now();
    let s = bank.db.session(session, now)?.ok_or(BankError::NoSession)?;
    let (Some(customer_id), Some(until)) = (s.acquire_customer, s.acquire_until) else {
        return Err(BankError::NoAcquisition);
    };
    if unix(now) > until {
        return Err(BankError::AcquisitionExpired);
    }
    let customer = bank.db.customer(customer_id)?.ok_or(BankError::NoAcquisition)?;
    if let Some(previous) = &s.acquire_serial {
        bank.db.revoke(previous, "superseded in the same acquisition", now)?;
    } else {
        // The rule again: an operator may have acted since 【取得】.
        let eligibility = decide(bank.db.customer_certs(customer_id)?, now);
        if !eligibility.allowed() {
            return Err(BankError::NotEligible(eligibility));
        }
    }
    let row = bank.db.record_issue(customer_id, now, |count| bank.ca.issue(csr_der, &customer.common_name, count, customer_id, now))?;
    bank.db.set_acquired(session, &row.serial)?;
    Ok(row)
}
