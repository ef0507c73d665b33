//! The strict parser of the wire's `tx`: a flat JSON object whose keys are exactly the kind's
//! field names and whose values are strings. An unknown kind or field, a missing field, a value
//! that is not a string or breaks its rule is `TX_INVALID` naming the FIELD, never its value
//! (refusals are logged and shown; a name could be anything the page chose).
//!
//! The same checks build a [`Transaction`] from the bank's own record
//! ([`Transaction::from_pairs`]), so the bank cannot sign-verify a body the window would refuse.

use serde_json::{Map, Value};

use super::{text, Transaction, TxKind};
use crate::args::shown_name;
use crate::error::{ErrorCode, WireError};

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxProblem {
    /// `tx` is not a JSON object.
    NotAnObject,
    /// `kind` names no kind this version knows.
    UnknownKind,
    /// A key the kind's schema does not have.
    UnknownField,
    /// A field of the schema is absent.
    Missing,
    /// The value is not a JSON string.
    NotAString,
    /// The value does not have the field's form (digits, length, code list).
    Format,
    /// An empty name.
    Empty,
    /// Longer than the field's cap.
    TooLong,
    /// A control, format, bidi, zero-width, private-use character, or a space at an end.
    ForbiddenCharacter,
    /// Not in Unicode Normalization Form C.
    NotNfc,
    /// Not a real `YYYY-MM-DD` date.
    NotADate,
    /// Not UTF-8 (a body read back).
    NotUtf8,
}

impl TxProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            TxProblem::NotAnObject => "must be a JSON object of strings",
            TxProblem::UnknownKind => "unknown kind",
            TxProblem::UnknownField => "unknown field",
            TxProblem::Missing => "missing",
            TxProblem::NotAString => "must be a string",
            TxProblem::Format => "has not the field's form",
            TxProblem::Empty => "empty",
            TxProblem::TooLong => "too long",
            TxProblem::ForbiddenCharacter => "contains a character that is not allowed",
            TxProblem::NotNfc => "not in Unicode NFC",
            TxProblem::NotADate => "not a date (YYYY-MM-DD)",
            TxProblem::NotUtf8 => "not UTF-8",
        }
    }
}

/// A refused `tx`: which field (a schema name, `tx`, `body`, or a shown/described unknown name)
/// and what is wrong with it. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxError {
    pub field: String,
    pub problem: TxProblem,
}

impl TxError {
    pub fn new(field: &str, problem: TxProblem) -> TxError {
        TxError { field: field.to_owned(), problem }
    }

    /// `TX_INVALID {field}` for the wire.
    pub fn to_wire(&self) -> WireError {
        WireError::new(ErrorCode::TxInvalid { field: self.field.clone() }, self.to_string())
    }
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tx: `{}` {}", self.field, self.problem.as_str())
    }
}

impl std::error::Error for TxError {}

/// An unknown key as a refusal may name it: the key when it looks like a field name, else a
/// description (`shown_name`).
fn unknown_name(k: &str) -> String {
    let shown = shown_name(k);
    shown.strip_prefix('`').and_then(|s| s.strip_suffix('`')).map_or(shown.clone(), str::to_owned)
}

impl Transaction {
    /// Builds a checked transaction from `(name, value)` pairs in any order (the bank's record,
    /// or the page's object): `kind` first decides the schema; every schema field exactly once,
    /// nothing else. Errors name the first field in schema order that is wrong.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Transaction, TxError> {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let kind_value = pairs.iter().find(|(n, _)| *n == "kind").map(|(_, v)| *v).ok_or(TxError::new("kind", TxProblem::Missing))?;
        let kind = TxKind::parse(kind_value).ok_or(TxError::new("kind", TxProblem::UnknownKind))?;
        let schema = kind.schema();
        if let Some((n, _)) = pairs.iter().find(|(n, _)| !schema.iter().any(|(s, _)| s == n)) {
            return Err(TxError { field: unknown_name(n), problem: TxProblem::UnknownField });
        }
        let mut values = Vec::with_capacity(schema.len());
        for (name, rule) in schema {
            let mut found = pairs.iter().filter(|(n, _)| n == name);
            let value = found.next().ok_or(TxError::new(name, TxProblem::Missing))?.1;
            if found.next().is_some() {
                return Err(TxError::new(name, TxProblem::Format));
            }
            text::check(*rule, value).map_err(|p| TxError::new(name, p))?;
            values.push(value.to_owned());
        }
        Ok(Transaction { kind, values })
    }

    /// Parses the wire's `tx` value: a flat object of strings (see [`Transaction::from_pairs`]).
    pub fn from_json(v: &Value) -> Result<Transaction, TxError> {
        let map = v.as_object().ok_or(TxError::new("tx", TxProblem::NotAnObject))?;
        Self::from_map(map)
    }

    /// [`Transaction::from_json`] for an object already taken apart.
    pub fn from_map(map: &Map<String, Value>) -> Result<Transaction, TxError> {
        Self::from_entries(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The object's entries as `(key, Some(string value))`, `None` for a value that is not a
    /// string: for callers with their own JSON type (the extension's WASM), so that every caller
    /// refuses alike.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<Transaction, TxError> {
        let mut pairs = Vec::new();
        for (k, v) in entries {
            match v {
                Some(s) => pairs.push((k, s)),
                None => {
                    let known = TxKind::DensaiTransfer.schema().iter().any(|(n, _)| *n == k);
                    let problem = if known { TxProblem::NotAString } else { TxProblem::UnknownField };
                    return Err(TxError { field: unknown_name(k), problem });
                }
            }
        }
        Self::from_pairs(pairs)
    }

    /// The wire's flat object (what the bank's page hands to `confirmTransaction`).
    pub fn to_json(&self) -> Value {
        Value::Object(self.fields().map(|(n, v)| (n.to_owned(), Value::String(v.to_owned()))).collect())
    }
}
