//! JSON endpoints for the page scripts (and for integration tests). Bodies are strict: unknown
//! fields, wrong types and bad base64 are 400s with `{"error":{"code","message"}}`.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use kagi_verify::{CertInfo, LoginAttempt, LoginToken};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::acquisition;
use crate::app::{ensure_session, State};
use crate::error::BankError;
use crate::pages::rfc3339;
use crate::session;

/// `Json<T>` whose rejections are the bank's 400s.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = BankError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(BankError::TooLarge),
            Err(r) => Err(BankError::BadRequest(r.body_text())),
        }
    }
}

type ApiResult = Result<Response, BankError>;

// Handlers without a JSON body still read it (`_body`): an unread body makes the server drop
// the keep-alive connection, which clients then find dead.

/// `POST /api/nonce` `{}` → `{"nonce": "<base64url>", "expiresInSeconds": 300}`, bound to the
/// session cookie (set here when missing).
pub async fn nonce(AxState(bank): AxState<State>, headers: HeaderMap, _body: Bytes) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let mut out = HeaderMap::new();
    let handle = ensure_session(&bank, &headers, &mut out)?;
    let n = kagi_verify::issue_nonce(&bank.db, &handle, bank.now())?;
    Ok((out, Json(json!({"nonce": n.as_str(), "expiresInSeconds": kagi_verify::NONCE_TTL.as_secs()}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    nonce: String,
    token: LoginToken,
}

/// `POST /api/login` `{"nonce", "token": LoginToken}` → `{"redirect": "/home", "customer": {...}}`;
/// 401 `{"error":{"code": <kagi-verify code>}}` when the token does not verify.
pub async fn login(AxState(bank): AxState<State>, headers: HeaderMap, body: Result<ApiJson<LoginBody>, BankError>) -> ApiResult {
    let body = match body {
        Ok(ApiJson(b)) => b,
        Err(e) => {
            bank.log(&format!("log-on refused: {} contract=\"-\" status={}", e.code(), e.status().as_u16()));
            return Err(e);
        }
    };
    let result = login_inner(&bank, &headers, &body);
    if let Err(e) = &result {
        // The code and whose certificate it was; never the nonce, the signature or the cookie.
        let contract = contract_of(&bank, &body.token).unwrap_or_else(|| "-".to_owned());
        bank.log(&format!("log-on refused: {} contract={contract:?} status={}", e.code(), e.status().as_u16()));
    }
    result
}

/// The contract number of the customer the token's certificate was issued to, if it is one this
/// bank issued (same serial and same SHA-256).
fn contract_of(bank: &crate::app::Bank, token: &LoginToken) -> Option<String> {
    let der = token.certificate_der().ok()?;
    let info = CertInfo::parse(&der).ok()?;
    let row = bank.db.certificate(&info.serial).ok()??;
    if row.sha256 != info.sha256 {
        return None;
    }
    Some(bank.db.customer(row.customer_id).ok()??.contract_number)
}

fn login_inner(bank: &crate::app::Bank, headers: &HeaderMap, body: &LoginBody) -> ApiResult {
    bank.check_request_origin(headers)?;
    let handle = session::handle_from(headers).ok_or(BankError::NoSession)?;
    let origin = bank.request_origin(headers)?.clone();
    let now = bank.now();
    let attempt = LoginAttempt { token: &body.token, nonce: &body.nonce, session: &handle, expected_origin: &origin };
    let id = bank.verifier.login(attempt, &bank.db, &bank.db, now)?;
    let cert = bank.db.certificate(&id.serial)?.ok_or(BankError::Login(kagi_verify::VerifyError::UnknownToBank))?;
    let customer = bank.db.customer(cert.customer_id)?.ok_or(BankError::Login(kagi_verify::VerifyError::UnknownToBank))?;
    // A new session id at log-on, so an id planted before it is worth nothing after.
    bank.db.delete_session(&handle)?;
    let (value, new_handle) = session::fresh()?;
    bank.db.create_session(&new_handle, now, session::SESSION_TTL)?;
    bank.db.set_login(&new_handle, customer.id, &cert.serial)?;
    let mut out = HeaderMap::new();
    session::set_cookie(&mut out, &value);
    let body = json!({
        "redirect": "/home",
        "customer": customer_json(&customer),
        "certificate": {"serial": cert.serial, "notAfter": rfc3339(cert.not_after), "issuedCount": cert.issued_count},
    });
    Ok((out, Json(body)).into_response())
}

/// `POST /api/logoff` → `{"redirect": "/?reason=logoff"}`; always succeeds.
pub async fn logoff(AxState(bank): AxState<State>, headers: HeaderMap, _body: Bytes) -> ApiResult {
    bank.check_request_origin(&headers)?;
    if let Some(handle) = session::handle_from(&headers) {
        bank.db.delete_session(&handle)?;
    }
    let mut out = HeaderMap::new();
    session::set_cookie(&mut out, "");
    Ok((out, Json(json!({"redirect": "/?reason=logoff"}))).into_response())
}

/// `GET /api/session` → `{"loggedOn": false}` or `{"loggedOn": true, "customer": {...}, "serial"}`.
pub async fn session_info(AxState(bank): AxState<State>, headers: HeaderMap) -> ApiResult {
    let now = bank.now();
    let s = match session::handle_from(&headers) {
        Some(h) => bank.db.session(&h, now)?,
        None => None,
    };
    let Some((cid, serial)) = s.and_then(|s| Some((s.login_customer?, s.login_serial?))) else {
        return Ok(Json(json!({"loggedOn": false})).into_response());
    };
    let customer = bank.db.customer(cid)?.ok_or(BankError::NotLoggedOn)?;
    Ok(Json(json!({"loggedOn": true, "customer": customer_json(&customer), "serial": serial})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AcquireStartBody {
    contract_number: String,
    password: String,
}

/// `POST /api/acquire/start` `{"contractNumber", "password"}` → `{"eligibility": "FIRST_ISSUE" |
/// "RENEWAL" | "REISSUE", "customer": {...}, "submitBefore"}`; 401 `INVALID_CREDENTIALS`; 403
/// `NOT_IN_RENEWAL_PERIOD` / `REISSUE_REQUIRED`. The JSON twin of the 【取得】 form.
/// A wrong password counts against the contract number; after
/// [`acquisition::MAX_PASSWORD_FAILURES`] in an hour, 429 `TOO_MANY_ATTEMPTS` (Japanese message,
/// `Retry-After`) whatever the password. Success sets a new session cookie.
pub async fn acquire_start(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(body): ApiJson<AcquireStartBody>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let mut out = HeaderMap::new();
    let (customer, eligibility) = acquisition::start(&bank, &headers, &mut out, &body.contract_number, &body.password)?;
    Ok((out, Json(acquisition_json(&bank, &customer, eligibility))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `POST /api/acquire/renew` `{}` → the same answer as `/api/acquire/start`, for a session logged
/// on with the customer's certificate inside its renewal window (no password); 401
/// `NOT_LOGGED_ON` without such a session, 403 `NOT_IN_RENEWAL_PERIOD` / `REISSUE_REQUIRED`
/// outside the window. Sets a new session cookie (the log-on carries over).
pub async fn acquire_renew(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(Empty {}): ApiJson<Empty>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let mut out = HeaderMap::new();
    let (customer, eligibility) = acquisition::renew(&bank, &headers, &mut out)?;
    Ok((out, Json(acquisition_json(&bank, &customer, eligibility))).into_response())
}

fn acquisition_json(bank: &crate::app::Bank, customer: &crate::db::Customer, eligibility: crate::renewal::Eligibility) -> Value {
    let until = bank.now() + session::ACQUISITION_TTL;
    json!({"eligibility": eligibility.code(), "customer": customer_json(customer), "submitBefore": rfc3339(until)})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsrBody {
    /// PKCS#10, DER, standard base64 (what `acquireCertificate`'s `submitCsr` receives).
    csr: String,
    /// The token's key attestation and its F9 certificate, as `enroll.begin` returned them
    /// (`submitCsr`'s second argument); checked only when the bank requires attestation.
    attestation: Option<String>,
    attestation_intermediate: Option<String>,
}

/// `POST /api/csr` `{"csr", "attestation"?, "attestationIntermediate"?}` → 201 `{"serial", "certificate", "issuedCount", "notBefore", "notAfter"}`
/// (certificate = standard base64 DER, what `submitCsr` resolves with); 403
/// `ATTESTATION_REQUIRED` / `ATTESTATION_INVALID` when the bank requires key attestation.
pub async fn submit_csr(AxState(bank): AxState<State>, headers: HeaderMap, ApiJson(body): ApiJson<CsrBody>) -> ApiResult {
    bank.check_request_origin(&headers)?;
    let handle = session::handle_from(&headers).ok_or(BankError::NoSession)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.csr.trim())
        .map_err(|_| BankError::BadRequest("csr is not standard base64".into()))?;
    crate::attestation::check(&bank, &der, body.attestation.as_deref(), body.attestation_intermediate.as_deref())?;
    let row = acquisition::issue(&bank, &handle, &der)?;
    Ok((StatusCode::CREATED, Json(cert_json(&row.der, &row.serial, row.issued_count)?)).into_response())
}

/// `GET /api/certificate` → the certificate this session's acquisition issued:
/// `{"serial", "certificate", "issuedCount", "notBefore", "notAfter", "subject"}`; 404 if none.
pub async fn certificate(AxState(bank): AxState<State>, headers: HeaderMap) -> ApiResult {
    let handle = session::handle_from(&headers).ok_or(BankError::NoSession)?;
    let s = bank.db.session(&handle, bank.now())?.ok_or(BankError::NoSession)?;
    let serial = s.acquire_serial.ok_or(BankError::NotFound)?;
    let row = bank.db.certificate(&serial)?.ok_or(BankError::NotFound)?;
    Ok(Json(cert_json(&row.der, &row.serial, row.issued_count)?).into_response())
}

pub async fn not_found() -> BankError {
    BankError::NotFound
}

fn cert_json(der: &[u8], serial: &str, issued_count: u32) -> Result<Value, BankError> {
    let info = CertInfo::parse(der)?;
    Ok(json!({
        "serial": serial,
        "certificate": base64::engine::general_purpose::STANDARD.encode(der),
        "issuedCount": issued_count,
        "notBefore": rfc3339(info.not_before),
        "notAfter": rfc3339(info.not_after),
        "subject": info.subject,
    }))
}

fn customer_json(c: &crate::db::Customer) -> Value {
    json!({"contractNumber": c.contract_number, "commonName": c.common_name, "name": c.name})
}

/// `GET /api/issuers` → `{"issuers": [<CA certificate, standard base64 DER>]}`: what pages pass
/// to the extension as `issuers` (they also find it in `<meta name="kagi-issuers">`).
pub async fn issuers(AxState(bank): AxState<State>) -> Response {
    Json(json!({"issuers": bank.issuers()})).into_response()
}

/// `GET /ca.crl`: the CA's current CRL (DER, `application/pkix-crl`, RFC 5280 §5 and RFC 2585
/// §4.2), made from the database at each request, so every instance on a shared database serves
/// the same revocations. `Cache-Control` lets a relying party keep it for an hour, well inside
/// its one-day nextUpdate.
pub async fn crl(AxState(bank): AxState<State>) -> ApiResult {
    let now = bank.now();
    let der = bank.ca.crl(&bank.db.revoked_certificates(now)?, now)?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, "application/pkix-crl"),
        (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
    ];
    Ok((headers, der).into_response())
}
