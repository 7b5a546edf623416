//! Reminders as the store keeps them: one row per reporting year, reminder day and unit (the
//! office's coverage summary has the unit ''), so that a day's reminder is written once however
//! often the daemon looks, and is sent once: marked sent only when the server accepted it,
//! retried with backoff while it does not.

use rusqlite::params;
use serde::Serialize;

use super::{now, Store, StoreError};

/// A reminder to write (ignored if that year, day and unit already has one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewReminder {
    pub year: i32,
    /// The reminder day (ISO date).
    pub on_date: String,
    /// The unit's name; empty: the office's coverage summary.
    pub unit: String,
    /// The unit's deadline (ISO date); for the office, the deadline the day is counted from.
    pub due: String,
    /// Its recipients; empty: nobody to send it to (kept as `unrouted`).
    pub to: Vec<String>,
}

/// A stored reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    pub id: i64,
    pub year: i32,
    pub on_date: String,
    pub unit: String,
    pub due: String,
    pub to: Vec<String>,
    /// `pending`, `sent`, `failed`, `unrouted` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
}

const COLUMNS: &str =
    "id, year, on_date, unit, due, recipients, status, attempts, last_error, sent_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Reminder> {
    let to: String = r.get(5)?;
    Ok(Reminder {
        id: r.get(0)?,
        year: r.get(1)?,
        on_date: r.get(2)?,
        unit: r.get(3)?,
        due: r.get(4)?,
        to: serde_json::from_str(&to).unwrap_or_default(),
        status: r.get(6)?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        sent_at: r.get(9)?,
    })
}

impl Store {
    /// Writes the reminders that are not written yet; returns how many were new.
    pub fn queue_reminders(&mut self, reminders: &[NewReminder]) -> Result<usize, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let mut added = 0;
        for r in reminders {
            let to = serde_json::to_string(&r.to).unwrap_or_else(|_| "[]".into());
            added += tx.execute(
                "INSERT OR IGNORE INTO reminders (year, on_date, unit, due, recipients, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.year,
                    r.on_date,
                    r.unit,
                    r.due,
                    to,
                    if r.to.is_empty() { "unrouted" } else { "pending" },
                    now()
                ],
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Pending reminders whose time has come (`next_attempt_ms` ≤ `now_ms`), oldest first.
    pub fn due_reminders(&self, now_ms: i64) -> Result<Vec<Reminder>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE status = 'pending' AND next_attempt_ms <= ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([now_ms], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The reminders of a reporting year (every status), by day and unit.
    pub fn reminders(&self, year: i32) -> Result<Vec<Reminder>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE year = ?1 ORDER BY on_date, unit"
        ))?;
        let rows = stmt.query_map([year], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The server accepted the reminder.
    pub fn reminder_sent(
        &mut self,
        id: i64,
        subject: &str,
        message_id: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE reminders SET status = 'sent', attempts = attempts + 1, subject = ?2, message_id = ?3, sent_at = ?4, last_error = NULL WHERE id = ?1",
            params![id, subject, message_id, now()],
        )?;
        Ok(())
    }

    /// A failed attempt: tried again at `next_attempt_ms`.
    pub fn reminder_retry(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE reminders SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
            params![id, error, next_attempt_ms],
        )?;
        Ok(())
    }

    /// Not sent, for good: `failed` (the server refused it) or `cancelled` (the report came).
    pub fn reminder_closed(
        &mut self,
        id: i64,
        status: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE reminders SET status = ?2, last_error = ?3 WHERE id = ?1 AND status = 'pending'",
            params![id, status, reason],
        )?;
        Ok(())
    }
}
