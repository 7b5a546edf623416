//! DOCX archives: bytes that start like a ZIP go through `extract_bytes`, which checks the
//! archive (`is_docx`, entry count, sizes, compression ratio) before reading `word/document.xml`.
//! The `docx` module is private to the crate; this is its public entrance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogi_audit::extract;

fuzz_target!(|data: &[u8]| {
    if !data.starts_with(b"PK\x03\x04") {
        return;
    }
    let _ = extract::extract_bytes(data);
});
