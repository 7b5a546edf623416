//! HTML pages: the input behind a doctype, so that `extract_bytes` always takes the HTML path
//! (charset sniffing, `html::decode`, `html::to_text` with its table grid, normalisation).
//! The `html` module is private to the crate; this is its public entrance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ogi_audit::extract;

fuzz_target!(|data: &[u8]| {
    let mut page = Vec::with_capacity(data.len() + 16);
    page.extend_from_slice(b"<!DOCTYPE html>\n");
    page.extend_from_slice(data);
    let _ = extract::extract_bytes(&page);
});
