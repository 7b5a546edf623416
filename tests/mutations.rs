//! One table-3 cell at a time, on every real sample whose copy can be edited as text (the web
//! pages and the text dumps): the number is blanked out, garbled or dropped altogether, and the
//! report read again. The parser must leave that cell null (blank as printed, garbled, or
//! unread), never move a value into another cell, and the rule pack must not raise an identity
//! error because of it; a dropped cell, which the document never lost, must bring no new warning
//! or error at all. The seed layouts have their own tests in `robustness.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ogi_audit::model::{Finding, Report, Severity};
use ogi_audit::pipeline;
use ogi_audit::rules::{Limits, RuleSet};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A number cell of table 3 in the copy: the byte range of its digits, and of the whole cell
/// (`<td …>…</td>`, or the text between two `|`).
struct Cell {
    digits: (usize, usize),
    whole: (usize, usize),
    value: i64,
}

/// How a cell is altered.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Edit {
    Blank,
    Garble,
    Drop,
}

/// Table 3 of the copy: from its first row label to table 4's heading.
fn table3_region(text: &str) -> (usize, usize) {
    let start = text.find("本年新收").expect("table 3 in the sample");
    let end = text[start..]
        .find("行政复议")
        .map_or(text.len(), |i| start + i);
    (start, end)
}

/// The number cells of table 3 in an HTML page: `<td>` elements whose text, tags removed, is
/// a whole number.
fn html_cells(text: &str) -> Vec<Cell> {
    let (start, end) = table3_region(text);
    let mut out = Vec::new();
    let mut at = start;
    while let Some(open) = text[at..end].find("<td") {
        let open = at + open;
        let Some(close) = text[open..end].find("</td>") else {
            break;
        };
        let close = open + close + "</td>".len();
        let inner = &text[open..close];
        // The text outside tags.
        let mut depth = 0;
        let mut digits: Option<(usize, usize)> = None;
        let mut other = false;
        for (i, ch) in inner.char_indices() {
            match ch {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ if depth == 0 && ch.is_ascii_digit() => {
                    digits = Some(match digits {
                        Some((s, _)) => (s, i + 1),
                        None => (i, i + 1),
                    });
                }
                _ if depth == 0 && !ch.is_whitespace() => other = true,
                _ => {}
            }
        }
        if let (Some((s, e)), false) = (digits, other) {
            let piece = &inner[s..e];
            if let Ok(value) = piece.parse::<i64>() {
                out.push(Cell {
                    digits: (open + s, open + e),
                    whole: (open, close),
                    value,
                });
            }
        }
        at = close;
    }
    out
}

/// The number cells of table 3 in a text copy with `|` rows: text between two `|` that is a
/// whole number.
fn pipe_cells(text: &str) -> Vec<Cell> {
    let (start, end) = table3_region(text);
    let mut out = Vec::new();
    let mut line_start = start;
    for line in text[start..end].split_inclusive('\n') {
        let bars: Vec<usize> = line.match_indices('|').map(|(i, _)| i).collect();
        for pair in bars.windows(2) {
            let piece = &line[pair[0] + 1..pair[1]];
            let trimmed = piece.trim();
            if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(value) = trimmed.parse::<i64>() else {
                continue;
            };
            let s = line_start + pair[0] + 1 + (piece.len() - piece.trim_start().len());
            out.push(Cell {
                digits: (s, s + trimmed.len()),
                // The cell and the `|` that closes it.
                whole: (line_start + pair[0] + 1, line_start + pair[1] + 1),
                value,
            });
        }
        line_start += line.len();
    }
    out
}

fn apply(text: &str, cell: &Cell, edit: Edit) -> String {
    let (range, with) = match edit {
        Edit::Blank => (cell.digits, ""),
        Edit::Garble => (cell.digits, "1l"),
        Edit::Drop => (cell.whole, ""),
    };
    format!("{}{with}{}", &text[..range.0], &text[range.1..])
}

fn read(name: &str, text: &str) -> Arc<Report> {
    let outcome = pipeline::read_bytes(Path::new(name), text.as_bytes());
    outcome
        .report
        .unwrap_or_else(|| panic!("{name}: not parsed: {:?}", outcome.error))
}

fn pack() -> RuleSet {
    RuleSet::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        Limits::default(),
    )
    .expect("rules")
}

/// Whether a finding is one an altered cell must not bring: an identity error, or for a dropped
/// cell any warning or error.
fn forbidden(f: &Finding, edit: Edit) -> bool {
    match edit {
        Edit::Drop => f.severity >= Severity::Warning,
        Edit::Blank | Edit::Garble => {
            f.severity == Severity::Error
                && matches!(
                    f.rule.as_str(),
                    "t3-balance" | "t3-processed-total" | "t3-column-total" | "t4-totals"
                )
        }
    }
}

/// Alters every number cell of the sample's table 3 in turn and lists what went wrong.
fn mutation_errors(sample: &str, cells: fn(&str) -> Vec<Cell>) -> Vec<String> {
    let path = fixtures().join("samples").join(sample);
    let text = std::fs::read_to_string(&path).expect("sample");
    let set = pack();
    let original = read(sample, &text);
    let before = set.run(&original, None);
    // A finding is new when its rule did not fire at that severity before (a dropped cell may
    // change the counts a warning gives) or, for an identity error, its message is new.
    let is_new = |f: &Finding, edit: Edit| {
        if edit == Edit::Drop {
            !before
                .iter()
                .any(|b| b.rule == f.rule && b.severity >= f.severity)
        } else {
            !before.iter().any(|b| b.message == f.message)
        }
    };
    let found = cells(&text);
    assert!(
        found.len() >= 20,
        "{sample}: only {} number cells found in table 3",
        found.len()
    );
    let mut errors = Vec::new();
    for (n, cell) in found.iter().enumerate() {
        for edit in [Edit::Blank, Edit::Garble, Edit::Drop] {
            let label = format!("{sample} cell #{n} ({}) {edit:?}", cell.value);
            let altered = apply(&text, cell, edit);
            let report = read(sample, &altered);
            let mut changed = Vec::new();
            for (row, cols) in &original.table3 {
                for (col, want) in cols {
                    let got = report.table3.get(row).and_then(|r| r.get(col)).copied();
                    if got != Some(*want) {
                        changed.push((row.clone(), col.clone(), *want, got.flatten()));
                    }
                }
            }
            for (row, col, want, got) in &changed {
                if got.is_some() {
                    errors.push(format!("{label}: {row}.{col} = {got:?}, want {want:?}"));
                }
            }
            // The altered number itself must be gone: some cell that held it is now null.
            if !changed
                .iter()
                .any(|(.., want, _)| *want == Some(cell.value))
            {
                errors.push(format!("{label}: no cell lost the value"));
            }
            for f in set.run(&report, None) {
                if forbidden(&f, edit) && is_new(&f, edit) {
                    errors.push(format!("{label}: {} {}", f.rule, f.message));
                }
            }
        }
    }
    errors
}

fn assert_none(errors: Vec<String>) {
    assert!(
        errors.is_empty(),
        "{} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn shanghai_portal_page_cells_blanked_garbled_or_dropped() {
    assert_none(mutation_errors("2019-shanghai-bgt.html", html_cells));
}

#[test]
fn shuyang_word_page_cells_blanked_garbled_or_dropped() {
    assert_none(mutation_errors("2023-shuyang-fgj.html", html_cells));
}

#[test]
fn kewei_pdf_text_cells_blanked_garbled_or_dropped() {
    assert_none(mutation_errors("2024-shanghai-kewei.txt", pipe_cells));
}

#[test]
fn shuyang_ocr_markdown_cells_blanked_garbled_or_dropped() {
    assert_none(mutation_errors("2025-shuyang-xzf.txt", pipe_cells));
}
