//! ログオン: the bank's log-on page with the 「電子証明書取得」 button.

use axum::extract::{RawQuery, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;

use super::{esc, html, kagi_layout, query_param, token_status, Lang, Masthead};
use crate::app::State;

/// Why the customer is back at the log-on page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    LoggedOff,
    TokenRemoved,
    SessionEnded,
}

impl Reason {
    fn parse(s: Option<&str>) -> Option<Reason> {
        match s? {
            "logoff" => Some(Reason::LoggedOff),
            "token-removed" => Some(Reason::TokenRemoved),
            "session" => Some(Reason::SessionEnded),
            _ => None,
        }
    }

    fn text(self, lang: Lang) -> &'static str {
        match self {
            Reason::LoggedOff => lang.t(
                "ログオフしました。専用USBをパソコンから取り外してください。",
                "You have logged off. Please remove the USB token from the computer.",
            ),
            Reason::TokenRemoved => lang.t(
                "専用USBが取り外されたため、ログオフしました。",
                "You were logged off because the USB token was removed.",
            ),
            Reason::SessionEnded => lang.t(
                "ログオンしていないか、ログオンの有効時間が過ぎました。もう一度ログオンしてください。",
                "You are not logged on, or your session expired. Please log on again.",
            ),
        }
    }

    fn code(self) -> &'static str {
        match self {
            Reason::LoggedOff => "logoff",
            Reason::TokenRemoved => "token-removed",
            Reason::SessionEnded => "session",
        }
    }
}

pub async fn page(AxState(bank): AxState<State>, RawQuery(q): RawQuery) -> Response {
    let lang = Lang::from_query(q.as_deref());
    let message = match Reason::parse(query_param(q.as_deref(), "reason")) {
        Some(r) => format!(r#"<div id="login-message" class="notice" data-reason="{}">{}</div>"#, r.code(), esc(r.text(lang))),
        None => r#"<div id="login-message" class="notice" hidden></div>"#.to_owned(),
    };
    let lang_field = if lang == Lang::En { r#"<input type="hidden" name="lang" value="en">"# } else { "" };
    let body = format!(
        r#"{message}
<section class="panel" id="logon-panel">
  <h2>{h_logon}</h2>
  <p>{p_logon}</p>
  <h3>{h_status}</h3>
  {status}
  <p><button id="logon-button" type="button" class="primary">{b_logon}</button></p>
  <div id="logon-progress" class="progress" role="status" hidden></div>
  <div id="logon-error" class="error" role="alert" hidden></div>
</section>
<section class="panel" id="acquire-panel">
  <h2>{h_acquire}</h2>
  <p>{p_acquire}</p>
  <form method="get" action="/acquire">{lang_field}<button id="acquire-button" type="submit">{b_acquire}</button></form>
  <p class="small"><a id="install-link" href="/help/install{sfx}">{l_install}</a></p>
</section>
"#,
        h_logon = lang.t("電子証明書によるログオン", "Log on with your electronic certificate"),
        p_logon = lang.t(
            "電子証明書を保存した専用USBをパソコンに接続してから、「ログオン」ボタンを押してください。暗証番号は拡張機能「Kagi」の画面で入力します。",
            "Connect the USB token holding your electronic certificate, then press “Log on”. You type the PIN in the Kagi extension's own window.",
        ),
        h_status = lang.t("専用USBの状態", "USB token status"),
        status = token_status(&bank, lang),
        b_logon = lang.t("ログオン", "Log on"),
        h_acquire = lang.t("電子証明書の取得（更新）", "Obtain (renew) an electronic certificate"),
        p_acquire = lang.t(
            "電子証明書を新たに取得する場合、または更新する場合は、「電子証明書取得」ボタンを押してください。",
            "To obtain a new electronic certificate or renew yours, press “Obtain certificate”.",
        ),
        b_acquire = lang.t("電子証明書取得", "Obtain certificate"),
        l_install = lang.t("専用USBのご案内および管理ソフトのダウンロードページはこちら", "USB token guide and software download"),
        sfx = lang.suffix(),
    );
    html(StatusCode::OK, kagi_layout(&bank, lang, Masthead::Bank, lang.t("ログオン", "Log on"), &body, "login.js", "/"))
}
