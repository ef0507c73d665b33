//! Native messaging framing: each message is a 4-byte length in native byte order followed by
//! that many bytes of UTF-8 JSON (Chrome "Native messaging" / MDN "Native messaging" docs).
//!
//! Browsers accept host→browser messages of at most 1 MiB. Browser→host messages may be far
//! larger (Chrome allows 64 MiB); Kagi's requests are small, so the host refuses anything over
//! [`MAX_INCOMING`] without reading it into memory.

use std::io::{Read, Write};

use byteorder::{ByteOrder, NativeEndian, ReadBytesExt, WriteBytesExt};

use crate::error::ProtoError;

/// Largest frame the host accepts from the browser.
pub const MAX_INCOMING: usize = 1024 * 1024;
/// Largest frame a browser accepts from a host.
pub const MAX_OUTGOING: usize = 1024 * 1024;

/// Decodes a frame header and checks it against `max`.
pub fn frame_len(header: [u8; 4], max: usize) -> Result<usize, ProtoError> {
    let len = NativeEndian::read_u32(&header) as usize;
    if len > max {
        return Err(ProtoError::FrameTooLarge { len, max });
    }
    Ok(len)
}

/// Builds a frame for `body`, refusing bodies a browser would not accept.
pub fn encode(body: &[u8]) -> Result<Vec<u8>, ProtoError> {
    if body.len() > MAX_OUTGOING {
        return Err(ProtoError::FrameTooLarge { len: body.len(), max: MAX_OUTGOING });
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.write_u32::<NativeEndian>(body.len() as u32)?;
    out.extend_from_slice(body);
    Ok(out)
}

/// Writes one frame and flushes.
pub fn write<W: Write>(w: &mut W, body: &[u8]) -> Result<(), ProtoError> {
    w.write_all(&encode(body)?)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame. `Ok(None)` on a clean end of stream before a header.
pub fn read<R: Read>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, ProtoError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = frame_len(header, max)?;
    let mut body = Vec::with_capacity(len);
    let got = r.take(len as u64).read_to_end(&mut body)?;
    if got != len {
        return Err(ProtoError::Truncated { expected: len, got });
    }
    Ok(Some(body))
}

/// Reads the length field only, for tests that want to look at a raw header.
pub fn read_len<R: Read>(r: &mut R) -> Result<u32, ProtoError> {
    Ok(r.read_u32::<NativeEndian>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        write(&mut buf, br#"{"id":1,"cmd":"status"}"#).unwrap();
        assert_eq!(&buf[..4], &(23u32.to_ne_bytes()));
        let mut r = &buf[..];
        assert_eq!(read(&mut r, MAX_INCOMING).unwrap().unwrap(), br#"{"id":1,"cmd":"status"}"#);
        assert!(read(&mut r, MAX_INCOMING).unwrap().is_none());
    }

    #[test]
    fn oversize_header_is_refused_before_reading_the_body() {
        let header = (u32::MAX).to_ne_bytes();
        let mut r = &header[..];
        match read(&mut r, MAX_INCOMING) {
            Err(ProtoError::FrameTooLarge { len, max }) => {
                assert_eq!(len, u32::MAX as usize);
                assert_eq!(max, MAX_INCOMING);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_body_is_reported() {
        let mut buf = 10u32.to_ne_bytes().to_vec();
        buf.extend_from_slice(b"abc");
        match read(&mut &buf[..], MAX_INCOMING) {
            Err(ProtoError::Truncated { expected: 10, got: 3 }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outgoing_limit() {
        assert!(encode(&vec![b' '; MAX_OUTGOING]).is_ok());
        assert!(matches!(encode(&vec![b' '; MAX_OUTGOING + 1]), Err(ProtoError::FrameTooLarge { .. })));
    }
}
