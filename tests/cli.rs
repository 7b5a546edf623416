//! The first-run commands as an operator uses them: `init`, `validate`, `status`, completions,
//! `--version`, the config from `OGI_AUDIT_CONFIG`, and readiness sent to systemd.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{seed, wait_for, BIN};

fn ogi(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("OGI_AUDIT_CONFIG")
        .output()
        .expect("run ogi-audit")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn initialized() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = ogi(dir.path(), &["init"]);
    assert!(o.status.success(), "{}", text(&o));
    dir
}

#[test]
fn init_then_validate_passes_and_a_second_init_refuses() {
    let dir = initialized();
    for rel in [
        "ogi-audit.toml",
        "rules/t3-balance.rhai",
        "rules/tests/t3-balance.toml",
    ] {
        assert!(dir.path().join(rel).is_file(), "{rel} missing");
    }
    for rel in ["inbox", "archive", "quarantine", "data", "outbox"] {
        assert!(dir.path().join(rel).is_dir(), "{rel} missing");
    }
    let o = ogi(dir.path(), &["validate"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("all 11 checks passed"), "{}", text(&o));
    // Which optional readers this machine has (the tests need pdftotext and Tesseract).
    assert!(
        text(&o)
            .contains("optional readers: text, HTML, DOCX, Word 97-2003 .doc and .wps built in")
            && text(&o).contains("PDF: pdftotext (/")
            && text(&o).contains("scanned PDF (pages of images): tesseract (with chi_sim) (/"),
        "{}",
        text(&o)
    );
    // The written pack is complete: its own tests pass.
    let o = ogi(dir.path(), &["rules", "test"]);
    assert!(o.status.success(), "{}", text(&o));

    let before = std::fs::read(dir.path().join("ogi-audit.toml")).expect("config");
    let o = ogi(dir.path(), &["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
    assert_eq!(
        std::fs::read(dir.path().join("ogi-audit.toml")).expect("config"),
        before
    );
}

#[test]
fn validate_catches_a_broken_config() {
    let dir = initialized();
    let config = dir.path().join("ogi-audit.toml");
    let good = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        good.replace("settle = \"500ms\"", "settle = \"soon\""),
    )
    .expect("write");
    let o = ogi(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAIL  config"), "{}", text(&o));
    assert!(text(&o).contains("settle = \"soon\""), "{}", text(&o));

    std::fs::write(&config, good.replace("[watch]", "[watch\n")).expect("write");
    let o = ogi(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("ogi-audit.toml"), "{}", text(&o));
}

#[test]
fn validate_names_the_file_line_and_column_of_a_rule_syntax_error() {
    let dir = initialized();
    std::fs::write(
        dir.path().join("rules/broken.rhai"),
        "const ID = \"broken\";\nconst TITLE = \"b\";\nconst SEVERITY = \"error\";\nfn check(report) {\n    let x = ;\n}\n",
    )
    .expect("write");
    let o = ogi(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL  rules"), "{out}");
    assert!(out.contains("broken.rhai:5:"), "{out}");
}

#[test]
fn validate_reports_an_unreachable_smtp_server_unless_offline() {
    let dir = initialized();
    // A port nobody listens on: bind one, learn its number, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let config = dir.path().join("ogi-audit.toml");
    let text_before = std::fs::read_to_string(&config).expect("config");
    let smtp = text_before
        .replace("transport = \"file\"", "transport = \"smtp\"")
        .replace("port = 25", &format!("port = {port}"));
    std::fs::write(&config, smtp).expect("write");
    let o = ogi(dir.path(), &["validate"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("FAIL  mail transport"), "{out}");
    assert!(
        out.contains(&format!("127.0.0.1:{port} cannot be reached")),
        "{out}"
    );

    let o = ogi(dir.path(), &["validate", "--offline"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("not contacted"), "{}", text(&o));
}

#[test]
fn status_fails_without_a_database_or_an_inbox_and_reads_the_config_from_the_environment() {
    let dir = initialized();
    let o = ogi(dir.path(), &["status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no database at"), "{}", text(&o));
    assert!(
        !dir.path().join("data/ogi-audit.sqlite").exists(),
        "status must not create the database"
    );

    // From another folder, with the config named by OGI_AUDIT_CONFIG.
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("ogi-audit.toml");
    let log = elsewhere.path().join("daemon.log");
    let mut child = Command::new(BIN)
        .arg("run")
        .current_dir(elsewhere.path())
        .env("OGI_AUDIT_CONFIG", &config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start daemon");
    // Running, so the database exists with its whole schema (not killed half-way through).
    wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ogi-audit running"))
    });
    let _ = child.kill();
    let _ = child.wait();

    let o = Command::new(BIN)
        .arg("status")
        .current_dir(elsewhere.path())
        .env("OGI_AUDIT_CONFIG", &config)
        .output()
        .expect("status");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("pending files: 0"), "{}", text(&o));

    std::fs::remove_dir(dir.path().join("inbox")).expect("remove inbox");
    let o = ogi(dir.path(), &["status"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is missing"), "{}", text(&o));
}

#[test]
fn version_help_examples_and_completions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = ogi(dir.path(), &["--version"]);
    assert!(o.status.success());
    assert!(text(&o).starts_with("ogi-audit "), "{}", text(&o));
    for sub in [
        "run",
        "init",
        "validate",
        "status",
        "findings",
        "reaudit",
        "check",
        "bench",
        "completions",
    ] {
        let o = ogi(dir.path(), &[sub, "--help"]);
        assert!(o.status.success(), "{sub}: {}", text(&o));
        assert!(
            text(&o).contains("ogi-audit "),
            "{sub} --help has no example"
        );
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = ogi(dir.path(), &["completions", shell]);
        assert!(o.status.success(), "{shell}");
        assert!(
            text(&o).contains("validate"),
            "{shell} completion lacks subcommands"
        );
    }
    let script = dir.path().join("c.bash");
    std::fs::write(&script, ogi(dir.path(), &["completions", "bash"]).stdout).expect("write");
    let o = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash -n");
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn the_daemon_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let dir = initialized();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut child = Command::new(BIN)
        .arg("run")
        .current_dir(dir.path())
        .env_remove("OGI_AUDIT_CONFIG")
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon");
    let mut buf = [0u8; 128];
    let n = socket.recv(&mut buf).expect("READY=1 within 20 s");
    assert_eq!(&buf[..n], b"READY=1");
    // Ready means watching: a report dropped now is stored.
    std::fs::copy(seed("003"), dir.path().join("inbox/report.txt")).expect("drop");
    let archive = dir.path().join("archive");
    wait_for(Duration::from_secs(20), || {
        !common::walk(&archive).is_empty()
    });
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let n = socket.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ogi-audit.toml"),
        "[rules]\ndir = \"no-such-rules\"\n",
    )
    .expect("config");
    let o = ogi(dir.path(), &["rules", "list"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no-such-rules"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// `check` audits a report against its issuer's report of the year before, found among the
/// files checked or given with `--previous`, as the daemon does with the store.
#[test]
fn check_finds_last_years_report_among_the_files_or_in_previous() {
    let dir = tempfile::tempdir().expect("tempdir");
    let this_year = std::fs::read_to_string(seed("000")).expect("seed");
    // The same issuer's 2019 report, which carried 3 requests into 2020; the 2020 report
    // says none were carried over.
    let last_year = this_year.replace("2020年", "2019年").replace(
        "四、结转下年度继续办理 | 5 | 0 | 0 | 0 | 0 | 0 | 5 |",
        "四、结转下年度继续办理 | 3 | 0 | 0 | 0 | 0 | 0 | 3 |",
    );
    assert_ne!(last_year, this_year);
    let (now, old) = (dir.path().join("2020.txt"), dir.path().join("old"));
    std::fs::create_dir(&old).expect("dir");
    std::fs::write(&now, &this_year).expect("write");
    std::fs::write(old.join("2019.txt"), &last_year).expect("write");
    let carryover = |o: &Output| {
        text(o)
            .lines()
            .filter(|l| l.contains("cross-year-carryover"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let alone = ogi(dir.path(), &["check", "2020.txt"]);
    assert!(carryover(&alone).is_empty(), "{}", text(&alone));
    let with_previous = ogi(dir.path(), &["check", "--previous", "old", "2020.txt"]);
    let found = carryover(&with_previous);
    assert_eq!(found.len(), 2, "{}", text(&with_previous));
    assert!(found[0].contains("本年度上年结转0件，但2019年度报告结转下年度为3件"));
    assert_eq!(with_previous.status.code(), Some(1), "an error finding");
    // Both files given: the 2019 report is audited alone, the 2020 one against it.
    let both = ogi(dir.path(), &["check", "old/2019.txt", "2020.txt"]);
    assert_eq!(carryover(&both), found, "{}", text(&both));
    // A copy of the 2019 report that does not parse (its tables cut off) given before it: the
    // first of the issuer's 2019 files that parses is the year before.
    let cut = &last_year[..last_year.find("二、主动公开").expect("section two")];
    std::fs::write(dir.path().join("0-cut.txt"), cut).expect("write");
    let cut_first = ogi(
        dir.path(),
        &["check", "0-cut.txt", "old/2019.txt", "2020.txt"],
    );
    assert!(
        text(&cut_first).contains("0-cut.txt"),
        "{}",
        text(&cut_first)
    );
    assert_eq!(carryover(&cut_first), found, "{}", text(&cut_first));
}

/// `check` on a folder reads and audits on several threads, batch by batch, and prints the
/// reports in the order given whatever the number of threads: the same output with one thread
/// and with three, an unreadable file in its place among the others, every issuer's report of
/// 2020 audited against its 2019 report wherever the two fall in the batches.
#[test]
fn check_prints_in_the_order_given_whatever_the_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).expect("dir");
    let seeds: Vec<String> = ["000", "001", "002", "003", "004"]
        .iter()
        .map(|s| std::fs::read_to_string(seed(s)).expect("seed"))
        .collect();
    // 70 files, more than two batches: 35 issuers, each with a report of 2020 and one of 2019
    // (the same seed's text under the issuer's title), named so that the two lie far apart.
    let mut names = Vec::new();
    for i in 0..70 {
        let issuer = i / 2;
        let year = if i % 2 == 0 { 2020 } else { 2019 };
        let body = format!(
            "{}{year}年政府信息公开工作年度报告\n\n{}",
            issuer_name(issuer),
            seeds[issuer % 5]
        );
        let name = format!("{:02}-{i}.txt", (i * 37) % 70);
        std::fs::write(reports.join(&name), body).expect("write");
        names.push(name);
    }
    std::fs::write(reports.join("35-broken.txt"), "这不是一份年度报告。").expect("write");
    let one = ogi(
        dir.path(),
        &["check", "--format", "json", "--jobs", "1", "reports"],
    );
    let three = ogi(
        dir.path(),
        &["check", "--format", "json", "--jobs", "3", "reports"],
    );
    assert_eq!(one.status.code(), three.status.code());
    assert_eq!(
        one.status.code(),
        Some(2),
        "the broken file fails the check"
    );
    assert_eq!(one.stdout, three.stdout, "{}", text(&three));
    let json: serde_json::Value = serde_json::from_slice(&one.stdout).expect("json");
    let printed: Vec<String> = json["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| {
            Path::new(r["path"].as_str().expect("path"))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut given = names.clone();
    given.push("35-broken.txt".to_string());
    given.sort();
    assert_eq!(printed, given);
    let reports = json["reports"].as_array().expect("reports");
    let unreadable: Vec<&serde_json::Value> =
        reports.iter().filter(|r| r["status"] != "parsed").collect();
    assert_eq!(unreadable.len(), 1);
    // Every 2020 report got what it gets when checked with its 2019 report alone: the
    // cross-year rules saw last year's report wherever it lay in the batches.
    let cross_year = |r: &serde_json::Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|f| {
                        f["rule"]
                            .as_str()
                            .is_some_and(|r| r.starts_with("cross-year"))
                    })
                    .map(|f| f["message"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    // The messages without the issuer's name, to compare those of issuers of the same seed.
    let strip = |found: Vec<String>, issuer: usize| -> Vec<String> {
        found
            .into_iter()
            .map(|m| m.replace(&issuer_name(issuer), ""))
            .collect()
    };
    let mut alone = Vec::new();
    for issuer in 0..5 {
        let pair = [
            format!("reports/{:02}-{}.txt", (2 * issuer * 37) % 70, 2 * issuer),
            format!(
                "reports/{:02}-{}.txt",
                ((2 * issuer + 1) * 37) % 70,
                2 * issuer + 1
            ),
        ];
        let o = ogi(
            dir.path(),
            &["check", "--format", "json", &pair[0], &pair[1]],
        );
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let of_2020 = json["reports"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["report"]["year"] == 2020))
            .map(|r| strip(cross_year(r), issuer))
            .expect("the 2020 report");
        alone.push(of_2020);
    }
    assert!(
        alone.iter().any(|f| !f.is_empty()),
        "some seed's pair has cross-year findings"
    );
    let mut of_2020 = 0;
    for r in reports.iter().filter(|r| r["report"]["year"] == 2020) {
        let org = r["report"]["organization"].as_str().expect("issuer");
        let issuer = (0..35)
            .find(|i| issuer_name(*i) == org)
            .expect("an issuer of the files");
        let found = strip(cross_year(r), issuer);
        assert_eq!(found, alone[issuer % 5], "{org}");
        of_2020 += 1;
    }
    assert_eq!(of_2020, 35);
}

/// The name of test issuer `i` (of 35), as the parser reads it from a report's title.
fn issuer_name(i: usize) -> String {
    let a = ["东", "西", "南", "北", "中"][i % 5];
    let b = ["山", "河", "湖", "海", "林", "田", "石"][i / 5 % 7];
    format!("{a}{b}县测试局")
}

/// A reader that closes the output early (`ogi-audit check … | head`) has what it wanted: the
/// command ends quietly, without a "Broken pipe" error or a panic, where it used to fail with
/// one. The eleven real reports' JSON is far more than a pipe holds, so the command is still
/// writing when the pipe closes.
#[test]
fn a_reader_closing_the_output_early_ends_the_command_quietly() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .args(["check", "--format", "json"])
        .args(common::real_fixtures())
        .env_remove("OGI_AUDIT_CONFIG")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ogi-audit");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut head = [0u8; 64];
    stdout.read_exact(&mut head).expect("the output begins");
    assert!(String::from_utf8_lossy(&head).contains("\"reports\""));
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "{err}"
    );
}
