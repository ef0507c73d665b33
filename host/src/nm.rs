//! Native messaging on stdin/stdout: frames in, frames out, nothing else on stdout.
//!
//! One writer task owns stdout so replies and pushed events never interleave mid-frame; one
//! thread reads stdin without any buffer of its own (a frame may hold a PIN: see
//! [`stdin_frames`]).

use kagi_proto::frame::{self, MAX_INCOMING};
use kagi_proto::Outgoing;
use std::io::Read;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

/// What the reader got from the browser.
#[derive(Debug)]
pub enum Incoming {
    /// A whole frame body. Zeroized on drop: it may hold a PIN.
    Frame(Zeroizing<Vec<u8>>),
    /// A frame longer than [`MAX_INCOMING`]; its body is being skipped (see [`read_frames`]).
    Oversize(usize),
}

/// Reads one frame. `Ok(None)` on a clean end of stream (including a frame cut short: the
/// browser went away mid-message, there is nobody to answer). The body is read straight into
/// its zeroizing buffer: `r` must not buffer (see [`stdin_frames`]).
pub fn read_frame<R: Read>(r: &mut R) -> std::io::Result<Option<Incoming>> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    match frame::frame_len(header, MAX_INCOMING) {
        Ok(len) => {
            let mut body = Zeroizing::new(vec![0u8; len]);
            match r.read_exact(&mut body) {
                Ok(()) => Ok(Some(Incoming::Frame(body))),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                Err(e) => Err(e),
            }
        }
        Err(_) => Ok(Some(Incoming::Oversize(u32::from_ne_bytes(header) as usize))),
    }
}

/// Skips the body of an oversize frame in bounded chunks (through a zeroized buffer: a refused
/// frame may hold a PIN too) so the stream stays in sync. `Ok(false)` when the stream ended first.
pub fn skip<R: Read>(r: &mut R, len: usize) -> std::io::Result<bool> {
    let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut left = len;
    while left > 0 {
        let want = left.min(chunk.len());
        match r.read(&mut chunk[..want]) {
            Ok(0) => return Ok(false),
            Ok(n) => left -= n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Reads frames from `r` until the end of the stream or an error, sending each to `tx`; an
/// oversize frame is announced first (the sender may wait for the refusal before sending the
/// rest) and then skipped. The last message is `Ok(None)` (end) or the error.
pub fn read_frames<R: Read>(mut r: R, tx: mpsc::Sender<std::io::Result<Option<Incoming>>>) {
    loop {
        let next = read_frame(&mut r);
        let (stop, oversize) = match &next {
            Ok(Some(Incoming::Oversize(len))) => (false, Some(*len)),
            Ok(Some(Incoming::Frame(_))) => (false, None),
            Ok(None) | Err(_) => (true, None),
        };
        if tx.blocking_send(next).is_err() || stop {
            return;
        }
        if let Some(len) = oversize {
            match skip(&mut r, len) {
                Ok(true) => {}
                Ok(false) => {
                    let _ = tx.blocking_send(Ok(None));
                    return;
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    }
}

/// The browser's frames from stdin, read on a thread of their own through an unbuffered
/// handle: tokio's stdin and std's `Stdin` each keep the bytes they read in a buffer of their
/// own that is never wiped, and a frame may hold a PIN. The handle is a duplicate of the
/// standard input descriptor (handle on Windows), read with plain `read` calls.
pub fn stdin_frames() -> std::io::Result<mpsc::Receiver<std::io::Result<Option<Incoming>>>> {
    #[cfg(unix)]
    let raw = std::fs::File::from(std::os::fd::AsFd::as_fd(&std::io::stdin()).try_clone_to_owned()?);
    #[cfg(windows)]
    let raw = std::fs::File::from(std::os::windows::io::AsHandle::as_handle(&std::io::stdin()).try_clone_to_owned()?);
    let (tx, rx) = mpsc::channel(4);
    std::thread::Builder::new().name("stdin".into()).spawn(move || read_frames(raw, tx))?;
    Ok(rx)
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

    fn stream() -> (Vec<u8>, usize) {
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
        (input, big)
    }

    #[test]
    fn reads_frames_and_skips_oversize_ones() {
        let (input, big) = stream();
        let mut r = &input[..];
        assert!(matches!(read_frame(&mut r).unwrap(), Some(Incoming::Frame(b)) if &b[..] == b"abc"));
        assert!(matches!(read_frame(&mut r).unwrap(), Some(Incoming::Oversize(n)) if n == big));
        assert!(skip(&mut r, big).unwrap());
        assert!(matches!(read_frame(&mut r).unwrap(), Some(Incoming::Frame(b)) if &b[..] == b"{}"));
        assert!(read_frame(&mut r).unwrap().is_none());
        assert!(!skip(&mut &b"abc"[..], 4).unwrap(), "stream ended inside the skipped body");
    }

    #[test]
    fn the_reader_thread_sends_frames_then_the_end() {
        let (input, big) = stream();
        let (tx, mut rx) = mpsc::channel(1);
        let t = std::thread::spawn(move || read_frames(std::io::Cursor::new(input), tx));
        assert!(matches!(rx.blocking_recv(), Some(Ok(Some(Incoming::Frame(b)))) if &b[..] == b"abc"));
        assert!(matches!(rx.blocking_recv(), Some(Ok(Some(Incoming::Oversize(n)))) if n == big));
        assert!(matches!(rx.blocking_recv(), Some(Ok(Some(Incoming::Frame(b)))) if &b[..] == b"{}"));
        assert!(matches!(rx.blocking_recv(), Some(Ok(None))));
        assert!(rx.blocking_recv().is_none());
        t.join().unwrap();
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
