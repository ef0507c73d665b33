//! Identities that the host, the extension and the manifests must agree on.

/// Name of the native messaging host (`connectNative(NATIVE_HOST_NAME)`).
pub const NATIVE_HOST_NAME: &str = "jp.kagi.host";

/// Chromium-family extension id, fixed by the public key in the extension manifest's `key`
/// (id = first 32 hex digits of SHA-256(SPKI DER), digits 0-f written as a-p).
pub const CHROME_EXTENSION_ID: &str = "gpkpgcigbjckfepkdcenjinhhjllfgac";

/// Firefox add-on id (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "kagi@kagi.example";

/// The origin Chrome passes to the host as its first argument.
pub fn chrome_origin() -> String {
    format!("chrome-extension://{CHROME_EXTENSION_ID}/")
}

/// Which browser launched the host, as far as its arguments tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Chromium, Chrome or Edge: argv[1] is `chrome-extension://<id>/`.
    Chromium { extension_id: String },
    /// Firefox: argv[1] is the manifest path, argv[2] the add-on id.
    Firefox { extension_id: String },
}

impl Caller {
    /// Reads the caller from the host's arguments (without argv[0]). `None` when the arguments
    /// are not those of a browser launching a native messaging host.
    pub fn from_args(args: &[String]) -> Option<Caller> {
        let first = args.first()?;
        if let Some(rest) = first.strip_prefix("chrome-extension://") {
            let id = rest.strip_suffix('/').unwrap_or(rest);
            return Some(Caller::Chromium { extension_id: id.to_owned() });
        }
        // Firefox: <path to the host manifest> <extension id>
        if args.len() == 2 && first.ends_with(".json") {
            return Some(Caller::Firefox { extension_id: args[1].clone() });
        }
        None
    }

    /// Whether this caller is Kagi's own extension.
    pub fn is_kagi(&self) -> bool {
        match self {
            Caller::Chromium { extension_id } => extension_id == CHROME_EXTENSION_ID,
            Caller::Firefox { extension_id } => extension_id == FIREFOX_EXTENSION_ID,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn chrome_caller_is_recognised_with_and_without_parent_window() {
        let c = Caller::from_args(&args(&[&chrome_origin()])).unwrap();
        assert!(c.is_kagi());
        // Chrome on Windows appends --parent-window=<hwnd>.
        let c = Caller::from_args(&args(&[&chrome_origin(), "--parent-window=0"])).unwrap();
        assert!(c.is_kagi());
    }

    #[test]
    fn firefox_caller_is_recognised() {
        let c = Caller::from_args(&args(&["/home/u/.mozilla/native-messaging-hosts/jp.kagi.host.json", FIREFOX_EXTENSION_ID])).unwrap();
        assert!(c.is_kagi());
    }

    #[test]
    fn other_extensions_are_not_kagi() {
        let c = Caller::from_args(&args(&["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"])).unwrap();
        assert!(!c.is_kagi());
        let c = Caller::from_args(&args(&["/x/jp.kagi.host.json", "evil@example.com"])).unwrap();
        assert!(!c.is_kagi());
        assert_eq!(Caller::from_args(&args(&["status"])), None);
        assert_eq!(Caller::from_args(&[]), None);
    }
}
