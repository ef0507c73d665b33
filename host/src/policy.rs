//! The machine's host policy: which bank origins this host signs and acquires for, set by the
//! administrator where the customer's programs cannot change it.
//!
//! - Linux (and macOS): [`POLICY_FILE`], `{"allowedOrigins": ["https://www.bank.example"]}`.
//! - Windows: `HKLM\`[`REGISTRY_KEY`], value [`REGISTRY_VALUE`], `REG_MULTI_SZ`, one origin per
//!   string: what the ADMX policy *Kagi → Bank origins the host serves* writes
//!   (`manifests/windows/admx/kagi.admx`, element `multiText`).
//!
//! The same place may turn on the host's log file for support: `"log": "info"` in the file,
//! value [`REGISTRY_LOG_VALUE`] (`REG_SZ`) on Windows, the ADMX policy *Kagi → Host log*. It is
//! read by [`system_log`] for `crate::log` and has no part in which origins are served; a file
//! with only `log` sets no origin rule.
//!
//! No policy: the extension's allowlist decides alone (the host still takes only origins in
//! the form browsers give, `kagi_proto::Origin`). A policy: `authenticate`, `enroll.begin` and
//! `enroll.finish` for any origin it does not name get `ORIGIN_NOT_ALLOWED` before a card is
//! touched; `status`, `pin.change`, `pin.unblock` and `diagnose` name no origin and are served
//! (they give no signature for anyone). A policy that is there but cannot be used — unreadable file, not
//! JSON, an unknown field, an origin not in browser form, another registry type — refuses
//! every request but `diagnose` (which reports it) with `POLICY_INVALID` and a log line (fail closed: a typo must not open
//! the host to every origin).
//!
//! What it is not: a security boundary against code running as the customer. Such code can
//! talk PC/SC to the token itself, read what the customer types, or drive the browser; the
//! policy only stops the easiest misuse, a local program that starts `kagi-host` with the
//! extension's argument and has it sign for an origin of its choosing.
//!
//! Tests point the host at their own file with `KAGI_POLICY_FILE`, honoured only in debug
//! builds (`cfg(debug_assertions)`): integration tests run the real binary as a browser does,
//! so a test-only constructor cannot reach it, while the release builds that ship (the Debian
//! package, the MSI) do not contain the lookup at all, so nothing in a customer's environment
//! can move the policy.

use kagi_proto::{Command, Origin};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The policy file on Linux and macOS.
pub const POLICY_FILE: &str = "/etc/kagi/policy.json";
/// The policy key under `HKEY_LOCAL_MACHINE` on Windows (only the machine hive: a user can
/// write `HKCU`).
pub const REGISTRY_KEY: &str = r"Software\Policies\Kagi";
/// The value under [`REGISTRY_KEY`].
pub const REGISTRY_VALUE: &str = "allowedOrigins";
/// The log level value under [`REGISTRY_KEY`].
pub const REGISTRY_LOG_VALUE: &str = "log";
/// A policy file larger than this is refused (it names a few origins).
const MAX_POLICY_BYTES: u64 = 64 * 1024;

/// The host policy as read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// No policy file or value.
    Absent,
    /// `allowedOrigins` from `source`: only these origins (none when empty).
    Allow { source: String, origins: Vec<Origin> },
    /// A policy is there but cannot be used: every request is refused.
    Invalid { source: String, why: String },
}

/// The file's form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyFile {
    /// Absent: no origin rule (a file that only sets `log`).
    allowed_origins: Option<Vec<String>>,
    /// The host log's level (`crate::log::config`), checked there.
    log: Option<String>,
}

impl Policy {
    /// The policy this host enforces: [`POLICY_FILE`] (Windows: the registry), or in debug
    /// builds the file `KAGI_POLICY_FILE` names.
    pub fn system() -> Policy {
        if let Some(f) = test_file() {
            return Policy::from_file(&f);
        }
        #[cfg(windows)]
        {
            registry()
        }
        #[cfg(not(windows))]
        {
            Policy::from_file(std::path::Path::new(POLICY_FILE))
        }
    }

    /// The policy in `path`: absent when there is no such file, invalid when it cannot be read.
    pub fn from_file(path: &std::path::Path) -> Policy {
        let source = path.display().to_string();
        match read_file(path) {
            Ok(None) => Policy::Absent,
            Ok(Some(text)) => Policy::from_json(&source, &text),
            Err(why) => Policy::Invalid { source, why },
        }
    }

    /// The policy from a file's bytes.
    pub fn from_json(source: &str, text: &[u8]) -> Policy {
        match serde_json::from_slice::<PolicyFile>(text) {
            Ok(PolicyFile { allowed_origins: None, .. }) => Policy::Absent,
            Ok(PolicyFile { allowed_origins: Some(list), .. }) => Policy::from_origins(source, list),
            Err(e) => Policy::Invalid { source: source.to_owned(), why: format!("not a Kagi policy ({{\"allowedOrigins\": [\"https://…\"]}}): {e}") },
        }
    }

    /// The policy from a `REG_MULTI_SZ` value's bytes (UTF-16LE strings, each ended by NUL,
    /// the list by another NUL); empty strings (blank lines in the policy editor) are skipped.
    pub fn from_multi_sz(source: &str, bytes: &[u8]) -> Policy {
        let invalid = |why: &str| Policy::Invalid { source: source.to_owned(), why: why.to_owned() };
        if !bytes.len().is_multiple_of(2) {
            return invalid("REG_MULTI_SZ of an odd number of bytes");
        }
        let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let Ok(text) = String::from_utf16(&units) else { return invalid("REG_MULTI_SZ that is not UTF-16") };
        Policy::from_origins(source, text.split('\0').filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }

    /// Every origin must be one browsers give (`https://host[:port]`, lowercase, no path).
    fn from_origins(source: &str, list: Vec<String>) -> Policy {
        let mut origins = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            match Origin::parse(s) {
                Ok(o) => origins.push(o),
                Err(e) => {
                    return Policy::Invalid { source: source.to_owned(), why: format!("allowedOrigins[{i}]: {e} (write it as a browser does, e.g. https://www.bank.example)") }
                }
            }
        }
        Policy::Allow { source: source.to_owned(), origins }
    }

    /// Whether the host may serve `command` (checked before it reaches a token).
    pub fn check(&self, command: &Command) -> Result<()> {
        match self {
            Policy::Absent => Ok(()),
            // `diagnose` signs nothing and is how the support desk learns what is wrong.
            Policy::Invalid { .. } if matches!(command, Command::Diagnose { .. }) => Ok(()),
            Policy::Invalid { source, why } => Err(Error::PolicyInvalid(format!("{source}: {why}"))),
            Policy::Allow { origins, .. } => {
                let origin = match command {
                    Command::Authenticate { origin, .. }
                    | Command::Confirm { origin, .. }
                    | Command::EnrollBegin { origin, .. }
                    | Command::EnrollFinish { origin, .. } => origin,
                    Command::Status { .. } | Command::PinChange { .. } | Command::PinUnblock { .. } | Command::Diagnose { .. } => return Ok(()),
                    // A command this host does not know yet may name an origin: not under a policy.
                    _ => return Err(Error::OriginNotAllowed("command not covered by the host policy".into())),
                };
                if origins.contains(origin) {
                    Ok(())
                } else {
                    // The log gets this message: it says which rule refused, not the origin.
                    Err(Error::OriginNotAllowed("the origin is not in the host policy (allowedOrigins)".into()))
                }
            }
        }
    }

    /// One line for the log at start.
    pub fn describe(&self) -> String {
        match self {
            Policy::Absent => "host policy: none (the extension's allowlist decides)".into(),
            Policy::Allow { source, origins } => format!("host policy {source}: {} allowed origin(s)", origins.len()),
            Policy::Invalid { source, why } => format!("host policy {source} is invalid, every request is refused (POLICY_INVALID): {why}"),
        }
    }
}

/// The policy file tests name with `KAGI_POLICY_FILE` (debug builds only; see the module note).
fn test_file() -> Option<std::path::PathBuf> {
    #[cfg(debug_assertions)]
    {
        std::env::var_os("KAGI_POLICY_FILE").filter(|f| !f.is_empty()).map(std::path::PathBuf::from)
    }
    #[cfg(not(debug_assertions))]
    {
        None
    }
}

/// The file's bytes: `None` when there is no such file, `Err` when it cannot be used.
fn read_file(path: &std::path::Path) -> std::result::Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    let mut text = Vec::new();
    file.take(MAX_POLICY_BYTES + 1).read_to_end(&mut text).map_err(|e| format!("cannot be read: {e}"))?;
    if text.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!("larger than {MAX_POLICY_BYTES} bytes"));
    }
    Ok(Some(text))
}

/// The `log` value of a policy file's bytes; `None` when it has none or is not a policy (then
/// [`Policy::system`] reports it, and the host refuses every request anyway).
pub fn log_of_json(text: &[u8]) -> Option<String> {
    serde_json::from_slice::<PolicyFile>(text).ok()?.log
}

/// The machine policy's `log` value and where it was read, for `crate::log`.
pub fn system_log() -> Option<(String, String)> {
    if let Some(f) = test_file() {
        return log_of_json(&read_file(&f).ok()??).map(|v| (f.display().to_string(), v));
    }
    #[cfg(windows)]
    {
        registry_log()
    }
    #[cfg(not(windows))]
    {
        let f = std::path::Path::new(POLICY_FILE);
        log_of_json(&read_file(f).ok()??).map(|v| (POLICY_FILE.to_owned(), v))
    }
}

/// `HKLM\Software\Policies\Kagi`, value `log` (`REG_SZ`).
#[cfg(windows)]
fn registry_log() -> Option<(String, String)> {
    use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ};
    let key = winreg::RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(REGISTRY_KEY, KEY_READ).ok()?;
    let v: String = key.get_value(REGISTRY_LOG_VALUE).ok()?;
    Some((format!(r"HKLM\{REGISTRY_KEY}\{REGISTRY_LOG_VALUE}"), v))
}

/// `HKLM\Software\Policies\Kagi`, value `allowedOrigins`.
#[cfg(windows)]
fn registry() -> Policy {
    use winreg::enums::{RegType, HKEY_LOCAL_MACHINE, KEY_READ};
    let source = format!(r"HKLM\{REGISTRY_KEY}\{REGISTRY_VALUE}");
    let invalid = |why: String| Policy::Invalid { source: source.clone(), why };
    let key = match winreg::RegKey::predef(HKEY_LOCAL_MACHINE).open_subkey_with_flags(REGISTRY_KEY, KEY_READ) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Policy::Absent,
        Err(e) => return invalid(format!("cannot be read: {e}")),
    };
    match key.get_raw_value(REGISTRY_VALUE) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Policy::Absent,
        Err(e) => invalid(format!("cannot be read: {e}")),
        Ok(v) if v.vtype == RegType::REG_MULTI_SZ => Policy::from_multi_sz(&source, &v.bytes),
        Ok(v) => invalid(format!("is {:?}, not REG_MULTI_SZ (one origin per line)", v.vtype)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kagi_proto::{Issuers, KeyAlgorithm, Nonce, Pin};

    fn origin(s: &str) -> Origin {
        Origin::parse(s).unwrap()
    }

    fn authenticate(o: &str) -> Command {
        Command::Authenticate {
            origin: origin(o),
            nonce: Nonce::parse(&"A".repeat(43)).unwrap(),
            pin: Pin::new("482915"),
            issuers: Issuers::parse(&["MAA=".to_owned()]).unwrap(),
            certificate: None,
        }
    }

    fn code(r: Result<()>) -> Option<kagi_proto::ErrorCode> {
        r.err().map(|e| e.code())
    }

    #[test]
    fn a_policy_names_the_origins_that_may_sign_and_acquire() {
        let p = Policy::from_json("p.json", br#"{"allowedOrigins": ["https://www.bank.example", "http://127.0.0.1:8480"]}"#);
        assert!(matches!(&p, Policy::Allow { origins, .. } if origins.len() == 2), "{p:?}");
        assert_eq!(code(p.check(&authenticate("https://www.bank.example"))), None);
        assert_eq!(code(p.check(&authenticate("http://127.0.0.1:8480"))), None);
        assert_eq!(code(p.check(&authenticate("https://evil.example"))), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        assert_eq!(code(p.check(&authenticate("http://127.0.0.1:8481"))), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        // A transaction confirmation signs with the same key: the same rule.
        let confirm = |o: &str| {
            let Command::Authenticate { origin, nonce, pin, issuers, certificate } = authenticate(o) else { unreachable!() };
            let tx = serde_json::json!({
                "kind": "densai.transfer/1", "requestId": "R1", "requestVersion": "1", "recordNumber": "0".repeat(20),
                "amountYen": "1", "recordDate": "2026-12-01", "dueDate": "2027-01-29",
                "payer.userNo": "123456789", "payer.name": "鍵商事", "payer.bankCode": "0999", "payer.bankName": "鍵", "payer.branchCode": "001",
                "payer.branchName": "本店", "payer.accountType": "1", "payer.accountNo": "1234567",
                "counterparty.userNo": "987654321", "counterparty.name": "南部品", "counterparty.bankCode": "0999", "counterparty.bankName": "鍵",
                "counterparty.branchCode": "002", "counterparty.branchName": "駅前", "counterparty.accountType": "2", "counterparty.accountNo": "7654321",
                "transferRestricted": "0", "guarantee": "0", "newCounterparty": "0"
            });
            let tx = Box::new(kagi_proto::Transaction::from_json(&tx).unwrap());
            Command::Confirm { origin, nonce, pin, issuers, tx, certificate }
        };
        assert_eq!(code(p.check(&confirm("https://www.bank.example"))), None);
        assert_eq!(code(p.check(&confirm("https://evil.example"))), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        let begin = Command::EnrollBegin {
            origin: origin("https://evil.example"),
            pin: Pin::new("482915"),
            algorithm: KeyAlgorithm::P256,
            issuers: Issuers::parse(&["MAA=".to_owned()]).unwrap(),
            reader: None,
            new_pin: None,
        };
        assert_eq!(code(p.check(&begin)), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        let finish = Command::EnrollFinish { origin: origin("https://evil.example"), certificate: String::new() };
        assert_eq!(code(p.check(&finish)), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        // No origin, no signature: served.
        assert_eq!(code(p.check(&Command::Status { issuers: None })), None);
        let change = Command::PinChange { pin: Pin::new("482915"), new_pin: Pin::new("193847"), reader: None };
        assert_eq!(code(p.check(&change)), None);
        // The refusal does not carry the origin (it is logged).
        assert!(!p.check(&authenticate("https://evil.example")).unwrap_err().to_string().contains("evil"));
        // An empty list allows no origin.
        let none = Policy::from_json("p.json", br#"{"allowedOrigins": []}"#);
        assert_eq!(code(none.check(&authenticate("https://www.bank.example"))), Some(kagi_proto::ErrorCode::OriginNotAllowed));
        assert_eq!(code(Policy::Absent.check(&authenticate("https://evil.example"))), None);
    }

    #[test]
    fn a_policy_that_cannot_be_used_refuses_everything() {
        for text in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"allowedOrigins": "https://www.bank.example"}"#,
            br#"{"allowedOrigins": [1]}"#,
            br#"{"allowedOrigin": ["https://www.bank.example"]}"#,
            br#"{"allowedOrigins": ["https://www.bank.example"], "renewalUrl": "x"}"#,
            br#"{"allowedOrigins": ["https://www.bank.example/"]}"#,
            br#"{"allowedOrigins": ["https://WWW.bank.example"]}"#,
            br#"{"allowedOrigins": ["http://www.bank.example"]}"#,
            br#"{"allowedOrigins": ["*"]}"#,
        ] {
            let p = Policy::from_json("p.json", text);
            assert!(matches!(p, Policy::Invalid { .. }), "{}: {p:?}", String::from_utf8_lossy(text));
            assert_eq!(code(p.check(&Command::Status { issuers: None })), Some(kagi_proto::ErrorCode::PolicyInvalid));
            assert_eq!(code(p.check(&authenticate("https://www.bank.example"))), Some(kagi_proto::ErrorCode::PolicyInvalid));
            assert!(p.describe().contains("POLICY_INVALID"), "{}", p.describe());
            // The one request served: the support desk's diagnose, which reports the policy.
            assert_eq!(code(p.check(&Command::Diagnose { issuers: None })), None);
        }
    }

    #[test]
    fn the_file_absent_unreadable_or_too_big() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(Policy::from_file(&d.path().join("policy.json")), Policy::Absent);
        // A directory where the file should be: there, but not readable as a policy.
        assert!(matches!(Policy::from_file(d.path()), Policy::Invalid { .. }));
        let big = d.path().join("big.json");
        std::fs::write(&big, vec![b' '; MAX_POLICY_BYTES as usize + 1]).unwrap();
        assert!(matches!(Policy::from_file(&big), Policy::Invalid { why, .. } if why.contains("larger")));
        let good = d.path().join("good.json");
        std::fs::write(&good, r#"{"allowedOrigins":["https://www.bank.example"]}"#).unwrap();
        assert!(matches!(Policy::from_file(&good), Policy::Allow { .. }));
    }

    #[test]
    fn the_policy_may_set_the_host_log() {
        let both = br#"{"allowedOrigins":["https://www.bank.example"],"log":"info"}"#;
        assert!(matches!(Policy::from_json("p", both), Policy::Allow { .. }));
        assert_eq!(log_of_json(both).as_deref(), Some("info"));
        // Only the log: no origin rule.
        let only = br#"{"log":"debug"}"#;
        assert_eq!(Policy::from_json("p", only), Policy::Absent);
        assert_eq!(log_of_json(only).as_deref(), Some("debug"));
        assert_eq!(log_of_json(br#"{"allowedOrigins":[]}"#), None);
        // A misspelt field is still a policy that cannot be used (and sets no log).
        let typo = br#"{"allowedOrigins":[],"logs":"info"}"#;
        assert!(matches!(Policy::from_json("p", typo), Policy::Invalid { .. }));
        assert_eq!(log_of_json(typo), None);
    }

    fn multi_sz(items: &[&str]) -> Vec<u8> {
        let mut units: Vec<u16> = Vec::new();
        for s in items {
            units.extend(s.encode_utf16());
            units.push(0);
        }
        units.push(0);
        units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn registry_multi_string_as_the_admx_policy_writes_it() {
        let p = Policy::from_multi_sz("HKLM", &multi_sz(&["https://www.bank.example", "", "https://bank.example:8443"]));
        assert_eq!(p, Policy::Allow { source: "HKLM".into(), origins: vec![origin("https://www.bank.example"), origin("https://bank.example:8443")] });
        assert_eq!(Policy::from_multi_sz("HKLM", &multi_sz(&[])), Policy::Allow { source: "HKLM".into(), origins: vec![] });
        assert!(matches!(Policy::from_multi_sz("HKLM", &multi_sz(&["www.bank.example"])), Policy::Invalid { .. }));
        assert!(matches!(Policy::from_multi_sz("HKLM", &[0x68, 0, 0x74]), Policy::Invalid { .. }));
        assert!(matches!(Policy::from_multi_sz("HKLM", &[0x00, 0xD8, 0, 0, 0, 0]), Policy::Invalid { .. }), "lone surrogate");
    }
}
