//! Hostile input dropped into a running daemon: it stays up, each hostile entry is quarantined
//! with a reason (or, where it is a legitimate report with an odd name, stored), the real
//! reports dropped around them are stored with their findings, and memory stays bounded.

mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{seed, wait_for, walk, Daemon, RULE_ALWAYS};

/// A DOCX whose document.xml inflates to `size` bytes of spaces (compresses ~1000:1).
fn docx_bomb(size: usize) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("[Content_Types].xml", opts).expect("entry");
        zip.write_all(b"<?xml version=\"1.0\"?><Types/>")
            .expect("write");
        zip.start_file("word/document.xml", opts).expect("entry");
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..size / chunk.len() {
            zip.write_all(&chunk).expect("write");
        }
        zip.finish().expect("finish");
    }
    buf.into_inner()
}

#[test]
fn hostile_entries_are_quarantined_and_real_reports_keep_flowing() {
    let mut d = Daemon::start_full(
        &[("always.rhai", RULE_ALWAYS)],
        "max_file_size = \"20MB\"\n",
        "",
    );
    let outside = tempfile::tempdir().expect("outside dir");
    let secret = outside.path().join("secret.txt");
    std::fs::copy(seed("001"), &secret).expect("secret");

    // Real reports, before the hostile ones.
    d.drop_file(&seed("000"), "before.txt");

    // Links that lead outside the inbox.
    std::os::unix::fs::symlink(&secret, d.path("inbox/symlink.txt")).expect("symlink");
    std::fs::hard_link(&secret, d.path("inbox/hardlink.txt")).expect("hard link");

    // A 1 GB sparse file (over max_file_size: quarantined without being read).
    let sparse = d.path("staging-sparse");
    {
        let f = std::fs::File::create(&sparse).expect("sparse");
        f.set_len(1 << 30).expect("set_len");
    }
    std::fs::rename(&sparse, d.path("inbox/huge.txt")).expect("move sparse");

    // Deeply nested HTML, a 100,000-row HTML table, a DOCX that inflates to 1 GB, garbage.
    let mut nested = String::from("<html><head><meta charset=\"utf-8\"></head><body>");
    nested.push_str(&"<div>".repeat(100_000));
    nested.push_str("政府信息公开工作年度报告");
    nested.push_str(&"</div>".repeat(100_000));
    d.drop_bytes(OsStr::new("nested.html"), nested.as_bytes());
    let mut rows = String::from("<html><body><p>政府信息公开工作年度报告</p><table>");
    for i in 0..100_000 {
        rows.push_str(&format!("<tr><td>第{i}行</td><td>{i}</td></tr>"));
    }
    rows.push_str("</table></body></html>");
    d.drop_bytes(OsStr::new("rows.html"), rows.as_bytes());
    d.drop_bytes(OsStr::new("bomb.docx"), &docx_bomb(1 << 30));
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    d.drop_bytes(OsStr::new("garbage.bin"), &garbage);

    // Real reports with odd names: spaces, a newline, bytes that are not UTF-8, 250 bytes long.
    let seed_bytes = |s: &str| std::fs::read(seed(s)).expect("seed");
    d.drop_bytes(OsStr::new("with spaces 年度 报告.txt"), &seed_bytes("002"));
    d.drop_bytes(OsStr::new("new\nline.txt"), &seed_bytes("003"));
    d.drop_bytes(
        OsStr::from_bytes(b"gbk-\xd5\xfe\xb8\xae.txt"),
        &seed_bytes("004"),
    );
    let long = format!("{}.txt", "很长的文件名".repeat(13)); // 234 bytes + .txt
    assert!(long.len() > 200 && long.len() < 256);
    let mut pingtan = seed_bytes("000");
    pingtan.extend_from_slice("\n（长文件名副本）\n".as_bytes());
    d.drop_bytes(OsStr::new(&long), &pingtan);

    // And a real report after them.
    d.drop_file(&seed("001"), "after.txt");

    // The six real reports (the long-named one differs from 000 by a line) are stored.
    wait_for(Duration::from_secs(120), || {
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'") >= 6 && d.inbox_files() == 0
    });
    assert!(d.running(), "daemon exited");

    // Every parsed report has the always-rule's finding (findings stored with it).
    let without = d.count(
        "SELECT COUNT(*) FROM reports r WHERE r.status = 'parsed' AND NOT EXISTS \
         (SELECT 1 FROM findings f WHERE f.report_id = r.id AND f.rule = 'always')",
    );
    assert_eq!(without, 0);

    // Hostile entries are in quarantine, each with a reason.
    let reasons = d.reason_files();
    let all: String = reasons
        .iter()
        .map(|(_, t)| t.as_str())
        .collect::<Vec<_>>()
        .join("\n---\n");
    for expected in [
        "a symbolic link",
        "a hard link",
        "too large",
        "bomb.docx",
        "garbage.bin",
    ] {
        assert!(
            all.contains(expected),
            "no quarantine reason mentions {expected:?}:\n{all}"
        );
    }
    for name in ["nested.html", "rows.html"] {
        assert!(all.contains(name), "{name} not quarantined:\n{all}");
    }
    // The outside file is untouched and was not copied anywhere.
    assert_eq!(
        std::fs::read(&secret).expect("secret"),
        std::fs::read(seed("001")).expect("seed")
    );
    let archived: Vec<PathBuf> = walk(&d.path("archive"));
    assert_eq!(archived.len(), 6, "{archived:#?}");
    // Odd names keep a recognisable name in the archive.
    let names: Vec<String> = archived
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("with spaces")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("很长的文件名") && n.len() <= 200),
        "{names:?}"
    );
    assert!(archived.iter().all(|p| p.starts_with(d.path("archive"))));

    let peak = d.peak_rss_kb();
    assert!(peak < 400 * 1024, "peak RSS {peak} kB");
}

#[test]
fn a_locked_database_delays_reports_without_losing_them() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    // Another process holds the database: an exclusive transaction longer than the busy timeout.
    let locker = d.db();
    locker
        .execute_batch("PRAGMA busy_timeout = 0; BEGIN EXCLUSIVE;")
        .expect("lock");
    d.drop_file(&seed("002"), "report.txt");
    // The daemon cannot store it: the file stays in the inbox and the log says why.
    wait_for(Duration::from_secs(40), || {
        d.log()
            .contains("report not stored, will retry: database: database is locked")
    });
    assert_eq!(
        d.inbox_files(),
        1,
        "the report left the inbox without being stored"
    );
    locker.execute_batch("ROLLBACK;").expect("unlock");
    drop(locker);
    // Once the lock is gone, the report is stored with its findings and archived.
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'") == 1 && d.inbox_files() == 0
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM reports"), 1);
}

#[test]
fn the_smtp_password_never_appears_in_logs_status_or_validate() {
    const PASSWORD: &str = "pw-Zq81-never-shown";
    std::env::set_var("OGI_HOSTILE_TEST_PASSWORD", PASSWORD);
    // A port nobody listens on: every delivery attempt fails and is logged.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let d = Daemon::start_with(
        &[("always.rhai", RULE_ALWAYS)],
        &format!(
            "[mail]\ntransport = \"smtp\"\ngroup_wait = \"0s\"\nmin_severity = \"info\"\n\
             fallback = [\"zwgk@example.org\"]\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
             username = \"ogi\"\npassword_env = \"OGI_HOSTILE_TEST_PASSWORD\"\ntimeout = \"2s\"\n"
        ),
    );
    d.drop_file(&seed("002"), "report.txt");
    wait_for(Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM notices WHERE attempts > 0") > 0
    });
    let config = d.path("ogi-audit.toml");
    let mut seen = d.log();
    for args in [
        &["status"][..],
        &["validate"][..],
        &["status", "--format", "json"][..],
    ] {
        let out = std::process::Command::new(common::BIN)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .expect("run");
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(seen.contains("cannot be reached"), "validate ran:\n{seen}");
    assert!(!seen.contains(PASSWORD), "the password leaked:\n{seen}");
    let stored: String = d
        .db()
        .query_row("SELECT COALESCE(last_error, '') FROM notices", [], |r| {
            r.get(0)
        })
        .expect("notice");
    assert!(!stored.contains(PASSWORD));
}

/// A flat HTML page of `paragraphs` short paragraphs (13 MB at 200,000): cheap to write, costly
/// to parse into a document tree.
fn flat_html(paragraphs: usize) -> Vec<u8> {
    let mut page = String::from(
        "<html><head><meta charset=\"utf-8\"><title>某某局2023年政府信息公开工作年度报告</title></head><body>",
    );
    page.push_str(&"<p>本机关依法公开政府信息，共计<b>12</b>条。</p>\n".repeat(paragraphs));
    page.push_str("</body></html>");
    page.into_bytes()
}

/// Drops a real report, `hostile`, and another real report into a daemon with `limits`; returns
/// the stored error of the hostile one once all three are done.
fn budget_case(limits: &str, hostile: &[u8]) -> String {
    let d = Daemon::start_with(
        &[("always.rhai", RULE_ALWAYS)],
        &format!("[limits]\n{limits}\n"),
    );
    d.drop_file(&seed("001"), "before.txt");
    d.drop_bytes(OsStr::new("costly.html"), hostile);
    d.drop_file(&seed("002"), "after.txt");
    wait_for(Duration::from_secs(90), || {
        d.count("SELECT COUNT(*) FROM reports") == 3
            && d.inbox_files() == 0
            && d.reason_files().len() == 1
    });
    // The real reports around it are stored with their findings.
    assert_eq!(d.parsed_with_finding("always"), 2);
    let (_, note) = d.reason_files().remove(0);
    assert!(note.contains("costly.html"), "{note}");
    let error: String = d
        .db()
        .query_row(
            "SELECT error FROM reports WHERE status = 'unparseable'",
            [],
            |r| r.get(0),
        )
        .expect("the costly report's row");
    assert!(note.starts_with(&error), "{note}");
    error
}

#[test]
fn a_report_over_the_memory_budget_is_quarantined_with_the_reason() {
    let error = budget_case("parse_memory = \"64MB\"", &flat_html(200_000));
    assert_eq!(
        error,
        "needed more memory than limits.parse_memory (64 MB); stopped while parsing the HTML"
    );
}

#[test]
fn a_report_over_the_time_budget_is_quarantined_with_the_reason() {
    let error = budget_case("parse_time = \"400ms\"", &flat_html(200_000));
    assert!(
        error.starts_with("took longer than limits.parse_time (400ms); stopped while "),
        "{error}"
    );
}
