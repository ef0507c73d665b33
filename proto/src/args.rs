//! A request's JSON object, read field by field, and wiped when it is dropped.
//!
//! Two rules of the host's log hygiene (issue 11) live here:
//! - A refusal names the field and what was wrong with it, never the value: serde's own
//!   messages quote it (`invalid type: integer `123456`, expected a string`), and a refusal is
//!   logged and sent back. A name the request chose (an unknown field, an unknown command) is
//!   shown only when it looks like a name ([`shown_name`]).
//! - Every string and number of the request is overwritten before its memory is freed: a PIN
//!   can be anywhere (`"pin":"482915"`, `"pin":482915`, under a misspelt name). Values are
//!   taken out in place (`get_mut` + `mem::take`), never `remove`d, because a B-tree removal
//!   shifts entries and leaves stale copies in the node.
//!
//! What is out of reach: serde_json's scratch buffer for strings with escapes, numbers while
//! they are parsed on the stack, and node copies from B-tree splits in objects of more than 11
//! fields (requests the extension sends have at most 8).

use serde_json::{Map, Number, Value};
use zeroize::Zeroize;

use crate::request::Pin;

/// Overwrites every string (and object key) and number in `v`, in place.
pub fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Number(n) => {
            *n = Number::from(0u8);
            // The store must happen although `n` is about to be dropped.
            std::hint::black_box(n);
        }
        Value::Array(a) => a.iter_mut().for_each(wipe),
        Value::Object(m) => wipe_map(m),
        Value::Null | Value::Bool(_) => {}
    }
}

/// [`wipe`] for an object: values in place first, then the keys (whose memory only ownership
/// reaches).
pub fn wipe_map(m: &mut Map<String, Value>) {
    m.values_mut().for_each(wipe);
    for (mut k, _) in std::mem::take(m) {
        k.zeroize();
    }
}

/// A name the request chose, for a message: shown when it is a plausible field or command
/// name (a letter, then letters, digits, `.`, `_`, `-`; at most 32), else described. A PIN
/// (digits) or anything longer never appears.
pub fn shown_name(s: &str) -> String {
    let b = s.as_bytes();
    let plausible = (1..=32).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if plausible {
        format!("`{s}`")
    } else {
        format!("(a name of {} bytes, not shown)", b.len())
    }
}

/// The JSON type of a value, for messages that must not show the value itself.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The arguments of one request. Fields are taken by name; [`Args::finish`] refuses any the
/// command does not know. Dropped (refused or not), whatever is left is wiped.
pub struct Args {
    map: Map<String, Value>,
    known: Vec<&'static str>,
}

impl Drop for Args {
    fn drop(&mut self) {
        wipe_map(&mut self.map);
    }
}

impl Args {
    pub fn new(map: Map<String, Value>) -> Args {
        Args { map, known: Vec::new() }
    }

    /// The field's value, in place; `None` when absent. Marks the name as known.
    fn field(&mut self, name: &'static str) -> Option<&mut Value> {
        self.known.push(name);
        self.map.get_mut(name)
    }

    /// The request's `id`: an unsigned integer.
    pub fn id(&mut self) -> Result<u64, String> {
        match self.field("id") {
            None => Err("missing field `id`".into()),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| "id must be an unsigned integer".into()),
            Some(_) => Err("id must be an unsigned integer".into()),
        }
    }

    /// A required string (moved out, not copied).
    pub fn string(&mut self, name: &'static str) -> Result<String, String> {
        self.opt_string(name)?.ok_or_else(|| format!("missing field `{name}`"))
    }

    /// An optional string; `null` counts as absent.
    pub fn opt_string(&mut self, name: &'static str) -> Result<Option<String>, String> {
        match self.field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(std::mem::take(s))),
            Some(other) => Err(format!("`{name}` must be a string, not {}", kind(other))),
        }
    }

    /// A required PIN or PUK: the string moves into the zeroizing [`Pin`] without a copy.
    pub fn pin(&mut self, name: &'static str) -> Result<Pin, String> {
        self.string(name).map(Pin::new)
    }

    /// An optional PIN (`newPin` of `enroll.begin`).
    pub fn opt_pin(&mut self, name: &'static str) -> Result<Option<Pin>, String> {
        Ok(self.opt_string(name)?.map(Pin::new))
    }

    /// A required array of strings.
    pub fn strings(&mut self, name: &'static str) -> Result<Vec<String>, String> {
        self.opt_strings(name)?.ok_or_else(|| format!("missing field `{name}`"))
    }

    /// An optional array of strings; `null` counts as absent.
    pub fn opt_strings(&mut self, name: &'static str) -> Result<Option<Vec<String>>, String> {
        match self.field(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => {
                if let Some((i, v)) = items.iter().enumerate().find(|(_, v)| !v.is_string()) {
                    return Err(format!("`{name}[{i}]` must be a string, not {}", kind(v)));
                }
                Ok(Some(items.iter_mut().map(|v| if let Value::String(s) = v { std::mem::take(s) } else { String::new() }).collect()))
            }
            Some(other) => Err(format!("`{name}` must be an array of strings, not {}", kind(other))),
        }
    }

    /// A required JSON object (moved out; `confirm`'s `tx`). Its own strict parser reads it.
    #[cfg(feature = "tx-core")]
    pub fn object(&mut self, name: &'static str) -> Result<Map<String, Value>, String> {
        match self.field(name) {
            None | Some(Value::Null) => Err(format!("missing field `{name}`")),
            Some(Value::Object(m)) => Ok(std::mem::take(m)),
            Some(other) => Err(format!("`{name}` must be an object, not {}", kind(other))),
        }
    }

    /// Refuses a field the command does not know (after every known one was taken).
    pub fn finish(&self) -> Result<(), String> {
        match self.map.keys().find(|k| !self.known.contains(&k.as_str())) {
            Some(k) => Err(format!("unknown field {}", shown_name(k))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        let Value::Object(m) = v else { panic!() };
        Args::new(m)
    }

    #[test]
    fn refusals_name_the_field_never_the_value() {
        let mut a = args(json!({"pin": 482915, "newPin": "482915", "issuers": ["MAA=", 482915], "x": true}));
        let e = a.pin("pin").err().unwrap();
        assert_eq!(e, "`pin` must be a string, not a number");
        let e = a.strings("issuers").unwrap_err();
        assert_eq!(e, "`issuers[1]` must be a string, not a number");
        assert_eq!(a.opt_pin("newPin").unwrap().unwrap().expose(), "482915");
        assert_eq!(a.finish().unwrap_err(), "unknown field `x`");
        assert_eq!(a.string("origin").unwrap_err(), "missing field `origin`");
        let a = args(json!({"482915": 1}));
        assert_eq!(a.finish().unwrap_err(), "unknown field (a name of 6 bytes, not shown)");
        for name in ["pin.change", "newPin", "a_b-c"] {
            assert_eq!(shown_name(name), format!("`{name}`"));
        }
        for name in ["", "1pin", "pin 1", &"a".repeat(33), "暗証"] {
            assert!(shown_name(name).contains("not shown"), "{name}");
        }
    }

    #[test]
    fn null_is_absent_for_optional_fields_only() {
        let mut a = args(json!({"reader": null, "pin": null}));
        assert_eq!(a.opt_string("reader").unwrap(), None);
        assert_eq!(a.pin("pin").err().unwrap(), "missing field `pin`");
    }

    #[test]
    fn wiping_overwrites_strings_keys_and_numbers() {
        let mut v = json!({"pin": "482915", "n": 482915, "a": [["482915"], 482915]});
        wipe(&mut v);
        assert_eq!(v, json!({}), "keys taken and zeroized, values overwritten");
        let mut v = json!(["482915", 482915, {"k": "482915"}]);
        wipe(&mut v);
        assert_eq!(v, json!(["", 0, {}]));
    }
}
