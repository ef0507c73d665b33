//! Where each browser looks for a native messaging host manifest, per OS and scope, as data.
//!
//! Sources:
//! - Chrome / Chromium: <https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location>
//! - Edge: <https://learn.microsoft.com/microsoft-edge/extensions/developer-guide/native-messaging>
//! - Firefox: <https://developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#manifest_location>
//!
//! Chromium reads `<user-data-dir>/NativeMessagingHosts` first (unless the policy
//! `NativeMessagingUserLevelHosts` is false) and the system directory second
//! (`launch_context_posix.cc`, `FindManifest`); on Windows HKCU before HKLM. Firefox likewise
//! tries the user location before the system one. [`search_order`] encodes this.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The browsers Kagi registers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 4] = [Browser::Chrome, Browser::Chromium, Browser::Edge, Browser::Firefox];

    pub fn name(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Firefox => "firefox",
        }
    }

    /// The manifest dialect the browser reads.
    pub fn family(self) -> Family {
        match self {
            Browser::Firefox => Family::Firefox,
            _ => Family::Chromium,
        }
    }
}

/// Manifest dialects: the Chromium family lists `allowed_origins`, Firefox `allowed_extensions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chromium,
    Firefox,
}

/// User-level (no admin rights needed) or system-wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    User,
    System,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::System => "system",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

/// A path relative to the user's home, or an absolute system path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Home(&'static str),
    Abs(&'static str),
}

/// Windows registry hives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Hive {
    #[serde(rename = "HKCU")]
    CurrentUser,
    #[serde(rename = "HKLM")]
    LocalMachine,
}

impl Hive {
    pub fn for_scope(scope: Scope) -> Hive {
        match scope {
            Scope::User => Hive::CurrentUser,
            Scope::System => Hive::LocalMachine,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Hive::CurrentUser => "HKCU",
            Hive::LocalMachine => "HKLM",
        }
    }
}

/// The directory (Linux, macOS) a browser searches for `<host name>.json`.
pub fn manifest_dir(os: Os, browser: Browser, scope: Scope) -> Option<Base> {
    use Base::{Abs, Home};
    use Browser::*;
    use Scope::*;
    Some(match (os, browser, scope) {
        (Os::Linux, Chrome, User) => Home(".config/google-chrome/NativeMessagingHosts"),
        (Os::Linux, Chrome, System) => Abs("/etc/opt/chrome/native-messaging-hosts"),
        (Os::Linux, Chromium, User) => Home(".config/chromium/NativeMessagingHosts"),
        (Os::Linux, Chromium, System) => Abs("/etc/chromium/native-messaging-hosts"),
        (Os::Linux, Edge, User) => Home(".config/microsoft-edge/NativeMessagingHosts"),
        (Os::Linux, Edge, System) => Abs("/etc/opt/edge/native-messaging-hosts"),
        (Os::Linux, Firefox, User) => Home(".mozilla/native-messaging-hosts"),
        (Os::Linux, Firefox, System) => Abs("/usr/lib/mozilla/native-messaging-hosts"),
        (Os::MacOs, Chrome, User) => Home("Library/Application Support/Google/Chrome/NativeMessagingHosts"),
        (Os::MacOs, Chrome, System) => Abs("/Library/Google/Chrome/NativeMessagingHosts"),
        (Os::MacOs, Chromium, User) => Home("Library/Application Support/Chromium/NativeMessagingHosts"),
        (Os::MacOs, Chromium, System) => Abs("/Library/Application Support/Chromium/NativeMessagingHosts"),
        (Os::MacOs, Edge, User) => Home("Library/Application Support/Microsoft Edge/NativeMessagingHosts"),
        (Os::MacOs, Edge, System) => Abs("/Library/Microsoft/Edge/NativeMessagingHosts"),
        (Os::MacOs, Firefox, User) => Home("Library/Application Support/Mozilla/NativeMessagingHosts"),
        (Os::MacOs, Firefox, System) => Abs("/Library/Application Support/Mozilla/NativeMessagingHosts"),
        (Os::Windows, _, _) => return None,
    })
}

/// The registry key (under HKCU or HKLM) whose default value is the manifest's path (Windows).
pub fn registry_key(browser: Browser) -> String {
    let vendor = match browser {
        Browser::Chrome => r"Google\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => r"Microsoft\Edge",
        Browser::Firefox => "Mozilla",
    };
    format!(r"Software\{vendor}\NativeMessagingHosts\{}", kagi_proto::ids::NATIVE_HOST_NAME)
}

/// On Windows the manifest file itself may live anywhere; Kagi puts it next to the host's
/// executable (which the installer placed in a directory the scope may write), one file per
/// dialect, so Chrome, Chromium and Edge share one.
pub fn windows_manifest_file(host_dir: &Path, family: Family) -> PathBuf {
    let name = kagi_proto::ids::NATIVE_HOST_NAME;
    match family {
        Family::Chromium => host_dir.join(format!("{name}.json")),
        Family::Firefox => host_dir.join(format!("{name}.firefox.json")),
    }
}

/// Kagi's own directory on Windows, `%LOCALAPPDATA%\Kagi` given `%LOCALAPPDATA%`: the host's
/// log (`log.rs`) and anything else the host keeps per user. Programs go elsewhere (the MSI puts
/// them in `Program Files\Kagi` or `%LOCALAPPDATA%\Programs\Kagi`).
pub fn windows_data_dir(local_app_data: &Path) -> PathBuf {
    local_app_data.join("Kagi")
}

/// Directory holding Chromium-family JSON policy files (Linux only; macOS and Windows use
/// configuration profiles and the registry). <https://support.google.com/chrome/a/answer/9027408>
pub fn policy_dir(os: Os, browser: Browser) -> Option<&'static str> {
    match (os, browser) {
        (Os::Linux, Browser::Chrome) => Some("/etc/opt/chrome/policies/managed"),
        (Os::Linux, Browser::Chromium) => Some("/etc/chromium/policies/managed"),
        (Os::Linux, Browser::Edge) => Some("/etc/opt/edge/policies/managed"),
        _ => None,
    }
}

/// Where the browser searches, in the order it searches: user level first, then system.
pub fn search_order() -> [Scope; 2] {
    [Scope::User, Scope::System]
}

/// Where install keeps its record of the directories it created (so uninstall removes them and
/// nothing else).
pub fn record_dir(os: Os, scope: Scope) -> Option<Base> {
    Some(match (os, scope) {
        (Os::Linux, Scope::User) => Base::Home(".local/share/kagi"),
        (Os::Linux, Scope::System) => Base::Abs("/var/lib/kagi"),
        (Os::MacOs, Scope::User) => Base::Home("Library/Application Support/Kagi"),
        (Os::MacOs, Scope::System) => Base::Abs("/Library/Application Support/Kagi"),
        (Os::Windows, _) => return None,
    })
}

/// Resolves paths for the real machine or for a test: system paths are placed under `root`
/// (`/` normally), user paths under `home`.
#[derive(Debug, Clone)]
pub struct Roots {
    pub home: PathBuf,
    pub root: PathBuf,
}

impl Roots {
    pub fn resolve(&self, base: Base) -> PathBuf {
        match base {
            Base::Home(rel) => self.home.join(rel),
            Base::Abs(abs) => self.rooted(abs),
        }
    }

    /// `abs` under the root: `/etc/x` with root `/tmp/r` is `/tmp/r/etc/x`.
    pub fn rooted(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_locations_match_the_browsers_docs() {
        let r = Roots { home: "/home/u".into(), root: "/".into() };
        let dir = |b, s| r.resolve(manifest_dir(Os::Linux, b, s).unwrap());
        assert_eq!(dir(Browser::Chrome, Scope::User), Path::new("/home/u/.config/google-chrome/NativeMessagingHosts"));
        assert_eq!(dir(Browser::Chrome, Scope::System), Path::new("/etc/opt/chrome/native-messaging-hosts"));
        assert_eq!(dir(Browser::Chromium, Scope::User), Path::new("/home/u/.config/chromium/NativeMessagingHosts"));
        assert_eq!(dir(Browser::Chromium, Scope::System), Path::new("/etc/chromium/native-messaging-hosts"));
        assert_eq!(dir(Browser::Edge, Scope::User), Path::new("/home/u/.config/microsoft-edge/NativeMessagingHosts"));
        assert_eq!(dir(Browser::Edge, Scope::System), Path::new("/etc/opt/edge/native-messaging-hosts"));
        assert_eq!(dir(Browser::Firefox, Scope::User), Path::new("/home/u/.mozilla/native-messaging-hosts"));
        assert_eq!(dir(Browser::Firefox, Scope::System), Path::new("/usr/lib/mozilla/native-messaging-hosts"));
    }

    #[test]
    fn macos_locations_match_the_browsers_docs() {
        let r = Roots { home: "/Users/u".into(), root: "/".into() };
        let dir = |b, s| r.resolve(manifest_dir(Os::MacOs, b, s).unwrap());
        assert_eq!(
            dir(Browser::Chrome, Scope::User),
            Path::new("/Users/u/Library/Application Support/Google/Chrome/NativeMessagingHosts")
        );
        assert_eq!(dir(Browser::Chrome, Scope::System), Path::new("/Library/Google/Chrome/NativeMessagingHosts"));
        assert_eq!(
            dir(Browser::Chromium, Scope::System),
            Path::new("/Library/Application Support/Chromium/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Edge, Scope::User),
            Path::new("/Users/u/Library/Application Support/Microsoft Edge/NativeMessagingHosts")
        );
        assert_eq!(dir(Browser::Edge, Scope::System), Path::new("/Library/Microsoft/Edge/NativeMessagingHosts"));
        assert_eq!(
            dir(Browser::Firefox, Scope::User),
            Path::new("/Users/u/Library/Application Support/Mozilla/NativeMessagingHosts")
        );
        assert_eq!(
            dir(Browser::Firefox, Scope::System),
            Path::new("/Library/Application Support/Mozilla/NativeMessagingHosts")
        );
    }

    #[test]
    fn windows_uses_registry_keys_and_files_next_to_the_host() {
        assert_eq!(manifest_dir(Os::Windows, Browser::Chrome, Scope::User), None);
        assert_eq!(registry_key(Browser::Chrome), r"Software\Google\Chrome\NativeMessagingHosts\jp.kagi.host");
        assert_eq!(registry_key(Browser::Chromium), r"Software\Chromium\NativeMessagingHosts\jp.kagi.host");
        assert_eq!(registry_key(Browser::Edge), r"Software\Microsoft\Edge\NativeMessagingHosts\jp.kagi.host");
        assert_eq!(registry_key(Browser::Firefox), r"Software\Mozilla\NativeMessagingHosts\jp.kagi.host");
        assert_eq!(Hive::for_scope(Scope::User).name(), "HKCU");
        assert_eq!(Hive::for_scope(Scope::System).name(), "HKLM");
        let dir = Path::new("C:/Program Files/Kagi");
        assert_eq!(windows_manifest_file(dir, Family::Chromium), dir.join("jp.kagi.host.json"));
        assert_eq!(windows_manifest_file(dir, Family::Firefox), dir.join("jp.kagi.host.firefox.json"));
    }

    #[test]
    fn system_paths_go_under_the_root_for_tests() {
        let r = Roots { home: "/h".into(), root: "/tmp/r".into() };
        let p = r.resolve(manifest_dir(Os::Linux, Browser::Chromium, Scope::System).unwrap());
        assert_eq!(p, Path::new("/tmp/r/etc/chromium/native-messaging-hosts"));
    }
}
