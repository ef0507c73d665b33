//! What the popup says about the host, the token and its certificate, computed from the status
//! the host returns. Plain data in, plain text out, so it is tested natively.

use crate::json::Value;

use crate::expiry::CertState;
use crate::i18n::{self, t, Lang, Msg};

/// How a line is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn class(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The main token's certificate (a page's status with the bank's issuers), if any.
pub fn certificate(status: &Value) -> Option<&Value> {
    status.get("token").and_then(|t| t.get("certificate")).filter(|c| c.is_object())
}

/// Status lines for `{host, readers, tokens, token}` at `now_ms`, and whether renewal should be
/// offered. The popup asks without the bank's issuers, so it sees presence and PIN state only;
/// certificate lines appear when the status carries the bank's certificate.
pub fn status_lines(lang: Lang, status: &Value, now_ms: i64) -> (Vec<(Level, String)>, bool) {
    let mut lines = Vec::new();
    match status.get("host").and_then(Value::as_str) {
        Some("HOST_NOT_INSTALLED") => {
            lines.push((Level::Error, t(lang, Msg::HostNotInstalled).to_owned()));
            lines.push((Level::Info, t(lang, Msg::HostNotInstalledHelp).to_owned()));
            return (lines, false);
        }
        Some("PCSC_UNAVAILABLE") => {
            lines.push((Level::Error, t(lang, Msg::PcscUnavailable).to_owned()));
            return (lines, false);
        }
        Some("ok") => {}
        _ => {
            lines.push((Level::Info, t(lang, Msg::Checking).to_owned()));
            return (lines, false);
        }
    }
    let tokens = status.get("tokens").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if tokens.is_empty() {
        lines.push((Level::Warn, t(lang, Msg::TokenNotConnected).to_owned()));
        return (lines, false);
    }
    for token in tokens {
        lines.extend(token_lines(lang, token, tokens.len() > 1));
    }
    let Some(cert) = certificate(status) else { return (lines, false) };
    let nb = cert.get("notBefore").and_then(Value::as_str).unwrap_or("");
    let na = cert.get("notAfter").and_then(Value::as_str).unwrap_or("");
    let Some(state) = CertState::at(nb, na, now_ms) else { return (lines, false) };
    lines.push(validity_line(lang, state));
    (lines, state.renewal_offered())
}

/// What the customer reads about a certificate's validity.
pub fn validity_line(lang: Lang, state: CertState) -> (Level, String) {
    match state {
        CertState::Valid { days_left } => (Level::Ok, i18n::expires_in_days(lang, days_left)),
        CertState::RenewalAvailable { days_left } => (Level::Warn, i18n::renewal_available(lang, days_left)),
        CertState::ExpiredRenewable { days_since } => (Level::Warn, i18n::expired_renewable(lang, days_since)),
        CertState::RenewalPassed => (Level::Error, t(lang, Msg::RenewalPassedHelp).to_owned()),
        CertState::NotYetValid => (Level::Warn, t(lang, Msg::NotYetValid).to_owned()),
    }
}

/// One token: connected (with its reader when there are several), PIN and PUK tries left, a
/// blocked PIN or PUK, a factory PIN.
pub fn token_lines(lang: Lang, token: &Value, name_reader: bool) -> Vec<(Level, String)> {
    let mut lines = Vec::new();
    let mut connected = t(lang, Msg::TokenConnected).to_owned();
    if let Some(r) = token.get("reader").and_then(Value::as_str).filter(|_| name_reader) {
        connected = [connected.as_str(), "（", r, "）"].concat();
    }
    lines.push((Level::Ok, connected));
    let tries = |k: &str| token.get(k).and_then(Value::as_u64).map(|r| r.min(255) as u8);
    match tries("pinRetries") {
        Some(0) => lines.push((Level::Error, i18n::error_text(lang, "PIN_BLOCKED", None))),
        Some(n) => lines.push((Level::Info, i18n::tries_left(lang, n))),
        None => {}
    }
    match tries("pukRetries") {
        Some(0) => lines.push((Level::Error, i18n::error_text(lang, "PUK_BLOCKED", None))),
        Some(n) => lines.push((Level::Info, i18n::puk_tries_left(lang, n))),
        None => {}
    }
    if token.get("pinDefault") == Some(&Value::Bool(true)) {
        lines.push((Level::Warn, t(lang, Msg::PinIsDefault).to_owned()));
    }
    lines
}

/// One entry of the PIN window's choice (`broker` view `choices[i]`): organisation, common name,
/// expiry date and reader; a token without the bank's certificate says so.
pub fn choice_fields(lang: Lang, c: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if c["hasCertificate"] == true {
        for (m, key) in [(Msg::Organization, "organization"), (Msg::CommonName, "commonName")] {
            if let Some(s) = c[key].as_str() {
                rows.push((t(lang, m).to_owned(), s.to_owned()));
            }
        }
        if let Some(d) = c["notAfter"].as_str() {
            rows.push((t(lang, Msg::ValidTo).to_owned(), d.get(0..10).unwrap_or(d).to_owned()));
        }
    } else {
        rows.push((t(lang, Msg::CertDetails).to_owned(), t(lang, Msg::NoBankCertificate).to_owned()));
    }
    rows.push((t(lang, Msg::Reader).to_owned(), c["reader"].as_str().unwrap_or("").to_owned()));
    rows
}

/// Certificate fields in the order and labels of the bank's completion screen.
pub fn certificate_fields(lang: Lang, cert: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let subject = &cert["subject"];
    if let Some(c) = s(&subject["country"]) {
        out.push((t(lang, Msg::Country).to_owned(), c));
    }
    if let Some(o) = s(&subject["organization"]) {
        out.push((t(lang, Msg::Organization).to_owned(), o));
    }
    for ou in subject["organizationalUnits"].as_array().into_iter().flatten() {
        if let Some(ou) = s(ou) {
            out.push((t(lang, Msg::OrganizationalUnit).to_owned(), ou));
        }
    }
    if let Some(cn) = s(&subject["commonName"]) {
        out.push((t(lang, Msg::CommonName).to_owned(), cn));
    }
    if let Some(serial) = s(&cert["serial"]) {
        out.push((t(lang, Msg::Serial).to_owned(), serial));
    }
    if let Some(i) = s(&cert["issuer"]["commonName"]) {
        out.push((t(lang, Msg::Issuer).to_owned(), i));
    }
    for (m, key) in [(Msg::ValidFrom, "notBefore"), (Msg::ValidTo, "notAfter")] {
        if let Some(d) = s(&cert[key]) {
            out.push((t(lang, m).to_owned(), display_date(&d)));
        }
    }
    out
}

/// `2027-11-26T00:00:00Z` → `2027-11-26 00:00 UTC`.
fn display_date(rfc3339: &str) -> String {
    match (rfc3339.get(0..10), rfc3339.get(11..16)) {
        (Some(d), Some(tm)) => [d, " ", tm, " UTC"].concat(),
        _ => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::parse_rfc3339_ms;
    use crate::json::json;

    fn status(not_after: &str) -> Value {
        let token = json!({"reader":"R","guid":null,"pinRetries":3,"pukRetries":3,"pinDefault":false,"managementKey":"pinProtected","certificate":{
            "slot":"9A","subject":{"country":"JP","organization":"Kagi Demo Shinkin Bank","organizationalUnits":["Kagi Demo CA","IssuedCount=001"],"commonName":"SH001 SH001001 1898"},
            "issuer":{"country":null,"organization":null,"organizationalUnits":[],"commonName":"Kagi Demo CA"},
            "serial":"6d89a42202c56aafed5e6c8de3277d8c","notBefore":"2026-11-26T00:00:00Z","notAfter":not_after,"keyAlgorithm":"P-256","sha256":"00"}});
        json!({"host":"ok","readers":[{"name":"R","tokenPresent":true}],"tokens":[token.clone()],"token":token})
    }

    #[test]
    fn host_and_token_states() {
        let (l, _) = status_lines(Lang::Ja, &json!({"host":"HOST_NOT_INSTALLED","readers":[],"tokens":[],"token":null}), 0);
        assert!(l[0].1.contains("管理ソフト"));
        let (l, _) = status_lines(Lang::Ja, &json!({"host":"ok","readers":[],"tokens":[],"token":null}), 0);
        assert_eq!(l, vec![(Level::Warn, "専用USBが接続されていません".to_string())]);
        let (l, _) = status_lines(Lang::En, &json!({"host":"PCSC_UNAVAILABLE","readers":[],"tokens":[],"token":null}), 0);
        assert_eq!(l[0].0, Level::Error);
    }

    #[test]
    fn popup_sees_presence_and_pin_state_of_every_token() {
        let popup = json!({"host":"ok","readers":[],"tokens":[
            {"reader":"R0","guid":null,"pinRetries":2,"pukRetries":3,"pinDefault":true,"managementKey":"factory","certificate":null},
            {"reader":"R1","guid":null,"pinRetries":0,"pukRetries":0,"pinDefault":null,"managementKey":"unknown","certificate":null}],"token":null});
        let (l, renew) = status_lines(Lang::Ja, &popup, 0);
        assert!(!renew);
        let text: Vec<&str> = l.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(text[0], "専用USBが接続されています（R0）");
        assert_eq!(text[1], "暗証番号の残り入力回数：あと2回");
        assert_eq!(text[2], "ロック解除番号（PUK）の残り入力回数：あと3回");
        assert_eq!(l[3].0, Level::Warn, "factory PIN");
        assert_eq!(text[4], "専用USBが接続されています（R1）");
        assert_eq!((l[5].0, l[6].0), (Level::Error, Level::Error), "PIN and PUK blocked");
        assert_eq!(l.len(), 7, "no certificate line without issuers: {l:?}");
    }

    #[test]
    fn choices_show_organisation_name_expiry_and_reader() {
        let c = json!({"reader":"R1","organization":"Kagi Demo Shinkin Bank","commonName":"SH001","notAfter":"2027-01-01T00:00:00Z","hasCertificate":true});
        let f = choice_fields(Lang::Ja, &c);
        assert_eq!(f.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["Kagi Demo Shinkin Bank", "SH001", "2027-01-01", "R1"]);
        assert_eq!(f[2].0, "有効期限");
        let f = choice_fields(Lang::En, &json!({"reader":"R0","hasCertificate":false}));
        assert_eq!(f[0].1, "No certificate");
    }

    #[test]
    fn expiry_warning_and_renewal() {
        let now = parse_rfc3339_ms("2027-11-01T00:00:00Z").unwrap();
        let (l, renew) = status_lines(Lang::Ja, &status("2027-11-26T00:00:00Z"), now);
        assert!(renew);
        let last = |l: &[(Level, String)]| l.last().cloned().unwrap_or((Level::Info, String::new()));
        assert!(last(&l).1.contains("あと25日"), "{l:?}");
        let (l, renew) = status_lines(Lang::Ja, &status("2028-11-26T00:00:00Z"), now);
        assert!(!renew);
        assert_eq!(last(&l).0, Level::Ok);
        let (l, renew) = status_lines(Lang::Ja, &status("2027-01-01T00:00:00Z"), now);
        assert!(!renew);
        assert!(last(&l).1.contains("再発行"));
    }

    #[test]
    fn fields_follow_the_bank_screen() {
        let f = certificate_fields(Lang::Ja, &status("2027-11-26T00:00:00Z")["token"]["certificate"]);
        let labels: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&labels[..6], ["Country", "Organization", "Organizational Unit", "Organizational Unit", "Common Name", "シリアル番号"]);
        assert_eq!(f[5].1, "6d89a42202c56aafed5e6c8de3277d8c");
        assert_eq!(f.last().unwrap().1, "2027-11-26 00:00 UTC");
    }
}
