//! What a bank requiring key attestation receives with a CSR: the CSR, the token's statement
//! and its F9 certificate, each from the input (two length bytes before the first two), through
//! every check of `AttestationPolicy::check` (parsing, path validation, key comparison,
//! Yubico's extensions).
#![no_main]
use std::sync::OnceLock;
use std::time::SystemTime;

use kagi_verify::{AttestationPolicy, KeyAttestation};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static AttestationPolicy {
    static P: OnceLock<AttestationPolicy> = OnceLock::new();
    P.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let root = params.self_signed(&key).expect("root");
        AttestationPolicy::new([root.der().to_vec()]).expect("policy")
    })
}

/// Splits off a part whose length is the next two bytes (as much as there is).
fn part(data: &[u8]) -> (&[u8], &[u8]) {
    let [a, b, rest @ ..] = data else { return (data, &[]) };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    rest.split_at(n)
}

fuzz_target!(|data: &[u8]| {
    let (csr, rest) = part(data);
    let (certificate, intermediate) = part(rest);
    let att = KeyAttestation { certificate, intermediate };
    let _ = policy().check(csr, Some(att), SystemTime::now());
    let _ = policy().verify_statement(att, SystemTime::now());
});
