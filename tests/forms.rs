//! Each table is read in the form it is printed in, not the one its year calls for: real 2023
//! and 2024 reports keep the 2019 table 3 (one (六)其他处理 row) under a 2021 table 2. The
//! variants here are made from a real seed by rewriting its table 3 as the 2019 form prints it.

use std::path::Path;
use std::sync::Arc;

use ogi_audit::model::{Report, Template, T3_COLUMNS, T3_OTHER_2021};
use ogi_audit::pipeline::{self, Status};
use ogi_audit::rules::{Limits, RuleSet};

fn seed_text(prefix: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
    let path = std::fs::read_dir(dir)
        .expect("seeds")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .expect("seed");
    std::fs::read_to_string(path).expect("read seed")
}

fn parse(text: &str) -> Report {
    let outcome = pipeline::read_bytes(Path::new("variant.txt"), text.as_bytes());
    assert_eq!(outcome.status, Status::Parsed, "{:?}", outcome.error);
    Arc::unwrap_or_clone(outcome.report.expect("report"))
}

/// Seed 004 (a 2023 report, one cell per line) with its three (六) rows replaced by the single
/// row of the 2019 form, holding their column sums; returns the text and the sums.
fn with_2019_table3(text: &str) -> (String, Vec<i64>) {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("(六)其他處理"))
        .expect("(六) row");
    let end = lines
        .iter()
        .skip(start)
        .position(|l| l.starts_with("(七)"))
        .map(|i| i + start)
        .expect("(七) row");
    let values: Vec<i64> = lines[start + 1..end]
        .iter()
        .filter_map(|l| l.trim_end_matches(['|', ' ']).trim().parse().ok())
        .collect();
    assert_eq!(values.len(), 21, "three rows of seven cells");
    let sums: Vec<i64> = (0..7)
        .map(|c| (0..3).map(|r| values[r * 7 + c]).sum())
        .collect();
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    out.push("(六)其他處理 |".to_string());
    out.extend(sums.iter().map(|v| format!("{v} |")));
    out.push("|".to_string());
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    (out.join("\n"), sums)
}

#[test]
fn a_2023_report_with_the_2019_table_3_is_read_with_the_rows_it_prints() {
    let original = parse(&seed_text("004"));
    assert_eq!(original.template, Some(Template::Y2021));
    assert_eq!(original.table2_template, Some(Template::Y2021));

    let (text, sums) = with_2019_table3(&seed_text("004"));
    let variant = parse(&text);
    assert_eq!(variant.year, Some(2023));
    assert_eq!(
        variant.template,
        Some(Template::Y2019),
        "table 3's own form"
    );
    assert_eq!(
        variant.table2_template,
        Some(Template::Y2021),
        "table 2's own form"
    );
    let other = variant.table3.get("other").expect("the (六) row is read");
    for (c, col) in T3_COLUMNS.iter().enumerate() {
        assert_eq!(other.get(*col).copied().flatten(), Some(sums[c]), "{col}");
    }
    for row in T3_OTHER_2021 {
        assert!(
            !variant.table3.contains_key(row),
            "{row}: the 2021 sub-rows are not invented"
        );
    }
    // Every other cell of tables 2, 3 and 4 reads as in the original.
    for (row, cols) in &original.table3 {
        if T3_OTHER_2021.contains(&row.as_str()) || row == "other" {
            continue;
        }
        assert_eq!(variant.table3.get(row), Some(cols), "table3.{row}");
    }
    assert_eq!(variant.table2, original.table2);
    assert_eq!(variant.table4, original.table4);

    // The pack reports the outdated form, and nothing else changes.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let set = RuleSet::load(&dir, Limits::default()).expect("rules");
    let before = set.run(&Arc::new(original), None);
    let after = set.run(&Arc::new(variant), None);
    let form: Vec<_> = after.iter().filter(|f| f.rule == "template-year").collect();
    assert_eq!(form.len(), 1, "{after:#?}");
    assert_eq!(form[0].severity.as_str(), "warning");
    assert!(
        form[0]
            .message
            .starts_with("2023年度报告的表三仍使用2019年版格式"),
        "{}",
        form[0].message
    );
    assert!(!before.iter().any(|f| f.rule == "template-year"));
    let rest = |f: &[ogi_audit::model::Finding]| {
        let mut v: Vec<(String, String)> = f
            .iter()
            .filter(|f| f.rule != "template-year")
            .map(|f| (f.rule.clone(), f.message.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(rest(&after), rest(&before));
}

#[test]
fn a_2019_report_has_both_tables_in_the_2019_form() {
    let text = seed_text("000");
    let report = parse(&text);
    assert_eq!(report.template, Some(Template::Y2019));
    assert_eq!(report.table2_template, Some(Template::Y2019));
}
