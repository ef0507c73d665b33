//! The toolbar popup: host and token status (presence, PIN and PUK tries left; the popup asks
//! `status` without a bank's issuers, so it shows no certificate), and per token 暗証番号の変更
//! (current PIN + new PIN twice) and ロック解除 (PUK + new PIN twice). The service worker checks
//! the new PIN with the shared rule before the host sees it. For a support desk (issue 15): the
//! extension's and the host's versions, and 「診断情報をコピー」, which copies the host's
//! `diagnose` text (no PIN, key or nonce in it) with the extension's version to the clipboard;
//! without a host, a text that says so.

use std::cell::RefCell;
use std::rc::Rc;

use crate::json::Value;

use crate::json::json;
use wasm_bindgen::prelude::*;
use web_sys::Element;

use super::dom::{self, add, el};
use crate::chrome;
use crate::i18n::{self, t, Lang, Msg};
use crate::expiry;
use crate::settings::{self, Settings};
use crate::view::{self, Level};

/// Which PIN form is open, for which reader.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Change,
    Unblock,
}

struct Popup {
    settings: Settings,
    port: JsValue,
    next: u64,
    status: Value,
    form: Option<(Form, String)>,
    /// The id of the pin.change / pin.unblock in flight, and what it was.
    op: Option<(u64, Form)>,
    /// The outcome of the last PIN operation.
    note: Option<(Level, String)>,
    /// The id of the `diagnose` in flight.
    diag: Option<u64>,
    /// The outcome of the last copy.
    copied: Option<(Level, String)>,
}

type Shared = Rc<RefCell<Popup>>;

pub fn start() {
    Settings::load(|settings| {
        let lang = settings.lang();
        dom::set_lang(lang, t(lang, Msg::AppName));
        let port = match chrome::call(&["runtime"], "connect", &[chrome::to_js(&json!({"name": "kagi-popup"}))]) {
            Ok(p) => p,
            Err(_) => return,
        };
        let status = json!({"host": "connecting"});
        let p = Rc::new(RefCell::new(Popup { settings, port: port.clone(), next: 1, status, form: None, op: None, note: None, diag: None, copied: None }));
        render(&p);
        let p2 = p.clone();
        let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| on_message(&p2, chrome::from_js(&m))).into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
        ask(&p, "status", json!({}));
    });
}

fn ask(p: &Shared, cmd: &str, args: Value) -> u64 {
    let mut s = p.borrow_mut();
    let id = s.next;
    s.next += 1;
    let msg = json!({"type": "request", "id": id, "cmd": cmd, "args": args});
    let _ = chrome::call_on(&s.port, "postMessage", &[chrome::to_js(&msg)]);
    id
}

fn on_message(p: &Shared, m: Value) {
    let lang = p.borrow().settings.lang();
    match m["type"].as_str() {
        // Any change (host back, token in or out): ask again rather than patching the view. Not
        // when the note says the host is missing: asking would try to start it again, fail, and
        // bring the same note, for ever (the status already says so).
        Some("event") => {
            ask(p, "status", json!({}));
        }
        Some("host") if m["host"] == "ok" => {
            ask(p, "status", json!({}));
        }
        Some("reply") if m["id"].as_u64().is_some() && m["id"].as_u64() == p.borrow().diag => {
            p.borrow_mut().diag = None;
            copy_diagnostics(p, lang, &m);
        }
        Some("reply") => {
            let op = p.borrow().op.filter(|(id, _)| m["id"].as_u64() == Some(*id));
            if let Some((_, form)) = op {
                let mut s = p.borrow_mut();
                s.op = None;
                if m["error"].is_object() {
                    let code = m["error"]["code"].as_str().unwrap_or("INTERNAL");
                    let retries = m["error"]["retries"].as_u64().map(|r| r.min(255) as u8);
                    s.note = Some((Level::Error, i18n::error_text(lang, code, retries)));
                } else {
                    s.form = None;
                    s.note = Some((Level::Ok, t(lang, if form == Form::Change { Msg::PinChanged } else { Msg::PinUnblocked }).to_owned()));
                }
                drop(s);
                // Tries left changed either way.
                ask(p, "status", json!({}));
            } else {
                let status = if m["result"].is_object() { m["result"].clone() } else { json!({"host": "error", "error": m["error"]}) };
                p.borrow_mut().status = status;
            }
            render(p);
        }
        _ => {}
    }
}

fn render(p: &Shared) {
    let (lang, status, renew_url) = {
        let s = p.borrow();
        (s.settings.lang(), s.status.clone(), s.settings.renewal_url())
    };
    let app = dom::app();
    add(&app, &el("h1", "", t(lang, Msg::AppName)));
    if status["host"] == "error" {
        let code = status["error"]["code"].as_str().unwrap_or("INTERNAL");
        add(&app, &el("p", "line error", &i18n::error_text(lang, code, None)));
        return support(p, lang, &status, &app);
    }
    if status["tokens"].as_array().is_some_and(|t| !t.is_empty()) {
        // One block per token, with its PIN actions.
        let tokens = status["tokens"].as_array().cloned().unwrap_or_default();
        let list = el("div", "status", "");
        list.set_id("status");
        for token in &tokens {
            for (level, text) in view::token_lines(lang, token, tokens.len() > 1) {
                add(&list, &line(level, &text));
            }
            add(&list, &token_actions(p, lang, token));
        }
        add(&app, &list);
    } else {
        let (lines, _) = view::status_lines(lang, &status, chrome::now_ms() as i64);
        let list = el("div", "status", "");
        list.set_id("status");
        for (level, text) in lines {
            add(&list, &line(level, &text));
        }
        add(&app, &list);
    }
    if let Some((level, text)) = p.borrow().note.clone() {
        let n = line(level, &text);
        n.set_id("pin-note");
        add(&app, &n);
    }
    // A status that carries the bank's certificate (not the popup's own) shows it, with renewal;
    // the popup's own, without the bank's issuers, warns of what the bank pages last showed.
    let (_, mut renew) = view::status_lines(lang, &status, chrome::now_ms() as i64);
    let due = expiry::renewal_due(&p.borrow().settings.local[settings::LOCAL_BANK_CERTIFICATES], chrome::now_ms() as i64);
    if let (None, Some(state)) = (view::certificate(&status), due) {
        let (level, text) = view::validity_line(lang, state);
        let n = line(level, &text);
        n.set_id("renewal-note");
        add(&app, &n);
        renew = true;
    }
    if let (true, Some(url)) = (renew, renew_url) {
        let a = el("a", "renew", t(lang, Msg::RenewLink));
        let _ = a.set_attribute("href", &url);
        let _ = a.set_attribute("target", "_blank");
        let _ = a.set_attribute("rel", "noopener");
        add(&app, &a);
    }
    if let Some(cert) = view::certificate(&status) {
        add(&app, &el("h2", "", t(lang, Msg::CertDetails)));
        add(&app, &dom::fields(&view::certificate_fields(lang, cert)));
    }
    support(p, lang, &status, &app);
}

/// The extension's version (the manifest's).
fn extension_version() -> String {
    chrome::call(&["runtime"], "getManifest", &[]).map(|m| chrome::get(&m, &["version"]).as_string().unwrap_or_default()).unwrap_or_default()
}

/// What a support desk asks first: both versions, and the button that copies the diagnosis.
fn support(p: &Shared, lang: Lang, status: &Value, app: &Element) {
    let v = el("p", "line", &[t(lang, Msg::ExtensionVersion), &extension_version()].concat());
    v.set_id("extension-version");
    add(app, &v);
    if let Some(hv) = status["hostVersion"].as_str() {
        let h = el("p", "line", &[t(lang, Msg::HostVersion), hv].concat());
        h.set_id("host-version");
        add(app, &h);
    }
    let p2 = p.clone();
    let b = dom::button(t(lang, Msg::CopyDiagnostics), "", move || {
        let id = ask(&p2, "diagnose", json!({}));
        let mut s = p2.borrow_mut();
        s.diag = Some(id);
        s.copied = None;
    });
    b.set_id("copy-diagnostics");
    add(app, &b);
    if let Some((level, text)) = p.borrow().copied.clone() {
        let n = line(level, &text);
        n.set_id("copy-note");
        let _ = n.set_attribute("role", "status");
        add(app, &n);
    }
}

/// The `diagnose` reply as the text to copy: the extension's version first, then the host's
/// text; when the host cannot answer (not installed), the reason, so the desk still learns
/// something. Bilingual lines like the host's own text.
fn diagnostics_text(reply: &Value) -> String {
    let head = ["Kagi 拡張機能 / Extension: ", &extension_version(), "\n"].concat();
    match reply["result"]["text"].as_str() {
        Some(text) => [head.as_str(), text].concat(),
        None => {
            let code = reply["error"]["code"].as_str().unwrap_or("INTERNAL");
            let why = reply["error"]["message"].as_str().unwrap_or("");
            [head.as_str(), "管理ソフト / Host: ", code, " (", why, ")\n"].concat()
        }
    }
}

fn copy_diagnostics(p: &Shared, lang: Lang, reply: &Value) {
    let text = diagnostics_text(reply);
    let clipboard = chrome::get(&js_sys::global(), &["navigator", "clipboard"]);
    let p2 = p.clone();
    chrome::call_on_then(&clipboard, "writeText", &[text.into()], move |r| {
        let note = match r {
            Ok(_) => (Level::Ok, t(lang, Msg::Copied)),
            Err(_) => (Level::Error, t(lang, Msg::CopyFailed)),
        };
        p2.borrow_mut().copied = Some((note.0, note.1.to_owned()));
        render(&p2);
    });
}

fn line(level: Level, text: &str) -> Element {
    el("p", ["line ", level.class()].concat().as_str(), text)
}

/// The buttons of one token, or its open form.
fn token_actions(p: &Shared, lang: Lang, token: &Value) -> Element {
    let reader = token["reader"].as_str().unwrap_or("").to_owned();
    let open = p.borrow().form.clone().filter(|(_, r)| *r == reader).map(|(f, _)| f);
    let wrap = el("div", "token-actions", "");
    match open {
        Some(form) => add(&wrap, &pin_form(p, lang, form, reader)),
        None => {
            let row = el("div", "buttons", "");
            for (form, label, id) in [(Form::Change, Msg::ChangePin, "change-pin"), (Form::Unblock, Msg::Unblock, "unblock-pin")] {
                let (p2, r) = (p.clone(), reader.clone());
                let b = dom::button(t(lang, label), "", move || {
                    {
                        let mut s = p2.borrow_mut();
                        s.form = Some((form, r.clone()));
                        s.note = None;
                    }
                    render(&p2);
                });
                b.set_id(id);
                add(&row, &b);
            }
            add(&wrap, &row);
        }
    }
    wrap
}

fn pin_form(p: &Shared, lang: Lang, form: Form, reader: String) -> Element {
    let f = el("div", "pin", "");
    add(&f, &el("h2", "", t(lang, if form == Form::Change { Msg::ChangePin } else { Msg::Unblock })));
    let first = match form {
        Form::Change => dom::secret_input(&f, "current-pin", t(lang, Msg::CurrentPinLabel), t(lang, Msg::PinHint)),
        Form::Unblock => dom::secret_input(&f, "puk", t(lang, Msg::PukLabel), t(lang, Msg::PukHint)),
    };
    let a = dom::secret_input(&f, "new-pin", t(lang, Msg::NewPinLabel), t(lang, Msg::PinHint));
    let b = dom::secret_input(&f, "new-pin-again", t(lang, Msg::NewPinAgainLabel), t(lang, Msg::PinHint));
    add(&f, &el("p", "note", t(lang, Msg::NewPinRule)));
    let row = el("div", "buttons", "");
    let (p2, i1, i2, i3) = (p.clone(), first.clone(), a, b);
    let ok = dom::button(t(lang, Msg::Ok), "primary", move || {
        let (v1, n1, n2) = (dom::take_value(&i1), dom::take_value(&i2), dom::take_value(&i3));
        let (cmd, key) = if form == Form::Change { ("pin.change", "pin") } else { ("pin.unblock", "puk") };
        let args = json!({key: v1.as_str(), "newPin": n1.as_str(), "newPinConfirm": n2.as_str(), "reader": reader});
        let id = ask(&p2, cmd, args);
        p2.borrow_mut().op = Some((id, form));
    });
    ok.set_id("pin-submit");
    add(&row, &ok);
    let p3 = p.clone();
    let cancel = dom::button(t(lang, Msg::Cancel), "", move || {
        p3.borrow_mut().form = None;
        render(&p3);
    });
    add(&row, &cancel);
    add(&f, &row);
    dom::focus(&first);
    f
}
