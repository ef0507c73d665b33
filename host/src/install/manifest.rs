//! The native messaging host manifest Kagi writes, and reading one back (for `uninstall` and
//! `doctor`).
//!
//! Format: <https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging#native-messaging-host>
//! and <https://developer.mozilla.org/docs/Mozilla/Add-ons/WebExtensions/Native_manifests#native_messaging_manifests>.

use std::path::{Path, PathBuf};

use kagi_proto::ids::{chrome_origin, FIREFOX_EXTENSION_ID, NATIVE_HOST_NAME};
use serde::{Deserialize, Serialize};

use super::paths::{Family, Os};

/// Shown by browsers in error messages and by support tools; Japanese first for the customer.
pub const DESCRIPTION: &str = "Kagi 管理ソフト (専用USBの電子証明書でログオン / bank log-on with the certificate on your USB token)";

/// A native messaging host manifest, as written and as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostManifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_extensions: Option<Vec<String>>,
}

impl HostManifest {
    /// Kagi's manifest for `family`, launching `host_path` (absolute).
    pub fn kagi(family: Family, host_path: &str) -> HostManifest {
        let (origins, extensions) = match family {
            Family::Chromium => (Some(vec![chrome_origin()]), None),
            Family::Firefox => (None, Some(vec![FIREFOX_EXTENSION_ID.to_owned()])),
        };
        HostManifest {
            name: NATIVE_HOST_NAME.to_owned(),
            description: DESCRIPTION.to_owned(),
            path: host_path.to_owned(),
            kind: "stdio".to_owned(),
            allowed_origins: origins,
            allowed_extensions: extensions,
        }
    }

    /// The file content: pretty JSON with a final newline (the templates in `manifests/` are
    /// exactly this for `/usr/bin/kagi-host`).
    pub fn render(&self) -> String {
        // Serialising a struct of strings cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn parse(text: &str) -> Result<HostManifest, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// What is wrong with this manifest for `family`, judged as the browser would (name, type)
    /// and as Kagi needs (its extension allowed). Empty when fine. The path is judged by
    /// [`HostManifest::program`], which needs to know where the manifest is.
    pub fn problems(&self, family: Family) -> Vec<String> {
        let mut out = Vec::new();
        if self.name != NATIVE_HOST_NAME {
            out.push(format!("name is {:?}, not {NATIVE_HOST_NAME:?}", self.name));
        }
        if self.kind != "stdio" {
            out.push(format!("type is {:?}, not \"stdio\"", self.kind));
        }
        match family {
            Family::Chromium => {
                let ok = self.allowed_origins.as_ref().is_some_and(|o| o.contains(&chrome_origin()));
                if !ok {
                    out.push(format!("allowed_origins does not contain {}", chrome_origin()));
                }
            }
            Family::Firefox => {
                let ok = self.allowed_extensions.as_ref().is_some_and(|o| o.iter().any(|e| e == FIREFOX_EXTENSION_ID));
                if !ok {
                    out.push(format!("allowed_extensions does not contain {FIREFOX_EXTENSION_ID}"));
                }
            }
        }
        out
    }

    /// The program a browser on `os` starts for this manifest, read from `manifest_file`.
    ///
    /// An absolute path is taken as it is. On Windows, Chrome, Edge and Firefox also accept a
    /// path relative to the manifest's directory (Chrome: "On Windows, the path can be relative
    /// to the directory that contains the manifest file"; MDN, Native manifests: "On Windows,
    /// this may be relative to the manifest itself"): the MSI's manifests name `kagi-host.exe`
    /// that way. Elsewhere browsers require an absolute path; `Err` says so.
    pub fn program(&self, manifest_file: &Path, os: Os) -> Result<PathBuf, String> {
        if is_absolute_anywhere(&self.path) {
            return Ok(PathBuf::from(&self.path));
        }
        if os != Os::Windows || self.path.is_empty() {
            return Err(format!("path {:?} is not absolute", self.path));
        }
        let dir = manifest_file.parent().unwrap_or(Path::new(""));
        Ok(dir.join(self.path.replace('/', "\\").split('\\').filter(|p| !p.is_empty()).collect::<PathBuf>()))
    }
}

/// Whether `text` is exactly a manifest Kagi's install writes (for whatever host path it
/// names): uninstall removes such files and leaves anything else, including a Kagi manifest
/// someone edited by hand.
pub fn is_ours(text: &str) -> bool {
    let Ok(m) = HostManifest::parse(text) else { return false };
    [Family::Chromium, Family::Firefox].iter().any(|f| HostManifest::kagi(*f, &m.path).render() == text)
}

fn is_absolute_anywhere(p: &str) -> bool {
    p.starts_with('/') || p.starts_with(r"\\") || (p.len() > 2 && p.as_bytes()[1] == b':' && matches!(p.as_bytes()[2], b'\\' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_manifest_has_the_extension_origin() {
        let m = HostManifest::kagi(Family::Chromium, "/usr/bin/kagi-host");
        let v: serde_json::Value = serde_json::from_str(&m.render()).unwrap();
        assert_eq!(v["name"], "jp.kagi.host");
        assert_eq!(v["type"], "stdio");
        assert_eq!(v["path"], "/usr/bin/kagi-host");
        assert_eq!(v["allowed_origins"], serde_json::json!(["chrome-extension://gpkpgcigbjckfepkdcenjinhhjllfgac/"]));
        assert!(v.get("allowed_extensions").is_none());
        assert!(m.problems(Family::Chromium).is_empty());
        assert!(!m.problems(Family::Firefox).is_empty());
    }

    #[test]
    fn firefox_manifest_has_the_addon_id() {
        let m = HostManifest::kagi(Family::Firefox, "/usr/bin/kagi-host");
        let v: serde_json::Value = serde_json::from_str(&m.render()).unwrap();
        assert_eq!(v["allowed_extensions"], serde_json::json!(["kagi@kagi.example"]));
        assert!(v.get("allowed_origins").is_none());
        assert!(m.problems(Family::Firefox).is_empty());
    }

    #[test]
    fn ours_only_when_unchanged() {
        let text = HostManifest::kagi(Family::Firefox, "/opt/x/kagi-host").render();
        assert!(is_ours(&text));
        assert!(!is_ours(&text.replace("kagi@kagi.example", "other@example.com")));
        assert!(!is_ours(&text.replace("\n", " \n")));
        assert!(!is_ours("{}"));
        assert!(!is_ours("not json"));
    }

    #[test]
    fn problems_name_the_field() {
        let mut m = HostManifest::kagi(Family::Chromium, "kagi-host");
        m.kind = "socket".into();
        let p = m.problems(Family::Chromium).join("; ");
        assert!(p.contains("type"), "{p}");
        let err = m.program(Path::new("/etc/chromium/native-messaging-hosts/jp.kagi.host.json"), Os::Linux).unwrap_err();
        assert!(err.contains("not absolute"), "{err}");
        assert!(is_absolute_anywhere(r"C:\Program Files\Kagi\kagi-host.exe"));
        assert!(is_absolute_anywhere("/usr/bin/kagi-host"));
    }

    #[test]
    fn windows_paths_relative_to_the_manifest_are_resolved_from_its_directory() {
        // What the MSI installs: the manifest beside kagi-host.exe, naming it relatively.
        let dir = Path::new("/c/Program Files/Kagi");
        let m = HostManifest::kagi(Family::Chromium, "kagi-host.exe");
        assert_eq!(m.program(&dir.join("jp.kagi.host.json"), Os::Windows).unwrap(), dir.join("kagi-host.exe"));
        let m = HostManifest::kagi(Family::Firefox, r"bin\kagi-host.exe");
        assert_eq!(m.program(&dir.join("jp.kagi.host.firefox.json"), Os::Windows).unwrap(), dir.join("bin").join("kagi-host.exe"));
        // Absolute paths stay as they are, on every OS.
        let abs = r"C:\Program Files\Kagi\kagi-host.exe";
        assert_eq!(HostManifest::kagi(Family::Chromium, abs).program(&dir.join("x.json"), Os::Windows).unwrap(), PathBuf::from(abs));
        assert_eq!(
            HostManifest::kagi(Family::Chromium, "/usr/bin/kagi-host").program(Path::new("/etc/x.json"), Os::Linux).unwrap(),
            PathBuf::from("/usr/bin/kagi-host")
        );
        // Linux and macOS browsers need an absolute path; an empty one is never right.
        assert!(m.program(&dir.join("x.json"), Os::Linux).is_err());
        assert!(m.program(&dir.join("x.json"), Os::MacOs).is_err());
        assert!(HostManifest::kagi(Family::Chromium, "").program(&dir.join("x.json"), Os::Windows).is_err());
    }
}
