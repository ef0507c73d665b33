//! Which bank origins Kagi serves, and how a sender's URL becomes the origin sent to the host.
//!
//! The allowlist is the administrator's `allowedOrigins` policy when set, otherwise the customer's
//! own origins from the options page. Configured entries are exact origins: `https://host[:port]`
//! (http only for localhost / 127.0.0.1). A development build (cargo feature `dev-origins`, used by
//! `scripts/demo.sh` and the browser tests) also allows `http://localhost` and `http://127.0.0.1`
//! on any port; a release build has no built-in entry (issue 11: any local web UI or dev server
//! would otherwise reach the token). The origin always comes from the browser's record of the
//! sender ([`page_origin`]), never from anything the page says.

use kagi_proto::Origin;

/// Hosts the development build allows over http on any port (the demo bank and tests).
#[cfg(feature = "dev-origins")]
const DEFAULT_LOOPBACK_HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];

/// Whether this build has the built-in loopback entries (the options page says which build it is).
pub const DEV_ORIGINS: bool = cfg!(feature = "dev-origins");

/// What the browser recorded about the sender of a content script's port
/// (`runtime.MessageSender`: `url`, `origin`, `frameId`, `tab`), as far as Kagi reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sender {
    /// `sender.url`: the URL of the frame's document.
    pub url: String,
    /// `sender.origin` (Chromium; Firefox leaves it out): the document's origin, `"null"` when
    /// opaque (sandboxed document, `data:` URL).
    pub origin: Option<String>,
    /// `sender.frameId`: 0 for the top frame of a tab.
    pub frame_id: Option<f64>,
    /// Whether `sender.tab` is set (the port comes from a tab, not an extension page).
    pub in_tab: bool,
}

/// The page origin of a content script's port, or `None` to refuse it. Fails closed
/// (issue 11): only the top frame of a tab (`frameId` present and 0: bank log-on pages are not
/// embedded), never an opaque (`"null"`) origin such as a sandboxed document's, and when the
/// browser gives `sender.origin` it must be the origin of `sender.url` (it is not replaced by the
/// URL's origin when they differ). WebExtensions `runtime.MessageSender`.
pub fn page_origin(s: &Sender) -> Option<String> {
    if !s.in_tab || s.frame_id != Some(0.0) {
        return None;
    }
    let from_url = origin_of_url(&s.url)?;
    match &s.origin {
        Some(o) if *o != from_url => None,
        _ => Some(from_url),
    }
}

/// `s.split_once("://")`, by bytes (core's substring search and its panic paths cost KBs of WASM).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let i = s.as_bytes().windows(3).position(|w| w == b"://")?;
    Some((s.get(..i)?, s.get(i + 3..)?))
}

/// The ASCII serialisation of a URL's origin as browsers write it (`https://bank.example`,
/// `http://127.0.0.1:8480`), or `None` for URLs that have no http(s) origin.
pub fn origin_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = split_scheme(url)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    // Drop userinfo: it is not part of the origin.
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() {
        return None;
    }
    let hostport = hostport.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let hostport = hostport.strip_suffix(default_port).unwrap_or(&hostport);
    Some([scheme.as_str(), "://", hostport].concat())
}

/// Why an origin typed by a customer or set by policy is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// Not `https://host[:port]` (or http on localhost), or not in canonical form.
    Invalid(String),
}

/// Normalises and checks one configured origin. Accepts a trailing slash and upper-case host
/// (what people paste), returns the canonical origin.
pub fn normalize_entry(entry: &str) -> Result<String, EntryError> {
    let trimmed = entry.trim();
    let candidate = origin_of_url(trimmed).ok_or_else(|| EntryError::Invalid(trimmed.to_owned()))?;
    // Anything after the authority other than a lone "/" means it was not an origin.
    let rest = split_scheme(trimmed).map(|(_, r)| r).unwrap_or("");
    let after = rest.find(['/', '?', '#']).and_then(|i| rest.get(i..)).unwrap_or("");
    if !(after.is_empty() || after == "/") || rest.contains('@') {
        return Err(EntryError::Invalid(trimmed.to_owned()));
    }
    Origin::parse(&candidate).map_err(|_| EntryError::Invalid(trimmed.to_owned()))?;
    Ok(candidate)
}

/// The effective allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// From enterprise policy (`allowedOrigins`); `Some` means the administrator manages the list.
    pub policy: Option<Vec<String>>,
    /// Added by the customer on the options page (ignored while the policy manages the list).
    pub user: Vec<String>,
}

impl Allowlist {
    /// Builds the list from raw settings, dropping (and returning) entries that are not valid origins.
    pub fn from_settings(policy: Option<Vec<String>>, user: Vec<String>) -> (Allowlist, Vec<String>) {
        let mut rejected = Vec::new();
        let mut clean = |v: Vec<String>| -> Vec<String> {
            let mut out: Vec<String> = Vec::new();
            for e in v {
                match normalize_entry(&e) {
                    Ok(o) if !out.contains(&o) => out.push(o),
                    Ok(_) => {}
                    Err(_) => rejected.push(e),
                }
            }
            out
        };
        let policy = policy.map(&mut clean);
        let user = clean(user);
        (Allowlist { policy, user }, rejected)
    }

    /// Whether the administrator manages the list (the options page is then read-only).
    pub fn managed(&self) -> bool {
        self.policy.is_some()
    }

    /// The configured (non built-in) origins in effect.
    pub fn configured(&self) -> &[String] {
        self.policy.as_deref().unwrap_or(&self.user)
    }

    /// Whether `origin` (as produced by [`origin_of_url`]) is served.
    pub fn allows(&self, origin: &str) -> bool {
        if Origin::parse(origin).is_err() {
            return false;
        }
        is_default(origin) || self.configured().iter().any(|o| o == origin)
    }
}

/// A release build has no built-in entry.
#[cfg(not(feature = "dev-origins"))]
fn is_default(_origin: &str) -> bool {
    false
}

/// The development build's entries: http://localhost and http://127.0.0.1 on any port.
#[cfg(feature = "dev-origins")]
fn is_default(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else { return false };
    let host = match rest.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => rest,
    };
    DEFAULT_LOOPBACK_HOSTS.contains(&host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_url_matches_browser_serialisation() {
        assert_eq!(origin_of_url("https://Bank.Example/login?x=1").as_deref(), Some("https://bank.example"));
        assert_eq!(origin_of_url("https://bank.example:443/").as_deref(), Some("https://bank.example"));
        assert_eq!(origin_of_url("https://bank.example:8443#f").as_deref(), Some("https://bank.example:8443"));
        assert_eq!(origin_of_url("http://127.0.0.1:8480/static/x").as_deref(), Some("http://127.0.0.1:8480"));
        assert_eq!(origin_of_url("http://u:p@localhost:80/").as_deref(), Some("http://localhost"));
        assert_eq!(origin_of_url("chrome-extension://abc/pin.html"), None);
        assert_eq!(origin_of_url("file:///etc/passwd"), None);
        assert_eq!(origin_of_url("https:///x"), None);
        assert_eq!(origin_of_url("about:blank"), None);
    }

    #[test]
    #[cfg(not(feature = "dev-origins"))]
    fn release_build_allows_no_loopback_origin_by_itself() {
        let a = Allowlist::default();
        for o in ["http://127.0.0.1:8480", "http://127.0.0.1", "http://localhost:9999", "https://bank.example"] {
            assert!(!a.allows(o), "{o}");
        }
        // The customer's own entry (options page) is served, exactly that port only.
        let (a, _) = Allowlist::from_settings(None, vec!["http://127.0.0.1:8480".into()]);
        assert!(a.allows("http://127.0.0.1:8480"));
        assert!(!a.allows("http://127.0.0.1:8481"));
        assert!(!a.allows("http://localhost:8480"));
        const { assert!(!DEV_ORIGINS) };
    }

    #[test]
    #[cfg(feature = "dev-origins")]
    fn defaults_allow_loopback_demo_on_any_port_only() {
        let a = Allowlist::default();
        assert!(a.allows("http://127.0.0.1:8480"));
        assert!(a.allows("http://127.0.0.1"));
        assert!(a.allows("http://localhost:9999"));
        assert!(!a.allows("http://127.0.0.2:8480"));
        assert!(!a.allows("http://localhost.evil.example"));
        assert!(!a.allows("http://127.0.0.1.evil.example:80"));
        assert!(!a.allows("https://bank.example"));
        assert!(!a.allows("http://bank.example"));
        assert!(!a.allows("null"));
        assert!(!a.allows(""));
    }

    #[test]
    fn entries_are_normalised_and_https_only() {
        assert_eq!(normalize_entry(" https://Bank.example/ ").unwrap(), "https://bank.example");
        assert_eq!(normalize_entry("https://bank.example:443").unwrap(), "https://bank.example");
        assert_eq!(normalize_entry("http://localhost:8080").unwrap(), "http://localhost:8080");
        for bad in ["http://bank.example", "https://bank.example/login", "ftp://x", "bank.example", "https://", "https://a@b.example", "https://b.example?x"] {
            assert!(normalize_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_replaces_user_entries() {
        let (a, rejected) = Allowlist::from_settings(None, vec!["https://user.example".into(), "http://evil.example".into()]);
        assert_eq!(rejected, vec!["http://evil.example".to_string()]);
        assert!(a.allows("https://user.example"));
        assert!(!a.managed());

        let (a, _) = Allowlist::from_settings(Some(vec!["https://bank.example".into(), "https://bank.example/".into()]), vec!["https://user.example".into()]);
        assert!(a.managed());
        assert_eq!(a.configured(), ["https://bank.example".to_string()]);
        assert!(a.allows("https://bank.example"));
        assert!(!a.allows("https://user.example"));
        assert_eq!(a.allows("http://localhost:1"), DEV_ORIGINS, "built-in entries only in a development build");
    }

    fn top(url: &str, origin: Option<&str>) -> Sender {
        Sender { url: url.into(), origin: origin.map(str::to_owned), frame_id: Some(0.0), in_tab: true }
    }

    #[test]
    fn sender_origin_from_the_top_frame_of_a_tab() {
        let s = top("https://bank.example/login?x", Some("https://bank.example"));
        assert_eq!(page_origin(&s).as_deref(), Some("https://bank.example"));
        // Firefox gives no sender.origin: the frame URL's origin.
        assert_eq!(page_origin(&top("https://bank.example:8443/", None)).as_deref(), Some("https://bank.example:8443"));
    }

    #[test]
    fn missing_frame_id_is_refused() {
        let s = Sender { frame_id: None, ..top("https://bank.example/", Some("https://bank.example")) };
        assert_eq!(page_origin(&s), None);
        let s = Sender { frame_id: Some(3.0), ..top("https://bank.example/", Some("https://bank.example")) };
        assert_eq!(page_origin(&s), None, "a sub-frame");
        let s = Sender { in_tab: false, ..top("https://bank.example/", Some("https://bank.example")) };
        assert_eq!(page_origin(&s), None, "not from a tab");
    }

    #[test]
    fn opaque_origin_is_refused_not_mapped_to_the_url() {
        // A document sandboxed by its CSP (`sandbox` without allow-same-origin) keeps the bank's
        // URL but has an opaque origin.
        assert_eq!(page_origin(&top("https://bank.example/login", Some("null"))), None);
    }

    #[test]
    fn sandboxed_or_inherited_origin_that_differs_from_the_url_is_refused() {
        // about:blank / srcdoc / blob: documents carry their creator's origin, not the URL's.
        assert_eq!(page_origin(&top("about:blank", Some("https://bank.example"))), None);
        assert_eq!(page_origin(&top("https://bank.example/", Some("https://other.example"))), None);
        assert_eq!(page_origin(&top("data:text/html,x", Some("null"))), None);
        assert_eq!(page_origin(&top("file:///x.html", None)), None);
    }
}
