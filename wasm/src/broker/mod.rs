//! The service worker's core, without I/O: one connection to the native host, requests matched
//! by id with per-command timeouts, origin checks, the interactive sessions (PIN window, choice of
//! certificate, new PIN, unblock, certificate acquisition) and the fan-out of host events. The glue
//! (`background.rs`) feeds it inputs with the current time and carries out the [`Effect`]s it
//! returns; the tests drive it directly.
//!
//! - `mod.rs` (here): the [`Broker`], its inputs from ports, and the [`Effect`]s.
//! - `host.rs`: the host connection (hello, backoff, timeouts), replies and events.
//! - `page.rs`: page and popup requests, parsed once into a typed [`page::PageRequest`].
//! - `flow.rs`: the interactive session (phases, PIN window view, remembered certificate choices).
//!
//! Ports are the extension's runtime ports: a content script on a bank page ([`PortKind::Page`],
//! with the origin the browser recorded for its tab), the popup, or a PIN window.

mod flow;
mod host;
mod page;
pub(crate) mod table;

use crate::json::Value;

use crate::json::json;

use crate::origin::Allowlist;
pub use flow::Phase;
use flow::{Choices, Session};
use page::PageRequest;
use table::Table;

pub type PortId = u32;

/// How long the host has for each command once the customer is done (PIN entry time excluded:
/// the clock starts when the PIN is sent). Key generation on the bank's tokens takes up to a minute.
pub fn host_timeout_ms(cmd: &str) -> u64 {
    match cmd {
        "status" => 10_000,
        "enroll.begin" => 180_000,
        "enroll.finish" => 120_000,
        // authenticate, pin.change, pin.unblock
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
    /// A content script; `origin` is derived from the browser's sender record
    /// ([`crate::origin::page_origin`]; None: refused, no http(s) origin of its own).
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
    /// Disconnect a port without a word: a content script on an origin Kagi does not serve
    /// (issue 11: the page must not learn that Kagi is installed).
    ClosePort(PortId),
    /// Open `pin.html?session=<id>` in its own window; `confirm`: a transaction confirmation,
    /// whose window is taller (the whole request is shown without ellipsis).
    OpenPinWindow { session: u64, confirm: bool },
    /// Remember the bank page that uses Kagi (the popup links to it for renewal).
    RememberBankPage { url: String },
    /// Store the validity of the bank certificate each bank page's status showed,
    /// `{origin: {notBefore, notAfter}}`: the toolbar badge and the popup warn in the renewal
    /// window without a bank page open (issue 15), as the popup alone, asking without the bank's
    /// issuers, never sees it. The value is what [`Broker::set_certificates`] takes back.
    SaveCertificates(Value),
    /// Store the customer's certificate choices (`storage.local`, never shown to pages); the
    /// value is what [`Broker::set_choices`] takes back.
    SaveChoices(Value),
}

/// The connection to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// Not tried yet.
    Idle,
    /// `connectNative` called, waiting for the hello.
    Connecting { hello_deadline: u64 },
    /// Hello received.
    Ready { version: String, protocol: u64 },
    /// Missing or died; next attempt at `retry_at`.
    Unavailable { retry_at: u64, ever_ready: bool },
}

/// Why a host request was sent, so its reply reaches the right place.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Purpose {
    /// A `status` asked by a page (`origin`, with the bank's issuers) or the popup (`None`).
    Status { port: PortId, req: Value, origin: Option<String> },
    /// `pin.change` / `pin.unblock` / `diagnose` from the popup: the reply passes through.
    PinOp { port: PortId, req: Value },
    /// The `status` an interactive session runs before (or again during) the PIN window.
    Preflight { session: u64 },
    /// The session's host operation (authenticate / enroll.begin / enroll.finish).
    Session { session: u64 },
    /// `pin.unblock` from the PIN window of a session.
    Unblock { session: u64 },
}

#[derive(Debug)]
struct Pending {
    deadline: u64,
    purpose: Purpose,
}

#[derive(Debug)]
struct QueuedRequest {
    port: PortId,
    req: Value,
    /// `Some` for an allowed bank page, `None` for the popup.
    origin: Option<kagi_proto::Origin>,
    request: PageRequest,
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
    pending: Table<u64, Pending>,
    queued: Vec<QueuedRequest>,
    ports: Table<PortId, PortInfo>,
    session: Option<Session>,
    next_session: u64,
    allow: Allowlist,
    choices: Choices,
    /// What the last [`Effect::SaveCertificates`] stored.
    certificates: Value,
}

pub(crate) fn error(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}

/// A parsed transaction as the flat JSON object of docs/protocol.md, every field in signing
/// order: what the host is sent and what the confirmation window shows, the same values.
fn tx_object(tx: &kagi_proto::tx::Transaction) -> Value {
    let mut m = crate::json::Map::new();
    for (name, value) in tx.fields() {
        m.insert(name.to_owned(), Value::from(value));
    }
    Value::Object(m)
}

fn reply_ok(req: &Value, result: Value) -> Value {
    json!({"type": "reply", "id": req, "result": result})
}

fn reply_err(req: &Value, err: Value) -> Value {
    json!({"type": "reply", "id": req, "error": err})
}

/// The status a page or the popup gets when the host cannot say (`host` is the reason).
fn empty_status(host: &str) -> Value {
    json!({"host": host, "readers": [], "tokens": [], "token": null})
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
            pending: Table::default(),
            queued: Vec::new(),
            ports: Table::default(),
            session: None,
            next_session: 1,
            allow: Allowlist::default(),
            choices: Choices::default(),
            certificates: Value::Null,
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

    /// The certificate choices stored by an earlier [`Effect::SaveChoices`].
    pub fn set_choices(&mut self, stored: &Value) {
        self.choices = Choices::from_value(stored);
    }

    /// The bank certificates stored by an earlier [`Effect::SaveCertificates`].
    pub fn set_certificates(&mut self, stored: &Value) {
        self.certificates = stored.clone();
    }

    /// `{origin: {notBefore, notAfter}}` of the bank certificates the bank pages last showed.
    pub fn certificates(&self) -> &Value {
        &self.certificates
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

    /// A new port. A content script's port is answered `welcome` when its origin is allowed,
    /// else closed without a message: the content script says nothing to the page until it is
    /// welcomed (it asks again later, for a policy that arrives after the page loaded).
    pub fn port_connected(&mut self, port: PortId, kind: PortKind) -> Vec<Effect> {
        let mut out = Vec::new();
        match &kind {
            PortKind::Popup => out.push(Effect::ToPort(port, self.host_note())),
            PortKind::Page { origin, .. } if self.page_allowed(origin) => out.push(Effect::ToPort(port, json!({"type": "welcome"}))),
            PortKind::Page { .. } => return vec![Effect::ClosePort(port)],
            PortKind::PinWindow => {}
        }
        let popup = kind == PortKind::Popup;
        self.ports.insert(port, PortInfo { kind, subscribed: popup });
        out
    }

    /// Whether a content script's origin is served now (the allowlist can change at any time).
    fn page_allowed(&self, origin: &Option<String>) -> bool {
        origin.as_deref().is_some_and(|o| self.allow.allows(o))
    }

    pub fn port_disconnected(&mut self, port: PortId, _now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        self.ports.remove(&port);
        self.queued.retain(|q| q.port != port);
        self.session_port_gone(port, &mut out);
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
    pub fn port_message(&mut self, port: PortId, mut msg: Value, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(info) = self.ports.get_mut(&port) else { return out };
        let kind = info.kind.clone();
        match (kind, msg.get("type").and_then(Value::as_str)) {
            (PortKind::Page { .. } | PortKind::Popup, Some("subscribe")) => {
                info.subscribed = true;
            }
            (PortKind::Page { .. } | PortKind::Popup, Some("request")) => {
                let req = msg.get("id").cloned().unwrap_or(Value::Null);
                let cmd = msg.get("cmd").and_then(Value::as_str).unwrap_or("").to_owned();
                let mut args = msg.get_mut("args").map(Value::take).unwrap_or(Value::Null);
                self.page_request(port, req, &cmd, &mut args, now, &mut out);
            }
            (PortKind::PinWindow, _) => self.window_message(port, msg, now, &mut out),
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests;
