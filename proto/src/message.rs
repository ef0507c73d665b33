//! Messages from the host to the extension: the hello, replies, and pushed events.
//!
//! Every message is a JSON object with a `type`: `"hello"`, `"reply"` or `"event"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::WireError;

/// First message on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hello {
    /// [`crate::PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The host's package version.
    pub host_version: String,
    /// Commands and features this host supports (`"status"`, …, `"events"`).
    pub capabilities: Vec<String>,
}

impl Hello {
    pub fn current(host_version: &str) -> Hello {
        let mut capabilities: Vec<String> = crate::Command::NAMES.iter().map(|s| s.to_string()).collect();
        capabilities.push("events".into());
        Hello { protocol: crate::PROTOCOL_VERSION, host_version: host_version.to_owned(), capabilities }
    }
}

/// The answer to one request. Exactly one of `result` / `error` is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reply {
    /// The request's id; `null` only when the request was so malformed that no id could be read.
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

impl Reply {
    pub fn ok<T: Serialize>(id: u64, result: &T) -> Reply {
        match serde_json::to_value(result) {
            Ok(v) => Reply { id: Some(id), result: Some(v), error: None },
            Err(e) => Reply::err(Some(id), WireError::new(crate::ErrorCode::Internal, e.to_string())),
        }
    }

    pub fn err(id: Option<u64>, error: WireError) -> Reply {
        Reply { id, result: None, error: Some(error) }
    }

    /// The result decoded as the type the caller expects for its command.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T, WireError> {
        match (self.result, self.error) {
            (_, Some(e)) => Err(e),
            (Some(v), None) => serde_json::from_value(v)
                .map_err(|e| WireError::new(crate::ErrorCode::Internal, format!("unexpected result: {e}"))),
            (None, None) => Err(WireError::new(crate::ErrorCode::Internal, "reply has neither result nor error")),
        }
    }
}

/// Pushed without a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub enum Event {
    /// A card was inserted (or was found present when the host started watching). Presence and
    /// reader only: the page asks `status` (with its `issuers`) for details.
    Inserted { reader: String },
    /// The token left the reader.
    Removed { reader: String },
    /// A reader appeared.
    ReaderAdded { reader: String },
    /// A reader disappeared.
    ReaderRemoved { reader: String },
    /// The PC/SC service went away; requests fail with `PCSC_UNAVAILABLE` until `pcscAvailable`.
    PcscUnavailable,
    /// The PC/SC service is back.
    PcscAvailable,
}

/// Any message from the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Outgoing {
    Hello(Hello),
    Reply(Reply),
    Event(Event),
}

impl Outgoing {
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising these types cannot fail: all keys are strings and values plain data.
        serde_json::to_vec(self).unwrap_or_else(|_| br#"{"type":"reply","id":null,"error":{"code":"INTERNAL","message":"serialisation"}}"#.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::*;
    use crate::ErrorCode;

    fn round_trip(o: &Outgoing, expected: &str) {
        let json = String::from_utf8(o.to_bytes()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), serde_json::from_str::<Value>(expected).unwrap());
        assert_eq!(&serde_json::from_str::<Outgoing>(&json).unwrap(), o);
    }

    #[test]
    fn hello() {
        // `confirm` is there with feature `tx` (the host's build), not in the extension's.
        let confirm = if cfg!(feature = "tx-core") { r#""confirm","# } else { "" };
        round_trip(
            &Outgoing::Hello(Hello::current("0.1.0")),
            &format!(
                r#"{{"type":"hello","protocol":2,"hostVersion":"0.1.0",
                "capabilities":["status","authenticate","enroll.begin","enroll.finish","pin.change","pin.unblock","diagnose",{confirm}"events"]}}"#
            ),
        );
    }

    fn cert() -> CertSummary {
        CertSummary {
            slot: "9A".into(),
            subject: Subject {
                country: Some("JP".into()),
                organization: Some("Kagi Demo Shinkin Bank".into()),
                organizational_units: vec!["Kagi Demo CA".into(), "IssuedCount=001".into()],
                common_name: Some("SH001 SH001001 1898".into()),
            },
            issuer: Subject { common_name: Some("Kagi Demo CA".into()), ..Default::default() },
            serial: "6d89a42202c56aafed5e6c8de3277d8c".into(),
            not_before: "2026-11-26T00:00:00Z".into(),
            not_after: "2027-11-26T00:00:00Z".into(),
            key_algorithm: "P-256".into(),
            sha256: "00".repeat(32),
        }
    }

    #[test]
    fn status_reply() {
        let status = StatusResult {
            readers: vec![ReaderInfo { name: "Virtual PCD 00 00".into(), token_present: true }],
            tokens: vec![TokenSummary {
                reader: "Virtual PCD 00 00".into(),
                guid: Some("0f".repeat(16)),
                pin_retries: Some(3),
                puk_retries: Some(3),
                pin_default: Some(false),
                management_key: ManagementKeyState::PinProtected,
                certificate: Some(cert()),
            }],
            host_version: Some("0.1.0".into()),
        };
        let o = Outgoing::Reply(Reply::ok(1, &status));
        let json = String::from_utf8(o.to_bytes()).unwrap();
        assert!(json.contains(r#""organizationalUnits":["Kagi Demo CA","IssuedCount=001"]"#), "{json}");
        assert!(json.contains(r#""tokenPresent":true"#));
        assert!(json.contains(r#""managementKey":"pinProtected""#), "{json}");
        assert!(json.contains(r#""hostVersion":"0.1.0""#), "{json}");
        assert_eq!(status.with_certificate().count(), 1);
        let back: Outgoing = serde_json::from_str(&json).unwrap();
        let Outgoing::Reply(r) = back else { panic!() };
        assert_eq!(r.into_result::<StatusResult>().unwrap(), status);
    }

    #[test]
    fn error_reply() {
        round_trip(
            &Outgoing::Reply(Reply::err(Some(4), WireError::new(ErrorCode::PinIncorrect { retries: 2 }, "PIN incorrect"))),
            r#"{"type":"reply","id":4,"error":{"code":"PIN_INCORRECT","retries":2,"message":"PIN incorrect"}}"#,
        );
        round_trip(
            &Outgoing::Reply(Reply::err(None, WireError::bad_request("invalid JSON"))),
            r#"{"type":"reply","id":null,"error":{"code":"BAD_REQUEST","message":"invalid JSON"}}"#,
        );
    }

    #[test]
    fn enroll_replies() {
        let begin =
            EnrollBeginResult {
                reader: "R".into(),
                slot: "82".into(),
                algorithm: crate::KeyAlgorithm::P256,
                csr: "MIIB".into(),
                attestation: None,
                attestation_intermediate: None,
            };
        let r = Reply::ok(5, &begin);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"id":5,"result":{"reader":"R","slot":"82","algorithm":"P-256","csr":"MIIB"}})
        );
        assert_eq!(r.into_result::<EnrollBeginResult>().unwrap(), begin);
        let attested = EnrollBeginResult { attestation: Some("MIIC".into()), attestation_intermediate: Some("MIID".into()), ..begin };
        let r = Reply::ok(5, &attested);
        assert_eq!(
            serde_json::to_value(&r).unwrap()["result"],
            serde_json::json!({"reader":"R","slot":"82","algorithm":"P-256","csr":"MIIB","attestation":"MIIC","attestationIntermediate":"MIID"})
        );
        assert_eq!(r.into_result::<EnrollBeginResult>().unwrap(), attested);
        let finish = EnrollFinishResult { certificate: cert() };
        assert_eq!(Reply::ok(6, &finish).into_result::<EnrollFinishResult>().unwrap(), finish);
    }

    #[test]
    fn events() {
        round_trip(
            &Outgoing::Event(Event::Removed { reader: "Virtual PCD 00 00".into() }),
            r#"{"type":"event","event":"removed","reader":"Virtual PCD 00 00"}"#,
        );
        round_trip(
            &Outgoing::Event(Event::Inserted { reader: "R".into() }),
            r#"{"type":"event","event":"inserted","reader":"R"}"#,
        );
        round_trip(&Outgoing::Event(Event::PcscUnavailable), r#"{"type":"event","event":"pcscUnavailable"}"#);
        round_trip(
            &Outgoing::Event(Event::ReaderAdded { reader: "R".into() }),
            r#"{"type":"event","event":"readerAdded","reader":"R"}"#,
        );
    }

    #[test]
    fn login_reply() {
        let t = crate::LoginToken::new(&[0x30, 0], crate::SignatureAlgorithm::RS256, &[1, 2]);
        let r = Reply::ok(7, &t);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({"id":7,"result":{"format":"kagi-auth:1","certificate":"MAA=","algorithm":"RS256","signature":"AQI="}})
        );
        assert_eq!(r.into_result::<crate::LoginToken>().unwrap(), t);
    }
}
