//! Scanned PDFs read by OCR (`tools/gen_scan_fixtures.py`: the real Huai'an PDF and five
//! generated seeds rendered to images, turned, blurred and stamped with a red seal). Every cell
//! of tables 3 and 4 is either the value transcribed by hand (`tests/fixtures/golden/`) or left
//! unread, never another number; at least 90 % are read; a scan gets no finding its text copy
//! does not get; the report is marked as read by OCR in its JSON, the store and the mail; a
//! 20-page scan goes through the daemon within its limits; and without Tesseract a scan is
//! quarantined with the packages to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{repo, wait_for, walk, Daemon, BIN};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    repo().join("tests/fixtures").join(rel)
}

fn check_json(path: &Path, envs: &[(&str, &str)]) -> Value {
    let mut c = Command::new(BIN);
    c.args(["check", "--format", "json"]).arg(path);
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("check");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["reports"][0].clone()
}

fn rules_of(outcome: &Value) -> std::collections::BTreeSet<String> {
    outcome["findings"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["rule"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// (right, unread, wrong) over the golden cells of tables 3 and 4, the wrong ones named.
fn score(name: &str, report: &Value, wrong_cells: &mut Vec<String>) -> (usize, usize, usize) {
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(&format!("golden/{name}.json"))).expect("golden"),
    )
    .expect("golden json");
    let (mut right, mut unread, mut wrong) = (0, 0, 0);
    for table in ["table3", "table4"] {
        for (row, cols) in golden[table].as_object().expect("rows") {
            for (col, want) in cols.as_object().expect("columns") {
                let got = &report[table][row][col];
                let printed = &report["raw_cells"][table][row][col];
                if got.is_null() && printed.is_null() {
                    unread += 1;
                } else if got == want || (got.is_null() && want.as_i64() == Some(0)) {
                    right += 1;
                } else {
                    wrong += 1;
                    wrong_cells.push(format!(
                        "{name} {table}.{row}.{col}: want {want}, got {got}"
                    ));
                }
            }
        }
    }
    (right, unread, wrong)
}

/// Reads the scans of `cases` (scan, golden name, its text copy) and checks cells and findings;
/// the cells' totals.
fn read_scans(cases: &[(&str, &str, &str)]) -> (usize, usize) {
    let (mut right, mut all) = (0, 0);
    let mut wrong_cells = Vec::new();
    for (scan, name, text) in cases {
        let outcome = check_json(&fixture(scan), &[]);
        assert_eq!(outcome["status"], "parsed", "{scan}: {}", outcome["error"]);
        assert_eq!(outcome["format"], "pdf", "{scan}");
        let report = &outcome["report"];
        assert_eq!(report["ocr"], true, "{scan}: marked as read by OCR");
        assert!(
            outcome["needs_review"].as_array().is_some_and(|r| r
                .iter()
                .any(|w| w.as_str().is_some_and(|w| w.contains("经OCR识别，请核对")))),
            "{scan}: {}",
            outcome["needs_review"]
        );
        let (r, u, w) = score(name, report, &mut wrong_cells);
        eprintln!("{scan}: {r} right, {u} unread, {w} wrong");
        right += r;
        all += r + u + w;
        // Every cell left unread is said so.
        if u > 0 {
            assert!(
                report["warnings"]
                    .as_array()
                    .is_some_and(|ws| ws.iter().any(|w| w
                        .as_str()
                        .is_some_and(|w| w.contains("OCR")
                            || w.contains("unread")
                            || w.contains("not found")))),
                "{scan}: unread cells without a warning"
            );
        }
        // No finding the text copy does not have, but that cells were left unread.
        let text_rules = rules_of(&check_json(&fixture(text), &[]));
        let extra: Vec<String> = rules_of(&outcome)
            .into_iter()
            .filter(|r| r != "cells-unread" && !text_rules.contains(r))
            .collect();
        assert!(
            extra.is_empty(),
            "{scan}: findings its text copy does not have: {extra:?}"
        );
    }
    assert!(wrong_cells.is_empty(), "cells read wrong: {wrong_cells:#?}");
    (right, all)
}

#[test]
fn scans_of_the_real_pdf_and_of_generated_seeds_read_right_or_unread() {
    let (right, all) = read_scans(&[
        (
            "scans/2024-huaian-city.scan.pdf",
            "2024-huaian-city",
            "samples/2024-huaian-city.pdf",
        ),
        (
            "scans/000_32590e3cc98cb08c.scan.pdf",
            "000_32590e3cc98cb08c",
            "generated/000_32590e3cc98cb08c.pagebreak.pdf",
        ),
        (
            "scans/001_7525cffb9e742ff2.scan.pdf",
            "001_7525cffb9e742ff2",
            "generated/001_7525cffb9e742ff2.pagebreak.pdf",
        ),
        (
            "scans/002_51f17e08e942b61d.scan.pdf",
            "002_51f17e08e942b61d",
            "generated/002_51f17e08e942b61d.labels.pdf",
        ),
        (
            "scans/003_211f0501946b8fa1.scan.pdf",
            "003_211f0501946b8fa1",
            "generated/003_211f0501946b8fa1.labels.pdf",
        ),
        (
            "scans/004_b29312736e7f4b68.scan.pdf",
            "004_b29312736e7f4b68",
            "generated/004_b29312736e7f4b68.headers.pdf",
        ),
    ]);
    assert!(
        right * 100 >= all * 90,
        "{right} of {all} table cells read right (90 % wanted)"
    );
}

#[test]
fn a_twenty_page_scan_goes_through_the_daemon_within_its_limits_and_is_marked() {
    let pack = common::shipped_pack();
    let rules: Vec<(&str, &str)> = pack.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    // Mail for every finding, down to the notes on unread cells.
    let d = Daemon::start_with(
        &rules,
        "[mail]\ngroup_wait = \"200ms\"\nmin_severity = \"info\"\n",
    );
    d.drop_file(&fixture("scans/long-20pages.scan.pdf"), "huaian-scan.pdf");
    // Twenty pages at a few seconds each, on a machine also running other tests.
    wait_for(Duration::from_secs(600), || {
        d.count("SELECT COUNT(*) FROM reports") == 1
    });
    let (status, review): (String, Option<String>) = d
        .db()
        .query_row("SELECT status, needs_review FROM reports", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(status, "parsed", "{}", d.log());
    let review = review.expect("needs review");
    assert!(review.contains("经OCR识别，请核对"), "{review}");
    let rss = d.peak_rss_kb();
    assert!(rss < 512 * 1024, "peak RSS {rss} kB");
    // The page cap: 20 pages are read, none left out.
    let z: Vec<u8> = d
        .db()
        .query_row("SELECT z FROM models", [], |r| r.get(0))
        .expect("model");
    let model = ogi_audit::store::codec::decode(&z).expect("decodes");
    assert!(model.ocr);
    assert!(
        !model.warnings.iter().any(|w| w.contains("只识别了前")),
        "{:?}",
        model.warnings
    );
    // The mail says so.
    wait_for(Duration::from_secs(60), || {
        !walk(&d.path("outbox")).is_empty()
    });
    let eml = std::fs::read(&walk(&d.path("outbox"))[0]).expect("eml");
    let message = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("message");
    let body = message.body_text(0).expect("text body").into_owned();
    assert!(body.contains("经OCR识别，请核对"), "{body}");
}

#[test]
fn the_page_cap_and_a_machine_without_tesseract() {
    // Without Tesseract: quarantined by `check` with what to install.
    let outcome = check_json(
        &fixture("scans/003_211f0501946b8fa1.scan.pdf"),
        &[("OGI_AUDIT_TESSERACT", "/nonexistent/tesseract")],
    );
    assert_eq!(outcome["status"], "unparseable");
    let error = outcome["error"].as_str().expect("reason");
    assert!(
        error.contains("scanned PDF") && error.contains("tesseract-ocr-chi-sim"),
        "{error}"
    );

    // `limits.ocr_pages`: the rest of the scan is named, not read.
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("ogi-audit.toml");
    std::fs::write(
        &config,
        format!(
            "[rules]\ndir = \"{}\"\n[limits]\nocr_pages = 2\n",
            repo().join("rules").display()
        ),
    )
    .expect("config");
    let out = Command::new(BIN)
        .args(["check", "--format", "json", "--config"])
        .arg(&config)
        .arg(fixture("scans/003_211f0501946b8fa1.scan.pdf"))
        .output()
        .expect("check");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let warnings = format!(
        "{}{}",
        v["reports"][0]["report"]["warnings"], v["reports"][0]["error"]
    );
    assert!(warnings.contains("只识别了前2页"), "{warnings}");
}
