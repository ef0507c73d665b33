//! Certificate acquisition, shared by the pages and the JSON API: 【取得】 checks the contract
//! information and the renewal rule and opens an acquisition on the session; the CSR the token
//! made is then issued for that customer.

use crate::app::Bank;
use crate::clock::unix;
use crate::db::{CertRow, Customer};
use crate::error::BankError;
use crate::renewal::{decide, Eligibility};
use crate::session::ACQUISITION_TTL;

/// Longest contract number / password accepted before any lookup.
const MAX_FIELD: usize = 64;

/// 【取得】: the contract information must match and the customer must be allowed to acquire
/// now. On success the session may submit a CSR for [`ACQUISITION_TTL`].
pub fn start(bank: &Bank, session: &str, contract_number: &str, password: &str) -> Result<(Customer, Eligibility), BankError> {
    let contract_number = contract_number.trim();
    if contract_number.is_empty() || password.is_empty() {
        return Err(BankError::BadRequest("contract number and password are required".into()));
    }
    if contract_number.len() > MAX_FIELD || password.len() > MAX_FIELD {
        return Err(BankError::BadRequest("contract number or password too long".into()));
    }
    let customer = bank.db.check_password(contract_number, password)?.ok_or(BankError::InvalidCredentials)?;
    let now = bank.now();
    let eligibility = decide(bank.db.customer_certs(customer.id)?, now);
    if !eligibility.allowed() {
        return Err(BankError::NotEligible(eligibility));
    }
    bank.db.start_acquisition(session, customer.id, now + ACQUISITION_TTL)?;
    Ok((customer, eligibility))
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
