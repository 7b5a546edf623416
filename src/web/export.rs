//! Exports of a list, with its filters and within the reader's scope: the reports as CSV, their
//! findings as CSV, and the mail's workbook (`.xlsx`: findings and table 3 of every report).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::auth::Who;
use super::pages::{status_zh, ListQuery};
use super::{App, Failure};
use crate::present::{csv_field, ShownReport};
use crate::store::{ReportFilter, ReportRow, Scope, Store, StoreError};

/// Reports one export takes at most.
const MAX_EXPORTED: usize = 100_000;
/// Reports the workbook takes at most (each brings its table 3).
const MAX_WORKBOOK: usize = 5_000;

/// Every report matching the filter, page by page.
fn all_rows(
    store: &Store,
    scope: &Scope,
    filter: &ReportFilter,
    limit: usize,
) -> Result<Vec<ReportRow>, StoreError> {
    let mut filter = filter.clone();
    filter.after = None;
    let mut out = Vec::new();
    loop {
        let page = store.list_reports(scope, &filter, 1000)?;
        out.extend(page.rows);
        match page.next {
            Some(next) if out.len() < limit => filter.after = Some(next),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// A CSV field that a spreadsheet will not take for a formula: report content is hostile.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        csv_field(&format!("'{s}"))
    } else {
        csv_field(s)
    }
}

fn download(content_type: &'static str, name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn reports_csv(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    let filter = q.filter()?;
    let scope = who.scope.clone();
    let rows = app
        .read(move |s| all_rows(s, &scope, &filter, MAX_EXPORTED))
        .await?;
    // A byte-order mark, so that spreadsheet programs read the Chinese as UTF-8.
    let mut out = String::from(
        "\u{feff}id,发布机关,年度,状态,文件,收到时间,表格样式,错误,警告,提示,需人工核对,原因\r\n",
    );
    for r in &rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            r.id,
            cell(r.organization.as_deref().unwrap_or("")),
            r.year.map_or(String::new(), |y| y.to_string()),
            status_zh(&r.status),
            cell(&r.file),
            r.received_at,
            r.template.as_deref().unwrap_or(""),
            r.errors,
            r.warnings,
            r.infos,
            if r.needs_review { "是" } else { "" },
            r.corrected,
            cell(r.error.as_deref().unwrap_or("")),
        ));
    }
    Ok(download(
        "text/csv; charset=utf-8",
        "reports.csv",
        out.into_bytes(),
    ))
}

/// The reports matching a list's filter as the mail shows them, with their current findings.
fn shown(
    store: &Store,
    scope: &Scope,
    filter: &ReportFilter,
    limit: usize,
) -> Result<Vec<ShownReport>, StoreError> {
    let mut out = Vec::new();
    let mut titles = crate::present::TitleCache::default();
    for row in all_rows(store, scope, filter, limit)? {
        let Some(stored) = store.stored_report(scope, row.id)? else {
            continue;
        };
        out.push(match &stored.ruleset {
            Some(audit) => crate::present::stored_report(store, &mut titles, row.id, audit, None)?,
            None => ShownReport::new(row.id, None, &stored.path, &[], &Default::default()),
        });
    }
    Ok(out)
}

pub(crate) async fn findings_csv(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    let filter = q.filter()?;
    let scope = who.scope.clone();
    let reports = app
        .read(move |s| shown(s, &scope, &filter, MAX_EXPORTED))
        .await?;
    let mut out = String::from(
        "\u{feff}report_id,发布机关,年度,文件,规则,问题,严重程度,说明,涉及的格,原文\r\n",
    );
    for r in &reports {
        for f in &r.findings {
            let (quotes, cells) = (f.quoted_sentences(), f.cells_line());
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\r\n",
                r.id,
                cell(&r.organization),
                r.year,
                cell(&r.file),
                cell(&f.rule),
                cell(&f.title),
                f.severity_zh,
                cell(&f.message),
                cell(&cells),
                cell(&quotes.join(" / ")),
            ));
        }
    }
    Ok(download(
        "text/csv; charset=utf-8",
        "findings.csv",
        out.into_bytes(),
    ))
}

pub(crate) async fn findings_xlsx(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    let filter = q.filter()?;
    let scope = who.scope.clone();
    let reports = app
        .read(move |s| shown(s, &scope, &filter, MAX_WORKBOOK))
        .await?;
    let bytes = tokio::task::spawn_blocking(move || crate::workbook::workbook(&reports))
        .await
        .map_err(|e| Failure::Internal(e.to_string()))?
        .map_err(|e| Failure::Internal(e.to_string()))?;
    Ok(download(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "findings.xlsx",
        bytes,
    ))
}
