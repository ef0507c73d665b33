//! The logged-in page, and log-off. The page script logs off when the token is removed.

use axum::extract::{RawQuery, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{esc, html, jst, jst_date, kagi_layout, token_status, Lang, Masthead};
use crate::app::State;
use crate::error::BankError;
use crate::renewal::{decide, Eligibility};
use crate::session;

pub async fn page(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, BankError> {
    let lang = Lang::from_query(q.as_deref());
    let now = bank.now();
    let s = match session::handle_from(&headers) {
        Some(h) => bank.db.session(&h, now)?,
        None => None,
    };
    let Some((cid, serial)) = s.and_then(|s| Some((s.login_customer?, s.login_serial?))) else {
        let to = if lang == Lang::En { "/?reason=session&lang=en" } else { "/?reason=session" };
        return Ok(Redirect::to(to).into_response());
    };
    let customer = bank.db.customer(cid)?.ok_or(BankError::NotLoggedOn)?;
    let cert = bank.db.certificate(&serial)?.ok_or(BankError::NotLoggedOn)?;
    let renewal = match decide(bank.db.customer_certs(cid)?, now) {
        // One click: the certificate log-on is the proof, no contract password (acquisition::renew).
        Eligibility::Renewal { window_end, .. } => format!(
            r#"<div id="renewal-notice" class="notice">{} <form method="post" action="/acquire/renew" class="inline">{}<button id="renew-button" type="submit" class="primary">{}</button></form></div>"#,
            esc(&match lang {
                Lang::Ja => format!("電子証明書の更新期間中です（{}まで）。", jst_date(window_end, lang)),
                Lang::En => format!("Your certificate is in its renewal period (until {}).", jst_date(window_end, lang)),
            }),
            if lang == Lang::En { r#"<input type="hidden" name="lang" value="en">"# } else { "" },
            lang.t("電子証明書を更新する", "Renew the certificate"),
        ),
        _ => String::new(),
    };
    let lang_field = if lang == Lang::En { r#"<input type="hidden" name="lang" value="en">"# } else { "" };
    let body = format!(
        r#"<p id="welcome">{welcome}</p>
{renewal}
<section class="panel">
  <table class="info">
    <tr><th>{l_contract}</th><td id="contract-number">{contract}</td></tr>
    <tr><th>{l_cn}</th><td id="common-name">{cn}</td></tr>
    <tr><th>{l_serial}</th><td id="cert-serial">{serial}</td></tr>
    <tr><th>{l_expiry}</th><td id="cert-expiry">{expiry}</td></tr>
  </table>
  <h3>{h_status}</h3>
  {status}
  <p class="small">{p_remove}</p>
  <p><a id="densai-link" href="/densai">{l_densai}</a></p>
  <form method="post" action="/logoff">{lang_field}<button id="logoff-button" type="submit">{b_logoff}</button></form>
</section>
"#,
        welcome = match lang {
            Lang::Ja => format!(r#"<span id="customer-name">{}</span> 様、ようこそ。電子証明書でログオンしました。"#, esc(&customer.name)),
            Lang::En => format!(r#"Welcome, <span id="customer-name">{}</span>. You are logged on with your electronic certificate."#, esc(&customer.name)),
        },
        l_contract = lang.t("契約者番号", "Contract number"),
        contract = esc(&customer.contract_number),
        l_cn = "Common Name",
        cn = esc(&customer.common_name),
        l_serial = lang.t("シリアル番号", "Serial number"),
        serial = esc(&cert.serial),
        l_expiry = lang.t("有効期限", "Valid until"),
        expiry = esc(&jst(cert.not_after, lang)),
        h_status = lang.t("専用USBの状態", "USB token status"),
        status = token_status(&bank, lang),
        p_remove = lang.t(
            "専用USBを取り外すと自動的にログオフします。ログオフ後は、すみやかに専用USBをパソコンから取り外してください。",
            "Removing the USB token logs you off. After logging off, remove the USB token from the computer promptly.",
        ),
        b_logoff = lang.t("ログオフ", "Log off"),
        l_densai = lang.t("譲渡記録請求・承認", "Transfer requests and approval"),
    );
    Ok(html(StatusCode::OK, kagi_layout(&bank, lang, Masthead::Bank, lang.t("ログオン中", "Logged on"), &body, "home.js", "/home")))
}

/// `POST /logoff` (the form button): ends the session, back to the log-on page.
pub async fn logoff(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery, body: String) -> Result<Response, BankError> {
    bank.check_request_origin(&headers)?;
    if let Some(h) = session::handle_from(&headers) {
        bank.db.delete_session(&h)?;
    }
    let en = Lang::from_query(q.as_deref()) == Lang::En || body.split('&').any(|kv| kv == "lang=en");
    let to = if en { "/?reason=logoff&lang=en" } else { "/?reason=logoff" };
    let mut res = Redirect::to(to).into_response();
    session::set_cookie(res.headers_mut(), "");
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}
