//! How findings are shown to people: the rule's Chinese title, the message, and the evidence
//! rendered — the rows of a table concerned with the wrong cell marked, the sentence quoted
//! with its number highlighted, long lists of cells summed up in one line. The mail, the
//! workbook and the web console render these views; none of them shows evidence JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{
    self, format_number, label, CellRef, Compared, Finding, Report, Severity, Template, T3_COLUMNS,
    T4_COLUMNS, T4_GROUPS,
};

/// More cells than this are summed up in one line instead of drawn as a table.
pub const MAX_DRAWN_CELLS: usize = 16;

/// The title shown for findings of a rule that failed to run.
pub const RULE_ERROR_TITLE: &str = "规则运行出错";

/// Rule id → Chinese title.
pub type Titles = BTreeMap<String, String>;

/// The titles of each rule-set version, read from the store once per version rather than once
/// per report (an export of thousands of reports shares a handful of versions).
#[derive(Debug, Default)]
pub struct TitleCache(BTreeMap<String, Titles>);

impl TitleCache {
    /// The titles of an audit's rule-set version.
    pub fn of(
        &mut self,
        store: &crate::store::Store,
        audit: &str,
    ) -> Result<&Titles, crate::store::StoreError> {
        let version = crate::store::version_of(audit).to_string();
        if !self.0.contains_key(&version) {
            let titles = store.rule_titles(&version)?;
            self.0.insert(version.clone(), titles);
        }
        Ok(&self.0[&version])
    }
}

/// 错误 / 警告 / 提示.
pub fn severity_zh(s: Severity) -> &'static str {
    match s {
        Severity::Error => "错误",
        Severity::Warning => "警告",
        Severity::Info => "提示",
    }
}

/// The Chinese name of a table key.
pub fn table_zh(table: &str) -> &str {
    match table {
        "table2" => "表二",
        "table3" => "表三",
        "table4" => "表四",
        other => other,
    }
}

/// A finding as people see it.
#[derive(Debug, Clone, Serialize)]
pub struct ShownFinding {
    pub rule: String,
    /// The rule's Chinese title (the id when the rule set no longer has the rule).
    pub title: String,
    pub severity: String,
    pub severity_zh: String,
    pub message: String,
    /// The rows of the tables concerned, when the finding is about a few cells.
    pub tables: Vec<CellTable>,
    /// One line per table for a finding about many cells (the full list is in the workbook).
    pub cells_summary: Vec<String>,
    /// The sentences quoted.
    pub quotes: Vec<ShownQuote>,
    /// For a quote: the table's figures beside it (`表三“(七)总计”总计：58`).
    pub figures: Vec<ShownFigure>,
    /// Values the rule compared, with what they are.
    pub compared: Vec<ShownCompared>,
    /// The cells concerned in one line of text (`表三“(七)总计”/“总计”=9，应为10；…`), for the
    /// plain-text mail and the workbook.
    pub cells_text: String,
}

impl ShownFinding {
    /// The sentences quoted, whole (the workbook's and the CSV's 原文 column).
    pub fn quoted_sentences(&self) -> Vec<String> {
        self.quotes
            .iter()
            .map(|q| format!("{}{}{}", q.before, q.highlight, q.after))
            .collect()
    }

    /// The cells concerned in one line: each cell, or the summary of a long list.
    pub fn cells_line(&self) -> String {
        if self.cells_text.is_empty() {
            self.cells_summary.join("；")
        } else {
            self.cells_text.clone()
        }
    }
}

/// Some rows of one table, laid out like the form.
#[derive(Debug, Clone, Serialize)]
pub struct CellTable {
    /// 表二 / 表三 / 表四.
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<CellRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellRow {
    pub label: String,
    pub cells: Vec<ShownCell>,
}

/// One cell as shown.
#[derive(Debug, Clone, Serialize)]
pub struct ShownCell {
    /// As printed; `空白` for an empty cell, `未读出` for one the parser could not read, `` for a
    /// cell the row does not have.
    pub text: String,
    /// `wrong` (the cell in error), `related` (one of the cells compared), `unread`,
    /// `corrected` (a reviewer gave its value), or ``.
    pub mark: &'static str,
    /// What the cell should hold, for a wrong cell an identity gives a value for.
    pub expected: Option<String>,
    /// `table3.granted.total`: the cell's address, for a reviewer's correction (empty for a
    /// cell the row does not have).
    pub key: String,
}

/// A sentence with the part the finding is about.
#[derive(Debug, Clone, Serialize)]
pub struct ShownQuote {
    pub before: String,
    pub highlight: String,
    pub after: String,
}

/// A table's figure beside a quote.
#[derive(Debug, Clone, Serialize)]
pub struct ShownFigure {
    pub label: String,
    pub value: String,
    pub wrong: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShownCompared {
    pub label: String,
    pub value: String,
}

/// A report and its findings as people see them.
#[derive(Debug, Clone, Serialize)]
pub struct ShownReport {
    pub id: i64,
    pub organization: String,
    pub year: String,
    pub file: String,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Errors first, then warnings, then notes.
    pub findings: Vec<ShownFinding>,
    /// Why a person should look at the tables (cells the parser could not read); empty: none.
    pub review: Vec<String>,
    /// Table 3 as read, every cell marked that a finding is about (the workbook's second sheet).
    pub table3: Option<CellTable>,
}

impl ShownReport {
    /// A report and its findings as shown; `path` is the file's (its name is shown).
    pub fn new(
        id: i64,
        report: Option<&Report>,
        path: &str,
        findings: &[Finding],
        titles: &Titles,
    ) -> ShownReport {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let file = std::path::Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
        ShownReport {
            id,
            organization: report
                .and_then(|r| r.organization.clone())
                .unwrap_or_else(|| "(发布机关不详)".to_string()),
            year: report
                .and_then(|r| r.year)
                .map_or_else(|| "?".to_string(), |y| y.to_string()),
            file,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            review: report.map(Report::review_reasons).unwrap_or_default(),
            findings: show_all(findings, report, titles),
            table3: report.map(|r| whole_table(r, "table3", findings)),
        }
    }

    /// Marks in table 3 the cells a reviewer corrected (`table3.row.column`); `report` is the
    /// corrected report the view was made from.
    pub fn with_corrected(
        mut self,
        report: Option<&Report>,
        findings: &[Finding],
        corrected: &[String],
    ) -> ShownReport {
        if let (Some(r), false) = (report, corrected.is_empty()) {
            self.table3 = Some(whole_table_corrected(r, "table3", findings, corrected));
        }
        self
    }

    /// Whether a person should look at the tables before trusting the findings.
    pub fn needs_review(&self) -> bool {
        !self.review.is_empty()
    }
}

/// A stored report as the mail and the exports show it: its current findings of one audit
/// (without those dismissed; at or above `min` when given), the tables with the reviewers'
/// corrections in place and marked.
pub fn stored_report(
    store: &crate::store::Store,
    titles: &mut TitleCache,
    id: i64,
    audit: &str,
    min: Option<Severity>,
) -> Result<ShownReport, crate::store::StoreError> {
    let (report, path, mut findings) = store.report_for_mail(id, audit)?;
    if let Some(min) = min {
        findings.retain(|f| f.severity >= min);
    }
    let titles = titles.of(store, audit)?;
    let corrected = store.corrected_cells(id)?;
    Ok(
        ShownReport::new(id, report.as_ref(), &path, &findings, titles).with_corrected(
            report.as_ref(),
            &findings,
            &corrected,
        ),
    )
}

/// A whole table of the report, each cell marked by the findings about it: `wrong` when any
/// finding says so (with the value one of them expects), `related` when a finding compares it.
pub fn whole_table(report: &Report, table: &str, findings: &[Finding]) -> CellTable {
    whole_table_corrected(report, table, findings, &[])
}

/// [`whole_table`] of a report whose `corrected` cells (`table.row.column`) a reviewer gave:
/// those are marked `corrected` unless a finding calls them wrong.
pub fn whole_table_corrected(
    report: &Report,
    table: &str,
    findings: &[Finding],
    corrected: &[String],
) -> CellTable {
    let mut shown = draw_whole(report, table, findings);
    for row in &mut shown.rows {
        for cell in &mut row.cells {
            if cell.mark != "wrong" && corrected.contains(&cell.key) {
                cell.mark = "corrected";
            }
        }
    }
    shown
}

fn draw_whole(report: &Report, table: &str, findings: &[Finding]) -> CellTable {
    let template = if table == "table2" {
        report.table2_template.or(report.template)
    } else {
        report.template
    }
    .unwrap_or(Template::Y2021);
    let (rows, cols) = layout(table, template);
    let mut marks: BTreeMap<(String, String), (bool, Option<f64>)> = BTreeMap::new();
    for f in findings {
        for c in f
            .structured()
            .cells
            .into_iter()
            .filter(|c| c.table == table)
        {
            let entry = marks.entry((c.row, c.column)).or_insert((false, None));
            entry.0 |= c.wrong;
            if c.wrong && entry.1.is_none() {
                entry.1 = c.expected;
            }
        }
    }
    let t2 = model::t2_layout(template);
    draw(
        table,
        &rows,
        &cols,
        &t2,
        |row, col| report_cell(report, table, row, col),
        |row, col| marks.get(&(row.to_string(), col.to_string())).copied(),
    )
}

/// Rows × columns of a table as shown. `value` gives a cell's text and whether it is unread;
/// `mark` whether a finding calls it wrong (with the value it should hold) or compares it. A
/// cell that table 2's row does not have, and that no finding names, is left empty.
fn draw(
    table: &str,
    rows: &[&str],
    cols: &[&str],
    t2: &[(&str, Vec<&str>)],
    value: impl Fn(&str, &str) -> (String, &'static str),
    mark: impl Fn(&str, &str) -> Option<(bool, Option<f64>)>,
) -> CellTable {
    CellTable {
        name: table_zh(table).to_string(),
        columns: cols.iter().map(|c| label(table, c)).collect(),
        rows: rows
            .iter()
            .map(|row| CellRow {
                label: label(table, row),
                cells: cols
                    .iter()
                    .map(|col| {
                        let marked = mark(row, col);
                        if table == "table2"
                            && marked.is_none()
                            && !t2.iter().any(|(r, cs)| r == row && cs.contains(col))
                        {
                            return ShownCell {
                                text: String::new(),
                                mark: "",
                                expected: None,
                                key: String::new(),
                            };
                        }
                        let (text, unread) = value(row, col);
                        ShownCell {
                            text,
                            mark: match marked {
                                Some((true, _)) => "wrong",
                                Some(_) => "related",
                                None => unread,
                            },
                            expected: marked.filter(|m| m.0).and_then(|m| m.1).map(format_number),
                            key: format!("{table}.{row}.{col}"),
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// How one finding is shown; `report` fills in the other cells of the rows concerned.
pub fn show(finding: &Finding, report: Option<&Report>, titles: &Titles) -> ShownFinding {
    let evidence = finding.structured();
    let many = evidence.cells.len() > MAX_DRAWN_CELLS;
    let quoted = !evidence.quotes.is_empty();
    let template = report.and_then(|r| r.template).unwrap_or(Template::Y2021);
    ShownFinding {
        rule: finding.rule.clone(),
        title: title_of(&finding.rule, titles),
        severity: finding.severity.as_str().to_string(),
        severity_zh: severity_zh(finding.severity).to_string(),
        message: finding.message.clone(),
        tables: if many || quoted {
            Vec::new()
        } else {
            cell_tables(&evidence.cells, report)
        },
        cells_summary: if many {
            summarise(&evidence.cells, template)
        } else {
            Vec::new()
        },
        quotes: evidence
            .quotes
            .iter()
            .map(|q| {
                let (before, highlight, after) = q.parts();
                ShownQuote {
                    before,
                    highlight,
                    after,
                }
            })
            .collect(),
        figures: if quoted && !many {
            evidence
                .cells
                .iter()
                .map(|c| ShownFigure {
                    label: cell_name(c),
                    value: cell_value(c, report).0,
                    wrong: c.wrong,
                })
                .collect()
        } else {
            Vec::new()
        },
        compared: evidence.compared.iter().map(shown_compared).collect(),
        cells_text: cells_text(&evidence.cells, report),
    }
}

/// The findings of a report as shown, errors first, then warnings, then notes (each in the
/// order the rules gave them).
pub fn show_all(
    findings: &[Finding],
    report: Option<&Report>,
    titles: &Titles,
) -> Vec<ShownFinding> {
    let mut ordered: Vec<&Finding> = findings.iter().collect();
    ordered.sort_by_key(|f| std::cmp::Reverse(f.severity));
    ordered
        .into_iter()
        .map(|f| show(f, report, titles))
        .collect()
}

/// A rule's title, or its id when the titles do not have it.
pub fn title_of(rule: &str, titles: &Titles) -> String {
    if rule == "rule-error" {
        return RULE_ERROR_TITLE.to_string();
    }
    titles
        .get(rule)
        .cloned()
        .unwrap_or_else(|| rule.to_string())
}

fn shown_compared(c: &Compared) -> ShownCompared {
    ShownCompared {
        label: c.label.clone(),
        value: c.shown(),
    }
}

/// `表三“(七)总计”/“总计”`.
pub fn cell_name(c: &CellRef) -> String {
    format!(
        "{}“{}”/“{}”",
        table_zh(&c.table),
        label(&c.table, &c.row),
        label(&c.table, &c.column)
    )
}

/// A cell's text as shown and its mark (`unread` or ``), from the report when there is one
/// (its reading is the current one), else from the evidence.
fn cell_value(c: &CellRef, report: Option<&Report>) -> (String, &'static str) {
    if let Some(r) = report {
        return report_cell(r, &c.table, &c.row, &c.column);
    }
    match (&c.text, c.value) {
        (_, Some(v)) => (format_number(v), ""),
        (Some(t), None) => (printed_blank(t), ""),
        (None, None) => ("未读出".to_string(), "unread"),
    }
}

/// A cell of the report as shown: its value, or what was printed in its place.
fn report_cell(report: &Report, table: &str, row: &str, col: &str) -> (String, &'static str) {
    let value = match table {
        "table2" => report
            .table2
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .flatten(),
        _ => report.count(table, row, col).map(|v| v as f64),
    };
    let raw = report
        .raw_cells
        .get(table)
        .and_then(|t| t.get(row))
        .and_then(|r| r.get(col));
    match (value, raw) {
        // Table 2 keeps decimals as printed (722.61), counts as read.
        (Some(_), Some(t)) if table == "table2" && !t.trim().is_empty() => {
            (t.trim().to_string(), "")
        }
        (Some(v), _) => (format_number(v), ""),
        (None, Some(t)) => (printed_blank(t), ""),
        (None, None) => ("未读出".to_string(), "unread"),
    }
}

/// What a cell without a number printed: `空白`, or its text (`/`, `无`, `一`).
fn printed_blank(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        "空白".to_string()
    } else {
        t.to_string()
    }
}

/// The rows and columns of a table as the form prints them.
fn layout(table: &str, template: Template) -> (Vec<&'static str>, Vec<&'static str>) {
    match table {
        "table3" => (model::t3_rows(template), T3_COLUMNS.to_vec()),
        "table4" => (T4_GROUPS.to_vec(), T4_COLUMNS.to_vec()),
        "table2" => {
            let layout = model::t2_layout(template);
            let rows = layout.iter().map(|(r, _)| *r).collect();
            let mut cols: Vec<&'static str> = Vec::new();
            for (_, cs) in &layout {
                for c in cs {
                    if !cols.contains(c) {
                        cols.push(c);
                    }
                }
            }
            (rows, cols)
        }
        _ => (Vec::new(), Vec::new()),
    }
}

/// The rows of each table the cells are in, every column of the form, the cells marked.
fn cell_tables(cells: &[CellRef], report: Option<&Report>) -> Vec<CellTable> {
    let mut tables: Vec<&str> = Vec::new();
    for c in cells {
        if !tables.contains(&c.table.as_str()) {
            tables.push(c.table.as_str());
        }
    }
    let template = report.and_then(|r| r.template).unwrap_or(Template::Y2021);
    tables
        .into_iter()
        .map(|table| {
            let mine: Vec<&CellRef> = cells.iter().filter(|c| c.table == table).collect();
            let t2_template = report
                .and_then(|r| r.table2_template.or(r.template))
                .unwrap_or(Template::Y2021);
            let (form_rows, form_cols) = layout(
                table,
                if table == "table2" {
                    t2_template
                } else {
                    template
                },
            );
            // Rows in the form's order, then any the form does not have; columns likewise, but
            // for table 2 only those of the rows shown (its rows have different columns).
            let mut rows: Vec<&str> = form_rows
                .iter()
                .copied()
                .filter(|r| mine.iter().any(|c| c.row == *r))
                .collect();
            for c in &mine {
                if !rows.contains(&c.row.as_str()) {
                    rows.push(c.row.as_str());
                }
            }
            let mut cols: Vec<&str> = if table == "table2" {
                let layout = model::t2_layout(t2_template);
                form_cols
                    .iter()
                    .copied()
                    .filter(|col| {
                        layout
                            .iter()
                            .any(|(r, cs)| rows.contains(r) && cs.contains(col))
                            || mine.iter().any(|c| c.column == *col)
                    })
                    .collect()
            } else {
                form_cols
            };
            for c in &mine {
                if !cols.contains(&c.column.as_str()) {
                    cols.push(c.column.as_str());
                }
            }
            let t2_layout = model::t2_layout(t2_template);
            let named = |row: &str, col: &str| {
                mine.iter()
                    .find(|c| c.row == row && c.column == col)
                    .copied()
            };
            draw(
                table,
                &rows,
                &cols,
                &t2_layout,
                |row, col| match (report, named(row, col)) {
                    (Some(r), _) => report_cell(r, table, row, col),
                    (None, Some(c)) => cell_value(c, None),
                    (None, None) => (String::new(), ""),
                },
                |row, col| named(row, col).map(|c| (c.wrong, c.expected)),
            )
        })
        .collect()
}

/// The group a row belongs to, as a summary names it: the result category for table 3
/// (不予公开 for its eight rows), the row itself otherwise.
fn row_group(table: &str, row: &str, template: Template) -> String {
    if table == "table3" {
        if let Some((name, _)) = model::t3_categories(template)
            .into_iter()
            .find(|(_, rows)| rows.contains(&row))
        {
            return name.to_string();
        }
    }
    label(table, row)
}

/// Counts by key, the most frequent first (ties in first-seen order), at most `keep` shown.
fn counted(keys: impl Iterator<Item = String>, keep: usize) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for k in keys {
        match counts.iter_mut().find(|(name, _)| *name == k) {
            Some((_, n)) => *n += 1,
            None => counts.push((k, 1)),
        }
    }
    let total = counts.len();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut shown: Vec<String> = counts
        .iter()
        .take(keep)
        .map(|(k, n)| format!("{k}{n}格"))
        .collect();
    if total > keep {
        shown.push(format!("等{total}项"));
    }
    shown.join("、")
}

/// A long list of cells in one line per table: how many, by row group and by column.
fn summarise(cells: &[CellRef], template: Template) -> Vec<String> {
    let mut tables: Vec<&str> = Vec::new();
    for c in cells {
        if !tables.contains(&c.table.as_str()) {
            tables.push(c.table.as_str());
        }
    }
    tables
        .into_iter()
        .map(|table| {
            let mine: Vec<&CellRef> = cells.iter().filter(|c| c.table == table).collect();
            let by_group = counted(mine.iter().map(|c| row_group(table, &c.row, template)), 6);
            let by_col = counted(mine.iter().map(|c| label(table, &c.column)), 7);
            format!(
                "{}共{}格：按行——{by_group}；按列——{by_col}",
                table_zh(table),
                mine.len()
            )
        })
        .collect()
}

/// The cells in one line: name, value, and what a wrong cell should hold.
fn cells_text(cells: &[CellRef], report: Option<&Report>) -> String {
    cells
        .iter()
        .map(|c| {
            let (value, _) = cell_value(c, report);
            let mut s = format!("{}={value}", cell_name(c));
            if c.wrong {
                match c.expected {
                    Some(e) => s.push_str(&format!("（应为{}）", format_number(e))),
                    None => s.push_str("（有误）"),
                }
            }
            s
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(evidence: serde_json::Value) -> Finding {
        Finding {
            rule: "t3-column-total".into(),
            severity: Severity::Error,
            message: "m".into(),
            evidence,
        }
    }

    fn report() -> Report {
        let mut r = Report {
            template: Some(Template::Y2021),
            ..Report::default()
        };
        let mut row = BTreeMap::new();
        for (i, c) in T3_COLUMNS.iter().enumerate() {
            row.insert(c.to_string(), Some(i as i64));
        }
        row.insert("research".into(), None);
        r.table3.insert("granted".into(), row);
        let mut raw = BTreeMap::new();
        let mut raw_row = BTreeMap::new();
        for c in T3_COLUMNS {
            raw_row.insert(c.to_string(), "x".to_string());
        }
        raw_row.insert("research".into(), "/".to_string());
        raw.insert("granted".into(), raw_row);
        r.raw_cells.insert("table3".into(), raw);
        r
    }

    #[test]
    fn a_few_cells_are_drawn_as_the_rows_of_the_form_with_the_wrong_cell_marked() {
        let mut titles = Titles::new();
        titles.insert("t3-column-total".into(), "表三各行总计".into());
        let f = finding(json!({
            "cells": [
                {"table": "table3", "row": "granted", "column": "natural_person", "value": 0},
                {"table": "table3", "row": "granted", "column": "total", "value": 6,
                 "wrong": true, "expected": 14},
            ],
            "column": "total",
        }));
        let r = report();
        let shown = show(&f, Some(&r), &titles);
        assert_eq!(shown.title, "表三各行总计");
        assert_eq!(shown.tables.len(), 1);
        let t = &shown.tables[0];
        assert_eq!(t.name, "表三");
        assert_eq!(t.columns.len(), 7);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].label, "(一)予以公开");
        let cells = &t.rows[0].cells;
        assert_eq!((cells[0].text.as_str(), cells[0].mark), ("0", "related"));
        assert_eq!(cells[2].text, "/", "a blank cell shows what was printed");
        assert_eq!(
            cells[1].mark, "",
            "a cell not in the evidence is not marked"
        );
        assert_eq!(
            (
                cells[6].text.as_str(),
                cells[6].mark,
                cells[6].expected.as_deref()
            ),
            ("6", "wrong", Some("14"))
        );
        assert!(shown.cells_summary.is_empty());
        assert_eq!(
            shown.cells_text,
            "表三“(一)予以公开”/“自然人”=0；表三“(一)予以公开”/“总计”=6（应为14）"
        );
    }

    #[test]
    fn many_cells_are_summed_up_by_row_group_and_column() {
        let rows = [
            "denied_state_secret",
            "denied_law_prohibited",
            "denied_three_safety",
            "unable_not_held",
        ];
        let cells: Vec<serde_json::Value> = rows
            .iter()
            .flat_map(|r| {
                T3_COLUMNS
                    .iter()
                    .map(move |c| json!({"table": "table3", "row": r, "column": c, "text": ""}))
            })
            .collect();
        let shown = show(&finding(json!({ "cells": cells })), None, &Titles::new());
        assert!(shown.tables.is_empty());
        assert_eq!(
            shown.cells_summary,
            ["表三共28格：按行——不予公开21格、无法提供7格；按列——自然人4格、商业企业4格、科研机构4格、社会公益组织4格、法律服务机构4格、其他4格、总计4格"]
        );
        assert_eq!(shown.title, "t3-column-total", "no title known: the id");
    }

    #[test]
    fn a_quote_highlights_its_number_and_shows_the_tables_figure_beside_it() {
        let f = finding(json!({
            "quote": {"sentence": "全年共收到申请58件,办结58件", "start": 7, "end": 10},
            "cells": [{"table": "table3", "row": "new_received", "column": "total", "value": 60}],
            "compared": [{"label": "正文", "value": 58}, {"label": "差", "value": 2.5}],
        }));
        let shown = show(&f, None, &Titles::new());
        assert_eq!(shown.quotes.len(), 1);
        let q = &shown.quotes[0];
        assert_eq!(
            (q.before.as_str(), q.highlight.as_str(), q.after.as_str()),
            ("全年共收到申请", "58件", ",办结58件")
        );
        assert!(
            shown.tables.is_empty(),
            "beside a quote the figures are a list"
        );
        assert_eq!(shown.figures.len(), 1);
        assert_eq!(shown.figures[0].value, "60");
        assert_eq!(shown.compared[0].value, "58");
        assert_eq!(shown.compared[1].value, "2.5");
        // Offsets out of range highlight nothing and lose nothing.
        let f = finding(json!({"quote": {"sentence": "短句", "start": 1, "end": 9}}));
        let q = &show(&f, None, &Titles::new()).quotes[0];
        assert_eq!(format!("{}{}{}", q.before, q.highlight, q.after), "短句");
        assert!(q.highlight.is_empty());
    }

    #[test]
    fn evidence_of_another_shape_is_not_rendered_and_errors_come_first() {
        let odd = finding(json!({"cells": ["(三)不予公开/自然人"], "quote": "x", "n": 3}));
        let shown = show(&odd, None, &Titles::new());
        assert!(shown.tables.is_empty() && shown.quotes.is_empty() && shown.cells_text.is_empty());
        let mut info = finding(json!({}));
        info.severity = Severity::Info;
        let mut warning = finding(json!({}));
        warning.severity = Severity::Warning;
        let all = show_all(&[info, odd, warning], None, &Titles::new());
        let order: Vec<&str> = all.iter().map(|f| f.severity.as_str()).collect();
        assert_eq!(order, ["error", "warning", "info"]);
        assert_eq!(title_of("rule-error", &Titles::new()), RULE_ERROR_TITLE);
    }
}
