//! One report (metadata, its tables laid out like the form with the cells of each finding
//! marked, the findings with their evidence, the text with the numbers the rules read, the
//! original file, the audits), and one issuer over the years.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};

use super::auth::{encode, Who};
use super::pages::{latest_titles, status_zh};
use super::{App, Failure};
use crate::config::Role;
use crate::model::{self, label, Report, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};
use crate::present;
use crate::store::{DismissReason, ReviewState};

/// A run of a section's text: plain, or a number the rules read (with what it is).
#[derive(Debug, Serialize)]
struct Run {
    text: String,
    number: bool,
}

#[derive(Debug, Serialize)]
struct ShownSection {
    heading: String,
    /// Long sections (the tables' text) start folded.
    long: bool,
    key: &'static str,
    title: &'static str,
    runs: Vec<Run>,
}

/// The sections of a report with the numbers stated in them marked.
fn sections(report: &Report) -> Vec<ShownSection> {
    let chars: Vec<char> = report.text.chars().collect();
    let mut claims: Vec<(usize, usize)> = report
        .claims
        .iter()
        .map(|c| (c.start, c.end))
        .filter(|(s, e)| s < e && *e <= chars.len())
        .collect();
    claims.sort_unstable();
    report
        .section_text
        .iter()
        .map(|s| {
            let (mut start, end) = (s.start.min(chars.len()), s.end.min(chars.len()));
            // The heading is shown as the section's title, not again as its first line.
            let heading: Vec<char> = s.heading.chars().collect();
            if chars[start..end].starts_with(&heading) {
                start += heading.len();
            }
            while start < end && chars[start].is_whitespace() {
                start += 1;
            }
            let mut runs = Vec::new();
            let mut at = start;
            for &(cs, ce) in claims.iter().filter(|(cs, ce)| *cs >= start && *ce <= end) {
                if cs < at {
                    continue;
                }
                if cs > at {
                    runs.push(Run {
                        text: chars[at..cs].iter().collect(),
                        number: false,
                    });
                }
                runs.push(Run {
                    text: chars[cs..ce].iter().collect(),
                    number: true,
                });
                at = ce;
            }
            if at < end {
                runs.push(Run {
                    text: chars[at..end].iter().collect(),
                    number: false,
                });
            }
            ShownSection {
                long: end - start > 1500
                    || chars[start..end].iter().filter(|c| **c == '\n').count() > 30,
                heading: s.heading.clone(),
                key: s.key.as_str(),
                title: s.key.title(),
                runs,
            }
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReportQuery {
    /// The cell being corrected (`table3.granted.total`).
    edit: Option<String>,
}

/// A finding on the report's page: as shown, with its id and review.
#[derive(Debug, Serialize)]
struct PageFinding {
    f: present::ShownFinding,
    id: i64,
    state: &'static str,
    state_zh: &'static str,
    reason_zh: Option<&'static str>,
    note: Option<String>,
    by: Option<String>,
    at: Option<String>,
}

pub(crate) async fn report(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, Failure> {
    let scope = who.scope.clone();
    let loaded = app
        .read(move |s| {
            let Some(stored) = s.stored_report(&scope, id)? else {
                return Ok(None);
            };
            let titles = match &stored.ruleset {
                Some(v) => s.rule_titles(crate::store::version_of(v))?,
                None => latest_titles(s)?,
            };
            let findings = match &stored.ruleset {
                Some(audit) => s.audit_findings(id, audit)?,
                None => Vec::new(),
            };
            let reviews = s.review_list(
                &scope,
                &crate::store::ReviewFilter {
                    report: Some(id),
                    ..Default::default()
                },
            )?;
            Ok(Some((
                stored,
                s.audits(id)?,
                titles,
                findings,
                reviews,
                s.corrections(id)?,
                s.trail(&scope, Some(id))?,
            )))
        })
        .await?
        .ok_or(Failure::NotFound)?;
    let (stored, audits, titles, findings, reviews, corrections, trail) = loaded;
    // What the rules saw: the parsed tables with the reviewers' corrections.
    let corrected_report = stored.report.clone().map(|mut r| {
        for c in &corrections {
            r.correct(&c.table, &c.row, &c.column, c.value);
        }
        r
    });
    let report = corrected_report.as_ref();
    let mut ordered: Vec<&(i64, crate::model::Finding)> = findings.iter().collect();
    ordered.sort_by_key(|(_, f)| std::cmp::Reverse(f.severity));
    let (mut active, mut dismissed) = (Vec::new(), Vec::new());
    let mut marking = Vec::new();
    for (fid, finding) in ordered {
        let review = reviews.iter().find(|r| r.id == *fid);
        let state = review.map_or(ReviewState::Open, |r| r.state);
        let shown = PageFinding {
            f: present::show(finding, report, &titles),
            id: *fid,
            state: state.as_str(),
            state_zh: state.zh(),
            reason_zh: review
                .and_then(|r| r.reason.as_deref())
                .and_then(DismissReason::parse)
                .map(DismissReason::zh),
            note: review.and_then(|r| r.note.clone()),
            by: review.and_then(|r| r.by.clone()),
            at: review.and_then(|r| r.at.clone()),
        };
        if state == ReviewState::Dismissed {
            dismissed.push(shown);
        } else {
            marking.push(finding.clone());
            active.push(shown);
        }
    }
    let corrected: Vec<String> = corrections
        .iter()
        .map(|c| format!("{}.{}.{}", c.table, c.row, c.column))
        .collect();
    let tables: Vec<present::CellTable> = report
        .map(|r| {
            ["table2", "table3", "table4"]
                .iter()
                .map(|t| present::whole_table_corrected(r, t, &marking, &corrected))
                .collect()
        })
        .unwrap_or_default();
    let meta = report.map(|r| {
        minijinja::context! {
            title => r.title.clone(),
            template => r.template.map(Template::as_str),
            table2_template => r.table2_template.map(Template::as_str),
            period => r.period.as_ref().map(|p| p.text.clone()),
            address => r.contact.address.clone(),
            phones => r.contact.phones.join("、"),
            emails => r.contact.emails.join("、"),
            published => r.published.clone(),
            sections => r.sections.len(),
            warnings => r.warnings.clone(),
            review => r.review_reasons(),
        }
    });
    let shown_corrections: Vec<_> = corrections
        .iter()
        .map(|c| {
            minijinja::context! {
                cell => format!("{}“{}”/“{}”", present::table_zh(&c.table), label(&c.table, &c.row), label(&c.table, &c.column)),
                parsed => c.parsed.clone().map(|p| if p.trim().is_empty() { "空白".to_string() } else { p }).unwrap_or_else(|| "未读出".to_string()),
                value => crate::model::format_number(c.value),
                note => c.note.clone(),
                by => c.by.clone(),
                at => c.at.clone(),
            }
        })
        .collect();
    let organization = stored.row.organization.clone();
    let can_review = who.role >= Role::Reviewer && stored.row.status == "parsed";
    Ok(app.render(
        "report.html",
        &who,
        minijinja::context! {
            row => &stored.row,
            status_zh => status_zh(&stored.row.status),
            sha256 => &stored.sha256,
            encoding => &stored.encoding,
            audited_at => &stored.audited_at,
            ruleset => &stored.ruleset,
            meta => meta,
            tables => tables,
            findings => active,
            dismissed => dismissed,
            corrections => shown_corrections,
            trail => trail,
            sections => report.map(sections).unwrap_or_default(),
            audits => audits,
            issuer_link => organization.map(|o| format!("/issuer?name={}", encode(&o))),
            downloadable => stored.row.status == "parsed" || who.role >= Role::Admin,
            can_review => can_review,
            edit => q.edit.filter(|_| can_review),
        },
    ))
}

/// The report's file as it was dropped (from the archive, or the quarantine for an admin).
pub(crate) async fn file(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Path(id): Path<i64>,
) -> Result<Response, Failure> {
    let scope = who.scope.clone();
    let stored = app
        .read(move |s| s.stored_report(&scope, id))
        .await?
        .ok_or(Failure::NotFound)?;
    if stored.row.status != "parsed" {
        who.require(Role::Admin)?;
    }
    let path = stored.stored_path.clone().unwrap_or(stored.path.clone());
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!("web console: report {id}'s file {path}: {e}");
        Failure::NotFound
    })?;
    let name = &stored.row.file;
    // RFC 6266: an ASCII fallback and the real name percent-encoded.
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        encode(name).replace('/', "%2F")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct IssuerQuery {
    #[serde(default)]
    name: String,
}

/// One cell across the years.
#[derive(Debug, Serialize)]
struct YearCell {
    text: String,
    /// `up`, `down`, `same`, `unread`, or `` (no earlier year to compare).
    change: &'static str,
    delta: String,
    /// For 上年结转: whether it matches last year's 结转下年度 (`ok`, `wrong`, ``).
    carry: &'static str,
    /// Last year's 结转下年度, where it differs.
    expected: Option<i64>,
}

#[derive(Debug, Serialize)]
struct YearRow {
    label: String,
    cells: Vec<YearCell>,
}

fn cell_of(report: &Report, table: &str, row: &str, col: &str) -> (Option<i64>, String) {
    let v = report.count(table, row, col);
    let text = match v {
        Some(v) => v.to_string(),
        None if report.is_unread(table, row, col) => "未读出".to_string(),
        None => "空白".to_string(),
    };
    (v, text)
}

/// Rows of `table` over the years, one column of cells each, compared with the year before.
fn over_years(
    reports: &[(i64, Report)],
    table: &str,
    rows: &[&str],
    col: &str,
    label_of: impl Fn(&str) -> String,
) -> Vec<YearRow> {
    rows.iter()
        .map(|row| YearRow {
            label: label_of(row),
            cells: reports
                .iter()
                .enumerate()
                .map(|(i, (_, r))| {
                    let (v, text) = cell_of(r, table, row, col);
                    let before = i
                        .checked_sub(1)
                        .map(|j| &reports[j].1)
                        .filter(|p| p.year.zip(r.year).is_some_and(|(a, b)| a + 1 == b));
                    let prev = before.map(|p| cell_of(p, table, row, col).0);
                    let (change, delta) = match (v, prev) {
                        (None, _) if r.is_unread(table, row, col) => ("unread", String::new()),
                        (Some(v), Some(Some(p))) if v > p => ("up", format!("+{}", v - p)),
                        (Some(v), Some(Some(p))) if v < p => ("down", format!("{}", v - p)),
                        (Some(_), Some(Some(_))) => ("same", String::new()),
                        _ => ("", String::new()),
                    };
                    // 上年结转 against last year's 结转下年度.
                    let (carry, expected) = match (table, *row, before) {
                        ("table3", "carried_over", Some(p)) => {
                            match (v, cell_of(p, "table3", "carried_forward", col).0) {
                                (Some(a), Some(b)) if a == b => ("ok", None),
                                (Some(_), Some(b)) => ("wrong", Some(b)),
                                _ => ("", None),
                            }
                        }
                        _ => ("", None),
                    };
                    YearCell {
                        text,
                        change,
                        delta,
                        carry,
                        expected,
                    }
                })
                .collect(),
        })
        .collect()
}

pub(crate) async fn issuer(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<IssuerQuery>,
) -> Result<Response, Failure> {
    let name = q.name.trim().to_string();
    if name.is_empty() {
        return Err(Failure::BadRequest("请给出发布机关名称".to_string()));
    }
    let scope = who.scope.clone();
    let lookup = name.clone();
    let reports = app.read(move |s| s.issuer_reports(&scope, &lookup)).await?;
    if reports.is_empty() {
        return Err(Failure::NotFound);
    }
    let template = reports
        .last()
        .and_then(|(_, r)| r.template)
        .unwrap_or(Template::Y2021);
    let t3_rows = model::t3_rows(template);
    let t3 = over_years(&reports, "table3", &t3_rows, "total", |r| {
        label("table3", r)
    });
    let t4: Vec<YearRow> = T4_GROUPS
        .iter()
        .flat_map(|g| {
            let group = label("table4", g);
            T4_COLUMNS
                .iter()
                .filter(|c| **c == "total" || **c == "corrected")
                .flat_map(|c| {
                    over_years(&reports, "table4", &[*g], c, |_| {
                        format!("{group}·{}", label("table4", c))
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // 上年结转 per applicant column against the year before.
    let carry_columns: Vec<YearRow> = T3_COLUMNS
        .iter()
        .map(|c| YearRow {
            label: label("table3", c),
            cells: over_years(&reports, "table3", &["carried_over"], c, |_| String::new())
                .into_iter()
                .flat_map(|r| r.cells)
                .collect(),
        })
        .collect();
    #[derive(Serialize)]
    struct Similar {
        title: &'static str,
        /// Per year: similarity to the year before in percent, or `None`.
        values: Vec<Option<u32>>,
    }
    let similar: Vec<Similar> = model::SectionKey::ALL
        .iter()
        .map(|key| Similar {
            title: key.title(),
            values: reports
                .iter()
                .enumerate()
                .map(|(i, (_, r))| {
                    let prev = &reports[i.checked_sub(1)?].1;
                    if prev.year.zip(r.year).is_none_or(|(a, b)| a + 1 != b) {
                        return None;
                    }
                    let (a, b) = (prev.section(*key)?, r.section(*key)?);
                    Some((crate::rules::similarity(&a.text, &b.text) * 100.0).round() as u32)
                })
                .collect(),
        })
        .collect();
    let years: Vec<_> = reports
        .iter()
        .map(|(id, r)| {
            minijinja::context! {
                id => id,
                year => r.year,
                template => r.template.map(Template::as_str),
            }
        })
        .collect();
    Ok(app.render(
        "issuer.html",
        &who,
        minijinja::context! {
            name => name,
            years => years,
            t3 => t3,
            t4 => t4,
            carry => carry_columns,
            similar => similar,
        },
    ))
}
