//! What careless operators and slow file shares really do, each against the real binary with
//! real files: an inbox holding the daemon's own files, copies that pause, the database deleted
//! under the daemon, two daemons on one config, special files, config mistakes, rules that
//! flood, and SIGHUP.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{seed, seeds, wait_for, walk, Daemon, BIN, RULE_ALWAYS};

fn sha256(bytes: &[u8]) -> String {
    ogi_audit::pipeline::sha256_hex(bytes)
}

/// Runs the binary with these arguments in `dir`; returns (exit code, stdout, stderr). Fails
/// the test when it does not end within `limit`.
fn run_in(dir: &Path, args: &[&str], limit: Duration) -> (i32, String, String) {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ogi-audit");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            let out = out.expect("output");
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("ogi-audit {args:?} did not end within {limit:?}");
        }
    }
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, text).expect("write");
}

/// Every file below `dir` with its content's hash, to see that nothing was moved or changed.
fn tree(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = walk(dir)
        .into_iter()
        .map(|p| {
            let h = sha256(&std::fs::read(&p).unwrap_or_default());
            (p, h)
        })
        .collect();
    out.sort();
    out
}

// 1. The inbox holding the daemon's own files.

#[test]
fn an_inbox_holding_the_daemons_own_files_is_refused_by_validate_and_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run_in(dir.path(), &["init", "."], Duration::from_secs(30));
    assert_eq!(code, 0, "{out}{err}");
    let config = dir.path().join("ogi-audit.toml");
    let original = std::fs::read_to_string(&config).expect("config");
    // The careless edit: the install folder itself as the inbox.
    std::fs::write(
        &config,
        original.replace("inbox = \"inbox\"", "inbox = \".\""),
    )
    .expect("edit");
    std::fs::copy(seed("000"), dir.path().join("report.txt")).expect("a report beside it");
    let before = tree(dir.path());

    let (code, out, _) = run_in(
        dir.path(),
        &["validate", "--offline"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  layout"), "{out}");
    for what in [
        "the database (store.database)",
        "the archive (files.archive)",
        "the quarantine (files.quarantine)",
        "the rules folder (rules.dir)",
        "this config file",
    ] {
        assert!(out.contains(what), "{what} not named:\n{out}");
    }
    assert!(out.contains("is inside the inbox"), "{out}");

    let (code, _, err) = run_in(dir.path(), &["run"], Duration::from_secs(30));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains("the database (store.database)"), "{err}");
    assert_eq!(tree(dir.path()), before, "nothing may be moved or written");
    assert!(!dir.path().join("data/ogi-audit.sqlite").exists());

    // The archive set to the inbox itself: nothing would ever be audited.
    std::fs::write(
        &config,
        original.replace("archive = \"archive\"", "archive = \"inbox\""),
    )
    .expect("edit");
    let (code, out, _) = run_in(
        dir.path(),
        &["validate", "--offline"],
        Duration::from_secs(30),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the archive (files.archive)") && out.contains("is the inbox itself"),
        "{out}"
    );
    let (code, _, err) = run_in(dir.path(), &["run"], Duration::from_secs(30));
    assert_ne!(code, 0);
    assert!(err.contains("is the inbox itself"), "{err}");

    // The log written into the inbox.
    std::fs::write(&config, &original).expect("restore");
    let log = std::fs::File::create(dir.path().join("inbox/daemon.log")).expect("log");
    let status = Command::new(BIN)
        .arg("run")
        .current_dir(dir.path())
        .stderr(log)
        .status()
        .expect("run");
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.path().join("inbox/daemon.log")).expect("log");
    assert!(log.contains("the log (standard error)"), "{log}");
    assert!(
        dir.path().join("inbox/daemon.log").exists(),
        "log not moved"
    );
}

// 2. A copy that pauses longer than `settle`.

/// A report's bytes made distinct by a line of its own at the end (the seeds parse with it).
fn distinct(src: &Path, tag: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(src).expect("seed");
    bytes.extend_from_slice(format!("\n（{tag}）\n").as_bytes());
    bytes
}

fn reports(d: &Daemon) -> Vec<(String, String)> {
    if !d.path("data/ogi-audit.sqlite").exists() {
        return Vec::new();
    }
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT sha256, status FROM reports ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn archived(d: &Daemon) -> Vec<PathBuf> {
    walk(&d.path("archive"))
}

#[test]
fn a_copy_that_pauses_with_the_file_open_is_read_only_when_whole() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    let full = distinct(&seed("002"), "pausing copy");
    let path = d.path("inbox/slow.txt");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(&full[..full.len() / 2]).expect("first half");
    f.flush().expect("flush");
    // Pauses for several times `settle` (300 ms) with the file still open, as a slow share does.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        reports(&d).is_empty(),
        "read while still being written: {:?}",
        reports(&d)
    );
    f.write_all(&full[full.len() / 2..]).expect("second half");
    drop(f);
    wait_for(Duration::from_secs(20), || {
        reports(&d).len() == 1 && archived(&d).len() == 1
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(reports(&d), vec![(sha256(&full), "parsed".to_string())]);
    let kept = std::fs::read(&archived(&d)[0]).expect("archived");
    assert_eq!(
        sha256(&kept),
        sha256(&full),
        "the kept file is the report stored"
    );
    assert!(d.log().contains("still open for writing"), "{}", d.log());
}

#[test]
fn a_presized_zero_filled_copy_waits_for_its_content() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    let full = distinct(&seed("001"), "pre-sized copy");
    let path = d.path("inbox/presized.txt");
    // A Windows copy: the file is first sized with zeros (and closed), filled later.
    {
        let f = std::fs::File::create(&path).expect("create");
        f.set_len(full.len() as u64).expect("pre-size");
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert!(reports(&d).is_empty(), "zeros read: {:?}", reports(&d));
    assert!(walk(&d.path("quarantine")).is_empty(), "zeros quarantined");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        f.write_all(&full).expect("fill");
    }
    wait_for(Duration::from_secs(20), || archived(&d).len() == 1);
    assert_eq!(reports(&d), vec![(sha256(&full), "parsed".to_string())]);
    assert!(d.log().contains("ends in zeros"), "{}", d.log());
}

// 3. The database deleted or replaced under the running daemon.

#[test]
fn a_deleted_database_stops_the_daemon_taking_reports_and_is_saved() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    d.drop_file(&seed("000"), "first.txt");
    wait_for(Duration::from_secs(20), || archived(&d).len() == 1);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(d.path(&format!("data/ogi-audit.sqlite{suffix}")));
    }
    wait_for(Duration::from_secs(10), || {
        d.log().contains("was deleted while the daemon was running")
    });
    d.drop_file(&seed("001"), "second.txt");
    // Well past settle and a rescan: the report is not taken.
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        d.path("inbox/second.txt").exists(),
        "the report must stay in the inbox"
    );
    assert_eq!(archived(&d).len(), 1);
    assert!(d.log().contains("no report is taken"), "{}", d.log());
    // What the daemon had stored is saved beside the database.
    let rescued: Vec<PathBuf> = walk(&d.path("data"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".rescued-"))
        .collect();
    assert_eq!(rescued.len(), 1, "{rescued:?}");
    let db = rusqlite::Connection::open(&rescued[0]).expect("rescued db");
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM reports", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
}

#[test]
fn a_replaced_database_stops_the_daemon_taking_reports() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    d.drop_file(&seed("000"), "first.txt");
    wait_for(Duration::from_secs(20), || archived(&d).len() == 1);
    // A restore from an old backup: another file put in its place.
    let other = d.path("other.sqlite");
    rusqlite::Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);"))
        .expect("other db");
    std::fs::rename(&other, d.path("data/ogi-audit.sqlite")).expect("replace");
    wait_for(Duration::from_secs(10), || {
        d.log().contains("was replaced by another file")
    });
    d.drop_file(&seed("001"), "second.txt");
    std::thread::sleep(Duration::from_secs(3));
    assert!(d.path("inbox/second.txt").exists());
    // The file put in place is left as it was.
    let db = rusqlite::Connection::open(d.path("data/ogi-audit.sqlite")).expect("db");
    let tables: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'reports'",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 0);
}

// 4. Two daemons on one config.

#[test]
fn a_second_daemon_on_one_config_refuses_and_names_the_first() {
    let mut d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    let first = d.child.as_ref().expect("running").id();
    let config = d.path("ogi-audit.toml");
    let (code, _, err) = run_in(
        d.dir.path(),
        &["run", "--config", &config.to_string_lossy()],
        Duration::from_secs(20),
    );
    assert_ne!(code, 0);
    assert!(err.contains("another ogi-audit daemon"), "{err}");
    assert!(err.contains(&format!("pid {first}")), "{err}");
    assert!(d.running(), "the first daemon goes on");
    let (_, out, _) = run_in(
        d.dir.path(),
        &["status", "--config", &config.to_string_lossy()],
        Duration::from_secs(20),
    );
    assert!(
        out.contains(&format!("daemon:        running (pid {first})")),
        "{out}"
    );
    d.drop_file(&seed("000"), "r.txt");
    wait_for(Duration::from_secs(20), || archived(&d).len() == 1);
    // Once the first has stopped, the lock is free.
    assert!(d.terminate().success());
    d.spawn();
    assert!(d.running());
}

// 6. Special files in `check` and the inbox.

#[test]
fn check_refuses_devices_and_pipes_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run_in(dir.path(), &["check", "/dev/zero"], Duration::from_secs(30));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("not a regular file (a character device)"),
        "{out}"
    );

    let folder = dir.path().join("reports");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(seed("000"), folder.join("a.txt")).expect("copy");
    let fifo = folder.join("b.pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let (code, out, err) = run_in(
        dir.path(),
        &["check", &folder.to_string_lossy()],
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("not a regular file (a named pipe (FIFO))"),
        "{out}"
    );
    assert!(
        out.contains("issuer:"),
        "the real report is still read:\n{out}"
    );

    // Read within watch.max_file_size.
    write(
        &dir.path().join("ogi-audit.toml"),
        &format!(
            "[watch]\nmax_file_size = \"4KB\"\n[rules]\ndir = \"{}\"\n",
            common::repo().join("rules").display()
        ),
    );
    let (code, out, _) = run_in(
        dir.path(),
        &["check", &folder.join("a.txt").to_string_lossy()],
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("more than watch.max_file_size"), "{out}");
}

/// Runs the binary to its end; returns its exit code and its peak resident memory in KB, read
/// from /proc while it runs (the high-water mark only grows, so the last reading is the peak).
fn run_measured(dir: &Path, args: &[&str]) -> (i32, u64) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn check_streams_a_large_folder_file_by_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("many");
    std::fs::create_dir_all(&folder).expect("folder");
    let sources = seeds();
    for i in 0..2000 {
        let src = &sources[i % sources.len()];
        std::fs::write(
            folder.join(format!("{i:05}.txt")),
            distinct(src, &i.to_string()),
        )
        .expect("write");
    }
    let (code, rss_kb) = run_measured(
        dir.path(),
        &["check", "--format", "json", &folder.to_string_lossy()],
    );
    assert!(code == 0 || code == 1, "exit {code}");
    // Held all at once, 2,000 outcomes took several hundred MB.
    assert!(rss_kb < 150 * 1024, "peak RSS {rss_kb} KB");
    let (code, rss_kb) = run_measured(dir.path(), &["check", &folder.to_string_lossy()]);
    assert!(code == 0 || code == 1, "exit {code}");
    assert!(rss_kb < 150 * 1024, "peak RSS {rss_kb} KB");
}

#[test]
fn check_json_output_is_one_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run_in(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            &seed("000").to_string_lossy(),
            &seed("001").to_string_lossy(),
        ],
        Duration::from_secs(30),
    );
    assert!(code == 0 || code == 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(doc["reports"].as_array().map(Vec::len), Some(2));
    assert_eq!(doc["reports"][0]["status"], "parsed");
}

#[test]
fn a_fifo_in_the_inbox_is_quarantined_with_its_reason() {
    let d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    assert!(Command::new("mkfifo")
        .arg(d.path("inbox/odd.pipe"))
        .status()
        .expect("mkfifo")
        .success());
    d.drop_file(&seed("000"), "real.txt");
    wait_for(Duration::from_secs(20), || {
        d.reason_files().len() == 1 && archived(&d).len() == 1
    });
    let (note, text) = &d.reason_files()[0];
    assert!(text.contains("named pipe"), "{text}");
    assert!(note.to_string_lossy().contains("odd.pipe"));
    assert!(!d.path("inbox/odd.pipe").exists());
    // Recorded once, not again at every scan.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'unparseable'"),
        1
    );
}

// 7. Config mistakes that silence the daemon.

#[test]
fn config_mistakes_are_refused_at_load_with_the_accepted_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (toml, expect) in [
        (
            "[log]\nlevel = \"warning\"\n",
            "error, warn, info, debug, trace, off",
        ),
        ("[log]\nlevel = \"verbose\"\n", "\"verbose\" is not a level"),
        (
            "[watch]\nmax_file_size = \"0\"\n",
            "watch.max_file_size = \"0\": too small",
        ),
        (
            "[limits]\nparse_memory = \"0\"\n",
            "limits.parse_memory = \"0\": too small",
        ),
        (
            "[limits]\nparse_time = \"0s\"\n",
            "limits.parse_time = \"0s\": too short",
        ),
        ("[rules]\nmax_findings = 0\n", "rules.max_findings = 0"),
    ] {
        write(&dir.path().join("ogi-audit.toml"), toml);
        let (code, out, _) = run_in(
            dir.path(),
            &["validate", "--offline"],
            Duration::from_secs(30),
        );
        assert_eq!(code, 1, "{toml}: {out}");
        assert!(out.contains(expect), "{toml}: {out}");
        let (code, _, err) = run_in(dir.path(), &["run"], Duration::from_secs(30));
        assert_eq!(code, 2, "{toml}: {err}");
        assert!(err.contains(expect), "{toml}: {err}");
    }
    // Filters with targets stay possible.
    write(
        &dir.path().join("ogi-audit.toml"),
        "[log]\nlevel = \"info,ogi_audit=debug\"\n",
    );
    let (code, out, _) = run_in(
        dir.path(),
        &["validate", "--offline"],
        Duration::from_secs(30),
    );
    assert!(!out.contains("FAIL  config"), "{code}: {out}");
}

// 8. Rules that flood.

const FLOOD: &str = r#"
const ID = "flood";
const TITLE = "泛滥";
const SEVERITY = "warning";
fn check(report) {
    let out = [];
    for i in 0..3000 {
        out.push(finding(`第${i}条`));
    }
    let long = "";
    long.pad(1000000, "长");
    out.insert(0, finding(long));
    out
}
"#;

#[test]
fn a_rule_that_floods_is_capped_and_says_what_was_cut() {
    let d = Daemon::start_with(
        &[("flood.rhai", FLOOD), ("always.rhai", RULE_ALWAYS)],
        "[rules]\nmax_findings = 50\nmax_message = \"2KB\"\n",
    );
    d.drop_file(&seed("000"), "r.txt");
    wait_for(Duration::from_secs(30), || archived(&d).len() == 1);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'flood'"),
        50
    );
    assert!(
        d.count("SELECT MAX(LENGTH(CAST(message AS BLOB))) FROM findings WHERE rule = 'flood'")
            < 2200
    );
    let note: String = d
        .db()
        .query_row(
            "SELECT message FROM findings WHERE rule = 'rule-error'",
            [],
            |r| r.get(0),
        )
        .expect("one rule-error finding");
    assert!(note.contains("flood"), "{note}");
    assert!(note.contains("3001"), "{note}");
    assert!(note.contains("rules.max_findings"), "{note}");
    assert!(note.contains("rules.max_message"), "{note}");
    // The other rules are not affected.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        1
    );
    let bytes: i64 = d.count(
        "SELECT SUM(LENGTH(CAST(message AS BLOB)) + LENGTH(CAST(evidence AS BLOB))) FROM findings",
    );
    assert!(bytes < 200_000, "{bytes} bytes of findings for one report");
}

// 9. Signals.

#[test]
fn sighup_reloads_the_configuration_and_rules() {
    let mut d = Daemon::start(&[("always.rhai", RULE_ALWAYS)]);
    let pid = d.child.as_ref().expect("running").id().to_string();
    let hangup = || {
        let sent = Command::new("kill").args(["-HUP", &pid]).status();
        assert!(sent.expect("kill").success());
    };
    // Another rules folder, which the running daemon does not watch: only a reload finds it.
    write(
        &d.path("rules-b/other.rhai"),
        &RULE_ALWAYS.replace("\"always\"", "\"other\""),
    );
    let config = std::fs::read_to_string(d.path("ogi-audit.toml")).expect("config");
    write(
        &d.path("ogi-audit.toml"),
        &format!("{config}\n[rules]\ndir = \"rules-b\"\n"),
    );
    hangup();
    wait_for(Duration::from_secs(20), || {
        d.log().matches("ogi-audit running").count() == 2
    });
    assert!(d.running());
    d.drop_file(&seed("000"), "a.txt");
    wait_for(Duration::from_secs(20), || archived(&d).len() == 1);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'other'"),
        1
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'always'"),
        0
    );

    // A broken config on reload: the running one stays.
    write(&d.path("ogi-audit.toml"), "[watch\nbroken");
    hangup();
    wait_for(Duration::from_secs(20), || {
        d.log()
            .contains("configuration not reloaded, the running one stays")
    });
    wait_for(Duration::from_secs(20), || {
        d.log().matches("ogi-audit running").count() == 3
    });
    assert!(d.running());
    d.drop_file(&seed("001"), "b.txt");
    wait_for(Duration::from_secs(20), || archived(&d).len() == 2);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM findings WHERE rule = 'other'"),
        2
    );

    let start = Instant::now();
    assert!(d.terminate().success(), "clean exit after reloads");
    assert!(start.elapsed() < Duration::from_secs(10));
}
