//! Request decoding: any bytes give a typed request or refusal; a request re-encodes to itself.
//! The body lives in `kagi_fuzz_entries::request` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::request(data));
