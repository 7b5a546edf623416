//! Review against the real daemon, a real SMTP server on 127.0.0.1 and the real binary's
//! commands: a dismissed finding stays dismissed across a re-audit with a changed rule set and
//! is not mailed; a corrected cell is audited again at once, leaves a trail that cannot be
//! changed and reaches the mail; `require_review` holds summaries until every finding is
//! decided; concurrent decisions end in one state; the console's buttons honour roles, scopes
//! and CSRF tokens; and in Chromium a reviewer dismisses and corrects through the pages.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::http::Client;
use common::smtp::{free_port, mail_config, SmtpServer};
use common::{misprinted_total, seed, shipped_pack, wait_for, Daemon, BIN};
use serde_json::Value;

fn ogi(d: &Daemon, args: &[&str]) -> Output {
    d.cli(args)
}

fn ok(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

/// `review list --format json` of one report.
fn findings_of(d: &Daemon, report: i64) -> Vec<Value> {
    let out = ogi(
        d,
        &[
            "review",
            "list",
            "--report",
            &report.to_string(),
            "--format",
            "json",
        ],
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", ok(&out)))
}

/// The text part of the message received that is not `earlier` (the server's list is in no
/// particular order).
fn other_than(server: &SmtpServer, earlier: &str) -> String {
    server
        .messages()
        .iter()
        .map(|m| text_of(m))
        .find(|t| t != earlier)
        .expect("a second message")
}

/// The text part of a raw message.
fn text_of(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("a text part")
}

fn start(extra: &str) -> (Daemon, SmtpServer, tempfile::TempDir) {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    let pack = shipped_pack();
    let refs: Vec<(&str, &str)> = pack.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    let config = mail_config(port, "", "\"office@example.org\"")
        .replace("group_interval = \"1h\"", "group_interval = \"1s\"")
        .replace("[mail]\n", &format!("[mail]\n{extra}"));
    let d = Daemon::start_with(&refs, &config);
    (d, server, tmp)
}

fn report_id(d: &Daemon, like: &str) -> i64 {
    let mut id = None;
    wait_for(Duration::from_secs(30), || {
        id = d
            .db()
            .query_row(
                &format!("SELECT id FROM reports WHERE path LIKE '%{like}%' AND status = 'parsed'"),
                [],
                |r| r.get(0),
            )
            .ok();
        id.is_some()
    });
    id.expect("stored")
}

#[test]
fn a_dismissed_finding_stays_dismissed_across_a_reaudit_and_is_not_mailed_again() {
    let (mut d, server, _tmp) = start("");
    d.drop_file(&seed("002"), "002.txt");
    let id = report_id(&d, "002.txt");
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);
    let first = text_of(&server.messages()[0]);
    // 行政诉讼31起 against table 4's 22: the finding a reviewer judges a false alarm here.
    let findings = findings_of(&d, id);
    let target = findings
        .iter()
        .find(|f| {
            f["rule"] == "narrative-vs-tables"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("行政诉讼31起"))
        })
        .expect("the lawsuit finding")
        .clone();
    assert!(first.contains("行政诉讼31起"), "{first}");
    assert_eq!(target["state"], "open");
    for key in ["id", "fingerprint", "report_id", "rule", "state"] {
        assert!(!target[key].is_null(), "{key} in review list's JSON");
    }
    let fid = target["id"].as_i64().expect("id").to_string();
    ok(&ogi(
        &d,
        &[
            "review",
            "dismiss",
            &fid,
            "--reason",
            "false-alarm",
            "--note",
            "诉讼含行政复议后起诉",
            "--by",
            "wang",
        ],
    ));
    assert_eq!(
        findings_of(&d, id)
            .iter()
            .find(|f| f["id"] == target["id"])
            .expect("listed")["state"],
        "dismissed"
    );

    // A changed rule set: one more rule, so every report has a new finding to mail.
    std::fs::write(
        d.path("rules/always.rhai"),
        "const ID = \"always\";\nconst TITLE = \"总是提示\";\nconst SEVERITY = \"warning\";\nfn check(report) { [finding(`已收到 ${report.organization}`)] }\n",
    )
    .expect("rule");
    let mut reaudited = String::new();
    wait_for(Duration::from_secs(30), || {
        reaudited = ok(&ogi(&d, &["reaudit", "--mail"]));
        reaudited.contains("1 of 1 stored reports re-audited")
    });
    wait_for(Duration::from_secs(30), || server.messages().len() == 2);
    let second = other_than(&server, &first);
    assert!(
        second.contains("已收到 烟台市人民政府"),
        "the new rule's finding: {second}"
    );
    let dismissed_message = target["message"].as_str().expect("message");
    assert!(first.contains(dismissed_message), "{first}");
    assert!(
        !second.contains(dismissed_message),
        "the dismissed finding is not mailed: {second}"
    );
    assert!(
        second.contains("被纠正10起"),
        "the other findings are: {second}"
    );
    // The re-audit's finding is a new row with the same fingerprint, still dismissed.
    let now = findings_of(&d, id);
    let same = now
        .iter()
        .find(|f| f["fingerprint"] == target["fingerprint"])
        .expect("the same finding after the re-audit");
    assert_ne!(same["id"], target["id"], "a finding of the new audit");
    assert_eq!(same["state"], "dismissed");
    assert_eq!(same["by"], "wang");
    // The rule's feedback counts the false alarm.
    let stats = ok(&ogi(&d, &["rules", "list", "--stats"]));
    let line = stats
        .lines()
        .find(|l| l.starts_with("narrative-vs-tables"))
        .expect("the rule's line");
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[4], "1", "one false alarm: {line}");
    d.kill();
}

#[test]
fn a_corrected_cell_is_audited_again_leaves_a_trail_and_reaches_the_mail() {
    let (mut d, server, _tmp) = start("");
    d.drop_bytes(
        std::ffi::OsStr::new("001-misprinted.txt"),
        misprinted_total().as_bytes(),
    );
    let id = report_id(&d, "001-misprinted");
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);
    let first = text_of(&server.messages()[0]);
    assert!(first.contains("表三总计列"));
    let rules = |d: &Daemon| -> Vec<String> {
        findings_of(d, id)
            .iter()
            .filter_map(|f| f["rule"].as_str().map(str::to_string))
            .collect()
    };
    assert!(rules(&d).contains(&"t3-column-total".to_string()));

    // The printed 总计 is 13 (the copy misread it): corrected, the identity holds again.
    let out = ok(&ogi(
        &d,
        &[
            "correct",
            &id.to_string(),
            "t3.granted.total=13",
            "--note",
            "原件第4页",
            "--by",
            "li",
        ],
    ));
    assert!(out.contains("1 cell(s) corrected"), "{out}");
    let after = rules(&d);
    assert!(!after.contains(&"t3-column-total".to_string()), "{after:?}");
    assert!(
        !after.contains(&"t3-processed-total".to_string()),
        "{after:?}"
    );
    // The parsed value, the correction, who and when are kept.
    let (parsed, value, by): (Option<String>, f64, String) = d
        .db()
        .query_row(
            "SELECT parsed, value, by FROM corrections WHERE report_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the correction");
    assert_eq!(
        (parsed.as_deref(), value, by.as_str()),
        (Some("15"), 13.0, "li")
    );
    let history = ok(&ogi(&d, &["history", &id.to_string()]));
    assert!(
        history.contains("correct") && history.contains("15 → 13") && history.contains("原件第4页"),
        "{history}"
    );
    // The trail cannot be changed through the database either.
    let db = d.db();
    for sql in ["UPDATE trail SET by = 'x'", "DELETE FROM trail"] {
        let e = db.execute(sql, []).expect_err("the trail is kept");
        assert!(
            e.to_string().contains("audit trail cannot be changed"),
            "{e}"
        );
    }
    // The mail that follows shows the corrected table.
    wait_for(Duration::from_secs(30), || server.messages().len() == 2);
    let second = other_than(&server, &first);
    assert!(!second.contains("表三总计列"), "{second}");
    // A cell no table has is refused, naming it.
    let bad = ogi(&d, &["correct", &id.to_string(), "t3.nothing.total=1"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("nothing"));
    d.kill();
}

#[test]
fn require_review_mails_only_confirmed_findings_once_every_one_is_decided() {
    let (mut d, server, _tmp) = start("require_review = true\n");
    d.drop_file(&seed("002"), "002.txt");
    let id = report_id(&d, "002.txt");
    std::thread::sleep(Duration::from_secs(3));
    assert!(server.messages().is_empty(), "held until reviewed");
    let findings = findings_of(&d, id);
    let due: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "error" || f["severity"] == "warning")
        .collect();
    assert!(due.len() >= 3, "{findings:?}");
    // All but one decided: still held.
    let (confirm, dismiss) = due.split_at(1);
    let confirm_id = confirm[0]["id"].as_i64().expect("id").to_string();
    for f in &dismiss[..dismiss.len() - 1] {
        ok(&ogi(
            &d,
            &[
                "review",
                "dismiss",
                &f["id"].as_i64().expect("id").to_string(),
                "--reason",
                "accepted",
            ],
        ));
    }
    ok(&ogi(&d, &["review", "confirm", &confirm_id]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.messages().is_empty(), "one finding still waits");
    let last = dismiss[dismiss.len() - 1]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    ok(&ogi(&d, &["review", "dismiss", &last, "--reason", "other"]));
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);
    let text = text_of(&server.messages()[0]);
    assert!(
        text.contains(
            confirm[0]["message"]
                .as_str()
                .expect("message")
                .split('，')
                .next()
                .expect("head")
        ),
        "{text}"
    );
    for f in dismiss {
        let m = f["message"].as_str().expect("message");
        assert!(!text.contains(m), "dismissed {m} is not mailed: {text}");
    }
    d.kill();
}

#[test]
fn concurrent_decisions_on_one_finding_end_in_one_consistent_state() {
    let (mut d, _server, _tmp) = start("");
    d.drop_file(&seed("002"), "002.txt");
    let id = report_id(&d, "002.txt");
    let target = findings_of(&d, id)[0].clone();
    let fid = target["id"].as_i64().expect("id").to_string();
    let config = d.path("ogi-audit.toml");
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut c = Command::new(BIN);
            c.args(["review"]);
            if i % 2 == 0 {
                c.args(["confirm", &fid]);
            } else {
                c.args(["dismiss", &fid, "--reason", "other"]);
            }
            c.args(["--by", &format!("r{i}"), "--config"])
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("review")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("done");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let db = d.db();
    let trail: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM trail WHERE report_id = ?1",
            [id],
            |r| r.get(0),
        )
        .expect("trail");
    assert_eq!(trail, 8, "every decision is in the trail");
    let (state, by): (String, String) = db
        .query_row(
            "SELECT state, by FROM reviews WHERE report_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("one review");
    let (last_after, last_by): (String, String) = db
        .query_row(
            "SELECT after, by FROM trail WHERE report_id = ?1 ORDER BY id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("last");
    assert!(last_after.starts_with(&state), "{last_after} vs {state}");
    assert_eq!(by, last_by, "the last decision stands");
    // Each trail row's before is the state the one before it left.
    let rows: Vec<(String, String)> = db
        .prepare("SELECT before, after FROM trail WHERE report_id = ?1 ORDER BY id")
        .expect("q")
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("trail rows");
    for w in rows.windows(2) {
        assert_eq!(w[1].0, w[0].1, "serialised: {rows:?}");
    }
    d.kill();
}

/// The daemon restarted with its console, and users: a viewer, a reviewer of 烟台 only, a
/// reviewer of all.
fn console_with_users(d: &mut Daemon) -> std::net::SocketAddr {
    let config = std::fs::read_to_string(d.path("ogi-audit.toml")).expect("config");
    std::fs::write(
        d.path("ogi-audit.toml"),
        config + "[web]\nlisten = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    d.kill();
    d.spawn();
    for (name, role, scope) in [
        ("kan", "viewer", None),
        ("yt", "reviewer", Some("烟台*")),
        ("li", "reviewer", None),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["user", "add", name, "--role", role, "--config"])
            .arg(d.path("ogi-audit.toml"));
        if let Some(s) = scope {
            cmd.args(["--scope", s]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("user add");
        std::io::Write::write_all(
            &mut child.stdin.take().expect("stdin"),
            format!("{name}-password\n").as_bytes(),
        )
        .expect("password");
        assert!(child.wait().expect("added").success());
    }
    let mut addr = None;
    wait_for(Duration::from_secs(20), || {
        addr = d.log().lines().find_map(|l| {
            l.split("web console on http://")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        });
        addr.is_some()
    });
    addr.expect("console")
}

fn login(addr: std::net::SocketAddr, name: &str) -> Client {
    let mut c = Client::new(addr);
    let token = c.csrf("/login");
    let r = c.post(
        "/login",
        &[
            ("name", name),
            ("password", &format!("{name}-password")),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 303, "{name} logs in");
    c
}

#[test]
fn the_consoles_buttons_honour_roles_scopes_and_csrf_tokens() {
    let (mut d, _server, _tmp) = start("");
    let addr = console_with_users(&mut d);
    d.drop_file(&seed("002"), "002.txt");
    d.drop_file(&seed("001"), "001.txt");
    let yantai = report_id(&d, "002.txt");
    let huainan = report_id(&d, "001.txt");
    let f_yantai = findings_of(&d, yantai)[0]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    let f_huainan = findings_of(&d, huainan)[0]["id"]
        .as_i64()
        .expect("id")
        .to_string();

    // A viewer sees the buttons' page but may not act.
    let mut kan = login(addr, "kan");
    let token = kan.csrf("/review");
    let r = kan.post(
        "/review",
        &[
            ("csrf", &token),
            ("finding", &f_yantai),
            ("action", "confirm"),
        ],
    );
    assert_eq!(r.status, 403);
    let r = kan.post(
        &format!("/reports/{yantai}/correct"),
        &[
            ("csrf", &token),
            ("cell", "table3.granted.total"),
            ("value", "1"),
        ],
    );
    assert_eq!(r.status, 403);

    // A reviewer of 烟台: acts on 烟台, not on 淮南; without the token, not at all.
    let mut yt = login(addr, "yt");
    let r = yt.post("/review", &[("finding", &f_yantai), ("action", "confirm")]);
    assert_eq!(r.status, 403, "no CSRF token");
    let token = yt.csrf(&format!("/reports/{yantai}"));
    let r = yt.post(
        "/review",
        &[
            ("csrf", &token),
            ("finding", &f_huainan),
            ("action", "confirm"),
        ],
    );
    assert_eq!(r.status, 404, "outside the scope");
    let r = yt.post(
        &format!("/reports/{huainan}/correct"),
        &[
            ("csrf", &token),
            ("cell", "table3.granted.total"),
            ("value", "1"),
        ],
    );
    assert_eq!(r.status, 404, "outside the scope");
    let r = yt.post(
        "/review",
        &[
            ("csrf", &token),
            ("finding", &f_yantai),
            ("action", "dismiss"),
            ("reason", "accepted"),
            ("note", "单位已说明"),
            ("back", &format!("/reports/{yantai}")),
        ],
    );
    assert_eq!(r.status, 303);
    let state = findings_of(&d, yantai)
        .iter()
        .find(|f| f["id"].as_i64().map(|i| i.to_string()) == Some(f_yantai.clone()))
        .expect("f")["state"]
        .clone();
    assert_eq!(state, "dismissed");
    let trail: String = d
        .db()
        .query_row("SELECT by FROM trail WHERE report_id = ?1", [yantai], |r| {
            r.get(0)
        })
        .expect("trail");
    assert_eq!(trail, "yt", "the trail names the console's user");
    // The page shows it apart, with the reviewer's note; the queue no longer lists it as open.
    let page = yt.get(&format!("/reports/{yantai}")).text();
    assert!(page.contains("id=\"dismissed\"") && page.contains("单位已说明"));
    assert!(!yt
        .get("/review")
        .text()
        .contains(&format!("data-finding=\"{f_yantai}\"")));
    assert!(
        !yt.get("/review").text().contains("淮南市"),
        "the queue keeps to the scope"
    );
    d.kill();
}

/// In Chromium: a reviewer dismisses a finding with its button and corrects a cell in place.
#[test]
fn a_reviewer_dismisses_and_corrects_through_the_pages() {
    let (mut d, _server, _tmp) = start("");
    let addr = console_with_users(&mut d);
    d.drop_bytes(
        std::ffi::OsStr::new("001-misprinted.txt"),
        misprinted_total().as_bytes(),
    );
    let id = report_id(&d, "001-misprinted");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("review");
    std::fs::create_dir_all(&shots).expect("dir");
    let browser = common::browser::Browser::start(1280);
    let wait_in = |script: &str| {
        wait_for(Duration::from_secs(20), || {
            browser.eval(&format!(
                "try {{ return !!({script}); }} catch (e) {{ return false; }}"
            )) == Value::Bool(true)
        });
    };
    browser.open(&format!("http://{addr}/login"));
    wait_in("document.querySelector('#name')");
    browser.eval(
        "document.querySelector('#name').value = 'li';
         document.querySelector('#password').value = 'li-password';
         document.querySelector('form.login button').click(); return 1;",
    );
    wait_in("location.pathname === '/'");
    browser.open(&format!("http://{addr}/reports/{id}"));
    wait_in("document.querySelector('[data-rule=reply-rate-stated] form.decide')");
    // Dismiss the reply-rate finding with its own button.
    browser.eval(
        "const f = document.querySelector('[data-rule=reply-rate-stated]');
         f.querySelector('select[name=reason]').value = 'false_alarm';
         f.querySelector('input[name=note]').value = '比率写在附表';
         f.querySelector('button[value=dismiss]').click(); return 1;",
    );
    wait_in(
        "document.querySelector('#dismissed [data-rule=reply-rate-stated][data-state=dismissed]')",
    );
    // Correct the misprinted 总计 in place: click the cell, type the printed value.
    browser.eval("document.querySelector('#table3 td[data-cell=\"table3.granted.total\"] a').click(); return 1;");
    wait_in("document.querySelector('form.edit input[name=value]')");
    browser.screenshot(&shots.join("editing.png"));
    browser.eval(
        "document.querySelector('form.edit input[name=value]').value = '13';
         document.querySelector('form.edit input[name=note]').value = '原件第4页';
         document.querySelector('form.edit button').click(); return 1;",
    );
    wait_in("document.querySelector('#corrections')");
    let after = browser.eval(
        "return {
           corrected: document.querySelector('#table3 td[data-cell=\"table3.granted.total\"]').getAttribute('data-mark'),
           column_total: document.querySelectorAll('[data-rule=t3-column-total]').length,
           trail: document.querySelectorAll('#trail tr').length,
         };",
    );
    assert_eq!(after["corrected"], "corrected", "{after}");
    assert_eq!(
        after["column_total"], 0,
        "the identity holds after the correction: {after}"
    );
    assert_eq!(
        after["trail"], 3,
        "header, the dismissal and the correction: {after}"
    );
    browser.screenshot(&shots.join("corrected.png"));
    // The rules page counts the false alarm against its rule.
    browser.open(&format!("http://{addr}/rules"));
    wait_in("document.querySelector('#rules')");
    let count = browser.eval(
        "return document.querySelector('[data-false-alarms=\"reply-rate-stated\"]').textContent;",
    );
    assert_eq!(count, "1");
    d.kill();
}
