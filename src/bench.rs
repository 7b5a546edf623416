//! Measurements: how fast reports are read, audited and stored, how big the store gets and how
//! both grow, so performance claims are figures anyone can reproduce (`ogi-audit bench`), never
//! assumptions. BENCHMARKS.md holds the figures and the commands that give them.
//!
//! - [`corpus`]: `bench gen N DIR`, any number of distinct, realistic reports made from the
//!   embedded real ones (the other sections use the same generator in memory);
//! - [`stages`]: `bench parse|rules|store|throughput`, reports per second of parse, parse + rules
//!   and parse + rules + SQLite store (the daemon's own per-file code), on 1, 2 and all cores;
//! - [`daemon`]: `bench daemon`, the real daemon as a child process: drop-to-stored latency of
//!   single files, throughput of a folder of files, its peak memory and database size;
//! - [`scale`]: `bench scale`, the cost per report, memory and database size at 1,000 → 100,000
//!   stored reports;
//! - [`web`]: `bench web`, how fast the web console serves its pages (lists with each filter,
//!   deep pages, a report, the overview, an export) on a store of 100,000 reports;
//! - [`files`]: `bench files PATH...`, per-file stage times over given reports;
//! - `bench all [--quick]`: every section, one table each, and the targets.

pub mod corpus;
pub mod daemon;
pub mod files;
pub mod reaudit;
pub mod scale;
pub mod stages;
pub mod web;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

pub use files::{parse_and_rules, per_rule, table, FilesArgs, Row};

/// `ogi-audit bench`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    arg_required_else_help = true
)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Without a subcommand: `bench [--per-rule] PATH...` is `bench files`.
    #[command(flatten)]
    pub files: Option<FilesArgs>,
}

/// The sections of `ogi-audit bench`.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Every section, with a table each and the targets (`--quick`: a short version, ~1 min).
    ///
    /// Examples:
    ///   ogi-audit bench all --quick
    ///   ogi-audit bench all --repeat 3
    #[command(verbatim_doc_comment)]
    All(AllArgs),
    /// Write N distinct generated reports into DIR (with DIR/.manifest.tsv describing each).
    ///
    /// Example:
    ///   ogi-audit bench gen 1000 /tmp/corpus
    #[command(verbatim_doc_comment)]
    Gen(GenArgs),
    /// Reports per second of parse, parse + rules and parse + rules + store, on 1, 2, all cores.
    ///
    /// Example:
    ///   ogi-audit bench throughput --files 5000 --repeat 3
    #[command(verbatim_doc_comment)]
    Throughput(StageArgs),
    /// Reports per second of reading and parsing alone (hash, extract, parse).
    Parse(StageArgs),
    /// Reports per second of parsing and the rule pack.
    Rules(StageArgs),
    /// Reports per second of the daemon's per-file work: parse, rules, SQLite store, archive.
    ///
    /// Example:
    ///   ogi-audit bench store --files 50 --threads 1
    #[command(verbatim_doc_comment)]
    Store(StageArgs),
    /// The daemon end to end (a child process): single-file latency, folder throughput, memory.
    ///
    /// Example:
    ///   ogi-audit bench daemon --files 10000 --singles 30
    #[command(verbatim_doc_comment)]
    Daemon(DaemonArgs),
    /// Cost per report, memory and database size as the store grows (1,000 → 100,000 reports).
    ///
    /// Example:
    ///   ogi-audit bench scale --max 100000
    #[command(verbatim_doc_comment)]
    Scale(ScaleArgs),
    /// The web console's pages on a large store: lists with each filter, deep pages, a report,
    /// the overview, a CSV export (median and p95 ms; target: a list page < 200 ms at 100,000).
    ///
    /// Examples:
    ///   ogi-audit bench web
    ///   ogi-audit bench web --reports 10000 --keep
    ///   ogi-audit bench web --store /var/lib/ogi-audit/ogi-audit.sqlite
    #[command(verbatim_doc_comment)]
    Web(WebArgs),
    /// `reaudit` of a whole store (filled as `bench web` fills it) with --jobs 1, 2 …: wall and CPU
    /// time, peak memory (target: 100,000 reports ≤ 60 s on 2 cores).
    ///
    /// Example:
    ///   ogi-audit bench reaudit --reports 100000 --jobs 1,2
    #[command(verbatim_doc_comment)]
    Reaudit(ReauditArgs),
    /// Per-file stage times over given reports (one core).
    ///
    /// Example:
    ///   ogi-audit bench files --per-rule tests/fixtures/seeds tests/fixtures/samples
    #[command(verbatim_doc_comment)]
    Files(FilesArgs),
}

/// Options every measuring section shares.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The rule pack (the shipped one is `rules/` of the repository).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Seed of the generated corpus (same seed, same reports).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where temporary folders go (default: the system's temporary folder).
    #[arg(long)]
    pub tmp: Option<PathBuf>,
    /// Fraction of generated reports written in GBK (the rest UTF-8).
    #[arg(long, default_value_t = 0.35)]
    pub gbk: f64,
    /// Fraction of generated reports (of those made from the five seeds) written as HTML pages.
    #[arg(long, default_value_t = 0.3)]
    pub html: f64,
    /// Fraction of generated reports with one table identity broken on purpose.
    #[arg(long, default_value_t = 0.1)]
    pub broken: f64,
}

impl Common {
    /// The corpus generator these options describe.
    pub fn generator(&self) -> corpus::Generator {
        let mut g = corpus::Generator::new(self.seed);
        g.gbk = self.gbk.clamp(0.0, 1.0);
        g.html = self.html.clamp(0.0, 1.0);
        g.broken = self.broken.clamp(0.0, 1.0);
        g
    }

    /// The mix, for the tables' captions.
    pub fn describe(&self) -> String {
        format!(
            "seed {}, GBK {:.0} %, HTML {:.0} % of the seed-made reports, broken {:.0} %",
            self.seed,
            self.gbk * 100.0,
            self.html * 100.0,
            self.broken * 100.0
        )
    }
}

/// `bench gen`.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// How many reports.
    pub n: u64,
    /// The folder to write them into (created).
    pub dir: PathBuf,
    /// Same seed, same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Fraction of reports with one table identity broken on purpose.
    #[arg(long, default_value_t = 0.1)]
    pub broken: f64,
    /// Fraction written in GBK (the rest UTF-8).
    #[arg(long, default_value_t = 0.35)]
    pub gbk: f64,
    /// Fraction of the reports made from the five seeds written as HTML pages.
    #[arg(long, default_value_t = 0.3)]
    pub html: f64,
}

/// `bench parse|rules|store|throughput`.
#[derive(Debug, Clone, clap::Args)]
pub struct StageArgs {
    /// Generated reports per run.
    #[arg(long, default_value_t = 2000)]
    pub files: usize,
    /// Thread counts to run with: numbers or `all` (one per core).
    #[arg(long, default_value = "1,2,all", value_delimiter = ',')]
    pub threads: Vec<String>,
    /// Runs per figure; the median is shown.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    #[command(flatten)]
    pub common: Common,
}

/// `bench daemon`.
#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Files dropped into the inbox at once (throughput, peak memory).
    #[arg(long, default_value_t = 2000)]
    pub files: usize,
    /// Files dropped one at a time (latency).
    #[arg(long, default_value_t = 20)]
    pub singles: usize,
    /// Runs; the median is shown.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Keep the daemon's temporary folder (its log, database, archive) and print where it is.
    #[arg(long)]
    pub keep: bool,
    /// Units in the register, imported before the daemon starts: made-up cities, their
    /// districts and departments, as a province's register holds them (0: no register).
    #[arg(long, default_value_t = 0)]
    pub units: usize,
    /// The program run as the daemon (default: this one), to measure another build of it side
    /// by side with this one on the same corpus.
    #[arg(long, value_name = "PATH")]
    pub daemon_exe: Option<PathBuf>,
    /// Then wait until the summaries of the folder's reports are mailed (as `.eml` files to the
    /// outbox, once the group wait is over: 30 s, or `--group-wait`): the mailer's time and CPU
    /// per report.
    #[arg(long)]
    pub mail: bool,
    /// With `--mail`: the daemon's `mail.group_wait` and `mail.group_interval` (e.g. `2s`)
    /// instead of the shipped 30 s and 5 min: how long a report's notice waits before its
    /// summary is due, and the least time between two summaries to the same office.
    #[arg(long, value_name = "DURATION", requires = "mail")]
    pub group_wait: Option<String>,
    #[command(flatten)]
    pub common: Common,
}

/// `bench scale`.
#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    /// Store up to this many reports; figures at 1,000, 10,000, 100,000 … up to it.
    #[arg(long, default_value_t = 10_000)]
    pub max: usize,
    /// Explicit checkpoints instead of powers of ten (e.g. `--sizes 1000,5000,20000`).
    #[arg(long, value_delimiter = ',')]
    pub sizes: Vec<usize>,
    /// Worker threads, as the daemon (one per core).
    #[arg(long, default_value = "all")]
    pub threads: String,
    /// Also write the checkpoints to this file, without the machine line (`bench all` runs the
    /// section as a child process, so that its memory figures are its own).
    #[arg(long, hide = true)]
    pub result: Option<PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

/// `bench web`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// Reports in the store the console serves (filled from copies of `--distinct` reports).
    #[arg(long, default_value_t = 100_000)]
    pub reports: usize,
    /// Measure this existing store, read only, instead of filling one (it must have no console
    /// users: the bench does not log in).
    #[arg(long, conflicts_with = "reports")]
    pub store: Option<PathBuf>,
    /// Timed requests per page, after one warm-up (3 for a page slower than 2 s).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Issuers the stored reports are spread over.
    #[arg(long, default_value_t = 2000)]
    pub issuers: usize,
    /// Generated reports run through the pipeline and the rules; the store holds copies of them.
    #[arg(long, default_value_t = 200)]
    pub distinct: usize,
    /// Keep the filled store and print where it is (to measure it again with `--store`).
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub common: Common,
}

/// `bench reaudit`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReauditArgs {
    /// Reports in the store (copies of `--distinct` reports under other issuers and years).
    #[arg(long, default_value_t = 10_000)]
    pub reports: usize,
    /// Threads running the rules: one run of the whole store for each value.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub jobs: Vec<usize>,
    /// Issuers the stored reports are spread over.
    #[arg(long, default_value_t = 2000)]
    pub issuers: usize,
    /// Generated reports run through the pipeline and the rules; the store holds copies of them.
    #[arg(long, default_value_t = 200)]
    pub distinct: usize,
    #[command(flatten)]
    pub common: Common,
}

/// `bench all`.
#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// The short version: small corpora, no 100,000-report scale run.
    #[arg(long)]
    pub quick: bool,
    /// Runs per throughput and daemon figure; the median is shown.
    #[arg(long)]
    pub repeat: Option<usize>,
    /// Largest store of the scale section (default 100,000; 3,000 with --quick).
    #[arg(long)]
    pub scale_max: Option<usize>,
    /// Reports in the store of the web section (default 100,000; 3,000 with --quick).
    #[arg(long)]
    pub web_reports: Option<usize>,
    /// Reports in the store of the reaudit section (default 100,000; 3,000 with --quick).
    #[arg(long)]
    pub reaudit_reports: Option<usize>,
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ogi-audit bench`.
pub fn run(args: BenchArgs, config: Option<&Path>) -> Result<ExitCode> {
    match (args.command, args.files) {
        (Some(BenchCommand::Files(f)), _) | (None, Some(f)) => files::run(&f, config),
        (None, None) => bail!("give a section (`ogi-audit bench all --quick`) or report paths"),
        (Some(BenchCommand::Gen(g)), _) => gen(&g),
        (Some(BenchCommand::Throughput(s)), _) => {
            print_machine();
            stages::run(&s, &stages::Stage::ALL)
        }
        (Some(BenchCommand::Parse(s)), _) => {
            print_machine();
            stages::run(&s, &[stages::Stage::Parse])
        }
        (Some(BenchCommand::Rules(s)), _) => {
            print_machine();
            stages::run(&s, &[stages::Stage::Rules, stages::Stage::Batched])
        }
        (Some(BenchCommand::Store(s)), _) => {
            print_machine();
            stages::run(&s, &[stages::Stage::Store])
        }
        (Some(BenchCommand::Daemon(d)), _) => {
            print_machine();
            daemon::run(&d).map(|_| ExitCode::SUCCESS)
        }
        (Some(BenchCommand::Scale(s)), _) => {
            if s.result.is_none() {
                print_machine();
            }
            scale::run(&s).map(|_| ExitCode::SUCCESS)
        }
        (Some(BenchCommand::Web(w)), _) => {
            print_machine();
            web::run(&w).map(|_| ExitCode::SUCCESS)
        }
        (Some(BenchCommand::Reaudit(r)), _) => {
            print_machine();
            reaudit::run(&r).map(|_| ExitCode::SUCCESS)
        }
        (Some(BenchCommand::All(a)), _) => all(&a),
    }
}

fn gen(args: &GenArgs) -> Result<ExitCode> {
    let mut g = corpus::Generator::new(args.seed);
    g.broken = args.broken.clamp(0.0, 1.0);
    g.gbk = args.gbk.clamp(0.0, 1.0);
    g.html = args.html.clamp(0.0, 1.0);
    let start = Instant::now();
    g.prepare()?;
    let bytes = g.write_dir(args.n, &args.dir)?;
    println!(
        "{} reports ({:.1} MB) written to {} in {:.1} s; seed {}; manifest: {}",
        args.n,
        bytes as f64 / 1e6,
        args.dir.display(),
        start.elapsed().as_secs_f64(),
        args.seed,
        args.dir.join(".manifest.tsv").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `bench all`: every section, then the targets.
fn all(args: &AllArgs) -> Result<ExitCode> {
    let quick = args.quick;
    let repeat = args.repeat.unwrap_or(1).max(1);
    let started = Instant::now();
    print_machine();
    println!(
        "mode: {} (repeat {repeat}; figures are medians of the runs); corpus: {}\n",
        if quick { "quick" } else { "full" },
        args.common.describe()
    );
    let stage_args = StageArgs {
        files: if quick { 500 } else { 5000 },
        threads: vec!["1".into(), "2".into(), "all".into()],
        repeat,
        common: args.common.clone(),
    };
    let stage_results = stages::measure(&stage_args, &stages::Stage::ALL)?;
    print!("{}", stages::render(&stage_results));
    let daemon_args = DaemonArgs {
        files: if quick { 300 } else { 10_000 },
        singles: if quick { 5 } else { 30 },
        repeat,
        keep: false,
        units: 0,
        daemon_exe: None,
        mail: false,
        group_wait: None,
        common: args.common.clone(),
    };
    let daemon_result = daemon::measure(&daemon_args)?;
    print!("{}", daemon::render(&daemon_result));
    let scale_args = ScaleArgs {
        max: args
            .scale_max
            .unwrap_or(if quick { 3_000 } else { 100_000 }),
        sizes: if quick {
            vec![1_000, 3_000]
        } else {
            Vec::new()
        },
        threads: "all".into(),
        result: None,
        common: args.common.clone(),
    };
    // In a child process: this one keeps what the sections before have allocated.
    let scale_result = scale::in_child(&scale_args)?;
    let web_args = WebArgs {
        reports: args
            .web_reports
            .unwrap_or(if quick { 3_000 } else { 100_000 }),
        store: None,
        runs: if quick { 5 } else { 10 },
        issuers: 2000,
        distinct: 200,
        keep: false,
        common: args.common.clone(),
    };
    let web_result = web::run(&web_args)?;
    let reaudit_args = ReauditArgs {
        reports: args
            .reaudit_reports
            .unwrap_or(if quick { 3_000 } else { 100_000 }),
        jobs: vec![cores()],
        issuers: 2000,
        distinct: 200,
        common: args.common.clone(),
    };
    let reaudit_result = reaudit::run(&reaudit_args)?;
    print!(
        "{}",
        targets(
            &stage_results,
            &daemon_result,
            &scale_result,
            &web_result,
            &reaudit_result,
            args.common.gbk == 0.0 && args.common.html == 0.0,
        )
    );
    println!(
        "\n(bench all took {:.0} s; load average now {})",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    Ok(ExitCode::SUCCESS)
}

/// The targets against the figures.
fn targets(
    stage_results: &[stages::Figure],
    d: &daemon::DaemonResult,
    s: &scale::ScaleResult,
    w: &web::WebResult,
    r: &[reaudit::Figure],
    plain: bool,
) -> String {
    let mut t = MdTable::new(&["target", "goal", "measured", "holds"]);
    let cores = cores();
    let free = |f: &stages::Figure| {
        f.cpu_rate.map_or_else(String::new, |c| {
            format!(
                " (per CPU-second {c:.0}: ≈ {:.0} on {cores} free cores)",
                c * cores as f64
            )
        })
    };
    // `check` runs the rules in batches; report by report where that was not measured.
    let check = [stages::Stage::Batched, stages::Stage::Rules]
        .iter()
        .find_map(|stage| {
            stage_results
                .iter()
                .filter(|f| f.stage == *stage)
                .max_by_key(|f| f.threads)
        });
    if let Some(f) = check {
        // `check`'s work: 2,000/s on plain text, 1,200/s on the default mix of kinds.
        let goal = if plain { 2000.0 } else { 1200.0 };
        t.row(vec![
            format!(
                "check (parse + rules: {}), {} threads",
                f.stage.label(),
                f.threads
            ),
            if plain {
                "≥ 2,000 reports/s (plain text)".into()
            } else {
                "≥ 1,200 reports/s (this mix; 2,000 on plain text)".into()
            },
            format!("{:.0} reports/s{}", f.rate, free(f)),
            yes_no(f.rate >= goal),
        ]);
    }
    if let Some(f) = stage_results
        .iter()
        .filter(|f| f.stage == stages::Stage::Store)
        .max_by_key(|f| f.threads)
    {
        t.row(vec![
            format!("parse + rules + store, {} threads", f.threads),
            "≥ 1,500 reports/s (the daemon's own per-file work)".into(),
            format!("{:.0} reports/s{}", f.rate, free(f)),
            yes_no(f.rate >= 1500.0),
        ]);
    }
    if let Some(rate) = d.rate {
        t.row(vec![
            format!(
                "daemon, {} files dropped at once, drop → all stored",
                d.files
            ),
            "≥ 1,500 reports/s".into(),
            format!("{rate:.0} reports/s"),
            yes_no(rate >= 1500.0),
        ]);
    }
    if let Some(p50) = d.latency_p50_ms {
        t.row(vec![
            "single file, drop to stored (settle 500 ms included)".into(),
            "p50 < 1 s".into(),
            format!("{p50:.0} ms"),
            yes_no(p50 < 1000.0),
        ]);
    }
    if let Some(f) = stage_results
        .iter()
        .find(|f| f.stage == stages::Stage::Store && f.threads == 1)
    {
        t.row(vec![
            "processing of one report (the daemon's per-file work)".into(),
            "< 100 ms".into(),
            format!("p50 {:.1} ms, p99 {:.1} ms", f.p50_us / 1e3, f.p99_us / 1e3),
            yes_no(f.p99_us < 100_000.0),
        ]);
    }
    if let Some(kb) = d.peak_rss_kb {
        t.row(vec![
            format!("daemon peak RSS, {} files", d.files),
            "< 200 MB at 10,000 files".into(),
            format!("{:.0} MB", kb as f64 / 1024.0),
            if d.files >= 10_000 {
                yes_no(kb < 200 * 1024)
            } else {
                format!("{} (only {} files)", yes_no(kb < 200 * 1024), d.files)
            },
        ]);
    }
    if let (Some(first), Some(last)) = (s.points.first(), s.points.last()) {
        if s.points.len() > 1 {
            // CPU time per report, when known: the wall-clock rate moves with the neighbours.
            let (a, b, unit) = match (first.window_cpu_rate, last.window_cpu_rate) {
                (Some(a), Some(b)) => (a, b, "reports per CPU-second"),
                _ => (first.window_rate, last.window_rate, "reports/s"),
            };
            let ratio = a / b.max(1e-9);
            t.row(vec![
                format!(
                    "cost per report, {} → {} reports stored",
                    thousands(first.reports as u64),
                    thousands(last.reports as u64)
                ),
                "flat".into(),
                format!(
                    "{a:.0} → {b:.0} {unit} (×{ratio:.2} per report; wall clock {:.0} → {:.0} reports/s)",
                    first.window_rate, last.window_rate
                ),
                yes_no(ratio < 1.25),
            ]);
        }
    }
    if let Some(slowest) = w.slowest_list() {
        t.row(vec![
            format!(
                "web console, a reports-list page, {} reports stored",
                thousands(w.reports)
            ),
            format!(
                "< {:.0} ms at {}",
                web::TARGET_MS,
                thousands(web::TARGET_REPORTS)
            ),
            format!(
                "slowest list page {:.0} ms median ({})",
                slowest.median_ms, slowest.label
            ),
            if w.reports >= web::TARGET_REPORTS {
                yes_no(w.list_target_met())
            } else {
                format!(
                    "{} (only {} reports)",
                    yes_no(w.list_target_met()),
                    thousands(w.reports)
                )
            },
        ]);
    }
    let most = r.iter().map(|f| f.jobs).max();
    for f in r.iter().filter(|f| Some(f.jobs) == most) {
        let secs = f.per_100k_secs();
        t.row(vec![
            format!(
                "reaudit of a whole store after an edit of {}, {} reports, --jobs {}",
                f.edit.label(),
                thousands(f.reports as u64),
                f.jobs
            ),
            "100,000 reports ≤ 60 s".into(),
            format!("{:.1} s ({secs:.0} s for 100,000)", f.secs),
            yes_no(secs <= 60.0),
        ]);
    }
    format!("\n## Targets ({cores} cores)\n\n{}", t.render())
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "NO" }.to_string()
}

// ---------------------------------------------------------------------------------------------
// Shared helpers: the machine, statistics, tables, temporary folders, memory.

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Thread counts from `1,2,all`, deduplicated, in order.
pub fn thread_counts(spec: &[String]) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for s in spec {
        let n = match s.trim() {
            "all" => cores(),
            other => other
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("--threads: `{other}` is not a number or `all`"))?,
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find(|l| l.starts_with(key)).map(|l| {
        l[key.len()..]
            .trim()
            .trim_start_matches(':')
            .trim()
            .to_string()
    })
}

/// `VmHWM` (peak resident memory) and `VmRSS` in kB of a process (`self` or a pid).
pub fn memory_kb(pid: &str) -> (Option<u64>, Option<u64>) {
    let file = format!("/proc/{pid}/status");
    let kb = |key: &str| {
        proc_field(&file, key)
            .and_then(|v| v.split_whitespace().next().map(str::to_string))
            .and_then(|v| v.parse().ok())
    };
    (kb("VmHWM"), kb("VmRSS"))
}

/// CPU time (user + system, all threads) a process has used so far, in seconds, from
/// /proc/PID/stat (`self` or a pid). On a shared machine, reports per CPU-second say what a core
/// of one's own would do, whatever the neighbours take.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // Fields 14 and 15 (utime, stime) in clock ticks; USER_HZ is 100 on Linux.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Resets this process's peak resident memory to its current value (Linux ≥ 4.0), so that a
/// section's `VmHWM` is its own.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The load average as `/proc/loadavg` gives it (1, 5, 15 minutes).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The machine the figures come from.
pub fn machine() -> String {
    let model = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "?".into());
    let mhz = proc_field("/proc/cpuinfo", "cpu MHz")
        .and_then(|v| v.parse::<f64>().ok())
        .map_or_else(String::new, |m| format!(" @ {m:.0} MHz"));
    let mem = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| {
            v.split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        })
        .map_or_else(
            || "?".into(),
            |kb| format!("{:.1} GB", kb / 1024.0 / 1024.0),
        );
    format!(
        "machine: {} cores, {model}{mhz}, {mem} RAM; load average {}; {}; ogi-audit {} ({} build)",
        cores(),
        loadavg(),
        humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) {
            "DEBUG: not representative"
        } else {
            "release"
        }
    )
}

fn print_machine() {
    println!("{}", machine());
}

/// The `q` quantile (0..=1) of values, by nearest rank; 0 for none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The median of values (upper median for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// A Markdown table, columns padded so it reads as plain text too.
pub struct MdTable {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl MdTable {
    pub fn new(head: &[&str]) -> MdTable {
        MdTable {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.head.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(c));
                }
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from("|");
            for (i, w) in widths.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = w.saturating_sub(width(c));
                // Numbers right-aligned, words left-aligned.
                if c.starts_with(|ch: char| ch.is_ascii_digit()) && i > 0 {
                    let _ = write!(s, " {}{c} |", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {c}{} |", " ".repeat(pad));
                }
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.head);
        out.push('|');
        for w in &widths {
            let _ = write!(out, "{}|", "-".repeat(w + 2));
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

/// A temporary folder under `--tmp` (or the system's), removed when dropped unless kept.
pub struct TempDir {
    pub path: PathBuf,
    keep: bool,
}

impl TempDir {
    pub fn new(base: Option<&Path>, prefix: &str) -> Result<TempDir> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for n in 0..1000u32 {
            let path = base.join(format!(
                "ogi-audit-bench-{prefix}-{}-{nanos:x}-{n}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()))
                }
            }
        }
        bail!("cannot create a temporary folder in {}", base.display())
    }

    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The rule pack's folder, absolute, or a clear error.
pub fn rules_dir(rules: &Path) -> Result<PathBuf> {
    if !rules.is_dir() {
        bail!(
            "no rule pack at {}: run from the repository (the shipped pack is rules/) or pass --rules DIR",
            rules.display()
        );
    }
    std::fs::canonicalize(rules).with_context(|| format!("cannot resolve {}", rules.display()))
}

/// Size in bytes of the SQLite database with its WAL, after a checkpoint: the store at rest.
/// The WAL is a few MB whatever the store's size (SQLite checkpoints it at 1,000 pages), so
/// counted as it happened to be it would add 2 KB per report to a store of 2,000 and nothing to
/// one of 100,000.
pub fn db_bytes(db: &Path) -> u64 {
    if let Ok(conn) = rusqlite::Connection::open(db) {
        // Busy (the daemon writing) is no error here: what is left in the WAL is counted.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Waits until `ok` or the limit; returns whether `ok` became true.
pub fn wait_until(limit: Duration, step: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if ok() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(step);
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
