//! Requests from the extension to the host.
//!
//! A request is one JSON object: `{"id": <u64>, "cmd": "<name>", ...arguments}`. Parsing is strict:
//! unknown commands, unknown or missing fields and wrong types are refused with a typed error that
//! echoes the id when it could be read, so the host can reply and keep serving.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::args::{shown_name, wipe, Args};
use crate::error::{ErrorCode, ProtoError, WireError};
use crate::issuers::Issuers;
use crate::login::{Nonce, Origin};
#[cfg(feature = "tx-core")]
use crate::tx::Transaction;

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

    /// Checks a PIN the customer chose (PIN change, unblock, first acquisition): 6 to 8 ASCII
    /// digits (`PIN_FORMAT`), not the factory `123456` and not one digit repeated (`PIN_WEAK`).
    /// The extension checks before sending; the host checks again before writing.
    pub fn check_new(&self) -> Result<(), ErrorCode> {
        let b = self.0.as_bytes();
        if !(6..=8).contains(&b.len()) || !b.iter().all(u8::is_ascii_digit) {
            return Err(ErrorCode::PinFormat);
        }
        if self.0.as_str() == FACTORY_PIN || b.iter().all(|d| *d == b[0]) {
            return Err(ErrorCode::PinWeak);
        }
        Ok(())
    }

    /// Whether this is the factory PIN every PIV token ships with.
    pub fn is_factory(&self) -> bool {
        self.0.as_str() == FACTORY_PIN
    }
}

/// The PIN PIV tokens ship with (YubiKey, Nitrokey, and Kagi's virtual token).
pub const FACTORY_PIN: &str = "123456";

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

/// Which certificate to use when several of the bank's match: the SHA-256 of its DER, lowercase
/// hex (as in [`crate::CertSummary::sha256`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertId(String);

impl CertId {
    pub fn parse(s: &str) -> Option<CertId> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then(|| CertId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A parsed command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `status {issuers?}`: readers and PIV tokens; with `issuers`, each token's login
    /// certificate from that bank.
    Status { issuers: Option<Issuers> },
    /// `authenticate {origin, nonce, pin, issuers, certificate?}`: a `kagi-auth:1` login token
    /// signed with the bank's login certificate (`certificate` chooses when several match).
    Authenticate { origin: Origin, nonce: Nonce, pin: Pin, issuers: Issuers, certificate: Option<CertId> },
    /// `enroll.begin {origin, pin, algorithm, issuers, reader?, newPin?}`: new key pair on the
    /// token, CSR signed by it. `newPin` replaces a factory PIN first.
    EnrollBegin {
        origin: Origin,
        pin: Pin,
        algorithm: KeyAlgorithm,
        issuers: Issuers,
        reader: Option<String>,
        new_pin: Option<Pin>,
    },
    /// `enroll.finish {origin, certificate}`: store the issued certificate (standard base64 DER).
    EnrollFinish { origin: Origin, certificate: String },
    /// `pin.change {pin, newPin, reader?}`: PIV CHANGE REFERENCE DATA.
    PinChange { pin: Pin, new_pin: Pin, reader: Option<String> },
    /// `pin.unblock {puk, newPin, reader?}`: PIV RESET RETRY COUNTER.
    PinUnblock { puk: Pin, new_pin: Pin, reader: Option<String> },
    /// `diagnose {issuers?}`: the checks of `kagi-host doctor` for a support desk, as
    /// [`crate::DiagnoseResult`]; with `issuers`, the bank's certificate's validity and issuer.
    Diagnose { issuers: Option<Issuers> },
    #[cfg(feature = "tx-core")]
    /// `confirm {origin, nonce, pin, issuers, tx, certificate?}`: a `kagi-tx:1` signature over
    /// the typed transaction `tx` (the host encodes the body itself; never a digest), with the
    /// bank's login certificate chosen as for `authenticate`.
    Confirm { origin: Origin, nonce: Nonce, pin: Pin, issuers: Issuers, tx: Box<Transaction>, certificate: Option<CertId> },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::Authenticate { .. } => "authenticate",
            Command::EnrollBegin { .. } => "enroll.begin",
            Command::EnrollFinish { .. } => "enroll.finish",
            Command::PinChange { .. } => "pin.change",
            Command::PinUnblock { .. } => "pin.unblock",
            Command::Diagnose { .. } => "diagnose",
            #[cfg(feature = "tx-core")]
            Command::Confirm { .. } => "confirm",
        }
    }

    /// Every command this crate knows, for the hello's capability list.
    #[cfg(feature = "tx-core")]
    pub const NAMES: [&'static str; 8] =
        ["status", "authenticate", "enroll.begin", "enroll.finish", "pin.change", "pin.unblock", "diagnose", "confirm"];
    /// Every command this crate knows, for the hello's capability list.
    #[cfg(not(feature = "tx-core"))]
    pub const NAMES: [&'static str; 7] = ["status", "authenticate", "enroll.begin", "enroll.finish", "pin.change", "pin.unblock", "diagnose"];
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
    /// Parses one frame body. Refusals name fields, never values (see `args.rs`), and every
    /// string and number of the request is wiped before its memory is freed.
    pub fn parse(body: &[u8]) -> Result<Request, RequestError> {
        let no_id = |error| RequestError { id: None, error };
        let text = std::str::from_utf8(body).map_err(|_| no_id(WireError::bad_request("frame is not valid UTF-8")))?;
        // serde_json's syntax errors name a position, not the text there.
        let mut value: Value = serde_json::from_str(text).map_err(|e| no_id(WireError::bad_request(format!("invalid JSON: {e}"))))?;
        let map = match &mut value {
            Value::Object(m) => std::mem::take(m),
            other => {
                wipe(other);
                return Err(no_id(WireError::bad_request("request must be a JSON object")));
            }
        };
        let mut args = Args::new(map);
        let id = args.id().map_err(|m| no_id(WireError::bad_request(m)))?;
        let fail = |error| RequestError { id: Some(id), error };
        let cmd = args.string("cmd").map_err(|m| fail(WireError::bad_request(m)))?;
        let command = Self::command(&cmd, &mut args).map_err(fail)?;
        args.finish().map_err(|m| fail(WireError::bad_request(format!("{cmd}: {m}"))))?;
        Ok(Request { id, command })
    }

    /// The command `cmd` with its arguments taken from `args`.
    fn command(cmd: &str, args: &mut Args) -> Result<Command, WireError> {
        let bad = |m: String| WireError::bad_request(format!("{cmd}: {m}"));
        // The refusal says why, not what the origin was.
        let origin = |s: String| {
            Origin::parse(&s).map_err(|e| match e {
                ProtoError::Origin { why, .. } => WireError::new(ErrorCode::OriginNotAllowed, format!("origin: {why}")),
                other => WireError::new(ErrorCode::OriginNotAllowed, other.to_string()),
            })
        };
        let issuers = |v: Vec<String>| Issuers::parse(&v).map_err(|e| WireError::bad_request(e.to_string()));
        // A PIN the customer chose is checked here, before anything reaches a token.
        let new_pin = |p: Pin| match p.check_new() {
            Ok(()) => Ok(p),
            Err(code) => Err(WireError::new(code, "newPin: 6 to 8 digits, not 123456, not one digit repeated")),
        };
        Ok(match cmd {
            "status" => Command::Status { issuers: args.opt_strings("issuers").map_err(bad)?.map(issuers).transpose()? },
            "diagnose" => Command::Diagnose { issuers: args.opt_strings("issuers").map_err(bad)?.map(issuers).transpose()? },
            "authenticate" => {
                let (o, n, pin, i) = (args.string("origin"), args.string("nonce"), args.pin("pin"), args.strings("issuers"));
                let certificate = args.opt_string("certificate").map_err(bad)?;
                let (o, n, pin, i) = (o.map_err(bad)?, n.map_err(bad)?, pin.map_err(bad)?, i.map_err(bad)?);
                let nonce = Nonce::parse(&n).map_err(|e| WireError::bad_request(e.to_string()))?;
                let certificate = match certificate {
                    Some(c) => Some(CertId::parse(&c).ok_or_else(|| WireError::bad_request("certificate must be a SHA-256, lowercase hex"))?),
                    None => None,
                };
                Command::Authenticate { origin: origin(o)?, nonce, pin, issuers: issuers(i)?, certificate }
            }
            #[cfg(feature = "tx-core")]
            "confirm" => {
                let (o, n, pin, i) = (args.string("origin"), args.string("nonce"), args.pin("pin"), args.strings("issuers"));
                let (tx, certificate) = (args.object("tx"), args.opt_string("certificate"));
                let (o, n, pin, i, tx, certificate) = (o.map_err(bad)?, n.map_err(bad)?, pin.map_err(bad)?, i.map_err(bad)?, tx.map_err(bad)?, certificate.map_err(bad)?);
                let nonce = Nonce::parse(&n).map_err(|e| WireError::bad_request(e.to_string()))?;
                let certificate = match certificate {
                    Some(c) => Some(CertId::parse(&c).ok_or_else(|| WireError::bad_request("certificate must be a SHA-256, lowercase hex"))?),
                    None => None,
                };
                // The transaction is checked here, before anything reaches a token or a window.
                let tx = Transaction::from_map(&tx).map_err(|e| e.to_wire())?;
                Command::Confirm { origin: origin(o)?, nonce, pin, issuers: issuers(i)?, tx: Box::new(tx), certificate }
            }
            "enroll.begin" => {
                let (o, pin, alg, i) = (args.string("origin"), args.pin("pin"), args.string("algorithm"), args.strings("issuers"));
                let (reader, np) = (args.opt_string("reader"), args.opt_pin("newPin"));
                let (o, pin, alg, i, reader, np) = (o.map_err(bad)?, pin.map_err(bad)?, alg.map_err(bad)?, i.map_err(bad)?, reader.map_err(bad)?, np.map_err(bad)?);
                let algorithm = match alg.as_str() {
                    "P-256" => KeyAlgorithm::P256,
                    "RSA-2048" => KeyAlgorithm::Rsa2048,
                    _ => return Err(bad("`algorithm` must be \"P-256\" or \"RSA-2048\"".into())),
                };
                Command::EnrollBegin { origin: origin(o)?, pin, algorithm, issuers: issuers(i)?, reader, new_pin: np.map(new_pin).transpose()? }
            }
            "pin.change" => {
                let (pin, np, reader) = (args.pin("pin"), args.pin("newPin"), args.opt_string("reader"));
                let (pin, np, reader) = (pin.map_err(bad)?, np.map_err(bad)?, reader.map_err(bad)?);
                Command::PinChange { pin, new_pin: new_pin(np)?, reader }
            }
            "pin.unblock" => {
                let (puk, np, reader) = (args.pin("puk"), args.pin("newPin"), args.opt_string("reader"));
                let (puk, np, reader) = (puk.map_err(bad)?, np.map_err(bad)?, reader.map_err(bad)?);
                Command::PinUnblock { puk, new_pin: new_pin(np)?, reader }
            }
            "enroll.finish" => {
                let (o, certificate) = (args.string("origin"), args.string("certificate"));
                let (o, certificate) = (o.map_err(bad)?, certificate.map_err(bad)?);
                Command::EnrollFinish { origin: origin(o)?, certificate }
            }
            _ => {
                return Err(WireError::new(
                    ErrorCode::UnknownCommand { command: cmd.to_owned() },
                    format!("unknown command {}", shown_name(cmd)),
                ))
            }
        })
    }

    /// Serialises the request as the extension sends it. Written out field by field (the
    /// parser's argument structs name the same fields; the round-trip tests keep them in step) so
    /// the extension's WASM carries no serde serializer.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let mut put = |k: &str, v: Value| {
            map.insert(k.to_owned(), v);
        };
        let pin = |p: &Pin| Value::String(p.expose().to_owned());
        let text = |s: &str| Value::String(s.to_owned());
        let issuers = |i: &Issuers| Value::from(i.to_base64());
        match &self.command {
            Command::Status { issuers: i } | Command::Diagnose { issuers: i } => {
                if let Some(i) = i {
                    put("issuers", issuers(i));
                }
            }
            Command::Authenticate { origin, nonce, pin: p, issuers: i, certificate } => {
                put("origin", text(origin.as_str()));
                put("nonce", text(nonce.as_str()));
                put("pin", pin(p));
                put("issuers", issuers(i));
                if let Some(c) = certificate {
                    put("certificate", text(c.as_str()));
                }
            }
            Command::EnrollBegin { origin, pin: p, algorithm, issuers: i, reader, new_pin } => {
                put("origin", text(origin.as_str()));
                put("pin", pin(p));
                put("algorithm", text(algorithm.as_str()));
                put("issuers", issuers(i));
                if let Some(r) = reader {
                    put("reader", text(r));
                }
                if let Some(n) = new_pin {
                    put("newPin", pin(n));
                }
            }
            Command::PinChange { pin: p, new_pin, reader } => {
                put("pin", pin(p));
                put("newPin", pin(new_pin));
                if let Some(r) = reader {
                    put("reader", text(r));
                }
            }
            Command::PinUnblock { puk, new_pin, reader } => {
                put("puk", pin(puk));
                put("newPin", pin(new_pin));
                if let Some(r) = reader {
                    put("reader", text(r));
                }
            }
            Command::EnrollFinish { origin, certificate } => {
                put("origin", text(origin.as_str()));
                put("certificate", text(certificate));
            }
            #[cfg(feature = "tx-core")]
            Command::Confirm { origin, nonce, pin: p, issuers: i, tx, certificate } => {
                put("origin", text(origin.as_str()));
                put("nonce", text(nonce.as_str()));
                put("pin", pin(p));
                put("issuers", issuers(i));
                put("tx", tx.to_json());
                if let Some(c) = certificate {
                    put("certificate", text(c.as_str()));
                }
            }
        }
        put("id", Value::from(self.id));
        put("cmd", text(self.command.name()));
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    /// Stands for a CA certificate: the envelope check only wants a DER SEQUENCE.
    const CA: &str = "MAA=";

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
        assert_eq!(r, Request { id: 1, command: Command::Status { issuers: None } });
        let r = round_trip(&format!(r#"{{"id":1,"cmd":"status","issuers":["{CA}"]}}"#));
        let Command::Status { issuers: Some(i) } = r.command else { panic!() };
        assert_eq!(i.certificates(), &[vec![0x30, 0]]);
    }

    #[test]
    fn diagnose() {
        let r = round_trip(r#"{"id":9,"cmd":"diagnose"}"#);
        assert_eq!(r, Request { id: 9, command: Command::Diagnose { issuers: None } });
        let r = round_trip(&format!(r#"{{"id":9,"cmd":"diagnose","issuers":["{CA}"]}}"#));
        assert!(matches!(r.command, Command::Diagnose { issuers: Some(_) }));
        let e = Request::parse(br#"{"id":9,"cmd":"diagnose","pin":"123456"}"#).unwrap_err();
        assert_eq!((e.id, e.error.code), (Some(9), ErrorCode::BadRequest));
    }

    #[test]
    fn authenticate() {
        let r = round_trip(&format!(
            r#"{{"id":2,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":"123456","issuers":["{CA}"]}}"#
        ));
        let Command::Authenticate { origin, pin, certificate, .. } = r.command else { panic!() };
        assert_eq!(origin.as_str(), "https://bank.example");
        assert_eq!(pin.expose(), "123456");
        assert_eq!(format!("{pin:?}"), "Pin(***)");
        assert_eq!(certificate, None);
        let sha = "ab".repeat(32);
        let r = round_trip(&format!(
            r#"{{"id":2,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":"123456","issuers":["{CA}"],"certificate":"{sha}"}}"#
        ));
        let Command::Authenticate { certificate, .. } = r.command else { panic!() };
        assert_eq!(certificate.unwrap().as_str(), sha);
    }

    #[test]
    fn enroll() {
        let r = round_trip(&format!(
            r#"{{"id":3,"cmd":"enroll.begin","origin":"http://127.0.0.1:8080","pin":"123456","algorithm":"P-256","issuers":["{CA}"]}}"#
        ));
        assert!(matches!(r.command, Command::EnrollBegin { algorithm: KeyAlgorithm::P256, reader: None, new_pin: None, .. }));
        let r = round_trip(&format!(
            r#"{{"id":4,"cmd":"enroll.begin","origin":"http://127.0.0.1:8080","pin":"123456","algorithm":"RSA-2048","issuers":["{CA}"],"reader":"R","newPin":"20261130"}}"#
        ));
        let Command::EnrollBegin { algorithm: KeyAlgorithm::Rsa2048, reader: Some(reader), new_pin: Some(p), .. } = r.command else { panic!() };
        assert_eq!((reader.as_str(), p.expose()), ("R", "20261130"));
        round_trip(r#"{"id":5,"cmd":"enroll.finish","origin":"http://127.0.0.1:8080","certificate":"MIIB"}"#);
    }

    #[test]
    fn pin_commands() {
        let r = round_trip(r#"{"id":6,"cmd":"pin.change","pin":"123456","newPin":"482915"}"#);
        assert!(matches!(r.command, Command::PinChange { reader: None, .. }));
        let r = round_trip(r#"{"id":7,"cmd":"pin.unblock","puk":"12345678","newPin":"482915","reader":"R"}"#);
        let Command::PinUnblock { puk, new_pin, reader } = r.command else { panic!() };
        assert_eq!((puk.expose(), new_pin.expose(), reader.as_deref()), ("12345678", "482915", Some("R")));
    }

    #[test]
    fn new_pin_rules() {
        for (p, code) in [
            ("12345", ErrorCode::PinFormat),
            ("123456789", ErrorCode::PinFormat),
            ("12a456", ErrorCode::PinFormat),
            ("１２３４５６", ErrorCode::PinFormat),
            ("123456", ErrorCode::PinWeak),
            ("000000", ErrorCode::PinWeak),
            ("99999999", ErrorCode::PinWeak),
        ] {
            assert_eq!(Pin::new(p).check_new(), Err(code.clone()), "{p}");
            let e = err(&format!(r#"{{"id":8,"cmd":"pin.change","pin":"123456","newPin":"{p}"}}"#));
            assert_eq!((e.id, e.error.code), (Some(8), code), "{p}");
        }
        for p in ["482915", "1234567", "00000001"] {
            assert_eq!(Pin::new(p).check_new(), Ok(()), "{p}");
        }
        assert!(Pin::new("123456").is_factory());
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

        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","issuers":["{CA}"]}}"#));
        assert!(e.error.message.contains("missing field `pin`"), "{}", e.error.message);

        // Protocol 2: log-on and acquisition name the bank's CA.
        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":"123456"}}"#));
        assert!(e.error.message.contains("missing field `issuers`"), "{}", e.error.message);
        let e = err(r#"{"id":9,"cmd":"enroll.begin","origin":"https://bank.example","pin":"123456","algorithm":"P-256"}"#);
        assert!(e.error.message.contains("missing field `issuers`"), "{}", e.error.message);
        let e = err(r#"{"id":9,"cmd":"status","issuers":[]}"#);
        assert_eq!((e.id, e.error.code), (Some(9), ErrorCode::BadRequest));
        let e = err(&format!(
            r#"{{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":"123456","issuers":["{CA}"],"certificate":"AB"}}"#
        ));
        assert_eq!(e.error.code, ErrorCode::BadRequest);

        // A PIN of the wrong type, or under a field the command does not know: the refusal
        // names the field, never the value (it is logged).
        let e = err(&format!(r#"{{"id":9,"cmd":"enroll.begin","origin":"https://bank.example","pin":482915,"algorithm":"P-256","issuers":["{CA}"]}}"#));
        assert_eq!(e.error.message, "enroll.begin: `pin` must be a string, not a number");
        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"https://bank.example","nonce":"{NONCE}","pin":["482915"],"issuers":["{CA}"]}}"#));
        assert_eq!(e.error.message, "authenticate: `pin` must be a string, not an array");
        let e = err(r#"{"id":9,"cmd":"pin.change","pin":"482915","newPin":"193847","482915":"482915"}"#);
        assert_eq!((e.id, e.error.code.clone()), (Some(9), ErrorCode::BadRequest));
        assert!(!e.error.message.contains("482915"), "{}", e.error.message);
        let e = err(r#"{"id":9,"cmd":"482915"}"#);
        assert_eq!(e.error.code, ErrorCode::UnknownCommand { command: "482915".into() });
        assert!(!e.error.message.contains("482915"), "{}", e.error.message);
        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"https://482915.example/x","nonce":"{NONCE}","pin":"482915","issuers":["{CA}"]}}"#));
        assert_eq!(e.error.code, ErrorCode::OriginNotAllowed);
        assert!(!e.error.message.contains("482915"), "{}", e.error.message);

        let e = err(&format!(r#"{{"id":9,"cmd":"enroll.begin","origin":"https://bank.example","pin":"123456","algorithm":"P-384","issuers":["{CA}"]}}"#));
        assert_eq!(e.error.code, ErrorCode::BadRequest);

        let e = err(&format!(r#"{{"id":9,"cmd":"authenticate","origin":"http://evil.example","nonce":"{NONCE}","pin":"1","issuers":["{CA}"]}}"#));
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
