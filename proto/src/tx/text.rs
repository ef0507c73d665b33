//! The text rules every `kagi-tx:1` value passes (issue 16, "Text rules"): what the window shows
//! must be what it seems. Codes and numbers are ASCII digits of fixed length (full-width digits
//! are refused, never folded: folding would show one string and sign another); names are NFC
//! (UAX #15) and carry no control, format, bidi-override, zero-width or private-use character;
//! every value has a length cap; dates are real dates.
//!
//! What is left to [`super::display`]: how an accepted value is shown (width folding of
//! half-width kana, confusable flags).

#[cfg(feature = "tx")]
use unicode_normalization::UnicodeNormalization;

use super::parse::TxProblem;
use super::{Rule, TxKind};

/// Cap of a name (利用者名), in characters. 全銀 names are at most 48 half-width characters and
/// densai's 利用者名 at most 60 characters; 80 leaves room without allowing a wall of text.
pub const MAX_NAME: usize = 80;
/// Cap of a bank or branch name, in characters.
pub const MAX_BANK_NAME: usize = 40;

/// Checks `value` under `rule`.
pub fn check(rule: Rule, value: &str) -> Result<(), TxProblem> {
    let b = value.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let ok = match rule {
        Rule::Kind => return TxKind::parse(value).map(drop).ok_or(TxProblem::UnknownKind),
        Rule::RequestId => (1..=40).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'),
        Rule::Version => (1..=10).contains(&b.len()) && b[0] != b'0' && digits(b),
        Rule::RecordNumber => b.len() == 20 && b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        Rule::Amount => (1..=11).contains(&b.len()) && b[0] != b'0' && digits(b),
        Rule::Date => return Date::parse(value).map(drop).ok_or(TxProblem::NotADate),
        Rule::Digits(n) => b.len() == n && digits(b),
        Rule::Text(cap) => return check_text(value, cap),
        Rule::AccountType => matches!(value, "1" | "2" | "9"),
        Rule::Flag => matches!(value, "0" | "1"),
    };
    if ok {
        Ok(())
    } else {
        Err(TxProblem::Format)
    }
}

/// Free text: not empty, at most `cap` characters, no refused character (see [`refused`]), no
/// space at either end, and NFC.
pub fn check_text(value: &str, cap: usize) -> Result<(), TxProblem> {
    if value.is_empty() {
        return Err(TxProblem::Empty);
    }
    if value.chars().count() > cap {
        return Err(TxProblem::TooLong);
    }
    if value.chars().any(refused) {
        return Err(TxProblem::ForbiddenCharacter);
    }
    if value.starts_with([' ', '\u{3000}']) || value.ends_with([' ', '\u{3000}']) {
        return Err(TxProblem::ForbiddenCharacter);
    }
    // Only when NFC(value) == value: two encodings of one name would sign differently while
    // looking the same.
    if !is_nfc(value) {
        return Err(TxProblem::NotNfc);
    }
    Ok(())
}

/// Whether `value` is in Normalization Form C (UAX #15 §9: `toNFC(value) == value`). ASCII
/// always is. With feature `tx`: unicode-normalization's tables.
#[cfg(feature = "tx")]
pub fn is_nfc(value: &str) -> bool {
    value.is_ascii() || value.chars().eq(value.nfc())
}

/// Whether `value` is in Normalization Form C (UAX #15 §9), by the check the caller installed
/// with [`set_nfc_check`] (feature `tx-core` without `tx`: no tables). Without one, only ASCII
/// passes: a name that cannot be checked is refused, never waved through.
#[cfg(not(feature = "tx"))]
pub fn is_nfc(value: &str) -> bool {
    value.is_ascii() || NFC_CHECK.get().is_some_and(|f| f(value))
}

#[cfg(not(feature = "tx"))]
static NFC_CHECK: std::sync::OnceLock<fn(&str) -> bool> = std::sync::OnceLock::new();

/// Installs the NFC check (`true`: the text is NFC) for a build without the tables; the first
/// one installed stays. The host re-checks every value with the tables, so a wrong check here
/// can only show a window the host then refuses, never get a non-NFC value signed.
#[cfg(not(feature = "tx"))]
pub fn set_nfc_check(check: fn(&str) -> bool) {
    let _ = NFC_CHECK.set(check);
}

/// With the tables (feature `tx`, e.g. when a workspace build unifies the features) they decide
/// and an installed check is ignored.
#[cfg(feature = "tx")]
pub fn set_nfc_check(_check: fn(&str) -> bool) {}

/// Characters a name may not contain: they are invisible, reorder what is around them, or look
/// like nothing at all. Controls (Cc: C0, DEL, C1), the format characters (Cf) that occur in
/// practice — soft hyphen, Arabic letter mark, Mongolian vowel separator and free variation
/// selectors, zero-width space/non-joiner/joiner U+200B–D, LRM/RLM, bidi embeddings and
/// overrides U+202A–E, word joiner and invisible operators U+2060–4, bidi isolates U+2066–9,
/// deprecated format controls U+206A–F, BOM/ZWNBSP U+FEFF, interlinear annotation U+FFF9–B,
/// tags U+E0000–E007F — line and paragraph separators (Zl, Zp), invisible fillers (combining
/// grapheme joiner U+034F, Hangul fillers, Khmer inherent vowels, U+3164, U+FFA0), variation
/// selectors (U+FE00–F, U+E0100–1EF: the bank's bytes must decide the glyph), private use and
/// noncharacters.
pub fn refused(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        | '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFF}'
        | '\u{E000}'..='\u{F8FF}' | '\u{FDD0}'..='\u{FDEF}'
        | '\u{E0000}'..='\u{E0FFF}' | '\u{F0000}'..='\u{10FFFF}')
        || (c as u32 & 0xFFFE) == 0xFFFE
}

/// A calendar date, as `YYYY-MM-DD` (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `YYYY-MM-DD` exactly (ASCII digits), a day that exists, year 1900 to 2199.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let d = b.get(r)?;
            d.iter().all(u8::is_ascii_digit).then(|| d.iter().fold(0u16, |n, c| n * 10 + u16::from(c - b'0')))
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1900..=2199).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        let (month, day) = (month as u8, day as u8);
        (1..=days_in_month(year, month)).contains(&day).then_some(Date { year, month, day })
    }

    /// 0 = Sunday … 6 = Saturday (Sakamoto's method).
    pub fn weekday(self) -> u8 {
        const T: [u16; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
        let y = if self.month < 3 { self.year - 1 } else { self.year };
        ((y + y / 4 - y / 100 + y / 400 + T[usize::from(self.month - 1)] + u16::from(self.day)) % 7) as u8
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}
