//! 専用USBのご案内および管理ソフトのダウンロード: where every "not installed / not connected"
//! message links to.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;

use super::{html, layout, Lang, Masthead};

pub async fn page(RawQuery(q): RawQuery) -> Response {
    let lang = Lang::from_query(q.as_deref());
    let body = format!(
        r#"<p>{intro}</p>
<section class="panel" id="extension">
  <h2>{h1}</h2>
  <p>{p1}</p>
</section>
<section class="panel" id="host">
  <h2>{h2}</h2>
  <p>{p2}</p>
  <pre>sudo apt install ./kagi-host_*.deb   # Debian / Ubuntu
kagi-host install                     # {p2b}
kagi-host doctor                      # {p2c}</pre>
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
        p2b = lang.t("ブラウザへの登録のみやり直す場合", "re-register with the browsers only"),
        p2c = lang.t("うまく動かない場合の診断", "diagnose what is missing"),
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
        d3 = lang.t("専用USBを接続し直してください。スマートカードサービス（pcscd）が動作していることもご確認ください。", "Plug the token in again, and check that the smart card service (pcscd) is running."),
        t4 = lang.t("「PINがロックされています」", "“The PIN is blocked”"),
        d4 = lang.t("当金庫までお問い合わせください（平日 午前9時～午後5時）。", "Please contact us (weekdays 9:00–17:00)."),
        back = lang.t("ログオン画面へ戻る", "Back to the log-on page"),
        sfx = lang.suffix(),
    );
    html(
        StatusCode::OK,
        layout(lang, Masthead::Bank, lang.t("専用USBのご案内および管理ソフトのダウンロード", "USB token guide and software download"), &body, None, "/help/install"),
    )
}
