//! `bench reaudit`: `ogi-audit reaudit` over a store of many reports, as an office waits for it
//! after editing a rule. The store is filled as `bench web` fills it (generated reports through
//! the daemon's per-file code, then copies of their outcomes under other issuers and years, so
//! that most reports have last year's report in the store); then the whole store is audited
//! again with `--jobs` 1, 2 …, each run timed (wall and CPU time of this process) with its peak
//! resident memory. Each run audits with the pack as an office leaves it after an edit (a copy
//! with one file changed, so its version is new): every report's findings are then written
//! again. Three edits per `--jobs` value: first every rule file (every rule runs again, as
//! under a new program), then a word list (the rules reading it run again, with the one reading
//! the register), then the pack's largest rule (only that rule runs again, with the one reading
//! the register and, for a report whose year before is not the one of its last audit, those
//! reading the year before). The store's copies were recorded without the year before they were
//! audited with; the first run records it.
//! With the version the store was filled with, every report would already have its findings
//! and nothing would be written.

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
    /// What was edited before the run.
    pub edit: Edit,
    /// Rules run per report.
    pub rules_per_report: f64,
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

/// What a run's pack has edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Every rule file: every rule runs, as under a new program.
    Every,
    /// A word list: the rules reading it run.
    List,
    /// The largest rule file.
    Rule,
}

impl Edit {
    pub fn label(self) -> &'static str {
        match self {
            Edit::Every => "every rule",
            Edit::List => "a word list",
            Edit::Rule => "the largest rule",
        }
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
    let runs = args
        .jobs
        .iter()
        .flat_map(|&jobs| [Edit::Every, Edit::List, Edit::Rule].map(|edit| (jobs.max(1), edit)));
    // Each run's pack is the one before it with one more edit, as an office's pack goes on.
    let mut last = pack;
    for (run, (jobs, edit)) in runs.enumerate() {
        config.rules_dir = edited_pack(&last, &dir.path.join(format!("rules-{run}")), run, edit)?;
        last.clone_from(&config.rules_dir);
        eprintln!(
            "reaudit: {} reports, --jobs {jobs}, after an edit of {} …",
            thousands(args.reports as u64),
            edit.label()
        );
        reset_peak_memory();
        let cpu = cpu_secs("self");
        let start = Instant::now();
        let done = daemon::reaudit(&config, None, ReauditMode::Store, jobs, &|_, _| {})?;
        let secs = start.elapsed().as_secs_f64();
        figures.push(Figure {
            jobs,
            edit,
            rules_per_report: (done.rules_run as f64) / (done.total.max(1) as f64),
            reports: done.total,
            rewritten: done.changed,
            secs,
            cpu_secs: cpu.zip(cpu_secs("self")).map(|(a, b)| b - a),
            peak_rss_kb: memory_kb("self").0,
        });
    }
    Ok((figures, origin))
}

/// A copy of the rule pack at `dest` with files edited (a comment added, naming the run): a
/// new version of the pack with the same rules, as after an office's edit. `Edit::Every` edits
/// every rule file, `Edit::Rule` the largest, `Edit::List` a word list (the first, or a new one
/// when the pack has none).
fn edited_pack(pack: &Path, dest: &Path, run: usize, edit: Edit) -> Result<PathBuf> {
    copy_tree(pack, dest)
        .with_context(|| format!("cannot copy the rule pack to {}", dest.display()))?;
    let files = |dir: &Path, ext: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == ext))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    };
    let (edited, comment) = match edit {
        Edit::Every => (files(dest, "rhai"), "//"),
        Edit::Rule => {
            let largest = files(dest, "rhai")
                .into_iter()
                .max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .with_context(|| format!("no rule in {}", pack.display()))?;
            (vec![largest], "//")
        }
        Edit::List => {
            let lists = dest.join("lists");
            std::fs::create_dir_all(&lists)?;
            let first = files(&lists, "txt").into_iter().next();
            (vec![first.unwrap_or_else(|| lists.join("bench.txt"))], "#")
        }
    };
    for file in edited {
        let mut src = std::fs::read_to_string(&file).unwrap_or_default();
        src.push_str(&format!(
            "\n{comment} edited before re-audit run {}\n",
            run + 1
        ));
        std::fs::write(&file, src)?;
    }
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
        "edited",
        "rules run per report",
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
            f.edit.label().to_string(),
            format!("{:.1}", f.rules_per_report),
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
        "\n## reaudit (the whole store audited again after an edit of the rule pack; target: 100,000 reports ≤ 60 s on 2 cores)\n\n\
         Store: {origin}.\n\n{}",
        t.render()
    )
}
