//! The helpers scripts get, besides the report itself. Documented for rule writers in
//! `rules/README.md`; every function here is listed there.
//!
//! All helpers are pure: they read the report in place (no copy) and cannot change it. Regular
//! expressions are compiled once per pattern and cached, so rules pay for a pattern once per
//! process, not once per report.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{LazyLock, Mutex, PoisonError};

use regex::Regex;
use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FuncRegistration, ImmutableString, Map,
    NativeCallContext, FLOAT, INT,
};
use rustc_hash::FxHashMap;

use super::grid::{Cells, Slot};
use super::similar;
use super::view::{self, ScriptReport};
use crate::model::{self, label, Report, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

type Res<T> = Result<T, Box<EvalAltResult>>;

thread_local! {
    /// This thread's copies of the compiled patterns (no lock on the hot path; each copy has
    /// its own search caches).
    static REGEX_CACHE: RefCell<FxHashMap<String, Rc<Regex>>> = RefCell::new(FxHashMap::default());
}

/// Patterns kept at most, per thread and in [`COMPILED`]; past it they are compiled again.
const MAX_PATTERNS: usize = 1024;

/// The process's compiled patterns, from which each thread takes its copy: compiling one costs
/// about a million instructions (its Unicode classes), more than a report's search with it, so
/// the threads of `check`, `reaudit` or the daemon compile each pattern once between them.
static COMPILED: LazyLock<Mutex<FxHashMap<String, Regex>>> = LazyLock::new(Mutex::default);

/// Compiles (or fetches) a pattern; bad or oversized patterns are script errors.
fn regex(pattern: &str) -> Res<Rc<Regex>> {
    if let Some(re) = REGEX_CACHE.with_borrow(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let (re, _) = shared_regex(pattern)?;
    let re = Rc::new(re);
    REGEX_CACHE.with_borrow_mut(|cache| {
        if cache.len() > MAX_PATTERNS {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
    });
    Ok(re)
}

/// A copy of the process's compiled `pattern`, compiled now if no thread has (then `true`).
/// The lock is held while compiling: a thread asking for the same pattern meanwhile waits for
/// it rather than compiling it too.
fn shared_regex(pattern: &str) -> Res<(Regex, bool)> {
    let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(re) = compiled.get(pattern) {
        return Ok((re.clone(), false));
    }
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex `{pattern}`: {e}"))?;
    if compiled.len() > MAX_PATTERNS {
        compiled.clear();
    }
    compiled.insert(pattern.to_string(), re.clone());
    Ok((re, true))
}

fn template_of(report: &Report) -> Template {
    report.template.unwrap_or(Template::Y2021)
}

fn strings(items: &[&str]) -> Array {
    items.iter().map(|s| Dynamic::from(s.to_string())).collect()
}

/// A cell of table 2, 3 or 4 read straight from the report: a number, or `()`.
fn cell(report: &Report, table: &str, row: &str, col: &str) -> Dynamic {
    match table {
        "table2" => report
            .table2
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .flatten()
            .map_or(Dynamic::UNIT, Dynamic::from),
        _ => report
            .count(table, row, col)
            .map_or(Dynamic::UNIT, Dynamic::from),
    }
}

/// A count of table 3 or 4 (a number, or `()`), read by position.
fn count(cells: Cells<'_>, table: &str, row: &str, col: &str) -> Dynamic {
    cells
        .value(table, row, col)
        .map_or(Dynamic::UNIT, Dynamic::from)
}

/// A cell as evidence (`model::CellRef`): where it is, its value and its text as printed
/// (`()` when the parser could not read it).
fn cell_ref(report: &Report, table: &str, row: &str, col: &str) -> Map {
    let mut m = Map::new();
    m.insert("table".into(), Dynamic::from(table.to_string()));
    m.insert("row".into(), Dynamic::from(row.to_string()));
    m.insert("column".into(), Dynamic::from(col.to_string()));
    m.insert("value".into(), cell(report, table, row, col));
    m.insert("text".into(), raw_cell(report, table, row, col));
    m
}

/// The cell in error, with the value it should hold when an identity gives one.
fn wrong_cell(
    report: &Report,
    table: &str,
    row: &str,
    col: &str,
    expected: Option<Dynamic>,
) -> Map {
    let mut m = cell_ref(report, table, row, col);
    m.insert("wrong".into(), Dynamic::TRUE);
    if let Some(e) = expected.filter(|e| !e.is_unit()) {
        m.insert("expected".into(), e);
    }
    m
}

/// Every cell of these rows and columns, row by row, as evidence.
fn cell_refs(report: &Report, table: &str, rows: &Array, cols: &Array) -> Array {
    let mut out = Array::new();
    for row in rows {
        for col in cols {
            out.push(Dynamic::from_map(cell_ref(
                report,
                table,
                &row.to_string(),
                &col.to_string(),
            )));
        }
    }
    out
}

/// A quote as evidence (`model::Quote`): the sentence, and the character offsets of `part` in
/// it (the first occurrence; none when it does not occur).
fn quote_text(sentence: &str, part: &str) -> Map {
    let (start, end) = match sentence.find(part).filter(|_| !part.is_empty()) {
        Some(at) => {
            let start = sentence[..at].chars().count();
            (start, start + part.chars().count())
        }
        None => (0, 0),
    };
    quote_map(sentence, start, end)
}

/// A claim's number quoted in its sentence: `before` is the sentence's text before the number,
/// so the offsets are exact even when the number occurs earlier in the sentence too.
fn quote_claim(claim: &Map) -> Map {
    let sentence = claim_field(claim, "sentence");
    let text = claim_field(claim, "text");
    let before = claim_field(claim, "before");
    let start = before.chars().count();
    let at_start: String = sentence
        .chars()
        .skip(start)
        .take(text.chars().count())
        .collect();
    if sentence.starts_with(&before) && at_start == text {
        quote_map(&sentence, start, start + text.chars().count())
    } else {
        quote_text(&sentence, &text)
    }
}

fn quote_map(sentence: &str, start: usize, end: usize) -> Map {
    let mut m = Map::new();
    m.insert("sentence".into(), Dynamic::from(sentence.to_string()));
    m.insert("start".into(), Dynamic::from(start as INT));
    m.insert("end".into(), Dynamic::from(end as INT));
    m
}

/// The names in a script's list of rows or columns, shared rather than copied (an item not a
/// string is left out).
fn name_list(names: Array) -> Vec<ImmutableString> {
    names
        .into_iter()
        .filter_map(|name| name.into_immutable_string().ok())
        .collect()
}

/// The rows of table 3 (the report's template's, in order) or of table 4 and its columns.
fn table_shape(report: &Report, table: &str) -> Res<(Vec<&'static str>, &'static [&'static str])> {
    match table {
        "table3" => Ok((model::t3_rows(template_of(report)), &T3_COLUMNS[..])),
        "table4" => Ok((T4_GROUPS.to_vec(), &T4_COLUMNS[..])),
        _ => Err(format!("no table `{table}` here: table3 or table4").into()),
    }
}

/// The sum of the cells at `pairs` (row, column) that hold numbers, as `value` reads them;
/// blank and unread cells count 0.
fn numbers_sum<'n>(
    pairs: impl Iterator<Item = (&'n str, &'n str)>,
    value: impl Fn(&str, &str) -> Option<i64>,
) -> i64 {
    pairs.fold(0i64, |sum, (row, col)| {
        sum.saturating_add(value(row, col).unwrap_or(0))
    })
}

/// The rows of a table whose `total` cell, a blank taken as 0, differs from the sum of the
/// `parts` cells holding numbers: every row a check of that sum can say something about, and
/// no other (a row whose total and parts are all blank adds up).
fn rows_not_adding_up(
    cells: Cells<'_>,
    table: &str,
    total: &str,
    parts: &[ImmutableString],
) -> Res<Array> {
    let (rows, _) = table_shape(cells.report, table)?;
    let value = |row: &str, col: &str| cells.value(table, row, col);
    Ok(rows
        .into_iter()
        .filter(|row| {
            let sum = numbers_sum(parts.iter().map(|c| (*row, c.as_str())), value);
            value(row, total).unwrap_or(0) != sum
        })
        .map(|row| Dynamic::from(ImmutableString::from(row)))
        .collect())
}

/// The columns of a table where the cells of the `left` rows and those of the `right` rows,
/// blanks taken as 0, sum differently.
fn columns_not_adding_up(
    cells: Cells<'_>,
    table: &str,
    left: &[ImmutableString],
    right: &[ImmutableString],
) -> Res<Array> {
    let (_, cols) = table_shape(cells.report, table)?;
    let value = |row: &str, col: &str| cells.value(table, row, col);
    let side = |rows: &[ImmutableString], col: &'static str| {
        numbers_sum(rows.iter().map(|r| (r.as_str(), col)), value)
    };
    Ok(cols
        .iter()
        .filter(|col| side(left, col) != side(right, col))
        .map(|col| Dynamic::from(ImmutableString::from(*col)))
        .collect())
}

/// The 总计 of some table-3 rows together, as the document gives it: a row whose 总计 cell is
/// blank counts with the sum of its applicant cells (the blank cell itself is another rule's
/// finding). `None` when a cell involved is unread, or when no cell of the rows is filled.
fn category_total(cells: Cells<'_>, rows: &[ImmutableString]) -> Option<i64> {
    let value = |row: &str, col: &str| cells.value("table3", row, col);
    let mut total = 0i64;
    let mut any = false;
    for row in rows {
        if cells.is_unread("table3", row, "total") {
            return None;
        }
        if let Some(v) = value(row, "total") {
            total = total.saturating_add(v);
            any = true;
            continue;
        }
        for col in &T3_COLUMNS[..6] {
            if cells.is_unread("table3", row, col) {
                return None;
            }
            if let Some(v) = value(row, col) {
                total = total.saturating_add(v);
                any = true;
            }
        }
    }
    any.then_some(total)
}

fn as_float(v: &Dynamic) -> Option<FLOAT> {
    if let Ok(i) = v.as_int() {
        return Some(i as FLOAT);
    }
    v.as_float().ok()
}

/// The cells of table 3 or 4 that are not whole numbers ≥ 0 (blank, `/`, text, negative), in
/// template order, as `#{row, col, value, raw, kind}`: rules look only at these instead of every
/// cell. `raw` is the cell as printed (`()` when it was not read); `kind` is `"missing"` (not
/// read), `"blank"` (empty or `/`, `-`, `—`, `无`), `"text"` (something else) or `"negative"`.
fn suspect_cells(cells: Cells<'_>, table: &str, kinds: Option<&[&str]>) -> Array {
    let report = cells.report;
    let (rows, cols): (Vec<&str>, &[&str]) = match table {
        "table3" => (model::t3_rows(template_of(report)), &T3_COLUMNS),
        "table4" => (T4_GROUPS.to_vec(), &T4_COLUMNS),
        _ => return Array::new(),
    };
    let mut out = Array::new();
    let raw_table = report.raw_cells.get(table);
    for row in rows {
        let mut raw_row = None;
        let slots = cells.row(table, row).unwrap_or_default();
        for (col, slot) in cols.iter().zip(slots.iter()) {
            let v = slot.value;
            if v.is_some_and(|v| v >= 0) {
                continue;
            }
            let raw = raw_row
                .get_or_insert_with(|| raw_table.and_then(|cells| cells.get(row)))
                .and_then(|r| r.get(*col));
            let kind = match (v, raw.map(|t| t.trim())) {
                (Some(_), _) => "negative",
                (None, None) => "missing",
                (None, Some(t)) if is_blank_mark(t) => "blank",
                (None, Some(_)) => "text",
            };
            if kinds.is_some_and(|k| !k.contains(&kind)) {
                continue;
            }
            let mut m = Map::new();
            m.insert("row".into(), Dynamic::from(row.to_string()));
            m.insert("col".into(), Dynamic::from(col.to_string()));
            m.insert("value".into(), v.map_or(Dynamic::UNIT, Dynamic::from));
            m.insert(
                "raw".into(),
                raw.map_or(Dynamic::UNIT, |t| Dynamic::from(t.clone())),
            );
            m.insert("kind".into(), Dynamic::from(kind));
            out.push(Dynamic::from_map(m));
        }
    }
    out
}

/// A cell printed empty or with a mark standing for "nothing" (`/`, `-`, `—`, `无`).
fn is_blank_mark(text: &str) -> bool {
    text.chars()
        .all(|c| matches!(c, '/' | '／' | '-' | '－' | '—' | '–' | '无'))
}

/// Whether `items` holds `value`: `same` compares an item of the value's own type directly
/// (`None` for an item of another type, which is compared through the script's `==`, as
/// Rhai's own `contains` does).
fn contains_in(
    ctx: &NativeCallContext,
    items: &mut Array,
    value: Dynamic,
    same: impl Fn(&Dynamic) -> Option<bool>,
) -> Result<bool, Box<EvalAltResult>> {
    for item in items.iter_mut() {
        let equal = match same(item) {
            Some(equal) => equal,
            None => ctx
                .call_native_fn_raw("==", true, &mut [item, &mut value.clone()])
                .or_else(|err| match *err {
                    EvalAltResult::ErrorFunctionNotFound(..) => Ok(Dynamic::FALSE),
                    _ => Err(err),
                })?
                .as_bool()
                .unwrap_or(false),
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How many items of an array of maps have each value of `field` (`count_by(cells, "col")`).
fn count_by(items: &Array, field: &str) -> Map {
    let mut out = Map::new();
    for item in items {
        let key = item
            .read_lock::<Map>()
            .and_then(|m| m.get(field).map(|v| v.to_string()))
            .unwrap_or_default();
        let n = out
            .get(key.as_str())
            .and_then(|v| v.as_int().ok())
            .unwrap_or(0);
        out.insert(key.into(), Dynamic::from(n + 1));
    }
    out
}

/// Sum of the values that are numbers; `()` when none is.
fn sum(values: impl Iterator<Item = Dynamic>) -> Dynamic {
    let mut total: INT = 0;
    let mut any = false;
    for v in values {
        if let Ok(i) = v.as_int() {
            total += i;
            any = true;
        }
    }
    if any {
        Dynamic::from(total)
    } else {
        Dynamic::UNIT
    }
}

fn finding(message: &str, evidence: Dynamic, severity: Option<&str>) -> Res<Map> {
    let mut m = Map::new();
    m.insert("message".into(), Dynamic::from(message.to_string()));
    m.insert("evidence".into(), evidence);
    if let Some(s) = severity {
        s.parse::<model::Severity>()
            .map_err(|e| Box::new(EvalAltResult::from(e)))?;
        m.insert("severity".into(), Dynamic::from(s.to_string()));
    }
    Ok(m)
}

fn claims_matching(report: &ScriptReport, pattern: &str, unit: Option<&str>) -> Res<Array> {
    claims_where(report, pattern, |c| unit.is_none_or(|u| c.unit == u))
}

/// The claims whose sentence matches `pattern` and that `keep`, as maps (made for those only).
fn claims_where(
    report: &ScriptReport,
    pattern: &str,
    keep: impl Fn(&model::Claim) -> bool,
) -> Res<Array> {
    let re = regex(pattern)?;
    Ok(report
        .report()
        .claims
        .iter()
        .enumerate()
        .filter(|(_, c)| keep(c) && re.is_match(&c.sentence))
        .map(|(i, _)| report.claim(i))
        .collect())
}

/// `claims(report, pattern, #{ units: [...], sections: [...] })`: the claims whose sentence
/// matches, whose unit is one of `units` and whose section is one of `sections` (`()` among
/// them: also those in no section found). A key left out does not filter; another key is an
/// error, so that a misspelt one does not pass every claim.
fn claims_with(report: &ScriptReport, pattern: &str, options: &Map) -> Res<Array> {
    let strings = |key: &str| -> Res<Option<Vec<Option<String>>>> {
        let Some(list) = options.get(key) else {
            return Ok(None);
        };
        let list = list
            .as_array_ref()
            .map_err(|_| format!("claims: `{key}` must be an array, not {}", list.type_name()))?;
        let item = |v: &Dynamic| -> Res<Option<String>> {
            if v.is_unit() {
                return Ok(None);
            }
            let text = v
                .clone()
                .into_string()
                .map_err(|t| format!("claims: `{key}` holds strings (or `()`), not {t}"))?;
            Ok(Some(text))
        };
        list.iter().map(item).collect::<Res<Vec<_>>>().map(Some)
    };
    if let Some(other) = options
        .keys()
        .find(|k| !matches!(k.as_str(), "units" | "sections"))
    {
        return Err(format!("claims: no option `{other}` (options: units, sections)").into());
    }
    let units = strings("units")?;
    let sections = strings("sections")?;
    claims_where(report, pattern, |c| {
        units
            .as_ref()
            .is_none_or(|us| us.iter().flatten().any(|u| *u == c.unit))
            && sections.as_ref().is_none_or(|ss| {
                let key = c.section.map(|k| k.as_str());
                ss.iter().any(|s| s.as_deref() == key)
            })
    })
}

/// The claims of the sentence `claim` is in, in order (`claim` among them).
fn sentence_claims(report: &ScriptReport, claim: &Map) -> Array {
    let sentence = claim_field(claim, "sentence");
    let start = claim
        .get("start")
        .and_then(|v| v.as_int().ok())
        .unwrap_or(-1);
    // A sentence is contiguous: only claims within its length of this one can share it.
    let reach = sentence.chars().count() as INT + 200;
    report
        .report()
        .claims
        .iter()
        .enumerate()
        .filter(|(_, c)| (c.start as INT - start).abs() <= reach && c.sentence == sentence)
        .map(|(i, _)| report.claim(i))
        .collect()
}

/// The text a cell of table 3 or 4 was printed as (`"/"`, `""`, `"12"`), or `()` when the
/// cell was not read at all.
fn raw_cell(report: &Report, table: &str, row: &str, col: &str) -> Dynamic {
    report
        .raw_cells
        .get(table)
        .and_then(|cells| cells.get(row))
        .and_then(|r| r.get(col))
        .map_or(Dynamic::UNIT, |t| Dynamic::from(t.clone()))
}

fn section_text(report: &Report, key: &str) -> String {
    report
        .section_text
        .iter()
        .find(|s| s.key.as_str() == key)
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

/// A text field of a claim (`before`, `after`): the parser computes the words around each
/// number once, across hard line breaks; the helpers only hand them out.
fn claim_field(claim: &Map, field: &str) -> String {
    claim
        .get(field)
        .and_then(|v| v.clone().into_string().ok())
        .unwrap_or_default()
}

/// The report's text from the end of claim `a` to the start of claim `b` (character offsets),
/// `""` when `b` does not come after `a`.
fn text_between(report: &Report, a: &Map, b: &Map) -> String {
    let at = |m: &Map, k: &str| m.get(k).and_then(|v| v.as_int().ok()).unwrap_or(0).max(0) as usize;
    let (from, to) = (at(a, "end"), at(b, "start"));
    if to <= from {
        return String::new();
    }
    report.text.chars().skip(from).take(to - from).collect()
}

/// How many Chinese characters (Han script) a text has.
fn han_count(text: &str) -> INT {
    text.chars()
        .filter(|c| {
            matches!(*c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
        })
        .count() as INT
}

/// How many decimals a printed number has (`99.84%` → 2, `100%` → 0).
fn decimals(text: &str) -> INT {
    let Some(dot) = text.find('.') else {
        return 0;
    };
    text[dot + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .count() as INT
}

/// Registers every helper on the engine.
pub fn register(engine: &mut Engine) {
    view::register(engine);
    let pure = |name: &str| FuncRegistration::new(name).with_purity(true);

    // Table layout.
    pure("t3_rows").register_into_engine(engine, |r: &mut ScriptReport| {
        strings(&model::t3_rows(template_of(r.report())))
    });
    pure("result_categories").register_into_engine(engine, |r: &mut ScriptReport| -> Array {
        model::t3_categories(template_of(r.report()))
            .into_iter()
            .map(|(name, rows)| {
                let mut m = Map::new();
                m.insert("name".into(), name.into());
                m.insert("rows".into(), strings(&rows).into());
                Dynamic::from(m)
            })
            .collect()
    });
    FuncRegistration::new("t3_columns").register_into_engine(engine, || strings(&T3_COLUMNS));
    FuncRegistration::new("applicant_columns")
        .register_into_engine(engine, || strings(&T3_COLUMNS[..6]));
    FuncRegistration::new("t4_groups").register_into_engine(engine, || strings(&T4_GROUPS));
    FuncRegistration::new("t4_columns").register_into_engine(engine, || strings(&T4_COLUMNS));

    // Cells and sums.
    pure("t3").register_into_engine(engine, |r: &mut ScriptReport, row: &str, col: &str| {
        count(r.cells(), "table3", row, col)
    });
    pure("t4").register_into_engine(engine, |r: &mut ScriptReport, group: &str, col: &str| {
        count(r.cells(), "table4", group, col)
    });
    pure("t2").register_into_engine(engine, |r: &mut ScriptReport, row: &str, col: &str| {
        cell(r.report(), "table2", row, col)
    });
    pure("suspect_cells").register_into_engine(engine, |r: &mut ScriptReport, table: &str| {
        suspect_cells(r.cells(), table, None)
    });
    pure("suspect_cells").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, kinds: Array| {
            let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
            let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
            suspect_cells(r.cells(), table, Some(&kinds))
        },
    );
    // Sums over table-3 cells: blank cells count as nothing, but one unread cell makes the sum
    // unknown (`()`), so no rule compares a sum the parser could only read in part.
    pure("row_sum").register_into_engine(engine, |r: &mut ScriptReport, row: &str| {
        let cells = r.cells();
        let slots = cells.row("table3", row).unwrap_or_default();
        let applicants = &slots[..slots.len().min(6)];
        if applicants.iter().any(Slot::unread) {
            return Dynamic::UNIT;
        }
        sum(applicants
            .iter()
            .map(|s| s.value.map_or(Dynamic::UNIT, Dynamic::from)))
    });
    pure("column_sum").register_into_engine(
        engine,
        |r: &mut ScriptReport, col: &str, rows: Array| {
            let cells = r.cells();
            let rows = name_list(rows);
            if rows.iter().any(|row| cells.is_unread("table3", row, col)) {
                return Dynamic::UNIT;
            }
            sum(rows.iter().map(|row| count(cells, "table3", row, col)))
        },
    );
    pure("rows_not_adding_up").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, total: &str, parts: Array| {
            rows_not_adding_up(r.cells(), table, total, &name_list(parts))
        },
    );
    pure("columns_not_adding_up").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, left: Array, right: Array| {
            columns_not_adding_up(r.cells(), table, &name_list(left), &name_list(right))
        },
    );
    pure("category_total").register_into_engine(engine, |r: &mut ScriptReport, rows: Array| {
        category_total(r.cells(), &name_list(rows)).map_or(Dynamic::UNIT, Dynamic::from)
    });
    FuncRegistration::new("cell_labels").register_into_engine(
        engine,
        |cells: &mut Array, table: &str| -> Array {
            cells
                .iter()
                .filter_map(|c| {
                    let m = c.read_lock::<Map>()?;
                    let field = |k: &str| m.get(k).map(|v| v.to_string()).unwrap_or_default();
                    Some(Dynamic::from(format!(
                        "{}/{}",
                        label(table, &field("row")),
                        label(table, &field("col"))
                    )))
                })
                .collect()
        },
    );
    // Evidence: cells and quotes in the shapes every output renders (model::Evidence).
    pure("cell_ref").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, row: &str, col: &str| {
            cell_ref(r.report(), table, row, col)
        },
    );
    pure("wrong_cell").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, row: &str, col: &str| {
            wrong_cell(r.report(), table, row, col, None)
        },
    );
    pure("wrong_cell").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, row: &str, col: &str, expected: Dynamic| {
            wrong_cell(r.report(), table, row, col, Some(expected))
        },
    );
    pure("cell_refs").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, rows: Array, cols: Array| {
            cell_refs(r.report(), table, &rows, &cols)
        },
    );
    FuncRegistration::new("quote").register_into_engine(engine, |claim: Map| quote_claim(&claim));
    FuncRegistration::new("quote").register_into_engine(engine, |sentence: &str, part: &str| {
        quote_text(sentence, part)
    });
    FuncRegistration::new("count_by")
        .register_into_engine(engine, |items: &mut Array, field: &str| {
            count_by(items, field)
        });
    FuncRegistration::new("sum")
        .register_into_engine(engine, |values: Array| sum(values.into_iter()));

    // Narrative.
    pure("claims").register_into_engine(engine, |r: &mut ScriptReport, pattern: &str| {
        claims_matching(r, pattern, None)
    });
    pure("claims")
        .register_into_engine(engine, |r: &mut ScriptReport, pattern: &str, unit: &str| {
            claims_matching(r, pattern, Some(unit))
        });
    pure("claims").register_into_engine(
        engine,
        |r: &mut ScriptReport, pattern: &str, options: Map| claims_with(r, pattern, &options),
    );
    pure("sentence_claims").register_into_engine(engine, |r: &mut ScriptReport, claim: Map| {
        sentence_claims(r, &claim)
    });
    pure("text_between").register_into_engine(engine, |r: &mut ScriptReport, a: Map, b: Map| {
        text_between(r.report(), &a, &b)
    });
    pure("raw_cell").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, row: &str, col: &str| {
            raw_cell(r.report(), table, row, col)
        },
    );
    pure("unread").register_into_engine(
        engine,
        |r: &mut ScriptReport, table: &str, row: &str, col: &str| {
            r.cells().is_unread(table, row, col)
        },
    );
    pure("section_text").register_into_engine(engine, |r: &mut ScriptReport, key: &str| {
        section_text(r.report(), key)
    });
    pure("section_heading").register_into_engine(engine, |r: &mut ScriptReport, key: &str| {
        r.report()
            .section_text
            .iter()
            .find(|s| s.key.as_str() == key)
            .map_or(Dynamic::UNIT, |s| Dynamic::from(s.heading.clone()))
    });
    pure("has_section").register_into_engine(engine, |r: &mut ScriptReport, key: &str| {
        r.report().sections.iter().any(|k| k.as_str() == key)
    });
    FuncRegistration::new("matches").register_into_engine(engine, |text: &str, pattern: &str| {
        Ok::<_, Box<EvalAltResult>>(regex(pattern)?.is_match(text))
    });
    FuncRegistration::new("find").register_into_engine(engine, |text: &str, pattern: &str| {
        let re = regex(pattern)?;
        let out: Array = match re.captures(text) {
            Some(c) => c
                .iter()
                .map(|g| g.map_or(Dynamic::UNIT, |g| Dynamic::from(g.as_str().to_string())))
                .collect(),
            None => Array::new(),
        };
        Ok::<_, Box<EvalAltResult>>(out)
    });
    FuncRegistration::new("find_all").register_into_engine(engine, |text: &str, pattern: &str| {
        let re = regex(pattern)?;
        let out: Array = re
            .captures_iter(text)
            .take(10_000)
            .map(|c| {
                let groups: Array = c
                    .iter()
                    .map(|g| g.map_or(Dynamic::UNIT, |g| Dynamic::from(g.as_str().to_string())))
                    .collect();
                Dynamic::from_array(groups)
            })
            .collect();
        Ok::<_, Box<EvalAltResult>>(out)
    });
    FuncRegistration::new("similarity")
        .register_into_engine(engine, |a: &str, b: &str| similar::similarity(a, b));
    FuncRegistration::new("containment")
        .register_into_engine(engine, |a: &str, b: &str| similar::containment(a, b));
    FuncRegistration::new("sentences").register_into_engine(engine, |text: &str| -> Array {
        similar::sentences(text)
            .into_iter()
            .map(|s| Dynamic::from(s.to_string()))
            .collect()
    });
    FuncRegistration::new("sentences").register_into_engine(
        engine,
        |text: &str, pattern: &str| -> Res<Array> {
            let re = regex(pattern)?;
            Ok(similar::sentences(text)
                .into_iter()
                .filter(|s| re.is_match(s))
                .map(|s| Dynamic::from(s.to_string()))
                .collect())
        },
    );
    FuncRegistration::new("clauses").register_into_engine(engine, |text: &str| -> Array {
        similar::clauses(text)
            .into_iter()
            .map(|s| Dynamic::from(s.to_string()))
            .collect()
    });
    FuncRegistration::new("contains_any").register_into_engine(
        engine,
        |text: &str, phrases: Array| -> Dynamic {
            let phrases = phrases
                .into_iter()
                .filter_map(|p| p.into_immutable_string().ok());
            similar::first_phrase(text, phrases).map_or(Dynamic::UNIT, Dynamic::from)
        },
    );
    FuncRegistration::new("copied_sentences").register_into_engine(
        engine,
        |text: &str, source: &str, threshold: FLOAT| {
            similar::copied_sentences(text, source, threshold)
        },
    );

    // Text around claims, labels.
    // `before(report, claim)` and `before(report.text, claim)` both read the claim's field.
    pure("before").register_into_engine(engine, |_: &mut ScriptReport, claim: Map| {
        claim_field(&claim, "before")
    });
    pure("after").register_into_engine(engine, |_: &mut ScriptReport, claim: Map| {
        claim_field(&claim, "after")
    });
    FuncRegistration::new("before")
        .register_into_engine(engine, |_: &str, claim: Map| claim_field(&claim, "before"));
    FuncRegistration::new("after")
        .register_into_engine(engine, |_: &str, claim: Map| claim_field(&claim, "after"));
    FuncRegistration::new("label")
        .register_into_engine(engine, |table: &str, key: &str| label(table, key));
    FuncRegistration::new("compact")
        .register_into_engine(engine, |text: &str| crate::extract::compact(text));
    FuncRegistration::new("han_count").register_into_engine(engine, |text: &str| han_count(text));
    FuncRegistration::new("decimals").register_into_engine(engine, |text: &str| decimals(text));
    FuncRegistration::new("join").register_into_engine(engine, |items: Array, sep: &str| {
        items
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(sep)
    });

    // Numbers.
    FuncRegistration::new("approx").register_into_engine(
        engine,
        |a: Dynamic, b: Dynamic, tol: Dynamic| match (as_float(&a), as_float(&b), as_float(&tol)) {
            (Some(a), Some(b), Some(t)) => (a - b).abs() <= t + 1e-9,
            _ => false,
        },
    );
    FuncRegistration::new("percent").register_into_engine(
        engine,
        |part: Dynamic, whole: Dynamic| match (as_float(&part), as_float(&whole)) {
            (Some(p), Some(w)) if w != 0.0 => Dynamic::from(p * 100.0 / w),
            _ => Dynamic::UNIT,
        },
    );
    FuncRegistration::new("round_to").register_into_engine(engine, |x: Dynamic, digits: INT| {
        match as_float(&x) {
            Some(v) => {
                let f = 10f64.powi(digits.clamp(0, 12) as i32);
                Dynamic::from((v * f).round() / f)
            }
            None => Dynamic::UNIT,
        }
    });
    FuncRegistration::new("is_number")
        .register_into_engine(engine, |x: Dynamic| as_float(&x).is_some());

    // `x in array` for a string or a number: compared here, not through the script's `==` for
    // each item (a function call per item, the pack's costliest operation). Items of other
    // types are compared as Rhai compares them.
    pure("contains").register_into_engine(
        engine,
        |ctx: NativeCallContext, items: &mut Array, value: ImmutableString| {
            contains_in(&ctx, items, Dynamic::from(value.clone()), |item| {
                item.read_lock::<ImmutableString>().map(|s| *s == value)
            })
        },
    );
    pure("contains").register_into_engine(
        engine,
        |ctx: NativeCallContext, items: &mut Array, value: INT| {
            contains_in(&ctx, items, Dynamic::from(value), |item| {
                item.as_int().ok().map(|i| i == value)
            })
        },
    );

    // Findings.
    FuncRegistration::new("finding").register_into_engine(engine, |message: &str| {
        finding(message, Dynamic::from_map(Map::new()), None)
    });
    FuncRegistration::new("finding")
        .register_into_engine(engine, |message: &str, evidence: Dynamic| {
            finding(message, evidence, None)
        });
    FuncRegistration::new("finding").register_into_engine(
        engine,
        |message: &str, evidence: Dynamic, severity: &str| {
            finding(message, evidence, Some(severity))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once_for_all_threads() {
        let pattern = "只在这个测试里用的(模式)\\d+";
        let first = std::thread::spawn(move || {
            let compiled_here = shared_regex(pattern).map(|(_, now)| now);
            (
                compiled_here,
                regex(pattern).map(|re| re.is_match("只在这个测试里用的模式12")),
            )
        })
        .join()
        .expect("first thread");
        assert_eq!(first.0.ok(), Some(true));
        assert_eq!(first.1.ok(), Some(true));
        let second = std::thread::spawn(move || shared_regex(pattern).map(|(_, now)| now))
            .join()
            .expect("second thread");
        assert_eq!(second.ok(), Some(false), "compiled again by another thread");
        let bad = regex("(未闭合").map(|_| ()).expect_err("a bad pattern");
        assert!(bad.to_string().contains("invalid regex `(未闭合`"), "{bad}");
    }

    #[test]
    fn labels_decimals_han() {
        assert_eq!(label("table3", "granted"), "(一)予以公开");
        assert_eq!(label("table4", "other"), "其他结果");
        assert_eq!(label("section", "problems"), "五、存在的主要问题及改进情况");
        assert_eq!(label("table3", "nope"), "nope");
        assert_eq!(decimals("99.84%"), 2);
        assert_eq!(decimals("100%"), 0);
        assert_eq!(han_count("无。abc 存在问题"), 5);
    }
}
