//! YubiKey PIV attestation, sans-IO: the ATTEST instruction and its answer, and the F9
//! attestation certificate object. Yubico "PIV attestation"
//! (developers.yubico.com/PIV/Introduction/PIV_attestation.html; yubikit `piv.py`
//! `attest_key`, yubico-piv-tool `lib/ykpiv.c` `ykpiv_attest`): firmware 4.3+ answers
//! `00 F9 <slot> 00` with an X.509 certificate for the slot's public key, signed by the
//! attestation key in slot F9, for keys generated on the token only. The certificate of the F9
//! key is the data object `5FFF01`. Checking the chain is the bank's job (`kagi-verify`).
//!
//! Tokens that are not YubiKeys answer `6D00`; the session turns that into "no attestation".

use crate::error::{Error, Result};
use crate::piv::apdu::Command;
use crate::piv::objects::Slot;
use crate::piv::tlv;

/// YubiKey PIV: ATTEST instruction (firmware 4.3+).
pub const INS_ATTEST: u8 = 0xF9;
/// YubiKey PIV: the F9 attestation key's certificate object (yubico-piv-tool
/// `YKPIV_OBJ_ATTESTATION`), a certificate object like those of SP 800-73-4 Part 1 Appendix A.
pub const TAG_ATTESTATION_CERT: u32 = 0x5FFF01;

/// What a token says about a key it generated: the statement and the certificate of the key
/// that signed it, both DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The attestation certificate for the slot's key (ATTEST's answer).
    pub certificate: Vec<u8>,
    /// The F9 attestation key's certificate (object `5FFF01`), issued by the vendor's root.
    pub intermediate: Vec<u8>,
}

/// YubiKey ATTEST: `00 F9 <key reference> 00 00` (Le 00: the whole certificate, in 61xx pieces
/// on short APDUs).
pub fn attest(slot: Slot) -> Command {
    Command::new(0x00, INS_ATTEST, slot.key_ref(), 0x00).with_le(256)
}

/// ATTEST's answer: one DER certificate (a `30` SEQUENCE), nothing before or after it.
pub fn parse_attestation(data: &[u8]) -> Result<Vec<u8>> {
    let body = tlv::expect_single(data, 0x30, "attestation certificate")?;
    if body.is_empty() {
        return Err(Error::Malformed("attestation certificate: empty SEQUENCE".into()));
    }
    Ok(data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::piv::objects::RetiredIndex;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn attest_apdu() {
        assert_eq!(attest(Slot::Authentication).to_bytes().unwrap().as_slice(), &h("00 F9 9A 00 00")[..]);
        let r = Slot::Retired(RetiredIndex::new(2).unwrap());
        assert_eq!(attest(r).to_bytes().unwrap().as_slice(), &h("00 F9 83 00 00")[..]);
    }

    #[test]
    fn answer_is_exactly_one_certificate() {
        assert_eq!(parse_attestation(&h("30 03 02 01 05")).unwrap(), h("30 03 02 01 05"));
        assert!(parse_attestation(&h("30 03 02 01 05 00")).is_err(), "a trailing byte");
        assert!(parse_attestation(&h("30 04 02 01 05")).is_err(), "truncated");
        assert!(parse_attestation(&h("53 03 02 01 05")).is_err(), "not a SEQUENCE");
        assert!(parse_attestation(&h("30 00")).is_err());
        assert!(parse_attestation(&[]).is_err());
    }
}
