//! Mail end to end: the daemon against a real SMTP server on 127.0.0.1 (Debian's
//! python3-aiosmtpd, started per test on a free port, writing a maildir).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::smtp::{free_port, header, mail_config, Handler, Received, SmtpServer, PYTHON};
use common::{seed, seeds, wait_for, walk, Daemon, BIN};

const ROUTES: &str =
    "[[mail.routes]]\norganization = \"淮南市*\"\nto = [\"huainan@example.org\"]\n\
     [[mail.routes]]\norganization_regex = \"^烟台\"\nto = [\"yantai@example.org\"]\n\
     [[mail.routes]]\nregion = [\"井陉\"]\nto = [\"jingxing@example.org\"]\n";

fn pack_rules() -> Vec<(String, String)> {
    std::fs::read_dir(common::repo().join("rules"))
        .expect("rules")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("rule"))
        })
        .collect()
}

fn start_daemon(extra: &str) -> Daemon {
    let rules = pack_rules();
    let refs: Vec<(&str, &str)> = rules
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    Daemon::start_with(&refs, extra)
}

#[test]
fn one_summary_per_office_and_nothing_twice() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    let mut d = start_daemon(&mail_config(port, ROUTES, "\"fallback@example.org\""));
    for s in seeds() {
        d.drop_file(&s, s.file_name().and_then(|n| n.to_str()).expect("name"));
    }
    // 001 淮南, 002 烟台, 004 井陉 have routes; 000 (淮安经开区) and 003 (宁国) go to the
    // fallback, in one summary.
    // The store records a summary once the server has taken it: wait for both.
    wait_for(Duration::from_secs(30), || {
        server.messages().len() == 4
            && d.count("SELECT COUNT(*) FROM mails") == 4
            && d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'") == 5
    });
    let messages = server.messages();
    let mut to: Vec<&str> = messages.iter().filter_map(|m| header(m, "To")).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "fallback@example.org",
            "huainan@example.org",
            "jingxing@example.org",
            "yantai@example.org"
        ]
    );
    for m in &messages {
        assert!(
            header(m, "Subject").is_some_and(|s| s.contains("=?utf-8?")),
            "encoded subject: {m}"
        );
        assert!(m.contains("multipart/alternative"), "{m}");
        assert!(m.contains("text/html"));
    }
    // The store's log has the subjects with their counts.
    let subject: String = d
        .db()
        .query_row(
            "SELECT subject FROM mails WHERE recipients LIKE '%yantai%'",
            [],
            |r| r.get(0),
        )
        .expect("mail log");
    // Two errors (table 4 against the narrative), and two warnings: its 办件回复率 is that of
    // 网上民声 questions, not of requests; its 处理决定589.19万件 is not table 2's 590.65万.
    assert_eq!(
        subject,
        "[ogi-audit] 烟台市人民政府 2020年度报告：2个错误、2个警告"
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'"),
        5
    );

    // The same reports again, and a restart: nothing is sent twice.
    for (i, s) in seeds().iter().enumerate() {
        d.drop_file(s, &format!("again-{i}.txt"));
    }
    wait_for(Duration::from_secs(20), || d.inbox_files() == 0);
    d.kill();
    d.spawn();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.messages().len(), 4);
    assert_eq!(d.count("SELECT COUNT(*) FROM mails"), 4);
}

#[test]
fn a_server_that_is_down_gets_the_summary_once_when_it_is_back() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = start_daemon(&mail_config(port, ROUTES, ""));
    d.drop_file(&seed("002"), "yantai.txt");
    // Attempts fail while nothing listens; the notice waits in the store.
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'pending' AND attempts >= 1") == 1
    });
    let server = SmtpServer::start(port, tmp.path(), false);
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.messages().len(), 1, "delivered exactly once");
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'"),
        1
    );
}

#[test]
fn a_permanent_rejection_is_recorded_and_not_retried() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), true);
    let routes = "[[mail.routes]]\norganization = \"烟台*\"\nto = [\"reject@example.org\"]\n";
    let d = start_daemon(&mail_config(port, routes, ""));
    d.drop_file(&seed("002"), "yantai.txt");
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'failed'") == 1
    });
    let error: String = d
        .db()
        .query_row("SELECT last_error FROM notices", [], |r| r.get(0))
        .expect("notice");
    assert!(error.contains("550"), "{error}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(d.count("SELECT attempts FROM notices"), 1, "not retried");
    assert!(server.messages().is_empty());
}

#[test]
fn without_smtp_summaries_are_eml_files_and_unrouted_reports_stay_unsent() {
    // The embedded default: file transport, fallback audit@localhost.
    let d = start_daemon("[mail]\ngroup_wait = \"200ms\"\n");
    d.drop_file(&seed("002"), "yantai.txt");
    wait_for(Duration::from_secs(30), || {
        !walk(&d.path("outbox")).is_empty()
    });
    let files = walk(&d.path("outbox"));
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(&files[0]).expect("eml");
    assert_eq!(header(&eml, "To"), Some("audit@localhost"));
    assert!(header(&eml, "Subject").is_some());

    // No route and no fallback: kept in the store as unrouted.
    let d = start_daemon("[mail]\ngroup_wait = \"200ms\"\nfallback = []\n");
    d.drop_file(&seed("002"), "yantai.txt");
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'unrouted'") == 1
    });
    std::thread::sleep(Duration::from_millis(800));
    assert!(walk(&d.path("outbox")).is_empty());
}

#[test]
fn mail_test_and_preview_commands() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    let config = tmp.path().join("ogi-audit.toml");
    let rules = format!(
        "[rules]\ndir = \"{}\"\n",
        common::repo().join("rules").display()
    );
    std::fs::write(&config, format!("{rules}{}", mail_config(port, ROUTES, ""))).expect("config");
    let out = Command::new(BIN)
        .args(["mail", "test", "--to", "office@example.org", "--config"])
        .arg(&config)
        .output()
        .expect("mail test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(Duration::from_secs(10), || server.messages().len() == 1);
    assert_eq!(
        header(&server.messages()[0], "To"),
        Some("office@example.org")
    );

    let out = Command::new(BIN)
        .args(["mail", "preview", "--config"])
        .arg(&config)
        .arg(seed("002"))
        .output()
        .expect("preview");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("To: yantai@example.org"), "{text}");
    assert!(
        text.contains("Subject: [ogi-audit] 烟台市人民政府 2020年度报告：2个错误"),
        "{text}"
    );
    assert!(text.contains("行政诉讼31起"), "{text}");
    // With --out: the message as sent, its workbook attached, and the HTML part to open.
    let out_dir = tmp.path().join("preview");
    let out = Command::new(BIN)
        .args(["mail", "preview", "--config"])
        .arg(&config)
        .arg(seed("002"))
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("preview --out");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stem = seed("002")
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    let eml = std::fs::read_to_string(out_dir.join(format!("{stem}.eml"))).expect("the .eml");
    assert!(
        header(&eml, "To").is_some_and(|t| t.contains("yantai@example.org")),
        "{eml}"
    );
    assert!(
        eml.contains("multipart/mixed") && eml.contains("spreadsheetml"),
        "workbook attached"
    );
    let html = std::fs::read_to_string(out_dir.join(format!("{stem}.html"))).expect("the .html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("烟台市人民政府"));

    // A broken template stops the daemon's set-up with the template's name.
    let templates = tmp.path().join("templates");
    std::fs::create_dir_all(&templates).expect("dir");
    std::fs::write(templates.join("subject.txt"), "{{ reports[0].organization ").expect("tpl");
    std::fs::write(
        &config,
        mail_config(port, "", "").replace("[mail.smtp]", "templates = \"templates\"\n[mail.smtp]"),
    )
    .expect("config");
    let out = Command::new(BIN)
        .args(["mail", "test", "--to", "office@example.org", "--config"])
        .arg(&config)
        .output()
        .expect("mail test");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("subject.txt"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A rule with one warning on every report: a change of the rule set that adds findings.
const RULE_NEW_WARNING: &str = r#"
const ID = "new-warning";
const TITLE = "新规则";
const SEVERITY = "warning";
fn check(report) { [finding("新规则的提示")] }
"#;

#[test]
fn reaudit_mails_new_findings_only_when_asked_and_only_once() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    let config = format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"ogi-audit@example.org\"\ngroup_wait = \"200ms\"\n\
         group_interval = \"200ms\"\nfallback = [\"fallback@example.org\"]\n\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n{ROUTES}"
    );
    let d = start_daemon(&config);
    d.drop_file(&seed("002"), "yantai.txt");
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);

    // The office adds a rule; the daemon reloads the set.
    std::fs::write(d.path("rules/new-warning.rhai"), RULE_NEW_WARNING).expect("rule");
    wait_for(Duration::from_secs(20), || {
        d.log().contains("rule set reloaded")
    });
    let reaudit = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("reaudit")
            .args(args)
            .arg("--config")
            .arg(d.path("ogi-audit.toml"))
            .output()
            .expect("reaudit");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // A dry run stores nothing.
    let out = reaudit(&["--dry-run"]);
    assert!(
        out.contains("1 of 1 stored reports would be re-audited")
            && out.contains("1 would have new findings"),
        "{out}"
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'new-warning'"),
        0
    );

    // With --mail the new findings are stored and the running daemon mails the summary again.
    let out = reaudit(&["--mail"]);
    assert!(out.contains("1 with new findings"), "{out}");
    assert!(out.contains("1 summaries queued"), "{out}");
    // The store records a summary once the server has taken it: wait for both.
    wait_for(Duration::from_secs(30), || {
        server.messages().len() == 2 && d.count("SELECT COUNT(*) FROM mails") == 2
    });
    for m in server.messages() {
        assert_eq!(header(&m, "To"), Some("yantai@example.org"));
    }
    // The second summary counts the new warning (subjects as the store logged them, in order).
    let subjects: Vec<String> = {
        let db = d.db();
        let mut stmt = db
            .prepare("SELECT subject FROM mails ORDER BY id")
            .expect("query");
        let rows = stmt.query_map([], |r| r.get(0)).expect("rows");
        rows.collect::<Result<_, _>>().expect("subjects")
    };
    assert_eq!(
        subjects,
        [
            "[ogi-audit] 烟台市人民政府 2020年度报告：2个错误、2个警告",
            "[ogi-audit] 烟台市人民政府 2020年度报告：2个错误、3个警告"
        ]
    );

    // Again with the same rules: nothing new, nothing mailed.
    let out = reaudit(&["--mail"]);
    assert!(out.contains("0 of 1"), "{out}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(server.messages().len(), 2);
    assert_eq!(d.count("SELECT COUNT(*) FROM notices"), 2);
}

/// SMTP settings sending every report to one office (the fallback), with `extra` `[mail]` keys.
fn one_office(port: u16, group_wait: &str, group_interval: &str, extra: &str) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nfrom = \"ogi-audit@example.org\"\ngroup_wait = \"{group_wait}\"\n\
         group_interval = \"{group_interval}\"\nfallback = [\"office@example.org\"]\n{extra}\
         [mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout = \"5s\"\n"
    )
}

/// Puts `n` distinct reports with findings into the inbox: copies of the seeds 001–004, each
/// made unique (stored as a report of its own) by a line of blanks at the end, which the parser
/// ignores. Returns their file names.
fn bulk_reports(d: &Daemon, n: usize) -> Vec<String> {
    let seeds: Vec<Vec<u8>> = ["001", "002", "003", "004"]
        .iter()
        .map(|s| std::fs::read(seed(s)).expect("seed"))
        .collect();
    (0..n)
        .map(|i| {
            let mut bytes = seeds[i % seeds.len()].clone();
            bytes.push(b'\n');
            bytes.extend(std::iter::repeat_n(b' ', i + 1));
            bytes.push(b'\n');
            let name = format!("bulk-{i:03}.txt");
            d.drop_bytes(std::ffi::OsStr::new(&name), &bytes);
            name
        })
        .collect()
}

/// Each report's summary is in exactly one of the messages (the text part names its file).
fn each_report_once(received: &[Received], names: &[String]) {
    for name in names {
        let needle = format!("文件：{name}");
        let n: usize = received
            .iter()
            .map(|m| m.text.lines().filter(|l| l.trim() == needle).count())
            .sum();
        assert_eq!(n, 1, "{name} is in {n} messages");
    }
}

/// A daemon whose inbox holds `n` bulk reports when it starts, so that they are all stored
/// within `group_wait` and make one summary.
fn daemon_with_bulk(config: &str, n: usize) -> (Daemon, Vec<String>) {
    let mut d = start_daemon(config);
    d.kill();
    let names = bulk_reports(&d, n);
    d.spawn();
    (d, names)
}

#[test]
fn a_summary_too_large_for_the_server_is_split_and_every_report_mailed_once() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    // The server refuses messages over 100 KB with 552; the mailer's own limit is the default
    // 5 MB, so only the server's answer can tell it to split.
    let limit = 100_000;
    let server = SmtpServer::launch(port, tmp.path(), Handler::Recording(Some(limit)));
    let (d, names) = daemon_with_bulk(&one_office(port, "4s", "200ms", ""), 48);
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status <> 'pending'") == 48
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'"),
        48,
        "{}",
        d.log()
    );
    let received = server.received();
    assert!(received.len() > 1, "{} message(s)", received.len());
    for m in &received {
        assert!(m.size <= limit as u64, "{} bytes: {}", m.size, m.subject);
    }
    each_report_once(&received, &names);
    assert!(
        d.log().contains("refused the summary as too large"),
        "{}",
        d.log()
    );
    // The parts say which they are.
    assert!(
        received[0].subject.contains("（第1/"),
        "{}",
        received[0].subject
    );
}

#[test]
fn a_group_larger_than_max_reports_goes_out_as_several_summaries_in_one_round() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::launch(port, tmp.path(), Handler::Recording(None));
    // group_interval 1 h: whatever is not mailed in the first round would wait an hour.
    let config = one_office(port, "4s", "1h", "max_reports = 10\n");
    let (d, names) = daemon_with_bulk(&config, 25);
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'") == 25
    });
    let received = server.received();
    assert_eq!(received.len(), 3, "{}", d.log());
    each_report_once(&received, &names);
    // Three summaries of their own (10, 10 and 5 reports), not parts of one.
    let mut counts: Vec<&str> = received.iter().map(|m| m.subject.as_str()).collect();
    counts.sort();
    for (subject, n) in counts.iter().zip(["10份", "10份", "5份"]) {
        assert!(
            subject.contains(n) && !subject.contains("部分"),
            "{subject}"
        );
    }
}

#[test]
fn a_summary_over_max_message_size_goes_out_in_parts_and_a_refused_part_follows() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    // No size limit on the server, but it answers the second message with a transient 451.
    let server = SmtpServer::launch(port, tmp.path(), Handler::SecondRefused);
    let config = one_office(port, "4s", "1h", "max_message_size = \"64KB\"\n");
    let (d, names) = daemon_with_bulk(&config, 40);
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'") == 40
    });
    let received = server.received();
    assert!(received.len() > 1, "{} message(s)", received.len());
    for m in &received {
        assert!(m.size <= 64 << 10, "{} bytes: {}", m.size, m.subject);
    }
    each_report_once(&received, &names);
    assert!(
        received[0].subject.contains("（第1/"),
        "{}",
        received[0].subject
    );
    // The refused part stayed pending and went out on a later try, group_interval (1 h)
    // notwithstanding: it belongs to a summary that was due.
    assert!(
        d.count("SELECT COUNT(*) FROM notices WHERE attempts = 2") > 0,
        "{}",
        d.log()
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'failed'"),
        0
    );
    // Split before sending: the server never had to refuse a message for its size.
    assert!(!d.log().contains("too large"), "{}", d.log());
}

#[test]
fn a_report_too_large_alone_fails_with_the_reason_and_mail_retry_failed_sends_it() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    // Smaller than any one report's summary.
    let server = SmtpServer::launch(port, tmp.path(), Handler::Recording(Some(3000)));
    let d = start_daemon(&one_office(port, "300ms", "1h", ""));
    d.drop_file(&seed("002"), "yantai.txt");
    d.drop_file(&seed("003"), "ningguo.txt");
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'failed'") == 2
    });
    let errors: Vec<String> = {
        let db = d.db();
        let mut stmt = db.prepare("SELECT last_error FROM notices").expect("query");
        let rows = stmt.query_map([], |r| r.get(0)).expect("rows");
        rows.collect::<Result<_, _>>().expect("errors")
    };
    for e in &errors {
        assert!(e.contains("this report alone") && e.contains("552"), "{e}");
    }
    assert!(server.received().is_empty());
    let config = d.path("ogi-audit.toml");
    let status = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("2 failed"), "{status}");
    assert!(
        status.contains("(failed, 1 attempt): the summary of this report alone"),
        "{status}"
    );

    // The server's limit is raised; the office asks for the failed summaries again.
    drop(server);
    let tmp2 = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::launch(port, tmp2.path(), Handler::Recording(None));
    let out = Command::new(BIN)
        .args(["mail", "retry", "--failed", "--config"])
        .arg(&config)
        .output()
        .expect("mail retry");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("2 failed notices are pending again"),
        "{text}"
    );
    // Each report named with its id and issuer (ids in the order the workers stored them).
    for org in ["烟台市人民政府", "宁国市西津街道办事处"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("report #") && l.contains(org)),
            "{text}"
        );
    }
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'") == 2
    });
    // One summary, with both reports.
    let received = server.received();
    assert_eq!(received.len(), 1);
    each_report_once(&received, &["yantai.txt".into(), "ningguo.txt".into()]);
    let out = Command::new(BIN)
        .args(["mail", "retry", "--failed", "--config"])
        .arg(&config)
        .output()
        .expect("mail retry");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no failed notices"));
}

#[test]
fn mail_retry_makes_a_summary_waiting_after_failures_due_now() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut d = start_daemon(&mail_config(port, ROUTES, ""));
    d.drop_file(&seed("002"), "yantai.txt");
    // Nothing listens: the attempt fails and the notice waits.
    wait_for(Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'pending' AND attempts >= 1") == 1
    });
    d.kill();
    // As after many failed attempts: the next one an hour away.
    d.db()
        .execute(
            "UPDATE notices SET next_attempt_ms = next_attempt_ms + 3600000",
            [],
        )
        .expect("update");
    let server = SmtpServer::start(port, tmp.path(), false);
    d.spawn();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(server.messages().is_empty(), "the notice still waits");
    let out = Command::new(BIN)
        .args(["mail", "retry", "--config"])
        .arg(d.path("ogi-audit.toml"))
        .output()
        .expect("mail retry");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 pending notice is due now"), "{text}");
    wait_for(Duration::from_secs(20), || server.messages().len() == 1);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'"),
        1
    );
}

/// A server that accepts connections and never says a word; each connection adds a line to
/// `connections`, and `ready` appears once it listens.
const SILENT: &str = r#"
import socket, sys, os
port, dir = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
open(os.path.join(dir, "ready"), "w").close()
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(os.path.join(dir, "connections"), "a") as f:
        f.write("connected\n")
"#;

struct Silent {
    child: Child,
    dir: PathBuf,
}

impl Silent {
    fn start(port: u16, dir: &Path) -> Silent {
        let child = Command::new(PYTHON)
            .args(["-c", SILENT, &port.to_string()])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        wait_for(Duration::from_secs(20), || dir.join("ready").exists());
        Silent {
            child,
            dir: dir.to_path_buf(),
        }
    }

    fn connections(&self) -> usize {
        std::fs::read_to_string(self.dir.join("connections"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sigterm_while_the_smtp_server_hangs_stops_within_seconds_and_the_summary_stays_pending() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Silent::start(port, tmp.path());
    let config = mail_config(port, ROUTES, "").replace("timeout = \"5s\"", "timeout = \"30s\"");
    let mut d = start_daemon(&config);
    d.drop_file(&seed("002"), "yantai.txt");
    // The mailer is inside the SMTP conversation, waiting for a greeting that never comes.
    wait_for(Duration::from_secs(30), || server.connections() >= 1);
    let mut child = d.child.take().expect("running");
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    let stopped = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if signalled.elapsed() > Duration::from_secs(8) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = signalled.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let status = stopped.unwrap_or_else(|| panic!("still running 8 s after SIGTERM:\n{}", d.log()));
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    // Neither sent nor failed, not even counted as an attempt: mailed after the next start.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'pending' AND attempts = 0"),
        1
    );
    let log = d.log();
    assert!(
        log.contains("stays pending and is mailed after the next start"),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn while_the_database_is_unusable_the_mailer_backs_off_and_then_mails() {
    let port = free_port();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = SmtpServer::start(port, tmp.path(), false);
    let d = start_daemon(&mail_config(port, ROUTES, ""));
    // The mail log's table disappears (a botched manual change): every round of the mailer
    // fails at once.
    d.db()
        .execute_batch("ALTER TABLE mails RENAME TO mails_away")
        .expect("rename");
    d.drop_file(&seed("002"), "yantai.txt");
    let errors = |log: &str| {
        log.lines()
            .filter(|l| l.contains("ERROR") && l.contains("mailer:"))
            .count()
    };
    wait_for(Duration::from_secs(30), || errors(&d.log()) >= 1);
    std::thread::sleep(Duration::from_secs(5));
    let log = d.log();
    let n = errors(&log);
    // One round every 200 ms would be about 25 lines; waits that double make a handful.
    assert!((2..=8).contains(&n), "{n} mailer errors in 5 s:\n{log}");
    assert!(
        log.contains("the database is unusable (database: no such table: mails)"),
        "{log}"
    );
    assert!(
        log.contains("1 report waiting to be mailed (report #1)"),
        "{log}"
    );
    assert!(server.messages().is_empty());

    d.db()
        .execute_batch("ALTER TABLE mails_away RENAME TO mails")
        .expect("rename back");
    wait_for(Duration::from_secs(30), || server.messages().len() == 1);
    wait_for(Duration::from_secs(10), || {
        d.count("SELECT COUNT(*) FROM notices WHERE status = 'sent'") == 1
    });
    assert!(d.log().contains("mailer: working again"), "{}", d.log());
}
