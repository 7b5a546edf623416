//! Arbitrary bytes through the whole reading path of a dropped file: format detection, text /
//! GB18030 / UTF-16 decoding, HTML and DOCX extraction, normalisation, then the parser.
//! PDFs are handed to the external `pdftotext`, which is not ours to fuzz and would make every
//! run a process spawn: inputs starting with `%PDF-` are skipped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogi_audit::{extract, parse};

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"%PDF-") {
        return;
    }
    if let Ok(extracted) = extract::extract_bytes(data) {
        let _ = parse::parse(&extracted.text);
    }
});
