//! Where a new key may go, and announcing it in the Key History object.
//!
//! A new key goes into a retired slot (`82`..`95`, SP 800-73-4 Part 1 §3.3.3) that holds
//! nothing — no certificate, not counted by the Key History object (keys with on-card or
//! off-card certificates), and, where the token answers YubiKey GET METADATA, no key — or into a
//! retired slot holding one of the same bank's superseded certificates, or Kagi's placeholder
//! of an acquisition that did not finish ([`crate::csr::placeholder`]). Never `9A`, `9C`, `9D`,
//! `9E`, never a slot with another issuer's certificate or key. The lowest such slot is used.

use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::{is_placeholder, BankCas};
use crate::piv::objects::TAG_KEY_HISTORY;
use crate::piv::{tlv, RetiredIndex, Slot};
use crate::token::certs::{read_history_fresh, History, SlotCert, TokenCerts, RETIRED_SLOTS};
use crate::x509::ParsedCert;

/// A fixed self-signed certificate (`CN=Kagi slot reserved for an acquisition, O=Kagi`; its
/// private key was discarded when it was made) written into the chosen slot BEFORE the new key
/// is generated there: from that moment a token pulled at any point leaves a slot the next
/// acquisition recognises as Kagi's, never a key without certificate that nobody may reuse.
/// Right after the key is generated it is replaced by the placeholder bound to the new key.
pub const RESERVATION: &[u8] = include_bytes!("reserved.der");

/// What a retired slot holds, as far as choosing a slot is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    /// Nothing: free for a new key.
    Free,
    /// One of the bank's superseded certificates, or Kagi's placeholder: its key may be replaced.
    Superseded,
    /// Anything else (another issuer's certificate or key, the bank's login certificate, a key
    /// the Key History counts): never touched.
    Taken,
}

/// Chooses the slot for a new key.
pub fn target_slot<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, certs: &TokenCerts, cas: &BankCas, at: u64) -> Result<Slot> {
    // An unreadable Key History counts nothing Kagi can rely on: only GET METADATA can then
    // show a slot is free.
    let (counted, strict) = match certs.counted_by_history() {
        Some(n) => (n, false),
        None => (0, true),
    };
    let mut metadata_supported = None;
    for n in 1..=RETIRED_SLOTS {
        let Some(index) = RetiredIndex::new(n) else { break };
        let slot = Slot::Retired(index);
        let occupant = if let Some(c) = certs.in_slot(slot) {
            classify_cert(certs, cas, c, at)
        } else if n <= counted {
            Occupant::Taken
        } else {
            // Not announced: check the object itself (a tool may have written a certificate
            // without updating the Key History), then the key.
            match s.read_certificate(slot)? {
                Some(der) => match ParsedCert::parse(&der) {
                    Ok(cert) => classify_cert(certs, cas, &SlotCert { slot, cert }, at),
                    Err(_) => Occupant::Taken,
                },
                None => key_occupant(s, slot, &mut metadata_supported, strict)?,
            }
        };
        if occupant != Occupant::Taken {
            return Ok(slot);
        }
    }
    Err(Error::TokenFull(
        "every retired key slot holds another issuer's key or certificate, or the bank's current one".into(),
    ))
}

fn classify_cert(certs: &TokenCerts, cas: &BankCas, c: &SlotCert, at: u64) -> Occupant {
    if certs.superseded(cas, c, at) || is_placeholder(&c.cert) {
        Occupant::Superseded
    } else {
        Occupant::Taken
    }
}

/// A slot without certificate: free unless GET METADATA shows a key in it. Tokens without
/// GET METADATA cannot say; the Key History is then all Kagi can go by (`strict`: not even
/// that, so the slot is not free).
fn key_occupant<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    slot: Slot,
    supported: &mut Option<bool>,
    strict: bool,
) -> Result<Occupant> {
    if supported.is_none() {
        // An empty slot and an unknown instruction both answer "nothing"; tell them apart once
        // with the management key's metadata, which every YubiKey with the instruction has.
        *supported = Some(s.metadata(crate::piv::objects::KEYREF_MANAGEMENT)?.is_some());
    }
    if *supported == Some(false) {
        return Ok(if strict { Occupant::Taken } else { Occupant::Free });
    }
    Ok(match s.metadata(slot.key_ref())? {
        Some(_) => Occupant::Taken,
        None => Occupant::Free,
    })
}

/// Makes the Key History object (SP 800-73-4 Part 1 §3.3.3) count `slot` among the keys with
/// on-card certificates. Written before the certificate itself: a token pulled in between then
/// announces a slot that is still empty, which readers skip, rather than hiding a certificate
/// that is there. The off-card count is kept as it is; an object Kagi cannot parse is not
/// Kagi's to rewrite (Kagi itself then reads every retired slot).
pub fn announce_retired_slot<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, slot: Slot) -> Result<()> {
    let Slot::Retired(index) = slot else { return Ok(()) };
    // Read from the card, not the cache: the counts kept are the card's own.
    let old = match read_history_fresh(s)? {
        History::Present(h) => Some(h),
        History::Absent => None,
        History::Unreadable => return Ok(()),
    };
    let on_card = old.as_ref().map(|h| h.keys_with_on_card_certs).unwrap_or(0);
    if on_card >= index.get() {
        return Ok(());
    }
    let mut value = tlv::encode(0xC1, &[index.get()]);
    let off_card = old.as_ref().map(|h| h.keys_with_off_card_certs).unwrap_or(0);
    tlv::encode_into(0xC2, &[off_card.min(RETIRED_SLOTS - index.get())], &mut value);
    if let Some(url) = old.and_then(|h| h.off_card_cert_url) {
        tlv::encode_into(0xF3, &url, &mut value);
    }
    s.put_data(TAG_KEY_HISTORY, &value)
}
