//! Shared by the host's integration tests: requests as the extension sends them. The test CA
//! and the independent signature check live in the rig (`kagi_rig::testca`).
#![allow(dead_code)]

#[allow(unused_imports)]
pub use kagi_rig::testca::{b64, nonce, sha256_hex, unb64, verify_login, TestCa};
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, Nonce, Reply, StatusResult};
use kagi_rig::{Host, Rig, VToken};
use serde_json::{json, Value};

pub const ORIGIN: &str = "https://bank.example";
pub const PIN: &str = "123456";

/// pcscd (shared or started) + one virtual token in reader 0.
pub fn rig_with_token() -> (Rig, VToken) {
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).spawn().expect("virtual token");
    (rig, token)
}

pub fn status(host: &mut Host) -> StatusResult {
    host.request(json!({"cmd": "status"})).into_result().expect("status")
}

pub fn enroll_begin(host: &mut Host, alg: &str) -> Reply {
    host.request(json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": PIN, "algorithm": alg}))
}

pub fn enroll_finish(host: &mut Host, cert: &[u8]) -> Reply {
    host.request(json!({"cmd": "enroll.finish", "origin": ORIGIN, "certificate": b64(cert)}))
}

/// A full acquisition: begin, issue with `ca`, finish. Returns the issued certificate.
pub fn enroll(host: &mut Host, ca: &TestCa, alg: &str, issued_count: u32) -> (EnrollBeginResult, Vec<u8>, EnrollFinishResult) {
    let begin: EnrollBeginResult = enroll_begin(host, alg).into_result().expect("enroll.begin");
    let cert = ca.issue(&begin.csr, issued_count, 0, 365);
    let finish: EnrollFinishResult = enroll_finish(host, &cert).into_result().expect("enroll.finish");
    (begin, cert, finish)
}

pub fn authenticate(host: &mut Host, nonce: &Nonce, pin: &str) -> Reply {
    host.request(json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": nonce.as_str(), "pin": pin}))
}

pub fn error_code(r: &Reply) -> Value {
    serde_json::to_value(r.error.as_ref().expect("an error reply")).unwrap()
}
