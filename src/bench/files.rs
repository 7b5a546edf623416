//! `ogi-audit bench files`: how long each stage takes on each given file, one core.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::pipeline;
use crate::rules::{Limits, RuleSet};
use crate::{extract, parse};

/// `ogi-audit bench files` (also `ogi-audit bench PATH...`).
#[derive(Debug, Clone, clap::Args)]
pub struct FilesArgs {
    /// How many times to parse each file.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// The rules directory (rule time is measured when it exists).
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Also time each rule on its own.
    #[arg(long)]
    pub per_rule: bool,
    /// Report files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Runs `ogi-audit bench files`.
pub fn run(args: &FilesArgs, _config: Option<&Path>) -> Result<ExitCode> {
    let files = pipeline::report_files(&args.paths)?;
    let set = if args.rules.is_dir() {
        let set = RuleSet::load(&args.rules, Limits::default())?;
        for e in &set.errors {
            eprintln!("ogi-audit: rule not loaded: {e}");
        }
        Some(set)
    } else {
        None
    };
    let iterations = args.iterations.max(1);
    let rows = parse_and_rules(&files, set.as_ref(), iterations)?;
    print!("{}", table(&rows));
    if let (true, Some(set)) = (args.per_rule, &set) {
        println!("\n{:<28} {:>10}", "rule", "µs/report");
        for (id, us) in per_rule(&files, set, iterations)? {
            println!("{id:<28} {us:>10.1}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Figures for one file.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// Extraction and parsing, µs per report.
    pub parse_us: f64,
    /// All rules of the set on the parsed report, µs per report (`None` without rules).
    pub rules_us: Option<f64>,
    /// Reading the bytes as the daemon does: hash, extract, parse, µs per report.
    pub pipeline_us: f64,
}

/// Times parsing (and the rules, when given) over each file, `iterations` times each.
pub fn parse_and_rules(
    files: &[PathBuf],
    rules: Option<&RuleSet>,
    iterations: usize,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());

        let start = Instant::now();
        let mut parsed = None;
        for _ in 0..iterations {
            let report = extract::extract_bytes(&bytes)
                .ok()
                .and_then(|x| parse::parse(&x.text).ok());
            parsed = std::hint::black_box(report).map(Arc::new);
        }
        let parse_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;

        let rules_us = match (rules, &parsed) {
            (Some(set), Some(report)) => {
                let start = Instant::now();
                for _ in 0..iterations {
                    std::hint::black_box(set.run(report, None));
                }
                Some(start.elapsed().as_secs_f64() * 1e6 / iterations as f64)
            }
            _ => None,
        };

        let start = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(pipeline::read_bytes(path, &bytes));
        }
        let pipeline_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        rows.push(Row {
            name,
            parse_us,
            rules_us,
            pipeline_us,
        });
    }
    Ok(rows)
}

/// Mean µs per report of each rule alone, over the parsed files, slowest first.
pub fn per_rule(files: &[PathBuf], set: &RuleSet, iterations: usize) -> Result<Vec<(String, f64)>> {
    let mut reports = Vec::new();
    for path in files {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(r) = extract::extract_bytes(&bytes)
            .ok()
            .and_then(|x| parse::parse(&x.text).ok())
        {
            reports.push(Arc::new(r));
        }
    }
    let mut out = Vec::new();
    for rule in &set.rules {
        let ids = [rule.id.clone()];
        let start = Instant::now();
        for _ in 0..iterations {
            for r in &reports {
                std::hint::black_box(set.run_only(r, None, &ids));
            }
        }
        let n = (iterations * reports.len()).max(1) as f64;
        out.push((rule.id.clone(), start.elapsed().as_secs_f64() * 1e6 / n));
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// The figures as a table, with a total line (one core).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>10} {:>10} {:>13} {:>16}",
        "file", "parse µs", "rules µs", "hash+parse µs", "parse+rules /s"
    );
    let mut sum = (0.0, 0.0, 0.0);
    for r in rows {
        let rules = r
            .rules_us
            .map_or_else(|| "-".to_string(), |v| format!("{v:.1}"));
        let per_sec = 1e6 / (r.parse_us + r.rules_us.unwrap_or(0.0));
        let _ = writeln!(
            out,
            "{:<34} {:>10.1} {:>10} {:>13.1} {:>16.0}",
            r.name, r.parse_us, rules, r.pipeline_us, per_sec
        );
        sum.0 += r.parse_us;
        sum.1 += r.rules_us.unwrap_or(0.0);
        sum.2 += r.pipeline_us;
    }
    if !rows.is_empty() {
        let n = rows.len() as f64;
        let _ = writeln!(
            out,
            "{:<34} {:>10.1} {:>10.1} {:>13.1} {:>16.0}",
            "mean (one core)",
            sum.0 / n,
            sum.1 / n,
            sum.2 / n,
            1e6 / ((sum.0 + sum.1) / n)
        );
    }
    out
}
