//! A smaller `json!` for the WASM: the same syntax as `serde_json::json!` for what Kagi writes
//! (objects with literal or variable keys, arrays, `null`, any expression as a value), building
//! `serde_json::Value`s directly. serde_json's macro turns every value into
//! `serde_json::to_value(&x).unwrap()` and every entry into its own `Map::insert`: with ~50 call
//! sites that was several KB of WASM plus serde_json's error formatting; here a value is one
//! [`ToJson::to_json`] call and an object one [`object`] call. Tests may use either macro: the
//! values are the same.

use serde_json::{Map, Value};

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
        $crate::json::json!(@object [$($done)* ($k, ::serde_json::Value::Null),] $($($rest)*)?)
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

    (@array [$($done:tt)*]) => { ::serde_json::Value::Array(vec![$($done)*]) };
    (@array [$($done:tt)*] null $(, $($rest:tt)*)?) => {
        $crate::json::json!(@array [$($done)* ::serde_json::Value::Null,] $($($rest)*)?)
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

    (null) => { ::serde_json::Value::Null };
    ([ $($tt:tt)* ]) => { $crate::json::json!(@array [] $($tt)*) };
    ({ $($tt:tt)* }) => { $crate::json::json!(@object [] $($tt)*) };
    ($other:expr) => { $crate::json::ToJson::to_json(&$other) };
}
pub(crate) use json;

#[cfg(test)]
mod tests {
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
            key: "123456", "nested": {"x": [1u32, null, {"y": true}], "e": {}}, "list": list, "empty": [],
        });
        assert_eq!(ours, theirs);
        assert_eq!(json!("x"), serde_json::json!("x"));
        assert_eq!(json!([]), serde_json::json!([]));
    }
}
