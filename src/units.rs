//! Who has reported: the office's register of units (read from the CSV or workbook it already
//! keeps), each report matched to its unit, and each unit's coverage for a year — received,
//! late or missing — against the deadlines of 条例 第四十九条.
//!
//! Matching never guesses: the issuer's name as printed, then an alias, then a normalised name
//! (full/half width, traditional, 人民政府/政府/办公室 variants, the region prefix); a report that
//! matches no unit, or several, waits for an administrator to assign it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use crate::store::{Arrival, NewUnit, Store, StoreError, Unit, UnitKind};

/// A register that cannot be imported: nothing of it is.
#[derive(Debug, Error)]
pub enum UnitsError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: no column for the unit's name (名称 or name) in the header row")]
    NoNameColumn { path: String },
    #[error("{path}, row {row}: {message}")]
    Row {
        path: String,
        row: usize,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which column holds what, from the header row (Chinese or English).
#[derive(Debug, Default)]
struct Columns {
    name: Option<usize>,
    aliases: Option<usize>,
    kind: Option<usize>,
    parent: Option<usize>,
    email: Option<usize>,
}

impl Columns {
    fn of(header: &[String]) -> Columns {
        let mut c = Columns::default();
        for (i, h) in header.iter().enumerate() {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            let slot = match h.as_str() {
                "名称" | "单位" | "单位名称" | "name" | "unit" => &mut c.name,
                "别名" | "aliases" | "alias" => &mut c.aliases,
                "类型" | "kind" | "type" => &mut c.kind,
                "上级" | "上级单位" | "parent" => &mut c.parent,
                "邮箱" | "电子邮箱" | "email" | "e-mail" | "emails" => &mut c.email,
                _ => continue,
            };
            slot.get_or_insert(i);
        }
        c
    }
}

/// Reads a register: `.xlsx` (the first sheet) or CSV (UTF-8, a header row). Every row is
/// checked (a name, a known kind, a parent that is in the register, addresses that are
/// addresses, no name twice); the first bad row is named.
pub fn read_register(path: &Path) -> Result<Vec<NewUnit>, UnitsError> {
    let shown = path.display().to_string();
    let rows = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
    {
        read_xlsx(path).map_err(|message| UnitsError::Read {
            path: shown.clone(),
            message,
        })?
    } else {
        let text = std::fs::read(path).map_err(|e| UnitsError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let (text, _, _) = encoding_rs::UTF_8.decode(&text);
        read_csv(&text)
    };
    register_from_rows(rows, &shown)
}

/// Reads a register from CSV text (the console's editor): the same checks as a file's.
pub fn register_from_csv(text: &str) -> Result<Vec<NewUnit>, UnitsError> {
    register_from_rows(read_csv(text), "the register")
}

/// The register as CSV, the header first: what the console's editor starts from.
pub fn register_csv(units: &[Unit]) -> String {
    let mut out = String::from("名称,别名,类型,上级,邮箱\n");
    for u in units {
        let fields = [
            u.name.clone(),
            u.aliases.join(";"),
            match u.kind {
                UnitKind::Department => "部门".to_string(),
                UnitKind::Government => "政府".to_string(),
            },
            u.parent.clone().unwrap_or_default(),
            u.emails.join(";"),
        ];
        let line: Vec<String> = fields
            .iter()
            .map(|f| crate::present::csv_field(f))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn register_from_rows(rows: Vec<Vec<String>>, shown: &str) -> Result<Vec<NewUnit>, UnitsError> {
    let shown = shown.to_string();
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    let cols = Columns::of(&header);
    let Some(name_col) = cols.name else {
        return Err(UnitsError::NoNameColumn { path: shown });
    };
    let mut units: Vec<NewUnit> = Vec::new();
    let bad = |row: usize, message: String| UnitsError::Row {
        path: shown.clone(),
        row,
        message,
    };
    for (i, row) in rows.enumerate() {
        // Row numbers as a spreadsheet shows them: the header is row 1.
        let n = i + 2;
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        if row.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let name = crate::extract::normalize_short(&get(Some(name_col)));
        if name.is_empty() {
            return Err(bad(n, "the unit has no name".into()));
        }
        if units.iter().any(|u| u.name == name) {
            return Err(bad(n, format!("{name} is in the register twice")));
        }
        let kind_text = get(cols.kind);
        let kind = if kind_text.is_empty() {
            // Without a kind, a name that ends like a government's is one.
            if looks_like_government(&name) {
                UnitKind::Government
            } else {
                UnitKind::Department
            }
        } else {
            UnitKind::parse(&kind_text).ok_or_else(|| {
                bad(
                    n,
                    format!("kind `{kind_text}`: write 部门/department or 政府/government"),
                )
            })?
        };
        let list = |text: String| -> Vec<String> {
            text.split([';', '；', ',', '，', '、'])
                .map(|a| crate::extract::normalize_short(a.trim()))
                .filter(|a| !a.is_empty())
                .collect()
        };
        let emails = list(get(cols.email));
        for e in &emails {
            if e.parse::<lettre::Address>().is_err() {
                return Err(bad(n, format!("`{e}` is not an e-mail address")));
            }
        }
        let parent =
            Some(crate::extract::normalize_short(&get(cols.parent))).filter(|p| !p.is_empty());
        units.push(NewUnit {
            name,
            aliases: list(get(cols.aliases)),
            kind,
            parent,
            emails,
        });
    }
    for (i, u) in units.iter().enumerate() {
        if let Some(p) = &u.parent {
            if !units.iter().any(|o| &o.name == p) {
                return Err(bad(i + 2, format!("parent {p} is not in the register")));
            }
        }
    }
    Ok(units)
}

fn looks_like_government(name: &str) -> bool {
    ["人民政府", "管理委员会", "管委会", "街道办事处"]
        .iter()
        .any(|s| name.ends_with(s))
}

/// The first sheet of a workbook as rows of text.
fn read_xlsx(path: &Path) -> Result<Vec<Vec<String>>, String> {
    use calamine::Reader as _;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| e.to_string())?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| e.to_string())?;
    Ok(range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    calamine::Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect())
}

/// CSV as RFC 4180 writes it (quotes, doubled quotes, line breaks in quotes).
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A name with the differences that do not tell units apart taken out: width, script,
/// 人民政府/政府, a trailing 办公室 (the office reports for its body), and 中华人民共和国 or
/// a province's name at the front.
pub fn normalised(name: &str) -> String {
    let mut n: String = crate::extract::normalize(name)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    for suffix in ["办公室", "办公厅"] {
        if let Some(s) = n.strip_suffix(suffix) {
            if s.chars().count() >= 2 {
                n = s.to_string();
            }
        }
    }
    n = n.replace("人民政府", "政府");
    for prefix in ["中华人民共和国"] {
        if let Some(s) = n.strip_prefix(prefix) {
            n = s.to_string();
        }
    }
    n
}

/// Where a report's issuer lands in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "match", content = "units", rename_all = "lowercase")]
pub enum Match {
    One(i64),
    /// Several units fit: an administrator decides.
    Several(Vec<i64>),
    None,
}

/// Matches issuers to units. The register's names are normalised and indexed once, when the
/// matcher is made, not for every issuer looked up: the daemon keeps one per version of the
/// register ([`crate::store::Store::units_version`]), so a register of thousands of units costs
/// a few hash lookups per report.
pub struct Matcher {
    units: Vec<Unit>,
    /// Each unit's normalised name, in the order of `units`.
    keys: Vec<Keys>,
    /// Units by their name as written, by an alias as written, and by their normalised name or
    /// alias: indexes into `units`, in the register's order.
    by_name: HashMap<String, Vec<usize>>,
    by_alias: HashMap<String, Vec<usize>>,
    by_key: HashMap<String, Vec<usize>>,
    /// Issuers looked up before and where they landed: the region-prefix match scans the
    /// whole register, and the same issuers come back (each report's issuer twice, every issuer
    /// of a year for a government's report).
    memo: std::sync::Mutex<HashMap<String, Match>>,
}

/// Issuers remembered by a matcher at most; then it starts again.
const MEMO: usize = 65_536;

/// A unit's name normalised ([`normalised`]), for the region-prefix match.
struct Keys {
    name: String,
    /// Its length in characters.
    chars: usize,
}

impl Matcher {
    pub fn new(units: Vec<Unit>) -> Matcher {
        let mut m = Matcher {
            keys: Vec::with_capacity(units.len()),
            by_name: HashMap::new(),
            by_alias: HashMap::new(),
            by_key: HashMap::new(),
            memo: std::sync::Mutex::new(HashMap::new()),
            units: Vec::new(),
        };
        for (i, u) in units.iter().enumerate() {
            let name = normalised(&u.name);
            let add = |map: &mut HashMap<String, Vec<usize>>, k: &str| {
                let list = map.entry(k.to_string()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            };
            add(&mut m.by_name, &u.name);
            for a in &u.aliases {
                add(&mut m.by_alias, a);
            }
            add(&mut m.by_key, &name);
            for a in &u.aliases {
                add(&mut m.by_key, &normalised(a));
            }
            m.keys.push(Keys {
                chars: name.chars().count(),
                name,
            });
        }
        m.units = units;
        m
    }

    /// The register the matcher was made from.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn find(&self, issuer: &str) -> Match {
        let memo = || match self.memo.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(found) = memo().get(issuer) {
            return found.clone();
        }
        let found = self.look_up(issuer);
        let mut m = memo();
        if m.len() >= MEMO {
            m.clear();
        }
        m.insert(issuer.to_string(), found.clone());
        found
    }

    fn look_up(&self, issuer: &str) -> Match {
        let issuer = crate::extract::normalize_short(issuer);
        let of = |found: &[usize]| -> Option<Match> {
            match found {
                [] => None,
                [one] => self.units.get(*one).map(|u| Match::One(u.id)),
                _ => Some(Match::Several(
                    found
                        .iter()
                        .filter_map(|i| self.units.get(*i))
                        .map(|u| u.id)
                        .collect(),
                )),
            }
        };
        let indexed =
            |map: &HashMap<String, Vec<usize>>, k: &str| map.get(k).and_then(|found| of(found));
        let key = normalised(&issuer);
        indexed(&self.by_name, &issuer)
            .or_else(|| indexed(&self.by_alias, &issuer))
            .or_else(|| indexed(&self.by_key, &key))
            // The region prefix: 淮安经济技术开发区党政办公室 printed without 淮安, or with a
            // county before it. One unit whose name ends with the issuer's (or the reverse).
            .or_else(|| {
                if key.chars().count() < 4 {
                    return None;
                }
                let found: Vec<usize> = self
                    .keys
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| {
                        k.chars >= 4 && (k.name.ends_with(&key) || key.ends_with(k.name.as_str()))
                    })
                    .map(|(i, _)| i)
                    .collect();
                of(&found)
            })
            .unwrap_or(Match::None)
    }
}

/// A unit's standing for one year.
#[derive(Debug, Clone, Serialize)]
pub struct UnitStatus {
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<String>,
    /// `received`, `late` or `missing`.
    pub status: &'static str,
    /// The deadline (ISO date).
    pub due: String,
    /// The current report (the latest received) and the others.
    pub report: Option<Arrival>,
    pub versions: usize,
    /// Why it is late: received or published after the deadline.
    pub late_by: Option<String>,
    /// The days a reminder was sent to it (ISO dates).
    pub reminded: Vec<String>,
}

/// The coverage of one year: every unit, and the reports of that year no unit claims.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub year: i32,
    pub units: Vec<UnitStatus>,
    /// Reports of the year that match no unit.
    pub unmatched: Vec<Arrival>,
    /// Reports of the year that match several units, with their names.
    pub ambiguous: Vec<(Arrival, Vec<String>)>,
}

/// When reports are due, and in which time zone dates are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// `(month, day)` of the next year: a department's report, a government's.
    pub department: (i8, i8),
    pub government: (i8, i8),
    /// The office's offset from UTC.
    pub offset: jiff::tz::Offset,
}

impl Deadlines {
    /// From `[rules.settings]` (`department_due`, `government_due` as `MM-DD`, as the rule
    /// published-on-time reads them; 01-31 and 03-31 when unset or not a day) and
    /// `[reminders] utc_offset`.
    pub fn of(config: &crate::config::Config) -> Deadlines {
        let day = |k: &str, d: (i8, i8)| {
            config
                .rule_settings
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(|v| {
                    let (m, d) = v.trim().split_once('-')?;
                    let (m, d) = (m.parse::<i8>().ok()?, d.parse::<i8>().ok()?);
                    // A day every year has (29 February is not).
                    jiff::civil::Date::new(2025, m, d).ok().map(|_| (m, d))
                })
                .unwrap_or(d)
        };
        Deadlines {
            department: day("department_due", (1, 31)),
            government: day("government_due", (3, 31)),
            offset: config.reminders.offset,
        }
    }

    /// The deadline of a unit's report for `year`.
    pub fn due(&self, kind: UnitKind, year: i32) -> jiff::civil::Date {
        let (m, d) = match kind {
            UnitKind::Department => self.department,
            UnitKind::Government => self.government,
        };
        let y = i16::try_from(year.saturating_add(1)).unwrap_or(i16::MAX);
        jiff::civil::Date::new(y, m, d).unwrap_or(jiff::civil::Date::MAX)
    }
}

/// Coverage of `year`: each unit received, late or missing against its deadline, with the
/// reminders it was sent.
pub fn coverage(store: &Store, year: i32, deadlines: &Deadlines) -> Result<Coverage, StoreError> {
    let matcher = Matcher::new(store.units()?);
    let units = matcher.units();
    let mut reminded: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in store.reminders(year)? {
        if r.status == "sent" && !r.unit.is_empty() {
            reminded.entry(r.unit).or_default().push(r.on_date);
        }
    }
    let mut by_unit: BTreeMap<i64, Vec<Arrival>> = BTreeMap::new();
    let mut unmatched = Vec::new();
    let mut ambiguous = Vec::new();
    for a in store.arrivals(year)? {
        let found = match a.assigned {
            Some(u) => Match::One(u),
            None => a
                .organization
                .as_deref()
                .map_or(Match::None, |o| matcher.find(o)),
        };
        match found {
            Match::One(u) => by_unit.entry(u).or_default().push(a),
            Match::Several(ids) => {
                let names = units
                    .iter()
                    .filter(|u| ids.contains(&u.id))
                    .map(|u| u.name.clone())
                    .collect();
                ambiguous.push((a, names));
            }
            Match::None => unmatched.push(a),
        }
    }
    let statuses = units
        .iter()
        .map(|u| {
            let due_date = deadlines.due(u.kind, year);
            let due = due_date.to_string();
            let reports = by_unit.remove(&u.id).unwrap_or_default();
            let versions = reports.len();
            // The current version: the latest received.
            let current = reports.into_iter().last();
            let late_by = current.as_ref().and_then(|r| {
                let received = crate::clock::date_of_stamp(&r.received_at, deadlines.offset);
                if let Some(received) = received.filter(|d| *d > due_date) {
                    Some(format!("收到于{received}"))
                } else {
                    r.published
                        .as_deref()
                        .filter(|p| *p > due.as_str())
                        .map(|p| format!("发布于{p}"))
                }
            });
            UnitStatus {
                name: u.name.clone(),
                kind: u.kind,
                parent: u.parent.clone(),
                status: match (&current, &late_by) {
                    (None, _) => "missing",
                    (Some(_), Some(_)) => "late",
                    (Some(_), None) => "received",
                },
                due,
                report: current,
                versions,
                late_by,
                reminded: reminded.remove(&u.name).unwrap_or_default(),
            }
        })
        .collect();
    Ok(Coverage {
        year,
        units: statuses,
        unmatched,
        ambiguous,
    })
}

/// The units below a report's issuer in the register, each with its current report of the same
/// year (the latest received; `None`: not received), for the rules (`report.units`). `None` when
/// the issuer is no unit of the register or has none below it.
pub fn units_below(
    store: &Store,
    matcher: &Matcher,
    report: &crate::model::Report,
) -> Result<Option<Vec<crate::rules::UnitReport>>, StoreError> {
    let (Some(org), Some(year)) = (report.organization.as_deref(), report.year) else {
        return Ok(None);
    };
    let units = matcher.units();
    let Match::One(id) = matcher.find(org) else {
        return Ok(None);
    };
    let Some(parent) = units.iter().find(|u| u.id == id) else {
        return Ok(None);
    };
    let children: Vec<&Unit> = units
        .iter()
        .filter(|u| u.parent.as_deref() == Some(parent.name.as_str()))
        .collect();
    if children.is_empty() {
        return Ok(None);
    }
    let mut latest: BTreeMap<i64, i64> = BTreeMap::new();
    for (report_id, issuer, assigned) in store.issuers_of_year(year)? {
        let unit = match assigned {
            Some(u) => Some(u),
            None => match issuer.as_deref().map(|o| matcher.find(o)) {
                Some(Match::One(u)) => Some(u),
                _ => None,
            },
        };
        if let Some(u) = unit {
            latest.insert(u, report_id);
        }
    }
    let mut out = Vec::new();
    for c in children {
        let report = match latest.get(&c.id) {
            Some(id) => store.report_by_id(*id)?.map(std::sync::Arc::new),
            None => None,
        };
        out.push(crate::rules::UnitReport {
            name: c.name.clone(),
            report,
        });
    }
    Ok(Some(out))
}

/// Imports a register file into the store, replacing the register whole.
pub fn import(store: &mut Store, path: &Path) -> Result<usize, UnitsError> {
    let units = read_register(path)?;
    Ok(store.replace_units(&units)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: i64, name: &str, aliases: &[&str]) -> Unit {
        Unit {
            id,
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            kind: UnitKind::Department,
            parent: None,
            emails: Vec::new(),
        }
    }

    #[test]
    fn issuers_match_by_name_alias_and_normalised_name_and_never_guess() {
        let units = [
            unit(1, "淮安经济技术开发区党政办公室", &["经开区党政办"]),
            unit(2, "淮南市人民政府办公室", &[]),
            unit(3, "井陉矿区人民政府", &[]),
            unit(4, "沭阳县发展和改革局", &[]),
            unit(5, "泗阳县发展和改革局", &[]),
        ];
        let m = Matcher::new(units.to_vec());
        assert_eq!(m.find("淮安经济技术开发区党政办公室"), Match::One(1));
        assert_eq!(m.find("经开区党政办"), Match::One(1));
        assert_eq!(m.find("淮南市人民政府办公室"), Match::One(2));
        assert_eq!(m.find("淮南市政府办公室"), Match::One(2), "人民政府/政府");
        assert_eq!(m.find("井陘礦區人民政府"), Match::One(3), "traditional");
        assert_eq!(
            m.find("发展和改革局"),
            Match::Several(vec![4, 5]),
            "two counties' bureaus"
        );
        assert_eq!(m.find("烟台市人民政府"), Match::None);
        // Asked again, the remembered answers are the same.
        assert_eq!(m.find("经开区党政办"), Match::One(1));
        assert_eq!(m.find("发展和改革局"), Match::Several(vec![4, 5]));
        assert_eq!(m.find("烟台市人民政府"), Match::None);
    }

    #[test]
    fn csv_fields_keep_quotes_commas_and_line_breaks() {
        let rows = read_csv("名称,别名\n\"甲,乙\",\"说\"\"明\"\r\n丙,\n");
        assert_eq!(
            rows,
            [
                vec!["名称".to_string(), "别名".into()],
                vec!["甲,乙".into(), "说\"明".into()],
                vec!["丙".into(), "".into()]
            ]
        );
    }
}
