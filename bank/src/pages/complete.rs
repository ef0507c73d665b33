//! 電子証明書取得（更新）完了: what was saved to the token, in the layout of the bank's screen.

use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kagi_verify::CertInfo;

use super::{esc, html, jst, layout, Lang, Masthead};
use crate::app::State;
use crate::error::BankError;
use crate::session;

pub async fn page(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, BankError> {
    let lang = Lang::from_query(q.as_deref());
    let now = bank.now();
    let s = match session::handle_from(&headers) {
        Some(h) => bank.db.session(&h, now)?,
        None => None,
    };
    let Some(serial) = s.and_then(|s| s.acquire_serial) else {
        return Ok(Redirect::to(&format!("/acquire{}", lang.suffix())).into_response());
    };
    let row = bank.db.certificate(&serial)?.ok_or(BankError::NotFound)?;
    let info = CertInfo::parse(&row.der)?;
    let sub = &info.subject;
    let ou = |i: usize| sub.organizational_units.get(i).map(String::as_str).unwrap_or("");
    let line = |id: &str, label: &str, value: &str| format!(r#"<tr><th>{}</th><td class="eq">=</td><td id="{id}">{}</td></tr>"#, esc(label), esc(value));
    let rows = [
        line("cert-country", "Country", sub.country.as_deref().unwrap_or("")),
        line("cert-organization", "Organization", sub.organization.as_deref().unwrap_or("")),
        line("cert-ou-1", "Organizational Unit", ou(0)),
        line("cert-ou-2", "Organizational Unit", ou(1)),
        line("cert-common-name", "Common Name", sub.common_name.as_deref().unwrap_or("")),
        line("cert-serial", lang.t("シリアル番号", "Serial number"), &info.serial),
        line(
            "cert-validity",
            lang.t("有効期間", "Validity"),
            &format!("{} ～ {}", jst(info.not_before, lang), jst(info.not_after, lang)),
        ),
    ]
    .join("\n    ");
    let body = format!(
        r#"<section class="panel" id="complete-message">
  <p><strong>{done}</strong></p>
  <p>{connect}</p>
  <p>{remove}</p>
  <p>{why}</p>
</section>
<section class="panel">
  <h2>{h_info}</h2>
  <table class="certinfo" id="cert-info">
    {rows}
  </table>
  <p class="small">{note}</p>
</section>
<p><a id="to-logon" class="button" href="/{sfx}">{to_logon}</a></p>"#,
        done = lang.t("電子証明書の取得と専用USBへの保存が完了いたしました。", "Your electronic certificate has been obtained and saved to the USB token."),
        connect = lang.t(
            "この電子証明書を使用してログオンを行う場合は、専用USBをパソコンに接続してからログオンしてください。",
            "To log on with this certificate, connect the USB token to the computer before logging on.",
        ),
        remove = lang.t("ログオフ後は、すみやかに専用USBをパソコンから取り外してください。", "After logging off, remove the USB token from the computer promptly."),
        why = lang.t("専用USBをパソコンから取り外すことで、不正送金被害を防ぐことができます。", "Removing the USB token protects you against fraudulent transfers."),
        h_info = lang.t("電子証明書情報", "Electronic certificate information"),
        note = lang.t("※ 電子証明書の有効期間は1年です。", "* The electronic certificate is valid for one year."),
        to_logon = lang.t("ログオン画面へ", "To the log-on page"),
        sfx = lang.suffix(),
    );
    Ok(html(
        StatusCode::OK,
        layout(lang, Masthead::Ca, lang.t("電子証明書取得（更新）完了", "Electronic certificate obtained"), &body, None, "/acquire/complete"),
    ))
}
