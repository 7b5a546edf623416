//! Tables 3 and 4 of one report by position, for the helpers that read a cell at a time.
//!
//! The report keeps its cells in maps keyed by row and column names, which is what the store,
//! the mail and the web read; a rule pack asks for several hundred cells per report, and each
//! lookup in those maps compares names all the way down two trees. The grid is built once per
//! report, the first time a helper asks (`ScriptReport::cells`), and answers by index. A name
//! it does not know (table 2, or a row no template has) is looked up in the report as before,
//! so it answers what the report's own methods answer for every name.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::model::{self, Report, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// What the grid knows of one cell.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    value: Option<i64>,
    /// The parser recorded the text the cell was printed as (blank, `/`, a number …).
    printed: bool,
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

/// Row and column names to their index in the grid: (table 3 rows, table 3 columns, table 4
/// groups, table 4 columns).
type Index = FxHashMap<&'static str, usize>;
static INDEX: LazyLock<[Index; 4]> = LazyLock::new(|| {
    let number = |names: &[&'static str]| -> Index {
        names.iter().enumerate().map(|(i, n)| (*n, i)).collect()
    };
    [
        number(&T3_ROWS),
        number(&T3_COLUMNS),
        number(&T4_GROUPS),
        number(&T4_COLUMNS),
    ]
});

/// Tables 3 and 4 of one report by position.
#[derive(Debug, Clone)]
pub struct Grid {
    t3: Vec<[Slot; T3_COLUMNS.len()]>,
    t4: [[Slot; T4_COLUMNS.len()]; T4_GROUPS.len()],
}

impl Grid {
    pub fn of(report: &Report) -> Grid {
        let [t3_rows, t3_cols, t4_groups, t4_cols] = &*INDEX;
        let mut grid = Grid {
            t3: vec![[Slot::default(); T3_COLUMNS.len()]; T3_ROWS.len()],
            t4: [[Slot::default(); T4_COLUMNS.len()]; T4_GROUPS.len()],
        };
        let mut fill = |table: &str, row: &str, col: &str, set: &dyn Fn(&mut Slot)| {
            let slot = match table {
                "table3" => t3_rows
                    .get(row)
                    .zip(t3_cols.get(col))
                    .map(|(r, c)| &mut grid.t3[*r][*c]),
                _ => t4_groups
                    .get(row)
                    .zip(t4_cols.get(col))
                    .map(|(r, c)| &mut grid.t4[*r][*c]),
            };
            if let Some(slot) = slot {
                set(slot);
            }
        };
        for (table, cells) in [("table3", &report.table3), ("table4", &report.table4)] {
            for (row, values) in cells {
                for (col, value) in values {
                    fill(table, row, col, &|s| s.value = *value);
                }
            }
            for (row, texts) in report.raw_cells.get(table).into_iter().flatten() {
                for col in texts.keys() {
                    fill(table, row, col, &|s| s.printed = true);
                }
            }
        }
        grid
    }

    fn slot(&self, table: &str, row: &str, col: &str) -> Option<Slot> {
        let [t3_rows, t3_cols, t4_groups, t4_cols] = &*INDEX;
        match table {
            "table3" => {
                let (r, c) = (t3_rows.get(row)?, t3_cols.get(col)?);
                Some(self.t3[*r][*c])
            }
            "table4" => {
                let (r, c) = (t4_groups.get(row)?, t4_cols.get(col)?);
                Some(self.t4[*r][*c])
            }
            _ => None,
        }
    }
}

/// A report's cells: the grid where it knows the names, the report's maps where it does not.
#[derive(Clone, Copy)]
pub struct Cells<'a> {
    pub report: &'a Report,
    pub grid: &'a Grid,
}

impl Cells<'_> {
    /// The count in a cell of table 3 or 4, or `None` (also for any other table: table 2 holds
    /// amounts, read by their own helper).
    pub fn value(&self, table: &str, row: &str, col: &str) -> Option<i64> {
        match self.grid.slot(table, row, col) {
            Some(slot) => slot.value,
            None => model_value(self.report, table, row, col),
        }
    }

    /// As [`Report::is_unread`].
    pub fn is_unread(&self, table: &str, row: &str, col: &str) -> bool {
        match self.grid.slot(table, row, col) {
            Some(slot) => slot.value.is_none() && !slot.printed,
            None => self.report.is_unread(table, row, col),
        }
    }
}

/// A count of table 3 or 4 straight from the report's maps (table 2's counts are whole numbers
/// kept as `f64`; they are read by their own helper).
fn model_value(report: &Report, table: &str, row: &str, col: &str) -> Option<i64> {
    let table = match table {
        "table3" => &report.table3,
        "table4" => &report.table4,
        _ => return None,
    };
    table.get(row).and_then(|r| r.get(col)).copied().flatten()
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
            report
                .table3
                .entry("granted".into())
                .or_default()
                .insert("total".into(), None);
            report
                .raw_cells
                .entry("table3".into())
                .or_default()
                .entry("granted".into())
                .or_default()
                .remove("total");
            report
                .table3
                .entry("partial".into())
                .or_default()
                .insert("total".into(), None);
            report
                .raw_cells
                .entry("table3".into())
                .or_default()
                .entry("partial".into())
                .or_default()
                .insert("total".into(), "/".into());
            report
                .table3
                .entry("no_such_row".into())
                .or_default()
                .insert("total".into(), Some(7));
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
                            model_value(&report, table, row, col),
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
            assert!(cells.is_unread("table3", "granted", "total"));
            assert!(!cells.is_unread("table3", "partial", "total"));
            assert_eq!(cells.value("table3", "no_such_row", "total"), Some(7));
        }
        assert!(checked > 1_000, "{checked}");
    }
}
