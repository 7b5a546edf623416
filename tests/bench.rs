//! The benchmark corpus generator and the bench command: fast checks only, no timing assertions.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use ogi_audit::bench::corpus::{Encoding, Format, Generator};
use ogi_audit::pipeline::{self, Status};
use ogi_audit::rules::{Limits, RuleSet};

const BIN: &str = env!("CARGO_BIN_EXE_ogi-audit");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pack() -> RuleSet {
    let set = RuleSet::load(&repo().join("rules"), Limits::default()).expect("rules dir");
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

/// The identities a generated report can break on purpose.
const IDENTITIES: [&str; 3] = ["t3-balance", "t3-processed-total", "t4-totals"];

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = Generator::new(7);
    let b = Generator::new(7);
    let c = Generator::new(8);
    let mut differ = 0;
    for i in 0..60 {
        let x = a.generate(i).expect("generate");
        let y = b.generate(i).expect("generate");
        assert_eq!(x.name, y.name);
        assert!(x.bytes == y.bytes, "report {i} differs between two runs");
        if c.generate(i).expect("generate").bytes != x.bytes {
            differ += 1;
        }
    }
    assert_eq!(differ, 60, "another seed gives other reports");
}

#[test]
fn generated_reports_are_distinct_varied_and_all_parse_as_written() {
    let g = Generator::new(1);
    let mut shas = HashSet::new();
    let (mut sources, mut formats, mut encodings) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let (mut crlf, mut years) = (0, BTreeSet::new());
    for i in 0..200 {
        let r = g.generate(i).expect("generate");
        assert!(
            shas.insert(pipeline::sha256_hex(&r.bytes)),
            "report {i} repeats an earlier one"
        );
        let m = &r.meta;
        sources.insert(m.source);
        formats.insert(m.format.as_str());
        encodings.insert(m.encoding.as_str());
        years.insert(m.year);
        crlf += usize::from(m.crlf);

        let outcome = pipeline::read_bytes(Path::new(&r.name), &r.bytes);
        assert_eq!(
            outcome.status,
            Status::Parsed,
            "{} (from {}, {:?}, {:?}): {:?}",
            r.name,
            m.source,
            m.format,
            m.encoding,
            outcome.error
        );
        let report = outcome.report.expect("report");
        assert_eq!(
            report.organization.as_deref(),
            Some(m.organization.as_str()),
            "{} from {}",
            r.name,
            m.source
        );
        assert_eq!(report.year, Some(m.year), "{} from {}", r.name, m.source);
        assert_eq!(report.template, Some(m.template));
        assert_eq!(
            report.table3, m.table3,
            "table 3 of {} from {}",
            r.name, m.source
        );
        assert_eq!(
            report.table4, m.table4,
            "table 4 of {} from {}",
            r.name, m.source
        );
        let expected: &[&str] = match m.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => &["utf-8"],
            Encoding::Gbk | Encoding::Gb18030 => &["gbk", "gb18030"],
        };
        assert!(
            outcome
                .encoding
                .as_deref()
                .is_some_and(|e| expected.contains(&e.to_ascii_lowercase().as_str())),
            "{}: read as {:?}, written as {:?}",
            r.name,
            outcome.encoding,
            m.encoding
        );
        assert_eq!(
            outcome.format.as_deref(),
            Some(match m.format {
                Format::Text => "text",
                Format::Html => "html",
            })
        );
    }
    // Reports 2k and 2k + 1: the same issuer, one year apart (the daemon finds the year before).
    for k in 0..20 {
        let (a, b) = (
            g.generate(2 * k).expect("generate").meta,
            g.generate(2 * k + 1).expect("generate").meta,
        );
        assert_eq!(a.organization, b.organization);
        assert_eq!((a.year - b.year).abs(), 1, "{} {}", a.year, b.year);
    }
    assert_eq!(
        sources.len(),
        8,
        "every embedded report is used: {sources:?}"
    );
    assert_eq!(formats.len(), 2, "{formats:?}");
    assert!(encodings.len() >= 3, "{encodings:?}");
    assert!(crlf > 0, "some CRLF files");
    assert!(years.len() >= 5, "{years:?}");
}

#[test]
fn every_embedded_report_has_table_cells_the_generator_can_change() {
    for (source, t2, t3, t4) in ogi_audit::bench::corpus::coverage().expect("coverage") {
        // Its table 3 is glued together (`713000074`): its cells are not separate numbers.
        if source != "pingtan2022" {
            assert!(
                t3 >= 100,
                "{source}: only {t3} table-3 cells found in the text"
            );
        }
        assert!(
            t4 >= 10,
            "{source}: only {t4} table-4 cells found in the text"
        );
        assert!(t2 >= 1, "{source}: no table-2 cell found in the text");
    }
}

#[test]
fn broken_identities_are_caught_and_intact_ones_are_not() {
    let set = pack();
    let mut g = Generator::new(3);
    g.broken = 0.3;
    let mut caught = BTreeSet::new();
    let mut broken = 0;
    for i in 0..150 {
        let r = g.generate(i).expect("generate");
        let outcome = pipeline::read_bytes(Path::new(&r.name), &r.bytes);
        let report = outcome.report.expect("parsed");
        let findings = set.run(&report, None);
        let fired: BTreeSet<&str> = findings
            .iter()
            .map(|f| f.rule.as_str())
            .filter(|id| IDENTITIES.contains(id))
            .collect();
        match r.meta.broken {
            Some(rule) => {
                broken += 1;
                assert!(
                    fired.contains(rule),
                    "{} (from {}) breaks {rule}, which did not fire: {findings:?}",
                    r.name,
                    r.meta.source
                );
                caught.insert(rule);
            }
            None => assert!(
                fired.is_empty(),
                "{} (from {}) keeps the identities, yet {fired:?} fired",
                r.name,
                r.meta.source
            ),
        }
    }
    assert!(broken >= 20, "only {broken} broken reports");
    assert!(caught.contains("t3-balance"), "{caught:?}");
    assert_eq!(caught.len(), 3, "every kind of break occurs: {caught:?}");
}

#[test]
fn bench_gen_writes_the_same_files_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |sub: &str| {
        let out = Command::new(BIN)
            .args(["bench", "gen", "25"])
            .arg(dir.path().join(sub))
            .args(["--seed", "5"])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("a");
    run("b");
    let list = |sub: &str| {
        let mut v: Vec<_> = std::fs::read_dir(dir.path().join(sub))
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files = list("a");
    assert_eq!(files.len(), 26, "25 reports and the manifest: {files:?}");
    assert_eq!(files, list("b"));
    for f in &files {
        let a = std::fs::read(dir.path().join("a").join(f)).expect("read");
        let b = std::fs::read(dir.path().join("b").join(f)).expect("read");
        assert!(a == b, "{f} differs");
    }
    let manifest = std::fs::read_to_string(dir.path().join("a/.manifest.tsv")).expect("manifest");
    assert_eq!(manifest.lines().count(), 26);
    assert!(manifest.starts_with("file\tsource\torganization\tyear"));
    // `check` reads them all (it skips the hidden manifest).
    let out = Command::new(BIN)
        .args(["check", "--format", "json", "--fail-on", "error"])
        .arg(dir.path().join("a"))
        .current_dir(repo())
        .output()
        .expect("check");
    assert_ne!(out.status.code(), Some(2), "a file did not parse");
}

fn bench(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    stdout
}

#[test]
fn a_tiny_store_bench_prints_its_table() {
    let out = bench(&["store", "--files", "50", "--threads", "1"]);
    assert!(out.contains("machine: "), "{out}");
    assert!(out.contains("| parse + rules + store |"), "{out}");
    assert!(out.contains("DB KB/report"), "{out}");
}

#[test]
fn a_tiny_daemon_bench_prints_its_table() {
    // With the mailing of the summaries, after a group wait of 2 s instead of 30.
    let out = bench(&[
        "daemon",
        "--files",
        "10",
        "--singles",
        "1",
        "--mail",
        "--group-wait",
        "2s",
    ]);
    assert!(out.contains("## Daemon end to end"), "{out}");
    assert!(out.contains("drop → stored"), "{out}");
    assert!(out.contains("daemon peak RSS"), "{out}");
    // Every report stored has findings for the office.
    assert!(
        out.contains("their summaries: 11 reports mailed in "),
        "{out}"
    );
    assert!(
        out.contains("daemon CPU while mailing, per report mailed"),
        "{out}"
    );
}

#[test]
fn the_old_form_times_given_files() {
    let out = bench(&["--iterations", "2", "tests/fixtures/seeds"]);
    assert!(out.contains("mean (one core)"), "{out}");
}

#[test]
fn a_small_web_bench_times_every_page_of_the_console() {
    let out = bench(&["web", "--reports", "300", "--runs", "2"]);
    assert!(out.contains("machine: "), "{out}");
    assert!(out.contains("## Web console (300 reports"), "{out}");
    // page | request | reports shown | bytes | median ms | p95 ms | runs
    let row = |page: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("| {page} ")))
            .unwrap_or_else(|| panic!("no row {page:?}:\n{out}"));
        line.split('|').map(|c| c.trim().to_string()).collect()
    };
    for page in [
        "reports, first page",
        "reports, deep page (60 rows from the end)",
        "issuer contains (one issuer)",
        "severity error",
        "one common rule",
        "sorted by issuer, deep page",
        "year 2023, severity ≥ warning",
        "one report",
        "overview",
        "CSV export, year 2023",
        "CSV export, severity error, by issuer",
    ] {
        let cells = row(page);
        assert!(!cells[4].starts_with("HTTP"), "{page}: {cells:?}");
        assert!(cells[5].parse::<f64>().is_ok(), "{page}: {cells:?}");
        assert_eq!(cells[7], "2", "{page}: {cells:?}");
    }
    // Full pages where the store has enough reports, and the verdict on the target.
    assert_eq!(row("reports, first page")[3], "50");
    assert_eq!(row("reports, deep page (60 rows from the end)")[3], "50");
    assert!(
        out.contains("list target (a reports-list page in < 200 ms"),
        "{out}"
    );
}

/// `bench reaudit` audits every stored report again three times per `--jobs` value, after an
/// edit of every rule, of a word list and of one rule (every report's findings written anew each
/// time), and says how many rules ran per report.
#[test]
fn a_small_reaudit_bench_audits_the_whole_store_per_jobs_value_and_edit() {
    let out = bench(&["reaudit", "--reports", "300", "--jobs", "1,2"]);
    assert!(out.contains("## reaudit"), "{out}");
    // jobs | edited | rules run per report | reports | findings written anew | wall s | CPU s |
    // reports/s | ms/report (CPU) | 100,000 reports in | peak RSS MB
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| l.starts_with("| 1 ") || l.starts_with("| 2 "))
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    let rules = std::fs::read_dir(repo().join("rules"))
        .expect("pack")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "rhai"))
        .count() as f64;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[1], if i < 3 { "1" } else { "2" }, "{row:?}");
        let per_report: f64 = row[3].parse().expect("rules per report");
        match i % 3 {
            0 => {
                assert_eq!(row[2], "every rule", "{row:?}");
                assert_eq!(per_report, rules, "{row:?}");
            }
            // The rule reading the edited list (`problems-concrete`) or the edited rule, and
            // the one reading the register; the first run recorded each report's year before,
            // so those reading it keep their findings.
            1 => {
                assert_eq!(row[2], "a word list", "{row:?}");
                assert_eq!(per_report, 2.0, "{row:?}");
            }
            _ => {
                assert_eq!(row[2], "the largest rule", "{row:?}");
                assert_eq!(per_report, 2.0, "{row:?}");
            }
        }
        // Every parsed report of the 300 (one in 200 is an unreadable file, not audited).
        let reports: usize = row[4].replace(',', "").parse().expect("reports");
        assert!((297..=300).contains(&reports), "{row:?}");
        // Each run audits with an edited pack: every report's findings are written again.
        let rewritten: usize = row[5].replace(',', "").parse().expect("rewritten");
        assert_eq!(rewritten, reports, "{row:?}");
        assert!(row[6].parse::<f64>().is_ok_and(|s| s > 0.0), "{row:?}");
        assert!(row[11].parse::<f64>().is_ok_and(|mb| mb > 0.0), "{row:?}");
    }
}

/// `bench rules` measures the rules both ways on the same corpus: report by report (as the
/// daemon runs them) and in batches (as `check` and `reaudit` do), a row per thread count each.
#[test]
fn a_tiny_rules_bench_measures_both_ways() {
    let out = bench(&[
        "rules",
        "--files",
        "40",
        "--threads",
        "1,2",
        "--gbk",
        "0",
        "--html",
        "0",
    ]);
    for stage in [
        "| parse + rules             |",
        "| parse + rules, in batches |",
    ] {
        assert_eq!(out.matches(stage).count(), 2, "{out}");
    }
    // Each row's rate is a number of reports per second, not a blank.
    for line in out.lines().filter(|l| l.starts_with("| parse + rules")) {
        let rate = line.split('|').nth(4).map(str::trim).unwrap_or_default();
        assert!(rate.parse::<f64>().is_ok_and(|r| r > 0.0), "{line}");
    }
}

/// `bench daemon --units N` has the daemon's own program import a register of N units (a
/// province's cities, districts and bureaus) before it starts, so the daemon meets it for
/// every report.
#[test]
fn a_daemon_bench_with_a_register_imports_it_first() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tmp_arg = tmp.path().to_string_lossy().into_owned();
    let out = bench(&[
        "daemon",
        "--files",
        "10",
        "--singles",
        "1",
        "--units",
        "230",
        "--keep",
        "--tmp",
        &tmp_arg,
    ]);
    assert!(
        out.contains("register: 230 units, imported before the daemon starts"),
        "{out}"
    );
    let kept: Vec<std::path::PathBuf> = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .flatten()
        .map(|e| e.path().join("data/ogi-audit.sqlite"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(kept.len(), 1, "one kept daemon folder: {kept:?}");
    let db = rusqlite::Connection::open(&kept[0]).expect("db");
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT COUNT(*) FROM units"), 230);
    assert_eq!(
        count("SELECT COUNT(*) FROM units WHERE kind = 'government'"),
        // The first city's government and its 16 districts' (a city is 238 units: 13 bureaus
        // of its own, 16 districts of 14 units each).
        1 + 16
    );
    assert_eq!(count("SELECT COUNT(*) FROM reports"), 11);
}
