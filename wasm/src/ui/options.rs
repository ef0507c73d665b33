//! The options page: display language, and the customer's extra bank origins unless the
//! administrator manages them by policy (then shown read-only).

use crate::json::Value;

use crate::json::json;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};

use super::dom::{self, add, el};
use crate::i18n::{t, Msg};
use crate::origin::normalize_entry;
use crate::settings::{self, Settings, LOCAL_LANGUAGE, LOCAL_USER_ORIGINS};

pub fn start() {
    Settings::load(|s| render(&s));
}

fn reload() {
    start();
}

fn render(s: &Settings) {
    let lang = s.lang();
    dom::set_lang(lang, t(lang, Msg::OptionsTitle));
    let app = dom::app();
    add(&app, &el("h1", "", t(lang, Msg::OptionsTitle)));

    // Language
    let sec = el("section", "", "");
    let label = el("label", "", t(lang, Msg::Language));
    let select = el("select", "", "");
    select.set_id("language");
    for (value, text) in [("auto", t(lang, Msg::LanguageAuto)), ("ja", "日本語"), ("en", "English")] {
        let o = el("option", "", text);
        let _ = o.set_attribute("value", value);
        if s.language_choice() == value {
            let _ = o.set_attribute("selected", "");
        }
        add(&select, &o);
    }
    let sel = select.clone();
    dom::on(&select, "change", move || {
        let v = sel.dyn_ref::<HtmlSelectElement>().map(|x| x.value()).unwrap_or_default();
        settings::set_local(LOCAL_LANGUAGE, &json!(v), reload);
    });
    add(&label, &select);
    add(&sec, &label);
    add(&app, &sec);

    // Bank origins
    let sec = el("section", "", "");
    add(&sec, &el("h2", "", t(lang, Msg::BankOrigins)));
    let build = el("p", "note", t(lang, if cfg!(feature = "dev-origins") { Msg::BuildNoteDev } else { Msg::BuildNoteRelease }));
    build.set_id("build");
    add(&sec, &build);
    let allow = s.allowlist();
    let list = el("ul", "origins", "");
    list.set_id("origins");
    if allow.managed() {
        add(&sec, &el("p", "managed", t(lang, Msg::SetByAdmin)));
        for o in allow.configured() {
            add(&list, &el("li", "managed", o));
        }
        add(&sec, &list);
        add(&app, &sec);
        return;
    }
    let user: Vec<String> = allow.configured().to_vec();
    for o in &user {
        let li = el("li", "", o);
        let rest: Vec<String> = user.iter().filter(|x| *x != o).cloned().collect();
        add(&li, &dom::button(t(lang, Msg::Remove), "remove", move || save_origins(rest.clone())));
        add(&list, &li);
    }
    add(&sec, &list);
    let input = el("input", "", "");
    input.set_id("new-origin");
    let _ = input.set_attribute("type", "url");
    let _ = input.set_attribute("placeholder", "https://www.bank.example");
    let msg = el("p", "error", "");
    msg.set_id("origin-error");
    let (inp, m) = (input.clone(), msg.clone());
    let add_btn = dom::button(t(lang, Msg::Add), "add", move || {
        let v = inp.dyn_ref::<HtmlInputElement>().map(|x| x.value()).unwrap_or_default();
        match normalize_entry(&v) {
            Ok(o) => {
                let mut next = user.clone();
                if !next.contains(&o) {
                    next.push(o);
                }
                save_origins(next);
            }
            Err(_) => m.set_text_content(Some(t(lang, Msg::OriginInvalid))),
        }
    });
    let row = el("div", "row", "");
    add(&row, &input);
    add(&row, &add_btn);
    add(&sec, &row);
    add(&sec, &msg);
    add(&app, &sec);
}

fn save_origins(list: Vec<String>) {
    settings::set_local(LOCAL_USER_ORIGINS, &Value::from(list), reload);
}

