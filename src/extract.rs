//! Extraction: bytes of a dropped file → the report's text, decoded and normalised.
//!
//! Copies arrive in UTF-8 (with or without BOM), GB18030/GBK or UTF-16, with full-width or
//! half-width punctuation and in simplified or traditional characters. Everything after this
//! stage matches against one normal form (simplified, half-width, `\n` line endings); the text as
//! decoded is kept beside it as evidence.

use std::path::Path;
use std::sync::LazyLock;

use encoding_rs::{Encoding, GB18030, UTF_16BE, UTF_16LE, UTF_8};
use regex::Regex;

use crate::error::ExtractError;

mod child;
mod doc;
mod docx;
mod html;
mod ocr;
mod office;
mod pdf;

pub use ocr::tesseract;
pub use office::soffice;

pub use pdf::text_from_outputs as pdf_text_from_outputs;

/// A report's text as decoded, and in the normal form the parser reads.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The text as decoded, before normalisation.
    pub original: String,
    /// Simplified characters, half-width punctuation and digits, `\n` line endings.
    pub text: String,
    /// The character encoding the bytes were read in (`UTF-8`, `GB18030`, `UTF-16LE` …).
    pub encoding: &'static str,
    /// What the file was: `text`, `html`, `docx`, `doc` (Word 97-2003 or WPS) or `pdf`.
    pub format: &'static str,
    /// What the reader should know about the text (e.g. a PDF read only in part).
    pub warnings: Vec<String>,
    /// A scan, read by OCR: its numbers are to be checked by a person.
    pub ocr: bool,
}

/// Reads a file and extracts its text.
pub fn extract_file(path: &Path) -> Result<Extracted, ExtractError> {
    let bytes = std::fs::read(path).map_err(|source| ExtractError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    extract_bytes(&bytes)
}

/// Extracts the text of a report from its bytes; the format is told by content, not by name.
pub fn extract_bytes(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    if let Some(kind) = unsupported_kind(bytes) {
        return Err(ExtractError::Unsupported(kind.to_string()));
    }
    let head = lossy_head(&bytes[..bytes.len().min(4096)]);
    let mut warnings = Vec::new();
    let mut ocr = false;
    let (original, encoding, format) = if bytes.starts_with(b"%PDF-") {
        let pdf = pdf::to_text(bytes)?;
        ocr = pdf.ocr;
        warnings.extend(pdf.warnings);
        if pdf.truncated {
            warnings.push(format!(
                "PDF: only the first {} pages were read; the rest is not audited",
                pdf::MAX_PAGES
            ));
        }
        (pdf.text, "UTF-8", "pdf")
    } else if bytes.starts_with(b"PK\x03\x04") && docx::is_docx(bytes) {
        (docx::to_text(bytes)?, "UTF-8", "docx")
    } else if bytes.starts_with(&doc::OLE_MAGIC) {
        (word_binary(bytes)?, "UTF-16LE", "doc")
    } else if html::looks_like_html(&head) {
        let (page, encoding) = html::decode(bytes)?;
        (html::to_text(&page)?, encoding, "html")
    } else {
        let (text, encoding) = decode(bytes)?;
        (text, encoding, "text")
    };
    crate::budget::check("extracting the text")?;
    let text = normalize(&original);
    crate::budget::check("normalising the text")?;
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted {
        original,
        text,
        encoding,
        format,
        warnings,
        ocr,
    })
}

/// `String::from_utf8_lossy` of the head of a file, without its slow path in the common case:
/// UTF-8 cut inside a character at the end (one replacement character stands for it there).
fn lossy_head(head: &[u8]) -> std::borrow::Cow<'_, str> {
    match simdutf8::compat::from_utf8(head) {
        Ok(text) => text.into(),
        Err(e) if e.error_len().is_none() => {
            match simdutf8::basic::from_utf8(head.get(..e.valid_up_to()).unwrap_or_default()) {
                Ok(valid) => format!("{valid}{}", char::REPLACEMENT_CHARACTER).into(),
                Err(_) => String::from_utf8_lossy(head),
            }
        }
        Err(_) => String::from_utf8_lossy(head),
    }
}

/// A program a format needs that is not part of ogi-audit, and whether this machine has it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reader {
    /// What it reads.
    pub formats: &'static str,
    pub program: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// Where it was found; `None`: not installed.
    pub path: Option<std::path::PathBuf>,
    /// What happens to those files without it.
    pub without: &'static str,
}

/// The optional readers (`validate`, `status`).
pub fn readers() -> Vec<Reader> {
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
    };
    vec![
        Reader {
            formats: "PDF",
            program: "pdftotext",
            package: "poppler-utils",
            path: on_path("pdftotext"),
            without: "PDF reports are quarantined",
        },
        Reader {
            formats: "Word 6/95, Works and older WPS files, damaged .doc",
            program: "soffice (LibreOffice)",
            package: "libreoffice-writer-nogui",
            path: office::soffice(),
            without: "the built-in reader reads Word 97-2003 .doc and current .wps; the others are quarantined",
        },
        Reader {
            formats: "scanned PDF (pages of images)",
            program: "tesseract (with chi_sim)",
            package: "tesseract-ocr tesseract-ocr-chi-sim",
            path: ocr::tesseract(),
            without: "scanned PDFs are quarantined",
        },
    ]
}

/// A Word 97-2003 or WPS 文字 file: the built-in reader, else LibreOffice when installed (for
/// what the built-in reader cannot read: Word 6/95, Works and older WPS formats, damage).
fn word_binary(bytes: &[u8]) -> Result<String, ExtractError> {
    let native = doc::to_text(bytes);
    let reason = match native {
        Ok(text) => return Ok(text),
        // Neither a password nor a size limit is LibreOffice's to lift.
        Err(
            e @ (ExtractError::Encrypted(_)
            | ExtractError::TooLarge(_)
            | ExtractError::Budget(_)
            | ExtractError::NoText(_)),
        ) => return Err(e),
        Err(e) => e,
    };
    let extension = if doc::ole_kind(bytes).is_some() {
        "wps"
    } else {
        "doc"
    };
    match office::to_text(bytes, extension)? {
        Some(text) => {
            tracing::info!(reason = %reason, "read through LibreOffice");
            Ok(text)
        }
        None => Err(match reason {
            ExtractError::Unsupported(r) => ExtractError::Unsupported(format!(
                "{r}; LibreOffice (Debian package libreoffice-writer-nogui) is not installed to read it"
            )),
            ExtractError::Corrupt(r) => ExtractError::Corrupt(format!(
                "{r}; LibreOffice (Debian package libreoffice-writer-nogui) is not installed to try it"
            )),
            other => other,
        }),
    }
}

/// Formats recognised by their first bytes that are not read (yet), with what to tell the user.
fn unsupported_kind(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"PK\x03\x04") && !docx::is_docx(bytes) {
        Some("a ZIP archive that is not a Word document (.zip, .xlsx, .pptx …)")
    } else if starts(&[0x89, b'P', b'N', b'G'])
        || starts(&[0xFF, 0xD8, 0xFF])
        || starts(b"GIF87a")
        || starts(b"GIF89a")
        || starts(b"II*\0")
        || starts(b"MM\0*")
        || (starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"))
    {
        Some("an image (a scanned copy?): there is no text to read")
    } else if starts(b"{\\rtf") {
        Some("RTF: save the report as text or HTML")
    } else {
        None
    }
}

/// Bytes of a file in a legacy encoding the encoding detector looks at.
const DETECT_BYTES: usize = 2 * 1024;

/// Decodes bytes to a string: BOM first, then UTF-16 without BOM, valid UTF-8, and otherwise the
/// legacy encoding `chardetng` guesses for Chinese pages (GBK/GB18030 in practice).
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), ExtractError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ExtractError::Empty);
    }
    let encoding: &'static Encoding = if let Some((enc, _)) = Encoding::for_bom(bytes) {
        enc
    } else if let Some(enc) = sniff_utf16(bytes) {
        enc
    } else if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        // The common case: one validation (by SIMD: the standard library's reads Chinese
        // text a byte at a time), one copy, a byte-level check.
        check_utf8_bytes(bytes)?;
        return Ok((text.to_string(), UTF_8.name()));
    } else {
        // The guess settles within 1 KB of Chinese text; the detector sees 2 KB from the
        // first non-ASCII byte (a character boundary, as all before it is ASCII), not the file.
        let start = bytes.iter().position(|b| !b.is_ascii()).unwrap_or(0);
        let end = bytes.len().min(start + DETECT_BYTES);
        let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
        detector.feed(&bytes[start..end], end == bytes.len());
        let guess = detector.guess(Some(b"cn"), chardetng::Utf8Detection::Allow);
        // GBK and GB2312 are subsets of GB18030: decode with the superset.
        if guess == encoding_rs::GBK {
            GB18030
        } else {
            guess
        }
    };
    let (decoded, used, had_errors) = encoding.decode(bytes);
    let text = decoded.into_owned();
    check_text(&text, had_errors)?;
    Ok((text, used.name()))
}

/// UTF-16 without a BOM: NUL bytes on one side for ASCII, and for Chinese text a decoding that
/// is almost all CJK, punctuation and ASCII. GBK or binary data decoded as UTF-16 gives
/// surrogate errors and scattered code points, so it does not pass.
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(2) || !bytes.contains(&0) {
        return None;
    }
    let sample = &bytes[..bytes.len().min(8192)];
    [UTF_16LE, UTF_16BE].into_iter().find(|enc| {
        let (text, had_errors) = enc.decode_without_bom_handling(sample);
        if had_errors && bytes.len() <= 8192 {
            return false;
        }
        let (mut total, mut plausible) = (0usize, 0usize);
        for c in text.chars() {
            total += 1;
            if matches!(c, '\n' | '\r' | '\t' | ' '..='~' | '\u{3000}'..='\u{303F}' | '\u{4E00}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{2000}'..='\u{206F}' | '\u{00A0}'..='\u{00FF}')
            {
                plausible += 1;
            }
        }
        total > 0 && plausible * 100 >= total * 95
    })
}

/// `check_text` for valid UTF-8, on bytes: NULs and C0 control characters.
fn check_utf8_bytes(bytes: &[u8]) -> Result<(), ExtractError> {
    // One pass that the compiler can vectorise; the NULs are counted only when there is a problem.
    let control = bytes
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0C))
        .count();
    if control == 0 {
        return Ok(());
    }
    let nul = bytes.iter().filter(|&&b| b == 0).count();
    if nul > 0 {
        return Err(ExtractError::Binary(format!("{nul} NUL characters")));
    }
    if control * 20 > bytes.len() / 2 {
        return Err(ExtractError::Binary(format!(
            "{control} control characters in {} bytes",
            bytes.len()
        )));
    }
    Ok(())
}

/// Rejects decoded text that is really binary data.
fn check_text(text: &str, had_errors: bool) -> Result<(), ExtractError> {
    let (mut total, mut nul, mut control, mut replaced) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        total += 1;
        match c {
            '\0' => nul += 1,
            '\n' | '\r' | '\t' | '\u{c}' => {}
            '\u{FFFD}' => replaced += 1,
            c if c.is_control() => control += 1,
            _ => {}
        }
    }
    let total = total.max(1);
    if nul > 0 {
        return Err(ExtractError::Binary(format!("{nul} NUL characters")));
    }
    if had_errors && replaced * 20 > total {
        return Err(ExtractError::Binary(format!(
            "{replaced} of {total} characters are not valid in any Chinese text encoding"
        )));
    }
    if control * 20 > total {
        return Err(ExtractError::Binary(format!(
            "{control} of {total} characters are control characters"
        )));
    }
    Ok(())
}

/// What [`normalize`] does at each byte that starts a character: 0 where the character may
/// change (`\r`, and the lead bytes of U+00A0, U+2002–U+2060, U+3000 and U+FEFF–U+FF5E), else
/// the character's length in bytes, to step over it.
const LEAD: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut b = 0xC0;
    while b < 256 {
        t[b] = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        b += 1;
    }
    t[b'\r' as usize] = 0;
    t[0xC2] = 0;
    t[0xE2] = 0;
    t[0xE3] = 0;
    t[0xEF] = 0;
    t
};

/// The normal form every matcher reads: `\n` line endings, traditional → simplified, full-width
/// ASCII → half-width, no-break and ideographic spaces → space, zero-width characters dropped.
pub fn normalize(text: &str) -> String {
    let simplified;
    let text = if has_traditional(text) {
        simplified = hanconv::t2s(text);
        simplified.as_str()
    } else {
        text
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        // Only a few lead bytes can start a character that changes; every other character is
        // stepped over whole and copied in runs.
        let width = LEAD[usize::from(b)];
        if width != 0 {
            i += usize::from(width);
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        let len = c.len_utf8();
        let replacement: Option<Option<char>> = match c {
            '\r' => Some(if bytes.get(i + 1) == Some(&b'\n') {
                None
            } else {
                Some('\n')
            }),
            // The full-width ASCII block maps one to one onto ASCII.
            '\u{FF01}'..='\u{FF5E}' => Some(char::from_u32(c as u32 - 0xFEE0)),
            '\u{3000}' | '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' => Some(Some(' ')),
            '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '\u{2060}' => Some(None),
            _ => None,
        };
        if let Some(r) = replacement {
            out.push_str(&text[copied..i]);
            if let Some(r) = r {
                out.push(r);
            }
            copied = i + len;
        }
        i += len;
    }
    out.push_str(&text[copied..]);
    out
}

/// The text without its white space (of any kind, as `char::is_whitespace`: line ends,
/// full-width spaces …), copied in runs rather than character by character. Bytes are looked
/// at one by one; a character is decoded only where its first byte is that of some white space
/// beyond ASCII (U+0085, U+00A0, U+1680, U+2000–U+205F, U+3000), so the Chinese text between is
/// skipped at the cost of its length.
pub fn compact(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let width = match b {
            0..0x80 => 1,
            0x80..0xE0 => 2,
            0xE0..0xF0 => 3,
            _ => 4,
        };
        let space = match b {
            b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' => true,
            0xC2 | 0xE1 | 0xE2 | 0xE3 => s[i..].chars().next().is_some_and(char::is_whitespace),
            _ => false,
        };
        if space {
            out.push_str(&s[run..i]);
            run = i + width;
        }
        i += width;
    }
    out.push_str(&s[run..]);
    out
}

/// Short text written by people (config values): always converted, then normalised.
pub fn normalize_short(text: &str) -> String {
    normalize(&hanconv::t2s(text))
}

/// Whether the text holds characters that only traditional script uses. Conversion is
/// dictionary-driven and costs far more than this scan, and most copies are simplified.
fn has_traditional(text: &str) -> bool {
    // Characters that are frequent in these reports and never occur in simplified text, as one
    // class: the search looks for their bytes many at a time rather than decoding each character.
    static MARKERS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new("[開資訊請們於報與為國會處務據數關規範當應辦區縣鎮門時條項總況體機構復]")
            .expect("a fixed pattern")
    });
    // A traditional copy shows itself within its first few thousand characters (12,000 bytes are
    // 4,000 Chinese ones).
    let mut end = text.len().min(12_000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    MARKERS.find_iter(&text[..end]).take(3).count() >= 3
}

/// Appends one table row as every reader writes it, on a line of its own: `| a | b |`, each
/// cell trimmed and a `|` inside a cell written `/`; a row of empty cells is left out.
fn push_row<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    let cells: Vec<&str> = cells.into_iter().map(str::trim).collect();
    if cells.iter().all(|c| c.is_empty()) {
        return;
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push('|');
    for c in cells {
        out.push(' ');
        out.push_str(&c.replace('|', "/"));
        out.push_str(" |");
    }
    out.push('\n');
}

/// Appends the text an XML entity or character reference stands for (`&amp;`, `&#x4e00;`) to
/// `out`; an unknown named entity adds nothing. DOCX and pdftotext's XHTML both use it.
fn push_xml_ref(out: &mut String, r: &quick_xml::events::BytesRef<'_>) -> Result<(), String> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        out.push(c);
        return Ok(());
    }
    let name = r.decode().map_err(|e| e.to_string())?;
    out.push_str(match name.as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `compact` must give: every character `char::is_whitespace` calls so, left out.
    fn stripped(s: &str) -> String {
        s.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn the_head_is_read_as_from_utf8_lossy_reads_it() {
        let report = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/seeds/000_32590e3cc98cb08c.txt"),
        )
        .expect("seed");
        let (gbk, _, _) = encoding_rs::GBK.encode("二、主动公开政府信息情况");
        let mut broken = report[..300].to_vec();
        broken[100] = 0xFF;
        for bytes in [&report[..], &gbk[..], &broken[..], b"", b"\xE4\xB8"] {
            for cut in 0..bytes.len().min(600) {
                let head = &bytes[..cut];
                assert_eq!(lossy_head(head), String::from_utf8_lossy(head), "{cut}");
            }
        }
    }

    #[test]
    fn whitespace_is_stripped_as_char_is_whitespace_says() {
        // Every whitespace character, and characters whose first byte is one of theirs.
        let spaces: String = (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        assert_eq!(spaces.chars().count(), 25);
        let neighbours =
            "\u{80}\u{84}\u{86}\u{A1}\u{FF}\u{1681}\u{2010}\u{200B}\u{2030}\u{3001}。，\u{1F600}";
        let mut samples = vec![
            String::new(),
            spaces.clone(),
            neighbours.to_string(),
            format!("a{spaces}b{neighbours} c"),
            "全年收到政府信息公开\n申请 34 件,\u{3000}上年结转\r\n2件。".to_string(),
        ];
        for text in [
            include_str!("../tests/fixtures/samples/2022-pingtan.txt"),
            include_str!("../tests/fixtures/samples/2024-shanghai-kewei.txt"),
        ] {
            samples.push(text.to_string());
            samples.extend(text.lines().map(str::to_string));
        }
        // Each whitespace character next to each neighbour, at the start, middle and end.
        for sp in spaces.chars() {
            for n in neighbours.chars() {
                samples.push(format!("{sp}{n}x{sp}{sp}{n}{sp}"));
            }
        }
        for sample in &samples {
            assert_eq!(compact(sample), stripped(sample), "{sample:?}");
        }
    }

    #[test]
    fn full_width_and_traditional_are_normalised() {
        let t = normalize("井陘礦區人民政府（國辦公開辦函〔2021〕30號）１２３\r\n");
        assert_eq!(t, "井陉矿区人民政府(国办公开办函〔2021〕30号)123\n");
    }

    /// What `normalize` must give on simplified text: each character looked at on its own.
    fn normalized_char_by_char(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' if chars.peek() == Some(&'\n') => {}
                '\r' => out.push('\n'),
                '\u{FF01}'..='\u{FF5E}' => out.extend(char::from_u32(c as u32 - 0xFEE0)),
                '\u{3000}' | '\u{00A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' => out.push(' '),
                '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '\u{2060}' => {}
                _ => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Stepping over characters by their lead byte changes nothing: every character of the
        /// rows `normalize` looks at (and its neighbours of each UTF-8 length) next to the others.
        #[test]
        fn normalize_is_the_character_by_character_mapping(
            text in "[a\\r\\n 公报é\u{A0}\u{A9}\u{2002}-\u{2010}\u{202F}\u{2060}\u{2061}\u{3000}-\u{3002}\u{FEFF}\u{FF01}-\u{FF0C}\u{FF5E}\u{FF5F}\u{FFE5}😀]{0,40}"
        ) {
            proptest::prop_assert_eq!(normalize(&text), normalized_char_by_char(&text));
        }
    }

    #[test]
    fn traditional_markers_are_counted_in_the_first_12000_bytes() {
        let traditional = "資訊公開報告";
        assert!(has_traditional(traditional));
        assert!(!has_traditional("信息公开报告"));
        // Two markers are not enough; a third beyond the window is not seen.
        assert!(!has_traditional("資訊"));
        let late = format!("資訊{}開", "文".repeat(4_000));
        assert!(!has_traditional(&late));
        let early = format!("資訊{}開", "文".repeat(3_990));
        assert!(has_traditional(&early));
    }

    #[test]
    fn simplified_text_is_left_alone() {
        let s = "本报告由淮安经济技术开发区党政办公室根据条例编制,等于第三项";
        assert_eq!(normalize(s), s);
    }

    /// Every real report of the fixtures in GB18030 is read as such with the detector's window.
    /// (Big5 is not told apart: the detector is told the text comes from `.cn`, where GBK wins;
    /// a Big5 copy of a report reads as GB18030 even when the detector sees the whole file.)
    #[test]
    fn the_real_reports_in_gb18030_are_detected() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut n = 0;
        for dir in ["seeds", "samples"] {
            for e in std::fs::read_dir(root.join(dir))
                .expect("fixtures")
                .flatten()
            {
                let p = e.path();
                if p.extension().is_none_or(|x| x != "txt") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).expect("UTF-8 fixture");
                let (gbk, _, _) = GB18030.encode(&text);
                let (decoded, encoding) = decode(&gbk).expect("GB18030");
                assert_eq!(encoding, "gb18030", "{}", p.display());
                assert_eq!(decoded, text);
                n += 1;
            }
        }
        assert!(n >= 8, "{n} fixtures");
    }

    #[test]
    fn gbk_bytes_are_detected() {
        let text = "三、收到和处理政府信息公开申请情况 本年新收政府信息公开申请数量 58件";
        let (bytes, _, _) = GB18030.encode(text);
        let (decoded, enc) = decode(&bytes).expect("decodes");
        assert_eq!(decoded, text);
        assert_eq!(enc, "gb18030");
    }

    #[test]
    fn utf16_with_and_without_bom() {
        let text = "政府信息公开工作年度报告 2020年 total";
        let mut le: Vec<u8> = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode(&le).expect("le").0, text);
        let be: Vec<u8> = "annual report 2020 text"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        assert_eq!(decode(&be).expect("be").0, "annual report 2020 text");
    }

    #[test]
    fn empty_and_binary_are_errors() {
        assert!(matches!(decode(b""), Err(ExtractError::Empty)));
        assert!(matches!(decode(b"  \n\t"), Err(ExtractError::Empty)));
        let binary: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 256) as u8).collect();
        assert!(matches!(decode(&binary), Err(ExtractError::Binary(_))));
    }
}
