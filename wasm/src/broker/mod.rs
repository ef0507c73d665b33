//! The service worker's core, without I/O: one connection to the native host, requests matched
//! by id with per-command timeouts, origin checks, the interactive sessions (PIN window, certificate
//! acquisition) and the fan-out of host events. The glue (`background.rs`) feeds it inputs with
//! the current time and carries out the [`Effect`]s it returns; the tests drive it directly.
//!
//! Ports are the extension's runtime ports: a content script on a bank page ([`PortKind::Page`],
//! with the origin the browser recorded for its tab), the popup, or a PIN window.

use std::collections::BTreeMap;

use kagi_proto::{Command, KeyAlgorithm, Nonce, Origin, Pin, Request};
use serde_json::{json, Value};

use crate::origin::Allowlist;

pub type PortId = u32;

/// How long the host has for each command once the customer is done (PIN entry time excluded:
/// the clock starts when the PIN is sent). Key generation on the bank's tokens takes up to a minute.
pub fn host_timeout_ms(cmd: &str) -> u64 {
    match cmd {
        "status" => 10_000,
        "authenticate" => 30_000,
        "enroll.begin" => 180_000,
        "enroll.finish" => 120_000,
        _ => 30_000,
    }
}
/// The host must say hello this soon after it is started.
pub const HELLO_TIMEOUT_MS: u64 = 5_000;
/// The bank's CA has this long between `enroll.begin` and `enroll.finish`.
pub const ISSUE_TIMEOUT_MS: u64 = 600_000;
/// Reconnect backoff after the host is missing or died.
pub const BACKOFF_MIN_MS: u64 = 1_000;
pub const BACKOFF_MAX_MS: u64 = 60_000;

/// Who is on the other end of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortKind {
    /// A content script; `origin` is derived from the browser's sender record (None: no http(s) origin).
    Page { origin: Option<String>, url: String },
    Popup,
    PinWindow,
}

/// What the glue must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `connectNative(jp.kagi.host)` (replacing any current port).
    ConnectHost,
    /// Drop the native port (it did not say hello).
    DisconnectHost,
    ToHost(Value),
    ToPort(PortId, Value),
    /// Open `pin.html?session=<id>` in its own window.
    OpenPinWindow { session: u64 },
    /// Remember the bank page that uses Kagi (the popup links to it for renewal).
    RememberBankPage { url: String },
}

/// The connection to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// Not tried yet.
    Idle,
    /// `connectNative` called, waiting for the hello.
    Connecting { hello_deadline: u64 },
    /// Hello received.
    Ready { version: String },
    /// Missing or died; next attempt at `retry_at`.
    Unavailable { retry_at: u64, ever_ready: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// A `status` asked by a page or the popup.
    Status { port: PortId, req: Value },
    /// The `status` an interactive session runs before opening the PIN window.
    Preflight { session: u64 },
    /// The session's host operation (authenticate / enroll.begin / enroll.finish).
    Session { session: u64 },
}

#[derive(Debug)]
struct Pending {
    deadline: u64,
    purpose: Purpose,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Login { nonce: Nonce },
    Enroll { algorithm: KeyAlgorithm },
}

/// Where an interactive session is. The customer's phases (`Confirm`, `Pin`) have no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preflight,
    Confirm,
    Pin,
    /// The host verifies the PIN and signs / generates the key.
    Working,
    /// The page is getting the certificate from its CA.
    Issue,
    /// The host stores the certificate.
    Store,
    Done,
    Failed,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Confirm => "confirm",
            Phase::Pin => "pin",
            Phase::Working => "working",
            Phase::Issue => "issue",
            Phase::Store => "store",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
    fn user(self) -> bool {
        matches!(self, Phase::Confirm | Phase::Pin)
    }
    fn finished(self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }
}

#[derive(Debug)]
struct Session {
    id: u64,
    port: PortId,
    /// The page's id of the request the session currently answers.
    req: Value,
    origin: Origin,
    kind: Kind,
    phase: Phase,
    retries: Option<u8>,
    window: Option<PortId>,
    /// Last error, for the window (`{code, retries?}`).
    error: Option<Value>,
    certificate: Option<Value>,
    deadline: Option<u64>,
}

#[derive(Debug)]
struct QueuedRequest {
    port: PortId,
    req: Value,
    cmd: String,
    args: Value,
}

#[derive(Debug)]
struct PortInfo {
    kind: PortKind,
    subscribed: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Broker {
    host: HostState,
    backoff_ms: u64,
    next_id: u64,
    pending: BTreeMap<u64, Pending>,
    queued: Vec<QueuedRequest>,
    ports: BTreeMap<PortId, PortInfo>,
    session: Option<Session>,
    next_session: u64,
    allow: Allowlist,
}

fn error(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}

fn reply_ok(req: &Value, result: Value) -> Value {
    json!({"type": "reply", "id": req, "result": result})
}

fn reply_err(req: &Value, err: Value) -> Value {
    json!({"type": "reply", "id": req, "error": err})
}

fn no_host_status() -> Value {
    json!({"host": "HOST_NOT_INSTALLED", "readers": [], "token": null})
}

fn code_of(err: &Value) -> &str {
    err.get("code").and_then(Value::as_str).unwrap_or("INTERNAL")
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new()
    }
}

impl Broker {
    pub fn new() -> Broker {
        Broker {
            host: HostState::Idle,
            backoff_ms: BACKOFF_MIN_MS,
            next_id: 1,
            pending: BTreeMap::new(),
            queued: Vec::new(),
            ports: BTreeMap::new(),
            session: None,
            next_session: 1,
            allow: Allowlist::default(),
        }
    }

    pub fn host_state(&self) -> &HostState {
        &self.host
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allow
    }

    pub fn set_allowlist(&mut self, allow: Allowlist) {
        self.allow = allow;
    }

    /// Starts the host connection (service worker start).
    pub fn start(&mut self, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        self.connect(now, &mut out);
        out
    }

    fn connect(&mut self, now: u64, out: &mut Vec<Effect>) {
        self.host = HostState::Connecting { hello_deadline: now + HELLO_TIMEOUT_MS };
        out.push(Effect::ConnectHost);
    }

    /// The earliest moment [`Broker::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        let mut d: Vec<u64> = self.pending.values().map(|p| p.deadline).collect();
        match self.host {
            HostState::Connecting { hello_deadline } => d.push(hello_deadline),
            HostState::Unavailable { retry_at, .. } => d.push(retry_at),
            _ => {}
        }
        if let Some(s) = self.session.as_ref().and_then(|s| s.deadline) {
            d.push(s);
        }
        d.into_iter().min()
    }

    // ----- ports -------------------------------------------------------------------------------

    pub fn port_connected(&mut self, port: PortId, kind: PortKind) -> Vec<Effect> {
        let popup = kind == PortKind::Popup;
        self.ports.insert(port, PortInfo { kind, subscribed: popup });
        let mut out = Vec::new();
        if popup {
            out.push(Effect::ToPort(port, self.host_note()));
        }
        out
    }

    /// `{type:"host", host, version}` for the popup.
    fn host_note(&self) -> Value {
        match &self.host {
            HostState::Ready { version } => json!({"type": "host", "host": "ok", "version": version}),
            HostState::Unavailable { .. } => json!({"type": "host", "host": "HOST_NOT_INSTALLED"}),
            _ => json!({"type": "host", "host": "connecting"}),
        }
    }

    pub fn port_disconnected(&mut self, port: PortId, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        self.ports.remove(&port);
        self.queued.retain(|q| q.port != port);
        let Some(s) = self.session.as_mut() else { return out };
        if s.port == port {
            // The bank tab went away: nobody is left to receive the result.
            if s.phase.user() || s.phase == Phase::Preflight || s.phase == Phase::Issue {
                let w = s.window;
                s.phase = Phase::Failed;
                s.error = Some(error("CANCELLED", "the bank page was closed"));
                if let Some(w) = w {
                    out.push(Effect::ToPort(w, self.window_view()));
                }
                self.session = None;
            }
        } else if s.window == Some(port) {
            s.window = None;
            if s.phase.user() || s.phase == Phase::Preflight {
                // Closing the PIN window is a cancel.
                self.fail_session(error("CANCELLED", "the customer closed the PIN window"), &mut out);
            } else if s.phase.finished() {
                self.session = None;
            }
        }
        let _ = now;
        out
    }

    /// The PIN window for `session` could not be opened.
    pub fn window_failed(&mut self, session: u64, _now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        if self.session.as_ref().is_some_and(|s| s.id == session && s.window.is_none()) {
            self.fail_session(error("INTERNAL", "the PIN window could not be opened"), &mut out);
        }
        out
    }

    /// A message from a port.
    pub fn port_message(&mut self, port: PortId, msg: Value, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(info) = self.ports.get_mut(&port) else { return out };
        let kind = info.kind.clone();
        let ty = msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
        match (kind, ty.as_str()) {
            (PortKind::Page { .. } | PortKind::Popup, "subscribe") => {
                info.subscribed = true;
            }
            (PortKind::Page { .. } | PortKind::Popup, "request") => {
                let req = msg.get("id").cloned().unwrap_or(Value::Null);
                let cmd = msg.get("cmd").and_then(Value::as_str).unwrap_or("").to_owned();
                let args = msg.get("args").cloned().unwrap_or_else(|| json!({}));
                self.page_request(port, req, cmd, args, now, &mut out);
            }
            (PortKind::PinWindow, _) => self.window_message(port, msg, now, &mut out),
            _ => {}
        }
        out
    }

    fn page_request(&mut self, port: PortId, req: Value, cmd: String, args: Value, now: u64, out: &mut Vec<Effect>) {
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
                    None => {
                        let shown = origin.clone().unwrap_or_else(|| "(none)".into());
                        out.push(Effect::ToPort(port, reply_err(&req, error("ORIGIN_NOT_ALLOWED", &format!("{shown} is not a bank origin Kagi serves")))));
                        return;
                    }
                }
            }
            PortKind::Popup if cmd == "status" => None,
            _ => {
                out.push(Effect::ToPort(port, reply_err(&req, error("ORIGIN_NOT_ALLOWED", "not a page request"))));
                return;
            }
        };
        // Page-side steps of an acquisition do not need a fresh host connection check here:
        // they go through the session.
        match &self.host {
            HostState::Ready { .. } => {}
            HostState::Connecting { .. } => {
                self.queued.push(QueuedRequest { port, req, cmd, args });
                return;
            }
            HostState::Idle | HostState::Unavailable { .. } => {
                // Try again now: the customer may have just installed the host.
                self.queued.push(QueuedRequest { port, req, cmd, args });
                self.connect(now, out);
                return;
            }
        }
        match cmd.as_str() {
            "status" => {
                self.send_host(Command::Status, Purpose::Status { port, req }, now, out);
            }
            "authenticate" | "enroll.begin" => {
                let Some(origin) = origin else { return };
                let kind = if cmd == "authenticate" {
                    match args.get("nonce").and_then(Value::as_str).map(Nonce::parse) {
                        Some(Ok(nonce)) => Kind::Login { nonce },
                        _ => {
                            out.push(Effect::ToPort(port, reply_err(&req, error("BAD_REQUEST", "nonce must be base64url of at least 32 bytes"))));
                            return;
                        }
                    }
                } else {
                    let algorithm = match args.get("algorithm").and_then(Value::as_str).unwrap_or("P-256") {
                        "P-256" => KeyAlgorithm::P256,
                        "RSA-2048" => KeyAlgorithm::Rsa2048,
                        _ => {
                            out.push(Effect::ToPort(port, reply_err(&req, error("BAD_REQUEST", "algorithm must be P-256 or RSA-2048"))));
                            return;
                        }
                    };
                    Kind::Enroll { algorithm }
                };
                if let Some(s) = &self.session {
                    if !s.phase.finished() {
                        out.push(Effect::ToPort(port, reply_err(&req, error("BUSY", "another request is using the token"))));
                        return;
                    }
                }
                let id = self.next_session;
                self.next_session += 1;
                self.session = Some(Session {
                    id,
                    port,
                    req,
                    origin,
                    kind,
                    phase: Phase::Preflight,
                    retries: None,
                    window: None,
                    error: None,
                    certificate: None,
                    deadline: None,
                });
                self.send_host(Command::Status, Purpose::Preflight { session: id }, now, out);
            }
            "enroll.finish" | "enroll.abort" => {
                let Some(origin) = origin else { return };
                let enrollment = args.get("enrollment").and_then(Value::as_str).and_then(|s| s.parse::<u64>().ok());
                let matches = self.session.as_ref().is_some_and(|s| {
                    Some(s.id) == enrollment && s.port == port && s.origin == origin && s.phase == Phase::Issue
                });
                if !matches {
                    out.push(Effect::ToPort(port, reply_err(&req, error("NO_ENROLLMENT", "no certificate acquisition is waiting for this page"))));
                    return;
                }
                if cmd == "enroll.abort" {
                    let code = args.get("code").and_then(Value::as_str).unwrap_or("ISSUE_FAILED");
                    let code = if code == "CANCELLED" { "CANCELLED" } else { "ISSUE_FAILED" };
                    out.push(Effect::ToPort(port, reply_ok(&req, json!({}))));
                    self.fail_session_quietly(error(code, "the bank page could not get the certificate"), out);
                    return;
                }
                let Some(certificate) = args.get("certificate").and_then(Value::as_str).map(str::to_owned) else {
                    out.push(Effect::ToPort(port, reply_err(&req, error("BAD_REQUEST", "certificate must be a base64 string"))));
                    return;
                };
                let Some(s) = self.session.as_mut() else { return };
                s.req = req;
                s.phase = Phase::Store;
                s.deadline = None;
                let sid = s.id;
                let origin = s.origin.clone();
                self.update_window(out);
                self.progress(out);
                self.send_host(Command::EnrollFinish { origin, certificate }, Purpose::Session { session: sid }, now, out);
            }
            _ => {
                out.push(Effect::ToPort(port, reply_err(&req, error("BAD_REQUEST", &format!("unknown command `{cmd}`")))));
            }
        }
    }

    fn send_host(&mut self, command: Command, purpose: Purpose, now: u64, out: &mut Vec<Effect>) {
        let id = self.next_id;
        self.next_id += 1;
        let deadline = now + host_timeout_ms(command.name());
        out.push(Effect::ToHost(Request { id, command }.to_json()));
        self.pending.insert(id, Pending { deadline, purpose });
    }

    // ----- the PIN window ----------------------------------------------------------------------

    fn window_message(&mut self, port: PortId, mut msg: Value, now: u64, out: &mut Vec<Effect>) {
        let ty = msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
        if ty == "attach" {
            let want = msg.get("session").and_then(Value::as_u64);
            match self.session.as_mut() {
                Some(s) if Some(s.id) == want && s.window.is_none() => {
                    s.window = Some(port);
                    self.update_window(out);
                }
                _ => out.push(Effect::ToPort(port, json!({"type": "view", "phase": "gone"}))),
            }
            return;
        }
        let Some(s) = self.session.as_mut() else { return };
        if s.window != Some(port) {
            return;
        }
        match (ty.as_str(), s.phase) {
            ("cancel", p) if p.user() => {
                self.fail_session(error("CANCELLED", "the customer cancelled"), out);
            }
            ("confirm", Phase::Confirm) => {
                s.phase = Phase::Pin;
                self.update_window(out);
                self.progress(out);
            }
            ("pin", Phase::Pin) => {
                // Move the PIN out of the message into a zeroizing holder at once.
                let pin = match msg.get_mut("pin").map(Value::take) {
                    Some(Value::String(p)) => Pin::new(p),
                    _ => return,
                };
                let ok = (6..=8).contains(&pin.expose().len()) && pin.expose().bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    s.error = Some(json!({"code": "PIN_FORMAT"}));
                    self.update_window(out);
                    return;
                }
                s.phase = Phase::Working;
                s.error = None;
                let command = match &s.kind {
                    Kind::Login { nonce } => Command::Authenticate { origin: s.origin.clone(), nonce: nonce.clone(), pin },
                    Kind::Enroll { algorithm } => Command::EnrollBegin { origin: s.origin.clone(), pin, algorithm: *algorithm },
                };
                let sid = s.id;
                self.update_window(out);
                self.progress(out);
                self.send_host(command, Purpose::Session { session: sid }, now, out);
            }
            _ => {}
        }
    }

    /// `{type:"view", ...}`: everything the PIN window shows.
    fn window_view(&self) -> Value {
        let Some(s) = &self.session else { return json!({"type": "view", "phase": "gone"}) };
        let purpose = match s.kind {
            Kind::Login { .. } => "login",
            Kind::Enroll { .. } => "enroll",
        };
        json!({
            "type": "view",
            "session": s.id,
            "purpose": purpose,
            "origin": s.origin.as_str(),
            "phase": s.phase.name(),
            "retries": s.retries,
            "error": s.error,
            "certificate": s.certificate,
        })
    }

    fn update_window(&self, out: &mut Vec<Effect>) {
        if let Some(w) = self.session.as_ref().and_then(|s| s.window) {
            out.push(Effect::ToPort(w, self.window_view()));
        }
    }

    /// Tells the page where its pending request is; user phases suspend its timer.
    fn progress(&self, out: &mut Vec<Effect>) {
        let Some(s) = &self.session else { return };
        let step = match (s.phase, &s.kind) {
            (Phase::Confirm, _) => "confirm",
            (Phase::Pin, _) => "pin",
            (Phase::Working, Kind::Login { .. }) => "sign",
            (Phase::Working, Kind::Enroll { .. }) => "generate",
            (Phase::Store, _) => "store",
            _ => return,
        };
        out.push(Effect::ToPort(s.port, json!({"type": "progress", "id": s.req, "step": step, "waitingForUser": s.phase.user()})));
    }

    /// Ends the session with an error for the page and the window.
    fn fail_session(&mut self, err: Value, out: &mut Vec<Effect>) {
        if let Some(s) = &self.session {
            out.push(Effect::ToPort(s.port, reply_err(&s.req, err.clone())));
        }
        self.fail_session_quietly(err, out);
    }

    /// Ends the session with an error shown in the window only (the page already has its answer).
    fn fail_session_quietly(&mut self, err: Value, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut() else { return };
        s.phase = Phase::Failed;
        s.deadline = None;
        s.error = Some(json!({"code": code_of(&err), "retries": err.get("retries")}));
        self.update_window(out);
        if self.session.as_ref().is_some_and(|s| s.window.is_none()) {
            self.session = None;
        }
    }

    // ----- the host ----------------------------------------------------------------------------

    /// A message from the native host.
    pub fn host_message(&mut self, msg: Value, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        match msg.get("type").and_then(Value::as_str) {
            Some("hello") => {
                let version = msg.get("hostVersion").and_then(Value::as_str).unwrap_or("?").to_owned();
                self.host = HostState::Ready { version };
                self.backoff_ms = BACKOFF_MIN_MS;
                self.broadcast_host_note(&mut out);
                for q in std::mem::take(&mut self.queued) {
                    self.page_request(q.port, q.req, q.cmd, q.args, now, &mut out);
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
        let reader = msg.get("reader").cloned().unwrap_or(Value::Null);
        let page_event = match event {
            "inserted" => Some(json!({"type": "inserted", "reader": reader, "token": msg.get("token").cloned().unwrap_or(Value::Null)})),
            "removed" => Some(json!({"type": "removed", "reader": reader, "token": null})),
            _ => None,
        };
        for (&port, info) in &self.ports {
            if !info.subscribed {
                continue;
            }
            match &info.kind {
                PortKind::Popup => out.push(Effect::ToPort(port, json!({"type": "event", "event": msg}))),
                PortKind::Page { origin, .. } => {
                    let allowed = origin.as_deref().is_some_and(|o| self.allow.allows(o));
                    if let (true, Some(ev)) = (allowed, &page_event) {
                        out.push(Effect::ToPort(port, json!({"type": "event", "event": ev})));
                    }
                }
                PortKind::PinWindow => {}
            }
        }
    }

    fn broadcast_host_note(&self, out: &mut Vec<Effect>) {
        let note = self.host_note();
        for (&port, info) in &self.ports {
            if info.kind == PortKind::Popup {
                out.push(Effect::ToPort(port, note.clone()));
            }
        }
    }

    fn complete(&mut self, purpose: Purpose, result: Result<Value, Value>, now: u64, out: &mut Vec<Effect>) {
        match purpose {
            Purpose::Status { port, req } => {
                let msg = match result {
                    Ok(mut r) => {
                        if let Value::Object(m) = &mut r {
                            m.insert("host".into(), json!("ok"));
                        }
                        reply_ok(&req, r)
                    }
                    Err(e) if code_of(&e) == "PCSC_UNAVAILABLE" => reply_ok(&req, json!({"host": "PCSC_UNAVAILABLE", "readers": [], "token": null})),
                    Err(e) if code_of(&e) == "HOST_NOT_INSTALLED" => reply_ok(&req, no_host_status()),
                    Err(e) => reply_err(&req, e),
                };
                out.push(Effect::ToPort(port, msg));
            }
            Purpose::Preflight { session } => {
                if self.session.as_ref().map(|s| s.id) != Some(session) {
                    return;
                }
                let status = match result {
                    Ok(s) => s,
                    Err(e) => return self.fail_session(e, out),
                };
                let token = status.get("token").filter(|t| !t.is_null());
                let Some(token) = token else {
                    let readers = status.get("readers").and_then(Value::as_array).map_or(0, Vec::len);
                    let code = if readers == 0 { "NO_READER" } else { "TOKEN_ABSENT" };
                    return self.fail_session(error(code, "no token inserted"), out);
                };
                let retries = token.get("pinRetries").and_then(Value::as_u64).map(|r| r.min(255) as u8);
                let has_cert = token.get("certificate").is_some_and(|c| !c.is_null());
                let Some(s) = self.session.as_mut() else { return };
                if retries == Some(0) {
                    return self.fail_session(error("PIN_BLOCKED", "the PIN is blocked"), out);
                }
                if matches!(s.kind, Kind::Login { .. }) && !has_cert {
                    return self.fail_session(error("NO_CERTIFICATE", "the token holds no login certificate"), out);
                }
                s.retries = retries;
                s.phase = if matches!(s.kind, Kind::Enroll { .. }) { Phase::Confirm } else { Phase::Pin };
                out.push(Effect::OpenPinWindow { session });
                self.progress(out);
            }
            Purpose::Session { session } => {
                let Some(s) = self.session.as_mut().filter(|s| s.id == session) else { return };
                match (result, s.phase) {
                    (Ok(r), Phase::Working) if matches!(s.kind, Kind::Login { .. }) => {
                        out.push(Effect::ToPort(s.port, reply_ok(&s.req, r)));
                        s.phase = Phase::Done;
                        self.update_window(out);
                        if self.session.as_ref().is_some_and(|s| s.window.is_none()) {
                            self.session = None;
                        }
                    }
                    (Ok(mut r), Phase::Working) => {
                        // enroll.begin: hand the CSR to the page, which takes it to its CA.
                        if let Value::Object(m) = &mut r {
                            m.insert("enrollment".into(), json!(s.id.to_string()));
                        }
                        out.push(Effect::ToPort(s.port, reply_ok(&s.req, r)));
                        s.phase = Phase::Issue;
                        s.deadline = Some(now + ISSUE_TIMEOUT_MS);
                        self.update_window(out);
                    }
                    (Ok(r), Phase::Store) => {
                        s.certificate = r.get("certificate").cloned();
                        out.push(Effect::ToPort(s.port, reply_ok(&s.req, r)));
                        s.phase = Phase::Done;
                        self.update_window(out);
                        if self.session.as_ref().is_some_and(|s| s.window.is_none()) {
                            self.session = None;
                        }
                    }
                    (Err(e), Phase::Working) if code_of(&e) == "PIN_INCORRECT" || code_of(&e) == "PIN_FORMAT" => {
                        // Ask again in the same window; the page keeps waiting without a timeout.
                        if let Some(r) = e.get("retries").and_then(Value::as_u64) {
                            s.retries = Some(r.min(255) as u8);
                        }
                        s.error = Some(json!({"code": code_of(&e), "retries": s.retries}));
                        s.phase = Phase::Pin;
                        self.update_window(out);
                        self.progress(out);
                    }
                    (Err(e), _) => self.fail_session(e, out),
                    _ => {}
                }
            }
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
        let code = if was_ready { "INTERNAL" } else { "HOST_NOT_INSTALLED" };
        let msg = if was_ready { format!("the native host exited: {error_text}") } else { format!("the native host could not be started: {error_text}") };
        for (_, p) in std::mem::take(&mut self.pending) {
            self.complete(p.purpose, Err(error(code, &msg)), now, &mut out);
        }
        for q in std::mem::take(&mut self.queued) {
            let m = if q.cmd == "status" { reply_ok(&q.req, no_host_status()) } else { reply_err(&q.req, error("HOST_NOT_INSTALLED", &msg)) };
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

#[cfg(test)]
#[path = "broker_tests.rs"]
mod tests;
