//! What Kagi does with tokens: find the bank's, log on with it, acquire a certificate onto it,
//! change or unblock its PIN — using and replacing only what the bank issued.
//!
//! - [`certs`]: reading certificates, the bank's login certificate, superseded ones;
//! - [`slots`]: where a new key may go (never over another issuer's key or certificate);
//! - [`mgmt_key`]: the management key kept on the token behind the PIN;
//! - [`flows`]: each operation on one token, over any transport;
//! - this file: the PC/SC side — which reader, one transaction per operation, how the card is
//!   left afterwards. Every operation reads through the reader's cache (`card/cache.rs`): the
//!   handle and what was read through it are kept between operations while PC/SC says the card
//!   is the same and nobody else reset it, so a log-on in a running host sends only VERIFY,
//!   GENERAL AUTHENTICATE and the PIN clear. What a cold read found is also kept on disk per
//!   token (`card/remembered.rs`), so a host started for one log-on recalls the certificates
//!   the token confirms it still holds ([`recall`]) instead of reading them.
//!
//! Several readers: the host looks at every reader. `authenticate` uses the one token holding
//! the bank's login certificate, or the one the request chose (`CHOICE_REQUIRED` otherwise);
//! `enroll.begin` the reader the request named, else the one token with the bank's certificate,
//! else the only PIV token.

pub mod certs;
pub mod flows;
pub mod mgmt_key;
pub mod recall;
pub mod slots;

use std::time::{SystemTime, UNIX_EPOCH};

use kagi_proto::{CertId, EnrollBeginResult, EnrollFinishResult, LoginToken, Nonce, Origin, StatusResult, TokenSummary, Transaction, TxSignature};

use crate::card::pcsc_backend::{Disconnect, PcscCard, PcscContext};
use crate::card::remembered::CertMemory;
use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::BankCas;
use crate::piv::Pin;
use crate::x509::ParsedCert;

pub use certs::{slot_hex, SlotCert};
pub use flows::{BeginRequest, PendingEnrollment};

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The host's access to tokens. Blocking: call it from `spawn_blocking`.
pub struct Tokens {
    ctx: Option<PcscContext>,
    memory: CertMemory,
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens::new()
    }
}

impl Tokens {
    /// Keeps what it reads in the user's cache directory ([`CertMemory::from_env`]).
    pub fn new() -> Tokens {
        Tokens::with_memory(CertMemory::from_env())
    }

    pub fn with_memory(memory: CertMemory) -> Tokens {
        Tokens { ctx: None, memory }
    }

    /// Runs `op` on the PC/SC context, establishing it when needed. After `PCSC_UNAVAILABLE`
    /// the context is dropped, so the next operation establishes a fresh one once pcscd is back.
    fn with_ctx<R>(&mut self, op: impl FnOnce(&mut PcscContext) -> Result<R>) -> Result<R> {
        if self.ctx.is_none() {
            self.ctx = Some(PcscContext::establish()?);
        }
        let ctx = self.ctx.as_mut().ok_or_else(|| Error::PcscUnavailable("no context".into()))?;
        let r = op(ctx);
        if let Err(Error::PcscUnavailable(_)) = r {
            self.ctx = None;
        }
        r
    }

    /// Gives back card handles kept since an operation more than `idle` ago (see
    /// [`PcscContext::release_idle`]).
    pub fn release_idle(&mut self, idle: std::time::Duration) {
        if let Some(ctx) = self.ctx.as_mut() {
            ctx.release_idle(idle);
        }
    }

    /// Readers, and every PIV token with its summary (the bank's login certificate when
    /// `issuers` were given).
    pub fn status(&mut self, cas: Option<&BankCas>) -> Result<StatusResult> {
        let memory = self.memory.clone();
        self.with_ctx(|ctx| {
            let readers = ctx.list_readers()?;
            let mut tokens = Vec::new();
            for r in readers.iter().filter(|r| r.card_present) {
                match summary_in(ctx, &memory, &r.name, cas) {
                    Ok(t) => tokens.push(t),
                    Err(e) => crate::log::info(&format!("reader {}: {e}", r.name)),
                }
            }
            Ok(StatusResult {
                readers: readers
                    .into_iter()
                    .map(|r| kagi_proto::ReaderInfo { name: r.name, token_present: r.card_present })
                    .collect(),
                tokens,
                host_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            })
        })
    }

    /// `authenticate`: the bank's login certificate (or the chosen one) signs the
    /// `kagi-auth:1` digest after the PIN. The login token goes to `signed` as soon as it is
    /// checked, before the PIN clear (still inside the same PC/SC transaction, so no other
    /// program can use the verified PIN meanwhile): the caller may answer the browser at once.
    pub fn authenticate_then(
        &mut self,
        origin: &Origin,
        nonce: &Nonce,
        pin: &Pin,
        cas: &BankCas,
        chosen: Option<&CertId>,
        signed: impl FnOnce(&LoginToken),
    ) -> Result<LoginToken> {
        let memory = self.memory.clone();
        self.with_ctx(|ctx| {
            let reader = login_reader(ctx, cas, chosen)?;
            let card = ctx.connect(&reader)?;
            // A handle kept from an earlier operation already holds what the token showed; a new
            // one reads the token, or recalls what this PC kept of it, and keeps what it read.
            let keep = card.cache().is_empty().then_some(&memory);
            let op = |s: &mut PivSession<'_, dyn Transport + '_>| recall::sign_login_recalled(s, &memory, cas, chosen, pin, origin, nonce, now());
            with_pin_then(ctx, card, After::ClearPin, keep, op, signed)
        })
    }

    /// `confirm`: the bank's login key (token and certificate chosen as for `authenticate`)
    /// signs the `kagi-tx:1` digest of `tx`, which is encoded here. The PIN is verified on every
    /// call, and the card is then RESET, not only its PIN cleared: nothing of this approval's
    /// security state is left for the next command, of Kagi or of any other program.
    #[allow(clippy::too_many_arguments)]
    pub fn confirm(
        &mut self,
        origin: &Origin,
        nonce: &Nonce,
        pin: &Pin,
        cas: &BankCas,
        chosen: Option<&CertId>,
        tx: &Transaction,
    ) -> Result<TxSignature> {
        let memory = self.memory.clone();
        self.with_ctx(|ctx| {
            let reader = login_reader(ctx, cas, chosen)?;
            let card = ctx.connect(&reader)?;
            let keep = card.cache().is_empty().then_some(&memory);
            let op = |s: &mut PivSession<'_, dyn Transport + '_>| {
                recall::with_recalled(s, &memory, cas, chosen, now(), |s| flows::sign_transaction(s, cas, chosen, pin, origin, nonce, tx, now()))
            };
            with_pin_then(ctx, card, After::Reset, keep, op, |_| {})
        })
    }

    /// `enroll.begin` on the chosen token.
    pub fn enroll_begin(&mut self, reader: Option<&str>, req: &BeginRequest<'_>) -> Result<(EnrollBeginResult, PendingEnrollment)> {
        self.with_ctx(|ctx| {
            let reader = choose_for_enrollment(ctx, reader, req.cas)?;
            let card = ctx.connect(&reader)?;
            // The management key was used: only a card reset clears that.
            with_pin(ctx, card, After::Reset, |s| flows::enroll_begin(s, &reader, req))
        })
    }

    /// `enroll.finish`: check the certificate is for the new key, store it, read it back.
    pub fn enroll_finish(&mut self, pending: &PendingEnrollment, certificate_der: &[u8]) -> Result<EnrollFinishResult> {
        let cert = ParsedCert::parse(certificate_der).map_err(|e| Error::BadRequest(format!("certificate: {e}")))?;
        flows::check_issued(pending, &cert)?;
        let memory = self.memory.clone();
        self.with_ctx(|ctx| {
            let mut card = ctx.connect(&pending.reader)?;
            let r = card.session(|s| flows::enroll_finish(s, pending, certificate_der));
            if r.is_ok() {
                keep_record(&memory, &card);
            }
            finish(ctx, card, r, Disconnect::Reset)?;
            Ok(EnrollFinishResult { certificate: cert.summary(&slot_hex(pending.slot)) })
        })
    }

    /// `kagi-host token init`: initialise the management key (PIN verified, or changed first).
    /// Returns the reader and whether this call initialised the token.
    pub fn init_token(&mut self, reader: Option<&str>, pin: &Pin, new_pin: Option<&Pin>) -> Result<(String, bool)> {
        let mut initialised = false;
        let reader = self.pin_operation(reader, |s| {
            initialised = flows::init_token(s, pin, new_pin)?;
            Ok(())
        })?;
        Ok((reader, initialised))
    }

    /// `pin.change`.
    pub fn change_pin(&mut self, reader: Option<&str>, pin: &Pin, new_pin: &Pin) -> Result<String> {
        self.pin_operation(reader, |s| flows::change_pin(s, pin, new_pin))
    }

    /// `pin.unblock`.
    pub fn unblock_pin(&mut self, reader: Option<&str>, puk: &Pin, new_pin: &Pin) -> Result<String> {
        self.pin_operation(reader, |s| flows::unblock_pin(s, puk, new_pin))
    }

    fn pin_operation(
        &mut self,
        reader: Option<&str>,
        mut op: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<()>,
    ) -> Result<String> {
        self.with_ctx(|ctx| {
            let reader = match reader {
                Some(r) => r.to_owned(),
                None => only_piv_reader(ctx)?,
            };
            let card = ctx.connect(&reader)?;
            with_pin(ctx, card, After::Reset, |s| op(s))?;
            Ok(reader)
        })
    }
}

/// The reader whose token signs a log-on or a confirmation: the only token inserted, else the
/// one token holding the bank's login certificate (or the chosen one); `CHOICE_REQUIRED` when
/// several do.
fn login_reader(ctx: &mut PcscContext, cas: &BankCas, chosen: Option<&CertId>) -> Result<String> {
    // One token inserted: it is the only candidate, and signing selects it anyway (a card
    // that is not PIV fails there as it would here), so no separate look first.
    let present = present_readers(ctx)?;
    let readers = if present.len() == 1 { present } else { piv_readers(ctx)? };
    if readers.len() == 1 {
        return Ok(readers[0].clone());
    }
    // Several cards: find the ones holding the bank's (or the chosen) certificate.
    let mut found = Vec::new();
    for r in &readers {
        let hit = read_only(ctx, r, |s| {
            s.select()?;
            flows::login_certificate(s, cas, chosen, now())
        });
        match hit {
            Ok(_) => found.push(r.clone()),
            Err(Error::NoCertificate) | Err(Error::NotPiv) => {}
            Err(e) => crate::log::info(&format!("reader {r}: {e}")),
        }
    }
    match found.len() {
        0 => Err(Error::NoCertificate),
        1 => Ok(found.remove(0)),
        _ => Err(Error::ChoiceRequired(format!("{} tokens hold the bank's certificate", found.len()))),
    }
}

/// Readers with a card in them: `NoReader` / `TokenAbsent` when none.
fn present_readers(ctx: &mut PcscContext) -> Result<Vec<String>> {
    let readers = ctx.list_readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader);
    }
    let present: Vec<String> = readers.into_iter().filter(|r| r.card_present).map(|r| r.name).collect();
    if present.is_empty() {
        return Err(Error::TokenAbsent);
    }
    Ok(present)
}

/// Readers whose card answers SELECT PIV. `NoReader` / `TokenAbsent` / `NotPiv` when none.
fn piv_readers(ctx: &mut PcscContext) -> Result<Vec<String>> {
    let readers = ctx.list_readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader);
    }
    let mut last = Error::TokenAbsent;
    let mut out = Vec::new();
    for r in readers.iter().filter(|r| r.card_present) {
        match read_only(ctx, &r.name, |s| s.select().map(drop)) {
            Ok(()) => out.push(r.name.clone()),
            Err(e) => last = e,
        }
    }
    if out.is_empty() {
        return Err(last);
    }
    Ok(out)
}

/// The one PIV token, or `CHOICE_REQUIRED`.
fn only_piv_reader(ctx: &mut PcscContext) -> Result<String> {
    let mut readers = piv_readers(ctx)?;
    if readers.len() > 1 {
        return Err(Error::ChoiceRequired(format!("{} tokens are inserted", readers.len())));
    }
    Ok(readers.remove(0))
}

/// The token for a new key: the named reader; else the one holding the bank's login
/// certificate (a renewal); else the only PIV token.
fn choose_for_enrollment(ctx: &mut PcscContext, named: Option<&str>, cas: &BankCas) -> Result<String> {
    if let Some(r) = named {
        return Ok(r.to_owned());
    }
    let readers = piv_readers(ctx)?;
    if readers.len() == 1 {
        return Ok(readers[0].clone());
    }
    let with_bank: Vec<&String> = readers
        .iter()
        .filter(|r| {
            read_only(ctx, r, |s| {
                s.select()?;
                flows::login_certificate(s, cas, None, now())
            })
            .is_ok()
        })
        .collect();
    match with_bank.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(Error::ChoiceRequired(format!("{} tokens are inserted", readers.len()))),
    }
}

/// Runs read-only `op` in one transaction on the card in `reader` and leaves the card as it is.
fn read_only<R>(
    ctx: &mut PcscContext,
    reader: &str,
    mut op: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<R>,
) -> Result<R> {
    let mut card = ctx.connect(reader)?;
    let r = card.session(|s| op(s));
    finish(ctx, card, r, Disconnect::Leave)
}

fn summary_in(ctx: &mut PcscContext, memory: &CertMemory, reader: &str, cas: Option<&BankCas>) -> Result<TokenSummary> {
    let mut card = ctx.connect(reader)?;
    let r = card.session(|s| flows::summarise(s, reader, cas, now()));
    if r.is_ok() {
        keep_record(memory, &card);
    }
    // A factory-key probe leaves the management key authenticated: reset then.
    let how = match &r {
        Ok((_, true)) => Disconnect::Reset,
        _ => Disconnect::Leave,
    };
    finish(ctx, card, r, how).map(|(t, _)| t)
}

/// How to leave the card after an operation that verified the PIN.
enum After {
    /// Reset the PIN's security status and leave the card as it is: other programs (and other
    /// Kagi hosts) keep their connections. Falls back to a reset on cards without VERIFY P1=FF.
    ClearPin,
    /// Reset the card: also clears a management key authentication.
    Reset,
}

/// Runs `op` in one transaction and leaves the card with the PIN no longer verified, whatever
/// `op` returned: it must not stay verified for other programs on this PC.
fn with_pin<R>(
    ctx: &mut PcscContext,
    card: PcscCard,
    after: After,
    op: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<R>,
) -> Result<R> {
    with_pin_then(ctx, card, after, None, op, |_| {})
}

/// Keeps on disk what `card`'s cache holds of the token (`card/remembered.rs`), for the next
/// host run.
fn keep_record(memory: &CertMemory, card: &PcscCard) {
    if let Some((history, r)) = recall::record_of(card.cache()) {
        memory.keep(history.as_deref(), &r);
    }
}

/// [`with_pin`], handing `op`'s successful result to `done` before the PIN is cleared (inside
/// the transaction); on success, keeps what was read in `keep` ([`keep_record`]).
fn with_pin_then<R>(
    ctx: &mut PcscContext,
    mut card: PcscCard,
    after: After,
    keep: Option<&CertMemory>,
    mut op: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<R>,
    done: impl FnOnce(&R),
) -> Result<R> {
    let mut done = Some(done);
    let r = card.session(|s| {
        let r = op(s);
        if let (Ok(v), Some(d)) = (&r, done.take()) {
            d(v);
        }
        let cleared = matches!(after, After::ClearPin) && s.unverify_pin().unwrap_or(false);
        Ok((r, cleared))
    });
    let how = match &r {
        Ok((_, true)) => Disconnect::Leave,
        _ => Disconnect::Reset,
    };
    // The operation's own error may say the card went away: the handle is then of no use.
    let gone = match &r {
        Err(e) | Ok((Err(e), _)) => card_gone(e),
        Ok((Ok(_), _)) => false,
    };
    if let (Some(memory), Ok((Ok(_), _))) = (keep, &r) {
        keep_record(memory, &card);
    }
    let d = ctx.release(card, how, gone);
    let v = r?.0;
    if let Err(e) = d {
        crate::log::warn(&format!("disconnect: {e}"));
    }
    v
}

/// Errors after which the card handle is of no further use.
fn card_gone(e: &Error) -> bool {
    matches!(e, Error::CardRemoved | Error::TokenAbsent | Error::NoReader | Error::PcscUnavailable(_))
}

/// Hands the card back to the context (kept for the next operation unless it is gone), keeping
/// the operation's error over a release error.
fn finish<R>(ctx: &mut PcscContext, card: PcscCard, r: Result<R>, how: Disconnect) -> Result<R> {
    let gone = matches!(&r, Err(e) if card_gone(e));
    let d = ctx.release(card, how, gone);
    let v = r?;
    if let Err(e) = d {
        crate::log::warn(&format!("disconnect: {e}"));
    }
    Ok(v)
}

/// The PIN from the wire (already zeroized on drop) as a validated PIV PIN.
pub fn pin_from_wire(p: &kagi_proto::Pin) -> Result<Pin> {
    Pin::new(p.expose())
}

/// The PUK from the wire as a validated PIV reference value.
pub fn puk_from_wire(p: &kagi_proto::Pin) -> Result<Pin> {
    Pin::puk(p.expose())
}
