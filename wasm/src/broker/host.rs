//! The native host side of the broker: sending numbered requests with deadlines, the hello,
//! replies matched by id, pushed events fanned out to pages and the popup, the host going away
//! (backoff), and timeouts.

use kagi_proto::{Command, Pin};
use crate::json::Value;

use crate::json::json;

use super::{code_of, empty_status, error, reply_err, reply_ok, Broker, Effect, HostState, Pending, PortKind, Purpose};
use super::{BACKOFF_MAX_MS, BACKOFF_MIN_MS};

/// The token a page most likely means: the one holding the bank's certificate if exactly one
/// does, else the first token (`null` without tokens).
pub(crate) fn main_token(tokens: &[Value]) -> Value {
    let mut with_cert = tokens.iter().filter(|t| t.get("certificate").is_some_and(Value::is_object));
    match (with_cert.next(), with_cert.next()) {
        (Some(t), None) => t.clone(),
        _ => tokens.first().cloned().unwrap_or(Value::Null),
    }
}

/// A host request as `kagi_proto::Request::to_json` writes it (a test keeps the two in step),
/// built as the extension's own [`Value`].
pub(crate) fn request_json(id: u64, command: &Command) -> Value {
    let mut m = crate::json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    };
    let text = |s: &str| Some(Value::from(s));
    let pin = |p: &Pin| text(p.expose());
    let issuers = |i: &kagi_proto::Issuers| Some(Value::from(i.to_base64()));
    match command {
        Command::Status { issuers: i } | Command::Diagnose { issuers: i } => put("issuers", i.as_ref().and_then(issuers)),
        Command::Authenticate { origin, nonce, pin: p, issuers: i, certificate } => {
            put("origin", text(origin.as_str()));
            put("nonce", text(nonce.as_str()));
            put("pin", pin(p));
            put("issuers", issuers(i));
            put("certificate", certificate.as_ref().and_then(|c| text(c.as_str())));
        }
        Command::EnrollBegin { origin, pin: p, algorithm, issuers: i, reader, new_pin } => {
            put("origin", text(origin.as_str()));
            put("pin", pin(p));
            put("algorithm", text(algorithm.as_str()));
            put("issuers", issuers(i));
            put("reader", reader.as_deref().and_then(text));
            put("newPin", new_pin.as_ref().and_then(pin));
        }
        Command::PinChange { pin: p, new_pin, reader } => {
            put("pin", pin(p));
            put("newPin", pin(new_pin));
            put("reader", reader.as_deref().and_then(text));
        }
        Command::PinUnblock { puk, new_pin, reader } => {
            put("puk", pin(puk));
            put("newPin", pin(new_pin));
            put("reader", reader.as_deref().and_then(text));
        }
        Command::Confirm { origin, nonce, pin: p, issuers: i, tx, certificate } => {
            put("origin", text(origin.as_str()));
            put("nonce", text(nonce.as_str()));
            put("pin", pin(p));
            put("issuers", issuers(i));
            put("tx", Some(super::tx_object(tx)));
            put("certificate", certificate.as_ref().and_then(|c| text(c.as_str())));
        }
        Command::EnrollFinish { origin, certificate } => {
            put("origin", text(origin.as_str()));
            put("certificate", text(certificate));
        }
        // A command added to the protocol gets its arguments here (the test below fails first).
        _ => {}
    }
    put("id", Some(Value::from(id)));
    put("cmd", text(command.name()));
    Value::Object(m)
}

impl Broker {
    pub(super) fn send_host(&mut self, command: Command, purpose: Purpose, now: u64, out: &mut Vec<Effect>) {
        let id = self.next_id;
        self.next_id += 1;
        let deadline = now + super::host_timeout_ms(command.name());
        out.push(Effect::ToHost(request_json(id, &command)));
        self.pending.insert(id, Pending { deadline, purpose });
    }

    /// Whether the toolbar badge should say the host is missing (issue 15): `Some(true)` when the
    /// last `connectNative` failed or the host went away, `Some(false)` once it said hello, `None`
    /// while that is not known (a retry in flight must not clear the badge).
    pub fn host_missing(&self) -> Option<bool> {
        match self.host {
            HostState::Unavailable { .. } => Some(true),
            HostState::Ready { .. } => Some(false),
            _ => None,
        }
    }

    /// `{type:"host", host, version}` for the popup.
    pub(super) fn host_note(&self) -> Value {
        match &self.host {
            HostState::Ready { version, .. } => json!({"type": "host", "host": "ok", "version": version}),
            HostState::Unavailable { .. } => json!({"type": "host", "host": "HOST_NOT_INSTALLED"}),
            _ => json!({"type": "host", "host": "connecting"}),
        }
    }

    fn broadcast_host_note(&self, out: &mut Vec<Effect>) {
        let note = self.host_note();
        for (&port, info) in self.ports.iter() {
            if info.kind == PortKind::Popup {
                out.push(Effect::ToPort(port, note.clone()));
            }
        }
    }

    /// A message from the native host.
    pub fn host_message(&mut self, msg: Value, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        match msg.get("type").and_then(Value::as_str) {
            Some("hello") => {
                let version = msg.get("hostVersion").and_then(Value::as_str).unwrap_or("?").to_owned();
                let protocol = msg.get("protocol").and_then(Value::as_u64).unwrap_or(0);
                self.host = HostState::Ready { version, protocol };
                self.backoff_ms = BACKOFF_MIN_MS;
                self.broadcast_host_note(&mut out);
                for q in std::mem::take(&mut self.queued) {
                    if protocol < u64::from(kagi_proto::PROTOCOL_VERSION) {
                        let e = error("UNKNOWN_COMMAND", "the native host is too old for this extension (protocol 2 needed)");
                        out.push(Effect::ToPort(q.port, reply_err(&q.req, e)));
                    } else {
                        self.start_request(q, now, &mut out);
                    }
                }
            }
            Some("reply") => {
                let Some(id) = msg.get("id").and_then(Value::as_u64) else { return out };
                let Some(p) = self.pending.remove(&id) else { return out }; // late reply after a timeout
                let result = match (msg.get("result"), msg.get("error")) {
                    (_, Some(e)) => Err(e.clone()),
                    (Some(r), None) => Ok(r.clone()),
                    _ => Err(error("INTERNAL", "reply has neither result nor error")),
                };
                self.complete(p.purpose, result, now, &mut out);
            }
            Some("event") => self.host_event(&msg, &mut out),
            _ => {}
        }
        out
    }

    fn host_event(&mut self, msg: &Value, out: &mut Vec<Effect>) {
        let event = msg.get("event").and_then(Value::as_str).unwrap_or("");
        // Presence and reader only: pages ask `status` (with their issuers) for details.
        let page_event = match event {
            "inserted" | "removed" => Some(json!({"type": event, "reader": msg.get("reader").cloned().unwrap_or(Value::Null)})),
            _ => None,
        };
        for (&port, info) in self.ports.iter() {
            if !info.subscribed {
                continue;
            }
            match &info.kind {
                PortKind::Popup => out.push(Effect::ToPort(port, json!({"type": "event", "event": msg}))),
                PortKind::Page { origin, .. } => {
                    if let (true, Some(ev)) = (self.page_allowed(origin), &page_event) {
                        out.push(Effect::ToPort(port, json!({"type": "event", "event": ev})));
                    }
                }
                PortKind::PinWindow => {}
            }
        }
        if event == "removed" {
            if let Some(reader) = msg.get("reader").and_then(Value::as_str) {
                self.session_token_removed(reader, out);
            }
        }
    }

    fn complete(&mut self, purpose: Purpose, result: Result<Value, Value>, now: u64, out: &mut Vec<Effect>) {
        match purpose {
            Purpose::Status { port, req, origin } => {
                let msg = match result {
                    Ok(mut r) => {
                        let tokens = r.get("tokens").and_then(Value::as_array).cloned().unwrap_or_default();
                        if let Some(o) = &origin {
                            self.review_choice(o, &tokens, out);
                        }
                        let token = main_token(&tokens);
                        let c = &token["certificate"];
                        let validity = json!({"notBefore": c["notBefore"].clone(), "notAfter": c["notAfter"].clone()});
                        if let (Some(o), true) = (origin, c.is_object()) {
                            if !self.certificates.is_object() {
                                self.certificates = json!({});
                            }
                            // Written on a change only: a storage write wakes every listener.
                            if self.certificates[o.as_str()] != validity {
                                self.certificates[o.as_str()] = validity;
                                out.push(Effect::SaveCertificates(self.certificates.clone()));
                            }
                        }
                        // The host's result as it came (readers, tokens, hostVersion for kagi.js's
                        // status().versions) plus the page's two fields: no copy field by field.
                        if let Value::Object(m) = &mut r {
                            m.insert("host".into(), Value::from("ok"));
                            m.insert("token".into(), token);
                        }
                        reply_ok(&req, r)
                    }
                    Err(e) if code_of(&e) == "PCSC_UNAVAILABLE" => reply_ok(&req, empty_status("PCSC_UNAVAILABLE")),
                    Err(e) if code_of(&e) == "HOST_NOT_INSTALLED" => reply_ok(&req, empty_status("HOST_NOT_INSTALLED")),
                    Err(e) => reply_err(&req, e),
                };
                out.push(Effect::ToPort(port, msg));
            }
            Purpose::PinOp { port, req } => {
                let msg = match result {
                    Ok(r) => reply_ok(&req, r),
                    Err(e) => reply_err(&req, e),
                };
                out.push(Effect::ToPort(port, msg));
            }
            Purpose::Preflight { session } => self.preflight_done(session, result, now, out),
            Purpose::Session { session } => self.session_done(session, result, now, out),
            Purpose::Unblock { session } => self.unblock_done(session, result, out),
        }
    }

    /// The native port closed. `error` is the browser's reason (`runtime.lastError`).
    pub fn host_disconnected(&mut self, error_text: &str, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        let ever_ready = matches!(self.host, HostState::Ready { .. })
            || matches!(self.host, HostState::Unavailable { ever_ready: true, .. });
        let was_ready = matches!(self.host, HostState::Ready { .. });
        self.host = HostState::Unavailable { retry_at: now + self.backoff_ms, ever_ready };
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        let (code, what) = if was_ready {
            ("INTERNAL", "the native host exited: ")
        } else {
            ("HOST_NOT_INSTALLED", "the native host could not be started: ")
        };
        let msg = [what, error_text].concat();
        for (_, p) in std::mem::take(&mut self.pending) {
            self.complete(p.purpose, Err(error(code, &msg)), now, &mut out);
        }
        for q in std::mem::take(&mut self.queued) {
            let m = if matches!(q.request, super::PageRequest::Status { .. }) {
                reply_ok(&q.req, empty_status("HOST_NOT_INSTALLED"))
            } else {
                reply_err(&q.req, error("HOST_NOT_INSTALLED", &msg))
            };
            out.push(Effect::ToPort(q.port, m));
        }
        self.broadcast_host_note(&mut out);
        out
    }

    /// Timeouts and reconnects due at `now`.
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        let expired: Vec<u64> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(&id, _)| id).collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                self.complete(p.purpose, Err(error("TIMEOUT", "the native host did not answer in time")), now, &mut out);
            }
        }
        if self.session.as_ref().and_then(|s| s.deadline).is_some_and(|d| d <= now) {
            self.fail_session_quietly(error("TIMEOUT", "the bank did not deliver the certificate in time"), &mut out);
        }
        match self.host {
            HostState::Connecting { hello_deadline } if hello_deadline <= now => {
                out.push(Effect::DisconnectHost);
                out.extend(self.host_disconnected("no hello from the native host", now));
            }
            HostState::Unavailable { retry_at, .. } if retry_at <= now => self.connect(now, &mut out),
            _ => {}
        }
        out
    }
}
