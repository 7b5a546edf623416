//! Robustness tests: the seed reports must read the same whatever encoding, line endings or cell
//! separators the copy arrives with; garbage, empty and cut-short files must come back as
//! `unparseable` with a reason (never a panic); and the `check` command must report all of this
//! in its JSON and human output. Altered copies are built in memory or in a temporary folder; the
//! fixture files are never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use encoding_rs::{Encoding, GB18030, GBK};
use ogi_audit::pipeline::{self, Outcome, Status};
use proptest::prelude::*;
use serde_json::Value;

/// The five seed reports (tests/fixtures/seeds), one per table layout.
const SEEDS: [&str; 5] = [
    "000_32590e3cc98cb08c",
    "001_7525cffb9e742ff2",
    "002_51f17e08e942b61d",
    "003_211f0501946b8fa1",
    "004_b29312736e7f4b68",
];

/// The fields of a report that must not depend on how the copy was encoded or laid out.
const ESSENTIAL: [&str; 6] = [
    "organization",
    "year",
    "template",
    "table2",
    "table3",
    "table4",
];

/// Table-3 rows as SPEC.md §2 lists them (both templates).
const SPEC_T3_ROWS_HEAD: [&str; 21] = [
    "new_received",
    "carried_over",
    "granted",
    "partial",
    "denied_state_secret",
    "denied_law_prohibited",
    "denied_three_safety",
    "denied_third_party",
    "denied_internal",
    "denied_process",
    "denied_enforcement_file",
    "denied_admin_query",
    "unable_not_held",
    "unable_needs_creation",
    "unable_unclear",
    "rejected_petition",
    "rejected_duplicate",
    "rejected_publication",
    "rejected_excessive",
    "rejected_confirmation",
    "other",
];
/// The table-3 rows only the 2021 template has.
const SPEC_T3_ROWS_2021: [&str; 3] = ["other_no_correction", "other_no_fee", "other_misc"];
/// The last two table-3 rows (both templates).
const SPEC_T3_ROWS_TAIL: [&str; 2] = ["total_processed", "carried_forward"];
/// Table-3 columns as SPEC.md §2 lists them.
const SPEC_T3_COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial",
    "research",
    "social_welfare",
    "legal_service",
    "other_org",
    "total",
];
/// Table-4 groups and columns as SPEC.md §2 lists them.
const SPEC_T4_GROUPS: [&str; 3] = ["review", "lawsuit_direct", "lawsuit_after_review"];
const SPEC_T4_COLUMNS: [&str; 5] = ["upheld", "corrected", "other", "pending", "total"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn seeds_dir() -> PathBuf {
    fixtures().join("seeds")
}

fn seed_path(name: &str) -> PathBuf {
    seeds_dir().join(format!("{name}.txt"))
}

fn seed_bytes(name: &str) -> Vec<u8> {
    std::fs::read(seed_path(name)).expect("seed file")
}

fn seed_text(name: &str) -> String {
    String::from_utf8(seed_bytes(name)).expect("seeds are UTF-8")
}

fn golden(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures().join("golden").join(format!("{name}.json")))
        .expect("golden file");
    serde_json::from_str(&text).expect("golden json")
}

/// Parses the UTF-8 seed as it is on disk; it must parse.
fn parse_original(name: &str) -> Outcome {
    let outcome = pipeline::read_bytes(&seed_path(name), &seed_bytes(name));
    assert_eq!(
        outcome.status,
        Status::Parsed,
        "{name} (original): {:?}",
        outcome.error
    );
    outcome
}

/// The essential fields of a parsed outcome, as JSON.
fn essentials(label: &str, outcome: &Outcome) -> Value {
    assert_eq!(
        outcome.status,
        Status::Parsed,
        "{label}: not parsed: {:?}",
        outcome.error
    );
    let report = outcome
        .report
        .as_ref()
        .expect("a parsed outcome has a report");
    let all = serde_json::to_value(report).expect("serialise report");
    let mut out = serde_json::Map::new();
    for key in ESSENTIAL {
        out.insert(key.to_string(), all[key].clone());
    }
    Value::Object(out)
}

/// Lists the paths where two JSON values differ (`table3.carried_over.total: 0 vs null`).
fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => diff(&sub, va, vb, out),
                    (va, vb) => out.push(format!("{sub}: {va:?} vs {vb:?}")),
                }
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

/// Asserts that an altered copy of a seed reads to the same essential fields as the original.
fn assert_same_report(name: &str, how: &str, original: &Outcome, altered: &Outcome) {
    let label = format!("{name} ({how})");
    let want = essentials(&format!("{name} (original)"), original);
    let got = essentials(&label, altered);
    let mut differences = Vec::new();
    diff("", &want, &got, &mut differences);
    assert!(
        differences.is_empty(),
        "{label}: {} fields differ from the UTF-8 original (original vs altered):\n{}\nwarnings: {:#?}",
        differences.len(),
        differences.join("\n"),
        altered.report.as_ref().map(|r| &r.warnings)
    );
}

/// Asserts that an outcome is `unparseable` with a reason and no report.
fn assert_unparseable(label: &str, outcome: &Outcome) {
    assert_eq!(
        outcome.status,
        Status::Unparseable,
        "{label}: should be unparseable, got a report: {:?}",
        outcome.report.as_ref().map(|r| (&r.organization, r.year))
    );
    let error = outcome.error.as_deref().unwrap_or("");
    assert!(
        !error.trim().is_empty(),
        "{label}: unparseable without a reason"
    );
    assert!(
        outcome.report.is_none(),
        "{label}: unparseable but has a report"
    );
}

/// The invariants of every outcome, whatever the input.
fn assert_consistent(outcome: &Outcome, bytes: &[u8]) {
    assert_eq!(outcome.sha256, pipeline::sha256_hex(bytes));
    match outcome.status {
        Status::Parsed => {
            assert!(outcome.report.is_some(), "parsed without a report");
            assert!(outcome.error.is_none(), "parsed with an error");
        }
        Status::Unparseable => {
            assert!(outcome.report.is_none(), "unparseable with a report");
            assert!(
                outcome
                    .error
                    .as_deref()
                    .is_some_and(|e| !e.trim().is_empty()),
                "unparseable without a reason"
            );
        }
    }
}

fn encode_legacy(encoding: &'static Encoding, text: &str) -> Vec<u8> {
    let (bytes, used, unmappable) = encoding.encode(text);
    assert_eq!(used, encoding, "{} encoder substituted", encoding.name());
    assert!(!unmappable, "text not representable in {}", encoding.name());
    bytes.into_owned()
}

fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

fn utf16be_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFE, 0xFF];
    bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    bytes
}

fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

// ---------------------------------------------------------------------------------------------
// 1. Legacy Chinese encodings.

#[test]
fn gb18030_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let bytes = encode_legacy(GB18030, &seed_text(name));
        assert_ne!(
            bytes,
            seed_bytes(name),
            "{name}: re-encoding changed nothing"
        );
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.gb18030.txt")), &bytes);
        assert_same_report(name, "GB18030", &original, &altered);
        assert_eq!(altered.encoding.as_deref(), Some("gb18030"), "{name}");
    }
}

#[test]
fn gbk_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        // GBK has no no-break space (seed 002 uses U+00A0); a GBK page writes a plain space,
        // which is what normalisation turns U+00A0 into anyway.
        let bytes = encode_legacy(GBK, &seed_text(name).replace('\u{a0}', " "));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.gbk.txt")), &bytes);
        assert_same_report(name, "GBK", &original, &altered);
        // GBK is read with its superset GB18030.
        assert_eq!(altered.encoding.as_deref(), Some("gb18030"), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Line endings and UTF-16.

#[test]
fn crlf_copies_read_like_lf() {
    for name in SEEDS {
        let original = parse_original(name);
        let text = crlf(&seed_text(name));
        assert!(text.contains("\r\n"));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.crlf.txt")), text.as_bytes());
        assert_same_report(name, "CRLF", &original, &altered);
    }
}

#[test]
fn crlf_gb18030_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let bytes = encode_legacy(GB18030, &crlf(&seed_text(name)));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.crlf.gb18030.txt")), &bytes);
        assert_same_report(name, "CRLF + GB18030", &original, &altered);
    }
}

#[test]
fn utf16le_with_bom_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let bytes = utf16le_with_bom(&seed_text(name));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.utf16le.txt")), &bytes);
        assert_same_report(name, "UTF-16LE with BOM", &original, &altered);
        assert_eq!(altered.encoding.as_deref(), Some("UTF-16LE"), "{name}");
    }
}

#[test]
fn utf16le_with_bom_and_crlf_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let bytes = utf16le_with_bom(&crlf(&seed_text(name)));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.utf16le.crlf.txt")), &bytes);
        assert_same_report(name, "UTF-16LE with BOM + CRLF", &original, &altered);
    }
}

#[test]
fn utf16be_with_bom_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let bytes = utf16be_with_bom(&seed_text(name));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.utf16be.txt")), &bytes);
        assert_same_report(name, "UTF-16BE with BOM", &original, &altered);
        assert_eq!(altered.encoding.as_deref(), Some("UTF-16BE"), "{name}");
    }
}

#[test]
fn utf8_with_bom_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(seed_bytes(name));
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.bom.txt")), &bytes);
        assert_same_report(name, "UTF-8 with BOM", &original, &altered);
    }
}

#[test]
fn utf16_without_bom_copies_read_like_utf8() {
    for name in SEEDS {
        let original = parse_original(name);
        let text = seed_text(name);
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.utf16le-nobom.txt")), &le);
        assert_same_report(name, "UTF-16LE without BOM", &original, &altered);
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let altered = pipeline::read_bytes(Path::new(&format!("{name}.utf16be-nobom.txt")), &be);
        assert_same_report(name, "UTF-16BE without BOM", &original, &altered);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Other cell separators.

/// Rewrites every `|`-separated row as TAB-separated cells (trailing empty cells dropped, as a
/// spreadsheet export would).
fn pipes_to_tabs(text: &str) -> String {
    text.lines()
        .map(|line| {
            if !line.contains('|') {
                return line.to_string();
            }
            let mut cells: Vec<&str> = line.split('|').map(str::trim).collect();
            while cells.last().is_some_and(|c| c.is_empty()) {
                cells.pop();
            }
            cells.join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn seed_000_with_tabs_instead_of_pipes_reads_the_same() {
    let name = SEEDS[0];
    let original = parse_original(name);
    let text = pipes_to_tabs(&seed_text(name));
    assert!(!text.contains('|'), "every pipe was rewritten");
    assert!(text.contains("一、本年新收政府信息公开申请数量\t58\t0\t0\t0\t0\t0\t58\n"));
    let altered = pipeline::read_bytes(Path::new("000.tabs.txt"), text.as_bytes());
    assert_same_report(name, "TAB-separated cells", &original, &altered);
}

// ---------------------------------------------------------------------------------------------
// 4. A `/` cell is unknown, not zero.

#[test]
fn slash_cell_is_null_not_zero() {
    let name = SEEDS[0];
    let text = seed_text(name);
    let row = "二、上年结转政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | ||";
    let altered_row = "二、上年结转政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | / | ||";
    assert_eq!(text.matches(row).count(), 1, "the row is in the seed once");
    let altered_text = text.replace(row, altered_row);
    let outcome = pipeline::read_bytes(Path::new("000.slash.txt"), altered_text.as_bytes());
    let report = essentials("000 with `/`", &outcome);
    let raw = serde_json::to_value(&outcome.report.as_ref().expect("report").raw_cells)
        .expect("serialise raw cells");

    assert_eq!(report["table3"]["carried_over"]["total"], Value::Null);
    assert_eq!(raw["table3"]["carried_over"]["total"], "/");

    // Every other cell of table 3 is as the golden transcription has it.
    let want = golden(name);
    let mut errors = Vec::new();
    for (row, cols) in want["table3"].as_object().expect("golden table3") {
        for (col, value) in cols.as_object().expect("golden columns") {
            if row == "carried_over" && col == "total" {
                continue;
            }
            let got = &report["table3"][row][col];
            if got.as_i64() != value.as_i64() || got.is_null() != value.is_null() {
                errors.push(format!("table3.{row}.{col}: want {value}, got {got}"));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for col in SPEC_T3_COLUMNS.iter().filter(|c| **c != "total") {
        assert_eq!(
            report["table3"]["carried_over"][col], 0,
            "carried_over.{col}"
        );
        assert_eq!(
            raw["table3"]["carried_over"][col], "0",
            "raw carried_over.{col}"
        );
    }
    // Tables 2 and 4 and the identity are untouched.
    let original = essentials("000", &parse_original(name));
    for key in ["organization", "year", "template", "table2", "table4"] {
        assert_eq!(report[key], original[key], "{key}");
    }
}

/// Table-3 rows to alter, with their label words (simplified and traditional).
const T3_ROW_LABELS: [(&str, [&str; 2]); 3] = [
    (
        "carried_over",
        [
            "上年结转政府信息公开申请数量",
            "上年結轉政府信息公開申請數量",
        ],
    ),
    ("granted", ["予以公开", "予以公開"]),
    (
        "carried_forward",
        ["结转下年度继续办理", "結轉下年度繼續辦理"],
    ),
];

/// Whether a line is the table-3 label of a row (not narrative that mentions the words).
fn is_label_line(line: &str, label: &str) -> bool {
    line.contains(label)
        && (line.matches('|').count() > 3
            || line
                .trim_matches(|c: char| c.is_whitespace() || c == '|')
                .ends_with(label))
}

/// Replaces the `col`-th cell (0 = natural_person … 6 = total) of a table-3 row by `cell`,
/// whatever the seed's layout: a row per line with ` | `, or one cell per line (TAB-led,
/// blank-line-separated or ending in ` |`).
fn replace_t3_cell(text: &str, labels: &[&str], col: usize, cell: &str) -> String {
    edit_t3_cell(text, labels, col, Some(cell))
}

/// Takes the `col`-th cell of a table-3 row out of the copy altogether (its `|` with it, or its
/// line in one-cell-per-line layouts), as a copy that lost a cell does.
fn drop_t3_cell(text: &str, labels: &[&str], col: usize) -> String {
    edit_t3_cell(text, labels, col, None)
}

/// Replaces (`Some`) or removes (`None`) the `col`-th cell of a table-3 row.
fn edit_t3_cell(text: &str, labels: &[&str], col: usize, cell: Option<&str>) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let (at, label) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            labels
                .iter()
                .find(|lab| is_label_line(l, lab))
                .map(|lab| (i, *lab))
        })
        .expect("the row's label line");
    if lines[at].matches('|').count() > 3 {
        let mut cells: Vec<String> = lines[at].split('|').map(str::to_string).collect();
        let target = cells
            .iter()
            .position(|c| c.contains(label))
            .expect("label cell")
            + 1
            + col;
        assert!(
            cells[target].trim().bytes().all(|b| b.is_ascii_digit()),
            "not a number cell: {:?}",
            cells[target]
        );
        match cell {
            Some(cell) => cells[target] = format!(" {cell} "),
            None => {
                cells.remove(target);
            }
        }
        lines[at] = cells.join("|");
    } else {
        let mut i = at + 1;
        let mut k = 0;
        loop {
            let content = lines[i].trim_matches(|c: char| c.is_whitespace() || c == '|');
            if !content.is_empty() {
                if k == col {
                    assert!(
                        content.bytes().all(|b| b.is_ascii_digit()),
                        "not a number cell: {content:?}"
                    );
                    break;
                }
                k += 1;
            }
            i += 1;
        }
        let line = &lines[i];
        let start = line.find(|c: char| c.is_ascii_digit()).expect("digits");
        let end = line[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(line.len(), |p| start + p);
        match cell {
            Some(cell) => lines[i] = format!("{}{cell}{}", &line[..start], &line[end..]),
            None => {
                lines.remove(i);
            }
        }
    }
    lines.join("\n")
}

/// Puts `marker` into every cell of a few table-3 rows of every seed, one cell at a time, and
/// lists where the result is not: that cell `null` with `marker` as its raw text, every other
/// table-3 cell as in the original.
fn null_marker_errors(seeds: &[&str], marker: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for name in seeds {
        let text = seed_text(name);
        let original = essentials(name, &parse_original(name));
        for (row, labels) in T3_ROW_LABELS {
            for (col_index, col) in SPEC_T3_COLUMNS.iter().enumerate() {
                let altered = replace_t3_cell(&text, &labels, col_index, marker);
                let label = format!("{name} {row}.{col} = {marker:?}");
                let outcome = pipeline::read_bytes(Path::new("cell.txt"), altered.as_bytes());
                let Some(report) = &outcome.report else {
                    errors.push(format!("{label}: unparseable: {:?}", outcome.error));
                    continue;
                };
                let table3 = serde_json::to_value(&report.table3).expect("serialise");
                let raw = serde_json::to_value(&report.raw_cells).expect("serialise");
                for (r, cols) in original["table3"].as_object().expect("table3") {
                    for (c, want) in cols.as_object().expect("columns") {
                        let got = &table3[r][c];
                        if r == row && c == col {
                            if !got.is_null() {
                                errors.push(format!("{label}: {r}.{c} = {got}, want null"));
                            }
                        } else if got != want {
                            errors.push(format!("{label}: {r}.{c} = {got}, want {want}"));
                        }
                    }
                }
                let raw_cell = &raw["table3"][row][col];
                if raw_cell != marker {
                    errors.push(format!("{label}: raw text {raw_cell}, want {marker:?}"));
                }
            }
        }
    }
    errors
}

#[test]
fn null_markers_are_null_in_every_layout() {
    for marker in ["/", "-", "无"] {
        let errors = null_marker_errors(&SEEDS, marker);
        assert!(
            errors.is_empty(),
            "{} errors:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
}

#[test]
fn em_dash_is_null_in_row_per_line_and_cell_per_line_layouts() {
    let errors = null_marker_errors(&SEEDS[..3], "—");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn em_dash_is_null_in_pipe_terminated_cell_layouts() {
    let errors = null_marker_errors(&SEEDS[3..], "—");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn blank_cells_in_pipe_rows_are_null_not_shifted() {
    let errors = null_marker_errors(&SEEDS[..1], "");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 5. Inputs that are not a report.

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn pseudo_random_bytes(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

const NEWS: &str = "新华社北京3月5日电 今年春耕生产开局良好,各地抢抓农时,\
扎实推进春播备耕工作。农业农村部有关负责人介绍,截至目前,全国已春播粮食面积约占意向面积的一成,\
进度快于上年同期。各地农资供应充足,价格总体稳定,农机具检修保养基本完成。\
气象部门提醒,近期南方部分地区将出现降雨天气,请农民朋友合理安排农事活动,做好防灾减灾准备。";

#[test]
fn empty_whitespace_binary_and_non_report_inputs_are_unparseable() {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend(pseudo_random_bytes(4096, 0x9E37_79B9_7F4A_7C15));
    let seed_002 = seed_text(SEEDS[2]);
    let quarter = seed_002.chars().count() / 4;
    let truncated: String = seed_002.chars().take(quarter).collect();

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("whitespace only", b" \n\t\r\n   \n".to_vec()),
        (
            "full-width whitespace only",
            "\u{3000}\u{3000}\n\u{3000}\r\n".as_bytes().to_vec(),
        ),
        ("PNG header and random bytes", png),
        ("random bytes", pseudo_random_bytes(2048, 42)),
        ("Chinese news paragraph", NEWS.as_bytes().to_vec()),
        ("seed 002 cut to its first quarter", truncated.into_bytes()),
    ];
    for (label, bytes) in &cases {
        let outcome = pipeline::read_bytes(Path::new("input.txt"), bytes);
        assert_unparseable(label, &outcome);
        assert_consistent(&outcome, bytes);
    }
}

#[test]
fn read_file_reports_unreadable_and_empty_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = pipeline::read_file(&dir.path().join("missing.txt"));
    assert_unparseable("missing file", &missing);
    assert!(missing.sha256.is_empty(), "no hash for a file not read");

    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").expect("write");
    let outcome = pipeline::read_file(&empty);
    assert_unparseable("empty file", &outcome);
    assert_eq!(outcome.path, empty);
    assert_eq!(
        outcome.sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );

    let news = dir.path().join("news.txt");
    std::fs::write(&news, NEWS).expect("write");
    assert_unparseable("news file", &pipeline::read_file(&news));
}

// ---------------------------------------------------------------------------------------------
// 6. The `check` command.

/// Runs `ogi-audit check` from the package root (where the project's `rules/` folder is).
fn run_check(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ogi-audit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check")
        .args(args)
        .args(paths)
        .env("OGI_AUDIT_LOG", "error")
        .output()
        .expect("run ogi-audit")
}

/// `--rules` pointing at an empty folder: reports are parsed and audited by no rule, so the exit
/// code only says whether every file parsed.
fn no_rules() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_str().expect("UTF-8 temp path").to_string();
    (dir, path)
}

fn json_stdout(output: &Output) -> Value {
    let stdout = String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8");
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn key_set(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    keys.sort();
    keys
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn cli_check_json_on_the_seeds() {
    let (_rules, rules) = no_rules();
    let output = run_check(&["--format", "json", "--rules", &rules], &[&seeds_dir()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc = json_stdout(&output);
    let reports = doc["reports"].as_array().expect("a reports array");
    assert_eq!(
        reports.len(),
        SEEDS.len(),
        "one entry per seed, README skipped"
    );
    for (entry, name) in reports.iter().zip(SEEDS) {
        let path = entry["path"].as_str().expect("path");
        assert!(path.ends_with(&format!("{name}.txt")), "{path} for {name}");
        let sha = entry["sha256"].as_str().expect("sha256");
        assert!(is_sha256_hex(sha), "{name}: sha256 {sha}");
        assert_eq!(sha, pipeline::sha256_hex(&seed_bytes(name)), "{name}");
        assert_eq!(entry["status"], "parsed", "{name}");
        assert!(entry["error"].is_null(), "{name}: error {}", entry["error"]);
        assert_eq!(
            entry["findings"],
            Value::Array(Vec::new()),
            "{name}: no rules, no findings"
        );

        let report = &entry["report"];
        let mut rows: Vec<&str> = SPEC_T3_ROWS_HEAD.to_vec();
        match report["template"].as_str() {
            Some("2019") => {}
            Some("2021") => rows.extend(SPEC_T3_ROWS_2021),
            other => panic!("{name}: template {other:?}"),
        }
        rows.extend(SPEC_T3_ROWS_TAIL);
        let table3 = &report["table3"];
        assert_eq!(key_set(table3), sorted(&rows), "{name}: table3 rows");
        assert!(table3["new_received"].is_object(), "{name}");
        assert!(table3["carried_forward"].is_object(), "{name}");
        for row in &rows {
            assert_eq!(
                key_set(&table3[row]),
                sorted(&SPEC_T3_COLUMNS),
                "{name}: table3.{row} columns"
            );
        }
        assert_eq!(
            key_set(&report["table4"]),
            sorted(&SPEC_T4_GROUPS),
            "{name}: table4"
        );
        for group in SPEC_T4_GROUPS {
            assert_eq!(
                key_set(&report["table4"][group]),
                sorted(&SPEC_T4_COLUMNS),
                "{name}: table4.{group}"
            );
        }
        // The JSON carries the same numbers as the library.
        let direct = essentials(name, &parse_original(name));
        for key in ESSENTIAL {
            assert_eq!(report[key], direct[key], "{name}: {key}");
        }
    }
}

/// With the project's rule pack the seeds get findings (they hold real inconsistencies, see
/// seeds/README.md); the exit code must follow them: 1 when a finding reaches `--fail-on`
/// (default `error`), 0 otherwise, never 2 (every seed parses).
#[test]
fn cli_check_exit_code_follows_findings() {
    for (args, threshold) in [
        (vec!["--format", "json"], 2),
        (vec!["--format", "json", "--fail-on", "warning"], 1),
        (vec!["--format", "json", "--fail-on", "info"], 0),
    ] {
        let output = run_check(&args, &[&seeds_dir()]);
        let doc = json_stdout(&output);
        let reports = doc["reports"].as_array().expect("a reports array");
        assert_eq!(reports.len(), SEEDS.len());
        let mut worst = None;
        for entry in reports {
            assert_eq!(entry["status"], "parsed", "{}", entry["path"]);
            for f in entry["findings"].as_array().expect("findings array") {
                assert!(f["rule"].as_str().is_some_and(|r| !r.is_empty()), "{f}");
                assert!(f["message"].as_str().is_some_and(|m| !m.is_empty()), "{f}");
                assert!(f.get("evidence").is_some(), "{f}");
                let rank = match f["severity"].as_str() {
                    Some("info") => 0,
                    Some("warning") => 1,
                    Some("error") => 2,
                    other => panic!("severity {other:?} in {f}"),
                };
                worst = worst.max(Some(rank));
            }
        }
        let want = if worst.is_some_and(|w| w >= threshold) {
            1
        } else {
            0
        };
        assert_eq!(
            output.status.code(),
            Some(want),
            "{args:?}: worst finding {worst:?}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn cli_check_json_with_an_empty_file_exits_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("a_report.txt"), seed_bytes(SEEDS[1])).expect("write");
    std::fs::write(dir.path().join("b_empty.txt"), b"").expect("write");
    let output = run_check(&["--format", "json"], &[dir.path()]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc = json_stdout(&output);
    let reports = doc["reports"].as_array().expect("a reports array");
    assert_eq!(reports.len(), 2);

    let report = &reports[0];
    assert!(report["path"]
        .as_str()
        .expect("path")
        .ends_with("a_report.txt"));
    assert_eq!(report["status"], "parsed");
    assert!(report["error"].is_null());

    let empty = &reports[1];
    assert!(empty["path"]
        .as_str()
        .expect("path")
        .ends_with("b_empty.txt"));
    assert_eq!(empty["status"], "unparseable");
    let error = empty["error"].as_str().expect("an error string");
    assert!(!error.trim().is_empty());
    assert!(empty["report"].is_null());
    assert_eq!(
        empty["sha256"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn cli_check_human_names_the_issuer() {
    let (_rules, rules) = no_rules();
    let output = run_check(&["--rules", &rules], &[&seed_path(SEEDS[1])]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    assert!(stdout.contains("淮南市人民政府办公室"), "stdout:\n{stdout}");
    assert!(stdout.contains("2019"), "stdout:\n{stdout}");
}

#[test]
fn cli_check_human_marks_unparseable_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").expect("write");
    let output = run_check(&[], &[&empty]);
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    assert!(stdout.contains("UNPARSEABLE"), "stdout:\n{stdout}");
}

// ---------------------------------------------------------------------------------------------
// 7. No input makes the pipeline panic.

/// One random edit of a file's bytes; positions are taken modulo the length.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { at: usize, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..2048usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1..2048usize).prop_map(|(at, len)| Edit::Duplicate { at, len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let n = bytes.len();
    match edit {
        Edit::Delete { at, len } if n > 0 => {
            let start = at % n;
            let end = start.saturating_add(*len).min(n);
            bytes.drain(start..end);
        }
        Edit::Insert { at, bytes: new } => {
            let at = at % (n + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Edit::Duplicate { at, len } if n > 0 => {
            let start = at % n;
            let end = start.saturating_add(*len).min(n);
            let chunk = bytes[start..end].to_vec();
            bytes.splice(end..end, chunk);
        }
        _ => {}
    }
}

/// A seed's bytes in one of the encodings copies arrive in.
fn encoded_seed(seed: usize, encoding: u8) -> Vec<u8> {
    let text = seed_text(SEEDS[seed % SEEDS.len()]);
    match encoding % 3 {
        0 => text.into_bytes(),
        1 => GB18030.encode(&text).0.into_owned(),
        _ => utf16le_with_bom(&text),
    }
}

/// 64 cases, or `PROPTEST_CASES` for a longer run.
fn quick() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(quick())]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let outcome = pipeline::read_bytes(Path::new("random.bin"), &bytes);
        assert_consistent(&outcome, &bytes);
    }

    /// The HTML path: random bytes and random cuts of a generated report page behind an HTML head.
    #[test]
    fn random_html_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..4096),
        cut in 0usize..40_000,
    ) {
        let mut bytes = b"<!DOCTYPE html><html><body><table><tr><td rowspan=3>".to_vec();
        bytes.extend(&body);
        let outcome = pipeline::read_bytes(Path::new("random.html"), &bytes);
        assert_consistent(&outcome, &bytes);
        let page = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/generated/002_51f17e08e942b61d.gbk.html"),
        ).expect("page");
        let cut = &page[..cut.min(page.len())];
        let outcome = pipeline::read_bytes(Path::new("cut.html"), cut);
        assert_consistent(&outcome, cut);
    }

    #[test]
    fn edited_seeds_never_panic(
        seed in 0..SEEDS.len(),
        encoding in 0u8..3,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = encoded_seed(seed, encoding);
        for e in &edits {
            apply(&mut bytes, e);
        }
        let outcome = pipeline::read_bytes(Path::new("edited.txt"), &bytes);
        assert_consistent(&outcome, &bytes);
    }
}

/// Errors of the table identities that a mutated copy raises and the original does not.
fn new_identity_errors(name: &str, marker: &str) -> Vec<String> {
    new_findings(name, marker, false, |text, labels, col| {
        replace_t3_cell(text, labels, col, marker)
    })
}

/// Findings that a copy altered by `edit` (one table-3 cell at a time) raises and the original
/// does not: identity errors only, or (`all`) any warning or error.
fn new_findings(
    name: &str,
    how: &str,
    all: bool,
    edit: impl Fn(&str, &[&str], usize) -> String,
) -> Vec<String> {
    let set = ogi_audit::rules::RuleSet::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        ogi_audit::rules::Limits::default(),
    )
    .expect("rules");
    let identity = |f: &ogi_audit::model::Finding| {
        if all {
            return f.severity >= ogi_audit::model::Severity::Warning;
        }
        f.severity == ogi_audit::model::Severity::Error
            && matches!(
                f.rule.as_str(),
                "t3-balance" | "t3-processed-total" | "t3-column-total" | "t4-totals"
            )
    };
    let text = seed_text(name);
    let original = parse_original(name);
    let before: Vec<String> = set
        .run(original.report.as_ref().expect("parsed"), None)
        .into_iter()
        .filter(identity)
        .map(|f| f.message)
        .collect();
    let mut out = Vec::new();
    for (row, labels) in T3_ROW_LABELS {
        for (col_index, col) in SPEC_T3_COLUMNS.iter().enumerate() {
            let altered = edit(&text, &labels, col_index);
            let outcome = pipeline::read_bytes(Path::new("cell.txt"), altered.as_bytes());
            let Some(report) = &outcome.report else {
                out.push(format!("{name} {row}.{col} {how}: unparseable"));
                continue;
            };
            for f in set.run(report, None).into_iter().filter(identity) {
                if !before.contains(&f.message) {
                    out.push(format!("{name} {row}.{col} {how}: {}", f.message));
                }
            }
        }
    }
    out
}

/// A garbled cell (`1l`, `O`, `?`) stays one cell of its row in every layout: that cell is
/// unreadable text (null, its text kept), every other cell keeps its value and column, and the
/// pack raises no identity error because of it.
#[test]
fn garbled_cells_keep_their_column_in_every_layout() {
    for marker in ["1l", "O", "?"] {
        let errors = null_marker_errors(&SEEDS, marker);
        assert!(
            errors.is_empty(),
            "{} errors:\n{}",
            errors.len(),
            errors.join("\n")
        );
        for name in SEEDS {
            let errors = new_identity_errors(name, marker);
            assert!(errors.is_empty(), "{}", errors.join("\n"));
        }
    }
}

/// A cell blanked out where the layout has one cell per line cannot be told from the layout's
/// own blank lines: the row may be left unread, but no cell ever takes another's value, and the
/// pack raises no identity error because of it.
#[test]
fn a_blanked_cell_never_shifts_a_value_in_any_layout() {
    let errors = null_marker_errors(&SEEDS, "");
    let shifted: Vec<&String> = errors
        .iter()
        .filter(|e| !e.contains("= null, want") && !e.contains("raw text"))
        .collect();
    assert!(
        shifted.is_empty(),
        "{}",
        shifted
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for name in SEEDS {
        let errors = new_identity_errors(name, "");
        assert!(errors.is_empty(), "{}", errors.join("\n"));
    }
}

/// A cell the copy lost altogether (its `|` gone too, or its line) cannot be placed: the cells
/// it may be are left unread (the whole row, or its last cells when only they can be the lost
/// one), never read blank and never with a cell moved into its neighbour's column, and
/// the pack says nothing new about the document because of it (only that cells were unread).
#[test]
fn a_dropped_cell_leaves_its_row_unread_in_every_layout() {
    let mut errors = Vec::new();
    for name in SEEDS {
        let text = seed_text(name);
        let original = essentials(name, &parse_original(name));
        for (row, labels) in T3_ROW_LABELS {
            for (col_index, col) in SPEC_T3_COLUMNS.iter().enumerate() {
                let altered = drop_t3_cell(&text, &labels, col_index);
                let label = format!("{name} {row}.{col} dropped");
                let outcome = pipeline::read_bytes(Path::new("cell.txt"), altered.as_bytes());
                let Some(report) = &outcome.report else {
                    errors.push(format!("{label}: unparseable: {:?}", outcome.error));
                    continue;
                };
                let table3 = serde_json::to_value(&report.table3).expect("serialise");
                // A cell that reads otherwise than in the original must be unread (not blank,
                // not another cell's value), and only in the altered row.
                for (r, cols) in original["table3"].as_object().expect("table3") {
                    for (c, want) in cols.as_object().expect("columns") {
                        let got = &table3[r][c];
                        if got != want && !(r == row && report.is_unread("table3", r, c)) {
                            errors.push(format!("{label}: {r}.{c} = {got}, want {want}"));
                        }
                    }
                }
                if SPEC_T3_COLUMNS
                    .iter()
                    .all(|c| !report.is_unread("table3", row, c))
                {
                    errors.push(format!("{label}: row {row} read as if whole"));
                }
            }
        }
        errors.extend(new_findings(name, "dropped", true, drop_t3_cell));
    }
    assert!(
        errors.is_empty(),
        "{} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
}
