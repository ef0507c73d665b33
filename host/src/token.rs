//! What Kagi does with a token: summarise it, log on with it, and acquire a certificate onto it
//! without ever leaving it unusable.
//!
//! ## Certificate slots (the acquisition scheme)
//! A newly acquired key is generated into a *retired key management slot* (`82`..`95`, SP 800-73-4
//! Part 1 §3.3.2), never over the key in use. The certificate Kagi logs on with is the newest
//! valid one found in `9A` and the retired slots. Until `enroll.finish` has written the new
//! certificate and read it back, the old key and certificate stay exactly as they were. The Key
//! History object (`5FC10C`, tag `C1`) counts the retired slots holding certificates so OpenSC and
//! other PIV middleware see them too.

use std::time::{SystemTime, UNIX_EPOCH};

use kagi_proto::{
    login, CertSummary, EnrollBeginResult, EnrollFinishResult, LoginToken, Nonce, Origin, SignatureAlgorithm, StatusResult,
    TokenSummary,
};

use crate::card::pcsc_backend::{Disconnect, PcscCard, PcscContext};
use crate::card::session::{PinState, PivSession};
use crate::card::Transport;
use crate::error::{Error, Result};
use crate::piv::{tlv, KeyAlgorithm, ManagementKey, Pin, PublicKey, RetiredIndex, Slot};
use crate::x509::{CertKey, ParsedCert};

/// SP 800-73-4 Part 1 Table 3: Key History Object.
const TAG_KEY_HISTORY: u32 = 0x5FC10C;
const RETIRED_SLOTS: u8 = 20;

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

    fn key_algorithm(&self) -> Option<KeyAlgorithm> {
        match self.cert.key {
            CertKey::P256 => Some(KeyAlgorithm::EccP256),
            CertKey::Rsa2048 => Some(KeyAlgorithm::Rsa2048),
            CertKey::Other => None,
        }
    }
}

pub fn slot_hex(slot: Slot) -> String {
    format!("{:02X}", slot.key_ref())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The certificate to log on with: the valid one issued last; if none is valid, the one that
/// expires last (so the customer still sees it, and the bank can tell it is out of date).
pub fn active(certs: &[SlotCert], at: u64) -> Option<&SlotCert> {
    let usable = || certs.iter().filter(|c| c.key_algorithm().is_some());
    usable()
        .filter(|c| c.cert.is_valid_at(at))
        .max_by_key(|c| (c.cert.not_before, c.cert.not_after))
        .or_else(|| usable().max_by_key(|c| (c.cert.not_after, c.cert.not_before)))
}

/// Reads every certificate Kagi may use: `9A`, then the retired slots the Key History announces
/// (or, without one, retired slots up to the first empty one).
pub fn read_certificates<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<Vec<SlotCert>> {
    let mut out = Vec::new();
    let mut push = |slot: Slot, der: Option<Vec<u8>>| match der.map(|d| ParsedCert::parse(&d)) {
        Some(Ok(cert)) => out.push(SlotCert { slot, cert }),
        Some(Err(e)) => crate::log::warn(&format!("ignoring unreadable certificate in slot {}: {e}", slot_hex(slot))),
        None => {}
    };
    push(Slot::Authentication, s.read_certificate(Slot::Authentication)?);
    let announced = s.read_key_history()?.map(|h| h.keys_with_on_card_certs.min(RETIRED_SLOTS));
    for n in 1..=announced.unwrap_or(RETIRED_SLOTS) {
        let Some(slot) = RetiredIndex::new(n).map(Slot::Retired) else { break };
        let der = s.read_certificate(slot)?;
        if der.is_none() && announced.is_none() {
            break;
        }
        push(slot, der);
    }
    Ok(out)
}

/// Summary of the PIV token behind `s`.
pub fn summarise<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, reader: &str) -> Result<TokenSummary> {
    s.select()?;
    let guid = s.read_chuid()?.map(|c| hex::encode(c.guid));
    let pin_retries = match s.pin_retries()? {
        PinState::Verified => None,
        PinState::Retries(n) => Some(n),
        PinState::Blocked => Some(0),
    };
    let certs = read_certificates(s)?;
    Ok(TokenSummary {
        reader: reader.to_owned(),
        guid,
        pin_retries,
        certificate: active(&certs, now()).map(SlotCert::summary),
    })
}

/// Where `enroll.begin` left things, for `enroll.finish` on the same connection.
pub struct PendingEnrollment {
    pub origin: Origin,
    pub reader: String,
    pub guid: Option<[u8; 16]>,
    pub slot: Slot,
    pub algorithm: KeyAlgorithm,
    /// subjectPublicKey bits of the new key (EC point, or DER RSAPublicKey).
    pub public_key_bits: Vec<u8>,
}

/// The host's access to tokens. Blocking: call it from `spawn_blocking`.
pub struct Tokens {
    ctx: Option<PcscContext>,
    management_key: ManagementKey,
}

impl Tokens {
    pub fn new(management_key: ManagementKey) -> Tokens {
        Tokens { ctx: None, management_key }
    }

    /// Runs `op` on the PC/SC context, establishing it when needed. After `PCSC_UNAVAILABLE`
    /// the context is dropped, so the next operation establishes a fresh one once pcscd is back.
    fn with_ctx<R>(&mut self, op: impl FnOnce(&mut PcscContext, &ManagementKey) -> Result<R>) -> Result<R> {
        if self.ctx.is_none() {
            self.ctx = Some(PcscContext::establish()?);
        }
        let ctx = self.ctx.as_mut().ok_or_else(|| Error::PcscUnavailable("no context".into()))?;
        let r = op(ctx, &self.management_key);
        if let Err(Error::PcscUnavailable(_)) = r {
            self.ctx = None;
        }
        r
    }

    /// Readers, and the first PIV token found.
    pub fn status(&mut self) -> Result<StatusResult> {
        self.with_ctx(|ctx, _| {
            let readers = ctx.list_readers()?;
            let mut token = None;
            for r in readers.iter().filter(|r| r.card_present) {
                match summary_in(ctx, &r.name) {
                    Ok(t) => {
                        token = Some(t);
                        break;
                    }
                    Err(e) => crate::log::info(&format!("reader {}: {e}", r.name)),
                }
            }
            Ok(StatusResult {
                readers: readers
                    .into_iter()
                    .map(|r| kagi_proto::ReaderInfo { name: r.name, token_present: r.card_present })
                    .collect(),
                token,
            })
        })
    }

    /// Summary of the token in `reader` (for the `inserted` event).
    pub fn summary(&mut self, reader: &str) -> Result<TokenSummary> {
        self.with_ctx(|ctx, _| summary_in(ctx, reader))
    }

    /// Connects to the first reader whose card answers SELECT PIV.
    fn connect_piv(ctx: &mut PcscContext) -> Result<PcscCard> {
        let readers = ctx.list_readers()?;
        if readers.is_empty() {
            return Err(Error::NoReader);
        }
        let mut last = Error::TokenAbsent;
        for r in readers.iter().filter(|r| r.card_present) {
            let mut card = match ctx.connect(&r.name) {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match card.transaction(|t| PivSession::new(t).select().map(drop)) {
                Ok(()) => return Ok(card),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `authenticate`: verify the PIN and sign the `kagi-auth:1` digest with the active key.
    pub fn authenticate(&mut self, origin: &Origin, nonce: &Nonce, pin: &Pin) -> Result<LoginToken> {
        let digest = login::digest(origin, nonce);
        self.with_ctx(|ctx, _| {
            let card = Self::connect_piv(ctx)?;
            with_pin(card, After::ClearPin, |s| {
                s.select()?;
                let certs = read_certificates(s)?;
                let chosen = active(&certs, now()).ok_or(Error::NoCertificate)?;
                let alg = chosen.key_algorithm().ok_or(Error::NoCertificate)?;
                s.verify_pin(pin)?;
                let sig = s.sign_digest(chosen.slot, alg, &digest)?;
                Ok(match alg {
                    KeyAlgorithm::EccP256 => {
                        LoginToken::new(&chosen.cert.der, SignatureAlgorithm::ES256, &crate::x509::ecdsa_der_to_raw(&sig)?)
                    }
                    _ => LoginToken::new(&chosen.cert.der, SignatureAlgorithm::RS256, &sig),
                })
            })
        })
    }

    /// `enroll.begin`: new key pair in a retired slot, CSR signed by it.
    pub fn enroll_begin(
        &mut self,
        origin: &Origin,
        pin: &Pin,
        algorithm: kagi_proto::KeyAlgorithm,
    ) -> Result<(EnrollBeginResult, PendingEnrollment)> {
        let alg = match algorithm {
            kagi_proto::KeyAlgorithm::P256 => KeyAlgorithm::EccP256,
            kagi_proto::KeyAlgorithm::Rsa2048 => KeyAlgorithm::Rsa2048,
        };
        self.with_ctx(|ctx, mgmt| {
            let card = Self::connect_piv(ctx)?;
            let reader = card.reader().to_owned();
            // The management key was used: only a card reset clears that.
            with_pin(card, After::Reset, |s| {
                s.select()?;
                let guid = s.read_chuid()?.map(|c| c.guid);
                s.verify_pin(pin)?;
                let certs = read_certificates(s)?;
                let slot = target_slot(&certs)?;
                s.authenticate_management(mgmt)?;
                if certs.iter().any(|c| c.slot == slot) {
                    // A superseded certificate: remove it before its key is replaced, so the
                    // token never pairs a certificate with a key that is not its own.
                    s.put_data(slot.cert_tag(), &[])?;
                }
                let public = s.generate_key(slot, alg)?;
                let public_key_bits = public_key_bits(&public)?;
                let cn = format!("Kagi token {}", guid.map(hex::encode).unwrap_or_default());
                let csr = crate::csr::build(algorithm, &public_key_bits, cn.trim(), &mut |d: &[u8; 32]| {
                    s.sign_digest(slot, alg, d)
                })?;
                Ok((
                    EnrollBeginResult { slot: slot_hex(slot), algorithm, csr: b64(&csr) },
                    PendingEnrollment {
                        origin: origin.clone(),
                        reader: reader.clone(),
                        guid,
                        slot,
                        algorithm: alg,
                        public_key_bits,
                    },
                ))
            })
        })
    }

    /// `enroll.finish`: check the certificate is for the new key, store it, read it back.
    pub fn enroll_finish(&mut self, pending: &PendingEnrollment, certificate_der: &[u8]) -> Result<EnrollFinishResult> {
        let cert = ParsedCert::parse(certificate_der).map_err(|e| Error::BadRequest(format!("certificate: {e}")))?;
        let expected = match pending.algorithm {
            KeyAlgorithm::EccP256 => CertKey::P256,
            _ => CertKey::Rsa2048,
        };
        if cert.key != expected || cert.public_key_bits != pending.public_key_bits {
            return Err(Error::CertMismatch);
        }
        self.with_ctx(|ctx, mgmt| {
            let mut card = ctx.connect(&pending.reader)?;
            let r = card.transaction(|t| {
                let mut s = PivSession::new(t);
                s.select()?;
                if s.read_chuid()?.map(|c| c.guid) != pending.guid {
                    // Another token was inserted since enroll.begin.
                    return Err(Error::CertMismatch);
                }
                s.authenticate_management(mgmt)?;
                announce_retired_slot(&mut s, pending.slot)?;
                s.write_certificate(pending.slot, certificate_der)?;
                let back = s.read_certificate(pending.slot)?;
                if back.as_deref() != Some(certificate_der) {
                    return Err(Error::Internal("certificate read back differs from the one written".into()));
                }
                Ok(EnrollFinishResult { certificate: cert.summary(&slot_hex(pending.slot)) })
            });
            finish(card, r, Disconnect::Reset)
        })
    }
}

fn summary_in(ctx: &mut PcscContext, reader: &str) -> Result<TokenSummary> {
    let mut card = ctx.connect(reader)?;
    let r = card.transaction(|t| summarise(&mut PivSession::new(t), reader));
    finish(card, r, Disconnect::Leave)
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
    mut card: PcscCard,
    after: After,
    mut op: impl for<'a, 't> FnMut(&mut PivSession<'a, dyn Transport + 't>) -> Result<R>,
) -> Result<R> {
    let r = card.transaction(|t| {
        let mut s = PivSession::new(t);
        let r = op(&mut s);
        let cleared = matches!(after, After::ClearPin) && s.unverify_pin().unwrap_or(false);
        Ok((r, cleared))
    });
    let how = match &r {
        Ok((_, true)) => Disconnect::Leave,
        _ => Disconnect::Reset,
    };
    finish(card, r, how)?.0
}

/// Disconnects, keeping the operation's error over a disconnect error.
fn finish<R>(card: PcscCard, r: Result<R>, how: Disconnect) -> Result<R> {
    let d = card.disconnect(how);
    let v = r?;
    if let Err(e) = d {
        crate::log::warn(&format!("disconnect: {e}"));
    }
    Ok(v)
}

/// The retired slot for a new key: the lowest one that is empty or holds a certificate other
/// than the active one.
fn target_slot(certs: &[SlotCert]) -> Result<Slot> {
    let active_slot = active(certs, now()).map(|c| c.slot);
    (1..=RETIRED_SLOTS)
        .filter_map(|n| RetiredIndex::new(n).map(Slot::Retired))
        .find(|slot| Some(*slot) != active_slot)
        .ok_or_else(|| Error::Internal("no retired key slot available".into()))
}

/// Makes the Key History object (`keysWithOnCardCerts`, SP 800-73-4 Part 1 §3.3.2) cover `slot`.
/// Written before the certificate itself: a token pulled in between then announces a slot that
/// is still empty, which readers skip, rather than hiding a certificate that is there.
fn announce_retired_slot<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, slot: Slot) -> Result<()> {
    let Slot::Retired(index) = slot else { return Ok(()) };
    let old = s.read_key_history()?;
    let on_card = old.as_ref().map(|h| h.keys_with_on_card_certs).unwrap_or(0);
    if on_card >= index.get() {
        return Ok(());
    }
    let mut value = tlv::encode(0xC1, &[index.get()]);
    tlv::encode_into(0xC2, &[old.map(|h| h.keys_with_off_card_certs).unwrap_or(0)], &mut value);
    s.put_data(TAG_KEY_HISTORY, &value)
}

/// subjectPublicKey BIT STRING contents of a generated key.
fn public_key_bits(k: &PublicKey) -> Result<Vec<u8>> {
    crate::x509::spki_bits(&k.spki_der())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The PIN from the wire (already zeroized on drop) as a validated PIV PIN.
pub fn pin_from_wire(p: &kagi_proto::Pin) -> Result<Pin> {
    Pin::new(p.expose())
}
