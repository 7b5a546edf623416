//! The report as scripts see it: a read-only object of type `Report`.
//!
//! Scripts pass the report around freely (to their own functions too), and Rhai passes values by
//! copy. A map of a whole report costs far more to copy than a rule takes to run, so the report
//! is a shared handle instead: copying it copies a pointer. Its fields (`report.table3`,
//! `report.claims` …) are converted to Rhai values the first time a script asks for them, once
//! per report, and handed out as copies, so no rule can change what the next rule sees. There are
//! no setters: `report.year = 2020` is an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::grid::{Cells, Grid};
use crate::model::{Claim, Report};

/// The names scripts can read, as `report.NAME` or `report["NAME"]`.
pub const FIELDS: [&str; 20] = [
    "organization",
    "year",
    "template",
    "table2_template",
    "title",
    "period",
    "contact",
    "published",
    "sections",
    "section_text",
    "table2",
    "table3",
    "table4",
    "raw_cells",
    "claims",
    "warnings",
    "text",
    "previous",
    "units",
    "ocr",
];

/// A unit below the report's issuer in the office's register, with its report of the same
/// year (`None`: not received).
#[derive(Clone)]
pub struct UnitReport {
    pub name: String,
    pub report: Option<Arc<Report>>,
}

struct View {
    report: Arc<Report>,
    previous: Option<ScriptReport>,
    /// `None`: the issuer has no units below it in the register (or there is no register).
    units: Option<Vec<UnitReport>>,
    converted: Mutex<HashMap<&'static str, Dynamic>>,
    /// `report.claims` as Rhai maps, each built the first time a helper hands it out.
    claims: Vec<OnceLock<Dynamic>>,
    /// Tables 3 and 4 by position, built the first time a helper reads a cell.
    grid: OnceLock<Grid>,
}

/// A shared, read-only report handle for scripts.
#[derive(Clone)]
pub struct ScriptReport(Arc<View>);

impl ScriptReport {
    /// A handle on `report` (shared, not copied).
    pub fn new(report: Arc<Report>, previous: Option<Arc<Report>>) -> ScriptReport {
        ScriptReport::with_units(report, previous, None)
    }

    /// A handle that also shows the units below the issuer (`report.units`).
    pub fn with_units(
        report: Arc<Report>,
        previous: Option<Arc<Report>>,
        units: Option<Vec<UnitReport>>,
    ) -> ScriptReport {
        ScriptReport(Arc::new(View {
            claims: (0..report.claims.len()).map(|_| OnceLock::new()).collect(),
            report,
            previous: previous.map(|p| ScriptReport::new(p, None)),
            units,
            converted: Mutex::new(HashMap::new()),
            grid: OnceLock::new(),
        }))
    }

    /// The report's cells, read by position where the names are the templates'.
    pub fn cells(&self) -> Cells<'_> {
        Cells {
            report: &self.0.report,
            grid: self.0.grid.get_or_init(|| Grid::of(&self.0.report)),
        }
    }

    /// Claim `i` of the report as a Rhai map (a copy of the one built on first use).
    pub fn claim(&self, i: usize) -> Dynamic {
        match (self.0.claims.get(i), self.0.report.claims.get(i)) {
            (Some(cell), Some(c)) => cell.get_or_init(|| claim_map(c)).clone(),
            _ => Dynamic::UNIT,
        }
    }

    /// The report itself, for helpers written in Rust.
    pub fn report(&self) -> &Report {
        &self.0.report
    }

    /// A field as a Rhai value (converted once, then copied).
    pub fn field(&self, name: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        let Some(&name) = FIELDS.iter().find(|f| **f == name) else {
            return Err(format!(
                "a report has no field `{name}` (fields: {})",
                FIELDS.join(", ")
            )
            .into());
        };
        if !crate::rules::may_read(name) {
            return Err(format!(
                "the rule reads `{name}` through a name made as it runs: write `report.{name}`, so that a re-audit knows what its findings depend on (规则须在文本中写明 {name})"
            )
            .into());
        }
        match name {
            "previous" => return Ok(self.0.previous.clone().map_or(Dynamic::UNIT, Dynamic::from)),
            "units" => {
                let Some(units) = &self.0.units else {
                    return Ok(Dynamic::UNIT);
                };
                let all = units.iter().map(|u| {
                    let mut m = Map::new();
                    m.insert("name".into(), Dynamic::from(u.name.clone()));
                    m.insert(
                        "report".into(),
                        u.report
                            .clone()
                            .map_or(Dynamic::UNIT, |r| Dynamic::from(ScriptReport::new(r, None))),
                    );
                    Dynamic::from_map(m)
                });
                return Ok(Dynamic::from_array(all.collect()));
            }
            "claims" => {
                let all = (0..self.0.report.claims.len()).map(|i| self.claim(i));
                return Ok(Dynamic::from_array(all.collect()));
            }
            _ => {}
        }
        let mut cache = self
            .0
            .converted
            .lock()
            .map_err(|_| "report view poisoned".to_string())?;
        if let Some(v) = cache.get(name) {
            return Ok(v.clone());
        }
        let r = &self.0.report;
        let value = match name {
            "organization" => rhai::serde::to_dynamic(&r.organization),
            "year" => rhai::serde::to_dynamic(r.year),
            "template" => rhai::serde::to_dynamic(r.template),
            "table2_template" => rhai::serde::to_dynamic(r.table2_template.or(r.template)),
            "title" => rhai::serde::to_dynamic(&r.title),
            "period" => rhai::serde::to_dynamic(&r.period),
            "contact" => rhai::serde::to_dynamic(&r.contact),
            "published" => rhai::serde::to_dynamic(&r.published),
            "sections" => rhai::serde::to_dynamic(&r.sections),
            "section_text" => rhai::serde::to_dynamic(&r.section_text),
            "table2" => rhai::serde::to_dynamic(&r.table2),
            "table3" => rhai::serde::to_dynamic(&r.table3),
            "table4" => rhai::serde::to_dynamic(&r.table4),
            "raw_cells" => rhai::serde::to_dynamic(&r.raw_cells),
            "warnings" => rhai::serde::to_dynamic(&r.warnings),
            "ocr" => Ok(Dynamic::from(r.ocr)),
            _ => Ok(Dynamic::from(r.text.clone())),
        }?;
        cache.insert(name, value.clone());
        Ok(value)
    }
}

/// A claim as scripts see it (the fields of [`Claim`], built directly: serde is slower).
fn claim_map(c: &Claim) -> Dynamic {
    let mut m = Map::new();
    m.insert("value".into(), Dynamic::from(c.value));
    m.insert("unit".into(), Dynamic::from(c.unit.clone()));
    m.insert("text".into(), Dynamic::from(c.text.clone()));
    m.insert("phrase".into(), Dynamic::from(c.phrase.clone()));
    m.insert("sentence".into(), Dynamic::from(c.sentence.clone()));
    m.insert("before".into(), Dynamic::from(c.before.clone()));
    m.insert("after".into(), Dynamic::from(c.after.clone()));
    m.insert(
        "section".into(),
        c.section
            .map_or(Dynamic::UNIT, |k| Dynamic::from(k.as_str().to_string())),
    );
    m.insert("start".into(), Dynamic::from(c.start as rhai::INT));
    m.insert("end".into(), Dynamic::from(c.end as rhai::INT));
    Dynamic::from_map(m)
}

/// Registers the `Report` type with its getters.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptReport>("Report");
    for name in FIELDS {
        engine.register_get(name, move |r: &mut ScriptReport| r.field(name));
    }
    engine.register_indexer_get(|r: &mut ScriptReport, name: &str| r.field(name));
    engine.register_fn("to_string", |r: &mut ScriptReport| summary(r.report()));
    engine.register_fn("to_debug", |r: &mut ScriptReport| summary(r.report()));
}

fn summary(r: &Report) -> String {
    format!(
        "Report({} {} template {})",
        r.organization.as_deref().unwrap_or("?"),
        r.year.map_or("?".to_string(), |y| y.to_string()),
        r.template.map_or("?", |t| t.as_str())
    )
}
