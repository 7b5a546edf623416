//! The deployment files in `deploy/` checked against the real program and the real tools:
//! the systemd unit with `systemd-analyze verify` and `security`, the install script with the
//! shell's syntax check (and shellcheck when installed), the sample configurations with the
//! program's own config loader and the binary, and the paths all of them name with each other.
//!
//! Needs Debian's `systemd` package (systemd-analyze; it runs without systemd being PID 1).
//! No network, no root, a second or so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ogi_audit::config::{Config, LogFormat, Security, Transport};
use ogi_audit::model::Report;

const BIN: &str = env!("CARGO_BIN_EXE_ogi-audit");

/// The folders the daemon writes to, as the unit, the sample config, install.sh and the
/// Dockerfile name them.
const WRITABLE: [&str; 5] = [
    "/srv/ogi-audit/inbox",
    "/srv/ogi-audit/archive",
    "/srv/ogi-audit/quarantine",
    "/var/lib/ogi-audit",
    "/var/spool/ogi-audit/outbox",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `key=value` settings of a unit file, in order (comments and section headers skipped).
fn unit_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn values<'a>(settings: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    settings
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn one<'a>(settings: &'a [(String, String)], key: &str) -> &'a str {
    match values(settings, key).as_slice() {
        [v] => v,
        other => panic!("unit: expected one {key}=, found {other:?}"),
    }
}

fn systemd_analyze() -> PathBuf {
    let found = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("systemd-analyze is missing: install Debian's `systemd` package (apt-get install systemd)")
    })
}

/// The unit as shipped, with ExecStart pointing at the binary under test (verify checks that
/// the executable exists) and written to a temporary folder.
fn unit_under_test(dir: &Path) -> PathBuf {
    let text = read("deploy/ogi-audit.service");
    let shipped = "ExecStart=/usr/local/bin/ogi-audit ";
    assert!(
        text.contains(shipped),
        "the unit starts /usr/local/bin/ogi-audit"
    );
    let path = dir.join("ogi-audit.service");
    std::fs::write(&path, text.replace(shipped, &format!("ExecStart={BIN} "))).expect("write unit");
    path
}

#[test]
fn systemd_unit_verifies_without_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_under_test(dir.path());
    let out = Command::new(systemd_analyze())
        .arg("verify")
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("SYSTEMD_PAGER", "")
        .output()
        .expect("run systemd-analyze verify");
    // verify exits 0 on unknown keys and unparsable values and only prints them, so its output
    // is the verdict: nothing may be said about this unit.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let about_unit: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("ogi-audit") || l.contains(&*dir.path().to_string_lossy()))
        .collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify {}:\n{}",
        unit.display(),
        show(&out)
    );
}

#[test]
fn systemd_unit_verify_catches_a_misspelled_key() {
    // The check above is only worth something if a broken unit makes it fail.
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_under_test(dir.path());
    let text = std::fs::read_to_string(&unit).expect("read unit");
    std::fs::write(
        &unit,
        text.replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomme=yes"),
    )
    .expect("write unit");
    let out = Command::new(systemd_analyze())
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("run systemd-analyze verify");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ProtectHomme"),
        "{}",
        show(&out)
    );
}

#[test]
fn systemd_unit_exposure_is_low() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_under_test(dir.path());
    // --offline: judge the file alone (no running systemd needed). The threshold is the overall
    // exposure times ten: 20 means "2.0 or better" (the shipped unit scores 1.5).
    let out = Command::new(systemd_analyze())
        .args(["security", "--offline=yes", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze security");
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Overall exposure level"), "{}", show(&out));
}

#[test]
fn systemd_unit_has_the_required_settings() {
    let s = unit_settings(&read("deploy/ogi-audit.service"));
    assert_eq!(
        one(&s, "ExecStart"),
        "/usr/local/bin/ogi-audit --config /etc/ogi-audit/ogi-audit.toml run"
    );
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("User", "ogi-audit"),
        ("Group", "ogi-audit"),
        ("ProtectSystem", "strict"),
        ("UMask", "0027"),
        ("Restart", "on-failure"),
        ("CapabilityBoundingSet", ""),
        ("NoNewPrivileges", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("EnvironmentFile", "-/etc/ogi-audit/smtp.env"),
        ("StateDirectory", "ogi-audit"),
    ] {
        assert_eq!(one(&s, key), want, "{key}=");
    }
    for key in ["WatchdogSec", "DynamicUser"] {
        assert!(values(&s, key).is_empty(), "{key}= must not be set");
    }
    let writable: Vec<&str> = values(&s, "ReadWritePaths")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    let mut want = WRITABLE.to_vec();
    want.sort_unstable();
    let mut got = writable.clone();
    got.sort_unstable();
    assert_eq!(
        got, want,
        "ReadWritePaths= names exactly the daemon's folders"
    );
    assert_eq!(one(&s, "ReadOnlyPaths"), "/etc/ogi-audit");
}

#[test]
fn install_script_is_valid_shell() {
    let script = repo().join("deploy/install.sh");
    let out = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("run bash -n");
    assert!(out.status.success(), "bash -n: {}", show(&out));
    // It is POSIX sh (#!/bin/sh): dash, Debian's /bin/sh, must accept it too.
    if Path::new("/usr/bin/dash").is_file() {
        let out = Command::new("/usr/bin/dash")
            .arg("-n")
            .arg(&script)
            .output()
            .expect("run dash -n");
        assert!(out.status.success(), "dash -n: {}", show(&out));
    }
    // shellcheck (Debian package `shellcheck`) when installed; CI installs it.
    match Command::new("shellcheck").arg(&script).output() {
        Ok(out) => assert!(out.status.success(), "shellcheck: {}", show(&out)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("shellcheck not installed: deploy/install.sh not linted");
        }
        Err(e) => panic!("cannot run shellcheck: {e}"),
    }
}

#[test]
fn install_script_help_and_bad_arguments() {
    // Both answer before the script checks for root or touches anything.
    let script = repo().join("deploy/install.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg("--help")
        .output()
        .expect("run install.sh --help");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", show(&out));
    for option in ["--binary", "--inbox-group", "--enable"] {
        assert!(text.contains(option), "--help names {option}: {text}");
    }
    let out = Command::new("sh")
        .arg(&script)
        .arg("--frobnicate")
        .output()
        .expect("run install.sh --frobnicate");
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--frobnicate"),
        "{}",
        show(&out)
    );
}

#[test]
fn install_script_creates_what_the_unit_needs() {
    let script = read("deploy/install.sh");
    for path in WRITABLE {
        assert!(script.contains(path), "install.sh creates {path}");
    }
    for needed in [
        "ogi-inbox",
        "/usr/local/bin/ogi-audit",
        "/etc/ogi-audit",
        "/etc/systemd/system/ogi-audit.service",
        "smtp.env",
        "daemon-reload",
    ] {
        assert!(script.contains(needed), "install.sh handles {needed}");
    }
    // The unit names the inbox group the script creates.
    let unit = unit_settings(&read("deploy/ogi-audit.service"));
    assert_eq!(one(&unit, "SupplementaryGroups"), "ogi-inbox");
}

/// Loads a sample config with the program's own loader (it checks keys, values, durations,
/// addresses and route patterns but does not touch the paths).
fn load(rel: &str) -> Config {
    Config::load(&repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn report_from(org: &str) -> Report {
    Report {
        organization: Some(org.to_string()),
        ..Report::default()
    }
}

#[test]
fn production_sample_config_loads_and_matches_the_unit() {
    let c = load("deploy/ogi-audit.toml");
    assert_eq!(c.inbox, Path::new("/srv/ogi-audit/inbox"));
    assert_eq!(c.archive, Path::new("/srv/ogi-audit/archive"));
    assert_eq!(c.quarantine, Path::new("/srv/ogi-audit/quarantine"));
    assert_eq!(c.database, Path::new("/var/lib/ogi-audit/ogi-audit.sqlite"));
    assert_eq!(c.rules_dir, Path::new("/etc/ogi-audit/rules"));
    assert_eq!(c.mail.outbox, Path::new("/var/spool/ogi-audit/outbox"));
    assert_eq!(c.log_format, LogFormat::Json);
    assert_eq!(c.mail.transport, Transport::Smtp);
    assert_eq!(c.mail.smtp.security, Security::StartTls);
    assert_eq!(c.mail.smtp.port, 587);
    assert!(c.mail.smtp.username.is_some());
    assert_eq!(
        c.mail.smtp.password_env.as_deref(),
        Some("OGI_SMTP_PASSWORD")
    );
    assert!(!c.mail.fallback.is_empty());
    // Every folder it writes is one the unit lets it write.
    for p in [
        &c.inbox,
        &c.archive,
        &c.quarantine,
        &c.mail.outbox,
        &c.database.parent().expect("database folder").to_path_buf(),
    ] {
        assert!(
            WRITABLE.iter().any(|w| p.starts_with(w)),
            "{} is not in the unit's ReadWritePaths=",
            p.display()
        );
    }
    // The routes do what their comments say.
    let to = |org: &str| ogi_audit::mail::recipients(&c.mail, &report_from(org));
    assert_eq!(to("某县人民政府"), ["bgs@example.gov.cn"]);
    assert_eq!(to("某县城关镇人民政府"), ["xiangzhen@example.gov.cn"]);
    assert_eq!(to("某县李家乡人民政府"), ["xiangzhen@example.gov.cn"]);
    assert_eq!(to("某县经济开发区管理委员会"), ["kfq-zwgk@example.gov.cn"]);
    assert_eq!(
        to("某县卫生健康委员会"),
        ["shehui@example.gov.cn", "zwgk@example.gov.cn"]
    );
    assert_eq!(to("某县财政局"), ["zwgk@example.gov.cn"]);
}

#[test]
fn compose_sample_config_loads_and_mails_mailpit() {
    let c = load("deploy/compose/ogi-audit.toml");
    assert_eq!(c.mail.transport, Transport::Smtp);
    assert_eq!(c.mail.smtp.host, "mailpit");
    assert_eq!(c.mail.smtp.port, 1025);
    assert_eq!(c.mail.smtp.security, Security::None);
    assert!(c.mail.smtp.username.is_none());
    let compose = read("deploy/compose.yaml");
    assert!(compose.contains("axllent/mailpit"));
    assert!(compose.contains("./compose/ogi-audit.toml:/etc/ogi-audit/ogi-audit.toml"));
    for p in [&c.inbox, &c.archive, &c.quarantine, &c.mail.outbox] {
        let mount = format!(":{}", p.display());
        assert!(
            compose.contains(&mount),
            "compose.yaml mounts {}",
            p.display()
        );
    }
    let data = c.database.parent().expect("database folder");
    assert!(compose.contains(&format!(":{}", data.display())));
    let to = |org: &str| ogi_audit::mail::recipients(&c.mail, &report_from(org));
    assert_eq!(to("烟台市人民政府"), ["zwgk@yantai.example.gov.cn"]);
    assert_eq!(to("北京市财政局"), ["zwgk@example.gov.cn"]);
}

/// The sample with its absolute /srv, /var and /etc paths moved under `root`; the rules are the
/// checkout's pack.
fn relocated(rel: &str, root: &Path) -> PathBuf {
    let mut text = read(rel);
    let rules = repo().join("rules");
    text = text.replace(
        "\"/etc/ogi-audit/rules\"",
        &format!("\"{}\"", rules.display()),
    );
    for top in ["/srv/", "/var/", "/etc/"] {
        text = text.replace(&format!("\"{top}"), &format!("\"{}{top}", root.display()));
    }
    let path = root.join("ogi-audit.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn sample_configs_work_with_the_binary() {
    for rel in ["deploy/ogi-audit.toml", "deploy/compose/ogi-audit.toml"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = relocated(rel, dir.path());
        // Every check but the SMTP connection passes: the config loads, every folder can be
        // created, the rules compile, the templates render.
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["validate", "--offline"])
            .env_remove("OGI_AUDIT_LOG")
            .env_remove("OGI_SMTP_PASSWORD")
            .output()
            .expect("run ogi-audit validate");
        assert!(out.status.success(), "{rel}: {}", show(&out));
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.contains(&format!(
                "{}",
                dir.path().join("var/lib/ogi-audit").display()
            )),
            "{rel}: the database folder is not the relocated one:\n{report}"
        );
        // The summary a report would get: the templates render and a route answers. The SMTP
        // transport is only built, never connected.
        let seed = std::fs::read_dir(repo().join("tests/fixtures/seeds"))
            .expect("seeds")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "txt"))
            .expect("a seed report");
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["mail", "preview"])
            .arg(&seed)
            .env_remove("OGI_SMTP_PASSWORD")
            .env_remove("OGI_AUDIT_LOG")
            .output()
            .expect("run ogi-audit mail preview");
        assert!(out.status.success(), "{rel}: {}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("To: "),
            "{rel}: {}",
            show(&out)
        );
    }
}

#[test]
fn dockerfile_matches_the_layout() {
    let d = read("deploy/Dockerfile");
    for needed in [
        "FROM rust:",
        "cargo build --release --locked",
        "FROM debian:bookworm-slim",
        "--no-install-recommends",
        "poppler-utils",
        "ca-certificates",
        "rm -rf /var/lib/apt/lists/*",
        "COPY deploy/ogi-audit.toml /etc/ogi-audit/ogi-audit.toml",
        "COPY rules /etc/ogi-audit/rules",
        "ENTRYPOINT [\"ogi-audit\"]",
        "CMD [\"--config\", \"/etc/ogi-audit/ogi-audit.toml\", \"run\"]",
    ] {
        assert!(d.contains(needed), "Dockerfile: {needed}");
    }
    for path in WRITABLE {
        assert!(
            d.contains(&format!("\"{path}\"")),
            "Dockerfile VOLUME {path}"
        );
    }
    let user = d
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains(" 0") && !user.contains("root"), "{user}");
    let ignore = read(".dockerignore");
    for needed in ["target", ".git", "data/", "inbox/", "fuzz/target"] {
        assert!(
            ignore
                .lines()
                .any(|l| l.trim() == needed || l.trim() == format!("**/{needed}")),
            ".dockerignore: {needed}"
        );
    }
}
