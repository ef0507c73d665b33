//! Production posture of the host (issue 11), through the real binary on the virtual token:
//! the machine's host policy (an allowed origin signs, another is refused before the token
//! sees an APDU, an unusable policy refuses everything), and log hygiene (no value of a
//! request — a PIN as a number, a malformed PIN, a wrong one — in stderr or the log file,
//! which is `0600` and never written through a link).
//!
//! The policy file is put where the test wants it with `KAGI_POLICY_FILE`, which only debug
//! builds of the host honour (`host/src/policy.rs`): these tests run the debug binary that
//! `cargo test` builds.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use kagi_proto::ids::chrome_origin;
use kagi_proto::LoginToken;
use kagi_rig::{Host, Rig, VToken};
use serde_json::{json, Value};

const FOREIGN: &str = "https://evil.example";

/// pcscd + a virtual token in reader 0 that counts the APDUs it answers.
fn counted_token() -> (Rig, VToken) {
    let rig = Rig::start().expect("rig");
    let token = VToken::builder().reader(0).count_apdus(true).spawn().expect("virtual token");
    (rig, token)
}

fn apdus(token: &VToken) -> u64 {
    token.apdu_count().expect("APDU count").apdus
}

/// The host as Chrome starts it, with this policy file and log file.
fn host_with(policy: &Path, log: &Path) -> Host {
    let (p, l) = (policy.display().to_string(), log.display().to_string());
    Host::spawn_with(&[&chrome_origin()], &[("KAGI_POLICY_FILE", &p), ("KAGI_LOG_FILE", &l)]).expect("host")
}

fn code(r: &kagi_proto::Reply) -> String {
    error_code(r)["code"].as_str().unwrap_or_default().to_owned()
}

/// The messages of log lines (`<time> kagi-host[<pid>] <level>: <message>`), one per line.
fn messages(log: &str) -> String {
    log.lines().map(|l| l.split_once("] ").map_or(l, |(_, m)| m)).collect::<Vec<_>>().join("\n")
}

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let f = dir.join("policy.json");
    std::fs::write(&f, text).unwrap();
    f
}

#[test]
fn the_host_policy_lets_its_origin_sign_and_refuses_another_before_the_token() {
    let (_rig, token) = counted_token();
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), &format!(r#"{{"allowedOrigins": ["{ORIGIN}"]}}"#));
    let log = dir.path().join("host.log");
    let mut host = host_with(&policy, &log);
    // No origin, no signature: PIN management and status are served under a policy.
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    let ca = TestCa::new("Kagi Test CA");
    let (_, cert, _) = enroll(&mut host, &ca, "P-256", 1);
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().expect("the policy's origin logs on");
    verify_login(&login, ORIGIN, &n).expect("signature verifies");
    assert_eq!(login.certificate_der().unwrap(), cert);

    // Another origin, as a local program starting the host with the extension's argument would
    // ask: refused by the host itself, and the token sees nothing of it. The host answers a
    // log-on before it clears the PIN (`authenticate_then`), so a status request, which waits
    // for that clear, comes first: the count taken after it is settled.
    only_token(status_for(&mut host, &ca));
    let before = apdus(&token);
    let issuers = issuers(&ca);
    for req in [
        json!({"cmd": "authenticate", "origin": FOREIGN, "nonce": nonce().as_str(), "pin": PIN, "issuers": issuers}),
        json!({"cmd": "enroll.begin", "origin": FOREIGN, "pin": PIN, "algorithm": "P-256", "issuers": issuers}),
        json!({"cmd": "enroll.finish", "origin": FOREIGN, "certificate": b64(&cert)}),
        // The demo's loopback origin is not special under a policy.
        json!({"cmd": "authenticate", "origin": "http://127.0.0.1:8480", "nonce": nonce().as_str(), "pin": PIN, "issuers": issuers}),
    ] {
        let r = host.request(req.clone());
        assert_eq!(code(&r), "ORIGIN_NOT_ALLOWED", "{req}: {r:?}");
    }
    assert_eq!(apdus(&token), before, "the token saw an APDU for a refused origin");
    // The allowed origin still works afterwards, and the PIN was never tried for the others.
    let t = only_token(status_for(&mut host, &ca));
    assert_eq!(t.pin_retries, Some(3), "{t:?}");
    authenticate(&mut host, &ca, &nonce(), PIN).into_result::<LoginToken>().expect("still logs on");

    drop(host);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("1 allowed origin(s)"), "the policy is logged at start:\n{text}");
    assert!(text.contains("authenticate #") && text.contains("ORIGIN_NOT_ALLOWED"), "{text}");
    assert!(!text.contains("evil"), "the refused origin is a request value, not logged:\n{text}");
}

#[test]
fn an_unusable_policy_refuses_every_request() {
    let (_rig, token) = counted_token();
    let dir = tempfile::tempdir().unwrap();
    // A typo in the field name, a JSON error, an origin with a path: each fails closed.
    for text in [r#"{"allowedOrigin": ["https://bank.example"]}"#, r#"{"allowedOrigins": ["https://bank.example""#, r#"{"allowedOrigins": ["https://bank.example/"]}"#] {
        let policy = write_policy(dir.path(), text);
        let log = dir.path().join("host.log");
        let _ = std::fs::remove_file(&log);
        let mut host = host_with(&policy, &log);
        let before = apdus(&token);
        let ca = TestCa::new("Kagi Test CA");
        for req in [
            json!({"cmd": "status"}),
            json!({"cmd": "pin.change", "pin": FACTORY_PIN, "newPin": PIN}),
            json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": nonce().as_str(), "pin": PIN, "issuers": issuers(&ca)}),
        ] {
            let r = host.request(req.clone());
            assert_eq!(code(&r), "POLICY_INVALID", "{text} / {req}: {r:?}");
        }
        assert_eq!(apdus(&token), before, "{text}: the token saw an APDU");
        drop(host);
        let logged = std::fs::read_to_string(&log).unwrap();
        let line = logged.lines().find(|l| l.contains("error:") && l.contains("POLICY_INVALID")).unwrap_or_else(|| panic!("{text}: no log line:\n{logged}"));
        assert!(line.contains(&policy.display().to_string()), "the line names the file: {line}");
    }
}

/// Every way a request can bring a PIN the host must not keep: as a JSON number, malformed, under
/// a field the command does not know, as a command name, wrong on the token.
#[test]
fn no_pin_or_other_request_value_reaches_stderr_or_the_log_file() {
    let (_rig, _token) = counted_token();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("host.log");
    let mut host = host_with(&dir.path().join("no-policy.json"), &log);
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    let ca = TestCa::new("Kagi Test CA");
    let (_, _, _) = enroll(&mut host, &ca, "P-256", 1);
    let iss = issuers(&ca);
    let n = nonce();
    let cases: Vec<(Value, &str)> = vec![
        (json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": n.as_str(), "pin": 738291, "issuers": iss}), "BAD_REQUEST"),
        (json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": 738291, "algorithm": "P-256", "issuers": iss}), "BAD_REQUEST"),
        (json!({"cmd": "pin.change", "pin": [738291], "newPin": "738291"}), "BAD_REQUEST"),
        (json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": n.as_str(), "pin": "73829a", "issuers": iss}), "PIN_FORMAT"),
        (json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": n.as_str(), "pin": "738291738", "issuers": iss}), "PIN_FORMAT"),
        (json!({"cmd": "pin.change", "pin": PIN, "newPin": "73829"}), "PIN_FORMAT"),
        (json!({"cmd": "status", "pin": 738291}), "BAD_REQUEST"),
        (json!({"cmd": "status", "738291": true}), "BAD_REQUEST"),
        (json!({"cmd": "738291"}), "UNKNOWN_COMMAND"),
        (json!({"cmd": "authenticate", "origin": "https://738291.example/", "nonce": n.as_str(), "pin": PIN, "issuers": iss}), "ORIGIN_NOT_ALLOWED"),
        (json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": PIN, "algorithm": "P-738291", "issuers": iss}), "BAD_REQUEST"),
        // Well-formed and wrong: the token answers 63C2.
        (json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": n.as_str(), "pin": "738291", "issuers": iss}), "PIN_INCORRECT"),
    ];
    for (req, want) in &cases {
        let r = host.request(req.clone());
        assert_eq!(&code(&r), want, "{req}: {r:?}");
    }
    // Not JSON at all, with a PIN in it.
    host.send_frame(br#"{"id":99,"cmd":"authenticate","pin":738291"#).unwrap();
    let r = host.next_reply(None, std::time::Duration::from_secs(10)).expect("a reply to the broken frame");
    assert_eq!(code(&r), "BAD_REQUEST");
    // The customer's right PIN still works (and must not be logged either).
    authenticate(&mut host, &ca, &nonce(), PIN).into_result::<LoginToken>().expect("logs on");
    let stderr = host.stderr();
    drop(host);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.lines().count() >= cases.len(), "every refusal is logged:\n{logged}");
    for (name, text) in [("stderr", &stderr), ("log file", &logged)] {
        // The time and process id that open each line are digits too: look at the messages.
        let text = &messages(text);
        // (Not the factory PIN: the new-PIN rule names it in the host's own words.)
        for secret in ["738291", "73829", PIN] {
            assert!(!text.contains(secret), "{name} holds {secret}:\n{text}");
        }
        // What is logged instead: the code and the field's name.
        assert!(text.contains("BAD_REQUEST") && text.contains("`pin` must be a string, not a number"), "{name}:\n{text}");
        assert!(text.contains("PIN_FORMAT") && text.contains("PIN_INCORRECT"), "{name}:\n{text}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600, "the log is the customer's alone");
    }
}

#[cfg(unix)]
#[test]
fn the_log_file_is_never_written_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("someone-elses.txt");
    std::fs::write(&target, "theirs\n").unwrap();
    let link = dir.path().join("host.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mut host = host_with(&dir.path().join("no-policy.json"), &link);
    // A request that is logged (refused before any card is used).
    let r = host.request(json!({"cmd": "status", "extra": 1}));
    assert_eq!(code(&r), "BAD_REQUEST");
    let stderr = host.stderr();
    drop(host);
    assert!(stderr.contains("refused request"), "stderr still has the log:\n{stderr}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "theirs\n", "the link's target was written");
}
