//! The command line: argument definitions and dispatch; each group of commands is a file in
//! `cli/`. `main.rs` only calls [`main`].

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

mod check;
mod mail;
mod query;
mod review;
mod rule_pack;
pub(super) mod run;
mod setup;
mod units;
mod web;

use check::check;
use mail::{mail_preview, mail_retry, mail_test};
use query::{findings, reaudit, status};
use rule_pack::{rule_set, rules_dir, rules_list, rules_test};
use run::run;
use setup::{init, validate};
use web::{serve, user_add, user_hash, user_list, user_remove};

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
    ///   ogi-audit findings --severity warning --format xlsx -o 审核结果.xlsx
    #[command(verbatim_doc_comment)]
    Findings {
        /// Only reports whose issuer contains this text.
        #[arg(long, visible_alias = "organization")]
        org: Option<String>,
        /// Only reports received on or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// Only findings of this severity or above (error, warning, info).
        #[arg(long, value_parser = parse_severity)]
        severity: Option<Severity>,
        #[arg(long, value_enum, default_value_t = TableFormat::Human)]
        format: TableFormat,
        /// Write to this file instead of standard output (required for xlsx).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Re-run the current rules over stored reports.
    ///
    /// Each report gets findings of the current rule set; with --mail, a report that now has
    /// findings it did not have before gets its summary mailed again (by the running daemon).
    /// A rule whose text, and the word lists and settings it reads, are as at a report's last
    /// audit keeps its findings of it instead of running again (a rule naming `units` always
    /// runs; one naming `previous` runs when the year before is another report now; a rule
    /// reading either through a name it makes as it runs gets a rule error).
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
        /// Threads running the rules (default: one per core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Parse reports and print what was read.
    ///
    /// Examples:
    ///   ogi-audit check report.txt
    ///   ogi-audit check --format json inbox/
    ///   ogi-audit check --previous reports-2023/ report-2024.pdf
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
        /// Last year's reports (files or folders) for the cross-year rules. A report's previous
        /// year is looked for here and among the files checked (same issuer, year − 1).
        #[arg(long, value_name = "PATH")]
        previous: Vec<PathBuf>,
        /// Threads reading and auditing (default: one per core). The reports are printed in
        /// the order given whatever the number.
        #[arg(long)]
        jobs: Option<usize>,
        /// Report files or folders (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Review findings: list them with their state, confirm or dismiss them (kept across
    /// re-audits by what each is about), reopen them.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Give the printed value of cells the parser misread or could not read; the report is
    /// audited again at once with the corrected tables (the parsed value is kept).
    ///
    /// Examples:
    ///   ogi-audit correct 42 t3.granted.natural_person=22 --note "原文第3页"
    ///   ogi-audit correct 42 t4.review.upheld=5 t4.review.total=7
    #[command(verbatim_doc_comment)]
    Correct {
        /// The report's id (as `findings` and the web console show it).
        report: i64,
        /// TABLE.ROW.COLUMN=VALUE (t2, t3 or t4; the keys of `check --format json`).
        #[arg(required = true, value_parser = parse_fix)]
        cells: Vec<daemon::CellFix>,
        #[arg(long)]
        note: Option<String>,
        /// Who corrects (default: cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// The audit trail: every review decision and correction (who, when, before, after), of one
    /// report or of all.
    ///
    /// Examples:
    ///   ogi-audit history 42
    ///   ogi-audit history
    #[command(verbatim_doc_comment)]
    History { report: Option<i64> },
    /// The units expected to report: import the register, list it, see who has reported for a
    /// year, assign a report no unit matched.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// Serve the web console alone over the store (`run` serves it beside the daemon).
    ///
    /// Examples:
    ///   ogi-audit serve
    ///   ogi-audit serve --listen 127.0.0.1:9090
    #[command(verbatim_doc_comment)]
    Serve {
        /// Listen here instead of [web] listen.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// The web console's users: add or change, remove, list; print a password hash for the
    /// config file.
    #[command(subcommand)]
    User(UserCommand),
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
        /// Also how many of each rule's current findings reviewers confirmed and dismissed as
        /// false alarms (from the store).
        #[arg(long)]
        stats: bool,
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
pub enum UnitsCommand {
    /// Replace the register with a CSV or .xlsx file (columns by their header: 名称/name,
    /// 别名/aliases, 类型/kind, 上级/parent, 邮箱/email); a bad row is named and nothing is
    /// imported.
    ///
    /// Example:
    ///   ogi-audit units import 单位名单.xlsx
    #[command(verbatim_doc_comment)]
    Import { file: PathBuf },
    /// The register.
    List {
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Each unit's report for a year: received, late or missing; exit 1 when any is late or
    /// missing.
    ///
    /// Examples:
    ///   ogi-audit units status --year 2025
    ///   ogi-audit units status --year 2025 --format json
    #[command(verbatim_doc_comment)]
    Status {
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Reminders due today by [reminders] days: each unit still missing, and the office's
    /// coverage summary. Writes them and, when no daemon runs on this store, sends them now
    /// (a running daemon sends them itself); none is ever sent twice. --dry-run: only show
    /// who would get what.
    ///
    /// Examples:
    ///   ogi-audit units remind --dry-run
    ///   OGI_AUDIT_CLOCK=2026-01-24T09:00:00+08:00 ogi-audit units remind --dry-run
    #[command(verbatim_doc_comment)]
    Remind {
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Assign a report that matched no unit (or several) to one; the assignment is kept.
    Assign {
        report: i64,
        unit: String,
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// The current findings with their review state.
    ///
    /// Examples:
    ///   ogi-audit review list --state open
    ///   ogi-audit review list --report 42 --format json
    #[command(verbatim_doc_comment)]
    List {
        #[arg(long)]
        report: Option<i64>,
        #[arg(long)]
        rule: Option<String>,
        /// open, confirmed or dismissed.
        #[arg(long, value_parser = review::parse_state)]
        state: Option<crate::store::ReviewState>,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Confirm findings: they are right (and go out with `[mail] require_review`).
    Confirm {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
    /// Dismiss findings: they are not mailed again and are shown apart.
    Dismiss {
        #[arg(required = true)]
        ids: Vec<i64>,
        /// false-alarm (the rule or the reading was wrong), accepted (the office accepts it) or
        /// other.
        #[arg(long, value_parser = review::parse_reason)]
        reason: crate::store::DismissReason,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
    /// Put findings back to open.
    Reopen {
        #[arg(required = true)]
        ids: Vec<i64>,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        by: Option<String>,
    },
}

fn parse_fix(s: &str) -> Result<daemon::CellFix, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user to the store, or change one's password, role and scope. The password is read
    /// from standard input (asked for when it is a terminal).
    ///
    /// Examples:
    ///   ogi-audit user add wang --role admin
    ///   ogi-audit user add huainan --role viewer --scope '淮南市*' < password.txt
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: crate::config::Role,
        /// Issuer patterns the user sees (`*` any run, `?` one character); repeat for several.
        /// None: every issuer.
        #[arg(long, value_name = "PATTERN")]
        scope: Vec<String>,
    },
    /// Remove a user from the store (their open logins end at once).
    Remove { name: String },
    /// List the users, from the config and the store.
    List,
    /// Print an argon2 hash of a password read from standard input, for [[web.users]].
    Hash,
}

fn parse_role(s: &str) -> Result<crate::config::Role, String> {
    s.parse()
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
    /// Print the summary a report would produce (recipients, subject, text; --html for HTML);
    /// with --out, also write the message as sent (.eml, workbook attached) and its HTML part
    /// (.html, to open in a browser) into that folder.
    ///
    /// Examples:
    ///   ogi-audit mail preview inbox/report.txt
    ///   ogi-audit mail preview inbox/report.txt --out /tmp/preview
    #[command(verbatim_doc_comment)]
    Preview {
        report: PathBuf,
        /// Print the HTML part instead of the text part.
        #[arg(long)]
        html: bool,
        /// Write REPORT-NAME.eml and REPORT-NAME.html into this folder (created if needed).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
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
    /// The workbook the summary mails attach (needs --output).
    Xlsx,
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
            let mut out = buffered_stdout();
            out.write_all(&script)
                .and_then(|()| out.flush())
                .map(|()| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
        Command::Status { format } => status(cli.config.as_deref(), format),
        Command::Findings {
            org,
            since,
            severity,
            format,
            output,
        } => findings(
            cli.config.as_deref(),
            &query::Selection {
                organization: org.as_deref(),
                since: since.as_deref(),
                severity,
            },
            format,
            output.as_deref(),
        ),
        Command::Reaudit {
            since,
            mail,
            dry_run,
            jobs,
        } => reaudit(cli.config.as_deref(), since.as_deref(), mail, dry_run, jobs),
        Command::Check {
            format,
            rules,
            fail_on,
            previous,
            jobs,
            paths,
        } => rule_set(cli.config.as_deref(), rules.as_deref()).and_then(|(set, config)| {
            check(&paths, &previous, &set, &config, format, fail_on, jobs)
        }),
        Command::Rules(RulesCommand::List { dir, stats }) => {
            rule_set(cli.config.as_deref(), dir.as_deref())
                .and_then(|(set, config)| rules_list(&set, stats.then_some(&config)))
        }
        Command::Review(ReviewCommand::List {
            report,
            rule,
            state,
            format,
        }) => review::review_list(
            cli.config.as_deref(),
            &crate::store::ReviewFilter {
                report,
                rule,
                state,
                ..Default::default()
            },
            format,
        ),
        Command::Review(ReviewCommand::Confirm { ids, note, by }) => review::review_act(
            cli.config.as_deref(),
            &ids,
            crate::store::ReviewAction::Confirm,
            note.as_deref(),
            by.as_deref(),
        ),
        Command::Review(ReviewCommand::Dismiss {
            ids,
            reason,
            note,
            by,
        }) => review::review_act(
            cli.config.as_deref(),
            &ids,
            crate::store::ReviewAction::Dismiss(reason),
            note.as_deref(),
            by.as_deref(),
        ),
        Command::Review(ReviewCommand::Reopen { ids, note, by }) => review::review_act(
            cli.config.as_deref(),
            &ids,
            crate::store::ReviewAction::Reopen,
            note.as_deref(),
            by.as_deref(),
        ),
        Command::Correct {
            report,
            cells,
            note,
            by,
        } => review::correct(
            cli.config.as_deref(),
            report,
            &cells,
            note.as_deref(),
            by.as_deref(),
        ),
        Command::History { report } => review::history(cli.config.as_deref(), report),
        Command::Units(UnitsCommand::Import { file }) => {
            units::import(cli.config.as_deref(), &file)
        }
        Command::Units(UnitsCommand::List { format }) => units::list(cli.config.as_deref(), format),
        Command::Units(UnitsCommand::Status { year, format }) => {
            units::status(cli.config.as_deref(), year, format)
        }
        Command::Units(UnitsCommand::Remind { dry_run, format }) => {
            units::remind(cli.config.as_deref(), dry_run, format)
        }
        Command::Units(UnitsCommand::Assign { report, unit, by }) => {
            units::assign(cli.config.as_deref(), report, &unit, by.as_deref())
        }
        Command::Serve { listen } => serve(cli.config.as_deref(), listen),
        Command::User(UserCommand::Add { name, role, scope }) => {
            user_add(cli.config.as_deref(), &name, role, &scope)
        }
        Command::User(UserCommand::Remove { name }) => user_remove(cli.config.as_deref(), &name),
        Command::User(UserCommand::List) => user_list(cli.config.as_deref()),
        Command::User(UserCommand::Hash) => user_hash(),
        Command::Mail(MailCommand::Test { to }) => mail_test(cli.config.as_deref(), &to),
        Command::Mail(MailCommand::Preview { report, html, out }) => {
            mail_preview(cli.config.as_deref(), &report, html, out.as_deref())
        }
        Command::Mail(MailCommand::Retry { failed }) => mail_retry(cli.config.as_deref(), failed),
        Command::Rules(RulesCommand::Test { dir }) => {
            rules_dir(cli.config.as_deref(), dir).and_then(|d| rules_test(&d))
        }
        Command::Bench(args) => crate::bench::run(args, cli.config.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(_) if STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed) => ExitCode::SUCCESS,
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

fn config(explicit: Option<&Path>) -> Result<Config> {
    let config = Config::resolve(explicit)?;
    init_tracing(&config.log_level, config.log_format);
    Ok(config)
}

/// Standard output, buffered. Rust's standard output writes each line as it ends, one system
/// call per line, and a report's JSON is thousands of lines (`check --format json` spent more
/// time in those calls than in reading the files). Flush it before returning, so that a failed
/// write (a full disk) is an error and not lost in the drop. A write refused because the
/// reader closed the pipe (`ogi-audit findings | head`) is remembered, and the command then
/// ends quietly: the reader has what it wanted.
fn buffered_stdout() -> Stdout {
    Stdout(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout().lock(),
    ))
}

/// Set when standard output's reader closed it ([`buffered_stdout`]).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Buffered standard output that notes a closed pipe ([`buffered_stdout`]).
struct Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>);

impl Stdout {
    fn noted<T>(result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        result
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Self::noted(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Self::noted(self.0.flush())
    }
}

/// `value` as indented JSON on standard output, with a line end.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = buffered_stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
