//! Status words.
//!
//! SP 800-73-4 Part 2 §3 lists, per command, the status words a PIV card returns; the table
//! of §3 (and ISO/IEC 7816-4 §5.1.3) gives their meaning. `6985` and `6A88` are not in every
//! command's table but real cards (YubiKey, OpenSC's emulations) return them.

use crate::error::Error;

/// A status word, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `9000`.
    Success,
    /// `61xx`: more response data, fetch with GET RESPONSE; `xx` bytes (0 = 256 or more).
    MoreData(u8),
    /// `6Cxx`: wrong Le; re-send the same command with Le = `xx`.
    WrongLe(u8),
    /// `63Cx`: verification failed, `x` tries left (SP 800-73-4 Part 2 §3.2.1).
    VerifyFailed { retries: u8 },
    /// `6983`: authentication method (PIN, PUK) blocked.
    Blocked,
    /// `6982`: security status not satisfied (PIN or management key needed).
    SecurityNotSatisfied,
    /// `6985`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `6A80`: incorrect parameter in the command data field.
    IncorrectData,
    /// `6A81`: function not supported.
    FunctionNotSupported,
    /// `6A82`: data object or application not found.
    NotFound,
    /// `6A84`: not enough memory.
    NotEnoughMemory,
    /// `6A86`: incorrect P1 or P2.
    IncorrectP1P2,
    /// `6A88`: referenced data (key reference) not found.
    ReferenceNotFound,
    /// `6700`: wrong length (Lc).
    WrongLength,
    /// `6D00`: instruction not supported.
    InsNotSupported,
    /// `6E00`: class not supported.
    ClaNotSupported,
    /// Anything else.
    Other(u16),
}

impl Status {
    /// Classify a status word.
    pub fn from_sw(sw: u16) -> Self {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => Status::Success,
            (0x61, n) => Status::MoreData(n),
            (0x6C, n) => Status::WrongLe(n),
            (0x63, n) if n & 0xF0 == 0xC0 => Status::VerifyFailed { retries: n & 0x0F },
            (0x69, 0x83) => Status::Blocked,
            (0x69, 0x82) => Status::SecurityNotSatisfied,
            (0x69, 0x85) => Status::ConditionsNotSatisfied,
            (0x6A, 0x80) => Status::IncorrectData,
            (0x6A, 0x81) => Status::FunctionNotSupported,
            (0x6A, 0x82) => Status::NotFound,
            (0x6A, 0x84) => Status::NotEnoughMemory,
            (0x6A, 0x86) => Status::IncorrectP1P2,
            (0x6A, 0x88) => Status::ReferenceNotFound,
            (0x67, 0x00) => Status::WrongLength,
            (0x6D, 0x00) => Status::InsNotSupported,
            (0x6E, 0x00) => Status::ClaNotSupported,
            _ => Status::Other(sw),
        }
    }

    /// The status word back.
    pub fn sw(self) -> u16 {
        match self {
            Status::Success => 0x9000,
            Status::MoreData(n) => 0x6100 | u16::from(n),
            Status::WrongLe(n) => 0x6C00 | u16::from(n),
            Status::VerifyFailed { retries } => 0x63C0 | u16::from(retries & 0x0F),
            Status::Blocked => 0x6983,
            Status::SecurityNotSatisfied => 0x6982,
            Status::ConditionsNotSatisfied => 0x6985,
            Status::IncorrectData => 0x6A80,
            Status::FunctionNotSupported => 0x6A81,
            Status::NotFound => 0x6A82,
            Status::NotEnoughMemory => 0x6A84,
            Status::IncorrectP1P2 => 0x6A86,
            Status::ReferenceNotFound => 0x6A88,
            Status::WrongLength => 0x6700,
            Status::InsNotSupported => 0x6D00,
            Status::ClaNotSupported => 0x6E00,
            Status::Other(sw) => sw,
        }
    }

    pub fn is_success(self) -> bool {
        self == Status::Success
    }

    /// The generic mapping of a non-success status into the host error, for operation `op`.
    /// Callers with a more specific meaning (management key authentication, SELECT) map first.
    ///
    /// `63C0` (no tries left) is `PinBlocked`: the reference data is now blocked.
    pub fn to_error(self, op: &'static str) -> Error {
        match self {
            Status::VerifyFailed { retries: 0 } | Status::Blocked => Error::PinBlocked,
            Status::VerifyFailed { retries } => Error::PinIncorrect { retries },
            Status::SecurityNotSatisfied => Error::SecurityStatus(op),
            Status::NotFound => Error::NotFound(op),
            s => Error::Status { op, sw: s.sw() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_and_back() {
        for sw in [
            0x9000u16, 0x6110, 0x6100, 0x6C20, 0x63C3, 0x63C0, 0x6983, 0x6982, 0x6985, 0x6A80,
            0x6A81, 0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6700, 0x6D00, 0x6E00, 0x6300, 0x6F00,
        ] {
            assert_eq!(Status::from_sw(sw).sw(), sw, "{sw:04X}");
        }
        assert_eq!(Status::from_sw(0x63C2), Status::VerifyFailed { retries: 2 });
        assert_eq!(Status::from_sw(0x6300), Status::Other(0x6300));
        assert_eq!(Status::from_sw(0x6115), Status::MoreData(0x15));
    }

    #[test]
    fn errors() {
        assert!(matches!(Status::from_sw(0x63C2).to_error("verify"), Error::PinIncorrect { retries: 2 }));
        assert!(matches!(Status::from_sw(0x63C0).to_error("verify"), Error::PinBlocked));
        assert!(matches!(Status::from_sw(0x6983).to_error("verify"), Error::PinBlocked));
        assert!(matches!(Status::from_sw(0x6982).to_error("sign"), Error::SecurityStatus("sign")));
        assert!(matches!(Status::from_sw(0x6A82).to_error("cert"), Error::NotFound("cert")));
        match Status::from_sw(0x6A80).to_error("put data") {
            Error::Status { op, sw } => assert_eq!((op, sw), ("put data", 0x6A80)),
            e => panic!("{e:?}"),
        }
    }
}
