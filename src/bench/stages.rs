//! `bench parse|rules|store|throughput`: reports per second of each stage, on 1, 2 and all
//! cores, over a generated corpus.
//!
//! Threads take files from one shared queue, as the daemon's workers do. Parse and rules read
//! the reports from memory; the store stage runs the daemon's own per-file code
//! ([`crate::daemon::Context::process_file`]: read the file, hash, skip if known, parse, the
//! previous year's report, the rules, one transaction for the report, its findings and its mail
//! notice, then the move to the archive) on files in a fresh inbox, with one shared store
//! connection as in the daemon.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result};

use super::corpus::{Encoding, Format, Generator, Meta};
use super::{median, quantile, thousands, MdTable, StageArgs, TempDir};
use crate::config::Config;
use crate::daemon::{self, Context};
use crate::pipeline;
use crate::rules::{RuleSet, Subject};

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Hash, extract, parse ([`pipeline::read_bytes`]).
    Parse,
    /// The same and the rule pack, report by report (as the daemon runs it).
    Rules,
    /// The same in batches of [`crate::rules::BATCH`], the rules one by one over each batch (as
    /// `check` and `reaudit` run them).
    Batched,
    /// The daemon's per-file work, SQLite store and archive included.
    Store,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Parse, Stage::Rules, Stage::Batched, Stage::Store];

    pub fn label(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Rules => "parse + rules",
            Stage::Batched => "parse + rules, in batches",
            Stage::Store => "parse + rules + store",
        }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub struct Run {
    pub secs: f64,
    /// CPU seconds the process used meanwhile (all threads).
    pub cpu_secs: Option<f64>,
    /// µs per report, each report on its own (measured with one thread only).
    pub per_report_us: Vec<f64>,
    pub db_bytes: Option<u64>,
}

/// The median of the runs of one stage at one thread count.
#[derive(Debug, Clone)]
pub struct Figure {
    pub stage: Stage,
    pub threads: usize,
    pub files: usize,
    /// Reports per second (median run).
    pub rate: f64,
    pub min_rate: f64,
    pub max_rate: f64,
    /// Reports per CPU-second (median run): what one core would do without neighbours.
    pub cpu_rate: Option<f64>,
    pub runs: usize,
    /// Per-report time quantiles (one thread; 0 otherwise).
    pub p50_us: f64,
    pub p99_us: f64,
    /// Database bytes per stored report (store stage).
    pub db_per_report: Option<f64>,
    /// One thread: (kind, reports, mean µs per report) over all runs.
    pub by_kind: Vec<(&'static str, usize, f64)>,
}

/// Mean µs per report of each kind, over the runs (one thread: times are in corpus order).
fn by_kind(corpus: &[Item], runs: &[Run]) -> Vec<(&'static str, usize, f64)> {
    let mut out: Vec<(&'static str, usize, f64)> = Vec::new();
    for item_kind in ["text, UTF-8", "text, GBK", "HTML, UTF-8", "HTML, GBK"] {
        let mut sum = 0.0;
        let mut n = 0;
        for run in runs {
            for (item, us) in corpus.iter().zip(&run.per_report_us) {
                if item.kind == item_kind {
                    sum += us;
                    n += 1;
                }
            }
        }
        if n > 0 {
            let count = corpus.iter().filter(|i| i.kind == item_kind).count();
            out.push((item_kind, count, sum / n as f64));
        }
    }
    out
}

/// Runs and prints the stages.
pub fn run(args: &StageArgs, stages: &[Stage]) -> Result<ExitCode> {
    println!("corpus: {}", args.common.describe());
    let figures = measure(args, stages)?;
    print!("{}", render(&figures));
    Ok(ExitCode::SUCCESS)
}

/// One report of the in-memory corpus.
pub struct Item {
    pub name: PathBuf,
    pub bytes: Vec<u8>,
    /// Format and encoding (`text, UTF-8` …).
    pub kind: &'static str,
}

/// The kind of a generated report, as the per-kind table names it.
pub fn kind(m: &Meta) -> &'static str {
    match (m.format, m.encoding) {
        (Format::Text, Encoding::Utf8 | Encoding::Utf8Bom) => "text, UTF-8",
        (Format::Text, Encoding::Gbk | Encoding::Gb18030) => "text, GBK",
        (Format::Html, Encoding::Utf8 | Encoding::Utf8Bom) => "HTML, UTF-8",
        (Format::Html, Encoding::Gbk | Encoding::Gb18030) => "HTML, GBK",
    }
}

/// Reports `0..n` of a generator, in memory.
pub fn corpus(g: &Generator, n: usize) -> Result<Vec<Item>> {
    g.prepare()?;
    (0..n as u64)
        .map(|i| {
            g.generate(i).map(|r| Item {
                kind: kind(&r.meta),
                name: PathBuf::from(r.name),
                bytes: r.bytes,
            })
        })
        .collect()
}

/// Measures the stages at each thread count, `repeat` times each.
pub fn measure(args: &StageArgs, stages: &[Stage]) -> Result<Vec<Figure>> {
    let threads = super::thread_counts(&args.threads)?;
    let rules_dir = super::rules_dir(&args.common.rules)?;
    let files = args.files.max(1);
    eprintln!("generating {files} reports ({}) …", args.common.describe());
    let corpus = corpus(&args.common.generator(), files)?;
    let config = Config::defaults(Path::new("."));
    let set = Arc::new(daemon::load_rules(&Config {
        rules_dir: rules_dir.clone(),
        ..config
    })?);
    let mut figures = Vec::new();
    for &stage in stages {
        for &t in &threads {
            let mut runs = Vec::new();
            for r in 0..args.repeat.max(1) {
                eprintln!(
                    "{} on {t} thread(s), {files} reports, run {}/{} …",
                    stage.label(),
                    r + 1,
                    args.repeat.max(1)
                );
                let run = match stage {
                    Stage::Parse | Stage::Rules => in_memory(stage, &corpus, t, &set),
                    Stage::Batched => batched(&corpus, t, &set),
                    Stage::Store => store(&corpus, t, &rules_dir, args.common.tmp.as_deref())?,
                };
                runs.push(run);
            }
            let mut f = figure(stage, t, files, &runs);
            if t == 1 {
                f.by_kind = by_kind(&corpus, &runs);
            }
            figures.push(f);
        }
    }
    Ok(figures)
}

fn figure(stage: Stage, threads: usize, files: usize, runs: &[Run]) -> Figure {
    let rates: Vec<f64> = runs.iter().map(|r| files as f64 / r.secs).collect();
    let rate = median(&rates);
    // Quantiles and size from the median run.
    let chosen = runs
        .iter()
        .min_by(|a, b| {
            (files as f64 / a.secs - rate)
                .abs()
                .total_cmp(&(files as f64 / b.secs - rate).abs())
        })
        .cloned()
        .unwrap_or(Run {
            secs: 0.0,
            cpu_secs: None,
            per_report_us: Vec::new(),
            db_bytes: None,
        });
    Figure {
        stage,
        threads,
        files,
        rate,
        cpu_rate: {
            let r: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.cpu_secs.filter(|c| *c > 0.0).map(|c| files as f64 / c))
                .collect();
            (!r.is_empty()).then(|| median(&r))
        },
        min_rate: rates.iter().copied().fold(f64::INFINITY, f64::min),
        max_rate: rates.iter().copied().fold(0.0, f64::max),
        runs: runs.len(),
        p50_us: quantile(&chosen.per_report_us, 0.5),
        p99_us: quantile(&chosen.per_report_us, 0.99),
        db_per_report: chosen.db_bytes.map(|b| b as f64 / files as f64),
        by_kind: Vec::new(),
    }
}

/// Runs `work(i)` for every index on `threads` threads taking indices from one queue; returns
/// the wall time and, with one thread, each call's duration in µs.
fn drive(n: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) -> (f64, Option<f64>, Vec<f64>) {
    let cpu0 = super::cpu_secs("self");
    let next = AtomicUsize::new(0);
    let barrier = Barrier::new(threads + 1);
    let times = Mutex::new(Vec::new());
    let start = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut mine = Vec::new();
                barrier.wait();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    if threads == 1 {
                        let t = Instant::now();
                        work(i);
                        mine.push(t.elapsed().as_secs_f64() * 1e6);
                    } else {
                        work(i);
                    }
                }
                if let Ok(mut all) = times.lock() {
                    all.extend(mine);
                }
            });
        }
        barrier.wait();
        // The scope joins every thread before it returns.
        Instant::now()
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, super::cpu_secs("self")) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let per = times.into_inner().unwrap_or_default();
    (secs, cpu, per)
}

/// This thread's copy of the rule set, as the daemon's workers have theirs.
fn forked(set: &Arc<RuleSet>) -> Arc<RuleSet> {
    thread_local! {
        static MINE: std::cell::RefCell<Option<Arc<RuleSet>>> = const { std::cell::RefCell::new(None) };
    }
    MINE.with_borrow_mut(|m| m.get_or_insert_with(|| Arc::new(set.fork())).clone())
}

fn in_memory(stage: Stage, corpus: &[Item], threads: usize, set: &Arc<RuleSet>) -> Run {
    let work = |i: usize| {
        let item = &corpus[i];
        let outcome = pipeline::read_bytes(&item.name, &item.bytes);
        if stage == Stage::Rules {
            if let Some(report) = &outcome.report {
                std::hint::black_box(forked(set).run(report, None));
            }
        }
        std::hint::black_box(outcome);
    };
    let (secs, cpu_secs, per_report_us) = drive(corpus.len(), threads, &work);
    Run {
        secs,
        cpu_secs,
        per_report_us,
        db_bytes: None,
    }
}

/// Parse and rules in batches: each thread reads a batch of reports, then runs the rules one
/// by one over the batch ([`RuleSet::run_batch`]). No time per report: a batch is timed whole.
fn batched(corpus: &[Item], threads: usize, set: &Arc<RuleSet>) -> Run {
    let size = crate::rules::BATCH;
    let work = |b: usize| {
        let items = corpus
            .get(b * size..((b + 1) * size).min(corpus.len()))
            .unwrap_or(&[]);
        let outcomes: Vec<pipeline::Outcome> = items
            .iter()
            .map(|item| pipeline::read_bytes(&item.name, &item.bytes))
            .collect();
        let mine = forked(set);
        let jobs = outcomes
            .iter()
            .filter_map(|o| o.report.as_ref())
            .map(|r| Subject::new(r, None))
            .collect();
        std::hint::black_box(mine.run_batch(jobs));
        std::hint::black_box(outcomes);
    };
    let (secs, cpu_secs, _) = drive(corpus.len().div_ceil(size), threads, &work);
    Run {
        secs,
        cpu_secs,
        per_report_us: Vec::new(),
        db_bytes: None,
    }
}

/// A daemon context on a fresh folder: inbox, database, archive; the given rule pack; the
/// store's log folded in by a thread of its own, as the daemon has it.
pub fn context(dir: &Path, rules_dir: &Path) -> Result<Context> {
    let mut config = Config::defaults(dir);
    config.rules_dir = rules_dir.to_path_buf();
    config.mail.outbox = dir.join("outbox");
    std::fs::create_dir_all(&config.inbox).context("cannot create the inbox")?;
    let ctx = Context::open(config)?;
    ctx.checkpoint_in_background();
    Ok(ctx)
}

fn store(corpus: &[Item], threads: usize, rules_dir: &Path, tmp: Option<&Path>) -> Result<Run> {
    let dir = TempDir::new(tmp, "store")?;
    let ctx = context(&dir.path, rules_dir)?;
    let mut paths = Vec::with_capacity(corpus.len());
    for item in corpus {
        let p = ctx.config.inbox.join(&item.name);
        std::fs::write(&p, &item.bytes).with_context(|| format!("cannot write {}", p.display()))?;
        paths.push(p);
    }
    let work = |i: usize| {
        std::hint::black_box(ctx.process_file(&paths[i]));
    };
    let (secs, cpu_secs, per_report_us) = drive(paths.len(), threads, &work);
    let stored = ctx
        .store
        .lock()
        .ok()
        .and_then(|s| s.summary().ok())
        .map_or(0, |s| s.reports);
    if stored as usize != corpus.len() {
        anyhow::bail!("store stage: {stored} of {} reports stored", corpus.len());
    }
    let db_bytes = Some(super::db_bytes(&ctx.config.database));
    Ok(Run {
        secs,
        cpu_secs,
        per_report_us,
        db_bytes,
    })
}

/// The figures as a table.
pub fn render(figures: &[Figure]) -> String {
    let mut t = MdTable::new(&[
        "stage",
        "threads",
        "reports",
        "reports/s",
        "per core /s",
        "per CPU-s",
        "range /s",
        "p50 ms",
        "p99 ms",
        "DB KB/report",
    ]);
    for f in figures {
        t.row(vec![
            f.stage.label().to_string(),
            f.threads.to_string(),
            thousands(f.files as u64),
            format!("{:.0}", f.rate),
            format!("{:.0}", f.rate / f.threads as f64),
            f.cpu_rate.map_or_else(|| "-".into(), |r| format!("{r:.0}")),
            if f.runs > 1 {
                format!("{:.0}–{:.0}", f.min_rate, f.max_rate)
            } else {
                "-".into()
            },
            if f.p50_us > 0.0 {
                format!("{:.2}", f.p50_us / 1e3)
            } else {
                "-".into()
            },
            if f.p99_us > 0.0 {
                format!("{:.2}", f.p99_us / 1e3)
            } else {
                "-".into()
            },
            f.db_per_report
                .map_or_else(|| "-".into(), |b| format!("{:.1}", b / 1024.0)),
        ]);
    }
    let mut out = format!(
        "\n## Throughput (generated reports; per CPU-s: reports per CPU-second of the process, \
         i.e. what one free core does; p50/p99: time per report with one thread)\n\n{}",
        t.render()
    );
    let singles: Vec<&Figure> = figures.iter().filter(|f| !f.by_kind.is_empty()).collect();
    if let Some(first) = singles.first() {
        let mut head = vec!["kind (one thread, mean ms per report)", "share"];
        head.extend(singles.iter().map(|f| f.stage.label()));
        let mut k = MdTable::new(&head);
        for (i, (kind, count, _)) in first.by_kind.iter().enumerate() {
            let mut row = vec![
                (*kind).to_string(),
                format!("{:.0} %", *count as f64 * 100.0 / first.files.max(1) as f64),
            ];
            for f in &singles {
                row.push(
                    f.by_kind
                        .get(i)
                        .map_or_else(|| "-".into(), |(_, _, us)| format!("{:.2}", us / 1e3)),
                );
            }
            k.row(row);
        }
        out.push('\n');
        out.push_str(&k.render());
    }
    out
}
