//! `diagnose` over native messaging: doctor's checks ([`super::run`]) turned into
//! `kagi_proto::DiagnoseResult` for a support desk, one plain `text` ready to copy plus the
//! structured `checks` and `tokens`.
//!
//! Doctor prints to the person at the machine; this text leaves it (the customer pastes it into
//! a mail or a chat), so it carries less: see `kagi_proto::diagnose` for the list. Here that
//! means paths under the home directory become `~/…` (the home path names the user), the
//! token's GUID is dropped, and the certificate is named by issuer, serial and dates, never by
//! its subject.

use std::path::Path;

use kagi_proto::{CheckStatus, DiagnoseCertificate, DiagnoseCheck, DiagnoseResult, DiagnoseToken, StatusResult, Subject};

use super::{Check, Code, Env, Status, TokenProbe};
use crate::error::Result;

/// Passes the status through to doctor and keeps it for the `tokens` list.
struct Recording<'a> {
    inner: &'a mut dyn TokenProbe,
    seen: Option<StatusResult>,
}

impl TokenProbe for Recording<'_> {
    fn status(&mut self) -> Result<StatusResult> {
        let s = self.inner.status()?;
        self.seen = Some(s.clone());
        Ok(s)
    }
}

/// Runs doctor's checks and builds the support desk's view of them.
pub fn diagnose(env: &Env, probe: &mut dyn TokenProbe) -> DiagnoseResult {
    let mut recording = Recording { inner: probe, seen: None };
    let report = super::run(env, &mut recording);
    let status = recording.seen.unwrap_or_default();
    let tokens: Vec<DiagnoseToken> = status.tokens.iter().map(token).collect();
    let checks: Vec<DiagnoseCheck> = report.checks.iter().map(|c| check(c, &env.roots.home, &status)).collect();
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let time = der::DateTime::from_unix_duration(std::time::Duration::from_secs(env.now))
        .map(crate::x509::rfc3339)
        .unwrap_or_default();
    let mut result = DiagnoseResult {
        ok: report.ok,
        host_version: report.host_version,
        protocol: kagi_proto::PROTOCOL_VERSION,
        os,
        time,
        checks,
        tokens,
        text: String::new(),
    };
    result.text = render(&result);
    result
}

fn token(t: &kagi_proto::TokenSummary) -> DiagnoseToken {
    DiagnoseToken {
        reader: t.reader.clone(),
        pin_retries: t.pin_retries,
        puk_retries: t.puk_retries,
        pin_default: t.pin_default,
        management_key: t.management_key,
        certificate: t.certificate.as_ref().map(|c| DiagnoseCertificate {
            slot: c.slot.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before.clone(),
            not_after: c.not_after.clone(),
            key_algorithm: c.key_algorithm.clone(),
        }),
    }
}

/// A doctor check as the support desk sees it: the same words, a subject without what the
/// module note leaves out.
fn check(c: &Check, home: &Path, status: &StatusResult) -> DiagnoseCheck {
    let code = serde_json::to_value(c.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let first = status.tokens.first();
    let subject = match c.code {
        // Doctor names the token by reader and GUID: the reader is enough to tell tokens apart.
        Code::TokenOk | Code::PinBlocked => first.map(|t| t.reader.clone()),
        // Doctor names the certificate by its subject's CN: the issuer and serial instead.
        Code::CertOk | Code::CertRenewalDue | Code::CertExpiredRenewable | Code::CertRenewalPassed | Code::CertNotYetValid | Code::NoCertificate => {
            first.and_then(|t| t.certificate.as_ref()).map(|cert| {
                format!("{} / serial {} / {} – {}", issuer_name(&cert.issuer), cert.serial, cert.not_before, cert.not_after)
            })
        }
        _ => c.subject.as_deref().map(|s| shorten_home(s, home)),
    };
    DiagnoseCheck {
        code,
        status: match c.status {
            Status::Ok => CheckStatus::Ok,
            Status::Info => CheckStatus::Info,
            Status::Warning => CheckStatus::Warning,
            Status::Error => CheckStatus::Error,
        },
        browser: c.browser.map(|b| b.name().to_owned()),
        scope: c.scope.map(|s| s.name().to_owned()),
        subject,
        ja: shorten_home(&c.ja, home),
        en: shorten_home(&c.en, home),
        fix_ja: c.fix_ja.clone(),
        fix_en: c.fix_en.clone(),
    }
}

/// `O=…, CN=…` of the issuer (the bank's CA): what its support looks the certificate up by.
fn issuer_name(s: &Subject) -> String {
    let mut parts = Vec::new();
    if let Some(o) = &s.organization {
        parts.push(format!("O={o}"));
    }
    for ou in &s.organizational_units {
        parts.push(format!("OU={ou}"));
    }
    if let Some(cn) = &s.common_name {
        parts.push(format!("CN={cn}"));
    }
    if parts.is_empty() {
        "?".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `text` with the home directory written `~` (the home path usually is the user's name).
fn shorten_home(text: &str, home: &Path) -> String {
    let h = home.display().to_string();
    if h.len() < 2 {
        return text.to_owned();
    }
    text.replace(&h, "~")
}

/// The plain text: a header, one block per check, the tokens, the outcome.
fn render(r: &DiagnoseResult) -> String {
    let mut s = String::from("Kagi 診断情報 / Kagi diagnostics\n");
    s += &format!("日時 / Time: {}\n", r.time);
    s += &format!("管理ソフト / Host: kagi-host {} (protocol {})\n", r.host_version, r.protocol);
    s += &format!("OS: {}\n\n", r.os);
    for c in &r.checks {
        let tag = match c.status {
            CheckStatus::Ok => "[OK]  ",
            CheckStatus::Info => "[--]  ",
            CheckStatus::Warning => "[注意]",
            CheckStatus::Error => "[NG]  ",
        };
        let ctx: Vec<&str> = [c.browser.as_deref(), c.scope.as_deref()].into_iter().flatten().collect();
        s += &format!("{tag} {}{}\n", c.code, if ctx.is_empty() { String::new() } else { format!(" ({})", ctx.join(", ")) });
        s += &format!("       {}\n       {}\n", c.ja, c.en);
        if let Some(subj) = &c.subject {
            s += &format!("       {subj}\n");
        }
        if let (Some(ja), Some(en)) = (&c.fix_ja, &c.fix_en) {
            s += &format!("       対処: {ja}\n       Fix: {en}\n");
        }
    }
    for t in &r.tokens {
        let n = |v: Option<u8>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
        s += &format!("\n専用USB / Token: {}\n", t.reader);
        s += &format!("  暗証番号の残り回数 / PIN tries left: {}\n", n(t.pin_retries));
        s += &format!("  PUK の残り回数 / PUK tries left: {}\n", n(t.puk_retries));
        if let Some(d) = t.pin_default {
            s += &format!("  初期暗証番号のまま / factory PIN: {}\n", if d { "yes" } else { "no" });
        }
        let mk = serde_json::to_value(t.management_key).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        s += &format!("  管理鍵 / management key: {mk}\n");
        match &t.certificate {
            Some(c) => {
                s += &format!("  電子証明書 / certificate: slot {}, {}\n", c.slot, c.key_algorithm);
                s += &format!("    発行者 / issuer: {}\n", issuer_name(&c.issuer));
                s += &format!("    シリアル番号 / serial: {}\n", c.serial);
                s += &format!("    有効期間 / valid: {} – {}\n", c.not_before, c.not_after);
            }
            None => s += "  電子証明書 / certificate: (銀行の指定なし、またはなし / no bank named, or none)\n",
        }
    }
    let problems = r.checks.iter().filter(|c| c.status == CheckStatus::Error).count();
    s += "\n";
    if problems == 0 {
        s += "結果: 問題はありません / Result: no problems found\n";
    } else {
        s += &format!("結果: 問題が {problems} 件あります / Result: {problems} problem(s) found\n");
    }
    s
}
