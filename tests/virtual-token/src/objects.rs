//! PIV data objects, key references and their mapping (SP 800-73-4 Part 1 §3.1, §3.3, Table 3,
//! Table 4b and Part 1 Appendix A).

use crate::tlv;

/// The full PIV application identifier (SP 800-73-4 Part 1 §2.2): RID A0 00 00 03 08,
/// PIX 00 00 10 00 01 00.
pub const PIV_AID: [u8; 11] = [0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00];
/// Shortest AID prefix accepted by SELECT (the NIST RID; yubico-piv-tool selects with it).
pub const MIN_AID_PREFIX: usize = 5;

/// Card Holder Unique Identifier (SP 800-73-4 Part 1 Table 3).
pub const TAG_CHUID: u32 = 0x5FC102;
/// Discovery Object (SP 800-73-4 Part 1 §3.3.2).
pub const TAG_DISCOVERY: u32 = 0x7E;
/// Key History Object (SP 800-73-4 Part 1 §3.3.3).
pub const TAG_KEY_HISTORY: u32 = 0x5FC10C;
/// Printed Information (SP 800-73-4 Part 1 Table 3); YubiKey tools keep the PIN-protected
/// management key in it (`88 { 89 <key> }`, ykman "pivman protected data").
pub const TAG_PRINTED_INFO: u32 = 0x5FC109;
/// YubiKey ADMIN DATA (ykman/yubico-piv-tool "pivman data", `80 { 81 <flags> ... }`): a
/// vendor object with no access rule beyond PUT DATA's.
#[cfg_attr(not(test), allow(dead_code))]
pub const TAG_ADMIN_DATA: u32 = 0x5FFF00;

/// YubiKey attestation certificate object: the certificate of the F9 attestation key
/// (yubico-piv-tool `YKPIV_OBJ_ATTESTATION`), read freely like any certificate.
pub const TAG_ATTESTATION: u32 = 0x5FFF01;

/// Data objects whose read access rule is "PIN" (SP 800-73-4 Part 1 Table 2 / Table 3:
/// Cardholder Fingerprints, Cardholder Facial Image, Printed Information, Cardholder Iris
/// Images; "PIN or OCC" where OCC exists, and this token has no OCC). Every other object
/// reads freely ("Always").
pub fn read_needs_pin(tag: u32) -> bool {
    matches!(tag, 0x5FC103 | 0x5FC108 | TAG_PRINTED_INFO | 0x5FC121)
}

/// Key origins in YubiKey GET METADATA (tag 03).
pub const ORIGIN_GENERATED: u8 = 1;
pub const ORIGIN_IMPORTED: u8 = 2;

/// YubiKey PIN policies (GENERATE / IMPORT tag AA, GET METADATA tag 02 byte 1).
pub const PIN_POLICY_DEFAULT: u8 = 0;
pub const PIN_POLICY_NEVER: u8 = 1;
pub const PIN_POLICY_ONCE: u8 = 2;
pub const PIN_POLICY_ALWAYS: u8 = 3;
/// YubiKey touch policies (tag AB, GET METADATA tag 02 byte 2).
pub const TOUCH_DEFAULT: u8 = 0;
pub const TOUCH_NEVER: u8 = 1;
pub const TOUCH_ALWAYS: u8 = 2;
pub const TOUCH_CACHED: u8 = 3;

/// The PIN policy a key gets when none is asked for: the access rules of SP 800-73-4
/// Part 1 Table 4b as a YubiKey resolves them (9C always, 9E never, the others once).
pub fn default_pin_policy(r: u8) -> u8 {
    match r {
        0x9C => PIN_POLICY_ALWAYS,
        0x9E => PIN_POLICY_NEVER,
        _ => PIN_POLICY_ONCE,
    }
}

/// Resolves a requested PIN policy (AA) for a slot; `None` for values a YubiKey 5.4 rejects.
pub fn resolve_pin_policy(r: u8, requested: Option<u8>) -> Option<u8> {
    match requested.unwrap_or(PIN_POLICY_DEFAULT) {
        PIN_POLICY_DEFAULT => Some(default_pin_policy(r)),
        p @ (PIN_POLICY_NEVER | PIN_POLICY_ONCE | PIN_POLICY_ALWAYS) => Some(p),
        _ => None,
    }
}

/// Resolves a requested touch policy (AB); `None` for unknown values.
pub fn resolve_touch_policy(requested: Option<u8>) -> Option<u8> {
    match requested.unwrap_or(TOUCH_DEFAULT) {
        TOUCH_DEFAULT => Some(TOUCH_NEVER),
        t @ (TOUCH_NEVER | TOUCH_ALWAYS | TOUCH_CACHED) => Some(t),
        _ => None,
    }
}

/// Key references with asymmetric keys: 9A, 9C, 9D, 9E and retired 82–95 (Part 1 Table 4b).
pub fn is_asym_key_ref(r: u8) -> bool {
    matches!(r, 0x9A | 0x9C | 0x9D | 0x9E | 0x82..=0x95)
}

/// The certificate object of a key reference (Part 1 Table 3 / Appendix A).
pub fn cert_tag_for(r: u8) -> Option<u32> {
    match r {
        0x9A => Some(0x5FC105),
        0x9C => Some(0x5FC10A),
        0x9D => Some(0x5FC10B),
        0x9E => Some(0x5FC101),
        0x82..=0x95 => Some(0x5FC10D + u32::from(r - 0x82)),
        _ => None,
    }
}

/// Key used as a state-file key for a data object tag: lower-case hex ("7e", "5fc102").
pub fn tag_key(tag: u32) -> String {
    if tag > 0xFFFF {
        format!("{tag:06x}")
    } else if tag > 0xFF {
        format!("{tag:04x}")
    } else {
        format!("{tag:02x}")
    }
}

/// Key used for a key reference in the state file ("9a").
pub fn keyref_key(r: u8) -> String {
    format!("{r:02x}")
}

/// Tags GET DATA/PUT DATA accept: 7E, 7F61 and the 3-byte 5FC1xx / 5FFFxx families
/// (the latter is vendor-defined, used by yubico-piv-tool for its admin data).
pub fn is_valid_object_tag(tag: u32) -> bool {
    tag == TAG_DISCOVERY
        || tag == 0x7F61
        || (0x5FC101..=0x5FC123).contains(&tag)
        || (0x5FFF00..=0x5FFFFF).contains(&tag)
}

/// A CHUID (Part 1 Table 9) with the given 16-byte GUID, wrapped in `53`.
/// FASC-N is the non-federal "all nines / agency 9999" value, expiry 2099-12-31, empty
/// issuer signature, empty error detection code.
pub fn default_chuid(guid: &[u8]) -> Vec<u8> {
    const FASCN: [u8; 25] = [
        0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68, 0x58, 0x21,
        0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
    ];
    let mut v = Vec::new();
    tlv::push(&mut v, 0x30, &FASCN);
    tlv::push(&mut v, 0x34, guid);
    tlv::push(&mut v, 0x35, b"20991231");
    tlv::push(&mut v, 0x3E, &[]);
    tlv::push(&mut v, 0xFE, &[]);
    tlv::encode(0x53, &v)
}

/// The Discovery Object (Part 1 §3.3.2): the PIV AID and the PIN usage policy
/// `40 00` (PIV Card Application PIN only; no global PIN).
pub fn discovery() -> Vec<u8> {
    let mut v = Vec::new();
    tlv::push(&mut v, 0x4F, &PIV_AID);
    tlv::push(&mut v, 0x5F2F, &[0x40, 0x00]);
    tlv::encode(0x7E, &v)
}

/// The Key History Object (Part 1 §3.3.3): `keysWithOnCardCerts`, `keysWithOffCardCerts`
/// and an empty error detection code, wrapped in `53`.
pub fn key_history(on_card: u8) -> Vec<u8> {
    let mut v = Vec::new();
    tlv::push(&mut v, 0xC1, &[on_card]);
    tlv::push(&mut v, 0xC2, &[0]);
    tlv::push(&mut v, 0xFE, &[]);
    tlv::encode(0x53, &v)
}

/// The Application Property Template returned by SELECT (Part 2 §3.1.1, Part 1 Table 3 note):
/// `61 { 4F PIX, 79 { 4F NIST RID }, 50 label, AC { 80 alg ..., 06 00 } }`; the AES
/// management key algorithms are listed only when the token accepts them.
pub fn application_property_template(aes_mgmt: bool) -> Vec<u8> {
    let mut v = Vec::new();
    tlv::push(&mut v, 0x4F, &PIV_AID[5..]);
    tlv::push(&mut v, 0x79, &tlv::encode(0x4F, &PIV_AID[..5]));
    tlv::push(&mut v, 0x50, b"Kagi virtual PIV");
    let mut algs = Vec::new();
    for a in [0x03u8, 0x08, 0x0A, 0x0C, 0x07, 0x11] {
        if !aes_mgmt && matches!(a, 0x08 | 0x0A | 0x0C) {
            continue;
        }
        tlv::push(&mut algs, 0x80, &[a]);
    }
    tlv::push(&mut algs, 0x06, &[]);
    tlv::push(&mut v, 0xAC, &algs);
    tlv::encode(0x61, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_slots_map_to_their_objects() {
        assert_eq!(cert_tag_for(0x82), Some(0x5FC10D));
        assert_eq!(cert_tag_for(0x95), Some(0x5FC120));
        assert_eq!(cert_tag_for(0x9B), None);
        for r in 0x82..=0x95u8 {
            assert!(is_valid_object_tag(cert_tag_for(r).unwrap()));
        }
    }

    #[test]
    fn chuid_has_guid() {
        let c = default_chuid(&[0x11; 16]);
        let inner = tlv::expect_single(&c, 0x53).unwrap();
        let items = tlv::parse_all(inner).unwrap();
        assert!(items.iter().any(|t| t.tag == 0x34 && t.value == [0x11; 16]));
    }

    #[test]
    fn policies_resolve_like_a_yubikey() {
        assert_eq!(resolve_pin_policy(0x9A, None), Some(PIN_POLICY_ONCE));
        assert_eq!(resolve_pin_policy(0x9C, Some(0)), Some(PIN_POLICY_ALWAYS));
        assert_eq!(resolve_pin_policy(0x9E, None), Some(PIN_POLICY_NEVER));
        assert_eq!(resolve_pin_policy(0x82, Some(3)), Some(PIN_POLICY_ALWAYS));
        assert_eq!(resolve_pin_policy(0x82, Some(4)), None);
        assert_eq!(resolve_touch_policy(None), Some(TOUCH_NEVER));
        assert_eq!(resolve_touch_policy(Some(9)), None);
        assert!(read_needs_pin(TAG_PRINTED_INFO) && !read_needs_pin(TAG_ADMIN_DATA));
    }
}
