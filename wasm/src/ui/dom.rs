//! Small DOM helpers shared by the pages.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement};

use crate::i18n::Lang;

pub fn document() -> Document {
    // Extension pages always have a window and a document.
    web_sys::window().and_then(|w| w.document()).expect("extension page without a document")
}

/// `<tag class="class">text</tag>`.
pub fn el(tag: &str, class: &str, text: &str) -> Element {
    // Not `expect`: that would format the JsValue error with Debug (and bring in its machinery).
    let e = document().create_element(tag).unwrap_or_else(|_| panic!("invalid tag name"));
    if !class.is_empty() {
        e.set_class_name(class);
    }
    if !text.is_empty() {
        e.set_text_content(Some(text));
    }
    e
}

pub fn add(parent: &Element, child: &Element) {
    let _ = parent.append_child(child);
}

/// The page's `<main id="app">`, emptied.
pub fn app() -> Element {
    let d = document();
    let app = d.get_element_by_id("app").unwrap_or_else(|| {
        let m = el("main", "", "");
        m.set_id("app");
        if let Some(b) = d.body() {
            let _ = b.append_child(&m);
        }
        m
    });
    app.set_inner_html("");
    app
}

pub fn set_lang(lang: Lang, title: &str) {
    let d = document();
    if let Some(html) = d.document_element() {
        let _ = html.set_attribute("lang", lang.code());
    }
    d.set_title(title);
}

/// A button calling `f` on click.
pub fn button(label: &str, class: &str, f: impl FnMut() + 'static) -> Element {
    let b = el("button", class, label);
    let _ = b.set_attribute("type", "button");
    on(&b, "click", f);
    b
}

pub fn on(target: &Element, event: &str, mut f: impl FnMut() + 'static) {
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(move |_e: web_sys::Event| f()).into_js_value();
    let _ = target.add_event_listener_with_callback(event, cb.unchecked_ref());
}

pub fn click(e: &Element) {
    if let Some(h) = e.dyn_ref::<HtmlElement>() {
        h.click();
    }
}

pub fn focus(e: &Element) {
    if let Some(h) = e.dyn_ref::<HtmlElement>() {
        let _ = h.focus();
    }
}

/// A `<dl>` of label/value pairs.
pub fn fields(rows: &[(String, String)]) -> Element {
    let dl = el("dl", "fields", "");
    for (k, v) in rows {
        add(&dl, &el("dt", "", k));
        add(&dl, &el("dd", "", v));
    }
    dl
}

pub fn close_window() {
    if let Some(w) = web_sys::window() {
        let _ = w.close();
    }
}

/// A labelled masked input for a PIN or PUK (`<label for=id>` + `<input id=id type=password>`),
/// added to `parent`; returns the input.
pub fn secret_input(parent: &Element, id: &str, label: &str, hint: &str) -> Element {
    let l = el("label", "", label);
    let _ = l.set_attribute("for", id);
    add(parent, &l);
    let input = el("input", "", "");
    input.set_id(id);
    for (k, v) in [("type", "password"), ("inputmode", "numeric"), ("autocomplete", "off"), ("maxlength", "8"), ("placeholder", hint)] {
        let _ = input.set_attribute(k, v);
    }
    add(parent, &input);
    input
}

/// The input's value, taken out: the field is emptied at once so a PIN stays on screen no longer
/// than needed, and the copy is zeroized when dropped.
pub fn take_value(input: &Element) -> zeroize::Zeroizing<String> {
    match input.dyn_ref::<web_sys::HtmlInputElement>() {
        Some(field) => {
            let v = zeroize::Zeroizing::new(field.value());
            field.set_value("");
            v
        }
        None => zeroize::Zeroizing::new(String::new()),
    }
}

/// Calls `f` when Enter is pressed in `input`.
pub fn on_enter(input: &Element, mut f: impl FnMut() + 'static) {
    let cb = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |e: web_sys::KeyboardEvent| {
        if e.key() == "Enter" {
            f();
        }
    })
    .into_js_value();
    let _ = input.add_event_listener_with_callback("keydown", cb.unchecked_ref());
}
