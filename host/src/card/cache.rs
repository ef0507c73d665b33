//! What Kagi read from one token, kept per reader so that a log-on inside a running host costs
//! only the PIN and the signature (issue 13).
//!
//! The cache holds raw card answers, never parsed values: GET DATA of the objects anyone may
//! read (SP 800-73-4 Part 1 Table 2: the certificates, CHUID, Key History, Discovery, and the
//! YubiKey ADMIN DATA), YubiKey GET METADATA answers, and the SELECT answer while the PIV
//! application is known to be selected. Objects whose read rule is the PIN (Printed Information
//! `5FC109`, which holds the management key, and the biometric objects) are never kept.
//!
//! Who decides when it is valid:
//! - [`crate::card::pcsc_backend`] keeps the PC/SC handle open between operations and throws
//!   the cache away when PC/SC says the card was reset by another program
//!   (`SCARD_W_RESET_CARD` on `SCardStatus` / `SCardBeginTransaction`), removed
//!   (`SCARD_W_REMOVED_CARD`), or when the reader's event counter moved. pcsc-lite 1.9.9 counts
//!   only insertions and removals in that counter (`eventhandler.c`); resets are reported to each
//!   open handle instead (`RFSetReaderEventState`), which is why the handle is kept.
//! - [`CardCache::before_command`] (called for every command Kagi sends) forgets what a command
//!   may change: Kagi's own writes invalidate exactly what they touch, and any instruction this
//!   file does not know forgets everything.
//!
//! What PC/SC cannot tell: a program that writes to the token and leaves it without a reset
//! (yubico-piv-tool and Kagi reset; OpenSC by default does not) is seen only at the next reset,
//! removal or host start. A log-on still checks the token's signature against the certificate
//! before it leaves the host, so a stale certificate gives `INTERNAL`, never a login token that
//! does not verify. The kept shared-mode handle also means a program asking for exclusive
//! access (GnuPG's scdaemon by default) is refused while a host runs, as it already was during
//! each operation.

use std::collections::HashMap;

use crate::piv::apdu::Command;
use crate::piv::objects::{KEYREF_MANAGEMENT, TAG_CHUID, TAG_DISCOVERY, TAG_KEY_HISTORY};
use crate::piv::tlv;
use crate::piv::yubikey::{KEYREF_PIN, KEYREF_PUK, TAG_ADMIN_DATA};

/// SP 800-73-4 Part 1 Table 2 / Table 10: the X.509 certificate objects (`5FC101` card
/// authentication, `5FC105` PIV authentication, `5FC10A` signature, `5FC10B` key management,
/// `5FC10D`–`5FC120` retired key management 1–20). Their read access rule is "always".
fn is_certificate_tag(tag: u32) -> bool {
    matches!(tag, 0x5FC101 | 0x5FC105 | 0x5FC10A | 0x5FC10B | 0x5FC10D..=0x5FC120)
}

/// Objects whose answer may be kept: readable without the PIN (Part 1 Table 2, read rule
/// "always"), so the answer does not depend on the card session's security status.
pub fn cacheable_object(tag: u32) -> bool {
    is_certificate_tag(tag) || matches!(tag, TAG_CHUID | TAG_KEY_HISTORY | TAG_DISCOVERY | TAG_ADMIN_DATA)
}

/// What Kagi read from the token in one reader (see the module doc).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CardCache {
    /// GET DATA answers by object tag: the response data, or `None` when the card said `6A82`.
    objects: HashMap<u32, Option<Vec<u8>>>,
    /// GET METADATA answers by key reference: the response data, or `None` for "nothing there".
    metadata: HashMap<u8, Option<Vec<u8>>>,
    /// The SELECT answer, while the PIV application is selected on the kept handle.
    select: Option<Vec<u8>>,
}

impl CardCache {
    pub fn new() -> CardCache {
        CardCache::default()
    }

    /// Nothing kept.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.metadata.is_empty() && self.select.is_none()
    }

    /// A kept GET DATA answer: `Some(None)` is a kept "not found".
    pub fn object(&self, tag: u32) -> Option<Option<&[u8]>> {
        self.objects.get(&tag).map(|v| v.as_deref())
    }

    /// Keeps a GET DATA answer (success or `6A82`) of an object anyone may read.
    pub fn store_object(&mut self, tag: u32, data: Option<&[u8]>) {
        if cacheable_object(tag) {
            self.objects.insert(tag, data.map(<[u8]>::to_vec));
        }
    }

    /// The kept answers this PC may remember across host runs (`card/remembered.rs`): the
    /// Key History and the retired slots' certificates, by tag.
    pub fn remembered_objects(&self) -> impl Iterator<Item = (u32, Option<&[u8]>)> + '_ {
        self.objects
            .iter()
            .filter(|(t, _)| matches!(**t, TAG_KEY_HISTORY | 0x5FC10D..=0x5FC120))
            .map(|(t, v)| (*t, v.as_deref()))
    }

    /// Forgets every retired slot's certificate (what [`remembered_objects`] brought back
    /// from an earlier run, when the token turned out to hold something else).
    ///
    /// [`remembered_objects`]: Self::remembered_objects
    pub fn forget_retired_certificates(&mut self) {
        self.objects.retain(|t, _| !matches!(*t, 0x5FC10D..=0x5FC120));
    }

    /// Forgets one object (the next read goes to the card).
    pub fn forget_object(&mut self, tag: u32) {
        self.objects.remove(&tag);
    }

    /// A kept GET METADATA answer: `Some(None)` is a kept "nothing there".
    pub fn metadata(&self, key_ref: u8) -> Option<Option<&[u8]>> {
        self.metadata.get(&key_ref).map(|v| v.as_deref())
    }

    /// Keeps a GET METADATA answer.
    pub fn store_metadata(&mut self, key_ref: u8, data: Option<&[u8]>) {
        self.metadata.insert(key_ref, data.map(<[u8]>::to_vec));
    }

    /// The SELECT answer, while PIV is known to be the selected application.
    pub fn selected(&self) -> Option<&[u8]> {
        self.select.as_deref()
    }

    /// PIV was just selected with this answer.
    pub fn store_select(&mut self, data: &[u8]) {
        self.select = Some(data.to_vec());
    }

    /// Kagi reset the card itself: the application must be selected again; what the card holds
    /// did not change.
    pub fn card_reset(&mut self) {
        self.select = None;
    }

    /// Another program reset the card, it was removed, or Kagi cannot tell: forget everything.
    pub fn clear(&mut self) {
        *self = CardCache::default();
    }

    /// Forgets what `cmd` may change on the card, before it is sent (so a command cut short by a
    /// pulled token leaves nothing stale behind).
    ///
    /// Reads (SELECT, GET DATA `CB`, GET RESPONSE `C0`, GENERAL AUTHENTICATE `87`, YubiKey GET
    /// METADATA `F7`, GET VERSION `FD`, GET SERIAL `F8`) change nothing Kagi keeps, except that a
    /// SELECT is only known to have selected PIV once it answered. VERIFY (`20`) changes the
    /// PIN's tries left; CHANGE REFERENCE DATA (`24`) and RESET RETRY COUNTER (`2C`) the PIN's
    /// and PUK's metadata (default or not, tries left); PUT DATA (`DB`) the object it names;
    /// GENERATE (`47`) and YubiKey IMPORT (`FE`) the slot's key metadata; YubiKey SET MANAGEMENT
    /// KEY (`FF`) the management key's. Anything else forgets everything.
    pub fn before_command(&mut self, cmd: &Command) {
        match cmd.ins {
            0xA4 => self.select = None,
            0xCB | 0xC0 | 0x87 | 0xF7 | 0xFD | 0xF8 => {}
            0x20 => {
                self.metadata.remove(&cmd.p2);
            }
            0x24 | 0x2C => {
                self.metadata.remove(&KEYREF_PIN);
                self.metadata.remove(&KEYREF_PUK);
            }
            0xDB => match put_data_tag(&cmd.data) {
                Some(tag) => {
                    self.objects.remove(&tag);
                }
                None => self.objects.clear(),
            },
            0x47 | 0xFE => {
                self.metadata.remove(&cmd.p2);
            }
            0xFF => {
                self.metadata.remove(&KEYREF_MANAGEMENT);
            }
            _ => self.clear(),
        }
    }
}

/// The object a PUT DATA names: its data starts `5C <len> <tag>` (SP 800-73-4 Part 2 §3.3.1).
fn put_data_tag(data: &[u8]) -> Option<u32> {
    let (t, _) = tlv::parse_one(data).ok()?;
    if t.tag != 0x5C || t.value.is_empty() || t.value.len() > 3 {
        return None;
    }
    Some(t.value.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)))
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
