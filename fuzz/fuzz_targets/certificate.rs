//! Certificate summaries of whatever a token holds, and ECDSA signature conversion.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = kagi_host::x509::ParsedCert::parse(data) {
        let _ = c.summary("9A");
    }
    let _ = kagi_host::x509::ecdsa_der_to_raw(data);
});
