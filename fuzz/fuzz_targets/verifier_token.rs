//! What a bank server receives from the page: the login token JSON, then every check of the
//! verifier (base64, certificate parsing, path validation, signature) on whatever it holds.
#![no_main]
use std::sync::OnceLock;
use std::time::SystemTime;

use kagi_verify::{LoginToken, NoRecords, Nonce, Origin, Verifier};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("CA");
        Verifier::new([ca.der().to_vec()]).expect("verifier")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = serde_json::from_slice::<LoginToken>(data) else { return };
    let origin = Origin::parse("https://bank.example").expect("origin");
    let nonce = Nonce::from_random(&[1u8; 32]);
    let _ = verifier().verify_token(&token, &origin, &nonce, &NoRecords, SystemTime::now());
});
