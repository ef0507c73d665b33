//! Browser side of the chain: does each browser find Kagi's manifest, is it valid and pointing
//! at this program, and do policies let the browser start it?

use std::path::{Path, PathBuf};

use kagi_proto::ids::{CHROME_EXTENSION_ID, NATIVE_HOST_NAME};
use serde_json::Value;

use super::{Check, Code, Env, Status};
use crate::install::manifest::HostManifest;
use crate::install::paths::{search_order, Browser, Family, Scope};

const REINSTALL_JA: &str = "管理ソフトをインストールし直してください(`kagi-host install`、全員分は管理者が `kagi-host install --scope system`)。";
const REINSTALL_EN: &str = "Reinstall the software (`kagi-host install`, or for all users as administrator `kagi-host install --scope system`).";

pub fn check_all(env: &Env) -> Vec<Check> {
    let mut out = Vec::new();
    for browser in Browser::ALL {
        out.extend(check_browser(env, browser));
    }
    if env.browsers_present.is_empty() && !out.iter().any(|c| c.code == Code::HostManifestOk) {
        out.push(
            Check::new(
                Code::NoBrowser,
                Status::Warning,
                "対応ブラウザー(Chrome、Edge、Firefox、Chromium)が見つかりません。",
                "No supported browser (Chrome, Edge, Firefox, Chromium) was found.",
            )
            .fix("ブラウザーをインストールしてから、管理ソフトをインストールし直してください。", "Install a browser, then reinstall the software."),
        );
    }
    out
}

fn check_browser(env: &Env, browser: Browser) -> Vec<Check> {
    let present = env.browsers_present.contains(&browser);
    let policies = if browser.family() == Family::Chromium { (env.policies)(env, browser) } else { Vec::new() };
    let user_level_allowed = policy_value(&policies, "NativeMessagingUserLevelHosts").and_then(Value::as_bool) != Some(false);
    let found: Vec<(Scope, PathBuf)> = search_order().iter().filter_map(|s| env.manifest_at(browser, *s).map(|p| (*s, p))).collect();
    if !present && found.is_empty() {
        return vec![Check::new(
            Code::BrowserNotFound,
            Status::Info,
            format!("{} はインストールされていないため確認しません。", display(browser)),
            format!("{} is not installed: not checked.", display(browser)),
        )
        .browser(browser)];
    }
    let mut out = Vec::new();
    let effective = found.iter().find(|(s, _)| *s == Scope::System || user_level_allowed);
    match effective {
        None if !found.is_empty() => out.push(
            Check::new(
                Code::PolicyUserLevelHostsBlocked,
                Status::Error,
                "管理ソフトはこのユーザーにだけ登録されていますが、ポリシー NativeMessagingUserLevelHosts によりブラウザーはユーザー単位の登録を使いません。",
                "The software is registered for this user only, but the policy NativeMessagingUserLevelHosts stops the browser from using user-level registrations.",
            )
            .fix(
                "システム管理者に、全ユーザー向けのインストール(`kagi-host install --scope system` または配布パッケージ)を依頼してください。",
                "Ask your administrator to install it for all users (`kagi-host install --scope system` or the package).",
            )
            .browser(browser)
            .scope(Scope::User)
            .subject(found[0].1.display().to_string()),
        ),
        None => out.push(
            Check::new(
                Code::HostManifestMissing,
                Status::Error,
                format!("{} に管理ソフトが登録されていません(「native host not found」の原因です)。", display(browser)),
                format!("The software is not registered with {} (this is what \"native host not found\" means).", display(browser)),
            )
            .fix(REINSTALL_JA, REINSTALL_EN)
            .browser(browser),
        ),
        Some((scope, file)) => out.push(check_manifest(env, browser, *scope, file)),
    }
    if browser.family() == Family::Chromium {
        out.extend(check_policies(&policies, browser));
    }
    out
}

pub(super) fn check_manifest(env: &Env, browser: Browser, scope: Scope, file: &Path) -> Check {
    let subject = file.display().to_string();
    let invalid = |why: String| {
        Check::new(
            Code::HostManifestInvalid,
            Status::Error,
            format!("{} 用の登録ファイルが壊れています: {why}", display(browser)),
            format!("The registration file for {} is damaged: {why}", display(browser)),
        )
        .fix(REINSTALL_JA, REINSTALL_EN)
        .browser(browser)
        .scope(scope)
        .subject(subject.clone())
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return invalid(format!("{e}")),
    };
    let m = match HostManifest::parse(&text) {
        Ok(m) => m,
        Err(e) => return invalid(e),
    };
    let problems = m.problems(browser.family());
    if !problems.is_empty() {
        return invalid(problems.join("; "));
    }
    // A path relative to the manifest is fine on Windows (the MSI writes one), nowhere else.
    let target = match m.program(file, env.os) {
        Ok(t) => t,
        Err(why) => return invalid(why),
    };
    let target = target.as_path();
    if !is_executable(target) {
        return Check::new(
            Code::HostManifestWrongPath,
            Status::Error,
            format!("{} 用の登録ファイルが、存在しない管理ソフト {} を指しています。", display(browser), target.display()),
            format!("The registration for {} points at {}, which does not exist or cannot be run.", display(browser), target.display()),
        )
        .fix(REINSTALL_JA, REINSTALL_EN)
        .browser(browser)
        .scope(scope)
        .subject(subject);
    }
    if !same_file(target, &env.host_path) {
        return Check::new(
            Code::HostManifestWrongPath,
            Status::Warning,
            format!("{} は別の場所の管理ソフト {} を使います(この診断は {} から実行されています)。", display(browser), target.display(), env.host_path.display()),
            format!("{} uses another copy of the software, {} (this check runs from {}).", display(browser), target.display(), env.host_path.display()),
        )
        .fix(
            "古い管理ソフトが残っていないか確認し、使う方で `kagi-host install` を実行してください。",
            "Check for an old copy and run `kagi-host install` from the one you mean to use.",
        )
        .browser(browser)
        .scope(scope)
        .subject(subject);
    }
    Check::new(
        Code::HostManifestOk,
        Status::Ok,
        format!("{} に管理ソフトが登録されています。", display(browser)),
        format!("The software is registered with {}.", display(browser)),
    )
    .browser(browser)
    .scope(scope)
    .subject(subject)
}

fn check_policies(policies: &[Value], browser: Browser) -> Vec<Check> {
    let mut out = Vec::new();
    let allow = strings(policy_value(policies, "NativeMessagingAllowlist"));
    let block = strings(policy_value(policies, "NativeMessagingBlocklist"));
    if block.iter().any(|b| b == "*" || b == NATIVE_HOST_NAME) && !allow.iter().any(|a| a == NATIVE_HOST_NAME) {
        out.push(
            Check::new(
                Code::PolicyHostBlocked,
                Status::Error,
                "ポリシー NativeMessagingBlocklist により、ブラウザーは管理ソフトを起動できません。",
                "The policy NativeMessagingBlocklist stops the browser from starting the software.",
            )
            .fix(
                "システム管理者に、NativeMessagingAllowlist へ jp.kagi.host の追加を依頼してください。",
                "Ask your administrator to add jp.kagi.host to NativeMessagingAllowlist.",
            )
            .browser(browser),
        );
    }
    if extension_blocked(policies) {
        out.push(
            Check::new(
                Code::PolicyExtensionBlocked,
                Status::Error,
                "拡張機能のポリシーにより、Kagi の拡張機能がブロックされています。",
                "Extension policies block Kagi's extension.",
            )
            .fix(
                format!("システム管理者に、拡張機能 {CHROME_EXTENSION_ID} の許可(ExtensionInstallAllowlist か ExtensionInstallForcelist)を依頼してください。"),
                format!("Ask your administrator to allow extension {CHROME_EXTENSION_ID} (ExtensionInstallAllowlist or ExtensionInstallForcelist)."),
            )
            .browser(browser),
        );
    }
    out
}

/// <https://chromeenterprise.google/policies/#ExtensionInstallBlocklist> and
/// `ExtensionSettings`: blocked when the blocklist (or `ExtensionSettings["*"]`) blocks all or
/// Kagi's id and nothing allows or force-installs Kagi's id.
fn extension_blocked(policies: &[Value]) -> bool {
    let id = CHROME_EXTENSION_ID;
    let names_id = |v: Option<&Value>| strings(v).iter().any(|e| e == id || e.split(';').next() == Some(id));
    let settings = policy_value(policies, "ExtensionSettings");
    let mode = |key: &str| settings.and_then(|s| s.get(key)).and_then(|e| e.get("installation_mode")).and_then(Value::as_str).map(str::to_owned);
    if let Some(m) = mode(id) {
        return m == "blocked" || m == "removed";
    }
    if names_id(policy_value(policies, "ExtensionInstallAllowlist")) || names_id(policy_value(policies, "ExtensionInstallForcelist")) {
        return false;
    }
    let block = strings(policy_value(policies, "ExtensionInstallBlocklist"));
    block.iter().any(|b| b == "*" || b == id) || mode("*").is_some_and(|m| m == "blocked")
}

/// The value of policy `name`: the last source that sets it wins.
fn policy_value<'a>(policies: &'a [Value], name: &str) -> Option<&'a Value> {
    policies.iter().rev().find_map(|p| p.get(name))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn display(b: Browser) -> &'static str {
    match b {
        Browser::Chrome => "Google Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => "Microsoft Edge",
        Browser::Firefox => "Firefox",
    }
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
