//! A report's text spelled in two bytes per Chinese character instead of UTF-8's three, so that
//! the compressor finds its repeats in less: GB18030's two-byte codes (the national standard's, taken
//! from `encoding_rs`'s decoder), ASCII as itself, and any other character as an escape byte and
//! its UTF-8. Lossless for every text by construction, and fast both ways (two table lookups per
//! character; `encoding_rs`'s own GB18030 encoder searches its index, built for size, and took
//! longer than deflating the whole model).

use std::sync::OnceLock;

/// Not a GB18030 lead byte (those are 0x81–0xFE): the next character follows in UTF-8.
const ESCAPE: u8 = 0xFF;
const LEADS: std::ops::RangeInclusive<u8> = 0x81..=0xFE;
const TRAILS: std::ops::RangeInclusive<u8> = 0x40..=0xFE;

struct Tables {
    /// By BMP code point: the two-byte code (lead << 8 | trail), 0 for none.
    encode: Vec<u16>,
    /// By (lead − 0x81) × 191 + (trail − 0x40): the character, `None` for no character.
    decode: Vec<Option<char>>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut encode = vec![0u16; 0x1_0000];
        let mut decode = vec![None; LEADS.len() * TRAILS.len()];
        for lead in LEADS {
            for trail in TRAILS.filter(|&t| t != 0x7F) {
                let pair = [lead, trail];
                let Some(text) =
                    encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(&pair)
                else {
                    continue;
                };
                let mut chars = text.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    continue;
                };
                if c.is_ascii() {
                    continue;
                }
                decode[slot(lead, trail)] = Some(c);
                let code = &mut encode[c as usize];
                if *code == 0 {
                    *code = u16::from_be_bytes(pair);
                }
            }
        }
        Tables { encode, decode }
    })
}

fn slot(lead: u8, trail: u8) -> usize {
    usize::from(lead - LEADS.start()) * TRAILS.len() + usize::from(trail - TRAILS.start())
}

/// The text in the two-byte spelling.
pub fn encode(text: &str) -> Vec<u8> {
    let t = tables();
    let mut out = Vec::with_capacity(text.len() * 3 / 4 + 16);
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        match t.encode.get(c as usize).copied().unwrap_or(0) {
            0 => {
                out.push(ESCAPE);
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            code => out.extend_from_slice(&code.to_be_bytes()),
        }
    }
    out
}

/// The text back from its two-byte spelling; `None` when the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<String> {
    let t = tables();
    let mut out = String::with_capacity(bytes.len() * 3 / 2);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() {
            out.push(char::from(b));
            i += 1;
        } else if b == ESCAPE {
            let rest = bytes.get(i + 1..)?;
            let len = match rest.first()? {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let c = std::str::from_utf8(rest.get(..len)?).ok()?;
            out.push_str(c);
            i += 1 + len;
        } else {
            let trail = *bytes.get(i + 1)?;
            if !LEADS.contains(&b) || !TRAILS.contains(&trail) {
                return None;
            }
            out.push((*t.decode.get(slot(b, trail))?)?);
            i += 2;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_takes_two_bytes_and_anything_comes_back() {
        let text = "政府信息公开工作年度报告 2021 （一）【】“申请”\n";
        let bytes = encode(text);
        assert_eq!(bytes.len(), 2 * 21 + 7);
        assert_eq!(decode(&bytes).as_deref(), Some(text));
        // GB18030's four-byte characters, U+E5E5 (no code of its own), NUL, the replacement
        // character, emoji: escaped, and back the same.
        for odd in [
            "\u{E5E5}",
            "😀",
            "\u{FFFD}",
            "a\u{0}b",
            "\u{80}",
            "繁體字",
            "€",
        ] {
            assert_eq!(decode(&encode(odd)).as_deref(), Some(odd), "{odd:?}");
        }
        // Not a spelling: an error, never a panic.
        for bad in [
            &[0x81u8][..],
            &[ESCAPE],
            &[ESCAPE, 0xE4, 0xB8],
            &[0x81, 0x7F],
            &[0x80],
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_text_comes_back_exactly(text in "(?s).{0,200}") {
            proptest::prop_assert_eq!(decode(&encode(&text)), Some(text));
        }

        #[test]
        fn any_bytes_decode_or_fail(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode(&bytes);
        }
    }
}
