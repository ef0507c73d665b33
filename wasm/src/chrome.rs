//! Minimal access to the WebExtension API from Rust. Uses `browser` (Firefox) when present,
//! else `chrome`; both return promises in MV3. Calls go through `Reflect` so one small helper
//! serves every API instead of a binding per function.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use crate::json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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
    let f: Function = get(this, &[method]).dyn_into().map_err(|_| JsValue::from_str(&["no function ", method].concat()))?;
    let a = Array::new();
    for x in args {
        a.push(x);
    }
    f.apply(this, &a)
}

/// What a promise-returning call hands to its continuation: the value, or the rejection (also
/// when the call itself failed or returned no promise).
pub type Outcome = Result<JsValue, JsValue>;

/// Calls a promise-returning API (`ns().<path...>.<method>(args...)`) and gives the outcome to
/// `done` in a later microtask, as `.await` on it did (a failed call too, so `done` never runs
/// inside the caller). A plain callback instead of wasm-bindgen-futures: the extension awaits
/// nothing but a few storage and window calls, and the executor cost ~3 KB of WASM.
pub fn call_then(path: &[&str], method: &str, args: &[JsValue], done: impl FnOnce(Outcome) + 'static) {
    then(call(path, method, args), Box::new(done));
}

/// [`call_then`] on any object (e.g. `navigator.clipboard`), not only the extension API.
pub fn call_on_then(this: &JsValue, method: &str, args: &[JsValue], done: impl FnOnce(Outcome) + 'static) {
    then(call_on(this, method, args), Box::new(done));
}

type Settle = Closure<dyn FnMut(JsValue)>;

/// A call waiting for its promise: the continuation and both settle callbacks, kept until the
/// promise settles and dropped then (the callback that did not run would otherwise leak).
struct Waiting {
    done: Option<Box<dyn FnOnce(Outcome)>>,
    callbacks: Option<(Settle, Settle)>,
}

fn then(called: Outcome, done: Box<dyn FnOnce(Outcome)>) {
    let promise = match called.and_then(|v| v.dyn_into::<Promise>()) {
        Ok(p) => p,
        Err(e) => Promise::reject(&e),
    };
    let state = Rc::new(RefCell::new(Waiting { done: Some(done), callbacks: None }));
    let settle = |ok: bool| {
        let state = state.clone();
        Closure::once(move |v: JsValue| {
            let (done, callbacks) = {
                let mut s = state.borrow_mut();
                (s.done.take(), s.callbacks.take())
            };
            drop(callbacks);
            if let Some(done) = done {
                done(if ok { Ok(v) } else { Err(v) });
            }
        })
    };
    let (resolve, reject) = (settle(true), settle(false));
    let _ = promise.then2(&resolve, &reject);
    state.borrow_mut().callbacks = Some((resolve, reject));
}

/// A JSON value as a JS value, built directly (no JSON text, no number formatting).
pub fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(*n),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(a) => {
            let out = Array::new();
            for x in a {
                out.push(&to_js(x));
            }
            out.into()
        }
        Value::Object(m) => {
            let out = Object::new();
            for (k, x) in m {
                let _ = Reflect::set(&out, &JsValue::from_str(k), &to_js(x));
            }
            out.into()
        }
    }
}

/// Deepest nesting [`from_js`] follows: serde_json's own parser limit, so cycles (Firefox's
/// structured clone keeps them) end as they did with `JSON.stringify`: `null`.
const MAX_DEPTH: u32 = 128;
/// Most values one message may hold (a shared sub-object counts each time it is reached).
const MAX_NODES: u32 = 1 << 20;

/// A JS value as JSON, read directly: what `JSON.parse(JSON.stringify(v))` would give (functions,
/// symbols and `undefined` dropped from objects and `null` in arrays; NaN and infinities `null`;
/// integral numbers as integers), or `null` when `v` is nested too deep.
pub fn from_js(v: &JsValue) -> Value {
    let mut budget = MAX_NODES;
    read_js(v, 0, &mut budget).flatten().unwrap_or(Value::Null)
}

/// `Some(None)`: a value JSON has no place for (undefined, function, symbol, bigint); `None`:
/// give up (too deep or too many values).
fn read_js(v: &JsValue, depth: u32, budget: &mut u32) -> Option<Option<Value>> {
    *budget = budget.checked_sub(1)?;
    if v.is_null() {
        return Some(Some(Value::Null));
    }
    if let Some(b) = v.as_bool() {
        return Some(Some(Value::Bool(b)));
    }
    if let Some(x) = v.as_f64() {
        return Some(Some(number(x)));
    }
    if let Some(s) = v.as_string() {
        return Some(Some(Value::String(s)));
    }
    if !v.is_object() {
        return Some(None);
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(a.length() as usize);
        for x in a.iter() {
            out.push(read_js(&x, depth + 1, budget)?.unwrap_or(Value::Null));
        }
        return Some(Some(Value::Array(out)));
    }
    let mut out = crate::json::Map::new();
    let obj: &Object = v.unchecked_ref();
    for k in Object::keys(obj).iter() {
        let Some(key) = k.as_string() else { continue };
        let x = Reflect::get(v, &k).unwrap_or(JsValue::UNDEFINED);
        if let Some(x) = read_js(&x, depth + 1, budget)? {
            out.insert(key, x);
        }
    }
    Some(Some(Value::Object(out)))
}

/// A JS number as JSON text would carry it: finite numbers as they are (`-0` as `0`), NaN and
/// infinities as `null`.
fn number(x: f64) -> Value {
    if x.is_finite() {
        Value::Number(x + 0.0)
    } else {
        Value::Null
    }
}

/// Adds `f` as listener of the event object `ev` (e.g. `port.onMessage`).
pub fn add_listener(ev: &JsValue, f: &JsValue) {
    let _ = call_on(ev, "addListener", std::slice::from_ref(f));
}

/// The extension's own URL prefix, `chrome-extension://<id>/`.
pub fn extension_url(path: &str) -> String {
    call(&["runtime"], "getURL", &[path.into()]).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

/// A manifest-locale string (`_locales/<browser language>/messages.json`): for the toolbar, whose
/// words the browser shows before any extension page has loaded the catalog.
pub fn message(key: &str) -> String {
    call(&["i18n"], "getMessage", &[key.into()]).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A thrown JS value as text for logs and error messages: a string as it is, an `Error`'s
/// message, else `"error"` (no `{:?}`: JsValue's Debug pulls in the formatting machinery).
pub fn describe(e: &JsValue) -> String {
    e.as_string().or_else(|| get(e, &["message"]).as_string()).unwrap_or_else(|| "error".into())
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
