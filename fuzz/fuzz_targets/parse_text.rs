//! Table parsing: text into `parse::parse`, either the input alone or spliced into a real report
//! (see `common::splice`), so that the section finder and the readers of tables 2, 3 and 4 are
//! reached with the mutated bytes inside a table.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use ogi_audit::parse;

fuzz_target!(|data: &[u8]| {
    let (text, _) = common::splice(data);
    let _ = parse::parse(&text);
});
