//! A log-on in a host started cold, on a token this PC has read before: the certificates come
//! from the record an earlier run kept (`card/remembered.rs`), not from the token, when the
//! token shows it still holds them (issue 13).
//!
//! Reading the bank's certificate is most of a cold log-on's card time (about 650 bytes at
//! roughly 16 µs each on a full-speed USB token, plus a round trip per slot). The record is
//! trusted only as far as the token confirms it:
//! 1. the Key History answers exactly as the record was filed (a new slot in use changes it);
//! 2. for each certificate in the record other than the one that will sign, YubiKey GET
//!    METADATA reports the slot's public key and it is the certificate's: this sees a slot
//!    reused for a newer certificate, e.g. by a renewal on another PC; a token without GET
//!    METADATA is read whenever the record holds more than the signing certificate;
//! 3. the signing certificate's key is proven by the token's signature, checked against the
//!    certificate as on every log-on: a record from another token, or a slot that now holds
//!    another key, fails there and the token is read.
//!
//! The CHUID is not read: the keys already say which token it is, and on a full-speed token
//! every round trip and every byte counts.
//!
//! When any step fails the certificates are read from the token, and when the log-on itself
//! fails with a recalled certificate (other than for the PIN or a pulled token) it is done once
//! more on what the token holds now.

use kagi_proto::{CertId, LoginToken, Nonce, Origin};

use crate::card::cache::CardCache;
use crate::card::remembered::{CertMemory, TokenRecord};
use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::BankCas;
use crate::piv::objects::TAG_KEY_HISTORY;
use crate::piv::Pin;
use crate::piv::commands::{parse_key_history, unwrap_data_object};
use crate::token::certs::{read_certificates, SlotCert, RETIRED_SLOTS};
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
    with_recalled(s, memory, cas, chosen, at, |s| sign_login(s, cas, chosen, pin, origin, nonce, at))
}

/// Runs `op` (a signature with the bank's login key: a log-on or a transaction confirmation)
/// on a token whose certificates `memory` may hold; done once more on what the token holds now
/// when it fails with recalled certificates for a reason a fresh read can change.
pub fn with_recalled<T: Transport + ?Sized, R>(
    s: &mut PivSession<'_, T>,
    memory: &CertMemory,
    cas: &BankCas,
    chosen: Option<&CertId>,
    at: u64,
    mut op: impl FnMut(&mut PivSession<'_, T>) -> Result<R>,
) -> Result<R> {
    let recalled = recall(s, memory, cas, chosen, at)?;
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
///
/// A record is a candidate only when it holds exactly the slots the Key History announces, and
/// it is used only when every certificate in it sits beside its own key: the recalled objects
/// stay in the handle's cache for the operations that follow (an acquisition chooses its slot
/// from them), so none of them may be another token's or an older state's.
fn recall<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    memory: &CertMemory,
    cas: &BankCas,
    chosen: Option<&CertId>,
    at: u64,
) -> Result<bool> {
    if memory.dir().is_none() || !s.cache_is_cold() {
        return Ok(false);
    }
    s.select()?;
    let history = s.get_data_raw(TAG_KEY_HISTORY)?;
    let Some(announced) = announced_slots(history.as_deref()) else { return Ok(false) };
    for record in memory.recall(history.as_deref()) {
        let answers: Vec<(u32, Option<Vec<u8>>)> = record.certificates().collect();
        if !covers(&answers, announced) {
            continue;
        }
        let recorded = answers.iter().filter(|(_, d)| d.is_some()).count();
        s.recall_certificates(answers);
        let certs = read_certificates(s)?;
        // Every recorded certificate parsed, the one that will sign among them, and each of the
        // others beside its key. The signer's key is proven by its signature, checked against
        // the certificate before anything leaves the host (a mismatch reads the token afresh).
        // GET METADATA answers stay in the session's cache: another candidate costs a round
        // trip only for a slot this one did not name.
        let signer = match chosen {
            Some(id) => certs.bank(cas).find(|c| c.id() == id.as_str()),
            None => certs.login(cas, at),
        }
        .map(|c| c.slot);
        let mut confirmed = certs.certs.len() == recorded && signer.is_some();
        for c in certs.certs.iter().filter(|c| Some(c.slot) != signer) {
            if !confirmed || !key_matches(s, c)? {
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

/// How many retired slots the Key History answer announces with on-card certificates; `None`
/// without one Kagi can read (then no record says which slots to trust).
fn announced_slots(answer: Option<&[u8]>) -> Option<u8> {
    let value = unwrap_data_object(answer?).ok()?;
    Some(parse_key_history(value).ok()?.keys_with_on_card_certs.min(RETIRED_SLOTS))
}

/// Whether `answers` are exactly the retired slots `1..=n` (SP 800-73-4 Part 1 §3.3.3: the
/// on-card certificates of retired keys are numbered from 1; objects `5FC10D`…).
fn covers(answers: &[(u32, Option<Vec<u8>>)], n: u8) -> bool {
    let mut tags: Vec<u32> = answers.iter().map(|(t, _)| *t).collect();
    tags.sort_unstable();
    tags.iter().copied().eq((0..u32::from(n)).map(|i| 0x5FC10D + i))
}

/// What `cache` holds of a token, as a record worth keeping: the slots its Key History
/// announces, all of them ([`recall`] uses nothing less).
pub fn record_of(cache: &CardCache) -> Option<(Option<Vec<u8>>, TokenRecord)> {
    let (history, record) = TokenRecord::of(cache)?;
    let n = announced_slots(history.as_deref())?;
    let answers: Vec<(u32, Option<Vec<u8>>)> = record.certificates().collect();
    covers(&answers, n).then_some((history, record))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn a_record_must_hold_exactly_the_announced_slots() {
        // Key History answers: two on-card certificates; none; not a Key History.
        assert_eq!(announced_slots(Some(&h("53 08 C1 01 02 C2 01 00 FE 00"))), Some(2));
        assert_eq!(announced_slots(Some(&h("53 08 C1 01 00 C2 01 00 FE 00"))), Some(0));
        assert_eq!(announced_slots(Some(&h("53 02 C1 01"))), None);
        assert_eq!(announced_slots(None), None);
        let a = |tags: &[u32]| tags.iter().map(|t| (*t, Some(vec![1u8]))).collect::<Vec<_>>();
        assert!(covers(&a(&[0x5FC10E, 0x5FC10D]), 2));
        assert!(covers(&[(0x5FC10D, Some(vec![1])), (0x5FC10E, None)], 2), "a recorded empty slot counts");
        assert!(!covers(&a(&[0x5FC10E]), 2), "82 missing: it would be read from the token and the rest trusted");
        assert!(!covers(&a(&[0x5FC10D, 0x5FC10E, 0x5FC10F]), 2));
        assert!(covers(&[], 0));
    }
}
