//! The densai screens for a logged-on customer (issue 16): 譲渡記録請求 (the list of requests and
//! the registration form) and 承認 (the bank's rendering of one request, approved through Kagi's
//! window). Element ids are stable for browser tests: `densai-form`, `densai-requests`,
//! `approve-button`, `approve-result`, and `tx-<field>` for every shown value.

use axum::extract::{RawQuery, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kagi_proto::tx::display;
use kagi_verify::{Transaction, TxStatus};

use super::{esc, html, kagi_layout, query_param, Lang, Masthead};
use crate::app::State;
use crate::densai::api::logged_on;
use crate::error::BankError;

/// The bank's own labels of the `kagi-tx:1` fields, in signing order.
const LABELS: [(&str, &str); 26] = [
    ("kind", "取引種別"),
    ("requestId", "請求番号"),
    ("requestVersion", "請求の版"),
    ("recordNumber", "記録番号"),
    ("amountYen", "金額"),
    ("recordDate", "記録日"),
    ("dueDate", "支払期日"),
    ("payer.userNo", "譲渡人 利用者番号"),
    ("payer.name", "譲渡人"),
    ("payer.bankCode", "譲渡人 金融機関コード"),
    ("payer.bankName", "譲渡人 金融機関"),
    ("payer.branchCode", "譲渡人 支店コード"),
    ("payer.branchName", "譲渡人 支店"),
    ("payer.accountType", "譲渡人 預金種目"),
    ("payer.accountNo", "譲渡人 口座番号"),
    ("counterparty.userNo", "譲受人 利用者番号"),
    ("counterparty.name", "譲受人"),
    ("counterparty.bankCode", "譲受人 金融機関コード"),
    ("counterparty.bankName", "譲受人 金融機関"),
    ("counterparty.branchCode", "譲受人 支店コード"),
    ("counterparty.branchName", "譲受人 支店"),
    ("counterparty.accountType", "譲受人 預金種目"),
    ("counterparty.accountNo", "譲受人 口座番号"),
    ("transferRestricted", "譲渡制限"),
    ("guarantee", "保証"),
    ("newCounterparty", "初めての相手先"),
];

/// A value as the bank shows it (the signed value is the raw one).
fn shown(tx: &Transaction, name: &str, value: &str) -> String {
    match name {
        "kind" => tx.kind().label_ja().to_owned(),
        "amountYen" => format!("{}（{}）", display::amount(tx.amount_yen()), display::amount_man(tx.amount_yen())),
        "recordDate" | "dueDate" => tx.date(name).map(display::date_ja).unwrap_or_default(),
        n if n.ends_with(".accountType") => match value {
            "1" => "普通".into(),
            "2" => "当座".into(),
            _ => "その他".into(),
        },
        "transferRestricted" | "guarantee" | "newCounterparty" => if value == "1" { "あり" } else { "なし" }.into(),
        n if n.ends_with("name") || n.ends_with("Name") => display::fold_halfwidth_kana(value),
        _ => value.to_owned(),
    }
}

/// The request as a table of every field.
fn table(tx: &Transaction) -> String {
    let rows: String = tx
        .fields()
        .map(|(n, v)| {
            let label = LABELS.iter().find(|(k, _)| *k == n).map_or(n, |(_, l)| *l);
            format!(r#"<tr><th>{}</th><td id="tx-{}">{}</td></tr>"#, esc(label), esc(&n.replace('.', "-")), esc(&shown(tx, n, v)))
        })
        .collect();
    format!(r#"<table class="info">{rows}</table>"#)
}

fn status_ja(s: TxStatus) -> &'static str {
    match s {
        TxStatus::AwaitingApproval => "承認待ち",
        TxStatus::Approved => "承認済み",
        _ => "終了",
    }
}

/// `GET /densai`: the customer's requests and the 譲渡記録請求 form.
pub async fn page(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, BankError> {
    let lang = Lang::from_query(q.as_deref());
    let Ok((_, customer)) = logged_on(&bank, &headers) else {
        return Ok(Redirect::to("/?reason=session").into_response());
    };
    let rows: String = bank
        .db
        .densai_requests_of(customer.id)?
        .iter()
        .map(|r| {
            let cp = display::fold_halfwidth_kana(r.tx.get("counterparty.name").unwrap_or_default());
            let action = if r.status == TxStatus::AwaitingApproval {
                format!(r#"<a href="/densai/approve?id={id}">承認</a>"#, id = esc(&r.id))
            } else {
                String::new()
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                esc(&r.id),
                esc(&cp),
                esc(&display::amount(r.tx.amount_yen())),
                esc(&r.tx.date("dueDate").map(display::date_ja).unwrap_or_default()),
                status_ja(r.status),
            )
        })
        .collect();
    let body = format!(
        r#"<section class="panel">
  <h3>譲渡記録請求</h3>
  <form id="densai-form">
    <label>譲受人 利用者番号（9桁）<input name="counterparty.userNo" inputmode="numeric" required></label>
    <label>譲受人 名称<input name="counterparty.name" required></label>
    <label>金融機関コード（4桁）<input name="counterparty.bankCode" inputmode="numeric" required></label>
    <label>金融機関名<input name="counterparty.bankName" required></label>
    <label>支店コード（3桁）<input name="counterparty.branchCode" inputmode="numeric" required></label>
    <label>支店名<input name="counterparty.branchName" required></label>
    <label>預金種目<select name="counterparty.accountType"><option value="1">普通</option><option value="2">当座</option><option value="9">その他</option></select></label>
    <label>口座番号（7桁）<input name="counterparty.accountNo" inputmode="numeric" required></label>
    <label>金額（円）<input name="amountYen" inputmode="numeric" required></label>
    <label>支払期日<input name="dueDate" type="date" required></label>
    <button id="densai-submit" type="submit" class="primary">請求内容を登録する</button>
  </form>
  <div id="densai-error" class="error" role="alert" hidden></div>
  <h3>請求一覧</h3>
  <table id="densai-requests" class="info"><tr><th>請求番号</th><th>譲受人</th><th>金額</th><th>支払期日</th><th>状態</th><th></th></tr>{rows}</table>
  <p class="small">登録した請求は、専用USBによる承認の後に記録されます。</p>
</section>"#
    );
    Ok(html(StatusCode::OK, kagi_layout(&bank, lang, Masthead::Bank, "譲渡記録請求", &body, "densai.js", "/densai")))
}

/// `GET /densai/approve?id=…`: the bank's rendering of one request and the 承認 button.
pub async fn approve_page(AxState(bank): AxState<State>, headers: HeaderMap, RawQuery(q): RawQuery) -> Result<Response, BankError> {
    let lang = Lang::from_query(q.as_deref());
    let Ok((_, customer)) = logged_on(&bank, &headers) else {
        return Ok(Redirect::to("/?reason=session").into_response());
    };
    let id = query_param(q.as_deref(), "id").unwrap_or_default();
    let row = bank.db.densai_request(id)?.filter(|r| r.customer_id == customer.id).ok_or(BankError::NotFound)?;
    let warning = if row.tx.new_counterparty() { r#"<p id="new-counterparty" class="error">初めての相手先です。</p>"# } else { "" };
    let body = format!(
        r#"<section class="panel" id="approve" data-request-id="{id}">
  <h3>承認</h3>
  <p>以下の内容を確認のうえ、専用USBで承認してください。承認の画面には、当金庫が登録した内容が表示されます。</p>
  {warning}
  {table}
  <p>状態：<span id="approve-status">{status}</span></p>
  <button id="approve-button" type="button" class="primary">承認する</button>
  <div id="approve-result" role="status" aria-live="polite"></div>
  <p><a href="/densai">請求一覧へ戻る</a></p>
</section>"#,
        id = esc(&row.id),
        table = table(&row.tx),
        status = status_ja(row.status),
    );
    Ok(html(StatusCode::OK, kagi_layout(&bank, lang, Masthead::Bank, "承認", &body, "densai.js", "/densai/approve")))
}
