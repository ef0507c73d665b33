//! Card answers: the APDU response and every PIV object parser the host runs on card data.
#![no_main]
use kagi_host::piv::{attest, commands, KeyAlgorithm, PublicKey, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Response::from_bytes(data).map(|r| r.status());
    let _ = commands::parse_select(data);
    let _ = commands::unwrap_data_object(data);
    let _ = commands::parse_certificate_object(data);
    let _ = commands::parse_chuid(data);
    let _ = commands::parse_discovery(data);
    let _ = commands::parse_key_history(data);
    let _ = attest::parse_attestation(data);
    for alg in [KeyAlgorithm::EccP256, KeyAlgorithm::Rsa2048] {
        let _ = commands::parse_signature(data, alg);
        if let Ok(k) = PublicKey::from_7f49(data, alg) {
            kagi_host::x509::spki_bits(&k.spki_der()).expect("generated SPKI parses");
        }
    }
});
