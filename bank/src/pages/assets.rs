//! Static files: the extension engineer's page library, the text catalog it shares with the
//! extension and the bank's own scripts and styles, compiled into the binary.

use axum::extract::State as AxState;
use axum::http::header;
use axum::response::IntoResponse;

use crate::app::State;

const JS: &str = "text/javascript; charset=utf-8";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}

pub async fn kagi_js() -> impl IntoResponse {
    asset(JS, include_str!("../../../extension/page/kagi.js"))
}

/// The bank's shared script, after the text catalog Kagi's extension uses (`catalog/*.json`,
/// issue 15: one wording for both), as the module's `CATALOG`.
pub async fn bank_js() -> impl IntoResponse {
    asset(
        JS,
        concat!(
            "const CATALOG = { ja: ",
            include_str!("../../../catalog/ja.json"),
            ", en: ",
            include_str!("../../../catalog/en.json"),
            " };\n",
            include_str!("../../static/bank.js")
        ),
    )
}

pub async fn login_js() -> impl IntoResponse {
    asset(JS, include_str!("../../static/login.js"))
}

pub async fn acquire_js() -> impl IntoResponse {
    asset(JS, include_str!("../../static/acquire.js"))
}

pub async fn home_js() -> impl IntoResponse {
    asset(JS, include_str!("../../static/home.js"))
}

pub async fn densai_js() -> impl IntoResponse {
    asset(JS, include_str!("../../static/densai.js"))
}

pub async fn bank_css() -> impl IntoResponse {
    asset("text/css; charset=utf-8", include_str!("../../static/bank.css"))
}

/// The CA certificate, for integrators who want to try the verifier against this bank.
pub async fn ca_cert(AxState(bank): AxState<State>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], bank.ca.cert_pem.clone())
}
