//! BER-TLV (SP 800-73-4 / ISO 7816-4): decode, and re-encode what decoded.
//! The body lives in `kagi_fuzz_entries::tlv` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::tlv(data));
