//! The `diagnose` reply: the checks of `kagi-host doctor` for a support desk, as one text ready
//! to copy (`text`, what the popup's 「診断情報をコピー」 puts on the clipboard) and the same
//! facts structured (`checks`, `tokens`) for a UI that wants to show them.
//!
//! What it carries, and what it leaves out on purpose: versions, the OS, the browsers' host
//! registrations (paths under the home directory shortened to `~`), the host policy, readers,
//! each token's PIN and PUK tries left and management key state, and for the bank's
//! certificate (when the request names the bank's `issuers`) the issuer, serial, slot, key
//! type and validity dates. Never a PIN, a key, a nonce, the token's GUID, or the
//! certificate's subject (the customer's name and contract number): the bank's support finds
//! the customer by the serial in its own records.

use serde::{Deserialize, Serialize};

use crate::summary::{ManagementKeyState, Subject};

/// One check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Info,
    Warning,
    Error,
}

/// One check of the chain browser → host → PC/SC → reader → token → certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnoseCheck {
    /// The doctor's stable code, e.g. `"PCSC_OK"`, `"CERT_RENEWAL_DUE"` (`kagi-host doctor --json`).
    pub code: String,
    pub status: CheckStatus,
    /// `"chrome"`, `"chromium"`, `"edge"`, `"firefox"` for a browser's check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    /// `"user"` or `"system"` for a registration's check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The file, reader or certificate concerned (see the module note for what is left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub ja: String,
    pub en: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_ja: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_en: Option<String>,
}

/// The bank's certificate as its support desk needs it: no subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnoseCertificate {
    pub slot: String,
    pub issuer: Subject,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub key_algorithm: String,
}

/// A token as its support desk needs it: no GUID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnoseToken {
    pub reader: String,
    pub pin_retries: Option<u8>,
    pub puk_retries: Option<u8>,
    pub pin_default: Option<bool>,
    pub management_key: ManagementKeyState,
    /// The bank's certificate, when the request named the bank's `issuers` and the token holds one.
    pub certificate: Option<DiagnoseCertificate>,
}

/// The result of `diagnose`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiagnoseResult {
    /// No check is an error (as `kagi-host doctor`'s exit status 0).
    pub ok: bool,
    pub host_version: String,
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// Operating system and architecture, e.g. `"linux x86_64"`, `"windows x86_64"`.
    pub os: String,
    /// When the checks ran, RFC 3339 UTC.
    pub time: String,
    pub checks: Vec<DiagnoseCheck>,
    pub tokens: Vec<DiagnoseToken>,
    /// Everything above as plain text (Japanese and English lines), ready to copy.
    pub text: String,
}
