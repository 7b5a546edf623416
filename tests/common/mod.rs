//! Helpers shared by the end-to-end tests: the real binary in a temporary folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub mod browser;
pub mod http;
pub mod smtp;

pub const BIN: &str = env!("CARGO_BIN_EXE_ogi-audit");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn seed(name: &str) -> PathBuf {
    let dir = repo().join("tests/fixtures/seeds");
    std::fs::read_dir(&dir)
        .expect("seeds")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(name))
        })
        .expect("seed file")
}

pub fn seeds() -> Vec<PathBuf> {
    ["000", "001", "002", "003", "004"]
        .iter()
        .map(|s| seed(s))
        .collect()
}

/// A daemon in a temporary folder with its own config.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    /// `OGI_AUDIT_CLOCK` for the daemon and its commands (`None`: the real clock).
    pub clock: Option<String>,
    /// More environment for the daemon and its commands.
    pub env: Vec<(String, String)>,
}

pub const RULE_ALWAYS: &str = r#"
const ID = "always";
const TITLE = "总是提示";
const SEVERITY = "info";
fn check(report) { [finding(`已收到 ${report.organization}`)] }
"#;

impl Daemon {
    /// Sets up the folder with the given rules (file name, source) and starts the daemon.
    pub fn start(rules: &[(&str, &str)]) -> Daemon {
        Daemon::start_with(rules, "")
    }

    /// Like `start`, with more configuration appended (e.g. a `[mail]` table).
    pub fn start_with(rules: &[(&str, &str)], extra_config: &str) -> Daemon {
        Daemon::start_full(rules, "", extra_config)
    }

    /// Like `start_with`, with more environment for the daemon and its commands.
    pub fn start_with_env(
        rules: &[(&str, &str)],
        extra_config: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        let mut d = Daemon::prepare(rules, "", extra_config);
        d.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        d.spawn();
        d
    }

    /// Like `start_with`, the daemon's clock set to `clock` (`OGI_AUDIT_CLOCK`).
    pub fn start_at(rules: &[(&str, &str)], extra_config: &str, clock: &str) -> Daemon {
        let mut d = Daemon::prepare(rules, "", extra_config);
        d.clock = Some(clock.to_string());
        d.spawn();
        d
    }

    /// Like `start_with`, with more keys for the `[watch]` table.
    pub fn start_full(rules: &[(&str, &str)], watch_extra: &str, extra_config: &str) -> Daemon {
        let mut d = Daemon::prepare(rules, watch_extra, extra_config);
        d.spawn();
        d
    }

    /// The folder and config, the daemon not started.
    fn prepare(rules: &[(&str, &str)], watch_extra: &str, extra_config: &str) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
        for (name, src) in rules {
            // A name may have folders (`lists/stock-phrases.txt`).
            let path = dir.path().join("rules").join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("rules subfolder");
            }
            std::fs::write(path, src).expect("rule");
        }
        std::fs::write(
            dir.path().join("ogi-audit.toml"),
            format!(
                "[watch]\ninbox = \"inbox\"\nsettle = \"300ms\"\npoll = \"50ms\"\nrescan = \"2s\"\n{watch_extra}\
                 [log]\nlevel = \"debug\"\n{extra_config}"
            ),
        )
        .expect("config");
        Daemon {
            dir,
            child: None,
            clock: None,
            env: Vec::new(),
        }
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("daemon.log"))
            .expect("log");
        let mut command = Command::new(BIN);
        self.set_clock(&mut command);
        let child = command
            .args(["run", "--config"])
            .arg(self.path("ogi-audit.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start daemon");
        self.child = Some(child);
        // The inbox exists once the daemon runs.
        wait_for(Duration::from_secs(20), || {
            self.path("inbox").is_dir() && self.log().contains("ogi-audit running")
        });
    }

    /// Runs the binary with `args` on this daemon's config (no standard input).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(BIN);
        self.set_clock(&mut command);
        command
            .args(args)
            .arg("--config")
            .arg(self.path("ogi-audit.toml"))
            .stdin(Stdio::null())
            .output()
            .expect("ogi-audit")
    }

    fn set_clock(&self, command: &mut Command) {
        match &self.clock {
            Some(c) => command.env("OGI_AUDIT_CLOCK", c),
            None => command.env_remove("OGI_AUDIT_CLOCK"),
        };
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("daemon.log")).unwrap_or_default()
    }

    pub fn db(&self) -> Connection {
        Connection::open(self.path("data/ogi-audit.sqlite")).expect("db")
    }

    pub fn count(&self, sql: &str) -> i64 {
        if !self.path("data/ogi-audit.sqlite").exists() {
            return 0;
        }
        self.db().query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
    }

    pub fn drop_file(&self, src: &Path, name: &str) {
        // Copy next to the inbox, then move in: the file appears whole, as a `mv` would.
        let staging = self.path("staging");
        std::fs::create_dir_all(&staging).expect("staging");
        let tmp = staging.join(name);
        std::fs::copy(src, &tmp).expect("copy");
        std::fs::rename(&tmp, self.path("inbox").join(name)).expect("move in");
    }

    pub fn inbox_files(&self) -> usize {
        walk(&self.path("inbox")).len()
    }

    /// Writes `bytes` next to the inbox and moves it in whole under `name` (any bytes allowed).
    pub fn drop_bytes(&self, name: &std::ffi::OsStr, bytes: &[u8]) {
        let staging = self.path("staging");
        std::fs::create_dir_all(&staging).expect("staging");
        let tmp = staging.join("incoming");
        std::fs::write(&tmp, bytes).expect("write");
        std::fs::rename(&tmp, self.path("inbox").join(name)).expect("move in");
    }

    /// The `.reason.txt` notes in quarantine, with their text.
    pub fn reason_files(&self) -> Vec<(PathBuf, String)> {
        walk(&self.path("quarantine"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".reason.txt"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                (p, text)
            })
            .collect()
    }

    /// Parsed reports stored with a finding of `rule` (findings stored with their report).
    pub fn parsed_with_finding(&self, rule: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM reports r WHERE r.status = 'parsed' AND EXISTS \
             (SELECT 1 FROM findings f WHERE f.report_id = r.id AND f.rule = '{rule}')"
        ))
    }

    /// Whether the daemon process is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().expect("wait").is_none())
    }

    /// The daemon's peak resident memory, from /proc.
    pub fn peak_rss_kb(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill -TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = c.try_wait().expect("wait") {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "daemon did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every real report the repository carries: the seeds and the samples.
pub fn real_fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["seeds", "samples"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures").join(dir))
            .expect("fixtures")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// The shipped rule pack as (file name under rules/, source): its rules and word lists.
pub fn shipped_pack() -> Vec<(String, String)> {
    let pack = repo().join("rules");
    walk(&pack)
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|x| x == "rhai")
                || p.parent().is_some_and(|d| d.ends_with("lists"))
        })
        .map(|p| {
            let name = p
                .strip_prefix(&pack)
                .expect("in the pack")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("rule"))
        })
        .collect()
}

/// Each rule's TITLE, from the shipped pack's files.
pub fn pack_titles() -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for p in walk(&repo().join("rules")) {
        if p.extension().is_none_or(|e| e != "rhai") {
            continue;
        }
        let src = std::fs::read_to_string(&p).expect("rule");
        let constant = |name: &str| {
            src.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("const {name} = \"")))
                .and_then(|rest| rest.split('"').next())
                .map(str::to_string)
        };
        if let (Some(id), Some(title)) = (constant("ID"), constant("TITLE")) {
            out.insert(id, title);
        }
    }
    out
}

/// Seed 001 with the 总计 of (一)予以公开 misprinted (15 where its cells sum to 13): the class
/// of report whose table findings name a wrong cell and the value it should hold.
pub fn misprinted_total() -> String {
    let text =
        std::fs::read_to_string(repo().join("tests/fixtures/seeds/001_7525cffb9e742ff2.txt"))
            .expect("seed 001");
    let row = "\t（一）予以公开\n\t13\n\t0\n\t0\n\t0\n\t0\n\t0\n\t13\n";
    assert!(text.contains(row), "seed 001's 予以公开 row as printed");
    text.replacen(
        row,
        "\t（一）予以公开\n\t13\n\t0\n\t0\n\t0\n\t0\n\t0\n\t15\n",
        1,
    )
}

/// Seed 000 with markup in the sentence its reply-rate finding quotes: report content is
/// hostile, and the summary must show it as text.
/// (No spaces: quoted sentences are kept without white space.)
pub const HOSTILE: &str = "<img/src=x/onerror=alert(1)>政民互动<script>alert(2)</script>";

pub fn hostile_copy() -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/seeds/000_32590e3cc98cb08c.txt"))
        .expect("seed 000")
        .replacen("“政民互动”", &format!("“{HOSTILE}”"), 1)
}
