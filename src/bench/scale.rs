//! `bench scale`: does the cost per report stay flat as the store grows?
//!
//! One store is filled with distinct generated reports through the daemon's per-file code
//! ([`crate::daemon::Context::process_file`], one worker per core sharing one connection, as in
//! the daemon), in batches of 1,000 files written to the inbox beforehand (not timed). At each
//! checkpoint (1,000, 10,000, 100,000 … reports) it notes the rate over the last window, the
//! database size per report and this process's memory. Archived files are deleted after each
//! batch (not timed), so the disk holds only the database.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use super::{thousands, MdTable, ScaleArgs, TempDir};

/// One checkpoint.
#[derive(Debug, Clone)]
pub struct Point {
    pub reports: usize,
    /// Seconds of processing so far (writing the batches not counted).
    pub secs: f64,
    /// Reports per second since the previous checkpoint.
    pub window_rate: f64,
    /// Reports per CPU-second since the previous checkpoint.
    pub window_cpu_rate: Option<f64>,
    pub db_bytes: u64,
    pub peak_rss_kb: Option<u64>,
    pub rss_kb: Option<u64>,
    /// Wall time of the whole run so far, generation and writing included.
    pub wall_secs: f64,
}

/// The checkpoints of one run.
#[derive(Debug, Clone)]
pub struct ScaleResult {
    pub threads: usize,
    pub points: Vec<Point>,
}

/// Runs and prints `bench scale` (and writes `--result`).
pub fn run(args: &ScaleArgs) -> Result<ScaleResult> {
    let r = measure(args)?;
    print!("{}", render(&r));
    if let Some(path) = &args.result {
        let mut out = format!("threads\t{}\n", r.threads);
        for p in &r.points {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.reports,
                p.secs,
                p.window_rate,
                p.window_cpu_rate.unwrap_or(-1.0),
                p.db_bytes,
                p.peak_rss_kb.map_or(-1, |v| v as i64),
                p.rss_kb.map_or(-1, |v| v as i64),
                p.wall_secs
            );
        }
        std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(r)
}

/// Runs `bench scale` as a child process of this program (its output goes to ours), so that
/// the memory figures are the section's own; returns its checkpoints.
pub fn in_child(args: &ScaleArgs) -> Result<ScaleResult> {
    let dir = TempDir::new(args.common.tmp.as_deref(), "scale-result")?;
    let result = dir.path.join("scale.tsv");
    let exe = if Path::new("/proc/self/exe").exists() {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe().context("cannot find this executable")?
    };
    let c = &args.common;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "scale", "--max", &args.max.to_string()])
        .args(["--threads", &args.threads])
        .arg("--rules")
        .arg(&c.rules)
        .args(["--seed", &c.seed.to_string()])
        .args(["--gbk", &c.gbk.to_string()])
        .args(["--html", &c.html.to_string()])
        .args(["--broken", &c.broken.to_string()])
        .arg("--result")
        .arg(&result);
    if !args.sizes.is_empty() {
        let sizes: Vec<String> = args.sizes.iter().map(ToString::to_string).collect();
        cmd.args(["--sizes", &sizes.join(",")]);
    }
    if let Some(t) = &c.tmp {
        cmd.arg("--tmp").arg(t);
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let status = cmd.status().context("cannot start bench scale")?;
    if !status.success() {
        bail!("bench scale failed ({status})");
    }
    let text = std::fs::read_to_string(&result).context("bench scale left no result")?;
    let mut r = ScaleResult {
        threads: 0,
        points: Vec::new(),
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.first() == Some(&"threads") {
            r.threads = f.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(-1.0);
        let opt_kb = |i: usize| Some(num(i)).filter(|v| *v >= 0.0).map(|v| v as u64);
        r.points.push(Point {
            reports: num(0) as usize,
            secs: num(1),
            window_rate: num(2),
            window_cpu_rate: Some(num(3)).filter(|v| *v >= 0.0),
            db_bytes: num(4) as u64,
            peak_rss_kb: opt_kb(5),
            rss_kb: opt_kb(6),
            wall_secs: num(7),
        });
    }
    Ok(r)
}

/// The checkpoints: `--sizes`, else 1,000, 10,000, 100,000 … up to `--max` (and `--max` itself).
pub fn checkpoints(args: &ScaleArgs) -> Vec<usize> {
    let mut sizes: Vec<usize> = if args.sizes.is_empty() {
        let mut v = Vec::new();
        let mut n = 1000;
        while n <= args.max {
            v.push(n);
            n *= 10;
        }
        if v.last() != Some(&args.max) && args.max > 0 {
            v.push(args.max);
        }
        v
    } else {
        args.sizes.clone()
    };
    sizes.retain(|n| *n > 0);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// Fills one store up to the last checkpoint.
pub fn measure(args: &ScaleArgs) -> Result<ScaleResult> {
    let sizes = checkpoints(args);
    let Some(&max) = sizes.last() else {
        bail!("no sizes to measure");
    };
    let threads = *super::thread_counts(std::slice::from_ref(&args.threads))?
        .first()
        .unwrap_or(&1);
    let rules = super::rules_dir(&args.common.rules)?;
    let dir = TempDir::new(args.common.tmp.as_deref(), "scale")?;
    let g = args.common.generator();
    g.prepare()?;
    let ctx = super::stages::context(&dir.path, &rules)?;
    super::reset_peak_memory();
    eprintln!(
        "scale: up to {} reports on {threads} thread(s), checkpoints {:?} …",
        thousands(max as u64),
        sizes
    );
    let wall = Instant::now();
    let mut points = Vec::new();
    let mut done = 0usize;
    let (mut secs, mut cpu) = (0.0, 0.0);
    let (mut last_n, mut last_secs, mut last_cpu) = (0usize, 0.0, 0.0);
    let batch_size = 1000;
    while done < max {
        let next_checkpoint = sizes.iter().copied().find(|s| *s > done).unwrap_or(max);
        let n = batch_size.min(next_checkpoint - done);
        let mut paths = Vec::with_capacity(n);
        for i in done..done + n {
            let r = g.generate(i as u64)?;
            let p = ctx.config.inbox.join(&r.name);
            std::fs::write(&p, &r.bytes)
                .with_context(|| format!("cannot write {}", p.display()))?;
            paths.push(p);
        }
        let next = AtomicUsize::new(0);
        let cpu0 = super::cpu_secs("self");
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= paths.len() {
                        break;
                    }
                    std::hint::black_box(ctx.process_file(&paths[i]));
                });
            }
        });
        secs += start.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (cpu0, super::cpu_secs("self")) {
            cpu += b - a;
        }
        done += n;
        clear_archive(&ctx.config.archive);
        if sizes.contains(&done) {
            let stored = ctx
                .store
                .lock()
                .ok()
                .and_then(|s| s.summary().ok())
                .map_or(0, |s| s.reports as usize);
            if stored != done {
                bail!("scale: {stored} of {done} reports stored");
            }
            let (peak, rss) = super::memory_kb("self");
            let p = Point {
                reports: done,
                secs,
                window_rate: (done - last_n) as f64 / (secs - last_secs).max(1e-9),
                window_cpu_rate: (cpu > last_cpu)
                    .then(|| (done - last_n) as f64 / (cpu - last_cpu)),
                db_bytes: super::db_bytes(&ctx.config.database),
                peak_rss_kb: peak,
                rss_kb: rss,
                wall_secs: wall.elapsed().as_secs_f64(),
            };
            eprintln!(
                "  {} reports: {:.0} reports/s in the window, {:.0} s so far",
                thousands(done as u64),
                p.window_rate,
                p.wall_secs
            );
            points.push(p);
            last_n = done;
            last_secs = secs;
            last_cpu = cpu;
        }
    }
    Ok(ScaleResult { threads, points })
}

/// Deletes the archived files (the measured work, moving them there, is done).
fn clear_archive(archive: &Path) {
    if let Ok(days) = std::fs::read_dir(archive) {
        for day in days.flatten() {
            let _ = std::fs::remove_dir_all(day.path());
        }
    }
}

/// The checkpoints as a table.
pub fn render(r: &ScaleResult) -> String {
    let mut t = MdTable::new(&[
        "reports stored",
        "reports/s (window)",
        "ms/report (window)",
        "per CPU-s (window)",
        "reports/s (all)",
        "DB MB",
        "DB KB/report",
        "peak RSS MB",
        "RSS MB",
        "wall s",
    ]);
    for p in &r.points {
        t.row(vec![
            thousands(p.reports as u64),
            format!("{:.0}", p.window_rate),
            format!("{:.2}", 1e3 / p.window_rate.max(1e-9)),
            p.window_cpu_rate
                .map_or_else(|| "-".into(), |r| format!("{r:.0}")),
            format!("{:.0}", p.reports as f64 / p.secs.max(1e-9)),
            format!("{:.1}", p.db_bytes as f64 / 1e6),
            format!("{:.1}", p.db_bytes as f64 / 1024.0 / p.reports as f64),
            p.peak_rss_kb
                .map_or_else(|| "-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            p.rss_kb
                .map_or_else(|| "-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
            format!("{:.0}", p.wall_secs),
        ]);
    }
    format!(
        "\n## Scale (one store growing; daemon per-file code on {} thread(s), in process; window: since the previous line)\n\n{}",
        r.threads,
        t.render()
    )
}
