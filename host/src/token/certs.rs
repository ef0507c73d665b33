//! Certificates on a token: reading them, telling the bank's apart from everything else, and
//! choosing the bank's login certificate.
//!
//! Kagi reads the retired slots the Key History object announces as holding on-card
//! certificates (SP 800-73-4 Part 1 §3.3.3) — where it puts the bank's certificates, and only
//! there. `9A`, `9C`, `9D`, `9E` belong to the customer's other uses (a company certificate in
//! `9A`): not reading them spares a round trip and up to a few KB per cold read. A certificate counts as the bank's only when one of
//! the request's CAs issued it ([`BankCas::issued`]); any other issuer's certificate is never
//! shown to a page, never used to sign and never replaced.

use kagi_proto::CertSummary;

use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::{cert_id, BankCas};
use crate::piv::{KeyAlgorithm, KeyHistory, RetiredIndex, Slot};
use crate::x509::{CertKey, ParsedCert};

/// SP 800-73-4 Part 1 §3.3.3: at most 20 retired key slots.
pub const RETIRED_SLOTS: u8 = 20;

/// A certificate found on the token, with the slot holding its key.
#[derive(Debug, Clone)]
pub struct SlotCert {
    pub slot: Slot,
    pub cert: ParsedCert,
}

impl SlotCert {
    pub fn summary(&self) -> CertSummary {
        self.cert.summary(&slot_hex(self.slot))
    }

    /// The PIV algorithm to sign with, when Kagi can sign with this key.
    pub fn key_algorithm(&self) -> Option<KeyAlgorithm> {
        match self.cert.key {
            CertKey::P256 => Some(KeyAlgorithm::EccP256),
            CertKey::Rsa2048 => Some(KeyAlgorithm::Rsa2048),
            CertKey::Other => None,
        }
    }

    /// SHA-256 of the DER, lowercase hex: the id a request chooses a certificate by.
    pub fn id(&self) -> String {
        cert_id(&self.cert.der)
    }
}

pub fn slot_hex(slot: Slot) -> String {
    format!("{:02X}", slot.key_ref())
}

/// The Key History object as Kagi found it.
#[derive(Debug, Clone, Default)]
pub enum History {
    #[default]
    Absent,
    Present(KeyHistory),
    /// Present but not well-formed (another program wrote it): Kagi does not know which slots
    /// it counts, reads every retired slot, and never rewrites it.
    Unreadable,
}

/// Reads the Key History object; a malformed one is [`History::Unreadable`], not an error.
pub fn read_history<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<History> {
    history_of(s.read_key_history())
}

/// [`read_history`] from the card itself, not the reader's cache: before Kagi rewrites it.
pub fn read_history_fresh<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<History> {
    history_of(s.read_key_history_fresh())
}

fn history_of(read: Result<Option<KeyHistory>>) -> Result<History> {
    match read {
        Ok(None) => Ok(History::Absent),
        Ok(Some(h)) => Ok(History::Present(h)),
        Err(Error::Malformed(m)) => {
            crate::log::warn(&format!("key history object not understood, left as it is: {m}"));
            Ok(History::Unreadable)
        }
        Err(e) => Err(e),
    }
}

/// What Kagi read of a token's certificates.
#[derive(Debug, Clone, Default)]
pub struct TokenCerts {
    pub certs: Vec<SlotCert>,
    pub history: History,
}

impl TokenCerts {
    /// The certificate read from `slot`, if any.
    pub fn in_slot(&self, slot: Slot) -> Option<&SlotCert> {
        self.certs.iter().find(|c| c.slot == slot)
    }

    /// Retired slots `1..=n` that the Key History counts as holding someone's key (with an
    /// on-card or an off-card certificate); `None` when the object cannot be read.
    pub fn counted_by_history(&self) -> Option<u8> {
        match &self.history {
            History::Absent => Some(0),
            History::Present(h) => Some(h.keys_with_on_card_certs.saturating_add(h.keys_with_off_card_certs)),
            History::Unreadable => None,
        }
    }

    /// The bank's certificates Kagi can sign with.
    pub fn bank<'a>(&'a self, cas: &'a BankCas) -> impl Iterator<Item = &'a SlotCert> + 'a {
        self.certs.iter().filter(move |c| c.key_algorithm().is_some() && cas.issued(&c.cert))
    }

    /// The bank's login certificate on this token: the valid one issued last; if none is valid,
    /// the one that expires last (so the customer still sees it and the bank can renew it).
    pub fn login<'a>(&'a self, cas: &'a BankCas, at: u64) -> Option<&'a SlotCert> {
        self.bank(cas)
            .filter(|c| c.cert.is_valid_at(at))
            .max_by_key(|c| (c.cert.not_before, c.cert.not_after))
            .or_else(|| self.bank(cas).max_by_key(|c| (c.cert.not_after, c.cert.not_before)))
    }

    /// Whether `c` is one of the bank's certificates that a new key may replace: in a retired
    /// slot, not the login certificate, and expired or older than the login certificate.
    pub fn superseded(&self, cas: &BankCas, c: &SlotCert, at: u64) -> bool {
        let Some(login) = self.login(cas, at) else { return false };
        matches!(c.slot, Slot::Retired(_))
            && c.slot != login.slot
            && cas.issued(&c.cert)
            && (c.cert.not_after < at || c.cert.not_before < login.cert.not_before)
    }
}

/// Reads the Key History and the retired slots it announces with on-card certificates
/// (without a Key History: retired slots up to the first empty one, as older middleware wrote
/// them; with one Kagi cannot parse: every retired slot). Unreadable certificates are logged
/// and skipped: another program's data is not Kagi's to judge.
pub fn read_certificates<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<TokenCerts> {
    let mut out = Vec::new();
    let mut push = |slot: Slot, der: Option<Vec<u8>>| match der.map(|d| ParsedCert::parse(&d)) {
        Some(Ok(cert)) => out.push(SlotCert { slot, cert }),
        Some(Err(e)) => crate::log::warn(&format!("ignoring unreadable certificate in slot {}: {e}", slot_hex(slot))),
        None => {}
    };
    // The Key History first: it says which retired slots to read at all.
    let history = read_history(s)?;
    let (last, stop_at_empty) = match &history {
        History::Present(h) => (h.keys_with_on_card_certs.min(RETIRED_SLOTS), false),
        History::Absent => (RETIRED_SLOTS, true),
        History::Unreadable => (RETIRED_SLOTS, false),
    };
    for n in 1..=last {
        let Some(slot) = RetiredIndex::new(n).map(Slot::Retired) else { break };
        let der = s.read_certificate(slot)?;
        if der.is_none() && stop_at_empty {
            break;
        }
        push(slot, der);
    }
    Ok(TokenCerts { certs: out, history })
}
