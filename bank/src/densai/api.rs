//! The densai JSON endpoints for the page scripts (and integration tests). Every one needs a
//! session logged on with the customer's certificate; bodies are strict like the rest of the API.
//!
//! - `POST /api/densai/transfer` `{"counterparty.userNo", …, "amountYen", "dueDate"}` (the
//!   [`super::FORM_FIELDS`], strings) → 201 `{"requestId", "requestVersion", "tx"}`; 400
//!   `TX_INVALID` naming the field.
//! - `GET /api/densai/requests` → `{"requests": [{"requestId", "requestVersion", "status", "tx"}]}`.
//! - `POST /api/densai/challenge` `{"requestId"}` → `{"nonce", "tx", "expiresInSeconds"}`: the
//!   challenge bound to (session, request, version, purpose = transaction) and the bank's own
//!   rendering of the request, which the page hands to `kagi.confirmTransaction`.
//! - `POST /api/densai/confirm` `{"requestId", "nonce", "confirmation"}` (`confirmation`: what
//!   `confirmTransaction` resolved with) → `{"status": "approved", "requestId", "requestVersion"}`;
//!   403 with kagi-verify's code (`TX_MISMATCH`, `NONCE_REPLAYED`…), 409 `TX_CHANGED`.

use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kagi_verify::{TxConfirmation, TxSignature, TxStatus, TxStores};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::api::ApiJson;
use crate::app::{Bank, State};
use crate::db::Customer;
use crate::error::BankError;
use crate::session;

type ApiResult = Result<Response, BankError>;

/// The session handle and its logged-on customer.
pub fn logged_on(bank: &Bank, headers: &HeaderMap) -> Result<(String, Customer), BankError> {
    let handle = session::handle_from(headers).ok_or(BankError::NotLoggedOn)?;
    let s = bank.db.session(&handle, bank.now())?.ok_or(BankError::NotLoggedOn)?;
    let cid = s.login_customer.ok_or(BankError::NotLoggedOn)?;
    let customer = bank.db.customer(cid)?.ok_or(BankError::NotLoggedOn)?;
    Ok((handle, customer))
}

fn status_str(s: TxStatus) -> &'static str {
    match s {
        TxStatus::AwaitingApproval => "awaitingApproval",
        TxStatus::Approved => "approved",
        _ => "closed",
    }
}

pub async fn transfer(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(body): ApiJson<Map<String, Value>>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let (_, customer) = logged_on(&bank, &headers)?;
    let mut form = Vec::with_capacity(body.len());
    for (k, v) in body {
        match v {
            Value::String(s) => form.push((k, s)),
            _ => return Err(BankError::BadRequest(format!("{} must be a string", if super::FORM_FIELDS.contains(&k.as_str()) { k.as_str() } else { "a field" }))),
        }
    }
    let tx = super::register(&bank.db, &customer, &form, bank.now())?;
    bank.log(&format!("densai request {} registered contract={:?}", tx.request_id(), customer.contract_number));
    let body = json!({"requestId": tx.request_id(), "requestVersion": tx.request_version(), "tx": tx.to_json()});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn requests(AxState(bank): AxState<State>, headers: HeaderMap) -> ApiResult {
    let (_, customer) = logged_on(&bank, &headers)?;
    let rows = bank.db.densai_requests_of(customer.id)?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| json!({"requestId": r.id, "requestVersion": r.version.to_string(), "status": status_str(r.status), "tx": r.tx.to_json()}))
        .collect();
    Ok(Json(json!({"requests": list})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChallengeBody {
    request_id: String,
}

pub async fn challenge(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(body): ApiJson<ChallengeBody>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let (handle, customer) = logged_on(&bank, &headers)?;
    let row = bank.db.densai_request(&body.request_id)?.filter(|r| r.customer_id == customer.id).ok_or(BankError::NotFound)?;
    if row.status != TxStatus::AwaitingApproval {
        return Err(BankError::Confirm(kagi_verify::VerifyError::TxNotAwaitingApproval));
    }
    let nonce = kagi_verify::issue_tx_challenge(&bank.db, &handle, &row.id, row.tx.request_version(), bank.now())?;
    let body = json!({"nonce": nonce.as_str(), "tx": row.tx.to_json(), "expiresInSeconds": kagi_verify::NONCE_TTL.as_secs()});
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfirmBody {
    request_id: String,
    nonce: String,
    confirmation: TxSignature,
}

pub async fn confirm(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(body): ApiJson<ConfirmBody>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let (handle, customer) = logged_on(&bank, &headers)?;
    let origin = bank.request_origin(&headers)?.clone();
    let c = TxConfirmation {
        signed: &body.confirmation,
        request_id: &body.request_id,
        nonce: &body.nonce,
        session: &handle,
        session_customer: &customer.contract_number,
        expected_origin: &origin,
    };
    let stores = TxStores { challenges: &bank.db, login_nonces: &bank.db, requests: &bank.db, certificates: &bank.db };
    match bank.verifier.confirm(c, stores, bank.now()) {
        Ok(a) => {
            bank.log(&format!("densai request {} approved version={} contract={:?}", a.request_id, a.version, customer.contract_number));
            Ok(Json(json!({"status": "approved", "requestId": a.request_id, "requestVersion": a.version})).into_response())
        }
        Err(e) => {
            // The code, the request and whose session; never the nonce or the signature.
            bank.log(&format!("densai confirmation refused: {} request={:?} contract={:?}", e.code(), body.request_id.chars().take(40).collect::<String>(), customer.contract_number));
            Err(BankError::Confirm(e))
        }
    }
}
