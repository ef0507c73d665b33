//! The YubiKey extensions of the PIV application that Kagi's host and yubico-piv-tool rely on,
//! as YubiKey 5 firmware (5.4) answers them: GET METADATA (F7), SET MANAGEMENT KEY (FF),
//! IMPORT ASYMMETRIC KEY (FE), GET VERSION (FD), GET SERIAL (F8) and ATTEST (F9). Encodings follow
//! Yubico's yubikit `piv.py` (`get_*_metadata`, `set_management_key`, `put_key`) and
//! yubico-piv-tool `lib/ykpiv.c` / `lib/util.c` (`ykpiv_util_parse_metadata`).
//! The standard PIV commands are in `card.rs`.

use super::{sw, Card, CmdResult, VERSION};
use crate::crypto::{self, AsymKey, MgmtKey};
use crate::objects::{self, ORIGIN_GENERATED, ORIGIN_IMPORTED, TOUCH_ALWAYS, TOUCH_NEVER};
use crate::state::{KeyInfo, DEFAULT_PIN, DEFAULT_PUK};
use crate::tlv;

/// GET METADATA tags (yubikit `TAG_METADATA_*`).
const MD_ALGORITHM: u32 = 0x01;
const MD_POLICY: u32 = 0x02;
const MD_ORIGIN: u32 = 0x03;
const MD_PUBLIC_KEY: u32 = 0x04;
const MD_IS_DEFAULT: u32 = 0x05;
const MD_RETRIES: u32 = 0x06;
/// Algorithm byte GET METADATA reports for the PIN and the PUK.
const MD_ALG_PIN: u8 = 0xFF;

/// The value of `tag` in a flat TLV list: `None` when absent, 6A80 when repeated.
fn single<'a>(items: &[tlv::Tlv<'a>], tag: u32) -> Result<Option<&'a [u8]>, u16> {
    let mut found = items.iter().filter(|t| t.tag == tag);
    let first = found.next().map(|t| t.value);
    if found.next().is_some() {
        return Err(sw::WRONG_DATA);
    }
    Ok(first)
}

impl Card {
    /// YubiKey GET VERSION (INS FD): three bytes major.minor.patch.
    pub(super) fn get_version(&self, p1: u8, p2: u8) -> CmdResult {
        if (p1, p2) != (0, 0) {
            return Err(sw::INCORRECT_P1P2);
        }
        Ok(VERSION.to_vec())
    }

    /// YubiKey GET SERIAL (INS F8): four bytes big-endian.
    pub(super) fn get_serial(&self, p1: u8, p2: u8) -> CmdResult {
        if (p1, p2) != (0, 0) {
            return Err(sw::INCORRECT_P1P2);
        }
        Ok(self.st.serial.to_be_bytes().to_vec())
    }

    /// Is the management key still the factory one (3DES 0102…08 ×3)?
    fn mgmt_is_default(&self) -> bool {
        self.mgmt.alg == crypto::ALG_3DES && self.mgmt.key == crypto::DEFAULT_MGMT_KEY
    }

    /// YubiKey GET METADATA (INS F7, firmware 5.3+): `00 F7 00 <ref>` → TLVs
    /// (yubikit `get_pin_metadata` / `get_management_key_metadata` / `get_slot_metadata`):
    /// - PIN 80 / PUK 81: `01 FF`, `05 <01 factory value, else 00>`, `06 <total, remaining>`;
    /// - management key 9B: `01 <alg>`, `02 <00, touch policy>`, `05 <01 factory key, else 00>`;
    /// - key slots: `01 <alg>`, `02 <PIN policy, touch policy>`, `03 <01 generated, 02
    ///   imported>`, `04 <public key as in GENERATE's 7F49: 86 point, or 81 n 82 e>`;
    ///   an empty slot or any other reference answers 6A88.
    ///
    /// "Factory value" is a comparison with 123456 / 12345678 / the factory key, so it
    /// follows every change, also a change back to the factory value.
    /// With the `metadata` option off the instruction does not exist (6D00), as on a PIV
    /// card that is not a YubiKey.
    pub(super) fn get_metadata(&self, p1: u8, p2: u8) -> CmdResult {
        if !self.st.options.metadata {
            return Err(sw::INS_NOT_SUPPORTED);
        }
        if p1 != 0x00 {
            return Err(sw::INCORRECT_P1P2);
        }
        let mut out = Vec::new();
        match p2 {
            0x80 | 0x81 => {
                let (is_default, max, left) = if p2 == 0x80 {
                    (self.st.pin == DEFAULT_PIN, self.st.pin_retries_max, self.st.pin_retries_left)
                } else {
                    (self.st.puk == DEFAULT_PUK, self.st.puk_retries_max, self.st.puk_retries_left)
                };
                tlv::push(&mut out, MD_ALGORITHM, &[MD_ALG_PIN]);
                tlv::push(&mut out, MD_IS_DEFAULT, &[u8::from(is_default)]);
                tlv::push(&mut out, MD_RETRIES, &[max, left]);
            }
            0x9B => {
                tlv::push(&mut out, MD_ALGORITHM, &[self.mgmt.alg]);
                tlv::push(&mut out, MD_POLICY, &[objects::PIN_POLICY_DEFAULT, self.st.mgmt_touch]);
                tlv::push(&mut out, MD_IS_DEFAULT, &[u8::from(self.mgmt_is_default())]);
            }
            r if objects::is_asym_key_ref(r) => {
                let key = self.keys.get(&r).ok_or(sw::REF_DATA_NOT_FOUND)?;
                let info = self.key_info(r);
                tlv::push(&mut out, MD_ALGORITHM, &[key.alg()]);
                tlv::push(&mut out, MD_POLICY, &[info.pin_policy, info.touch_policy]);
                tlv::push(&mut out, MD_ORIGIN, &[info.origin]);
                tlv::push(&mut out, MD_PUBLIC_KEY, &key.public_template_content());
            }
            _ => return Err(sw::REF_DATA_NOT_FOUND),
        }
        Ok(out)
    }

    /// YubiKey SET MANAGEMENT KEY (INS FF): `00 FF FF <FF, or FE for touch> Lc <alg> 9B <len>
    /// <key>` with alg 03 (3DES, 24 bytes), 08 (AES-128, 16), 0A (AES-192, 24) or 0C
    /// (AES-256, 32) (yubikit `set_management_key`, ykpiv `ykpiv_set_mgmkey3`). Needs the
    /// current management key in this session (6982); the session stays authenticated, as
    /// ykman relies on when it stores the new key right after setting it. With the
    /// `aes_management_key` option off an AES algorithm is wrong data (6A80), as on a YubiKey
    /// before 5.4.
    pub(super) fn set_management_key(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if p1 != 0xFF || !matches!(p2, 0xFF | 0xFE) {
            return Err(sw::INCORRECT_P1P2);
        }
        if !self.mgmt_authenticated {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        let [alg, 0x9B, len, key @ ..] = data else {
            return Err(sw::WRONG_DATA);
        };
        if usize::from(*len) != key.len() {
            return Err(sw::WRONG_DATA);
        }
        if *alg != crypto::ALG_3DES && !self.st.options.aes_management_key {
            return Err(sw::WRONG_DATA);
        }
        let new = MgmtKey::new(*alg, key.to_vec()).map_err(|_| sw::WRONG_DATA)?;
        self.st.mgmt_alg = new.alg;
        self.st.mgmt_key = hex::encode(&new.key);
        self.st.mgmt_touch = if p2 == 0xFE { TOUCH_ALWAYS } else { TOUCH_NEVER };
        self.mgmt = new;
        self.mgmt_pending = None;
        self.persist()?;
        Ok(Vec::new())
    }

    /// YubiKey IMPORT ASYMMETRIC KEY (INS FE): `00 FE <alg> <slot> Lc <key> [AA <PIN policy>]
    /// [AB <touch policy>]`, chained when long. RSA-2048 (07): `01 p, 02 q, 03 dP, 04 dQ,
    /// 05 qInv`, public exponent 65537 (the format has none; yubikit `put_key` refuses other
    /// exponents); the CRT values are recomputed from p and q. P-256 (11): `06 d`.
    /// Needs the management key. Other algorithms: 6A86 (P1); malformed keys: 6A80.
    pub(super) fn import_key(&mut self, alg: u8, keyref: u8, data: &[u8]) -> CmdResult {
        if !objects::is_asym_key_ref(keyref) || !matches!(alg, crypto::ALG_RSA2048 | crypto::ALG_ECCP256) {
            return Err(sw::INCORRECT_P1P2);
        }
        if !self.mgmt_authenticated {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        let items = tlv::parse_all(data).ok_or(sw::WRONG_DATA)?;
        let need = |tag: u32| -> Result<&[u8], u16> {
            match single(&items, tag)? {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(sw::WRONG_DATA),
            }
        };
        let key = if alg == crypto::ALG_RSA2048 {
            for tag in 0x03..=0x05 {
                need(tag)?;
            }
            AsymKey::from_rsa_primes(need(0x01)?, need(0x02)?, &[0x01, 0x00, 0x01])
        } else {
            AsymKey::from_ec_scalar(need(0x06)?)
        }
        .map_err(|e| {
            eprintln!("kagi-vtoken: import into {keyref:02x} refused: {}", e.0);
            sw::WRONG_DATA
        })?;
        // Only key components and the two policy tags may appear, each once.
        let allowed: &[u32] = if alg == crypto::ALG_RSA2048 { &[1, 2, 3, 4, 5, 0xAA, 0xAB] } else { &[6, 0xAA, 0xAB] };
        for t in &items {
            if !allowed.contains(&t.tag) {
                return Err(sw::WRONG_DATA);
            }
            single(&items, t.tag)?;
        }
        let (pin_policy, touch_policy) = Self::policies(keyref, &items)?;
        eprintln!("kagi-vtoken: imported alg {alg:02x} key into slot {keyref:02x}");
        self.store_key(keyref, key, KeyInfo { origin: ORIGIN_IMPORTED, pin_policy, touch_policy })?;
        Ok(Vec::new())
    }

    /// YubiKey ATTEST (INS F9, firmware 4.3+; Yubico "PIV attestation", yubikit `attest_key`,
    /// ykpiv `ykpiv_attest`): `00 F9 <slot> 00` → the DER X.509 statement that the key in
    /// `slot` was generated on this token, signed by the F9 key (long answers in 61xx pieces).
    /// Needs no PIN. An imported key is refused (6A80: the token cannot vouch for a key made
    /// elsewhere), an empty slot answers 6A88, F9 itself and other references 6A86. With the
    /// `attestation` option off the instruction does not exist (6D00), as on a PIV card that is
    /// not a YubiKey.
    pub(super) fn attest(&self, slot: u8, p2: u8) -> CmdResult {
        if !self.st.options.attestation {
            return Err(sw::INS_NOT_SUPPORTED);
        }
        if p2 != 0x00 || !objects::is_asym_key_ref(slot) {
            return Err(sw::INCORRECT_P1P2);
        }
        let key = self.keys.get(&slot).ok_or(sw::REF_DATA_NOT_FOUND)?;
        let info = self.key_info(slot);
        if info.origin != ORIGIN_GENERATED {
            return Err(sw::WRONG_DATA);
        }
        let stored = self.st.attestation_key.as_ref().ok_or(sw::REF_DATA_NOT_FOUND)?;
        let f9 = AsymKey::from_stored(stored).map_err(|_| sw::NO_PRECISE_DIAGNOSIS)?;
        let facts = crate::attestation::Facts {
            slot,
            firmware: VERSION,
            token_serial: self.st.serial,
            pin_policy: info.pin_policy,
            touch_policy: info.touch_policy,
        };
        crate::attestation::attest(&f9, key, &facts).map_err(|e| {
            eprintln!("kagi-vtoken: attestation of {slot:02x} failed: {}", e.0);
            sw::NO_PRECISE_DIAGNOSIS
        })
    }
}
