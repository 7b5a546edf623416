//! The command line: argument definitions and the commands' implementations. `main.rs` only
//! calls [`main`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{Config, LogFormat};
use crate::daemon;
use crate::mail::Mailer;
use crate::model::{Report, Severity, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};
use crate::pipeline::{self, Outcome, Status};
use crate::rules::{self, Limits, RuleSet};
use crate::store::{Store, StoreError};
use crate::watch::Inbox;

#[derive(Debug, Parser)]
#[command(
    name = "ogi-audit",
    version,
    about = "Audits government information-disclosure annual reports (政府信息公开工作年度报告)",
    after_help = "Start here:\n  ogi-audit init my-office      write a config, the rule pack and the folders\n  cd my-office && ogi-audit validate\n  ogi-audit run                 watch inbox/, audit every report dropped there"
)]
pub struct Cli {
    /// Configuration file (default: ./ogi-audit.toml if present, else the embedded defaults).
    #[arg(long, global = true, env = "OGI_AUDIT_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch the inbox, audit every report dropped there, store the findings.
    ///
    /// Examples:
    ///   ogi-audit run
    ///   ogi-audit run --config /etc/ogi-audit/ogi-audit.toml
    #[command(verbatim_doc_comment)]
    Run,
    /// Write a commented config, the rule pack and the folders into DIR (never overwrites).
    ///
    /// Examples:
    ///   ogi-audit init
    ///   ogi-audit init /srv/ogi-audit
    #[command(verbatim_doc_comment)]
    Init {
        /// The folder to set up (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Check a set-up: the config, the folders, every rule, the mail templates and the SMTP
    /// server; exit 1 on any problem.
    ///
    /// Examples:
    ///   ogi-audit validate
    ///   ogi-audit --config /etc/ogi-audit/ogi-audit.toml validate --offline
    #[command(verbatim_doc_comment)]
    Validate {
        /// Do not contact the SMTP server.
        #[arg(long)]
        offline: bool,
    },
    /// Print a shell completion script.
    ///
    /// Examples:
    ///   ogi-audit completions bash > /etc/bash_completion.d/ogi-audit
    ///   ogi-audit completions zsh > "${fpath[1]}/_ogi-audit"
    ///   ogi-audit completions fish > ~/.config/fish/completions/ogi-audit.fish
    #[command(verbatim_doc_comment)]
    Completions { shell: clap_complete::Shell },
    /// Show what the store holds: reports by status, findings, last report, rule set, pending
    /// files in the inbox.
    ///
    /// Example:
    ///   ogi-audit status
    #[command(verbatim_doc_comment)]
    Status {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Query stored findings.
    ///
    /// Examples:
    ///   ogi-audit findings --org 淮南市
    ///   ogi-audit findings --since 2026-03-01 --format csv > findings.csv
    #[command(verbatim_doc_comment)]
    Findings {
        /// Only reports whose issuer contains this text.
        #[arg(long)]
        org: Option<String>,
        /// Only reports received on or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, value_enum, default_value_t = TableFormat::Human)]
        format: TableFormat,
    },
    /// Re-run the current rules over stored reports.
    ///
    /// Each report gets findings of the current rule set; with --mail, a report that now has
    /// findings it did not have before gets its summary mailed again (by the running daemon).
    ///
    /// Examples:
    ///   ogi-audit reaudit --dry-run
    ///   ogi-audit reaudit --since 2026-03-01
    ///   ogi-audit reaudit --mail
    #[command(verbatim_doc_comment)]
    Reaudit {
        /// Only reports received on or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Queue a summary for each report with findings it did not have before (at or above
        /// mail.min_severity); the running daemon mails them.
        #[arg(long)]
        mail: bool,
        /// Store and mail nothing; say how many reports would change.
        #[arg(long)]
        dry_run: bool,
    },
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
        /// The rules directory (default: the config's [rules] dir; on the built-in defaults
        /// without ./rules, the built-in pack).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Exit with 1 when a finding of this severity or above exists.
        #[arg(long, default_value = "error", value_parser = parse_severity)]
        fail_on: Severity,
        /// Report files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Mail: send a test message, preview a report's summary, retry waiting or failed summaries.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Work with the rule pack: list the rules, run their test cases.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Measure how fast reports are read, audited and stored (release builds give the real
    /// figures).
    ///
    /// Example:
    ///   cargo run --release -- bench tests/fixtures/seeds
    #[command(verbatim_doc_comment)]
    Bench(crate::bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print id, severity, title and file of every rule.
    ///
    /// Example:
    ///   ogi-audit rules list rules/
    #[command(verbatim_doc_comment)]
    List {
        /// The rules directory (default: the config's [rules] dir).
        dir: Option<PathBuf>,
    },
    /// Run the test cases under <DIR>/tests/*.toml; exit 1 when a case fails.
    ///
    /// Example:
    ///   ogi-audit rules test rules/
    #[command(verbatim_doc_comment)]
    Test {
        /// The rules directory (default: the config's [rules] dir).
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message with the configured transport.
    ///
    /// Example:
    ///   ogi-audit mail test --to zwgk@example.org
    #[command(verbatim_doc_comment)]
    Test {
        #[arg(long)]
        to: String,
    },
    /// Print the summary a report would produce (recipients, subject, text; --html for HTML).
    ///
    /// Example:
    ///   ogi-audit mail preview inbox/report.txt
    #[command(verbatim_doc_comment)]
    Preview {
        report: PathBuf,
        /// Print the HTML part instead of the text part.
        #[arg(long)]
        html: bool,
    },
    /// Try waiting summaries again now; with --failed, those the server refused.
    ///
    /// Every pending notice becomes due now (the wait after failed attempts ends; group_wait
    /// and group_interval still apply); with --failed, the failed notices are pending again,
    /// their attempts counted from zero. The running daemon mails them.
    ///
    /// Examples:
    ///   ogi-audit mail retry
    ///   ogi-audit mail retry --failed
    #[command(verbatim_doc_comment)]
    Retry {
        /// Put the failed notices (refused by the server) back to pending, attempts from zero.
        #[arg(long)]
        failed: bool,
    },
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Human,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run => run(cli.config.as_deref()),
        Command::Init { dir } => init(&dir),
        Command::Validate { offline } => validate(cli.config.as_deref(), offline),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "ogi-audit", &mut script);
            std::io::stdout()
                .write_all(&script)
                .map(|()| ExitCode::SUCCESS)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                    _ => Err(e.into()),
                })
        }
        Command::Status { format } => status(cli.config.as_deref(), format),
        Command::Findings { org, since, format } => findings(
            cli.config.as_deref(),
            org.as_deref(),
            since.as_deref(),
            format,
        ),
        Command::Reaudit {
            since,
            mail,
            dry_run,
        } => reaudit(cli.config.as_deref(), since.as_deref(), mail, dry_run),
        Command::Check {
            format,
            rules,
            fail_on,
            paths,
        } => rule_set(cli.config.as_deref(), rules.as_deref())
            .and_then(|(set, config)| check(&paths, &set, &config, format, fail_on)),
        Command::Rules(RulesCommand::List { dir }) => {
            rule_set(cli.config.as_deref(), dir.as_deref()).and_then(|(set, _)| rules_list(&set))
        }
        Command::Mail(MailCommand::Test { to }) => mail_test(cli.config.as_deref(), &to),
        Command::Mail(MailCommand::Preview { report, html }) => {
            mail_preview(cli.config.as_deref(), &report, html)
        }
        Command::Mail(MailCommand::Retry { failed }) => mail_retry(cli.config.as_deref(), failed),
        Command::Rules(RulesCommand::Test { dir }) => {
            rules_dir(cli.config.as_deref(), dir).and_then(|d| rules_test(&d))
        }
        Command::Bench(args) => crate::bench::run(args, cli.config.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ogi-audit: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes on one line, each cause once: the library's error messages already
/// name their source, so a cause whose text is in the message so far is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Logs go to stderr; `OGI_AUDIT_LOG` overrides the configured level.
fn init_tracing(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OGI_AUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The rules folder a command works on: the one given, else the config's.
fn rules_dir(explicit_config: Option<&Path>, given: Option<PathBuf>) -> Result<PathBuf> {
    init_tracing("warn", LogFormat::Human);
    match given {
        Some(dir) => Ok(dir),
        None => Ok(Config::resolve(explicit_config)?.rules_dir),
    }
}

fn init(dir: &Path) -> Result<ExitCode> {
    let done = crate::setup::init(dir)?;
    println!("wrote {}", done.config.display());
    println!(
        "wrote {} (the rule pack, with its tests)",
        done.rules.display()
    );
    for f in &done.folders {
        println!("made  {}", f.display());
    }
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    println!("\nnext: {cd}ogi-audit validate && ogi-audit run");
    println!("      then copy a report into inbox/ and run `ogi-audit findings`");
    Ok(ExitCode::SUCCESS)
}

fn validate(explicit: Option<&Path>, offline: bool) -> Result<ExitCode> {
    init_tracing("warn", LogFormat::Human);
    let config = match Config::resolve(explicit) {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL  config: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let checks = crate::setup::validate(&config, offline);
    for c in &checks {
        let mut lines = c.detail.lines();
        println!(
            "{}  {}: {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.what,
            lines.next().unwrap_or("")
        );
        for more in lines {
            println!("      {more}");
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{failed} of {} checks failed", checks.len());
        Ok(ExitCode::from(1))
    }
}

fn config(explicit: Option<&Path>) -> Result<Config> {
    let config = Config::resolve(explicit)?;
    init_tracing(&config.log_level, config.log_format);
    Ok(config)
}

fn run(explicit: Option<&Path>) -> Result<ExitCode> {
    let mut config = config(explicit)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let mut signals = Signals::new();
        // The configuration the daemon last started with, to fall back on when a reloaded one
        // cannot start.
        let mut good: Option<Config> = None;
        loop {
            match daemon::run(config.clone(), signals.next()).await {
                Ok(daemon::Stop::Exit) => return Ok(ExitCode::SUCCESS),
                Ok(daemon::Stop::Reload) => {
                    good = Some(config.clone());
                    match Config::resolve(explicit) {
                        Ok(new) => {
                            if new.log_level != config.log_level
                                || new.log_format != config.log_format
                            {
                                tracing::warn!("log.level and log.format take effect at the next start, not on reload");
                            }
                            tracing::info!("configuration read anew");
                            config = new;
                        }
                        Err(e) => tracing::error!(
                            "configuration not reloaded, the running one stays: {e}"
                        ),
                    }
                }
                Err(e) => match good.take() {
                    // The reloaded configuration cannot start: go on with the one that could.
                    Some(previous) => {
                        tracing::error!(
                            "the reloaded configuration cannot start, the previous one stays: {}",
                            error_chain(&e)
                        );
                        config = previous;
                    }
                    None => return Err(e),
                },
            }
        }
    })
}

/// SIGINT (Ctrl-C) and SIGTERM stop the daemon; SIGHUP reloads its configuration and rules.
struct Signals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("cannot listen for {name}: {e}");
                None
            }
        };
        Signals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
            hangup: listen(SignalKind::hangup(), "SIGHUP"),
        }
    }

    /// Waits for the next signal and says what it asks for.
    async fn next(&mut self) -> daemon::Stop {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = recv(&mut self.interrupt) => {
                tracing::info!("interrupted");
                daemon::Stop::Exit
            }
            () = recv(&mut self.terminate) => {
                tracing::info!("terminated");
                daemon::Stop::Exit
            }
            () = recv(&mut self.hangup) => {
                tracing::info!("SIGHUP: reloading the configuration and rules");
                daemon::Stop::Reload
            }
        }
    }
}

fn status(explicit: Option<&Path>, format: Format) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let summary = store.summary()?;
    let notices = store.notice_counts()?;
    let mail_errors = store.mail_errors(5)?;
    // A health check must fail when the inbox cannot be watched, not report "0 pending".
    let inbox_problem = match std::fs::read_dir(&config.inbox) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("missing".to_string()),
        Err(e) => Some(format!("unreadable: {e}")),
    };
    let mut inbox = Inbox::new(config.inbox.clone(), std::time::Duration::ZERO, vec![]);
    inbox.scan();
    let pending = inbox.pending();
    let daemon = crate::lockfile::holder(&config.database);
    match format {
        Format::Json => {
            let doc = serde_json::json!({
                "database": config.database,
                "inbox": config.inbox,
                "inbox_problem": inbox_problem,
                "summary": summary,
                "pending_files": pending,
                "daemon_running": daemon.is_some(),
                "daemon_pid": daemon.flatten(),
                "mail_notices": notices,
                "mail_errors": mail_errors,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Human => {
            println!("database:      {}", config.database.display());
            match daemon {
                Some(Some(pid)) => println!("daemon:        running (pid {pid})"),
                Some(None) => println!("daemon:        running"),
                None => println!("daemon:        not running"),
            }
            println!(
                "reports:       {} ({} parsed, {} unparseable, {} error)",
                summary.reports, summary.parsed, summary.unparseable, summary.errors
            );
            println!("findings:      {}", summary.findings);
            match &summary.last_report {
                Some((path, at, org)) => println!(
                    "last report:   {} ({}, {})",
                    path,
                    org.as_deref().unwrap_or("?"),
                    at
                ),
                None => println!("last report:   none"),
            }
            println!(
                "rule set:      {}",
                summary.ruleset.as_deref().unwrap_or("none loaded yet")
            );
            match &inbox_problem {
                None => println!("pending files: {} in {}", pending, config.inbox.display()),
                Some(p) => println!("inbox:         {} is {p}", config.inbox.display()),
            }
            let notices: Vec<String> = notices.iter().map(|(k, v)| format!("{v} {k}")).collect();
            println!(
                "mail notices:  {}",
                if notices.is_empty() {
                    "none".to_string()
                } else {
                    notices.join(", ")
                }
            );
            for n in &mail_errors {
                println!(
                    "  report #{} {} ({}, {} attempt{}): {}",
                    n.report_id,
                    n.organization.as_deref().unwrap_or("?"),
                    n.status,
                    n.attempts,
                    if n.attempts == 1 { "" } else { "s" },
                    n.last_error.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(if inbox_problem.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn findings(
    explicit: Option<&Path>,
    org: Option<&str>,
    since: Option<&str>,
    format: TableFormat,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let rows = store.findings(org, since)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        TableFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        TableFormat::Csv => {
            writeln!(out, "report_id,organization,year,path,rule,severity,message,evidence,ruleset,created_at")?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{},{}",
                    r.report_id,
                    csv_field(r.organization.as_deref().unwrap_or("")),
                    r.year.map_or(String::new(), |y| y.to_string()),
                    csv_field(&r.path),
                    csv_field(&r.rule),
                    r.severity,
                    csv_field(&r.message),
                    csv_field(&r.evidence.to_string()),
                    r.ruleset,
                    r.created_at
                )?;
            }
        }
        TableFormat::Human => {
            let mut last = None;
            for r in &rows {
                if last != Some(r.report_id) {
                    writeln!(
                        out,
                        "== #{} {} {} ({})",
                        r.report_id,
                        r.organization.as_deref().unwrap_or("?"),
                        r.year.map_or("?".to_string(), |y| y.to_string()),
                        r.path
                    )?;
                    last = Some(r.report_id);
                }
                writeln!(out, "   [{}] {}: {}", r.severity, r.rule, r.message)?;
            }
            writeln!(out, "{} findings", rows.len())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mail_test(explicit: Option<&Path>, to: &str) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mailer = Mailer::new(&config.mail)?;
    let id = mailer.send_test(to)?;
    println!("test message {id} accepted for {to}");
    Ok(ExitCode::SUCCESS)
}

fn mail_retry(explicit: Option<&Path>, failed: bool) -> Result<ExitCode> {
    let config = config(explicit)?;
    if !config.database.is_file() {
        return Err(StoreError::Missing(config.database.clone()).into());
    }
    let mut store = Store::open(&config.database)?;
    if !failed {
        let n = store.retry_pending_now()?;
        println!(
            "{n} pending notice{} due now; the running daemon mails {} at its next round (group_wait and group_interval still apply)",
            if n == 1 { " is" } else { "s are" },
            if n == 1 { "it" } else { "them" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let back = store.retry_failed()?;
    if back.is_empty() {
        println!("no failed notices");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} failed notice{} pending again; the running daemon mails {}:",
        back.len(),
        if back.len() == 1 { " is" } else { "s are" },
        if back.len() == 1 { "it" } else { "them" }
    );
    for n in back.iter().rev() {
        println!(
            "  report #{} {}{}",
            n.report_id,
            n.organization.as_deref().unwrap_or("(发布机关不详)"),
            n.last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(" (was: {e})"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn mail_preview(explicit: Option<&Path>, path: &Path, html: bool) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mailer = Mailer::offline(&config.mail)?;
    let outcome = pipeline::read_path_within(path, config.budget, config.max_file_size);
    let Some(report) = &outcome.report else {
        println!(
            "{}: not readable as a report: {}",
            path.display(),
            outcome.error.unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    };
    let set = report_load_errors(crate::setup::load_rules(&config)?);
    let findings = set.run(report, None);
    let to = crate::mail::recipients(&config.mail, report);
    let rendered = crate::mail::preview(&mailer, report, &path.to_string_lossy(), &findings)?;
    let mailed = findings
        .iter()
        .any(|f| f.severity >= config.mail.min_severity);
    println!(
        "To: {}",
        if to.is_empty() {
            "(no route, no fallback: kept unsent)".to_string()
        } else {
            to.join(", ")
        }
    );
    if !mailed {
        println!(
            "(no finding at or above {}: no mail would be sent)",
            config.mail.min_severity.as_str()
        );
    }
    println!("Subject: {}\n", rendered.subject);
    println!("{}", if html { rendered.html } else { rendered.text });
    Ok(ExitCode::SUCCESS)
}

fn reaudit(
    explicit: Option<&Path>,
    since: Option<&str>,
    mail: bool,
    dry_run: bool,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mode = match (dry_run, mail) {
        (true, true) => anyhow::bail!("--dry-run stores and mails nothing: leave out --mail"),
        (true, false) => daemon::ReauditMode::DryRun,
        (false, true) => daemon::ReauditMode::StoreAndMail,
        (false, false) => daemon::ReauditMode::Store,
    };
    let done = daemon::reaudit(&config, since, mode)?;
    if dry_run {
        println!(
            "{} of {} stored reports would be re-audited with the current rules; {} would have new findings (nothing stored)",
            done.changed, done.total, done.news
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} of {} stored reports re-audited with the current rules; {} with new findings",
        done.changed, done.total, done.news
    );
    if mail {
        println!(
            "{} summaries queued for the daemon to mail{}",
            done.queued,
            if done.unrouted > 0 {
                format!(
                    " ({} without a route or fallback: kept unsent)",
                    done.unrouted
                )
            } else {
                String::new()
            }
        );
    } else if done.news > 0 {
        println!(
            "nothing mailed (reaudit --mail queues summaries of new findings; --dry-run first shows how many)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reports rule files that did not load on stderr.
fn report_load_errors(set: RuleSet) -> RuleSet {
    for e in &set.errors {
        eprintln!("ogi-audit: rule not loaded: {e}");
    }
    set
}

/// The rules a command runs: the folder given on the command line, else the config's (the
/// built-in pack on the built-in defaults without a rules folder), with the config.
fn rule_set(explicit_config: Option<&Path>, given: Option<&Path>) -> Result<(RuleSet, Config)> {
    init_tracing("warn", LogFormat::Human);
    let config = Config::resolve(explicit_config)?;
    let set = match given {
        Some(dir) => RuleSet::load(dir, crate::setup::rule_limits(&config))?,
        None => crate::setup::load_rules(&config)?,
    };
    Ok((report_load_errors(set), config))
}

fn check(
    paths: &[PathBuf],
    set: &RuleSet,
    config: &Config,
    format: Format,
    fail_on: Severity,
) -> Result<ExitCode> {
    let files = pipeline::report_files(paths)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // File by file: a folder of 10,000 reports is never held in memory at once.
    let (mut failed, mut flagged) = (false, false);
    if format == Format::Json {
        writeln!(out, "{{\n  \"reports\": [")?;
    }
    for (i, f) in files.iter().enumerate() {
        let mut o = pipeline::read_path_within(f, config.budget, config.max_file_size);
        if let Some(report) = &o.report {
            o.findings = set.run(report, None);
        }
        failed |= o.status != Status::Parsed;
        flagged |= o.findings.iter().any(|f| f.severity >= fail_on);
        match format {
            Format::Json => {
                if i > 0 {
                    writeln!(out, ",")?;
                }
                serde_json::to_writer_pretty(&mut out, &o)?;
            }
            Format::Human => write_human(&mut out, &o)?,
        }
        out.flush()?;
    }
    if format == Format::Json {
        writeln!(out, "\n  ]\n}}")?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else if flagged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn rules_list(set: &RuleSet) -> Result<ExitCode> {
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
    let set = report_load_errors(RuleSet::load(dir, Limits::default())?);
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
