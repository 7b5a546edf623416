//! What the store holds: `status`, `findings`, `reaudit`.

use super::*;
use crate::present::csv_field;

pub(super) fn status(explicit: Option<&Path>, format: Format) -> Result<ExitCode> {
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
    let readers = crate::extract::readers();
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
                "readers": readers,
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
            for r in &readers {
                match &r.path {
                    Some(p) => println!("reader:        {} for {}", p.display(), r.formats),
                    None => println!(
                        "reader:        {} not installed ({}): {}",
                        r.program, r.package, r.without
                    ),
                }
            }
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

/// Which stored findings `findings` shows.
pub(super) struct Selection<'a> {
    pub organization: Option<&'a str>,
    pub since: Option<&'a str>,
    pub severity: Option<Severity>,
}

pub(super) fn findings(
    explicit: Option<&Path>,
    selection: &Selection<'_>,
    format: TableFormat,
    output: Option<&Path>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let mut rows = store.findings(selection.organization, selection.since)?;
    if let Some(min) = selection.severity {
        rows.retain(|r| r.severity.parse::<Severity>().is_ok_and(|s| s >= min));
    }
    if format == TableFormat::Xlsx {
        let Some(path) = output else {
            anyhow::bail!("--format xlsx writes a workbook: give the file with -o FILE");
        };
        let reports = shown_reports(&store, &rows, selection.severity)?;
        let bytes = crate::workbook::workbook(&reports)?;
        write_atomically(path, &bytes)?;
        eprintln!(
            "wrote {}: {} findings of {} reports",
            path.display(),
            rows.len(),
            reports.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(buffered_stdout()),
    };
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
        TableFormat::Human | TableFormat::Xlsx => {
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
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The reports of these finding rows as the workbook shows them, each with its findings of
/// that audit at or above `min`, titled as its rule set titled them.
fn shown_reports(
    store: &Store,
    rows: &[crate::store::FindingRow],
    min: Option<Severity>,
) -> Result<Vec<crate::present::ShownReport>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut titles = crate::present::TitleCache::default();
    for r in rows {
        if !seen.insert(r.report_id) {
            continue;
        }
        out.push(crate::present::stored_report(
            store,
            &mut titles,
            r.report_id,
            &r.ruleset,
            min,
        )?);
    }
    Ok(out)
}

/// Writes a file whole or not at all: into a temporary file beside it, then renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub(super) fn reaudit(
    explicit: Option<&Path>,
    since: Option<&str>,
    mail: bool,
    dry_run: bool,
    jobs: Option<usize>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let jobs = jobs
        .filter(|j| *j > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mode = match (dry_run, mail) {
        (true, true) => anyhow::bail!("--dry-run stores and mails nothing: leave out --mail"),
        (true, false) => daemon::ReauditMode::DryRun,
        (false, true) => daemon::ReauditMode::StoreAndMail,
        (false, false) => daemon::ReauditMode::Store,
    };
    // A progress line on a terminal, redrawn in place; a line a minute in a log.
    let terminal = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    let progress = |done: usize, total: usize| {
        let Ok(mut last) = last.lock() else { return };
        let every = if terminal { 0 } else { 60 };
        let due = last.is_none_or(|t| t.elapsed().as_secs() >= every) || done == total;
        // In a log, a line once there is something to say.
        if !due || total == 0 || (!terminal && done == 0) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / secs;
        let left = if rate > 0.0 {
            format!(", {:.0} s left", (total - done) as f64 / rate)
        } else {
            String::new()
        };
        let line = format!(
            "reaudit: {done} / {total} ({:.0} %), {rate:.0} reports/s{left}",
            done as f64 * 100.0 / total as f64
        );
        if terminal {
            eprint!("\r{line}\x1b[K");
            if done == total {
                eprintln!();
            }
        } else {
            eprintln!("{line}");
        }
    };
    let done = daemon::reaudit(&config, since, mode, jobs, &progress)?;
    let kept = || {
        if done.rules_kept > 0 {
            println!(
                "{} rule runs; {} not needed: the rule, and the word lists and settings it reads, \
                 are as at the report's last audit, and so is the year before it compared (their \
                 findings kept)",
                done.rules_run, done.rules_kept
            );
        }
    };
    if dry_run {
        println!(
            "{} of {} stored reports would be re-audited with the current rules; {} would have new findings (nothing stored)",
            done.changed, done.total, done.news
        );
        kept();
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} of {} stored reports re-audited with the current rules; {} with new findings",
        done.changed, done.total, done.news
    );
    kept();
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
