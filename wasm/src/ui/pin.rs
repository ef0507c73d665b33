//! The PIN window: an extension page in its own window, so no bank page script can reach the
//! input. It shows which bank origin asks and for what (ログオン / 電子証明書の保存), the choice
//! when several of the bank's certificates (or tokens) match, the tries left, masked inputs (with
//! a new PIN, twice, when the factory PIN must go; PUK and new PIN when the PIN is blocked) and
//! cancel; for an acquisition, a progress bar through the steps. It renders the broker's view
//! (`broker/flow.rs`) and sends the customer's input back; PINs go from the inputs straight to
//! the service worker and the fields are emptied at once. A transaction confirmation (issue 16)
//! shows the whole request first (`txview`: the amount large with its 万 reading, the
//! counterparty, dates with weekday, every signed field, 「初めての相手先です」 in red, a flag beside
//! a look-alike name), then the PIN and a button labelled with the amount; the window ignores the
//! customer's input for its first second (`inputDelayMs`; the broker drops an early PIN too), so
//! an Enter held down on the bank page as the window appears cannot approve. Accessibility (issue 15, WCAG 2.2): errors
//! and tries left are alerts (`role="alert"`) named by the input's `aria-describedby`, Escape
//! cancels, the progress bar has a name; contrast and reduced motion are in `ui.css`.

use std::cell::RefCell;
use std::rc::Rc;

use crate::json::Value;

use crate::json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::dom::{self, add, el};
use crate::chrome;
use crate::i18n::{self, t, Lang, Msg};
use crate::settings::Settings;
use crate::txview::{self, TxView};
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
    /// When the window opened (ms since the epoch): the confirmation's input delay counts from here.
    opened_at: f64,
}

type Shared = Rc<RefCell<Win>>;

pub fn start() {
    Settings::load(|s| {
        let lang = s.lang();
        dom::set_lang(lang, t(lang, Msg::PinTitle));
        let session = session_from_url();
        let port = match chrome::call(&["runtime"], "connect", &[chrome::to_js(&json!({"name": "kagi-pin"}))]) {
            Ok(p) => p,
            Err(_) => return,
        };
        let w = Rc::new(RefCell::new(Win { lang, port: port.clone(), opened_at: chrome::now_ms() }));
        let w2 = w.clone();
        let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| render(&w2, &chrome::from_js(&m))).into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
        send(&w, json!({"type": "attach", "session": session}));
        escape_cancels();
    });
}

/// Escape does what the window's cancel (or, at the end, close) button does.
fn escape_cancels() {
    let cb = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(|e: web_sys::KeyboardEvent| {
        if e.key() == "Escape" {
            let d = dom::document();
            if let Some(b) = d.get_element_by_id("cancel").or_else(|| d.get_element_by_id("close")) {
                dom::click(&b);
            }
        }
    })
    .into_js_value();
    let _ = dom::document().add_event_listener_with_callback("keydown", cb.unchecked_ref());
}

fn session_from_url() -> u64 {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search.trim_start_matches('?').split('&').find_map(|kv| kv.strip_prefix("session=")).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn send(w: &Shared, v: Value) {
    let port = w.borrow().port.clone();
    let _ = chrome::call_on(&port, "postMessage", &[chrome::to_js(&v)]);
}

fn with_id(e: Element, id: &str) -> Element {
    e.set_id(id);
    e
}

fn small(v: &Value) -> Option<u8> {
    v.as_u64().map(|r| r.min(255) as u8)
}

fn render(w: &Shared, v: &Value) {
    let lang = w.borrow().lang;
    let phase = v["phase"].as_str().unwrap_or("gone");
    if phase == "gone" {
        return dom::close_window();
    }
    let enroll = v["purpose"] == "enroll";
    let confirm = v["purpose"] == "confirm";
    if phase == "done" && !enroll {
        // Login signed: nothing more to show; the bank page continues.
        return dom::close_window();
    }
    let app = dom::app();
    let _ = app.set_attribute("data-phase", phase);
    add(&app, &el("h1", "", t(lang, Msg::AppName)));
    let who = el("dl", "request", "");
    add(&who, &el("dt", "", t(lang, Msg::RequestedBy)));
    add(&who, &with_id(el("dd", "origin", v["origin"].as_str().unwrap_or("")), "origin"));
    add(&who, &el("dt", "", t(lang, Msg::Purpose)));
    let purpose = if enroll { Msg::PurposeEnroll } else if confirm { Msg::PurposeConfirm } else { Msg::PurposeLogin };
    add(&who, &with_id(el("dd", "purpose", t(lang, purpose)), "purpose"));
    if let Some(r) = v["reader"].as_str() {
        add(&who, &el("dt", "", t(lang, Msg::Reader)));
        add(&who, &with_id(el("dd", "", r), "reader"));
    }
    add(&app, &who);
    if enroll {
        add(&app, &progress(lang, phase));
    }
    // The request stays in view until the window closes (a wrong PIN, the signing, an error).
    let tx = if confirm { txview::transaction(lang, &v["tx"]) } else { None };
    if confirm && tx.is_none() {
        // The broker sends only a parsed tx: anything else is not shown, let alone approved.
        add(&app, &alert(el("p", "error", &i18n::error_text(lang, "TX_INVALID", None)), "error"));
        add(&app, &cancel_button(w, lang));
        return;
    }
    if let Some(tx) = &tx {
        add(&app, &transaction(lang, tx));
    }
    let error = v["error"]["code"].as_str();
    let retries = small(&v["retries"]);
    let setup = v["setup"] == true;
    match phase {
        "choose" => {
            add(&app, &el("p", "", t(lang, if enroll { Msg::ChooseToken } else { Msg::ChooseCertificate })));
            add(&app, &choices(w, lang, &v["choices"]));
            error_line(&app, lang, error, retries);
            let row = el("div", "buttons", "");
            add(&row, &cancel_button(w, lang));
            add(&app, &row);
        }
        "confirm" => {
            add(&app, &el("p", "", t(lang, Msg::ConfirmEnroll)));
            if setup {
                add(&app, &with_id(el("p", "note setup", t(lang, Msg::SetupNote)), "setup"));
            }
            add(&app, &el("p", "note", t(lang, Msg::ConfirmEnrollNote)));
            let row = el("div", "buttons", "");
            let w2 = w.clone();
            let ok = with_id(dom::button(t(lang, Msg::SaveToUsb), "primary", move || send(&w2, json!({"type": "confirm"}))), "confirm");
            add(&row, &ok);
            add(&row, &cancel_button(w, lang));
            add(&app, &row);
            dom::focus(&ok);
        }
        "pin" => pin_form(w, &app, lang, v, error, retries, tx.as_ref()),
        "blocked" => unblock_form(w, &app, lang, v, error),
        "done" => {
            add(&app, &with_id(el("p", "done", t(lang, Msg::EnrollDone)), "done"));
            add(&app, &el("p", "note", t(lang, Msg::EnrollDoneNote)));
            if v["certificate"].is_object() {
                add(&app, &el("h2", "", t(lang, Msg::CertDetails)));
                add(&app, &dom::fields(&view::certificate_fields(lang, &v["certificate"])));
            }
            add(&app, &close_button(lang));
        }
        "failed" => {
            add(&app, &alert(el("p", "error", &i18n::error_text(lang, error.unwrap_or("INTERNAL"), retries)), "error"));
            add(&app, &close_button(lang));
        }
        _ => {
            // preflight, working, unblocking, issue, store
            add(&app, &with_id(el("p", "working", t(lang, Msg::Working)), "working"));
            if enroll || phase == "unblocking" {
                add(&app, &el("p", "note", t(lang, Msg::DoNotRemove)));
            }
        }
    }
}

/// The error, if any, as an alert (announced by screen readers when shown); returns its id.
fn error_line(parent: &Element, lang: Lang, error: Option<&str>, retries: Option<u8>) -> Option<&'static str> {
    let code = error?;
    add(parent, &alert(el("p", "error", &i18n::error_text(lang, code, retries)), "error"));
    Some("error")
}

/// `e` with `id` and `role="alert"`: a live region, so tries left and errors are read out.
fn alert(e: Element, id: &str) -> Element {
    let _ = e.set_attribute("role", "alert");
    with_id(e, id)
}

/// Ties the input to the texts that explain it (tries left, the error): `aria-describedby`,
/// and `aria-invalid` after an error.
fn describe(input: &Element, ids: &[Option<&str>], error: bool) {
    let mut list = String::new();
    for id in ids.iter().flatten() {
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(id);
    }
    if !list.is_empty() {
        let _ = input.set_attribute("aria-describedby", &list);
    }
    if error {
        let _ = input.set_attribute("aria-invalid", "true");
    }
}

/// The bank's certificates (or tokens) to choose from, each with its select button `#choice-N`.
fn choices(w: &Shared, lang: Lang, list: &Value) -> Element {
    let ul = with_id(el("ul", "choices", ""), "choices");
    for (i, c) in list.as_array().into_iter().flatten().enumerate() {
        let li = el("li", "choice", "");
        add(&li, &dom::fields(&view::choice_fields(lang, c)));
        let w2 = w.clone();
        let b = dom::button(t(lang, Msg::Select), "primary", move || send(&w2, json!({"type": "choose", "index": i})));
        b.set_id(&["choice-", &i18n::num(i as u64)].concat());
        add(&li, &b);
        add(&ul, &li);
    }
    ul
}

/// The transaction as the window shows it (`txview`): kind, amount, the red new-counterparty
/// line, then the counterparty, the details and the payer, each value in its own `dd`.
fn transaction(lang: Lang, v: &TxView) -> Element {
    let sec = with_id(el("section", "tx", ""), "tx");
    // Focusable by script only (the window opens on it), and named by its kind for screen readers.
    let _ = sec.set_attribute("tabindex", "-1");
    let _ = sec.set_attribute("aria-label", &v.kind);
    let head = el("dl", "fields tx-head", "");
    add(&head, &el("dt", "", t(lang, Msg::TxKind)));
    add(&head, &with_id(el("dd", "", &v.kind), "tx-kind"));
    add(&head, &el("dt", "", t(lang, Msg::TxAmount)));
    let dd = el("dd", "", "");
    add(&dd, &with_id(el("p", "amount", &v.amount), "tx-amount"));
    add(&dd, &with_id(el("p", "amount-man", &v.amount_man), "tx-amount-man"));
    add(&head, &dd);
    add(&sec, &head);
    if v.new_counterparty {
        add(&sec, &with_id(el("p", "warning", t(lang, Msg::TxNewCounterparty)), "tx-new-counterparty"));
    }
    for g in &v.groups {
        add(&sec, &el("h2", "", t(lang, g.title)));
        let dl = el("dl", "fields", "");
        for r in &g.rows {
            add(&dl, &el("dt", "", t(lang, r.label)));
            let id = ["tx-", r.id].concat();
            let dd = with_id(el("dd", "", &r.value), &id);
            if r.confusable {
                add(&dd, &with_id(el("p", "warning", t(lang, Msg::TxConfusable)), &[&id, "-confusable"].concat()));
            }
            add(&dl, &dd);
        }
        add(&sec, &dl);
    }
    sec
}

fn pin_form(w: &Shared, app: &Element, lang: Lang, v: &Value, error: Option<&str>, retries: Option<u8>, tx: Option<&TxView>) {
    let new_pin = v["newPin"] == true;
    let form = el("div", "pin", "");
    if v["unblocked"] == true {
        add(&form, &with_id(el("p", "note", t(lang, Msg::UnblockedNote)), "unblocked"));
    }
    if new_pin && error != Some("PIN_CHANGE_REQUIRED") {
        add(&form, &with_id(el("p", "note", t(lang, Msg::NewPinNeeded)), "new-pin-needed"));
    }
    if v["setup"] == true {
        add(&form, &with_id(el("p", "note setup", t(lang, Msg::SetupNote)), "setup"));
    }
    let input = dom::secret_input(&form, "pin", t(lang, if new_pin { Msg::CurrentPinLabel } else { Msg::PinLabel }), t(lang, Msg::PinHint));
    let tries = retries.map(|r| {
        add(&form, &alert(el("p", "retries", &i18n::tries_left(lang, r)), "retries"));
        "retries"
    });
    let extra = new_pin.then(|| {
        let a = dom::secret_input(&form, "new-pin", t(lang, Msg::NewPinLabel), t(lang, Msg::PinHint));
        let b = dom::secret_input(&form, "new-pin-again", t(lang, Msg::NewPinAgainLabel), t(lang, Msg::PinHint));
        add(&form, &el("p", "note", t(lang, Msg::NewPinRule)));
        (a, b)
    });
    let shown = error_line(&form, lang, error, retries);
    describe(&input, &[tries, shown], shown.is_some());
    // A confirmation takes no input before `inputDelayMs` has passed since the window opened.
    let ready_at = if tx.is_some() { w.borrow().opened_at + v["inputDelayMs"].as_f64().unwrap_or(1000.0) } else { 0.0 };
    let (w2, inp, ex) = (w.clone(), input.clone(), extra.clone());
    let submit: Rc<dyn Fn()> = Rc::new(move || {
        if chrome::now_ms() < ready_at {
            return;
        }
        let pin = dom::take_value(&inp);
        let msg = match &ex {
            Some((a, b)) => {
                let (n1, n2) = (dom::take_value(a), dom::take_value(b));
                json!({"type": "pin", "pin": pin.as_str(), "newPin": n1.as_str(), "newPinConfirm": n2.as_str()})
            }
            None => json!({"type": "pin", "pin": pin.as_str()}),
        };
        send(&w2, msg);
    });
    let label = match tx {
        Some(tx) => i18n::filled(lang, Msg::TxApprove, &tx.amount),
        None => t(lang, Msg::Ok).to_owned(),
    };
    let ok = buttons(w, &form, &label, "ok", lang, &submit);
    let wait = ready_at - chrome::now_ms();
    if wait > 0.0 {
        // Disabled until then, so that a click aimed at the bank page does nothing either.
        let _ = ok.set_attribute("disabled", "");
        let b = ok.clone();
        let enable = Closure::once_into_js(move || {
            let _ = b.remove_attribute("disabled");
        });
        chrome::set_timeout(&enable, wait);
    }
    add(app, &form);
    let last = extra.map(|(_, b)| b).unwrap_or_else(|| input.clone());
    let s = submit.clone();
    dom::on_enter(&last, move || s());
    match (tx, error) {
        // A confirmation opens on the transaction, not the PIN field: the window shows its top
        // (the amount, the counterparty), a screen reader starts there, and no key held down
        // lands in the field. After an error the field has the focus, as for a log-on.
        (Some(_), None) => {
            if let Some(sec) = dom::document().get_element_by_id("tx") {
                dom::focus(&sec);
            }
            // Focusing scrolls the section into view; the window starts at its top (the origin).
            if let Some(win) = web_sys::window() {
                win.scroll_to_with_x_and_y(0.0, 0.0);
            }
        }
        _ => dom::focus(&input),
    }
}

fn unblock_form(w: &Shared, app: &Element, lang: Lang, v: &Value, error: Option<&str>) {
    let form = el("div", "pin", "");
    add(&form, &alert(el("p", "error", t(lang, Msg::BlockedIntro)), "blocked"));
    let puk = dom::secret_input(&form, "puk", t(lang, Msg::PukLabel), t(lang, Msg::PukHint));
    let puk_retries = small(&v["pukRetries"]);
    let tries = puk_retries.map(|r| {
        add(&form, &alert(el("p", "retries", &i18n::puk_tries_left(lang, r)), "puk-retries"));
        "puk-retries"
    });
    let a = dom::secret_input(&form, "new-pin", t(lang, Msg::NewPinLabel), t(lang, Msg::PinHint));
    let b = dom::secret_input(&form, "new-pin-again", t(lang, Msg::NewPinAgainLabel), t(lang, Msg::PinHint));
    add(&form, &el("p", "note", t(lang, Msg::NewPinRule)));
    // The blocked PIN itself is said above; show what went wrong with the unblock.
    let shown = error_line(&form, lang, error.filter(|c| *c != "PIN_BLOCKED"), puk_retries);
    describe(&puk, &[Some("blocked"), tries, shown], shown.is_some());
    let (w2, p, a2, b2) = (w.clone(), puk.clone(), a.clone(), b.clone());
    let submit: Rc<dyn Fn()> = Rc::new(move || {
        let (k, n1, n2) = (dom::take_value(&p), dom::take_value(&a2), dom::take_value(&b2));
        send(&w2, json!({"type": "unblock", "puk": k.as_str(), "newPin": n1.as_str(), "newPinConfirm": n2.as_str()}));
    });
    buttons(w, &form, t(lang, Msg::Unblock), "unblock", lang, &submit);
    add(app, &form);
    let s = submit.clone();
    dom::on_enter(&b, move || s());
    dom::focus(&puk);
}

/// The primary button (`id`) running `submit`, and cancel; returns the primary button.
fn buttons(w: &Shared, form: &Element, label: &str, id: &str, lang: Lang, submit: &Rc<dyn Fn()>) -> Element {
    let row = el("div", "buttons", "");
    let s = submit.clone();
    let ok = with_id(dom::button(label, "primary", move || s()), id);
    add(&row, &ok);
    add(&row, &cancel_button(w, lang));
    add(form, &row);
    ok
}

fn cancel_button(w: &Shared, lang: Lang) -> Element {
    let w2 = w.clone();
    let b = dom::button(t(lang, Msg::Cancel), "", move || {
        send(&w2, json!({"type": "cancel"}));
        dom::close_window();
    });
    with_id(b, "cancel")
}

fn close_button(lang: Lang) -> Element {
    with_id(dom::button(t(lang, Msg::Close), "primary", dom::close_window), "close")
}

/// The acquisition progress bar: every step, the current one highlighted.
pub(crate) fn progress(lang: Lang, phase: &str) -> Element {
    let current = STEPS.iter().position(|(_, p)| *p == phase);
    let ol = with_id(el("ol", "steps", ""), "steps");
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
    // Named, and its value read as the step's name rather than "3 of 5".
    let _ = bar.set_attribute("aria-label", t(lang, Msg::Progress));
    let _ = bar.set_attribute("aria-valuetext", t(lang, STEPS[current.unwrap_or(0)].0));
    let _ = bar.set_attribute("max", &i18n::num((STEPS.len() - 1) as u64));
    let _ = bar.set_attribute("value", &i18n::num(current.unwrap_or(0) as u64));
    add(&wrap, &bar);
    add(&wrap, &ol);
    wrap
}
