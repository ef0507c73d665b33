//! Strict base64 decoding (RFC 4648 §4 standard with canonical padding, §5 URL-safe without
//! padding), as the `base64` crate's `STANDARD` and `URL_SAFE_NO_PAD` engines decode: no
//! whitespace, no misplaced or missing padding, zero trailing bits. Written out because the
//! extension's WASM links this crate and the generic engine cost 3.5 KB there; encoding still
//! uses the `base64` crate. The tests compare both decoders on every short input.

/// Which RFC 4648 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// §4 `A–Z a–z 0–9 + /`, padded with `=` to a multiple of 4.
    Standard,
    /// §5 `A–Z a–z 0–9 - _`, no padding.
    UrlSafeNoPad,
}

fn value(b: u8, alphabet: Alphabet) -> Option<u32> {
    Some(match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' if alphabet == Alphabet::Standard => 62,
        b'/' if alphabet == Alphabet::Standard => 63,
        b'-' if alphabet == Alphabet::UrlSafeNoPad => 62,
        b'_' if alphabet == Alphabet::UrlSafeNoPad => 63,
        _ => return None,
    } as u32)
}

/// Decodes `s`, or `None` when it is not the canonical encoding of some bytes in `alphabet`.
pub(crate) fn decode(s: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
    let mut data = s.as_bytes();
    if alphabet == Alphabet::Standard {
        if !data.len().is_multiple_of(4) {
            return None;
        }
        let pad = data.iter().rev().take(2).take_while(|&&b| b == b'=').count();
        data = &data[..data.len() - pad];
        // Canonical: exactly the padding the last group needs.
        if pad != (4 - data.len() % 4) % 4 {
            return None;
        }
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for &b in chunk {
            acc = (acc << 6) | value(b, alphabet)?;
        }
        let bits = chunk.len() * 6;
        let bytes = bits / 8;
        let spare = bits - bytes * 8;
        if acc & ((1 << spare) - 1) != 0 {
            return None;
        }
        acc >>= spare;
        for i in (0..bytes).rev() {
            out.push((acc >> (8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn theirs(s: &str, alphabet: Alphabet) -> Option<Vec<u8>> {
        match alphabet {
            Alphabet::Standard => base64::engine::general_purpose::STANDARD.decode(s).ok(),
            Alphabet::UrlSafeNoPad => base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok(),
        }
    }

    #[test]
    fn agrees_with_the_base64_crate_on_every_short_input() {
        // Symbols that matter: both alphabets' 62/63, zero and non-zero trailing bits, padding,
        // whitespace, a byte outside ASCII.
        let symbols = ["A", "B", "Q", "g", "w", "/", "+", "-", "_", "=", " ", "é"];
        let mut inputs = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..5 {
            last = last.iter().flat_map(|p| symbols.iter().map(move |s| [p.as_str(), s].concat())).collect();
            inputs.extend(last.iter().cloned());
        }
        for s in &inputs {
            for a in [Alphabet::Standard, Alphabet::UrlSafeNoPad] {
                assert_eq!(decode(s, a), theirs(s, a), "{s:?} {a:?}");
            }
        }
    }

    #[test]
    fn round_trips_every_length() {
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for n in 0..70 {
            let b = &bytes[n * 3..n * 3 + n];
            let std = base64::engine::general_purpose::STANDARD.encode(b);
            let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
            assert_eq!(decode(&std, Alphabet::Standard).as_deref(), Some(b));
            assert_eq!(decode(&url, Alphabet::UrlSafeNoPad).as_deref(), Some(b));
            assert_eq!(decode(&url, Alphabet::Standard), theirs(&url, Alphabet::Standard));
            assert_eq!(decode(&std, Alphabet::UrlSafeNoPad), theirs(&std, Alphabet::UrlSafeNoPad));
        }
    }
}
