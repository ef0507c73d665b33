//! Who may acquire a certificate now. The bank's rule (notice: 更新期間 = 有効期限の30日前～期限超過90日以内):
//! a customer whose certificate is in force may renew from 30 days before its expiry to 90 days
//! after it; outside that window a reissue request (再発行依頼書) to the bank is needed, after which
//! an operator marks the customer for reissue.

use std::time::SystemTime;

use crate::clock::shift;

pub const RENEW_BEFORE_DAYS: i64 = 30;
pub const RENEW_AFTER_DAYS: i64 = 90;

/// What the customer's records say, as far as the rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerCerts {
    /// Certificates ever issued to the customer (the IssuedCount so far).
    pub issued_count: u32,
    /// An operator marked the customer for reissue.
    pub reissue_pending: bool,
    /// Expiry of the newest certificate still in force (not revoked), if any.
    pub newest_not_after: Option<SystemTime>,
}

/// The decision, with what the page needs to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Never had a certificate: first acquisition.
    FirstIssue,
    /// Marked for reissue by the bank.
    Reissue,
    /// Inside the renewal window of the current certificate.
    Renewal { not_after: SystemTime, window_end: SystemTime },
    /// The current certificate is not yet in its renewal period.
    TooEarly { not_after: SystemTime, window_start: SystemTime },
    /// The renewal period ended (or every certificate was revoked without a reissue mark).
    ReissueRequired { not_after: Option<SystemTime> },
}

impl Eligibility {
    pub fn allowed(&self) -> bool {
        matches!(self, Eligibility::FirstIssue | Eligibility::Reissue | Eligibility::Renewal { .. })
    }

    /// Stable code for the JSON API.
    pub fn code(&self) -> &'static str {
        match self {
            Eligibility::FirstIssue => "FIRST_ISSUE",
            Eligibility::Reissue => "REISSUE",
            Eligibility::Renewal { .. } => "RENEWAL",
            Eligibility::TooEarly { .. } => "NOT_IN_RENEWAL_PERIOD",
            Eligibility::ReissueRequired { .. } => "REISSUE_REQUIRED",
        }
    }
}

/// The renewal window of a certificate expiring at `not_after`, both ends inclusive.
pub fn window(not_after: SystemTime) -> (SystemTime, SystemTime) {
    (shift(not_after, -RENEW_BEFORE_DAYS * 86_400), shift(not_after, RENEW_AFTER_DAYS * 86_400))
}

pub fn decide(c: CustomerCerts, now: SystemTime) -> Eligibility {
    if c.reissue_pending {
        return Eligibility::Reissue;
    }
    match c.newest_not_after {
        None if c.issued_count == 0 => Eligibility::FirstIssue,
        None => Eligibility::ReissueRequired { not_after: None },
        Some(not_after) => {
            let (start, end) = window(not_after);
            if now < start {
                Eligibility::TooEarly { not_after, window_start: start }
            } else if now > end {
                Eligibility::ReissueRequired { not_after: Some(not_after) }
            } else {
                Eligibility::Renewal { not_after, window_end: end }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn window_edges_are_inclusive() {
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let c = CustomerCerts { issued_count: 1, reissue_pending: false, newest_not_after: Some(exp) };
        let at = |secs: i64| decide(c, shift(exp, secs));
        let day = 86_400;
        assert!(matches!(at(-30 * day - 1), Eligibility::TooEarly { .. }));
        assert!(at(-30 * day).allowed());
        assert!(at(0).allowed());
        assert!(at(90 * day).allowed());
        assert!(matches!(at(90 * day + 1), Eligibility::ReissueRequired { .. }));
        let marked = CustomerCerts { reissue_pending: true, ..c };
        assert_eq!(decide(marked, shift(exp, 400 * day)), Eligibility::Reissue);
        let new = CustomerCerts { issued_count: 0, reissue_pending: false, newest_not_after: None };
        assert_eq!(decide(new, exp), Eligibility::FirstIssue);
        let revoked = CustomerCerts { issued_count: 2, ..new };
        assert!(!decide(revoked, exp).allowed());
    }
}
