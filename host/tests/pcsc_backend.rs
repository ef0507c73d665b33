//! The PC/SC backend and PIV session against the virtual token on the real pcscd + vpcd.

use std::time::{Duration, Instant};

use kagi_host::card::pcsc_backend::{watch, Disconnect, PcscContext, ReaderEvent, WatchStop};
use kagi_host::card::{PinState, PivSession};
use kagi_host::piv::{KeyAlgorithm, ManagementKey, Pin, PublicKey, Slot};
use kagi_rig::{Rig, VToken};
use p256::ecdsa::signature::hazmat::PrehashVerifier;

#[test]
fn generate_write_verify_sign_round_trip_and_reset_clears_the_pin() {
    let _rig = Rig::start().unwrap();
    let token = VToken::builder().reader(0).spawn().unwrap();
    let reader = token.reader();
    let mut ctx = PcscContext::establish().unwrap();
    let readers = ctx.list_readers().unwrap();
    assert!(readers.iter().any(|r| r.name == reader && r.card_present), "{readers:?}");
    let mut card = ctx.connect(reader).unwrap();
    let digest = [0x42u8; 32];
    let (public, sig) = card
        .transaction(|t| {
            let mut s = PivSession::new(t);
            s.select()?;
            s.authenticate_management(&ManagementKey::default())?;
            let pk = s.generate_key(Slot::Authentication, KeyAlgorithm::EccP256)?;
            s.write_certificate(Slot::Authentication, &[0x30, 0x03, 0x02, 0x01, 0x07])?;
            s.verify_pin(&Pin::new("123456")?)?;
            assert_eq!(s.pin_retries()?, PinState::Verified);
            let sig = s.sign_digest(Slot::Authentication, KeyAlgorithm::EccP256, &digest)?;
            assert_eq!(s.read_certificate(Slot::Authentication)?, Some(vec![0x30, 0x03, 0x02, 0x01, 0x07]));
            Ok((pk, sig))
        })
        .unwrap();
    let PublicKey::EcP256 { point } = public else { panic!("{public:?}") };
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let sig = p256::ecdsa::Signature::from_der(&sig).unwrap();
    vk.verify_prehash(&digest, &sig).unwrap();
    // Leaving the card keeps the PIN verified for the next connection; resetting clears it.
    card.disconnect(Disconnect::Leave).unwrap();
    let mut card = ctx.connect(reader).unwrap();
    assert_eq!(card.transaction(|t| PivSession::new(t).pin_retries()).unwrap(), PinState::Verified);
    card.disconnect(Disconnect::Reset).unwrap();
    let mut card = ctx.connect(reader).unwrap();
    let st = card.transaction(|t| {
        let mut s = PivSession::new(t);
        s.select()?;
        s.pin_retries()
    });
    assert_eq!(st.unwrap(), PinState::Retries(3));
    card.disconnect(Disconnect::Leave).unwrap();
}

#[test]
fn a_reset_by_another_application_is_recovered() {
    let _rig = Rig::start().unwrap();
    let token = VToken::builder().reader(0).spawn().unwrap();
    let mut ctx = PcscContext::establish().unwrap();
    let mut ours = ctx.connect(token.reader()).unwrap();
    ours.transaction(|t| PivSession::new(t).select().map(drop)).unwrap();
    let other = ctx.connect(token.reader()).unwrap();
    other.disconnect(Disconnect::Reset).unwrap();
    let mut runs = 0;
    let st = ours
        .transaction(|t| {
            runs += 1;
            PivSession::new(t).pin_retries()
        })
        .unwrap();
    assert_eq!(st, PinState::Retries(3));
    assert_eq!(runs, 1, "the closure runs once, after reconnect and re-select");
    ours.disconnect(Disconnect::Leave).unwrap();
}

#[test]
fn watch_reports_insert_and_remove_and_stops_at_once_when_stopped() {
    let _rig = Rig::start().unwrap();
    let mut token = VToken::builder().reader(0).spawn().unwrap();
    let reader = token.reader().to_string();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stop = WatchStop::new();
    let h = {
        let stop = stop.clone();
        std::thread::spawn(move || watch(tx, &stop))
    };
    let mut wait_for = |want: ReaderEvent| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match rx.try_recv() {
                Ok(e) if e == want => return,
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        panic!("no {want:?}");
    };
    wait_for(ReaderEvent::ReaderAdded { reader: reader.clone() });
    wait_for(ReaderEvent::CardInserted { reader: reader.clone() });
    token.pull().unwrap();
    wait_for(ReaderEvent::CardRemoved { reader: reader.clone() });
    token.plug().unwrap();
    wait_for(ReaderEvent::CardInserted { reader: reader.clone() });
    // The watcher is blocked in SCardGetStatusChange (60 s timeout): SCardCancel ends it now.
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    stop.stop();
    h.join().unwrap();
    assert!(t.elapsed() < Duration::from_millis(500), "watch stopped after {:?}", t.elapsed());
    drop(rx);
}
