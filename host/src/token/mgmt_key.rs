//! The token's management key: Kagi writes only with a key kept on the token behind the PIN.
//!
//! The layout is the one the YubiKey tools use for a "PIN-protected management key": the key
//! in the Printed Information object `5FC109` as `88 { 89 <key> }` (readable only after VERIFY
//! PIN, SP 800-73-4 Part 1 Table 2), flagged in the ADMIN DATA object `5FFF00`. Nothing is
//! stored on the PC; the key lives in [`ManagementKey`], zeroized on drop.
//!
//! The first acquisition on a token that still has the factory key initialises it: a random
//! AES-192 key (3DES where the token refuses AES), in this order, so that a token pulled at
//! any moment keeps a key Kagi can find:
//! 1. write the new key into `5FC109` (the factory key still works: a retry re-initialises);
//! 2. SET MANAGEMENT KEY (from here the stored key is the token's key);
//! 3. authenticate with the new key (proves it), then set the ADMIN DATA flag.

use kagi_proto::ManagementKeyState;
use zeroize::Zeroizing;

use crate::card::{PivSession, Transport};
use crate::error::{Error, Result};
use crate::piv::objects::{ManagementAlgorithm, ManagementKey, DEFAULT_MANAGEMENT_KEY, KEYREF_MANAGEMENT};
use crate::piv::yubikey::{self, AdminData, Metadata};

/// What the token says about its management key without the PIN.
#[derive(Debug, Clone)]
pub struct KeyFacts {
    pub admin: AdminData,
    /// GET METADATA for `9B`, on tokens that answer it.
    pub metadata: Option<Metadata>,
}

impl KeyFacts {
    pub fn read<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<KeyFacts> {
        Ok(KeyFacts { admin: s.read_admin_data()?, metadata: s.metadata(KEYREF_MANAGEMENT)? })
    }

    /// The state `status` reports. `None` when only trying the factory key can tell (a token
    /// without GET METADATA and without Kagi's flag): see [`probe_factory`].
    pub fn state(&self) -> Option<ManagementKeyState> {
        if self.admin.pin_derived {
            return Some(ManagementKeyState::Unknown);
        }
        if self.admin.mgm_key_protected() {
            return Some(ManagementKeyState::PinProtected);
        }
        match self.metadata.as_ref().and_then(|m| m.is_default) {
            Some(true) => Some(ManagementKeyState::Factory),
            Some(false) => Some(ManagementKeyState::Unknown),
            None => None,
        }
    }

    /// The algorithms to try a key with: the token's, when it says.
    fn algorithms(&self, fallback: &'static [ManagementAlgorithm]) -> Vec<ManagementAlgorithm> {
        match self.metadata.as_ref().and_then(|m| m.algorithm).and_then(ManagementAlgorithm::from_id) {
            Some(a) => vec![a],
            None => fallback.to_vec(),
        }
    }
}

/// Factory key bytes are the same for 3DES (older tokens) and AES-192 (YubiKey 5.7+).
const FACTORY_ALGORITHMS: &[ManagementAlgorithm] = &[ManagementAlgorithm::TripleDes, ManagementAlgorithm::Aes192];

/// Tries the factory key. Leaves the card authenticated on success: the caller must reset it.
pub fn probe_factory<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, facts: &KeyFacts) -> Result<Option<ManagementKey>> {
    for alg in facts.algorithms(FACTORY_ALGORITHMS) {
        let key = ManagementKey::new(alg, &DEFAULT_MANAGEMENT_KEY)?;
        match s.authenticate_management(&key) {
            Ok(()) => return Ok(Some(key)),
            Err(Error::ManagementKeyRejected) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Authenticates with the token's management key, the PIN already verified: the key stored
/// behind the PIN, or — on a token still at the factory key — after initialising it. Returns
/// the key (for `enroll.finish`) and whether this call initialised the token.
pub fn unlock<T: Transport + ?Sized>(s: &mut PivSession<'_, T>) -> Result<(ManagementKey, bool)> {
    let facts = KeyFacts::read(s)?;
    if facts.admin.pin_derived {
        return Err(Error::ManagementKeyUnknown("the management key is derived from the PIN (not supported)".into()));
    }
    let factory = facts.metadata.as_ref().and_then(|m| m.is_default);
    if factory != Some(true) {
        if let Some(key) = stored_key(s, &facts)? {
            if !facts.admin.mgm_key_protected() {
                // Pulled between SET MANAGEMENT KEY and the flag last time: finish the job.
                s.write_admin_data(&facts.admin.with_mgm_key_protected())?;
            }
            return Ok((key, false));
        }
    }
    if factory != Some(false) && probe_factory(s, &facts)?.is_some() {
        return initialise(s, &facts.admin).map(|k| (k, true));
    }
    Err(Error::ManagementKeyUnknown("neither the factory key nor a key stored behind the PIN".into()))
}

/// The key in `5FC109`, if it is there and the token accepts it.
fn stored_key<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, facts: &KeyFacts) -> Result<Option<ManagementKey>> {
    let Some(bytes) = s.read_protected_key()? else { return Ok(None) };
    for alg in facts.algorithms(yubikey::algorithms_for_len(bytes.len())) {
        let Ok(key) = ManagementKey::new(alg, &bytes) else { continue };
        match s.authenticate_management(&key) {
            Ok(()) => return Ok(Some(key)),
            Err(Error::ManagementKeyRejected) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Replaces the factory key (authenticated) with a random key stored behind the PIN.
fn initialise<T: Transport + ?Sized>(s: &mut PivSession<'_, T>, admin: &AdminData) -> Result<ManagementKey> {
    // Printed Information that is not the YubiKey layout is someone else's data: keep it.
    if let Some(v) = s.get_data(yubikey::TAG_PRINTED)? {
        if !v.is_empty() && v.first() != Some(&0x88) {
            return Err(Error::ManagementKeyUnknown("the Printed Information object holds other data".into()));
        }
    }
    let mut bytes = Zeroizing::new([0u8; 24]);
    getrandom::fill(&mut bytes[..]).map_err(|e| Error::Internal(format!("random management key: {e}")))?;
    let mut key = ManagementKey::new(ManagementAlgorithm::Aes192, &bytes[..])?;
    s.write_protected_key(&key)?;
    if !s.set_management_key(&key)? {
        // Older tokens take 3DES only; the stored bytes stay the same.
        key = ManagementKey::new(ManagementAlgorithm::TripleDes, &bytes[..])?;
        if !s.set_management_key(&key)? {
            return Err(Error::ManagementKeyUnknown("the token refused a new management key".into()));
        }
    }
    s.authenticate_management(&key)?;
    s.write_admin_data(&admin.with_mgm_key_protected())?;
    crate::log::info("token initialised: management key stored behind the PIN");
    Ok(key)
}
