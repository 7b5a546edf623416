//! The numbers of a scan read by OCR, accepted only where the tables' own identities hold.
//!
//! A digit read wrong by OCR looks like any other number, so a cell of table 3 or 4 is kept
//! only when an identity it takes part in could be checked and holds, and none that fails names
//! it: table 3's rows (the six applicant columns add up to 总计) and columns (新收 + 结转 =
//! 办理 + 结转下年度, the results add up to (七)总计), and table 4's groups (four results add up
//! to 总计). Where one cell is the only one two failing identities share (its row and its
//! column), it alone is blamed. Every other cell is left unread and named in the warnings, so
//! the checks that need it are not made, rather than made on a misreading.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{self, Report, Table, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// A cell: (table, row, column).
type Key = (&'static str, &'static str, &'static str);

/// What an identity adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Row,
    Column,
    Group,
}

/// Marks `report` as read by OCR and leaves unread the cells of tables 3 and 4 that its
/// identities do not vouch for; the text's numbers are not compared with the tables.
pub fn accept(report: &mut Report) {
    report.ocr = true;
    let template = report.template.unwrap_or(Template::Y2021);
    // Each identity with its kind: a row of table 3, a column of table 3, a group of table 4.
    let mut identities: Vec<(Kind, Vec<(Key, i128)>)> = Vec::new();
    let rows = model::t3_rows(template);
    let (applicants, total) = T3_COLUMNS.split_at(T3_COLUMNS.len() - 1);
    for row in &rows {
        let mut id: Vec<(Key, i128)> = applicants
            .iter()
            .map(|c| (("table3", *row, *c), 1))
            .collect();
        id.push((("table3", *row, total[0]), -1));
        identities.push((Kind::Row, id));
    }
    for sums in super::tables::t3_identities(template) {
        for col in T3_COLUMNS {
            identities.push((
                Kind::Column,
                sums.iter()
                    .map(|(r, k)| (("table3", *r, col), *k))
                    .collect(),
            ));
        }
    }
    for group in T4_GROUPS {
        let (parts, total) = T4_COLUMNS.split_at(T4_COLUMNS.len() - 1);
        let mut id: Vec<(Key, i128)> = parts.iter().map(|c| (("table4", group, *c), 1)).collect();
        id.push((("table4", group, total[0]), -1));
        identities.push((Kind::Group, id));
    }

    let value = |(table, row, col): Key| -> Option<i128> {
        let t: &Table = if table == "table3" {
            &report.table3
        } else {
            &report.table4
        };
        // A blank cell (no ink, `/`) counts as nothing; a cell not read, or read as no number
        // (`?`), leaves the identity out.
        match t.get(row).and_then(|r| r.get(col)) {
            Some(Some(v)) => Some(i128::from(*v)),
            Some(None) => {
                let printed = report
                    .raw_cells
                    .get(table)
                    .and_then(|t| t.get(row))
                    .and_then(|r| r.get(col))?;
                is_blank(printed).then_some(0)
            }
            None => None,
        }
    };
    let mut held: BTreeSet<Key> = BTreeSet::new();
    let mut failed: Vec<&(Kind, Vec<(Key, i128)>)> = Vec::new();
    for id in &identities {
        let sum: Option<i128> = id.1.iter().map(|(k, c)| value(*k).map(|v| v * c)).sum();
        match sum {
            Some(0) => held.extend(id.1.iter().map(|(k, _)| *k)),
            Some(_) => failed.push(id),
            None => {}
        }
    }
    // The kinds of failing identities each cell is in.
    let mut failing: BTreeMap<Key, BTreeSet<Kind>> = BTreeMap::new();
    for (kind, id) in &failed {
        for (k, _) in id {
            failing.entry(*k).or_default().insert(*kind);
        }
    }
    let mut blamed: BTreeSet<Key> = BTreeSet::new();
    for (kind, id) in &failed {
        // A failing row and a failing column that meet in one cell point at that cell.
        let crossing: Vec<Key> = id
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| {
                failing
                    .get(k)
                    .is_some_and(|kinds| kinds.iter().any(|o| o != kind && *o != Kind::Group))
            })
            .collect();
        match (kind, crossing.as_slice()) {
            (Kind::Row | Kind::Column, [only]) => {
                blamed.insert(*only);
            }
            _ => blamed.extend(id.iter().map(|(k, _)| *k)),
        }
    }
    let mut dropped: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (table, rows, cols) in [
        ("table3", rows.clone(), &T3_COLUMNS[..]),
        ("table4", T4_GROUPS.to_vec(), &T4_COLUMNS[..]),
    ] {
        for row in rows {
            for col in cols {
                let key: Key = (table, row, col);
                if report.is_unread(table, row, col)
                    || (held.contains(&key) && !blamed.contains(&key))
                {
                    continue;
                }
                let t = if table == "table3" {
                    &mut report.table3
                } else {
                    &mut report.table4
                };
                if let Some(r) = t.get_mut(row) {
                    r.remove(*col);
                }
                if let Some(r) = report.raw_cells.get_mut(table).and_then(|t| t.get_mut(row)) {
                    r.remove(*col);
                }
                *dropped.entry((table, row)).or_default() += 1;
            }
        }
    }
    for ((table, row), n) in dropped {
        report.warnings.push(format!(
            "OCR: {table} row {row}: {n} cell(s) read by OCR that the table's sums do not confirm; left unread"
        ));
    }
    if !report.claims.is_empty() {
        report.warnings.push(format!(
            "OCR: the {} number(s) of the text were read by OCR and are not compared with the tables",
            report.claims.len()
        ));
        report.claims.clear();
    }
}

/// A cell printed empty: nothing, or a dash, slash or 无.
fn is_blank(text: &str) -> bool {
    matches!(
        text.trim(),
        "" | "/" | "\\" | "-" | "—" | "–" | "--" | "——" | "无"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str) -> Report {
        crate::parse::parse(text).expect("parses")
    }

    fn seed() -> Report {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/seeds/000_32590e3cc98cb08c.txt"
        ))
        .expect("seed");
        report(&crate::extract::normalize(&text))
    }

    /// Adds `by` to a read cell, as a misread digit would.
    fn misread(table: &mut Table, row: &str, col: &str, by: i64) {
        let cell = table
            .get_mut(row)
            .and_then(|r| r.get_mut(col))
            .expect("cell");
        *cell = Some(cell.unwrap_or(0) + by);
    }

    #[test]
    fn a_table_that_adds_up_is_kept_whole() {
        let mut r = seed();
        let before = (r.table3.clone(), r.table4.clone());
        assert!(r.unread_cells().is_empty());
        accept(&mut r);
        assert!(r.ocr);
        assert_eq!((r.table3.clone(), r.table4.clone()), before);
        assert!(r.claims.is_empty());
        assert!(r.review_reasons().iter().any(|w| w.contains("经OCR识别")));
    }

    #[test]
    fn a_misread_digit_is_left_unread_and_only_it_where_row_and_column_point_at_it() {
        let mut r = seed();
        let good = r.table3.clone();
        // One cell read wrong: its row and its column no longer add up.
        misread(&mut r.table3, "new_received", "natural_person", 3);
        accept(&mut r);
        assert!(r.is_unread("table3", "new_received", "natural_person"));
        let unread = r.unread_cells();
        assert_eq!(unread, vec![("table3", "new_received", "natural_person")]);
        assert_eq!(
            r.table3["total_processed"], good["total_processed"],
            "the other cells stay"
        );
        assert!(r.warnings.iter().any(|w| w.contains("new_received")));
    }

    #[test]
    fn a_table4_group_that_does_not_add_up_is_left_unread() {
        let mut r = seed();
        misread(&mut r.table4, "review", "upheld", 1);
        accept(&mut r);
        for col in T4_COLUMNS {
            assert!(r.is_unread("table4", "review", col), "{col}");
            assert!(!r.is_unread("table4", "lawsuit_direct", col), "{col}");
        }
    }
}
