//! One table-3 or table-4 cell at a time, on every real sample: the number is blanked out, garbled or
//! dropped altogether (in the web pages and text dumps, by editing the copy; in the PDF, by
//! editing the word boxes poppler gives), and the report read again. The parser must leave that cell null (blank as printed, garbled, or
//! unread), never move a value into another cell, and the rule pack must not raise an identity
//! error because of it; a dropped cell, which the document never lost, must bring no new warning
//! or error at all. A crawler dump whose rows run their numbers together has no cell to blank:
//! there a stray space anywhere inside a run must change nothing, and a digit lost from a run
//! must leave the row's cells null, never read otherwise; its table 4's numbers, alone between
//! spaces, are garbled one at a time. The seed layouts have their own tests
//! in `robustness.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ogi_audit::model::{Finding, Report, Severity};
use ogi_audit::pipeline;
use ogi_audit::rules::{Limits, RuleSet};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A number cell of table 3 or 4 in the copy: the byte range of its digits, and of the whole cell
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
    /// A space inside a glued run of numbers.
    Space,
    /// A digit lost from a glued run of numbers.
    LoseDigit,
}

/// Tables 3 and 4 of the copy: from table 3's first row label to section 五's heading.
fn tables_region(text: &str) -> (usize, usize) {
    let start = text.find("本年新收").expect("table 3 in the sample");
    let end = text[start..]
        .find("存在的主要问题")
        .map_or(text.len(), |i| start + i);
    (start, end)
}

/// The number cells of tables 3 and 4 in an HTML page: `<td>` elements whose text, tags removed, is
/// a whole number.
fn html_cells(text: &str) -> Vec<Cell> {
    let (start, end) = tables_region(text);
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

/// The number cells of tables 3 and 4 in a text copy with `|` rows: text between two `|` that is a
/// whole number.
fn pipe_cells(text: &str) -> Vec<Cell> {
    let (start, end) = tables_region(text);
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
        Edit::Space | Edit::LoseDigit => unreachable!("{edit:?} edits a glued run, not a cell"),
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
        Edit::Drop | Edit::Space => f.severity >= Severity::Warning,
        Edit::Blank | Edit::Garble | Edit::LoseDigit => {
            f.severity == Severity::Error
                && matches!(
                    f.rule.as_str(),
                    "t3-balance" | "t3-processed-total" | "t3-column-total" | "t4-totals"
                )
        }
    }
}

/// One altered copy of a sample, read again.
struct Variant {
    label: String,
    edit: Edit,
    /// The number the edit removed, when it removed one cell's.
    value: Option<i64>,
    report: Arc<Report>,
}

/// Alters every number cell of the sample's tables 3 and 4 in turn and lists what went wrong.
fn mutation_errors(sample: &str, cells: fn(&str) -> Vec<Cell>) -> Vec<String> {
    let path = fixtures().join("samples").join(sample);
    let text = std::fs::read_to_string(&path).expect("sample");
    let original = read(sample, &text);
    let found = cells(&text);
    assert!(
        found.len() >= 20,
        "{sample}: only {} number cells found in tables 3 and 4",
        found.len()
    );
    let variants = found.iter().enumerate().flat_map(|(n, cell)| {
        let text = &text;
        [Edit::Blank, Edit::Garble, Edit::Drop]
            .into_iter()
            .map(move |edit| Variant {
                label: format!("{sample} cell #{n} ({}) {edit:?}", cell.value),
                edit,
                value: Some(cell.value),
                report: read(sample, &apply(text, cell, edit)),
            })
    });
    variant_errors(&original, variants)
}

/// What went wrong in the altered copies of a report read as `original`.
fn variant_errors(original: &Arc<Report>, variants: impl Iterator<Item = Variant>) -> Vec<String> {
    let set = pack();
    let before = set.run(original, None);
    // A finding is new when its rule did not fire at that severity before (a dropped cell may
    // change the counts a warning gives) or, for an identity error, its message is new.
    let is_new = |f: &Finding, edit: Edit| {
        if matches!(edit, Edit::Drop | Edit::Space) {
            !before
                .iter()
                .any(|b| b.rule == f.rule && b.severity >= f.severity)
        } else {
            !before.iter().any(|b| b.message == f.message)
        }
    };
    let mut errors = Vec::new();
    let mut count = 0;
    for Variant {
        label,
        edit,
        value,
        report,
    } in variants
    {
        count += 1;
        let mut changed = Vec::new();
        let tables = [
            (&original.table3, &report.table3),
            (&original.table4, &report.table4),
        ];
        for (row, cols, got_table) in tables
            .iter()
            .flat_map(|(o, r)| o.iter().map(move |(row, cols)| (row, cols, *r)))
        {
            for (col, want) in cols {
                let got = got_table.get(row).and_then(|r| r.get(col)).copied();
                if got != Some(*want) {
                    changed.push((row.clone(), col.clone(), *want, got.flatten()));
                }
            }
        }
        for (row, col, want, got) in &changed {
            if got.is_some() || edit == Edit::Space {
                errors.push(format!("{label}: {row}.{col} = {got:?}, want {want:?}"));
            }
        }
        // The altered number itself must be gone: some cell that held it is now null.
        if let Some(value) = value {
            if !changed.iter().any(|(.., want, _)| *want == Some(value)) {
                errors.push(format!("{label}: no cell lost the value"));
            }
        }
        for f in set.run(&report, None) {
            if forbidden(&f, edit) && is_new(&f, edit) {
                errors.push(format!("{label}: {} {}", f.rule, f.message));
            }
        }
    }
    assert!(count >= 20, "only {count} altered copies");
    errors
}

/// The runs of glued numbers in a crawler dump's table 3: seven digits or more together (a row's
/// seven cells, with the next row label's number at times).
fn glued_runs(text: &str) -> Vec<(usize, usize)> {
    let (start, end) = tables_region(text);
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut at = start;
    while at < end {
        if !bytes[at].is_ascii_digit() {
            at += 1;
            continue;
        }
        let run_start = at;
        while at < end && bytes[at].is_ascii_digit() {
            at += 1;
        }
        if at - run_start >= 7 {
            runs.push((run_start, at));
        }
    }
    runs
}

/// The numbers standing alone between spaces in the copy's tables (table 4 of a crawler dump).
fn spaced_cells(text: &str) -> Vec<Cell> {
    let (start, end) = tables_region(text);
    let mut out = Vec::new();
    let mut at = start;
    for piece in text[start..end].split(' ') {
        if !piece.is_empty() && piece.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(value) = piece.parse() {
                let range = (at, at + piece.len());
                out.push(Cell {
                    digits: range,
                    whole: range,
                    value,
                });
            }
        }
        at += piece.len() + 1;
    }
    out
}

/// Every glued run of the dump's table 3 with a space put in at each place inside it, and with
/// each of its digits lost in turn; every number that stands alone garbled.
fn glued_errors(sample: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixtures().join("samples").join(sample)).expect("sample");
    let original = read(sample, &text);
    let runs = glued_runs(&text);
    assert!(runs.len() >= 20, "{sample}: only {} glued runs", runs.len());
    let spaced = spaced_cells(&text);
    assert!(
        spaced.len() >= 15,
        "{sample}: only {} spaced numbers",
        spaced.len()
    );
    let garbled = spaced.iter().map(|cell| Variant {
        label: format!(
            "{sample} number at {} ({}) Garble",
            cell.digits.0, cell.value
        ),
        edit: Edit::Garble,
        value: Some(cell.value),
        report: read(sample, &apply(&text, cell, Edit::Garble)),
    });
    let variants = runs.iter().flat_map(|&(start, end)| {
        let text = &text;
        let run = &text[start..end];
        (start + 1..end)
            .map(move |at| Variant {
                label: format!("{sample} run {run}: space after {}", &text[start..at]),
                edit: Edit::Space,
                value: None,
                report: read(sample, &format!("{} {}", &text[..at], &text[at..])),
            })
            .chain((start..end).map(move |at| Variant {
                label: format!("{sample} run {run}: digit {} lost", at - start),
                edit: Edit::LoseDigit,
                value: None,
                report: read(sample, &format!("{}{}", &text[..at], &text[at + 1..])),
            }))
    });
    variant_errors(&original, variants.chain(garbled))
}

/// pdftotext's output for a PDF, in one of its modes.
fn pdftotext(path: &Path, mode: &str) -> Vec<u8> {
    let out = std::process::Command::new("pdftotext")
        .args([mode, "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) on PATH");
    assert!(out.status.success(), "pdftotext {mode} failed");
    out.stdout
}

/// The number words of tables 3 and 4 in a PDF's word boxes: the byte range of each
/// `<word …>N</word>` element and of its text, from the word that names 本年新收 to section 五's
/// heading.
fn pdf_number_words(xml: &str) -> Vec<Cell> {
    let mut out = Vec::new();
    let mut inside = false;
    let mut at = 0;
    while let Some(open) = xml[at..].find("<word ") {
        let open = at + open;
        let Some(text_start) = xml[open..].find('>').map(|i| open + i + 1) else {
            break;
        };
        let Some(text_end) = xml[text_start..].find("</word>").map(|i| text_start + i) else {
            break;
        };
        let close = text_end + "</word>".len();
        let word = &xml[text_start..text_end];
        if word.contains("本年新收") {
            inside = true;
        } else if inside && word.contains("存在的主要问题") {
            break;
        }
        if inside && !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(value) = word.parse() {
                out.push(Cell {
                    digits: (text_start, text_end),
                    whole: (open, close),
                    value,
                });
            }
        }
        at = close;
    }
    out
}

/// Every number of the PDF's tables 3 and 4 taken off the page (a blank cell as printed) or garbled,
/// through the word boxes poppler gives for it.
fn pdf_errors(sample: &str) -> Vec<String> {
    let path = fixtures().join("samples").join(sample);
    let layout = String::from_utf8(pdftotext(&path, "-layout")).expect("UTF-8 layout text");
    let xml = String::from_utf8(pdftotext(&path, "-bbox-layout")).expect("UTF-8 word boxes");
    let rebuild = |xml: &str| {
        let text = ogi_audit::extract::pdf_text_from_outputs(&layout, xml.as_bytes())
            .expect("word boxes read");
        read(sample, &text)
    };
    let original = rebuild(&xml);
    // The copy read from pdftotext's outputs is the PDF as the daemon reads it.
    let direct = pipeline::read_file(&path).report.expect("the PDF read");
    assert_eq!(
        original.table3, direct.table3,
        "{sample}: rebuilt copy differs"
    );
    let words = pdf_number_words(&xml);
    assert!(
        words.len() >= 20,
        "{sample}: only {} number words in tables 3 and 4",
        words.len()
    );
    let variants = words.iter().enumerate().flat_map(|(n, cell)| {
        let xml = &xml;
        let rebuild = &rebuild;
        [Edit::Blank, Edit::Garble]
            .into_iter()
            .map(move |edit| Variant {
                label: format!("{sample} word #{n} ({}) {edit:?}", cell.value),
                edit,
                value: Some(cell.value),
                report: rebuild(&match edit {
                    // A cell left blank in the PDF prints no word at all.
                    Edit::Blank => apply(xml, cell, Edit::Drop),
                    _ => apply(xml, cell, edit),
                }),
            })
    });
    variant_errors(&original, variants)
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

#[test]
fn huaian_pdf_numbers_taken_off_or_garbled() {
    assert_none(pdf_errors("2024-huaian-city.pdf"));
}

#[test]
fn pingtan_glued_runs_spaced_or_short_of_a_digit_table4_garbled() {
    assert_none(glued_errors("2022-pingtan.txt"));
}
