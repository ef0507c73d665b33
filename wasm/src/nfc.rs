//! The NFC check for kagi-proto's `kagi-tx:1` parser (`tx::text::set_nfc_check`): the extension
//! builds kagi-proto with `tx-core`, without unicode-normalization's tables (about 20 KB gzip,
//! more than the WASM budget of issue 13 leaves), and asks the browser instead:
//! `String.prototype.normalize("NFC")` (ECMA-262 §22.1.3.15, UAX #15) must give the text back
//! unchanged. The parser and its rules stay the one implementation in kagi-proto; the host
//! parses the same `tx` again with the tables before anything is signed.

/// Installs the check (idempotent: the first one stays). Native builds (the tests) use the
/// tables the host uses, since there is no JavaScript engine.
pub fn install() {
    kagi_proto::tx::text::set_nfc_check(is_nfc);
}

#[cfg(target_arch = "wasm32")]
fn is_nfc(s: &str) -> bool {
    let js = js_sys::JsString::from(s);
    js.normalize("NFC") == js
}

#[cfg(not(target_arch = "wasm32"))]
fn is_nfc(s: &str) -> bool {
    #[cfg(test)]
    {
        use unicode_normalization::UnicodeNormalization;
        s.chars().eq(s.nfc())
    }
    // A native non-test build has no use for the parser's NFC check: refuse (fail closed).
    #[cfg(not(test))]
    {
        s.is_ascii()
    }
}
