//! The entry functions of Kagi's fuzz targets: each libFuzzer target in `fuzz/fuzz_targets/`
//! is one line calling the function of the same name here, and `tests/replay.rs` feeds the same
//! functions every committed seed, local corpus entry and crash input on stable Rust, so an
//! input that crashed once stays fixed (issue 14, "Fuzz seeds and any crash inputs are replayed
//! as ordinary cargo tests"). A panic is the finding; return values are deliberately ignored.

use std::sync::OnceLock;
use std::time::SystemTime;

use kagi_host::piv::{attest, commands, tlv as piv_tlv, KeyAlgorithm, PublicKey, Response};
use kagi_verify::{AttestationPolicy, KeyAttestation, LoginToken, NoRecords, Nonce, Origin, Verifier};

/// Every target by its `fuzz/Cargo.toml` `[[bin]]` name, with its entry function.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("frame", frame),
    ("request", request),
    ("tx", tx),
    ("tlv", tlv),
    ("apdu_response", apdu_response),
    ("certificate", certificate),
    ("verifier_token", verifier_token),
    ("attestation", attestation),
];

/// Native messaging frames from the browser: the decoder must refuse oversize and truncated
/// frames with an error, never panic or allocate the announced length.
pub fn frame(data: &[u8]) {
    let mut r = data;
    // A small cap so the fuzzer reaches the "too large" path as well as real bodies.
    while let Ok(Some(body)) = kagi_proto::frame::read(&mut r, 4096) {
        assert!(body.len() <= 4096);
    }
}

/// Request decoding: any bytes give a typed request or a typed refusal; a request re-encodes to
/// the same request.
pub fn request(data: &[u8]) {
    if let Ok(req) = kagi_proto::Request::parse(data) {
        let again = kagi_proto::Request::parse(req.to_json().to_string().as_bytes())
            .expect("re-encoded request parses");
        assert_eq!(again, req);
    }
}

/// The extension's `tx` parser (`kagi_proto::Transaction::from_json`) and the body decoder: any
/// bytes give a checked transaction or a `TX_INVALID` naming a field; an accepted transaction
/// round-trips through its JSON and its body, and every display helper runs on it without panic.
pub fn tx(data: &[u8]) {
    use kagi_proto::tx::display;
    use kagi_proto::Transaction;
    let parsed = std::str::from_utf8(data).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
    let tx = match parsed {
        Some(v) => Transaction::from_json(&v),
        None => Transaction::decode_body(data),
    };
    match tx {
        Ok(t) => {
            assert_eq!(Transaction::from_json(&t.to_json()).as_ref(), Ok(&t));
            assert_eq!(Transaction::decode_body(&t.encode_body()).as_ref(), Ok(&t));
            let _ = (display::amount(t.amount_yen()), display::amount_man(t.amount_yen()));
            for name in ["recordDate", "dueDate"] {
                let _ = t.date(name).map(display::date_ja);
            }
            for (_, v) in t.fields() {
                let _ = (display::fold_halfwidth_kana(v), display::skeleton(v), display::confusable(v));
            }
        }
        Err(e) => {
            let w = e.to_wire();
            assert_eq!(w.code.as_str(), "TX_INVALID");
        }
    }
}

/// BER-TLV (SP 800-73-4 / ISO 7816-4): decode, and re-encode what decoded.
pub fn tlv(data: &[u8]) {
    if let Ok(items) = piv_tlv::parse_all(data) {
        for t in items {
            let enc = piv_tlv::encode(t.tag, t.value);
            let (back, rest) = piv_tlv::parse_one(&enc).expect("encoded TLV parses");
            assert!(rest.is_empty());
            assert_eq!((back.tag, back.value), (t.tag, t.value));
            let _ = t.children().count();
        }
    }
}

/// Card answers: the APDU response and every PIV object parser the host runs on card data.
pub fn apdu_response(data: &[u8]) {
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
}

/// Certificate summaries of whatever a token holds, and ECDSA signature conversion.
pub fn certificate(data: &[u8]) {
    if let Ok(c) = kagi_host::x509::ParsedCert::parse(data) {
        let _ = c.summary("9A");
    }
    let _ = kagi_host::x509::ecdsa_der_to_raw(data);
}

/// A self-signed CA made once per process: the verifiers below need a trust anchor, and the
/// inputs cannot chain to it anyway (the point is that parsing and checking never panic).
fn test_ca() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("CA").der().to_vec()
}

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| Verifier::new([test_ca()]).expect("verifier"))
}

/// What a bank server receives from the page: the login token JSON, then every check of the
/// verifier (base64, certificate parsing, path validation, signature) on whatever it holds.
pub fn verifier_token(data: &[u8]) {
    let Ok(token) = serde_json::from_slice::<LoginToken>(data) else { return };
    let origin = Origin::parse("https://bank.example").expect("origin");
    let nonce = Nonce::from_random(&[1u8; 32]);
    let _ = verifier().verify_token(&token, &origin, &nonce, &NoRecords, SystemTime::now());
}

fn policy() -> &'static AttestationPolicy {
    static P: OnceLock<AttestationPolicy> = OnceLock::new();
    P.get_or_init(|| AttestationPolicy::new([test_ca()]).expect("policy"))
}

/// Splits off a part whose length is the next two bytes (as much as there is).
fn part(data: &[u8]) -> (&[u8], &[u8]) {
    let [a, b, rest @ ..] = data else { return (data, &[]) };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    rest.split_at(n)
}

/// What a bank requiring key attestation receives with a CSR: the CSR, the token's statement
/// and its F9 certificate, each from the input (two length bytes before the first two), through
/// every check of `AttestationPolicy::check` (parsing, path validation, key comparison,
/// Yubico's extensions).
pub fn attestation(data: &[u8]) {
    let (csr, rest) = part(data);
    let (certificate, intermediate) = part(rest);
    let att = KeyAttestation { certificate, intermediate };
    let _ = policy().check(csr, Some(att), SystemTime::now());
    let _ = policy().verify_statement(att, SystemTime::now());
}
