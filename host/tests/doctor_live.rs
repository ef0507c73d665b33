//! `kagi-host install` and `kagi-host doctor` as a person runs them, on the real stack (pcscd +
//! vpcd + the virtual token): the manifest is found, and the token chain is reported link by
//! link as the token goes from empty, to holding a certificate, to pulled out.

use std::path::Path;
use std::process::Command;

use kagi_proto::EnrollBeginResult;
use kagi_rig::testca::TestCa;
use kagi_rig::{host_bin, Host, Rig, VToken};
use serde_json::{json, Value};

fn kagi(args: &[&str], home: &Path, root: &Path) -> (i32, String) {
    let out = Command::new(host_bin())
        .args(args)
        .env("HOME", home)
        .env("KAGI_INSTALL_ROOT", root)
        .output()
        .expect("run kagi-host");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn doctor(home: &Path, root: &Path) -> (i32, Value) {
    let (rc, out) = kagi(&["doctor", "--json"], home, root);
    (rc, serde_json::from_str(&out).unwrap_or_else(|e| panic!("doctor --json: {e}: {out}")))
}

fn status_of(report: &Value, code: &str) -> Option<String> {
    report["checks"].as_array()?.iter().find(|c| c["code"] == code).map(|c| c["status"].as_str().unwrap_or("").to_owned())
}

#[test]
fn install_then_doctor_on_the_virtual_token() {
    let _rig = Rig::start().expect("rig");
    let mut token = VToken::builder().reader(0).spawn().expect("virtual token");
    let dir = kagi_rig::temp_dir().unwrap();
    let (home, root) = (dir.path().join("home"), dir.path().join("root"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&root).unwrap();

    // Nothing installed: the browser would say "native host not found"; doctor says why.
    let (rc, r) = doctor(&home, &root);
    assert_eq!(rc, 1);
    assert_eq!(status_of(&r, "NO_BROWSER").as_deref(), Some("warning"), "{r:#}");

    let (rc, out) = kagi(&["install", "--browser", "chromium", "--json"], &home, &root);
    assert_eq!(rc, 0, "{out}");
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome[0]["action"], "written");

    // A fresh token: everything up to the token is fine, no certificate yet.
    let (rc, r) = doctor(&home, &root);
    assert_eq!(rc, 1, "{r:#}");
    for (code, st) in [("HOST_MANIFEST_OK", "ok"), ("PCSC_OK", "ok"), ("READERS_OK", "ok"), ("TOKEN_OK", "ok"), ("NO_CERTIFICATE", "error")] {
        assert_eq!(status_of(&r, code).as_deref(), Some(st), "{code}: {r:#}");
    }
    let manifest = r["checks"].as_array().unwrap().iter().find(|c| c["code"] == "HOST_MANIFEST_OK").unwrap();
    assert_eq!(manifest["browser"], "chromium");
    assert_eq!(manifest["scope"], "user");

    // Acquire a certificate the way the bank page does; doctor then reports all fine.
    {
        let ca = TestCa::new("Kagi Test CA");
        let mut host = Host::spawn().expect("host");
        let issuers = json!([kagi_rig::testca::b64(&ca.der)]);
        let begin: EnrollBeginResult = host
            .request(json!({"cmd": "enroll.begin", "origin": "https://bank.example", "pin": kagi_rig::DEFAULT_PIN, "newPin": "482915", "algorithm": "P-256", "issuers": issuers}))
            .into_result()
            .expect("enroll.begin");
        let cert = ca.issue(&begin.csr, 1, 0, 365);
        let b64 = kagi_rig::testca::b64(&cert);
        host.request(json!({"cmd": "enroll.finish", "origin": "https://bank.example", "certificate": b64}))
            .into_result::<Value>()
            .expect("enroll.finish");
    }
    let (rc, r) = doctor(&home, &root);
    assert_eq!(rc, 0, "{r:#}");
    assert_eq!(r["ok"], true);
    assert_eq!(status_of(&r, "TOKEN_OK").as_deref(), Some("ok"), "{r:#}");
    // Doctor names no bank: it never reads out a certificate, and does not call that a problem.
    assert_eq!(status_of(&r, "NO_CERTIFICATE"), None, "{r:#}");

    // The human form says the same in Japanese and English.
    let (rc, text) = kagi(&["doctor"], &home, &root);
    assert_eq!(rc, 0);
    assert!(text.contains("電子証明書は有効です") && text.contains("The certificate is valid"), "{text}");

    // Token pulled.
    token.pull().unwrap();
    kagi_rig::wait_card_state(kagi_rig::READER_0, false, std::time::Duration::from_secs(5)).unwrap();
    let (rc, r) = doctor(&home, &root);
    assert_eq!(rc, 1);
    assert_eq!(status_of(&r, "TOKEN_ABSENT").as_deref(), Some("error"), "{r:#}");

    let (rc, _) = kagi(&["uninstall", "--browser", "chromium"], &home, &root);
    assert_eq!(rc, 0);
    let left: Vec<_> = std::fs::read_dir(&home).unwrap().collect();
    assert!(left.is_empty(), "uninstall left {left:?}");
}
