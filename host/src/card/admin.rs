//! Token administration over a [`PivSession`]: PIN change and unblock, GET METADATA, YubiKey
//! attestation, and the management key's life cycle (set, store behind the PIN, read back).
//! The APDUs are built and parsed in [`crate::piv::commands`], [`crate::piv::yubikey`] and
//! [`crate::piv::attest`]; this file only runs them and maps status words to what the customer
//! can do.

use zeroize::Zeroizing;

use crate::card::session::PivSession;
use crate::card::Transport;
use crate::error::{Error, Result};
use crate::piv::attest::{self, Attestation};
use crate::piv::commands;
use crate::piv::objects::{ManagementKey, Pin, Slot};
use crate::piv::status::Status;
use crate::piv::yubikey::{self, AdminData, Metadata, TAG_ADMIN_DATA, TAG_PRINTED};

impl<T: Transport + ?Sized> PivSession<'_, T> {
    /// SP 800-73-4 Part 2 §3.2.2: change the PIN (the old PIN is checked by the card).
    pub fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<()> {
        self.exchange(&commands::change_pin(old, new))?.into_success("CHANGE REFERENCE DATA").map(drop)
    }

    /// SP 800-73-4 Part 2 §3.2.3: unblock the PIN with the PUK and set a new PIN. Status words
    /// concern the PUK here: `63Cx` is a wrong PUK, `6983` a blocked PUK.
    pub fn unblock_pin(&mut self, puk: &Pin, new: &Pin) -> Result<()> {
        let r = self.exchange(&commands::unblock_pin(puk, new))?;
        match r.status() {
            Status::Success => Ok(()),
            Status::VerifyFailed { retries: 0 } | Status::Blocked => Err(Error::PukBlocked),
            Status::VerifyFailed { retries } => Err(Error::PukIncorrect { retries }),
            s => Err(s.to_error("RESET RETRY COUNTER")),
        }
    }

    /// YubiKey GET METADATA for a key reference. `None` when the token does not know the
    /// instruction (not a YubiKey, or firmware before 5.3) or the slot is empty.
    /// Answers come from the session's cache when it has them.
    pub fn metadata(&mut self, key_ref: u8) -> Result<Option<Metadata>> {
        if let Some(hit) = self.cached_metadata(key_ref) {
            return hit.as_deref().map(yubikey::parse_metadata).transpose();
        }
        let r = self.exchange(&yubikey::get_metadata(key_ref))?;
        let data = match r.status() {
            Status::Success => Some(r.data),
            Status::InsNotSupported
            | Status::ClaNotSupported
            | Status::ReferenceNotFound
            | Status::NotFound
            | Status::IncorrectP1P2
            | Status::FunctionNotSupported => None,
            s => return Err(s.to_error("GET METADATA")),
        };
        let parsed = data.as_deref().map(yubikey::parse_metadata).transpose()?;
        self.keep_metadata(key_ref, data.as_deref());
        Ok(parsed)
    }

    /// YubiKey ATTEST for the key in `slot`, with the F9 certificate it chains to. `None` when
    /// the token cannot vouch for it: not a YubiKey or firmware before 4.3 (`6D00`), a key it
    /// did not generate (`6A80`), no key (`6A88`), no F9 certificate, or an answer that is not
    /// one certificate (logged). Attestation is optional: only a removed card or a dead reader
    /// fails the caller.
    pub fn attestation(&mut self, slot: Slot) -> Result<Option<Attestation>> {
        let r = self.exchange(&attest::attest(slot))?;
        match r.status() {
            Status::Success => {}
            s => {
                crate::log::info(&format!("no attestation for slot {:02x}: {s:?}", slot.key_ref()));
                return Ok(None);
            }
        }
        let certificate = match attest::parse_attestation(&r.data) {
            Ok(c) => c,
            Err(e) => {
                crate::log::warn(&format!("attestation answer not understood: {e}"));
                return Ok(None);
            }
        };
        let intermediate = match self.get_data(attest::TAG_ATTESTATION_CERT) {
            Ok(Some(v)) if !v.is_empty() => commands::parse_certificate_object(&v),
            Ok(_) => Err(Error::Malformed("no F9 attestation certificate (5FFF01)".into())),
            Err(e @ (Error::Malformed(_) | Error::Status { .. } | Error::SecurityStatus(_) | Error::NotFound(_))) => Err(e),
            Err(e) => return Err(e),
        };
        match intermediate {
            Ok(intermediate) => Ok(Some(Attestation { certificate, intermediate })),
            Err(e) => {
                crate::log::warn(&format!("attestation without its F9 certificate: {e}"));
                Ok(None)
            }
        }
    }

    /// YubiKey SET MANAGEMENT KEY (the current key must be authenticated). `Ok(false)` when the
    /// token refuses this algorithm (older YubiKeys take 3DES only), so the caller can retry with
    /// another.
    pub fn set_management_key(&mut self, key: &ManagementKey) -> Result<bool> {
        let r = self.exchange(&yubikey::set_management_key(key))?;
        match r.status() {
            Status::Success => Ok(true),
            Status::IncorrectData | Status::IncorrectP1P2 | Status::FunctionNotSupported | Status::WrongLength => Ok(false),
            s => Err(s.to_error("SET MANAGEMENT KEY")),
        }
    }

    /// The ADMIN DATA object (empty when absent or unreadable as such).
    pub fn read_admin_data(&mut self) -> Result<AdminData> {
        match self.get_data(TAG_ADMIN_DATA) {
            Ok(Some(v)) => yubikey::parse_admin_data(&v),
            Ok(None) => Ok(AdminData::default()),
            // A token that does not store this object at all (not a YubiKey).
            Err(Error::Status { .. }) | Err(Error::SecurityStatus(_)) => Ok(AdminData::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes ADMIN DATA (needs the management key). `Ok(false)` when the token does not accept
    /// the object (not a YubiKey): the flag is a convenience, the key itself is what counts.
    pub fn write_admin_data(&mut self, a: &AdminData) -> Result<bool> {
        match self.put_data(TAG_ADMIN_DATA, &yubikey::build_admin_data(a)) {
            Ok(()) => Ok(true),
            Err(Error::Status { .. }) | Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The management key stored in the Printed Information object (PIN verified first).
    pub fn read_protected_key(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.get_data(TAG_PRINTED)? {
            None => Ok(None),
            Some(v) => yubikey::parse_protected_key(&v),
        }
    }

    /// Stores `key` in the Printed Information object (needs the management key).
    pub fn write_protected_key(&mut self, key: &ManagementKey) -> Result<()> {
        self.put_data(TAG_PRINTED, &yubikey::build_protected_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::memory::MemoryTransport;

    #[test]
    fn wrong_puk_counts_down_then_blocks() {
        let puk = Pin::puk("12345678").unwrap();
        let new = Pin::new("482915").unwrap();
        let mut t = MemoryTransport::new()
            .expect("00 2C 00 80 10 3132333435363738 343832393135FFFF", "63 C2")
            .expect("00 2C 00 80 10 3132333435363738 343832393135FFFF", "69 83");
        let mut s = PivSession::new(&mut t);
        assert!(matches!(s.unblock_pin(&puk, &new), Err(Error::PukIncorrect { retries: 2 })));
        assert!(matches!(s.unblock_pin(&puk, &new), Err(Error::PukBlocked)));
        t.assert_done();
    }

    #[test]
    fn wrong_old_pin_on_change_is_pin_incorrect() {
        let mut t = MemoryTransport::new().expect("00 24 00 80 10 313233343536FFFF 343832393135FFFF", "63 C1");
        let r = PivSession::new(&mut t).change_pin(&Pin::new("123456").unwrap(), &Pin::new("482915").unwrap());
        assert!(matches!(r, Err(Error::PinIncorrect { retries: 1 })));
        t.assert_done();
    }

    #[test]
    fn metadata_absent_on_plain_piv_cards() {
        let mut t = MemoryTransport::new().expect("00 F7 00 9B 00", "6D 00").expect("00 F7 00 83 00", "6A 88");
        let mut s = PivSession::new(&mut t);
        assert_eq!(s.metadata(0x9B).unwrap(), None);
        assert_eq!(s.metadata(0x83).unwrap(), None);
        t.assert_done();
    }

    #[test]
    fn printed_information_needs_the_pin() {
        let mut t = MemoryTransport::new().expect("00 CB 3F FF 05 5C 03 5F C1 09 00", "69 82");
        assert!(matches!(PivSession::new(&mut t).read_protected_key(), Err(Error::SecurityStatus(_))));
        t.assert_done();
    }
}
