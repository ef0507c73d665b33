//! The extension's words: a lookup into the text catalog (`catalog/ja.json`, `catalog/en.json`),
//! the one catalog the extension and the bank pages share. The texts are not compiled into the
//! WASM: `ui.js` fetches both catalogs packaged with the extension, fills `{bank}` (the
//! `bankName` policy, else the catalog's `BankDefault`, 「お取引の金融機関」) and `{service}` (the
//! smart card service of the platform the browser runs on) and hands them to [`install`]; the
//! page then picks the language the customer or the `defaultLanguage` policy chose ([`Lang`]),
//! which `chrome.i18n` cannot (it follows the browser's UI locale only). Manifest strings live
//! in `extension/_locales`. Wording follows the bank's notices (専用USB, 電子証明書, ログオン,
//! 暗証番号, お問い合わせ).

use std::cell::Cell;

use crate::json::Value;

/// UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    /// `"ja"` / `"en"`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The customer's choice (`"ja"`, `"en"`, or `"auto"`/unset) wins over the administrator's
    /// `defaultLanguage`; Japanese otherwise.
    pub fn resolve(user: Option<&str>, policy_default: Option<&str>) -> Lang {
        user.and_then(Lang::parse).or_else(|| policy_default.and_then(Lang::parse)).unwrap_or_default()
    }
}

macro_rules! messages {
    ($($(#[$doc:meta])* $m:ident,)*) => {
        /// A fixed text; its catalog key is the variant's name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg {
            $($(#[$doc])* $m,)*
        }

        impl Msg {
            /// Every text, for the catalog's completeness test.
            pub const ALL: &'static [Msg] = &[$(Msg::$m,)*];

            /// The catalog key: one table of names, indexed by the variant.
            pub fn key(self) -> &'static str {
                const KEYS: &[&str] = &[$(stringify!($m),)*];
                KEYS[self as usize]
            }
        }
    };
}

messages! {
    AppName,
    // token / host status
    TokenConnected,
    TokenNotConnected,
    HostNotInstalled,
    HostNotInstalledHelp,
    PcscUnavailable,
    NoCertificate,
    Checking,
    // certificate
    CertDetails,
    Country,
    Organization,
    OrganizationalUnit,
    CommonName,
    Serial,
    ValidFrom,
    ValidTo,
    Issuer,
    RenewLink,
    RenewalPassedHelp,
    NotYetValid,
    // PIN window
    PinTitle,
    PurposeLogin,
    PurposeEnroll,
    RequestedBy,
    Purpose,
    PinLabel,
    PinHint,
    Ok,
    Cancel,
    Close,
    ConfirmEnroll,
    ConfirmEnrollNote,
    SaveToUsb,
    Working,
    DoNotRemove,
    EnrollDone,
    EnrollDoneNote,
    LoginDone,
    /// The acquisition progress bar's accessible name.
    Progress,
    // choice, new PIN, first use, unblock
    ChooseCertificate,
    ChooseToken,
    NoBankCertificate,
    Reader,
    Select,
    CurrentPinLabel,
    NewPinLabel,
    NewPinAgainLabel,
    NewPinNeeded,
    NewPinRule,
    SetupNote,
    BlockedIntro,
    PukLabel,
    PukHint,
    Unblock,
    UnblockedNote,
    // confirmation window (issue 16); `TxApprove` has `{amount}`
    PurposeConfirm,
    TxIntro,
    TxKind,
    TxKindTransfer,
    TxKindIssueDebtor,
    TxAmount,
    TxNewCounterparty,
    TxConfusable,
    TxCounterparty,
    TxPayer,
    TxDetails,
    TxUserName,
    TxUserNo,
    TxBank,
    TxBranch,
    TxAccountType,
    TxAccountOrdinary,
    TxAccountCurrent,
    TxAccountOther,
    TxAccountNo,
    TxDueDate,
    TxRecordDate,
    TxTransferRestricted,
    TxGuarantee,
    TxWith,
    TxWithout,
    TxNewCounterpartyRow,
    TxYes,
    TxNo,
    TxRequestId,
    TxRequestVersion,
    TxRecordNumber,
    TxApprove,
    // popup: PIN management
    ChangePin,
    PinChanged,
    PinUnblocked,
    PinIsDefault,
    // popup: support desk (issue 15); the version labels end with their separator
    ExtensionVersion,
    HostVersion,
    CopyDiagnostics,
    Copied,
    CopyFailed,
    // acquisition steps
    StepConfirm,
    StepPin,
    StepGenerate,
    StepIssue,
    StepStore,
    StepDone,
    // options
    OptionsTitle,
    Language,
    LanguageAuto,
    BankOrigins,
    /// Options page, development build: built-in loopback origins (issue 11).
    BuildNoteDev,
    /// Options page, release build: no built-in origin.
    BuildNoteRelease,
    SetByAdmin,
    Add,
    Remove,
    OriginInvalid,
    Saved,
    // texts with a number `{n}` (English has `<key>_one` for 1)
    ExpiresInDays,
    RenewalAvailable,
    ExpiredRenewable,
    TriesLeft,
    PukTriesLeft,
}

thread_local! {
    /// `{"ja": {key: text}, "en": {…}}`, set once per page by [`install`] and kept for the
    /// page's life (a page is short-lived and installs it once).
    static CATALOG: Cell<Option<&'static Value>> = const { Cell::new(None) };
}

/// Keeps the catalogs `ui.js` passes (`{"ja": {…}, "en": {…}}`, placeholders `{bank}` and
/// `{service}` already filled) for the page's life.
pub fn install(catalogs: Value) {
    CATALOG.with(|c| c.set(Some(Box::leak(Box::new(catalogs)))));
}

/// The text under `key` in `lang`, if the catalog has one.
fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    #[cfg(test)]
    if CATALOG.with(Cell::get).is_none() {
        install(tests::catalog());
    }
    CATALOG.with(Cell::get).and_then(|c| c[lang.code()][key].as_str())
}

/// The text of `m` in `lang`; a missing text shows its key (the catalog test keeps that from
/// shipping).
#[inline(never)]
pub fn t(lang: Lang, m: Msg) -> &'static str {
    lookup(lang, m.key()).unwrap_or(m.key())
}

/// The text under `key` with `{n}` replaced by `n`; for 1, `<key>_one` if the language has it.
fn counted(lang: Lang, key: &str, n: u64) -> Option<String> {
    let one = if n == 1 { lookup(lang, &[key, "_one"].concat()) } else { None };
    // Split at a char, not `str::replace` or slicing: the substring searcher and the slicing
    // panic's formatting would cost several KB of WASM. The catalog has at most one `{n}`.
    let s = one.or_else(|| lookup(lang, key))?;
    Some(match s.split_once('{') {
        Some((head, rest)) => match rest.strip_prefix("n}") {
            Some(tail) => [head, &num(n), tail].concat(),
            None => s.to_owned(),
        },
        None => s.to_owned(),
    })
}

fn with_number(lang: Lang, m: Msg, n: u64) -> String {
    counted(lang, m.key(), n).unwrap_or_else(|| m.key().to_owned())
}

pub fn expires_in_days(lang: Lang, days: i64) -> String {
    with_number(lang, Msg::ExpiresInDays, days.unsigned_abs())
}

pub fn renewal_available(lang: Lang, days_left: i64) -> String {
    with_number(lang, Msg::RenewalAvailable, days_left.unsigned_abs())
}

pub fn expired_renewable(lang: Lang, days_since: i64) -> String {
    with_number(lang, Msg::ExpiredRenewable, days_since.unsigned_abs())
}

pub fn tries_left(lang: Lang, n: u8) -> String {
    with_number(lang, Msg::TriesLeft, n.into())
}

pub fn puk_tries_left(lang: Lang, n: u8) -> String {
    with_number(lang, Msg::PukTriesLeft, n.into())
}

/// The text of `m` with its one placeholder (`{amount}`, …) replaced by `value`.
pub fn filled(lang: Lang, m: Msg, value: &str) -> String {
    let s = t(lang, m);
    match s.split_once('{').and_then(|(head, rest)| rest.split_once('}').map(|(_, tail)| (head, tail))) {
        Some((head, tail)) => [head, value, tail].concat(),
        None => s.to_owned(),
    }
}

/// `n` in decimal, without the formatting machinery.
pub fn num(n: u64) -> String {
    let mut s = String::new();
    let mut n = n;
    loop {
        s.insert(0, char::from(b'0' + (n % 10) as u8));
        n /= 10;
        if n == 0 {
            break s;
        }
    }
}

/// The customer-facing text of a stable error code (the host's codes and the extension's own):
/// the catalog's text under the code itself. `retries` fills `{n}` (`PIN_INCORRECT`,
/// `PUK_INCORRECT`). Unknown codes read as `INTERNAL`.
pub fn error_text(lang: Lang, code: &str, retries: Option<u8>) -> String {
    let n = retries.unwrap_or(0).into();
    counted(lang, code, n).or_else(|| counted(lang, "INTERNAL", n)).unwrap_or_else(|| code.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The catalogs as `ui.js` hands them over on Linux without a `bankName` policy.
    pub(crate) fn catalog() -> Value {
        let mut root = crate::json::Map::new();
        for (lang, text) in [("ja", include_str!("../../catalog/ja.json")), ("en", include_str!("../../catalog/en.json"))] {
            let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap_or_default();
            let get = |k: &str| parsed.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let (bank, service) = (get("BankDefault"), get("ServiceLinux"));
            let mut m = crate::json::Map::new();
            for (k, v) in &parsed {
                let s = v.as_str().unwrap_or_default().replace("{bank}", &bank).replace("{service}", &service);
                m.insert(k.clone(), Value::String(s));
            }
            root.insert(lang.to_owned(), Value::Object(m));
        }
        Value::Object(root)
    }

    fn raw(lang: &str) -> serde_json::Map<String, serde_json::Value> {
        let text = if lang == "ja" { include_str!("../../catalog/ja.json") } else { include_str!("../../catalog/en.json") };
        serde_json::from_str(text).unwrap_or_else(|e| panic!("catalog/{lang}.json: {e}"))
    }

    #[test]
    fn language_resolution() {
        assert_eq!(Lang::resolve(None, None), Lang::Ja);
        assert_eq!(Lang::resolve(Some("auto"), Some("en")), Lang::En);
        assert_eq!(Lang::resolve(Some("ja"), Some("en")), Lang::Ja);
        assert_eq!(Lang::resolve(Some("en"), None), Lang::En);
        assert_eq!(Lang::resolve(Some("fr"), Some("xx")), Lang::Ja);
    }

    /// The extension's own codes (never sent by the host).
    const OWN_CODES: [&str; 6] = ["CANCELLED", "TIMEOUT", "BUSY", "ISSUE_FAILED", "PIN_MISMATCH", "PUK_FORMAT"];

    fn proto_codes() -> Vec<&'static str> {
        use kagi_proto::ErrorCode as E;
        let all = [
            E::TokenAbsent, E::NoReader, E::PcscUnavailable, E::PinIncorrect { retries: 2 }, E::PinBlocked, E::PinFormat,
            E::CardRemoved, E::NotPiv, E::NoCertificate, E::CertMismatch, E::OriginNotAllowed, E::NoEnrollment,
            E::UnknownCommand { command: String::new() }, E::BadRequest, E::HostNotInstalled, E::Internal,
            E::PukIncorrect { retries: 2 }, E::PukBlocked, E::PinWeak, E::PinChangeRequired, E::TokenFull,
            E::ManagementKeyUnknown, E::ChoiceRequired, E::PolicyInvalid,
        ];
        let mut codes: Vec<&str> = all.iter().map(E::as_str).collect();
        // Variants added to proto later are caught too: every code `ErrorCode::as_str` can return.
        let source = include_str!("../../proto/src/error.rs");
        let body = source.split("pub fn as_str(&self)").nth(1).and_then(|b| b.split("\n    }\n").next()).unwrap_or_default();
        for arm in body.split("=> \"").skip(1) {
            let code = arm.split('"').next().unwrap_or_default();
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        assert!(codes.len() >= all.len() && body.contains("POLICY_INVALID"), "ErrorCode::as_str not found in proto/src/error.rs");
        codes
    }

    /// Every error code (proto's `ErrorCode` and the extension's own) and every `Msg` has a
    /// text in both languages of the catalog, and both files have the same keys (English alone
    /// adds `_one` forms). A code without a text would show the catch-all 「エラーが発生しました」.
    #[test]
    fn catalog_covers_every_code_and_text_in_both_languages() {
        let (ja, en) = (raw("ja"), raw("en"));
        let codes: Vec<&str> = proto_codes().into_iter().chain(OWN_CODES).collect();
        let keys = codes.iter().copied().chain(Msg::ALL.iter().map(|m| m.key()));
        for key in keys.chain(["BankDefault", "ServiceWindows", "ServiceLinux", "ServiceMac"]) {
            for (lang, c) in [("ja", &ja), ("en", &en)] {
                let text = c.get(key).and_then(|v| v.as_str()).unwrap_or_default();
                assert!(!text.trim().is_empty(), "catalog/{lang}.json has no text for {key}");
            }
        }
        for code in &codes {
            assert_ne!(ja[*code], en[*code], "{code}: the English text is the Japanese one");
        }
        for k in ja.keys() {
            assert!(en.contains_key(k), "{k} is in ja.json, not in en.json");
        }
        for k in en.keys() {
            let base = k.strip_suffix("_one").unwrap_or(k);
            assert!(ja.contains_key(base), "{k} is in en.json, not in ja.json");
        }
        // Every code has words of its own, not the catch-all's.
        for code in &codes {
            if !matches!(*code, "INTERNAL") {
                assert_ne!(ja[*code], ja["INTERNAL"], "{code} has no text of its own");
            }
        }
    }

    /// Wording (issue 15): 暗証番号, お問い合わせ, no 「当金庫」 (the extension serves several banks:
    /// `{bank}`), and no bare "PIN" in Japanese.
    #[test]
    fn japanese_wording() {
        for (k, v) in raw("ja") {
            let v = v.as_str().unwrap_or_default();
            assert!(!v.contains("当金庫"), "{k}: 当金庫 is the bank's own word: {v}");
            assert!(!v.contains("お問合せ"), "{k}: お問い合わせ: {v}");
            assert!(!v.replace("（PUK）", "").contains("PIN"), "{k}: 暗証番号, not PIN: {v}");
        }
    }

    #[test]
    fn texts_with_numbers_and_codes() {
        assert_eq!(error_text(Lang::En, "PUK_INCORRECT", Some(1)), "Wrong PUK. 1 try left before unblocking is no longer possible.");
        assert_eq!(error_text(Lang::En, "PIN_INCORRECT", Some(2)), "Wrong PIN. 2 tries left before the USB token locks.");
        assert!(error_text(Lang::Ja, "PUK_INCORRECT", Some(2)).contains("あと2回"));
        assert!(error_text(Lang::Ja, "PIN_INCORRECT", Some(2)).contains("あと2回"));
        assert!(error_text(Lang::Ja, "PIN_WEAK", None).contains("123456"));
        assert!(error_text(Lang::Ja, "PIN_BLOCKED", None).ends_with("お取引の金融機関までお問い合わせください。"));
        assert!(error_text(Lang::Ja, "PCSC_UNAVAILABLE", None).starts_with("スマートカードサービス（pcscd）が"));
        assert_eq!(error_text(Lang::En, "SOMETHING_NEW", None), error_text(Lang::En, "INTERNAL", None));
        assert_eq!(tries_left(Lang::Ja, 2), "暗証番号の残り入力回数：あと2回");
        assert_eq!(puk_tries_left(Lang::En, 3), "PUK tries left: 3");
        assert_eq!(expires_in_days(Lang::En, 1), "The certificate expires in 1 day");
        assert_eq!(expires_in_days(Lang::En, 30), "The certificate expires in 30 days");
        assert_eq!(t(Lang::Ja, Msg::PinLabel), "暗証番号");
        assert_eq!(filled(Lang::Ja, Msg::TxApprove, "12,345,678円"), "12,345,678円を承認する");
        assert_eq!(filled(Lang::En, Msg::TxApprove, "1円"), "Approve 1円");
        assert_eq!((num(0), num(7), num(10), num(255), num(86_400)), ("0".into(), "7".into(), "10".into(), "255".into(), "86400".into()));
    }
}
