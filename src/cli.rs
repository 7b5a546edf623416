//! The command line: argument definitions and the commands' implementations. `main.rs` only
//! calls [`main`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::model::{Report, Severity, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};
use crate::pipeline::{self, Outcome, Status};
use crate::rules::{self, Limits, RuleSet};

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
        /// The rules directory.
        #[arg(long, default_value = "rules")]
        rules: PathBuf,
        /// Exit with 1 when a finding of this severity or above exists.
        #[arg(long, default_value = "error", value_parser = parse_severity)]
        fail_on: Severity,
        /// Report files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Work with the rule pack: list the rules, run their test cases.
    #[command(subcommand)]
    Rules(RulesCommand),
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

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print id, severity, title and file of every rule.
    ///
    /// Example:
    ///   ogi-audit rules list rules/
    #[command(verbatim_doc_comment)]
    List {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
    /// Run the test cases under <DIR>/tests/*.toml; exit 1 when a case fails.
    ///
    /// Example:
    ///   ogi-audit rules test rules/
    #[command(verbatim_doc_comment)]
    Test {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
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
        Command::Check {
            format,
            rules,
            fail_on,
            paths,
        } => check(&paths, &rules, format, fail_on),
        Command::Rules(RulesCommand::List { dir }) => rules_list(&dir),
        Command::Rules(RulesCommand::Test { dir }) => rules_test(&dir),
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

/// Loads a rule set, reporting files that did not load on stderr.
fn load_rules(dir: &Path) -> Result<RuleSet> {
    let set = RuleSet::load(dir, Limits::default())?;
    for e in &set.errors {
        eprintln!("ogi-audit: rule not loaded: {e}");
    }
    Ok(set)
}

fn check(
    paths: &[PathBuf],
    rules_dir: &Path,
    format: Format,
    fail_on: Severity,
) -> Result<ExitCode> {
    let files = collect_files(paths)?;
    let set = if rules_dir.is_dir() {
        Some(load_rules(rules_dir)?)
    } else {
        eprintln!(
            "ogi-audit: no rules directory at {}; reports are parsed but not audited",
            rules_dir.display()
        );
        None
    };
    let mut outcomes: Vec<Outcome> = files.iter().map(|f| pipeline::read_file(f)).collect();
    if let Some(set) = &set {
        for o in &mut outcomes {
            if let Some(report) = &o.report {
                o.findings = set.run(report);
            }
        }
    }
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
    let flagged = outcomes
        .iter()
        .flat_map(|o| &o.findings)
        .any(|f| f.severity >= fail_on);
    Ok(if failed {
        ExitCode::from(2)
    } else if flagged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rules_list(dir: &Path) -> Result<ExitCode> {
    let set = load_rules(dir)?;
    println!("{:<26} {:<8} {:<28} file", "id", "severity", "title");
    for r in &set.rules {
        println!(
            "{:<26} {:<8} {:<28} {}",
            r.id,
            r.severity.as_str(),
            r.title,
            r.file.display()
        );
    }
    println!("rule set version {}", set.version);
    Ok(if set.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn rules_test(dir: &Path) -> Result<ExitCode> {
    let set = load_rules(dir)?;
    let suites = rules::testing::find_suites(dir);
    if suites.is_empty() {
        eprintln!(
            "ogi-audit: no test suites under {}",
            dir.join("tests").display()
        );
        return Ok(ExitCode::from(1));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for suite in suites {
        match rules::testing::run_suite(&set, &suite) {
            Ok(results) => {
                for r in results {
                    if r.passed() {
                        passed += 1;
                        println!("ok    {} :: {}", suite.display(), r.name);
                    } else {
                        failed += 1;
                        println!("FAIL  {} :: {}", suite.display(), r.name);
                        for f in &r.failures {
                            println!("      {f}");
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {e}");
            }
        }
    }
    failed += set.errors.len();
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
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
    let colour = std::io::stdout().is_terminal();
    for f in &o.findings {
        let tag = f.severity.as_str();
        let tag = match (colour, f.severity) {
            (false, _) => format!("[{tag}]"),
            (true, Severity::Error) => format!("\x1b[31m[{tag}]\x1b[0m"),
            (true, Severity::Warning) => format!("\x1b[33m[{tag}]\x1b[0m"),
            (true, Severity::Info) => format!("\x1b[36m[{tag}]\x1b[0m"),
        };
        writeln!(out, "   {tag} {}: {}", f.rule, f.message)?;
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
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
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
