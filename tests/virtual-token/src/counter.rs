//! The APDU counter a benchmark reads per operation (issue 13): with `--apdu-counter PATH`
//! the token rewrites PATH after every command APDU, BEFORE it sends the response, with
//! `{"apdus":N,"bytes_in":N,"bytes_out":N,"resets":N,"by_ins":{"cb":N,...}}` (cumulative;
//! a restarted token continues from the file's values).
//!
//! Race-free by construction: when a client has received the response to its last command,
//! the file already counts that command, and nothing else sends APDUs (pcscd's power on/off
//! and resets are counted apart, in `resets`). Each write is a temporary file renamed over
//! PATH, so a reader sees the old or the new counts, never a torn file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Counts since the counter file was created.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Command APDUs answered.
    pub apdus: u64,
    /// Bytes of those command APDUs.
    pub bytes_in: u64,
    /// Bytes of their response APDUs (data and status word).
    pub bytes_out: u64,
    /// Power on / power off / reset control messages from the reader.
    pub resets: u64,
    /// Command APDUs by instruction byte (hex, "cb", "c0", "87"...).
    pub by_ins: BTreeMap<String, u64>,
}

/// The counter and its file.
pub struct Counter {
    path: PathBuf,
    counts: Counts,
}

impl Counter {
    /// Opens the counter at `path`, continuing from its counts if it exists.
    pub fn open(path: &Path) -> io::Result<Counter> {
        let counts = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Counts::default(),
            Err(e) => return Err(e),
        };
        let c = Counter { path: path.to_path_buf(), counts };
        c.write()?;
        Ok(c)
    }

    /// Counts one exchange and rewrites the file.
    pub fn apdu(&mut self, cmd: &[u8], resp_len: usize) -> io::Result<()> {
        self.counts.apdus += 1;
        self.counts.bytes_in += cmd.len() as u64;
        self.counts.bytes_out += resp_len as u64;
        if let Some(ins) = cmd.get(1) {
            *self.counts.by_ins.entry(format!("{ins:02x}")).or_insert(0) += 1;
        }
        self.write()
    }

    /// Counts a power on / off / reset and rewrites the file.
    pub fn reset(&mut self) -> io::Result<()> {
        self.counts.resets += 1;
        self.write()
    }

    /// temp file + rename (no fsync: the counts need not survive a crash of the machine).
    fn write(&self) -> io::Result<()> {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(&self.counts).map_err(io::Error::other)?)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_continues_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("apdus.json");
        let mut c = Counter::open(&p).unwrap();
        c.apdu(&[0x00, 0xA4, 0x04, 0x00, 0x01, 0xA0], 12).unwrap();
        c.apdu(&[0x00, 0xCB, 0x3F, 0xFF], 2).unwrap();
        c.reset().unwrap();
        c.apdu(&[0x00, 0xCB, 0x3F, 0xFF], 2).unwrap();
        drop(c);
        let mut c = Counter::open(&p).unwrap();
        c.apdu(&[0x00], 2).unwrap();
        let got: Counts = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!((got.apdus, got.bytes_in, got.bytes_out, got.resets), (4, 15, 18, 1));
        assert_eq!(got.by_ins["cb"], 2);
        assert_eq!(got.by_ins["a4"], 1);
        // Only the counter file remains (temporary files are renamed away).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
