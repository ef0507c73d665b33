//! Every text the extension shows, in Japanese (default) and English, and the one place where
//! error codes become words. Wording follows the bank's notices (専用USB, 電子証明書, ログオン,
//! 電子証明書の保存). Manifest strings live in `extension/_locales`.

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

/// A fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
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
    // popup: PIN management
    ChangePin,
    PinChanged,
    PinUnblocked,
    PinIsDefault,
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
    /// Options page: which build this is (development: built-in loopback origins; release: none).
    BuildNote,
    SetByAdmin,
    Add,
    Remove,
    OriginInvalid,
    Saved,
}

/// The text of `m` in `lang`.
pub fn t(lang: Lang, m: Msg) -> &'static str {
    use Msg::*;
    let (ja, en) = match m {
        AppName => ("Kagi 専用USB", "Kagi USB token"),
        TokenConnected => ("専用USBが接続されています", "Your USB token is connected"),
        TokenNotConnected => ("専用USBが接続されていません", "Your USB token is not connected"),
        HostNotInstalled => ("専用USBの管理ソフトがインストールされていません", "The USB token software is not installed"),
        HostNotInstalledHelp => (
            "当金庫のホームページから管理ソフトをダウンロードし、パソコンにインストールしてください。",
            "Download the token software from your bank's website and install it on this computer.",
        ),
        PcscUnavailable => ("スマートカードサービスが動作していません", "The smart card service is not running"),
        NoCertificate => ("専用USBに電子証明書が保存されていません", "No electronic certificate is stored on the USB token"),
        Checking => ("確認しています…", "Checking…"),
        CertDetails => ("電子証明書情報", "Certificate details"),
        Country => ("Country", "Country"),
        Organization => ("Organization", "Organization"),
        OrganizationalUnit => ("Organizational Unit", "Organizational Unit"),
        CommonName => ("Common Name", "Common Name"),
        Serial => ("シリアル番号", "Serial number"),
        ValidFrom => ("有効期間の開始", "Valid from"),
        ValidTo => ("有効期限", "Valid until"),
        Issuer => ("発行者", "Issuer"),
        RenewLink => ("ログオン画面で電子証明書を更新する", "Renew the certificate on the bank's login page"),
        RenewalPassedHelp => (
            "更新期間を過ぎています。電子証明書の再発行が必要です。当金庫までご連絡ください。",
            "The renewal period has passed. The certificate must be reissued: please contact your bank.",
        ),
        NotYetValid => ("電子証明書はまだ有効期間前です", "The certificate is not valid yet"),
        PinTitle => ("専用USBの暗証番号", "USB token PIN"),
        PurposeLogin => ("ログオン", "Log on"),
        PurposeEnroll => ("電子証明書の保存", "Save the certificate"),
        RequestedBy => ("要求元", "Requested by"),
        Purpose => ("内容", "For"),
        PinLabel => ("暗証番号", "PIN"),
        PinHint => ("6～8桁の数字", "6 to 8 digits"),
        Ok => ("OK", "OK"),
        Cancel => ("キャンセル", "Cancel"),
        Close => ("閉じる", "Close"),
        ConfirmEnroll => ("電子証明書を専用USBに保存します。", "The certificate will be saved on your USB token."),
        ConfirmEnrollNote => (
            "専用USBに保存する場合は、30秒～1分程度時間がかかりますので、保存が完了するまで、そのままお待ちください。",
            "Saving on the USB token takes about 30 seconds to 1 minute. Please wait until it is complete.",
        ),
        SaveToUsb => ("専用USBに保存する", "Save on the USB token"),
        Working => ("処理しています。しばらくお待ちください…", "Working, please wait…"),
        DoNotRemove => ("完了するまで専用USBを取り外さないでください。", "Do not remove the USB token until this is complete."),
        EnrollDone => ("電子証明書の取得と専用USBへの保存が完了いたしました。", "The certificate was obtained and saved on your USB token."),
        EnrollDoneNote => (
            "この電子証明書を使用してログオンを行う場合は、専用USBをパソコンに接続してからログオンしてください。ログオフ後は、すみやかに専用USBをパソコンから取り外してください。",
            "To log on with this certificate, connect the USB token first. After logging off, remove the USB token promptly.",
        ),
        LoginDone => ("ログオンの署名が完了しました。", "Log-on signature complete."),
        ChooseCertificate => ("ご利用になる電子証明書を選択してください。", "Choose the certificate to log on with."),
        ChooseToken => ("電子証明書を保存する専用USBを選択してください。", "Choose the USB token to save the certificate on."),
        NoBankCertificate => ("電子証明書なし", "No certificate"),
        Reader => ("接続先", "Reader"),
        Select => ("選択", "Select"),
        CurrentPinLabel => ("現在の暗証番号", "Current PIN"),
        NewPinLabel => ("新しい暗証番号", "New PIN"),
        NewPinAgainLabel => ("新しい暗証番号（確認のため再入力）", "New PIN (again)"),
        NewPinNeeded => (
            "専用USBの暗証番号が初期設定（123456）のままです。電子証明書を保存する前に、新しい暗証番号を設定してください。",
            "Your USB token still has the factory PIN (123456). Choose a new PIN before the certificate is saved.",
        ),
        NewPinRule => (
            "新しい暗証番号は6～8桁の数字です。123456や同じ数字の繰り返し（111111など）は使用できません。",
            "A new PIN is 6 to 8 digits, not 123456 and not one digit repeated (such as 111111).",
        ),
        SetupNote => (
            "この専用USBは初めてのご利用のため、保存の前に初期設定を行います（管理用の鍵を専用USBの中に作成し、暗証番号で保護します）。",
            "This USB token is used for the first time: before saving, it is set up (a management key is created on the token and protected by your PIN).",
        ),
        BlockedIntro => (
            "暗証番号がロックされています。ロック解除番号（PUK）と新しい暗証番号を入力すると、ロックを解除できます。",
            "The PIN is blocked. Enter the PUK (unblocking code) and a new PIN to unblock it.",
        ),
        PukLabel => ("ロック解除番号（PUK）", "PUK (unblocking code)"),
        PukHint => ("6～8桁", "6 to 8 characters"),
        Unblock => ("ロック解除", "Unblock"),
        UnblockedNote => ("ロックを解除しました。新しい暗証番号を入力してください。", "Unblocked. Enter your new PIN."),
        ChangePin => ("暗証番号の変更", "Change PIN"),
        PinChanged => ("暗証番号を変更しました。", "The PIN was changed."),
        PinUnblocked => ("ロックを解除し、新しい暗証番号を設定しました。", "Unblocked: the new PIN is set."),
        PinIsDefault => ("暗証番号が初期設定（123456）のままです。変更してください。", "The PIN is still the factory PIN (123456): please change it."),
        StepConfirm => ("確認", "Confirm"),
        StepPin => ("暗証番号", "PIN"),
        StepGenerate => ("鍵の生成", "Key generation"),
        StepIssue => ("電子証明書の発行", "Issuing"),
        StepStore => ("専用USBに保存", "Saving"),
        StepDone => ("完了", "Done"),
        OptionsTitle => ("Kagi 専用USBの設定", "Kagi USB token settings"),
        Language => ("表示言語", "Language"),
        LanguageAuto => ("既定", "Default"),
        BankOrigins => ("ご利用の金融機関のアドレス", "Bank addresses"),
        // Which build this is (issue 11): only the one that applies is compiled in.
        #[cfg(feature = "dev-origins")]
        BuildNote => (
            "開発版：http://localhost と http://127.0.0.1 はどのポートでも利用できます（デモ・テスト用）",
            "Development build: http://localhost and http://127.0.0.1 on any port may use the token (demo and tests)",
        ),
        #[cfg(not(feature = "dev-origins"))]
        BuildNote => ("製品版：下記のアドレスのページだけが専用USBを利用できます", "Release build: only pages at the addresses below may use the token"),
        SetByAdmin => ("管理者が設定しています（変更できません）", "Set by your administrator (read-only)"),
        Add => ("追加", "Add"),
        Remove => ("削除", "Remove"),
        OriginInvalid => (
            "https:// で始まるアドレス（例: https://www.bank.example）を入力してください",
            "Enter an address starting with https:// (e.g. https://www.bank.example)",
        ),
        Saved => ("保存しました", "Saved"),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// Text with a number in it.
pub fn expires_in_days(lang: Lang, days: i64) -> String {
    let n = num(days.unsigned_abs());
    match lang {
        Lang::Ja => ["電子証明書の有効期限まであと", &n, "日です"].concat(),
        Lang::En => ["The certificate expires in ", &n, if days == 1 { " day" } else { " days" }].concat(),
    }
}

pub fn renewal_available(lang: Lang, days_left: i64) -> String {
    let n = num(days_left.unsigned_abs());
    match lang {
        Lang::Ja => ["電子証明書の有効期限まであと", &n, "日です。更新期間中です。電子証明書を更新してください。"].concat(),
        Lang::En => ["The certificate expires in ", &n, " day(s). Renewal is available: please renew it."].concat(),
    }
}

pub fn expired_renewable(lang: Lang, days_since: i64) -> String {
    let n = num(days_since.unsigned_abs());
    match lang {
        Lang::Ja => ["電子証明書の有効期限が", &n, "日前に切れています。期限超過後90日以内は更新できます。"].concat(),
        Lang::En => ["The certificate expired ", &n, " day(s) ago. It can still be renewed within 90 days of expiry."].concat(),
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

pub fn tries_left(lang: Lang, n: u8) -> String {
    let n = num(n.into());
    match lang {
        Lang::Ja => ["暗証番号の残り入力回数：あと", &n, "回"].concat(),
        Lang::En => ["PIN tries left: ", &n].concat(),
    }
}

pub fn puk_tries_left(lang: Lang, n: u8) -> String {
    let n = num(n.into());
    match lang {
        Lang::Ja => ["ロック解除番号（PUK）の残り入力回数：あと", &n, "回"].concat(),
        Lang::En => ["PUK tries left: ", &n].concat(),
    }
}

/// The customer-facing text of a stable error code (the host's codes and the extension's own).
/// `retries` completes `PIN_INCORRECT` and `PUK_INCORRECT`. Unknown codes read as an internal error.
pub fn error_text(lang: Lang, code: &str, retries: Option<u8>) -> String {
    let ja_en: (&str, &str) = match code {
        "TOKEN_ABSENT" => ("専用USBが接続されていません。専用USBをパソコンに接続してください。", "The USB token is not connected. Please connect it."),
        "NO_READER" => ("専用USBが見つかりません。専用USBをパソコンに接続してください。", "No USB token reader was found. Please connect your USB token."),
        "PCSC_UNAVAILABLE" => ("スマートカードサービスが動作していません。パソコンを再起動してください。", "The smart card service is not running. Please restart the computer."),
        "PIN_INCORRECT" => {
            let n = num(retries.unwrap_or(0).into());
            return match lang {
                Lang::Ja => ["暗証番号が正しくありません。あと", &n, "回間違えると専用USBがロックされます。"].concat(),
                Lang::En => ["Wrong PIN. ", &n, if n == "1" { " try" } else { " tries" }, " left before the USB token locks."].concat(),
            };
        }
        "PUK_INCORRECT" => {
            let n = num(retries.unwrap_or(0).into());
            return match lang {
                Lang::Ja => ["ロック解除番号（PUK）が正しくありません。あと", &n, "回間違えるとロック解除ができなくなります。"].concat(),
                Lang::En => ["Wrong PUK. ", &n, if n == "1" { " try" } else { " tries" }, " left before unblocking is no longer possible."].concat(),
            };
        }
        "PIN_BLOCKED" => (
            "暗証番号がロックされています。ロック解除番号（PUK）でロックを解除するか、当金庫までお問合せください。",
            "The PIN is blocked. Unblock it with the PUK, or contact your bank.",
        ),
        "PUK_BLOCKED" => (
            "ロック解除番号（PUK）もロックされているため、ロックを解除できません。当金庫までお問合せください。",
            "The PUK is blocked too: the PIN cannot be unblocked. Please contact your bank.",
        ),
        "PUK_FORMAT" => ("ロック解除番号（PUK）は6～8桁で入力してください。", "The PUK is 6 to 8 characters."),
        "PIN_WEAK" => (
            "この暗証番号は使用できません。123456や同じ数字の繰り返しではない、6～8桁の数字を設定してください。",
            "This PIN cannot be used. Choose 6 to 8 digits, not 123456 and not one digit repeated.",
        ),
        "PIN_MISMATCH" => ("新しい暗証番号が一致しません。もう一度入力してください。", "The two new PINs differ. Please enter them again."),
        "PIN_CHANGE_REQUIRED" => (
            "暗証番号が初期設定（123456）のままです。新しい暗証番号を設定してください。",
            "The PIN is still the factory PIN (123456). Please choose a new PIN.",
        ),
        "TOKEN_FULL" => (
            "専用USBに電子証明書を保存する空きがありません。別の専用USBをご利用いただくか、当金庫までお問合せください。",
            "The USB token has no free room for the certificate. Use another USB token, or contact your bank.",
        ),
        "MANAGEMENT_KEY_UNKNOWN" => (
            "この専用USBには電子証明書を保存できません（初期設定が異なります）。当金庫のヘルプデスクまでお問合せください。",
            "The certificate cannot be saved on this USB token (it was set up differently). Please contact your bank's help desk.",
        ),
        "CHOICE_REQUIRED" => (
            "複数の専用USB（電子証明書）が見つかりました。ご利用になるものを選択してください。",
            "Several USB tokens (certificates) were found. Please choose one.",
        ),
        "PIN_FORMAT" => ("暗証番号は6～8桁の数字で入力してください。", "The PIN is 6 to 8 digits."),
        "CARD_REMOVED" => ("処理中に専用USBが取り外されました。もう一度お試しください。", "The USB token was removed during the operation. Please try again."),
        "NOT_PIV" => ("接続されている機器は専用USBではありません。", "The connected device is not a Kagi USB token."),
        "NO_CERTIFICATE" => ("専用USBに電子証明書が保存されていません。", "No electronic certificate is stored on the USB token."),
        "CERT_MISMATCH" => ("発行された電子証明書がこの専用USBと一致しません。当金庫までお問合せください。", "The issued certificate does not match this USB token. Please contact your bank."),
        "ORIGIN_NOT_ALLOWED" => ("このページでは専用USBを利用できません。", "This page may not use the USB token."),
        "NO_ENROLLMENT" => ("電子証明書の取得を最初からやり直してください。", "Please start the certificate acquisition again."),
        "POLICY_INVALID" => ("管理ソフトの設定に誤りがあります。当金庫までお問合せください。", "The token software is misconfigured. Please contact your bank."),
        "HOST_NOT_INSTALLED" => ("専用USBの管理ソフトがインストールされていません。", "The USB token software is not installed."),
        "UNKNOWN_COMMAND" => ("管理ソフトが古いため処理できません。最新の管理ソフトをインストールしてください。", "The token software is too old. Please install the latest version."),
        "CANCELLED" => ("キャンセルしました。", "Cancelled."),
        "TIMEOUT" => ("時間内に応答がありませんでした。もう一度お試しください。", "No answer in time. Please try again."),
        "BUSY" => ("別の画面で専用USBを使用中です。その操作を完了してからお試しください。", "The USB token is in use by another window. Finish that first."),
        "ISSUE_FAILED" => ("電子証明書の発行に失敗しました。当金庫までお問合せください。", "The bank could not issue the certificate. Please contact your bank."),
        _ => ("エラーが発生しました。当金庫までお問合せください。", "An error occurred. Please contact your bank."),
    };
    match lang {
        Lang::Ja => ja_en.0.to_owned(),
        Lang::En => ja_en.1.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn every_code_has_both_languages() {
        use kagi_proto::ErrorCode as E;
        let proto = [
            E::TokenAbsent, E::NoReader, E::PcscUnavailable, E::PinIncorrect { retries: 2 }, E::PinBlocked, E::PinFormat,
            E::CardRemoved, E::NotPiv, E::NoCertificate, E::CertMismatch, E::OriginNotAllowed, E::NoEnrollment,
            E::UnknownCommand { command: String::new() }, E::BadRequest, E::HostNotInstalled, E::Internal,
            E::PukIncorrect { retries: 2 }, E::PukBlocked, E::PinWeak, E::PinChangeRequired, E::TokenFull,
            E::ManagementKeyUnknown, E::ChoiceRequired, E::PolicyInvalid,
        ];
        let internal = error_text(Lang::Ja, "INTERNAL", None);
        for code in proto.iter().map(E::as_str).chain(OWN_CODES) {
            let ja = error_text(Lang::Ja, code, Some(2));
            let en = error_text(Lang::En, code, Some(2));
            assert!(!ja.is_empty() && !en.is_empty() && ja != en, "{code}");
            // Every code but the catch-alls has its own words.
            if !matches!(code, "INTERNAL" | "BAD_REQUEST") {
                assert_ne!(ja, internal, "{code} has no text of its own");
            }
        }
        assert!(error_text(Lang::Ja, "PUK_INCORRECT", Some(2)).contains("あと2回"));
        assert_eq!(error_text(Lang::En, "PUK_INCORRECT", Some(1)), "Wrong PUK. 1 try left before unblocking is no longer possible.");
        assert!(error_text(Lang::Ja, "PIN_WEAK", None).contains("123456"));
        assert!(error_text(Lang::Ja, "PIN_INCORRECT", Some(2)).contains("あと2回"));
        assert!(error_text(Lang::Ja, "PIN_BLOCKED", None).contains("お問合せ"));
        assert_eq!(error_text(Lang::En, "SOMETHING_NEW", None), error_text(Lang::En, "INTERNAL", None));
    }

    #[test]
    fn numbers_and_tries() {
        assert_eq!((num(0), num(7), num(10), num(255), num(86_400)), ("0".into(), "7".into(), "10".into(), "255".into(), "86400".into()));
        assert_eq!(tries_left(Lang::Ja, 2), "暗証番号の残り入力回数：あと2回");
        assert_eq!(puk_tries_left(Lang::En, 3), "PUK tries left: 3");
    }
}
