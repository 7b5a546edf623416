//! The units register: the bodies expected to report (departments, townships, governments),
//! with the names their reports actually print, and which report belongs to which unit.
//!
//! The register is replaced whole in one transaction, so a register with a bad row leaves the
//! one before it in place. A report is matched to a unit by its issuer's name (exact, alias,
//! then normalised), or by an administrator's assignment, which is kept.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Whether a unit is a department (due 31 January) or a government (due 31 March).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    Department,
    Government,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Department => "department",
            UnitKind::Government => "government",
        }
    }

    /// `部门`/`department`, `政府`/`government` (and a few spellings offices use).
    pub fn parse(s: &str) -> Option<UnitKind> {
        match s.trim().to_lowercase().as_str() {
            "部门" | "department" | "dept" | "委办局" => Some(UnitKind::Department),
            "政府" | "government" | "gov" | "人民政府" | "乡镇" | "街道" => {
                Some(UnitKind::Government)
            }
            _ => None,
        }
    }
}

/// A unit of the register.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    pub id: i64,
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: UnitKind,
    /// The parent unit's name.
    pub parent: Option<String>,
    /// Who gets reminders and findings for this unit.
    pub emails: Vec<String>,
}

/// A unit as imported, before it has an id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUnit {
    pub name: String,
    pub aliases: Vec<String>,
    pub kind: UnitKind,
    pub parent: Option<String>,
    pub emails: Vec<String>,
}

/// A report the daemon has, as coverage needs it.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub report_id: i64,
    pub organization: Option<String>,
    pub year: Option<i64>,
    pub file: String,
    pub received_at: String,
    pub published: Option<String>,
    pub errors: i64,
    pub warnings: i64,
    /// The unit an administrator assigned the report to.
    pub assigned: Option<i64>,
}

/// A report of a year as matching needs it: its id, issuer and the unit it was assigned to.
pub type YearIssuer = (i64, Option<String>, Option<i64>);

impl Store {
    /// Replaces the register with `units` in one transaction; assignments to units that keep
    /// their name stay. Returns how many units there are.
    pub fn replace_units(&mut self, units: &[NewUnit]) -> Result<usize, StoreError> {
        self.check_same_file()?;
        let tx = self.conn.transaction()?;
        let old: BTreeMap<i64, String> = tx
            .prepare("SELECT id, name FROM units")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let kept: Vec<(i64, String)> = tx
            .prepare("SELECT report_id, unit_id FROM unit_assignments")?
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|(report, unit)| old.get(&unit).map(|n| (report, n.clone())))
            .collect();
        tx.execute("DELETE FROM unit_assignments", [])?;
        tx.execute("DELETE FROM units", [])?;
        for u in units {
            tx.execute(
                "INSERT INTO units (name, aliases, kind, parent, emails) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    u.name,
                    serde_json::to_string(&u.aliases).unwrap_or_else(|_| "[]".into()),
                    u.kind.as_str(),
                    u.parent,
                    serde_json::to_string(&u.emails).unwrap_or_else(|_| "[]".into()),
                ],
            )?;
        }
        for (report, name) in kept {
            tx.execute(
                "INSERT INTO unit_assignments (report_id, unit_id, by, at)
                 SELECT ?1, id, 'register import', ?3 FROM units WHERE name = ?2",
                params![report, name, super::now()],
            )?;
        }
        tx.commit()?;
        Ok(units.len())
    }

    /// The register, by name.
    /// A number that changes whenever a unit is added, changed or removed (by any process):
    /// the register read earlier is still the register while it is the same.
    pub fn units_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT n FROM units_version")?
            .query_row([], |r| r.get(0))?)
    }

    pub fn units(&self) -> Result<Vec<Unit>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, aliases, kind, parent, emails FROM units ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            let aliases: String = r.get(2)?;
            let kind: String = r.get(3)?;
            let emails: String = r.get(5)?;
            Ok(Unit {
                id: r.get(0)?,
                name: r.get(1)?,
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                kind: UnitKind::parse(&kind).unwrap_or(UnitKind::Department),
                parent: r.get(4)?,
                emails: serde_json::from_str(&emails).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Assigns a report to a unit by the unit's name; `false` when either does not exist.
    pub fn assign_unit(&mut self, report: i64, unit: &str, by: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let unit_id: Option<i64> = tx
            .query_row("SELECT id FROM units WHERE name = ?1", [unit], |r| r.get(0))
            .optional()?;
        let exists: bool = tx.query_row(
            "SELECT COUNT(*) FROM reports WHERE id = ?1",
            [report],
            |r| r.get::<_, i64>(0),
        )? > 0;
        let (Some(unit_id), true) = (unit_id, exists) else {
            return Ok(false);
        };
        tx.execute(
            "INSERT INTO unit_assignments (report_id, unit_id, by, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (report_id) DO UPDATE SET unit_id = ?2, by = ?3, at = ?4",
            params![report, unit_id, by, super::now()],
        )?;
        tx.execute(
            "INSERT INTO trail (at, by, action, report_id, what, after) VALUES (?1, ?2, 'assign', ?3, '单位', ?4)",
            params![super::now(), by, report, unit],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// The parsed reports of `year` with what coverage needs, oldest first.
    pub fn arrivals(&self, year: i32) -> Result<Vec<Arrival>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.organization, r.year, r.path, r.received_at,
                    COALESCE(r.published, CASE WHEN json_valid(r.report_json)
                             THEN json_extract(r.report_json, '$.published') END),
                    (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset AND f.severity = 'error'),
                    (SELECT COUNT(*) FROM findings f WHERE f.report_id = r.id AND f.ruleset = r.ruleset AND f.severity = 'warning'),
                    a.unit_id
             FROM reports r LEFT JOIN unit_assignments a ON a.report_id = r.id
             WHERE r.year = ?1 AND r.status = 'parsed' ORDER BY r.id",
        )?;
        let rows = stmt.query_map([year], |r| {
            let path: String = r.get(3)?;
            Ok(Arrival {
                report_id: r.get(0)?,
                organization: r.get(1)?,
                year: r.get(2)?,
                file: std::path::Path::new(&path)
                    .file_name()
                    .map_or(path.clone(), |n| n.to_string_lossy().into_owned()),
                received_at: r.get(4)?,
                published: r.get(5)?,
                errors: r.get(6)?,
                warnings: r.get(7)?,
                assigned: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The parsed reports of a year as matching needs them: id, issuer, assigned unit; oldest
    /// first. Reads the indexes only.
    pub fn issuers_of_year(&self, year: i32) -> Result<Vec<YearIssuer>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, r.organization, a.unit_id
             FROM reports r LEFT JOIN unit_assignments a ON a.report_id = r.id
             WHERE r.year = ?1 AND r.status = 'parsed' ORDER BY r.id",
        )?;
        let rows = stmt.query_map([year], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A parsed report's model by id.
    pub fn report_by_id(&self, id: i64) -> Result<Option<crate::model::Report>, StoreError> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = self
            .conn
            .query_row(
                &format!(
                    "SELECT r.report_json, {} FROM reports r WHERE r.id = ?1 AND r.status = 'parsed'",
                    super::MODEL_Z
                ),
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            Some((json, z)) => super::model(id, json, z),
            None => Ok(None),
        }
    }
}
