//! `units`: the register of units expected to report, and who has reported.

use super::*;

pub(super) fn import(explicit: Option<&Path>, file: &Path) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut store = Store::open(&config.database)?;
    match crate::units::import(&mut store, file) {
        Ok(n) => {
            println!(
                "{n} units imported from {} (the register was replaced)",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("ogi-audit: {e}; the register is unchanged");
            Ok(ExitCode::from(1))
        }
    }
}

pub(super) fn list(explicit: Option<&Path>, format: Format) -> Result<ExitCode> {
    let config = config(explicit)?;
    let units = Store::open_read_only(&config.database)?.units()?;
    match format {
        Format::Json => {
            print_json(&units)?;
        }
        Format::Human => {
            let mut out = buffered_stdout();
            for u in &units {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    u.name,
                    u.kind.as_str(),
                    u.parent.as_deref().unwrap_or("-"),
                    u.aliases.join(";"),
                    u.emails.join(";")
                )?;
            }
            writeln!(out, "{} units", units.len())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(explicit: Option<&Path>, year: i32, format: Format) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let c = crate::units::coverage(&store, year, &crate::units::Deadlines::of(&config))?;
    match format {
        Format::Json => {
            print_json(&c)?;
        }
        Format::Human => {
            let mut out = buffered_stdout();
            for u in &c.units {
                let detail = match &u.report {
                    Some(r) => format!(
                        "{} (report {}, {} errors, {} warnings{}){}",
                        r.file,
                        r.report_id,
                        r.errors,
                        r.warnings,
                        if u.versions > 1 {
                            format!(", {} versions received", u.versions)
                        } else {
                            String::new()
                        },
                        u.late_by
                            .as_deref()
                            .map_or(String::new(), |l| format!("；{l}"))
                    ),
                    None => format!("due {}", u.due),
                };
                writeln!(out, "{:<9} {}  {detail}", u.status, u.name)?;
            }
            for a in &c.unmatched {
                writeln!(
                    out,
                    "unmatched report {} ({}): no unit; `ogi-audit units assign {} UNIT`",
                    a.report_id,
                    a.organization.as_deref().unwrap_or("?"),
                    a.report_id
                )?;
            }
            for (a, names) in &c.ambiguous {
                writeln!(
                    out,
                    "ambiguous report {} ({}): {}; `ogi-audit units assign {} UNIT`",
                    a.report_id,
                    a.organization.as_deref().unwrap_or("?"),
                    names.join(" / "),
                    a.report_id
                )?;
            }
            let count = |s: &str| c.units.iter().filter(|u| u.status == s).count();
            writeln!(
                out,
                "{year}: {} received, {} late, {} missing of {} units",
                count("received"),
                count("late"),
                count("missing"),
                c.units.len()
            )?;
            out.flush()?;
        }
    }
    let short = c.units.iter().any(|u| u.status != "received");
    Ok(if short {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn assign(
    explicit: Option<&Path>,
    report: i64,
    unit: &str,
    by: Option<&str>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut store = Store::open(&config.database)?;
    let by = review::actor(by);
    if store.assign_unit(report, unit, &by)? {
        println!("report {report} assigned to {unit}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("ogi-audit: no report {report} or no unit named {unit}");
        Ok(ExitCode::from(1))
    }
}

pub(super) fn remind(explicit: Option<&Path>, dry_run: bool, format: Format) -> Result<ExitCode> {
    crate::clock::setting().map_err(anyhow::Error::msg)?;
    let config = config(explicit)?;
    if config.reminders.days.is_empty() {
        eprintln!("ogi-audit: no reminder days ([reminders] days is empty): nothing to send");
        return Ok(ExitCode::SUCCESS);
    }
    let today = crate::clock::today(config.reminders.offset);
    let mut store = Store::open(&config.database)?;
    let planned = crate::remind::plan(&store, &config, today)?;
    let mailer = Mailer::offline(&config.mail)?;
    let known = |r: &crate::store::NewReminder, all: &[crate::store::Reminder]| {
        all.iter()
            .find(|k| k.year == r.year && k.on_date == r.on_date && k.unit == r.unit)
            .cloned()
    };
    let mut stored: std::collections::BTreeMap<i32, Vec<crate::store::Reminder>> =
        std::collections::BTreeMap::new();
    for r in &planned {
        if let std::collections::btree_map::Entry::Vacant(e) = stored.entry(r.year) {
            e.insert(store.reminders(r.year)?);
        }
    }
    #[derive(serde::Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        reminder: &'a crate::store::NewReminder,
        /// `new`, or what became of the one written before.
        status: String,
        subject: String,
    }
    let deadlines = crate::units::Deadlines::of(&config);
    let mut shown = Vec::new();
    for r in &planned {
        let before = stored.get(&r.year).and_then(|all| known(r, all));
        let as_stored = crate::store::Reminder {
            id: 0,
            year: r.year,
            on_date: r.on_date.clone(),
            unit: r.unit.clone(),
            due: r.due.clone(),
            to: r.to.clone(),
            status: "pending".into(),
            attempts: 0,
            last_error: None,
            sent_at: None,
        };
        let letter = if r.unit.is_empty() {
            let cov = crate::units::coverage(&store, r.year, &deadlines)?;
            let mut all = stored.get(&r.year).cloned().unwrap_or_default();
            all.extend(
                planned
                    .iter()
                    .filter(|p| p.year == r.year && !p.unit.is_empty())
                    .map(|p| crate::store::Reminder {
                        unit: p.unit.clone(),
                        to: p.to.clone(),
                        status: if p.to.is_empty() {
                            "unrouted".into()
                        } else {
                            "pending".into()
                        },
                        ..as_stored.clone()
                    }),
            );
            crate::remind::office_letter(&mailer, &cov, &all, &r.on_date, today)?
        } else {
            crate::remind::unit_letter(&mailer, &config, &as_stored, today)?
        };
        shown.push(Shown {
            reminder: r,
            status: before.map_or_else(
                || {
                    if r.to.is_empty() {
                        "unrouted".into()
                    } else {
                        "new".into()
                    }
                },
                |b| b.status,
            ),
            subject: letter.subject,
        });
    }
    match format {
        Format::Json => {
            print_json(&shown)?;
        }
        Format::Human => {
            let mut out = buffered_stdout();
            for s in &shown {
                let who = if s.reminder.unit.is_empty() {
                    "(office: coverage summary)"
                } else {
                    s.reminder.unit.as_str()
                };
                let to = if s.reminder.to.is_empty() {
                    "nobody: no address in the register and no mail route".to_string()
                } else {
                    s.reminder.to.join(", ")
                };
                writeln!(
                    out,
                    "{}  {:<9} {who} → {to}\n            {}",
                    s.reminder.on_date, s.status, s.subject
                )?;
            }
            writeln!(
                out,
                "{today}: {} reminders for today's reminder days ({} already written before)",
                shown.len(),
                shown
                    .iter()
                    .filter(|s| s.status != "new" && s.status != "unrouted")
                    .count()
            )?;
            out.flush()?;
        }
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let queued = store.queue_reminders(&planned)?;
    drop(store);
    // The daemon sends what it finds written; without one, this command sends them itself,
    // holding the daemon's lock meanwhile so that none starts and sends them too.
    let Ok(_lock) = crate::lockfile::DaemonLock::acquire(&config.database) else {
        println!("{queued} reminders written; the running daemon sends them");
        return Ok(ExitCode::SUCCESS);
    };
    let mailer = Mailer::new(&config.mail).context("mail set-up")?;
    let store = std::sync::Mutex::new(Store::open(&config.database)?);
    let due = store
        .lock()
        .map_err(|_| anyhow::anyhow!("store poisoned"))?
        .due_reminders(i64::MAX)?;
    let mut round = crate::remind::Round::default();
    let stop = std::sync::atomic::AtomicBool::new(false);
    crate::remind::send(&mailer, &store, &config, &due, today, &stop, &mut round)?;
    println!(
        "{queued} reminders written, {} sent, {} let go (the report came), {} waiting to be retried",
        round.sent,
        round.cancelled,
        due.len().saturating_sub(round.sent + round.cancelled)
    );
    Ok(if round.sent + round.cancelled < due.len() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
