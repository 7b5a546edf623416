//! `review`, `correct`, `history`: the reviewer's work from the command line, on the same store
//! functions as the web console's buttons.

use super::*;
use crate::store::{DismissReason, ReviewAction, ReviewFilter, ReviewState, Scope};

/// Who acts: `--by`, else the login name, marked as coming from the command line.
pub(super) fn actor(by: Option<&str>) -> String {
    match by {
        Some(b) if !b.trim().is_empty() => b.trim().to_string(),
        _ => format!(
            "cli:{}",
            std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into())
        ),
    }
}

pub(super) fn review_list(
    explicit: Option<&Path>,
    filter: &ReviewFilter,
    format: Format,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let rows = store.review_list(&Scope::all(), filter)?;
    match format {
        Format::Json => {
            print_json(&rows)?;
        }
        Format::Human => {
            let mut out = buffered_stdout();
            for r in &rows {
                writeln!(
                    out,
                    "#{:<6} report {:<5} {:<10} {:<8} {:<24} {} {}",
                    r.id,
                    r.report_id,
                    r.state.zh(),
                    r.severity,
                    r.rule,
                    r.organization.as_deref().unwrap_or("?"),
                    r.message
                )?;
                if let Some(note) = &r.note {
                    writeln!(out, "        {}：{note}", r.by.as_deref().unwrap_or(""))?;
                }
            }
            writeln!(out, "{} findings", rows.len())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn review_act(
    explicit: Option<&Path>,
    ids: &[i64],
    action: ReviewAction,
    note: Option<&str>,
    by: Option<&str>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut store = Store::open(&config.database)?;
    let by = actor(by);
    let mut missing = 0;
    for id in ids {
        match store.review(&Scope::all(), *id, action, note, &by)? {
            Some(r) => println!(
                "#{id} {}：{} {}{}",
                r.state.zh(),
                r.rule,
                r.message,
                r.reason
                    .as_deref()
                    .and_then(DismissReason::parse)
                    .map_or(String::new(), |x| format!("（{}）", x.zh()))
            ),
            None => {
                eprintln!("ogi-audit: no finding #{id}");
                missing += 1;
            }
        }
    }
    Ok(if missing > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn correct(
    explicit: Option<&Path>,
    report: i64,
    cells: &[daemon::CellFix],
    note: Option<&str>,
    by: Option<&str>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let by = actor(by);
    let Some(done) = daemon::correct(&config, &Scope::all(), report, cells, note, &by)? else {
        eprintln!("ogi-audit: no parsed report #{report}");
        return Ok(ExitCode::from(1));
    };
    println!(
        "report {report}: {} cell(s) corrected and audited again: {} findings{}",
        done.corrections.len(),
        done.findings,
        match &done.queued {
            Some(to) if to.is_empty() => " (no route: the summary is kept unsent)".to_string(),
            Some(_) => "; the summary is queued for the daemon to mail".to_string(),
            None => String::new(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn history(explicit: Option<&Path>, report: Option<i64>) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let rows = store.trail(&Scope::all(), report)?;
    for t in &rows {
        println!(
            "{}  {:<16} {:<8} report {:<5} {}  {} → {}{}",
            t.at,
            t.by,
            t.action,
            t.report_id.map_or("-".into(), |i| i.to_string()),
            t.what,
            t.before.as_deref().unwrap_or(""),
            t.after.as_deref().unwrap_or(""),
            t.note
                .as_deref()
                .map_or(String::new(), |n| format!("（{n}）"))
        );
    }
    if rows.is_empty() {
        println!("no review or correction recorded");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--state` as given on the command line.
pub(super) fn parse_state(s: &str) -> Result<ReviewState, String> {
    ReviewState::parse(s).ok_or_else(|| format!("`{s}`: use open, confirmed or dismissed"))
}

/// `--reason` as given on the command line.
pub(super) fn parse_reason(s: &str) -> Result<DismissReason, String> {
    DismissReason::parse(s).ok_or_else(|| format!("`{s}`: use false-alarm, accepted or other"))
}
