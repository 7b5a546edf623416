//! `bench reaudit`: `ogi-audit reaudit` over a store of many reports, as an office waits for it
//! after editing a rule. The store is filled as `bench web` fills it (generated reports through
//! the daemon's per-file code, then copies of their outcomes under other issuers and years, so
//! that most reports have last year's report in the store); then the whole store is audited
//! again with `--jobs` 1, 2 …, each run timed (wall and CPU time of this process) with its peak
//! resident memory. Each run audits with the pack as an office leaves it after editing a rule
//! (a copy with one rule changed, so its version is new): every report's findings are then
//! written again, as after a real edit. With the version the store was filled with, every report
//! would already have its findings and nothing would be written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};

use super::{cpu_secs, memory_kb, reset_peak_memory, thousands, MdTable, ReauditArgs, TempDir};
use super::{web, Common, WebArgs};
use crate::config::Config;
use crate::daemon::{self, ReauditMode};

/// One run of `reaudit` over the whole store.
#[derive(Debug, Clone)]
pub struct Figure {
    pub jobs: usize,
    pub reports: usize,
    /// Reports whose findings were written anew (all of them after an edit).
    pub rewritten: usize,
    pub secs: f64,
    pub cpu_secs: Option<f64>,
    /// Peak resident memory of this process during the run (kB).
    pub peak_rss_kb: Option<u64>,
}

impl Figure {
    pub fn rate(&self) -> f64 {
        self.reports as f64 / self.secs.max(1e-9)
    }

    /// The wall time for 100,000 reports at this rate.
    pub fn per_100k_secs(&self) -> f64 {
        100_000.0 / self.rate().max(1e-9)
    }
}

/// The store filled and every `--jobs` run, as a table.
pub fn run(args: &ReauditArgs) -> Result<Vec<Figure>> {
    let (figures, origin) = measure(args)?;
    print!("{}", render(&figures, &origin));
    Ok(figures)
}

pub fn measure(args: &ReauditArgs) -> Result<(Vec<Figure>, String)> {
    let dir = TempDir::new(args.common.tmp.as_deref(), "reaudit")?;
    let fill = WebArgs {
        reports: args.reports.max(1),
        store: None,
        runs: 1,
        issuers: args.issuers,
        distinct: args.distinct,
        keep: false,
        common: Common {
            tmp: Some(dir.path.clone()),
            ..args.common.clone()
        },
    };
    let (database, origin) = web::fill(&fill, &dir.path)?;
    let pack = super::rules_dir(&args.common.rules)?;
    let mut config = Config::defaults(&dir.path);
    config.database = database;
    config.mail.outbox = dir.path.join("outbox");
    let mut figures = Vec::new();
    for (run, &jobs) in args.jobs.iter().enumerate() {
        let jobs = jobs.max(1);
        config.rules_dir = edited_pack(&pack, &dir.path.join(format!("rules-{run}")), run)?;
        eprintln!(
            "reaudit: {} reports, --jobs {jobs} …",
            thousands(args.reports as u64)
        );
        reset_peak_memory();
        let cpu = cpu_secs("self");
        let start = Instant::now();
        let done = daemon::reaudit(&config, None, ReauditMode::Store, jobs, &|_, _| {})?;
        let secs = start.elapsed().as_secs_f64();
        figures.push(Figure {
            jobs,
            reports: done.total,
            rewritten: done.changed,
            secs,
            cpu_secs: cpu.zip(cpu_secs("self")).map(|(a, b)| b - a),
            peak_rss_kb: memory_kb("self").0,
        });
    }
    Ok((figures, origin))
}

/// A copy of the rule pack at `dest` with its first rule edited (a comment added, naming the
/// run): a new version of the pack with the same rules, as after an office's edit.
fn edited_pack(pack: &Path, dest: &Path, run: usize) -> Result<PathBuf> {
    copy_tree(pack, dest)
        .with_context(|| format!("cannot copy the rule pack to {}", dest.display()))?;
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dest)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    rules.sort();
    let first = rules
        .first()
        .with_context(|| format!("no rule in {}", pack.display()))?;
    let mut src = std::fs::read_to_string(first)?;
    src.push_str(&format!("\n// edited before re-audit run {}\n", run + 1));
    std::fs::write(first, src)?;
    Ok(dest.to_path_buf())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

pub fn render(figures: &[Figure], origin: &str) -> String {
    let mut t = MdTable::new(&[
        "jobs",
        "reports",
        "findings written anew",
        "wall s",
        "CPU s",
        "reports/s",
        "ms/report (CPU)",
        "100,000 reports in",
        "peak RSS MB",
    ]);
    for f in figures {
        t.row(vec![
            f.jobs.to_string(),
            thousands(f.reports as u64),
            thousands(f.rewritten as u64),
            format!("{:.1}", f.secs),
            f.cpu_secs.map_or("-".into(), |c| format!("{c:.1}")),
            format!("{:.0}", f.rate()),
            f.cpu_secs.map_or("-".into(), |c| {
                format!("{:.2}", c * 1000.0 / f.reports.max(1) as f64)
            }),
            format!("{:.0} s", f.per_100k_secs()),
            f.peak_rss_kb
                .map_or("-".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
        ]);
    }
    format!(
        "\n## reaudit (the whole store audited again after a rule was edited; target: 100,000 reports ≤ 60 s on 2 cores)\n\n\
         Store: {origin}.\n\n{}",
        t.render()
    )
}
