//! The bank's key attestation check (verify/): CSR, statement and F9 certificate from the input.
//! The body lives in `kagi_fuzz_entries::attestation` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::attestation(data));
