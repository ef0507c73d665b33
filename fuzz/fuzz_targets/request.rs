//! Request decoding: any bytes give a typed request or a typed refusal; a request re-encodes to
//! the same request.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = kagi_proto::Request::parse(data) {
        let again = kagi_proto::Request::parse(req.to_json().to_string().as_bytes()).expect("re-encoded request parses");
        assert_eq!(again, req);
    }
});
