//! Requests from bank pages (through the content script) and from the popup: parsed once into a
//! [`PageRequest`], checked against who may ask (pages: allowed origins, never PIN changes; the
//! popup: status, PIN changes and `diagnose` only), queued while the host connects, then started.
//!
//! The origin always comes from the port's sender record; the page supplies only its bank's CA
//! certificates (`issuers`), which the host uses to tell the bank's certificates from others.

use kagi_proto::tx::{Transaction, TxError, TxProblem};
use kagi_proto::{Command, Issuers, KeyAlgorithm, Nonce, Origin, Pin};
use crate::json::{json, Value};

use super::{error, flow, reply_err, Broker, Effect, HostState, Purpose, QueuedRequest};
use super::{PortId, PortKind};

/// A page or popup request, typed. PINs are moved out of the message into zeroizing holders.
#[derive(Debug)]
pub(super) enum PageRequest {
    Status { issuers: Option<Issuers> },
    Authenticate { nonce: Nonce, issuers: Issuers },
    /// `confirm` (issue 16): the transaction, parsed strictly before any window opens.
    Confirm { nonce: Nonce, issuers: Issuers, tx: Box<Transaction> },
    EnrollBegin { algorithm: KeyAlgorithm, issuers: Issuers },
    EnrollFinish { enrollment: Option<u64>, certificate: Option<String> },
    EnrollAbort { enrollment: Option<u64>, cancelled: bool },
    PinChange { pin: Pin, new_pin: Pin, reader: Option<String> },
    PinUnblock { puk: Pin, new_pin: Pin, reader: Option<String> },
    /// The popup's 「診断情報をコピー」: the host's checks for a support desk (issue 15).
    Diagnose,
}

impl PageRequest {
    fn for_popup(&self) -> bool {
        matches!(self, PageRequest::Status { .. } | PageRequest::PinChange { .. } | PageRequest::PinUnblock { .. } | PageRequest::Diagnose)
    }

    /// `diagnose` is the popup's: it describes the machine, which no bank page needs to know.
    fn for_page(&self) -> bool {
        !matches!(self, PageRequest::PinChange { .. } | PageRequest::PinUnblock { .. } | PageRequest::Diagnose)
    }
}

/// Takes a PIN-like string field out of `args` (the message keeps no copy).
pub(super) fn take_pin(args: &mut Value, field: &str) -> Option<Pin> {
    match args.get_mut(field).map(Value::take) {
        Some(Value::String(s)) => Some(Pin::new(s)),
        _ => None,
    }
}

/// 6 to 8 digits: what any PIN the customer types must look like before it goes to the token.
pub(super) fn pin_shape_ok(pin: &Pin) -> bool {
    (6..=8).contains(&pin.expose().len()) && pin.expose().bytes().all(|b| b.is_ascii_digit())
}

/// A PUK: 6 to 8 characters (PIV allows any bytes; tokens ship with 8 digits).
pub(super) fn puk_shape_ok(puk: &Pin) -> bool {
    (6..=8).contains(&puk.expose().len()) && puk.expose().is_ascii()
}

/// The new PIN and its confirmation (`newPin`, `newPinConfirm`), checked with the shared rule
/// ([`Pin::check_new`]). Errors are codes: `PIN_MISMATCH` (the two differ; the extension's own),
/// `PIN_FORMAT`, `PIN_WEAK`.
pub(super) fn take_new_pin(args: &mut Value) -> Result<Pin, &'static str> {
    let a = take_pin(args, "newPin").ok_or("PIN_FORMAT")?;
    let b = take_pin(args, "newPinConfirm").ok_or("PIN_MISMATCH")?;
    if a != b {
        return Err("PIN_MISMATCH");
    }
    a.check_new().map_err(|c| c.as_str())?;
    Ok(a)
}

fn issuers(args: &Value) -> Result<Option<Issuers>, Value> {
    let Some(v) = args.get("issuers").filter(|v| !v.is_null()) else { return Ok(None) };
    let list: Option<Vec<String>> = v.as_array().and_then(|a| a.iter().map(|s| s.as_str().map(str::to_owned)).collect());
    let list = list.ok_or_else(|| error("BAD_REQUEST", "issuers must be an array of base64 CA certificates"))?;
    Issuers::parse(&list).map(Some).map_err(|_| error("BAD_REQUEST", "issuers must be 1 to 8 base64 DER CA certificates"))
}

fn required_issuers(args: &Value) -> Result<Issuers, Value> {
    issuers(args)?.ok_or_else(|| error("BAD_REQUEST", "issuers (the bank's CA certificates) are required"))
}

fn nonce(args: &Value) -> Result<Nonce, Value> {
    match args.get("nonce").and_then(Value::as_str).map(Nonce::parse) {
        Some(Ok(n)) => Ok(n),
        _ => Err(error("BAD_REQUEST", "nonce must be base64url of at least 32 bytes")),
    }
}

/// The page's `tx`: a flat object of strings, checked by kagi-proto's parser
/// ([`Transaction::from_pairs`], the rules of docs/protocol.md "Transaction confirmation"; NFC by
/// the browser, `crate::nfc`). A refusal is `TX_INVALID` with the field's name, never its value.
fn transaction(args: &Value) -> Result<Transaction, TxError> {
    let Some(Value::Object(map)) = args.get("tx") else { return Err(TxError::new("tx", TxProblem::NotAnObject)) };
    Transaction::from_entries(map.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// `{code: "TX_INVALID", field, message}`: the wire form of kagi-proto's `TX_INVALID {field}`.
fn tx_invalid(e: &TxError) -> Value {
    json!({"code": "TX_INVALID", "field": e.field.as_str(), "message": ["tx: ", e.field.as_str(), " ", e.problem.as_str()].concat()})
}

fn enrollment(args: &Value) -> Option<u64> {
    args.get("enrollment").and_then(Value::as_str).and_then(|s| s.parse().ok())
}

fn reader(args: &Value) -> Option<String> {
    args.get("reader").and_then(Value::as_str).map(str::to_owned)
}

impl PageRequest {
    /// Parses `cmd` and its `args`; the error is the `{code, message}` to answer with.
    pub(super) fn parse(cmd: &str, args: &mut Value) -> Result<PageRequest, Value> {
        Ok(match cmd {
            "status" => PageRequest::Status { issuers: issuers(args)? },
            "authenticate" => PageRequest::Authenticate { nonce: nonce(args)?, issuers: required_issuers(args)? },
            "confirm" => {
                // The tx first: a refused one is TX_INVALID whatever else is wrong.
                let tx = transaction(args).map_err(|e| tx_invalid(&e))?;
                PageRequest::Confirm { nonce: nonce(args)?, issuers: required_issuers(args)?, tx: Box::new(tx) }
            }
            "enroll.begin" => {
                let algorithm = match args.get("algorithm").and_then(Value::as_str).unwrap_or("P-256") {
                    "P-256" => KeyAlgorithm::P256,
                    "RSA-2048" => KeyAlgorithm::Rsa2048,
                    _ => return Err(error("BAD_REQUEST", "algorithm must be P-256 or RSA-2048")),
                };
                PageRequest::EnrollBegin { algorithm, issuers: required_issuers(args)? }
            }
            "enroll.finish" => PageRequest::EnrollFinish {
                enrollment: enrollment(args),
                certificate: args.get("certificate").and_then(Value::as_str).map(str::to_owned),
            },
            "enroll.abort" => PageRequest::EnrollAbort {
                enrollment: enrollment(args),
                cancelled: args.get("code").and_then(Value::as_str) == Some("CANCELLED"),
            },
            "pin.change" => {
                let pin = take_pin(args, "pin").filter(pin_shape_ok).ok_or_else(|| error("PIN_FORMAT", "pin: 6 to 8 digits"))?;
                let new_pin = take_new_pin(args).map_err(|c| error(c, "newPin"))?;
                PageRequest::PinChange { pin, new_pin, reader: reader(args) }
            }
            "pin.unblock" => {
                let puk = take_pin(args, "puk").filter(puk_shape_ok).ok_or_else(|| error("PUK_FORMAT", "puk: 6 to 8 characters"))?;
                let new_pin = take_new_pin(args).map_err(|c| error(c, "newPin"))?;
                PageRequest::PinUnblock { puk, new_pin, reader: reader(args) }
            }
            "diagnose" => PageRequest::Diagnose,
            _ => return Err(error("BAD_REQUEST", "unknown command")),
        })
    }
}

impl Broker {
    pub(super) fn page_request(&mut self, port: PortId, req: Value, cmd: &str, args: &mut Value, now: u64, out: &mut Vec<Effect>) {
        let Some(info) = self.ports.get(&port) else { return };
        let origin = match &info.kind {
            PortKind::Page { origin, url } => {
                match origin.as_deref().filter(|o| self.allow.allows(o)).and_then(|o| Origin::parse(o).ok()) {
                    Some(o) => {
                        if cmd == "status" {
                            out.push(Effect::RememberBankPage { url: url.clone() });
                        }
                        Some(o)
                    }
                    // No longer allowed (the policy changed while the page was open): no
                    // answer, as for any origin Kagi does not serve.
                    None => return,
                }
            }
            PortKind::Popup => None,
            PortKind::PinWindow => return,
        };
        let request = match PageRequest::parse(cmd, args) {
            Ok(r) => r,
            Err(e) => return out.push(Effect::ToPort(port, reply_err(&req, e))),
        };
        let allowed = if origin.is_some() { request.for_page() } else { request.for_popup() };
        if !allowed {
            return out.push(Effect::ToPort(port, reply_err(&req, error("ORIGIN_NOT_ALLOWED", "not for this sender"))));
        }
        match &self.host {
            HostState::Ready { protocol, .. } if *protocol < u64::from(kagi_proto::PROTOCOL_VERSION) => {
                // An older host would refuse every field Kagi sends now: say why in customer terms.
                let e = error("UNKNOWN_COMMAND", "the native host is too old for this extension (protocol 2 needed)");
                out.push(Effect::ToPort(port, reply_err(&req, e)));
            }
            HostState::Ready { .. } => self.start_request(QueuedRequest { port, req, origin, request }, now, out),
            HostState::Connecting { .. } => self.queued.push(QueuedRequest { port, req, origin, request }),
            HostState::Idle | HostState::Unavailable { .. } => {
                // Try again now: the customer may have just installed the host.
                self.queued.push(QueuedRequest { port, req, origin, request });
                self.connect(now, out);
            }
        }
    }

    /// Starts a parsed request with a ready host.
    pub(super) fn start_request(&mut self, q: QueuedRequest, now: u64, out: &mut Vec<Effect>) {
        let QueuedRequest { port, req, origin, request } = q;
        match (request, origin) {
            (PageRequest::Status { issuers }, origin) => {
                // Without issuers nothing about certificates comes back: no choice to review.
                let review = issuers.as_ref().and(origin.as_ref()).map(|o| o.as_str().to_owned());
                self.send_host(Command::Status { issuers }, Purpose::Status { port, req, origin: review }, now, out);
            }
            (PageRequest::PinChange { pin, new_pin, reader }, None) => {
                self.send_host(Command::PinChange { pin, new_pin, reader }, Purpose::PinOp { port, req }, now, out);
            }
            (PageRequest::PinUnblock { puk, new_pin, reader }, None) => {
                self.send_host(Command::PinUnblock { puk, new_pin, reader }, Purpose::PinOp { port, req }, now, out);
            }
            // No issuers: the popup knows no bank's CA, so the text names no certificate.
            (PageRequest::Diagnose, None) => {
                self.send_host(Command::Diagnose { issuers: None }, Purpose::PinOp { port, req }, now, out);
            }
            (PageRequest::Authenticate { nonce, issuers }, Some(origin)) => {
                self.begin_session(port, req, origin, flow::Kind::Login { nonce }, issuers, now, out);
            }
            (PageRequest::Confirm { nonce, issuers, tx }, Some(origin)) => {
                self.begin_session(port, req, origin, flow::Kind::Confirm { nonce, tx }, issuers, now, out);
            }
            (PageRequest::EnrollBegin { algorithm, issuers }, Some(origin)) => {
                self.begin_session(port, req, origin, flow::Kind::Enroll { algorithm }, issuers, now, out);
            }
            (PageRequest::EnrollFinish { enrollment, certificate }, Some(origin)) => {
                self.enroll_finish(port, req, &origin, enrollment, certificate, now, out);
            }
            (PageRequest::EnrollAbort { enrollment, cancelled }, Some(origin)) => {
                self.enroll_abort(port, req, &origin, enrollment, cancelled, out);
            }
            // Refused by for_page / for_popup before this point.
            _ => out.push(Effect::ToPort(port, reply_err(&req, error("ORIGIN_NOT_ALLOWED", "not for this sender")))),
        }
    }
}
