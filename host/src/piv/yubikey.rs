//! The YubiKey extensions to PIV that Kagi relies on to own its part of a token, sans-IO:
//! GET METADATA, SET MANAGEMENT KEY, and the "PIN-protected management key" layout the
//! YubiKey tools (ykman, yubico-piv-tool) use — the key stored in the PIN-protected Printed
//! Information object, flagged in the ADMIN DATA object.
//!
//! Tokens without these instructions (other PIV cards) answer `6D00`; callers fall back to
//! plain PIV where they can. The PIV-standard PIN operations (CHANGE REFERENCE DATA, RESET
//! RETRY COUNTER) are in [`crate::piv::commands`].

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::piv::apdu::Command;
use crate::piv::objects::{ManagementAlgorithm, ManagementKey, KEYREF_MANAGEMENT};
use crate::piv::tlv;

/// YubiKey PIV: GET METADATA instruction (firmware 5.3+).
pub const INS_GET_METADATA: u8 = 0xF7;
/// YubiKey PIV: SET MANAGEMENT KEY instruction.
pub const INS_SET_MANAGEMENT_KEY: u8 = 0xFF;

/// SP 800-73-4 Part 1 Table 3: Printed Information, whose read access rule is the PIN. The
/// YubiKey tools keep the PIN-protected management key in it.
pub const TAG_PRINTED: u32 = 0x5FC109;
/// YubiKey "pivman" ADMIN DATA object (readable without the PIN).
pub const TAG_ADMIN_DATA: u32 = 0x5FFF00;

/// ADMIN DATA flag: the management key is stored in [`TAG_PRINTED`] behind the PIN.
pub const FLAG_MGM_KEY_PROTECTED: u8 = 0x02;

/// Key references GET METADATA accepts besides key slots: the PIN and the PUK.
pub const KEYREF_PIN: u8 = 0x80;
pub const KEYREF_PUK: u8 = 0x81;

/// YubiKey PIV GET METADATA: `00 F7 00 <key reference> 00`.
pub fn get_metadata(key_ref: u8) -> Command {
    Command::new(0x00, INS_GET_METADATA, 0x00, key_ref).with_le(256)
}

/// What GET METADATA reports about a key reference (the fields a YubiKey sends for it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Tag `01`: algorithm id (`FF` for PIN/PUK).
    pub algorithm: Option<u8>,
    /// Tag `05`: whether the PIN, PUK or management key still has its factory value.
    pub is_default: Option<bool>,
    /// Tag `06`: (total, remaining) tries for the PIN or PUK.
    pub retries: Option<(u8, u8)>,
    /// Tag `03`: where a key came from (`01` generated, `02` imported).
    pub origin: Option<u8>,
    /// Tag `04`: a key slot's public key, as the contents of GENERATE's `7F49` template
    /// (`86` point, or `81` modulus `82` exponent); parse with [`Metadata::public_key`].
    pub public_key: Option<Vec<u8>>,
}

impl Metadata {
    /// The slot's public key (tag `04`), for a key of `alg`.
    pub fn public_key(&self, alg: crate::piv::KeyAlgorithm) -> Result<Option<crate::piv::keys::PublicKey>> {
        let Some(v) = &self.public_key else { return Ok(None) };
        crate::piv::keys::PublicKey::from_7f49(&tlv::encode(0x7F49, v), alg).map(Some)
    }
}

/// Parses a GET METADATA answer: a flat sequence of TLVs, each at most once.
pub fn parse_metadata(data: &[u8]) -> Result<Metadata> {
    const WHAT: &str = "metadata";
    let byte = |tag| -> Result<Option<u8>> {
        match tlv::optional_one(data, tag, WHAT)? {
            None => Ok(None),
            Some([b]) => Ok(Some(*b)),
            Some(v) => Err(Error::Malformed(format!("{WHAT}: tag {tag:02X} of {} bytes, want 1", v.len()))),
        }
    };
    let retries = match tlv::optional_one(data, 0x06, WHAT)? {
        None => None,
        Some([total, left]) => Some((*total, *left)),
        Some(v) => return Err(Error::Malformed(format!("{WHAT}: tag 06 of {} bytes, want 2", v.len()))),
    };
    // Every child must be a well-formed TLV (a truncated answer is an error, not a default).
    tlv::parse_all(data)?;
    let public_key = tlv::optional_one(data, 0x04, WHAT)?.map(<[u8]>::to_vec);
    Ok(Metadata { algorithm: byte(0x01)?, is_default: byte(0x05)?.map(|b| b != 0), retries, origin: byte(0x03)?, public_key })
}

/// YubiKey PIV SET MANAGEMENT KEY: `00 FF FF FF <len> <alg> 9B <key len> <key>` (P2 `FF`: no
/// touch required). Needs the current management key to be authenticated.
pub fn set_management_key(key: &ManagementKey) -> Command {
    let mut data = Zeroizing::new(Vec::with_capacity(3 + key.key_bytes().len()));
    data.extend_from_slice(&[key.algorithm().id(), KEYREF_MANAGEMENT, key.key_bytes().len() as u8]);
    data.extend_from_slice(key.key_bytes());
    Command::new(0x00, INS_SET_MANAGEMENT_KEY, 0xFF, 0xFF).with_data(data.to_vec())
}

/// The Printed Information value holding the management key, in the YubiKey tools' layout:
/// `88 { 89 <key> }`.
pub fn build_protected_key(key: &ManagementKey) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(tlv::encode(0x88, &tlv::encode(0x89, key.key_bytes())))
}

/// The management key bytes in a Printed Information value, if it holds one (`88 { 89 … }`;
/// other children of `88` are ignored, as the YubiKey tools do).
pub fn parse_protected_key(value: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>> {
    const WHAT: &str = "printed information 88";
    if value.is_empty() || value.first() != Some(&0x88) {
        return Ok(None);
    }
    let inner = tlv::expect_single(value, 0x88, WHAT)?;
    Ok(tlv::optional_one(inner, 0x89, WHAT)?.map(|k| Zeroizing::new(k.to_vec())))
}

/// The algorithms a stored key of `len` bytes may be for, most likely first. Without GET
/// METADATA a 24-byte key is 3DES or AES-192: try both.
pub fn algorithms_for_len(len: usize) -> &'static [ManagementAlgorithm] {
    match len {
        16 => &[ManagementAlgorithm::Aes128],
        24 => &[ManagementAlgorithm::Aes192, ManagementAlgorithm::TripleDes],
        32 => &[ManagementAlgorithm::Aes256],
        _ => &[],
    }
}

/// The ADMIN DATA object: `80 { 81 <flags>, … }` (other children, e.g. a PIN salt `82` or
/// timestamp `83`, are kept as they are when Kagi sets its flag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminData {
    pub flags: u8,
    /// Whether a salt (`82`) is present: the management key is then derived from the PIN, a
    /// scheme Kagi does not use.
    pub pin_derived: bool,
    /// The children other than `81`, encoded, in order.
    others: Vec<u8>,
}

impl AdminData {
    pub fn mgm_key_protected(&self) -> bool {
        self.flags & FLAG_MGM_KEY_PROTECTED != 0
    }

    /// The same object with the PIN-protected flag set.
    pub fn with_mgm_key_protected(&self) -> AdminData {
        AdminData { flags: self.flags | FLAG_MGM_KEY_PROTECTED, ..self.clone() }
    }
}

/// Parses the ADMIN DATA value (inside the `53` wrapper).
pub fn parse_admin_data(value: &[u8]) -> Result<AdminData> {
    const WHAT: &str = "admin data 80";
    if value.is_empty() {
        return Ok(AdminData::default());
    }
    let inner = tlv::expect_single(value, 0x80, WHAT)?;
    let mut out = AdminData::default();
    for t in tlv::TlvIter::new(inner) {
        let t = t?;
        match t.tag {
            0x81 => {
                out.flags = *t.value.first().ok_or_else(|| Error::Malformed(format!("{WHAT}: empty flags 81")))?;
            }
            other => {
                out.pin_derived |= other == 0x82;
                tlv::encode_into(other, t.value, &mut out.others);
            }
        }
    }
    tlv::optional_one(inner, 0x81, WHAT)?; // refuses a duplicate flags byte
    Ok(out)
}

/// Encodes ADMIN DATA: `80 { 81 <flags>, <other children> }`.
pub fn build_admin_data(a: &AdminData) -> Vec<u8> {
    let mut inner = tlv::encode(0x81, &[a.flags]);
    inner.extend_from_slice(&a.others);
    tlv::encode(0x80, &inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn metadata_of_a_yk5_management_key_and_pin() {
        // YubiKey 5.7, factory state: AES-192 management key, default.
        let m = parse_metadata(&h("01 01 0A 02 02 00 01 05 01 01")).unwrap();
        assert_eq!((m.algorithm, m.is_default), (Some(0x0A), Some(true)));
        // PIN: FF, default, 3 of 3 tries.
        let m = parse_metadata(&h("01 01 FF 05 01 01 06 02 03 03")).unwrap();
        assert_eq!((m.is_default, m.retries), (Some(true), Some((3, 3))));
        assert!(parse_metadata(&h("05 02 01 01")).is_err(), "a flag of two bytes");
        assert!(parse_metadata(&h("06 01 03")).is_err());
        assert!(parse_metadata(&h("01 01")).is_err(), "truncated");
        assert!(parse_metadata(&h("05 01 01 05 01 00")).is_err(), "duplicate");
    }

    #[test]
    fn metadata_of_a_slot_carries_its_public_key() {
        // A generated P-256 key: alg 11, PIN once / touch never, generated, public key.
        let point = [&[0x04u8][..], &[0xAB; 64][..]].concat();
        let mut data = h("01 01 11 02 02 01 01 03 01 01 04 43 86 41");
        data.extend_from_slice(&point);
        let m = parse_metadata(&data).unwrap();
        assert_eq!(m.origin, Some(1));
        let pk = m.public_key(crate::piv::KeyAlgorithm::EccP256).unwrap().unwrap();
        assert_eq!(pk, crate::piv::keys::PublicKey::EcP256 { point: point.try_into().unwrap() });
        // The PIN's metadata has none; a truncated point is an error, not "no key".
        assert_eq!(parse_metadata(&h("01 01 FF 05 01 01 06 02 03 03")).unwrap().public_key, None);
        let m = parse_metadata(&h("01 01 11 04 03 86 01 04")).unwrap();
        assert!(m.public_key(crate::piv::KeyAlgorithm::EccP256).is_err());
    }

    #[test]
    fn set_management_key_apdu() {
        let k = ManagementKey::new(ManagementAlgorithm::Aes192, &[0x11; 24]).unwrap();
        let bytes = set_management_key(&k).to_bytes().unwrap();
        assert_eq!(&bytes[..8], &h("00 FF FF FF 1B 0A 9B 18")[..]);
        assert_eq!(&bytes[8..], &[0x11; 24]);
    }

    #[test]
    fn protected_key_layout() {
        let k = ManagementKey::new(ManagementAlgorithm::TripleDes, &[7; 24]).unwrap();
        let v = build_protected_key(&k);
        assert_eq!(&v[..4], &h("88 1A 89 18")[..]);
        assert_eq!(parse_protected_key(&v).unwrap().unwrap().as_slice(), &[7; 24]);
        assert_eq!(parse_protected_key(&[]).unwrap(), None);
        assert_eq!(parse_protected_key(&h("88 00")).unwrap(), None);
        assert!(parse_protected_key(&h("88 05 89 03 01")).is_err());
        assert!(parse_protected_key(&h("88 02 89 00 00")).is_err(), "leftover byte");
    }

    #[test]
    fn admin_data_keeps_other_fields() {
        let a = parse_admin_data(&h("80 07 81 01 01 83 02 12 34")).unwrap();
        assert!(!a.mgm_key_protected());
        let b = a.with_mgm_key_protected();
        assert_eq!(build_admin_data(&b), h("80 07 81 01 03 83 02 12 34"));
        assert!(parse_admin_data(&build_admin_data(&b)).unwrap().mgm_key_protected());
        assert!(parse_admin_data(&h("80 03 82 01 00")).unwrap().pin_derived);
        assert_eq!(parse_admin_data(&[]).unwrap(), AdminData::default());
        assert!(parse_admin_data(&h("80 06 81 01 02 81 01 02")).is_err());
        assert!(parse_admin_data(&h("81 01 02")).is_err());
    }
}
