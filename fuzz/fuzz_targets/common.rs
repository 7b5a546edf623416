//! Shared by the structure-aware targets: real report texts, and the splice that puts the fuzz
//! input inside one of them so that the section finder and the table readers see a whole report
//! around the mutated bytes.

use std::sync::OnceLock;

use ogi_audit::extract;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/",
            $path
        ))
    };
}

/// The fixture reports (seeds, text and HTML samples), extracted and normalised as the pipeline
/// would before parsing.
pub fn base_texts() -> &'static [String] {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    TEXTS.get_or_init(|| {
        let files: [&[u8]; 10] = [
            fixture!("seeds/000_32590e3cc98cb08c.txt"),
            fixture!("seeds/001_7525cffb9e742ff2.txt"),
            fixture!("seeds/002_51f17e08e942b61d.txt"),
            fixture!("seeds/003_211f0501946b8fa1.txt"),
            fixture!("seeds/004_b29312736e7f4b68.txt"),
            fixture!("samples/2022-pingtan.txt"),
            fixture!("samples/2024-shanghai-kewei.txt"),
            fixture!("samples/2025-shuyang-xzf.txt"),
            fixture!("samples/2019-shanghai-bgt.html"),
            fixture!("samples/2023-shuyang-fgj.html"),
        ];
        files
            .iter()
            .map(|b| extract::extract_bytes(b).expect("fixtures extract").text)
            .collect()
    })
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The text a structure-aware target parses, and the index of the fixture it was spliced into.
///
/// `data[0]` even: the rest of the input is the whole text (lossy UTF-8). Odd: `data[0] >> 1`
/// picks a fixture, `data[1..3]` the offset (scaled to the fixture's length), `data[3]` how many
/// bytes of the fixture (× 4) the rest of the input replaces there.
pub fn splice(data: &[u8]) -> (String, Option<usize>) {
    let Some((&mode, rest)) = data.split_first() else {
        return (String::new(), None);
    };
    if mode & 1 == 0 || rest.len() < 3 {
        return (String::from_utf8_lossy(rest).into_owned(), None);
    }
    let texts = base_texts();
    let which = usize::from(mode >> 1) % texts.len();
    let base = &texts[which];
    let offset = usize::from(u16::from_le_bytes([rest[0], rest[1]])) * base.len() / 65536;
    let at = floor_boundary(base, offset);
    let to = ceil_boundary(base, at + usize::from(rest[2]) * 4);
    let insert = String::from_utf8_lossy(&rest[3..]);
    let mut text = String::with_capacity(base.len() + insert.len());
    text.push_str(&base[..at]);
    text.push_str(&insert);
    text.push_str(&base[to..]);
    (text, Some(which))
}
