//! Who has reported: each unit of the register for a year — received, late or missing — with
//! its parent's missing children, and the reports no unit claims, for an administrator to
//! assign.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};

use super::auth::Who;
use super::{App, Failure};
use crate::config::Role;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct YearQuery {
    year: Option<String>,
}

pub(crate) async fn coverage(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Query(q): Query<YearQuery>,
) -> Result<Response, Failure> {
    let deadlines = crate::units::Deadlines::of(&app.config);
    let asked = match q.year.as_deref().map(str::trim).filter(|y| !y.is_empty()) {
        Some(y) => Some(
            y.parse::<i32>()
                .map_err(|_| Failure::BadRequest(format!("年度“{y}”不是年份")))?,
        ),
        None => None,
    };
    // Without a year asked: the season under way, the reports of last year (by the daemon's
    // clock, in the office's time zone).
    let season = i64::from(crate::clock::today(deadlines.offset).year()) - 1;
    let (coverage, years, units) = app
        .read(move |s| {
            let mut years = s.years(&crate::store::Scope::all())?;
            let year = asked.unwrap_or(i32::try_from(season).unwrap_or(2025));
            // The year shown and the season are always offered, reports or not.
            years.extend([season, i64::from(year)]);
            years.sort_unstable_by(|a, b| b.cmp(a));
            years.dedup();
            let units = s.units()?;
            Ok((crate::units::coverage(s, year, &deadlines)?, years, units))
        })
        .await?;
    let mine: Vec<_> = coverage
        .units
        .iter()
        .filter(|u| who.scope.allows(Some(&u.name)))
        .collect();
    #[derive(Serialize)]
    struct Parent {
        name: String,
        missing: Vec<String>,
    }
    // Each parent's children that have not reported.
    let parents: Vec<Parent> = units
        .iter()
        .filter(|p| who.scope.allows(Some(&p.name)))
        .filter_map(|p| {
            let missing: Vec<String> = mine
                .iter()
                .filter(|u| u.parent.as_deref() == Some(p.name.as_str()) && u.status == "missing")
                .map(|u| u.name.clone())
                .collect();
            (!missing.is_empty()).then(|| Parent {
                name: p.name.clone(),
                missing,
            })
        })
        .collect();
    let count = |s: &str| mine.iter().filter(|u| u.status == s).count();
    let admin = who.role >= Role::Admin && who.scope.is_all();
    Ok(app.render(
        "units.html",
        &who,
        minijinja::context! {
            year => coverage.year,
            years => years,
            units => mine,
            received => count("received"),
            late => count("late"),
            missing => count("missing"),
            parents => parents,
            unmatched => if admin { coverage.unmatched.clone() } else { Vec::new() },
            ambiguous => if admin { coverage.ambiguous.clone() } else { Vec::new() },
            names => units.iter().map(|u| u.name.clone()).collect::<Vec<_>>(),
            admin => admin,
            empty => units.is_empty(),
        },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssignForm {
    #[serde(default)]
    csrf: String,
    report: i64,
    unit: String,
    year: Option<i32>,
}

/// Assigns a report to a unit (administrators): the assignment is kept across imports.
pub(crate) async fn assign(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Form(form): Form<AssignForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&form.csrf)?;
    who.require(Role::Admin)?;
    let by = who.name.clone().unwrap_or_else(|| "本机".to_string());
    let (report, unit) = (form.report, form.unit.clone());
    let done = app
        .write(move |s| s.assign_unit(report, &unit, &by))
        .await?;
    if !done {
        return Err(Failure::NotFound);
    }
    let year = form.year.map_or(String::new(), |y| format!("?year={y}"));
    Ok(Redirect::to(&format!("/units{year}")).into_response())
}

/// The register's editor (administrators): the register as CSV, to change and save whole.
pub(crate) async fn editor(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
) -> Result<Response, Failure> {
    who.require(Role::Admin)?;
    let units = app.read(|s| s.units()).await?;
    Ok(app.render(
        "register.html",
        &who,
        minijinja::context! { csv => crate::units::register_csv(&units), error => "", count => units.len() },
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
}

/// Saves the edited register whole, or shows why not (the row named) with the text as sent.
pub(crate) async fn save(
    State(app): State<Arc<App>>,
    Extension(who): Extension<Who>,
    Form(form): Form<RegisterForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&form.csrf)?;
    who.require(Role::Admin)?;
    match crate::units::register_from_csv(&form.csv) {
        Ok(units) => {
            app.write(move |s| s.replace_units(&units)).await?;
            Ok(Redirect::to("/units").into_response())
        }
        Err(e) => {
            let mut page = app.render(
                "register.html",
                &who,
                minijinja::context! { csv => form.csv, error => format!("未保存，名单保持原样：{e}"), count => 0 },
            );
            *page.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            Ok(page)
        }
    }
}
