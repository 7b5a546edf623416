//! Tables 3 and 4 of one report by position, for the helpers that read a cell at a time.
//!
//! The report keeps its cells in maps keyed by row and column names, which is what the store,
//! the mail and the web read; a rule pack asks for several hundred cells per report, and each
//! lookup in those maps compares names all the way down two trees. The grid is built once per
//! report, the first time a helper asks (`ScriptReport::cells`), and answers by index. A name
//! it does not know (table 2, or a row no template has) is looked up in the report as before,
//! so it answers what the report's own methods answer for every name.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::model::{self, Report, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// What the grid knows of one cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slot {
    pub value: Option<i64>,
    /// The parser recorded the text the cell was printed as (blank, `/`, a number …).
    pub printed: bool,
}

impl Slot {
    /// As [`Report::is_unread`]: no value and no printed text.
    pub fn unread(&self) -> bool {
        self.value.is_none() && !self.printed
    }
}

/// Every row of table 3 in either template, in one numbering.
static T3_ROWS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut rows = model::t3_rows(Template::Y2021);
    rows.extend(
        model::t3_rows(Template::Y2019)
            .into_iter()
            .filter(|r| !rows.contains(r))
            .collect::<Vec<_>>(),
    );
    rows
});

/// Each row of [`T3_ROWS`] by name: table 3 has some thirty rows, many of names of one length
/// (`denied_…`, `rejected_…`), and rules look rows up by name several hundred times a report.
static T3_ROW_INDEX: LazyLock<FxHashMap<&'static str, usize>> =
    LazyLock::new(|| T3_ROWS.iter().enumerate().map(|(i, r)| (*r, i)).collect());

/// The position of `name` among `names`, for the short lists (columns, table 4's groups). The
/// names differ in length more often than not, and `==` compares lengths first, so this costs a
/// few comparisons of integers and about one of bytes: less than hashing the name.
fn position(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|n| *n == name)
}

/// The position of a row of table 3 in the grid.
fn t3_row(name: &str) -> Option<usize> {
    T3_ROW_INDEX.get(name).copied()
}

/// Tables 3 and 4 of one report by position.
#[derive(Debug, Clone)]
pub struct Grid {
    t3: Vec<[Slot; T3_COLUMNS.len()]>,
    t4: [[Slot; T4_COLUMNS.len()]; T4_GROUPS.len()],
}

impl Grid {
    pub fn of(report: &Report) -> Grid {
        let mut grid = Grid {
            t3: vec![[Slot::default(); T3_COLUMNS.len()]; T3_ROWS.len()],
            t4: [[Slot::default(); T4_COLUMNS.len()]; T4_GROUPS.len()],
        };
        let no_text = BTreeMap::new();
        let raw = |table: &str| report.raw_cells.get(table).unwrap_or(&no_text);
        let number = |s: &mut Slot, v: &Option<i64>| s.value = *v;
        let printed = |s: &mut Slot, _: &String| s.printed = true;
        fill(&mut grid.t3, &T3_ROWS, &T3_COLUMNS, &report.table3, number);
        fill(&mut grid.t3, &T3_ROWS, &T3_COLUMNS, raw("table3"), printed);
        fill(
            &mut grid.t4,
            &T4_GROUPS,
            &T4_COLUMNS,
            &report.table4,
            number,
        );
        fill(
            &mut grid.t4,
            &T4_GROUPS,
            &T4_COLUMNS,
            raw("table4"),
            printed,
        );
        grid
    }

    /// The row's slots, when both the table and the row are numbered.
    fn row(&self, table: &str, row: &str) -> Option<&[Slot]> {
        match table {
            "table3" => Some(&self.t3[t3_row(row)?]),
            "table4" => Some(&self.t4[position(&T4_GROUPS, row)?]),
            _ => None,
        }
    }
}

/// Sets the slots of a table from its cells by name (`rows` and `cols` number them); cells of
/// a row or column not numbered are left to the report's maps.
fn fill<T, const N: usize>(
    slots: &mut [[Slot; N]],
    rows: &[&str],
    cols: &[&str],
    cells: &BTreeMap<String, BTreeMap<String, T>>,
    set: impl Fn(&mut Slot, &T),
) {
    for (row, cells) in cells {
        let Some(row) = position(rows, row).and_then(|r| slots.get_mut(r)) else {
            continue;
        };
        for (col, cell) in cells {
            if let Some(slot) = position(cols, col).and_then(|c| row.get_mut(c)) {
                set(slot, cell);
            }
        }
    }
}

/// A report's cells: the grid where it numbers the names, the report's maps where it does not.
#[derive(Clone, Copy)]
pub struct Cells<'a> {
    pub report: &'a Report,
    pub grid: &'a Grid,
}

impl<'a> Cells<'a> {
    /// A row of table 3 or 4 in the order of its columns (`T3_COLUMNS`, `T4_COLUMNS`); `None`
    /// for any other table.
    pub fn row(&self, table: &str, row: &str) -> Option<Cow<'a, [Slot]>> {
        if let Some(slots) = self.grid.row(table, row) {
            return Some(Cow::Borrowed(slots));
        }
        let cols: &[&str] = match table {
            "table3" => &T3_COLUMNS,
            "table4" => &T4_COLUMNS,
            _ => return None,
        };
        let values = match table {
            "table3" => self.report.table3.get(row),
            _ => self.report.table4.get(row),
        };
        let printed = self.report.raw_cells.get(table).and_then(|t| t.get(row));
        Some(Cow::Owned(
            cols.iter()
                .map(|col| Slot {
                    value: values.and_then(|r| r.get(*col)).copied().flatten(),
                    printed: printed.is_some_and(|r| r.contains_key(*col)),
                })
                .collect(),
        ))
    }

    /// A cell of table 3 or 4; `None` for a column the table does not have, or another table.
    fn slot(&self, table: &str, row: &str, col: &str) -> Option<Slot> {
        let i = match table {
            "table3" => position(&T3_COLUMNS, col)?,
            "table4" => position(&T4_COLUMNS, col)?,
            _ => return None,
        };
        self.row(table, row)?.get(i).copied()
    }

    /// The count in a cell of table 3 or 4, or `None` (also for any other table: table 2 holds
    /// amounts, read by their own helper).
    pub fn value(&self, table: &str, row: &str, col: &str) -> Option<i64> {
        match self.slot(table, row, col) {
            Some(slot) => slot.value,
            None => self.report.count(table, row, col),
        }
    }

    /// As [`Report::is_unread`].
    pub fn is_unread(&self, table: &str, row: &str, col: &str) -> bool {
        match self.slot(table, row, col) {
            Some(slot) => slot.unread(),
            None => self.report.is_unread(table, row, col),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the grid knows and some it does not, on every real report and its variants:
    /// the grid answers what the report's maps answer.
    #[test]
    fn the_grid_answers_as_the_report_does() {
        let texts = [
            include_str!("../../tests/fixtures/seeds/000_32590e3cc98cb08c.txt"),
            include_str!("../../tests/fixtures/seeds/002_51f17e08e942b61d.txt"),
            include_str!("../../tests/fixtures/seeds/004_b29312736e7f4b68.txt"),
            include_str!("../../tests/fixtures/samples/2022-pingtan.txt"),
            include_str!("../../tests/fixtures/samples/2024-shanghai-kewei.txt"),
        ];
        let mut names: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
            ("table3", T3_ROWS.clone(), T3_COLUMNS.to_vec()),
            ("table4", T4_GROUPS.to_vec(), T4_COLUMNS.to_vec()),
        ];
        for (_, rows, cols) in &mut names {
            rows.push("no_such_row");
            cols.push("no_such_column");
        }
        names.push(("table5", vec!["granted"], vec!["total"]));
        let mut checked = 0;
        for text in texts {
            let mut report = crate::parse::parse(&crate::extract::normalize(text)).expect("parsed");
            // A cell the parser could not read, one printed blank, and a row the grid does not
            // number, as the maps may hold them.
            for (row, value, printed) in [
                ("granted", None, None),
                ("partial", None, Some("/")),
                ("no_such_row", Some(7), None),
            ] {
                let total = || "total".to_string();
                report
                    .table3
                    .entry(row.into())
                    .or_default()
                    .insert(total(), value);
                let raw = report.raw_cells.entry("table3".into()).or_default();
                let raw = raw.entry(row.into()).or_default();
                match printed {
                    Some(text) => raw.insert(total(), text.to_string()),
                    None => raw.remove("total"),
                };
            }
            let grid = Grid::of(&report);
            let cells = Cells {
                report: &report,
                grid: &grid,
            };
            for (table, rows, cols) in &names {
                for row in rows {
                    for col in cols {
                        assert_eq!(
                            cells.value(table, row, col),
                            report.count(table, row, col),
                            "{table}/{row}/{col}"
                        );
                        assert_eq!(
                            cells.is_unread(table, row, col),
                            report.is_unread(table, row, col),
                            "{table}/{row}/{col}"
                        );
                        checked += 1;
                    }
                }
            }
            for (table, rows, _) in &names[..2] {
                for row in rows {
                    let slots = cells.row(table, row).expect("a row of table 3 or 4");
                    let cols = if *table == "table3" {
                        &T3_COLUMNS[..]
                    } else {
                        &T4_COLUMNS[..]
                    };
                    assert_eq!(slots.len(), cols.len());
                    for (slot, col) in slots.iter().zip(cols) {
                        assert_eq!(slot.value, report.count(table, row, col));
                        assert_eq!(slot.unread(), report.is_unread(table, row, col));
                    }
                }
            }
            assert!(cells.row("table2", "new_made").is_none());
            assert!(cells.is_unread("table3", "granted", "total"));
            assert!(!cells.is_unread("table3", "partial", "total"));
            assert_eq!(cells.value("table3", "no_such_row", "total"), Some(7));
        }
        assert!(checked > 1_000, "{checked}");
    }
}
