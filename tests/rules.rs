//! The rule engine and the shipped rule pack, on the real reports.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{repo, seed, BIN};

use std::sync::Arc;

use ogi_audit::model::{Finding, Report, Severity};
use ogi_audit::pipeline;
use ogi_audit::rules::{Limits, Reach, RuleSet, Subject};

fn pack() -> RuleSet {
    let set = RuleSet::load(&repo().join("rules"), Limits::default()).expect("rules dir");
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    set
}

fn findings_for_bytes(set: &RuleSet, bytes: &[u8]) -> Vec<Finding> {
    let outcome = pipeline::read_bytes(Path::new("x.txt"), bytes);
    let report = outcome.report.expect("parsed");
    set.run(&report, None)
}

fn findings(set: &RuleSet, path: &Path) -> Vec<Finding> {
    findings_for_bytes(set, &std::fs::read(path).expect("read"))
}

fn has(f: &[Finding], rule: &str, text: &str) -> bool {
    f.iter().any(|x| x.rule == rule && x.message.contains(text))
}

const IDENTITIES: [&str; 4] = [
    "t3-balance",
    "t3-processed-total",
    "t3-column-total",
    "t4-totals",
];

#[test]
fn the_pack_loads_with_all_shipped_ids() {
    let set = pack();
    for id in [
        "t3-balance",
        "t3-processed-total",
        "t3-column-total",
        "t4-totals",
        "counts-valid",
        "sections-present",
        "period-stated",
        "contact-stated",
        "template-year",
        "reply-rate-stated",
        "reply-rate-consistent",
        "percentages-consistent",
        "narrative-vs-tables",
        "fee-reported",
        "problems-concrete",
        "cross-year-carryover",
    ] {
        assert!(set.get(id).is_some(), "rule {id} missing");
    }
}

#[test]
fn seeds_get_their_real_findings_and_no_identity_finding() {
    let set = pack();
    let all: Vec<(String, Vec<Finding>)> = ["000", "001", "002", "003", "004"]
        .iter()
        .map(|s| (s.to_string(), findings(&set, &seed(s))))
        .collect();
    for (name, f) in &all {
        for id in IDENTITIES {
            assert!(
                !f.iter().any(|x| x.rule == id),
                "{name}: {id} fired: {f:#?}"
            );
        }
        assert!(!f.iter().any(|x| x.rule == "rule-error"), "{name}: {f:#?}");
    }
    let get = |n: &str| &all.iter().find(|(k, _)| k == n).expect("seed").1;
    // 002: 被纠正10起 (table: 11) and 行政诉讼31起 (table: 16 + 6 = 22); its 99.84% is right.
    assert!(
        has(get("002"), "narrative-vs-tables", "10"),
        "{:#?}",
        get("002")
    );
    assert!(
        has(get("002"), "narrative-vs-tables", "31"),
        "{:#?}",
        get("002")
    );
    assert!(!get("002").iter().any(|x| x.rule == "reply-rate-consistent"));
    // 004: 办理…64件 against 73 in table 3.
    assert!(
        has(get("004"), "narrative-vs-tables", "64"),
        "{:#?}",
        get("004")
    );
    // 003: the cut page has no 一、总体情况.
    assert!(
        has(get("003"), "sections-present", "总体情况"),
        "{:#?}",
        get("003")
    );
    // 001 states no reply rate; 000, 002 and 004 state rates of other channels only (政民互动,
    // 网上民声, 政府信箱), not of requests; 003 received no requests and needs none.
    for s in ["000", "001", "002", "004"] {
        assert!(get(s).iter().any(|x| x.rule == "reply-rate-stated"), "{s}");
    }
    assert!(!get("003").iter().any(|x| x.rule == "reply-rate-stated"));
}

#[test]
fn altered_seeds_make_the_matching_rule_fire() {
    let set = pack();
    let text = std::fs::read_to_string(seed("000")).expect("seed");
    // The 本年新收 row's 总计 cell 58 → 59: the row total and the balance break.
    let row = "一、本年新收政府信息公开申请数量 | 58 | 0 | 0 | 0 | 0 | 0 | 58 |";
    assert!(text.contains(row));
    let altered = text.replace(
        row,
        "一、本年新收政府信息公开申请数量 | 58 | 0 | 0 | 0 | 0 | 0 | 59 |",
    );
    let f = findings_for_bytes(&set, altered.as_bytes());
    assert!(f.iter().any(|x| x.rule == "t3-column-total"), "{f:#?}");
    assert!(f
        .iter()
        .any(|x| x.rule == "t3-balance" && x.severity == Severity::Error));

    // (七)总计 53 → 54: the processed total breaks (and the balance).
    let row = "(七)总计 | 53 | 0 | 0 | 0 | 0 | 0 | 53 |";
    assert!(text.contains(row));
    let altered = text.replace(row, "(七)总计 | 54 | 0 | 0 | 0 | 0 | 0 | 54 |");
    let f = findings_for_bytes(&set, altered.as_bytes());
    assert!(f.iter().any(|x| x.rule == "t3-processed-total"), "{f:#?}");

    // Table 4: review total 6 → 7.
    let row = "4 | 2 | 0 | 0 | 6 | 3 | 0 | 1 | 0 | 4 |";
    assert!(text.contains(row));
    let altered = text.replace(row, "4 | 2 | 0 | 0 | 7 | 3 | 0 | 1 | 0 | 4 |");
    let f = findings_for_bytes(&set, altered.as_bytes());
    assert!(f.iter().any(|x| x.rule == "t4-totals"), "{f:#?}");

    // The year moved past 2020 with the 2019 template kept.
    let altered = text.replace("2020年", "2022年");
    let f = findings_for_bytes(&set, altered.as_bytes());
    assert!(f.iter().any(|x| x.rule == "template-year"), "{f:#?}");

    // Seed 002's 99.84% changed so that it no longer matches 16149/16175.
    let text = std::fs::read_to_string(seed("002")).expect("seed");
    assert!(text.contains("99.84%"));
    let f = findings_for_bytes(&set, text.replace("99.84%", "98.84%").as_bytes());
    assert!(
        f.iter().any(|x| x.rule == "reply-rate-consistent"),
        "{f:#?}"
    );
}

/// A rule file of the pack: `ID.rhai` with [`rule_src`].
fn rule_file(id: &str, body: &str) -> (PathBuf, String) {
    (PathBuf::from(format!("{id}.rhai")), rule_src(id, body))
}

fn rule_src(id: &str, body: &str) -> String {
    format!(
        "const ID = \"{id}\";\nconst TITLE = \"测试\";\nconst SEVERITY = \"warning\";\n\
         const DESCRIPTION = \"\";\n\nfn check(report) {{\n{body}\n}}\n"
    )
}

#[test]
fn a_broken_rule_is_reported_and_the_others_still_run() {
    let set = RuleSet::from_sources(
        vec![
            rule_file("ok", "    [finding(`年度 ${report.year}`)]"),
            rule_file("loop", "    loop { }"),
            rule_file("throw", "    let x = 1;\n    throw \"坏了\";"),
            rule_file("mutate", "    report.year = 1999;\n    []"),
            rule_file("syntax", "    let x = ;"),
            rule_file("after", "    [finding(`仍是 ${report.year}`)]"),
        ],
        Limits::default(),
    );
    assert_eq!(set.errors.len(), 1, "{:?}", set.errors);
    let e = set.errors[0].to_string();
    assert!(e.starts_with("syntax.rhai:7:"), "{e}");
    let f = findings(&set, &seed("000"));
    assert!(has(&f, "ok", "2020"), "{f:#?}");
    assert!(
        has(&f, "after", "仍是 2020"),
        "a rule cannot change the report for the next: {f:#?}"
    );
    let errors: Vec<&Finding> = f.iter().filter(|x| x.rule == "rule-error").collect();
    assert_eq!(errors.len(), 3, "{f:#?}");
    assert!(errors.iter().any(|x| x.message.contains("loop")));
    assert!(
        errors.iter().any(|x| x.message.contains("throw.rhai:8")),
        "{errors:#?}"
    );
    assert!(errors.iter().any(|x| x.message.contains("mutate")));
}

/// Run over a batch (as `check` and `reaudit` run them), the rules find on each report what
/// they find on it alone: the same findings in the same order, last year's report seen by the
/// report it belongs to, a rule failing on one report failing there only.
#[test]
fn a_batch_finds_what_one_report_at_a_time_finds() {
    let mut sources: Vec<(PathBuf, String)> = std::fs::read_dir(repo().join("rules"))
        .expect("rules dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .map(|p| {
            let src = std::fs::read_to_string(&p).expect("rule");
            (p, src)
        })
        .collect();
    sources.sort();
    sources.push(rule_file(
            "picky",
            "    if report.year == 2019 { throw \"不要2019\"; }\n    \
             [finding(`上年 ${if report.previous == () { \"无\" } else { report.previous.year }}`)]",
        ));
    let set = RuleSet::from_sources(sources, Limits::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut files: Vec<PathBuf> = ["seeds", "samples"]
        .iter()
        .flat_map(|d| std::fs::read_dir(repo().join("tests/fixtures").join(d)).expect("fixtures"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x != "md"))
        .collect();
    files.sort();
    let mut reports: Vec<Arc<Report>> = files
        .iter()
        .filter_map(|p| pipeline::read_file(p).report)
        .collect();
    assert_eq!(reports.len(), 11, "every real report is read");
    // A report of 2020 again as its issuer's report of the year before.
    let first = reports
        .iter()
        .position(|r| r.year == Some(2020))
        .expect("a report of 2020");
    let mut older = Report::clone(&reports[first]);
    older.year = older.year.map(|y| y - 1);
    reports.push(Arc::new(older));
    let last = reports.len() - 1;
    let previous_of = |i: usize| (i == first).then(|| reports[last].clone());
    let alone: Vec<Vec<Finding>> = (0..reports.len())
        .map(|i| set.run(&reports[i], previous_of(i).as_ref()))
        .collect();
    let previous: Vec<Option<Arc<Report>>> = (0..reports.len()).map(previous_of).collect();
    let batch = set.run_batch(
        reports
            .iter()
            .zip(&previous)
            .map(|(r, p)| Subject::new(r, p.as_ref()))
            .collect(),
    );
    assert_eq!(batch.len(), reports.len());
    for (i, (a, b)) in alone.iter().zip(&batch).enumerate() {
        let key = |f: &[Finding]| {
            f.iter()
                .map(|x| (x.rule.clone(), x.message.clone(), x.evidence.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(a), key(b), "report {i}");
    }
    let said = |i: usize, what: &str| {
        batch[i]
            .iter()
            .any(|f| f.rule == "picky" && f.message == what)
    };
    assert!(said(first, "上年 2019"), "{:#?}", batch[first]);
    assert!(said(first + 1, "上年 无") || reports[first + 1].year == Some(2019));
    let failed: Vec<usize> = (0..batch.len())
        .filter(|&i| {
            batch[i]
                .iter()
                .any(|f| f.rule == "rule-error" && f.message.contains("不要2019"))
        })
        .collect();
    let of_2019: Vec<usize> = (0..reports.len())
        .filter(|&i| reports[i].year == Some(2019))
        .collect();
    assert!(!of_2019.is_empty());
    assert_eq!(failed, of_2019);
    assert!(
        batch
            .iter()
            .filter(|f| f
                .iter()
                .any(|x| x.rule.starts_with("t3-") || x.rule.starts_with("narrative")))
            .count()
            > 3,
        "the pack's own rules found something on the real reports"
    );
}

/// “所有申请均已办结” against requests carried into next year: the evidence names the cells the
/// number came from, the row's total, or the applicants' columns when the total was not read.
#[test]
fn all_requests_done_cites_the_cells_it_counted() {
    let set = pack();
    let path = repo().join("tests/fixtures/samples/2024-shanghai-kewei.txt");
    let read = Arc::new(pipeline::read_file(&path).report.expect("parsed"));
    let ids = ["narrative-vs-tables".to_string()];
    let cited = |report: &Arc<Report>| -> (String, Vec<(String, String)>) {
        let f = set.run_only(report, None, &ids);
        let done = f
            .iter()
            .find(|f| f.message.contains("所有申请均已按要求办理完成"))
            .unwrap_or_else(|| panic!("{f:#?}"));
        let cells = done.evidence["cells"]
            .as_array()
            .expect("cells")
            .iter()
            .map(|c| {
                (
                    c["row"].as_str().unwrap_or_default().to_string(),
                    c["column"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        (done.message.clone(), cells)
    };
    // In this report's text the total of 结转下年度 is blank (an extraction artifact, see
    // tests/fixtures/samples/README.md): the applicants' columns are what was counted.
    assert!(read.table3["carried_forward"]["total"].is_none());
    let (message, cells) = cited(&read);
    assert!(message.contains("各类申请人之和为1件"), "{message}");
    let columns: Vec<String> = cells
        .iter()
        .map(|(row, col)| {
            assert_eq!(row, "carried_forward");
            col.clone()
        })
        .collect();
    assert_eq!(
        columns,
        [
            "natural_person",
            "commercial",
            "research",
            "social_welfare",
            "legal_service",
            "other_org"
        ]
    );

    // With the total printed, the total is counted and cited.
    let mut total = Report::clone(&read);
    if let Some(row) = total.table3.get_mut("carried_forward") {
        row.insert("total".to_string(), Some(1));
    }
    if let Some(row) = total
        .raw_cells
        .get_mut("table3")
        .and_then(|t| t.get_mut("carried_forward"))
    {
        row.insert("total".to_string(), "1".to_string());
    }
    let (message, cells) = cited(&Arc::new(total));
    assert!(message.contains("总计为1件"), "{message}");
    assert_eq!(
        cells,
        [("carried_forward".to_string(), "total".to_string())]
    );
}

/// A pack's word lists (`lists/NAME.txt`) and the config's settings reach the scripts; both
/// count in the rule set's version, and a list the pack lacks is a rule error naming those it
/// has.
#[test]
fn word_lists_and_settings_reach_the_scripts() {
    let body = "    let hits = [];\n    for p in word_list(\"words\") { if report.text.contains(p) { hits.push(p); } }\n    \
                [finding(`${join(hits, \",\")}|${setting(\"due\")}`)]";
    let pack = |list: &str| {
        RuleSet::from_sources(
            vec![
                (PathBuf::from("lists/words.txt"), list.to_string()),
                rule_file("uses", body),
                rule_file("missing", "    word_list(\"nope\"); []"),
            ],
            Limits::default(),
        )
    };
    let message = |set: &RuleSet| {
        findings(set, &seed("000"))
            .into_iter()
            .map(|f| (f.rule, f.message))
            .collect::<Vec<_>>()
    };
    let one = pack("# 注释\n经开区\n\n  没有的词  \n");
    assert!(one.errors.is_empty(), "{:?}", one.errors);
    let got = message(&one);
    assert!(got.contains(&("uses".into(), "经开区|".into())), "{got:?}");
    assert!(
        got.iter().any(|(rule, m)| rule == "rule-error"
            && m.contains("no word list `nope`")
            && m.contains("lists: words")),
        "{got:?}"
    );
    // Another list: other findings, another version.
    let two = pack("政务公开\n");
    assert!(message(&two).contains(&("uses".into(), "政务公开|".into())));
    assert_ne!(one.version, two.version);
    // Settings: read at run time, and part of the version.
    let version = one.version.clone();
    let mut settings = rhai::Map::new();
    settings.insert("due".into(), rhai::Dynamic::from("01-31"));
    let with = one.with_settings(settings);
    assert!(message(&with).contains(&("uses".into(), "经开区|01-31".into())));
    assert_ne!(with.version, version);
}

/// Each rule's digest changes with what its findings depend on: its own text, the word lists
/// and settings it reads; not with another rule's text, nor with a list or a setting it does not
/// read. A rule naming the year before (or the register) is marked as reading it.
#[test]
fn a_rules_digest_follows_its_text_lists_and_settings_only() {
    let pack_in = |dir: &str, a: &str, list: &str| {
        let at = |name: &str| Path::new(dir).join(name);
        RuleSet::from_sources(
            vec![
                (at("lists/words.txt"), list.to_string()),
                (at("a.rhai"), rule_src("a", a)),
                (at("b.rhai"), rule_src("b", "    []")),
                (
                    at("c.rhai"),
                    rule_src(
                        "c",
                        "    if report.previous == () { [] } else { [finding(\"有上年\")] }",
                    ),
                ),
            ],
            Limits::default(),
        )
    };
    let pack = |a: &str, list: &str| pack_in("rules", a, list);
    let digests =
        |set: &RuleSet| -> Vec<String> { set.rules.iter().map(|r| r.digest.clone()).collect() };
    let one = pack("    []", "甲\n");
    assert!(one.errors.is_empty(), "{:?}", one.errors);
    let d1 = digests(&one);
    assert_eq!(d1.len(), 3);
    assert!(d1.iter().all(|d| d.len() == 12) && d1[0] != d1[1]);
    assert_eq!(
        d1,
        digests(&pack("    []", "甲\n")),
        "the same sources, the same digests"
    );
    assert_eq!(d1, digests(&one.fork()));
    let moved = pack_in("/srv/other/pack", "    []", "甲\n");
    assert_eq!(d1, digests(&moved), "wherever the pack is");
    assert_eq!(moved.version, one.version, "wherever the pack is");
    // Renamed within the pack: another version.
    let renamed = RuleSet::from_sources(
        vec![
            (
                Path::new("rules/lists/words.txt").into(),
                "甲\n".to_string(),
            ),
            (Path::new("rules/a2.rhai").into(), rule_src("a", "    []")),
            (Path::new("rules/b.rhai").into(), rule_src("b", "    []")),
            (
                Path::new("rules/c.rhai").into(),
                rule_src(
                    "c",
                    "    if report.previous == () { [] } else { [finding(\"有上年\")] }",
                ),
            ),
        ],
        Limits::default(),
    );
    assert_ne!(renamed.version, one.version);
    // Rule a edited: its digest alone changes (and the pack's version).
    let edited = pack("    // 改过\n    []", "甲\n");
    let d2 = digests(&edited);
    assert_ne!(d2[0], d1[0]);
    assert_eq!(d2[1..], d1[1..]);
    assert_ne!(edited.version, one.version);
    // A word list or a setting: the digests of the rules reading it. Rule a reads the list
    // `words` and the setting `due`.
    let reads = "    let w = word_list(\"words\");\n    let d = setting( \"due\" );\n    []";
    let before = digests(&pack(reads, "甲\n"));
    let d3 = digests(&pack(reads, "乙\n"));
    assert_ne!(d3[0], before[0]);
    assert_eq!(
        d3[1..],
        before[1..],
        "the rules not reading the list keep theirs"
    );
    let with = |settings: &[(&str, &str)]| {
        let map: rhai::Map = settings
            .iter()
            .map(|(k, v)| ((*k).into(), rhai::Dynamic::from(v.to_string())))
            .collect();
        digests(&pack(reads, "甲\n").with_settings(map))
    };
    let d4 = with(&[("due", "01-31")]);
    assert_ne!(d4[0], before[0]);
    assert_eq!(
        d4[1..],
        before[1..],
        "the rules not reading settings keep theirs"
    );
    assert_ne!(with(&[("due", "02-28")])[0], d4[0]);
    assert_eq!(
        with(&[("due", "01-31"), ("other", "x")]),
        d4,
        "a setting it does not read"
    );
    let mut settings = rhai::Map::new();
    settings.insert("due".into(), rhai::Dynamic::from("01-31"));
    assert_eq!(
        d4,
        digests(&pack(reads, "甲\n").with_settings(settings).fork())
    );
    // A list it reads added to the pack later: its digest changes.
    let without = RuleSet::from_sources(
        vec![(Path::new("rules/a.rhai").into(), rule_src("a", reads))],
        Limits::default(),
    );
    assert_ne!(without.rules[0].digest, before[0]);
    let beyond: Vec<(bool, bool)> = one
        .rules
        .iter()
        .map(|r| (r.reads_previous, r.reads_units))
        .collect();
    assert_eq!(beyond, [(false, false), (false, false), (true, false)]);
}

/// A rule reads the year before and the units only through names its text holds: a re-audit
/// keeps the findings of a rule that names neither when they change, so a name made as the rule
/// runs is an error of the rule, not a read that a re-audit would miss.
#[test]
fn a_rule_reads_the_year_before_and_the_units_only_by_their_names() {
    let set = RuleSet::from_sources(
        vec![
            rule_file(
                "computed",
                "    let p = report[\"prev\" + \"ious\"];\n    [finding(`上年 ${p.year}`)]",
            ),
            rule_file(
                "computed-register",
                "    let u = report[\"un\" + \"its\"];\n    [finding(\"下级\")]",
            ),
            rule_file(
                "named",
                "    let p = report[\"previous\"];\n    [finding(`上年 ${p.year}`)]",
            ),
            rule_file(
                "other",
                "    let k = \"ye\" + \"ar\";\n    [finding(`${report[k]}`)]",
            ),
        ],
        Limits::default(),
    );
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let report = Arc::new(Report {
        organization: Some("某区人民政府".into()),
        year: Some(2022),
        ..Report::default()
    });
    let older = Arc::new(Report {
        year: Some(2021),
        ..Report::clone(&report)
    });
    let findings = set.run(&report, Some(&older));
    let by_rule = |id: &str| -> Vec<&ogi_audit::model::Finding> {
        findings
            .iter()
            .filter(|f| f.rule == id || f.message.starts_with(&format!("规则 {id} ")))
            .collect()
    };
    for (id, field) in [("computed", "previous"), ("computed-register", "units")] {
        let errors = by_rule(id);
        assert_eq!(errors.len(), 1, "{findings:#?}");
        assert_eq!(errors[0].rule, "rule-error", "{id}");
        assert!(
            errors[0].message.contains(&format!("report.{field}")),
            "{}",
            errors[0].message
        );
    }
    assert_eq!(by_rule("named")[0].message, "上年 2021");
    assert_eq!(by_rule("other")[0].message, "2022");
}

/// What a rule can read of the word lists and settings is read from its text: the names it
/// passes as literals, or all of them when it passes anything else or calls through pointers.
#[test]
fn a_rule_reads_the_lists_and_settings_it_names() {
    let named = |names: &[&str]| Reach::Named(names.iter().map(|n| n.to_string()).collect());
    let cases: [(&str, Reach); 9] = [
        ("let x = 1;", named(&[])),
        (
            "word_list(\"a\") + word_list (\"b\") + word_list(\"a\")",
            named(&["a", "b"]),
        ),
        ("let my_word_list = 1; let word_lists = 2;", named(&[])),
        ("let n = \"a\"; word_list(n)", Reach::All),
        ("\"a\".word_list()", Reach::All),
        ("word_list(`a`)", Reach::All),
        ("word_list(\"a\" + \"b\")", Reach::All),
        ("word_list(\"a\\\"\")", Reach::All),
        (
            "let f = Fn(\"word\" + \"_list\"); f.call(\"a\")",
            Reach::All,
        ),
    ];
    for (src, want) in cases {
        assert_eq!(Reach::of(src, "word_list"), want, "{src}");
    }
    // `units` and `previous` as a map's keys are not the report's fields.
    for (body, reads) in [
        (
            "    let o = #{ units: [\"件\"], previous : 1 }; []",
            (false, false),
        ),
        (
            "    let u = report.units; let p = report [\"previous\"]; []",
            (true, true),
        ),
        ("    // 不看 previous\n    []", (true, false)),
    ] {
        let set = RuleSet::from_sources(vec![rule_file("f", body)], Limits::default());
        assert!(set.errors.is_empty(), "{:?}", set.errors);
        let rule = &set.rules[0];
        assert_eq!((rule.reads_previous, rule.reads_units), reads, "{body}");
    }
    // The shipped pack: one rule reads the stock phrases, one every setting.
    let set = RuleSet::load(&repo().join("rules"), Limits::default()).expect("rules dir");
    for rule in &set.rules {
        let (lists, settings) = match rule.id.as_str() {
            "problems-concrete" => (named(&["stock-phrases"]), named(&[])),
            "published-on-time" => (named(&[]), Reach::All),
            _ => (named(&[]), named(&[])),
        };
        assert_eq!(
            (&rule.lists_read, &rule.settings_read),
            (&lists, &settings),
            "{}",
            rule.id
        );
        // `narrative-vs-tables` has `units` as an option's key only.
        assert_eq!(
            rule.reads_units,
            rule.id == "region-covers-units",
            "{}",
            rule.id
        );
    }
}

/// Rules whose earlier findings hold are not run: their findings are the earlier ones, each
/// rule's in its place; the others run.
#[test]
fn a_batch_reusing_earlier_findings_takes_them_in_the_rules_places() {
    let set = RuleSet::from_sources(
        vec![
            rule_file("a", "    [finding(\"a 新\")]"),
            rule_file("b", "    [finding(\"b 新\")]"),
            rule_file("c", "    [finding(\"c 新\")]"),
        ],
        Limits::default(),
    );
    let report = pipeline::read_file(&seed("000")).report.expect("parsed");
    let earlier = |rule: &str, m: &str| Finding {
        rule: rule.to_string(),
        severity: Severity::Info,
        message: m.to_string(),
        evidence: serde_json::json!({}),
    };
    let old = vec![
        earlier("a", "a 旧"),
        earlier("c", "c 旧一"),
        earlier("c", "c 旧二"),
        earlier("b", "b 旧"),
    ];
    let holds: std::collections::HashSet<String> = ["a".to_string(), "c".to_string()].into();
    let got = set.run_batch_reusing(
        vec![Subject::new(&report, None), Subject::new(&report, None)],
        &[
            Some(ogi_audit::rules::Earlier {
                findings: &old,
                holds: &holds,
            }),
            None,
        ],
    );
    let messages = |f: &[Finding]| f.iter().map(|x| x.message.clone()).collect::<Vec<_>>();
    assert_eq!(messages(&got[0]), ["a 旧", "b 新", "c 旧一", "c 旧二"]);
    assert_eq!(messages(&got[1]), ["a 新", "b 新", "c 新"]);
}

/// `in` on an array answers as Rhai's own `==` would, for strings and numbers (compared
/// natively) and for items of any other type among them.
#[test]
fn in_an_array_compares_as_the_script_would() {
    let cases = [
        ("\"a\" in [\"b\", \"a\"]", true),
        ("\"c\" in [\"b\", \"a\"]", false),
        ("\"1\" in [1, 2]", false),
        ("1 in [\"1\", 2.0, 1.0]", true),
        ("2 in [\"2\", 2.0]", true),
        ("3 in [1, 2]", false),
        ("\"a\" in [(), #{a: 1}, [\"a\"], 'b']", false),
        ("\"a\" in [(), 'a']", true),
        ("\"a\" in [(), #{a: 1}, \"a\"]", true),
        ("'a' in [\"a\", 'a']", true),
        ("!(\"x\" in [])", true),
        ("[\"a\", \"b\"].contains(\"b\")", true),
        (
            "{ let v = \"k\"; let f = |x| x == v; [\"k\"].filter(f).len() == 1 && v in [\"k\"] }",
            true,
        ),
    ];
    let sources = cases
        .iter()
        .enumerate()
        .map(|(i, (expr, _))| {
            (
                PathBuf::from(format!("in{i}.rhai")),
                rule_src(&format!("in{i}"), &format!("    [finding(`${{{expr}}}`)]")),
            )
        })
        .collect();
    let set = RuleSet::from_sources(sources, Limits::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let f = findings(&set, &seed("000"));
    for (i, (expr, want)) in cases.iter().enumerate() {
        let got = f
            .iter()
            .find(|x| x.rule == format!("in{i}"))
            .map(|x| x.message.clone());
        assert_eq!(
            got.as_deref(),
            Some(want.to_string().as_str()),
            "{expr}: {f:#?}"
        );
    }
}

#[test]
fn the_deadline_stops_a_slow_rule() {
    let limits = Limits {
        max_operations: u64::MAX / 2,
        deadline: std::time::Duration::from_millis(50),
        ..Limits::default()
    };
    let set = RuleSet::from_sources(
        vec![rule_file("slow", "    let n = 0;\n    loop { n += 1; }")],
        limits,
    );
    let start = std::time::Instant::now();
    let f = findings(&set, &seed("000"));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        f.iter()
            .any(|x| x.rule == "rule-error" && x.message.contains("deadline")),
        "{f:#?}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn rules_test_passes_on_the_pack_and_fails_when_a_rule_is_broken() {
    let out = Command::new(BIN)
        .args(["rules", "test"])
        .arg(repo().join("rules"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");

    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("rules"), dir.path());
    // Break the balance rule: it no longer reports anything.
    let path = dir.path().join("t3-balance.rhai");
    let src = std::fs::read_to_string(&path).expect("rule");
    let broken = src.replace("if a + b != c + d {", "if false {");
    assert_ne!(src, broken);
    std::fs::write(&path, broken).expect("write");
    let out = Command::new(BIN)
        .args(["rules", "test"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn a_new_rule_file_changes_check_without_a_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("rules"), dir.path());
    let run = || {
        let out = Command::new(BIN)
            .args(["check", "--format", "json", "--rules"])
            .arg(dir.path())
            .arg(seed("000"))
            .output()
            .expect("run");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        (out.status.code(), doc["reports"][0]["findings"].clone())
    };
    let (code, before) = run();
    assert_eq!(code, Some(0), "{before}");
    assert!(!before.to_string().contains("office-extra"));
    std::fs::write(
        dir.path().join("office-extra.rhai"),
        "const ID = \"office-extra\";\nconst TITLE = \"本办补充\";\nconst SEVERITY = \"error\";\n\
         fn check(report) { if report.year < 2021 { [finding(\"早于2021年\")] } else { [] } }\n",
    )
    .expect("write");
    let (code, after) = run();
    assert_eq!(code, Some(1), "an error finding makes check exit 1");
    assert!(after.to_string().contains("office-extra"), "{after}");

    // --fail-on raises the bar; the list shows the new rule.
    let out = Command::new(BIN)
        .args(["check", "--fail-on", "error", "--rules"])
        .arg(dir.path())
        .arg(seed("003"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(BIN)
        .args(["rules", "list"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("office-extra"));
}

#[test]
fn the_pack_is_fast_enough_to_measure_not_to_assert() {
    // Timing belongs in `ogi-audit bench`; here only that every rule finishes on every fixture
    // without hitting a limit.
    let set = pack();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures/samples"))
        .expect("samples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.extend(["000", "001", "002", "003", "004"].iter().map(|s| seed(s)));
    for f in files {
        let found = findings(&set, &f);
        assert!(
            !found.iter().any(|x| x.rule == "rule-error"),
            "{}: {found:#?}",
            f.display()
        );
    }
}

/// `claims(report, pattern, #{units, sections})` keeps what the same filter written in the
/// script keeps, on every real report; `()` among the sections keeps claims in none; a
/// misspelt option or a wrong type is an error naming it.
#[test]
fn claims_filtered_by_options_are_those_the_script_would_keep() {
    let body = r#"
    let words = "申请|复议|诉讼|公开|%";
    let by_script = [];
    for c in claims(report, words) {
        if (c.unit == "件" || c.unit == "%") && (c.section == () || c.section == "overview") {
            by_script.push(c.start);
        }
    }
    let by_options = claims(report, words, #{ units: ["件", "%"], sections: ["overview", ()] })
        .map(|c| c.start);
    let units_only = claims(report, words, #{ units: ["件"] }).len();
    [finding(`${by_script == by_options}|${by_script.len()}|${units_only}|${claims(report, words, "件").len()}|${claims(report, words, #{}).len() == claims(report, words).len()}`)]"#;
    let set = RuleSet::from_sources(vec![rule_file("opts", body)], Limits::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut kept = 0;
    for dir in ["seeds", "samples"] {
        for entry in std::fs::read_dir(repo().join("tests/fixtures").join(dir)).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|x| x == "md") {
                continue;
            }
            let Some(report) = pipeline::read_file(&path).report else {
                continue;
            };
            let found = set.run(&report, None);
            let parts: Vec<&str> = found[0].message.split('|').collect();
            assert_eq!(parts[0], "true", "{}: {parts:?}", path.display());
            assert_eq!(parts[2], parts[3], "{}: units alone", path.display());
            assert_eq!(parts[4], "true", "{}: no option, no filter", path.display());
            kept += parts[1].parse::<usize>().expect("count");
        }
    }
    assert!(kept > 20, "the filter kept claims to compare: {kept}");
    for (options, error) in [
        ("#{ unit: [\"件\"] }", "no option `unit`"),
        ("#{ units: \"件\" }", "`units` must be an array"),
        ("#{ sections: [1] }", "`sections` holds strings"),
    ] {
        let set = RuleSet::from_sources(
            vec![rule_file(
                "bad",
                &format!("    claims(report, \"申请\", {options}); []"),
            )],
            Limits::default(),
        );
        let report = pipeline::read_file(&seed("000")).report.expect("parsed");
        let found = set.run(&report, None);
        assert!(
            found
                .iter()
                .any(|f| f.rule == "rule-error" && f.message.contains(error)),
            "{options}: {found:?}"
        );
    }
}

/// `rows_not_adding_up` and `columns_not_adding_up` give exactly the rows and columns their
/// definition gives when a script works it out cell by cell (blanks and unread cells taken as
/// 0), on every seed and on its tables altered: a total off by one, a blank part, a blank total,
/// an unread cell, a balance broken. The identity rules look at those rows only.
#[test]
fn the_rows_and_columns_not_adding_up_are_those_worked_out_cell_by_cell() {
    let body = r#"
    let n = |v| if v == () { 0 } else { v };
    let rows = [];
    for row in t3_rows(report) {
        let sum = 0;
        for col in applicant_columns() { sum += n.call(t3(report, row, col)); }
        if n.call(t3(report, row, "total")) != sum { rows.push(row); }
    }
    let groups = [];
    for g in t4_groups() {
        let sum = 0;
        for col in ["upheld", "corrected", "other", "pending"] { sum += n.call(t4(report, g, col)); }
        if n.call(t4(report, g, "total")) != sum { groups.push(g); }
    }
    let cols = [];
    for col in t3_columns() {
        let left = n.call(t3(report, "new_received", col)) + n.call(t3(report, "carried_over", col));
        let right = n.call(t3(report, "total_processed", col)) + n.call(t3(report, "carried_forward", col));
        if left != right { cols.push(col); }
    }
    let want = `${join(rows, ",")}|${join(groups, ",")}|${join(cols, ",")}`;
    let got = join(rows_not_adding_up(report, "table3", "total", applicant_columns()), ",") + "|"
        + join(rows_not_adding_up(report, "table4", "total", ["upheld", "corrected", "other", "pending"]), ",") + "|"
        + join(columns_not_adding_up(report, "table3", ["new_received", "carried_over"], ["total_processed", "carried_forward"]), ",");
    [finding(got), finding(want)]"#;
    let set = RuleSet::from_sources(vec![rule_file("sums", body)], Limits::default());
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    fn set_cell(r: &mut Report, table: &str, row: &str, col: &str, v: Option<i64>, printed: bool) {
        let t = if table == "table3" {
            &mut r.table3
        } else {
            &mut r.table4
        };
        t.entry(row.into()).or_default().insert(col.into(), v);
        let raw = r
            .raw_cells
            .entry(table.into())
            .or_default()
            .entry(row.into())
            .or_default();
        if printed {
            raw.insert(col.into(), v.map_or(String::new(), |v| v.to_string()));
        } else {
            raw.remove(col);
        }
    }
    /// What is done to a report's tables, and how it is called.
    type Alteration = (&'static str, fn(&mut Report));
    let alterations: [Alteration; 6] = [
        ("as printed", |_| {}),
        ("a total off by one", |r| {
            let v = r.count("table3", "granted", "total").unwrap_or(0);
            set_cell(r, "table3", "granted", "total", Some(v + 1), true);
        }),
        ("a blank part", |r| {
            set_cell(r, "table3", "new_received", "natural_person", None, true)
        }),
        ("a blank total", |r| {
            set_cell(r, "table3", "new_received", "total", None, true)
        }),
        ("an unread part", |r| {
            set_cell(
                r,
                "table3",
                "carried_forward",
                "natural_person",
                None,
                false,
            )
        }),
        ("a group's total off by two", |r| {
            let v = r.count("table4", "review", "total").unwrap_or(0);
            set_cell(r, "table4", "review", "total", Some(v + 2), true);
        }),
    ];
    let mut found_some = 0;
    for path in common::seeds() {
        let bytes = std::fs::read(&path).expect("seed");
        let parsed = pipeline::read_bytes(Path::new("x.txt"), &bytes)
            .report
            .expect("parsed");
        for (what, alter) in &alterations {
            let mut report = (*parsed).clone();
            alter(&mut report);
            let f = set.run(&Arc::new(report), None);
            assert_eq!(f.len(), 2, "{what}: {f:#?}");
            assert_eq!(f[0].message, f[1].message, "{} {what}", path.display());
            if f[0].message != "||" {
                found_some += 1;
            }
        }
    }
    assert!(
        found_some >= 20,
        "the alterations should break some sums: {found_some}"
    );
}
