//! The web console over HTTP against the real daemon on 127.0.0.1: every page for the real
//! fixtures, filters and pagination against the store, exports, hostile content rendered
//! inert, logins, CSRF, roles and scopes on pages and exports, a console open to the network
//! without users refused, and slow clients that cannot stall the daemon.

mod common;

use std::collections::BTreeSet;
use std::io::{Cursor, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{open_workbook_from_rs, Reader, Xlsx};
use common::http::{encode, Client, Response};
use common::{
    hostile_copy, misprinted_total, pack_titles, real_fixtures, seed, shipped_pack, wait_for,
    Daemon, BIN, HOSTILE,
};

/// A file name that is itself markup: shown in lists and on the report's page.
const HOSTILE_NAME: &str = "<img src=x onerror=alert(7)>.txt";

/// Seed 000's issuer a year earlier, which carried 3 requests into 2020 (the 2020 report says
/// none were carried over).
fn last_year_of_seed_000() -> String {
    let this_year = std::fs::read_to_string(seed("000")).expect("seed");
    let last = this_year.replace("2020年", "2019年").replace(
        "四、结转下年度继续办理 | 5 | 0 | 0 | 0 | 0 | 0 | 5 |",
        "四、结转下年度继续办理 | 3 | 0 | 0 | 0 | 0 | 0 | 3 |",
    );
    assert_ne!(last, this_year);
    last
}

/// The daemon with the shipped pack and its console on a free port, every real fixture and
/// the variants dropped and stored.
struct Console {
    daemon: Daemon,
    addr: SocketAddr,
    reports: i64,
}

impl Console {
    fn start(users: &[(&str, &str, &[&str])]) -> Console {
        let pack = shipped_pack();
        let refs: Vec<(&str, &str)> = pack.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
        let config = "[web]\nlisten = \"127.0.0.1:0\"\n";
        let daemon = Daemon::start_with(&refs, config);
        // Users are added while the daemon runs, as an office would add them.
        for (name, role, scope) in users {
            add_user(&daemon, name, role, scope, &format!("{name}-密码-1234"));
        }
        let mut dropped = 0;
        for f in real_fixtures() {
            daemon.drop_file(&f, &f.file_name().expect("name").to_string_lossy());
            dropped += 1;
        }
        for (name, text) in [
            ("000-2019.txt", last_year_of_seed_000()),
            ("001-misprinted.txt", misprinted_total()),
            (HOSTILE_NAME, hostile_copy()),
            (
                "not-a-report.txt",
                "会议通知：请各单位于周五前报送材料。".to_string(),
            ),
        ] {
            daemon.drop_bytes(std::ffi::OsStr::new(name), text.as_bytes());
            dropped += 1;
        }
        wait_for(Duration::from_secs(60), || {
            daemon.count("SELECT COUNT(*) FROM reports") == dropped
        });
        let addr = console_addr(&daemon);
        Console {
            daemon,
            addr,
            reports: dropped,
        }
    }

    fn client(&self) -> Client {
        Client::new(self.addr)
    }

    fn ids(&self, sql: &str) -> BTreeSet<i64> {
        let db = self.daemon.db();
        let mut stmt = db.prepare(sql).expect("query");
        stmt.query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("ids")
    }
}

/// Where the daemon says its console listens.
fn console_addr(daemon: &Daemon) -> SocketAddr {
    let mut found = None;
    wait_for(Duration::from_secs(20), || {
        found = daemon.log().lines().find_map(|l| {
            let rest = l.split("web console on http://").nth(1)?;
            rest.split_whitespace().next()?.parse().ok()
        });
        found.is_some()
    });
    found.expect("console address")
}

fn add_user(daemon: &Daemon, name: &str, role: &str, scope: &[&str], password: &str) {
    let mut cmd = Command::new(BIN);
    cmd.args(["user", "add", name, "--role", role, "--config"])
        .arg(daemon.path("ogi-audit.toml"));
    for s in scope {
        cmd.args(["--scope", s]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("user add ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The report ids a list page shows, in order.
fn listed(page: &Response) -> Vec<i64> {
    page.text()
        .split("data-report=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

/// The link to the next page, if any.
fn next_link(page: &Response) -> Option<String> {
    let text = page.text();
    let at = text.find("id=\"next-page\"")?;
    let before = &text[..at];
    let href = before.rfind("href=\"")?;
    Some(
        before[href + 6..]
            .split('"')
            .next()?
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

fn assert_ok(r: &Response, what: &str) {
    assert_eq!(r.status, 200, "{what}: {}", r.text());
    let csp = r.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{what}: strict CSP, got {csp:?}"
    );
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
}

/// What no page may hold when report content is markup: it must come out as text.
fn assert_inert(html: &str, what: &str) {
    for live in ["<script", "<img", "href=\"javascript:", "src=\"javascript:"] {
        assert!(!html.contains(live), "{what}: {live} in the page");
    }
}

#[test]
fn every_page_renders_for_the_real_fixtures_and_lists_filter_and_paginate() {
    let console = Console::start(&[]);
    let mut c = console.client();
    let titles = pack_titles();

    // The overview: counts as the store has them.
    let overview = c.get("/");
    assert_ok(&overview, "overview");
    let html = overview.text();
    let errors = console.daemon.count(
        "SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id WHERE f.ruleset = r.ruleset AND f.severity = 'error'",
    );
    assert!(
        html.contains(&format!("data-count=\"errors\">{errors}<")),
        "errors {errors}"
    );
    assert!(html.contains(&format!("data-count=\"reports\">{}<", console.reports)));
    for org in [
        "烟台市人民政府",
        "淮安市人民政府",
        "上海市科委",
        "平潭综合实验区",
    ] {
        assert!(html.contains(org), "{org} in the per-office counts");
    }
    // The quarantine, with its reason.
    assert!(html.contains("id=\"quarantine\"") && html.contains("not-a-report.txt"));

    // Every report's page, with every current finding's title and its marked cells.
    let db = console.daemon.db();
    let reports: Vec<(i64, String, Option<String>)> = db
        .prepare("SELECT id, status, organization FROM reports ORDER BY id")
        .expect("q")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("reports");
    for (id, status, org) in &reports {
        let page = c.get(&format!("/reports/{id}"));
        assert_ok(&page, &format!("report {id}"));
        let html = page.text();
        assert_inert(&html, &format!("report {id}"));
        if status != "parsed" {
            assert!(
                html.contains("无法读取"),
                "report {id} says it was not read"
            );
            continue;
        }
        assert!(
            html.contains(org.as_deref().expect("issuer")),
            "report {id}"
        );
        let findings: Vec<(String, String)> = db
            .prepare("SELECT f.rule, f.evidence FROM findings f JOIN reports r ON r.id = f.report_id WHERE r.id = ?1 AND f.ruleset = r.ruleset")
            .expect("q")
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("findings");
        for (rule, evidence) in &findings {
            let title = titles.get(rule).map_or(rule.as_str(), String::as_str);
            assert!(html.contains(title), "report {id}: {title}");
            assert!(
                html.contains(&format!("data-rule=\"{rule}\"")),
                "report {id}: {rule}"
            );
            let e: serde_json::Value = serde_json::from_str(evidence).expect("evidence");
            let wrong = e["cells"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["wrong"] == true));
            if wrong {
                assert!(
                    html.contains("data-mark=\"wrong\""),
                    "report {id}: {rule}'s wrong cell"
                );
            }
        }
        assert!(
            !html.contains("\"cells\":"),
            "report {id}: no evidence JSON"
        );
        // The form's tables, and the numbers the rules read highlighted in the text.
        for t in ["id=\"table2\"", "id=\"table3\"", "id=\"table4\""] {
            assert!(html.contains(t), "report {id}: {t}");
        }
        let z: Vec<u8> = db
            .query_row("SELECT z FROM models WHERE report_id = ?1", [id], |r| {
                r.get(0)
            })
            .expect("model");
        let in_sections = ogi_audit::store::codec::decode(&z)
            .expect("stored model")
            .claims
            .iter()
            .filter(|c| c.section.is_some())
            .count();
        if in_sections > 0 {
            assert!(
                html.contains("class=\"num\""),
                "report {id}: numbers highlighted"
            );
        }
    }
    // The misprinted total: the cell marked with the value it should have.
    let misprinted: i64 = db
        .query_row(
            "SELECT id FROM reports WHERE path LIKE '%001-misprinted.txt'",
            [],
            |r| r.get(0),
        )
        .expect("misprinted");
    let html = c.get(&format!("/reports/{misprinted}")).text();
    assert!(
        html.contains("应为13"),
        "the wrong 总计 and what it should be"
    );
    // Cells the parser could not read are shown as such (科委's 结转 总计).
    let kewei: i64 = db
        .query_row(
            "SELECT id FROM reports WHERE path LIKE '%kewei%'",
            [],
            |r| r.get(0),
        )
        .expect("kewei");
    let html = c.get(&format!("/reports/{kewei}")).text();
    assert!(
        html.contains(">未读出</td>"),
        "unread cells shown as unread"
    );
    assert!(html.contains("id=\"needs-review\""));

    // The original file, byte for byte.
    let seed2: i64 = db
        .query_row(
            "SELECT id FROM reports WHERE path LIKE '%002_51f17e08e942b61d.txt'",
            [],
            |r| r.get(0),
        )
        .expect("seed 002");
    let file = c.get(&format!("/reports/{seed2}/file"));
    assert_eq!(file.status, 200);
    assert_eq!(file.body, std::fs::read(seed("002")).expect("seed"));
    assert!(file
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));

    // Filters: each gives exactly the store's rows.
    let huaian = format!("issuer={}", encode("淮安"));
    let filters: Vec<(&str, &str)> = vec![
        ("year=2019", "SELECT id FROM reports WHERE year = 2019"),
        (&huaian, "SELECT id FROM reports WHERE organization LIKE '%淮安%'"),
        ("status=unparseable", "SELECT id FROM reports WHERE status = 'unparseable'"),
        ("review=1", "SELECT id FROM reports WHERE needs_review IS NOT NULL"),
        ("severity=error", "SELECT DISTINCT r.id FROM reports r JOIN findings f ON f.report_id = r.id AND f.ruleset = r.ruleset WHERE f.severity = 'error'"),
        ("severity=warning", "SELECT DISTINCT r.id FROM reports r JOIN findings f ON f.report_id = r.id AND f.ruleset = r.ruleset WHERE f.severity IN ('error', 'warning')"),
        ("rule=contact-stated", "SELECT DISTINCT r.id FROM reports r JOIN findings f ON f.report_id = r.id AND f.ruleset = r.ruleset WHERE f.rule = 'contact-stated'"),
        ("year=2020&severity=error", "SELECT DISTINCT r.id FROM reports r JOIN findings f ON f.report_id = r.id AND f.ruleset = r.ruleset WHERE f.severity = 'error' AND r.year = 2020"),
    ];
    for (query, sql) in filters {
        let page = c.get(&format!("/reports?{query}"));
        assert_ok(&page, query);
        let shown: BTreeSet<i64> = listed(&page).into_iter().collect();
        let expected = console.ids(sql);
        assert!(
            !expected.is_empty(),
            "{query}: the fixtures have such reports"
        );
        assert_eq!(shown, expected, "{query}");
    }
    assert_eq!(c.get("/reports?year=twenty").status, 400);

    // Pagination: pages of 4 in every order cover every report once, in that order.
    let all = console.ids("SELECT id FROM reports");
    for sort in ["newest", "issuer", "year"] {
        let mut seen = Vec::new();
        let mut link = Some(format!("/reports?sort={sort}&per=4"));
        while let Some(l) = link {
            let page = c.get(&l);
            assert_ok(&page, &l);
            let ids = listed(&page);
            assert!(ids.len() <= 4, "{l}");
            seen.extend(ids);
            link = next_link(&page);
        }
        assert_eq!(seen.len(), all.len(), "{sort}: each report once");
        assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), all, "{sort}");
        let expected_order: Vec<i64> = {
            let sql = match sort {
                "newest" => "SELECT id FROM reports ORDER BY id DESC",
                "issuer" => "SELECT id FROM reports ORDER BY COALESCE(organization, ''), id",
                _ => "SELECT id FROM reports ORDER BY COALESCE(year, 0) DESC, id DESC",
            };
            db.prepare(sql)
                .expect("q")
                .query_map([], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("ids")
        };
        assert_eq!(seen, expected_order, "{sort}");
    }

    // One issuer over the years: 2019 carried 3 forward, 2020 says 0 were carried over.
    let issuer = c.get(&format!(
        "/issuer?name={}",
        encode("淮安经济技术开发区党政办公室")
    ));
    assert_ok(&issuer, "issuer");
    let html = issuer.text();
    assert!(
        html.contains(">2019<") && html.contains(">2020<"),
        "both years"
    );
    assert!(
        html.contains("data-carry=\"wrong\""),
        "the carry-over that does not match"
    );
    assert!(html.contains("id=\"similarity\""));
    assert_eq!(
        c.get(&format!("/issuer?name={}", encode("不存在的机关")))
            .status,
        404
    );

    // The rules: every rule of the pack with its title.
    let rules = c.get("/rules");
    assert_ok(&rules, "rules");
    for title in titles.values() {
        assert!(rules.text().contains(title.as_str()), "{title}");
    }

    // Exports of a filtered list.
    let csv = c.get("/reports.csv?year=2019");
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.text().lines().count() - 1,
        console
            .ids("SELECT id FROM reports WHERE year = 2019")
            .len()
    );
    let findings = console.daemon.count(
        "SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id WHERE f.ruleset = r.ruleset",
    );
    let csv = c.get("/findings.csv");
    assert_eq!(csv.status, 200);
    let text = csv.text();
    assert!(!text.contains("\"cells\":"), "no evidence JSON");
    // Rows may span lines inside quotes; count the records by their first field.
    let records = text
        .lines()
        .skip(1)
        .filter(|l| {
            l.split(',')
                .next()
                .is_some_and(|f| f.parse::<i64>().is_ok())
        })
        .count();
    assert_eq!(records as i64, findings);
    let xlsx = c.get("/findings.xlsx");
    assert_eq!(xlsx.status, 200);
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.body)).expect("workbook");
    let sheet = wb
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("findings sheet");
    assert_eq!(sheet.height() as i64 - 1, findings, "one row per finding");

    // Unknown pages and reports.
    assert_eq!(c.get("/reports/999999").status, 404);
    assert_eq!(c.get("/nothing-here").status, 404);
}

#[test]
fn a_hostile_report_renders_inert_everywhere() {
    let console = Console::start(&[]);
    let mut c = console.client();
    let id: i64 = console
        .daemon
        .db()
        .query_row(
            "SELECT id FROM reports WHERE path LIKE '%onerror%'",
            [],
            |r| r.get(0),
        )
        .expect("the hostile file");
    for path in [
        "/".to_string(),
        "/reports".to_string(),
        format!("/reports/{id}"),
        format!("/issuer?name={}", encode("淮安经济技术开发区党政办公室")),
        "/reports?issuer=%3Cscript%3E".to_string(),
    ] {
        let page = c.get(&path);
        assert_ok(&page, &path);
        assert_inert(&page.text(), &path);
    }
    let html = c.get(&format!("/reports/{id}")).text();
    assert!(
        html.contains("&lt;img src=x onerror=alert(7)&gt;.txt"),
        "the file name as text"
    );
    assert!(
        html.contains("&lt;script&gt;alert(2)&lt;"),
        "the markup in the text as text"
    );
    assert!(
        HOSTILE.contains("<script>alert(2)<"),
        "the markup the copy carries"
    );
    // A CSV export does not hand a spreadsheet a formula.
    let csv = c.get("/reports.csv").text();
    assert!(!csv.contains(",=") && !csv.contains(",+"), "{csv}");
    // A request that tries to inject into a page's query is refused or shown as text.
    let r = c.get("/reports?sort=%3Cscript%3E");
    assert_eq!(r.status, 400);
    assert_inert(&r.text(), "bad sort");
}

#[test]
fn logins_csrf_roles_and_scopes_are_enforced_on_pages_and_exports() {
    let console = Console::start(&[
        ("wang", "admin", &[]),
        ("huainan", "viewer", &["淮南市*"]),
        ("li", "reviewer", &["*淮安*"]),
    ]);
    let db = console.daemon.db();
    let id_of = |like: &str| -> i64 {
        db.query_row(
            &format!("SELECT id FROM reports WHERE path LIKE '%{like}%'"),
            [],
            |r| r.get(0),
        )
        .expect(like)
    };
    let (huainan, yantai, readme) = (id_of("001_7525"), id_of("002_51f1"), id_of("not-a-report"));

    // Without a login every page leads to the login form, and POSTs are refused.
    let mut anon = console.client();
    let r = anon.get("/reports?year=2019");
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/login?next=/reports%3Fyear%3D2019")
    );
    for path in [
        "/",
        "/reports.csv",
        "/findings.xlsx",
        &format!("/reports/{huainan}/file"),
    ] {
        assert_eq!(anon.get(path).status, 303, "{path}");
    }
    assert_ok(&anon.get("/login"), "login form");

    // The login form needs its CSRF token; a wrong password is refused.
    let mut viewer = console.client();
    let no_token = viewer.post(
        "/login",
        &[("name", "huainan"), ("password", "huainan-密码-1234")],
    );
    assert_eq!(no_token.status, 403);
    let token = viewer.csrf("/login");
    let wrong = viewer.post(
        "/login",
        &[("name", "huainan"), ("password", "nope"), ("csrf", &token)],
    );
    assert_eq!(wrong.status, 401);
    let login = viewer.post(
        "/login",
        &[
            ("name", "huainan"),
            ("password", "huainan-密码-1234"),
            ("csrf", &token),
            ("next", "/reports"),
        ],
    );
    assert_eq!(login.status, 303, "{}", login.text());
    assert_eq!(login.header("location"), Some("/reports"));
    let cookies = login.all("set-cookie").join("\n");
    assert!(
        cookies.contains("ogi_session=")
            && cookies.contains("HttpOnly")
            && cookies.contains("SameSite=Strict"),
        "{cookies}"
    );

    // The viewer sees 淮南 and nothing else, on every page and export.
    let list = viewer.get("/reports");
    assert_ok(&list, "viewer list");
    let shown: BTreeSet<i64> = listed(&list).into_iter().collect();
    assert_eq!(
        shown,
        console.ids("SELECT id FROM reports WHERE organization GLOB '淮南市*'")
    );
    let overview = viewer.get("/").text();
    assert!(overview.contains("淮南市人民政府办公室") && !overview.contains("烟台市人民政府"));
    assert!(
        !overview.contains("id=\"quarantine\""),
        "the quarantine is not the viewer's"
    );
    assert_eq!(viewer.get(&format!("/reports/{huainan}")).status, 200);
    for path in [
        format!("/reports/{yantai}"),
        format!("/reports/{yantai}/file"),
        format!("/reports/{readme}"),
        format!("/issuer?name={}", encode("烟台市人民政府")),
    ] {
        assert_eq!(viewer.get(&path).status, 404, "{path}");
    }
    for path in ["/reports.csv", "/findings.csv"] {
        let text = viewer.get(path).text();
        assert!(
            text.contains("淮南市") && !text.contains("烟台") && !text.contains("淮安"),
            "{path}: {text}"
        );
    }
    let xlsx = viewer.get("/findings.xlsx");
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(xlsx.body)).expect("workbook");
    let sheet = wb.worksheet_range_at(0).expect("sheet").expect("findings");
    for row in sheet.rows().skip(1) {
        assert!(row[1].to_string().starts_with("淮南市"), "{row:?}");
    }
    assert_eq!(viewer.get("/users").status, 403, "users are the admin's");

    // A reviewer scoped to 淮安: both 淮安 issuers, not 淮南.
    let mut li = console.client();
    let token = li.csrf("/login");
    assert_eq!(
        li.post(
            "/login",
            &[
                ("name", "li"),
                ("password", "li-密码-1234"),
                ("csrf", &token)
            ]
        )
        .status,
        303
    );
    let shown: BTreeSet<i64> = listed(&li.get("/reports?per=200")).into_iter().collect();
    assert_eq!(
        shown,
        console.ids("SELECT id FROM reports WHERE organization LIKE '%淮安%'")
    );
    assert_eq!(li.get(&format!("/reports/{huainan}")).status, 404);

    // The admin sees everything, the users and the quarantine.
    let mut wang = console.client();
    let token = wang.csrf("/login");
    assert_eq!(
        wang.post(
            "/login",
            &[
                ("name", "wang"),
                ("password", "wang-密码-1234"),
                ("csrf", &token)
            ]
        )
        .status,
        303
    );
    let users = wang.get("/users");
    assert_ok(&users, "users");
    assert!(users.text().contains("huainan") && users.text().contains("淮南市*"));
    assert!(!users.text().contains("$argon2"), "no hash on any page");
    assert_eq!(
        listed(&wang.get("/reports?per=200")).len() as i64,
        console.reports
    );
    assert!(wang.get("/").text().contains("id=\"quarantine\""));

    // Logging out needs the token too; afterwards the session is gone.
    assert_eq!(viewer.post("/logout", &[]).status, 403);
    let token = viewer.csrf("/reports");
    assert_eq!(viewer.post("/logout", &[("csrf", &token)]).status, 303);
    assert_eq!(viewer.get("/reports").status, 303, "logged out");

    // A removed user's session ends at once.
    let out = Command::new(BIN)
        .args(["user", "remove", "li", "--config"])
        .arg(console.daemon.path("ogi-audit.toml"))
        .output()
        .expect("user remove");
    assert!(out.status.success());
    assert_eq!(li.get("/reports").status, 303, "removed user logged out");

    // Five failed logins lock the name, even against the right password.
    let mut guess = console.client();
    let token = guess.csrf("/login");
    for _ in 0..5 {
        assert_eq!(
            guess
                .post(
                    "/login",
                    &[("name", "wang"), ("password", "guess"), ("csrf", &token)]
                )
                .status,
            401
        );
    }
    let locked = guess.post(
        "/login",
        &[
            ("name", "wang"),
            ("password", "wang-密码-1234"),
            ("csrf", &token),
        ],
    );
    assert_eq!(locked.status, 429);
}

#[test]
fn a_console_open_to_the_network_without_users_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ogi-audit.toml");
    std::fs::write(
        &config,
        "[watch]\ninbox = \"inbox\"\n[web]\nlisten = \"0.0.0.0:0\"\n",
    )
    .expect("config");
    for args in [&["run"][..], &["serve"], &["validate", "--offline"]] {
        let out = Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .expect("ogi-audit");
        let err = String::from_utf8_lossy(&out.stderr).into_owned()
            + String::from_utf8_lossy(&out.stdout).as_ref();
        assert!(!out.status.success(), "{args:?} must refuse");
        assert!(
            err.contains("not a loopback address") && err.contains("user add"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("inbox").exists()
            || std::fs::read_dir(dir.path().join("inbox"))
                .expect("inbox")
                .next()
                .is_none()
    );

    // With a user it starts, and asks for a login.
    let mut add = Command::new(BIN)
        .args(["user", "add", "wang", "--role", "admin", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .spawn()
        .expect("user add");
    add.stdin
        .take()
        .expect("stdin")
        .write_all(b"a-long-password\n")
        .expect("pw");
    assert!(add.wait().expect("added").success());
    let log = dir.path().join("serve.log");
    let mut serve = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve");
    let mut addr: Option<SocketAddr> = None;
    wait_for(Duration::from_secs(20), || {
        addr = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let rest = l.split("web console on http://").nth(1)?;
                rest.split_whitespace().next()?.parse().ok()
            });
        addr.is_some()
    });
    let port = addr.expect("address").port();
    let mut c = Client::new(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(c.get("/").status, 303, "login required");
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn slow_and_oversized_clients_do_not_stall_the_daemon() {
    let console = Console::start(&[]);
    // Connections that open and send nothing, or half a request.
    let mut idle = Vec::new();
    for i in 0..40 {
        let mut s = TcpStream::connect(console.addr).expect("connect");
        if i % 2 == 0 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").expect("half");
        }
        idle.push(s);
    }
    // Pages are still served, and reports still taken in.
    let started = Instant::now();
    let mut c = console.client();
    assert_ok(&c.get("/"), "overview while clients hang");
    assert!(started.elapsed() < Duration::from_secs(5), "served at once");
    let before = console.daemon.count("SELECT COUNT(*) FROM reports");
    let text = std::fs::read_to_string(seed("004"))
        .expect("seed")
        .replace("2023年", "2022年");
    console
        .daemon
        .drop_bytes(std::ffi::OsStr::new("004-2022.txt"), text.as_bytes());
    wait_for(Duration::from_secs(20), || {
        console.daemon.count("SELECT COUNT(*) FROM reports") == before + 1
    });
    // A body over the limit is refused without being read whole.
    let token = c.csrf("/login");
    let big = format!("csrf={token}&name={}", "x".repeat(200 * 1024));
    let r = c.raw(
        format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big}",
            big.len()
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    // The half-sent requests are closed after the header timeout.
    let mut s = idle.remove(0);
    s.set_read_timeout(Some(Duration::from_secs(40)))
        .expect("timeout");
    let waited = Instant::now();
    let mut buf = Vec::new();
    let closed = std::io::Read::read_to_end(&mut s, &mut buf);
    assert!(closed.is_ok(), "closed by the server: {closed:?}");
    assert!(
        waited.elapsed() < Duration::from_secs(30),
        "within the header timeout"
    );
}

/// Polls a script in the page until it returns true.
fn wait_in(browser: &common::browser::Browser, script: &str) {
    wait_for(Duration::from_secs(20), || {
        browser.eval(&format!(
            "try {{ return !!({script}); }} catch (e) {{ return false; }}"
        )) == serde_json::Value::Bool(true)
    });
}

/// What the browser shows: the login in a real browser (its cookies and CSRF token), the
/// overview, a report with its marked cells, the hostile report inert, an issuer over the
/// years, a filter form, the logout button. Screenshots are kept in `target/tmp/web/`.
#[test]
fn the_console_in_a_real_browser() {
    let console = Console::start(&[("wang", "admin", &[])]);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let browser = common::browser::Browser::start(1280);
    let base = format!("http://{}", console.addr);
    let db = console.daemon.db();
    let id_of = |like: &str| -> i64 {
        db.query_row(
            &format!("SELECT id FROM reports WHERE path LIKE '%{like}%'"),
            [],
            |r| r.get(0),
        )
        .expect(like)
    };

    // The login form, filled and sent as a person would.
    browser.open(&format!("{base}/"));
    wait_in(
        &browser,
        "location.pathname === '/login' && document.querySelector('#name')",
    );
    browser.screenshot(&shots.join("login.png"));
    browser.eval(
        "document.querySelector('#name').value = 'wang';
         document.querySelector('#password').value = 'wang-密码-1234';
         document.querySelector('form.login button').click(); return 1;",
    );
    wait_in(
        &browser,
        "location.pathname === '/' && document.querySelector('[data-count=reports]')",
    );
    let shown = browser.eval("return document.querySelector('[data-count=reports]').textContent;");
    assert_eq!(shown, serde_json::json!(console.reports.to_string()));
    // The stylesheet applies under the Content-Security-Policy, and nothing runs.
    let page = browser.eval(
        "const all = [...document.querySelectorAll('*')];
         return {
           header: getComputedStyle(document.querySelector('header.top')).backgroundColor,
           scripts: document.querySelectorAll('script').length,
           handlers: all.filter(e => [...e.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length,
           external: all.filter(e => ['src', 'href', 'action'].some(a => /^(https?:)?\\/\\//.test(e.getAttribute(a) || ''))).length,
         };",
    );
    assert_eq!(
        page["header"], "rgb(29, 63, 114)",
        "the stylesheet is applied"
    );
    assert_eq!(
        (
            page["scripts"].as_u64(),
            page["handlers"].as_u64(),
            page["external"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    browser.screenshot(&shots.join("overview.png"));

    // A report with a misprinted total: the finding's row and the whole table 3 mark it.
    let misprinted = id_of("001-misprinted");
    browser.open(&format!("{base}/reports/{misprinted}"));
    wait_in(&browser, "document.querySelector('#report-title')");
    let marks = browser.eval(
        "return {
           finding: [...document.querySelectorAll('[data-rule=t3-column-total] td[data-mark=wrong]')].map(c => c.innerText),
           table: [...document.querySelectorAll('#table3 td[data-mark=wrong]')].map(c => c.innerText),
           titles: [...document.querySelectorAll('[data-title]')].map(t => t.textContent),
           width: document.documentElement.scrollWidth,
           wide: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth).slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)),
         };",
    );
    let finding = marks["finding"].to_string();
    assert!(
        finding.contains("15") && finding.contains("应为13"),
        "{marks}"
    );
    assert!(marks["table"].to_string().contains("15"), "{marks}");
    assert!(
        marks["titles"].to_string().contains("表三总计列"),
        "{marks}"
    );
    assert!(
        marks["wide"].as_array().is_some_and(Vec::is_empty),
        "no sideways scrolling: {marks}"
    );
    browser.screenshot(&shots.join("report.png"));

    // The hostile copy: its markup is text, and nothing of it became an element.
    let hostile = id_of("onerror");
    browser.open(&format!("{base}/reports/{hostile}"));
    wait_in(&browser, "document.querySelector('#report-title')");
    let inert = browser.eval(
        "return {
           elements: document.querySelectorAll('script, img, iframe, object, embed').length,
           text: document.body.innerText,
         };",
    );
    assert_eq!(inert["elements"], 0, "no element from the report");
    let text = inert["text"].as_str().unwrap_or("");
    assert!(
        text.contains(HOSTILE) && text.contains(HOSTILE_NAME),
        "shown as text"
    );

    // One issuer over two years: the carry-over that does not match is marked.
    browser.open(&format!(
        "{base}/issuer?name={}",
        encode("淮安经济技术开发区党政办公室")
    ));
    wait_in(&browser, "document.querySelector('#t3-years')");
    let carry = browser
        .eval("return [...document.querySelectorAll('#carry-years td[data-carry=wrong]')].length;");
    assert!(
        carry.as_u64().is_some_and(|n| n >= 2),
        "自然人 and 总计: {carry}"
    );
    browser.screenshot(&shots.join("issuer.png"));

    // The list's filter form.
    browser.open(&format!("{base}/reports"));
    wait_in(&browser, "document.querySelector('form.filters')");
    browser.eval(
        "document.querySelector('select[name=year]').value = '2019';
         document.querySelector('form.filters button').click(); return 1;",
    );
    wait_in(&browser, "location.search.includes('year=2019')");
    let rows = browser.eval(
        "return [...document.querySelectorAll('[data-report]')].map(r => Number(r.getAttribute('data-report')));",
    );
    let mut shown: Vec<i64> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .collect();
    shown.sort_unstable();
    let expected: Vec<i64> = console
        .ids("SELECT id FROM reports WHERE year = 2019")
        .into_iter()
        .collect();
    assert_eq!(shown, expected);
    browser.screenshot(&shots.join("reports.png"));

    // The logout button ends the session.
    browser.eval("document.querySelector('header.top form button').click(); return 1;");
    wait_in(&browser, "location.pathname === '/login'");
    browser.open(&format!("{base}/reports"));
    wait_in(&browser, "location.pathname === '/login'");
}
