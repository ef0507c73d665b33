//! Token side of the chain: PC/SC service, readers, 専用USB (PIV), 電子証明書 and its renewal
//! window. The window is the bank's rule the extension shows too (`wasm/src/expiry.rs`):
//! renewal opens 30 days before expiry and closes 90 days after it.

use kagi_proto::StatusResult;

use super::{Check, Code, Status, TokenProbe};
use crate::error::Error;
use crate::install::paths::Os;

pub const RENEWAL_OPENS_DAYS_BEFORE: i64 = 30;
pub const RENEWAL_CLOSES_DAYS_AFTER: i64 = 90;
const DAY: i64 = 86_400;

/// The smart card service as the customer's OS names it: Windows' "Smart Card" service
/// (SCardSvr), pcscd elsewhere.
fn service_unavailable(os: Os) -> Check {
    let c = Check::new(Code::PcscUnavailable, Status::Error, "", "");
    match os {
        Os::Windows => Check {
            ja: "Windows のスマート カード サービス(Smart Card、SCardSvr)が動いていません。".into(),
            en: "Windows' smart card service (Smart Card, SCardSvr) is not running.".into(),
            ..c
        }
        .fix(
            "専用USBを挿すと自動で開始します。挿しても直らない場合は、管理者に「Smart Card」サービス(SCardSvr)が無効になっていないか確認を依頼してください(`sc query SCardSvr`)。",
            "It starts by itself when the token is plugged in. If it does not, ask your administrator to check that the \"Smart Card\" service (SCardSvr) is not disabled (`sc query SCardSvr`).",
        ),
        Os::Linux | Os::MacOs => Check {
            ja: "スマートカードのサービス(pcscd)が動いていません。".into(),
            en: "The smart card service (pcscd) is not running.".into(),
            ..c
        }
        .fix(
            "pcscd を起動してください(`sudo systemctl start pcscd.socket`)。",
            "Start pcscd (`sudo systemctl start pcscd.socket`).",
        ),
    }
}

pub fn check(probe: &mut dyn TokenProbe, now: u64, os: Os) -> Vec<Check> {
    let status = match probe.status() {
        Ok(s) => s,
        Err(Error::PcscUnavailable(e)) => return vec![service_unavailable(os).subject(e)],
        Err(e) => {
            return vec![Check::new(
                Code::PcscError,
                Status::Error,
                "スマートカードのサービスとの通信に失敗しました。",
                "Talking to the smart card service failed.",
            )
            .fix("専用USBを挿し直し、パソコンを再起動してからもう一度お試しください。", "Re-insert the token, restart the PC and try again.")
            .subject(e.to_string())]
        }
    };
    let mut out = vec![Check::new(Code::PcscOk, Status::Ok, "スマートカードのサービスが動いています。", "The smart card service is running.")];
    out.extend(readers_and_token(&status, now, os));
    out
}

fn readers_and_token(status: &StatusResult, now: u64, os: Os) -> Vec<Check> {
    let mut out = Vec::new();
    if status.readers.is_empty() {
        let c = Check::new(Code::NoReader, Status::Error, "専用USB(カードリーダー)が見つかりません。", "No token (card reader) is connected.");
        // Windows stops SCardSvr when the last reader goes and starts it for the next one, so
        // "no reader" is also what a disabled service looks like there.
        out.push(match os {
            Os::Windows => c.fix(
                "専用USBをパソコンに挿してください。挿しているのに表示されない場合は別のUSB端子をお試しのうえ、管理者に「Smart Card」サービス(SCardSvr)が無効になっていないか確認を依頼してください。",
                "Plug the token in; if it is plugged in, try another USB port, and ask your administrator to check that the \"Smart Card\" service (SCardSvr) is not disabled.",
            ),
            Os::Linux | Os::MacOs => c.fix("専用USBをパソコンに挿してください。挿しているのに表示されない場合は別のUSB端子をお試しください。", "Plug the token in; if it is plugged in, try another USB port."),
        });
        return out;
    }
    let names: Vec<&str> = status.readers.iter().map(|r| r.name.as_str()).collect();
    out.push(
        Check::new(Code::ReadersOk, Status::Ok, format!("リーダーが {} 台あります。", names.len()), format!("{} reader(s) found.", names.len()))
            .subject(names.join(", ")),
    );
    let Some(token) = status.tokens.first() else {
        if status.readers.iter().any(|r| r.token_present) {
            out.push(
                Check::new(Code::NotPiv, Status::Error, "挿さっているカードは専用USB(PIV)として読めません。", "The inserted card cannot be read as a PIV token.")
                    .fix("銀行からお送りした専用USBか確認してください。", "Check that it is the token your bank sent you."),
            );
        } else {
            out.push(
                Check::new(Code::TokenAbsent, Status::Error, "専用USBが挿さっていません。", "The token is not inserted.")
                    .fix("専用USBをパソコンに挿してください。", "Plug the token in."),
            );
        }
        return out;
    };
    let subject = match &token.guid {
        Some(g) => format!("{} (GUID {g})", token.reader),
        None => token.reader.clone(),
    };
    if token.pin_retries == Some(0) {
        out.push(
            Check::new(Code::PinBlocked, Status::Error, "暗証番号(PIN)がロックされています。", "The PIN is blocked.")
                .fix("お取引の銀行にご連絡ください。", "Please contact your bank.")
                .subject(subject),
        );
    } else {
        let (ja, en) = match token.pin_retries {
            Some(n) => (format!("専用USBを読み取れました(暗証番号の残り回数 {n} 回)。"), format!("The token was read ({n} PIN tries left).")),
            None => ("専用USBを読み取れました。".to_owned(), "The token was read.".to_owned()),
        };
        out.push(Check::new(Code::TokenOk, Status::Ok, ja, en).subject(subject));
    }
    // Doctor names no bank, so the host shows it no certificate (a probe that knows the bank's
    // issuers can); the certificate's own check runs only then.
    let Some(cert) = &token.certificate else {
        return out;
    };
    let subject = format!(
        "{} / serial {} / {} – {}",
        cert.subject.common_name.as_deref().unwrap_or("?"),
        cert.serial,
        cert.not_before,
        cert.not_after
    );
    out.push(cert_check(&cert.not_before, &cert.not_after, now).subject(subject));
    out
}

/// Classifies the certificate's validity at `now` with the bank's renewal window.
pub fn cert_check(not_before: &str, not_after: &str, now: u64) -> Check {
    let (Some(nb), Some(na)) = (parse_rfc3339(not_before), parse_rfc3339(not_after)) else {
        return Check::new(Code::NoCertificate, Status::Error, "電子証明書の有効期間を読めません。", "The certificate's validity cannot be read.")
            .fix("お取引の銀行にご連絡ください。", "Please contact your bank.");
    };
    let now = now as i64;
    if now < nb {
        return Check::new(Code::CertNotYetValid, Status::Error, "電子証明書はまだ有効期間前です。", "The certificate is not valid yet.")
            .fix("パソコンの日付と時刻が正しいか確認してください。", "Check the PC's date and time.");
    }
    if now < na {
        let days_left = (na - now + DAY - 1) / DAY;
        if days_left <= RENEWAL_OPENS_DAYS_BEFORE {
            return Check::new(
                Code::CertRenewalDue,
                Status::Warning,
                format!("電子証明書の有効期限まであと{days_left}日です。更新できます。"),
                format!("The certificate expires in {days_left} day(s); it can be renewed now."),
            )
            .fix("銀行のページで電子証明書を更新してください。", "Renew the certificate on your bank's page.");
        }
        return Check::new(
            Code::CertOk,
            Status::Ok,
            format!("電子証明書は有効です(有効期限まであと{days_left}日)。"),
            format!("The certificate is valid ({days_left} days left)."),
        );
    }
    let days_since = (now - na) / DAY;
    if days_since <= RENEWAL_CLOSES_DAYS_AFTER {
        return Check::new(
            Code::CertExpiredRenewable,
            Status::Error,
            format!("電子証明書の有効期限が{days_since}日前に切れています。まだ更新できます。"),
            format!("The certificate expired {days_since} day(s) ago; it can still be renewed."),
        )
        .fix("銀行のページで電子証明書を更新してください。", "Renew the certificate on your bank's page.");
    }
    Check::new(
        Code::CertRenewalPassed,
        Status::Error,
        "電子証明書の有効期限が切れ、更新できる期間も過ぎています。",
        "The certificate has expired and the renewal period has passed.",
    )
    .fix("電子証明書の再発行について、お取引の銀行にご連絡ください。", "Contact your bank to have the certificate reissued.")
}

/// Seconds since the epoch for the host's `YYYY-MM-DDTHH:MM:SSZ` (fraction ignored).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    if !(s.ends_with('Z') || s.ends_with("+00:00")) {
        return None;
    }
    Some(days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}
