//! 電子証明書取得（更新）開始: contract information → 【取得】 → 【専用USBに保存する】.
//! The first step is a plain form (works without the extension); the save step runs in the
//! page script through the extension. A customer logged on with their certificate in its
//! renewal period skips the form: 【電子証明書を更新する】 on /home posts to `/acquire/renew`,
//! which shows the save step at once.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{esc, html, jst_date, kagi_layout, layout, token_status, Lang, Masthead};
use crate::acquisition;
use crate::app::{Bank, State};
use crate::db::Customer;
use crate::error::BankError;
use crate::renewal::Eligibility;

const PATH: &str = "/acquire";

fn title(lang: Lang) -> &'static str {
    lang.t("電子証明書取得（更新）開始", "Start obtaining (renewing) an electronic certificate")
}

fn preparation(lang: Lang) -> String {
    format!(
        r#"<section class="panel" id="preparation">
  <h2>{h}</h2>
  <ul>
    <li>{li1}</li>
    <li>{li2}</li>
  </ul>
  <p><a id="install-link" href="/help/install{sfx}">{link}</a></p>
</section>"#,
        h = lang.t("専用USBに保存する場合の事前準備について", "Before saving to the USB token"),
        li1 = lang.t(
            "専用USBをご利用いただくには、当金庫へ専用USBの利用申込をする必要があります。",
            "To use a USB token you must first apply for one at our branch.",
        ),
        li2 = lang.t(
            "電子証明書の保存には管理ソフト（ブラウザ拡張機能「Kagi」と専用USB管理ソフト）を事前にインストールする必要があります。インストールされていない場合は、以下のページよりインストールしてください。",
            "Saving the certificate needs the management software (the Kagi browser extension and the USB token software) installed beforehand. If it is not, install it from the page below.",
        ),
        link = lang.t("専用USBのご案内および管理ソフトのダウンロードページはこちら", "USB token guide and software download"),
        sfx = lang.suffix(),
    )
}

/// Step 1: the contract information form, with an error from a failed 【取得】 if any.
fn form_page(lang: Lang, error: Option<(&str, String)>, contract: &str) -> String {
    let err = match error {
        Some((code, text)) => format!(r#"<div id="acquire-error" class="error" role="alert" data-code="{}">{}</div>"#, esc(code), text),
        None => r#"<div id="acquire-error" class="error" role="alert" hidden></div>"#.to_owned(),
    };
    let lang_field = if lang == Lang::En { r#"<input type="hidden" name="lang" value="en">"# } else { "" };
    let body = format!(
        r#"<p>{intro}</p>
{err}
<section class="panel">
  <h2>{h}</h2>
  <form method="post" action="/acquire{sfx}" id="contract-form">
    {lang_field}
    <p><label for="contract-number">{l_contract}</label><br><input id="contract-number" name="contract_number" autocomplete="username" required maxlength="64" value="{contract}"></p>
    <p><label for="acquire-password">{l_password}</label><br><input id="acquire-password" name="password" type="password" autocomplete="current-password" required maxlength="64"></p>
    <p><button id="get-button" type="submit" class="primary">{b_get}</button></p>
  </form>
</section>
{prep}"#,
        intro = lang.t(
            "電子証明書の取得（更新）を開始します。契約者情報を入力し、【取得】ボタンを押してください。",
            "This starts obtaining (renewing) your electronic certificate. Enter your contract information and press [Obtain].",
        ),
        h = lang.t("契約者情報", "Contract information"),
        l_contract = lang.t("契約者番号", "Contract number"),
        l_password = lang.t("電子証明書取得パスワード", "Certificate password"),
        b_get = lang.t("取得", "Obtain"),
        contract = esc(contract),
        prep = preparation(lang),
        sfx = lang.suffix(),
    );
    layout(lang, Masthead::Ca, title(lang), &body, None, PATH)
}

/// How the customer reached the save step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// 【取得】 with contract number and password.
    Contract,
    /// 【電子証明書を更新する】 while logged on with the certificate.
    CertificateLogon,
}

/// Step 2: contract confirmed; the save button runs the extension.
fn save_page(bank: &Bank, lang: Lang, customer: &Customer, eligibility: Eligibility, via: Via) -> String {
    let kind = match (eligibility, lang) {
        (Eligibility::Renewal { not_after, .. }, Lang::Ja) => format!("電子証明書の更新（現在の電子証明書の有効期限：{}）", jst_date(not_after, lang)),
        (Eligibility::Renewal { not_after, .. }, Lang::En) => format!("Renewal (current certificate valid until {})", jst_date(not_after, lang)),
        (Eligibility::Reissue, _) => lang.t("電子証明書の再発行", "Reissue").to_owned(),
        _ => lang.t("電子証明書の新規取得", "First certificate").to_owned(),
    };
    let body = format!(
        r#"<div id="contract-confirmed" class="notice" data-eligibility="{code}">{confirmed}</div>
<section class="panel">
  <h2>{h}</h2>
  <p>{p1}</p>
  <p>{p2}</p>
  <p id="first-pin-note">{p3}</p>
  <h3>{h_status}</h3>
  {status}
  <p><button id="save-usb-button" type="button" class="primary">{b_save}</button></p>
  <div id="acquire-progress" class="progress" role="status" aria-live="polite" hidden></div>
  <div id="acquire-error" class="error" role="alert" hidden></div>
</section>
{prep}"#,
        code = eligibility.code(),
        confirmed = esc(&match (lang, via) {
            (Lang::Ja, Via::Contract) => format!("契約者情報を確認しました：{}（契約者番号 {}）／{}", customer.name, customer.contract_number, kind),
            (Lang::En, Via::Contract) => format!("Contract information confirmed: {} (contract {}) / {}", customer.name, customer.contract_number, kind),
            (Lang::Ja, Via::CertificateLogon) => {
                format!("電子証明書でログオン中のお客様です：{}（契約者番号 {}）／{}", customer.name, customer.contract_number, kind)
            }
            (Lang::En, Via::CertificateLogon) => {
                format!("Logged on with your certificate: {} (contract {}) / {}", customer.name, customer.contract_number, kind)
            }
        }),
        h = lang.t("電子証明書更新開始", "Save the certificate"),
        p1 = lang.t("電子証明書の取得（更新）を開始します。ご希望の保存先ボタンを押してください。", "Press the button for where to save the certificate."),
        p2 = lang.t(
            "専用USBに保存する場合は、30秒～1分程度時間がかかりますので、保存が完了するまで、そのままお待ちください。",
            "Saving to the USB token takes 30 seconds to a minute; please wait until it completes.",
        ),
        p3 = lang.t(
            "はじめて専用USBに保存する場合は、拡張機能「Kagi」の画面で、お届けした専用USBの暗証番号（初期値）に続けて、お客様ご自身で決めた新しい暗証番号（6～8桁の数字）を入力していただきます。以後のログオンでは新しい暗証番号をお使いください。",
            "The first time you save to the USB token, the Kagi window asks for its PIN as delivered (the initial PIN) and then for a new PIN of your own (6 to 8 digits). Use your new PIN from then on.",
        ),
        h_status = lang.t("専用USBの状態", "USB token status"),
        status = token_status(bank, lang),
        b_save = lang.t("専用USBに保存する", "Save to USB token"),
        prep = preparation(lang),
    );
    kagi_layout(bank, lang, Masthead::Ca, title(lang), &body, "acquire.js", PATH)
}

pub async fn start_page(RawQuery(q): RawQuery) -> Response {
    let lang = Lang::from_query(q.as_deref());
    html(StatusCode::OK, form_page(lang, None, ""))
}

#[derive(Deserialize)]
pub struct AcquireForm {
    #[serde(default)]
    contract_number: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    lang: Option<String>,
}

/// 【取得】.
pub async fn submit(
    AxState(bank): AxState<State>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    form: Result<Form<AcquireForm>, FormRejection>,
) -> Result<Response, BankError> {
    let mut lang = Lang::from_query(q.as_deref());
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            let text = esc(&e.body_text());
            return Ok(html(StatusCode::BAD_REQUEST, form_page(lang, Some(("BAD_REQUEST", text)), "")));
        }
    };
    if form.lang.as_deref() == Some("en") {
        lang = Lang::En;
    }
    bank.check_request_origin(&headers)?;
    let mut out = HeaderMap::new();
    match acquisition::start(&bank, &headers, &mut out, &form.contract_number, &form.password) {
        Ok((customer, eligibility)) => Ok((out, html(StatusCode::OK, save_page(&bank, lang, &customer, eligibility, Via::Contract))).into_response()),
        Err(e) if e.status().is_client_error() => {
            let text = refusal_text(&e, lang);
            Ok((out, html(e.status(), form_page(lang, Some((e.code(), text)), &form.contract_number))).into_response())
        }
        Err(e) => Err(e),
    }
}

/// 【電子証明書を更新する】 (`POST /acquire/renew`, the form on /home): straight to the save step
/// for a session logged on with the certificate in its renewal period. Without a log-on, back to
/// the log-on page; outside the window, the contract form with the reason.
pub async fn renew(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery, body: String) -> Result<Response, BankError> {
    let en = Lang::from_query(q.as_deref()) == Lang::En || body.split('&').any(|kv| kv == "lang=en");
    let lang = if en { Lang::En } else { Lang::Ja };
    bank.check_request_origin(&headers)?;
    let mut out = HeaderMap::new();
    match acquisition::renew(&bank, &headers, &mut out) {
        Ok((customer, eligibility)) => {
            Ok((out, html(StatusCode::OK, save_page(&bank, lang, &customer, eligibility, Via::CertificateLogon))).into_response())
        }
        Err(BankError::NotLoggedOn) => Ok(Redirect::to(if en { "/?reason=session&lang=en" } else { "/?reason=session" }).into_response()),
        Err(e) if e.status().is_client_error() => {
            let text = refusal_text(&e, lang);
            Ok((out, html(e.status(), form_page(lang, Some((e.code(), text)), ""))).into_response())
        }
        Err(e) => Err(e),
    }
}

/// What the page says when 【取得】 is refused (HTML).
fn refusal_text(e: &BankError, lang: Lang) -> String {
    let reissue = lang.t(
        "電子証明書の再発行が必要となりますので、当金庫まで連絡のうえ、所定の届出（再発行依頼書）をお願いいたします。",
        "Your certificate must be reissued: please contact us and submit the reissue request form (再発行依頼書).",
    );
    let text = match e {
        BankError::InvalidCredentials => lang.t("契約者番号または電子証明書取得パスワードが正しくありません。", "The contract number or the certificate password is wrong.").to_owned(),
        BankError::BadRequest(_) => lang.t("契約者番号と電子証明書取得パスワードを入力してください。", "Enter the contract number and the certificate password.").to_owned(),
        BankError::TooManyAttempts { .. } => match lang {
            Lang::Ja => e.to_string(),
            Lang::En => "The certificate password was wrong too many times: obtaining a certificate with this contract number is suspended for now. Please try again later or contact us.".to_owned(),
        },
        BankError::Login(_) => lang.t(
            "ログオンに使用した電子証明書は失効しています。もう一度ログオンしてください。",
            "The certificate you logged on with has been revoked. Please log on again.",
        ).to_owned(),
        BankError::NotEligible(Eligibility::TooEarly { window_start, not_after }) => match lang {
            Lang::Ja => format!(
                "現在は電子証明書の更新期間ではありません（有効期限：{}、更新期間：{}から）。{}",
                jst_date(*not_after, lang),
                jst_date(*window_start, lang),
                reissue
            ),
            Lang::En => format!(
                "Your certificate is not in its renewal period (valid until {}, renewal from {}). {}",
                jst_date(*not_after, lang),
                jst_date(*window_start, lang),
                reissue
            ),
        },
        BankError::NotEligible(_) => match lang {
            Lang::Ja => format!("電子証明書の更新期限（有効期限の超過後90日以内）を過ぎています。{reissue}"),
            Lang::En => format!("The renewal period (up to 90 days after expiry) is over. {reissue}"),
        },
        other => other.to_string(),
    };
    esc(&text)
}
