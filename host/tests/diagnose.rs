//! `diagnose` over native messaging on the real stack (pcscd + vpcd + the virtual token), as the
//! extension's popup will ask it for 「診断情報をコピー」: doctor's checks as structured results
//! and one text a support desk can read, which follows the token (PIN tries left, the bank's
//! certificate, the token pulled) and never carries the PIN, the token's GUID, the
//! certificate's subject or the customer's home path.

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{CheckStatus, DiagnoseResult};
use kagi_rig::Host;
use serde_json::json;

fn host_in(home: &std::path::Path, root: &std::path::Path, policy: &std::path::Path) -> Host {
    let (h, r, p) = (home.display().to_string(), root.display().to_string(), policy.display().to_string());
    Host::spawn_with(&[&kagi_proto::ids::chrome_origin()], &[("HOME", &h), ("KAGI_INSTALL_ROOT", &r), ("KAGI_POLICY_FILE", &p)]).expect("host")
}

fn diagnose(host: &mut Host, issuers: Option<&TestCa>) -> DiagnoseResult {
    let req = match issuers {
        Some(ca) => json!({"cmd": "diagnose", "issuers": common::issuers(ca)}),
        None => json!({"cmd": "diagnose"}),
    };
    host.request(req).into_result().expect("diagnose")
}

fn status_of(d: &DiagnoseResult, code: &str) -> Option<CheckStatus> {
    d.checks.iter().find(|c| c.code == code).map(|c| c.status)
}

#[test]
fn diagnose_reports_the_token_and_the_banks_certificate_for_the_support_desk() {
    let (_rig, token) = rig_with_token();
    let dir = kagi_rig::temp_dir().unwrap();
    let (home, root) = (dir.path().join("home-yamada"), dir.path().join("root"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let mut host = host_in(&home, &root, &dir.path().join("no-policy.json"));
    assert!(host.hello.as_ref().is_some_and(|h| h.capabilities.iter().any(|c| c == "diagnose")), "{:?}", host.hello);

    // Registered with Chromium for this user: the check names the manifest, under `~`.
    let out = std::process::Command::new(kagi_rig::host_bin())
        .args(["install", "--browser", "chromium"])
        .env("HOME", &home)
        .env("KAGI_INSTALL_ROOT", &root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    let ca = TestCa::new("Kagi Test CA");
    let (_, _, finish) = enroll(&mut host, &ca, "P-256", 1);
    let cert = finish.certificate;
    // One wrong PIN: the support desk sees two tries left.
    let r = authenticate(&mut host, &ca, &nonce(), "739184");
    assert_eq!(error_code(&r)["code"], "PIN_INCORRECT", "{r:?}");

    let d = diagnose(&mut host, Some(&ca));
    assert!(d.ok, "{}", d.text);
    assert_eq!(d.host_version, env!("CARGO_PKG_VERSION"));
    // status carries the version too, for kagi.js's status().versions.host.
    assert_eq!(status(&mut host).host_version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(d.protocol, kagi_proto::PROTOCOL_VERSION);
    for code in ["PCSC_OK", "READERS_OK", "TOKEN_OK", "CERT_OK"] {
        assert_eq!(status_of(&d, code), Some(CheckStatus::Ok), "{code}:\n{}", d.text);
    }
    assert_eq!(status_of(&d, "HOST_POLICY_NONE"), Some(CheckStatus::Info), "{}", d.text);
    let manifest = d.checks.iter().find(|c| c.code == "HOST_MANIFEST_OK").unwrap_or_else(|| panic!("{}", d.text));
    assert_eq!((manifest.browser.as_deref(), manifest.scope.as_deref()), (Some("chromium"), Some("user")));
    assert!(manifest.subject.as_deref().is_some_and(|s| s.starts_with("~/") && s.ends_with("jp.kagi.host.json")), "{manifest:?}");
    assert_eq!(d.tokens.len(), 1, "{d:?}");
    let t = &d.tokens[0];
    assert_eq!((t.reader.as_str(), t.pin_retries, t.puk_retries), (token.reader(), Some(2), Some(3)), "{t:?}");
    let c = t.certificate.as_ref().expect("the bank's certificate");
    assert_eq!((&c.serial, &c.not_before, &c.not_after, &c.issuer), (&cert.serial, &cert.not_before, &cert.not_after, &cert.issuer));
    // The text a support desk reads says the same.
    for want in [
        format!("kagi-host {}", env!("CARGO_PKG_VERSION")),
        format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        "PIN tries left: 2".to_owned(),
        "PUK tries left: 3".to_owned(),
        format!("serial: {}", cert.serial),
        format!("valid: {} – {}", cert.not_before, cert.not_after),
        "CN=Kagi Test CA".to_owned(),
        "[OK]   CERT_OK".to_owned(),
        "Result: no problems found".to_owned(),
    ] {
        assert!(d.text.contains(&want), "{want:?} missing:\n{}", d.text);
    }
    // What it must not carry: the PIN (the wrong one included), the token's GUID, the
    // certificate's subject, the home path (it names the user).
    let guid = only_token(status(&mut host)).guid.expect("the virtual token has a GUID");
    let subject_cn = cert.subject.common_name.clone().expect("the certificate names the customer");
    let everything = serde_json::to_string(&d).unwrap();
    for secret in [PIN, "739184", guid.as_str(), subject_cn.as_str(), "home-yamada"] {
        assert!(!everything.contains(secret), "diagnose carries {secret:?}:\n{}", d.text);
    }

    // Without the bank's CA the host names no certificate, as for status.
    let d = diagnose(&mut host, None);
    assert!(d.tokens[0].certificate.is_none(), "{d:?}");
    assert_eq!(status_of(&d, "CERT_OK"), None, "{}", d.text);

    // The token pulled: the problem is named, and the result is no longer ok.
    let reader = token.reader();
    drop(token);
    kagi_rig::wait_card_state(reader, false, Duration::from_secs(10)).expect("token out");
    let d = diagnose(&mut host, Some(&ca));
    assert!(!d.ok, "{}", d.text);
    assert_eq!(status_of(&d, "TOKEN_ABSENT"), Some(CheckStatus::Error), "{}", d.text);
    assert!(d.tokens.is_empty());
    assert!(d.text.contains("[NG]   TOKEN_ABSENT") && d.text.contains("problem(s) found"), "{}", d.text);
}

#[test]
fn diagnose_answers_under_an_unusable_policy_and_names_it() {
    let (_rig, _token) = rig_with_token();
    let dir = kagi_rig::temp_dir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"allowedOrigin": ["https://bank.example"]}"#).unwrap();
    let mut host = host_in(dir.path(), dir.path(), &policy);
    // Everything else is refused (fail closed)…
    let r = host.request(json!({"cmd": "status"}));
    assert_eq!(error_code(&r)["code"], "POLICY_INVALID", "{r:?}");
    // …but the support desk learns why.
    let d = diagnose(&mut host, None);
    assert!(!d.ok);
    assert_eq!(status_of(&d, "HOST_POLICY_INVALID"), Some(CheckStatus::Error), "{}", d.text);
    assert!(d.text.contains("POLICY_INVALID") && d.text.contains("policy.json"), "{}", d.text);
}
