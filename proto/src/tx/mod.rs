//! The `kagi-tx:1` transaction confirmation: the typed request a customer approves (a densai
//! 電子記録債権 request), its body encoding, the signed message, and the result the host returns.
//!
//! ```text
//! message = "kagi-tx:1" ‖ SHA-256(origin) ‖ SHA-256(nonce) ‖ SHA-256(body)      (105 bytes)
//! body    = field ‖ field ‖ …  in the order of the kind's schema, every field present
//! field   = u8 len(name) ‖ name (ASCII) ‖ u32 big-endian len(value) ‖ value (UTF-8, NFC)
//! ```
//!
//! The token signs `SHA-256(message)` exactly as for `kagi-auth:1` (ES256 / RS256, see
//! [`crate::login`]). One implementation serves the host (which re-encodes the body from the
//! typed request it was given), the extension's window (which shows exactly the fields that are
//! encoded) and the bank's verifier (which rebuilds the body from its own record). What is left to
//! others: [`parse`] holds the strict parser of the wire's flat `tx` object, [`text`] the text
//! rules every value passes, [`display`] the rendering helpers the window uses.
//!
//! Rule of the issue (16): every value the window shows is signed, and nothing else is shown.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::login::{Nonce, Origin, SignatureAlgorithm};

pub mod display;
pub mod parse;
pub mod text;
#[cfg(all(test, feature = "tx"))]
mod tests;
#[cfg(all(test, not(feature = "tx")))]
mod tests_core;

pub use parse::{TxError, TxProblem};
pub use text::Date;

/// The result's format tag, also the message's domain separator (distinct from `kagi-auth:1`,
/// so a log-on signature can never pass for a transaction signature, nor the other way).
pub const FORMAT: &str = "kagi-tx:1";

/// How a field's value is checked ([`text::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `kind`: one of [`TxKind::NAMES`].
    Kind,
    /// The bank's request id: 1 to 40 of `[0-9A-Za-z-]`.
    RequestId,
    /// The request's version: `^[1-9][0-9]{0,9}$`.
    Version,
    /// 電子記録債権の記録番号: exactly 20 of `[0-9A-Z]`.
    RecordNumber,
    /// Yen, `^[1-9][0-9]{0,10}$` (1 to 99,999,999,999).
    Amount,
    /// `YYYY-MM-DD`, a real date, year 1900 to 2199.
    Date,
    /// Exactly n ASCII digits (full-width digits are refused, never folded).
    Digits(usize),
    /// Free text (names): NFC, no control/format/bidi/zero-width character, at most n characters.
    Text(usize),
    /// 預金種目: `1` 普通, `2` 当座, `9` その他.
    AccountType,
    /// `0` or `1`.
    Flag,
}

/// The fields of a party (`payer.` and `counterparty.` prefix them), in order.
const PARTY: [(&str, Rule); 8] = [
    ("userNo", Rule::Digits(9)),
    ("name", Rule::Text(text::MAX_NAME)),
    ("bankCode", Rule::Digits(4)),
    ("bankName", Rule::Text(text::MAX_BANK_NAME)),
    ("branchCode", Rule::Digits(3)),
    ("branchName", Rule::Text(text::MAX_BANK_NAME)),
    ("accountType", Rule::AccountType),
    ("accountNo", Rule::Digits(7)),
];

/// The densai schema shared by `densai.transfer/1` and `densai.issue.debtor/1` (issue 16,
/// "The signed message"): 26 fields, in this order.
pub const DENSAI_FIELDS: [(&str, Rule); 26] = [
    ("kind", Rule::Kind),
    ("requestId", Rule::RequestId),
    ("requestVersion", Rule::Version),
    ("recordNumber", Rule::RecordNumber),
    ("amountYen", Rule::Amount),
    ("recordDate", Rule::Date),
    ("dueDate", Rule::Date),
    ("payer.userNo", PARTY[0].1),
    ("payer.name", PARTY[1].1),
    ("payer.bankCode", PARTY[2].1),
    ("payer.bankName", PARTY[3].1),
    ("payer.branchCode", PARTY[4].1),
    ("payer.branchName", PARTY[5].1),
    ("payer.accountType", PARTY[6].1),
    ("payer.accountNo", PARTY[7].1),
    ("counterparty.userNo", PARTY[0].1),
    ("counterparty.name", PARTY[1].1),
    ("counterparty.bankCode", PARTY[2].1),
    ("counterparty.bankName", PARTY[3].1),
    ("counterparty.branchCode", PARTY[4].1),
    ("counterparty.branchName", PARTY[5].1),
    ("counterparty.accountType", PARTY[6].1),
    ("counterparty.accountNo", PARTY[7].1),
    ("transferRestricted", Rule::Flag),
    ("guarantee", Rule::Flag),
    ("newCounterparty", Rule::Flag),
];

/// A request kind. Each names its schema; a new kind (or a changed schema) gets a new name
/// (`/2`), never a changed meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TxKind {
    /// `densai.transfer/1`: 譲渡記録請求 (transfer of an electronically recorded claim).
    DensaiTransfer,
    /// `densai.issue.debtor/1`: 発生記録請求（債務者請求）.
    DensaiIssueDebtor,
}

impl TxKind {
    /// Every kind's wire name.
    pub const NAMES: [&'static str; 2] = ["densai.transfer/1", "densai.issue.debtor/1"];

    pub fn parse(s: &str) -> Option<TxKind> {
        match s {
            "densai.transfer/1" => Some(TxKind::DensaiTransfer),
            "densai.issue.debtor/1" => Some(TxKind::DensaiIssueDebtor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::DensaiTransfer => Self::NAMES[0],
            TxKind::DensaiIssueDebtor => Self::NAMES[1],
        }
    }

    /// The kind's fields in signing order (`kind` first).
    pub fn schema(self) -> &'static [(&'static str, Rule)] {
        match self {
            TxKind::DensaiTransfer | TxKind::DensaiIssueDebtor => &DENSAI_FIELDS,
        }
    }

    /// 取引種別 as the window shows it.
    pub fn label_ja(self) -> &'static str {
        match self {
            TxKind::DensaiTransfer => "譲渡記録請求",
            TxKind::DensaiIssueDebtor => "発生記録請求（債務者請求）",
        }
    }
}

/// A checked transaction: every field of its kind's schema, each value valid under its rule.
/// Built only by [`Transaction::from_pairs`] / [`Transaction::from_json`] /
/// [`Transaction::decode_body`], so an invalid one cannot be encoded or shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    kind: TxKind,
    /// Values in schema order (`values[0]` is the kind's name).
    values: Vec<String>,
}

impl Transaction {
    pub fn kind(&self) -> TxKind {
        self.kind
    }

    /// `(name, value)` in signing order: what is encoded, and what the window shows.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.kind.schema().iter().zip(&self.values).map(|((n, _), v)| (*n, v.as_str()))
    }

    /// The value of field `name`, `None` when the kind has no such field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// The amount in yen (checked: 1 to 99,999,999,999, so it fits).
    pub fn amount_yen(&self) -> u64 {
        self.value("amountYen").bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
    }

    pub fn request_id(&self) -> &str {
        self.value("requestId")
    }

    pub fn request_version(&self) -> &str {
        self.value("requestVersion")
    }

    /// `recordDate` / `dueDate` as a date (checked when built).
    pub fn date(&self, name: &str) -> Option<Date> {
        self.get(name).and_then(Date::parse)
    }

    /// Whether the bank says the counterparty is new to this customer (`newCounterparty` = 1).
    pub fn new_counterparty(&self) -> bool {
        self.value("newCounterparty") == "1"
    }

    /// The body: every field in schema order, `u8 len ‖ name ‖ u32 BE len ‖ value`.
    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        for (name, value) in self.fields() {
            // Names are the schema's (≤ 40 bytes) and values capped by their rules (≤ 320
            // bytes), so both lengths fit their prefixes.
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(value.len() as u32).to_be_bytes());
            out.extend_from_slice(value.as_bytes());
        }
        out
    }

    /// SHA-256 of [`Transaction::encode_body`].
    pub fn body_sha256(&self) -> [u8; 32] {
        Sha256::digest(self.encode_body()).into()
    }

    /// Reads a body back (the strict inverse of [`Transaction::encode_body`]): the kind's names
    /// in order, nothing left over, every value valid.
    pub fn decode_body(body: &[u8]) -> Result<Transaction, TxError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut rest = body;
        let short = || TxError::new("body", TxProblem::Format);
        while !rest.is_empty() {
            let (&n, r) = rest.split_first().ok_or_else(short)?;
            let name = r.get(..usize::from(n)).ok_or_else(short)?;
            let r = &r[usize::from(n)..];
            let len = r.get(..4).ok_or_else(short)?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let r = &r[4..];
            let value = r.get(..len).ok_or_else(short)?;
            rest = &r[len..];
            let name = std::str::from_utf8(name).map_err(|_| short())?;
            let value = std::str::from_utf8(value).map_err(|_| TxError::new("body", TxProblem::NotUtf8))?;
            pairs.push((name.to_owned(), value.to_owned()));
            if pairs.len() > DENSAI_FIELDS.len() {
                return Err(TxError::new("body", TxProblem::UnknownField));
            }
        }
        let t = Transaction::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
        // Order matters in a body (not in the JSON object): the names must come in schema order.
        if !t.fields().map(|(n, _)| n).eq(pairs.iter().map(|(n, _)| n.as_str())) {
            return Err(TxError::new("body", TxProblem::Format));
        }
        Ok(t)
    }

    /// `"kagi-tx:1" ‖ SHA-256(origin) ‖ SHA-256(nonce) ‖ SHA-256(body)`: 105 bytes.
    pub fn signed_message(&self, origin: &Origin, nonce: &Nonce) -> Vec<u8> {
        let mut m = Vec::with_capacity(FORMAT.len() + 96);
        m.extend_from_slice(FORMAT.as_bytes());
        m.extend_from_slice(&Sha256::digest(origin.as_str().as_bytes()));
        m.extend_from_slice(&Sha256::digest(nonce.as_str().as_bytes()));
        m.extend_from_slice(&self.body_sha256());
        m
    }

    /// The 32 bytes the token signs: SHA-256 of [`Transaction::signed_message`].
    pub fn digest(&self, origin: &Origin, nonce: &Nonce) -> [u8; 32] {
        Sha256::digest(self.signed_message(origin, nonce)).into()
    }
}

/// What `confirm` returns: `{format: "kagi-tx:1", certificate, algorithm, signature, bodySha256}`.
/// `bodySha256` (lowercase hex) lets a bank log which body the host encoded; the bank still
/// rebuilds the body from its own record and never trusts this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TxSignature {
    pub format: String,
    /// Standard base64 DER X.509 of the signing certificate.
    pub certificate: String,
    pub algorithm: SignatureAlgorithm,
    /// Standard base64: ES256 `r ‖ s` (64 bytes), RS256 the PKCS#1 v1.5 signature.
    pub signature: String,
    pub body_sha256: String,
}

impl TxSignature {
    pub fn new(cert_der: &[u8], algorithm: SignatureAlgorithm, signature: &[u8], body_sha256: &[u8; 32]) -> TxSignature {
        let b64 = base64::engine::general_purpose::STANDARD;
        TxSignature {
            format: FORMAT.to_owned(),
            certificate: b64.encode(cert_der),
            algorithm,
            signature: b64.encode(signature),
            body_sha256: body_sha256.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.certificate).ok()
    }

    pub fn signature_bytes(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD.decode(&self.signature).ok()
    }
}
