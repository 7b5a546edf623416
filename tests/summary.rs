//! The summary mail as people see it: every real fixture through the daemon, one summary over a
//! real SMTP server on 127.0.0.1, its HTML part opened in headless Chromium (WebDriver) and
//! checked from the DOM, its workbook read back with calamine; and `findings --format xlsx`.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use common::browser::Browser;
use common::smtp::{free_port, mail_config, SmtpServer};
use common::{
    hostile_copy, misprinted_total, pack_titles, real_fixtures, shipped_pack, wait_for, walk,
    Daemon, BIN, HOSTILE,
};
use mail_parser::MimeHeaders;
use serde_json::Value;

/// Where the test keeps what it rendered, for a person to look at.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("summary");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// The cells a finding's evidence names, and whether it quotes a sentence.
fn evidence_cells(e: &Value) -> (Vec<&Value>, usize, bool) {
    let cells: Vec<&Value> = e["cells"]
        .as_array()
        .map(|a| a.iter().filter(|c| c.is_object()).collect())
        .unwrap_or_default();
    let wrong = cells.iter().filter(|c| c["wrong"] == true).count();
    // A quote with a part highlighted (offsets that select something).
    let marked = |q: &Value| q["end"].as_u64() > q["start"].as_u64();
    let quoted = e.get("quote").is_some_and(marked)
        || e.get("quotes")
            .is_some_and(|q| q.as_array().is_some_and(|a| a.iter().any(marked)));
    (cells, wrong, quoted)
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    }
}

/// The DOM of the summary, as the checks need it.
const DOM: &str = r#"
const reports = [...document.querySelectorAll('[data-report]')].map(r => ({
  id: Number(r.getAttribute('data-report')),
  text: r.innerText,
  findings: [...r.querySelectorAll('[data-rule]')].map(f => ({
    rule: f.getAttribute('data-rule'),
    title: (f.querySelector('[data-title]') || {textContent: ''}).textContent,
    wrong: f.querySelectorAll('[data-mark=wrong]').length,
    related: f.querySelectorAll('[data-mark=related]').length,
    quoted: f.querySelectorAll('[data-mark=quoted]').length,
    expected: [...f.querySelectorAll('[data-mark=wrong]')].map(c => c.innerText),
    text: f.innerText,
  })),
}));
const all = [...document.querySelectorAll('*')];
return {
  reports,
  overview: document.querySelectorAll('[data-overview] tr').length,
  body: document.body.innerText,
  html: document.documentElement.outerHTML,
  scroll_width: document.documentElement.scrollWidth,
  active: document.querySelectorAll('script,style,link,iframe,object,embed,img,form').length,
  handlers: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
  external: all.filter(e => ['src', 'href', 'background'].some(a => {
    const v = e.getAttribute(a) || '';
    return v !== '' && !v.startsWith('#') && !v.startsWith('http://audit.example.org/');
  })).length,
};
"#;

#[test]
fn the_summary_of_every_real_fixture_reads_as_tables_and_quotes_never_json() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    // The shipped pack: its rules and word lists.
    let rules = shipped_pack();
    let refs: Vec<(&str, &str)> = rules
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    // One office for every report, a wait long enough for all of them to be in one summary.
    let config = mail_config(port, "", "\"office@example.org\"")
        .replace("group_wait = \"300ms\"", "group_wait = \"12s\"")
        + "[web]\npublic_url = \"http://audit.example.org/\"\n";
    let mut d = Daemon::start_with(&refs, &config);
    let fixtures = real_fixtures();
    for f in &fixtures {
        d.drop_file(f, &f.file_name().expect("name").to_string_lossy());
    }
    d.drop_bytes(
        std::ffi::OsStr::new("001-misprinted.txt"),
        misprinted_total().as_bytes(),
    );
    d.drop_bytes(
        std::ffi::OsStr::new("000-hostile.txt"),
        hostile_copy().as_bytes(),
    );
    let expected_reports = fixtures.len() as i64 + 2;
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'") == expected_reports
    });
    wait_for(Duration::from_secs(60), || server.messages().len() == 1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.messages().len(), 1, "one summary for the office");
    let raw = std::fs::read(walk(&tmp.path().join("maildir/new"))[0].clone()).expect("message");
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a MIME message");
    let html = message.body_html(0).expect("an HTML part").into_owned();
    let text = message.body_text(0).expect("a text part").into_owned();
    let workbook: Vec<u8> = message
        .attachments()
        .find(|a| a.attachment_name().is_some_and(|n| n.ends_with(".xlsx")))
        .expect("the workbook attached")
        .contents()
        .to_vec();
    let out = artifacts();
    std::fs::write(out.join("summary.html"), &html).expect("keep html");
    std::fs::write(out.join("summary.txt"), &text).expect("keep text");
    std::fs::write(out.join("summary.xlsx"), &workbook).expect("keep workbook");

    // What the store says each report's findings are, in the order the summary shows them.
    let conn = d.db();
    let mut stmt = conn
        .prepare(
            "SELECT r.id, r.organization, f.rule, f.severity, f.evidence FROM findings f
             JOIN reports r ON r.id = f.report_id AND f.ruleset = r.ruleset ORDER BY r.id, f.id",
        )
        .expect("query");
    let mut stored: BTreeMap<i64, Vec<(String, String, Value)>> = BTreeMap::new();
    let mut organizations: BTreeMap<i64, String> = BTreeMap::new();
    for row in stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .expect("rows")
    {
        let (id, org, rule, severity, evidence) = row.expect("row");
        organizations.insert(id, org.unwrap_or_default());
        stored.entry(id).or_default().push((
            rule,
            severity,
            serde_json::from_str(&evidence).expect("evidence JSON"),
        ));
    }
    for findings in stored.values_mut() {
        findings.sort_by_key(|f| severity_rank(&f.1));
    }
    let total_findings: usize = stored.values().map(Vec::len).sum();
    assert!(
        total_findings > 20,
        "the real fixtures have findings: {total_findings}"
    );

    // Opened in a browser 800 pixels wide, as a mail client's reading pane.
    let browser = Browser::start(800);
    browser.open_file(&out.join("summary.html"));
    let dom = browser.eval(DOM);
    browser.screenshot(&out.join("summary.png"));
    eprintln!("summary kept in {}", out.display());

    assert!(
        dom["scroll_width"].as_u64().expect("width") <= 800,
        "the summary fits 800 pixels: {}",
        dom["scroll_width"]
    );
    assert_eq!(dom["active"], 0, "no script, style sheet, image or form");
    assert!(
        dom["body"].as_str().is_some_and(|b| b.contains(HOSTILE)),
        "the report's markup is shown as text"
    );
    assert!(text.contains(HOSTILE), "and kept as it is in the text part");
    assert_eq!(dom["handlers"], 0, "no event handler attribute");
    assert_eq!(
        dom["external"], 0,
        "no external resource; links only to the console"
    );
    let json_like =
        regex::Regex::new(r#"[{\[]\s*"[^"]*"\s*:|":\s*[\[{"0-9]|\\u[0-9a-f]{4}"#).expect("regex");
    let body = dom["body"].as_str().expect("body");
    assert!(
        !json_like.is_match(body),
        "JSON in the body: {:?}",
        json_like.find(body)
    );
    assert!(
        !json_like.is_match(&text),
        "JSON in the text part: {:?}",
        json_like.find(&text)
    );
    assert!(
        !body.contains("table3") && !body.contains("natural_person"),
        "no raw keys"
    );
    assert_eq!(
        dom["overview"].as_u64(),
        Some(expected_reports as u64 + 1),
        "an overview row per report under its header"
    );

    let titles = pack_titles();
    let shown = dom["reports"].as_array().expect("reports");
    assert_eq!(
        shown.len() as i64,
        expected_reports,
        "every report in the summary"
    );
    let mut wrong_marked = 0;
    let mut quoted = 0;
    let mut summed_up = 0;
    for r in shown {
        let id = r["id"].as_i64().expect("id");
        let org = &organizations[&id];
        let expected = stored.get(&id).cloned().unwrap_or_default();
        let findings = r["findings"].as_array().expect("findings");
        let rules: Vec<&str> = findings
            .iter()
            .map(|f| f["rule"].as_str().unwrap_or(""))
            .collect();
        let want: Vec<&str> = expected.iter().map(|f| f.0.as_str()).collect();
        assert_eq!(
            rules, want,
            "report #{id} {org}: its findings, errors first"
        );
        assert!(
            r["text"].as_str().is_some_and(|t| t.contains(org.as_str())),
            "#{id} names {org}"
        );
        assert!(text.contains(org.as_str()), "the text part names {org}");
        for (f, (rule, _, evidence)) in findings.iter().zip(&expected) {
            let what = format!("report #{id} {org}, {rule}");
            let title = f["title"].as_str().expect("title");
            assert_eq!(
                Some(title),
                titles.get(rule).map(String::as_str),
                "{what}: its Chinese title"
            );
            assert!(text.contains(title), "{what}: the text part has the title");
            let (cells, wrong, has_quote) = evidence_cells(evidence);
            if cells.len() > 16 {
                assert!(
                    f["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(&format!("共{}格", cells.len()))),
                    "{what}: a long list is summed up in one line: {}",
                    f["text"]
                );
                summed_up += 1;
            } else {
                // Each cell named is drawn and marked, the wrong ones as wrong.
                assert_eq!(
                    f["wrong"].as_u64(),
                    Some(wrong as u64),
                    "{what}: wrong cells marked"
                );
                assert_eq!(
                    f["wrong"].as_u64().unwrap_or(0) + f["related"].as_u64().unwrap_or(0),
                    cells.len() as u64,
                    "{what}: every cell named is marked"
                );
                wrong_marked += wrong;
                for (c, shown) in cells
                    .iter()
                    .filter(|c| c["wrong"] == true)
                    .zip(f["expected"].as_array().into_iter().flatten())
                {
                    if let Some(e) = c["expected"].as_f64() {
                        assert!(
                            shown
                                .as_str()
                                .is_some_and(|s| s.contains(&format!("应为{e}"))),
                            "{what}: the value the cell should hold: {shown}"
                        );
                    }
                }
            }
            if has_quote {
                assert!(
                    f["quoted"].as_u64() >= Some(1),
                    "{what}: the number highlighted"
                );
                quoted += 1;
            }
        }
    }
    assert!(
        wrong_marked >= 2,
        "the misprinted total is marked in two findings at least"
    );
    assert!(quoted >= 5, "text findings quote their sentence: {quoted}");
    assert!(summed_up >= 1, "seed 2019-bgt's blank cells are summed up");
    // The table rules name their cells, the narrative rules quote their sentence.
    for (rule, needs) in [
        ("t3-column-total", "cells"),
        ("t3-processed-total", "cells"),
        ("counts-valid", "cells"),
        ("cells-unread", "cells"),
        ("narrative-vs-tables", "quote or cells"),
        ("percentages-consistent", "quote"),
        ("narrative-vs-table2", "quote"),
    ] {
        let of_rule: Vec<&Value> = stored
            .values()
            .flatten()
            .filter(|f| f.0 == rule)
            .map(|f| &f.2)
            .collect();
        assert!(!of_rule.is_empty(), "{rule} fires on the fixtures");
        for e in of_rule {
            let (cells, _, q) = evidence_cells(e);
            let ok = match needs {
                "cells" => !cells.is_empty(),
                "quote" => q,
                _ => q || !cells.is_empty(),
            };
            assert!(ok, "{rule}: evidence with {needs}: {e}");
        }
    }
    // Each report links to its page in the console.
    assert!(
        dom["html"]
            .as_str()
            .is_some_and(|h| h.contains("http://audit.example.org/reports/")),
        "links to the console"
    );

    // The workbook: a row per finding, table 3 of every report.
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(workbook)).expect("an xlsx workbook");
    let sheet = wb.worksheet_range("问题清单").expect("the findings sheet");
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect())
        .collect();
    assert_eq!(
        rows[0][..8],
        [
            "报告编号",
            "发布机关",
            "年度",
            "文件",
            "规则",
            "标题",
            "级别",
            "问题"
        ]
    );
    assert_eq!(rows.len() - 1, total_findings, "a row per finding");
    for row in &rows[1..] {
        let id: i64 = row[0].parse().expect("report id");
        assert_eq!(row[1], organizations[&id]);
        assert_eq!(Some(&row[5]), titles.get(&row[4]), "title of {}", row[4]);
        assert!(
            !json_like.is_match(&row[8]),
            "cells as text, not JSON: {}",
            row[8]
        );
    }
    let misprinted = rows
        .iter()
        .find(|r| r[4] == "t3-column-total" && r[8].contains("应为13"))
        .unwrap_or_else(|| panic!("the misprinted total with the value it should hold: {rows:?}"));
    assert!(misprinted[8].contains("(一)予以公开"), "{misprinted:?}");
    let t3 = wb.worksheet_range("表三").expect("the table-3 sheet");
    let t3_text: Vec<String> = t3
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect::<Vec<_>>().join("|"))
        .collect();
    for (id, org) in &organizations {
        assert!(
            t3_text
                .iter()
                .any(|l| l.starts_with(&format!("#{id} {org}"))),
            "table 3 of #{id} {org}"
        );
    }
    assert!(
        t3_text
            .iter()
            .any(|l| l.starts_with("(一)予以公开|13|0|0|0|0|0|15")),
        "the misprinted row as read"
    );

    // `findings --format xlsx` writes the same for a selection.
    let file = tmp.path().join("errors.xlsx");
    let run = Command::new(BIN)
        .arg("--config")
        .arg(d.path("ogi-audit.toml"))
        .args(["findings", "--severity", "error", "--format", "xlsx", "-o"])
        .arg(&file)
        .output()
        .expect("findings");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut wb: Xlsx<_> = calamine::open_workbook(&file).expect("the exported workbook");
    let sheet = wb.worksheet_range("问题清单").expect("findings sheet");
    let errors = stored.values().flatten().filter(|f| f.1 == "error").count();
    assert_eq!(sheet.height() - 1, errors, "only the errors");
    assert!(sheet.rows().skip(1).all(|r| r[6] == "错误"));
    let run = Command::new(BIN)
        .arg("--config")
        .arg(d.path("ogi-audit.toml"))
        .args(["findings", "--format", "xlsx"])
        .output()
        .expect("findings");
    assert!(!run.status.success(), "xlsx needs -o");
    assert!(String::from_utf8_lossy(&run.stderr).contains("-o FILE"));
    d.kill();
}
