//! What the web console reads: lists of reports filtered and paginated by index, the overview's
//! counts, one report with its findings and history, one issuer over the years, the rule set.
//!
//! Every query takes the reader's scope (issuer patterns) and applies it in SQL, so that a
//! scoped user never receives a row outside it, on any page or export.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::Serialize;

use super::{Store, StoreError, HAS_MODEL, MODEL_Z};
use crate::model::{Finding, Report, Severity};

/// Issuer patterns (`淮南市*`: `*` any run, `?` one character) a reader may see; empty: all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(pub Vec<String>);

impl Scope {
    /// Everything: no restriction.
    pub fn all() -> Scope {
        Scope(Vec::new())
    }

    pub fn is_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether an issuer is inside (a report without an issuer is inside only the whole scope).
    pub fn allows(&self, organization: Option<&str>) -> bool {
        if self.is_all() {
            return true;
        }
        let Some(org) = organization else {
            return false;
        };
        self.0.iter().any(|p| glob_match(p, org))
    }

    /// `AND (…)` restricting `r.organization` to the scope, its patterns pushed onto `args`.
    pub(super) fn sql(&self, args: &mut Vec<Value>) -> String {
        if self.is_all() {
            return String::new();
        }
        let mut parts = Vec::new();
        for p in &self.0 {
            args.push(Value::Text(sqlite_glob(p)));
            parts.push(format!("r.organization GLOB ?{}", args.len()));
        }
        format!(" AND ({})", parts.join(" OR "))
    }
}

/// A scope pattern as SQLite's GLOB reads it: `*` and `?` as they are, `[` taken literally.
fn sqlite_glob(pattern: &str) -> String {
    pattern.replace('[', "[[]")
}

/// `*` any run of characters, `?` one, everything else itself; the whole text must match.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// How the reports list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Newest first (by arrival).
    #[default]
    Newest,
    /// By issuer, then arrival.
    Issuer,
    /// Latest report year first, then newest.
    Year,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "" | "newest" => Some(Sort::Newest),
            "issuer" => Some(Sort::Issuer),
            "year" => Some(Sort::Year),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Issuer => "issuer",
            Sort::Year => "year",
        }
    }
}

/// Which reports a list shows.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    /// Issuer contains this text.
    pub issuer: Option<String>,
    pub year: Option<i32>,
    /// `parsed`, `unparseable` or `error`.
    pub status: Option<String>,
    /// Has a current finding of this severity or above.
    pub severity: Option<Severity>,
    /// Has a current finding of this rule.
    pub rule: Option<String>,
    /// Only reports whose tables a person should look at.
    pub needs_review: bool,
    pub sort: Sort,
    /// The cursor of the page to show (from the previous page's last row); `None`: the first.
    pub after: Option<String>,
}

/// A report as a list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub id: i64,
    pub organization: Option<String>,
    pub year: Option<i64>,
    pub status: String,
    /// The file name as dropped.
    pub file: String,
    pub received_at: String,
    pub template: Option<String>,
    pub errors: i64,
    pub warnings: i64,
    pub infos: i64,
    pub needs_review: bool,
    /// Why it was not read (quarantined reports).
    pub error: Option<String>,
    /// Cells a reviewer corrected.
    pub corrected: i64,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub rows: Vec<ReportRow>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// Counts per issuer for the overview.
#[derive(Debug, Clone, Serialize)]
pub struct OfficeRow {
    pub organization: String,
    pub reports: i64,
    pub errors: i64,
    pub warnings: i64,
    pub needs_review: i64,
}

/// The overview page's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub by_status: Vec<(String, i64)>,
    pub by_severity: Vec<(String, i64)>,
    /// (rule, severity, findings, reports).
    pub by_rule: Vec<(String, String, i64, i64)>,
    pub offices: Vec<OfficeRow>,
    pub latest: Vec<ReportRow>,
    /// Reports not read, with the reason (only for readers of the whole scope).
    pub quarantine: Vec<ReportRow>,
    pub needs_review: i64,
}

/// The overview's counts of current findings (see [`Store::overview`]).
struct FindingCounts {
    by_severity: BTreeMap<String, i64>,
    /// (rule, worst severity, findings, reports), most reports first.
    by_rule: Vec<(String, String, i64, i64)>,
    /// Errors and warnings per issuer.
    offices: HashMap<String, (i64, i64)>,
}

/// One stored report with everything its page shows.
#[derive(Debug, Clone)]
pub struct StoredReport {
    pub row: ReportRow,
    pub sha256: String,
    pub path: String,
    /// Where the file was moved (archive or quarantine), once it was.
    pub stored_path: Option<String>,
    pub encoding: Option<String>,
    pub audited_at: Option<String>,
    pub ruleset: Option<String>,
    pub report: Option<Report>,
    /// The findings of its latest audit.
    pub findings: Vec<Finding>,
}

/// One audit of a report: the rule set it ran with, when, and how many findings it gave.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub ruleset: String,
    pub at: String,
    pub findings: i64,
    pub current: bool,
}

/// A rule set as recorded at its load.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSetRecord {
    pub version: String,
    pub loaded_at: String,
    pub rules: serde_json::Value,
    pub errors: Vec<String>,
}

/// A load or reload of the rules.
#[derive(Debug, Clone, Serialize)]
pub struct Reload {
    pub at: String,
    /// The version that became active; `None`: the rules had errors and the previous set stayed.
    pub version: Option<String>,
    pub errors: Vec<String>,
}

/// The columns a [`ReportRow`] is read from (`r` is the report); the counts are of the
/// current audit's findings.
const ROW_COLUMNS: &str = "r.id, r.organization, r.year, r.status, r.path, r.received_at, r.template,
    (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset AND f.severity = 'error'),
    (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset AND f.severity = 'warning'),
    (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset AND f.severity = 'info'),
    r.needs_review IS NOT NULL, r.error,
    (SELECT COUNT(DISTINCT c.tbl || c.row || '/' || c.col) FROM corrections c WHERE c.report_id = r.id)";

/// Every report's current findings (those of its latest audit), as `r` and `f`. The reports
/// come first, read from an index that holds their `ruleset` (`CROSS JOIN` keeps SQLite to that
/// order): taken the other way round, each finding would fetch its report's whole row, ~50 KB
/// with its JSON, to read `ruleset`: 1.5 s a count at 100,000 reports instead of 0.2 s.
const CURRENT_FINDINGS: &str =
    "reports r CROSS JOIN findings f ON f.report_id = r.id AND f.ruleset = r.ruleset";

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    let path: String = r.get(4)?;
    Ok(ReportRow {
        id: r.get(0)?,
        organization: r.get(1)?,
        year: r.get(2)?,
        status: r.get(3)?,
        file: std::path::Path::new(&path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned()),
        received_at: r.get(5)?,
        template: r.get(6)?,
        errors: r.get(7)?,
        warnings: r.get(8)?,
        infos: r.get(9)?,
        needs_review: r.get(10)?,
        error: r.get(11)?,
        corrected: r.get(12)?,
    })
}

/// Column `i` of a row as text, without a copy.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Severities at or above `min`, as stored.
fn at_or_above(min: Severity) -> Vec<&'static str> {
    [Severity::Error, Severity::Warning, Severity::Info]
        .into_iter()
        .filter(|s| *s >= min)
        .map(Severity::as_str)
        .collect()
}

/// The sort key a cursor holds, as SQL over `r`.
fn sort_key(sort: Sort) -> &'static str {
    match sort {
        Sort::Newest => "r.id",
        Sort::Issuer => "COALESCE(r.organization, '')",
        Sort::Year => "COALESCE(r.year, 0)",
    }
}

impl Store {
    /// One page of reports matching `filter` inside `scope`, `limit` rows at most. Pages follow
    /// each other by the last row's sort key and id (never by offset), so a page costs the same
    /// at the end of 100,000 reports as at the start.
    ///
    /// The page's ids are found first, from what the indexes hold (every column a filter or an
    /// order reads is in `reports_list`, `reports_by_issuer`, `reports_by_year` and
    /// `findings_current`), and only then are the rows of those ids read. As one query, SQLite
    /// reads the whole row (~50 KB with its JSON) of every report it looks at, and a filter
    /// that most reports fail looks at all of them.
    pub fn list_reports(
        &self,
        scope: &Scope,
        filter: &ReportFilter,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let key = sort_key(filter.sort);
        let mut args: Vec<Value> = Vec::new();
        let mut sql = format!(
            "WITH page (id, k) AS MATERIALIZED (SELECT r.id, {key} FROM reports r WHERE 1 = 1"
        );
        sql.push_str(&scope.sql(&mut args));
        if let Some(issuer) = filter.issuer.as_deref().filter(|s| !s.is_empty()) {
            args.push(Value::Text(issuer.to_string()));
            sql.push_str(&format!(" AND instr(r.organization, ?{}) > 0", args.len()));
        }
        if let Some(year) = filter.year {
            args.push(Value::Integer(i64::from(year)));
            sql.push_str(&format!(" AND r.year = ?{}", args.len()));
        }
        if let Some(status) = &filter.status {
            args.push(Value::Text(status.clone()));
            sql.push_str(&format!(" AND r.status = ?{}", args.len()));
        }
        if filter.needs_review {
            sql.push_str(" AND r.needs_review IS NOT NULL");
        }
        if filter.severity.is_some() || filter.rule.is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset",
            );
            if let Some(min) = filter.severity {
                let list: Vec<String> = at_or_above(min)
                    .into_iter()
                    .map(|s| format!("'{s}'"))
                    .collect();
                sql.push_str(&format!(" AND f.severity IN ({})", list.join(", ")));
            }
            if let Some(rule) = &filter.rule {
                args.push(Value::Text(rule.clone()));
                sql.push_str(&format!(" AND f.rule = ?{}", args.len()));
            }
            sql.push(')');
        }
        // Newest and year run downwards, issuer upwards; ties by id in the same direction.
        let (cmp, dir) = match filter.sort {
            Sort::Issuer => (">", "ASC"),
            Sort::Newest | Sort::Year => ("<", "DESC"),
        };
        if let Some(cursor) = filter.after.as_deref().and_then(Cursor::parse) {
            args.push(cursor.key_value(filter.sort));
            let k = args.len();
            if filter.sort == Sort::Newest {
                // The key is the id.
                sql.push_str(&format!(" AND r.id {cmp} ?{k}"));
            } else {
                args.push(Value::Integer(cursor.id));
                let i = args.len();
                // The first condition alone is what SQLite seeks to in the index of the order
                // (`reports_by_issuer`, `reports_by_year`); the second is the exact one.
                sql.push_str(&format!(
                    " AND {key} {cmp}= ?{k} AND ({key}, r.id) {cmp} (?{k}, ?{i})"
                ));
            }
        }
        sql.push_str(&format!(
            " ORDER BY {key} {dir}, r.id {dir} LIMIT {})
             SELECT {ROW_COLUMNS} FROM page p JOIN reports r ON r.id = p.id
             ORDER BY p.k {dir}, p.id {dir}",
            limit + 1
        ));
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows: Vec<ReportRow> = stmt
            .query_map(params_from_iter(args.iter()), report_row)?
            .collect::<Result<_, _>>()?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| Cursor::of(r, filter.sort).to_string())
        } else {
            None
        };
        Ok(Page { rows, next })
    }

    /// The overview's counts inside `scope`.
    pub fn overview(&self, scope: &Scope) -> Result<Overview, StoreError> {
        let mut args = Vec::new();
        let within = scope.sql(&mut args);
        let pairs = |sql: &str| -> Result<Vec<(String, i64)>, StoreError> {
            let mut stmt = self.conn.prepare(sql)?;
            let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let by_status = pairs(&format!(
            "SELECT r.status, COUNT(*) FROM reports r WHERE 1 = 1{within} GROUP BY r.status ORDER BY r.status"
        ))?;
        let counted = self.count_current_findings(&within, &args)?;
        // Reports and those to review per issuer, from `reports_org` alone.
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.organization, COUNT(*), SUM(r.needs_review IS NOT NULL)
             FROM reports r WHERE r.organization IS NOT NULL{within} GROUP BY r.organization"
        ))?;
        let mut offices: Vec<OfficeRow> = stmt
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(OfficeRow {
                    organization: r.get(0)?,
                    reports: r.get(1)?,
                    errors: 0,
                    warnings: 0,
                    needs_review: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        for o in &mut offices {
            if let Some((errors, warnings)) = counted.offices.get(&o.organization) {
                (o.errors, o.warnings) = (*errors, *warnings);
            }
        }
        offices.sort_by(|a, b| {
            (b.errors, b.warnings)
                .cmp(&(a.errors, a.warnings))
                .then_with(|| a.organization.cmp(&b.organization))
        });
        offices.truncate(200);
        let latest = self.list_reports(scope, &ReportFilter::default(), 10)?.rows;
        let quarantine = if scope.is_all() {
            self.list_reports(
                scope,
                &ReportFilter {
                    status: Some("unparseable".into()),
                    ..ReportFilter::default()
                },
                50,
            )?
            .rows
        } else {
            Vec::new()
        };
        let needs_review: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM reports r WHERE r.needs_review IS NOT NULL{within}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        Ok(Overview {
            by_status,
            by_severity: counted.by_severity.into_iter().collect(),
            by_rule: counted.by_rule,
            offices,
            latest,
            quarantine,
            needs_review,
        })
    }

    /// The overview's counts of current findings — by severity, by rule, and errors and
    /// warnings by issuer — in one pass over them, report by report (`within`: the scope's
    /// condition on `r`, its patterns in `args`). As three `GROUP BY` queries, even on the same
    /// indexes, SQLite sorted every finding three times: 1.3 s at 100,000 reports (540,000
    /// findings) against 0.4 s.
    fn count_current_findings(
        &self,
        within: &str,
        args: &[Value],
    ) -> Result<FindingCounts, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.id, r.organization, f.rule, f.severity FROM {CURRENT_FINDINGS} WHERE 1 = 1{within}"
        ))?;
        let mut rows = stmt.query(params_from_iter(args.iter()))?;
        let mut by_severity: BTreeMap<String, i64> = BTreeMap::new();
        // (rule, worst severity, findings, reports, the last report counted).
        let mut rules: Vec<(String, Severity, i64, i64, i64)> = Vec::new();
        let mut offices: HashMap<String, (i64, i64)> = HashMap::new();
        // The report in hand: its id, issuer and errors and warnings so far.
        let mut report: Option<(i64, Option<String>, i64, i64)> = None;
        let mut flush = |report: Option<(i64, Option<String>, i64, i64)>| {
            if let Some((_, Some(org), errors, warnings)) = report {
                let o = offices.entry(org).or_default();
                o.0 += errors;
                o.1 += warnings;
            }
        };
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if report.as_ref().is_none_or(|r| r.0 != id) {
                flush(report.take());
                report = Some((id, row.get(1)?, 0, 0));
            }
            let rule = text(row, 2)?;
            let severity_text = text(row, 3)?;
            let severity = severity_text.parse().unwrap_or(Severity::Info);
            match by_severity.get_mut(severity_text) {
                Some(n) => *n += 1,
                None => {
                    by_severity.insert(severity_text.to_string(), 1);
                }
            }
            if let Some(r) = report.as_mut() {
                match severity {
                    Severity::Error => r.2 += 1,
                    Severity::Warning => r.3 += 1,
                    _ => {}
                }
            }
            let i = match rules.iter().position(|r| r.0 == rule) {
                Some(i) => i,
                None => {
                    rules.push((rule.to_string(), severity, 0, 0, i64::MIN));
                    rules.len() - 1
                }
            };
            let r = &mut rules[i];
            r.1 = r.1.max(severity);
            r.2 += 1;
            // The rows of one report come together (reports are the outer loop).
            if r.4 != id {
                r.3 += 1;
                r.4 = id;
            }
        }
        flush(report);
        rules.sort_by(|a, b| b.3.cmp(&a.3).then_with(|| a.0.cmp(&b.0)));
        Ok(FindingCounts {
            by_severity,
            by_rule: rules
                .into_iter()
                .map(|(rule, worst, findings, reports, _)| {
                    (rule, worst.as_str().to_string(), findings, reports)
                })
                .collect(),
            offices,
        })
    }

    /// One report with its model and current findings, if it exists inside `scope`.
    pub fn stored_report(
        &self,
        scope: &Scope,
        id: i64,
    ) -> Result<Option<StoredReport>, StoreError> {
        let mut args = vec![Value::Integer(id)];
        let within = scope.sql(&mut args);
        let found = self
            .conn
            .query_row(
                &format!(
                    "SELECT {ROW_COLUMNS}, r.sha256, r.path, r.stored_path, r.encoding, r.audited_at,
                            r.ruleset, r.report_json, {MODEL_Z}
                     FROM reports r WHERE r.id = ?1{within}"
                ),
                params_from_iter(args.iter()),
                |r| {
                    Ok((
                        report_row(r)?,
                        r.get::<_, String>(13)?,
                        r.get::<_, String>(14)?,
                        r.get::<_, Option<String>>(15)?,
                        r.get::<_, Option<String>>(16)?,
                        r.get::<_, Option<String>>(17)?,
                        r.get::<_, Option<String>>(18)?,
                        r.get::<_, Option<String>>(19)?,
                        r.get::<_, Option<Vec<u8>>>(20)?,
                    ))
                },
            )
            .optional()?;
        let Some((row, sha256, path, stored_path, encoding, audited_at, ruleset, json, z)) = found
        else {
            return Ok(None);
        };
        let report = super::model(id, json, z)?;
        let findings = match &ruleset {
            Some(version) => self.report_for_mail(id, version)?.2,
            None => Vec::new(),
        };
        Ok(Some(StoredReport {
            row,
            sha256,
            path,
            stored_path,
            encoding,
            audited_at,
            ruleset,
            report,
            findings,
        }))
    }

    /// Every audit of a report, oldest first: the rule-set versions it ran with.
    pub fn audits(&self, id: i64) -> Result<Vec<Audit>, StoreError> {
        let current: Option<String> = self
            .conn
            .query_row("SELECT ruleset FROM reports WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        let mut stmt = self.conn.prepare(
            "SELECT ruleset, MIN(created_at), COUNT(*) FROM findings WHERE report_id = ?1
             GROUP BY ruleset ORDER BY MIN(id)",
        )?;
        let mut out: Vec<Audit> = stmt
            .query_map([id], |r| {
                Ok(Audit {
                    ruleset: r.get(0)?,
                    at: r.get(1)?,
                    findings: r.get(2)?,
                    current: false,
                })
            })?
            .collect::<Result<_, _>>()?;
        if let Some(v) = &current {
            // An audit that found nothing left no finding to count.
            if !out.iter().any(|a| &a.ruleset == v) {
                let at: Option<String> = self.conn.query_row(
                    "SELECT audited_at FROM reports WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                out.push(Audit {
                    ruleset: v.clone(),
                    at: at.unwrap_or_default(),
                    findings: 0,
                    current: false,
                });
            }
            for a in &mut out {
                a.current = &a.ruleset == v;
            }
        }
        Ok(out)
    }

    /// The parsed reports of one issuer inside `scope`, by year (the newest report of a year
    /// when several were received), oldest year first.
    pub fn issuer_reports(
        &self,
        scope: &Scope,
        organization: &str,
    ) -> Result<Vec<(i64, Report)>, StoreError> {
        if !scope.allows(Some(organization)) {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT r.id, r.report_json, {MODEL_Z} FROM reports r
             WHERE r.organization = ?1 AND r.status = 'parsed' AND {HAS_MODEL}
               AND r.id = (SELECT MAX(o.id) FROM reports o WHERE o.organization = r.organization
                           AND o.year IS r.year AND o.status = 'parsed')
             ORDER BY r.year, r.id"
        ))?;
        let rows = stmt.query_map([organization], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json, z) = row?;
            if let Some(report) = super::model(id, json, z)? {
                out.push((id, report));
            }
        }
        Ok(out)
    }

    /// The rule set loaded last, as recorded.
    pub fn latest_ruleset(&self) -> Result<Option<RuleSetRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT version, loaded_at, rules, errors FROM rulesets
                 ORDER BY loaded_at DESC, rowid DESC LIMIT 1",
                [],
                |r| {
                    let rules: String = r.get(2)?;
                    let errors: String = r.get(3)?;
                    Ok(RuleSetRecord {
                        version: r.get(0)?,
                        loaded_at: r.get(1)?,
                        rules: serde_json::from_str(&rules).unwrap_or_default(),
                        errors: serde_json::from_str(&errors).unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    /// Records a load or reload of the rules: the version that became active (`None`: the
    /// changed rules had errors and the previous set stayed) and the errors.
    pub fn record_reload(
        &self,
        version: Option<&str>,
        errors: &[String],
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO reloads (at, version, errors) VALUES (?1, ?2, ?3)",
            params![
                super::now(),
                version,
                serde_json::to_string(errors).unwrap_or_default()
            ],
        )?;
        Ok(())
    }

    /// The last load or reload of the rules.
    pub fn last_reload(&self) -> Result<Option<Reload>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT at, version, errors FROM reloads ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    let errors: String = r.get(2)?;
                    Ok(Reload {
                        at: r.get(0)?,
                        version: r.get(1)?,
                        errors: serde_json::from_str(&errors).unwrap_or_default(),
                    })
                },
            )
            .optional()?)
    }

    /// Current findings per rule inside `scope`: (findings, reports).
    pub fn rule_counts(
        &self,
        scope: &Scope,
    ) -> Result<std::collections::BTreeMap<String, (i64, i64)>, StoreError> {
        let mut args = Vec::new();
        let within = scope.sql(&mut args);
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.rule, COUNT(*), COUNT(DISTINCT f.report_id) FROM {CURRENT_FINDINGS}
             WHERE 1 = 1{within} GROUP BY f.rule"
        ))?;
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The distinct report years inside `scope`, newest first (for the list's filter). Every
    /// list page shows them: each year is found by one seek in `reports_by_year` below the one
    /// before, instead of a pass over every report (15 ms at 100,000). Reports without a year
    /// are 0 in that index, below every year.
    pub fn years(&self, scope: &Scope) -> Result<Vec<i64>, StoreError> {
        let mut args = Vec::new();
        // Numbered parameters: the two copies of the scope's condition share them.
        let within = scope.sql(&mut args);
        let mut stmt = self.conn.prepare(&format!(
            "WITH RECURSIVE y (year) AS (
                 SELECT (SELECT COALESCE(r.year, 0) FROM reports r WHERE 1 = 1{within}
                         ORDER BY COALESCE(r.year, 0) DESC LIMIT 1)
                 UNION ALL
                 SELECT (SELECT COALESCE(r.year, 0) FROM reports r
                         WHERE COALESCE(r.year, 0) < y.year{within}
                         ORDER BY COALESCE(r.year, 0) DESC LIMIT 1)
                 FROM y WHERE y.year > 0)
             SELECT year FROM y WHERE year > 0"
        ))?;
        let rows = stmt.query_map(params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Where a page starts: the last row of the page before, by its sort key and id.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    key: String,
    id: i64,
}

impl Cursor {
    fn of(row: &ReportRow, sort: Sort) -> Cursor {
        let key = match sort {
            Sort::Newest => row.id.to_string(),
            Sort::Issuer => row.organization.clone().unwrap_or_default(),
            Sort::Year => row.year.unwrap_or(0).to_string(),
        };
        Cursor { key, id: row.id }
    }

    /// `id:key`, the form a link carries.
    fn parse(s: &str) -> Option<Cursor> {
        let (id, key) = s.split_once(':')?;
        Some(Cursor {
            id: id.parse().ok()?,
            key: key.to_string(),
        })
    }

    fn key_value(&self, sort: Sort) -> Value {
        match sort {
            Sort::Issuer => Value::Text(self.key.clone()),
            Sort::Newest | Sort::Year => Value::Integer(self.key.parse().unwrap_or(0)),
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("淮南市*", "淮南市人民政府办公室"));
        assert!(!glob_match("淮南市*", "安徽省淮南市"));
        assert!(glob_match("*西津街道*", "宁国市西津街道办事处"));
        assert!(glob_match("沭阳县?改局", "沭阳县发改局"));
        assert!(glob_match("烟台市人民政府", "烟台市人民政府"));
        assert!(!glob_match("烟台市人民政府", "烟台市人民政府办公室"));
        assert!(glob_match("*", ""));
        assert!(Scope::all().allows(None));
        assert!(!Scope(vec!["*".into()]).allows(None));
    }

    #[test]
    fn a_cursor_survives_its_link_form() {
        let c = Cursor {
            key: "淮南市:办公室".into(),
            id: 42,
        };
        assert_eq!(Cursor::parse(&c.to_string()), Some(c));
        assert_eq!(Cursor::parse("x:1"), None);
    }
}
