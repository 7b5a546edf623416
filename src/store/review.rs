//! Review: reviewers confirm or dismiss findings, and correct cells the parser misread.
//!
//! A decision is kept by the finding's fingerprint (what it is about, not its wording), so it
//! holds across re-audits and rule-set versions; a report with new content is a new report and
//! starts open. Every decision and correction is also a row of the trail (who, when, what,
//! before, after), which triggers keep any statement from changing or deleting.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::{Scope, Store, StoreError};
use crate::model::Severity;

/// Where a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewState {
    Open,
    Confirmed,
    Dismissed,
}

impl ReviewState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Open => "open",
            ReviewState::Confirmed => "confirmed",
            ReviewState::Dismissed => "dismissed",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            ReviewState::Open => "待审核",
            ReviewState::Confirmed => "已确认",
            ReviewState::Dismissed => "已忽略",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewState> {
        match s {
            "open" => Some(ReviewState::Open),
            "confirmed" => Some(ReviewState::Confirmed),
            "dismissed" => Some(ReviewState::Dismissed),
            _ => None,
        }
    }
}

/// Why a finding was dismissed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DismissReason {
    /// The rule was wrong, or the parser misread the report.
    FalseAlarm,
    /// True, but the office accepts it.
    Accepted,
    Other,
}

impl DismissReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DismissReason::FalseAlarm => "false_alarm",
            DismissReason::Accepted => "accepted",
            DismissReason::Other => "other",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            DismissReason::FalseAlarm => "误报",
            DismissReason::Accepted => "单位已说明，接受",
            DismissReason::Other => "其他",
        }
    }

    pub fn parse(s: &str) -> Option<DismissReason> {
        match s.replace('-', "_").as_str() {
            "false_alarm" => Some(DismissReason::FalseAlarm),
            "accepted" => Some(DismissReason::Accepted),
            "other" => Some(DismissReason::Other),
            _ => None,
        }
    }
}

/// What a reviewer does to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAction {
    Confirm,
    Dismiss(DismissReason),
    /// Back to open.
    Reopen,
}

/// A current finding with its review.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewedFinding {
    pub id: i64,
    pub report_id: i64,
    pub organization: Option<String>,
    pub year: Option<i64>,
    pub fingerprint: String,
    pub rule: String,
    pub severity: String,
    pub message: String,
    pub state: ReviewState,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub by: Option<String>,
    pub at: Option<String>,
}

/// Which findings a review list shows.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub report: Option<i64>,
    pub rule: Option<String>,
    pub state: Option<ReviewState>,
    /// Only findings of this severity or above.
    pub severity: Option<Severity>,
    pub limit: Option<usize>,
}

/// A reviewer's reading of a cell.
#[derive(Debug, Clone, Serialize)]
pub struct Correction {
    pub id: i64,
    pub report_id: i64,
    pub table: String,
    pub row: String,
    pub column: String,
    /// What the parser had read (its text, `未读出` when nothing).
    pub parsed: Option<String>,
    pub value: f64,
    pub note: Option<String>,
    pub by: String,
    pub at: String,
}

/// One row of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct TrailRow {
    pub id: i64,
    pub at: String,
    pub by: String,
    /// `confirm`, `dismiss`, `reopen`, `correct`.
    pub action: String,
    pub report_id: Option<i64>,
    pub fingerprint: Option<String>,
    /// What was acted on, in words (`t3-column-total：表三“(一)予以公开”…`, `表三 granted/total`).
    pub what: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub note: Option<String>,
}

/// The SQL of a current finding with its review (`f` finding, `r` report, `v` review).
const REVIEWED: &str = "SELECT f.id, f.report_id, r.organization, r.year, f.fingerprint, f.rule,
        f.severity, f.message, COALESCE(v.state, 'open'), v.reason, v.note, v.by, v.at
     FROM findings f JOIN reports r ON r.id = f.report_id AND f.ruleset = r.ruleset
     LEFT JOIN reviews v ON v.report_id = f.report_id AND v.fingerprint = f.fingerprint";

fn reviewed(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReviewedFinding> {
    let state: String = r.get(8)?;
    Ok(ReviewedFinding {
        id: r.get(0)?,
        report_id: r.get(1)?,
        organization: r.get(2)?,
        year: r.get(3)?,
        fingerprint: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        rule: r.get(5)?,
        severity: r.get(6)?,
        message: r.get(7)?,
        state: ReviewState::parse(&state).unwrap_or(ReviewState::Open),
        reason: r.get(9)?,
        note: r.get(10)?,
        by: r.get(11)?,
        at: r.get(12)?,
    })
}

/// How a decision reads in the trail.
fn describe(state: ReviewState, reason: Option<&str>) -> String {
    match (state, reason) {
        (ReviewState::Dismissed, Some(r)) => format!("dismissed ({r})"),
        (s, _) => s.as_str().to_string(),
    }
}

impl Store {
    /// The current findings inside `scope` with their reviews, newest report first.
    pub fn review_list(
        &self,
        scope: &Scope,
        filter: &ReviewFilter,
    ) -> Result<Vec<ReviewedFinding>, StoreError> {
        let mut args: Vec<Value> = Vec::new();
        let mut sql = format!("{REVIEWED} WHERE 1 = 1");
        sql.push_str(&scope.sql(&mut args));
        if let Some(id) = filter.report {
            args.push(Value::Integer(id));
            sql.push_str(&format!(" AND f.report_id = ?{}", args.len()));
        }
        if let Some(rule) = &filter.rule {
            args.push(Value::Text(rule.clone()));
            sql.push_str(&format!(" AND f.rule = ?{}", args.len()));
        }
        if let Some(state) = filter.state {
            args.push(Value::Text(state.as_str().to_string()));
            sql.push_str(&format!(" AND COALESCE(v.state, 'open') = ?{}", args.len()));
        }
        if let Some(min) = filter.severity {
            let list: Vec<String> = [Severity::Error, Severity::Warning, Severity::Info]
                .into_iter()
                .filter(|s| *s >= min)
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            sql.push_str(&format!(" AND f.severity IN ({})", list.join(", ")));
        }
        sql.push_str(" ORDER BY f.report_id DESC, f.id");
        if let Some(n) = filter.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter()), reviewed)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Confirms, dismisses or reopens a finding (by its id, of any audit of its report), with a
    /// note, in one transaction with its trail row. `None` when there is no such finding inside
    /// `scope`. Concurrent decisions on one finding are serialised: the last one stands, and
    /// the trail has each.
    pub fn review(
        &mut self,
        scope: &Scope,
        finding: i64,
        action: ReviewAction,
        note: Option<&str>,
        by: &str,
    ) -> Result<Option<ReviewedFinding>, StoreError> {
        self.check_same_file()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut args = vec![Value::Integer(finding)];
        let within = scope.sql(&mut args);
        let found: Option<(i64, String, String, String)> = tx
            .query_row(
                &format!(
                    "SELECT f.report_id, COALESCE(f.fingerprint, ''), f.rule, f.message
                     FROM findings f JOIN reports r ON r.id = f.report_id
                     WHERE f.id = ?1{within}"
                ),
                params_from_iter(args.iter()),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((report, fingerprint, rule, message)) = found else {
            return Ok(None);
        };
        let before: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT state, reason FROM reviews WHERE report_id = ?1 AND fingerprint = ?2",
                params![report, fingerprint],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let before_text = before.as_ref().map_or("open".to_string(), |(s, r)| {
            describe(
                ReviewState::parse(s).unwrap_or(ReviewState::Open),
                r.as_deref(),
            )
        });
        let now = super::now();
        let (state, reason) = match action {
            ReviewAction::Confirm => (ReviewState::Confirmed, None),
            ReviewAction::Dismiss(r) => (ReviewState::Dismissed, Some(r.as_str())),
            ReviewAction::Reopen => (ReviewState::Open, None),
        };
        if state == ReviewState::Open {
            tx.execute(
                "DELETE FROM reviews WHERE report_id = ?1 AND fingerprint = ?2",
                params![report, fingerprint],
            )?;
        } else {
            tx.execute(
                "INSERT INTO reviews (report_id, fingerprint, rule, state, reason, note, by, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (report_id, fingerprint) DO UPDATE
                 SET state = ?4, reason = ?5, note = ?6, by = ?7, at = ?8, rule = ?3",
                params![
                    report,
                    fingerprint,
                    rule,
                    state.as_str(),
                    reason,
                    note,
                    by,
                    now
                ],
            )?;
        }
        let action_name = match action {
            ReviewAction::Confirm => "confirm",
            ReviewAction::Dismiss(_) => "dismiss",
            ReviewAction::Reopen => "reopen",
        };
        tx.execute(
            "INSERT INTO trail (at, by, action, report_id, fingerprint, what, before, after, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                now,
                by,
                action_name,
                report,
                fingerprint,
                format!("{rule}：{message}"),
                before_text,
                describe(state, reason),
                note
            ],
        )?;
        let after = tx
            .query_row(&format!("{REVIEWED} WHERE f.id = ?1"), [finding], reviewed)
            .optional()?;
        tx.commit()?;
        // A finding of an earlier audit is not in the current list; its decision still holds
        // for the current finding of the same fingerprint.
        Ok(Some(after.unwrap_or(ReviewedFinding {
            id: finding,
            report_id: report,
            organization: None,
            year: None,
            fingerprint,
            rule,
            severity: String::new(),
            message,
            state,
            reason: reason.map(str::to_string),
            note: note.map(str::to_string),
            by: Some(by.to_string()),
            at: Some(now),
        })))
    }

    /// Records a correction of a cell with its trail row; returns its id, or `None` when the
    /// report is not inside `scope`.
    #[allow(clippy::too_many_arguments)]
    pub fn add_correction(
        &mut self,
        scope: &Scope,
        report: i64,
        (table, row, col): (&str, &str, &str),
        parsed: Option<&str>,
        value: f64,
        note: Option<&str>,
        by: &str,
    ) -> Result<Option<i64>, StoreError> {
        self.check_same_file()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut args = vec![Value::Integer(report)];
        let within = scope.sql(&mut args);
        let inside: bool = tx.query_row(
            &format!(
                "SELECT COUNT(*) FROM reports r WHERE r.id = ?1 AND r.status = 'parsed'{within}"
            ),
            params_from_iter(args.iter()),
            |r| r.get::<_, i64>(0),
        )? > 0;
        if !inside {
            return Ok(None);
        }
        // The value before this correction: the last correction's, else what was parsed.
        let previous: Option<f64> = tx
            .query_row(
                "SELECT value FROM corrections WHERE report_id = ?1 AND tbl = ?2 AND row = ?3 AND col = ?4
                 ORDER BY id DESC LIMIT 1",
                params![report, table, row, col],
                |r| r.get(0),
            )
            .optional()?;
        let now = super::now();
        tx.execute(
            "INSERT INTO corrections (report_id, tbl, row, col, parsed, value, note, by, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![report, table, row, col, parsed, value, note, by, now],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO trail (at, by, action, report_id, what, before, after, note)
             VALUES (?1, ?2, 'correct', ?3, ?4, ?5, ?6, ?7)",
            params![
                now,
                by,
                report,
                format!("{table} {row}/{col}"),
                previous.map_or_else(
                    || parsed.unwrap_or("未读出").to_string(),
                    crate::model::format_number
                ),
                crate::model::format_number(value),
                note
            ],
        )?;
        tx.commit()?;
        Ok(Some(id))
    }

    /// A report's corrections, oldest first (a later one of the same cell wins).
    pub fn corrections(&self, report: i64) -> Result<Vec<Correction>, StoreError> {
        Ok(self
            .corrections_of(&[report])?
            .remove(&report)
            .unwrap_or_default())
    }

    /// [`Store::corrections`] of several reports in one query, by report id (a report without
    /// corrections is left out), each oldest first.
    pub fn corrections_of(
        &self,
        reports: &[i64],
    ) -> Result<std::collections::HashMap<i64, Vec<Correction>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, report_id, tbl, row, col, parsed, value, note, by, at FROM corrections
             WHERE report_id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let rows = stmt.query_map([super::id_list(reports)], |r| {
            Ok(Correction {
                id: r.get(0)?,
                report_id: r.get(1)?,
                table: r.get(2)?,
                row: r.get(3)?,
                column: r.get(4)?,
                parsed: r.get(5)?,
                value: r.get(6)?,
                note: r.get(7)?,
                by: r.get(8)?,
                at: r.get(9)?,
            })
        })?;
        let mut out: std::collections::HashMap<i64, Vec<Correction>> = Default::default();
        for c in rows {
            let c = c?;
            out.entry(c.report_id).or_default().push(c);
        }
        Ok(out)
    }

    /// The trail of one report, or of every report inside `scope` (newest first).
    pub fn trail(&self, scope: &Scope, report: Option<i64>) -> Result<Vec<TrailRow>, StoreError> {
        let mut args: Vec<Value> = Vec::new();
        let mut sql = String::from(
            "SELECT t.id, t.at, t.by, t.action, t.report_id, t.fingerprint, t.what, t.before, t.after, t.note
             FROM trail t LEFT JOIN reports r ON r.id = t.report_id WHERE 1 = 1",
        );
        sql.push_str(&scope.sql(&mut args));
        if let Some(id) = report {
            args.push(Value::Integer(id));
            sql.push_str(&format!(" AND t.report_id = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY t.id DESC LIMIT 1000");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok(TrailRow {
                id: r.get(0)?,
                at: r.get(1)?,
                by: r.get(2)?,
                action: r.get(3)?,
                report_id: r.get(4)?,
                fingerprint: r.get(5)?,
                what: r.get(6)?,
                before: r.get(7)?,
                after: r.get(8)?,
                note: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many of a notice's findings (its audit, at or above `min`) wait for a decision.
    pub fn awaiting_review(
        &self,
        report: i64,
        audit: &str,
        min: Severity,
    ) -> Result<i64, StoreError> {
        let list: Vec<String> = [Severity::Error, Severity::Warning, Severity::Info]
            .into_iter()
            .filter(|s| *s >= min)
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        Ok(self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM findings f
                 WHERE f.report_id = ?1 AND f.ruleset = ?2 AND f.severity IN ({})
                   AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.report_id = f.report_id
                                   AND v.fingerprint = f.fingerprint)",
                list.join(", ")
            ),
            params![report, audit],
            |r| r.get(0),
        )?)
    }

    /// The fingerprints of a report's confirmed findings.
    pub fn confirmed(&self, report: i64) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT fingerprint FROM reviews WHERE report_id = ?1 AND state = 'confirmed'",
        )?;
        let rows = stmt.query_map([report], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per rule, inside `scope`: current findings, those dismissed as false alarms, those
    /// confirmed.
    pub fn rule_feedback(
        &self,
        scope: &Scope,
    ) -> Result<std::collections::BTreeMap<String, (i64, i64, i64)>, StoreError> {
        let mut args = Vec::new();
        let within = scope.sql(&mut args);
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.rule, COUNT(*),
                    SUM(v.state = 'dismissed' AND v.reason = 'false_alarm'),
                    SUM(v.state = 'confirmed')
             FROM findings f JOIN reports r ON r.id = f.report_id AND f.ruleset = r.ruleset
             LEFT JOIN reviews v ON v.report_id = f.report_id AND v.fingerprint = f.fingerprint
             WHERE 1 = 1{within}
             GROUP BY f.rule"
        ))?;
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                (
                    r.get(1)?,
                    r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                ),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
