//! The extension's settings: enterprise policy (`storage.managed`, see
//! `extension/managed_schema.json`) and the customer's own (`storage.local`).

use crate::json::Value;
use wasm_bindgen::JsValue;

use crate::chrome;
use crate::i18n::Lang;
use crate::origin::Allowlist;

/// storage.local keys.
pub const LOCAL_LANGUAGE: &str = "language";
pub const LOCAL_USER_ORIGINS: &str = "userOrigins";
pub const LOCAL_LAST_BANK_URL: &str = "lastBankUrl";
/// The certificate each bank origin's customer chose when several matched (the broker's
/// `Effect::SaveChoices`). Extension storage: pages never see it.
pub const LOCAL_CERTIFICATE_CHOICES: &str = "certificateChoices";
/// `{origin: {notBefore, notAfter}}`: the bank certificate each bank page's status last showed
/// (the broker's `Effect::RememberCertificate`), for the renewal badge and the popup.
pub const LOCAL_BANK_CERTIFICATES: &str = "bankCertificates";

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub managed: Value,
    pub local: Value,
}

impl Settings {
    /// Reads both areas, then calls `done` (in a later microtask). Managed storage is empty (or
    /// refused, in Firefox without a policy) for a while after start: callers re-read on
    /// `storage.onChanged`.
    pub fn load(done: impl FnOnce(Settings) + 'static) {
        Self::load_boxed(Box::new(done));
    }

    fn load_boxed(done: Box<dyn FnOnce(Settings)>) {
        let read = |r: chrome::Outcome| r.map(|v| chrome::from_js(&v)).unwrap_or(Value::Null);
        chrome::call_then(&["storage", "managed"], "get", &[JsValue::NULL], move |m| {
            let managed = read(m);
            chrome::call_then(&["storage", "local"], "get", &[JsValue::NULL], move |l| done(Settings { managed, local: read(l) }));
        });
    }

    fn strings(v: &Value) -> Option<Vec<String>> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
    }

    pub fn allowlist(&self) -> Allowlist {
        let policy = Self::strings(&self.managed["allowedOrigins"]);
        let user = Self::strings(&self.local[LOCAL_USER_ORIGINS]).unwrap_or_default();
        let (allow, rejected) = Allowlist::from_settings(policy, user);
        if !rejected.is_empty() {
            chrome::log(&["kagi: ignoring invalid origins: ", &rejected.join(", ")].concat());
        }
        allow
    }

    /// `"auto"`, `"ja"` or `"en"` as chosen on the options page.
    pub fn language_choice(&self) -> String {
        self.local[LOCAL_LANGUAGE].as_str().unwrap_or("auto").to_owned()
    }

    pub fn lang(&self) -> Lang {
        Lang::resolve(self.local[LOCAL_LANGUAGE].as_str(), self.managed["defaultLanguage"].as_str())
    }

    /// Where the popup's renewal link goes: the administrator's `renewalUrl`, else the last bank
    /// page that used Kagi.
    pub fn renewal_url(&self) -> Option<String> {
        self.managed["renewalUrl"].as_str().or_else(|| self.local[LOCAL_LAST_BANK_URL].as_str()).map(str::to_owned)
    }
}

/// Stores `key` in `storage.local`, then calls `done` (whether it worked or not).
pub fn set_local(key: &str, value: &Value, done: impl FnOnce() + 'static) {
    let obj = chrome::to_js(&crate::json::json!({ key: value }));
    chrome::call_then(&["storage", "local"], "set", &[obj], move |_| done());
}
