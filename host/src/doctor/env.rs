//! What doctor looks at, gathered in one place so tests can give it a fake machine: the paths
//! (under a root and a home), which browsers are installed, their policies, the clock, and the
//! token (through [`TokenProbe`]).

use std::path::{Path, PathBuf};

use kagi_proto::StatusResult;
use serde_json::Value;

use crate::error::Result;
use crate::install::paths::{self, Browser, Os, Roots, Scope};

/// The token side of the chain: `Tokens::status` on the real machine.
pub trait TokenProbe {
    fn status(&mut self) -> Result<StatusResult>;
}

/// The real token probe. Without the bank's CA (`doctor --issuer`) doctor names no bank, so the
/// host reports no certificate: only a bank's own issuers reveal its certificates.
pub struct TokenStatus {
    pub tokens: crate::token::Tokens,
    pub cas: Option<crate::issuer::BankCas>,
}

impl TokenProbe for TokenStatus {
    fn status(&mut self) -> Result<StatusResult> {
        self.tokens.status(self.cas.as_ref())
    }
}

pub struct Env {
    pub os: Os,
    pub roots: Roots,
    /// This program, as the manifests should name it.
    pub host_path: PathBuf,
    /// Browsers found on this machine.
    pub browsers_present: Vec<Browser>,
    /// Chromium-family policies per browser (each entry one policy source; later ones were
    /// read later). Filled from JSON files on Linux, the registry on Windows.
    pub policies: fn(&Env, Browser) -> Vec<Value>,
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// The host policy the host enforces (`policy.rs`).
    pub host_policy: crate::policy::Policy,
}

impl Env {
    /// The real machine: `root` is `/` unless overridden for tests.
    pub fn detect(roots: Roots, host_path: PathBuf) -> Env {
        let os = Os::current();
        let mut env = Env {
            os,
            roots,
            host_path,
            browsers_present: Vec::new(),
            policies: read_policies,
            now: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            host_policy: crate::policy::Policy::system(),
        };
        env.browsers_present = Browser::ALL.into_iter().filter(|b| browser_installed(&env, *b)).collect();
        env
    }

    /// Where `browser` would find a manifest in `scope`, if one is there. On Windows the
    /// registry says where the file is.
    pub fn manifest_at(&self, browser: Browser, scope: Scope) -> Option<PathBuf> {
        match paths::manifest_dir(self.os, browser, scope) {
            Some(base) => {
                let f = self.roots.resolve(base).join(format!("{}.json", kagi_proto::ids::NATIVE_HOST_NAME));
                f.exists().then_some(f)
            }
            None => registered(browser, scope),
        }
    }
}

#[cfg(windows)]
fn registered(browser: Browser, scope: Scope) -> Option<PathBuf> {
    crate::install::windows::registered(paths::Hive::for_scope(scope), browser)
}

#[cfg(not(windows))]
fn registered(_: Browser, _: Scope) -> Option<PathBuf> {
    None
}

/// Program locations per browser (Debian/Ubuntu/Fedora packages and the vendors' own).
fn candidates(os: Os, browser: Browser) -> &'static [&'static str] {
    match (os, browser) {
        (Os::Linux, Browser::Chrome) => &["/usr/bin/google-chrome", "/usr/bin/google-chrome-stable", "/opt/google/chrome/chrome"],
        (Os::Linux, Browser::Chromium) => &["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium", "/snap/bin/chromium"],
        (Os::Linux, Browser::Edge) => &["/usr/bin/microsoft-edge", "/usr/bin/microsoft-edge-stable", "/opt/microsoft/msedge/msedge"],
        (Os::Linux, Browser::Firefox) => &["/usr/bin/firefox", "/usr/bin/firefox-esr", "/usr/lib/firefox/firefox", "/usr/lib/firefox-esr/firefox-esr", "/snap/bin/firefox"],
        (Os::MacOs, Browser::Chrome) => &["/Applications/Google Chrome.app"],
        (Os::MacOs, Browser::Chromium) => &["/Applications/Chromium.app"],
        (Os::MacOs, Browser::Edge) => &["/Applications/Microsoft Edge.app"],
        (Os::MacOs, Browser::Firefox) => &["/Applications/Firefox.app"],
        (Os::Windows, _) => &[],
    }
}

fn browser_installed(env: &Env, browser: Browser) -> bool {
    if env.os == Os::Windows {
        return windows_browser_installed(browser);
    }
    candidates(env.os, browser).iter().any(|p| env.roots.rooted(p).exists())
        || (env.os == Os::MacOs && candidates(env.os, browser).iter().any(|p| env.roots.home.join(p.trim_start_matches('/')).exists()))
}

fn windows_browser_installed(browser: Browser) -> bool {
    let rel = match browser {
        Browser::Chrome => r"Google\Chrome\Application\chrome.exe",
        Browser::Chromium => r"Chromium\Application\chrome.exe",
        Browser::Edge => r"Microsoft\Edge\Application\msedge.exe",
        Browser::Firefox => r"Mozilla Firefox\firefox.exe",
    };
    ["ProgramFiles", "ProgramFiles(x86)", "LOCALAPPDATA"]
        .iter()
        .filter_map(std::env::var_os)
        .any(|base| Path::new(&base).join(rel).exists())
}

/// Linux: every `*.json` in the browser's managed policy directory, in name order.
fn read_policies(env: &Env, browser: Browser) -> Vec<Value> {
    #[cfg(windows)]
    {
        let _ = env;
        crate::install::windows::chromium_policies(browser)
    }
    #[cfg(not(windows))]
    {
        let Some(dir) = paths::policy_dir(env.os, browser) else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(env.roots.rooted(dir)) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        files.sort();
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
            .collect()
    }
}
