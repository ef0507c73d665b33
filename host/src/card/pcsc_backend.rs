//! The PC/SC transport: the only module that uses the `pcsc` crate.
//!
//! - [`PcscContext`]: a PC/SC context that re-establishes itself when pcscd restarts.
//! - [`PcscCard`]: a shared-mode connection; [`PcscCard::transaction`] runs a closure inside one
//!   PC/SC transaction so that two hosts never interleave APDUs on the token.
//! - Kept connections: [`PcscContext::release`] keeps a card's handle (and its [`CardCache`])
//!   open between operations; [`PcscContext::connect`] reuses it while PC/SC says the card is
//!   the same and nobody reset it (`SCardStatus`: `SCARD_W_RESET_CARD`, `SCARD_W_REMOVED_CARD`;
//!   the reader's event counter), and otherwise starts afresh with an empty cache (issue 13).
//! - [`watch`]: reader and card events for a dedicated blocking thread, stopped with
//!   [`WatchStop::stop`] (SCardCancel) by the side that closes.
//!
//! PIN state: a reset (`SCARD_RESET_CARD`) clears the card's PIN verification. So a PIN verify
//! and the signature that needs it must use the same [`PcscCard`] — best inside one
//! [`PcscCard::transaction`], so no other process can use the verified state in between. After
//! read-only work, [`PcscCard::disconnect`] with [`Disconnect::Leave`] avoids resetting the card
//! under other applications; after a session that verified the PIN, dropping the card (or
//! [`Disconnect::Reset`]) clears the PIN on purpose.
//!
//! Never a reset after a pull (issue 14): a handle whose card was removed, or whose commands or
//! transaction failed at the PC/SC level (the card did not answer: removed, or an unknown
//! outcome), is closed with `SCARD_LEAVE_CARD`, and a reset is only sent after `SCardStatus`
//! says the handle's card is still there. Resetting a pulled card makes pcsc-lite power-cycle
//! whatever the reader holds by then; on vpcd (and on a real PIV card, measured outside this
//! repository) a token plugged in right after such a reset can stay "no card" for good. A
//! removed card lost its PIN state anyway; the price is a card that is in fact still there after
//! a failed command (an unknown outcome, e.g. a PC/SC timeout): it keeps a PIN verified by the
//! failed operation until the next reset, pull or Kagi operation (`host/tests/replug.rs`). The
//! `pcsc` crate resets a dropped `pcsc::Card`, so [`PcscCard`] never lets one drop with its
//! handle open (see [`PcscCard::close`]).

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use tokio::sync::mpsc::UnboundedSender;

use crate::card::cache::CardCache;
use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};

/// Windows (8 and later) stops its smart card service, SCardSvr, when the last reader is
/// removed and starts it again when one arrives, and a USB token is its own reader. So on
/// Windows, with no reader seen, SCARD_E_NO_SERVICE (0x8010001D: SCardEstablishContext while
/// the service is stopped) and SCARD_E_SERVICE_STOPPED (0x8010001E: a context made before it
/// stopped) mean "plug the token in", not "the service is broken". With readers present the
/// service does not stop by itself: then, as with pcscd (which runs with or without readers, and
/// whose codes Wine passes on), they mean the service went down.
const SERVICE_STOPS_WITHOUT_READERS: bool = cfg!(windows);

/// Whether the last reader list this process got (requests or the watcher) had a reader in it.
static READERS_SEEN: AtomicBool = AtomicBool::new(false);

fn note_readers(any: bool) {
    READERS_SEEN.store(any, Ordering::Relaxed);
}

/// Whether a stopped or missing service means "no reader" here and now (see
/// [`SERVICE_STOPS_WITHOUT_READERS`]).
fn service_stop_means_no_reader(stops_without_readers: bool, readers_seen: bool) -> bool {
    stops_without_readers && !readers_seen
}

/// Map a PC/SC error to the host error the user can act on.
pub fn map_error(e: pcsc::Error) -> Error {
    map_error_with(e, service_stop_means_no_reader(SERVICE_STOPS_WITHOUT_READERS, READERS_SEEN.load(Ordering::Relaxed)))
}

/// [`map_error`], told whether a stopped service means "no reader" (Windows without readers).
fn map_error_with(e: pcsc::Error, service_stop_means_no_reader: bool) -> Error {
    use pcsc::Error as P;
    match e {
        P::NoService | P::ServiceStopped if service_stop_means_no_reader => Error::NoReader,
        P::NoService | P::ServiceStopped | P::InvalidHandle | P::CommError | P::Shutdown => {
            Error::PcscUnavailable(e.to_string())
        }
        P::NoReadersAvailable | P::ReaderUnavailable | P::UnknownReader => Error::NoReader,
        P::NoSmartcard => Error::TokenAbsent,
        P::RemovedCard | P::ResetCard | P::UnpoweredCard => Error::CardRemoved,
        P::UnresponsiveCard | P::UnsupportedCard => Error::NotPiv,
        P::SharingViolation => {
            Error::Internal("the token is in exclusive use by another application".into())
        }
        P::Timeout => Error::Internal("PC/SC timed out".into()),
        other => Error::Internal(format!("PC/SC: {other}")),
    }
}

/// Errors after which the context must be established again (pcscd restarted or gone).
fn is_service_error(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::NoService
            | pcsc::Error::ServiceStopped
            | pcsc::Error::InvalidHandle
            | pcsc::Error::CommError
            | pcsc::Error::Shutdown
    )
}

fn establish() -> std::result::Result<Context, pcsc::Error> {
    Context::establish(Scope::User)
}

/// A reader and whether a card is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
}

/// How long a connect refused because another application is resetting the card is retried.
const CONNECT_RETRY_FOR: Duration = Duration::from_secs(2);

/// Refusals that last only while another application resets or reconnects the card.
fn is_transient(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::ProtoMismatch | pcsc::Error::SharingViolation | pcsc::Error::ResetCard | pcsc::Error::UnpoweredCard
    )
}

/// A PC/SC resource manager context. `None` while Windows' service is stopped for want of
/// readers: the handle then lists no reader and establishes a context once one is there. With
/// it, the card handles kept between operations.
pub struct PcscContext {
    ctx: Option<Context>,
    /// Handles released with [`Disconnect::Leave`] (or reset by Kagi), by reader.
    kept: HashMap<String, PcscCard>,
    /// Each reader's event counter (insertions and removals) as last listed.
    counters: HashMap<String, u32>,
}

impl Drop for PcscContext {
    fn drop(&mut self) {
        // A dropped `pcsc::Card` resets the card: leave it as it is instead.
        for (_, card) in self.kept.drain() {
            let _ = card.disconnect(Disconnect::Leave);
        }
    }
}

impl std::fmt::Debug for PcscContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PcscContext")
    }
}

impl PcscContext {
    /// Establish a context. `PcscUnavailable` if pcscd is not running (on Windows: if the
    /// smart card service is not running although readers were seen).
    pub fn establish() -> Result<Self> {
        match establish() {
            Ok(ctx) => Ok(PcscContext { ctx: Some(ctx), kept: HashMap::new(), counters: HashMap::new() }),
            Err(e) => match map_error(e) {
                Error::NoReader => Ok(PcscContext { ctx: None, kept: HashMap::new(), counters: HashMap::new() }),
                other => Err(other),
            },
        }
    }

    /// Run `f`; if pcscd went away and came back since the context was made, establish a new
    /// context and run `f` once more.
    fn with_context<R>(
        &mut self,
        mut f: impl FnMut(&Context) -> std::result::Result<R, pcsc::Error>,
    ) -> Result<R> {
        let ctx = match self.ctx.take() {
            Some(c) => c,
            None => establish().map_err(map_error)?,
        };
        let ctx = self.ctx.insert(ctx);
        match f(ctx) {
            Err(e) if is_service_error(e) => {
                // Handles of the old context are gone with it.
                self.kept.clear();
                self.counters.clear();
                self.ctx = None;
                let ctx = self.ctx.insert(establish().map_err(map_error)?);
                f(ctx).map_err(map_error)
            }
            r => r.map_err(map_error),
        }
    }

    /// All readers with their card-present flags (empty if there is none, also while Windows'
    /// service is stopped for want of readers).
    pub fn list_readers(&mut self) -> Result<Vec<ReaderInfo>> {
        let listed = match self.list_readers_once() {
            Err(Error::NoReader) if self.ctx.is_none() => Ok(Vec::new()),
            r => r,
        };
        if let Ok(readers) = &listed {
            note_readers(!readers.is_empty());
        }
        listed
    }

    fn list_readers_once(&mut self) -> Result<Vec<ReaderInfo>> {
        let mut counters = HashMap::new();
        let r = self.with_context(|ctx| {
            let names = match ctx.list_readers_owned() {
                Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
                r => r?,
            };
            let mut states: Vec<ReaderState> =
                names.into_iter().map(|n| ReaderState::new(n, State::UNAWARE)).collect();
            if !states.is_empty() {
                // UNAWARE current states: returns at once with every reader's state.
                match ctx.get_status_change(Duration::ZERO, &mut states) {
                    Ok(()) | Err(pcsc::Error::Timeout) => {}
                    Err(e) => return Err(e),
                }
            }
            counters = states.iter().map(|s| (s.name().to_string_lossy().into_owned(), s.event_count())).collect();
            Ok(states
                .iter()
                .map(|s| ReaderInfo {
                    name: s.name().to_string_lossy().into_owned(),
                    card_present: s.event_state().contains(State::PRESENT),
                })
                .collect())
        })?;
        self.counters = counters;
        Ok(r)
    }

    /// Connect to the card in `reader` (shared mode, T=0 or T=1).
    ///
    /// While another application resets the card (as every Kagi host does after a PIN
    /// operation), pcsc-lite answers a connect with SCARD_E_PROTO_MISMATCH or
    /// SCARD_E_SHARING_VIOLATION until the card is up again; those are retried briefly.
    ///
    /// A handle kept by [`release`](Self::release) is reused, with its cache, when the reader's
    /// event counter has not moved and `SCardStatus` reports no removal; after a reset by
    /// another program (`SCARD_W_RESET_CARD`) it is reconnected with an empty cache. Anything
    /// else (removed, counter moved, an error) closes it and connects afresh.
    pub fn connect(&mut self, reader: &str) -> Result<PcscCard> {
        if let Some(mut card) = self.kept.remove(reader) {
            let counter = self.counters.get(reader).copied();
            if card.still_the_same_card(counter) {
                return Ok(card);
            }
            let _ = card.disconnect(Disconnect::Leave);
        }
        let event_count = self.counters.get(reader).copied();
        let mut card = self.connect_new(reader)?;
        card.event_count = event_count;
        Ok(card)
    }

    /// Closes (leaving the cards as they are) every kept handle that has not been used for
    /// `idle`. A kept handle keeps other programs that want the card for themselves (GnuPG's
    /// scdaemon opens it exclusively by default) out, so it is given back soon after the last
    /// operation; its cache goes with it (without a handle PC/SC cannot report resets).
    pub fn release_idle(&mut self, idle: Duration) {
        let now = std::time::Instant::now();
        let stale: Vec<String> =
            self.kept.iter().filter(|(_, c)| c.released_at.is_none_or(|t| now.duration_since(t) >= idle)).map(|(r, _)| r.clone()).collect();
        for reader in stale {
            if let Some(card) = self.kept.remove(&reader) {
                let _ = card.disconnect(Disconnect::Leave);
            }
        }
    }

    /// Hands a card back after an operation. [`Disconnect::Leave`] keeps the handle and its
    /// cache for the next operation; [`Disconnect::Reset`] resets the card (PIN and management
    /// key authentication cleared) and keeps the handle and the cache (the reset changes no
    /// data; the application must be selected again). `gone`: the operation found the card
    /// removed (or PC/SC gone): the handle is closed.
    ///
    /// A card that was removed, or whose last transaction ended without an answer from the card
    /// ([`PcscCard::doubtful`]), is never reset: the handle is closed leaving the card (see the
    /// module doc).
    pub fn release(&mut self, mut card: PcscCard, how: Disconnect, gone: bool) -> Result<()> {
        if gone || card.card.is_none() || card.doubtful {
            return card.disconnect(Disconnect::Leave);
        }
        if how == Disconnect::Reset {
            if !card.card_still_there() {
                return card.disconnect(Disconnect::Leave);
            }
            let reset = card.card.as_mut().map(|c| c.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard));
            match reset {
                Some(Ok(())) => card.cache.card_reset(),
                // The reset failed: the card is not answering; close the handle, leaving it.
                _ => {
                    card.doubtful = true;
                    return card.disconnect(Disconnect::Leave);
                }
            }
        }
        let reader = card.reader.clone();
        card.released_at = Some(std::time::Instant::now());
        if let Some(old) = self.kept.insert(reader, card) {
            let _ = old.disconnect(Disconnect::Leave);
        }
        Ok(())
    }

    fn connect_new(&mut self, reader: &str) -> Result<PcscCard> {
        let name = CString::new(reader).map_err(|_| Error::NoReader)?;
        let deadline = std::time::Instant::now() + CONNECT_RETRY_FOR;
        loop {
            // Transient refusals come back raw (inner `Err`) so they can be retried here.
            let attempt = self.with_context(|ctx| match ctx.connect(&name, ShareMode::Shared, Protocols::ANY) {
                Err(e) if is_transient(e) => Ok(Err(e)),
                other => other.map(Ok),
            })?;
            match attempt {
                Ok(card) => {
                    let mut names = [0u8; 2048];
                    let mut atr = [0u8; pcsc::MAX_ATR_SIZE];
                    let extended =
                        card.status2(&mut names, &mut atr).is_ok_and(|st| crate::card::atr::takes_extended_length(st.atr()));
                    return Ok(PcscCard {
                        card: Some(card),
                        reader: reader.to_string(),
                        cache: CardCache::new(),
                        event_count: None,
                        extended,
                        released_at: None,
                        doubtful: false,
                    });
                }
                Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(map_error(e)),
            }
        }
    }

    /// Connect to the first reader holding a card: `NoReader` if there is no reader at all,
    /// `TokenAbsent` if no reader holds a card.
    pub fn connect_first(&mut self) -> Result<PcscCard> {
        let readers = self.list_readers()?;
        if readers.is_empty() {
            return Err(Error::NoReader);
        }
        let r = readers.iter().find(|r| r.card_present).ok_or(Error::TokenAbsent)?;
        self.connect(&r.name)
    }
}

/// How to leave the card on disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// Leave the card as it is (PIN state kept): after read-only work.
    Leave,
    /// Reset the card (clears PIN verification): after a session that verified the PIN.
    Reset,
}

/// A connection to the card in one reader, with what Kagi read through it. Dropping it resets
/// the card if it is still there and answered everything (see the module doc).
pub struct PcscCard {
    card: Option<pcsc::Card>,
    reader: String,
    cache: CardCache,
    /// The reader's event counter when this handle was connected.
    event_count: Option<u32>,
    /// The card's ATR announces extended Lc/Le (`card/atr.rs`).
    extended: bool,
    /// When it was last handed back to [`PcscContext::release`] (kept handles only).
    released_at: Option<std::time::Instant>,
    /// A command or transaction on this handle failed at the PC/SC level (no answer from the
    /// card): it may have been pulled, so the handle is never reset (see the module doc).
    doubtful: bool,
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        let _ = self.close(Disconnect::Reset);
    }
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PcscCard({:?})", self.reader)
    }
}

/// The transport handed to a transaction's closure.
struct TxTransport<'t, 'c> {
    tx: &'t pcsc::Transaction<'c>,
    buf: Vec<u8>,
    reset_seen: bool,
    /// A command got no answer from the card (see [`PcscCard::doubtful`]).
    failed: bool,
}

impl Transport for TxTransport<'_, '_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        match self.tx.transmit(apdu, &mut self.buf) {
            // A reader that lost the card mid-command may answer with nothing at all (vpcd does):
            // that is a removed card, not a malformed answer.
            Ok([]) => {
                self.failed = true;
                Err(Error::CardRemoved)
            }
            Ok(r) => Ok(r.to_vec()),
            Err(pcsc::Error::ResetCard) => {
                self.reset_seen = true;
                Err(Error::CardRemoved)
            }
            Err(e) => {
                self.failed = true;
                Err(map_error(e))
            }
        }
    }
}

impl PcscCard {
    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// What Kagi read from this card through this handle.
    pub fn cache(&self) -> &CardCache {
        &self.cache
    }

    /// Whether a kept handle still reaches the same card, untouched by other programs' resets:
    /// the reader's event counter unchanged (when known) and `SCardStatus` without
    /// `SCARD_W_REMOVED_CARD`. After `SCARD_W_RESET_CARD` the handle is reconnected and the
    /// cache emptied (another program may have written anything before resetting).
    fn still_the_same_card(&mut self, counter: Option<u32>) -> bool {
        if counter.is_some() && self.event_count.is_some() && counter != self.event_count {
            return false;
        }
        let Some(card) = self.card.as_mut() else { return false };
        let mut names = [0u8; 2048];
        let mut atr = [0u8; pcsc::MAX_ATR_SIZE];
        match card.status2(&mut names, &mut atr) {
            Ok(_) => true,
            Err(pcsc::Error::ResetCard) => {
                self.cache.clear();
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard).is_ok()
            }
            Err(_) => false,
        }
    }

    /// Runs `f` on a [`PivSession`] reading through this card's cache, inside one transaction
    /// (see [`transaction`](Self::transaction)).
    pub fn session<R>(&mut self, mut f: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<R>) -> Result<R> {
        let PcscCard { card, cache, extended, doubtful, .. } = self;
        let extended = *extended;
        in_transaction(card, cache, doubtful, |t, cache| f(&mut PivSession::with_cache(t, cache).with_extended_length(extended)))
    }

    /// Run `f` inside one PC/SC transaction (SCardBeginTransaction/SCardEndTransaction with
    /// LeaveCard), so APDUs of other processes cannot interleave with ours.
    ///
    /// If the card was reset by someone else (SCARD_W_RESET_CARD when the transaction begins or
    /// on an APDU), we reconnect, forget the cache, re-select the PIV application and run `f`
    /// once more from the start: `f` must therefore be safe to repeat (it is a fresh card
    /// session: PIN state is gone).
    pub fn transaction<R>(&mut self, mut f: impl FnMut(&mut dyn Transport) -> Result<R>) -> Result<R> {
        let PcscCard { card, cache, doubtful, .. } = self;
        in_transaction(card, cache, doubtful, |t, _| f(t))
    }

    /// Whether a command or transaction on this handle went unanswered (the card may be gone):
    /// such a handle is never reset.
    pub fn doubtful(&self) -> bool {
        self.doubtful
    }

    /// Whether `SCardStatus` says this handle's card is still in the reader, unreset by others.
    fn card_still_there(&mut self) -> bool {
        let Some(card) = self.card.as_mut() else { return false };
        let mut names = [0u8; 2048];
        let mut atr = [0u8; pcsc::MAX_ATR_SIZE];
        card.status2(&mut names, &mut atr).is_ok()
    }

    /// Disconnect, leaving or resetting the card (a reset only as [`close`](Self::close) allows).
    pub fn disconnect(mut self, how: Disconnect) -> Result<()> {
        self.close(how)
    }

    /// Closes the handle. [`Disconnect::Reset`] resets only a card that answered every command
    /// on this handle and that `SCardStatus` still finds; otherwise the card is left as it is.
    /// If closing fails, the handle is closed leaving the card, and if even that fails it is
    /// abandoned (never dropped: the `pcsc` crate would reset it); pcscd frees it with the
    /// context.
    fn close(&mut self, how: Disconnect) -> Result<()> {
        let reset = how == Disconnect::Reset && !self.doubtful && self.card_still_there();
        let Some(card) = self.card.take() else { return Ok(()) };
        let d = if reset { Disposition::ResetCard } else { Disposition::LeaveCard };
        match card.disconnect(d) {
            Ok(()) => Ok(()),
            Err((card, e)) => {
                if d == Disposition::ResetCard {
                    if let Err((card, _)) = card.disconnect(Disposition::LeaveCard) {
                        std::mem::forget(card);
                    }
                } else {
                    std::mem::forget(card);
                }
                Err(map_error(e))
            }
        }
    }
}

/// The transaction loop of [`PcscCard::transaction`] over the card's fields, so that `f` can
/// borrow the cache while the handle is in use.
fn in_transaction<R>(
    card: &mut Option<pcsc::Card>,
    cache: &mut CardCache,
    doubtful: &mut bool,
    mut f: impl FnMut(&mut dyn Transport, &mut CardCache) -> Result<R>,
) -> Result<R> {
    let mut recovered = false;
    loop {
        let card = card.as_mut().ok_or(Error::CardRemoved)?;
        let outcome = match card.transaction() {
            Ok(tx) => {
                let mut t = TxTransport {
                    tx: &tx,
                    buf: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
                    reset_seen: false,
                    failed: false,
                };
                let r = if recovered {
                    PivSession::with_cache(&mut t, cache).select().and_then(|_| f(&mut t, cache))
                } else {
                    f(&mut t, cache)
                };
                if t.reset_seen {
                    cache.clear();
                }
                *doubtful |= t.failed;
                if t.reset_seen && !recovered {
                    None
                } else {
                    Some(r)
                }
            }
            Err(pcsc::Error::ResetCard) if !recovered => None,
            Err(e) => {
                *doubtful = true;
                return Err(map_error(e));
            }
        };
        match outcome {
            Some(r) => return r,
            None => {
                recovered = true;
                cache.clear();
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard).map_err(|e| {
                    *doubtful = true;
                    map_error(e)
                })?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Watching readers and cards

/// A change in the PC/SC world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    CardInserted { reader: String },
    CardRemoved { reader: String },
    ReaderAdded { reader: String },
    ReaderRemoved { reader: String },
    /// pcscd stopped answering: consider every reader gone.
    ServiceLost,
    /// pcscd answers again; readers and cards are announced again after this.
    ServiceBack,
}

/// How long one `SCardGetStatusChange` waits when nothing happens.
///
/// The watcher is stopped with [`WatchStop::stop`], which cancels the wait at once
/// (`SCardCancel`), so this timeout is not how shutdown is noticed. It only bounds the one race
/// SCardCancel leaves open (pcsc-lite ignores a cancel that arrives while no wait is in progress,
/// `winscard_clnt.c`): a stop that falls between our check of the flag and the next wait is seen
/// at the latest after this long. pcsc-lite itself turns an INFINITE wait into 60 s waits
/// (`winscard_clnt.c`: `dwTime = 60*1000`), so 60 s costs no wake-up that INFINITE would not.
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Stops a [`watch`] from another thread: the side that closes calls [`stop`](Self::stop),
/// which cancels the watcher's blocking `SCardGetStatusChange` (`SCardCancel`, on a clone of the
/// watcher's context) and wakes it from a back-off sleep.
#[derive(Clone, Default)]
pub struct WatchStop {
    inner: Arc<(Mutex<StopState>, Condvar)>,
}

#[derive(Default)]
struct StopState {
    stopped: bool,
    /// The context the watcher waits on (replaced when pcscd restarts).
    ctx: Option<Context>,
}

impl WatchStop {
    pub fn new() -> WatchStop {
        WatchStop::default()
    }

    /// Ends the watch: a wait in progress returns at once.
    pub fn stop(&self) {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        st.stopped = true;
        if let Some(ctx) = &st.ctx {
            let _ = ctx.cancel();
        }
        cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.inner.0.lock().map(|s| s.stopped).unwrap_or(true)
    }

    /// Makes `ctx` the one [`stop`](Self::stop) cancels; false if already stopped.
    fn set_context(&self, ctx: Option<Context>) -> bool {
        let mut st = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        st.ctx = ctx;
        !st.stopped
    }

    /// Sleeps `d` unless stopped first; false when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let (lock, cv) = &*self.inner;
        let st = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (st, _) = cv.wait_timeout_while(st, d, |s| !s.stopped).unwrap_or_else(|e| e.into_inner());
        !st.stopped
    }
}

/// Watch readers and cards until `stop` is stopped (or the receiver of `tx` is gone, noticed at
/// the next event). Blocking: run it on a dedicated thread. No polling: between events the
/// thread sleeps in `SCardGetStatusChange`.
///
/// At start (and after `ServiceBack`) the current state is announced: `ReaderAdded` for each
/// reader, then `CardInserted` for each card present. A card swapped between two wake-ups
/// (event counter changed, still present) gives `CardRemoved` then `CardInserted`. While pcscd is
/// down, we try to establish a context with exponential backoff (250 ms to 5 s; there is nothing
/// to wait on then) and emit `ServiceLost` once, then `ServiceBack`.
pub fn watch(tx: UnboundedSender<ReaderEvent>, stop: &WatchStop) {
    let mut service_up = true;
    let mut delay = BACKOFF_MIN;
    while !tx.is_closed() && !stop.is_stopped() {
        let ctx = match establish() {
            Ok(c) => c,
            // Windows without readers: the service comes back with the next reader; nothing
            // to announce meanwhile (the readers' removal was), and no reason to back off far.
            Err(e) if matches!(map_error(e), Error::NoReader) => {
                if !stop.sleep(BACKOFF_MIN) {
                    return;
                }
                continue;
            }
            Err(_) => {
                if service_up {
                    service_up = false;
                    if tx.send(ReaderEvent::ServiceLost).is_err() {
                        return;
                    }
                }
                if !stop.sleep(delay) {
                    return;
                }
                delay = (delay * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if !stop.set_context(Some(ctx.clone())) {
            return;
        }
        delay = BACKOFF_MIN;
        // `watch_context` below only ends by returning or by losing the service, so the flag
        // is only ever set back to false; just announce the recovery here.
        if !service_up && tx.send(ReaderEvent::ServiceBack).is_err() {
            return;
        }
        let end = watch_context(&ctx, &tx, stop);
        stop.set_context(None);
        match end {
            WatchEnd::ReceiverGone => return,
            // Windows stopped the service after the last reader left (already announced).
            WatchEnd::ServiceLost(e) if matches!(map_error(e), Error::NoReader) => {}
            WatchEnd::ServiceLost(_) => {
                service_up = false;
                if tx.send(ReaderEvent::ServiceLost).is_err() {
                    return;
                }
                if !stop.sleep(delay) {
                    return;
                }
            }
        }
    }
}

enum WatchEnd {
    ReceiverGone,
    /// The context failed with this error (pcscd or the Windows service gone).
    ServiceLost(pcsc::Error),
}

/// What we know about one reader.
#[derive(Default)]
struct Known {
    seen: bool,
    present: bool,
    count: u32,
}

fn pnp_name() -> CString {
    pcsc::PNP_NOTIFICATION().to_owned()
}

/// Bring `states` in line with the reader list (PnP entry first), emitting added/removed.
/// Returns false if the receiver is gone.
fn sync_readers(
    ctx: &Context,
    states: &mut Vec<ReaderState>,
    known: &mut HashMap<CString, Known>,
    tx: &UnboundedSender<ReaderEvent>,
) -> std::result::Result<bool, pcsc::Error> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
        Err(e) => return Err(e),
    };
    note_readers(!names.is_empty());
    let pnp = pnp_name();
    let mut ok = true;
    states.retain(|s| {
        let name = s.name().to_owned();
        if name == pnp || names.contains(&name) {
            return true;
        }
        let reader = name.to_string_lossy().into_owned();
        if known.remove(&name).is_some_and(|k| k.present) {
            ok &= tx.send(ReaderEvent::CardRemoved { reader: reader.clone() }).is_ok();
        }
        ok &= tx.send(ReaderEvent::ReaderRemoved { reader }).is_ok();
        false
    });
    for name in names {
        if !states.iter().any(|s| s.name() == name.as_c_str()) {
            let reader = name.to_string_lossy().into_owned();
            ok &= tx.send(ReaderEvent::ReaderAdded { reader }).is_ok();
            known.insert(name.clone(), Known::default());
            states.push(ReaderState::new(name, State::UNAWARE));
        }
    }
    Ok(ok)
}

fn watch_context(ctx: &Context, tx: &UnboundedSender<ReaderEvent>, stop: &WatchStop) -> WatchEnd {
    let pnp = pnp_name();
    let mut states = vec![ReaderState::new(pnp.clone(), State::UNAWARE)];
    let mut known: HashMap<CString, Known> = HashMap::new();
    let mut need_sync = true;
    loop {
        if need_sync {
            match sync_readers(ctx, &mut states, &mut known, tx) {
                Ok(true) => {}
                Ok(false) => return WatchEnd::ReceiverGone,
                Err(e) => return WatchEnd::ServiceLost(e),
            }
            need_sync = false;
        }
        if tx.is_closed() || stop.is_stopped() {
            return WatchEnd::ReceiverGone;
        }
        match ctx.get_status_change(WATCH_TIMEOUT, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable) => {
                need_sync = true;
                continue;
            }
            Err(pcsc::Error::Cancelled) => return WatchEnd::ReceiverGone,
            // Service errors and anything unexpected: start over with a fresh context.
            Err(e) => return WatchEnd::ServiceLost(e),
        }
        for s in states.iter_mut() {
            let ev = s.event_state();
            let name = s.name().to_owned();
            if name == pnp {
                if ev.contains(State::CHANGED) {
                    need_sync = true;
                }
                s.sync_current_state();
                continue;
            }
            if ev.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                need_sync = true;
            } else if ev.contains(State::CHANGED) || known.get(&name).is_none_or(|k| !k.seen) {
                let k = known.entry(name.clone()).or_default();
                let now = ev.contains(State::PRESENT);
                let count = s.event_count();
                let reader = name.to_string_lossy().into_owned();
                let mut events = Vec::new();
                if !k.seen {
                    if now {
                        events.push(ReaderEvent::CardInserted { reader });
                    }
                } else if k.present && now && count != k.count {
                    events.push(ReaderEvent::CardRemoved { reader: reader.clone() });
                    events.push(ReaderEvent::CardInserted { reader });
                } else if k.present && !now {
                    events.push(ReaderEvent::CardRemoved { reader });
                } else if !k.present && now {
                    events.push(ReaderEvent::CardInserted { reader });
                }
                *k = Known { seen: true, present: now, count };
                for e in events {
                    if tx.send(e).is_err() {
                        return WatchEnd::ReceiverGone;
                    }
                }
            }
            s.sync_current_state();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_mapping() {
        assert!(matches!(map_error(pcsc::Error::NoService), Error::PcscUnavailable(_)));
        assert!(matches!(map_error(pcsc::Error::ServiceStopped), Error::PcscUnavailable(_)));
        assert!(matches!(map_error(pcsc::Error::NoReadersAvailable), Error::NoReader));
        assert!(matches!(map_error(pcsc::Error::UnknownReader), Error::NoReader));
        assert!(matches!(map_error(pcsc::Error::NoSmartcard), Error::TokenAbsent));
        assert!(matches!(map_error(pcsc::Error::RemovedCard), Error::CardRemoved));
        assert!(matches!(map_error(pcsc::Error::ResetCard), Error::CardRemoved));
        assert!(matches!(map_error(pcsc::Error::Timeout), Error::Internal(_)));
        assert!(is_service_error(pcsc::Error::InvalidHandle));
        assert!(!is_service_error(pcsc::Error::RemovedCard));
    }

    /// The codes Windows' winscard returns (winerror.h; Microsoft, "Smart Card Return Values"):
    /// the `pcsc` variants matched above are these values, as on pcsc-lite.
    #[test]
    fn windows_codes_are_the_variants_matched() {
        assert_eq!(pcsc::Error::NoService as u32, 0x8010_001D, "SCARD_E_NO_SERVICE");
        assert_eq!(pcsc::Error::ServiceStopped as u32, 0x8010_001E, "SCARD_E_SERVICE_STOPPED");
        assert_eq!(pcsc::Error::NoReadersAvailable as u32, 0x8010_002E, "SCARD_E_NO_READERS_AVAILABLE");
        assert_eq!(pcsc::Error::NoSmartcard as u32, 0x8010_000C, "SCARD_E_NO_SMARTCARD");
        assert_eq!(pcsc::Error::RemovedCard as u32, 0x8010_0069, "SCARD_W_REMOVED_CARD");
    }

    #[test]
    fn windows_service_stopped_without_readers_means_plug_the_token_in() {
        // Windows, the token (the last reader) pulled: SCardSvr stops; the next establish says
        // SCARD_E_NO_SERVICE, a waiting context SCARD_E_SERVICE_STOPPED.
        assert!(service_stop_means_no_reader(true, false));
        assert!(matches!(map_error_with(pcsc::Error::NoService, true), Error::NoReader));
        assert!(matches!(map_error_with(pcsc::Error::ServiceStopped, true), Error::NoReader));
        // With readers seen the service does not stop by itself: it went down (also the case
        // under Wine, which passes pcscd's codes on, and on Linux and macOS always).
        assert!(!service_stop_means_no_reader(true, true));
        assert!(!service_stop_means_no_reader(false, false));
        assert!(matches!(map_error_with(pcsc::Error::NoService, false), Error::PcscUnavailable(_)));
        assert!(matches!(map_error_with(pcsc::Error::ServiceStopped, false), Error::PcscUnavailable(_)));
        // Nothing else changes meaning.
        for on in [true, false] {
            assert!(matches!(map_error_with(pcsc::Error::NoReadersAvailable, on), Error::NoReader));
            assert!(matches!(map_error_with(pcsc::Error::RemovedCard, on), Error::CardRemoved));
            assert!(matches!(map_error_with(pcsc::Error::CommError, on), Error::PcscUnavailable(_)));
        }
    }
}
