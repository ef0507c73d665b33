//! The extension's `tx` parser (`kagi_proto::Transaction::from_json`) and the body decoder: any
//! bytes give a checked transaction or a `TX_INVALID` naming a field; an accepted transaction
//! round-trips through its JSON and its body, and every display helper runs on it without panic.
//! The body lives in `kagi_fuzz_entries::tx` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::tx(data));
