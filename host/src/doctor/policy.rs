//! The host policy as doctor reports it: none, the origins it names, or why it cannot be used
//! (then every request fails with `POLICY_INVALID`, so it is an error here).

use super::{Check, Code, Status};
use crate::policy::Policy;

pub fn check(policy: &Policy) -> Check {
    match policy {
        Policy::Absent => Check::new(
            Code::HostPolicyNone,
            Status::Info,
            "管理ソフトのポリシーは設定されていません(利用できる銀行のページは拡張機能の設定で決まります)。",
            "No host policy is set (the extension's settings decide which bank pages may use the token).",
        ),
        Policy::Allow { source, origins } if origins.is_empty() => Check::new(
            Code::HostPolicyOk,
            Status::Warning,
            "管理ソフトのポリシーに銀行のオリジンが1つもないため、ログオンと電子証明書の取得はできません。",
            "The host policy names no bank origin: log-on and certificate acquisition are refused everywhere.",
        )
        .subject(source.clone())
        .fix("allowedOrigins に銀行のオリジンを設定してください。", "Put the bank's origins in allowedOrigins."),
        Policy::Allow { source, origins } => {
            let list = origins.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ");
            Check::new(
                Code::HostPolicyOk,
                Status::Ok,
                format!("管理ソフトのポリシーで許可された銀行のオリジン: {list}"),
                format!("Bank origins the host policy allows: {list}"),
            )
            .subject(source.clone())
        }
        Policy::Invalid { source, why } => Check::new(
            Code::HostPolicyInvalid,
            Status::Error,
            format!("管理ソフトのポリシーを読み取れないため、すべての要求を拒否します(POLICY_INVALID): {why}"),
            format!("The host policy cannot be used, so every request is refused (POLICY_INVALID): {why}"),
        )
        .subject(source.clone())
        .fix(
            "システム管理者がポリシーを修正してください(形式: {\"allowedOrigins\": [\"https://www.bank.example\"]}、Windows ではグループポリシー)。",
            "The administrator must fix the policy (format: {\"allowedOrigins\": [\"https://www.bank.example\"]}; on Windows, Group Policy).",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_has_its_code() {
        assert_eq!((check(&Policy::Absent).code, check(&Policy::Absent).status), (Code::HostPolicyNone, Status::Info));
        let p = Policy::from_json("/etc/kagi/policy.json", br#"{"allowedOrigins":["https://www.bank.example"]}"#);
        let c = check(&p);
        assert_eq!((c.code, c.status), (Code::HostPolicyOk, Status::Ok));
        assert!(c.en.contains("https://www.bank.example") && c.subject.as_deref() == Some("/etc/kagi/policy.json"));
        let c = check(&Policy::from_json("/etc/kagi/policy.json", br#"{"allowedOrigins":[]}"#));
        assert_eq!((c.code, c.status), (Code::HostPolicyOk, Status::Warning));
        let c = check(&Policy::from_json("/etc/kagi/policy.json", b"{allowedOrigins"));
        assert_eq!((c.code, c.status), (Code::HostPolicyInvalid, Status::Error));
        assert!(c.en.contains("POLICY_INVALID") && c.fix_en.is_some());
    }
}
