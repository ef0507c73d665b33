//! Native messaging frames from the browser: oversize and truncated frames are refused, never a panic.
//! The body lives in `kagi_fuzz_entries::frame` (tests/fuzz-replay), which a stable cargo test
//! also feeds with every seed, corpus entry and crash input of this target.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kagi_fuzz_entries::frame(data));
