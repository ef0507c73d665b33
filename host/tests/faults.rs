//! A token pulled in the middle of an acquisition: whatever the moment, the host answers with a
//! typed error and keeps running, and afterwards the token logs on with the old certificate or
//! with the new one (never with a broken pair).

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{ErrorCode, LoginToken, StatusResult};
use kagi_rig::{Host, Rig, VToken};

#[test]
fn token_pulled_at_any_point_of_an_acquisition_loses_nothing() {
    let _rig = Rig::start().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    // The token with its first certificate; its state file is reused by the faulty runs below.
    let mut original = VToken::builder().reader(0).spawn().unwrap();
    let state = original.state_path().to_path_buf();
    let old = {
        let mut host = Host::spawn().unwrap();
        change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().unwrap();
        enroll(&mut host, &ca, "P-256", 1).1
    };
    original.pull().unwrap();

    let mut outcomes = Vec::new();
    // Cut the connection after N APDUs, over the whole begin + finish sequence.
    for n in (2..=240).step_by(2) {
        // Token first, then the host, which reads the token once when it starts watching: the
        // APDU count up to the acquisition is the same in every run.
        let mut faulty = VToken::builder().reader(0).state(&state).fail_after(n).spawn().unwrap();
        let mut host = Host::spawn().unwrap();
        host.wait_event(Duration::from_secs(10), |e| matches!(e, kagi_proto::Event::Inserted { .. })).expect("inserted");
        let begin = enroll_begin(&mut host, &ca, "P-256");
        let finished = match begin.into_result::<kagi_proto::EnrollBeginResult>() {
            Ok(b) => {
                let cert = ca.issue(&b.csr, 2, 0, 365);
                match enroll_finish(&mut host, &cert).into_result::<kagi_proto::EnrollFinishResult>() {
                    Ok(_) => Some(cert),
                    Err(e) => {
                        assert_pulled_error(&e.code, n);
                        None
                    }
                }
            }
            Err(e) => {
                assert_pulled_error(&e.code, n);
                None
            }
        };
        let cut = faulty.wait_exit(Duration::from_millis(200)).unwrap().is_some();
        faulty.pull().unwrap();
        drop(faulty);
        // vpcd notices a dropped card only at its next poll (~0.4 s); let it settle before the
        // same reader gets a new connection.
        std::thread::sleep(Duration::from_millis(1000));

        eprintln!("n={n}: cut={cut} finished={}", finished.is_some());
        // Plug the token back in (healthy) and log on.
        let mut healthy = VToken::builder().reader(0).state(&state).spawn().unwrap();
        // Audited from the token's own state: no key is left without a certificate beside it
        // (a key nobody may reuse would use the token up, one slot per pull).
        let c = healthy.contents().unwrap();
        for slot in c.keys.keys() {
            assert!(c.certificate(*slot).is_some(), "n={n}: key in {slot:02X} without a certificate; keys {:02X?}", c.keys.keys());
        }
        let s: StatusResult = status_for(&mut host, &ca);
        let active = only_token(s).certificate.expect("a certificate is still active");
        let nonce = nonce();
        let login: LoginToken = authenticate(&mut host, &ca, &nonce, PIN).into_result().unwrap_or_else(|e| panic!("n={n}: {e:?}"));
        verify_login(&login, ORIGIN, &nonce).unwrap_or_else(|e| panic!("n={n}: login does not verify: {e}"));
        let used = login.certificate_der().unwrap();
        match &finished {
            Some(new) => assert_eq!(&used, new, "n={n}: a stored certificate becomes the active one"),
            None => assert!(used == old || active.sha256 != sha256_hex(&old), "n={n}: old certificate active"),
        }
        outcomes.push((n, cut, finished.is_some()));
        if finished.is_some() && !cut {
            break; // the whole sequence fitted in n APDUs: every cut point has been tried
        }
        healthy.pull().unwrap();
    }
    assert!(outcomes.iter().any(|(_, cut, done)| *cut && !done), "some runs were cut: {outcomes:?}");
    assert!(outcomes.iter().any(|(_, _, done)| *done), "the last run completed: {outcomes:?}");
}

fn assert_pulled_error(code: &ErrorCode, n: u64) {
    assert!(
        matches!(code, ErrorCode::CardRemoved | ErrorCode::TokenAbsent | ErrorCode::Internal | ErrorCode::NotPiv),
        "n={n}: unexpected error {code:?}"
    );
}
