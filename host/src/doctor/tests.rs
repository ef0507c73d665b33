//! Doctor on a fake machine: manifests under a temp root/home, policies and token given.

use std::path::PathBuf;

use kagi_proto::{CertSummary, ReaderInfo, StatusResult, Subject, TokenSummary};
use serde_json::{json, Value};

use super::token::parse_rfc3339;
use super::*;
use crate::error::{Error, Result};
use crate::install::{self, paths::Os, paths::Roots};

struct Fake(Result<StatusResult>);

impl TokenProbe for Fake {
    fn status(&mut self) -> Result<StatusResult> {
        match &self.0 {
            Ok(s) => Ok(s.clone()),
            Err(Error::PcscUnavailable(m)) => Err(Error::PcscUnavailable(m.clone())),
            Err(e) => Err(Error::Internal(e.to_string())),
        }
    }
}

const NOW: &str = "2027-01-01T00:00:00Z";

fn now() -> u64 {
    parse_rfc3339(NOW).unwrap() as u64
}

struct Machine {
    dir: tempfile::TempDir,
    roots: Roots,
    host: PathBuf,
}

fn machine() -> Machine {
    let dir = tempfile::tempdir().unwrap();
    let roots = Roots { home: dir.path().join("home"), root: dir.path().join("root") };
    std::fs::create_dir_all(&roots.home).unwrap();
    std::fs::create_dir_all(&roots.root).unwrap();
    // A stand-in for this program: an executable file.
    let host = dir.path().join("kagi-host");
    std::fs::write(&host, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755)).unwrap();
    Machine { dir, roots, host }
}

fn no_policies(_: &Env, _: Browser) -> Vec<Value> {
    Vec::new()
}

fn env(m: &Machine, present: &[Browser]) -> Env {
    Env { os: Os::Linux, roots: m.roots.clone(), host_path: m.host.clone(), browsers_present: present.to_vec(), policies: no_policies, now: now(), host_policy: crate::policy::Policy::Absent }
}

fn install(m: &Machine, scope: Scope, browsers: &[Browser]) {
    let opts = install::Options {
        os: Os::Linux,
        scope,
        browsers: browsers.to_vec(),
        roots: m.roots.clone(),
        host_path: m.host.clone(),
        record: true,
    };
    install::install(&opts).unwrap();
}

fn cert(nb: &str, na: &str) -> CertSummary {
    CertSummary {
        slot: "82".into(),
        subject: Subject { common_name: Some("SH001 SH001001 1898".into()), ..Default::default() },
        issuer: Subject::default(),
        serial: "6d89".into(),
        not_before: nb.into(),
        not_after: na.into(),
        key_algorithm: "P-256".into(),
        sha256: "00".into(),
    }
}

fn token_status(certificate: Option<CertSummary>) -> StatusResult {
    StatusResult {
        readers: vec![ReaderInfo { name: "Virtual PCD 00 00".into(), token_present: true }],
        tokens: vec![TokenSummary {
            reader: "Virtual PCD 00 00".into(),
            guid: Some("3e1f".into()),
            pin_retries: Some(3),
            puk_retries: None,
            pin_default: Some(false),
            management_key: kagi_proto::ManagementKeyState::PinProtected,
            certificate,
        }],
        host_version: None,
    }
}

fn good_token() -> Fake {
    Fake(Ok(token_status(Some(cert("2026-06-01T00:00:00Z", "2027-06-01T00:00:00Z")))))
}

fn codes(r: &Report) -> Vec<(Code, Option<Browser>)> {
    r.checks.iter().map(|c| (c.code, c.browser)).collect()
}

fn find(r: &Report, code: Code) -> &Check {
    r.checks.iter().find(|c| c.code == code).unwrap_or_else(|| panic!("no {code:?} in {:#?}", codes(r)))
}

#[test]
fn all_fine_exits_zero() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome, Browser::Firefox]);
    let r = run(&env(&m, &[Browser::Chrome, Browser::Firefox]), &mut good_token());
    assert!(r.ok, "{}", r.render_text());
    assert_eq!(r.exit_code(), 0);
    let oks: Vec<_> = r.checks.iter().filter(|c| c.code == Code::HostManifestOk).map(|c| c.browser).collect();
    assert_eq!(oks, vec![Some(Browser::Chrome), Some(Browser::Firefox)]);
    for code in [Code::PcscOk, Code::ReadersOk, Code::TokenOk, Code::CertOk] {
        assert_eq!(find(&r, code).status, Status::Ok);
    }
    // Browsers that are not installed are only mentioned.
    assert!(r.checks.iter().any(|c| c.code == Code::BrowserNotFound && c.browser == Some(Browser::Edge) && c.status == Status::Info));
}

#[test]
fn missing_manifest_is_the_first_thing_said() {
    let m = machine();
    let r = run(&env(&m, &[Browser::Chromium]), &mut good_token());
    assert!(!r.ok);
    assert_eq!(r.exit_code(), 1);
    let c = find(&r, Code::HostManifestMissing);
    assert_eq!(c.browser, Some(Browser::Chromium));
    assert!(c.en.contains("native host not found"));
    assert!(c.fix_ja.as_deref().unwrap().contains("kagi-host install"));
    let text = r.render_text();
    assert!(text.contains("[NG]   HOST_MANIFEST_MISSING (chromium)"), "{text}");
    assert!(text.contains("問題が 1 件"), "{text}");
}

#[test]
fn system_manifest_is_found_and_user_one_wins() {
    let m = machine();
    install(&m, Scope::System, &[Browser::Chromium]);
    let r = run(&env(&m, &[Browser::Chromium]), &mut good_token());
    let c = find(&r, Code::HostManifestOk);
    assert_eq!(c.scope, Some(Scope::System));
    assert!(c.subject.as_deref().unwrap().ends_with("etc/chromium/native-messaging-hosts/jp.kagi.host.json"));
    install(&m, Scope::User, &[Browser::Chromium]);
    let r = run(&env(&m, &[Browser::Chromium]), &mut good_token());
    assert_eq!(find(&r, Code::HostManifestOk).scope, Some(Scope::User));
}

#[test]
fn broken_manifest_and_wrong_path() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome, Browser::Edge]);
    let chrome = m.roots.home.join(".config/google-chrome/NativeMessagingHosts/jp.kagi.host.json");
    std::fs::write(&chrome, "{ not json").unwrap();
    let edge = m.roots.home.join(".config/microsoft-edge/NativeMessagingHosts/jp.kagi.host.json");
    let text = std::fs::read_to_string(&edge).unwrap().replace(m.host.to_str().unwrap(), "/nowhere/kagi-host");
    std::fs::write(&edge, text).unwrap();
    let r = run(&env(&m, &[Browser::Chrome, Browser::Edge]), &mut good_token());
    let c = find(&r, Code::HostManifestInvalid);
    assert_eq!((c.browser, c.status), (Some(Browser::Chrome), Status::Error));
    let c = find(&r, Code::HostManifestWrongPath);
    assert_eq!((c.browser, c.status), (Some(Browser::Edge), Status::Error));
    assert!(c.en.contains("/nowhere/kagi-host"));
}

#[test]
fn manifest_for_another_extension_is_invalid() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome]);
    let f = m.roots.home.join(".config/google-chrome/NativeMessagingHosts/jp.kagi.host.json");
    let t = std::fs::read_to_string(&f).unwrap().replace("gpkpgcigbjckfepkdcenjinhhjllfgac", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    std::fs::write(&f, t).unwrap();
    let r = run(&env(&m, &[Browser::Chrome]), &mut good_token());
    assert!(find(&r, Code::HostManifestInvalid).en.contains("allowed_origins"));
}

#[test]
fn another_copy_of_the_host_is_a_warning() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Firefox]);
    let mut e = env(&m, &[Browser::Firefox]);
    let other = m.dir.path().join("other-kagi-host");
    std::fs::copy(&m.host, &other).unwrap();
    e.host_path = other;
    let r = run(&e, &mut good_token());
    assert_eq!(find(&r, Code::HostManifestWrongPath).status, Status::Warning);
    assert!(r.ok);
}

fn user_level_off(_: &Env, b: Browser) -> Vec<Value> {
    if b == Browser::Chrome {
        vec![json!({"NativeMessagingUserLevelHosts": false})]
    } else {
        Vec::new()
    }
}

#[test]
fn user_level_hosts_policy_with_only_a_user_install() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome]);
    let mut e = env(&m, &[Browser::Chrome]);
    e.policies = user_level_off;
    let r = run(&e, &mut good_token());
    let c = find(&r, Code::PolicyUserLevelHostsBlocked);
    assert_eq!((c.status, c.scope), (Status::Error, Some(Scope::User)));
    assert!(c.fix_en.as_deref().unwrap().contains("--scope system"));
    // With a system install as well, the browser uses that one: no conflict.
    install(&m, Scope::System, &[Browser::Chrome]);
    let r = run(&e, &mut good_token());
    assert!(!r.checks.iter().any(|c| c.code == Code::PolicyUserLevelHostsBlocked));
    assert_eq!(find(&r, Code::HostManifestOk).scope, Some(Scope::System));
}

fn blocking(_: &Env, b: Browser) -> Vec<Value> {
    match b {
        Browser::Chromium => vec![
            json!({"NativeMessagingBlocklist": ["*"], "ExtensionInstallBlocklist": ["*"]}),
        ],
        Browser::Edge => vec![json!({
            "NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": ["jp.kagi.host"],
            "ExtensionInstallBlocklist": ["*"],
            "ExtensionInstallForcelist": ["gpkpgcigbjckfepkdcenjinhhjllfgac;https://updates.bank.example/kagi/updates.xml"],
        })],
        Browser::Chrome => vec![json!({"ExtensionSettings": {"gpkpgcigbjckfepkdcenjinhhjllfgac": {"installation_mode": "blocked"}}})],
        Browser::Firefox => Vec::new(),
    }
}

#[test]
fn blocklist_policies() {
    let m = machine();
    install(&m, Scope::System, &[Browser::Chromium, Browser::Edge, Browser::Chrome]);
    let mut e = env(&m, &[Browser::Chromium, Browser::Edge, Browser::Chrome]);
    e.policies = blocking;
    let r = run(&e, &mut good_token());
    let got: Vec<_> = r
        .checks
        .iter()
        .filter(|c| matches!(c.code, Code::PolicyHostBlocked | Code::PolicyExtensionBlocked))
        .map(|c| (c.code, c.browser))
        .collect();
    assert_eq!(
        got,
        vec![
            (Code::PolicyExtensionBlocked, Some(Browser::Chrome)),
            (Code::PolicyHostBlocked, Some(Browser::Chromium)),
            (Code::PolicyExtensionBlocked, Some(Browser::Chromium)),
        ]
    );
}

#[test]
fn policies_are_read_from_the_linux_policy_directory() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chromium]);
    let dir = m.roots.root.join("etc/chromium/policies/managed");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bank.json"), r#"{"NativeMessagingUserLevelHosts": false}"#).unwrap();
    std::fs::write(dir.join("junk.txt"), "ignored").unwrap();
    let e = Env::detect(m.roots.clone(), m.host.clone());
    let r = run(&Env { browsers_present: vec![Browser::Chromium], now: now(), ..e }, &mut good_token());
    assert_eq!(find(&r, Code::PolicyUserLevelHostsBlocked).browser, Some(Browser::Chromium));
}

#[test]
fn browsers_are_detected_under_the_root() {
    let m = machine();
    std::fs::create_dir_all(m.roots.root.join("usr/bin")).unwrap();
    std::fs::write(m.roots.root.join("usr/bin/firefox-esr"), "").unwrap();
    let e = Env::detect(m.roots.clone(), m.host.clone());
    if e.os == Os::Linux {
        assert_eq!(e.browsers_present, vec![Browser::Firefox]);
    }
    let e = Env { browsers_present: vec![], ..e };
    let r = run(&e, &mut good_token());
    assert_eq!(find(&r, Code::NoBrowser).status, Status::Warning);
}

#[test]
fn token_chain_failures() {
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome]);
    let e = env(&m, &[Browser::Chrome]);
    let cases: Vec<(Fake, Code)> = vec![
        (Fake(Err(Error::PcscUnavailable("no service".into()))), Code::PcscUnavailable),
        (Fake(Err(Error::Internal("boom".into()))), Code::PcscError),
        (Fake(Ok(StatusResult { readers: vec![], tokens: vec![], host_version: None })), Code::NoReader),
        (Fake(Ok(StatusResult { readers: vec![ReaderInfo { name: "R".into(), token_present: false }], tokens: vec![], host_version: None })), Code::TokenAbsent),
        (Fake(Ok(StatusResult { readers: vec![ReaderInfo { name: "R".into(), token_present: true }], tokens: vec![], host_version: None })), Code::NotPiv),
    ];
    for (mut probe, code) in cases {
        let r = run(&e, &mut probe);
        let c = find(&r, code);
        assert_eq!(c.status, Status::Error, "{code:?}");
        assert!(!c.ja.is_empty() && !c.en.is_empty() && c.fix_ja.is_some() && c.fix_en.is_some(), "{code:?}");
        assert_eq!(r.exit_code(), 1);
    }
    let mut blocked = token_status(Some(cert("2026-06-01T00:00:00Z", "2027-06-01T00:00:00Z")));
    if let Some(t) = blocked.tokens.first_mut() {
        t.pin_retries = Some(0);
    }
    assert_eq!(find(&run(&e, &mut Fake(Ok(blocked))), Code::PinBlocked).status, Status::Error);
    // Doctor names no bank: the host shows no certificate, and doctor does not call that a
    // problem of the token.
    let r = run(&e, &mut Fake(Ok(token_status(None))));
    assert_eq!(find(&r, Code::TokenOk).status, Status::Ok);
    assert!(r.checks.iter().all(|c| c.code != Code::NoCertificate));
}

#[test]
fn certificate_renewal_window() {
    let t = |s: &str| parse_rfc3339(s).unwrap() as u64;
    let nb = "2026-01-01T00:00:00Z";
    let na = "2027-01-31T00:00:00Z";
    let at = |now: &str| token::cert_check(nb, na, t(now));
    assert_eq!(at("2026-12-01T00:00:00Z").code, Code::CertOk);
    assert_eq!(at("2027-01-01T00:00:01Z").code, Code::CertRenewalDue);
    assert_eq!(at("2027-01-01T00:00:01Z").status, Status::Warning);
    assert!(at("2027-01-01T00:00:01Z").ja.contains("あと30日"));
    assert_eq!(at("2027-03-01T00:00:00Z").code, Code::CertExpiredRenewable);
    assert_eq!(at("2027-06-01T00:00:00Z").code, Code::CertRenewalPassed);
    assert_eq!(at("2025-12-31T00:00:00Z").code, Code::CertNotYetValid);
    // A warning does not fail the run.
    let m = machine();
    install(&m, Scope::User, &[Browser::Chrome]);
    let r = run(&env(&m, &[Browser::Chrome]), &mut Fake(Ok(token_status(Some(cert(nb, "2027-01-10T00:00:00Z"))))));
    assert_eq!(find(&r, Code::CertRenewalDue).status, Status::Warning);
    assert!(r.ok);
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800));
    assert_eq!(parse_rfc3339("2027-11-26T00:00:00+00:00"), Some(1_827_187_200));
    assert_eq!(parse_rfc3339("2027-11-26"), None);
    assert_eq!(parse_rfc3339("2027-13-26T00:00:00Z"), None);
}

#[test]
fn json_form_has_stable_codes() {
    let m = machine();
    let r = run(&env(&m, &[Browser::Chrome]), &mut Fake(Err(Error::PcscUnavailable("x".into()))));
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["ok"], false);
    let codes: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"HOST_MANIFEST_MISSING"));
    assert!(codes.contains(&"PCSC_UNAVAILABLE"));
    let c = &v["checks"][0];
    for k in ["code", "status", "ja", "en"] {
        assert!(c.get(k).is_some(), "{k} missing in {c}");
    }
    assert!(v["checks"].as_array().unwrap().iter().any(|c| c["fixJa"].is_string() && c["fixEn"].is_string()));
}

#[test]
fn the_smart_card_service_is_named_as_the_os_names_it() {
    let m = machine();
    let unavailable = || Fake(Err(Error::PcscUnavailable("SCARD_E_NO_SERVICE".into())));
    let mut e = env(&m, &[Browser::Chrome]);
    let linux = run(&e, &mut unavailable());
    let c = find(&linux, Code::PcscUnavailable);
    assert!(c.en.contains("pcscd") && c.fix_en.as_deref().unwrap().contains("systemctl"), "{c:?}");
    assert!(!c.en.contains("SCardSvr"));
    e.os = Os::Windows;
    let windows = run(&e, &mut unavailable());
    let c = find(&windows, Code::PcscUnavailable);
    assert!(c.ja.contains("SCardSvr") && c.en.contains("SCardSvr"), "{c:?}");
    assert!(c.fix_en.as_deref().unwrap().contains("sc query SCardSvr"), "{c:?}");
    assert!(!format!("{c:?}").contains("pcscd"), "no pcscd on Windows: {c:?}");
    // With no reader, Windows has stopped the service by design: the fix names both.
    let r = run(&e, &mut Fake(Ok(StatusResult { readers: vec![], tokens: vec![], host_version: None })));
    let c = find(&r, Code::NoReader);
    assert!(c.fix_en.as_deref().unwrap().contains("SCardSvr"), "{c:?}");
}

#[test]
fn windows_manifest_naming_the_host_relative_to_itself_is_fine() {
    // The per-machine MSI: C:\Program Files\Kagi\{kagi-host.exe, jp.kagi.host.json} with
    // "path": "kagi-host.exe" (manifests/native-host/windows/).
    let m = machine();
    let dir = m.dir.path().join("Program Files").join("Kagi");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("kagi-host.exe");
    std::fs::copy(&m.host, &exe).unwrap();
    let manifest = dir.join("jp.kagi.host.json");
    std::fs::write(&manifest, install::manifest::HostManifest::kagi(crate::install::paths::Family::Chromium, "kagi-host.exe").render()).unwrap();
    let mut e = env(&m, &[Browser::Edge]);
    e.os = Os::Windows;
    e.host_path = exe.clone();
    let c = browsers::check_manifest(&e, Browser::Edge, Scope::System, &manifest);
    assert_eq!((c.code, c.status), (Code::HostManifestOk, Status::Ok), "{c:?}");
    // Another copy named relatively is a warning that shows the resolved path.
    e.host_path = m.host.clone();
    let c = browsers::check_manifest(&e, Browser::Edge, Scope::System, &manifest);
    assert_eq!((c.code, c.status), (Code::HostManifestWrongPath, Status::Warning), "{c:?}");
    assert!(c.en.contains(&exe.display().to_string()), "{c:?}");
    // A relative name for a program that is not there is the wrong-path error.
    std::fs::remove_file(&exe).unwrap();
    let c = browsers::check_manifest(&e, Browser::Edge, Scope::System, &manifest);
    assert_eq!((c.code, c.status), (Code::HostManifestWrongPath, Status::Error), "{c:?}");
    // The same manifest on Linux is invalid: browsers there need an absolute path.
    e.os = Os::Linux;
    let c = browsers::check_manifest(&e, Browser::Edge, Scope::System, &manifest);
    assert_eq!(c.code, Code::HostManifestInvalid, "{c:?}");
    assert!(c.en.contains("not absolute"), "{c:?}");
}
