//! The PIN window: an extension page in its own window, so no bank page script can reach the
//! input. It shows which bank origin asks and for what (ログオン / 電子証明書の保存), the tries left,
//! a masked input and cancel; for an acquisition, a progress bar through the steps. The PIN goes
//! from the input straight to the service worker and the field is emptied at once.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use zeroize::Zeroizing;

use super::dom::{self, add, el};
use crate::chrome;
use crate::i18n::{self, t, Lang, Msg};
use crate::settings::Settings;
use crate::view;

/// Acquisition steps as the progress bar shows them, with the broker phase each one covers.
const STEPS: [(Msg, &str); 6] = [
    (Msg::StepConfirm, "confirm"),
    (Msg::StepPin, "pin"),
    (Msg::StepGenerate, "working"),
    (Msg::StepIssue, "issue"),
    (Msg::StepStore, "store"),
    (Msg::StepDone, "done"),
];

struct Win {
    lang: Lang,
    port: JsValue,
}

type Shared = Rc<RefCell<Win>>;

pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        let lang = Settings::load().await.lang();
        dom::set_lang(lang, t(lang, Msg::PinTitle));
        let session = session_from_url();
        let port = match chrome::call(&["runtime"], "connect", &[chrome::to_js(&json!({"name": "kagi-pin"}))]) {
            Ok(p) => p,
            Err(_) => return,
        };
        let w = Rc::new(RefCell::new(Win { lang, port: port.clone() }));
        let w2 = w.clone();
        let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| render(&w2, &chrome::from_js(&m))).into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
        send(&w, json!({"type": "attach", "session": session}));
    });
}

fn session_from_url() -> u64 {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("session=")).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn send(w: &Shared, v: Value) {
    let port = w.borrow().port.clone();
    let _ = chrome::call_on(&port, "postMessage", &[chrome::to_js(&v)]);
}

fn render(w: &Shared, v: &Value) {
    let lang = w.borrow().lang;
    let phase = v["phase"].as_str().unwrap_or("gone");
    if phase == "gone" {
        return dom::close_window();
    }
    let enroll = v["purpose"] == "enroll";
    if phase == "done" && !enroll {
        // Login signed: nothing more to show; the bank page continues.
        return dom::close_window();
    }
    let app = dom::app();
    let _ = app.set_attribute("data-phase", phase);
    add(&app, &el("h1", "", t(lang, Msg::AppName)));
    let who = el("dl", "request", "");
    add(&who, &el("dt", "", t(lang, Msg::RequestedBy)));
    let origin = el("dd", "origin", v["origin"].as_str().unwrap_or(""));
    origin.set_id("origin");
    add(&who, &origin);
    add(&who, &el("dt", "", t(lang, Msg::Purpose)));
    let purpose = el("dd", "purpose", t(lang, if enroll { Msg::PurposeEnroll } else { Msg::PurposeLogin }));
    purpose.set_id("purpose");
    add(&who, &purpose);
    add(&app, &who);
    if enroll {
        add(&app, &progress(lang, phase));
    }
    let error = v["error"]["code"].as_str();
    let retries = v["retries"].as_u64().map(|r| r.min(255) as u8);
    match phase {
        "confirm" => {
            add(&app, &el("p", "", t(lang, Msg::ConfirmEnroll)));
            add(&app, &el("p", "note", t(lang, Msg::ConfirmEnrollNote)));
            let row = el("div", "buttons", "");
            let w2 = w.clone();
            let ok = dom::button(t(lang, Msg::SaveToUsb), "primary", move || send(&w2, json!({"type": "confirm"})));
            ok.set_id("confirm");
            add(&row, &ok);
            add(&row, &cancel_button(w, lang));
            add(&app, &row);
            dom::focus(&ok);
        }
        "pin" => pin_form(w, &app, lang, error, retries),
        "working" | "issue" | "store" => {
            let p = el("p", "working", t(lang, Msg::Working));
            p.set_id("working");
            add(&app, &p);
            if enroll {
                add(&app, &el("p", "note", t(lang, Msg::DoNotRemove)));
            }
        }
        "done" => {
            let p = el("p", "done", t(lang, Msg::EnrollDone));
            p.set_id("done");
            add(&app, &p);
            add(&app, &el("p", "note", t(lang, Msg::EnrollDoneNote)));
            if v["certificate"].is_object() {
                add(&app, &el("h2", "", t(lang, Msg::CertDetails)));
                add(&app, &dom::fields(&view::certificate_fields(lang, &v["certificate"])));
            }
            add(&app, &close_button(lang));
        }
        _ => {
            // failed
            let p = el("p", "error", &i18n::error_text(lang, error.unwrap_or("INTERNAL"), retries));
            p.set_id("error");
            add(&app, &p);
            add(&app, &close_button(lang));
        }
    }
}

fn pin_form(w: &Shared, app: &web_sys::Element, lang: Lang, error: Option<&str>, retries: Option<u8>) {
    let form = el("div", "pin", "");
    let label = el("label", "", t(lang, Msg::PinLabel));
    let _ = label.set_attribute("for", "pin");
    add(&form, &label);
    let input = el("input", "", "");
    input.set_id("pin");
    for (k, v) in [("type", "password"), ("inputmode", "numeric"), ("autocomplete", "off"), ("maxlength", "8"), ("pattern", "[0-9]*"), ("placeholder", t(lang, Msg::PinHint))] {
        let _ = input.set_attribute(k, v);
    }
    add(&form, &input);
    if let Some(r) = retries {
        let p = el("p", "retries", &i18n::tries_left(lang, r));
        p.set_id("retries");
        add(&form, &p);
    }
    if let Some(code) = error {
        let p = el("p", "error", &i18n::error_text(lang, code, retries));
        p.set_id("error");
        add(&form, &p);
    }
    let row = el("div", "buttons", "");
    let (w2, inp) = (w.clone(), input.clone());
    let submit = move || {
        let Some(field) = inp.dyn_ref::<HtmlInputElement>() else { return };
        let pin = Zeroizing::new(field.value());
        // Empty the field before anything else so the PIN stays on screen no longer than needed.
        field.set_value("");
        send(&w2, json!({"type": "pin", "pin": pin.as_str()}));
    };
    let submit = Rc::new(RefCell::new(submit));
    let s1 = submit.clone();
    let ok = dom::button(t(lang, Msg::Ok), "primary", move || (s1.borrow_mut())());
    ok.set_id("ok");
    add(&row, &ok);
    add(&row, &cancel_button(w, lang));
    add(&form, &row);
    add(app, &form);
    let s2 = submit.clone();
    let cb = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |e: web_sys::KeyboardEvent| {
        if e.key() == "Enter" {
            (s2.borrow_mut())();
        }
    })
    .into_js_value();
    let _ = input.add_event_listener_with_callback("keydown", cb.unchecked_ref());
    dom::focus(&input);
}

fn cancel_button(w: &Shared, lang: Lang) -> web_sys::Element {
    let w2 = w.clone();
    let b = dom::button(t(lang, Msg::Cancel), "", move || {
        send(&w2, json!({"type": "cancel"}));
        dom::close_window();
    });
    b.set_id("cancel");
    b
}

fn close_button(lang: Lang) -> web_sys::Element {
    let b = dom::button(t(lang, Msg::Close), "primary", dom::close_window);
    b.set_id("close");
    b
}

/// The acquisition progress bar: every step, the current one highlighted.
pub(crate) fn progress(lang: Lang, phase: &str) -> web_sys::Element {
    let current = STEPS.iter().position(|(_, p)| *p == phase);
    let ol = el("ol", "steps", "");
    ol.set_id("steps");
    for (i, (m, _)) in STEPS.iter().enumerate() {
        let class = match current {
            Some(c) if i < c => "step past",
            Some(c) if i == c => "step current",
            _ => "step",
        };
        add(&ol, &el("li", class, t(lang, *m)));
    }
    let wrap = el("div", "progress", "");
    let bar = el("progress", "", "");
    let total = (STEPS.len() - 1) as f64;
    let _ = bar.set_attribute("max", &total.to_string());
    let _ = bar.set_attribute("value", &current.unwrap_or(0).to_string());
    add(&wrap, &bar);
    add(&wrap, &ol);
    wrap
}
