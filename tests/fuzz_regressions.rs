//! Inputs that once stalled, crashed or blew up the readers, kept in `tests/fixtures/fuzz/` (see
//! `fuzz/README.md` for the fuzz targets that look for them). Each must come back through
//! extraction and parsing, as a report or as an error, without a panic and quickly: a crafted
//! file must never hold up the daemon.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ogi_audit::{extract, parse};

/// How long one saved input may take to read (release build; the slow inputs took minutes).
const LIMIT: Duration = Duration::from_secs(2);

fn fuzz_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")
}

/// Extracts and parses like the pipeline does; the outcome as text, and the time it took.
fn read(bytes: &[u8]) -> (Result<Vec<String>, String>, Duration) {
    let start = Instant::now();
    let outcome = match extract::extract_bytes(bytes) {
        Ok(x) => parse::parse(&x.text)
            .map(|report| report.warnings)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    (outcome, start.elapsed())
}

/// Hundreds of table-3 labels each followed by one long run of digits ("glued cells"). Splitting
/// a glued row searched every way to cut it into seven numbers (up to 9^6 per row) for every
/// row: this file kept the parser busy for minutes. The search now has a budget per table and
/// leaves what it cannot decide unread, with a warning.
#[test]
fn glued_table3_rows_do_not_stall_the_parser() {
    let bytes = std::fs::read(fuzz_fixtures().join("glued-cells-many-rows.txt")).expect("fixture");
    let (outcome, took) = read(&bytes);
    assert!(took < LIMIT, "took {took:?}: {outcome:?}");
    // Table 3 has no readable row (every row is glued and none splits): not an auditable report.
    let err = outcome.expect_err("no readable table 3");
    assert!(err.contains("table 3"), "{err}");
}

/// A Word table inside a cell is copied into the cell's text, so every level of nesting copied
/// everything below it again: 130 000 nested tables around 3 MB of text (a 60 KB file) took
/// minutes. Nesting is now capped.
#[test]
fn docx_tables_nested_deep_are_refused_quickly() {
    let bytes = std::fs::read(fuzz_fixtures().join("docx-nested-tables.docx")).expect("fixture");
    let start = Instant::now();
    let result = extract::extract_bytes(&bytes);
    assert!(start.elapsed() < LIMIT, "took {:?}", start.elapsed());
    let err = result.expect_err("nested too deep");
    assert!(err.to_string().contains("nested"), "{err}");
}

/// 1 000 formatting elements that differ only in an attribute, left open, then 40 000
/// paragraphs: the HTML parser reopened all 1 000 in every paragraph (40 million elements, more
/// than a minute and gigabytes). Their attributes are now dropped before parsing, so the parser
/// keeps at most three alike and the page reads at once.
#[test]
fn html_reopened_formatting_elements_stay_cheap() {
    let bytes =
        std::fs::read(fuzz_fixtures().join("html-reopened-formatting.html")).expect("fixture");
    let start = Instant::now();
    let result = extract::extract_bytes(&bytes);
    assert!(start.elapsed() < LIMIT, "took {:?}", start.elapsed());
    let extracted = result.expect("the page reads");
    assert_eq!(extracted.text.lines().filter(|l| *l == "x").count(), 40_000);
}

/// 48 000 nested `<div>`s: every block start makes the HTML parser look down the whole stack of
/// open elements, so the time grows with the square of the depth (seconds for 240 KB, hours for
/// the 50 MB the inbox accepts). Such a page is now refused before it is parsed.
#[test]
fn html_nested_thousands_deep_is_refused_quickly() {
    let bytes = std::fs::read(fuzz_fixtures().join("html-deep-divs.html")).expect("fixture");
    let start = Instant::now();
    let result = extract::extract_bytes(&bytes);
    assert!(start.elapsed() < LIMIT, "took {:?}", start.elapsed());
    let err = result.expect_err("nested too deep");
    assert!(err.to_string().contains("nested too deep"), "{err}");
}

/// Every saved input: no panic, no stall.
#[test]
fn every_saved_input_comes_back_quickly() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fuzz_fixtures())
        .expect("tests/fixtures/fuzz")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no saved inputs in tests/fixtures/fuzz");
    for file in files {
        let bytes = std::fs::read(&file).expect("read saved input");
        let (outcome, took) = read(&bytes);
        assert!(
            took < LIMIT,
            "{}: took {took:?} ({outcome:?})",
            file.display()
        );
    }
}
