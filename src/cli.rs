//! The command line: argument definitions and the commands' implementations. `main.rs` only
//! calls [`main`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::model::{Report, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};
use crate::pipeline::{self, Outcome, Status};

#[derive(Debug, Parser)]
#[command(
    name = "ogi-audit",
    version,
    about = "Audits government information-disclosure annual reports (政府信息公开工作年度报告)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse reports and print what was read.
    ///
    /// Examples:
    ///   ogi-audit check report.txt
    ///   ogi-audit check --format json inbox/
    #[command(verbatim_doc_comment)]
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Report files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Measure parsing speed over report files (release builds give the real figures).
    ///
    /// Example:
    ///   cargo run --release -- bench tests/fixtures/seeds
    #[command(verbatim_doc_comment)]
    Bench {
        /// How many times to parse each file.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Report files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Check { format, paths } => check(&paths, format),
        Command::Bench { iterations, paths } => bench(&paths, iterations),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ogi-audit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OGI_AUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Expands folders into the files below them (sorted, hidden files skipped).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out).with_context(|| format!("cannot list {}", p.display()))?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.eq_ignore_ascii_case("README.md") {
            continue;
        }
        let path = e.path();
        if e.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn check(paths: &[PathBuf], format: Format) -> Result<ExitCode> {
    let files = collect_files(paths)?;
    let outcomes: Vec<Outcome> = files.iter().map(|f| pipeline::read_file(f)).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            let doc = serde_json::json!({ "reports": outcomes });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Human => {
            for o in &outcomes {
                write_human(&mut out, o)?;
            }
        }
    }
    let failed = outcomes.iter().any(|o| o.status != Status::Parsed);
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn cell(v: Option<i64>) -> String {
    v.map_or_else(|| "·".to_string(), |v| v.to_string())
}

fn write_human(out: &mut impl Write, o: &Outcome) -> Result<()> {
    writeln!(out, "== {}", o.path.display())?;
    let Some(r) = &o.report else {
        writeln!(
            out,
            "   UNPARSEABLE: {}",
            o.error.as_deref().unwrap_or("unknown reason")
        )?;
        writeln!(out)?;
        return Ok(());
    };
    write_report(out, r)?;
    for f in &o.findings {
        writeln!(out, "   [{}] {}: {}", f.severity.as_str(), f.rule, f.message)?;
    }
    writeln!(out)?;
    Ok(())
}

fn write_report(out: &mut impl Write, r: &Report) -> Result<()> {
    writeln!(
        out,
        "   issuer: {}   year: {}   template: {}",
        r.organization.as_deref().unwrap_or("?"),
        r.year.map_or("?".to_string(), |y| y.to_string()),
        r.template.map_or("?", |t| t.as_str()),
    )?;
    let sections: Vec<&str> = r.sections.iter().map(|s| s.as_str()).collect();
    writeln!(out, "   sections: {}", sections.join(", "))?;
    if let Some(p) = &r.period {
        writeln!(out, "   period: {} – {}", p.start, p.end)?;
    }
    writeln!(out, "   table 3 ({}):", T3_COLUMNS.join(" "))?;
    if let Some(t) = r.template {
        for row in crate::model::t3_rows(t) {
            if let Some(cols) = r.table3.get(row) {
                let cells: Vec<String> = T3_COLUMNS
                    .iter()
                    .map(|c| cell(cols.get(*c).copied().flatten()))
                    .collect();
                writeln!(out, "     {row:<24} {}", cells.join(" "))?;
            }
        }
    }
    writeln!(out, "   table 4 ({}):", T4_COLUMNS.join(" "))?;
    for g in T4_GROUPS {
        if let Some(cols) = r.table4.get(g) {
            let cells: Vec<String> = T4_COLUMNS
                .iter()
                .map(|c| cell(cols.get(*c).copied().flatten()))
                .collect();
            writeln!(out, "     {g:<24} {}", cells.join(" "))?;
        }
    }
    writeln!(out, "   claims: {}", r.claims.len())?;
    for w in &r.warnings {
        writeln!(out, "   warning: {w}")?;
    }
    Ok(())
}

fn bench(paths: &[PathBuf], iterations: usize) -> Result<ExitCode> {
    let files = collect_files(paths)?;
    let mut inputs = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        inputs.push((f.clone(), bytes));
    }
    let iterations = iterations.max(1);
    println!("{:<40} {:>12} {:>12}", "file", "µs/report", "reports/s");
    let mut total_time = 0.0;
    let mut total_reports = 0usize;
    for (path, bytes) in &inputs {
        let start = Instant::now();
        for _ in 0..iterations {
            let o = pipeline::read_bytes(path, bytes);
            std::hint::black_box(&o);
        }
        let secs = start.elapsed().as_secs_f64();
        total_time += secs;
        total_reports += iterations;
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!(
            "{:<40} {:>12.1} {:>12.0}",
            name,
            secs * 1e6 / iterations as f64,
            iterations as f64 / secs
        );
    }
    if total_reports > 0 {
        println!(
            "{:<40} {:>12.1} {:>12.0}",
            "all (one core)",
            total_time * 1e6 / total_reports as f64,
            total_reports as f64 / total_time
        );
    }
    Ok(ExitCode::SUCCESS)
}
