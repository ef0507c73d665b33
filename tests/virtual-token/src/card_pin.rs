//! The PIN and the PUK (SP 800-73-4 Part 2 §3.2.1–3.2.3): VERIFY, CHANGE REFERENCE DATA and
//! RESET RETRY COUNTER, with the reference data format of Part 2 §2.4.3 (6–8 characters padded
//! with FF to 8 bytes) and the retry counters (63Cx, 6983 when blocked). The rest of the card
//! is in `card.rs`.

use super::{sw, Card, CmdResult};

impl Card {
    /// Turns the 8-byte, FF-padded reference data format (Part 2 §2.4.3) into the value.
    fn unpad(b: &[u8]) -> Result<String, u16> {
        if b.len() != 8 {
            return Err(sw::WRONG_DATA);
        }
        let end = b.iter().position(|&x| x == 0xFF).unwrap_or(8);
        if end < 6 || b[end..].iter().any(|&x| x != 0xFF) {
            return Err(sw::WRONG_DATA);
        }
        String::from_utf8(b[..end].to_vec()).map_err(|_| sw::WRONG_DATA)
    }

    fn retries_sw(left: u8) -> u16 {
        if left == 0 {
            sw::AUTH_BLOCKED
        } else {
            sw::VERIFY_FAIL | u16::from(left.min(15))
        }
    }

    /// Checks the PIN (`puk == false`) or PUK against `given`, keeping the retry counter.
    fn check_ref(&mut self, puk: bool, given: &[u8]) -> Result<(), u16> {
        let (val, left) = if puk {
            (&self.st.puk, self.st.puk_retries_left)
        } else {
            (&self.st.pin, self.st.pin_retries_left)
        };
        if left == 0 {
            return Err(sw::AUTH_BLOCKED);
        }
        // Wrongly formatted input still counts as a wrong try, like a mistyped PIN.
        let ok = Self::unpad(given).map(|g| g == *val).unwrap_or(false);
        let max = if puk { self.st.puk_retries_max } else { self.st.pin_retries_max };
        let counter = if puk { &mut self.st.puk_retries_left } else { &mut self.st.pin_retries_left };
        if ok {
            if *counter != max {
                *counter = max;
                self.persist()?;
            }
            Ok(())
        } else {
            *counter -= 1;
            let left = *counter;
            if !puk {
                self.pin_verified = false;
                self.pin_always_ok = false;
            }
            self.persist()?;
            Err(if left == 0 { sw::VERIFY_FAIL } else { Self::retries_sw(left) })
        }
    }

    /// Power fails while the card executes `apdu` (`power-loss` control command; the model:
    /// README.md, *Power loss*). A card that checks a PIN or PUK counts the try down in its
    /// persistent memory before it compares (so that cutting the power at the comparison cannot
    /// give unlimited tries), and restores the counter only after a match: power lost inside
    /// VERIFY, CHANGE REFERENCE DATA or RESET RETRY COUNTER leaves one try spent, right PIN or
    /// not. Every other command commits nothing: each write replaces one whole object, key or
    /// reference at once (old or new, never half), and the card had not got that far; a chained
    /// PUT DATA segment only ever sits in RAM until the last one, so the old object stays.
    /// Returns what survived, for the log.
    pub fn power_loss(&mut self, apdu: &[u8]) -> &'static str {
        const NOTHING: &str = "nothing committed";
        let [_, ins, p1, p2, rest @ ..] = apdu else { return NOTHING };
        let checks = match (*ins, *p1, *p2) {
            // VERIFY with reference data (empty data only asks the status; P1 FF resets it).
            (0x20, 0x00, 0x80) => rest.len() > 1,
            (0x24, 0x00, 0x80) => true,
            (0x24, 0x00, 0x81) | (0x2C, 0x00, 0x80) => {
                if self.st.puk_retries_left == 0 {
                    return NOTHING;
                }
                self.st.puk_retries_left -= 1;
                return if self.persist().is_ok() { "a PUK try spent" } else { NOTHING };
            }
            _ => false,
        };
        if !checks || self.st.pin_retries_left == 0 {
            return NOTHING;
        }
        self.st.pin_retries_left -= 1;
        if self.persist().is_ok() {
            "a PIN try spent"
        } else {
            NOTHING
        }
    }

    /// VERIFY (Part 2 §3.2.1): PIN `80`; empty data asks the status; P1 FF resets it.
    pub(super) fn verify(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if p2 != 0x80 {
            return Err(if p1 == 0x00 || p1 == 0xFF { sw::REF_DATA_NOT_FOUND } else { sw::INCORRECT_P1P2 });
        }
        match p1 {
            0xFF => {
                if !data.is_empty() {
                    return Err(sw::WRONG_DATA);
                }
                self.pin_verified = false;
                self.pin_always_ok = false;
                Ok(Vec::new())
            }
            0x00 if data.is_empty() => {
                if self.pin_verified {
                    Ok(Vec::new())
                } else {
                    Err(Self::retries_sw(self.st.pin_retries_left))
                }
            }
            0x00 => {
                if data.len() != 8 {
                    return Err(sw::WRONG_DATA);
                }
                self.check_ref(false, data)?;
                self.pin_verified = true;
                self.pin_always_ok = true;
                Ok(Vec::new())
            }
            _ => Err(sw::INCORRECT_P1P2),
        }
    }

    /// CHANGE REFERENCE DATA (Part 2 §3.2.2): old ‖ new, 8 bytes each, for PIN (80) or PUK (81).
    pub(super) fn change_reference_data(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        let puk = match (p1, p2) {
            (0x00, 0x80) => false,
            (0x00, 0x81) => true,
            _ => return Err(sw::INCORRECT_P1P2),
        };
        if data.len() != 16 {
            return Err(sw::WRONG_DATA);
        }
        let new = Self::unpad(&data[8..])?;
        self.check_ref(puk, &data[..8])?;
        if puk {
            self.st.puk = new;
        } else {
            self.st.pin = new;
            self.pin_verified = true;
        }
        self.persist()?;
        Ok(Vec::new())
    }

    /// RESET RETRY COUNTER (Part 2 §3.2.3): `00 2C 00 80 10 <PUK> <new PIN>` (P2 80 only: the
    /// PIN is the one reference a PUK resets). A wrong PUK counts down the PUK's own counter
    /// (63Cx); a blocked PUK answers 6983. The new PIN is not verified by this command.
    pub(super) fn reset_retry_counter(&mut self, p1: u8, p2: u8, data: &[u8]) -> CmdResult {
        if (p1, p2) != (0x00, 0x80) {
            return Err(sw::INCORRECT_P1P2);
        }
        if data.len() != 16 {
            return Err(sw::WRONG_DATA);
        }
        let new = Self::unpad(&data[8..])?;
        self.check_ref(true, &data[..8])?;
        self.st.pin = new;
        self.st.pin_retries_left = self.st.pin_retries_max;
        self.pin_verified = false;
        self.pin_always_ok = false;
        self.persist()?;
        Ok(Vec::new())
    }
}
