//! A latency model of a USB token, so that benchmarks on the virtual token pay for card round
//! trips as a real token makes them pay (issue 13). The token sleeps before it answers each
//! command APDU: a fixed cost per exchange plus a cost per byte of command and response.
//!
//! The figures of the model (`--apdu-latency-us` / `--byte-latency-us` given without a value)
//! are those of a full-speed (12 Mbit/s) USB CCID token such as a YubiKey 5; see README.md
//! "Latency model" for the sources. Without the options the token answers at once (tests).

use std::time::Duration;

/// Per-exchange cost of the model: one USB full-speed frame (USB 2.0 §8.4.3.1: 1.000 ms), the
/// granularity at which the host schedules the CCID bulk-OUT command and polls the bulk-IN
/// answer (CCID 1.1 §6.1.4 PC_to_RDR_XfrBlock / §6.2.1 RDR_to_PC_DataBlock).
pub const USB_FS_APDU_US: u64 = 1000;

/// Per-byte cost of the model: one 64-byte bulk packet per 1 ms frame (USB 2.0 §5.8.3: the
/// full-speed bulk maximum packet size is 64 bytes), 1000 µs / 64 ≈ 16 µs a byte.
pub const USB_FS_BYTE_US: u64 = 16;

/// How long the token waits before answering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Fixed cost of each command/response exchange.
    pub apdu: Duration,
    /// Cost of each byte of the command APDU and of the response APDU.
    pub per_byte: Duration,
}

impl Latency {
    pub fn from_us(apdu_us: u64, byte_us: u64) -> Self {
        Latency { apdu: Duration::from_micros(apdu_us), per_byte: Duration::from_micros(byte_us) }
    }

    /// The wait for an exchange of `cmd_len` command bytes and `resp_len` response bytes.
    pub fn cost(&self, cmd_len: usize, resp_len: usize) -> Duration {
        let bytes = u32::try_from(cmd_len + resp_len).unwrap_or(u32::MAX);
        self.apdu + self.per_byte.saturating_mul(bytes)
    }

    pub fn is_zero(&self) -> bool {
        self.apdu.is_zero() && self.per_byte.is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usb_full_speed_figures() {
        let m = Latency::from_us(USB_FS_APDU_US, USB_FS_BYTE_US);
        // A SELECT (10 bytes + 2): about one frame.
        assert_eq!(m.cost(10, 2), Duration::from_micros(1000 + 12 * 16));
        // A full 256-byte chunk of a certificate read: about 5 ms, the upper end of the 1–5 ms
        // per APDU real tokens show.
        assert_eq!(m.cost(5, 258).as_micros(), 1000 + 263 * 16);
        assert!(Latency::default().is_zero() && Latency::default().cost(300, 300).is_zero());
    }
}
