//! Shared by the host's integration tests: requests as the extension sends them (protocol 2:
//! every log-on and acquisition names the bank's CA). The test CA and the independent
//! signature check live in the rig (`kagi_rig::testca`).
#![allow(dead_code)]

#[allow(unused_imports)]
pub use kagi_rig::testca::{b64, nonce, sha256_hex, unb64, verify_login, TestCa};
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, Nonce, Reply, StatusResult, TokenSummary};
use kagi_rig::{Host, Rig, VToken};
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://bank.example";
/// The PIN virtual tokens ship with.
pub const FACTORY_PIN: &str = kagi_rig::DEFAULT_PIN;
pub const PUK: &str = kagi_rig::DEFAULT_PUK;
/// The PIN the customer chose (at the first acquisition, or with `pin.change`).
pub const PIN: &str = "482915";

/// pcscd (shared or started) + one virtual token in reader 0, still in its factory state.
pub fn rig_with_token() -> (Rig, VToken) {
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).spawn().expect("virtual token");
    (rig, token)
}

/// [`rig_with_token`], a host, and the customer's own PIN set through the host (`pin.change`).
pub fn customer_token() -> (Rig, VToken, Host) {
    let (rig, token) = rig_with_token();
    let mut host = Host::spawn().expect("host");
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    (rig, token, host)
}

pub fn issuers(ca: &TestCa) -> Value {
    json!([b64(&ca.der)])
}

/// `status` without issuers, as the extension's popup asks.
pub fn status(host: &mut Host) -> StatusResult {
    host.request(json!({"cmd": "status"})).into_result().expect("status")
}

/// `status` as the bank's page asks, naming its CA.
pub fn status_for(host: &mut Host, ca: &TestCa) -> StatusResult {
    host.request(json!({"cmd": "status", "issuers": issuers(ca)})).into_result().expect("status")
}

/// The one token in a status.
pub fn only_token(s: StatusResult) -> TokenSummary {
    assert_eq!(s.tokens.len(), 1, "{s:?}");
    s.tokens.into_iter().next().unwrap()
}

pub fn enroll_begin(host: &mut Host, ca: &TestCa, alg: &str) -> Reply {
    host.request(json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": PIN, "algorithm": alg, "issuers": issuers(ca)}))
}

pub fn enroll_finish(host: &mut Host, cert: &[u8]) -> Reply {
    host.request(json!({"cmd": "enroll.finish", "origin": ORIGIN, "certificate": b64(cert)}))
}

/// A full acquisition: begin, issue with `ca`, finish. Returns the issued certificate.
pub fn enroll(host: &mut Host, ca: &TestCa, alg: &str, issued_count: u32) -> (EnrollBeginResult, Vec<u8>, EnrollFinishResult) {
    let begin: EnrollBeginResult = enroll_begin(host, ca, alg).into_result().expect("enroll.begin");
    let cert = ca.issue(&begin.csr, issued_count, 0, 365);
    let finish: EnrollFinishResult = enroll_finish(host, &cert).into_result().expect("enroll.finish");
    (begin, cert, finish)
}

pub fn authenticate(host: &mut Host, ca: &TestCa, nonce: &Nonce, pin: &str) -> Reply {
    host.request(json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": nonce.as_str(), "pin": pin, "issuers": issuers(ca)}))
}

pub fn change_pin(host: &mut Host, pin: &str, new_pin: &str) -> Reply {
    host.request(json!({"cmd": "pin.change", "pin": pin, "newPin": new_pin}))
}

pub fn unblock_pin(host: &mut Host, puk: &str, new_pin: &str) -> Reply {
    host.request(json!({"cmd": "pin.unblock", "puk": puk, "newPin": new_pin}))
}

pub fn error_code(r: &Reply) -> Value {
    serde_json::to_value(r.error.as_ref().expect("an error reply")).unwrap()
}
