//! A log-on in a host started cold, on a token this PC has read before: the certificates come
//! from the record an earlier run kept (`card/remembered.rs`), not from the token, when the
//! token shows it still holds them (issue 13).
//!
//! Reading the bank's certificate is most of a cold log-on's card time (about 650 bytes at
//! roughly 16 µs each on a full-speed USB token, plus a round trip per slot). The record is
//! trusted only as far as the token confirms it:
//! 1. the Key History answers exactly as the record was filed (a new slot in use changes it);
//! 2. for each of the bank's certificates in the record, YubiKey GET METADATA reports the
//!    slot's public key and it is the certificate's: this tells the token apart from others
//!    filed alike (a public key is the token's own) and sees a slot reused for a newer
//!    certificate, e.g. by a renewal on another PC; a token without GET METADATA is read;
//! 3. the token's signature is checked against the certificate, as on every log-on.
//!
//! The CHUID is not read: the keys already say which token it is, and on a full-speed token
//! every round trip and every byte counts.
//!
//! When any step fails the certificates are read from the token, and when the log-on itself
//! fails with a recalled certificate (other than for the PIN or a pulled token) it is done once
//! more on what the token holds now.

use kagi_proto::{CertId, LoginToken, Nonce, Origin};

use crate::card::remembered::CertMemory;
use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::BankCas;
use crate::piv::objects::TAG_KEY_HISTORY;
use crate::piv::Pin;
use crate::token::certs::{read_certificates, SlotCert};
use crate::token::flows::sign_login;
use crate::x509::spki_bits;

/// [`sign_login`] on a token whose certificates `memory` may hold (see the module doc).
#[allow(clippy::too_many_arguments)]
pub fn sign_login_recalled<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    memory: &CertMemory,
    cas: &BankCas,
    chosen: Option<&CertId>,
    pin: &Pin,
    origin: &Origin,
    nonce: &Nonce,
    at: u64,
) -> Result<LoginToken> {
    with_recalled(s, memory, cas, |s| sign_login(s, cas, chosen, pin, origin, nonce, at))
}

/// Runs `op` (a signature with the bank's login key: a log-on or a transaction confirmation)
/// on a token whose certificates `memory` may hold; done once more on what the token holds now
/// when it fails with recalled certificates for a reason a fresh read can change.
pub fn with_recalled<T: Transport + ?Sized, R>(
    s: &mut PivSession<'_, T>,
    memory: &CertMemory,
    cas: &BankCas,
    mut op: impl FnMut(&mut PivSession<'_, T>) -> Result<R>,
) -> Result<R> {
    let recalled = recall(s, memory, cas)?;
    match op(s) {
        Err(e) if recalled && !settled_by_token(&e) => {
            crate::log::info(&format!("certificates kept from an earlier run do not fit the token ({e}); reading it"));
            s.forget_retired_certificates();
            op(s)
        }
        r => r,
    }
}

/// Errors a fresh read of the certificates cannot change: the PIN's, and the token's absence.
fn settled_by_token(e: &Error) -> bool {
    matches!(
        e,
        Error::PinIncorrect { .. }
            | Error::PinBlocked
            | Error::CardRemoved
            | Error::TokenAbsent
            | Error::NoReader
            | Error::PcscUnavailable(_)
    )
}

/// Puts a kept token's certificates into the session's cache when the token confirms them
/// (steps 1–2 of the module doc). `Ok(false)`: nothing recalled, the token will be read.
fn recall<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, memory: &CertMemory, cas: &BankCas) -> Result<bool> {
    if memory.dir().is_none() || !s.cache_is_cold() {
        return Ok(false);
    }
    s.select()?;
    let history = s.get_data_raw(TAG_KEY_HISTORY)?;
    for record in memory.recall(history.as_deref()) {
        s.recall_certificates(record.certificates());
        let bank: Vec<SlotCert> = read_certificates(s)?.bank(cas).cloned().collect();
        let mut confirmed = !bank.is_empty();
        for c in &bank {
            // GET METADATA answers stay in the session's cache: another candidate costs a
            // round trip only for a slot this one did not name.
            if !key_matches(s, c)? {
                confirmed = false;
                break;
            }
        }
        if confirmed {
            return Ok(true);
        }
        s.forget_retired_certificates();
    }
    Ok(false)
}

/// Whether the token reports `c`'s public key for `c`'s slot (YubiKey GET METADATA tag `04`);
/// `false` when it cannot say.
fn key_matches<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, c: &SlotCert) -> Result<bool> {
    let Some(alg) = c.key_algorithm() else { return Ok(false) };
    let Some(md) = s.metadata(c.slot.key_ref())? else { return Ok(false) };
    Ok(match md.public_key(alg) {
        Ok(Some(pk)) => spki_bits(&pk.spki_der()).is_ok_and(|bits| bits == c.cert.public_key_bits),
        _ => false,
    })
}
