//! The service worker: carries out the broker's effects with the browser's APIs. `background.js`
//! registers the event listeners synchronously (MV3 requires it) and hands ports here once the
//! WASM is instantiated.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Array;
use crate::json::json;
use wasm_bindgen::prelude::*;

use crate::broker::table::Table;
use crate::broker::{Broker, Effect, PortId, PortKind};
use crate::chrome;
use crate::origin::{page_origin, Sender};
use crate::settings::{self, Settings};

struct State {
    broker: Broker,
    ports: Table<PortId, JsValue>,
    next_port: PortId,
    native: Option<JsValue>,
    /// Bumped on every connectNative so events of a replaced port are ignored.
    native_gen: u32,
    timer: Option<JsValue>,
    /// What the toolbar badge shows now, so it is set on changes only.
    badge: Option<Badge>,
}

/// The toolbar badge (issue 15): the customer sees it without opening the popup; its title
/// (from `_locales`, the browser's language) says why to screen readers and on hover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Badge {
    None,
    /// "!" on red: the host is missing (wins: nothing works without it).
    HostMissing,
    /// 「更新」 on amber: a bank certificate is in its renewal window.
    Renewal,
}

type Shared = Rc<RefCell<State>>;

/// The background's handle for `background.js`.
#[wasm_bindgen]
pub struct Background {
    state: Shared,
}

fn now() -> u64 {
    chrome::now_ms() as u64
}

#[wasm_bindgen]
impl Background {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Background {
        // The tx parser's NFC check: the browser's String.prototype.normalize (nfc.rs).
        crate::nfc::install();
        let state = State { broker: Broker::new(), ports: Table::default(), next_port: 1, native: None, native_gen: 0, timer: None, badge: None };
        Background { state: Rc::new(RefCell::new(state)) }
    }

    /// Loads the settings, connects to the host, then calls `ready` (background.js hands over
    /// the ports that connected meanwhile: a page's port is judged against the real allowlist,
    /// not an empty one).
    pub fn start(&self, ready: js_sys::Function) {
        let st = self.state.clone();
        Settings::load(move |s| {
            st.borrow_mut().broker.set_allowlist(s.allowlist());
            st.borrow_mut().broker.set_choices(&s.local[settings::LOCAL_CERTIFICATE_CHOICES]);
            st.borrow_mut().broker.set_certificates(&s.local[settings::LOCAL_BANK_CERTIFICATES]);
            let fx = st.borrow_mut().broker.start(now());
            run(&st, fx);
            let _ = ready.call0(&JsValue::NULL);
        });
    }

    /// Settings changed (policy arrived, options page saved): rebuild the allowlist.
    #[wasm_bindgen(js_name = reloadSettings)]
    pub fn reload_settings(&self) {
        let st = self.state.clone();
        Settings::load(move |s| {
            st.borrow_mut().broker.set_allowlist(s.allowlist());
            st.borrow_mut().broker.set_certificates(&s.local[settings::LOCAL_BANK_CERTIFICATES]);
            badge(&st);
        });
    }

    /// A runtime port from a content script, the popup or a PIN window, with the messages that
    /// arrived before the WASM was ready.
    #[wasm_bindgen(js_name = onConnect)]
    pub fn on_connect(&self, port: JsValue, early: Array) {
        let Some(kind) = port_kind(&port) else {
            let _ = chrome::call_on(&port, "disconnect", &[]);
            return;
        };
        let id = {
            let mut s = self.state.borrow_mut();
            let id = s.next_port;
            s.next_port += 1;
            s.ports.insert(id, port.clone());
            id
        };
        let st = self.state.clone();
        let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
            let fx = st.borrow_mut().broker.port_message(id, chrome::from_js(&m), now());
            run(&st, fx);
        })
        .into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
        let st = self.state.clone();
        let on_gone = Closure::<dyn FnMut(JsValue)>::new(move |_p: JsValue| {
            st.borrow_mut().ports.remove(&id);
            let fx = st.borrow_mut().broker.port_disconnected(id, now());
            run(&st, fx);
        })
        .into_js_value();
        chrome::add_listener(&chrome::get(&port, &["onDisconnect"]), &on_gone);
        let fx = self.state.borrow_mut().broker.port_connected(id, kind);
        run(&self.state, fx);
        for m in early.iter() {
            let fx = self.state.borrow_mut().broker.port_message(id, chrome::from_js(&m), now());
            run(&self.state, fx);
        }
    }
}

impl Default for Background {
    fn default() -> Self {
        Background::new()
    }
}

/// Who connected, from the browser's sender record (never from the message contents).
fn port_kind(port: &JsValue) -> Option<PortKind> {
    let name = chrome::get(port, &["name"]).as_string().unwrap_or_default();
    let sender = chrome::get(port, &["sender"]);
    let url = chrome::get(&sender, &["url"]).as_string().unwrap_or_default();
    let own = chrome::extension_url("");
    let from_extension = !own.is_empty() && url.starts_with(&own);
    match name.as_str() {
        "kagi-page" if !from_extension => {
            let record = Sender {
                origin: chrome::get(&sender, &["origin"]).as_string(),
                frame_id: chrome::get(&sender, &["frameId"]).as_f64(),
                in_tab: chrome::get(&sender, &["tab"]).is_object(),
                url,
            };
            // A refused record (sub-frame, opaque origin, …) still gets a Page port with no
            // origin: the broker closes it like any origin it does not serve.
            Some(PortKind::Page { origin: page_origin(&record), url: record.url })
        }
        "kagi-popup" if from_extension => Some(PortKind::Popup),
        "kagi-pin" if from_extension && url.starts_with(&chrome::extension_url("pin.html")) => Some(PortKind::PinWindow),
        _ => None,
    }
}

/// Carries out effects, then re-arms the single timer for the broker's next deadline.
fn run(st: &Shared, effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::ConnectHost => connect_native(st),
            Effect::DisconnectHost => {
                let old = st.borrow_mut().native.take();
                if let Some(p) = old {
                    let _ = chrome::call_on(&p, "disconnect", &[]);
                }
            }
            Effect::ToHost(v) => {
                let native = st.borrow().native.clone();
                if let Some(p) = native {
                    let _ = chrome::call_on(&p, "postMessage", &[chrome::to_js(&v)]);
                }
            }
            Effect::ToPort(id, v) => {
                let port = st.borrow().ports.get(&id).cloned();
                if let Some(p) = port {
                    let _ = chrome::call_on(&p, "postMessage", &[chrome::to_js(&v)]);
                }
            }
            Effect::ClosePort(id) => {
                let port = st.borrow_mut().ports.remove(&id);
                if let Some(p) = port {
                    let _ = chrome::call_on(&p, "disconnect", &[]);
                }
            }
            Effect::OpenPinWindow { session, confirm } => open_pin_window(st, session, confirm),
            Effect::RememberBankPage { url } => settings::set_local(settings::LOCAL_LAST_BANK_URL, &json!(url), || {}),
            Effect::SaveChoices(choices) => settings::set_local(settings::LOCAL_CERTIFICATE_CHOICES, &choices, || {}),
            Effect::SaveCertificates(all) => settings::set_local(settings::LOCAL_BANK_CERTIFICATES, &all, || {}),
        }
    }
    badge(st);
    arm_timer(st);
}

/// Sets the toolbar badge when what it should show changed. The host's state counts once known
/// (a retry in flight keeps the last badge); the renewal window is judged against the clock on
/// every pass, so a service worker that wakes after the window opened shows it. Chromium and
/// Firefox MV3 both have `action`.
fn badge(st: &Shared) {
    let want = {
        let s = st.borrow();
        let renewal = crate::expiry::renewal_due(s.broker.certificates(), chrome::now_ms() as i64).is_some();
        match (s.broker.host_missing(), s.badge) {
            (Some(true), _) => Badge::HostMissing,
            (None, Some(Badge::HostMissing)) => Badge::HostMissing,
            _ if renewal => Badge::Renewal,
            _ => Badge::None,
        }
    };
    if st.borrow().badge.unwrap_or(Badge::None) == want {
        return;
    }
    st.borrow_mut().badge = Some(want);
    let (text, color, title) = match want {
        Badge::HostMissing => ("!".to_owned(), "#c62828", "badgeHostMissing"),
        Badge::Renewal => (chrome::message("badgeRenewalText"), "#8a5a00", "badgeRenewal"),
        Badge::None => (String::new(), "#c62828", "actionTitle"),
    };
    let set = |method: &str, key: &str, value: &str| {
        let arg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&arg, &key.into(), &value.into());
        let _ = chrome::call(&["action"], method, &[arg.into()]);
    };
    set("setBadgeBackgroundColor", "color", color);
    set("setBadgeText", "text", &text);
    set("setTitle", "title", &chrome::message(title));
}

fn arm_timer(st: &Shared) {
    let (old, next) = {
        let mut s = st.borrow_mut();
        (s.timer.take(), s.broker.next_deadline())
    };
    if let Some(t) = old {
        chrome::clear_timeout(&t);
    }
    let Some(at) = next else { return };
    let delay = (at as f64 - chrome::now_ms()).max(0.0);
    let st2 = st.clone();
    let f = Closure::once_into_js(move || {
        st2.borrow_mut().timer = None;
        let fx = st2.borrow_mut().broker.tick(now());
        run(&st2, fx);
    });
    let handle = chrome::set_timeout(&f, delay);
    st.borrow_mut().timer = Some(handle);
}

fn connect_native(st: &Shared) {
    let (old, gen) = {
        let mut s = st.borrow_mut();
        s.native_gen += 1;
        (s.native.take(), s.native_gen)
    };
    if let Some(p) = old {
        let _ = chrome::call_on(&p, "disconnect", &[]);
    }
    let port = match chrome::call(&["runtime"], "connectNative", &[kagi_proto::ids::NATIVE_HOST_NAME.into()]) {
        Ok(p) => p,
        Err(e) => {
            let fx = st.borrow_mut().broker.host_disconnected(&chrome::describe(&e), now());
            return run(st, fx);
        }
    };
    let st2 = st.clone();
    let on_msg = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
        if st2.borrow().native_gen != gen {
            return;
        }
        let fx = st2.borrow_mut().broker.host_message(chrome::from_js(&m), now());
        run(&st2, fx);
    })
    .into_js_value();
    chrome::add_listener(&chrome::get(&port, &["onMessage"]), &on_msg);
    let st2 = st.clone();
    let on_gone = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        if st2.borrow().native_gen != gen {
            return;
        }
        // Chrome reports the reason in runtime.lastError, Firefox in port.error.
        let why = chrome::get(&p, &["error", "message"])
            .as_string()
            .or_else(|| chrome::get(&chrome::ns(), &["runtime", "lastError", "message"]).as_string())
            .unwrap_or_else(|| "disconnected".into());
        chrome::log(&["kagi: native host disconnected: ", why.as_str()].concat());
        st2.borrow_mut().native = None;
        let fx = st2.borrow_mut().broker.host_disconnected(&why, now());
        run(&st2, fx);
    })
    .into_js_value();
    chrome::add_listener(&chrome::get(&port, &["onDisconnect"]), &on_gone);
    st.borrow_mut().native = Some(port);
}

fn open_pin_window(st: &Shared, session: u64, confirm: bool) {
    let st = st.clone();
    let url = chrome::extension_url(&["pin.html?session=", &crate::i18n::num(session)].concat());
    // A transaction confirmation shows the whole request above the PIN: a taller window.
    let (width, height) = if confirm { (480, 860) } else { (440, 560) };
    let opts = chrome::to_js(&json!({"url": url, "type": "popup", "width": width, "height": height, "focused": true}));
    chrome::call_then(&["windows"], "create", &[opts], move |r| {
        if let Err(e) = r {
            chrome::log(&["kagi: could not open the PIN window: ", &chrome::describe(&e)].concat());
            // Without a window the customer cannot answer: fail instead of waiting forever.
            let fx = st.borrow_mut().broker.window_failed(session, now());
            run(&st, fx);
        }
    });
}
