//! 専用USBのご案内および管理ソフトのダウンロード: where every "not installed / not connected"
//! message links to. Windows users (by the browser's User-Agent) get the MSI and Windows' smart
//! card service (「Smart Card」サービス, SCardSvr), others the Debian package and pcscd.

use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::{html, layout, Lang, Masthead};

pub async fn page(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let lang = Lang::from_query(q.as_deref());
    let windows = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).is_some_and(|ua| ua.contains("Windows"));
    let (commands, service) = if windows {
        (
            lang.t(
                "kagi-host-*-x64.msi             # ダブルクリックしてインストール\n\"%ProgramFiles%\\Kagi\\kagi-host.exe\" doctor   # うまく動かない場合の診断",
                "kagi-host-*-x64.msi             # double-click to install\n\"%ProgramFiles%\\Kagi\\kagi-host.exe\" doctor   # diagnose what is missing",
            ),
            lang.t("Windowsの「Smart Card」サービス（SCardSvr）", "Windows' “Smart Card” service (SCardSvr)"),
        )
    } else {
        (
            lang.t(
                "sudo apt install ./kagi-host_*.deb   # Debian / Ubuntu\nkagi-host install                     # ブラウザへの登録のみやり直す場合\nkagi-host doctor                      # うまく動かない場合の診断",
                "sudo apt install ./kagi-host_*.deb   # Debian / Ubuntu\nkagi-host install                     # re-register with the browsers only\nkagi-host doctor                      # diagnose what is missing",
            ),
            lang.t("スマートカードサービス（pcscd）", "the smart card service (pcscd)"),
        )
    };
    let body = format!(
        r#"<p>{intro}</p>
<section class="panel" id="extension">
  <h2>{h1}</h2>
  <p>{p1}</p>
</section>
<section class="panel" id="host">
  <h2>{h2}</h2>
  <p>{p2}</p>
  <pre id="host-commands">{commands}</pre>
</section>
<section class="panel" id="token">
  <h2>{h3}</h2>
  <p>{p3}</p>
</section>
<section class="panel" id="troubleshooting">
  <h2>{h4}</h2>
  <dl>
    <dt>{t1}</dt><dd>{d1}</dd>
    <dt>{t2}</dt><dd>{d2}</dd>
    <dt>{t3}</dt><dd>{d3}</dd>
    <dt>{t4}</dt><dd>{d4}</dd>
    <dt>{t5}</dt><dd>{d5}</dd>
    <dt>{t6}</dt><dd>{d6}</dd>
  </dl>
</section>
<p><a id="to-logon" href="/{sfx}">{back}</a></p>"#,
        intro = lang.t(
            "専用USBを利用するには、ご利用のパソコンに管理ソフト（ブラウザ拡張機能「Kagi」と専用USB管理ソフト）をインストールする必要があります。複数のパソコンで利用する場合は、各パソコンにインストールしてください。",
            "To use the USB token, install the management software (the Kagi browser extension and the USB token software) on your computer. Install it on every computer you use.",
        ),
        h1 = lang.t("1. ブラウザ拡張機能「Kagi」", "1. The Kagi browser extension"),
        p1 = lang.t(
            "Google Chrome・Microsoft Edge・Firefox に対応しています。各ブラウザの拡張機能ストア、または当金庫が配布するポリシー設定からインストールしてください。",
            "Works with Google Chrome, Microsoft Edge and Firefox. Install it from your browser's extension store, or through the policy settings we distribute.",
        ),
        h2 = lang.t("2. 専用USB管理ソフト（Kagi ホスト）", "2. The USB token software (Kagi host)"),
        p2 = lang.t(
            "拡張機能が専用USBと通信するためのソフトです。パッケージをインストールすると、ブラウザへの登録も行われます。",
            "It lets the extension talk to the USB token. Installing the package also registers it with your browsers.",
        ),
        commands = super::esc(commands),
        h3 = lang.t("3. 専用USBの接続", "3. Connecting the USB token"),
        p3 = lang.t(
            "専用USBをパソコンのUSBポートに接続してください。ログオフ後は、すみやかに取り外してください。",
            "Plug the USB token into a USB port. Remove it promptly after logging off.",
        ),
        h4 = lang.t("うまくいかない場合", "Troubleshooting"),
        t1 = lang.t("「ブラウザ拡張機能「Kagi」がインストールされていません」", "“The Kagi browser extension is not installed”"),
        d1 = lang.t("1. の手順で拡張機能をインストールし、ページを再読み込みしてください。", "Install the extension (step 1) and reload the page."),
        t2 = lang.t("「専用USBの管理ソフトがインストールされていません」", "“The USB token software is not installed”"),
        d2 = lang.t("2. の手順で管理ソフトをインストールし、ブラウザを再起動してください。", "Install the software (step 2) and restart the browser."),
        t3 = lang.t("「専用USBが接続されていません」", "“The USB token is not connected”"),
        d3 = [lang.t("専用USBを接続し直してください。", "Plug the token in again, and check that "), service, lang.t("が動作していることもご確認ください。", " is running.")].concat(),
        t4 = lang.t("「暗証番号がロックされています」", "“The PIN is blocked”"),
        d4 = lang.t(
            "暗証番号を続けて3回間違えると、専用USBがロックされます。ツールバーの「Kagi」ボタンから「ロック解除」を選び、専用USBとともにお届けしたロック解除番号（PUK）と新しい暗証番号を入力してください。ロック解除番号もロックされた場合や、ご不明な場合は、当金庫までお問い合わせください（平日 午前9時～午後5時）。",
            "Three wrong PINs in a row block the USB token. Choose “Unblock” from the Kagi button in the toolbar and enter the unblocking code (PUK) delivered with the token and a new PIN. If the PUK is blocked too, or you do not have it, please contact us (weekdays 9:00–17:00).",
        ),
        t5 = lang.t("暗証番号を変更したい", "Changing the PIN"),
        d5 = lang.t(
            "ツールバーの「Kagi」ボタンから「暗証番号の変更」を選び、現在の暗証番号と新しい暗証番号を入力してください。新しい暗証番号は6～8桁の数字で、初期値（123456）や同じ数字の繰り返しは使用できません。",
            "Choose “Change PIN” from the Kagi button in the toolbar and enter your current and your new PIN. A new PIN is 6 to 8 digits; the initial 123456 and one digit repeated are refused.",
        ),
        t6 = lang.t("「この専用USBには電子証明書を保存できません」", "“The certificate cannot be saved on this USB token”"),
        d6 = lang.t(
            "専用USBの管理用の鍵が、Kagiの設定したものでも初期値でもありません。当金庫までお問い合わせください。",
            "The token's management key was set by another program. Please contact us.",
        ),
        back = lang.t("ログオン画面へ戻る", "Back to the log-on page"),
        sfx = lang.suffix(),
    );
    html(
        StatusCode::OK,
        layout(lang, Masthead::Bank, lang.t("専用USBのご案内および管理ソフトのダウンロード", "USB token guide and software download"), &body, None, "/help/install"),
    )
}
