//! BER-TLV (SP 800-73-4 / ISO 7816-4): decode, and re-encode what decoded.
#![no_main]
use kagi_host::piv::tlv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = tlv::parse_all(data) {
        for t in items {
            let enc = tlv::encode(t.tag, t.value);
            let (back, rest) = tlv::parse_one(&enc).expect("encoded TLV parses");
            assert!(rest.is_empty());
            assert_eq!((back.tag, back.value), (t.tag, t.value));
            let _ = t.children().count();
        }
    }
});
