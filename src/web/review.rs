//! The reviewer's work in the console: confirm or dismiss findings (one on the report's page,
//! many from the queue), correct a cell in place; the same store and audit functions as
//! `ogi-audit review` and `ogi-audit correct`. Every action needs the reviewer role, a CSRF
//! token and a report inside the reviewer's scope.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};

use super::auth::Who;
use super::pages::latest_titles;
use super::{App, Failure};
use crate::config::Role;
use crate::model::Severity;
use crate::present::{severity_zh, title_of};
use crate::store::{DismissReason, ReviewAction, ReviewFilter, ReviewState};

/// The name a decision is recorded under.
fn actor(who: &Who) -> String {
    who.name.clone().unwrap_or_else(|| "本机".to_string())
}

/// The value of a form field, if given.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Where to go after a form: a path of this console, else the queue.
fn back(form: &[(String, String)]) -> String {
    match field(form, "back") {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b.to_string(),
        _ => "/review".to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct QueueQuery {
    state: Option<String>,
    rule: Option<String>,
}

/// The reviewer's queue: findings of the reports in their scope, open ones first by default.
pub(crate) async fn queue(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<QueueQuery>,
) -> Result<Response, Failure> {
    let state = match q.state.as_deref().unwrap_or("open") {
        "" | "all" => None,
        s => Some(
            ReviewState::parse(s)
                .ok_or_else(|| Failure::BadRequest(format!("没有“{s}”这种审核状态")))?,
        ),
    };
    let filter = ReviewFilter {
        state,
        rule: q.rule.clone().filter(|r| !r.is_empty()),
        limit: Some(500),
        ..ReviewFilter::default()
    };
    let scope = who.scope.clone();
    let (rows, titles) = app
        .read(move |s| Ok((s.review_list(&scope, &filter)?, latest_titles(s)?)))
        .await?;
    #[derive(Serialize)]
    struct Line {
        id: i64,
        report_id: i64,
        organization: String,
        year: Option<i64>,
        rule: String,
        title: String,
        severity: String,
        severity_zh: &'static str,
        message: String,
        state_zh: &'static str,
        by: Option<String>,
        note: Option<String>,
    }
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|r| Line {
            title: title_of(&r.rule, &titles),
            severity_zh: r.severity.parse::<Severity>().map_or("", severity_zh),
            id: r.id,
            report_id: r.report_id,
            organization: r.organization.unwrap_or_default(),
            year: r.year,
            rule: r.rule,
            severity: r.severity,
            message: r.message,
            state_zh: r.state.zh(),
            by: r.by,
            note: r.note,
        })
        .collect();
    Ok(app.render(
        "review.html",
        &who,
        minijinja::context! {
            rows => lines,
            state => state.map_or("all", ReviewState::as_str),
            can_review => who.role >= Role::Reviewer,
        },
    ))
}

/// Confirms, dismisses or reopens the findings named in the form (`finding`, once or more).
pub(crate) async fn decide(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    who.check_csrf(field(&form, "csrf").unwrap_or(""))?;
    who.require(Role::Reviewer)
        .map_err(|_| Failure::Forbidden("只有审核人员可以确认或忽略问题。"))?;
    let ids: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "finding")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    if ids.is_empty() {
        return Err(Failure::BadRequest("请先选择要处理的问题".to_string()));
    }
    let action = match field(&form, "action") {
        Some("confirm") => ReviewAction::Confirm,
        Some("reopen") => ReviewAction::Reopen,
        Some("dismiss") => ReviewAction::Dismiss(
            field(&form, "reason")
                .and_then(DismissReason::parse)
                .ok_or_else(|| Failure::BadRequest("忽略问题时请选择原因".to_string()))?,
        ),
        _ => return Err(Failure::BadRequest("没有这种操作".to_string())),
    };
    let note = field(&form, "note").map(str::to_string);
    let (scope, by) = (who.scope.clone(), actor(&who));
    let done = app
        .write(move |s| {
            let mut done = 0;
            for id in ids {
                if s.review(&scope, id, action, note.as_deref(), &by)?
                    .is_some()
                {
                    done += 1;
                }
            }
            Ok(done)
        })
        .await?;
    if done == 0 {
        return Err(Failure::NotFound);
    }
    Ok(Redirect::to(&back(&form)).into_response())
}

/// Corrects one cell of a report (`cell` = `table3.granted.total`, `value`, `note`) and
/// audits it again.
pub(crate) async fn correct(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    who.check_csrf(field(&form, "csrf").unwrap_or(""))?;
    who.require(Role::Reviewer)
        .map_err(|_| Failure::Forbidden("只有审核人员可以更正单元格。"))?;
    let cell = field(&form, "cell").unwrap_or("");
    let value = field(&form, "value").unwrap_or("");
    let fix: crate::daemon::CellFix = format!("{cell}={value}")
        .parse()
        .map_err(|e: String| Failure::BadRequest(format!("无法更正：{e}")))?;
    let note = field(&form, "note").map(str::to_string);
    let (config, scope, by) = (app.config.clone(), who.scope.clone(), actor(&who));
    let done = tokio::task::spawn_blocking(move || {
        crate::daemon::correct(&config, &scope, id, &[fix], note.as_deref(), &by)
    })
    .await
    .map_err(|e| Failure::Internal(e.to_string()))?
    .map_err(|e| Failure::BadRequest(format!("无法更正：{e:#}")))?;
    if done.is_none() {
        return Err(Failure::NotFound);
    }
    Ok(Redirect::to(&format!("/reports/{id}#tables")).into_response())
}
