//! Faults around the token: pcscd crashing under a running host, the readers disappearing, the
//! browser closing the port in the middle of a card operation.
//!
//! These tests kill and restart pcscd, so they need one of their own. When a pcscd the rig did
//! not start is running (a desktop's system service), they report themselves skipped
//! (`kagi-skip`, counted by the test command, which fails a CI run with skips).

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{ErrorCode, Event, LoginToken};
use kagi_rig::{Host, Rig, VToken};

const EVENT_WAIT: Duration = Duration::from_secs(15);

fn owned_rig(test: &str) -> Option<Rig> {
    match Rig::start_owned() {
        Ok(r) => Some(r),
        Err(e) => {
            kagi_rig::skip(&format!("service_faults::{test}"), &format!("needs a pcscd of its own: {e}"));
            None
        }
    }
}

#[test]
fn pcscd_crash_is_reported_and_the_host_recovers_without_restarting() {
    let Some(mut rig) = owned_rig("pcscd_crash_is_reported_and_the_host_recovers_without_restarting") else { return };
    let token = VToken::builder().reader(0).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().unwrap();
    let (_, cert, _) = enroll(&mut host, &ca, "P-256", 1);
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { .. })).expect("initial inserted");

    rig.pcscd.kill().unwrap();
    host.wait_event(EVENT_WAIT, |e| *e == Event::PcscUnavailable).expect("pcscUnavailable event");
    let r = host.request(serde_json::json!({"cmd":"status"}));
    assert_eq!(r.error.expect("status fails").code, ErrorCode::PcscUnavailable);
    assert_eq!(authenticate(&mut host, &ca, &nonce(), PIN).error.unwrap().code, ErrorCode::PcscUnavailable);

    rig.pcscd.start().unwrap();
    host.wait_event(EVENT_WAIT, |e| *e == Event::PcscAvailable).expect("pcscAvailable event");
    // The virtual token reconnects to the new vpcd by itself, like a token still plugged in.
    let reader = token.reader().to_string();
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r, .. } if *r == reader)).expect("inserted again");
    let n = nonce();
    let login: LoginToken = authenticate(&mut host, &ca, &n, PIN).into_result().expect("log-on after recovery");
    assert_eq!(login.certificate_der().unwrap(), cert);
    verify_login(&login, ORIGIN, &n).unwrap();
}

#[test]
fn readers_unplugged_and_back() {
    let Some(mut rig) = owned_rig("readers_unplugged_and_back") else { return };
    let token = VToken::builder().reader(0).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { .. })).expect("initial inserted");

    // Readers gone (vpcd's readers can only go with a pcscd restart).
    rig.pcscd.stop().unwrap();
    rig.pcscd.set_readers_unplugged(true).unwrap();
    rig.pcscd.start().unwrap();
    host.wait_event(EVENT_WAIT, |e| *e == Event::PcscAvailable).expect("service back");
    let s = status(&mut host);
    assert!(s.readers.is_empty(), "{s:?}");
    assert!(s.tokens.is_empty());
    let ca = TestCa::new("Kagi Test CA");
    assert_eq!(authenticate(&mut host, &ca, &nonce(), PIN).error.unwrap().code, ErrorCode::NoReader);

    // Readers back, token still inserted.
    rig.pcscd.stop().unwrap();
    rig.pcscd.set_readers_unplugged(false).unwrap();
    rig.pcscd.start().unwrap();
    let reader = token.reader().to_string();
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::ReaderAdded { reader: r } if *r == reader)).expect("readerAdded");
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r, .. } if *r == reader)).expect("inserted");
    assert_eq!(status(&mut host).tokens.len(), 1);
}

#[test]
fn browser_closing_the_port_mid_request_leaves_the_card_clean() {
    let _rig = Rig::start().unwrap();
    // Key generation takes 1.5 s on this token: the port closes while it runs.
    let _token = VToken::builder().reader(0).delay_ms(1500).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    host.send_request(serde_json::json!({"cmd":"enroll.begin","origin":ORIGIN,"pin":FACTORY_PIN,"newPin":PIN,"algorithm":"P-256","issuers":issuers(&ca)}));
    std::thread::sleep(Duration::from_millis(300));
    let st = host.close(Duration::from_secs(20)).expect("host exits after the port closes");
    assert!(st.success(), "{st:?}\n{}", host.stderr());

    // Another connection gets the card at once, and the PIN is not left verified.
    let mut next = Host::spawn().unwrap();
    let s = status(&mut next);
    assert_eq!(only_token(s).pin_retries, Some(3), "card was reset: PIN not verified");
}
