//! The demo bank's densai screens (issue 16): a logged-on customer registers a 譲渡記録請求
//! (counterparty, amount, due date), which waits for approval with a version; the approval page
//! fetches a challenge bound to (session, request id, version, purpose = transaction) and the
//! bank's own rendering of the request as the `kagi-tx:1` `tx`, has the customer confirm it in
//! Kagi's window (`kagi.confirmTransaction`), and posts the result, which kagi-verify checks
//! against the bank's row before the request is approved.
//!
//! - this file: building a request from the form and the customer (the demo's payer account);
//! - [`api`]: the JSON endpoints; [`store`]: the tables and kagi-verify's store traits.
//!
//! Executing an approved request (the 電子記録 itself) is outside the demo.

pub mod api;
pub mod store;
pub mod store_pg;

use std::time::SystemTime;

use kagi_verify::Transaction;

use crate::db::{Customer, Db};
use crate::error::BankError;

/// The form's fields: the counterparty, the amount and the due date. Everything else the bank
/// fills in.
pub const FORM_FIELDS: [&str; 10] = [
    "counterparty.userNo",
    "counterparty.name",
    "counterparty.bankCode",
    "counterparty.bankName",
    "counterparty.branchCode",
    "counterparty.branchName",
    "counterparty.accountType",
    "counterparty.accountNo",
    "amountYen",
    "dueDate",
];

/// The demo bank's own code and name (the payer's account is at this bank).
pub const BANK_CODE: &str = "0999";
pub const BANK_NAME: &str = "かぎ信用金庫";

/// `YYYY-MM-DD` and `YYYYMMDD` of `t` in Japan (UTC+9, the bank's business day).
fn jst_day(t: SystemTime) -> (String, String) {
    let secs = crate::clock::unix(t) + 9 * 3600;
    let d = time::OffsetDateTime::from_unix_timestamp(secs).map(|d| d.date()).unwrap_or(time::Date::MIN);
    let (y, m, day) = (d.year(), u8::from(d.month()), d.day());
    (format!("{y:04}-{m:02}-{day:02}"), format!("{y:04}{m:02}{day:02}"))
}

/// The demo customer's 利用者番号: `1` and the contract number's digits, 9 digits.
fn user_no(customer: &Customer) -> String {
    let digits: String = customer.contract_number.chars().filter(char::is_ascii_digit).collect();
    format!("1{digits:0>8}").chars().take(9).collect()
}

/// A new 譲渡記録請求 of `customer` from the form's `(name, value)` pairs (exactly
/// [`FORM_FIELDS`]): checked with the same rules Kagi's window applies, so the bank never
/// stores a request the window would refuse. Stored as version 1, awaiting approval.
pub fn register(db: &Db, customer: &Customer, form: &[(String, String)], now: SystemTime) -> Result<Transaction, BankError> {
    if let Some((k, _)) = form.iter().find(|(k, _)| !FORM_FIELDS.contains(&k.as_str())) {
        return Err(BankError::BadRequest(format!("unknown field {}", if k.len() <= 32 { k.as_str() } else { "(long name)" })));
    }
    let (record_date, day) = jst_day(now);
    let n = db.densai_count()? + 1;
    let request_id = format!("TR-{day}-{n:04}");
    let record_number = format!("{day}KG{n:010}");
    let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let counterparty_no = get("counterparty.userNo").unwrap_or_default();
    let known = db.densai_known_counterparty(customer.id, counterparty_no)?;
    let payer_no = user_no(customer);
    let mut pairs: Vec<(&str, &str)> = vec![
        ("kind", "densai.transfer/1"),
        ("requestId", &request_id),
        ("requestVersion", "1"),
        ("recordNumber", &record_number),
        ("recordDate", &record_date),
        ("payer.userNo", &payer_no),
        ("payer.name", &customer.name),
        ("payer.bankCode", BANK_CODE),
        ("payer.bankName", BANK_NAME),
        ("payer.branchCode", "001"),
        ("payer.branchName", "本店営業部"),
        ("payer.accountType", "2"),
        ("payer.accountNo", "1234567"),
        ("transferRestricted", "0"),
        ("guarantee", "1"),
        ("newCounterparty", if known { "0" } else { "1" }),
    ];
    pairs.extend(form.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let tx = Transaction::from_pairs(pairs).map_err(BankError::TxInvalid)?;
    db.insert_densai(customer.id, &tx, now)?;
    Ok(tx)
}

/// The request with one field changed, as the next version (a clerk's or the customer's edit;
/// a challenge issued before it no longer fits: `TX_CHANGED`).
pub fn edit(db: &Db, id: &str, field: &str, value: &str, now: SystemTime) -> Result<Transaction, BankError> {
    let row = db.densai_request(id)?.ok_or(BankError::NotFound)?;
    let version = (row.version + 1).to_string();
    let pairs = row.tx.fields().map(|(n, v)| match n {
        "requestVersion" => (n, version.as_str()),
        n if n == field => (n, value),
        n => (n, v),
    });
    let tx = Transaction::from_pairs(pairs.collect::<Vec<_>>()).map_err(BankError::TxInvalid)?;
    if !db.update_densai(&tx, now)? {
        return Err(BankError::NotFound);
    }
    Ok(tx)
}
