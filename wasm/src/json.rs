//! The JSON values the extension passes around, and a smaller `json!` to build them.
//!
//! [`Value`] has the shape and the accessors of `serde_json::Value` that Kagi uses, but its
//! objects are a [`Map`] kept in a `Vec` (messages have a handful of keys) and its numbers are
//! `f64` (what JS has): serde_json's `BTreeMap` and its clone/drop/search code cost several KB
//! of WASM in every broker function. Objects keep insertion order; equality ignores order.
//!
//! `json!` takes the same syntax as `serde_json::json!` for what Kagi writes (objects with literal
//! or variable keys, arrays, `null`, any expression as a value); a value is one
//! [`ToJson::to_json`] call and an object one [`object`] call.

use std::ops::{Index, IndexMut};

/// A JSON value (see the module doc).
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON object: its entries in insertion order, each key once.
#[derive(Debug, Clone, Default)]
pub struct Map(Vec<(String, Value)>);

static NULL: Value = Value::Null;

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.0[i].1)
    }

    /// Sets `key` (in place when present), returning the old value.
    pub fn insert(&mut self, key: String, v: Value) -> Option<Value> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            None => {
                self.0.push((key, v));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).map(|i| self.0.remove(i).1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.0.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (String, Value)>, fn(&'a (String, Value)) -> (&'a String, &'a Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

macro_rules! eq_number {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                self.as_f64() == Some(*other as f64)
            }
        }
    )*};
}
eq_number!(i32, u8, u32, u64, usize, f64);

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

/// What [`Value::get`] and indexing take: an object key or an array position.
pub trait Key {
    fn get(self, v: &Value) -> Option<&Value>;
    fn get_mut(self, v: &mut Value) -> Option<&mut Value>;
}

impl Key for &str {
    fn get(self, v: &Value) -> Option<&Value> {
        v.as_object()?.get(self)
    }
    fn get_mut(self, v: &mut Value) -> Option<&mut Value> {
        match v {
            Value::Object(m) => m.get_mut(self),
            _ => None,
        }
    }
}

impl Key for usize {
    fn get(self, v: &Value) -> Option<&Value> {
        v.as_array()?.get(self)
    }
    fn get_mut(self, v: &mut Value) -> Option<&mut Value> {
        match v {
            Value::Array(a) => a.get_mut(self),
            _ => None,
        }
    }
}

impl Value {
    pub fn get<K: Key>(&self, k: K) -> Option<&Value> {
        k.get(self)
    }

    pub fn get_mut<K: Key>(&mut self, k: K) -> Option<&mut Value> {
        k.get_mut(self)
    }

    /// The value, leaving `null` in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Number(x) => Some(x),
            _ => None,
        }
    }

    /// A non-negative integral number below 2^64 (as serde_json reads `2`, not `2.5` or `-1`).
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Number(x) if x.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&x) => Some(x as u64),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl<K: Key> Index<K> for Value {
    type Output = Value;
    /// `null` when absent, as serde_json.
    fn index(&self, k: K) -> &Value {
        k.get(self).unwrap_or(&NULL)
    }
}

impl IndexMut<&str> for Value {
    /// Inserts `null` when absent (a `null` value becomes an object), as serde_json.
    fn index_mut(&mut self, k: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        match self {
            Value::Object(m) => {
                let i = match m.position(k) {
                    Some(i) => i,
                    None => {
                        m.0.push((k.to_owned(), Value::Null));
                        m.0.len() - 1
                    }
                };
                &mut m.0[i].1
            }
            _ => panic!("index into a non-object"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n as f64)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n as f64)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

/// What a `json!` value expression may be: the types the broker and the pages put in messages.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

impl ToJson for str {
    fn to_json(&self) -> Value {
        Value::String(self.to_owned())
    }
}

impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl ToJson for $t {
            fn to_json(&self) -> Value {
                Value::from(*self as u64)
            }
        }
    )*};
}
unsigned!(u8, u32, u64, usize);

/// Unsuffixed integer literals (`"width": 440`).
impl ToJson for i32 {
    fn to_json(&self) -> Value {
        Value::from(i64::from(*self))
    }
}

impl ToJson for f64 {
    fn to_json(&self) -> Value {
        Value::Number(*self)
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToJson::to_json)
    }
}

impl<T: ToJson> ToJson for [T] {
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ToJson::to_json).collect())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        self.as_slice().to_json()
    }
}

impl<T: ToJson + ?Sized> ToJson for &T {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
}

/// An object from its entries (the values are moved out).
pub fn object(entries: &mut [(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert((*k).to_owned(), std::mem::take(v));
    }
    Value::Object(m)
}

/// `json!({"type": "reply", "id": id, "error": null, "list": [1, x], "sub": {"a": b}})`; keys are
/// string literals or `&str` variables.
macro_rules! json {
    (@object [$($done:tt)*]) => { $crate::json::object(&mut [$($done)*]) };
    (@object [$($done:tt)*] $k:tt : null $(, $($rest:tt)*)?) => {
        $crate::json::json!(@object [$($done)* ($k, $crate::json::Value::Null),] $($($rest)*)?)
    };
    (@object [$($done:tt)*] $k:tt : { $($v:tt)* } $(, $($rest:tt)*)?) => {
        $crate::json::json!(@object [$($done)* ($k, $crate::json::json!({ $($v)* })),] $($($rest)*)?)
    };
    (@object [$($done:tt)*] $k:tt : [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::json::json!(@object [$($done)* ($k, $crate::json::json!([ $($v)* ])),] $($($rest)*)?)
    };
    (@object [$($done:tt)*] $k:tt : $v:expr $(, $($rest:tt)*)?) => {
        $crate::json::json!(@object [$($done)* ($k, $crate::json::ToJson::to_json(&$v)),] $($($rest)*)?)
    };

    (@array [$($done:tt)*]) => { $crate::json::Value::Array(vec![$($done)*]) };
    (@array [$($done:tt)*] null $(, $($rest:tt)*)?) => {
        $crate::json::json!(@array [$($done)* $crate::json::Value::Null,] $($($rest)*)?)
    };
    (@array [$($done:tt)*] { $($v:tt)* } $(, $($rest:tt)*)?) => {
        $crate::json::json!(@array [$($done)* $crate::json::json!({ $($v)* }),] $($($rest)*)?)
    };
    (@array [$($done:tt)*] [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::json::json!(@array [$($done)* $crate::json::json!([ $($v)* ]),] $($($rest)*)?)
    };
    (@array [$($done:tt)*] $v:expr $(, $($rest:tt)*)?) => {
        $crate::json::json!(@array [$($done)* $crate::json::ToJson::to_json(&$v),] $($($rest)*)?)
    };

    (null) => { $crate::json::Value::Null };
    ([ $($tt:tt)* ]) => { $crate::json::json!(@array [] $($tt)*) };
    ({ $($tt:tt)* }) => { $crate::json::json!(@object [] $($tt)*) };
    ($other:expr) => { $crate::json::ToJson::to_json(&$other) };
}
pub(crate) use json;

/// JSON text, for test messages (the extension never writes JSON text itself).
#[cfg(test)]
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        to_serde(self).fmt(f)
    }
}

/// Ours as serde_json's value (integral numbers as integers).
#[cfg(test)]
pub(crate) fn to_serde(v: &Value) -> serde_json::Value {
    use serde_json::Value as S;
    match v {
        Value::Null => S::Null,
        Value::Bool(b) => S::Bool(*b),
        Value::Number(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => S::from(*x as i64),
        Value::Number(x) => serde_json::Number::from_f64(*x).map_or(S::Null, S::Number),
        Value::String(s) => S::String(s.clone()),
        Value::Array(a) => S::Array(a.iter().map(to_serde).collect()),
        Value::Object(m) => S::Object(m.iter().map(|(k, x)| (k.clone(), to_serde(x))).collect()),
    }
}

/// serde_json's value as ours.
#[cfg(test)]
pub(crate) fn from_serde(v: serde_json::Value) -> Value {
    use Value as V;
    match v {
        serde_json::Value::Null => V::Null,
        serde_json::Value::Bool(b) => V::Bool(b),
        serde_json::Value::Number(n) => V::Number(n.as_f64().unwrap()),
        serde_json::Value::String(s) => V::String(s),
        serde_json::Value::Array(a) => V::Array(a.into_iter().map(from_serde).collect()),
        serde_json::Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                out.insert(k, from_serde(x));
            }
            V::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::from_serde;
    #[test]
    fn same_values_as_serde_json() {
        let (id, retries, none): (u64, Option<u8>, Option<&str>) = (7, Some(2), None);
        let key = "pin";
        let list = vec![json!({"a": 1u8})];
        let ours = json!({
            "type": "view", "id": id, "retries": retries, "reader": none, "error": null,
            key: "123456", "nested": {"x": [1u32, null, {"y": true}], "e": {}}, "list": list, "empty": [],
        });
        let theirs = serde_json::json!({
            "type": "view", "id": id, "retries": retries, "reader": none, "error": null,
            key: "123456", "nested": {"x": [1u32, null, {"y": true}], "e": {}}, "list": [{"a": 1u8}], "empty": [],
        });
        assert_eq!(ours, from_serde(theirs));
        assert_eq!(json!("x"), from_serde(serde_json::json!("x")));
        assert_eq!(json!([]), from_serde(serde_json::json!([])));
    }

    #[test]
    fn accessors_as_serde_json() {
        let mut v = json!({"a": 2u8, "b": "x", "c": [true], "d": {"e": null}});
        assert_eq!((v["a"].as_u64(), v["b"].as_str(), v["c"][0].as_bool()), (Some(2), Some("x"), Some(true)));
        assert!(v["d"]["e"].is_null() && v["zz"].is_null() && v["d"].is_object());
        assert_eq!((json!(-1i32).as_u64(), super::Value::Number(2.5).as_u64()), (None, None));
        v["a"] = json!(3u8);
        v["new"] = json!("n");
        assert_eq!(v, json!({"new": "n", "d": {"e": null}, "c": [true], "b": "x", "a": 3u8}));
        assert_ne!(v, json!({"new": "n", "d": {"e": null}, "c": [true], "b": "x"}));
        assert_eq!(v.get_mut("b").map(super::Value::take), Some(json!("x")));
        assert!(v["b"].is_null());
    }
}
