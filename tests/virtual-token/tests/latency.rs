//! The latency model and the APDU counter (issue 13), through pcscd + vpcd: the counter
//! includes an APDU as soon as its response has arrived, counts what independent tools send,
//! and the latency model makes each exchange cost what it says.

use kagi_rig::{run_with_timeout, Rig, VToken};
use kagi_rig::tools::{pcsc_connect, pcsc_transmit};
use std::process::Command;
use std::time::{Duration, Instant};

fn builder() -> kagi_rig::VTokenBuilder {
    VToken::builder().bin(env!("CARGO_BIN_EXE_kagi-vtoken")).any_free_reader()
}

const SELECT: [u8; 16] = [0x00, 0xA4, 0x04, 0x00, 0x0B, 0xA0, 0, 0, 0x03, 0x08, 0, 0, 0x10, 0, 0x01, 0];

#[test]
fn apdu_counter_is_current_when_the_response_arrives() {
    let _rig = Rig::start().unwrap();
    let tok = builder().count_apdus(true).spawn().unwrap();
    let card = pcsc_connect(tok.reader());
    let start = tok.apdu_count().unwrap();
    for i in 1..=50u64 {
        let r = pcsc_transmit(&card, &SELECT);
        assert_eq!(&r[r.len() - 2..], [0x90, 0x00]);
        // Read right after the response: the APDU is already counted, and nothing else is.
        let now = tok.apdu_count().unwrap();
        assert_eq!(now.apdus - start.apdus, i, "after SELECT #{i}");
    }
    let before = tok.apdu_count().unwrap();
    let r = pcsc_transmit(&card, &[0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x00]);
    let r2 = pcsc_transmit(&card, &[0x00, 0x20, 0x00, 0x80]);
    let d = &tok.apdu_count().unwrap() - &before;
    assert_eq!(d.apdus, 2);
    assert_eq!(d.bytes_in, 11 + 4);
    assert_eq!(d.bytes_out, (r.len() + r2.len()) as u64);
    assert_eq!(d.by_ins.into_iter().collect::<Vec<_>>(), [(0x20, 1), (0xCB, 1)]);
    card.disconnect(pcsc::Disposition::ResetCard).map_err(|(_, e)| e).unwrap();
    // A reset is not an APDU; it is counted apart.
    let after_reset = tok.apdu_count().unwrap();
    assert!(after_reset.resets > before.resets, "{after_reset:?}");
    assert_eq!(after_reset.apdus, before.apdus + 2);
}

#[test]
fn apdu_counter_counts_an_independent_tool_and_survives_replug() {
    let _rig = Rig::start().unwrap();
    let mut tok = builder().count_apdus(true).verbose(true).spawn().unwrap();
    let before = tok.apdu_count().unwrap();
    let out = run_with_timeout(Command::new("yubico-piv-tool").args(["-r", tok.reader(), "-a", "status"]), Duration::from_secs(60)).unwrap();
    out.assert_success("status");
    let d = &tok.apdu_count().unwrap() - &before;
    // The log has one "> " line per APDU the token answered.
    let logged = tok.log().lines().filter(|l| l.starts_with("kagi-vtoken: > ")).count() as u64;
    assert_eq!(d.apdus, logged, "{d:?}");
    assert!(d.by_ins.get(&0xA4).is_some_and(|n| *n >= 1) && d.by_ins.get(&0xCB).is_some_and(|n| *n >= 2), "{d:?}");
    // Pulled and plugged again: the counts continue.
    let total = tok.apdu_count().unwrap();
    tok.pull().unwrap();
    tok.plug().unwrap();
    assert_eq!(tok.apdu_count().unwrap().apdus, total.apdus);
    let card = pcsc_connect(tok.reader());
    pcsc_transmit(&card, &SELECT);
    assert_eq!(tok.apdu_count().unwrap().apdus, total.apdus + 1);
    // Without count_apdus there is no counter.
    drop(card);
    drop(tok);
    let plain = builder().spawn().unwrap();
    assert!(plain.apdu_count().is_err());
}

/// Median round trip of `apdu` over `n` exchanges (the median: other developers' builds share
/// these 2 cores and make single exchanges late now and then).
fn median_round_trip(card: &pcsc::Card, apdu: &[u8], n: usize) -> Duration {
    pcsc_transmit(card, apdu);
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t0 = Instant::now();
            pcsc_transmit(card, apdu);
            t0.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

#[test]
fn latency_model_sets_the_cost_of_each_exchange() {
    let _rig = Rig::start().unwrap();
    // Fast mode (the default): well under a millisecond.
    let fast = builder().spawn().unwrap();
    let card = pcsc_connect(fast.reader());
    let base = median_round_trip(&card, &SELECT, 50);
    drop(card);
    drop(fast);
    // 3 ms per APDU + 20 µs per byte: a SELECT is 16 + 2 (+ the APT) bytes.
    let tok = builder().latency(3000, 20).spawn().unwrap();
    let card = pcsc_connect(tok.reader());
    let r = pcsc_transmit(&card, &SELECT);
    let want = Duration::from_micros(3000 + 20 * (SELECT.len() + r.len()) as u64);
    let got = median_round_trip(&card, &SELECT, 20);
    eprintln!("SELECT: fast {base:?}, model {got:?} (model cost {want:?})");
    assert!(got >= want, "{got:?} < {want:?}");
    assert!(got < want + base + Duration::from_millis(2), "{got:?} much more than {want:?}");
    drop(card);
    drop(tok);
    // The USB full-speed model: about 1 ms for a short APDU, about 5 ms for a 256-byte answer.
    let tok = builder().usb_latency().count_apdus(true).spawn().unwrap();
    assert!(tok.log().contains("latency model: 1000 µs per APDU + 16 µs per byte"), "{}", tok.log());
    let card = pcsc_connect(tok.reader());
    let short = median_round_trip(&card, &[0x00, 0x20, 0x00, 0x80], 20);
    assert!(short >= Duration::from_micros(1000 + 16 * 6), "{short:?}");
    let long = median_round_trip(&card, &[0x00, 0xFD, 0x00, 0x00, 0x00], 5);
    eprintln!("USB model: VERIFY status {short:?}, GET VERSION {long:?}");
    assert!(long >= Duration::from_micros(1000 + 16 * (5 + 5)), "{long:?}");
}
