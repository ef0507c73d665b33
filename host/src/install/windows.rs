//! Windows: native hosts are registered in the registry, one key per browser and host name,
//! whose default value is the manifest file's path:
//! `HKCU|HKLM\Software\Google\Chrome\NativeMessagingHosts\jp.kagi.host` (Chrome; Chromium, Edge
//! and Firefox have their own keys, see [`super::paths::registry_key`]).
//! <https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host-location>,
//! <https://developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#windows>.
//!
//! Policies live under `HKLM|HKCU\Software\Policies\<vendor>`; `doctor` reads the few that can
//! stop the host (see [`chromium_policies`]).

use std::path::{Path, PathBuf};

use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WRITE};
use winreg::RegKey;

use super::paths::{registry_key, Browser, Hive};
use super::Action;
use crate::error::{Error, Result};

fn hive_key(hive: Hive) -> RegKey {
    RegKey::predef(match hive {
        Hive::CurrentUser => HKEY_CURRENT_USER,
        Hive::LocalMachine => HKEY_LOCAL_MACHINE,
    })
}

fn reg_err(op: &'static str, hive: Hive, key: &str) -> impl FnOnce(std::io::Error) -> Error {
    let path = format!(r"{}\{key}", hive.name());
    move |source| Error::Install { op, path, source }
}

/// The manifest path registered for `browser` in `hive`, if any.
pub fn registered(hive: Hive, browser: Browser) -> Option<PathBuf> {
    let key = hive_key(hive).open_subkey_with_flags(registry_key(browser), KEY_READ).ok()?;
    key.get_value::<String, _>("").ok().map(PathBuf::from)
}

/// Points `browser`'s key in `hive` at `file`.
pub fn register(hive: Hive, browser: Browser, file: &Path) -> Result<Action> {
    let want = file.display().to_string();
    if registered(hive, browser).is_some_and(|p| p.display().to_string() == want) {
        return Ok(Action::Unchanged);
    }
    let name = registry_key(browser);
    let (key, _) = hive_key(hive).create_subkey(&name).map_err(reg_err("creating registry key", hive, &name))?;
    key.set_value("", &want).map_err(reg_err("setting registry value", hive, &name))?;
    Ok(Action::Written)
}

/// Removes `browser`'s key in `hive` if it points at `file` (a key pointing elsewhere is not
/// Kagi's to remove), and the parent `NativeMessagingHosts` key when that is left empty.
pub fn unregister(hive: Hive, browser: Browser, file: &Path) -> Result<Action> {
    let Some(current) = registered(hive, browser) else { return Ok(Action::Absent) };
    if current.display().to_string() != file.display().to_string() {
        return Ok(Action::LeftForeign);
    }
    let name = registry_key(browser);
    hive_key(hive).delete_subkey(&name).map_err(reg_err("deleting registry key", hive, &name))?;
    if let Some((parent, _)) = name.rsplit_once('\\') {
        if let Ok(p) = hive_key(hive).open_subkey_with_flags(parent, KEY_READ | KEY_WRITE) {
            let empty = p.enum_keys().next().is_none() && p.enum_values().next().is_none();
            drop(p);
            if empty {
                let _ = hive_key(hive).delete_subkey(parent);
            }
        }
    }
    Ok(Action::Removed)
}

/// Whether any browser's key in either hive still points at `file`.
pub fn referenced(file: &Path) -> bool {
    let want = file.display().to_string();
    [Hive::CurrentUser, Hive::LocalMachine]
        .iter()
        .flat_map(|h| Browser::ALL.iter().map(move |b| (*h, *b)))
        .any(|(h, b)| registered(h, b).is_some_and(|p| p.display().to_string() == want))
}

/// The Chromium-family policies `doctor` checks, as JSON (machine policy wins over user policy):
/// `NativeMessagingUserLevelHosts` (DWORD), `NativeMessagingAllowlist` / `NativeMessagingBlocklist`
/// (keys with numbered string values). <https://chromeenterprise.google/policies/#NativeMessagingUserLevelHosts>
pub fn chromium_policies(browser: Browser) -> Vec<serde_json::Value> {
    let vendor = match browser {
        Browser::Chrome => r"Software\Policies\Google\Chrome",
        Browser::Chromium => r"Software\Policies\Chromium",
        Browser::Edge => r"Software\Policies\Microsoft\Edge",
        Browser::Firefox => return Vec::new(),
    };
    let mut out = Vec::new();
    for hive in [Hive::LocalMachine, Hive::CurrentUser] {
        let Ok(key) = hive_key(hive).open_subkey_with_flags(vendor, KEY_READ) else { continue };
        let mut map = serde_json::Map::new();
        if let Ok(v) = key.get_value::<u32, _>("NativeMessagingUserLevelHosts") {
            map.insert("NativeMessagingUserLevelHosts".into(), serde_json::Value::Bool(v != 0));
        }
        for list in ["NativeMessagingAllowlist", "NativeMessagingBlocklist", "ExtensionInstallBlocklist", "ExtensionInstallAllowlist", "ExtensionInstallForcelist"] {
            if let Ok(sub) = key.open_subkey_with_flags(list, KEY_READ) {
                let items: Vec<serde_json::Value> = sub
                    .enum_values()
                    .filter_map(|v| v.ok())
                    .filter_map(|(name, _)| sub.get_value::<String, _>(&name).ok())
                    .map(serde_json::Value::String)
                    .collect();
                map.insert(list.into(), serde_json::Value::Array(items));
            }
        }
        if !map.is_empty() {
            out.push(serde_json::Value::Object(map));
        }
    }
    out
}
