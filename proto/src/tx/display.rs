//! How the confirmation window shows an accepted `kagi-tx:1` value. Display only: the signature
//! always covers the bank's bytes as encoded by [`super::Transaction::encode_body`].
//!
//! - [`amount`] / [`amount_man`]: `12,345,678円` and its 万 reading `1234万5678円` (integers only,
//!   no float formatting);
//! - [`date_ja`]: dates as `2026年12月31日（木）`;
//! - [`fold_halfwidth_kana`]: half-width katakana (U+FF61–FF9F, the 全銀 character set) shown
//!   full-width, voiced marks joined;
//! - [`skeleton`] / [`confusable`]: a small subset of UTS #39 (Unicode Security Mechanisms §4
//!   confusable detection) for the names a Japanese bank customer meets. Covered: Cyrillic and
//!   Greek letters that look like Latin ones; full-width Latin letters and digits against ASCII;
//!   katakana that look like kanji (カ力 ロ口 エ工 ニ二 ハ八 ト卜 タ夕 ー一 メ乂 ヒ匕,
//!   [`KANA_KANJI`]); へ/ヘ, べ/ベ, ぺ/ペ across hiragana and katakana; dash-like characters
//!   against the long vowel mark. Not covered: the full confusables.txt (6,000+ entries, too
//!   large for the extension's WASM), other scripts, whole-script confusables.

use super::text::Date;

/// `12,345,678円`.
pub fn amount(yen: u64) -> String {
    let digits = yen.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3 + 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push('円');
    out
}

/// The 万 reading: `1234万5678円`, `999億9999万9999円`, `1億円`, `1円`. Groups of zero are left out.
pub fn amount_man(yen: u64) -> String {
    let (oku, man, rest) = (yen / 100_000_000, yen / 10_000 % 10_000, yen % 10_000);
    let mut out = String::new();
    if oku > 0 {
        out.push_str(&format!("{oku}億"));
    }
    if man > 0 {
        out.push_str(&format!("{man}万"));
    }
    if rest > 0 || out.is_empty() {
        out.push_str(&rest.to_string());
    }
    out.push('円');
    out
}

/// Weekday names, Sunday first.
pub const WEEKDAYS_JA: [&str; 7] = ["日", "月", "火", "水", "木", "金", "土"];

/// `2026年12月31日（木）`.
pub fn date_ja(d: Date) -> String {
    format!("{}年{}月{}日（{}）", d.year, d.month, d.day, WEEKDAYS_JA[usize::from(d.weekday())])
}

/// Full-width forms of U+FF61…U+FF9F, in order.
const FULL_KANA: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";

/// Half-width katakana shown full-width (`ｶﾌﾞｼｷｶﾞｲｼｬ` → `カブシキガイシャ`); a voiced or
/// semi-voiced mark joins the kana before it where such a letter exists. Everything else is
/// kept as it is.
pub fn fold_halfwidth_kana(s: &str) -> String {
    let mut out: Vec<char> = Vec::with_capacity(s.len());
    for c in s.chars() {
        let Some(full) = (c as u32).checked_sub(0xFF61).and_then(|i| FULL_KANA.chars().nth(i as usize)) else {
            out.push(c);
            continue;
        };
        let prev = out.last().copied();
        let joined = match (full, prev) {
            ('゛', Some('ウ')) => Some('ヴ'),
            ('゛', Some(p)) if matches!(p, 'カ'..='ト' | 'ハ'..='ホ') && voiceable(p) => char::from_u32(p as u32 + 1),
            ('゜', Some(p)) if matches!(p, 'ハ'..='ホ') && voiceable(p) => char::from_u32(p as u32 + 2),
            _ => None,
        };
        match joined {
            Some(j) if c == '\u{FF9E}' || c == '\u{FF9F}' => {
                out.pop();
                out.push(j);
            }
            _ => out.push(full),
        }
    }
    out.into_iter().collect()
}

/// Whether a full-width katakana is an unvoiced letter with voiced forms right after it
/// (カ→ガ, ハ→バ→パ; not ッ, not the small forms).
fn voiceable(c: char) -> bool {
    "カキクケコサシスセソタチツテトハヒフヘホ".contains(c)
}

/// Katakana that look like kanji: (katakana, kanji).
pub const KANA_KANJI: [(char, char); 10] = [
    ('カ', '力'),
    ('ロ', '口'),
    ('エ', '工'),
    ('ニ', '二'),
    ('ハ', '八'),
    ('ト', '卜'),
    ('タ', '夕'),
    ('ー', '一'),
    ('メ', '乂'),
    ('ヒ', '匕'),
];

/// Cyrillic and Greek letters that look like ASCII: (letter, Latin prototype).
const LATIN_LOOKALIKES: [(char, char); 30] = [
    ('А', 'A'), ('В', 'B'), ('Е', 'E'), ('К', 'K'), ('М', 'M'), ('Н', 'H'), ('О', 'O'), ('Р', 'P'),
    ('С', 'C'), ('Т', 'T'), ('Х', 'X'), ('а', 'a'), ('е', 'e'), ('о', 'o'), ('р', 'p'), ('с', 'c'),
    ('у', 'y'), ('х', 'x'), ('і', 'i'), ('ѕ', 's'), ('Α', 'A'), ('Β', 'B'), ('Ε', 'E'), ('Η', 'H'),
    ('Ι', 'I'), ('Κ', 'K'), ('Μ', 'M'), ('Ν', 'N'), ('Ο', 'O'), ('ο', 'o'),
];

/// The prototype of one character under this module's table (itself when not covered).
fn proto_char(c: char) -> char {
    if let Some((_, l)) = LATIN_LOOKALIKES.iter().find(|(x, _)| *x == c) {
        return *l;
    }
    if let Some((k, _)) = KANA_KANJI.iter().find(|(_, j)| *j == c) {
        return *k;
    }
    match c {
        // Full-width ASCII (U+FF01–FF5E) → ASCII.
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        'へ' => 'ヘ',
        'べ' => 'ベ',
        'ぺ' => 'ペ',
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => 'ー',
        _ => c,
    }
}

/// A UTS #39-style skeleton under this module's small table: two names with the same skeleton
/// may be told apart by nothing but their code points. A bank can compare a new counterparty's
/// skeleton with its known ones.
pub fn skeleton(s: &str) -> String {
    fold_halfwidth_kana(s).chars().map(proto_char).collect()
}

/// Script classes that matter for the flag.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Katakana,
    Hiragana,
    Kanji,
    Latin,
    FullLatin,
    Other,
}

fn class(c: char) -> Class {
    match c {
        'ァ'..='ヿ' | 'ｦ'..='ﾟ' => Class::Katakana,
        'ぁ'..='ゟ' => Class::Hiragana,
        '一'..='鿿' | '㐀'..='䶿' => Class::Kanji,
        'A'..='Z' | 'a'..='z' | '0'..='9' => Class::Latin,
        'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '０'..='９' => Class::FullLatin,
        _ => Class::Other,
    }
}

/// Whether the window should flag `name` as possibly imitating another (red mark beside it):
/// - a Cyrillic or Greek letter that looks like a Latin one, anywhere;
/// - full-width and ASCII Latin letters or digits mixed in one name;
/// - a kanji that looks like a katakana next to katakana and no kanji (`カブシキ力イシャ`), or such
///   a katakana next to kanji and no katakana (`山ロ工業` for `山口工業`);
/// - へ/べ/ぺ next to katakana, or ヘ/ベ/ペ next to hiragana;
/// - a dash-like character (not ー) next to katakana.
pub fn confusable(name: &str) -> bool {
    let chars: Vec<char> = fold_halfwidth_kana(name).chars().collect();
    if chars.iter().any(|c| LATIN_LOOKALIKES.iter().any(|(x, _)| x == c)) {
        return true;
    }
    if chars.iter().any(|c| class(*c) == Class::Latin) && chars.iter().any(|c| class(*c) == Class::FullLatin) {
        return true;
    }
    let near = |i: usize, k: Class| {
        (i > 0 && class(chars[i - 1]) == k) || chars.get(i + 1).is_some_and(|c| class(*c) == k)
    };
    chars.iter().enumerate().any(|(i, c)| {
        let kanji_like_kana = KANA_KANJI.iter().any(|(_, j)| j == c);
        let kana_like_kanji = KANA_KANJI.iter().any(|(k, _)| k == c);
        (kanji_like_kana && near(i, Class::Katakana) && !near(i, Class::Kanji))
            || (kana_like_kanji && *c != 'ー' && near(i, Class::Kanji) && !near(i, Class::Katakana))
            || (matches!(c, 'へ' | 'べ' | 'ぺ') && near(i, Class::Katakana))
            || (matches!(c, 'ヘ' | 'ベ' | 'ペ') && near(i, Class::Hiragana))
            || (proto_char(*c) == 'ー' && *c != 'ー' && near(i, Class::Katakana))
    })
}
