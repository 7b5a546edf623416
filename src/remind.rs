//! Reminders: each unit of the register whose report has not arrived is mailed on the days
//! `[reminders] days` counts from its deadline, and the office gets the year's coverage on the
//! same days.
//!
//! A day's reminders are written to the store first (one row per year, day and unit, so a
//! reminder is written once however often the daemon looks and whatever restarts come between),
//! then sent like the summaries: marked sent only once the server accepted the message, retried
//! with backoff while it does not. A unit whose report arrives before its reminder goes out is
//! not reminded. A day the daemon did not run on is caught up within [`CATCH_UP`] days; older
//! days are let go (the next day of the list, or the office's summary, tells the story).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::civil::Date;
use serde::Serialize;

use crate::config::Config;
use crate::mail::{self, Letter, MailError, Mailer};
use crate::store::{NewReminder, Reminder, Store, StoreError, UnitKind};
use crate::units::{coverage, Coverage, Deadlines};

/// How many days late a reminder day is still caught up.
pub const CATCH_UP: i32 = 7;

/// How often the daemon looks for reminder days (coverage reads every report of the year).
const PLAN_EVERY: Duration = Duration::from_secs(60);

/// The reminder day of a deadline, on `today`: the latest of `due + days` that has come, if it
/// came no more than [`CATCH_UP`] days ago.
pub fn day_for(due: Date, days: &[i32], today: Date) -> Option<Date> {
    days.iter()
        .filter_map(|d| due.checked_add(jiff::Span::new().days(*d)).ok())
        .filter(|d| *d <= today)
        .max()
        .filter(|d| {
            d.checked_add(jiff::Span::new().days(CATCH_UP))
                .is_ok_and(|last| today <= last)
        })
}

/// The reporting years whose reminder days may be near `today`: the configured one, else last
/// year's (due early this year) and this year's (for days counted back before New Year).
fn years(config: &Config, today: Date) -> Vec<i32> {
    match config.reminders.year {
        Some(y) => vec![y],
        None => vec![i32::from(today.year()) - 1, i32::from(today.year())],
    }
}

/// Who gets a unit's reminder: its addresses in the register, else the first mail route that
/// names it.
fn unit_recipients(config: &Config, unit: &crate::store::Unit) -> Vec<String> {
    let mut to = if unit.emails.is_empty() {
        mail::routed(&config.mail, &unit.name)
    } else {
        unit.emails.clone()
    };
    to.sort();
    to.dedup();
    to
}

/// The reminders due on `today`, with the coverage of each year they are for: units first, then
/// the office's summary of that day.
pub fn plan(store: &Store, config: &Config, today: Date) -> Result<Vec<NewReminder>, StoreError> {
    let days = &config.reminders.days;
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let units = store.units()?;
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let deadlines = Deadlines::of(config);
    let mut out = Vec::new();
    for year in years(config, today) {
        let cov = coverage(store, year, &deadlines)?;
        for s in cov.units.iter().filter(|s| s.status == "missing") {
            let Some(unit) = units.iter().find(|u| u.name == s.name) else {
                continue;
            };
            let due = deadlines.due(unit.kind, year);
            if let Some(day) = day_for(due, days, today) {
                out.push(NewReminder {
                    year,
                    on_date: day.to_string(),
                    unit: unit.name.clone(),
                    due: due.to_string(),
                    to: unit_recipients(config, unit),
                });
            }
        }
        for kind in [UnitKind::Department, UnitKind::Government] {
            if !units.iter().any(|u| u.kind == kind) {
                continue;
            }
            let due = deadlines.due(kind, year);
            if let Some(day) = day_for(due, days, today) {
                let on_date = day.to_string();
                if out
                    .iter()
                    .any(|r| r.unit.is_empty() && r.on_date == on_date)
                {
                    continue;
                }
                out.push(NewReminder {
                    year,
                    on_date,
                    unit: String::new(),
                    due: due.to_string(),
                    to: config.reminders.office(&config.mail).to_vec(),
                });
            }
        }
    }
    // The office's summary after the units' reminders of its day, so that it can say which went.
    out.sort_by_key(|r| r.unit.is_empty());
    Ok(out)
}

/// Days from `today` to `due` (negative: overdue).
fn days_left(due: &str, today: Date) -> i64 {
    due.parse::<Date>()
        .ok()
        .and_then(|d| today.until(d).ok())
        .map_or(0, |s| i64::from(s.get_days()))
}

/// A unit's reminder letter.
pub fn unit_letter(
    mailer: &Mailer,
    config: &Config,
    r: &Reminder,
    today: Date,
) -> Result<Letter, MailError> {
    let ctx = minijinja::context! {
        unit => &r.unit,
        year => r.year,
        due => &r.due,
        today => today.to_string(),
        days_left => days_left(&r.due, today),
        office => config.reminders.office(&config.mail).join(", "),
    };
    mailer.letter("reminder.txt", &ctx)
}

#[derive(Debug, Serialize)]
struct Line {
    name: String,
    parent: Option<String>,
    due: String,
    late_by: Option<String>,
    /// What became of today's reminder.
    note: String,
}

/// The office's coverage letter for a reminder day.
pub fn office_letter(
    mailer: &Mailer,
    cov: &Coverage,
    sent: &[Reminder],
    on_date: &str,
    today: Date,
) -> Result<Letter, MailError> {
    let count = |s: &str| cov.units.iter().filter(|u| u.status == s).count();
    let note = |name: &str| match sent.iter().find(|r| r.unit == name && r.on_date == on_date) {
        Some(r) if r.status == "sent" => format!("已于{on_date}发提醒至 {}", r.to.join(", ")),
        Some(r) if r.status == "pending" => format!("提醒待发送至 {}", r.to.join(", ")),
        Some(r) if r.status == "unrouted" => "名单中无联系邮箱，未发提醒".to_string(),
        Some(r) => format!(
            "提醒未发出：{}",
            r.last_error.as_deref().unwrap_or(&r.status)
        ),
        None => "今日不是它的提醒日".to_string(),
    };
    let lines = |status: &str| -> Vec<Line> {
        cov.units
            .iter()
            .filter(|u| u.status == status)
            .map(|u| Line {
                name: u.name.clone(),
                parent: u.parent.clone(),
                due: u.due.clone(),
                late_by: u.late_by.clone(),
                note: note(&u.name),
            })
            .collect()
    };
    let unmatched: Vec<String> = cov
        .unmatched
        .iter()
        .map(|a| {
            format!(
                "{}（{}，报告{}）",
                a.organization.as_deref().unwrap_or("未识别单位"),
                a.file,
                a.report_id
            )
        })
        .chain(cov.ambiguous.iter().map(|(a, names)| {
            format!(
                "{}（{}，报告{}）可能是：{}",
                a.organization.as_deref().unwrap_or("未识别单位"),
                a.file,
                a.report_id,
                names.join("、")
            )
        }))
        .collect();
    let ctx = minijinja::context! {
        year => cov.year,
        today => today.to_string(),
        counts => minijinja::context! {
            units => cov.units.len(),
            received => count("received"),
            late => count("late"),
            missing => count("missing"),
        },
        missing => lines("missing"),
        late => lines("late"),
        unmatched => unmatched,
    };
    mailer.letter("coverage.txt", &ctx)
}

/// Sample contexts for each letter template, to check them at start-up.
pub fn samples() -> Vec<(&'static str, minijinja::Value)> {
    vec![
        (
            "reminder.txt",
            minijinja::context! {
                unit => "示例县教育局", year => 2025, due => "2026-01-31",
                today => "2026-01-24", days_left => 7, office => "zwgk@example.gov.cn",
            },
        ),
        (
            "coverage.txt",
            minijinja::context! {
                year => 2025, today => "2026-01-31",
                counts => minijinja::context! { units => 2, received => 0, late => 1, missing => 1 },
                missing => vec![minijinja::context! { name => "示例县教育局", parent => "示例县人民政府", due => "2026-01-31", note => "已发提醒" }],
                late => vec![minijinja::context! { name => "示例县财政局", due => "2026-01-31", late_by => "收到于2026-02-03", note => "" }],
                unmatched => vec!["示例县档案馆（a.pdf，报告1）"],
            },
        ),
    ]
}

/// What one round of reminding did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Reminders written for today's days.
    pub queued: usize,
    /// Messages the server accepted.
    pub sent: usize,
    /// Reminders let go because the unit's report arrived.
    pub cancelled: usize,
}

/// The daemon's reminding: plans the day's reminders now and then, sends what is due.
pub struct Reminding {
    config: Config,
    planned: Option<Instant>,
}

impl Reminding {
    /// `None` when `[reminders] days` is empty.
    pub fn new(config: &Config) -> Option<Reminding> {
        (!config.reminders.days.is_empty()).then(|| Reminding {
            config: config.clone(),
            planned: None,
        })
    }

    /// Writes today's reminders (at most once a minute) and sends those that are due.
    pub fn tick(
        &mut self,
        mailer: &Mailer,
        store: &Mutex<Store>,
        stop: &AtomicBool,
    ) -> Result<Round, MailError> {
        let lock = || match store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let today = crate::clock::today(self.config.reminders.offset);
        let mut round = Round::default();
        if self.planned.is_none_or(|t| t.elapsed() >= PLAN_EVERY) {
            let planned = plan(&lock(), &self.config, today)?;
            round.queued = lock().queue_reminders(&planned)?;
            self.planned = Some(Instant::now());
            if round.queued > 0 {
                tracing::info!(queued = round.queued, today = %today, "reminders written for today");
            } else {
                tracing::debug!(today = %today, "reminder days looked at: nothing new to write");
            }
        }
        let due = lock().due_reminders(mail::now_ms())?;
        send(mailer, store, &self.config, &due, today, stop, &mut round)?;
        Ok(round)
    }
}

/// Sends these pending reminders: a unit's only while its report is still missing.
pub fn send(
    mailer: &Mailer,
    store: &Mutex<Store>,
    config: &Config,
    due: &[Reminder],
    today: Date,
    stop: &AtomicBool,
    round: &mut Round,
) -> Result<(), MailError> {
    let lock = || match store.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let deadlines = Deadlines::of(config);
    let mut covered: BTreeMap<i32, Coverage> = BTreeMap::new();
    for r in due {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let std::collections::btree_map::Entry::Vacant(e) = covered.entry(r.year) {
            e.insert(coverage(&lock(), r.year, &deadlines)?);
        }
        let Some(cov) = covered.get(&r.year) else {
            continue;
        };
        let letter = if r.unit.is_empty() {
            let sent = lock().reminders(r.year)?;
            office_letter(mailer, cov, &sent, &r.on_date, today)?
        } else {
            match cov.units.iter().find(|u| u.name == r.unit) {
                Some(u) if u.status == "missing" => unit_letter(mailer, config, r, today)?,
                found => {
                    let why = if found.is_some() {
                        "not sent: the unit's report arrived"
                    } else {
                        "not sent: the unit is no longer in the register"
                    };
                    lock().reminder_closed(r.id, "cancelled", why)?;
                    tracing::info!(unit = %r.unit, year = r.year, "reminder {why}");
                    round.cancelled += 1;
                    continue;
                }
            }
        };
        let to = r.to.join(", ");
        match mailer.send_letter(&r.to, &letter) {
            Ok(message_id) => {
                lock().reminder_sent(r.id, &letter.subject, &message_id)?;
                tracing::info!(to = %to, unit = %r.unit, year = r.year, day = %r.on_date, "reminder mailed");
                round.sent += 1;
            }
            Err(MailError::Permanent(reason) | MailError::TooLarge(reason)) => {
                tracing::error!(to = %to, unit = %r.unit, "reminder rejected: {reason}");
                lock().reminder_closed(r.id, "failed", &reason)?;
            }
            Err(e @ (MailError::Transient(_) | MailError::Setup(_))) => {
                let wait = mail::backoff(r.attempts + 1);
                tracing::warn!(to = %to, unit = %r.unit, retry_in = ?wait, "reminder: {e}");
                let next = mail::now_ms()
                    .saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
                lock().reminder_retry(r.id, &e.to_string(), next)?;
                // The server is down: the rest waits for the next round.
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn a_reminder_day_is_the_latest_that_has_come_and_is_caught_up_for_a_week() {
        let due = date(2026, 1, 31);
        let days = [-7, 0, 7];
        assert_eq!(day_for(due, &days, date(2026, 1, 23)), None);
        assert_eq!(
            day_for(due, &days, date(2026, 1, 24)),
            Some(date(2026, 1, 24))
        );
        assert_eq!(
            day_for(due, &days, date(2026, 1, 30)),
            Some(date(2026, 1, 24))
        );
        assert_eq!(
            day_for(due, &days, date(2026, 1, 31)),
            Some(date(2026, 1, 31))
        );
        assert_eq!(
            day_for(due, &days, date(2026, 2, 14)),
            Some(date(2026, 2, 7))
        );
        assert_eq!(day_for(due, &days, date(2026, 2, 15)), None, "too old");
        assert_eq!(day_for(due, &[], date(2026, 1, 31)), None);
    }

    #[test]
    fn days_left_counts_to_the_deadline() {
        assert_eq!(days_left("2026-01-31", date(2026, 1, 24)), 7);
        assert_eq!(days_left("2026-01-31", date(2026, 2, 7)), -7);
        assert_eq!(days_left("2026-03-31", date(2026, 1, 31)), 59);
    }
}
