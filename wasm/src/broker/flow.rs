//! The interactive session: one log-on or acquisition at a time, from the preflight `status`
//! through the PIN window to the host's answer.
//!
//! Kinds: a log-on, a transaction confirmation (issue 16: the window shows the parsed `tx`
//! and the PIN signs exactly it, `kagi-tx:1`; otherwise as a log-on) and an acquisition.
//!
//! Phases: `preflight` (status with the bank's issuers) → `choose` (several of the bank's
//! certificates or tokens: the customer picks one; remembered per origin) → `confirm`
//! (acquisition only) → `pin` (with a new PIN, twice, when the token still has the factory PIN) →
//! `working` → for an acquisition `issue` (the page's CA) → `store` → `done`. A blocked PIN goes
//! to `blocked`, where the window offers the unblock with the PUK (`unblocking`) and then asks for
//! the new PIN. The customer's phases have no timeout. The PIN window only renders the view this
//! module computes and sends the customer's input back.
//!
//! Remembered choices: per bank origin, the SHA-256 of the certificate the customer picked and
//! the token (GUID, reader) that held it. A choice is forgotten when a status for that origin
//! shows that token without that certificate (replaced by a renewal or deleted); a token merely
//! pulled out keeps it, so a customer who removes the token after each session is not asked again.

use kagi_proto::tx::Transaction;
use kagi_proto::{CertId, Command, Issuers, KeyAlgorithm, Nonce, Origin, Pin};
use crate::json::Value;

use crate::json::json;

use super::page::{pin_shape_ok, puk_shape_ok, take_new_pin, take_pin};
use super::table::Table;
use super::{code_of, error, reply_err, reply_ok, Broker, Effect, PortId, Purpose, ISSUE_TIMEOUT_MS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Login { nonce: Nonce },
    /// A transaction to confirm: `tx` was checked by kagi-proto's parser before the session began.
    Confirm { nonce: Nonce, tx: Box<Transaction> },
    Enroll { algorithm: KeyAlgorithm },
}

/// How long the confirmation window ignores the customer's input after it opened (issue 16):
/// keys held down or clicks aimed at the bank page as the window appears must not confirm.
pub const CONFIRM_INPUT_DELAY_MS: u64 = 1_000;

/// Where an interactive session is. The customer's phases (`Choose`, `Confirm`, `Pin`,
/// `Blocked`) have no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Preflight,
    Choose,
    Confirm,
    Pin,
    /// The host verifies the PIN and signs / generates the key.
    Working,
    /// The PIN is blocked: the window offers the unblock with the PUK.
    Blocked,
    /// The host resets the PIN with the PUK.
    Unblocking,
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
            Phase::Choose => "choose",
            Phase::Confirm => "confirm",
            Phase::Pin => "pin",
            Phase::Working => "working",
            Phase::Blocked => "blocked",
            Phase::Unblocking => "unblocking",
            Phase::Issue => "issue",
            Phase::Store => "store",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
    fn user(self) -> bool {
        matches!(self, Phase::Choose | Phase::Confirm | Phase::Pin | Phase::Blocked)
    }
    fn finished(self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }
}

fn small(v: Option<&Value>) -> Option<u8> {
    v.and_then(Value::as_u64).map(|r| r.min(255) as u8)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// A token of the preflight status, with the bank's certificate on it if any.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    reader: String,
    guid: Option<String>,
    /// SHA-256 of the bank's certificate on this token.
    sha256: Option<String>,
    organization: Option<String>,
    common_name: Option<String>,
    not_after: Option<String>,
    pin_retries: Option<u8>,
    puk_retries: Option<u8>,
    pin_default: bool,
    /// `factory`, `pinProtected` or `unknown`.
    management_key: String,
}

impl Candidate {
    fn from_token(t: &Value) -> Option<Candidate> {
        let cert = t.get("certificate").filter(|c| c.is_object()).unwrap_or(&Value::Null);
        Some(Candidate {
            reader: text(t.get("reader")?)?,
            guid: t.get("guid").and_then(text),
            sha256: cert.get("sha256").and_then(text),
            organization: text(&cert["subject"]["organization"]),
            common_name: text(&cert["subject"]["commonName"]),
            not_after: cert.get("notAfter").and_then(text),
            pin_retries: small(t.get("pinRetries")),
            puk_retries: small(t.get("pukRetries")),
            pin_default: t.get("pinDefault").and_then(Value::as_bool).unwrap_or(false),
            management_key: t.get("managementKey").and_then(text).unwrap_or_else(|| "unknown".into()),
        })
    }

    /// What the PIN window lists for a choice.
    fn view(&self) -> Value {
        json!({
            "reader": self.reader,
            "organization": self.organization,
            "commonName": self.common_name,
            "notAfter": self.not_after,
            "hasCertificate": self.sha256.is_some(),
        })
    }

    fn same_token(&self, c: &Choice) -> bool {
        match (&self.guid, &c.guid) {
            (Some(a), Some(b)) => a == b,
            _ => self.reader == c.reader,
        }
    }
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) id: u64,
    port: PortId,
    /// The page's id of the request the session currently answers.
    req: Value,
    origin: Origin,
    kind: Kind,
    issuers: Issuers,
    phase: Phase,
    candidates: Vec<Candidate>,
    chosen: Option<usize>,
    retries: Option<u8>,
    puk_retries: Option<u8>,
    /// The window asks for a new PIN (twice) with the PIN: factory PIN on an acquisition.
    new_pin: bool,
    /// The PIN was just reset with the PUK (the window says so above the PIN field).
    unblocked: bool,
    pub(super) window: Option<PortId>,
    window_opened: bool,
    /// When the window attached (the confirmation's input delay counts from there).
    window_at: u64,
    /// Last error, for the window (`{code, retries?}`).
    error: Option<Value>,
    certificate: Option<Value>,
    pub(super) deadline: Option<u64>,
}

impl Session {
    fn candidate(&self) -> Option<&Candidate> {
        self.chosen.and_then(|i| self.candidates.get(i))
    }
}

/// One remembered choice (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    sha256: String,
    guid: Option<String>,
    reader: String,
}

/// Remembered certificate choices, per bank origin.
#[derive(Debug, Default)]
pub(super) struct Choices(Table<String, Choice>);

impl Choices {
    /// From the stored form `{"<origin>": {sha256, guid, reader}}`; malformed entries are dropped.
    pub(super) fn from_value(v: &Value) -> Choices {
        let mut m = Table::default();
        for (origin, c) in v.as_object().into_iter().flatten() {
            if let (Some(sha256), Some(reader)) = (c.get("sha256").and_then(text), c.get("reader").and_then(text)) {
                m.insert(origin.clone(), Choice { sha256, guid: c.get("guid").and_then(text), reader });
            }
        }
        Choices(m)
    }

    fn to_value(&self) -> Value {
        let mut m = crate::json::Map::new();
        for (origin, c) in self.0.iter() {
            m.insert(origin.clone(), json!({"sha256": c.sha256, "guid": c.guid, "reader": c.reader}));
        }
        Value::Object(m)
    }
}

impl Broker {
    // ----- starting and the preflight ----------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub(super) fn begin_session(&mut self, port: PortId, req: Value, origin: Origin, kind: Kind, issuers: Issuers, now: u64, out: &mut Vec<Effect>) {
        if self.session.as_ref().is_some_and(|s| !s.phase.finished()) {
            out.push(Effect::ToPort(port, reply_err(&req, error("BUSY", "another request is using the token"))));
            return;
        }
        let id = self.next_session;
        self.next_session += 1;
        let status = Command::Status { issuers: Some(issuers.clone()) };
        self.session = Some(Session {
            id,
            port,
            req,
            origin,
            kind,
            issuers,
            phase: Phase::Preflight,
            candidates: Vec::new(),
            chosen: None,
            retries: None,
            puk_retries: None,
            new_pin: false,
            unblocked: false,
            window: None,
            window_opened: false,
            window_at: 0,
            error: None,
            certificate: None,
            deadline: None,
        });
        self.send_host(status, Purpose::Preflight { session: id }, now, out);
    }

    /// The preflight status: which token, whether to ask the customer to choose, and whether the
    /// window opens at all (no token, no certificate: answered at once).
    pub(super) fn preflight_done(&mut self, session: u64, result: Result<Value, Value>, _now: u64, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_ref().filter(|s| s.id == session) else { return };
        let status = match result {
            Ok(s) => s,
            Err(e) => return self.fail_session(e, out),
        };
        let tokens = status.get("tokens").and_then(Value::as_array).cloned().unwrap_or_default();
        let origin = s.origin.as_str().to_owned();
        let login = !matches!(s.kind, Kind::Enroll { .. });
        self.review_choice(&origin, &tokens, out);
        let all: Vec<Candidate> = tokens.iter().filter_map(Candidate::from_token).collect();
        if all.is_empty() {
            let readers = status.get("readers").and_then(Value::as_array).map_or(0, Vec::len);
            let code = if readers == 0 { "NO_READER" } else { "TOKEN_ABSENT" };
            return self.fail_session(error(code, "no token inserted"), out);
        }
        let with_cert = all.iter().filter(|c| c.sha256.is_some()).count();
        // A log-on chooses among the bank's certificates; an acquisition among tokens.
        let candidates: Vec<Candidate> = if login { all.into_iter().filter(|c| c.sha256.is_some()).collect() } else { all };
        if candidates.is_empty() {
            return self.fail_session(error("NO_CERTIFICATE", "the token holds none of the bank's certificates"), out);
        }
        let remembered = self.choices.0.get(origin.as_str()).map(|c| c.sha256.clone());
        let by_choice = candidates.iter().position(|c| c.sha256.is_some() && c.sha256 == remembered);
        let chosen = if with_cert == 1 {
            candidates.iter().position(|c| c.sha256.is_some())
        } else if by_choice.is_some() {
            by_choice
        } else if candidates.len() == 1 {
            Some(0)
        } else {
            None
        };
        let Some(s) = self.session.as_mut() else { return };
        s.candidates = candidates;
        s.error = None;
        match chosen {
            Some(i) => self.use_candidate(i, out),
            None => s.phase = Phase::Choose,
        }
        let Some(s) = self.session.as_mut().filter(|s| s.id == session && !s.phase.finished()) else { return };
        if !s.window_opened {
            s.window_opened = true;
            out.push(Effect::OpenPinWindow { session, confirm: matches!(s.kind, Kind::Confirm { .. }) });
        }
        self.update_window(out);
        self.progress(out);
    }

    /// Goes on with candidate `i`: blocked PIN, unusable management key, or the next step.
    fn use_candidate(&mut self, i: usize, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut() else { return };
        let Some(c) = s.candidates.get(i).cloned() else { return };
        let enroll = matches!(s.kind, Kind::Enroll { .. });
        s.chosen = Some(i);
        s.retries = c.pin_retries;
        s.puk_retries = c.puk_retries;
        s.new_pin = enroll && c.pin_default;
        if c.pin_retries == Some(0) {
            s.phase = Phase::Blocked;
            s.error = Some(json!({"code": "PIN_BLOCKED"}));
        } else if enroll && c.management_key == "unknown" {
            self.fail_session(error("MANAGEMENT_KEY_UNKNOWN", "Kagi cannot write to this token"), out);
        } else {
            s.phase = if enroll { Phase::Confirm } else { Phase::Pin };
        }
    }

    // ----- remembered choices ------------------------------------------------------------------

    /// Forgets `origin`'s choice when `tokens` (a status with that origin's issuers) show the
    /// token that held the chosen certificate without it.
    pub(super) fn review_choice(&mut self, origin: &str, tokens: &[Value], out: &mut Vec<Effect>) {
        let Some(c) = self.choices.0.get(origin) else { return };
        let gone = tokens.iter().filter_map(Candidate::from_token).any(|t| t.same_token(c) && t.sha256.as_deref() != Some(&c.sha256));
        if gone {
            self.choices.0.remove(origin);
            out.push(Effect::SaveChoices(self.choices.to_value()));
        }
    }

    fn remember_choice(&mut self, origin: &str, c: &Candidate, out: &mut Vec<Effect>) {
        let Some(sha256) = c.sha256.clone() else { return };
        let choice = Choice { sha256, guid: c.guid.clone(), reader: c.reader.clone() };
        if self.choices.0.get(origin) != Some(&choice) {
            self.choices.0.insert(origin.to_owned(), choice);
            out.push(Effect::SaveChoices(self.choices.to_value()));
        }
    }

    // ----- the PIN window ----------------------------------------------------------------------

    pub(super) fn window_message(&mut self, port: PortId, mut msg: Value, now: u64, out: &mut Vec<Effect>) {
        let ty = msg.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
        if ty == "attach" {
            let want = msg.get("session").and_then(Value::as_u64);
            match self.session.as_mut() {
                Some(s) if Some(s.id) == want && s.window.is_none() => {
                    s.window = Some(port);
                    s.window_at = now;
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
            ("cancel", p) if p.user() => self.cancel_session("the customer cancelled", out),
            ("choose", Phase::Choose) => {
                let Some(i) = msg.get("index").and_then(Value::as_u64).map(|i| i as usize).filter(|&i| i < s.candidates.len()) else { return };
                let origin = s.origin.as_str().to_owned();
                let c = s.candidates[i].clone();
                s.error = None;
                self.remember_choice(&origin, &c, out);
                self.use_candidate(i, out);
                self.update_window(out);
                self.progress(out);
            }
            ("confirm", Phase::Confirm) => {
                s.phase = Phase::Pin;
                self.update_window(out);
                self.progress(out);
            }
            ("pin", Phase::Pin) => {
                // Move the PINs out of the message into zeroizing holders at once.
                let pin = take_pin(&mut msg, "pin").filter(pin_shape_ok);
                if matches!(s.kind, Kind::Confirm { .. }) && now < s.window_at + CONFIRM_INPUT_DELAY_MS {
                    // Too soon to be the customer's considered answer: dropped (the PIN with it),
                    // the window shown again as it was.
                    drop(pin);
                    return self.update_window(out);
                }
                let new_pin = if s.new_pin { Some(take_new_pin(&mut msg)) } else { None };
                let Some(pin) = pin else { return self.window_error("PIN_FORMAT", out) };
                let new_pin = match new_pin {
                    Some(Err(code)) => return self.window_error(code, out),
                    Some(Ok(p)) => Some(p),
                    None => None,
                };
                let Some(command) = session_command(s, pin, new_pin) else { return };
                s.phase = Phase::Working;
                s.error = None;
                let sid = s.id;
                self.update_window(out);
                self.progress(out);
                self.send_host(command, Purpose::Session { session: sid }, now, out);
            }
            ("unblock", Phase::Blocked) => {
                let puk = take_pin(&mut msg, "puk").filter(puk_shape_ok);
                let new_pin = take_new_pin(&mut msg);
                let Some(puk) = puk else { return self.window_error("PUK_FORMAT", out) };
                let new_pin = match new_pin {
                    Ok(p) => p,
                    Err(code) => return self.window_error(code, out),
                };
                let reader = s.candidate().map(|c| c.reader.clone());
                s.phase = Phase::Unblocking;
                s.error = None;
                let sid = s.id;
                self.update_window(out);
                self.progress(out);
                self.send_host(Command::PinUnblock { puk, new_pin, reader }, Purpose::Unblock { session: sid }, now, out);
            }
            _ => {}
        }
    }

    /// Shows `code` in the window without leaving the phase (nothing was sent to the host).
    fn window_error(&mut self, code: &str, out: &mut Vec<Effect>) {
        if let Some(s) = self.session.as_mut() {
            s.error = Some(json!({"code": code}));
        }
        self.update_window(out);
    }

    /// Cancel from the window (button or closing it). While the PIN is blocked the page learns
    /// that, not a mere cancel, so the bank can show its own guidance.
    fn cancel_session(&mut self, why: &str, out: &mut Vec<Effect>) {
        let blocked = self.session.as_ref().is_some_and(|s| s.phase == Phase::Blocked);
        let code = if blocked { "PIN_BLOCKED" } else { "CANCELLED" };
        self.fail_session(error(code, why), out);
    }

    /// A port went away: the bank tab (nobody left to answer) or the PIN window (a cancel).
    pub(super) fn session_port_gone(&mut self, port: PortId, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut() else { return };
        if s.port == port {
            if s.phase.user() || s.phase == Phase::Preflight || s.phase == Phase::Issue {
                s.phase = Phase::Failed;
                s.error = Some(json!({"code": "CANCELLED"}));
                self.update_window(out);
                self.session = None;
            }
        } else if s.window == Some(port) {
            s.window = None;
            if s.phase.user() || s.phase == Phase::Preflight {
                self.cancel_session("the customer closed the PIN window", out);
            } else if s.phase.finished() {
                self.session = None;
            }
        }
    }

    /// The host saw the token in `reader` go. A confirmation waiting for the customer ends at
    /// once with `CARD_REMOVED` when it is the token it would sign with (any of the offered ones
    /// while the customer chooses): the window must not stay open over a transaction no token
    /// is there to sign, and nothing reaches the host. Log-ons and acquisitions go on as before
    /// (the host answers when the PIN comes).
    pub(super) fn session_token_removed(&mut self, reader: &str, out: &mut Vec<Effect>) {
        let Some(s) = &self.session else { return };
        if !matches!(s.kind, Kind::Confirm { .. }) || !s.phase.user() {
            return;
        }
        let ours = match s.phase {
            Phase::Choose => s.candidates.iter().any(|c| c.reader == reader),
            _ => s.candidate().is_some_and(|c| c.reader == reader),
        };
        if ours {
            self.fail_session(error("CARD_REMOVED", "the token was removed while the confirmation window was open"), out);
        }
    }

    /// `{type:"view", ...}`: everything the PIN window shows.
    fn window_view(&self) -> Value {
        let Some(s) = &self.session else { return json!({"type": "view", "phase": "gone"}) };
        let enroll = matches!(s.kind, Kind::Enroll { .. });
        let (purpose, tx) = match &s.kind {
            Kind::Login { .. } => ("login", Value::Null),
            Kind::Enroll { .. } => ("enroll", Value::Null),
            // Every field in signing order, exactly the values that will be signed.
            Kind::Confirm { tx, .. } => ("confirm", super::tx_object(tx)),
        };
        let c = s.candidate();
        let choices: Vec<Value> = if s.phase == Phase::Choose { s.candidates.iter().map(Candidate::view).collect() } else { Vec::new() };
        json!({
            "type": "view",
            "session": s.id,
            "purpose": purpose,
            "tx": tx,
            "inputDelayMs": CONFIRM_INPUT_DELAY_MS,
            "origin": s.origin.as_str(),
            "phase": s.phase.name(),
            "retries": s.retries,
            "pukRetries": s.puk_retries,
            "error": s.error,
            "certificate": s.certificate,
            "choices": choices,
            "reader": c.map(|c| c.reader.as_str()),
            "newPin": s.new_pin,
            "setup": enroll && c.is_some_and(|c| c.management_key == "factory"),
            "unblocked": s.unblocked,
        })
    }

    fn update_window(&self, out: &mut Vec<Effect>) {
        if let Some(w) = self.session.as_ref().and_then(|s| s.window) {
            out.push(Effect::ToPort(w, self.window_view()));
        }
    }

    /// Tells the page where its pending request is; the customer's phases suspend its timer.
    fn progress(&self, out: &mut Vec<Effect>) {
        let Some(s) = &self.session else { return };
        let step = match (s.phase, &s.kind) {
            (Phase::Choose, _) => "choose",
            (Phase::Confirm, _) => "confirm",
            (Phase::Pin, _) => "pin",
            (Phase::Blocked | Phase::Unblocking, _) => "unblock",
            (Phase::Working, Kind::Login { .. } | Kind::Confirm { .. }) => "sign",
            (Phase::Working, Kind::Enroll { .. }) => "generate",
            (Phase::Store, _) => "store",
            _ => return,
        };
        out.push(Effect::ToPort(s.port, json!({"type": "progress", "id": s.req, "step": step, "waitingForUser": s.phase.user()})));
    }

    /// Ends the session with an error for the page and the window.
    pub(super) fn fail_session(&mut self, err: Value, out: &mut Vec<Effect>) {
        if let Some(s) = &self.session {
            out.push(Effect::ToPort(s.port, reply_err(&s.req, err.clone())));
        }
        self.fail_session_quietly(err, out);
    }

    /// Ends the session with an error shown in the window only (the page already has its answer).
    pub(super) fn fail_session_quietly(&mut self, err: Value, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut() else { return };
        s.phase = Phase::Failed;
        s.deadline = None;
        s.error = Some(json!({"code": code_of(&err), "retries": err.get("retries")}));
        self.update_window(out);
        if self.session.as_ref().is_some_and(|s| s.window.is_none()) {
            self.session = None;
        }
    }

    fn finish_ok(&mut self, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut() else { return };
        s.phase = Phase::Done;
        self.update_window(out);
        if self.session.as_ref().is_some_and(|s| s.window.is_none()) {
            self.session = None;
        }
    }

    // ----- the host's answers ------------------------------------------------------------------

    pub(super) fn session_done(&mut self, session: u64, result: Result<Value, Value>, now: u64, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut().filter(|s| s.id == session) else { return };
        let login = !matches!(s.kind, Kind::Enroll { .. });
        match (result, s.phase) {
            (Ok(r), Phase::Working) if login => {
                out.push(Effect::ToPort(s.port, reply_ok(&s.req, r)));
                self.finish_ok(out);
            }
            (Ok(mut r), Phase::Working) => {
                // enroll.begin: hand the CSR to the page, which takes it to its CA.
                if let Value::Object(m) = &mut r {
                    m.insert("enrollment".into(), json!(s.id.to_string()));
                }
                out.push(Effect::ToPort(s.port, reply_ok(&s.req, r)));
                s.phase = Phase::Issue;
                s.new_pin = false;
                s.deadline = Some(now + ISSUE_TIMEOUT_MS);
                self.update_window(out);
            }
            (Ok(r), Phase::Store) => {
                s.certificate = r.get("certificate").cloned();
                out.push(Effect::ToPort(s.port, reply_ok(&s.req, r.clone())));
                // A renewal on the chosen token moves the choice to the new certificate.
                let origin = s.origin.as_str().to_owned();
                let token = s.candidate().cloned();
                let new_sha = r["certificate"]["sha256"].as_str().map(str::to_owned);
                if let (Some(mut t), Some(sha)) = (token, new_sha) {
                    if self.choices.0.get(origin.as_str()).is_some_and(|c| t.same_token(c)) {
                        t.sha256 = Some(sha);
                        self.remember_choice(&origin, &t, out);
                    }
                }
                self.finish_ok(out);
            }
            (Err(e), Phase::Working) => match code_of(&e) {
                // No tries left is a blocked PIN, however the token put it.
                "PIN_INCORRECT" if small(e.get("retries")) == Some(0) => {
                    s.retries = Some(0);
                    s.error = Some(json!({"code": "PIN_BLOCKED"}));
                    s.phase = Phase::Blocked;
                    self.update_window(out);
                    self.progress(out);
                }
                "PIN_INCORRECT" | "PIN_FORMAT" | "PIN_WEAK" | "PIN_CHANGE_REQUIRED" => {
                    // Ask again in the same window; the page keeps waiting without a timeout.
                    if let Some(r) = small(e.get("retries")) {
                        s.retries = Some(r);
                    }
                    if code_of(&e) == "PIN_CHANGE_REQUIRED" {
                        s.new_pin = true;
                    }
                    s.error = Some(json!({"code": code_of(&e), "retries": s.retries}));
                    s.phase = Phase::Pin;
                    self.update_window(out);
                    self.progress(out);
                }
                "PIN_BLOCKED" => {
                    s.retries = Some(0);
                    s.error = Some(json!({"code": "PIN_BLOCKED"}));
                    s.phase = Phase::Blocked;
                    self.update_window(out);
                    self.progress(out);
                }
                "CHOICE_REQUIRED" => {
                    // Tokens changed since the preflight: look again, the window stays open.
                    s.phase = Phase::Preflight;
                    s.chosen = None;
                    let status = Command::Status { issuers: Some(s.issuers.clone()) };
                    self.update_window(out);
                    self.send_host(status, Purpose::Preflight { session }, now, out);
                }
                _ => self.fail_session(e, out),
            },
            (Err(e), _) => self.fail_session(e, out),
            _ => {}
        }
    }

    pub(super) fn unblock_done(&mut self, session: u64, result: Result<Value, Value>, out: &mut Vec<Effect>) {
        let Some(s) = self.session.as_mut().filter(|s| s.id == session && s.phase == Phase::Unblocking) else { return };
        match result {
            Ok(_) => {
                // The PIN is the new one now: ask for it to go on with the log-on or acquisition.
                s.phase = Phase::Pin;
                s.retries = None;
                s.new_pin = false;
                s.unblocked = true;
                s.error = None;
            }
            Err(e) => match code_of(&e) {
                "PUK_INCORRECT" | "PIN_WEAK" | "PIN_FORMAT" => {
                    if let Some(r) = small(e.get("retries")) {
                        s.puk_retries = Some(r);
                    }
                    s.error = Some(json!({"code": code_of(&e), "retries": s.puk_retries}));
                    s.phase = Phase::Blocked;
                }
                _ => return self.fail_session(e, out),
            },
        }
        self.update_window(out);
        self.progress(out);
    }

    // ----- the page's side of an acquisition ---------------------------------------------------

    fn enrollment_matches(&self, port: PortId, origin: &Origin, enrollment: Option<u64>) -> bool {
        self.session.as_ref().is_some_and(|s| Some(s.id) == enrollment && s.port == port && &s.origin == origin && s.phase == Phase::Issue)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn enroll_finish(&mut self, port: PortId, req: Value, origin: &Origin, enrollment: Option<u64>, certificate: Option<String>, now: u64, out: &mut Vec<Effect>) {
        if !self.enrollment_matches(port, origin, enrollment) {
            out.push(Effect::ToPort(port, reply_err(&req, error("NO_ENROLLMENT", "no certificate acquisition is waiting for this page"))));
            return;
        }
        let Some(certificate) = certificate else {
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

    pub(super) fn enroll_abort(&mut self, port: PortId, req: Value, origin: &Origin, enrollment: Option<u64>, cancelled: bool, out: &mut Vec<Effect>) {
        if !self.enrollment_matches(port, origin, enrollment) {
            out.push(Effect::ToPort(port, reply_err(&req, error("NO_ENROLLMENT", "no certificate acquisition is waiting for this page"))));
            return;
        }
        out.push(Effect::ToPort(port, reply_ok(&req, json!({}))));
        let code = if cancelled { "CANCELLED" } else { "ISSUE_FAILED" };
        self.fail_session_quietly(error(code, "the bank page could not get the certificate"), out);
    }
}

/// The host command for the PIN the customer typed: log-on with the chosen certificate, or
/// acquisition on the chosen token (with the new PIN when the factory PIN must go).
fn session_command(s: &Session, pin: Pin, new_pin: Option<Pin>) -> Option<Command> {
    let c = s.candidate()?;
    Some(match &s.kind {
        Kind::Login { nonce } => Command::Authenticate {
            origin: s.origin.clone(),
            nonce: nonce.clone(),
            pin,
            issuers: s.issuers.clone(),
            certificate: c.sha256.as_deref().and_then(CertId::parse),
        },
        Kind::Confirm { nonce, tx } => Command::Confirm {
            origin: s.origin.clone(),
            nonce: nonce.clone(),
            pin,
            issuers: s.issuers.clone(),
            tx: tx.clone(),
            certificate: c.sha256.as_deref().and_then(CertId::parse),
        },
        Kind::Enroll { algorithm } => Command::EnrollBegin {
            origin: s.origin.clone(),
            pin,
            algorithm: *algorithm,
            issuers: s.issuers.clone(),
            reader: Some(c.reader.clone()),
            new_pin,
        },
    })
}
