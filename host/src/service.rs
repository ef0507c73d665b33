//! One browser connection: dispatches requests to the token, pushes reader events.
//!
//! Card work is blocking (PC/SC) and runs on tokio's blocking pool, one operation at a time per
//! host (the `Tokens` mutex) and one PC/SC transaction at a time per card (across hosts).

use std::sync::{Arc, Mutex};

use base64::Engine;
use kagi_proto::request::RequestError;
use kagi_proto::{Command, Event, Outgoing, PinResult, Reply, Request, WireError};
use tokio::sync::mpsc::UnboundedSender;

use crate::card::pcsc_backend::ReaderEvent;
use crate::error::{Error, Result};
use crate::issuer::BankCas;
use crate::policy::Policy;
use crate::token::{now, pin_from_wire, puk_from_wire, BeginRequest, PendingEnrollment, Tokens};

/// How long a card handle (and what was read through it) is kept after the last operation: a
/// log-on page asks `status`, then `authenticate` once the PIN is typed, within this. After it
/// the card is free again for programs that want it exclusively (GnuPG's scdaemon).
pub const KEEP_CARD_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Shared by the request handlers and the event pump of one connection.
#[derive(Clone)]
pub struct Service {
    tokens: Arc<Mutex<Tokens>>,
    pending: Arc<Mutex<Option<PendingEnrollment>>>,
    out: UnboundedSender<Outgoing>,
    /// The machine's host policy, read at start.
    policy: Arc<Policy>,
    /// When the last card operation ended, and whether the timer that gives kept card handles
    /// back is running.
    last_operation: Arc<Mutex<tokio::time::Instant>>,
    release_timer: Arc<std::sync::atomic::AtomicBool>,
}

impl Service {
    pub fn new(tokens: Tokens, out: UnboundedSender<Outgoing>) -> Service {
        Service {
            tokens: Arc::new(Mutex::new(tokens)),
            pending: Arc::new(Mutex::new(None)),
            out,
            policy: Arc::new(Policy::Absent),
            last_operation: Arc::new(Mutex::new(tokio::time::Instant::now())),
            release_timer: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// This service under the machine's host policy (`policy.rs`).
    pub fn with_policy(mut self, policy: Policy) -> Service {
        self.policy = Arc::new(policy);
        self
    }

    /// After [`KEEP_CARD_FOR`] without another card operation, gives the kept card handles
    /// back. At most one timer runs: it sleeps until the last operation is that old (sleeping
    /// again when operations came meanwhile), so an idle host does not wake up at all.
    fn release_later(&self) {
        use std::sync::atomic::Ordering;
        if let Ok(mut last) = self.last_operation.lock() {
            *last = tokio::time::Instant::now();
        }
        if self.release_timer.swap(true, Ordering::SeqCst) {
            return; // the running timer sees the new time
        }
        let (last, running, tokens) = (self.last_operation.clone(), self.release_timer.clone(), self.tokens.clone());
        tokio::spawn(async move {
            let due = || last.lock().map(|t| *t + KEEP_CARD_FOR).unwrap_or_else(|_| tokio::time::Instant::now());
            loop {
                while tokio::time::Instant::now() < due() {
                    tokio::time::sleep_until(due()).await;
                }
                running.store(false, Ordering::SeqCst);
                // An operation that ended just now saw this timer still running: keep it then.
                if tokio::time::Instant::now() < due() && !running.swap(true, Ordering::SeqCst) {
                    continue;
                }
                break;
            }
            let _ = tokio::task::spawn_blocking(move || {
                if let Ok(mut t) = tokens.lock() {
                    t.release_idle(KEEP_CARD_FOR);
                }
            })
            .await;
        });
    }

    /// Sends a message to the browser; a closed channel means the browser is gone.
    pub fn send(&self, msg: Outgoing) {
        let _ = self.out.send(msg);
    }

    /// The acquisition `enroll.begin` left for `enroll.finish` on this connection.
    fn pending(&self) -> Result<std::sync::MutexGuard<'_, Option<PendingEnrollment>>> {
        self.pending.lock().map_err(|_| Error::Internal("acquisition state lock poisoned".into()))
    }

    /// Runs blocking token work off the async threads.
    async fn with_tokens<R: Send + 'static>(&self, f: impl FnOnce(&mut Tokens) -> Result<R> + Send + 'static) -> Result<R> {
        let tokens = self.tokens.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut guard = tokens.lock().map_err(|_| Error::Internal("token lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| Error::Internal(format!("card task: {e}")))?;
        self.release_later();
        r
    }

    /// Handles one frame body and replies. Log lines name the command, the id, the code and
    /// the host's own words: never a value from the request (refusals of `Request::parse` and
    /// of the policy are written without them).
    pub async fn handle_frame(&self, body: &[u8]) {
        let reply = match Request::parse(body) {
            Ok(req) => {
                let id = req.id;
                let name = req.command.name();
                let result = match self.policy.check(&req.command) {
                    Ok(()) => self.execute(req).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(Some(reply)) => reply,
                    // Already answered (a log-on answers before its PIN clear).
                    Ok(None) => return,
                    Err(e) => {
                        crate::log::info(&format!("{name} #{id}: {}: {e}", e.code().as_str()));
                        Reply::err(Some(id), e.to_wire())
                    }
                }
            }
            Err(RequestError { id, error }) => {
                let which = id.map_or_else(|| "without id".to_owned(), |id| format!("#{id}"));
                crate::log::info(&format!("refused request {which}: {}: {}", error.code.as_str(), error.message));
                Reply::err(id, error)
            }
        };
        self.send(Outgoing::Reply(reply));
    }

    /// Runs one request: its reply, or `None` when the reply was already sent.
    async fn execute(&self, req: Request) -> Result<Option<Reply>> {
        let id = req.id;
        match req.command {
            Command::Status { issuers } => {
                let cas = issuers.as_ref().map(BankCas::from_wire).transpose()?;
                let s = self.with_tokens(move |t| t.status(cas.as_ref())).await?;
                Ok(Some(Reply::ok(id, &s)))
            }
            Command::Authenticate { origin, nonce, pin, issuers, certificate } => {
                let cas = BankCas::from_wire(&issuers)?;
                let pin = pin_from_wire(&pin)?;
                // The login token leaves as soon as it is checked; the PIN clear follows inside
                // the same PC/SC transaction (no other program can use the PIN meanwhile), so
                // the customer does not wait for that card round trip.
                let out = self.out.clone();
                let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let flag = answered.clone();
                let r = self
                    .with_tokens(move |t| {
                        t.authenticate_then(&origin, &nonce, &pin, &cas, certificate.as_ref(), |token| {
                            let _ = out.send(Outgoing::Reply(Reply::ok(id, token)));
                            flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        })
                    })
                    .await;
                match r {
                    // One reply per request: what follows the answer (the PIN clear) only logs.
                    Err(e) if answered.load(std::sync::atomic::Ordering::SeqCst) => {
                        crate::log::warn(&format!("authenticate #{id} after its reply: {e}"));
                        Ok(None)
                    }
                    Err(e) => Err(e),
                    Ok(_) if answered.load(std::sync::atomic::Ordering::SeqCst) => Ok(None),
                    Ok(token) => Ok(Some(Reply::ok(id, &token))),
                }
            }
            Command::Confirm { origin, nonce, pin, issuers, tx, certificate } => {
                let cas = BankCas::from_wire(&issuers)?;
                let pin = pin_from_wire(&pin)?;
                let signed = self.with_tokens(move |t| t.confirm(&origin, &nonce, &pin, &cas, certificate.as_ref(), &tx)).await?;
                Ok(Some(Reply::ok(id, &signed)))
            }
            Command::EnrollBegin { origin, pin, algorithm, issuers, reader, new_pin } => {
                let cas = BankCas::from_wire(&issuers)?;
                let pin_is_factory = pin.is_factory();
                let pin = pin_from_wire(&pin)?;
                let new_pin = new_pin.as_ref().map(pin_from_wire).transpose()?;
                let (result, pending) = self
                    .with_tokens(move |t| {
                        let req = BeginRequest {
                            origin: &origin,
                            cas: &cas,
                            pin: &pin,
                            pin_is_factory,
                            new_pin: new_pin.as_ref(),
                            algorithm,
                            at: now(),
                        };
                        t.enroll_begin(reader.as_deref(), &req)
                    })
                    .await?;
                *self.pending()? = Some(pending);
                Ok(Some(Reply::ok(id, &result)))
            }
            Command::EnrollFinish { origin, certificate } => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(certificate.trim())
                    .map_err(|_| Error::BadRequest("certificate is not standard base64".into()))?;
                let pending = self.pending()?.take().ok_or(Error::NoEnrollment)?;
                if pending.origin != origin {
                    *self.pending()? = Some(pending);
                    return Err(Error::OriginNotAllowed("this origin did not begin the acquisition".into()));
                }
                let (result, pending) = self
                    .with_tokens(move |t| {
                        let r = t.enroll_finish(&pending, &der);
                        Ok((r, pending))
                    })
                    .await?;
                // A certificate that does not match (or a token pulled mid-write) leaves the
                // acquisition open, so the page can retry with the right certificate.
                if result.is_err() {
                    *self.pending()? = Some(pending);
                }
                Ok(Some(Reply::ok(id, &result?)))
            }
            Command::PinChange { pin, new_pin, reader } => {
                let pin = pin_from_wire(&pin)?;
                let new_pin = pin_from_wire(&new_pin)?;
                let reader = self.with_tokens(move |t| t.change_pin(reader.as_deref(), &pin, &new_pin)).await?;
                Ok(Some(Reply::ok(id, &PinResult { reader })))
            }
            Command::PinUnblock { puk, new_pin, reader } => {
                let puk = puk_from_wire(&puk)?;
                let new_pin = pin_from_wire(&new_pin)?;
                let reader = self.with_tokens(move |t| t.unblock_pin(reader.as_deref(), &puk, &new_pin)).await?;
                Ok(Some(Reply::ok(id, &PinResult { reader })))
            }
            Command::Diagnose { issuers } => {
                let cas = issuers.as_ref().map(BankCas::from_wire).transpose()?;
                // Doctor's checks with this connection's tokens: the card handles it keeps are
                // reused, and no second PC/SC context competes with them.
                let result = self
                    .with_tokens(move |t| {
                        let env = crate::cli::machine_env();
                        let mut probe = TokensProbe { tokens: t, cas: cas.as_ref() };
                        Ok(crate::doctor::diagnose(&env, &mut probe))
                    })
                    .await?;
                Ok(Some(Reply::ok(id, &result)))
            }
            _ => Err(Error::BadRequest(format!("command {} is not supported", req.command.name()))),
        }
    }

    /// Turns a PC/SC watcher event into what the browser sees: presence and reader only (the
    /// page asks `status` with its bank's issuers for details).
    pub async fn reader_event(&self, ev: ReaderEvent) {
        let event = match ev {
            ReaderEvent::CardInserted { reader } => Event::Inserted { reader },
            ReaderEvent::CardRemoved { reader } => Event::Removed { reader },
            ReaderEvent::ReaderAdded { reader } => Event::ReaderAdded { reader },
            ReaderEvent::ReaderRemoved { reader } => Event::ReaderRemoved { reader },
            ReaderEvent::ServiceLost => Event::PcscUnavailable,
            ReaderEvent::ServiceBack => Event::PcscAvailable,
        };
        self.send(Outgoing::Event(event));
    }
}

/// Doctor's token probe over the connection's own [`Tokens`].
struct TokensProbe<'a> {
    tokens: &'a mut Tokens,
    cas: Option<&'a BankCas>,
}

impl crate::doctor::TokenProbe for TokensProbe<'_> {
    fn status(&mut self) -> Result<kagi_proto::StatusResult> {
        self.tokens.status(self.cas)
    }
}

/// A refusal for a frame larger than the host accepts.
pub fn oversize_reply(len: usize) -> Outgoing {
    Outgoing::Reply(Reply::err(
        None,
        WireError::bad_request(format!("frame of {len} bytes exceeds the limit of {} bytes", kagi_proto::frame::MAX_INCOMING)),
    ))
}
