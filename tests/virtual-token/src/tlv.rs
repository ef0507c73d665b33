//! BER-TLV encoding as used by PIV data objects and command templates
//! (SP 800-73-4 Part 1 §3 and Part 2 §3, ISO/IEC 7816-4 §5.2: definite-length forms only).

/// One decoded TLV: the tag (1–3 bytes, as a number) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u32,
    pub value: &'a [u8],
}

/// Reads the TLV at the start of `buf`; returns it and the rest of the buffer.
/// `None` for anything malformed (truncated, indefinite or over-long length).
pub fn parse_one(buf: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&first, mut rest) = buf.split_first()?;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        // Multi-byte tag: subsequent bytes have b8 set while more follow (at most 3 bytes total).
        let mut n = 0;
        loop {
            let (&b, r) = rest.split_first()?;
            rest = r;
            tag = (tag << 8) | u32::from(b);
            n += 1;
            if b & 0x80 == 0 {
                break;
            }
            if n == 2 {
                return None;
            }
        }
    }
    let (&l0, r) = rest.split_first()?;
    rest = r;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x81 => {
            let (&b, r) = rest.split_first()?;
            rest = r;
            usize::from(b)
        }
        0x82 => {
            if rest.len() < 2 {
                return None;
            }
            let l = usize::from(rest[0]) << 8 | usize::from(rest[1]);
            rest = &rest[2..];
            l
        }
        0x83 => {
            if rest.len() < 3 {
                return None;
            }
            let l = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            rest = &rest[3..];
            l
        }
        _ => return None,
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((Tlv { tag, value }, rest))
}

/// Parses a whole buffer as a sequence of TLVs; `None` if any part is malformed.
pub fn parse_all(mut buf: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (t, rest) = parse_one(buf)?;
        out.push(t);
        buf = rest;
    }
    Some(out)
}

/// Parses `buf` as exactly one TLV with the given tag and returns its value.
pub fn expect_single(buf: &[u8], tag: u32) -> Option<&[u8]> {
    let (t, rest) = parse_one(buf)?;
    (t.tag == tag && rest.is_empty()).then_some(t.value)
}

/// Encodes a definite length (ISO/IEC 7816-4 §5.2.2.2).
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
}

/// Encodes one TLV; the tag is written with as many bytes as it needs.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    push(&mut out, tag, value);
    out
}

/// Appends one TLV to `out`.
pub fn push(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    if tag > 0xFFFF {
        out.extend_from_slice(&[(tag >> 16) as u8, (tag >> 8) as u8, tag as u8]);
    } else if tag > 0xFF {
        out.extend_from_slice(&[(tag >> 8) as u8, tag as u8]);
    } else {
        out.push(tag as u8);
    }
    encode_len(value.len(), out);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 3000, 70000] {
            let v = vec![0xAB; len];
            let enc = encode(0x5FC105, &v);
            let (t, rest) = parse_one(&enc).unwrap();
            assert_eq!(t.tag, 0x5FC105);
            assert_eq!(t.value.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn multibyte_tags() {
        let enc = encode(0x7F49, &[1, 2]);
        assert_eq!(enc, [0x7F, 0x49, 2, 1, 2]);
        assert_eq!(parse_one(&enc).unwrap().0.tag, 0x7F49);
    }

    #[test]
    fn malformed_is_none() {
        assert!(parse_one(&[]).is_none());
        assert!(parse_one(&[0x53]).is_none());
        assert!(parse_one(&[0x53, 0x05, 1]).is_none());
        assert!(parse_one(&[0x53, 0x84, 0, 0, 0, 1]).is_none());
        assert!(parse_one(&[0x53, 0x82, 0]).is_none());
        assert!(parse_one(&[0x5F, 0xC1]).is_none());
        assert!(parse_all(&[0x80, 0x00, 0x81]).is_none());
    }
}
