//! Raw APDUs through pcscd with the `pcsc` crate: status words of malformed commands and
//! the round-trip time of one SELECT.

use kagi_rig::{Rig, VToken};
use kagi_rig::tools::{pcsc_connect, pcsc_transmit};
use std::time::{Duration, Instant};

fn token() -> VToken {
    VToken::builder().bin(env!("CARGO_BIN_EXE_kagi-vtoken")).any_free_reader().spawn().expect("spawn virtual token")
}

fn sw(resp: &[u8]) -> u16 {
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

const SELECT: [u8; 16] = [0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0, 0, 0x03, 0x08, 0, 0, 0x10, 0, 0x01, 0];

#[test]
fn select_round_trip_time() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let card = pcsc_connect(tok.reader());
    assert_eq!(sw(&pcsc_transmit(&card, &SELECT)), 0x9000);
    let n = 500;
    let t0 = Instant::now();
    for _ in 0..n {
        assert_eq!(sw(&pcsc_transmit(&card, &SELECT)), 0x9000);
    }
    let per = t0.elapsed() / n;
    eprintln!("SELECT round trip through pcscd + vpcd: {per:?} (mean of {n})");
    assert!(per < Duration::from_millis(10), "SELECT takes {per:?}: TCP_NODELAY/QUICKACK not effective?");
}

#[test]
fn malformed_and_unsupported_commands_get_status_words() {
    let _rig = Rig::start().unwrap();
    let tok = token();
    let card = pcsc_connect(tok.reader());
    assert_eq!(sw(&pcsc_transmit(&card, &SELECT)), 0x9000);
    // Unknown INS, bad CLA, wrong P1/P2, malformed data, absent object, partial AID.
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0x12, 0x00, 0x00])), 0x6D00);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x80, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00])), 0x6E00);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0xCB, 0x00, 0x00, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00])), 0x6A86);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x09, 0x5F, 0x00])), 0x6A80);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x05, 0x00])), 0x6A82);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00])), 0x9000);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x00])), 0x6A82);
    // CHUID readable without authentication.
    let r = pcsc_transmit(&card, &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00]);
    assert_eq!(sw(&r), 0x9000);
    assert_eq!(r[0], 0x53);
    // Signing without a key / without PIN.
    let ga = [0x00, 0x87, 0x11, 0x9A, 0x06, 0x7C, 0x04, 0x82, 0x00, 0x81, 0x00];
    assert_eq!(sw(&pcsc_transmit(&card, &ga)), 0x6A88);
    // PIN status query, then a reset clears a verified PIN.
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0x20, 0x00, 0x80])), 0x63C3);
    let verify = [0x00, 0x20, 0x00, 0x80, 0x08, b'1', b'2', b'3', b'4', b'5', b'6', 0xFF, 0xFF];
    assert_eq!(sw(&pcsc_transmit(&card, &verify)), 0x9000);
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0x20, 0x00, 0x80])), 0x9000);
    card.disconnect(pcsc::Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    let card = pcsc_connect(tok.reader());
    assert_eq!(sw(&pcsc_transmit(&card, &[0x00, 0x20, 0x00, 0x80])), 0x63C3);
}
