//! APDU counts read from a token's counter file (`kagi-vtoken --apdu-counter`, see
//! `tests/virtual-token/src/counter.rs`): what one operation cost in card round trips.

use std::collections::BTreeMap;
use std::io;

/// What a token answered so far ([`VToken::apdu_count`]); subtract two readings to get the
/// cost of the operation between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApduCount {
    /// Command APDUs answered.
    pub apdus: u64,
    /// Bytes of the command APDUs.
    pub bytes_in: u64,
    /// Bytes of the response APDUs (data and status words).
    pub bytes_out: u64,
    /// Power on / off / reset messages from the reader (not APDUs).
    pub resets: u64,
    /// Command APDUs by instruction byte (0xCB GET DATA, 0xC0 GET RESPONSE, 0x87 ...).
    pub by_ins: BTreeMap<u8, u64>,
}

impl std::ops::Sub for &ApduCount {
    type Output = ApduCount;
    fn sub(self, before: &ApduCount) -> ApduCount {
        let mut by_ins = self.by_ins.clone();
        for (ins, n) in &before.by_ins {
            let e = by_ins.entry(*ins).or_insert(0);
            *e = e.saturating_sub(*n);
        }
        by_ins.retain(|_, n| *n > 0);
        ApduCount {
            apdus: self.apdus.saturating_sub(before.apdus),
            bytes_in: self.bytes_in.saturating_sub(before.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(before.bytes_out),
            resets: self.resets.saturating_sub(before.resets),
            by_ins,
        }
    }
}

impl ApduCount {
    /// Parses the token's counter file (`tests/virtual-token/src/counter.rs`).
    pub(super) fn parse(text: &str) -> io::Result<ApduCount> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| io::Error::other(format!("APDU counter: {e}")))?;
        let n = |k: &str| v[k].as_u64().ok_or_else(|| io::Error::other(format!("APDU counter: no {k}")));
        let mut by_ins = BTreeMap::new();
        for (k, c) in v["by_ins"].as_object().into_iter().flatten() {
            let ins = u8::from_str_radix(k, 16).map_err(|e| io::Error::other(format!("APDU counter: {k}: {e}")))?;
            by_ins.insert(ins, c.as_u64().unwrap_or(0));
        }
        Ok(ApduCount { apdus: n("apdus")?, bytes_in: n("bytes_in")?, bytes_out: n("bytes_out")?, resets: n("resets")?, by_ins })
    }
}
