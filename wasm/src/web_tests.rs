//! wasm-bindgen-test checks of the parts that touch web-sys / js-sys, run in headless Chromium
//! (`scripts/test.d/20-wasm.sh`).

use crate::json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlInputElement;

use crate::chrome;
use crate::ui::dom;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn json_round_trips_through_js() {
    let v = json!({"type": "view", "retries": 2, "error": null, "list": ["専用USB", 1.5]});
    assert_eq!(chrome::from_js(&chrome::to_js(&v)), v);
}

#[wasm_bindgen_test]
fn js_values_read_as_json_stringify_would_write_them() {
    use js_sys::{Array, Object, Reflect};
    use wasm_bindgen::JsValue;
    let set = |o: &Object, k: &str, v: JsValue| {
        Reflect::set(o, &k.into(), &v).unwrap();
    };
    let o = Object::new();
    set(&o, "nan", JsValue::from_f64(f64::NAN));
    set(&o, "gone", JsValue::UNDEFINED);
    set(&o, "neg", JsValue::from_f64(-3.0));
    set(&o, "zero", JsValue::from_f64(-0.0));
    set(&o, "big", JsValue::from_f64(1e21));
    let a = Array::new();
    a.push(&JsValue::UNDEFINED);
    a.push(&JsValue::from_f64(2.5));
    set(&o, "list", a.into());
    let expected = json!({"nan": null, "neg": -3, "zero": 0, "big": 1e21, "list": [null, 2.5]});
    assert_eq!(chrome::from_js(&o.clone().into()), expected);
    // A cycle (Firefox's structured clone keeps them) ends as JSON.stringify did: null.
    set(&o, "me", o.clone().into());
    assert_eq!(chrome::from_js(&o.into()), crate::json::Value::Null);
}

#[wasm_bindgen_test]
fn fields_render_as_a_definition_list() {
    let dl = dom::fields(&[("シリアル番号".into(), "6d89".into()), ("Common Name".into(), "SH001".into())]);
    assert_eq!(dl.tag_name(), "DL");
    assert_eq!(dl.child_element_count(), 4);
    assert_eq!(dl.text_content().unwrap_or_default(), "シリアル番号6d89Common NameSH001");
}

#[wasm_bindgen_test]
fn text_is_never_parsed_as_html() {
    let p = dom::el("p", "x", "<img src=x onerror=alert(1)>");
    assert_eq!(p.child_element_count(), 0);
    assert_eq!(p.class_name(), "x");
}

#[wasm_bindgen_test]
fn pin_progress_marks_the_current_step() {
    let bar = crate::ui::pin::progress(crate::i18n::Lang::Ja, "issue");
    let current = bar.query_selector("li.current").ok().flatten().and_then(|e| e.text_content());
    assert_eq!(current.as_deref(), Some("電子証明書の発行"));
    assert_eq!(bar.query_selector_all("li.past").map(|l| l.length()).unwrap_or(0), 3);
    // Named for assistive technology, its value read as the step (WCAG 2.2 4.1.2).
    let progress = bar.query_selector("progress").ok().flatten();
    let attr = |name: &str| progress.as_ref().and_then(|p| p.get_attribute(name));
    assert_eq!(attr("aria-label").as_deref(), Some("電子証明書の保存の進み具合"));
    assert_eq!(attr("aria-valuetext").as_deref(), Some("電子証明書の発行"));
}

#[wasm_bindgen_test]
fn without_extension_apis_calls_fail_instead_of_panicking() {
    assert!(chrome::call(&["runtime"], "connectNative", &["jp.kagi.host".into()]).is_err());
    assert_eq!(chrome::extension_url("x"), "");
}

#[wasm_bindgen_test]
fn secret_inputs_are_masked_and_emptied_when_read() {
    let form = dom::el("div", "", "");
    let input = dom::secret_input(&form, "new-pin", "新しい暗証番号", "6～8桁の数字");
    assert_eq!(input.get_attribute("type").as_deref(), Some("password"));
    let label = form.query_selector("label[for=new-pin]").ok().flatten().and_then(|l| l.text_content());
    assert_eq!(label.as_deref(), Some("新しい暗証番号"));
    let field = input.dyn_ref::<HtmlInputElement>().expect("an input element");
    field.set_value("24681357");
    assert_eq!(dom::take_value(&input).as_str(), "24681357");
    assert_eq!(field.value(), "", "the field is emptied as it is read");
}

#[wasm_bindgen_test]
fn a_choice_shows_organisation_name_expiry_and_reader() {
    let c = json!({"reader":"Virtual PCD 00 01","organization":"Kagi Demo Shinkin Bank","commonName":"SH001 SH001001 1898",
        "notAfter":"2027-11-26T00:00:00Z","hasCertificate":true});
    let dl = dom::fields(&crate::view::choice_fields(crate::i18n::Lang::Ja, &c));
    assert_eq!(
        dl.text_content().unwrap_or_default(),
        "OrganizationKagi Demo Shinkin BankCommon NameSH001 SH001001 1898有効期限2027-11-26接続先Virtual PCD 00 01"
    );
}

/// The allocator (talc) reuses what is freed: a service worker that handles messages for hours
/// must not grow. After a warm-up, many more rounds of building and dropping messages of mixed
/// sizes (as the broker and `from_js` do) leave the WASM memory at the same size.
#[wasm_bindgen_test]
fn memory_is_reused_over_a_long_run() {
    let round = |i: usize| {
        let big = "x".repeat(1 + (i * 37) % 5000);
        let v = json!({"type": "reply", "id": i, "result": {"list": [big.as_str(), "専用USB"], "n": i}});
        let back = chrome::from_js(&chrome::to_js(&v));
        assert_eq!(back["id"].as_u64(), Some(i as u64));
        let mut kept: Vec<String> = (0..(i % 17)).map(|k| k.to_string().repeat(k * 31)).collect();
        kept.truncate(i % 5);
        kept.len()
    };
    for i in 0..2_000 {
        round(i);
    }
    let before = core::arch::wasm32::memory_size(0);
    for i in 0..50_000 {
        round(i);
    }
    assert_eq!(core::arch::wasm32::memory_size(0), before, "pages of 64 KiB");
}

/// The tx parser's NFC rule, checked by the browser's String.prototype.normalize (nfc.rs): NFC
/// names pass, a decomposed one (カ + U+3099 for ガ) is TX_INVALID's `NotNfc`.
#[wasm_bindgen_test]
fn nfc_is_the_browsers_normalize() {
    use kagi_proto::tx::text::{check_text, is_nfc};
    use kagi_proto::tx::TxProblem;
    crate::nfc::install();
    assert!(is_nfc("株式会社鍵商事") && is_nfc("カブシキガイシャ") && is_nfc("Café"));
    assert!(!is_nfc("カ\u{3099}イシャ") && !is_nfc("Cafe\u{301}"));
    assert_eq!(check_text("カ\u{3099}イシャ", 80), Err(TxProblem::NotNfc));
    assert_eq!(check_text("ｶﾌﾞｼｷｶﾞｲｼｬ", 80), Ok(()));
}
