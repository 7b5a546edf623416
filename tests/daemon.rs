//! The daemon end to end: the real binary, a real watched folder, a real SQLite file.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{repo, seed, seeds, wait_for, walk, Daemon, BIN, RULE_ALWAYS};

#[test]
fn seeds_are_audited_once_and_archived() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    for s in seeds() {
        d.drop_file(&s, s.file_name().and_then(|n| n.to_str()).expect("name"));
    }
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 5 && d.inbox_files() == 0
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'"),
        5
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        5
    );
    let org: String = d
        .db()
        .query_row(
            "SELECT organization FROM reports WHERE path LIKE '%001_%'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert_eq!(org, "淮南市人民政府办公室");
    // The same reports again, under other names: nothing new is stored, the files are archived.
    for (i, s) in seeds().iter().enumerate() {
        d.drop_file(s, &format!("copy-{i}.txt"));
    }
    wait_for(Duration::from_secs(20), || d.inbox_files() == 0);
    assert_eq!(d.count("SELECT COUNT(*) FROM reports"), 5);
    assert_eq!(d.count("SELECT COUNT(*) FROM findings"), 5);
    assert_eq!(walk(&d.path("archive")).len(), 10, "nothing is deleted");
}

#[test]
fn slow_writes_are_read_only_when_settled() {
    let d = Daemon::start(&[]);
    let bytes = std::fs::read(seed("000")).expect("seed");
    let target = d.path("inbox").join("slow.txt");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&target).expect("create");
        for chunk in bytes.chunks(bytes.len() / 5 + 1) {
            f.write_all(chunk).expect("write");
            f.flush().expect("flush");
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 1
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'"),
        1,
        "{}",
        d.log()
    );
    let z: Vec<u8> = d
        .db()
        .query_row("SELECT z FROM models", [], |r| r.get(0))
        .expect("row");
    let report = ogi_audit::store::codec::decode(&z).expect("stored model");
    assert_eq!(report.table3["carried_forward"]["total"], Some(5));
}

#[test]
fn unparseable_files_are_quarantined_with_the_reason() {
    let d = Daemon::start_full(&[], "max_file_size = \"40KB\"\n", "");
    // Larger than the cap: quarantined without being read.
    std::fs::write(d.path("inbox").join("huge.txt"), vec![b'x'; 100_000]).expect("write");
    std::fs::write(d.path("inbox").join("notes.txt"), "今天天气很好。").expect("write");
    std::fs::write(d.path("inbox").join("empty.txt"), "").expect("write");
    std::fs::write(d.path("inbox").join("~$draft.docx"), "lock file").expect("write");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 3
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE error LIKE 'too large%'"),
        1,
        "{}",
        d.log()
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'unparseable' AND error != ''"),
        3
    );
    wait_for(Duration::from_secs(5), || {
        d.path("quarantine/notes.txt.reason.txt").exists()
    });
    let reason =
        std::fs::read_to_string(d.path("quarantine/notes.txt.reason.txt")).expect("reason");
    assert!(reason.contains("not an annual report"), "{reason}");
    assert!(d.path("quarantine/empty.txt").exists());
    // Temporary files are left alone.
    assert!(d.path("inbox/~$draft.docx").exists());
}

#[test]
fn rules_reload_without_restart_and_a_broken_set_keeps_the_last_good_one() {
    let d = Daemon::start(&[]);
    d.drop_file(&seed("000"), "a.txt");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 1
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM findings"), 0);

    std::fs::write(d.path("rules/always.rhai"), RULE_ALWAYS).expect("add rule");
    wait_for(Duration::from_secs(10), || {
        d.log().contains("rule set reloaded")
    });
    d.drop_file(&seed("001"), "b.txt");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 2
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        1
    );

    std::fs::write(
        d.path("rules/broken.rhai"),
        "const ID = \"broken\";\nfn check(report) { let x = ; }\n",
    )
    .expect("broken rule");
    wait_for(Duration::from_secs(10), || {
        d.log().contains("previous rule set stays active")
    });
    assert!(d.log().contains("broken.rhai:2:"), "{}", d.log());
    d.drop_file(&seed("002"), "c.txt");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 3
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        2
    );
    // Each finding records the rule set that produced it.
    assert_eq!(d.count("SELECT COUNT(DISTINCT ruleset) FROM findings"), 1);
    assert_eq!(d.count("SELECT COUNT(*) FROM rulesets"), 2);
}

#[test]
fn sigterm_stops_cleanly() {
    let mut d = Daemon::start(&[]);
    let status = d.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(d.log().contains("stopped"));
}

#[test]
fn sigkill_during_a_burst_loses_nothing_and_stores_nothing_twice() {
    let mut d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    let sources: Vec<Vec<u8>> = seeds()
        .iter()
        .map(|s| std::fs::read(s).expect("seed"))
        .collect();
    let staging = d.path("staging");
    std::fs::create_dir_all(&staging).expect("staging");
    let total = 500;
    for i in 0..total {
        // Distinct content: the seed with a line of its own at the end.
        let mut bytes = sources[i % sources.len()].clone();
        bytes.extend(format!("\n附:第{i}份\n").as_bytes());
        let name = format!("r{i:04}.txt");
        std::fs::write(staging.join(&name), &bytes).expect("write");
    }
    for i in 0..total {
        let name = format!("r{i:04}.txt");
        std::fs::rename(staging.join(&name), d.path("inbox").join(&name)).expect("move in");
    }
    // Kill it in the middle of the burst.
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports") >= 20
    });
    d.kill();
    let stored_at_kill = d.count("SELECT COUNT(*) FROM reports");
    assert!(
        stored_at_kill < total as i64,
        "the burst was over before the kill"
    );
    d.spawn();
    wait_for(Duration::from_secs(60), || d.inbox_files() == 0);
    assert_eq!(d.count("SELECT COUNT(*) FROM reports"), total as i64);
    assert_eq!(
        d.count("SELECT COUNT(DISTINCT sha256) FROM reports"),
        total as i64
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'"),
        total as i64
    );
    // Every report has exactly its one finding of the `always` rule.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM (SELECT report_id FROM findings GROUP BY report_id HAVING COUNT(*) != 1)"),
        0
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM findings"), total as i64);
    assert_eq!(
        walk(&d.path("archive")).len(),
        total,
        "every file archived, none lost"
    );
}

#[test]
fn last_years_report_from_the_store_reaches_the_rules_and_reaudit_refreshes() {
    let carryover =
        std::fs::read_to_string(repo().join("rules/cross-year-carryover.rhai")).expect("rule");
    let d = Daemon::start(&[("cross-year-carryover.rhai", &carryover)]);
    // Seed 000 is the 2020 report (结转下年度 5); the same office's "2021" report carries over 0.
    d.drop_file(&seed("000"), "2020.txt");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 1
    });
    let next = std::fs::read_to_string(seed("000"))
        .expect("seed")
        .replace("2020年", "2021年");
    let staging = d.path("next.txt");
    std::fs::write(&staging, next).expect("write");
    std::fs::rename(&staging, d.path("inbox/2021.txt")).expect("move in");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 2
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM reports WHERE year = 2021"), 1);
    assert!(
        d.count("SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.year = 2021 AND f.rule = 'cross-year-carryover'") >= 1,
        "{}",
        d.log()
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.year = 2020"), 0);

    // reaudit with a changed rule set: each report gets findings of the new version, once.
    std::fs::write(d.path("rules/always.rhai"), RULE_ALWAYS).expect("rule");
    let out = Command::new(BIN)
        .args(["reaudit", "--config"])
        .arg(d.path("ogi-audit.toml"))
        .output()
        .expect("reaudit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 of 2"));
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        2
    );
    // The re-audit read 2020 (decoded for its own audit just before) as 2021's year before.
    assert!(
        d.count("SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.year = 2021 AND f.rule = 'cross-year-carryover' AND f.ruleset = r.ruleset") >= 1,
        "{}",
        d.log()
    );
    let again = Command::new(BIN)
        .args(["reaudit", "--config"])
        .arg(d.path("ogi-audit.toml"))
        .output()
        .expect("reaudit");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 of 2"));
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        2
    );

    // findings and status read the store.
    let out = Command::new(BIN)
        .args(["findings", "--format", "csv", "--config"])
        .arg(d.path("ogi-audit.toml"))
        .output()
        .expect("findings");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("report_id,organization,year"), "{csv}");
    assert!(csv.contains("cross-year-carryover"), "{csv}");
    let out = Command::new(BIN)
        .args(["status", "--format", "json", "--config"])
        .arg(d.path("ogi-audit.toml"))
        .output()
        .expect("status");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["summary"]["reports"], 2);
}

#[test]
fn html_docx_and_pdf_reports_are_audited_like_text_reports() {
    let d = Daemon::start(&[]);
    let page = repo().join("tests/fixtures/generated/002_51f17e08e942b61d.gbk.html");
    d.drop_file(&page, "yantai.html");
    d.drop_file(&seed("002"), "yantai.txt");
    // The Word version is the same report in another form: distinct content, same tables.
    let docx = repo().join("tests/fixtures/generated/002_51f17e08e942b61d.docx");
    d.drop_file(&docx, "yantai.docx");
    let pdf = repo().join("tests/fixtures/generated/002_51f17e08e942b61d.pdf");
    d.drop_file(&pdf, "yantai.pdf");
    std::fs::write(
        d.path("staging-scan.png"),
        [0x89, b'P', b'N', b'G', 13, 10, 26, 10, 0, 0],
    )
    .expect("png");
    std::fs::rename(d.path("staging-scan.png"), d.path("inbox/scan.png")).expect("move in");
    wait_for(Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM reports") == 5
    });
    let tables: Vec<String> = {
        let db = d.db();
        let mut stmt = db
            .prepare("SELECT m.z FROM reports r JOIN models m ON m.report_id = r.id WHERE r.status = 'parsed' ORDER BY r.path")
            .expect("query");
        stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
            .expect("rows")
            .map(|z| {
                let r = ogi_audit::store::codec::decode(&z.expect("row")).expect("model");
                format!("{:?}{:?}", r.table3, r.table4)
            })
            .collect()
    };
    assert_eq!(tables.len(), 4, "html, docx, pdf and text are four reports");
    assert!(
        tables.iter().all(|t| *t == tables[0]),
        "the HTML page, the Word document, the PDF and the text give the same tables"
    );
    let error: String = d
        .db()
        .query_row(
            "SELECT error FROM reports WHERE status = 'unparseable'",
            [],
            |r| r.get(0),
        )
        .expect("png row");
    assert!(
        error.contains("unsupported format") && error.contains("image"),
        "{error}"
    );
    wait_for(Duration::from_secs(5), || {
        d.path("quarantine/scan.png.reason.txt").exists()
    });
}

/// Reports stored by earlier versions are moved into the models table by the daemon in the
/// background: models stored as JSON (before schema 9) are compressed on the way, compressed
/// models in the reports' rows (schema 9 and 10) are moved as they are. Every page and command
/// reads them the same before and after.
#[test]
fn reports_stored_by_earlier_versions_are_compacted_in_the_background() {
    let mut d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    for s in seeds() {
        d.drop_file(&s, &s.file_name().expect("name").to_string_lossy());
    }
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'") == 5
    });
    let findings = |d: &Daemon| {
        let out = d.cli(&["findings", "--format", "json"]);
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = findings(&d);
    d.terminate();
    // As earlier versions stored them: the first two as JSON, the others compressed, in the
    // reports' own rows.
    let mut originals = std::collections::BTreeMap::new();
    {
        let db = d.db();
        let rows: Vec<(i64, Vec<u8>)> = db
            .prepare("SELECT report_id, z FROM models ORDER BY report_id")
            .expect("query")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 5);
        for (i, (id, z)) in rows.into_iter().enumerate() {
            let report = ogi_audit::store::codec::decode(&z).expect("model");
            originals.insert(id, report.clone());
            if i < 2 {
                db.execute(
                    "UPDATE reports SET report_json = ?2 WHERE id = ?1",
                    rusqlite::params![id, serde_json::to_string(&report).expect("json")],
                )
                .expect("JSON form");
            } else {
                db.execute(
                    "UPDATE reports SET report_z = ?2 WHERE id = ?1",
                    rusqlite::params![id, z],
                )
                .expect("row form");
            }
            db.execute("DELETE FROM models WHERE report_id = ?1", [id])
                .expect("out of models");
        }
    }
    assert_eq!(findings(&d), before, "read in the rows");
    d.spawn();
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM models") == 5
    });
    assert_eq!(
        d.count(
            "SELECT COUNT(*) FROM reports WHERE report_json IS NOT NULL OR report_z IS NOT NULL"
        ),
        0
    );
    wait_for(Duration::from_secs(10), || {
        d.log().contains("stored reports compacted")
    });
    assert_eq!(findings(&d), before, "read compacted");
    for (id, report) in &originals {
        let z: Vec<u8> = d
            .db()
            .query_row("SELECT z FROM models WHERE report_id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("row");
        assert_eq!(
            &ogi_audit::store::codec::decode(&z).expect("model"),
            report,
            "report {id} the same"
        );
    }
    let out = d.cli(&["reaudit", "--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.kill();
}

/// Every stored report's current findings, in order: (file name, rule, severity, message,
/// evidence, fingerprint).
fn current_findings(db: &std::path::Path) -> Vec<[String; 6]> {
    let conn = rusqlite::Connection::open(db).expect("db");
    let mut stmt = conn
        .prepare(
            "SELECT r.path, f.rule, f.severity, f.message, f.evidence, f.fingerprint
             FROM findings f JOIN reports r ON r.id = f.report_id
             WHERE f.ruleset = r.ruleset ORDER BY r.id, f.id",
        )
        .expect("query");
    let rows = stmt
        .query_map([], |r| {
            let path: String = r.get(0)?;
            let name = std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(path);
            Ok([name, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?])
        })
        .expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn a_reaudit_after_an_edit_runs_the_rules_it_touches_and_stores_what_a_full_audit_would() {
    let pack = common::shipped_pack();
    let refs: Vec<(&str, &str)> = pack.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let mut d = Daemon::start(&refs);
    let mut files = common::real_fixtures();
    // One office's two years, the later one first: when the later one was audited, the rules
    // that compare with the year before had nothing to compare with.
    let later = std::fs::read_to_string(seed("000"))
        .expect("seed")
        .replace("2020年", "2021年");
    std::fs::write(d.path("2021.txt"), later).expect("write");
    files.insert(0, d.path("2021.txt"));
    for (i, f) in files.iter().enumerate() {
        d.drop_file(
            f,
            &format!("{i:02}-{}", f.file_name().expect("name").to_string_lossy()),
        );
        wait_for(Duration::from_secs(30), || {
            d.count("SELECT COUNT(*) FROM reports") == i as i64 + 1
        });
    }
    let n = files.len() as i64;
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'"),
        n,
        "{}",
        d.log()
    );
    d.terminate();

    // An office edits one rule's message.
    let rule = d.path("rules/reply-rate-stated.rhai");
    let src = std::fs::read_to_string(&rule).expect("rule");
    let edited = src.replace("报告未说明依申请公开的", "年度报告未说明依申请公开的");
    assert_ne!(src, edited);
    std::fs::write(&rule, edited).expect("edit");

    let db = d.path("data/ogi-audit.sqlite");
    let full_db = d.path("full.sqlite");
    copy_without_digests(&d, &db, &full_db);
    let before = current_findings(&db);

    // A dry run says the same and stores nothing.
    let dry = d.cli(&["reaudit", "--dry-run"]);
    let dry_said = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry_said.contains(&format!("{n} of {n} stored reports would be re-audited")),
        "{dry_said}"
    );
    assert_eq!(current_findings(&db), before);

    let out = d.cli(&["reaudit"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("{n} of {n} stored reports re-audited")),
        "{said}"
    );
    // Each report ran the edited rule and the one reading the register; the later year, whose
    // year before arrived after its audit, also the four that read the year before. The other
    // rules' findings were kept.
    let rules = pack
        .iter()
        .filter(|(name, _)| name.ends_with(".rhai") && !name.starts_with("tests/"))
        .count() as i64;
    assert_eq!(rules, 25);
    let run = n * 2 + 4;
    let runs = format!("{run} rule runs; {} not needed", n * rules - run);
    assert!(said.contains(&runs), "{said}");
    assert!(dry_said.contains(&runs), "{dry_said}");

    let kept = current_findings(&db);
    assert_eq!(
        kept,
        full_reaudit(&d, &full_db),
        "what was kept and what was run again is what running all gives"
    );
    assert_ne!(kept, before, "the edit changed findings");
    assert!(kept.iter().any(|f| f[3].starts_with("年度报告未说明")));
    // The later year now has its year before: the rules comparing years ran again on it.
    assert!(
        kept.iter()
            .any(|f| f[0].ends_with("2021.txt") && f[1] == "cross-year-carryover"),
        "{kept:?}"
    );
    assert!(
        !before
            .iter()
            .any(|f| f[0].ends_with("2021.txt") && f[1] == "cross-year-carryover"),
        "{before:?}"
    );

    // Then a phrase added to the stock phrases: the rule reading that list runs again, with the
    // one reading the register; the others keep their findings, which are again what running
    // all gives.
    copy_without_digests(&d, &db, &full_db);
    let list = d.path("rules/lists/stock-phrases.txt");
    let mut phrases = std::fs::read_to_string(&list).expect("list");
    phrases.push_str("工作力量较为薄弱\n");
    std::fs::write(&list, phrases).expect("edit");
    let out = d.cli(&["reaudit"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    let run = n * 2;
    let runs = format!("{run} rule runs; {} not needed", n * rules - run);
    assert!(said.contains(&runs), "{said}");
    assert_eq!(current_findings(&db), full_reaudit(&d, &full_db));
}

/// A copy of the store at `to` for a re-audit that cannot know which rules changed: the rule
/// sets' rules recorded without their digests, as a store of an earlier version has them; and
/// `full.toml`, the daemon's config with that copy as its store.
fn copy_without_digests(d: &Daemon, db: &std::path::Path, to: &std::path::Path) {
    std::fs::copy(db, to).expect("copy");
    rusqlite::Connection::open(to)
        .expect("copy")
        .execute(
            "UPDATE rulesets SET rules = (SELECT json_group_array(json_remove(value, '$.digest'))
                                          FROM json_each(rulesets.rules))",
            [],
        )
        .expect("strip digests");
    let config = std::fs::read_to_string(d.path("ogi-audit.toml")).expect("config");
    let name = to.file_name().expect("name").to_string_lossy();
    std::fs::write(
        d.path("full.toml"),
        format!("{config}\n[store]\ndatabase = \"{name}\"\n"),
    )
    .expect("config");
}

/// Re-audits the copy made by [`copy_without_digests`], running every rule, and returns its
/// findings.
fn full_reaudit(d: &Daemon, db: &std::path::Path) -> Vec<[String; 6]> {
    let out = Command::new(BIN)
        .args(["reaudit", "--config"])
        .arg(d.path("full.toml"))
        .output()
        .expect("reaudit");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}");
    assert!(!said.contains("not needed"), "{said}");
    current_findings(db)
}
