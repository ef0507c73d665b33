//! The toolbar popup: token status, certificate details, expiry warning, renewal link.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

use super::dom::{self, add, el};
use crate::chrome;
use crate::i18n::{t, Lang, Msg};
use crate::settings::Settings;
use crate::view;

struct Popup {
    settings: Settings,
    port: JsValue,
    next: u64,
}

pub fn start() {
    wasm_bindgen_futures::spawn_local(async {
        let settings = Settings::load().await;
        let lang = settings.lang();
        dom::set_lang(lang, t(lang, Msg::AppName));
        render(lang, &json!({"host": "connecting"}), None);
        let port = match chrome::call(&["runtime"], "connect", &[chrome::to_js(&json!({"name": "kagi-popup"}))]) {
            Ok(p) => p,
            Err(_) => return,
        };
        let p = Rc::new(RefCell::new(Popup { settings, port: port.clone(), next: 1 }));
        let p2 = p.clone();
        let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| on_message(&p2, chrome::from_js(&m))).into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
        ask_status(&p);
    });
}

fn ask_status(p: &Rc<RefCell<Popup>>) {
    let mut s = p.borrow_mut();
    let id = s.next;
    s.next += 1;
    let _ = chrome::call_on(&s.port, "postMessage", &[chrome::to_js(&json!({"type": "request", "id": id, "cmd": "status"}))]);
}

fn on_message(p: &Rc<RefCell<Popup>>, m: Value) {
    let lang = p.borrow().settings.lang();
    match m["type"].as_str() {
        // Any change (host back, token in or out): ask again rather than patching the view.
        Some("event") | Some("host") => ask_status(p),
        Some("reply") => {
            let status = if m["result"].is_object() { m["result"].clone() } else { json!({"host": "error", "error": m["error"]}) };
            let renew_url = p.borrow().settings.renewal_url();
            render(lang, &status, renew_url);
        }
        _ => {}
    }
}

fn render(lang: Lang, status: &Value, renew_url: Option<String>) {
    let app = dom::app();
    add(&app, &el("h1", "", t(lang, Msg::AppName)));
    if status["host"] == "error" {
        let code = status["error"]["code"].as_str().unwrap_or("INTERNAL");
        add(&app, &el("p", "line error", &crate::i18n::error_text(lang, code, None)));
        return;
    }
    let (lines, renew) = view::status_lines(lang, status, chrome::now_ms() as i64);
    let list = el("div", "status", "");
    list.set_id("status");
    for (level, text) in lines {
        add(&list, &el("p", &format!("line {}", level.class()), &text));
    }
    add(&app, &list);
    if renew {
        if let Some(url) = renew_url {
            let a = el("a", "renew", t(lang, Msg::RenewLink));
            let _ = a.set_attribute("href", &url);
            let _ = a.set_attribute("target", "_blank");
            let _ = a.set_attribute("rel", "noopener");
            add(&app, &a);
        }
    }
    if let Some(cert) = view::certificate(status) {
        add(&app, &el("h2", "", t(lang, Msg::CertDetails)));
        add(&app, &dom::fields(&view::certificate_fields(lang, cert)));
    }
}
