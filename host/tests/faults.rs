//! A token pulled at every APDU of an operation, while one host keeps running: a P-256 and an
//! RSA-2048 acquisition (begin and finish), a log-on and a PIN change, each cut at every one of
//! its APDUs in two ways a real pull can happen: before the card executes the APDU, and after it
//! did but before its answer arrives (the card wrote; the host never learns).
//!
//! After each cut the token is audited from its own state file, independently of the host: every
//! key sits beside a certificate (placeholder or real: no orphan key Kagi would not reuse), PIN and
//! PUK tries are untouched, and the bank's login certificate is still there (the old one, or the
//! new one when the cut came after it was written). Then the token is plugged back at once, the
//! host announces it, the operation is retried and succeeds, and a log-on verifies with the
//! expected certificate. The log-on and the PIN change are also swept with a power loss inside
//! each APDU (the virtual token keeps what a real one commits: one PIN try spent inside a PIN
//! check, nothing else), audited likewise with that try spent, and the retry's right PIN restores
//! the tries. Coverage is asserted: every APDU position of every operation was cut in
//! both ways, and some cut fell inside a chained PUT DATA (the certificate being written). At the
//! end yubico-piv-tool, as a second independent witness, signs with the login certificate's key.
//!
//! A second test cuts the first-use initialisation (factory management key → a key stored behind
//! the PIN) at every APDU, both ways, and audits that the token stays usable.

mod common;

use std::time::Duration;

use common::*;
use kagi_proto::{EnrollBeginResult, ErrorCode, Event, LoginToken, Reply};
use kagi_rig::tools::{said, ykpiv};
use kagi_rig::{replug_count, wait_card_state, Host, Rig, VToken};
use serde_json::json;

/// How long after a reply the armed cut may still come (the log-on answers before it clears the
/// PIN, so its last APDUs follow the reply).
const CUT_GRACE: Duration = Duration::from_millis(300);
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// The PIN-change runs alternate between [`PIN`] and this one.
const PIN2: &str = "739164";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The card never executes the APDU (`fail-after`).
    Before,
    /// The card executes it; the answer is lost (`drop-after`).
    After,
    /// Power fails while the card executes it (`power-loss`): only what a real token commits
    /// first survives; for Kagi's operations that is a PIN try spent by a VERIFY or CHANGE
    /// REFERENCE DATA in progress (tests/virtual-token/README.md, *Power loss*).
    PowerLoss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Begin(&'static str),
    Finish(&'static str),
    LogOn,
    PinChange,
}

struct Bench<'a> {
    host: Host,
    token: VToken,
    ca: &'a TestCa,
    /// Certificates issued so far: each one starts a day later than the one before, so the
    /// newest is the login certificate and the older ones are superseded (their slots reused).
    issued: u32,
    /// The bank's login certificate now.
    login: Vec<u8>,
    /// The certificate for the acquisition begun and not yet finished.
    pending: Option<Vec<u8>>,
    /// Cuts made: operation, mode, APDU position.
    cuts: Vec<(Op, Mode, u64)>,
}

impl Bench<'_> {
    fn pin(&self) -> String {
        self.token.contents().expect("token state").pin
    }

    fn issue(&mut self, begin: &EnrollBeginResult) -> Vec<u8> {
        self.issued += 1;
        let start = i64::from(self.issued) - 1000;
        self.ca.issue(&begin.csr, self.issued, start, 3000)
    }

    fn send(&mut self, op: Op) -> Reply {
        let pin = self.pin();
        match op {
            Op::Begin(alg) => self.host.request(
                json!({"cmd": "enroll.begin", "origin": ORIGIN, "pin": pin, "algorithm": alg, "issuers": issuers(self.ca)}),
            ),
            Op::Finish(_) => {
                let cert = self.pending.clone().expect("an acquisition was begun");
                enroll_finish(&mut self.host, &cert)
            }
            Op::LogOn => authenticate(&mut self.host, self.ca, &nonce(), &pin),
            Op::PinChange => change_pin(&mut self.host, &pin, if pin == PIN { PIN2 } else { PIN }),
        }
    }

    /// Takes a successful reply of `op` into account.
    fn succeeded(&mut self, op: Op, reply: Reply) {
        match op {
            Op::Begin(_) => {
                let begin: EnrollBeginResult = reply.into_result().expect("enroll.begin result");
                self.pending = Some(self.issue(&begin));
            }
            Op::Finish(_) => {
                reply.into_result::<kagi_proto::EnrollFinishResult>().expect("enroll.finish result");
                self.login = self.pending.take().expect("pending");
            }
            Op::LogOn | Op::PinChange => {}
        }
    }

    /// Runs `op` without a cut, expecting success.
    fn run(&mut self, op: Op) {
        let r = self.send(op);
        if let Some(e) = &r.error {
            panic!("{op:?}: {e:?}\nhost log:\n{}", self.host.stderr());
        }
        self.succeeded(op, r);
    }

    /// What must hold right after a cut, read from the token's state file (not through the host).
    /// `pin_tries`: the PIN tries left the cut may leave (3, or 2 after a power loss inside a PIN
    /// check).
    fn audit(&self, what: &str, pin_tries: u8) {
        let c = self.token.contents().expect("token state");
        for slot in c.keys.keys() {
            assert!(c.certificate(*slot).is_some(), "{what}: key in {slot:02X} without a certificate beside it");
        }
        assert_eq!((c.pin_retries_left, c.puk_retries_left), (pin_tries, 3), "{what}: PIN and PUK tries after the cut");
        let on_token = |der: &[u8]| c.keys.keys().any(|s| c.certificate(*s).as_deref() == Some(der));
        assert!(
            on_token(&self.login) || self.pending.as_deref().is_some_and(on_token),
            "{what}: neither the old nor the new login certificate is on the token"
        );
    }

    /// Cuts `op` at APDU `n` in `mode`, audits, plugs the token back at once, retries until the
    /// operation is done and checks a log-on. False when `op` completed before APDU `n`.
    fn cut(&mut self, op: Op, mode: Mode, n: u64) -> bool {
        if let Op::Finish(alg) = op {
            self.run(Op::Begin(alg));
        }
        let what = format!("{op:?} cut {mode:?} APDU {n}");
        let pin_before = self.pin();
        self.host.clear_events();
        match mode {
            Mode::Before => self.token.arm_fail_after(n),
            Mode::After => self.token.arm_drop_after(n),
            Mode::PowerLoss => self.token.arm_power_loss(n),
        }
        .expect("arm the cut");
        let reply = self.send(op);
        let cut = self.token.wait_exit(CUT_GRACE).expect("token process").is_some();
        if !cut {
            self.token.disarm().expect("disarm");
            self.succeeded(op, reply);
            if let Op::Begin(alg) = op {
                self.run(Op::Finish(alg));
            }
            return false;
        }
        match &reply.error {
            Some(e) => assert!(
                matches!(e.code, ErrorCode::CardRemoved | ErrorCode::TokenAbsent | ErrorCode::Internal | ErrorCode::NotPiv),
                "{what}: unexpected error {e:?}"
            ),
            None => self.succeeded(op, reply.clone()),
        }
        // The token's log says what its power loss kept; the state file must show just that.
        let spent = mode == Mode::PowerLoss
            && self.token.log().lines().rev().find(|l| l.contains("armed cut")).is_some_and(|l| l.contains("a PIN try spent"));
        self.audit(&what, if spent { 2 } else { 3 });

        // Plugged back the moment pcscd reports the reader empty (see host/tests/replug.rs).
        wait_card_state(self.token.reader(), false, EVENT_WAIT).unwrap_or_else(|e| panic!("{what}: pull not seen: {e}"));
        self.token.plug_at_once().unwrap_or_else(|e| panic!("{what}: the token is not seen again: {e}\n{}", self.host.stderr()));
        let reader = self.token.reader().to_string();
        self.host
            .wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r } if *r == reader))
            .unwrap_or_else(|| panic!("{what}: no inserted event\nhost log:\n{}", self.host.stderr()));

        // The customer tries again.
        let done = reply.error.is_none();
        match op {
            Op::Begin(alg) => {
                if !done {
                    self.run(Op::Begin(alg));
                }
                self.run(Op::Finish(alg));
            }
            Op::Finish(alg) if !done => self.run(Op::Finish(alg)),
            Op::PinChange => {
                // The change may have reached the card before the cut (its answer lost): then
                // the token holds the new PIN and there is nothing to retry.
                let target = if pin_before == PIN { PIN2 } else { PIN };
                if self.pin() == pin_before {
                    assert!(!done, "{what}: pin.change succeeded but the token holds the old PIN");
                    self.run(Op::PinChange);
                }
                assert_eq!(self.pin(), target, "{what}: the token holds the new PIN");
            }
            _ => {}
        }
        let pin = self.pin();
        let nonce = nonce();
        let login: LoginToken = authenticate(&mut self.host, self.ca, &nonce, &pin)
            .into_result()
            .unwrap_or_else(|e| panic!("{what}: log-on after the retry: {e:?}\nhost log:\n{}", self.host.stderr()));
        verify_login(&login, ORIGIN, &nonce).unwrap_or_else(|e| panic!("{what}: login does not verify: {e}"));
        assert_eq!(login.certificate_der().unwrap(), self.login, "{what}: the newest stored certificate logs on");
        let c = self.token.contents().expect("token state");
        assert_eq!(c.pin_retries_left, 3, "{what}: the right PIN restores the tries");
        self.cuts.push((op, mode, n));
        true
    }

    /// Cuts `op` at APDU 0, 1, 2, … until it completes uncut: every APDU it sends is cut once.
    fn sweep(&mut self, op: Op, mode: Mode) -> u64 {
        let mut n = 0;
        while self.cut(op, mode, n) {
            n += 1;
            assert!(n < 200, "{op:?}: more than 200 APDUs");
        }
        n
    }
}

#[test]
fn token_pulled_at_every_apdu_loses_nothing_and_the_retry_succeeds() {
    let _rig = Rig::start().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let token = VToken::builder().reader(0).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    change_pin(&mut host, FACTORY_PIN, PIN).into_result::<kagi_proto::PinResult>().expect("pin.change");
    host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { .. })).expect("initial inserted");
    let replugs_before = replug_count();
    let mut b = Bench { host, token, ca: &ca, issued: 0, login: Vec::new(), pending: None, cuts: Vec::new() };
    // The first acquisition (it also initialises the token's management key).
    b.run(Op::Begin("P-256"));
    b.run(Op::Finish("P-256"));

    let mut lengths = Vec::new();
    for mode in [Mode::Before, Mode::After] {
        for op in [Op::Begin("P-256"), Op::Finish("P-256"), Op::Begin("RSA-2048"), Op::Finish("RSA-2048"), Op::LogOn, Op::PinChange] {
            let len = b.sweep(op, mode);
            assert!(len > 0, "{op:?} {mode:?}: no cut");
            lengths.push((op, mode, len));
        }
    }
    // Power loss differs from a cut before the APDU only inside a PIN check (the other writes
    // are all-or-nothing: the model in tests/virtual-token/README.md), so only the operations
    // that check the PIN are swept with it.
    for op in [Op::LogOn, Op::PinChange] {
        let len = b.sweep(op, Mode::PowerLoss);
        assert!(len > 0, "{op:?} PowerLoss: no cut");
        lengths.push((op, Mode::PowerLoss, len));
    }
    eprintln!("APDUs cut per operation: {lengths:?}");
    // Some power loss fell inside a PIN check, and the tries it spent were audited above.
    assert!(b.token.log().contains("(a PIN try spent)"), "no power loss inside VERIFY or CHANGE REFERENCE DATA");

    // Coverage: each sweep cut positions 0..len, every one (a sweep only ends uncut).
    for (op, mode, len) in &lengths {
        let cut: Vec<u64> = b.cuts.iter().filter(|(o, m, _)| o == op && m == mode).map(|(_, _, n)| *n).collect();
        assert_eq!(cut, (0..*len).collect::<Vec<_>>(), "{op:?} {mode:?}: every APDU was cut");
    }
    // The token's log names each cut APDU: some fell inside a chained PUT DATA (CLA 10, INS DB).
    let log = b.token.log();
    for mode in ["before", "after"] {
        assert!(
            log.lines().any(|l| l.contains("armed cut") && l.contains("CLA 10 INS DB") && l.contains(mode)),
            "a cut {mode} executing a chained PUT DATA segment"
        );
    }
    assert_eq!(replug_count(), replugs_before, "the rig never had to replug the token");

    // An independent witness at the end: yubico-piv-tool finds the login certificate's key in
    // its slot and checks a signature against the certificate.
    let Bench { host, token, login, .. } = b;
    drop(host);
    let c = token.contents().expect("token state");
    let slot = c.keys.keys().find(|s| c.certificate(**s).as_deref() == Some(login.as_slice())).expect("login certificate's slot");
    let dir = kagi_rig::temp_dir().unwrap();
    let pem = dir.path().join("login.pem");
    let body: Vec<String> = b64(&login).as_bytes().chunks(64).map(|l| String::from_utf8_lossy(l).into_owned()).collect();
    std::fs::write(&pem, format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", body.join("\n"))).unwrap();
    let pin = c.pin.clone();
    let out = ykpiv(
        token.reader(),
        &["-a", "verify-pin", "-P", &pin, "-a", "test-signature", "-s", &format!("{slot:02x}"), "-i", pem.to_str().unwrap()],
    );
    out.assert_success(&format!("yubico-piv-tool test-signature {slot:02x}"));
    assert!(said(&out).contains("Successful"), "{out:?}");
}

/// `5FFF00` ADMIN DATA `53 { 80 { 81 01 <flags> } }`: bit 0x02 "management key stored behind
/// the PIN" (the YubiKey tools' layout, host/src/piv/yubikey.rs).
fn admin_flag_protected(c: &kagi_rig::TokenContents) -> bool {
    let Some(v) = c.object(0x5F_FF00) else { return false };
    v.windows(3).any(|w| w[0] == 0x81 && w[1] == 0x01 && w[2] & 0x02 != 0)
}

/// The key inside `5FC109` (`53 { 88 { 89 <key> } }`, SP 800-73-4 Printed Information, readable
/// only after VERIFY PIN), if the object holds one.
fn key_behind_pin(c: &kagi_rig::TokenContents) -> Option<Vec<u8>> {
    let v = c.object(0x5F_C109)?;
    let [0x88, l88, inner @ ..] = v else { return None };
    let inner = inner.get(..usize::from(*l88))?;
    let [0x89, l89, key @ ..] = inner else { return None };
    key.get(..usize::from(*l89)).map(<[u8]>::to_vec)
}

/// The first acquisition turns the factory management key into a key stored behind the PIN
/// (host/src/token/mgmt_key.rs). A token pulled at any APDU of it, before or after the card
/// executed it, must stay usable: audited from its state file, the management key is either
/// still the factory one or exactly the key in `5FC109` (so Kagi finds it behind the PIN), no
/// PIN or PUK try is spent, and no key sits without a certificate; then, plugged back at once,
/// the acquisition retried through the same host succeeds and the new certificate logs on. Each
/// cut starts from a fresh factory token; the sweep stops once the state after the cut is fully
/// initialised (the APDUs after that are the ordinary acquisition, swept by the test above).
#[test]
fn token_pulled_during_first_use_initialisation_stays_usable() {
    let _rig = Rig::start().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    let factory = hex::decode(kagi_rig::DEFAULT_MGMT_KEY_HEX).unwrap();
    let replugs_before = replug_count();
    let mut issued = 0u32;
    let mut swept = Vec::new();
    for mode in [Mode::Before, Mode::After] {
        let mut n = 0u64;
        loop {
            assert!(n < 60, "{mode:?}: initialisation not done after 60 APDUs");
            let what = format!("first acquisition cut {mode:?} APDU {n}");
            let mut token = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
            let reader = token.reader().to_string();
            host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r } if *r == reader))
                .unwrap_or_else(|| panic!("{what}: fresh token not announced\n{}", host.stderr()));
            match mode {
                Mode::Before => token.arm_fail_after(n),
                Mode::After => token.arm_drop_after(n),
                Mode::PowerLoss => token.arm_power_loss(n),
            }
            .expect("arm the cut");
            let reply = enroll_begin(&mut host, &ca, "P-256");
            let cut = token.wait_exit(CUT_GRACE).expect("token process").is_some();
            assert!(cut, "{what}: enroll.begin completed before APDU {n}, yet the state before it was not initialised");
            let c = token.contents().expect("token state");
            assert_eq!((c.pin_retries_left, c.puk_retries_left), (3, 3), "{what}: a pull costs no PIN or PUK try");
            for slot in c.keys.keys() {
                assert!(c.certificate(*slot).is_some(), "{what}: key in {slot:02X} without a certificate beside it");
            }
            let is_factory = c.management_key.key == factory;
            assert!(
                is_factory || key_behind_pin(&c).as_deref() == Some(c.management_key.key.as_slice()),
                "{what}: the management key is neither the factory key nor the one stored behind the PIN: the token is lost"
            );
            let initialised = !is_factory && admin_flag_protected(&c);

            wait_card_state(token.reader(), false, EVENT_WAIT).unwrap_or_else(|e| panic!("{what}: pull not seen: {e}"));
            token.plug_at_once().unwrap_or_else(|e| panic!("{what}: the token is not seen again: {e}\n{}", host.stderr()));
            host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Inserted { reader: r } if *r == reader))
                .unwrap_or_else(|| panic!("{what}: no inserted event\nhost log:\n{}", host.stderr()));
            // The customer tries again: the acquisition goes through and its certificate logs on.
            let begin: EnrollBeginResult = match reply.error {
                None => reply.into_result().expect("enroll.begin result"),
                Some(_) => enroll_begin(&mut host, &ca, "P-256")
                    .into_result()
                    .unwrap_or_else(|e| panic!("{what}: retried enroll.begin: {e:?}\nhost log:\n{}", host.stderr())),
            };
            issued += 1;
            let cert = ca.issue(&begin.csr, issued, 0, 365);
            enroll_finish(&mut host, &cert)
                .into_result::<kagi_proto::EnrollFinishResult>()
                .unwrap_or_else(|e| panic!("{what}: enroll.finish: {e:?}\nhost log:\n{}", host.stderr()));
            let c = token.contents().expect("token state");
            assert!(admin_flag_protected(&c) && c.management_key.key != factory, "{what}: not initialised after the retry");
            assert_eq!(key_behind_pin(&c).as_deref(), Some(c.management_key.key.as_slice()), "{what}: key behind the PIN");
            let nonce = nonce();
            let login: LoginToken = authenticate(&mut host, &ca, &nonce, PIN)
                .into_result()
                .unwrap_or_else(|e| panic!("{what}: log-on after the retry: {e:?}\nhost log:\n{}", host.stderr()));
            verify_login(&login, ORIGIN, &nonce).unwrap_or_else(|e| panic!("{what}: login does not verify: {e}"));
            assert_eq!(login.certificate_der().unwrap(), cert, "{what}: the new certificate logs on");
            drop(token);
            host.wait_event(EVENT_WAIT, |e| matches!(e, Event::Removed { .. }))
                .unwrap_or_else(|| panic!("{what}: removal not announced\n{}", host.stderr()));
            host.clear_events();
            swept.push((mode, n));
            if initialised {
                break;
            }
            n += 1;
        }
    }
    eprintln!("first-use initialisation cuts: {swept:?}");
    // Coverage: each mode cut every position from 0 up to the first fully initialised state.
    for mode in [Mode::Before, Mode::After] {
        let ns: Vec<u64> = swept.iter().filter(|(m, _)| *m == mode).map(|(_, n)| *n).collect();
        assert!(ns.len() >= 4, "{mode:?}: only {ns:?}: the initialisation has more APDUs than that");
        assert_eq!(ns, (0..ns.len() as u64).collect::<Vec<_>>(), "{mode:?}: every APDU was cut");
    }
    assert_eq!(replug_count(), replugs_before, "the rig never had to replug the token");
}
