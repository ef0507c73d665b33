//! What Kagi does on one token, as functions over a [`PivSession`] (so they run on the
//! scripted `MemoryTransport` as well as on PC/SC): summarise it, sign a log-on, begin and
//! finish an acquisition, change and unblock the PIN. Choosing the token and holding the PC/SC
//! transaction is [`super::Tokens`]' job.

use kagi_proto::{login, CertId, EnrollBeginResult, LoginToken, ManagementKeyState, Nonce, Origin, SignatureAlgorithm, TokenSummary, Transaction, TxSignature};

use crate::card::{PinState, PivSession, Transport};
use crate::error::{Error, Result};
use crate::issuer::{check_token_signature, BankCas};
use crate::piv::objects::ManagementKey;
use crate::piv::yubikey::{KEYREF_PIN, KEYREF_PUK};
use crate::piv::{KeyAlgorithm, Pin, PublicKey, Slot};
use crate::token::certs::{read_certificates, slot_hex, SlotCert};
use crate::token::mgmt_key::{self, KeyFacts};
use crate::token::slots;
use crate::x509::{CertKey, ParsedCert};

/// A token's summary, and whether finding it out left the card needing a reset (a factory
/// key probe authenticates the management key).
pub fn summarise<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    reader: &str,
    cas: Option<&BankCas>,
    at: u64,
) -> Result<(TokenSummary, bool)> {
    s.select()?;
    let guid = s.read_chuid()?.map(|c| hex::encode(c.guid));
    let pin_retries = match s.pin_retries()? {
        PinState::Verified => None,
        PinState::Retries(n) => Some(n),
        PinState::Blocked => Some(0),
    };
    let facts = KeyFacts::read(s)?;
    let (pin_default, puk_retries) = if facts.metadata.is_some() {
        let pin = s.metadata(KEYREF_PIN)?;
        let puk = s.metadata(KEYREF_PUK)?;
        (pin.and_then(|m| m.is_default), puk.and_then(|m| m.retries).map(|(_, left)| left))
    } else {
        (None, None)
    };
    let mut needs_reset = false;
    let management_key = match facts.state() {
        Some(state) => state,
        None => {
            needs_reset = true;
            match mgmt_key::probe_factory(s, &facts)? {
                Some(_) => ManagementKeyState::Factory,
                None => ManagementKeyState::Unknown,
            }
        }
    };
    let certificate = match cas {
        Some(cas) => read_certificates(s)?.login(cas, at).map(SlotCert::summary),
        None => None,
    };
    let summary =
        TokenSummary { reader: reader.to_owned(), guid, pin_retries, puk_retries, pin_default, management_key, certificate };
    Ok((summary, needs_reset))
}

/// The bank's login certificate on this token (or the chosen one), as `authenticate` uses it.
pub fn login_certificate<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    cas: &BankCas,
    chosen: Option<&CertId>,
    at: u64,
) -> Result<SlotCert> {
    let certs = read_certificates(s)?;
    let found = match chosen {
        Some(id) => certs.bank(cas).find(|c| c.id() == id.as_str()),
        None => certs.login(cas, at),
    };
    found.cloned().ok_or(Error::NoCertificate)
}

/// `authenticate` on this token: the PIN, then the `kagi-auth:1` digest signed with the bank's
/// login certificate's key, checked against the certificate before it leaves the host.
pub fn sign_login<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    cas: &BankCas,
    chosen: Option<&CertId>,
    pin: &Pin,
    origin: &Origin,
    nonce: &Nonce,
    at: u64,
) -> Result<LoginToken> {
    let (cert, alg, sig) = sign_with_login_key(s, cas, chosen, pin, &login::digest(origin, nonce), at)?;
    Ok(LoginToken::new(&cert, alg, &sig))
}

/// `confirm` on this token: the PIN (verified here on every call: nothing of an earlier one is
/// used), then the `kagi-tx:1` digest of `tx` — the body encoded here from the typed
/// transaction — signed with the bank's login key and checked like a log-on signature.
#[allow(clippy::too_many_arguments)]
pub fn sign_transaction<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    cas: &BankCas,
    chosen: Option<&CertId>,
    pin: &Pin,
    origin: &Origin,
    nonce: &Nonce,
    tx: &Transaction,
    at: u64,
) -> Result<TxSignature> {
    let (cert, alg, sig) = sign_with_login_key(s, cas, chosen, pin, &tx.digest(origin, nonce), at)?;
    Ok(TxSignature::new(&cert, alg, &sig, &tx.body_sha256()))
}

/// The PIN, then `digest` signed with the bank's login certificate's key (or the chosen one's),
/// checked against the certificate: its DER, the algorithm, and the signature in the wire's form
/// (ES256 `r ‖ s`, RS256 as is).
fn sign_with_login_key<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    cas: &BankCas,
    chosen: Option<&CertId>,
    pin: &Pin,
    digest: &[u8; 32],
    at: u64,
) -> Result<(Vec<u8>, SignatureAlgorithm, Vec<u8>)> {
    s.select()?;
    let cert = login_certificate(s, cas, chosen, at)?;
    let alg = cert.key_algorithm().ok_or(Error::NoCertificate)?;
    s.verify_pin(pin)?;
    let sig = s.sign_digest(cert.slot, alg, digest)?;
    check_token_signature(&cert.cert, digest, &sig)?;
    Ok(match alg {
        KeyAlgorithm::EccP256 => (cert.cert.der.clone(), SignatureAlgorithm::ES256, crate::x509::ecdsa_der_to_raw(&sig)?.to_vec()),
        _ => (cert.cert.der.clone(), SignatureAlgorithm::RS256, sig),
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
    /// The management key read from behind the PIN at `enroll.begin`, kept in memory (zeroized
    /// on drop) until the certificate is stored, so `enroll.finish` needs no second PIN entry.
    pub management_key: ManagementKey,
}

/// The PIN step of an acquisition: the customer's PIN, replaced first by `new_pin` when given.
/// A token still at the factory PIN gets nothing written until the customer chose a PIN.
fn verify_or_change_pin<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, pin: &Pin, new_pin: Option<&Pin>, factory: bool) -> Result<()> {
    match new_pin {
        Some(new) => {
            s.change_pin(pin, new)?;
            s.verify_pin(new)
        }
        None => {
            s.verify_pin(pin)?;
            if factory {
                return Err(Error::PinChangeRequired);
            }
            Ok(())
        }
    }
}

/// Input of [`enroll_begin`].
pub struct BeginRequest<'a> {
    pub origin: &'a Origin,
    pub cas: &'a BankCas,
    pub pin: &'a Pin,
    /// Whether `pin` is the factory PIN as the customer typed it.
    pub pin_is_factory: bool,
    pub new_pin: Option<&'a Pin>,
    pub algorithm: kagi_proto::KeyAlgorithm,
    pub at: u64,
}

/// `enroll.begin` on this token: PIN (new PIN first on a factory token), the slot chosen
/// before anything is written, the management key unlocked (or initialised), the slot reserved
/// (over the bank's superseded certificate, if any), a new key generated there with Kagi's
/// placeholder certificate beside it, a CSR signed by it, and the token's attestation of the
/// key when it has one (YubiKey ATTEST).
pub fn enroll_begin<T: Transport + ?Sized>(
    s: &mut PivSession<'_, T>,
    reader: &str,
    req: &BeginRequest<'_>,
) -> Result<(EnrollBeginResult, PendingEnrollment)> {
    s.select()?;
    let guid = s.read_chuid()?.map(|c| c.guid);
    verify_or_change_pin(s, req.pin, req.new_pin, req.pin_is_factory)?;
    let certs = read_certificates(s)?;
    let slot = slots::target_slot(s, &certs, req.cas, req.at)?;
    let (management_key, _initialised) = mgmt_key::unlock(s)?;
    // Reserve the slot (over a superseded certificate, whose key is about to be replaced):
    // a pull from here on leaves a slot Kagi recognises as its own.
    s.write_certificate(slot, slots::RESERVATION)?;
    let alg = match req.algorithm {
        kagi_proto::KeyAlgorithm::P256 => KeyAlgorithm::EccP256,
        kagi_proto::KeyAlgorithm::Rsa2048 => KeyAlgorithm::Rsa2048,
    };
    let public = s.generate_key(slot, alg)?;
    let public_key_bits = public_key_bits(&public)?;
    // At once, the key gets Kagi's placeholder certificate, so the slot pairs the key with a
    // certificate of its own (and still tells a later acquisition the slot is Kagi's); only
    // then is the slot announced in the Key History.
    let placeholder = crate::csr::placeholder(req.algorithm, &public_key_bits, &mut |d: &[u8; 32]| s.sign_digest(slot, alg, d))?;
    s.write_certificate(slot, &placeholder)?;
    slots::announce_retired_slot(s, slot)?;
    let cn = format!("Kagi token {}", guid.map(hex::encode).unwrap_or_default());
    let csr = crate::csr::build(req.algorithm, &public_key_bits, cn.trim(), &mut |d: &[u8; 32]| s.sign_digest(slot, alg, d))?;
    // The token's word that it made this key, for a bank that requires it; absent when the
    // token cannot attest.
    let attestation = s.attestation(slot)?;
    Ok((
        EnrollBeginResult {
            reader: reader.to_owned(),
            slot: slot_hex(slot),
            algorithm: req.algorithm,
            csr: b64(&csr),
            attestation: attestation.as_ref().map(|a| b64(&a.certificate)),
            attestation_intermediate: attestation.as_ref().map(|a| b64(&a.intermediate)),
        },
        PendingEnrollment {
            origin: req.origin.clone(),
            reader: reader.to_owned(),
            guid,
            slot,
            algorithm: alg,
            public_key_bits,
            management_key,
        },
    ))
}

/// Checks that an issued certificate is for the key `enroll.begin` generated.
pub fn check_issued(pending: &PendingEnrollment, cert: &ParsedCert) -> Result<()> {
    let expected = match pending.algorithm {
        KeyAlgorithm::EccP256 => CertKey::P256,
        _ => CertKey::Rsa2048,
    };
    if cert.key != expected || cert.public_key_bits != pending.public_key_bits {
        return Err(Error::CertMismatch);
    }
    Ok(())
}

/// `enroll.finish` on the token of `enroll.begin`: announce the slot, store the certificate,
/// read it back.
pub fn enroll_finish<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, pending: &PendingEnrollment, der: &[u8]) -> Result<()> {
    s.select()?;
    if s.read_chuid()?.map(|c| c.guid) != pending.guid {
        // Another token was inserted since enroll.begin.
        return Err(Error::CertMismatch);
    }
    s.authenticate_management(&pending.management_key)?;
    slots::announce_retired_slot(s, pending.slot)?;
    s.write_certificate(pending.slot, der)?;
    let back = s.read_certificate(pending.slot)?;
    if back.as_deref() != Some(der) {
        return Err(Error::Internal("certificate read back differs from the one written".into()));
    }
    Ok(())
}

/// `kagi-host token init` on this token: PIN (changed first when asked), then the management
/// key unlocked, or initialised on a factory token. Whether this call initialised it.
pub fn init_token<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, pin: &Pin, new_pin: Option<&Pin>) -> Result<bool> {
    s.select()?;
    verify_or_change_pin(s, pin, new_pin, false)?;
    mgmt_key::unlock(s).map(|(_, initialised)| initialised)
}

/// `pin.change` on this token.
pub fn change_pin<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, pin: &Pin, new_pin: &Pin) -> Result<()> {
    s.select()?;
    s.change_pin(pin, new_pin)
}

/// `pin.unblock` on this token.
pub fn unblock_pin<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, puk: &Pin, new_pin: &Pin) -> Result<()> {
    s.select()?;
    s.unblock_pin(puk, new_pin)
}

/// subjectPublicKey BIT STRING contents of a generated key.
fn public_key_bits(k: &PublicKey) -> Result<Vec<u8>> {
    crate::x509::spki_bits(&k.spki_der())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
