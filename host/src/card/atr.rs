//! What a card's Answer To Reset says about the APDUs it takes: whether it announces extended
//! Lc/Le fields, so that a certificate can be read with one GET DATA instead of a GET RESPONSE
//! chain of 256-byte pieces (issue 13). Parsing only; the ATR comes from `SCardStatus`.
//!
//! ISO/IEC 7816-3 §8.2: TS, T0 (Y1 and the number K of historical bytes), the interface bytes
//! TAi/TBi/TCi/TDi chained by the Y nibble of each TD, then the K historical bytes. ISO/IEC
//! 7816-4 §8.1.1: historical bytes with category indicator `80` are compact-TLV objects; tag `7`
//! is the card capabilities, whose third byte (the third software function table, §8.1.1.2.7
//! Table 87) has bit 7 (`40`) set when the card takes extended Lc and Le fields.

/// The historical bytes of `atr`, if it is well-formed enough to find them.
fn historical_bytes(atr: &[u8]) -> Option<&[u8]> {
    let t0 = *atr.get(1)?;
    let k = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut i = 2;
    loop {
        // TA, TB, TC present per bits 5..7 of Y; TD per bit 8, whose high nibble is the next Y.
        i += usize::from(y & 0x1) + usize::from((y >> 1) & 0x1) + usize::from((y >> 2) & 0x1);
        if y & 0x8 == 0 {
            break;
        }
        let td = *atr.get(i)?;
        i += 1;
        y = td >> 4;
    }
    atr.get(i..i.checked_add(k)?)
}

/// Whether the card announces extended Lc/Le fields in its ATR (see the module doc).
pub fn takes_extended_length(atr: &[u8]) -> bool {
    let Some(hist) = historical_bytes(atr) else { return false };
    let Some((&0x80, mut rest)) = hist.split_first() else { return false };
    while let Some((&tl, tail)) = rest.split_first() {
        let (tag, len) = (tl >> 4, usize::from(tl & 0x0F));
        let Some(value) = tail.get(..len) else { return false };
        if tag == 0x7 {
            return value.get(2).is_some_and(|b| b & 0x40 != 0);
        }
        rest = &tail[len..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn yubikey_5_announces_extended_length() {
        // YubiKey 5 NFC (USB): T=1, "80 73 C0 21 C0 57 YubiKey".
        assert!(takes_extended_length(&h("3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40")));
    }

    #[test]
    fn the_virtual_token_announces_it_and_its_old_atr_did_not() {
        assert!(takes_extended_length(&h("3B 8E 80 01 80 73 C0 21 C0 58 4B 61 67 69 56 50 49 56 B8")));
        assert!(!takes_extended_length(&h("3B 88 80 01 4B 61 67 69 56 50 49 56 5D")));
    }

    #[test]
    fn short_only_and_broken_atrs() {
        // Card capabilities without the extended bit (third byte 80: chaining only).
        assert!(!takes_extended_length(&h("3B 8C 80 01 80 73 C0 21 80 58 4B 61 67 69 00")));
        // No capabilities object; truncated ATRs; an empty one.
        assert!(!takes_extended_length(&h("3B 85 80 01 80 31 C0 61 00 00")));
        assert!(!takes_extended_length(&h("3B FD 13 00 00 81 31 FE 15 80 73")));
        assert!(!takes_extended_length(&h("3B 8E 80")));
        assert!(!takes_extended_length(&[]));
        assert!(!takes_extended_length(&h("3B 82 80 01 80 7F")));
    }
}
