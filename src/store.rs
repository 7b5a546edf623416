//! The store: one SQLite file (bundled SQLite, WAL) holding every report ever received, by
//! content, with its findings.
//!
//! A report's row and its findings are written in one transaction, and the row itself is the
//! "done" mark: a crash at any moment leaves a report either stored with all its findings or not
//! stored at all, and a file whose content is already stored is never audited again. Schema
//! changes are migrations numbered by `PRAGMA user_version`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{config::DbConfig, params, Connection, OptionalExtension};
use serde::Serialize;
use thiserror::Error;

use crate::model::{Finding, Report};

use crate::pipeline::{Outcome, Status};

mod browse;
mod checkpoint;
pub mod codec;
mod reminders;
mod review;
mod units;
mod users;

pub use browse::{
    glob_match, Audit, OfficeRow, Overview, Page, Reload, ReportFilter, ReportRow, RuleSetRecord,
    Scope, Sort, StoredReport,
};
pub use reminders::{NewReminder, Reminder};
pub use review::{
    Correction, DismissReason, ReviewAction, ReviewFilter, ReviewState, ReviewedFinding, TrailRow,
};
pub use units::{Arrival, NewUnit, Unit, UnitKind};
pub use users::{count_users, StoredUser};

/// A store that cannot be used. Opening errors stop the daemon; write errors are retried by it.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot create the database folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot start the thread that folds the write-ahead log into the database: {0}")]
    Thread(#[source] std::io::Error),
    #[error("stored report {id} cannot be read back: {message}")]
    Corrupt { id: i64, message: String },
    #[error("no database at {0} yet: it is created when the daemon (`ogi-audit run`) starts")]
    Missing(PathBuf),
    #[error("database {path} has schema version {found}, this program reads version {known} (start the daemon once to upgrade an older one)")]
    Schema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// The database file was deleted or replaced while it was open: whatever is written goes
    /// into a file nobody will read again.
    #[error("{0}")]
    Lost(String),
    #[error("database {path} has schema version {found}, newer than this program knows ({known})")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

impl StoreError {
    /// Whether waiting and trying again may help (locked database, full disk, I/O hiccup).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
            ),
            _ => false,
        }
    }
}

/// Migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: reports, findings, rule sets.
    "CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT NOT NULL,
        stored_path TEXT,
        status TEXT NOT NULL CHECK (status IN ('parsed', 'unparseable', 'error')),
        error TEXT,
        organization TEXT,
        year INTEGER,
        template TEXT,
        encoding TEXT,
        report_json TEXT,
        ruleset TEXT,
        received_at TEXT NOT NULL,
        audited_at TEXT
    );
    CREATE INDEX reports_org_year ON reports (organization, year);
    CREATE INDEX reports_received ON reports (received_at);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports (id),
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        evidence TEXT NOT NULL,
        ruleset TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX findings_report ON findings (report_id, ruleset);
    CREATE TABLE rulesets (
        version TEXT PRIMARY KEY,
        loaded_at TEXT NOT NULL,
        rules TEXT NOT NULL,
        errors TEXT NOT NULL
    );",
    // 2: mail notices (written with their report) and the log of mails the server accepted.
    "CREATE TABLE mails (
        id INTEGER PRIMARY KEY,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        message_id TEXT NOT NULL,
        sent_ms INTEGER NOT NULL,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX mails_recipients ON mails (recipients, sent_ms);
    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports (id),
        ruleset TEXT NOT NULL,
        recipients TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unrouted')),
        created_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        mail_id INTEGER REFERENCES mails (id),
        UNIQUE (report_id, ruleset)
    );
    CREATE INDEX notices_pending ON notices (status, recipients);",
    // 3: why a report needs a person to look at its tables (JSON array; NULL: no need).
    "ALTER TABLE reports ADD COLUMN needs_review TEXT;",
    // 4: users of the web console, and every load or reload of the rules with its errors.
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin')),
        scope TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL
    );
    CREATE TABLE reloads (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        version TEXT,
        errors TEXT NOT NULL
    );",
    // 5: review: each finding's fingerprint (filled in for stored findings by `migrate`), the
    // reviewers' decisions by fingerprint, the cells they corrected, and the trail of both,
    // which no statement may change.
    "ALTER TABLE findings ADD COLUMN fingerprint TEXT;
    CREATE INDEX findings_fingerprint ON findings (report_id, fingerprint);
    CREATE TABLE reviews (
        report_id INTEGER NOT NULL REFERENCES reports (id),
        fingerprint TEXT NOT NULL,
        rule TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('confirmed', 'dismissed')),
        reason TEXT CHECK (reason IN ('false_alarm', 'accepted', 'other')),
        note TEXT,
        by TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (report_id, fingerprint)
    );
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        report_id INTEGER NOT NULL REFERENCES reports (id),
        tbl TEXT NOT NULL,
        row TEXT NOT NULL,
        col TEXT NOT NULL,
        parsed TEXT,
        value REAL NOT NULL,
        note TEXT,
        by TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX corrections_report ON corrections (report_id);
    CREATE TABLE trail (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        by TEXT NOT NULL,
        action TEXT NOT NULL,
        report_id INTEGER,
        fingerprint TEXT,
        what TEXT NOT NULL,
        before TEXT,
        after TEXT,
        note TEXT
    );
    CREATE INDEX trail_report ON trail (report_id);
    CREATE TRIGGER trail_kept_unchanged BEFORE UPDATE ON trail
        BEGIN SELECT RAISE(ABORT, 'the audit trail cannot be changed'); END;
    CREATE TRIGGER trail_kept_whole BEFORE DELETE ON trail
        BEGIN SELECT RAISE(ABORT, 'the audit trail cannot be changed'); END;",
    // 6: the console's lists and counts at 100,000 reports (`ogi-audit bench web`). A report's
    // row is ~50 KB, its JSON spilling over a chain of overflow pages, and the columns the lists
    // filter and count on (`ruleset`, `needs_review`) come after it in the row: reading them
    // walks the chain, so a filter or a count that SQLite checks on the table reads gigabytes.
    // These indexes hold those columns in each order a list has — by id (newest first), by
    // issuer and by year, the keys as the lists' cursors have them — and by issuer for the
    // per-office counts, issuer scopes and last year's report, so that a list or a count reads
    // the indexes alone and a page starts where its cursor points. The findings index gains
    // severity and rule for the same reason. Two of them replace an index they extend.
    "CREATE INDEX reports_list ON reports (id, organization, year, status, ruleset, needs_review);
    CREATE INDEX reports_by_issuer ON reports
        (COALESCE(organization, ''), id, organization, year, status, ruleset, needs_review);
    CREATE INDEX reports_by_year ON reports
        (COALESCE(year, 0), id, organization, year, status, ruleset, needs_review);
    DROP INDEX reports_org_year;
    CREATE INDEX reports_org ON reports (organization, year, status, ruleset, needs_review);
    DROP INDEX findings_report;
    CREATE INDEX findings_current ON findings (report_id, ruleset, severity, rule);",
    // 7: the units expected to report, and the reports an administrator assigned to one.
    "CREATE TABLE units (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        aliases TEXT NOT NULL DEFAULT '[]',
        kind TEXT NOT NULL CHECK (kind IN ('department', 'government')),
        parent TEXT,
        emails TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE unit_assignments (
        report_id INTEGER PRIMARY KEY REFERENCES reports (id),
        unit_id INTEGER NOT NULL REFERENCES units (id),
        by TEXT NOT NULL,
        at TEXT NOT NULL
    );",
    // 8: reminders to units that have not reported and the office's coverage summaries: one
    // row per reporting year, reminder day and unit ('' for the office), written once, marked
    // sent only when the server accepted the message.
    "CREATE TABLE reminders (
        id INTEGER PRIMARY KEY,
        year INTEGER NOT NULL,
        on_date TEXT NOT NULL,
        unit TEXT NOT NULL,
        due TEXT NOT NULL,
        recipients TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'unrouted', 'cancelled')),
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        subject TEXT,
        message_id TEXT,
        sent_at TEXT,
        UNIQUE (year, on_date, unit)
    );
    CREATE INDEX reminders_pending ON reminders (status, next_attempt_ms);",
    // 9: a report's model stored compressed, without the copies of its text (`codec`), and its
    // publication date as a column; the models stored as JSON are converted by
    // `Store::compact_models`, a batch at a time (the daemon does it in the background).
    "ALTER TABLE reports ADD COLUMN report_z BLOB;
    ALTER TABLE reports ADD COLUMN published TEXT;
    UPDATE reports SET published = json_extract(report_json, '$.published')
        WHERE report_json IS NOT NULL AND json_valid(report_json);",
    // 10: a counter of the register's changes, kept by triggers whoever writes the units: a
    // process keeping the register in memory reads it again only when it changed.
    "CREATE TABLE units_version (n INTEGER NOT NULL);
    INSERT INTO units_version (n) VALUES (0);
    CREATE TRIGGER units_inserted AFTER INSERT ON units BEGIN UPDATE units_version SET n = n + 1; END;
    CREATE TRIGGER units_updated AFTER UPDATE ON units BEGIN UPDATE units_version SET n = n + 1; END;
    CREATE TRIGGER units_deleted AFTER DELETE ON units BEGIN UPDATE units_version SET n = n + 1; END;",
    // 11: the models in a table of their own. SQLite writes a changed row whole, so a model in
    // the report's row was written again by every update of the row (its archive path once
    // stored, its rule set version at each re-audit). The models still in `reports` are moved
    // by `Store::compact_models`, a batch at a time; until then they are read where they are.
    "CREATE TABLE models (
        report_id INTEGER PRIMARY KEY REFERENCES reports(id),
        z BLOB NOT NULL
    );",
    // 12: which report the rules were given as the issuer's year before at a report's latest
    // audit: its id, 0 when there was none, NULL when not known (audits before this). A
    // re-audit keeps the findings of the rules that read it only while it is the same.
    "ALTER TABLE reports ADD COLUMN year_before INTEGER;",
];

/// Pending notices for one set of recipients.
#[derive(Debug, Clone)]
pub struct PendingGroup {
    /// JSON array of addresses, sorted.
    pub recipients: String,
    pub first_created_ms: i64,
    pub next_attempt_ms: i64,
}

/// A notice waiting to be mailed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub id: i64,
    pub report_id: i64,
    pub ruleset: String,
    pub attempts: i64,
}

/// A notice with its report's issuer, as `mail retry` and `status` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeInfo {
    pub notice: i64,
    pub report_id: i64,
    pub organization: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The rule-set version of an audit key (`3f2a…` or, after corrections, `3f2a…+c12`).
pub fn version_of(audit: &str) -> &str {
    audit.split('+').next().unwrap_or(audit)
}

/// A report's model as the store keeps it, not yet decoded.
#[derive(Debug, Clone)]
pub struct StoredModel {
    pub id: i64,
    json: Option<String>,
    z: Option<Vec<u8>>,
}

impl StoredModel {
    /// The model (`None`: the report has none).
    pub fn decode(self) -> Result<Option<Report>, StoreError> {
        model(self.id, self.json, self.z)
    }
}

/// A parsed report (`r`) has its model: in `models`, or (stored by an earlier version and not
/// moved yet) in one of its own two columns.
pub(crate) const HAS_MODEL: &str = "(EXISTS (SELECT 1 FROM models m WHERE m.report_id = r.id)
    OR r.report_z IS NOT NULL OR r.report_json IS NOT NULL)";

/// A report's (`r`) compressed model: from `models`, or from its own row where an earlier
/// version put it. Read with `r.report_json` by [`model`].
pub(crate) const MODEL_Z: &str =
    "COALESCE((SELECT m.z FROM models m WHERE m.report_id = r.id), r.report_z)";

/// A report's model from its columns: compressed (`report_z`), or JSON as stored before.
pub(crate) fn model(
    id: i64,
    json: Option<String>,
    z: Option<Vec<u8>>,
) -> Result<Option<Report>, StoreError> {
    match (z, json) {
        (Some(z), _) => codec::decode(&z)
            .map(Some)
            .map_err(|message| StoreError::Corrupt { id, message }),
        (None, Some(j)) => serde_json::from_str(&j)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                id,
                message: e.to_string(),
            }),
        (None, None) => Ok(None),
    }
}

/// Now, as RFC 3339 UTC with seconds (sorts as text).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(crate::clock::now()).to_string()
}

/// A stored report, as the daemon needs it to finish a file dropped again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub id: i64,
    /// Parsed (else it was unparseable: the file belongs in quarantine).
    pub parsed: bool,
    /// Why it was unparseable.
    pub error: Option<String>,
    /// Where its file was moved, once it was.
    pub stored_path: Option<String>,
}

/// The store, one connection.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Device and inode of the file opened, to notice it being deleted or replaced.
    identity: Option<(u64, u64)>,
    /// Set once the file was found deleted or replaced: every later write is refused.
    lost: std::cell::RefCell<Option<String>>,
    /// Where `compact_models` goes on from (the last row it looked at).
    compact_from: i64,
    /// Folds the write-ahead log in from a thread of its own, when started
    /// ([`Store::checkpoint_in_background`]). Declared last: it stops after the connection
    /// closed, and folds in what is left.
    checkpointer: Option<checkpoint::Checkpointer>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Counts for `ogi-audit status`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub reports: i64,
    pub parsed: i64,
    pub unparseable: i64,
    pub errors: i64,
    pub findings: i64,
    pub last_report: Option<(String, String, Option<String>)>,
    pub ruleset: Option<String>,
}

/// A finding as stored, with its report, for `ogi-audit findings`.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub report_id: i64,
    pub path: String,
    pub organization: Option<String>,
    pub year: Option<i64>,
    pub rule: String,
    pub severity: String,
    pub message: String,
    pub evidence: serde_json::Value,
    pub ruleset: String,
    pub created_at: String,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // 16 MB of pages (SQLite's default is 2 MB): a re-audit writes findings all over the
        // findings' indexes, and read the same pages again and again from the file.
        conn.pragma_update(None, "cache_size", -16 * 1024)
            .map_err(open_err)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            identity: identity(path),
            lost: std::cell::RefCell::new(None),
            compact_from: 0,
            checkpointer: None,
        };
        store.plan_stably()?;
        store.migrate()?;
        Ok(store)
    }

    /// Query plans made without looking at the values bound. SQLite re-prepares a statement
    /// whose planning looked at a bound value (a `LIMIT ?`, an `= ?` the planner weighed)
    /// whenever its bindings are cleared, and rusqlite clears them each time it takes a cached
    /// statement back: the daemon re-prepared the lookup of an issuer's year before for every
    /// report (1 % of its work). Not for the web console's reads, whose scope patterns
    /// (`GLOB ?`) use an index only when the planner sees the pattern.
    pub fn plan_stably(&self) -> Result<(), StoreError> {
        self.conn
            .set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        Ok(())
    }

    /// Opens an existing database for reading only (`status`, `findings`): creates nothing,
    /// changes nothing, and refuses a schema older than this program's (start the daemon once to
    /// upgrade it).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version != known {
            return Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            identity: identity(path),
            lost: std::cell::RefCell::new(None),
            compact_from: 0,
            checkpointer: None,
        })
    }

    /// Checks that the database file is still the one opened. When it was deleted or replaced
    /// (an operator's `rm` or restore), what this connection holds is saved with `VACUUM INTO`
    /// beside it and every later call fails with [`StoreError::Lost`], saying so.
    pub fn check_same_file(&self) -> Result<(), StoreError> {
        if let Some(why) = self.lost.borrow().as_ref() {
            return Err(StoreError::Lost(why.clone()));
        }
        let Some(opened) = self.identity else {
            return Ok(());
        };
        let what = match std::fs::metadata(&self.path) {
            Ok(_) if identity(&self.path) == Some(opened) => return Ok(()),
            Ok(_) => "replaced by another file",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "deleted",
            // Unreadable for a moment (permissions, I/O): the database calls will tell.
            Err(_) => return Ok(()),
        };
        let saved = match self.rescue() {
            Ok(p) => format!("what this daemon had stored is saved in {}", p.display()),
            Err(e) => format!("saving what this daemon had stored failed: {e}"),
        };
        // The write-ahead log beside it still holds this database's last pages, which SQLite
        // would lay over whatever file now has the name: fold them into the file this
        // connection has open, and empty the log.
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::warn!("write-ahead log not emptied: {e}");
        }
        let why = format!(
            "the database {} was {what} while the daemon was running; no report is stored until the daemon is restarted (reports stay in the inbox); {saved}",
            self.path.display()
        );
        *self.lost.borrow_mut() = Some(why.clone());
        Err(StoreError::Lost(why))
    }

    /// Copies what the open connection holds into a new file beside the database.
    fn rescue(&self) -> Result<PathBuf, StoreError> {
        let stamp: String = now().chars().filter(char::is_ascii_digit).collect();
        let name = self.path.file_name().map_or_else(
            || "ogi-audit.sqlite".into(),
            |n| n.to_string_lossy().into_owned(),
        );
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut dest = dir.join(format!("{name}.rescued-{stamp}"));
        let mut n = 1;
        while dest.exists() {
            dest = dir.join(format!("{name}.rescued-{stamp}-{n}"));
            n += 1;
        }
        self.conn
            .execute("VACUUM INTO ?1", [dest.to_string_lossy()])?;
        Ok(dest)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            if i + 1 == 5 {
                fill_fingerprints(&tx)?;
            }
            tx.commit()?;
            tracing::info!(version = i + 1, "database schema migrated");
        }
        Ok(())
    }

    /// Moves up to `batch` models stored by earlier versions into `models`, in one
    /// transaction: JSON is converted to the compressed form, a compressed model in the report's
    /// row is moved as it is. Returns how many rows it looked at (0: none left). Each row is
    /// converted whole or not at all, so an interrupted run goes on where it stopped. A model
    /// that cannot be read stays as it is (and is counted as left, not converted).
    pub fn compact_models(&mut self, batch: usize) -> Result<usize, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let rows: Vec<(i64, Option<String>, Option<Vec<u8>>)> = tx
            .prepare(
                "SELECT id, report_json, report_z FROM reports
                 WHERE (report_json IS NOT NULL OR report_z IS NOT NULL) AND id > ?1
                 ORDER BY id LIMIT ?2",
            )?
            .query_map(
                params![self.compact_from, i64::try_from(batch).unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .collect::<Result<_, _>>()?;
        let mut done = 0;
        for (id, json, z) in rows.iter() {
            self.compact_from = *id;
            let z = match (z, json) {
                (Some(z), _) => z.clone(),
                (None, Some(json)) => {
                    let Ok(report) = serde_json::from_str::<Report>(json) else {
                        tracing::warn!(report = id, "stored model unreadable; left as it is");
                        continue;
                    };
                    codec::encode(&report)
                        .map_err(|message| StoreError::Corrupt { id: *id, message })?
                }
                (None, None) => continue,
            };
            tx.prepare_cached("INSERT OR REPLACE INTO models (report_id, z) VALUES (?1, ?2)")?
                .execute(params![id, z])?;
            tx.prepare_cached(
                "UPDATE reports SET report_z = NULL, report_json = NULL WHERE id = ?1",
            )?
            .execute([id])?;
            done += 1;
        }
        tx.commit()?;
        if done > 0 {
            tracing::debug!(converted = done, "stored models compacted");
        }
        Ok(rows.len())
    }

    /// The report with this content, if stored: what the daemon needs to finish a file whose
    /// report was stored but which could not be moved at the time.
    pub fn stored(&self, sha256: &str) -> Result<Option<Known>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id, status, error, stored_path FROM reports WHERE sha256 = ?1")?
            .query_row([sha256], |r| {
                Ok(Known {
                    id: r.get(0)?,
                    parsed: r.get::<_, String>(1)? == "parsed",
                    error: r.get(2)?,
                    stored_path: r.get(3)?,
                })
            })
            .optional()?)
    }

    /// Records a rule set (once per version).
    pub fn record_ruleset(
        &self,
        version: &str,
        rules: &serde_json::Value,
        errors: &[String],
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO rulesets (version, loaded_at, rules, errors) VALUES (?1, ?2, ?3, ?4)",
            params![version, now(), rules.to_string(), serde_json::to_string(errors).unwrap_or_default()],
        )?;
        Ok(())
    }

    /// Stores a report and its findings in one transaction; returns its id. A report whose content
    /// is already stored is left as it is (its id is returned).
    ///
    /// `notify`: the recipients of the report's summary (`Some(empty)`: no route, kept as
    /// `unrouted`), written in the same transaction so that no notice is ever lost.
    ///
    /// `audit`: the rule set version its findings are of, and the report the rules were given
    /// as the year before ([`YearBefore`]); `None` for a report not audited.
    pub fn record(
        &mut self,
        outcome: &Outcome,
        audit: Option<(&str, YearBefore)>,
        received_at: &str,
        notify: Option<&[String]>,
    ) -> Result<i64, StoreError> {
        let model = encode_model(outcome)?;
        self.record_encoded(outcome, model.as_deref(), audit, received_at, notify)
    }

    /// [`Store::record`] with the report's model already encoded ([`encode_model`]), so that a
    /// worker encodes it before it takes the store, not while the others wait for it.
    pub fn record_encoded(
        &mut self,
        outcome: &Outcome,
        report_z: Option<&[u8]>,
        audit: Option<(&str, YearBefore)>,
        received_at: &str,
        notify: Option<&[String]>,
    ) -> Result<i64, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let (id, _) = insert_report(
            &tx,
            &Recording {
                outcome,
                report_z,
                audit,
                received_at,
                notify,
            },
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Stores several reports and their findings in one transaction (one commit for all,
    /// as [`Store::record_encoded`] stores one); in order, each one's id and whether it was
    /// stored now (false: its content was stored before, by an earlier one of them or another
    /// time). All or none are stored.
    pub fn record_all(
        &mut self,
        reports: &[Recording<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(reports.len());
        for r in reports {
            ids.push(insert_report(&tx, r)?);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Sets of recipients with pending notices.
    pub fn pending_groups(&self) -> Result<Vec<PendingGroup>, StoreError> {
        // A summary read from a database that is gone would be mailed again after a restart.
        self.check_same_file()?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT recipients, MIN(created_ms), MAX(next_attempt_ms) FROM notices
             WHERE status = 'pending' GROUP BY recipients ORDER BY MIN(created_ms)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(PendingGroup {
                recipients: r.get(0)?,
                first_created_ms: r.get(1)?,
                next_attempt_ms: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When these recipients were last mailed.
    pub fn last_mail_ms(&self, recipients: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT MAX(sent_ms) FROM mails WHERE recipients = ?1",
                [recipients],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The pending notices of one set of recipients, oldest first.
    pub fn pending_notices(&self, recipients: &str) -> Result<Vec<Notice>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, report_id, ruleset, attempts FROM notices
             WHERE status = 'pending' AND recipients = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([recipients], |r| {
            Ok(Notice {
                id: r.get(0)?,
                report_id: r.get(1)?,
                ruleset: r.get(2)?,
                attempts: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The rules' titles as the rule set `version` had them, by id; a rule it has no title for
    /// (a rule set recorded before titles were kept) takes the title of the newest rule set
    /// that has one.
    pub fn rule_titles(&self, version: &str) -> Result<crate::present::Titles, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rules FROM rulesets ORDER BY version = ?1 DESC, loaded_at DESC, rowid DESC",
        )?;
        let mut titles = crate::present::Titles::new();
        let rows = stmt.query_map([version], |r| r.get::<_, String>(0))?;
        for rules in rows {
            let rules: serde_json::Value = serde_json::from_str(&rules?).unwrap_or_default();
            for rule in rules.as_array().into_iter().flatten() {
                if let (Some(id), Some(title)) = (
                    rule.get("id").and_then(|v| v.as_str()),
                    rule.get("title").and_then(|v| v.as_str()),
                ) {
                    titles
                        .entry(id.to_string())
                        .or_insert_with(|| title.to_string());
                }
            }
        }
        Ok(titles)
    }

    /// A report, its path and its findings of one audit (rule-set version), without those a
    /// reviewer dismissed: what the mail and the workbook show.
    pub fn report_for_mail(
        &self,
        id: i64,
        ruleset: &str,
    ) -> Result<(Option<Report>, String, Vec<Finding>), StoreError> {
        self.findings_shown(id, ruleset, "v.state = 'dismissed'", false)
    }

    /// Like [`Store::report_for_mail`], only the findings a reviewer confirmed (`[mail]
    /// require_review`).
    pub fn confirmed_for_mail(
        &self,
        id: i64,
        ruleset: &str,
    ) -> Result<(Option<Report>, String, Vec<Finding>), StoreError> {
        self.findings_shown(id, ruleset, "v.state = 'confirmed'", true)
    }

    /// A report and the findings of one audit, without (or, `keep`, only) those whose review
    /// matches `review` (SQL on `v`).
    fn findings_shown(
        &self,
        id: i64,
        ruleset: &str,
        review: &str,
        keep: bool,
    ) -> Result<(Option<Report>, String, Vec<Finding>), StoreError> {
        let (path, json, z): (String, Option<String>, Option<Vec<u8>>) = self.conn.query_row(
            &format!("SELECT r.path, r.report_json, {MODEL_Z} FROM reports r WHERE r.id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut report: Option<Report> = model(id, json, z).ok().flatten();
        // What the findings were made from: the tables with the reviewers' corrections.
        if let Some(r) = report.as_mut() {
            for c in self.corrections(id)? {
                r.correct(&c.table, &c.row, &c.column, c.value);
            }
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT f.rule, f.severity, f.message, f.evidence FROM findings f
             WHERE f.report_id = ?1 AND f.ruleset = ?2
               AND {} EXISTS (SELECT 1 FROM reviews v WHERE v.report_id = f.report_id
                               AND v.fingerprint = f.fingerprint AND {review})
             ORDER BY f.id",
            if keep { "" } else { "NOT" }
        ))?;
        let rows = stmt.query_map(params![id, ruleset], |r| finding_at(r, 0))?;
        Ok((report, path, rows.collect::<Result<_, _>>()?))
    }

    /// The findings of one audit of a report, every one (dismissed too), with their ids, in
    /// the order the rules gave them.
    pub fn audit_findings(&self, id: i64, audit: &str) -> Result<Vec<(i64, Finding)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, rule, severity, message, evidence FROM findings
             WHERE report_id = ?1 AND ruleset = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![id, audit], |r| Ok((r.get(0)?, finding_at(r, 1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The cells of a report a reviewer corrected, as `table.row.column`.
    pub fn corrected_cells(&self, id: i64) -> Result<Vec<String>, StoreError> {
        Ok(self
            .corrections(id)?
            .into_iter()
            .map(|c| format!("{}.{}.{}", c.table, c.row, c.column))
            .collect())
    }

    /// Marks notices done without a mail (`[mail] require_review`: every finding was
    /// dismissed), saying why.
    pub fn mark_unmailed(&mut self, notices: &[i64], why: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in notices {
            tx.execute(
                "UPDATE notices SET status = 'sent', last_error = ?2 WHERE id = ?1",
                params![id, why],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Logs a mail the server accepted and marks its notices sent, in one transaction.
    pub fn mark_sent(
        &mut self,
        notices: &[i64],
        recipients: &str,
        subject: &str,
        message_id: &str,
        sent_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO mails (recipients, subject, message_id, sent_ms, sent_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![recipients, subject, message_id, sent_ms, now()],
        )?;
        let mail_id = tx.last_insert_rowid();
        for id in notices {
            tx.execute(
                "UPDATE notices SET status = 'sent', mail_id = ?2, attempts = attempts + 1 WHERE id = ?1",
                params![id, mail_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Notes a failed attempt; the notices are tried again at `next_attempt_ms`.
    pub fn mark_retry(
        &mut self,
        notices: &[i64],
        error: &str,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in notices {
            tx.execute(
                "UPDATE notices SET attempts = attempts + 1, last_error = ?2, next_attempt_ms = ?3 WHERE id = ?1",
                params![id, error, next_attempt_ms],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Notes a permanent rejection; the notices are not tried again.
    pub fn mark_failed(&mut self, notices: &[i64], error: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        for id in notices {
            tx.execute(
                "UPDATE notices SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                params![id, error],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Pending notices: how many, and the report ids of the first `limit` (oldest first), for
    /// the mailer's log while it cannot send.
    pub fn waiting(&self, limit: usize) -> Result<(i64, Vec<i64>), StoreError> {
        let count: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM notices WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT report_id FROM notices WHERE status = 'pending' ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
        Ok((count, rows.collect::<Result<_, _>>()?))
    }

    /// Makes every pending notice due now (`mail retry`): the waits after failed attempts end;
    /// `group_wait` and `group_interval` still apply. Returns how many are pending.
    pub fn retry_pending_now(&self) -> Result<usize, StoreError> {
        self.conn.execute(
            "UPDATE notices SET next_attempt_ms = 0 WHERE status = 'pending' AND next_attempt_ms <> 0",
            [],
        )?;
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM notices WHERE status = 'pending'",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Puts every failed notice back to pending, due now, its attempts counted from zero and its
    /// last error kept (`mail retry --failed`); returns them as they were.
    pub fn retry_failed(&mut self) -> Result<Vec<NoticeInfo>, StoreError> {
        let tx = self.conn.transaction()?;
        let failed = notice_infos(&tx, "n.status = 'failed'", usize::MAX)?;
        tx.execute(
            "UPDATE notices SET status = 'pending', attempts = 0, next_attempt_ms = 0
             WHERE status = 'failed'",
            [],
        )?;
        tx.commit()?;
        Ok(failed)
    }

    /// Pending and failed notices with an error from their last attempt, newest first, at most
    /// `limit` (for `status`).
    pub fn mail_errors(&self, limit: usize) -> Result<Vec<NoticeInfo>, StoreError> {
        notice_infos(
            &self.conn,
            "n.status IN ('pending', 'failed') AND n.last_error IS NOT NULL",
            limit,
        )
    }

    /// Notices by status (`pending`, `sent`, `failed`, `unrouted`).
    pub fn notice_counts(&self) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM notices GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records where report `id`'s file was moved: the first place only, so a copy of the same
    /// content dropped again later does not replace the original's.
    pub fn set_stored_path(&self, id: i64, path: &Path) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE reports SET stored_path = ?2 WHERE id = ?1 AND stored_path IS NULL",
            )?
            .execute(params![id, path.to_string_lossy()])?;
        Ok(())
    }

    /// The same issuer's report for `year`, if stored and parsed (the newest if several).
    pub fn report_of(&self, organization: &str, year: i32) -> Result<Option<Report>, StoreError> {
        let Some(id) = self.stored_report_id(organization, year)? else {
            return Ok(None);
        };
        match self.stored_models(&[id])?.into_iter().next() {
            Some(m) => m.decode(),
            None => Ok(None),
        }
    }

    /// The ids of the parsed reports received since `since` (RFC 3339 prefix, e.g.
    /// `2026-03-01`), issuer by issuer and year by year (then oldest first): a report's
    /// previous year comes just before it.
    pub fn parsed_ids(&self, since: Option<&str>) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.id FROM reports r
             WHERE r.status = 'parsed' AND {HAS_MODEL} AND r.received_at >= ?1
             ORDER BY r.organization, r.year, r.id"
        ))?;
        let rows = stmt.query_map([since.unwrap_or("")], |r| r.get::<_, i64>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored models of these reports as they are kept, in the order given: decoded with
    /// [`StoredModel::decode`] outside the store's lock, so that several threads can.
    pub fn stored_models(&self, ids: &[i64]) -> Result<Vec<StoredModel>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT r.report_json, {MODEL_Z} FROM reports r WHERE r.id = ?1"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row: Option<(Option<String>, Option<Vec<u8>>)> = stmt
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((json, z)) = row {
                out.push(StoredModel { id: *id, json, z });
            }
        }
        Ok(out)
    }

    /// The id of the same issuer's report for `year`, if stored and parsed (the newest if
    /// several): what the rules see as the year before.
    pub fn stored_report_id(
        &self,
        organization: &str,
        year: i32,
    ) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT r.id FROM reports r
                 WHERE r.organization = ?1 AND r.year = ?2 AND r.status = 'parsed' AND {HAS_MODEL}
                 ORDER BY r.id DESC LIMIT 1"
            ))?
            .query_row(params![organization, year], |r| r.get(0))
            .optional()?)
    }

    /// Each report's latest audit, by id (ids not stored are left out).
    pub fn last_audits(&self, ids: &[i64]) -> Result<HashMap<i64, LastAudit>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, ruleset, year_before FROM reports
             WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([id_list(ids)], |r| {
            Ok((
                r.get(0)?,
                LastAudit {
                    ruleset: r.get(1)?,
                    year_before: YearBefore::from_column(r.get(2)?),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Each report's current findings (those of its latest audit), in one query, by id (a
    /// report without findings is left out), each in the order recorded.
    pub fn current_findings_of(
        &self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<Finding>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, f.rule, f.severity, f.message, f.evidence
             FROM reports r JOIN findings f ON f.report_id = r.id
             WHERE r.id IN (SELECT value FROM json_each(?1)) AND f.ruleset = r.ruleset
             ORDER BY r.id, f.id",
        )?;
        let mut out: HashMap<i64, Vec<Finding>> = HashMap::new();
        let mut rows = stmt.query([id_list(ids)])?;
        while let Some(r) = rows.next()? {
            out.entry(r.get(0)?).or_default().push(finding_at(r, 1)?);
        }
        Ok(out)
    }

    /// The digest of each rule of the rule set `version` as it was recorded (`None`: not
    /// recorded, or recorded before rules had digests).
    pub fn rule_digests(
        &self,
        version: &str,
    ) -> Result<Option<HashMap<String, String>>, StoreError> {
        let rules: Option<String> = self
            .conn
            .prepare_cached("SELECT rules FROM rulesets WHERE version = ?1")?
            .query_row([version], |r| r.get(0))
            .optional()?;
        let Some(rules) = rules else { return Ok(None) };
        let rules: serde_json::Value = serde_json::from_str(&rules).unwrap_or_default();
        let Some(rules) = rules.as_array() else {
            return Ok(None);
        };
        let mut out = HashMap::with_capacity(rules.len());
        for rule in rules {
            match (rule["id"].as_str(), rule["digest"].as_str()) {
                (Some(id), Some(digest)) => {
                    out.insert(id.to_string(), digest.to_string());
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// Stores a report's findings under another rule set version (re-audit), with the report the
    /// rules were given as the year before; nothing happens when the report already has findings
    /// of that version. `notify` queues a summary for these recipients in the same transaction
    /// (`Some(empty)`: no route, kept as `unrouted`).
    pub fn record_reaudit(
        &mut self,
        id: i64,
        findings: &[Finding],
        ruleset: &str,
        year_before: YearBefore,
        notify: Option<&[String]>,
    ) -> Result<bool, StoreError> {
        let done = self.record_reaudits(&[Reaudit {
            id,
            findings,
            ruleset,
            year_before,
            notify,
        }])?;
        Ok(done.first().copied().unwrap_or(false))
    }

    /// [`Store::record_reaudit`] for several reports in one transaction: all are recorded or
    /// none. For each, whether its findings were recorded (false: it had that version's
    /// already).
    pub fn record_reaudits(&mut self, items: &[Reaudit<'_>]) -> Result<Vec<bool>, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let now = now();
        let mut done = Vec::with_capacity(items.len());
        for item in items {
            let current: Option<String> = tx
                .prepare_cached("SELECT ruleset FROM reports WHERE id = ?1")?
                .query_row([item.id], |r| r.get(0))?;
            if current.as_deref() == Some(item.ruleset) {
                done.push(false);
                continue;
            }
            insert_findings(&tx, item.id, item.findings, item.ruleset, &now)?;
            tx.prepare_cached(
                "UPDATE reports SET ruleset = ?2, audited_at = ?3, year_before = ?4 WHERE id = ?1",
            )?
            .execute(params![
                item.id,
                item.ruleset,
                now,
                item.year_before.column()
            ])?;
            if let Some(to) = item.notify {
                insert_notice(&tx, item.id, item.ruleset, to)?;
            }
            done.push(true);
        }
        tx.commit()?;
        Ok(done)
    }

    /// Counts for `status`.
    pub fn summary(&self) -> Result<Summary, StoreError> {
        let count = |sql: &str| -> Result<i64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Summary {
            reports: count("SELECT COUNT(*) FROM reports")?,
            parsed: count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'")?,
            unparseable: count("SELECT COUNT(*) FROM reports WHERE status = 'unparseable'")?,
            errors: count("SELECT COUNT(*) FROM reports WHERE status = 'error'")?,
            findings: count(
                "SELECT COUNT(*) FROM findings f JOIN reports r ON r.id = f.report_id
                 WHERE f.ruleset = r.ruleset",
            )?,
            last_report: self
                .conn
                .query_row(
                    "SELECT path, received_at, organization FROM reports ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?,
            ruleset: self
                .conn
                .query_row(
                    "SELECT version FROM rulesets ORDER BY loaded_at DESC, rowid DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?,
        })
    }

    /// The current findings (those of each report's latest audit), filtered.
    pub fn findings(
        &self,
        organization: Option<&str>,
        since: Option<&str>,
    ) -> Result<Vec<FindingRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.path, r.organization, r.year, f.rule, f.severity, f.message, f.evidence,
                    f.ruleset, f.created_at
             FROM findings f JOIN reports r ON r.id = f.report_id
             WHERE f.ruleset = r.ruleset
               AND (?1 IS NULL OR r.organization LIKE '%' || ?1 || '%')
               AND r.received_at >= ?2
             ORDER BY r.id, f.id",
        )?;
        let rows = stmt.query_map(params![organization, since.unwrap_or("")], |r| {
            let evidence: String = r.get(7)?;
            Ok(FindingRow {
                report_id: r.get(0)?,
                path: r.get(1)?,
                organization: r.get(2)?,
                year: r.get(3)?,
                rule: r.get(4)?,
                severity: r.get(5)?,
                message: r.get(6)?,
                evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
                ruleset: r.get(8)?,
                created_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Notices matching `filter` (SQL on `notices n`) with their reports' issuers, newest first.
fn notice_infos(
    conn: &Connection,
    filter: &str,
    limit: usize,
) -> Result<Vec<NoticeInfo>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT n.id, n.report_id, r.organization, n.status, n.attempts, n.last_error
         FROM notices n LEFT JOIN reports r ON r.id = n.report_id
         WHERE {filter} ORDER BY n.id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
        Ok(NoticeInfo {
            notice: r.get(0)?,
            report_id: r.get(1)?,
            organization: r.get(2)?,
            status: r.get(3)?,
            attempts: r.get(4)?,
            last_error: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One report's re-audit, for [`Store::record_reaudits`].
#[derive(Debug, Clone, Copy)]
pub struct Reaudit<'a> {
    pub id: i64,
    pub findings: &'a [Finding],
    /// The key the audit is stored under (the rule set's version, marked when cells were
    /// corrected).
    pub ruleset: &'a str,
    /// The report the rules were given as the year before.
    pub year_before: YearBefore,
    /// Recipients of a summary to queue (`Some(empty)`: no route, kept as `unrouted`).
    pub notify: Option<&'a [String]>,
}

/// The report an audit's rules were given as the issuer's year before (`report.previous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearBefore {
    /// Not recorded: audited before this was kept (or findings copied from another report).
    Unknown,
    /// There was none in the store.
    None,
    /// The stored report of this id.
    Report(i64),
}

impl YearBefore {
    /// As the `reports.year_before` column has it: NULL, 0 or the id.
    fn column(self) -> Option<i64> {
        match self {
            YearBefore::Unknown => None,
            YearBefore::None => Some(0),
            YearBefore::Report(id) => Some(id),
        }
    }

    fn from_column(value: Option<i64>) -> YearBefore {
        match value {
            None => YearBefore::Unknown,
            Some(0) => YearBefore::None,
            Some(id) => YearBefore::Report(id),
        }
    }
}

/// What a report's latest audit was ([`Store::last_audits`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAudit {
    /// The key its findings are stored under (`None`: never audited).
    pub ruleset: Option<String>,
    pub year_before: YearBefore,
}

/// A finding from a row's columns `rule, severity, message, evidence`, the first at `from`.
/// Written by this program: a severity it does not know (a later program's) reads as `info`,
/// evidence that is not JSON as null.
fn finding_at(r: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<Finding> {
    let severity: String = r.get(from + 1)?;
    let evidence: String = r.get(from + 3)?;
    Ok(Finding {
        rule: r.get(from)?,
        severity: severity.parse().unwrap_or(crate::model::Severity::Info),
        message: r.get(from + 2)?,
        evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null),
    })
}

/// Report ids as the JSON array SQLite's `json_each` reads: one statement for any number of
/// them.
pub(crate) fn id_list(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 8 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

/// A report to record, as [`Store::record_encoded`] takes it.
pub struct Recording<'a> {
    pub outcome: &'a Outcome,
    /// Its model encoded ([`encode_model`]).
    pub report_z: Option<&'a [u8]>,
    /// The rule set version its findings are of, and the year before the rules were given;
    /// `None` for a report not audited.
    pub audit: Option<(&'a str, YearBefore)>,
    pub received_at: &'a str,
    /// The recipients of its summary (`Some(empty)`: no route, kept as `unrouted`).
    pub notify: Option<&'a [String]>,
}

/// Writes one report's row, model, findings and notice within `tx`: its id, and whether it was
/// written now. A report whose content is stored already is left as it is.
fn insert_report(
    tx: &rusqlite::Transaction<'_>,
    r: &Recording<'_>,
) -> Result<(i64, bool), StoreError> {
    let outcome = r.outcome;
    let ruleset = r.audit.map(|(version, _)| version);
    if let Some(id) = tx
        .prepare_cached("SELECT id FROM reports WHERE sha256 = ?1")?
        .query_row([&outcome.sha256], |row| row.get::<_, i64>(0))
        .optional()?
    {
        return Ok((id, false));
    }
    let status = match outcome.status {
        Status::Parsed => "parsed",
        Status::Unparseable => "unparseable",
    };
    let report = outcome.report.as_ref();
    let now = now();
    tx.prepare_cached(
        "INSERT INTO reports (sha256, path, status, error, organization, year, template, encoding,
                              report_z, ruleset, received_at, audited_at, needs_review, published,
                              year_before)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        outcome.sha256,
        outcome.path.to_string_lossy(),
        status,
        outcome.error,
        report.and_then(|r| r.organization.clone()),
        report.and_then(|r| r.year),
        report.and_then(|r| r.template).map(|t| t.as_str()),
        outcome.encoding,
        None::<Vec<u8>>,
        ruleset,
        r.received_at,
        report.map(|_| now.clone()),
        (!outcome.needs_review.is_empty())
            .then(|| serde_json::to_string(&outcome.needs_review).unwrap_or_default()),
        report.and_then(|r| r.published.clone()),
        r.audit.and_then(|(_, year_before)| year_before.column()),
    ])?;
    let id = tx.last_insert_rowid();
    if let Some(z) = r.report_z {
        tx.prepare_cached("INSERT INTO models (report_id, z) VALUES (?1, ?2)")?
            .execute(params![id, z])?;
    }
    if let Some(version) = ruleset {
        insert_findings(tx, id, &outcome.findings, version, &now)?;
        if let Some(to) = r.notify {
            insert_notice(tx, id, version, to)?;
        }
    }
    Ok((id, true))
}

/// The stored form of an outcome's report (`None`: no report), for [`Store::record_encoded`].
pub fn encode_model(outcome: &Outcome) -> Result<Option<Vec<u8>>, StoreError> {
    outcome
        .report
        .as_deref()
        .map(codec::encode)
        .transpose()
        .map_err(|message| StoreError::Corrupt { id: 0, message })
}

/// Queues a summary of report `id`'s findings of `ruleset` for `to` (`unrouted` when empty).
fn insert_notice(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    ruleset: &str,
    to: &[String],
) -> Result<(), StoreError> {
    let recipients = serde_json::to_string(to).unwrap_or_else(|_| "[]".into());
    let status = if to.is_empty() { "unrouted" } else { "pending" };
    tx.prepare_cached(
        "INSERT INTO notices (report_id, ruleset, recipients, status, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, ruleset, recipients, status, unix_ms()])?;
    Ok(())
}

fn insert_findings(
    tx: &rusqlite::Transaction<'_>,
    report_id: i64,
    findings: &[Finding],
    ruleset: &str,
    now: &str,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO findings (report_id, rule, severity, message, evidence, ruleset, created_at, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for (f, fingerprint) in findings.iter().zip(fingerprints(findings)) {
        stmt.execute(params![
            report_id,
            f.rule,
            f.severity.as_str(),
            f.message,
            f.evidence.to_string(),
            ruleset,
            now,
            fingerprint
        ])?;
    }
    Ok(())
}

/// The fingerprints of one audit's findings, in order: two about the same thing are told apart
/// by `#2`, `#3` … in the order the rules gave them.
pub fn fingerprints(findings: &[Finding]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    findings
        .iter()
        .map(|f| {
            let base = f.fingerprint();
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}#{n}")
            }
        })
        .collect()
}

/// Gives the findings stored before fingerprints existed theirs (migration 5), audit by audit.
fn fill_fingerprints(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let audits: Vec<(i64, String)> = tx
        .prepare("SELECT DISTINCT report_id, ruleset FROM findings WHERE fingerprint IS NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (report, ruleset) in audits {
        let rows: Vec<(i64, Finding)> = tx
            .prepare(
                "SELECT id, rule, severity, message, evidence FROM findings
                 WHERE report_id = ?1 AND ruleset = ?2 ORDER BY id",
            )?
            .query_map(params![report, ruleset], |r| {
                Ok((r.get(0)?, finding_at(r, 1)?))
            })?
            .collect::<Result<_, _>>()?;
        let findings: Vec<Finding> = rows.iter().map(|(_, f)| f.clone()).collect();
        for ((id, _), fp) in rows.iter().zip(fingerprints(&findings)) {
            tx.execute(
                "UPDATE findings SET fingerprint = ?2 WHERE id = ?1",
                params![id, fp],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A store with one parsed report of `org` per entry, each with a pending notice for
    /// `office@example.org`; returns the store and the notice ids.
    fn store_with_notices(dir: &Path, orgs: &[&str]) -> (Store, Vec<i64>) {
        let mut store = Store::open(&dir.join("s.sqlite")).expect("open");
        let to = ["office@example.org".to_string()];
        for (i, org) in orgs.iter().enumerate() {
            let outcome = Outcome {
                sha256: format!("sha-{i}"),
                status: Status::Parsed,
                error: None,
                report: Some(Arc::new(Report {
                    organization: Some((*org).to_string()),
                    ..Report::default()
                })),
                ..Outcome::unreadable(Path::new("r.txt"), String::new())
            };
            store
                .record(&outcome, Some(("v1", YearBefore::None)), &now(), Some(&to))
                .expect("record");
        }
        let ids = store
            .pending_notices("[\"office@example.org\"]")
            .expect("pending")
            .iter()
            .map(|n| n.id)
            .collect();
        (store, ids)
    }

    fn finding(rule: &str, message: &str) -> Finding {
        Finding {
            rule: rule.to_string(),
            severity: crate::model::Severity::Error,
            message: message.to_string(),
            evidence: serde_json::json!({}),
        }
    }

    /// The lookup of an issuer's year before, run again and again through the statement cache:
    /// re-prepared each time on a connection whose plans look at the values bound, never on
    /// one that plans stably (every read-write store, and `reaudit`'s readers).
    #[test]
    fn a_cached_lookup_is_not_prepared_again_under_stable_plans() {
        use rusqlite::StatementStatus;
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = store_with_notices(dir.path(), &["甲局", "乙局", "丙局"]);
        let sql = "SELECT r.id FROM reports r
             WHERE r.organization = ?1 AND r.year = ?2 AND r.status = 'parsed'
             ORDER BY r.id DESC LIMIT 1";
        let reprepared = |s: &Store| {
            for (org, year) in [
                ("甲局", 2023),
                ("乙局", 2024),
                ("丙局", 2022),
                ("甲局", 2021),
            ] {
                let mut stmt = s.conn.prepare_cached(sql).expect("prepare");
                let _: Option<i64> = stmt
                    .query_row(params![org, year], |r| r.get(0))
                    .optional()
                    .expect("query");
            }
            let stmt = s.conn.prepare_cached(sql).expect("prepare");
            stmt.get_status(StatementStatus::RePrepare)
        };
        let path = dir.path().join("s.sqlite");
        let plain = Store::open_read_only(&path).expect("read only");
        assert!(reprepared(&plain) > 0, "the case this guards against");
        assert_eq!(reprepared(&store), 0);
        let reader = Store::open_read_only(&path).expect("read only");
        reader.plan_stably().expect("stable plans");
        assert_eq!(reprepared(&reader), 0);
    }

    /// A rule set's rules' digests come back as recorded; a rule set recorded before rules had
    /// digests, or never recorded, has none.
    #[test]
    fn rule_digests_are_read_back_only_when_every_rule_has_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("s.sqlite")).expect("open");
        store
            .record_ruleset(
                "v1",
                &serde_json::json!([{"id": "a", "digest": "0a"}, {"id": "b", "digest": "0b"}]),
                &[],
            )
            .expect("record");
        store
            .record_ruleset(
                "v0",
                &serde_json::json!([{"id": "a"}, {"id": "b", "digest": "0b"}]),
                &[],
            )
            .expect("record");
        let v1 = store.rule_digests("v1").expect("read").expect("digests");
        assert_eq!(v1.len(), 2);
        assert_eq!(v1["a"], "0a");
        assert_eq!(v1["b"], "0b");
        assert_eq!(store.rule_digests("v0").expect("read"), None);
        assert_eq!(store.rule_digests("v9").expect("read"), None);
    }

    /// A re-audit batch is read and written in one go: each report's current findings and
    /// corrections come back under its own id, and the batch's new findings are recorded for
    /// the reports not yet audited under their key, and only for those.
    #[test]
    fn a_reaudit_batch_reads_and_records_each_report_under_its_own_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = store_with_notices(dir.path(), &["甲局", "乙局", "丙局"]);
        let ids: Vec<i64> = store
            .conn
            .prepare("SELECT id FROM reports ORDER BY id")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .expect("ids");
        assert_eq!(ids.len(), 3);
        let v1 = [finding("t3-balance", "甲")];
        assert!(store
            .record_reaudit(ids[0], &v1, "v1b", YearBefore::None, None)
            .expect("record"));
        let fix = store
            .add_correction(
                &Scope::all(),
                ids[2],
                ("table3", "new_received", "total"),
                Some("8"),
                3.0,
                None,
                "审核员",
            )
            .expect("correct");
        assert!(fix.is_some());

        let before = store.current_findings_of(&ids).expect("findings");
        assert_eq!(before.get(&ids[0]), Some(&v1.to_vec()));
        assert!(
            !before.contains_key(&ids[1]),
            "no findings recorded for 乙局"
        );
        let corrections = store.corrections_of(&ids).expect("corrections");
        assert_eq!(corrections.len(), 1);
        assert_eq!(corrections[&ids[2]][0].value, 3.0);

        let (a, b) = (
            [finding("t4-totals", "甲二")],
            [finding("t3-balance", "乙")],
        );
        let done = store
            .record_reaudits(&[
                Reaudit {
                    id: ids[0],
                    findings: &a,
                    ruleset: "v2",
                    year_before: YearBefore::Report(ids[1]),
                    notify: None,
                },
                Reaudit {
                    id: ids[1],
                    findings: &b,
                    ruleset: "v1",
                    year_before: YearBefore::Report(ids[0]),
                    notify: None,
                },
                Reaudit {
                    id: ids[2],
                    findings: &[],
                    ruleset: "v2",
                    year_before: YearBefore::Unknown,
                    notify: None,
                },
            ])
            .expect("record batch");
        // 乙局 was audited under v1 already: nothing recorded for it.
        assert_eq!(done, vec![true, false, true]);
        let after = store.current_findings_of(&ids).expect("findings");
        assert_eq!(after.get(&ids[0]), Some(&a.to_vec()));
        assert!(!after.contains_key(&ids[1]) && !after.contains_key(&ids[2]));
        // With each audit, the year before its rules were given; 乙局's stays as it was.
        let last = store.last_audits(&ids).expect("last audits");
        let audit = |ruleset: &str, year_before| LastAudit {
            ruleset: Some(ruleset.to_string()),
            year_before,
        };
        assert_eq!(last[&ids[0]], audit("v2", YearBefore::Report(ids[1])));
        assert_eq!(last[&ids[1]], audit("v1", YearBefore::None));
        assert_eq!(last[&ids[2]], audit("v2", YearBefore::Unknown));
    }

    fn status_of(store: &Store, id: i64) -> (String, i64, i64, Option<String>) {
        store
            .conn
            .query_row(
                "SELECT status, attempts, next_attempt_ms, last_error FROM notices WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("notice")
    }

    #[test]
    fn retry_makes_pending_notices_due_now_and_leaves_the_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, ids) = store_with_notices(dir.path(), &["甲市", "乙县", "丙区"]);
        store
            .mark_retry(&ids[..2], "transient error (421)", i64::MAX)
            .expect("retry");
        store
            .mark_failed(&ids[2..], "permanent (550)")
            .expect("failed");
        assert_eq!(store.retry_pending_now().expect("retry now"), 2);
        for id in &ids[..2] {
            let (status, attempts, next, error) = status_of(&store, *id);
            assert_eq!((status.as_str(), attempts, next), ("pending", 1, 0));
            assert_eq!(error.as_deref(), Some("transient error (421)"));
        }
        // A failed notice is not touched by a plain retry.
        assert_eq!(status_of(&store, ids[2]).0, "failed");
        assert_eq!(store.waiting(1).expect("waiting"), (2, vec![1]));
    }

    #[test]
    fn retry_failed_puts_failed_notices_back_and_names_their_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, ids) = store_with_notices(dir.path(), &["甲市", "乙县", "丙区"]);
        store
            .mark_failed(&ids[1..], "552 too much mail data")
            .expect("failed");
        store
            .mark_sent(&ids[..1], "[\"office@example.org\"]", "s", "<id>", 1)
            .expect("sent");
        assert_eq!(store.mail_errors(10).expect("errors").len(), 2);

        let back = store.retry_failed().expect("retry failed");
        let named: Vec<(i64, Option<&str>, &str)> = back
            .iter()
            .map(|n| (n.report_id, n.organization.as_deref(), n.status.as_str()))
            .collect();
        assert_eq!(
            named,
            [(3, Some("丙区"), "failed"), (2, Some("乙县"), "failed")]
        );
        for id in &ids[1..] {
            let (status, attempts, next, error) = status_of(&store, *id);
            assert_eq!((status.as_str(), attempts, next), ("pending", 0, 0));
            assert_eq!(error.as_deref(), Some("552 too much mail data"), "kept");
        }
        assert_eq!(status_of(&store, ids[0]).0, "sent");
        // The error stays readable for `status` while the notice waits.
        let errors = store.mail_errors(10).expect("errors");
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.status == "pending"));
        assert!(store.retry_failed().expect("again").is_empty());
        assert_eq!(store.notice_counts().expect("counts")["pending"], 2);
    }

    #[test]
    fn waiting_counts_pending_notices_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = store_with_notices(dir.path(), &["甲市", "乙县", "丙区"]);
        assert_eq!(store.waiting(2).expect("waiting"), (3, vec![1, 2]));
        // A store whose notices cannot be read says so.
        store
            .conn
            .execute_batch("ALTER TABLE notices RENAME TO notices_away")
            .expect("rename");
        let e = store.waiting(2).expect_err("unreadable").to_string();
        assert!(e.contains("no such table: notices"), "{e}");
    }

    /// A store written with the models as JSON (schema 8) is migrated, its models read as they
    /// are, then converted a batch at a time — interrupted and taken up again — and read the
    /// same; the publication date reaches its column, and a model that cannot be read stays.
    #[test]
    fn a_store_of_schema_8_is_compacted_in_place_and_reads_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        let mut reports = seed_reports();
        reports[0].published = Some("2021-01-20".into());
        assert_eq!(reports.len(), 5);
        {
            let conn = old_store(&path, 8, &reports, "report_json", |r| {
                serde_json::to_string(r).expect("json").into()
            });
            conn.execute(
                "INSERT INTO reports (sha256, path, status, organization, year, report_json, received_at)
                 VALUES ('bad', 'bad.txt', 'parsed', 'x', 2020, '{not json', '2026-01-01T00:00:00Z')",
                [],
            )
            .expect("damaged row");
        }
        let read_all = |store: &Store| read_back(store, &reports);
        let mut store = Store::open(&path).expect("migrated");
        assert_eq!(read_all(&store), reports, "JSON models read as they are");
        let published: Option<String> = store
            .conn
            .query_row("SELECT published FROM reports WHERE id = 1", [], |r| {
                r.get(0)
            })
            .expect("published");
        assert_eq!(published.as_deref(), Some("2021-01-20"));
        // Two rows, then the store closed (an interruption), then the rest.
        assert_eq!(store.compact_models(2).expect("batch"), 2);
        drop(store);
        let mut store = Store::open(&path).expect("reopened");
        assert_eq!(read_all(&store), reports, "half converted");
        while store.compact_models(2).expect("batch") > 0 {}
        assert_eq!(read_all(&store), reports, "all converted");
        let left: i64 = store
            .conn
            .query_row(
                "SELECT COUNT(*) FROM reports WHERE report_json IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(left, 1, "only the damaged one keeps its JSON");
        assert_eq!(store.compact_models(10).expect("nothing left"), 0);
    }

    fn seeds_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds")
    }

    /// The five seed reports as the parser reads them.
    fn seed_reports() -> Vec<Report> {
        let mut reports = Vec::new();
        for e in std::fs::read_dir(seeds_dir()).expect("seeds").flatten() {
            if let Some(r) = crate::pipeline::read_file(&e.path()).report {
                reports.push((*r).clone());
            }
        }
        reports
    }

    /// An empty store as schema `version` left it (the first `version` migrations).
    fn store_of_schema(path: &Path, version: usize) -> Connection {
        let conn = Connection::open(path).expect("open");
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.pragma_update(None, "user_version", version as i64)
            .expect("version");
        conn
    }

    /// A store of schema `version` holding `reports` as that version stored them: each one's
    /// model, made by `stored`, in `column` of its row.
    fn old_store(
        path: &Path,
        version: usize,
        reports: &[Report],
        column: &str,
        stored: impl Fn(&Report) -> rusqlite::types::Value,
    ) -> Connection {
        let conn = store_of_schema(path, version);
        for (i, r) in reports.iter().enumerate() {
            conn.execute(
                &format!(
                    "INSERT INTO reports (sha256, path, status, organization, year, {column}, received_at, ruleset)
                     VALUES (?1, ?2, 'parsed', ?3, ?4, ?5, '2026-01-01T00:00:00Z', 'v1')"
                ),
                params![format!("sha{i}"), format!("{i}.txt"), r.organization, r.year, stored(r)],
            )
            .expect("old row");
        }
        conn
    }

    /// Each of `reports` as the store gives it back, by issuer and year.
    fn read_back(store: &Store, reports: &[Report]) -> Vec<Report> {
        reports
            .iter()
            .map(|r| {
                store
                    .report_of(
                        r.organization.as_deref().expect("org"),
                        r.year.expect("year"),
                    )
                    .expect("read")
                    .expect("stored")
            })
            .collect()
    }

    /// A store of schema 10 (compressed models in the reports' rows) opens migrated: its models
    /// are read where they are, then moved into `models` a batch at a time, an interruption
    /// included, and read the same all along; after the move, updating a report's row no
    /// longer touches its model.
    #[test]
    fn a_store_of_schema_10_has_its_models_moved_out_of_the_rows_and_reads_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        let root = seeds_dir();
        let reports = seed_reports();
        assert_eq!(reports.len(), 5);
        old_store(&path, 10, &reports, "report_z", |r| {
            codec::encode(r).expect("encode").into()
        });
        let read_all = |store: &Store| read_back(store, &reports);
        let count = |store: &Store, sql: &str| -> i64 {
            store.conn.query_row(sql, [], |r| r.get(0)).expect("count")
        };
        let mut store = Store::open(&path).expect("migrated");
        assert_eq!(read_all(&store), reports, "read in the rows");
        assert_eq!(store.parsed_ids(None).expect("ids").len(), 5);
        assert_eq!(store.compact_models(2).expect("batch"), 2);
        drop(store);
        let mut store = Store::open(&path).expect("reopened");
        assert_eq!(read_all(&store), reports, "half moved");
        assert_eq!(store.parsed_ids(None).expect("ids").len(), 5);
        while store.compact_models(2).expect("batch") > 0 {}
        assert_eq!(read_all(&store), reports, "all moved");
        assert_eq!(store.parsed_ids(None).expect("ids").len(), 5);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM models"), 5);
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM reports WHERE report_z IS NOT NULL"
            ),
            0
        );
        assert_eq!(store.compact_models(10).expect("nothing left"), 0);
        // A report stored now has its model in `models` from the start.
        let outcome = crate::pipeline::read_file(&root.join("000_32590e3cc98cb08c.txt"));
        let outcome = Outcome {
            sha256: "new".into(),
            ..outcome
        };
        let id = store
            .record(&outcome, Some(("v1", YearBefore::None)), &now(), None)
            .expect("record");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM models"), 6);
        assert_eq!(
            store.stored_models(&[id]).expect("model")[0]
                .clone()
                .decode()
                .expect("decode")
                .as_ref(),
            outcome.report.as_deref()
        );
    }

    #[test]
    fn users_are_counted_in_a_store_not_yet_migrated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        drop(store_of_schema(&path, 3));
        assert_eq!(count_users(&path).expect("no users table yet"), 0);
        let store = Store::open(&path).expect("migrated");
        store
            .put_user("wang", "$argon2id$x", crate::config::Role::Admin, &[])
            .expect("user");
        assert_eq!(count_users(&path).expect("count"), 1);
    }

    #[test]
    fn a_store_of_schema_4_gains_fingerprints_for_the_findings_it_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        let finding = |message: &str| Finding {
            rule: "t3-column-total".into(),
            severity: crate::model::Severity::Error,
            message: message.into(),
            evidence: serde_json::json!({"cells": [{"table": "table3", "row": "granted", "column": "total", "wrong": true}]}),
        };
        {
            let conn = store_of_schema(&path, 4);
            conn.execute(
                "INSERT INTO reports (id, sha256, path, status, received_at, ruleset) VALUES (1, 'abc', 'a.txt', 'parsed', 'x', 'v1')",
                [],
            )
            .expect("old report");
            for m in ["总计为15", "总计为16"] {
                let f = finding(m);
                conn.execute(
                    "INSERT INTO findings (report_id, rule, severity, message, evidence, ruleset, created_at)
                     VALUES (1, ?1, 'error', ?2, ?3, 'v1', 'x')",
                    params![f.rule, f.message, f.evidence.to_string()],
                )
                .expect("old finding");
            }
        }
        let store = Store::open(&path).expect("migrated");
        let prints: Vec<String> = store
            .conn
            .prepare("SELECT fingerprint FROM findings ORDER BY id")
            .expect("q")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("fingerprints");
        let base = finding("any wording").fingerprint();
        // The same cell in both: the second is told apart; the wording plays no part.
        assert_eq!(prints, [base.clone(), format!("{base}#2")]);
    }

    #[test]
    fn a_store_of_schema_2_gains_the_review_column_and_keeps_its_reports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        {
            let conn = store_of_schema(&path, 2);
            conn.execute(
                "INSERT INTO reports (sha256, path, status, received_at) VALUES ('abc', 'a.txt', 'unparseable', 'x')",
                [],
            )
            .expect("old row");
        }
        let store = Store::open(&path).expect("migrated");
        let (version, review): (i64, Option<String>) = (
            store
                .conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .expect("version"),
            store
                .conn
                .query_row(
                    "SELECT needs_review FROM reports WHERE sha256 = 'abc'",
                    [],
                    |r| r.get(0),
                )
                .expect("row kept"),
        );
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(review, None);
    }

    /// The register's version moves with every change to the units, by this store or by any
    /// other writer (a plain SQL update included), and not otherwise; a store of schema 9 with
    /// a register gains the counter on opening and keeps its units.
    #[test]
    fn the_registers_version_moves_with_every_change_of_the_units() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.sqlite");
        {
            let conn = store_of_schema(&path, 9);
            conn.execute(
                "INSERT INTO units (name, kind) VALUES ('清河县人民政府', 'government')",
                [],
            )
            .expect("old unit");
        }
        let mut store = Store::open(&path).expect("migrated");
        assert_eq!(store.units().expect("units").len(), 1);
        let v0 = store.units_version().expect("version");
        let unit = |name: &str, email: &str| crate::store::NewUnit {
            name: name.to_string(),
            aliases: Vec::new(),
            kind: crate::store::UnitKind::Government,
            parent: None,
            emails: vec![email.to_string()],
        };
        store
            .replace_units(&[unit("清河县人民政府", "a@example.org")])
            .expect("replace");
        let v1 = store.units_version().expect("version");
        assert_ne!(v1, v0);
        // Writing other tables moves nothing.
        store
            .record_ruleset("v", &serde_json::json!([]), &[])
            .expect("other write");
        assert_eq!(
            store.units_version().expect("version"),
            v1,
            "other tables: no change"
        );
        let other = Connection::open(&path).expect("second connection");
        other
            .execute("UPDATE units SET emails = '[\"b@example.org\"]'", [])
            .expect("update");
        let v2 = store.units_version().expect("version");
        assert_ne!(v2, v1, "a change by another connection");
        other.execute("DELETE FROM units", []).expect("delete");
        assert_ne!(store.units_version().expect("version"), v2);
    }
}
