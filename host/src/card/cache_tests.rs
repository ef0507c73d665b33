//! The cache's rules, on scripted card exchanges (`MemoryTransport`): what a second read costs,
//! what each of Kagi's own commands forgets, what is never kept, and the SELECT answered from
//! the cache that the next answer must confirm (issue 13).

use super::*;
use crate::card::memory::MemoryTransport;
use crate::card::session::PivSession;
use crate::error::Error;
use crate::piv::objects::{ManagementAlgorithm, ManagementKey, Pin, Slot};
use crate::piv::{KeyAlgorithm, yubikey};

const SELECT: &str = "00A40400 0B A0000003080000100001 00 00";
const YK_SELECT: &str = "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00";
const GET_9A: &str = "00CB3FFF 05 5C035FC105 00";
const GET_82: &str = "00CB3FFF 05 5C035FC10D 00";
const GET_KH: &str = "00CB3FFF 05 5C035FC10C 00";
const GET_CHUID: &str = "00CB3FFF 05 5C035FC102 00";
const GET_PRINTED: &str = "00CB3FFF 05 5C035FC109 00";
const KH_ONE: &str = "53 08 C1 01 01 C2 01 00 FE 00 90 00";
const CERT_82: &str = "53 08 70 03 30 01 00 71 01 00 90 00";
const META_9B: &str = "01 01 03 02 02 00 01 05 01 01 90 00";
const VERIFY_123456: &str = "00 20 00 80 08 313233343536FFFF";

fn pin() -> Pin {
    Pin::new("123456").unwrap()
}

#[test]
fn a_second_read_costs_no_apdu_and_absent_objects_are_kept_too() {
    let mut t = MemoryTransport::new().expect(GET_KH, KH_ONE).expect(GET_9A, "6A 82").expect(GET_82, CERT_82);
    let mut cache = CardCache::new();
    for _ in 0..3 {
        let mut s = PivSession::with_cache(&mut t, &mut cache);
        assert_eq!(s.read_key_history().unwrap().unwrap().keys_with_on_card_certs, 1);
        assert_eq!(s.read_certificate(Slot::Authentication).unwrap(), None);
        assert_eq!(s.read_certificate(Slot::from_key_ref(0x82).unwrap()).unwrap(), Some(vec![0x30, 0x01, 0x00]));
    }
    t.assert_done();
}

#[test]
fn errors_are_not_kept() {
    let mut t = MemoryTransport::new().expect(GET_CHUID, "69 82").expect(GET_CHUID, "6A 82");
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    assert!(matches!(s.read_chuid(), Err(Error::SecurityStatus(_))));
    assert_eq!(s.read_chuid().unwrap(), None);
    assert_eq!(s.read_chuid().unwrap(), None);
    t.assert_done();
}

#[test]
fn pin_protected_objects_are_never_kept() {
    // Printed Information holds the management key behind the PIN: read it every time.
    let key = "53 1C 88 1A 89 18 0102030405060708 0102030405060708 0102030405060708 90 00";
    let mut t = MemoryTransport::new().expect(GET_PRINTED, key).expect(GET_PRINTED, key);
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    assert!(s.read_protected_key().unwrap().is_some());
    assert!(s.read_protected_key().unwrap().is_some());
    t.assert_done();
    assert!(!cacheable_object(0x5FC109) && !cacheable_object(0x5FC103) && !cacheable_object(0x5FC108));
    assert!(cacheable_object(0x5FC105) && cacheable_object(0x5FC120) && !cacheable_object(0x5FC121));
}

#[test]
fn put_data_forgets_the_object_it_writes_and_nothing_else() {
    let mut t = MemoryTransport::new()
        .expect(GET_KH, KH_ONE)
        .expect(GET_82, CERT_82)
        .expect("00DB3FFF 0A 5C035FC10D 53037001AA", "90 00")
        .expect(GET_82, "53 08 70 03 30 01 AA 71 01 00 90 00");
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    let slot = Slot::from_key_ref(0x82).unwrap();
    s.read_key_history().unwrap();
    s.read_certificate(slot).unwrap();
    s.put_data(slot.cert_tag(), &[0x70, 0x01, 0xAA]).unwrap();
    // The Key History is still kept; the written certificate is read again.
    s.read_key_history().unwrap();
    assert_eq!(s.read_certificate(slot).unwrap(), Some(vec![0x30, 0x01, 0xAA]));
    t.assert_done();
}

#[test]
fn a_refused_write_forgets_the_object_as_well() {
    // A write cut short (refused, or the token pulled) may have changed the card: re-read.
    let mut t = MemoryTransport::new()
        .expect(GET_82, CERT_82)
        .expect("00DB3FFF 0A 5C035FC10D 53037001AA", "69 82")
        .expect(GET_82, CERT_82);
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    let slot = Slot::from_key_ref(0x82).unwrap();
    s.read_certificate(slot).unwrap();
    assert!(s.put_data(slot.cert_tag(), &[0x70, 0x01, 0xAA]).is_err());
    s.read_certificate(slot).unwrap();
    t.assert_done();
}

#[test]
fn pin_commands_forget_pin_and_puk_metadata_only() {
    let pin_meta = "01 01 FF 05 01 01 06 02 03 03 90 00";
    let puk_meta = "01 01 FF 05 01 01 06 02 03 03 90 00";
    let mut t = MemoryTransport::new()
        .expect("00 F7 00 80 00", pin_meta)
        .expect("00 F7 00 81 00", puk_meta)
        .expect("00 F7 00 9B 00", META_9B)
        .expect(VERIFY_123456, "90 00")
        .expect("00 F7 00 80 00", pin_meta)
        .expect("00 24 00 80 10 313233343536FFFF 343832393135FFFF", "90 00")
        .expect("00 F7 00 80 00", pin_meta)
        .expect("00 F7 00 81 00", puk_meta);
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    s.metadata(yubikey::KEYREF_PIN).unwrap();
    s.metadata(yubikey::KEYREF_PUK).unwrap();
    s.metadata(KEYREF_MANAGEMENT).unwrap();
    // VERIFY changes the PIN's tries left, not the PUK's.
    s.verify_pin(&pin()).unwrap();
    s.metadata(yubikey::KEYREF_PIN).unwrap();
    s.metadata(yubikey::KEYREF_PUK).unwrap();
    // CHANGE REFERENCE DATA: both read again; the management key's metadata stays.
    s.change_pin(&pin(), &Pin::new("482915").unwrap()).unwrap();
    s.metadata(yubikey::KEYREF_PIN).unwrap();
    s.metadata(yubikey::KEYREF_PUK).unwrap();
    s.metadata(KEYREF_MANAGEMENT).unwrap();
    t.assert_done();
}

#[test]
fn key_generation_forgets_that_slot_s_metadata() {
    let point = format!("04{}", "ab".repeat(64));
    let mut t = MemoryTransport::new()
        .expect("00 F7 00 82 00", "6A 88")
        .expect("00 F7 00 83 00", "6A 88")
        .expect("00 47 00 82 05 AC03800111 00", &format!("7F49 43 86 41 {point} 9000"))
        .expect("00 F7 00 82 00", "01 01 11 02 02 01 01 03 01 01 90 00");
    let mut cache = CardCache::new();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    assert_eq!(s.metadata(0x82).unwrap(), None);
    assert_eq!(s.metadata(0x83).unwrap(), None);
    s.generate_key(Slot::from_key_ref(0x82).unwrap(), KeyAlgorithm::EccP256).unwrap();
    assert!(s.metadata(0x82).unwrap().is_some());
    assert_eq!(s.metadata(0x83).unwrap(), None);
    t.assert_done();
}

#[test]
fn an_unknown_instruction_forgets_everything() {
    let mut cache = CardCache::new();
    cache.store_object(0x5FC105, Some(&[0x53, 0x00]));
    cache.store_metadata(0x9B, None);
    cache.store_select(&[0x61, 0x00]);
    cache.before_command(&crate::piv::apdu::Command::new(0x00, 0xF6, 0x00, 0x82)); // YubiKey MOVE KEY
    assert!(cache.is_empty());
    // SET MANAGEMENT KEY forgets the management key's metadata only.
    cache.store_object(0x5FC105, Some(&[0x53, 0x00]));
    cache.store_metadata(0x9B, None);
    let key = ManagementKey::new(ManagementAlgorithm::Aes192, &[7; 24]).unwrap();
    cache.before_command(&yubikey::set_management_key(&key));
    assert_eq!(cache.metadata(0x9B), None);
    assert_eq!(cache.object(0x5FC105), Some(Some(&[0x53, 0x00][..])));
    // A reset by Kagi itself keeps the data, not the selected application.
    cache.store_select(&[0x61, 0x00]);
    cache.card_reset();
    assert_eq!(cache.selected(), None);
    assert!(cache.object(0x5FC105).is_some());
}

#[test]
fn a_kept_select_costs_no_apdu_when_the_next_answer_is_piv_s() {
    let mut t = MemoryTransport::new()
        .expect(SELECT, YK_SELECT)
        .expect(VERIFY_123456, "90 00")
        .expect(VERIFY_123456, "63 C2");
    let mut cache = CardCache::new();
    PivSession::with_cache(&mut t, &mut cache).select().unwrap();
    // Next transaction: no SELECT; VERIFY's answer (9000, or 63Cx) is PIV's.
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    s.select().unwrap();
    s.verify_pin(&pin()).unwrap();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    s.select().unwrap();
    assert!(matches!(s.verify_pin(&pin()), Err(Error::PinIncorrect { retries: 2 })));
    t.assert_done();
}

#[test]
fn another_application_selected_meanwhile_makes_us_select_and_resend() {
    // Another program selected (say) the OpenPGP application without resetting the card: its
    // answer to PIV's VERIFY is not one PIV gives, so Kagi selects PIV and sends VERIFY again.
    let mut t = MemoryTransport::new()
        .expect(SELECT, YK_SELECT)
        .expect(VERIFY_123456, "6A 86")
        .expect(SELECT, YK_SELECT)
        .expect(VERIFY_123456, "90 00")
        .expect("00 20 00 80", "90 00");
    let mut cache = CardCache::new();
    PivSession::with_cache(&mut t, &mut cache).select().unwrap();
    let mut s = PivSession::with_cache(&mut t, &mut cache);
    s.select().unwrap();
    s.verify_pin(&pin()).unwrap();
    // Confirmed now: the next command goes straight on.
    assert_eq!(s.pin_retries().unwrap(), crate::card::PinState::Verified);
    t.assert_done();
}

#[test]
fn a_session_without_cache_reads_every_time() {
    let mut t = MemoryTransport::new().expect(SELECT, YK_SELECT).expect(SELECT, YK_SELECT).expect(GET_KH, KH_ONE).expect(GET_KH, KH_ONE);
    let mut s = PivSession::new(&mut t);
    s.select().unwrap();
    s.select().unwrap();
    s.read_key_history().unwrap();
    s.read_key_history().unwrap();
    t.assert_done();
}
