//! `bench daemon`: the real daemon end to end, as a child process (`ogi-audit run` of this very
//! executable) on a temporary folder with the default watch settings (settle 500 ms, poll
//! 100 ms) and the given rule pack.
//!
//! 1. Latency: single files dropped one at a time (written beside the inbox, then renamed in, as
//!    `mv` would), each timed from the rename until its SHA-256 is in the store (polled every
//!    2 ms). The daemon reads a file only once it has not changed for `settle`, and looks every
//!    `poll`: drop-to-stored = settle + up to one poll + processing. "After settle" is the
//!    latency minus the settle time, i.e. processing plus the wait for the next poll tick.
//! 2. Throughput: N files renamed into the inbox at once; the time until the last is stored.
//! 3. Memory: the daemon's peak resident memory (`VmHWM` of /proc/PID/status) after those N,
//!    and the database size per report.
//! 4. With `--mail`: the summaries of those reports, mailed as `.eml` files to the outbox once
//!    the group wait is over (30 s, or `--group-wait`); the time until no notice is pending,
//!    and the daemon's CPU meanwhile per report mailed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{median, quantile, thousands, wait_until, DaemonArgs, MdTable, TempDir};

/// The default settle time (config/ogi-audit.toml), which the bench keeps.
const SETTLE_MS: f64 = 500.0;

/// Figures of `bench daemon` (medians over the runs).
#[derive(Debug, Clone, Default)]
pub struct DaemonResult {
    pub files: usize,
    pub singles: usize,
    pub runs: usize,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    /// Files per second, from the drop of the first to the store of the last.
    pub rate: Option<f64>,
    /// Files per second between the first and the last stored (without the settle wait).
    pub steady_rate: Option<f64>,
    /// Files per CPU-second of the daemon (all its threads) for the folder.
    pub cpu_rate: Option<f64>,
    pub drop_secs: Option<f64>,
    pub total_secs: Option<f64>,
    pub peak_rss_kb: Option<u64>,
    pub rss_kb: Option<u64>,
    pub db_bytes: Option<u64>,
    pub stored: usize,
    /// With `--mail`: how the folder's summaries went out (medians over the runs).
    pub mail: Option<Mailed>,
}

/// The mailing of a folder's summaries, from the last report stored until no notice is
/// pending.
#[derive(Debug, Clone, Default)]
pub struct Mailed {
    /// Reports whose summary was mailed.
    pub reports: usize,
    /// Messages written to the outbox.
    pub messages: usize,
    /// Seconds from the last report stored until every summary was mailed (the group wait
    /// included).
    pub secs: f64,
    /// CPU-seconds of the daemon meanwhile (all its threads; the workers are idle).
    pub cpu_secs: Option<f64>,
    /// Bytes in the outbox.
    pub outbox_bytes: u64,
    pub peak_rss_kb: Option<u64>,
}

/// One run's raw figures.
struct RunResult {
    latencies_ms: Vec<f64>,
    rate: f64,
    steady_rate: f64,
    cpu_secs: Option<f64>,
    drop_secs: f64,
    total_secs: f64,
    peak_rss_kb: Option<u64>,
    rss_kb: Option<u64>,
    db_bytes: u64,
    stored: usize,
    mail: Option<Mailed>,
}

/// Runs and prints `bench daemon`.
pub fn run(args: &DaemonArgs) -> Result<DaemonResult> {
    println!("corpus: {}", args.common.describe());
    if args.units > 0 {
        println!(
            "register: {} units, imported before the daemon starts",
            args.units
        );
    }
    let r = measure(args)?;
    print!("{}", render(&r));
    Ok(r)
}

/// Measures, `repeat` times; the figures are medians.
pub fn measure(args: &DaemonArgs) -> Result<DaemonResult> {
    let rules = super::rules_dir(&args.common.rules)?;
    // This very program, even when a rebuild has replaced (deleted) its file meanwhile.
    let exe = if let Some(exe) = &args.daemon_exe {
        exe.clone()
    } else if Path::new("/proc/self/exe").exists() {
        PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().context("cannot find this executable")?
    };
    let mut runs = Vec::new();
    for r in 0..args.repeat.max(1) {
        eprintln!(
            "daemon: {} single files, then {} at once, run {}/{} …",
            args.singles,
            args.files,
            r + 1,
            args.repeat.max(1)
        );
        runs.push(one_run(args, &exe, &rules)?);
    }
    let med = |f: &dyn Fn(&RunResult) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let all_latencies: Vec<f64> = runs.iter().flat_map(|r| r.latencies_ms.clone()).collect();
    let has_latency = !all_latencies.is_empty();
    let has_files = args.files > 0;
    Ok(DaemonResult {
        files: args.files,
        singles: args.singles,
        runs: runs.len(),
        latency_p50_ms: has_latency.then(|| quantile(&all_latencies, 0.5)),
        latency_p99_ms: has_latency.then(|| quantile(&all_latencies, 0.99)),
        latency_max_ms: has_latency.then(|| quantile(&all_latencies, 1.0)),
        rate: has_files.then(|| med(&|r| r.rate)),
        steady_rate: has_files.then(|| med(&|r| r.steady_rate)),
        cpu_rate: {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.cpu_secs.filter(|c| *c > 0.0))
                .map(|c| args.files as f64 / c)
                .collect();
            (has_files && !v.is_empty()).then(|| median(&v))
        },
        drop_secs: has_files.then(|| med(&|r| r.drop_secs)),
        total_secs: has_files.then(|| med(&|r| r.total_secs)),
        peak_rss_kb: Some(med(&|r| r.peak_rss_kb.unwrap_or(0) as f64) as u64).filter(|v| *v > 0),
        rss_kb: Some(med(&|r| r.rss_kb.unwrap_or(0) as f64) as u64).filter(|v| *v > 0),
        db_bytes: Some(med(&|r| r.db_bytes as f64) as u64),
        stored: runs.last().map_or(0, |r| r.stored),
        mail: median_mailed(
            &runs
                .iter()
                .filter_map(|r| r.mail.clone())
                .collect::<Vec<_>>(),
        ),
    })
}

/// The runs' mailing figures, each the median of its own.
fn median_mailed(runs: &[Mailed]) -> Option<Mailed> {
    let first = runs.first()?;
    let med = |f: &dyn Fn(&Mailed) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let cpu: Vec<f64> = runs.iter().filter_map(|m| m.cpu_secs).collect();
    let rss: Vec<f64> = runs
        .iter()
        .filter_map(|m| m.peak_rss_kb.map(|k| k as f64))
        .collect();
    Some(Mailed {
        reports: first.reports,
        messages: first.messages,
        secs: med(&|m| m.secs),
        cpu_secs: (!cpu.is_empty()).then(|| median(&cpu)),
        outbox_bytes: med(&|m| m.outbox_bytes as f64) as u64,
        peak_rss_kb: (!rss.is_empty()).then(|| median(&rss) as u64),
    })
}

/// The daemon child; killed when dropped.
struct Daemon {
    child: Option<Child>,
}

impl Daemon {
    fn pid(&self) -> String {
        self.child
            .as_ref()
            .map_or_else(String::new, |c| c.id().to_string())
    }

    /// SIGTERM (the daemon finishes the report in hand), then SIGKILL after 20 s.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let stopped = wait_until(Duration::from_secs(20), Duration::from_millis(20), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A register of `n` units as `units import` reads it (CSV): cities with their governments and
/// bureaus, each city's districts with their governments and bureaus, every unit with an
/// address, each government also known by its short name.
fn register_csv(n: usize) -> String {
    const BUREAUS: [&str; 13] = [
        "教育局",
        "公安局",
        "民政局",
        "司法局",
        "财政局",
        "人力资源和社会保障局",
        "自然资源和规划局",
        "生态环境局",
        "住房和城乡建设局",
        "交通运输局",
        "水利局",
        "农业农村局",
        "商务局",
    ];
    let mut rows: Vec<(String, &str, String)> = Vec::with_capacity(n);
    let mut city = 0;
    while rows.len() < n {
        let gov = format!("第{city}市人民政府");
        rows.push((gov.clone(), "government", String::new()));
        for b in BUREAUS {
            rows.push((format!("第{city}市{b}"), "department", gov.clone()));
        }
        for d in 0..16 {
            let district = format!("第{city}市第{d}区人民政府");
            rows.push((district.clone(), "government", gov.clone()));
            for b in BUREAUS {
                rows.push((
                    format!("第{city}市第{d}区{b}"),
                    "department",
                    district.clone(),
                ));
            }
        }
        city += 1;
    }
    rows.truncate(n);
    let mut out = String::from("名称,别名,类型,上级,邮箱\n");
    for (i, (name, kind, parent)) in rows.iter().enumerate() {
        let alias = if *kind == "government" {
            name.replace("人民政府", "政府")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{name},{alias},{kind},{parent},unit{i}@example.org\n"
        ));
    }
    out
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn one_run(args: &DaemonArgs, exe: &Path, rules: &Path) -> Result<RunResult> {
    let mut dir = TempDir::new(args.common.tmp.as_deref(), "daemon")?;
    if args.keep {
        dir.keep();
        eprintln!("daemon folder: {}", dir.path.display());
    }
    let root = dir.path.clone();
    let config = root.join("ogi-audit.toml");
    // Only the rules folder (and the mail's waits, when asked for) differ from the shipped
    // defaults.
    let mut settings = format!(
        "[rules]\ndir = {}\n",
        toml_string(&rules.display().to_string())
    );
    if let Some(wait) = &args.group_wait {
        let wait = toml_string(wait);
        settings.push_str(&format!(
            "[mail]\ngroup_wait = {wait}\ngroup_interval = {wait}\n"
        ));
    }
    std::fs::write(&config, settings).context("cannot write the config")?;
    let staging = root.join("staging");
    std::fs::create_dir_all(&staging)?;
    if args.units > 0 {
        // Imported by the program under test, as an office imports its register.
        let csv = root.join("register.csv");
        std::fs::write(&csv, register_csv(args.units)).context("cannot write the register")?;
        let out = Command::new(exe)
            .arg("--config")
            .arg(&config)
            .args(["units", "import"])
            .arg(&csv)
            .output()
            .with_context(|| format!("cannot run {} units import", exe.display()))?;
        if !out.status.success() {
            bail!(
                "the register was not imported:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // The corpus: singles first, then the folder, all distinct.
    let g = args.common.generator();
    g.prepare()?;
    let mut singles = Vec::new();
    for i in 0..args.singles as u64 {
        let r = g.generate(1_000_000 + i)?;
        let sha = crate::pipeline::sha256_hex(&r.bytes);
        let path = staging.join(format!("single-{}", r.name));
        std::fs::write(&path, &r.bytes)?;
        singles.push((path, sha));
    }
    let bulk_dir = staging.join("bulk");
    std::fs::create_dir_all(&bulk_dir)?;
    let mut bulk = Vec::new();
    for i in 0..args.files as u64 {
        let r = g.generate(i)?;
        let path = bulk_dir.join(&r.name);
        std::fs::write(&path, &r.bytes)?;
        bulk.push(path);
    }

    let log = std::fs::File::create(root.join("daemon.log")).context("cannot create the log")?;
    let child = Command::new(exe)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {} run", exe.display()))?;
    let mut daemon = Daemon { child: Some(child) };
    let inbox = root.join("inbox");
    let db_path = root.join("data/ogi-audit.sqlite");
    let read_log = || std::fs::read_to_string(root.join("daemon.log")).unwrap_or_default();
    let up = wait_until(Duration::from_secs(30), Duration::from_millis(20), || {
        read_log().contains("ogi-audit running")
    });
    if !up {
        bail!("the daemon did not start:\n{}", read_log());
    }
    let db = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", db_path.display()))?;
    db.busy_timeout(Duration::from_secs(5))?;
    let stored = |sha: &str| -> bool {
        db.query_row("SELECT 1 FROM reports WHERE sha256 = ?1", [sha], |_| Ok(()))
            .optional()
            .ok()
            .flatten()
            .is_some()
    };
    let count = || -> usize {
        db.query_row("SELECT COUNT(*) FROM reports", [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| n as usize)
    };

    // 1. Latency, one file at a time.
    let mut latencies = Vec::new();
    for (i, (path, sha)) in singles.iter().enumerate() {
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        let target = inbox.join(&name);
        let t0 = Instant::now();
        std::fs::rename(path, &target).context("cannot move a file into the inbox")?;
        if !wait_until(Duration::from_secs(30), Duration::from_millis(2), || {
            stored(sha)
        }) {
            bail!("{} not stored within 30 s:\n{}", name.display(), read_log());
        }
        latencies.push(t0.elapsed().as_secs_f64() * 1e3);
        // Out of the inbox before the next one, then a pause that varies, so drops do not keep
        // the same phase against the daemon's poll tick.
        wait_until(Duration::from_secs(10), Duration::from_millis(2), || {
            !target.exists()
        });
        std::thread::sleep(Duration::from_millis(37 * (i as u64 % 5) + 20));
    }

    // 2. Throughput, a folder at once.
    let before = count();
    let expected = before + bulk.len();
    let cpu0 = super::cpu_secs(&daemon.pid());
    let t0 = Instant::now();
    for p in &bulk {
        if let Some(name) = p.file_name() {
            std::fs::rename(p, inbox.join(name)).context("cannot move a file into the inbox")?;
        }
    }
    let drop_secs = t0.elapsed().as_secs_f64();
    let mut first_stored = None;
    let limit = Duration::from_secs(120 + bulk.len() as u64 / 20);
    let done = wait_until(limit, Duration::from_millis(10), || {
        let n = count();
        if first_stored.is_none() && n > before {
            first_stored = Some(t0.elapsed().as_secs_f64());
        }
        n >= expected
    });
    let total_secs = t0.elapsed().as_secs_f64();
    if !done {
        bail!(
            "only {} of {} reports stored after {total_secs:.0} s",
            count() - before,
            bulk.len()
        );
    }
    let cpu_secs = match (cpu0, super::cpu_secs(&daemon.pid())) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let (peak_rss_kb, rss_kb) = super::memory_kb(&daemon.pid());
    let stored_n = count();
    let mail = if args.mail {
        Some(wait_for_mail(&db, &daemon, &root.join("outbox"))?)
    } else {
        None
    };
    daemon.stop();
    let db_bytes = super::db_bytes(&db_path);
    let n = bulk.len() as f64;
    let first = first_stored.unwrap_or(total_secs);
    Ok(RunResult {
        latencies_ms: latencies,
        rate: if bulk.is_empty() { 0.0 } else { n / total_secs },
        steady_rate: if bulk.len() > 1 && total_secs > first {
            (n - 1.0) / (total_secs - first)
        } else {
            0.0
        },
        cpu_secs,
        drop_secs,
        total_secs,
        peak_rss_kb,
        rss_kb,
        db_bytes,
        stored: stored_n,
        mail,
    })
}

/// Waits until no notice is pending (every summary mailed, or given up on), and measures it.
fn wait_for_mail(db: &Connection, daemon: &Daemon, outbox: &Path) -> Result<Mailed> {
    let cpu0 = super::cpu_secs(&daemon.pid());
    let t0 = Instant::now();
    let pending = || -> i64 {
        db.query_row(
            "SELECT COUNT(*) FROM notices WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(i64::MAX)
    };
    // The group wait (30 s unless `--group-wait`), then the mailing itself.
    if !wait_until(Duration::from_secs(900), Duration::from_millis(50), || {
        pending() == 0
    }) {
        bail!("{} notices still pending after 15 minutes", pending());
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_secs = match (cpu0, super::cpu_secs(&daemon.pid())) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let count = |sql: &str| -> Result<usize> {
        Ok(db.query_row(sql, [], |r| r.get::<_, i64>(0))? as usize)
    };
    let mut outbox_bytes = 0;
    for entry in std::fs::read_dir(outbox).context("cannot read the outbox")? {
        outbox_bytes += entry?.metadata()?.len();
    }
    Ok(Mailed {
        reports: count("SELECT COUNT(*) FROM notices WHERE status = 'sent'")?,
        messages: count("SELECT COUNT(*) FROM mails")?,
        secs,
        cpu_secs,
        outbox_bytes,
        peak_rss_kb: super::memory_kb(&daemon.pid()).0,
    })
}

/// The figures as a table.
pub fn render(r: &DaemonResult) -> String {
    let mut t = MdTable::new(&["daemon (child process, default settings)", "value"]);
    if let (Some(p50), Some(p99), Some(max)) =
        (r.latency_p50_ms, r.latency_p99_ms, r.latency_max_ms)
    {
        t.row(vec![
            format!(
                "single file, drop → stored, p50 / p99 / max ({} files × {} runs)",
                r.singles, r.runs
            ),
            format!("{p50:.0} / {p99:.0} / {max:.0} ms"),
        ]);
        t.row(vec![
            "  of which after the 500 ms settle (poll wait + processing), p50 / p99".into(),
            format!("{:.0} / {:.0} ms", p50 - SETTLE_MS, p99 - SETTLE_MS),
        ]);
    }
    if let (Some(rate), Some(steady), Some(total)) = (r.rate, r.steady_rate, r.total_secs) {
        t.row(vec![
            format!(
                "{} files dropped at once: all stored after",
                thousands(r.files as u64)
            ),
            format!("{total:.1} s (drop {:.2} s)", r.drop_secs.unwrap_or(0.0)),
        ]);
        t.row(vec![
            "  throughput, drop of the first → last stored".into(),
            format!("{rate:.0} reports/s"),
        ]);
        t.row(vec![
            "  throughput, first stored → last stored".into(),
            format!("{steady:.0} reports/s"),
        ]);
        if let Some(c) = r.cpu_rate {
            t.row(vec![
                "  reports per CPU-second of the daemon (all its threads)".into(),
                format!("{c:.0}"),
            ]);
        }
    }
    if let Some(kb) = r.peak_rss_kb {
        t.row(vec![
            format!(
                "daemon peak RSS (VmHWM) after {} reports",
                thousands(r.stored as u64)
            ),
            format!(
                "{:.1} MB (RSS at the end {:.1} MB)",
                kb as f64 / 1024.0,
                r.rss_kb.unwrap_or(0) as f64 / 1024.0
            ),
        ]);
    }
    if let Some(b) = r.db_bytes {
        if r.stored > 0 {
            t.row(vec![
                format!(
                    "database (with WAL), {} reports",
                    thousands(r.stored as u64)
                ),
                format!(
                    "{:.1} MB, {:.1} KB per report",
                    b as f64 / 1e6,
                    b as f64 / 1024.0 / r.stored as f64
                ),
            ]);
        }
    }
    if let Some(m) = &r.mail {
        t.row(vec![
            format!(
                "their summaries: {} reports mailed in {} message{} ({:.1} MB), the last sent after the last stored",
                thousands(m.reports as u64),
                thousands(m.messages as u64),
                if m.messages == 1 { "" } else { "s" },
                m.outbox_bytes as f64 / 1e6
            ),
            format!("{:.1} s (the group wait runs from the first stored)", m.secs),
        ]);
        if let Some(c) = m.cpu_secs {
            t.row(vec![
                "  daemon CPU while mailing, per report mailed".into(),
                format!("{:.2} s, {:.2} ms", c, c * 1e3 / m.reports.max(1) as f64),
            ]);
        }
        if let Some(kb) = m.peak_rss_kb {
            t.row(vec![
                "  daemon peak RSS (VmHWM) once mailed".into(),
                format!("{:.1} MB", kb as f64 / 1024.0),
            ]);
        }
    }
    format!("\n## Daemon end to end\n\n{}", t.render())
}
