//! `kagi-host doctor`: checks each link of the chain browser → manifest → this program → PC/SC
//! → reader → 専用USB (PIV token) → 電子証明書, and says in Japanese and English what is wrong and
//! how to fix it. Each check has a stable code for support desks (`--json`).
//!
//! The same checks go to the browser as `diagnose` ([`diagnose()`]): a support desk's text.
//!
//! Exit status: 0 when no check is an error (warnings such as "renewal period" do not fail),
//! 1 otherwise.

mod browsers;
mod diagnose;
mod env;
mod policy;
mod token;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use diagnose::diagnose;
pub use env::{Env, TokenProbe, TokenStatus};

use crate::install::paths::{Browser, Scope};

/// Stable check codes (the JSON `code`). Never renamed: support scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    /// The browser finds a valid manifest that points at this program.
    HostManifestOk,
    /// The browser is installed but finds no manifest: "native host not found".
    HostManifestMissing,
    /// The manifest the browser would read is not valid JSON or lacks Kagi's name/ids/type.
    HostManifestInvalid,
    /// The manifest points at a program that does not exist (error) or at another copy (warning).
    HostManifestWrongPath,
    /// The browser is not installed and has no manifest: nothing to check.
    BrowserNotFound,
    /// No supported browser found at all.
    NoBrowser,
    /// `NativeMessagingUserLevelHosts` is false and Kagi is only installed for the user.
    PolicyUserLevelHostsBlocked,
    /// `NativeMessagingBlocklist` blocks `jp.kagi.host` and the allowlist does not name it.
    PolicyHostBlocked,
    /// Extension policies block Kagi's extension.
    PolicyExtensionBlocked,
    /// The PC/SC service answers.
    PcscOk,
    /// The PC/SC service (pcscd / Smart Card service) is not running.
    PcscUnavailable,
    /// Some other PC/SC failure while listing readers or reading the token.
    PcscError,
    ReadersOk,
    NoReader,
    TokenOk,
    TokenAbsent,
    NotPiv,
    PinBlocked,
    CertOk,
    NoCertificate,
    /// Valid, within 30 days of expiry: renewal is open.
    CertRenewalDue,
    /// Expired less than 90 days ago: renewal still possible.
    CertExpiredRenewable,
    /// Expired more than 90 days ago: the bank must reissue.
    CertRenewalPassed,
    /// Not yet valid (often a wrong PC clock).
    CertNotYetValid,
    /// No host policy: the extension's allowlist decides which pages may use the token.
    HostPolicyNone,
    /// A host policy names the bank origins the host serves.
    HostPolicyOk,
    /// A host policy is there but cannot be used: the host refuses every request.
    HostPolicyInvalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warning,
    Error,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub code: Code,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<Browser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The file, reader or certificate concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub ja: String,
    pub en: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_ja: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix_en: Option<String>,
}

impl Check {
    pub fn new(code: Code, status: Status, ja: impl Into<String>, en: impl Into<String>) -> Check {
        Check { code, status, browser: None, scope: None, subject: None, ja: ja.into(), en: en.into(), fix_ja: None, fix_en: None }
    }

    pub fn fix(mut self, ja: impl Into<String>, en: impl Into<String>) -> Check {
        self.fix_ja = Some(ja.into());
        self.fix_en = Some(en.into());
        self
    }

    pub fn browser(mut self, b: Browser) -> Check {
        self.browser = Some(b);
        self
    }

    pub fn scope(mut self, s: Scope) -> Check {
        self.scope = Some(s);
        self
    }

    pub fn subject(mut self, s: impl Into<String>) -> Check {
        self.subject = Some(s.into());
        self
    }
}

/// Everything doctor found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub ok: bool,
    pub host_version: String,
    pub host_path: String,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn exit_code(&self) -> u8 {
        if self.ok {
            0
        } else {
            1
        }
    }

    pub fn problems(&self) -> usize {
        self.checks.iter().filter(|c| c.status == Status::Error).count()
    }

    /// The human form: Japanese line, English line, then the fix.
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "Kagi 管理ソフト診断 / Kagi doctor — kagi-host {} ({})\n\n",
            self.host_version, self.host_path
        );
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "[OK]  ",
                Status::Info => "[--]  ",
                Status::Warning => "[注意]",
                Status::Error => "[NG]  ",
            };
            let mut what = format!("{:?}", c.code);
            what = serde_json::to_value(c.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or(what);
            let mut ctx = Vec::new();
            if let Some(b) = c.browser {
                ctx.push(b.name().to_owned());
            }
            if let Some(sc) = c.scope {
                ctx.push(sc.name().to_owned());
            }
            s += &format!("{tag} {what}{}\n", if ctx.is_empty() { String::new() } else { format!(" ({})", ctx.join(", ")) });
            s += &format!("       {}\n       {}\n", c.ja, c.en);
            if let Some(subj) = &c.subject {
                s += &format!("       {subj}\n");
            }
            if let (Some(ja), Some(en)) = (&c.fix_ja, &c.fix_en) {
                s += &format!("       対処: {ja}\n       Fix: {en}\n");
            }
            s += "\n";
        }
        let n = self.problems();
        if n == 0 {
            s += "結果: 問題はありません / Result: no problems found\n";
        } else {
            s += &format!("結果: 問題が {n} 件あります / Result: {n} problem(s) found\n");
        }
        s
    }
}

/// Runs every check.
pub fn run(env: &Env, probe: &mut dyn TokenProbe) -> Report {
    let mut checks = browsers::check_all(env);
    checks.push(policy::check(&env.host_policy));
    checks.extend(token::check(probe, env.now, env.os));
    let ok = !checks.iter().any(|c| c.status == Status::Error);
    Report {
        ok,
        host_version: env!("CARGO_PKG_VERSION").to_owned(),
        host_path: env.host_path.display().to_string(),
        checks,
    }
}
