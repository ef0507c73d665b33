//! Command and response APDUs (ISO/IEC 7816-4 §5.1), short form only.
//!
//! SP 800-73-4 Part 2 §3 says the PIV card application uses short APDUs; data longer than 255
//! bytes is sent with command chaining (CLA bit 0x10, ISO/IEC 7816-4 §5.1.1.1), and responses
//! longer than 256 bytes come back in pieces fetched with GET RESPONSE (`61xx`).

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::piv::status::Status;

/// The most data one short command APDU carries.
pub const MAX_SHORT_DATA: usize = 255;

/// CLA bit meaning "more command chunks follow" (ISO/IEC 7816-4 §5.1.1.1).
pub const CLA_CHAINING: u8 = 0x10;

/// A command APDU. Its data is wiped from memory on drop (it may hold a PIN or a key witness).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    /// Expected response length: `None` = no Le field; `Some(n)` with n in 1..=256
    /// (256 is encoded as `00`, "up to 256 bytes"). Values above 256 are sent as `00`.
    pub le: Option<u16>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The data may be a PIN or key material: print only its length.
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

impl Command {
    /// A command with no data and no Le.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command { cla, ins, p1, p2, data: Vec::new(), le: None }
    }

    /// Set the data field.
    pub fn with_data(mut self, data: Vec<u8>) -> Self {
        self.data = data;
        self
    }

    /// Set Le (`256` asks for "as much as available", encoded `00`).
    pub fn with_le(mut self, le: u16) -> Self {
        self.le = Some(le);
        self
    }

    fn encode(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<u16>) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(data.len() + 6));
        out.extend_from_slice(&[cla, ins, p1, p2]);
        if !data.is_empty() {
            out.push(data.len() as u8);
            out.extend_from_slice(data);
        }
        if let Some(le) = le {
            out.push(if le >= 256 { 0 } else { le as u8 });
        }
        out
    }

    /// Serialise as one short APDU. Fails if the data needs chaining (more than 255 bytes).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        if self.data.len() > MAX_SHORT_DATA {
            return Err(Error::Internal(format!(
                "command {:02X} has {} data bytes: needs chaining",
                self.ins,
                self.data.len()
            )));
        }
        Ok(Self::encode(self.cla, self.ins, self.p1, self.p2, &self.data, self.le))
    }

    /// Serialise as a chain of short APDUs: every chunk but the last has CLA | 0x10 and no Le;
    /// each carries at most 255 data bytes. A command without data gives one APDU.
    pub fn to_chunks(&self) -> Vec<Zeroizing<Vec<u8>>> {
        if self.data.len() <= MAX_SHORT_DATA {
            return vec![Self::encode(self.cla, self.ins, self.p1, self.p2, &self.data, self.le)];
        }
        let mut chunks: Vec<&[u8]> = self.data.chunks(MAX_SHORT_DATA).collect();
        let last = chunks.pop().unwrap_or_default();
        let mut out: Vec<_> = chunks
            .into_iter()
            .map(|c| Self::encode(self.cla | CLA_CHAINING, self.ins, self.p1, self.p2, c, None))
            .collect();
        out.push(Self::encode(self.cla, self.ins, self.p1, self.p2, last, self.le));
        out
    }
}

/// A response APDU: data and the status word SW1SW2.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({} data bytes, sw {:04X})", self.data.len(), self.sw)
    }
}

impl Response {
    /// Split raw response bytes (data followed by SW1 SW2).
    pub fn from_bytes(raw: &[u8]) -> Result<Self> {
        if raw.len() < 2 {
            return Err(Error::Malformed(format!(
                "response of {} bytes has no status word",
                raw.len()
            )));
        }
        let (data, sw) = raw.split_at(raw.len() - 2);
        let sw = u16::from_be_bytes([sw[0], sw[1]]);
        Ok(Response { data: data.to_vec(), sw })
    }

    /// The typed status.
    pub fn status(&self) -> Status {
        Status::from_sw(self.sw)
    }

    /// The data if the status is 9000, else the status mapped to an error for operation `op`.
    pub fn into_success(self, op: &'static str) -> Result<Vec<u8>> {
        match self.status() {
            Status::Success => Ok(self.data),
            s => Err(s.to_error(op)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let c = Command::new(0x00, 0x20, 0x00, 0x80);
        assert_eq!(&c.to_bytes().unwrap()[..], &[0x00, 0x20, 0x00, 0x80]);
        let c = Command::new(0x00, 0xCB, 0x3F, 0xFF).with_data(vec![0x5C, 0x01, 0x7E]).with_le(256);
        assert_eq!(&c.to_bytes().unwrap()[..], &[0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00]);
        let c = Command::new(0x00, 0xC0, 0x00, 0x00).with_le(0x12);
        assert_eq!(&c.to_bytes().unwrap()[..], &[0x00, 0xC0, 0x00, 0x00, 0x12]);
        assert_eq!(c.to_chunks().len(), 1);
    }

    #[test]
    fn chaining() {
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let c = Command::new(0x00, 0xDB, 0x3F, 0xFF).with_data(data.clone()).with_le(256);
        assert!(c.to_bytes().is_err());
        let chunks = c.to_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(&chunks[0][..5], &[0x10, 0xDB, 0x3F, 0xFF, 0xFF]);
        assert_eq!(chunks[0].len(), 5 + 255);
        assert_eq!(&chunks[1][..5], &[0x10, 0xDB, 0x3F, 0xFF, 0xFF]);
        assert_eq!(&chunks[2][..5], &[0x00, 0xDB, 0x3F, 0xFF, 90]);
        assert_eq!(chunks[2].len(), 5 + 90 + 1);
        assert_eq!(*chunks[2].last().unwrap(), 0x00);
        let mut joined = Vec::new();
        for ch in &chunks {
            let n = usize::from(ch[4]);
            joined.extend_from_slice(&ch[5..5 + n]);
        }
        assert_eq!(joined, data);
        // Exactly 255 bytes still fits one APDU; 256 needs two.
        let c = Command::new(0, 0xDB, 0x3F, 0xFF).with_data(vec![1; 255]);
        assert_eq!(c.to_chunks().len(), 1);
        let c = Command::new(0, 0xDB, 0x3F, 0xFF).with_data(vec![1; 256]);
        let ch = c.to_chunks();
        assert_eq!((ch.len(), ch[1][4]), (2, 1));
    }

    #[test]
    fn responses() {
        let r = Response::from_bytes(&[0x01, 0x02, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[1u8, 2][..], 0x9000));
        assert_eq!(r.status(), Status::Success);
        let r = Response::from_bytes(&[0x6A, 0x82]).unwrap();
        assert!(matches!(r.into_success("read"), Err(Error::NotFound("read"))));
        assert!(matches!(Response::from_bytes(&[0x90]), Err(Error::Malformed(_))));
        assert!(Response::from_bytes(&[]).is_err());
    }

    #[test]
    fn debug_hides_data() {
        let c = Command::new(0, 0x20, 0, 0x80).with_data(b"123456\xff\xff".to_vec());
        assert!(!format!("{c:?}").contains("31"));
    }
}
