//! The host keeps what it read from a token while PC/SC says nobody else reset it (issue 13,
//! `host/src/card/cache.rs`): a log-on in a running host sends exactly VERIFY, GENERAL
//! AUTHENTICATE and the PIN clear, counted by the virtual token; and what another program writes
//! (a second Kagi host's acquisition, yubico-piv-tool deleting a certificate) is seen by the
//! next `status` and log-on. A host started for one log-on recalls the certificates an
//! earlier run kept on disk, as far as the token confirms them (`host/src/token/recall.rs`).

mod common;

use std::collections::BTreeMap;

use common::*;
use kagi_proto::{EnrollBeginResult, EnrollFinishResult, ErrorCode, LoginToken};
use kagi_rig::tools::ykpiv;
use kagi_rig::{ApduCount, Host, Rig, SlotKey, VToken};

const VERIFY: u8 = 0x20;
const GENERAL_AUTHENTICATE: u8 = 0x87;
const GET_DATA: u8 = 0xCB;
const SELECT: u8 = 0xA4;
const GET_METADATA: u8 = 0xF7;

/// The token's counter once it stopped moving (a log-on answers before its PIN clear).
fn settled(token: &VToken) -> ApduCount {
    let mut last = token.apdu_count().unwrap();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = token.apdu_count().unwrap();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The token's counts around `f`.
fn count<T>(token: &VToken, f: impl FnOnce() -> T) -> (T, ApduCount) {
    let before = settled(token);
    let out = f();
    let after = settled(token);
    (out, &after - &before)
}

/// An acquisition whose certificate starts `start_days` from now.
fn acquire(host: &mut Host, ca: &TestCa, n: u32, start_days: i64) -> Vec<u8> {
    let begin: EnrollBeginResult = enroll_begin(host, ca, "P-256").into_result().expect("enroll.begin");
    let cert = ca.issue(&begin.csr, n, start_days, 365);
    let _: EnrollFinishResult = enroll_finish(host, &cert).into_result().expect("enroll.finish");
    cert
}

fn log_on(host: &mut Host, ca: &TestCa) -> Vec<u8> {
    let n = nonce();
    let login: LoginToken = authenticate(host, ca, &n, PIN).into_result().expect("authenticate");
    verify_login(&login, ORIGIN, &n).expect("the login token verifies");
    login.certificate_der().unwrap()
}

#[test]
fn a_warm_log_on_sends_verify_sign_and_the_pin_clear_only_and_sees_another_host_s_acquisition() {
    let _rig = Rig::start().unwrap();
    let mut token = VToken::builder().reader(0).pin(PIN).count_apdus(true).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    let first = acquire(&mut host, &ca, 1, -1);
    assert_eq!(log_on(&mut host, &ca), first);
    only_token(status_for(&mut host, &ca));

    // Warm: nothing read, no SELECT.
    let (cert, c) = count(&token, || log_on(&mut host, &ca));
    assert_eq!(cert, first);
    assert_eq!(c.by_ins, BTreeMap::from([(VERIFY, 2), (GENERAL_AUTHENTICATE, 1)]), "PIN, signature, PIN clear: {c:?}");
    assert_eq!((c.apdus, c.resets), (3, 0), "{c:?}");
    // A warm status reads no object either: only the PIN's state (and its metadata, which the
    // log-on's VERIFY changed).
    let (st, c) = count(&token, || only_token(status_for(&mut host, &ca)));
    assert_eq!(st.certificate.unwrap().sha256, sha256_hex(&first));
    assert!(!c.by_ins.contains_key(&GET_DATA) && !c.by_ins.contains_key(&SELECT), "{c:?}");
    assert!(c.apdus <= 2, "{c:?}");

    // Another Kagi host (another browser) acquires a newer certificate: it resets the card when
    // it is done, so the first host reads the token again and sees it.
    let second = {
        let mut other = Host::spawn().unwrap();
        acquire(&mut other, &ca, 2, 0)
    };
    let (st, c) = count(&token, || only_token(status_for(&mut host, &ca)));
    assert_eq!(st.certificate.unwrap().sha256, sha256_hex(&second), "status sees the other host's certificate");
    assert!(c.by_ins.get(&GET_DATA).copied().unwrap_or(0) >= 3, "read again after the other host's reset: {c:?}");
    assert_eq!(log_on(&mut host, &ca), second, "the log-on uses it");
    let (_, c) = count(&token, || log_on(&mut host, &ca));
    assert_eq!(c.apdus, 3, "warm again: {c:?}");

    // Kagi's own acquisition through this host updates its cache: the next log-on uses the new
    // certificate, reading only what the acquisition wrote.
    let third = acquire(&mut host, &ca, 3, 1);
    let (cert, c) = count(&token, || log_on(&mut host, &ca));
    assert_eq!(cert, second, "a certificate valid only from tomorrow is not the login certificate");
    assert!(c.apdus <= 5, "{c:?}");
    let st = only_token(status_for(&mut host, &ca));
    assert_ne!(st.certificate.unwrap().sha256, sha256_hex(&third));
    // Out of the reader before the next test plugs its token in (pcscd notices within 0.4 s).
    token.pull().unwrap();
}

/// A host keeping its token records in `dir`, as every host run by one user does.
fn host_remembering(dir: &std::path::Path) -> Host {
    Host::spawn_with(&[&kagi_proto::ids::chrome_origin()], &[("XDG_CACHE_HOME", dir.to_str().unwrap())]).unwrap()
}

#[test]
fn a_host_started_for_one_log_on_recalls_only_certificates_the_token_confirms() {
    let _rig = Rig::start().unwrap();
    let mut token = VToken::builder().reader(0).pin(PIN).count_apdus(true).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let memory = tempfile::tempdir().unwrap();
    // This PC's first host: two acquisitions (82, then 83), then the login page's status.
    let (first, second) = {
        let mut host = host_remembering(memory.path());
        let first = acquire(&mut host, &ca, 1, -3);
        let second = acquire(&mut host, &ca, 2, -2);
        assert_eq!(only_token(status_for(&mut host, &ca)).certificate.unwrap().sha256, sha256_hex(&second));
        (first, second)
    };
    assert_ne!(first, second);
    let records: Vec<_> = std::fs::read_dir(memory.path().join("kagi/tokens")).unwrap().collect();
    assert_eq!(records.len(), 2, "filed under each Key History the token showed (one slot in use, then two)");

    // A host started for one log-on: no certificate read, the two slots' keys confirmed.
    let (cert, c) = count(&token, || log_on(&mut host_remembering(memory.path()), &ca));
    assert_eq!(cert, second);
    assert_eq!(
        c.by_ins,
        BTreeMap::from([(SELECT, 1), (GET_DATA, 1), (GET_METADATA, 1), (VERIFY, 2), (GENERAL_AUTHENTICATE, 1)]),
        "Key History, the key of 82 (83's is proven by its signature), PIN, signature, PIN clear: {c:?}"
    );

    // Another PC renews: the superseded slot 82 gets a new key and certificate; the Key History
    // does not change. The record is now wrong about 82, and the token says so.
    let third = {
        let mut elsewhere = Host::spawn().unwrap();
        acquire(&mut elsewhere, &ca, 3, -1)
    };
    let (cert, c) = count(&token, || log_on(&mut host_remembering(memory.path()), &ca));
    assert_eq!(cert, third, "the newest certificate, not the recorded one");
    assert!(c.by_ins[&GET_DATA] > 1, "the certificates were read: {c:?}");
    // ... and kept: the next cold log-on recalls them again.
    let (cert, c) = count(&token, || log_on(&mut host_remembering(memory.path()), &ca));
    assert_eq!(cert, third);
    assert_eq!(c.by_ins[&GET_DATA], 1, "{c:?}");
    token.pull().unwrap();
}

#[test]
fn a_token_without_get_metadata_recalls_only_what_the_signature_proves() {
    let _rig = Rig::start().unwrap();
    let mut token = VToken::builder().reader(0).pin(PIN).metadata(false).count_apdus(true).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let memory = tempfile::tempdir().unwrap();
    // One certificate: the one that signs, whose key the checked signature proves.
    let first = acquire(&mut host_remembering(memory.path()), &ca, 1, -2);
    only_token(status_for(&mut host_remembering(memory.path()), &ca));
    let (got, c) = count(&token, || log_on(&mut host_remembering(memory.path()), &ca));
    assert_eq!(got, first);
    assert_eq!(c.by_ins[&GET_DATA], 1, "recalled: only the Key History is read: {c:?}");
    // Two: the other one's key cannot be checked without GET METADATA, so the token is read.
    let second = acquire(&mut host_remembering(memory.path()), &ca, 2, -1);
    only_token(status_for(&mut host_remembering(memory.path()), &ca));
    let (got, c) = count(&token, || log_on(&mut host_remembering(memory.path()), &ca));
    assert_eq!(got, second);
    assert!(c.by_ins[&GET_DATA] >= 3, "the certificates are read, not recalled: {c:?}");
    token.pull().unwrap();
}

#[test]
fn a_certificate_deleted_by_yubico_piv_tool_is_seen_by_the_next_status_and_log_on() {
    let _rig = Rig::start().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    // A token prepared by the bank's branch: the customer's key and certificate in 82, the
    // factory management key (so yubico-piv-tool can write).
    let key = SlotKey::p256();
    let cert = key.certificate(&ca, "SH001 SH001001 1898", 365);
    let mut token =
        VToken::builder().reader(0).pin(PIN).key_with_certificate(0x82, &key, &cert).count_apdus(true).spawn().unwrap();
    let mut host = Host::spawn().unwrap();
    assert_eq!(only_token(status_for(&mut host, &ca)).certificate.unwrap().sha256, sha256_hex(&cert));
    assert_eq!(log_on(&mut host, &ca), cert);
    let (_, c) = count(&token, || log_on(&mut host, &ca));
    assert_eq!(c.apdus, 3, "warm: {c:?}");

    ykpiv(token.reader(), &["-a", "delete-certificate", "-s", "82"]).assert_success("delete-certificate");

    let st = only_token(status_for(&mut host, &ca));
    assert!(st.certificate.is_none(), "status sees the deletion: {st:?}");
    let n = nonce();
    assert_eq!(authenticate(&mut host, &ca, &n, PIN).error.unwrap().code, ErrorCode::NoCertificate);
    token.pull().unwrap();
}

#[test]
fn the_card_is_free_for_exclusive_programs_soon_after_the_last_operation() {
    let _rig = Rig::start().unwrap();
    let token = VToken::builder().reader(0).pin(PIN).spawn().unwrap();
    let ca = TestCa::new("Kagi Test CA");
    let mut host = Host::spawn().unwrap();
    acquire(&mut host, &ca, 1, 0);
    log_on(&mut host, &ca);
    // What GnuPG's scdaemon does by default: open the card exclusively.
    let exclusive = || {
        let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
        let name = std::ffi::CString::new(token.reader()).unwrap();
        ctx.connect(&name, pcsc::ShareMode::Exclusive, pcsc::Protocols::ANY).map(|c| {
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        })
    };
    assert!(exclusive().is_err(), "right after a log-on the host keeps the card for the next one");
    std::thread::sleep(kagi_host::service::KEEP_CARD_FOR + std::time::Duration::from_secs(2));
    exclusive().expect("the host gave the card back");
    // And the host still works, from a fresh handle.
    log_on(&mut host, &ca);
}
