//! Native messaging frames from the browser: the decoder must refuse oversize and truncated
//! frames with an error, never panic or allocate the announced length.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = data;
    // A small cap so the fuzzer reaches the "too large" path as well as real bodies.
    while let Ok(Some(body)) = kagi_proto::frame::read(&mut r, 4096) {
        assert!(body.len() <= 4096);
    }
});
