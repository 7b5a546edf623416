//! The DOCX XML reader: the input becomes `word/document.xml` of a well-formed archive, so that
//! every run reaches the paragraph and table walk instead of dying in the ZIP parser.
#![no_main]

use std::io::{Cursor, Write};

use libfuzzer_sys::fuzz_target;
use ogi_audit::extract;

fuzz_target!(|data: &[u8]| {
    let mut buf = Cursor::new(Vec::with_capacity(data.len() + 256));
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("word/document.xml", opts).expect("entry");
        z.write_all(data).expect("write");
        z.finish().expect("finish");
    }
    let _ = extract::extract_bytes(&buf.into_inner());
});
