//! State survives a restart: CA, customers, certificates, sessions, nonces. The binary prints
//! the demo customer on first start only.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use kagi_verify::NonceStore;
use serde_json::json;

#[test]
fn restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let clock = manual_clock();
    let (ca_pem, serial, cookie, nonce) = {
        let bank = TestBank::start(dir.path(), clock.clone());
        let mut c = bank.client();
        assert_eq!(c.acquire_start(CONTRACT, PASSWORD).status, 200);
        let r = c.submit_csr(&software_csr());
        assert_eq!(r.status, 201);
        let nonce = c.post_json("/api/nonce", &json!({})).json()["nonce"].as_str().unwrap().to_owned();
        (c.get("/static/ca-cert.pem").body, r.json()["serial"].as_str().unwrap().to_owned(), c.cookie.clone(), nonce)
    };
    let bank = TestBank::start(dir.path(), clock);
    let mut c = bank.client();
    assert_eq!(c.get("/static/ca-cert.pem").body, ca_pem, "same CA");
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    c.cookie = cookie;
    let r = c.get("/api/certificate");
    assert_eq!(r.status, 200, "the acquisition session survived: {}", r.body);
    assert_eq!(r.json()["serial"], serial.as_str());
    let customers = bank.bank.db.customers().unwrap();
    assert_eq!(customers.len(), 1, "the demo customer is seeded once");
    assert_eq!(customers[0].issued_count, 1);
    assert!(!bank.bank.db.certificate(&serial).unwrap().unwrap().revoked);
    let rec = bank.bank.db.take(&nonce).unwrap().expect("nonce survived");
    assert!(!rec.used);
    assert!(bank.bank.db.take(&nonce).unwrap().unwrap().used, "and is single use");
    // A renewal attempt now is judged on the stored certificate.
    let r = bank.client().acquire_start(CONTRACT, PASSWORD);
    assert_eq!(r.code(), "NOT_IN_RENEWAL_PERIOD");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "CA key readable by its owner only");
    }
}

/// Starts `kagi-bank serve --port 0 <extra>`, returns its stdout up to the "on <origin>" line.
fn serve_once(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kagi-bank"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("Kagi demo bank on ") {
            break;
        }
    }
    let origin = out.lines().last().unwrap().trim_start_matches("Kagi demo bank on ").trim_end_matches('/').to_owned();
    let mut c = Client::new(&origin);
    assert_eq!(c.get("/").status, 200, "serving at {origin}");
    child.kill().unwrap();
    child.wait().unwrap();
    out
}

#[test]
fn the_binary_prints_the_demo_customer_on_first_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve_once(dir.path(), &["--demo"]);
    assert!(first.contains(CONTRACT) && first.contains(PASSWORD), "{first}");
    let second = serve_once(dir.path(), &["--demo"]);
    assert!(!second.contains(PASSWORD), "{second}");
    assert!(dir.path().join("bank.sqlite3").exists() && dir.path().join("ca-cert.pem").exists());
}

/// A production start (no `--demo`) creates no customer: the published demo password opens
/// nothing, and the operator is told to add customers.
#[test]
fn no_demo_customer_without_demo_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = serve_once(dir.path(), &[]);
    assert!(!out.contains(CONTRACT) && !out.contains(PASSWORD), "{out}");
    assert!(out.contains("No customers yet"), "{out}");
    let listing = Command::new(env!("CARGO_BIN_EXE_kagi-bank")).arg("--data-dir").arg(dir.path()).arg("customers").output().unwrap();
    assert!(listing.status.success());
    assert_eq!(String::from_utf8_lossy(&listing.stdout).trim(), "", "no customers");
    // In-process too: the demo credentials are refused, and stay refused after a demo-less restart.
    let bank = TestBank::start_mode(dir.path(), manual_clock(), false);
    assert_eq!(bank.bank.db.customer_count().unwrap(), 0);
    let r = bank.client().acquire_start(CONTRACT, PASSWORD);
    assert_eq!((r.status, r.code().as_str()), (401, "INVALID_CREDENTIALS"));
    // The demo's clock offset is refused outside demo mode.
    let out = Command::new(env!("CARGO_BIN_EXE_kagi-bank"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--port", "0", "--clock-offset-days", "340"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo mode only"));
}

/// Behind a proxy (`--origin`), the origin line names the proxy; the line before it names the
/// socket the bank really listens on, also with `--port 0`.
#[test]
fn the_binary_prints_its_socket_when_the_origin_is_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kagi-bank"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--port", "0", "--origin", "https://ib.bank.example"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut listening = None;
    let mut origin = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("Listening on ") {
            listening = Some(a.to_owned());
        }
        if let Some(o) = line.strip_prefix("Kagi demo bank on ") {
            origin = Some(o.to_owned());
            break;
        }
    }
    let addr = listening.expect("a Listening line before the origin line");
    assert_eq!(origin.as_deref(), Some("https://ib.bank.example/"));
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr}");
    let mut c = Client::new(&format!("http://{addr}"));
    assert_eq!(c.get("/static/bank.css").status, 200, "serving at {addr}");
    child.kill().unwrap();
    child.wait().unwrap();
}
