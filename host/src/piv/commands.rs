//! Builders and parsers for the PIV card commands (SP 800-73-4 Part 2 §3).
//!
//! Builders return [`Command`]s; parsers take the response data of a `9000` answer (status words
//! are handled by the caller, see [`crate::piv::status`]).

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::piv::apdu::Command;
use crate::piv::objects::{KeyAlgorithm, Pin, Slot, KEYREF_PIN, PIV_AID};
use crate::piv::tlv;

pub const INS_SELECT: u8 = 0xA4;
pub const INS_GET_DATA: u8 = 0xCB;
pub const INS_PUT_DATA: u8 = 0xDB;
pub const INS_VERIFY: u8 = 0x20;
pub const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
pub const INS_RESET_RETRY_COUNTER: u8 = 0x2C;
pub const INS_GENERAL_AUTHENTICATE: u8 = 0x87;
pub const INS_GENERATE: u8 = 0x47;
pub const INS_GET_RESPONSE: u8 = 0xC0;

// ---------------------------------------------------------------------------------------------
// SELECT

/// SP 800-73-4 Part 2 §3.1.1 SELECT: `00 A4 04 00 0B <PIV AID> 00`.
pub fn select() -> Command {
    Command::new(0x00, INS_SELECT, 0x04, 0x00).with_data(PIV_AID.to_vec()).with_le(256)
}

/// The Application Property Template (SP 800-73-4 Part 1 §3.5 / Part 2 Table 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectInfo {
    /// Tag `4F`: application identifier (PIX, or the full AID on some cards). Empty if the card
    /// returned no template at all.
    pub aid: Vec<u8>,
    /// Tag `79` / `4F`: coexistent tag allocation authority (normally the NIST RID).
    pub tag_allocation_authority: Option<Vec<u8>>,
    /// Tag `50`: application label.
    pub label: Option<String>,
    /// Tag `5F50`: uniform resource locator.
    pub url: Option<String>,
    /// Tag `AC` / `80`: cryptographic algorithm identifiers the card supports.
    pub algorithms: Vec<u8>,
}

/// Parse a SELECT response. SP 800-73-4 Part 2 §3.1.1: template `61` with `4F` (mandatory),
/// `79`, `50`, `5F50`, `AC` (each optional here; YubiKeys send only `4F` and `79`).
/// An empty response (seen on minimal implementations) gives an empty `SelectInfo`.
pub fn parse_select(data: &[u8]) -> Result<SelectInfo> {
    if data.is_empty() {
        return Ok(SelectInfo::default());
    }
    let apt = tlv::expect_single(data, 0x61, "application property template")?;
    let what = "application property template 61";
    let aid = tlv::exactly_one(apt, 0x4F, what)?.to_vec();
    let tag_allocation_authority = match tlv::optional_one(apt, 0x79, what)? {
        Some(v) => Some(tlv::exactly_one(v, 0x4F, "tag allocation authority 79")?.to_vec()),
        None => None,
    };
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let label = tlv::optional_one(apt, 0x50, what)?.map(text);
    let url = tlv::optional_one(apt, 0x5F50, what)?.map(text);
    let mut algorithms = Vec::new();
    if let Some(ac) = tlv::optional_one(apt, 0xAC, what)? {
        for t in tlv::TlvIter::new(ac) {
            let t = t?;
            if t.tag == 0x80 {
                algorithms.extend_from_slice(t.value);
            }
        }
    }
    Ok(SelectInfo { aid, tag_allocation_authority, label, url, algorithms })
}

// ---------------------------------------------------------------------------------------------
// GET DATA / PUT DATA

/// SP 800-73-4 Part 2 §3.1.2 GET DATA: `00 CB 3F FF Lc 5C <len> <tag> 00`.
pub fn get_data(tag: u32) -> Command {
    Command::new(0x00, INS_GET_DATA, 0x3F, 0xFF)
        .with_data(tlv::encode(0x5C, &tlv::tag_bytes(tag)))
        .with_le(256)
}

/// SP 800-73-4 Part 2 §3.3.1 PUT DATA: `00 DB 3F FF Lc 5C <tag> 53 <value>` (chained if long).
pub fn put_data(tag: u32, value: &[u8]) -> Command {
    let mut data = tlv::encode(0x5C, &tlv::tag_bytes(tag));
    tlv::encode_into(0x53, value, &mut data);
    Command::new(0x00, INS_PUT_DATA, 0x3F, 0xFF).with_data(data)
}

/// Unwrap the `53` container of a GET DATA response (SP 800-73-4 Part 1 §3: every data object
/// but the Discovery Object is returned as `53 <len> <value>`). Leftover bytes are an error.
pub fn unwrap_data_object(data: &[u8]) -> Result<&[u8]> {
    tlv::expect_single(data, 0x53, "data object")
}

/// GET RESPONSE (ISO/IEC 7816-4 §7.6.1) for `61xx`: `00 C0 00 00 xx`.
pub fn get_response(len: u8) -> Command {
    Command::new(0x00, INS_GET_RESPONSE, 0x00, 0x00).with_le(if len == 0 { 256 } else { u16::from(len) })
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// CertInfo (tag `71`) bit: the certificate in tag `70` is gzip-compressed.
pub const CERTINFO_COMPRESSED: u8 = 0x01;

/// Parse an X.509 certificate object's value (inside `53`). SP 800-73-4 Part 1 Appendix A,
/// Tables 10, 15, 16, 17: `70` certificate, `71` CertInfo, `72` MSCUID (optional), `FE` error
/// detection code. A compressed certificate (CertInfo bit 0x01) is refused with a clear error.
pub fn parse_certificate_object(value: &[u8]) -> Result<Vec<u8>> {
    let what = "certificate object";
    let cert = tlv::exactly_one(value, 0x70, what)?;
    let info = tlv::optional_one(value, 0x71, what)?;
    let compressed = match info {
        None | Some([]) => false,
        Some([b]) => b & CERTINFO_COMPRESSED != 0,
        Some(v) => return Err(Error::Malformed(format!("{what}: tag 71 has {} bytes, want 1", v.len()))),
    };
    if cert.is_empty() {
        return Err(Error::Malformed(format!("{what}: tag 70 is empty")));
    }
    if compressed {
        // SP 800-73-4 Part 1 Table 10 note: CertInfo bit 0x01 = gzip-compressed certificate
        // (written only by `yubico-piv-tool --compress`). The host crate has no inflate
        // implementation: say so clearly instead of returning garbage DER.
        return Err(Error::Malformed(format!(
            "{what}: the certificate is gzip-compressed (tag 71 = 01), which Kagi does not support"
        )));
    }
    Ok(cert.to_vec())
}

/// Build an uncompressed certificate object value: `70 <der> 71 01 00 FE 00`
/// (the layout OpenSC and yubico-piv-tool write).
pub fn build_certificate_object(der: &[u8]) -> Vec<u8> {
    let mut out = tlv::encode(0x70, der);
    tlv::encode_into(0x71, &[0x00], &mut out);
    tlv::encode_into(0xFE, &[], &mut out);
    out
}

/// Builds PUT DATA of a slot's certificate object.
pub fn put_certificate(slot: Slot, der: &[u8]) -> Command {
    put_data(slot.cert_tag(), &build_certificate_object(der))
}

// ---------------------------------------------------------------------------------------------
// CHUID, Discovery, Key History

/// Card Holder Unique Identifier. SP 800-73-4 Part 1 Appendix A Table 9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chuid {
    /// Tag `30`: FASC-N (25 bytes on PIV cards; YubiKeys write a fixed placeholder).
    pub fascn: Vec<u8>,
    /// Tag `34`: card UUID / GUID, 16 bytes.
    pub guid: [u8; 16],
    /// Tag `35`: expiration date `YYYYMMDD`, if present.
    pub expiration: Option<String>,
}

/// Parse the CHUID value (inside `53`). `30` and `34` are mandatory; other tags (`32`, `33`,
/// `36`, `3E`, `EE`, `FE`) are accepted and ignored.
pub fn parse_chuid(value: &[u8]) -> Result<Chuid> {
    let what = "CHUID";
    let fascn = tlv::exactly_one(value, 0x30, what)?.to_vec();
    let g = tlv::exactly_one(value, 0x34, what)?;
    let guid: [u8; 16] = g
        .try_into()
        .map_err(|_| Error::Malformed(format!("{what}: tag 34 has {} bytes, want 16", g.len())))?;
    let expiration = tlv::optional_one(value, 0x35, what)?.map(|v| String::from_utf8_lossy(v).into_owned());
    Ok(Chuid { fascn, guid, expiration })
}

/// Discovery Object. SP 800-73-4 Part 1 §3.3.2 / Table 18.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// Tag `4F`: the PIV AID.
    pub aid: Vec<u8>,
    /// Tag `5F2F`: PIN usage policy, 2 bytes (first byte bit 0x40 = PIV PIN satisfies the
    /// card's PIN policy, 0x20 = global PIN, 0x10 = OCC...).
    pub pin_usage_policy: Option<[u8; 2]>,
}

/// Parse a GET DATA response for tag `7E`: `7E <len> { 4F AID, 5F2F policy }`. Some cards wrap it
/// in `53` like other objects; that is accepted too.
pub fn parse_discovery(data: &[u8]) -> Result<Discovery> {
    let what = "discovery object 7E";
    let (first, _) = tlv::parse_one(data)?;
    let inner = match first.tag {
        0x53 => {
            let v = unwrap_data_object(data)?;
            match tlv::parse_one(v) {
                Ok((t, _)) if t.tag == 0x7E => tlv::expect_single(v, 0x7E, what)?,
                _ => v,
            }
        }
        _ => tlv::expect_single(data, 0x7E, what)?,
    };
    let aid = tlv::exactly_one(inner, 0x4F, what)?.to_vec();
    let pin_usage_policy = match tlv::optional_one(inner, 0x5F2F, what)? {
        None => None,
        Some(p) => Some(p.try_into().map_err(|_| {
            Error::Malformed(format!("{what}: tag 5F2F has {} bytes, want 2", p.len()))
        })?),
    };
    Ok(Discovery { aid, pin_usage_policy })
}

/// Key History Object. SP 800-73-4 Part 1 §3.3.3 / Table 19.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHistory {
    /// Tag `C1`: retired key management keys whose certificates are on the card.
    pub keys_with_on_card_certs: u8,
    /// Tag `C2`: retired key management keys whose certificates are only off card.
    pub keys_with_off_card_certs: u8,
    /// Tag `F3`: offCardCertURL (present only when `C2` > 0).
    pub off_card_cert_url: Option<Vec<u8>>,
}

/// Parse the Key History value (inside `53`): `C1` and `C2` mandatory one-byte counts.
pub fn parse_key_history(value: &[u8]) -> Result<KeyHistory> {
    let what = "key history object";
    let byte = |tag: u32| -> Result<u8> {
        match tlv::exactly_one(value, tag, what)? {
            [b] => Ok(*b),
            v => Err(Error::Malformed(format!("{what}: tag {tag:X} has {} bytes, want 1", v.len()))),
        }
    };
    let keys_with_on_card_certs = byte(0xC1)?;
    let keys_with_off_card_certs = byte(0xC2)?;
    if u16::from(keys_with_on_card_certs) + u16::from(keys_with_off_card_certs) > 20 {
        return Err(Error::Malformed(format!("{what}: more than 20 retired keys")));
    }
    let off_card_cert_url = tlv::optional_one(value, 0xF3, what)?.map(<[u8]>::to_vec);
    Ok(KeyHistory { keys_with_on_card_certs, keys_with_off_card_certs, off_card_cert_url })
}

// ---------------------------------------------------------------------------------------------
// VERIFY

/// SP 800-73-4 Part 2 §3.2.1 VERIFY with the PIN: `00 20 00 80 08 <PIN padded with FF>`.
pub fn verify_pin(pin: &Pin) -> Command {
    let padded: Zeroizing<[u8; 8]> = pin.padded();
    Command::new(0x00, INS_VERIFY, 0x00, KEYREF_PIN).with_data(padded.to_vec())
}

/// Whether `cmd` carries reference data — a PIN or PUK: VERIFY with data, CHANGE REFERENCE
/// DATA, RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.1–§3.2.3). Such a command is never
/// re-sent with another Le on `6Cxx` (it has no Le to correct).
pub fn carries_reference_data(cmd: &Command) -> bool {
    matches!(cmd.ins, INS_VERIFY | INS_CHANGE_REFERENCE_DATA | INS_RESET_RETRY_COUNTER) && !cmd.data.is_empty()
}

/// SP 800-73-4 Part 2 §3.2.1 VERIFY without data: `9000` if the PIN is verified, else `63Cx`
/// with the number of tries left (`6983` blocked).
pub fn pin_status() -> Command {
    Command::new(0x00, INS_VERIFY, 0x00, KEYREF_PIN)
}

/// SP 800-73-4 Part 2 §3.2.1 VERIFY with P1 = `FF` and no data: resets the security status of
/// the PIN, so the next signature needs the PIN again.
pub fn unverify_pin() -> Command {
    Command::new(0x00, INS_VERIFY, 0xFF, KEYREF_PIN)
}

/// SP 800-73-4 Part 2 §3.2.2 CHANGE REFERENCE DATA for the PIN:
/// `00 24 00 80 10 <old PIN padded with FF> <new PIN padded with FF>`.
pub fn change_pin(old: &Pin, new: &Pin) -> Command {
    let mut data = Zeroizing::new(Vec::with_capacity(16));
    data.extend_from_slice(&old.padded()[..]);
    data.extend_from_slice(&new.padded()[..]);
    Command::new(0x00, INS_CHANGE_REFERENCE_DATA, 0x00, KEYREF_PIN).with_data(data.to_vec())
}

/// SP 800-73-4 Part 2 §3.2.3 RESET RETRY COUNTER: `00 2C 00 80 10 <PUK (8 bytes)> <new PIN
/// padded with FF>`: the PUK unblocks the PIN and sets it anew.
pub fn unblock_pin(puk: &Pin, new: &Pin) -> Command {
    let mut data = Zeroizing::new(Vec::with_capacity(16));
    data.extend_from_slice(&puk.padded()[..]);
    data.extend_from_slice(&new.padded()[..]);
    Command::new(0x00, INS_RESET_RETRY_COUNTER, 0x00, KEYREF_PIN).with_data(data.to_vec())
}

// ---------------------------------------------------------------------------------------------
// GENERAL AUTHENTICATE (signing)

/// SP 800-73-4 Part 2 §3.2.4 GENERAL AUTHENTICATE for a signature: `00 87 <alg> <keyref>`
/// with `7C { 82 00, 81 <input> }` (Part 2 Appendix A.4: "response" placeholder then the
/// challenge to sign). For ECC P-256 (`11`) the input is the 32-byte digest; for RSA (`07`) it
/// is the full-length padded block (see [`crate::piv::pkcs1`]). Longer than 255 bytes for RSA:
/// the caller chains it.
pub fn sign(slot: Slot, alg: KeyAlgorithm, input: &[u8]) -> Command {
    let mut body = vec![0x82, 0x00];
    tlv::encode_into(0x81, input, &mut body);
    Command::new(0x00, INS_GENERAL_AUTHENTICATE, alg.id(), slot.key_ref())
        .with_data(tlv::encode(0x7C, &body))
        .with_le(256)
}

/// Parse the signature response `7C { 82 <signature> }`. For ECC the value must be a DER
/// `SEQUENCE` (ECDSA-Sig-Value); for RSA-2048 exactly 256 bytes.
pub fn parse_signature(data: &[u8], alg: KeyAlgorithm) -> Result<Vec<u8>> {
    let inner = tlv::expect_single(data, 0x7C, "signature response")?;
    let sig = tlv::exactly_one(inner, 0x82, "signature response 7C")?;
    match alg {
        KeyAlgorithm::EccP256 => {
            let body = tlv::expect_single(sig, 0x30, "ECDSA signature")?;
            let r = tlv::parse_all(body)?;
            if r.len() != 2 || r.iter().any(|t| t.tag != 0x02 || t.value.is_empty()) {
                return Err(Error::Malformed("ECDSA signature: want SEQUENCE of two INTEGERs".into()));
            }
        }
        KeyAlgorithm::Rsa2048 => {
            if sig.len() != 256 {
                return Err(Error::Malformed(format!("RSA signature of {} bytes, want 256", sig.len())));
            }
        }
        KeyAlgorithm::Unsupported(_) => {}
    }
    Ok(sig.to_vec())
}

// ---------------------------------------------------------------------------------------------
// GENERATE ASYMMETRIC KEY PAIR

/// SP 800-73-4 Part 2 §3.3.2: `00 47 00 <keyref> 05 AC 03 80 01 <alg> 00`.
pub fn generate(slot: Slot, alg: KeyAlgorithm) -> Command {
    Command::new(0x00, INS_GENERATE, 0x00, slot.key_ref())
        .with_data(vec![0xAC, 0x03, 0x80, 0x01, alg.id()])
        .with_le(256)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn pin_change_and_unblock_apdus() {
        let old: Pin = "123456".parse().unwrap();
        let new: Pin = "48291537".parse().unwrap();
        assert_eq!(
            &change_pin(&old, &new).to_bytes().unwrap()[..],
            &h("00 24 00 80 10 313233343536FFFF 3438323931353337")[..]
        );
        let puk: Pin = "12345678".parse().unwrap();
        assert_eq!(
            &unblock_pin(&puk, &new).to_bytes().unwrap()[..],
            &h("00 2C 00 80 10 3132333435363738 3438323931353337")[..]
        );
    }

    #[test]
    fn select_command_and_yubikey_answer() {
        assert_eq!(
            &select().to_bytes().unwrap()[..],
            &h("00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00")[..]
        );
        // A YubiKey 5 answers with the PIX and the NIST RID as tag allocation authority.
        let info = parse_select(&h("61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08")).unwrap();
        assert_eq!(info.aid, h("000010000100"));
        assert_eq!(info.tag_allocation_authority, Some(h("A000000308")));
        assert_eq!((info.label, info.url), (None, None));
        // A full template per SP 800-73-4 Part 2 Table 3.
        let full = h("61 2D 4F 0B A0000003080000100001 00 79 07 4F 05 A000000308 50 04 4B414749 5F50 03 612F62 AC 09 80 01 07 80 01 11 06 01 00");
        let info = parse_select(&full).unwrap();
        assert_eq!(info.label.as_deref(), Some("KAGI"));
        assert_eq!(info.url.as_deref(), Some("a/b"));
        assert_eq!(info.algorithms, vec![0x07, 0x11]);
        assert_eq!(parse_select(&[]).unwrap(), SelectInfo::default());
        let e = parse_select(&h("61 03 50 01 41")).unwrap_err().to_string();
        assert!(e.contains("missing tag 4F"), "{e}");
        assert!(parse_select(&h("61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 00")).is_err());
        assert!(parse_select(&h("6F 00")).is_err());
    }

    #[test]
    fn get_and_put_data() {
        assert_eq!(
            &get_data(0x5FC105).to_bytes().unwrap()[..],
            &h("00 CB 3F FF 05 5C 03 5F C1 05 00")[..]
        );
        assert_eq!(&get_data(0x7E).to_bytes().unwrap()[..], &h("00 CB 3F FF 03 5C 01 7E 00")[..]);
        let c = put_data(0x5FC102, &[1, 2]);
        assert_eq!(&c.to_bytes().unwrap()[..], &h("00 DB 3F FF 09 5C 03 5F C1 02 53 02 01 02")[..]);
        assert_eq!(unwrap_data_object(&h("53 02 01 02")).unwrap(), &[1, 2]);
        assert!(unwrap_data_object(&h("53 02 01 02 FF")).is_err());
        assert_eq!(&get_response(0).to_bytes().unwrap()[..], &h("00 C0 00 00 00")[..]);
        assert_eq!(&get_response(0x10).to_bytes().unwrap()[..], &h("00 C0 00 00 10")[..]);
    }

    #[test]
    fn certificate_objects() {
        let der = h("30 03 02 01 05");
        let obj = build_certificate_object(&der);
        assert_eq!(obj, h("70 05 3003020105 71 01 00 FE 00"));
        assert_eq!(parse_certificate_object(&obj).unwrap(), der);
        // Without CertInfo and LRC.
        assert_eq!(parse_certificate_object(&h("70 05 3003020105")).unwrap(), der);
        let e = parse_certificate_object(&h("71 01 00 FE 00")).unwrap_err().to_string();
        assert!(e.contains("missing tag 70"), "{e}");
        assert!(parse_certificate_object(&h("70 05 30030201")).is_err());
        assert!(parse_certificate_object(&h("70 05 3003020105 71 02 00 00")).is_err());
        // Compressed (as written by `yubico-piv-tool --compress`): a clear error.
        let mut obj = tlv::encode(0x70, &[0x1F, 0x8B, 0x08, 0x00]);
        obj.extend_from_slice(&h("71 01 01 FE 00"));
        let e = parse_certificate_object(&obj).unwrap_err().to_string();
        assert!(e.contains("compressed"), "{e}");
        let c = put_certificate(Slot::Signature, &der);
        assert_eq!(c.data[..5], h("5C 03 5F C1 0A")[..]);
    }

    #[test]
    fn chuid() {
        // YubiKey-style CHUID: FASC-N placeholder, GUID, expiry, empty signature, LRC.
        let v = h(concat!(
            "30 19 d4e739da739ced39ce739d836858210842108421c84210c3eb",
            "34 10 0123456789abcdef0123456789abcdef",
            "35 08 3230333030313031",
            "3E 00 FE 00"
        ));
        let c = parse_chuid(&v).unwrap();
        assert_eq!(c.fascn.len(), 25);
        assert_eq!(hex::encode(c.guid), "0123456789abcdef0123456789abcdef");
        assert_eq!(c.expiration.as_deref(), Some("20300101"));
        let e = parse_chuid(&h("30 01 00 FE 00")).unwrap_err().to_string();
        assert!(e.contains("missing tag 34"), "{e}");
        assert!(parse_chuid(&h("30 01 00 34 02 01 02")).unwrap_err().to_string().contains("want 16"));
    }

    #[test]
    fn discovery() {
        let d = parse_discovery(&h("7E 12 4F 0B A0000003080000100001 00 5F2F 02 40 00")).unwrap();
        assert_eq!(d.aid, PIV_AID.to_vec());
        assert_eq!(d.pin_usage_policy, Some([0x40, 0x00]));
        let d = parse_discovery(&h("53 0F 7E 0D 4F 0B A0000003080000100001 00")).unwrap();
        assert_eq!(d.pin_usage_policy, None);
        assert!(parse_discovery(&h("7E 03 5F2F 00")).unwrap_err().to_string().contains("missing tag 4F"));
        assert!(parse_discovery(&h("7E 12 4F 0B A0000003080000100001 00 5F2F 02 40")).is_err());
    }

    #[test]
    fn key_history() {
        let k = parse_key_history(&h("C1 01 02 C2 01 00 FE 00")).unwrap();
        assert_eq!((k.keys_with_on_card_certs, k.keys_with_off_card_certs), (2, 0));
        let k = parse_key_history(&h("C1 01 00 C2 01 01 F3 03 616263 FE 00")).unwrap();
        assert_eq!(k.off_card_cert_url.as_deref(), Some(&b"abc"[..]));
        assert!(parse_key_history(&h("C1 01 00")).unwrap_err().to_string().contains("missing tag C2"));
        assert!(parse_key_history(&h("C1 02 00 00 C2 01 00")).is_err());
        assert!(parse_key_history(&h("C1 01 15 C2 01 00")).is_err());
    }

    #[test]
    fn verify_commands() {
        let pin = Pin::new("123456").unwrap();
        assert_eq!(&verify_pin(&pin).to_bytes().unwrap()[..], &h("00 20 00 80 08 313233343536FFFF")[..]);
        assert_eq!(&pin_status().to_bytes().unwrap()[..], &h("00 20 00 80")[..]);
    }

    #[test]
    fn sign_commands_and_responses() {
        let digest = [0xAB; 32];
        let c = sign(Slot::Signature, KeyAlgorithm::EccP256, &digest);
        let mut expect = h("00 87 11 9C 26 7C 24 82 00 81 20");
        expect.extend_from_slice(&digest);
        expect.push(0x00);
        assert_eq!(&c.to_bytes().unwrap()[..], &expect[..]);

        let c = sign(Slot::Authentication, KeyAlgorithm::Rsa2048, &[0x01; 256]);
        assert_eq!(c.data[..10], h("7C 82 01 06 82 00 81 82 01 00")[..]);
        assert_eq!(c.data.len(), 4 + 2 + 4 + 256);
        assert_eq!((c.p1, c.p2), (0x07, 0x9A));

        let sig = h("30 06 02 01 01 02 01 02");
        let mut resp = h("7C 0A 82 08");
        resp.extend_from_slice(&sig);
        assert_eq!(parse_signature(&resp, KeyAlgorithm::EccP256).unwrap(), sig);
        assert!(parse_signature(&h("7C 05 82 03 30 01 00"), KeyAlgorithm::EccP256).is_err());
        assert!(parse_signature(&h("7C 02 81 00"), KeyAlgorithm::EccP256)
            .unwrap_err()
            .to_string()
            .contains("missing tag 82"));
        let mut rsa = h("7C 82 01 04 82 82 01 00");
        rsa.extend_from_slice(&[7; 256]);
        assert_eq!(parse_signature(&rsa, KeyAlgorithm::Rsa2048).unwrap(), vec![7; 256]);
        assert!(parse_signature(&rsa[..100], KeyAlgorithm::Rsa2048).is_err());
    }

    #[test]
    fn generate_command() {
        assert_eq!(
            &generate(Slot::Signature, KeyAlgorithm::EccP256).to_bytes().unwrap()[..],
            &h("00 47 00 9C 05 AC 03 80 01 11 00")[..]
        );
    }
}
