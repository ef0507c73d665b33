//! The host driven as a browser drives it, against the virtual token on pcscd + vpcd.

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{ErrorCode, Event, LoginToken, ManagementKeyState, StatusResult};
use kagi_rig::{run_with_timeout, Host};
use serde_json::json;

#[test]
fn hello_then_status_shows_reader_and_empty_token() {
    let (_rig, token) = rig_with_token();
    let mut host = Host::spawn().unwrap();
    let hello = host.hello.clone().expect("hello");
    assert_eq!(hello.protocol, kagi_proto::PROTOCOL_VERSION);
    assert!(hello.capabilities.iter().any(|c| c == "enroll.begin"));
    assert!(hello.capabilities.iter().any(|c| c == "pin.unblock"));
    let s = status(&mut host);
    assert!(s.readers.iter().any(|r| r.name == token.reader() && r.token_present), "{s:?}");
    let t = only_token(s);
    assert_eq!(t.reader, token.reader());
    assert_eq!(t.guid.as_ref().map(|g| g.len()), Some(32), "CHUID GUID as hex");
    assert_eq!(t.pin_retries, Some(3));
    assert_eq!(t.management_key, ManagementKeyState::Factory, "a new token still has the factory key");
    assert!(t.certificate.is_none(), "fresh token has no certificate");
}

#[test]
fn enroll_p256_then_authenticate_and_opensc_reads_the_certificate() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (begin, cert, finish) = enroll(&mut host, &ca, "P-256", 1);
    assert_eq!(begin.slot, "82", "first acquisition goes to the first retired slot");
    let c = &finish.certificate;
    assert_eq!(c.slot, "82");
    assert_eq!(c.key_algorithm, "P-256");
    assert_eq!(c.subject.organizational_units, vec!["Kagi Test CA".to_string(), "IssuedCount=001".to_string()]);
    assert_eq!(c.subject.common_name.as_deref(), Some("SH001 SH001001 1898"));
    assert_eq!(c.serial.len(), 32, "16-byte serial as hex");
    assert_eq!(c.sha256, sha256_hex(&cert));

    // the bank's status now shows it as the login certificate; a status without issuers never
    // shows a certificate
    let t = only_token(status_for(&mut host, &ca));
    assert_eq!(t.certificate.unwrap().sha256, sha256_hex(&cert));
    assert_eq!(t.management_key, ManagementKeyState::PinProtected, "the first acquisition initialised the token");
    assert!(only_token(status(&mut host)).certificate.is_none());
    // another bank sees nothing of it
    assert!(only_token(status_for(&mut host, &TestCa::new("Kagi Test CA"))).certificate.is_none(), "same name, other key");

    // log on: the signature verifies with the certificate's key, bound to origin and nonce
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().expect("authenticate");
    assert_eq!(login.certificate_der().unwrap(), cert);
    assert_eq!(login.signature_bytes().unwrap().len(), 64);
    verify_login(&login, ORIGIN, &n).expect("signature verifies");
    assert!(verify_login(&login, "https://evil.example", &n).is_err(), "bound to the origin");
    assert!(verify_login(&login, ORIGIN, &nonce()).is_err(), "bound to the nonce");

    // an independent PIV client (OpenSC) finds the certificate on the token, byte for byte
    let list = run_with_timeout(
        std::process::Command::new("pkcs15-tool").args(["--list-certificates"]),
        Duration::from_secs(30),
    )
    .unwrap();
    assert!(list.stdout.contains("Retired Certificate for Key Management 1"), "{}\n{}", list.stdout, list.stderr);
    let read = run_with_timeout(
        std::process::Command::new("pkcs15-tool").args(["--read-certificate", "05"]),
        Duration::from_secs(30),
    )
    .unwrap();
    let pem: String = read.stdout.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(unb64(pem.trim()), cert, "pkcs15-tool --read-certificate 05:\n{}\n{}", read.stdout, read.stderr);
}

#[test]
fn enroll_rsa2048_then_authenticate() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (_, cert, finish) = enroll(&mut host, &ca, "RSA-2048", 1);
    assert_eq!(finish.certificate.key_algorithm, "RSA-2048");
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().expect("authenticate");
    assert_eq!(login.algorithm, kagi_proto::SignatureAlgorithm::RS256);
    assert_eq!(login.certificate_der().unwrap(), cert);
    verify_login(&login, ORIGIN, &n).expect("RS256 signature verifies");
}

#[test]
fn renewal_keeps_the_old_certificate_until_the_new_one_is_stored() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (_, old, _) = enroll(&mut host, &ca, "P-256", 1);

    // renewal begins: a new key in another slot; the old certificate still logs on
    let begin: kagi_proto::EnrollBeginResult = enroll_begin(&mut host, &ca, "P-256").into_result().unwrap();
    assert_eq!(begin.slot, "83");
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), old);
    verify_login(&login, ORIGIN, &n).unwrap();

    // a certificate for another key is refused and changes nothing
    let other_ca_cert = {
        let mut second = Host::spawn().unwrap();
        let other: kagi_proto::EnrollBeginResult = enroll_begin(&mut second, &ca, "P-256").into_result().unwrap();
        ca.issue(&other.csr, 9, 0, 365)
    };
    let r = enroll_finish(&mut host, &other_ca_cert);
    assert_eq!(r.error.unwrap().code, ErrorCode::CertMismatch);
    let login: LoginToken = authenticate(&mut host, &ca, &nonce(), PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), old, "old certificate still active after a mismatch");
}

#[test]
fn cert_mismatch_is_refused_and_the_acquisition_can_be_completed() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let begin: kagi_proto::EnrollBeginResult = enroll_begin(&mut host, &ca, "P-256").into_result().unwrap();
    // a certificate for the wrong key (a CSR from a different key pair)
    let foreign = {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = rcgen::CertificateParams::default().serialize_request(&key).unwrap();
        ca.issue(&b64(csr.der()), 1, 0, 365)
    };
    assert_eq!(enroll_finish(&mut host, &foreign).error.unwrap().code, ErrorCode::CertMismatch);
    // not a certificate at all
    let r = enroll_finish(&mut host, b"garbage");
    assert_eq!(r.error.unwrap().code, ErrorCode::BadRequest);
    // the right certificate still completes it
    let right = ca.issue(&begin.csr, 1, 0, 365);
    let done: kagi_proto::EnrollFinishResult = enroll_finish(&mut host, &right).into_result().unwrap();
    assert_eq!(done.certificate.sha256, sha256_hex(&right));
    // and a second finish has nothing to finish
    assert_eq!(enroll_finish(&mut host, &right).error.unwrap().code, ErrorCode::NoEnrollment);
}

#[test]
fn newest_valid_certificate_is_the_active_one() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (_, first, _) = enroll(&mut host, &ca, "P-256", 1);
    // a certificate that is not valid yet does not replace the valid one
    let begin: kagi_proto::EnrollBeginResult = enroll_begin(&mut host, &ca, "P-256").into_result().unwrap();
    let future = ca.issue(&begin.csr, 2, 30, 365);
    let _: kagi_proto::EnrollFinishResult = enroll_finish(&mut host, &future).into_result().unwrap();
    let s: StatusResult = status_for(&mut host, &ca);
    assert_eq!(only_token(s).certificate.unwrap().sha256, sha256_hex(&first));
    // a valid newer one does
    let (_, third, _) = enroll(&mut host, &ca, "P-256", 3);
    let s: StatusResult = status_for(&mut host, &ca);
    assert_eq!(only_token(s).certificate.unwrap().sha256, sha256_hex(&third));
}

#[test]
fn superseded_certificates_of_the_bank_are_reused_and_nothing_else() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (b1, _, _) = enroll(&mut host, &ca, "P-256", 1);
    let (b2, second, _) = enroll(&mut host, &ca, "P-256", 2);
    assert_eq!((b1.slot.as_str(), b2.slot.as_str()), ("82", "83"));
    // the third key replaces the superseded first certificate, never the login one
    let (b3, third, _) = enroll(&mut host, &ca, "RSA-2048", 3);
    assert_eq!(b3.slot, "82");
    let t = only_token(status_for(&mut host, &ca));
    assert_eq!(t.certificate.unwrap().sha256, sha256_hex(&third));
    // the next goes over the now superseded second one
    let (b4, _, _) = enroll(&mut host, &ca, "P-256", 4);
    assert_eq!(b4.slot, "83");
    let _ = second;
}

#[test]
fn wrong_pin_reports_retries_then_blocks_and_the_puk_unblocks() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    enroll(&mut host, &ca, "P-256", 1);
    let n = nonce();
    let r = authenticate(&mut host, &ca, &n, "000000");
    assert_eq!(r.error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    assert_eq!(only_token(status(&mut host)).pin_retries, Some(2));
    let r = authenticate(&mut host, &ca, &n, "000000");
    assert_eq!(r.error.unwrap().code, ErrorCode::PinIncorrect { retries: 1 });
    // a right PIN resets the counter
    let ok: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    verify_login(&ok, ORIGIN, &n).unwrap();
    assert_eq!(only_token(status(&mut host)).pin_retries, Some(3));
    for left in [2, 1] {
        assert_eq!(authenticate(&mut host, &ca, &n, "999999").error.unwrap().code, ErrorCode::PinIncorrect { retries: left });
    }
    assert_eq!(authenticate(&mut host, &ca, &n, "999999").error.unwrap().code, ErrorCode::PinBlocked);
    assert_eq!(authenticate(&mut host, &ca, &n, PIN).error.unwrap().code, ErrorCode::PinBlocked, "blocked even with the right PIN");
    assert_eq!(change_pin(&mut host, PIN, "271828").error.unwrap().code, ErrorCode::PinBlocked);
    // nothing was sent to the token for a badly formed PIN
    assert_eq!(authenticate(&mut host, &ca, &n, "12ab").error.unwrap().code, ErrorCode::PinFormat);

    // the PUK unblocks it with a new PIN; a wrong PUK counts down
    assert_eq!(unblock_pin(&mut host, "87654321", "271828").error.unwrap().code, ErrorCode::PukIncorrect { retries: 2 });
    assert_eq!(unblock_pin(&mut host, PUK, "111111").error.unwrap().code, ErrorCode::PinWeak, "refused before the token");
    let done: kagi_proto::PinResult = unblock_pin(&mut host, PUK, "271828").into_result().unwrap();
    assert_eq!(done.reader, kagi_rig::READER_0);
    assert_eq!(authenticate(&mut host, &ca, &n, PIN).error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    let ok: LoginToken = authenticate(&mut host, &ca, &n, "271828").into_result().unwrap();
    verify_login(&ok, ORIGIN, &n).unwrap();
}

#[test]
fn puk_blocks_after_its_tries() {
    let (_rig, _token, mut host) = customer_token();
    for left in [2, 1] {
        assert_eq!(unblock_pin(&mut host, "87654321", "271828").error.unwrap().code, ErrorCode::PukIncorrect { retries: left });
    }
    assert_eq!(unblock_pin(&mut host, "87654321", "271828").error.unwrap().code, ErrorCode::PukBlocked);
    assert_eq!(unblock_pin(&mut host, PUK, "271828").error.unwrap().code, ErrorCode::PukBlocked);
    // the PIN itself still works
    let done: kagi_proto::PinResult = change_pin(&mut host, PIN, "271828").into_result().unwrap();
    assert_eq!(done.reader, kagi_rig::READER_0);
}

#[test]
fn pin_change_then_log_on_with_the_new_pin() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    enroll(&mut host, &ca, "P-256", 1);
    for (bad, code) in [("123456", ErrorCode::PinWeak), ("777777", ErrorCode::PinWeak), ("12345", ErrorCode::PinFormat)] {
        assert_eq!(change_pin(&mut host, PIN, bad).error.unwrap().code, code, "{bad}");
    }
    assert_eq!(change_pin(&mut host, "000000", "271828").error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    let _: kagi_proto::PinResult = change_pin(&mut host, PIN, "27182818").into_result().unwrap();
    let n = nonce();
    assert_eq!(authenticate(&mut host, &ca, &n, PIN).error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    let ok: LoginToken = authenticate(&mut host, &ca, &n, "27182818").into_result().unwrap();
    verify_login(&ok, ORIGIN, &n).unwrap();
}

#[test]
fn first_acquisition_on_the_factory_pin_asks_for_a_new_pin_before_writing() {
    let (_rig, token) = rig_with_token();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    let before = std::fs::read(token.state_path()).unwrap();
    let begin = |host: &mut Host, extra: serde_json::Value| {
        let mut req = json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": FACTORY_PIN, "algorithm": "P-256", "issuers": issuers(&ca)});
        req.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        host.request(req)
    };
    assert_eq!(begin(&mut host, json!({})).error.unwrap().code, ErrorCode::PinChangeRequired);
    assert_eq!(std::fs::read(token.state_path()).unwrap(), before, "nothing written to the token");
    assert_eq!(begin(&mut host, json!({"newPin": "123456"})).error.unwrap().code, ErrorCode::PinWeak);
    let b: kagi_proto::EnrollBeginResult = begin(&mut host, json!({"newPin": PIN})).into_result().unwrap();
    let cert = ca.issue(&b.csr, 1, 0, 365);
    let _: kagi_proto::EnrollFinishResult = enroll_finish(&mut host, &cert).into_result().unwrap();
    let n = nonce();
    assert_eq!(authenticate(&mut host, &ca, &n, FACTORY_PIN).error.unwrap().code, ErrorCode::PinIncorrect { retries: 2 });
    let ok: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    verify_login(&ok, ORIGIN, &n).unwrap();
}

#[test]
fn authenticate_without_certificate_is_no_certificate() {
    let (_rig, _token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    assert_eq!(authenticate(&mut host, &ca, &nonce(), PIN).error.unwrap().code, ErrorCode::NoCertificate);
}

#[test]
fn requests_without_issuers_or_with_bad_ones_are_refused() {
    let (_rig, _token, mut host) = customer_token();
    let n = nonce();
    let r = host.request(json!({"cmd": "authenticate", "origin": ORIGIN, "nonce": n.as_str(), "pin": PIN}));
    assert_eq!(r.error.unwrap().code, ErrorCode::BadRequest);
    let r = host.request(json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": PIN, "algorithm": "P-256"}));
    assert_eq!(r.error.unwrap().code, ErrorCode::BadRequest);
    let r = host.request(json!({"cmd": "status", "issuers": ["MAMCAQA="]}));
    let e = r.error.unwrap();
    assert_eq!(e.code, ErrorCode::BadRequest);
    assert!(e.message.contains("issuers[0]"), "{}", e.message);
    // the host keeps serving
    assert_eq!(only_token(status(&mut host)).pin_retries, Some(3));
}

#[test]
fn insert_and_remove_events_and_token_absent() {
    let (_rig, mut token) = rig_with_token();
    let mut host = Host::spawn().unwrap();
    let reader = token.reader().to_string();
    // The watcher announces what is present when it starts.
    let e = host.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Inserted { .. })).expect("initial inserted");
    assert_eq!(e, Event::Inserted { reader: reader.clone() }, "presence and reader only");

    token.pull().unwrap();
    let e = host.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Removed { .. })).expect("removed");
    assert_eq!(e, Event::Removed { reader: reader.clone() });
    let s = status(&mut host);
    assert!(s.tokens.is_empty());
    let ca = TestCa::new("Kagi Test CA");
    assert_eq!(authenticate(&mut host, &ca, &nonce(), PIN).error.unwrap().code, ErrorCode::TokenAbsent);

    token.plug().unwrap();
    let e = host.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Inserted { .. })).expect("inserted again");
    assert_eq!(e, Event::Inserted { reader });
    assert_eq!(only_token(status(&mut host)).pin_retries, Some(3));
}

#[test]
fn state_survives_a_token_restart() {
    let (_rig, mut token, mut host) = customer_token();
    let ca = TestCa::new("Kagi Test CA");
    let (_, cert, _) = enroll(&mut host, &ca, "P-256", 1);
    token.pull().unwrap();
    token.plug().unwrap();
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().unwrap();
    assert_eq!(login.certificate_der().unwrap(), cert);
    verify_login(&login, ORIGIN, &n).unwrap();
}

#[test]
fn origin_is_checked_by_the_host_too() {
    let (_rig, _token) = rig_with_token();
    let mut host = Host::spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    for origin in ["http://bank.example", "https://bank.example/path", "chrome-extension://x"] {
        let r = host.request(json!({"cmd":"authenticate","origin":origin,"nonce":nonce().as_str(),"pin":PIN,"issuers":issuers(&ca)}));
        assert_eq!(r.error.unwrap().code, ErrorCode::OriginNotAllowed, "{origin}");
    }
}
