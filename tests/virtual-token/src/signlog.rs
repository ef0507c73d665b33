//! The record of every digest the token signed (`--sign-log PATH`, issue 16): one JSON line per
//! private-key operation, `{"slot":"82","alg":"11","digest":"<hex>"}`, appended before the
//! response is sent. A test recomputes a `kagi-tx:1` message from the bank's database row and
//! finds its digest here: what was signed is what was executed.
//!
//! The digest is what the host handed the key: for ECDSA (SP 800-73-4 Part 2 §3.2.4, alg `11`
//! P-256) the challenge itself; for RSA (alg `07`) the SHA-256 inside the PKCS#1 v1.5 block
//! (RFC 8017 §9.2: `00 01 FF… 00 ‖ DigestInfo ‖ H`), or the whole block, hex, when the block is
//! not one of those.

use std::io::Write;
use std::path::{Path, PathBuf};

/// DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// Where signed digests are appended.
pub struct SignLog {
    path: PathBuf,
}

impl SignLog {
    pub fn new(path: &Path) -> SignLog {
        SignLog { path: path.to_path_buf() }
    }

    /// Appends one operation: `challenge` as the host sent it to key `slot` of algorithm `alg`.
    pub fn record(&self, slot: u8, alg: u8, challenge: &[u8]) -> std::io::Result<()> {
        let digest = match challenge.len().checked_sub(32 + SHA256_DIGEST_INFO.len()) {
            Some(at) if alg != 0x11 && challenge[at..at + SHA256_DIGEST_INFO.len()] == SHA256_DIGEST_INFO => &challenge[at + SHA256_DIGEST_INFO.len()..],
            _ => challenge,
        };
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let line = format!("{{\"slot\":\"{slot:02x}\",\"alg\":\"{alg:02x}\",\"digest\":\"{hex}\"}}\n");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_digest_of_either_algorithm() {
        let dir = tempfile::tempdir().unwrap();
        let log = SignLog::new(&dir.path().join("signed.jsonl"));
        log.record(0x82, 0x11, &[0xAB; 32]).unwrap();
        let mut block = vec![0x00, 0x01];
        block.resize(256 - 32 - 19 - 1, 0xFF);
        block.push(0x00);
        block.extend_from_slice(&SHA256_DIGEST_INFO);
        block.extend_from_slice(&[0xCD; 32]);
        assert_eq!(block.len(), 256);
        log.record(0x83, 0x07, &block).unwrap();
        let text = std::fs::read_to_string(dir.path().join("signed.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("{{\"slot\":\"82\",\"alg\":\"11\",\"digest\":\"{}\"}}", "ab".repeat(32)));
        assert_eq!(lines[1], format!("{{\"slot\":\"83\",\"alg\":\"07\",\"digest\":\"{}\"}}", "cd".repeat(32)));
    }
}
