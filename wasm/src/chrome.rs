//! Minimal access to the WebExtension API from Rust. Uses `browser` (Firefox) when present,
//! else `chrome`; both return promises in MV3. Calls go through `Reflect` so one small helper
//! serves every API instead of a binding per function.

use js_sys::{Array, Function, Promise, Reflect, JSON};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// `browser` or `chrome`.
pub fn ns() -> JsValue {
    let g = js_sys::global();
    match Reflect::get(&g, &"browser".into()) {
        Ok(b) if b.is_object() => b,
        _ => Reflect::get(&g, &"chrome".into()).unwrap_or(JsValue::UNDEFINED),
    }
}

/// `obj.a.b.c`, `undefined` when any step is missing.
pub fn get(obj: &JsValue, path: &[&str]) -> JsValue {
    let mut v = obj.clone();
    for p in path {
        if !v.is_object() && !v.is_function() {
            return JsValue::UNDEFINED;
        }
        v = Reflect::get(&v, &(*p).into()).unwrap_or(JsValue::UNDEFINED);
    }
    v
}

/// Calls `ns().<path...>.<method>(args...)`.
pub fn call(path: &[&str], method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let this = get(&ns(), path);
    call_on(&this, method, args)
}

pub fn call_on(this: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(this, &[method]).dyn_into().map_err(|_| JsValue::from_str(&format!("no function {method}")))?;
    let a = Array::new();
    for x in args {
        a.push(x);
    }
    f.apply(this, &a)
}

/// Awaits a promise-returning API call.
pub async fn call_async(path: &[&str], method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let p: Promise = call(path, method, args)?.dyn_into()?;
    JsFuture::from(p).await
}

pub fn to_js(v: &Value) -> JsValue {
    JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

pub fn from_js(v: &JsValue) -> Value {
    JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

/// Adds `f` as listener of the event object `ev` (e.g. `port.onMessage`).
pub fn add_listener(ev: &JsValue, f: &JsValue) {
    let _ = call_on(ev, "addListener", std::slice::from_ref(f));
}

/// The extension's own URL prefix, `chrome-extension://<id>/`.
pub fn extension_url(path: &str) -> String {
    call(&["runtime"], "getURL", &[path.into()]).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub fn log(msg: &str) {
    web_sys::console::log_1(&JsValue::from_str(msg));
}

/// `setTimeout(f, ms)` on whatever global we run in (window or service worker).
pub fn set_timeout(f: &JsValue, ms: f64) -> JsValue {
    let g = js_sys::global();
    call_on(&g, "setTimeout", &[f.clone(), JsValue::from_f64(ms)]).unwrap_or(JsValue::UNDEFINED)
}

pub fn clear_timeout(handle: &JsValue) {
    let g = js_sys::global();
    let _ = call_on(&g, "clearTimeout", std::slice::from_ref(handle));
}
