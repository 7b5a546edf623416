//! The overview, the reports list, the rules and the users: thin handlers that read the store
//! within the reader's scope and render.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};

use super::auth::{encode, Who};
use super::{App, Failure, PAGE_SIZE};
use crate::config::Role;
use crate::model::Severity;
use crate::present::{severity_zh, title_of, Titles};
use crate::store::{ReportFilter, Sort};

/// The rules' titles as the latest rule set has them.
pub(super) fn latest_titles(
    store: &crate::store::Store,
) -> Result<Titles, crate::store::StoreError> {
    let version = store
        .latest_ruleset()?
        .map(|r| r.version)
        .unwrap_or_default();
    store.rule_titles(&version)
}

/// 已解析 / 无法读取 / 出错.
pub(super) fn status_zh(status: &str) -> &'static str {
    match status {
        "parsed" => "已审核",
        "unparseable" => "无法读取（已隔离）",
        "error" => "出错",
        _ => "未知",
    }
}

pub(crate) async fn overview(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
) -> Result<Response, Failure> {
    let scope = who.scope.clone();
    let (overview, titles) = app
        .read(move |s| Ok((s.overview(&scope)?, latest_titles(s)?)))
        .await?;
    #[derive(Serialize)]
    struct RuleLine {
        rule: String,
        title: String,
        severity: String,
        severity_zh: &'static str,
        findings: i64,
        reports: i64,
    }
    let rules: Vec<RuleLine> = overview
        .by_rule
        .iter()
        .map(|(rule, severity, findings, reports)| RuleLine {
            rule: rule.clone(),
            title: title_of(rule, &titles),
            severity: severity.clone(),
            severity_zh: severity.parse::<Severity>().map_or("", severity_zh),
            findings: *findings,
            reports: *reports,
        })
        .collect();
    let count = |list: &[(String, i64)], key: &str| {
        list.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
    };
    let reports: i64 = overview.by_status.iter().map(|(_, n)| n).sum();
    Ok(app.render(
        "overview.html",
        &who,
        minijinja::context! {
            reports => reports,
            parsed => count(&overview.by_status, "parsed"),
            unparseable => count(&overview.by_status, "unparseable"),
            failed => count(&overview.by_status, "error"),
            errors => count(&overview.by_severity, "error"),
            warnings => count(&overview.by_severity, "warning"),
            infos => count(&overview.by_severity, "info"),
            needs_review => overview.needs_review,
            rules => rules,
            offices => overview.offices,
            latest => overview.latest,
            quarantine => overview.quarantine,
            show_quarantine => who.scope.is_all(),
        },
    ))
}

/// The reports list's query: every filter, the order and the page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    pub issuer: Option<String>,
    pub year: Option<String>,
    pub status: Option<String>,
    pub severity: Option<String>,
    pub rule: Option<String>,
    pub review: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
    /// Reports per page (1 to 200; default 50).
    pub per: Option<String>,
}

impl ListQuery {
    /// The store's filter; a value that cannot be one is refused, naming it.
    pub fn filter(&self) -> Result<ReportFilter, Failure> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let year = match given(&self.year) {
            Some(y) => Some(
                y.parse::<i32>()
                    .map_err(|_| Failure::BadRequest(format!("年度“{y}”不是年份")))?,
            ),
            None => None,
        };
        let status = match given(&self.status).as_deref() {
            None => None,
            Some(s @ ("parsed" | "unparseable" | "error")) => Some(s.to_string()),
            Some(other) => return Err(Failure::BadRequest(format!("没有“{other}”这种状态"))),
        };
        let severity = match given(&self.severity) {
            Some(s) => Some(
                s.parse::<Severity>()
                    .map_err(|_| Failure::BadRequest(format!("没有“{s}”这种严重程度")))?,
            ),
            None => None,
        };
        let sort = Sort::parse(given(&self.sort).as_deref().unwrap_or(""))
            .ok_or_else(|| Failure::BadRequest("没有这种排序".to_string()))?;
        Ok(ReportFilter {
            issuer: given(&self.issuer),
            year,
            status,
            severity,
            rule: given(&self.rule),
            needs_review: given(&self.review).is_some_and(|v| v != "0"),
            sort,
            after: given(&self.after),
        })
    }

    /// Reports per page.
    pub fn per_page(&self) -> Result<usize, Failure> {
        match self.per.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(PAGE_SIZE),
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| Failure::BadRequest(format!("每页条数“{n}”应在1到200之间"))),
        }
    }

    /// The filters as a query string (without the page), for links that keep them.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("issuer", &self.issuer),
            ("year", &self.year),
            ("status", &self.status),
            ("severity", &self.severity),
            ("rule", &self.rule),
            ("review", &self.review),
            ("sort", &self.sort),
            ("per", &self.per),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                parts.push(format!("{k}={}", encode(v.trim())));
            }
        }
        parts.join("&")
    }
}

pub(crate) async fn reports(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Failure> {
    let filter = q.filter()?;
    let per = q.per_page()?;
    let scope = who.scope.clone();
    let f = filter.clone();
    let (page, years, titles, ruleset) = app
        .read(move |s| {
            Ok((
                s.list_reports(&scope, &f, per)?,
                s.years(&scope)?,
                latest_titles(s)?,
                s.latest_ruleset()?,
            ))
        })
        .await?;
    let base = q.query_string();
    let next = page.next.as_ref().map(|cursor| {
        let sep = if base.is_empty() { "" } else { "&" };
        format!("/reports?{base}{sep}after={}", encode(cursor))
    });
    let rule_ids: Vec<(String, String)> = ruleset
        .map(|r| {
            r.rules
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.get("id").and_then(|v| v.as_str()))
                .map(|id| (id.to_string(), title_of(id, &titles)))
                .collect()
        })
        .unwrap_or_default();
    Ok(app.render(
        "reports.html",
        &who,
        minijinja::context! {
            rows => page.rows,
            next => next,
            first => filter.after.is_some().then(|| format!("/reports?{base}")),
            query => base,
            years => years,
            rules => rule_ids,
            f => minijinja::context! {
                issuer => filter.issuer.clone().unwrap_or_default(),
                year => filter.year,
                status => filter.status.clone().unwrap_or_default(),
                severity => filter.severity.map(Severity::as_str).unwrap_or(""),
                rule => filter.rule.clone().unwrap_or_default(),
                review => filter.needs_review,
                sort => filter.sort.as_str(),
            },
        },
    ))
}

pub(crate) async fn rules(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
) -> Result<Response, Failure> {
    let scope = who.scope.clone();
    let (set, reload, counts, feedback) = app
        .read(move |s| {
            Ok((
                s.latest_ruleset()?,
                s.last_reload()?,
                s.rule_counts(&scope)?,
                s.rule_feedback(&scope)?,
            ))
        })
        .await?;
    #[derive(Serialize)]
    struct Line {
        id: String,
        title: String,
        severity: String,
        severity_zh: &'static str,
        description: String,
        file: String,
        findings: i64,
        reports: i64,
        false_alarms: i64,
        confirmed: i64,
    }
    let rules_dir = app.rules_dir.clone();
    let lines: Vec<Line> = set
        .as_ref()
        .and_then(|s| s.rules.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let text = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let id = text("id");
            let file = text("file");
            let (findings, reports) = counts.get(&id).copied().unwrap_or((0, 0));
            let severity = text("severity");
            let (_, false_alarms, confirmed) = feedback.get(&id).copied().unwrap_or((0, 0, 0));
            Line {
                false_alarms,
                confirmed,
                title: text("title"),
                severity_zh: severity.parse::<Severity>().map_or("", severity_zh),
                severity,
                description: text("description"),
                file: std::path::Path::new(&file)
                    .strip_prefix(&rules_dir)
                    .map_or(file.clone(), |p| p.display().to_string()),
                findings,
                reports,
                id,
            }
        })
        .collect();
    Ok(app.render(
        "rules.html",
        &who,
        minijinja::context! {
            version => set.as_ref().map(|s| s.version.clone()),
            loaded_at => set.as_ref().map(|s| s.loaded_at.clone()),
            load_errors => set.as_ref().map(|s| s.errors.clone()).unwrap_or_default(),
            reload => reload,
            rules => {
                let mut lines = lines;
                // The rules reviewers dismiss most as false alarms first: those to fix first.
                lines.sort_by_key(|l| std::cmp::Reverse(l.false_alarms));
                lines
            },
        },
    ))
}

pub(crate) async fn users(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    let stored = app.read(|s| s.users()).await?;
    #[derive(Serialize)]
    struct Line {
        name: String,
        role_zh: &'static str,
        scope: String,
        source: &'static str,
        created_at: String,
    }
    let mut lines: Vec<Line> = app
        .web
        .users
        .iter()
        .map(|u| Line {
            name: u.name.clone(),
            role_zh: u.role.zh(),
            scope: u.scope.join("、"),
            source: "配置文件",
            created_at: String::new(),
        })
        .collect();
    lines.extend(stored.into_iter().map(|u| Line {
        name: u.name,
        role_zh: u.role.zh(),
        scope: u.scope.join("、"),
        source: "数据库",
        created_at: u.created_at,
    }));
    Ok(app.render("users.html", &who, minijinja::context! { users => lines }))
}
