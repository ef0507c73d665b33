//! A token pulled in the middle of each kind of operation and plugged back in at once, as a
//! customer fumbling with the USB port does: one long-running host must see the new token every
//! time — an `inserted` event, then a status and a log-on that work — without the rig ever
//! replugging a token that pcscd did not report (issue 14).
//!
//! The bug this guards against: a host that resets (SCARD_RESET_CARD) a handle whose card was
//! pulled can leave vpcd's reader "no card" for good, even for the token plugged in right after
//! the `CARD_REMOVED` reply. The rig's replug (`VToken::plug`) would cover for it; here the
//! token is plugged back with [`VToken::plug_at_once`], which never replugs.

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{ErrorCode, Event, LoginToken, Reply};
use kagi_rig::{replug_count, wait_card_state, Host, Rig, VToken};
use serde_json::json;

/// The customer's second PIN: the PIN-change runs alternate between [`PIN`] and this one.
const PIN2: &str = "739164";

/// How long after a reply the armed pull may still come (the log-on answers before it clears
/// the PIN, so its last APDUs follow the reply).
const CUT_GRACE: Duration = Duration::from_millis(300);
/// How long the host may take to announce the new token (pcscd polls vpcd every ~0.4 s).
const EVENT_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    LogOn,
    Status,
    EnrollBegin,
    EnrollFinish,
    PinChange,
}

struct Run<'a> {
    host: Host,
    token: VToken,
    ca: &'a TestCa,
    /// The certificate the pending acquisition gets (for `EnrollFinish`).
    issued: Option<Vec<u8>>,
    /// Cut runs so far, by operation and APDU count.
    cuts: Vec<(Op, u64)>,
}

impl Run<'_> {
    /// The PIN the token holds now, read from its state file (not from the host).
    fn current_pin(&self) -> String {
        self.token.contents().expect("token state").pin
    }

    fn send(&mut self, op: Op) -> Reply {
        let pin = self.current_pin();
        match op {
            Op::LogOn => authenticate(&mut self.host, self.ca, &nonce(), &pin),
            Op::Status => self.host.request(json!({"cmd": "status", "issuers": issuers(self.ca)})),
            Op::EnrollBegin => self.host.request(
                json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": pin, "algorithm": "P-256", "issuers": issuers(self.ca)}),
            ),
            Op::EnrollFinish => {
                let cert = self.issued.clone().expect("an acquisition was begun");
                enroll_finish(&mut self.host, &cert)
            }
            Op::PinChange => {
                let new = if pin == PIN { PIN2 } else { PIN };
                change_pin(&mut self.host, &pin, new)
            }
        }
    }

    /// Arms a pull after `n` APDUs of `op`, runs `op`, and if the token was cut, plugs it back
    /// in at once and checks the host sees it. Returns whether the run was cut (false: `op`
    /// needed fewer than `n + 1` APDUs and completed).
    fn cut(&mut self, op: Op, n: u64) -> bool {
        self.host.clear_events();
        self.token.arm_fail_after(n).expect("arm the pull");
        let reply = self.send(op);
        let cut = self.token.wait_exit(CUT_GRACE).expect("token process").is_some();
        if !cut {
            self.token.disarm().expect("disarm");
            if let Some(e) = &reply.error {
                panic!("{op:?} uncut at n={n} failed: {e:?}");
            }
            if op == Op::EnrollBegin {
                self.issue_pending(reply);
            }
            return false;
        }
        // Plugged back in the moment pcscd reports the reader empty, with no settling time.
        // (Not earlier: vpcd notices a pull only at pcscd's next poll, ~0.4 s, and a card that
        // connects before it is taken for the old one, with no removal at all, which no real
        // token can do: a pulled USB token is gone from the bus before it can come back.)
        let reader = self.token.reader();
        wait_card_state(reader, false, EVENT_WAIT)
            .unwrap_or_else(|e| panic!("{op:?} cut at n={n}: pcscd did not report the pull: {e}"));
        self.token.plug_at_once().unwrap_or_else(|e| {
            panic!("{op:?} cut at n={n}: the new token is not seen by pcscd: {e}\nhost log:\n{}", self.host.stderr())
        });
        if let Some(e) = &reply.error {
            assert!(
                matches!(e.code, ErrorCode::CardRemoved | ErrorCode::TokenAbsent | ErrorCode::Internal | ErrorCode::NotPiv),
                "{op:?} cut at n={n}: unexpected error {e:?}"
            );
        } else if op == Op::EnrollBegin {
            self.issue_pending(reply);
        }
        let reader = self.token.reader().to_string();
        self.host
            .wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r } if *r == reader))
            .unwrap_or_else(|| panic!("{op:?} cut at n={n}: no inserted event\nhost log:\n{}", self.host.stderr()));
        self.check_works(&format!("{op:?} cut at n={n}"));
        self.cuts.push((op, n));
        true
    }

    /// The acquisition `reply` began: the certificate its finish will store.
    fn issue_pending(&mut self, reply: Reply) {
        let begin: kagi_proto::EnrollBeginResult = reply.into_result().expect("enroll.begin result");
        self.issued = Some(self.ca.issue(&begin.csr, 2, 0, 365));
    }

    /// A status shows the token with no PIN try lost, and a log-on with the token's PIN verifies.
    fn check_works(&mut self, what: &str) {
        let t = only_token(status_for(&mut self.host, self.ca));
        assert_eq!(t.reader, self.token.reader(), "{what}");
        assert_eq!(t.pin_retries, Some(3), "{what}: a pull costs no PIN try");
        assert!(t.certificate.is_some(), "{what}: the bank's certificate is still there");
        let pin = self.current_pin();
        let n = nonce();
        let login: LoginToken = authenticate(&mut self.host, self.ca, &n, &pin)
            .into_result()
            .unwrap_or_else(|e| panic!("{what}: log-on after the replug: {e:?}\nhost log:\n{}", self.host.stderr()));
        verify_login(&login, ORIGIN, &n).unwrap_or_else(|e| panic!("{what}: login does not verify: {e}"));
    }

    /// Cuts `op` after 0, `step`, 2×`step`, … APDUs until it completes uncut (with step 1:
    /// every one of its APDUs had a pull) or `max` runs were cut.
    fn sweep(&mut self, op: Op, step: u64, max: usize) {
        let mut n = 0;
        let mut cut = 0;
        while cut < max && self.cut(op, n) {
            cut += 1;
            n += step;
        }
        assert!(cut > 0, "{op:?}: no run was cut");
    }
}

#[test]
fn token_pulled_mid_operation_and_plugged_back_at_once_is_seen_every_time() {
    let _rig = Rig::start().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let token = VToken::builder().reader(0).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    enroll(&mut host, &ca, "P-256", 1);
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { .. })).expect("initial inserted");
    let replugs_before = replug_count();

    let mut run = Run { host, token, ca: &ca, issued: None, cuts: Vec::new() };
    // Every APDU of each operation (on a warm cache, as a running host sees them).
    run.sweep(Op::LogOn, 1, 40);
    run.sweep(Op::Status, 1, 40);
    run.sweep(Op::EnrollBegin, 1, 40);
    // A fresh acquisition for the finish runs (the last begin run may have been cut).
    let begun = run.send(Op::EnrollBegin);
    run.issue_pending(begun);
    run.sweep(Op::EnrollFinish, 1, 40);
    run.sweep(Op::PinChange, 1, 40);

    eprintln!("cut runs: {:?}", run.cuts);
    assert!(run.cuts.len() >= 20, "at least 20 pulls: {:?}", run.cuts);
    for op in [Op::LogOn, Op::Status, Op::EnrollBegin, Op::EnrollFinish, Op::PinChange] {
        assert!(run.cuts.iter().any(|(o, _)| *o == op), "{op:?} was cut: {:?}", run.cuts);
    }
    assert_eq!(replug_count(), replugs_before, "the rig never had to replug the token");
}
