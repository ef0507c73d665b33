//! Certificate validity as the customer sees it, with the bank's renewal window: renewal is
//! possible from 30 days before expiry until 90 days after it (「有効期限の30日前～期限超過90日以内」).

/// Days before expiry when renewal opens and the warning starts.
pub const RENEWAL_OPENS_DAYS_BEFORE: i64 = 30;
/// Days after expiry when renewal is still possible.
pub const RENEWAL_CLOSES_DAYS_AFTER: i64 = 90;

use crate::json::Value;

const DAY_MS: i64 = 86_400_000;

/// Where a certificate stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertState {
    /// Before `notBefore` (clock skew or a pre-dated certificate).
    NotYetValid,
    /// Valid, more than 30 days left.
    Valid { days_left: i64 },
    /// Valid, within 30 days of expiry: renewal available.
    RenewalAvailable { days_left: i64 },
    /// Expired, but within 90 days: renewal still available.
    ExpiredRenewable { days_since: i64 },
    /// Expired more than 90 days ago: the bank must reissue.
    RenewalPassed,
}

impl CertState {
    /// Classifies a certificate at `now_ms` (milliseconds since the Unix epoch).
    pub fn at(not_before: &str, not_after: &str, now_ms: i64) -> Option<CertState> {
        let nb = parse_rfc3339_ms(not_before)?;
        let na = parse_rfc3339_ms(not_after)?;
        Some(if now_ms < nb {
            CertState::NotYetValid
        } else if now_ms < na {
            // Days left rounded up: a certificate ending in 3 hours expires "in 1 day".
            let days_left = (na - now_ms + DAY_MS - 1) / DAY_MS;
            if days_left <= RENEWAL_OPENS_DAYS_BEFORE {
                CertState::RenewalAvailable { days_left }
            } else {
                CertState::Valid { days_left }
            }
        } else {
            let days_since = (now_ms - na) / DAY_MS;
            if days_since <= RENEWAL_CLOSES_DAYS_AFTER {
                CertState::ExpiredRenewable { days_since }
            } else {
                CertState::RenewalPassed
            }
        })
    }

    /// Whether the UI should warn and offer renewal.
    pub fn renewal_offered(self) -> bool {
        matches!(self, CertState::RenewalAvailable { .. } | CertState::ExpiredRenewable { .. })
    }
}

/// Of the remembered bank certificates (`{origin: {notBefore, notAfter}}`, see
/// `settings::LOCAL_BANK_CERTIFICATES`), the one in its renewal window that expires first, with
/// its state: what the toolbar badge and the popup warn about.
pub fn renewal_due(remembered: &Value, now_ms: i64) -> Option<CertState> {
    let m = remembered.as_object()?;
    m.values()
        .filter_map(|c| {
            let (nb, na) = (c["notBefore"].as_str()?, c["notAfter"].as_str()?);
            let state = CertState::at(nb, na, now_ms).filter(|s| s.renewal_offered())?;
            Some((parse_rfc3339_ms(na)?, state))
        })
        .min_by_key(|&(na, _)| na)
        .map(|(_, s)| s)
}

/// Parses the host's RFC 3339 UTC timestamps (`2027-11-26T00:00:00Z`, optional fraction or
/// `+00:00`) to milliseconds since the epoch.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) { t.parse().ok() } else { None }
    };
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        rest = frac.get(n..)?;
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        // `get`, not indexing: a multi-byte character in the offset must not panic.
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) && rest.get(3..4) == Some(":") => {
            let hh: i64 = rest.get(1..3)?.parse().ok()?;
            let mm: i64 = rest.get(4..6)?.parse().ok()?;
            let m = hh * 60 + mm;
            if rest.starts_with('-') { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset_min * 60) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_rfc3339_ms(s).unwrap()
    }

    #[test]
    fn parses_host_timestamps() {
        assert_eq!(ms("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ms("2000-03-01T00:00:00Z"), 951_868_800_000);
        assert_eq!(ms("2027-11-26T00:00:00Z"), 1_827_187_200_000);
        assert_eq!(ms("2027-11-26T09:00:00+09:00"), 1_827_187_200_000);
        assert_eq!(ms("2027-11-26T00:00:00.123Z"), 1_827_187_200_000);
        for bad in ["", "2027-11-26", "2027-13-01T00:00:00Z", "2027-11-26T00:00:00", "2027-11-26 00:00:00Z", "２０２７-11-26T00:00:00Z", "2027-11-26T00:00:00+0é00", "2027-11-26T00:00:00+é:00"] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn renewal_window_follows_the_bank() {
        let nb = "2026-11-26T00:00:00Z";
        let na = "2027-11-26T00:00:00Z";
        let end = ms(na);
        let at = |offset_ms: i64| CertState::at(nb, na, end + offset_ms).unwrap();
        assert_eq!(CertState::at(nb, na, ms(nb) - 1), Some(CertState::NotYetValid));
        assert_eq!(at(-31 * DAY_MS), CertState::Valid { days_left: 31 });
        assert_eq!(at(-30 * DAY_MS), CertState::RenewalAvailable { days_left: 30 });
        assert_eq!(at(-3 * 3_600_000), CertState::RenewalAvailable { days_left: 1 });
        assert_eq!(at(0), CertState::ExpiredRenewable { days_since: 0 });
        assert_eq!(at(90 * DAY_MS), CertState::ExpiredRenewable { days_since: 90 });
        assert_eq!(at(91 * DAY_MS), CertState::RenewalPassed);
        assert!(at(-1).renewal_offered());
        assert!(!at(-31 * DAY_MS).renewal_offered());
        assert!(!at(91 * DAY_MS).renewal_offered());
        assert_eq!(CertState::at("junk", na, 0), None);
    }

    #[test]
    fn the_badge_warns_of_the_first_certificate_in_its_renewal_window() {
        let end = ms("2027-11-26T00:00:00Z");
        let remembered = crate::json::json!({
            "https://a.example": {"notBefore": "2026-11-26T00:00:00Z", "notAfter": "2027-11-26T00:00:00Z"},
            "https://b.example": {"notBefore": "2026-12-06T00:00:00Z", "notAfter": "2027-12-06T00:00:00Z"},
            "https://broken.example": {"notAfter": "2027-11-01T00:00:00Z"},
        });
        assert_eq!(renewal_due(&remembered, end - 31 * DAY_MS), None, "both valid for more than 30 days");
        assert_eq!(renewal_due(&remembered, end - 10 * DAY_MS), Some(CertState::RenewalAvailable { days_left: 10 }));
        // A's renewal closed 90 days after its expiry: B, in its own window, is what is left.
        assert_eq!(renewal_due(&remembered, end + 91 * DAY_MS), Some(CertState::ExpiredRenewable { days_since: 81 }));
        assert_eq!(renewal_due(&remembered, end + 200 * DAY_MS), None, "both past renewal: the bank reissues, no badge");
        assert_eq!(renewal_due(&crate::json::Value::Null, end), None);
    }
}
