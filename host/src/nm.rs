//! Native messaging on stdin/stdout: frames in, frames out, nothing else on stdout.
//!
//! One writer task owns stdout so replies and pushed events never interleave mid-frame.

use kagi_proto::frame::{self, MAX_INCOMING};
use kagi_proto::Outgoing;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// What the reader got from the browser.
#[derive(Debug)]
pub enum Incoming {
    /// A whole frame body. Zeroized on drop: it may hold a PIN.
    Frame(Zeroizing<Vec<u8>>),
    /// A frame longer than [`MAX_INCOMING`]; its body is still in the stream (see [`skip`]).
    Oversize(usize),
}

/// Reads frames until the browser closes the pipe. `Ok(None)` on a clean end of stream (including
/// a frame cut short: the browser went away mid-message, there is nobody to answer).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Incoming>> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    match frame::frame_len(header, MAX_INCOMING) {
        Ok(len) => {
            let mut body = Zeroizing::new(vec![0u8; len]);
            match r.read_exact(&mut body).await {
                Ok(_) => Ok(Some(Incoming::Frame(body))),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(_) => Ok(Some(Incoming::Oversize(u32::from_ne_bytes(header) as usize))),
    }
}

/// Skips the body of an oversize frame in bounded chunks so the stream stays in sync.
/// `Ok(false)` when the stream ended first.
pub async fn skip<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> std::io::Result<bool> {
    let skipped = tokio::io::copy(&mut r.take(len as u64), &mut tokio::io::sink()).await?;
    Ok(skipped as usize == len)
}

/// Writes every message from `rx` to `w` as frames, in order, until all senders are gone.
pub async fn write_frames<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::UnboundedReceiver<Outgoing>) -> std::io::Result<()> {
    while let Some(msg) = rx.recv().await {
        let body = msg.to_bytes();
        let bytes = match frame::encode(&body) {
            Ok(b) => b,
            Err(e) => {
                crate::log::error(&format!("dropping an outgoing message: {e}"));
                continue;
            }
        };
        w.write_all(&bytes).await?;
        w.flush().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_frames_and_skips_oversize_ones() {
        let mut input = Vec::new();
        input.extend_from_slice(&3u32.to_ne_bytes());
        input.extend_from_slice(b"abc");
        let big = MAX_INCOMING + 10;
        input.extend_from_slice(&(big as u32).to_ne_bytes());
        input.extend(std::iter::repeat_n(b'x', big));
        input.extend_from_slice(&2u32.to_ne_bytes());
        input.extend_from_slice(b"{}");
        input.extend_from_slice(&9u32.to_ne_bytes());
        input.extend_from_slice(b"cut");
        let mut r = &input[..];
        assert!(matches!(read_frame(&mut r).await.unwrap(), Some(Incoming::Frame(b)) if &b[..] == b"abc"));
        assert!(matches!(read_frame(&mut r).await.unwrap(), Some(Incoming::Oversize(n)) if n == big));
        assert!(skip(&mut r, big).await.unwrap());
        assert!(matches!(read_frame(&mut r).await.unwrap(), Some(Incoming::Frame(b)) if &b[..] == b"{}"));
        assert!(read_frame(&mut r).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn writes_frames_in_order() {
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(Outgoing::Event(kagi_proto::Event::PcscUnavailable)).unwrap();
        tx.send(Outgoing::Event(kagi_proto::Event::PcscAvailable)).unwrap();
        drop(tx);
        let mut out = Vec::new();
        write_frames(&mut out, rx).await.unwrap();
        let mut r = &out[..];
        let a = frame::read(&mut r, usize::MAX).unwrap().unwrap();
        let b = frame::read(&mut r, usize::MAX).unwrap().unwrap();
        assert!(String::from_utf8(a).unwrap().contains("pcscUnavailable"));
        assert!(String::from_utf8(b).unwrap().contains("pcscAvailable"));
    }
}
