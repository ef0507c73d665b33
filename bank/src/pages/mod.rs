//! Server-rendered pages. Japanese first; `?lang=en` shows the English text. Element ids are
//! stable: browser tests click and read them (listed in the crate README).

pub mod acquire;
pub mod assets;
pub mod complete;
pub mod densai;
pub mod home;
pub mod install;
pub mod login;

use std::time::SystemTime;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::app::Bank;
use crate::clock::unix;
use crate::renewal::{RENEW_AFTER_DAYS, RENEW_BEFORE_DAYS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// From the raw query string: `lang=en` selects English, anything else Japanese.
    pub fn from_query(q: Option<&str>) -> Lang {
        if query_param(q, "lang") == Some("en") {
            Lang::En
        } else {
            Lang::Ja
        }
    }

    pub fn t<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// Appended to links so the language sticks.
    pub fn suffix(self) -> &'static str {
        match self {
            Lang::Ja => "",
            Lang::En => "?lang=en",
        }
    }
}

/// The value of `name` in a raw query string (no percent-decoding: our values are plain ASCII).
pub fn query_param<'a>(q: Option<&'a str>, name: &str) -> Option<&'a str> {
    q?.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
}

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Which masthead a page wears: the bank's own pages, or the CA's (as on the real screens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Masthead {
    Bank,
    Ca,
}

/// The common frame of every page.
pub fn layout(lang: Lang, masthead: Masthead, title: &str, body: &str, script: Option<&str>, path: &str) -> String {
    frame(lang, masthead, title, body, script, path, "")
}

/// The frame of a page whose script talks to the token through the extension: the head also
/// carries the bank's CA certificates (`<meta name="kagi-issuers">`, standard base64 DER,
/// space-separated), which `bank.js` passes to `Kagi.connect({issuers})` so that the host uses
/// and replaces only certificates this bank issued.
pub fn kagi_layout(bank: &Bank, lang: Lang, masthead: Masthead, title: &str, body: &str, script: &str, path: &str) -> String {
    let meta = format!(r#"<meta name="kagi-issuers" content="{}">"#, esc(&bank.issuers().join(" ")));
    frame(lang, masthead, title, body, Some(script), path, &meta)
}

fn frame(lang: Lang, masthead: Masthead, title: &str, body: &str, script: Option<&str>, path: &str, head: &str) -> String {
    let (ja_link, en_link) = (path.to_owned(), format!("{path}?lang=en"));
    let brand = match masthead {
        Masthead::Bank => lang.t("かぎ信用金庫（デモ）", "Kagi Shinkin Bank (demo)"),
        Masthead::Ca => lang.t("かぎ電子証明書認証局（デモ）", "Kagi Electronic Certificate Authority (demo)"),
    };
    let service = lang.t("電子記録債権サービス", "Electronic Recorded Claims Service");
    let script = script.map(|s| format!(r#"<script type="module" src="/static/{s}"></script>"#)).unwrap_or_default();
    let copyright = lang.t("本Webサイト上における各コンテンツは、著作権によって保護されています。", "The contents of this website are protected by copyright.");
    format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - {brand}</title>
<link rel="stylesheet" href="/static/bank.css">
{head}{script}
</head>
<body>
<header class="masthead {mclass}">
  <div class="brand">{brand}</div>
  <div class="service">{service}</div>
  <nav class="lang"><a id="lang-ja" href="{ja_link}" lang="ja">日本語</a> | <a id="lang-en" href="{en_link}" lang="en">English</a></nav>
</header>
<main>
<h1>{title}</h1>
{body}
</main>
<footer>{copyright}</footer>
</body>
</html>
"#,
        code = match lang {
            Lang::Ja => "ja",
            Lang::En => "en",
        },
        mclass = match masthead {
            Masthead::Bank => "bank",
            Masthead::Ca => "ca",
        },
        title = esc(title),
        brand = esc(brand),
    )
}

pub fn html(status: StatusCode, page: String) -> Response {
    (status, Html(page)).into_response()
}

/// The element the page scripts fill with the token's state. `data-now` is the bank's clock (so
/// expiry days follow `--clock-offset-days`), the renewal window is the bank's rule.
pub fn token_status(bank: &Bank, lang: Lang) -> String {
    format!(
        r#"<div id="kagi-token-status" data-kagi-status data-state="checking" data-now="{now}" data-renew-before-days="{RENEW_BEFORE_DAYS}" data-renew-after-days="{RENEW_AFTER_DAYS}" role="status" aria-live="polite">{text}</div>"#,
        now = unix(bank.now()) * 1000,
        text = lang.t("専用USBの状態を確認しています…", "Checking the USB token…"),
    )
}

/// RFC 3339 UTC, as in `CertSummary`.
pub fn rfc3339(t: SystemTime) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix(t)) {
        Ok(d) => format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute(), d.second()),
        Err(_) => String::new(),
    }
}

/// A date and time in Japan Standard Time, as the customer reads it.
pub fn jst(t: SystemTime, lang: Lang) -> String {
    let Ok(d) = time::OffsetDateTime::from_unix_timestamp(unix(t)) else { return String::new() };
    let d = d.to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC));
    match lang {
        Lang::Ja => format!("{}年{}月{}日 {:02}:{:02}", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute()),
        Lang::En => format!("{:04}-{:02}-{:02} {:02}:{:02} JST", d.year(), u8::from(d.month()), d.day(), d.hour(), d.minute()),
    }
}

/// A date in JST.
pub fn jst_date(t: SystemTime, lang: Lang) -> String {
    let s = jst(t, lang);
    match lang {
        Lang::Ja => s.split(' ').next().unwrap_or("").to_owned(),
        Lang::En => s.get(..10).unwrap_or("").to_owned(),
    }
}
