//! BER-TLV as used by the PIV card application.
//!
//! SP 800-73-4 Part 1 §3 / Part 2 §2.3: PIV data objects and command templates are BER-TLV
//! (ISO/IEC 8825-1) with tags of one to three bytes (e.g. `53`, `7F49`, `5FC105`) and lengths in
//! short form or long form `81 xx`, `82 xx xx`, `83 xx xx xx`.
//!
//! Tags are represented as the big-endian integer of their bytes: `0x5FC105`, `0x7F49`, `0x53`.
//! Decoding never panics: every failure is `Error::Malformed` naming the tag and what was wrong.

use crate::error::{Error, Result};

/// One decoded TLV borrowing its value from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, as the big-endian integer of its encoded bytes.
    pub tag: u32,
    /// The value bytes.
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The children of a constructed value.
    pub fn children(&self) -> TlvIter<'a> {
        TlvIter::new(self.value)
    }
}

fn malformed(msg: String) -> Error {
    Error::Malformed(msg)
}

/// Read one tag from the start of `input`: returns the tag and the number of bytes it used.
fn read_tag(input: &[u8]) -> Result<(u32, usize)> {
    let first = *input.first().ok_or_else(|| malformed("missing tag byte".into()))?;
    let mut tag = u32::from(first);
    let mut used = 1;
    if first & 0x1F == 0x1F {
        // Subsequent bytes: bit 8 set means "another byte follows" (ISO/IEC 8825-1 §8.1.2.4).
        loop {
            let b = *input
                .get(used)
                .ok_or_else(|| malformed(format!("tag {tag:X} truncated")))?;
            tag = (tag << 8) | u32::from(b);
            used += 1;
            if b & 0x80 == 0 {
                break;
            }
            if used >= 4 {
                return Err(malformed(format!("tag {tag:X} longer than 4 bytes")));
            }
        }
    }
    Ok((tag, used))
}

/// Read a length at the start of `input` (the bytes after the tag).
fn read_len(input: &[u8], tag: u32) -> Result<(usize, usize)> {
    let first = *input
        .first()
        .ok_or_else(|| malformed(format!("missing length of tag {tag:X}")))?;
    if first < 0x80 {
        return Ok((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7F);
    if n == 0 || n > 3 {
        return Err(malformed(format!("unsupported length form {first:02X} for tag {tag:X}")));
    }
    let bytes = input
        .get(1..1 + n)
        .ok_or_else(|| malformed(format!("truncated length of tag {tag:X}")))?;
    let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    Ok((len, 1 + n))
}

/// Decode the first TLV in `input`; returns it and the bytes after it.
pub fn parse_one(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    let (tag, tag_len) = read_tag(input)?;
    let rest = input.get(tag_len..).unwrap_or_default();
    let (len, len_len) = read_len(rest, tag)?;
    let rest = rest.get(len_len..).unwrap_or_default();
    if rest.len() < len {
        return Err(malformed(format!(
            "value of tag {tag:X} truncated: length {len}, {} bytes present",
            rest.len()
        )));
    }
    let (value, after) = rest.split_at(len);
    Ok((Tlv { tag, value }, after))
}

/// Iterator over consecutive TLVs; yields an error (once) on malformed input.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> TlvIter<'a> {
    /// Iterate over the TLVs in `input`.
    pub fn new(input: &'a [u8]) -> Self {
        TlvIter { rest: input, failed: false }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        match parse_one(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Decode all TLVs in `input` (which must consist of whole TLVs only).
pub fn parse_all(input: &[u8]) -> Result<Vec<Tlv<'_>>> {
    TlvIter::new(input).collect()
}

/// `input` must be exactly one TLV with tag `tag` and nothing after it; returns its value.
/// `what` names the structure in error messages.
pub fn expect_single<'a>(input: &'a [u8], tag: u32, what: &str) -> Result<&'a [u8]> {
    if input.is_empty() {
        return Err(malformed(format!("{what}: missing tag {tag:X}")));
    }
    let (tlv, rest) = parse_one(input)?;
    if tlv.tag != tag {
        return Err(malformed(format!("{what}: missing tag {tag:X} (found {:X})", tlv.tag)));
    }
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{what}: {} leftover bytes after tag {tag:X}",
            rest.len()
        )));
    }
    Ok(tlv.value)
}

/// Among the children in `input`, the value of the one with tag `tag`, if any; more than one is an error.
pub fn optional_one<'a>(input: &'a [u8], tag: u32, what: &str) -> Result<Option<&'a [u8]>> {
    let mut found = None;
    for tlv in TlvIter::new(input) {
        let tlv = tlv?;
        if tlv.tag == tag {
            if found.is_some() {
                return Err(malformed(format!("{what}: tag {tag:X} appears more than once")));
            }
            found = Some(tlv.value);
        }
    }
    Ok(found)
}

/// Among the children in `input`, the value of exactly one with tag `tag`.
pub fn exactly_one<'a>(input: &'a [u8], tag: u32, what: &str) -> Result<&'a [u8]> {
    optional_one(input, tag, what)?
        .ok_or_else(|| malformed(format!("{what}: missing tag {tag:X}")))
}

/// The encoded bytes of a tag (big-endian, without leading zero bytes).
pub fn tag_bytes(tag: u32) -> Vec<u8> {
    let b = tag.to_be_bytes();
    let skip = b.iter().take(3).take_while(|x| **x == 0).count();
    b[skip..].to_vec()
}

/// Append a BER length to `out` (short form below 128, else 81/82/83 long form).
pub fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else if len <= 0xFFFF {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    } else {
        // PIV objects are far below 16 MiB; longer values are not representable on a card.
        out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
}

/// Append one TLV to `out`.
pub fn encode_into(tag: u32, value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&tag_bytes(tag));
    encode_len(value.len(), out);
    out.extend_from_slice(value);
}

/// Encode one TLV.
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    encode_into(tag, value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_byte_tags_and_long_lengths() {
        let v = vec![0xAB; 300];
        let enc = encode(0x5FC105, &v);
        assert_eq!(&enc[..6], &[0x5F, 0xC1, 0x05, 0x82, 0x01, 0x2C]);
        let (tlv, rest) = parse_one(&enc).unwrap();
        assert_eq!(tlv.tag, 0x5FC105);
        assert_eq!(tlv.value, &v[..]);
        assert!(rest.is_empty());

        let enc = encode(0x7F49, &[1, 2]);
        assert_eq!(enc, [0x7F, 0x49, 0x02, 1, 2]);
        assert_eq!(encode(0x53, &[0u8; 0x90])[..3], [0x53, 0x81, 0x90]);
    }

    #[test]
    fn round_trip_many_sizes_and_tags() {
        // Property-style: every (tag, length) combination round-trips, alone and concatenated.
        let tags = [0x01, 0x53, 0x7C, 0x80, 0x5F2F, 0x7F49, 0x5FC105, 0x5FC120];
        let lens = [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234, 0xFFFF, 0x10000];
        let mut all = Vec::new();
        let mut expect = Vec::new();
        for (i, &tag) in tags.iter().enumerate() {
            for (j, &len) in lens.iter().enumerate() {
                let value: Vec<u8> = (0..len).map(|k| (k + i * 7 + j) as u8).collect();
                let enc = encode(tag, &value);
                let (tlv, rest) = parse_one(&enc).unwrap();
                assert_eq!((tlv.tag, tlv.value), (tag, &value[..]));
                assert!(rest.is_empty());
                // Every strict prefix is rejected, never panics.
                for cut in [0, 1, enc.len() / 2, enc.len() - 1] {
                    if cut < enc.len() {
                        assert!(matches!(parse_one(&enc[..cut]), Err(Error::Malformed(_))));
                    }
                }
                encode_into(tag, &value, &mut all);
                expect.push((tag, value));
            }
        }
        let parsed = parse_all(&all).unwrap();
        assert_eq!(parsed.len(), expect.len());
        for (p, (t, v)) in parsed.iter().zip(expect.iter()) {
            assert_eq!((p.tag, p.value), (*t, &v[..]));
        }
    }

    #[test]
    fn malformed_inputs() {
        // Truncated long length.
        let e = parse_one(&[0x53, 0x82, 0x01]).unwrap_err().to_string();
        assert!(e.contains("truncated length of tag 53"), "{e}");
        // Value shorter than announced.
        let e = parse_one(&[0x53, 0x05, 1, 2]).unwrap_err().to_string();
        assert!(e.contains("tag 53 truncated"), "{e}");
        // Multi-byte tag cut in the middle.
        assert!(parse_one(&[0x5F, 0xC1]).is_err());
        // Indefinite length and over-long length forms.
        assert!(parse_one(&[0x53, 0x80, 0x00, 0x00]).is_err());
        assert!(parse_one(&[0x53, 0x85, 0, 0, 0, 0, 1]).is_err());
        // Leftover bytes after a single object.
        let e = expect_single(&[0x53, 0x01, 0xAA, 0x00], 0x53, "data object").unwrap_err();
        assert!(e.to_string().contains("leftover"), "{e}");
        // Wrong tag.
        let e = expect_single(&[0x54, 0x00], 0x53, "data object").unwrap_err();
        assert!(e.to_string().contains("missing tag 53"), "{e}");
        assert!(expect_single(&[], 0x53, "x").is_err());
    }

    #[test]
    fn children_helpers() {
        let mut inner = Vec::new();
        encode_into(0x80, &[1], &mut inner);
        encode_into(0x81, &[2, 3], &mut inner);
        encode_into(0x81, &[4], &mut inner);
        assert_eq!(exactly_one(&inner, 0x80, "t").unwrap(), &[1]);
        assert!(exactly_one(&inner, 0x81, "t").unwrap_err().to_string().contains("more than once"));
        let e = exactly_one(&inner, 0x82, "template 7C").unwrap_err().to_string();
        assert!(e.contains("template 7C: missing tag 82"), "{e}");
        assert_eq!(optional_one(&inner, 0x82, "t").unwrap(), None);
        let outer = encode(0x7C, &inner);
        let (tlv, _) = parse_one(&outer).unwrap();
        assert_eq!(tlv.children().count(), 3);
    }
}
