//! The bank verifier's login-token parsing and checks (verify/) on whatever the page sends.
//! The body lives in `kagi_fuzz_entries::verifier_token` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::verifier_token(data));
