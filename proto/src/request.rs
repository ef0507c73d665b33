//! Requests from the extension to the host.
//!
//! A request is one JSON object: `{"id": <u64>, "cmd": "<name>", ...arguments}`. Parsing is strict:
//! unknown commands, unknown or missing fields and wrong types are refused with a typed error that
//! echoes the id when it could be read, so the host can reply and keep serving.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{ErrorCode, WireError};
use crate::login::{Nonce, Origin};

/// A PIN as typed by the customer. Zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(s: impl Into<String>) -> Pin {
        Pin(Zeroizing::new(s.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

impl Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Pin::new)
    }
}

/// Key algorithms the token can generate for a new certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "P-256")]
    P256,
    #[serde(rename = "RSA-2048")]
    Rsa2048,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::P256 => "P-256",
            KeyAlgorithm::Rsa2048 => "RSA-2048",
        }
    }
}

/// A parsed command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `status`: readers, token, certificate summary.
    Status,
    /// `authenticate {origin, nonce, pin}`: a `kagi-auth:1` login token.
    Authenticate { origin: Origin, nonce: Nonce, pin: Pin },
    /// `enroll.begin {origin, pin, algorithm}`: new key pair on the token, CSR signed by it.
    EnrollBegin { origin: Origin, pin: Pin, algorithm: KeyAlgorithm },
    /// `enroll.finish {origin, certificate}`: store the issued certificate (standard base64 DER).
    EnrollFinish { origin: Origin, certificate: String },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status => "status",
            Command::Authenticate { .. } => "authenticate",
            Command::EnrollBegin { .. } => "enroll.begin",
            Command::EnrollFinish { .. } => "enroll.finish",
        }
    }

    /// Every command this crate knows, for the hello's capability list.
    pub const NAMES: [&'static str; 4] = ["status", "authenticate", "enroll.begin", "enroll.finish"];
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AuthenticateArgs {
    origin: String,
    nonce: String,
    pin: Pin,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EnrollBeginArgs {
    origin: String,
    pin: Pin,
    algorithm: KeyAlgorithm,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct EnrollFinishArgs {
    origin: String,
    certificate: String,
}

/// A request: the id the reply will echo, and the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: u64,
    pub command: Command,
}

/// Why a request was refused; `id` is set when it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub id: Option<u64>,
    pub error: WireError,
}

impl Request {
    /// Parses one frame body.
    pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
        let no_id = |error| RequestError { id: None, error };
        let text = std::str::from_utf8(body).map_err(|_| no_id(WireError::bad_request("frame is not valid UTF-8")))?;
        let value: Value = serde_json::from_str(text).map_err(|e| no_id(WireError::bad_request(format!("invalid JSON: {e}"))))?;
        let Value::Object(mut map) = value else {
            return Err(no_id(WireError::bad_request("request must be a JSON object")));
        };
        let id = match map.remove("id") {
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| no_id(WireError::bad_request("id must be an unsigned integer")))?,
            Some(_) => return Err(no_id(WireError::bad_request("id must be an unsigned integer"))),
            None => return Err(no_id(WireError::bad_request("missing field `id`"))),
        };
        let fail = |error| RequestError { id: Some(id), error };
        let cmd = match map.remove("cmd") {
            Some(Value::String(s)) => s,
            Some(_) => return Err(fail(WireError::bad_request("cmd must be a string"))),
            None => return Err(fail(WireError::bad_request("missing field `cmd`"))),
        };
        let args = Value::Object(map);
        let bad = |e: serde_json::Error| fail(WireError::bad_request(format!("{cmd}: {e}")));
        let origin = |s: String| Origin::parse(&s).map_err(|e| fail(WireError::new(ErrorCode::OriginNotAllowed, e.to_string())));
        let command = match cmd.as_str() {
            "status" => {
                let NoArgs {} = serde_json::from_value(args).map_err(bad)?;
                Command::Status
            }
            "authenticate" => {
                let a: AuthenticateArgs = serde_json::from_value(args).map_err(bad)?;
                let nonce = Nonce::parse(&a.nonce).map_err(|e| fail(WireError::bad_request(e.to_string())))?;
                Command::Authenticate { origin: origin(a.origin)?, nonce, pin: a.pin }
            }
            "enroll.begin" => {
                let a: EnrollBeginArgs = serde_json::from_value(args).map_err(bad)?;
                Command::EnrollBegin { origin: origin(a.origin)?, pin: a.pin, algorithm: a.algorithm }
            }
            "enroll.finish" => {
                let a: EnrollFinishArgs = serde_json::from_value(args).map_err(bad)?;
                Command::EnrollFinish { origin: origin(a.origin)?, certificate: a.certificate }
            }
            _ => {
                return Err(fail(WireError::new(
                    ErrorCode::UnknownCommand { command: cmd.clone() },
                    format!("unknown command `{cmd}`"),
                )))
            }
        };
        Ok(Request { id, command })
    }

    /// Serialises the request as the extension sends it.
    pub fn to_json(&self) -> Value {
        let mut map = match &self.command {
            Command::Status => Map::new(),
            Command::Authenticate { origin, nonce, pin } => to_map(AuthenticateArgs {
                origin: origin.as_str().to_owned(),
                nonce: nonce.as_str().to_owned(),
                pin: pin.clone(),
            }),
            Command::EnrollBegin { origin, pin, algorithm } => to_map(EnrollBeginArgs {
                origin: origin.as_str().to_owned(),
                pin: pin.clone(),
                algorithm: *algorithm,
            }),
            Command::EnrollFinish { origin, certificate } => to_map(EnrollFinishArgs {
                origin: origin.as_str().to_owned(),
                certificate: certificate.clone(),
            }),
        };
        map.insert("id".into(), Value::from(self.id));
        map.insert("cmd".into(), Value::from(self.command.name()));
        Value::Object(map)
    }
}

fn to_map<T: Serialize>(args: T) -> Map<String, Value> {
    match serde_json::to_value(args) {
        Ok(Value::Object(m)) => m,
        // Our argument structs always serialise to objects.
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn round_trip(json: &str) -> Request {
        let r = Request::parse(json.as_bytes()).unwrap();
        let again = Request::parse(r.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(again, r);
        assert_eq!(r.to_json(), serde_json::from_str::<Value>(json).unwrap());
        r
    }

    #[test]
    fn status() {
        let r = round_trip(r#"{"id":1,"cmd":"status"}"#);
        assert_eq!(r, Request { id: 1, command: Command::Status });
    }

    #[test]
    fn authenticate() {
        let r = round_trip(&format!(
            r#"{{"id":2,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":"123456"}}"#
        ));
        let Command::Authenticate { origin, pin, .. } = r.command else { panic!() };
        assert_eq!(origin.as_str(), "https://bank.example");
        assert_eq!(pin.expose(), "123456");
        assert_eq!(format!("{pin:?}"), "Pin(***)");
    }

    #[test]
    fn enroll() {
        let r = round_trip(r#"{"id":3,"cmd":"enroll.begin","origin":"http://127.0.0.1:8080","pin":"123456","algorithm":"P-256"}"#);
        assert!(matches!(r.command, Command::EnrollBegin { algorithm: KeyAlgorithm::P256, .. }));
        let r = round_trip(r#"{"id":4,"cmd":"enroll.begin","origin":"http://127.0.0.1:8080","pin":"123456","algorithm":"RSA-2048"}"#);
        assert!(matches!(r.command, Command::EnrollBegin { algorithm: KeyAlgorithm::Rsa2048, .. }));
        round_trip(r#"{"id":5,"cmd":"enroll.finish","origin":"http://127.0.0.1:8080","certificate":"MIIB"}"#);
    }

    fn err(json: &str) -> RequestError {
        Request::parse(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn refusals_are_typed_and_echo_the_id() {
        let e = err(r#"{"id":9,"cmd":"format-token"}"#);
        assert_eq!(e.id, Some(9));
        assert_eq!(e.error.code, ErrorCode::UnknownCommand { command: "format-token".into() });

        let e = err(r#"{"id":9,"cmd":"status","extra":true}"#);
        assert_eq!((e.id, e.error.code.clone()), (Some(9), ErrorCode::BadRequest));
        assert!(e.error.message.contains("extra"), "{}", e.error.message);

        let e = err(r#"{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"x"}"#);
        assert_eq!(e.error.code, ErrorCode::BadRequest);

        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}"}}"#));
        assert!(e.error.message.contains("missing field `pin`"), "{}", e.error.message);

        let e = err(r#"{"id":9,"cmd":"enroll.begin","origin":"https://bank.example","pin":123456,"algorithm":"P-256"}"#);
        assert!(e.error.message.contains("invalid type"), "{}", e.error.message);

        let e = err(r#"{"id":9,"cmd":"enroll.begin","origin":"https://bank.example","pin":"123456","algorithm":"P-384"}"#);
        assert_eq!(e.error.code, ErrorCode::BadRequest);

        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"http://evil.example","nonce":"{NONCE}","pin":"1"}}"#));
        assert_eq!(e.error.code, ErrorCode::OriginNotAllowed);
    }

    #[test]
    fn refusals_without_id() {
        for (body, needle) in [
            (&b"\xff\xfe"[..], "UTF-8"),
            (b"{", "invalid JSON"),
            (b"[1]", "object"),
            (br#"{"cmd":"status"}"#, "missing field `id`"),
            (br#"{"id":-1,"cmd":"status"}"#, "unsigned"),
            (br#"{"id":"1","cmd":"status"}"#, "unsigned"),
        ] {
            let e = Request::parse(body).unwrap_err();
            assert_eq!(e.id, None);
            assert_eq!(e.error.code, ErrorCode::BadRequest);
            assert!(e.error.message.contains(needle), "{} / {needle}", e.error.message);
        }
        let e = err(r#"{"id":1}"#);
        assert_eq!(e.id, Some(1));
    }
}
