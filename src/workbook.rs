//! The workbook of a summary (`.xlsx`): one sheet of findings, every cell they name in full,
//! and one sheet with table 3 of every report, the cells findings are about coloured. Attached
//! to each summary mail and written by `ogi-audit findings --format xlsx`.

use rust_xlsxwriter::{
    Color, Format, FormatAlign, FormatBorder, Note, Workbook, Worksheet, XlsxError,
};
use thiserror::Error;

use crate::present::{CellTable, ShownReport};

#[derive(Debug, Error)]
#[error("workbook: {0}")]
pub struct WorkbookError(#[from] XlsxError);

/// The sheet names, as the office sees them.
pub const FINDINGS_SHEET: &str = "问题清单";
pub const TABLE3_SHEET: &str = "表三";

/// The columns of the findings sheet.
pub const FINDINGS_COLUMNS: [&str; 11] = [
    "报告编号",
    "发布机关",
    "年度",
    "文件",
    "规则",
    "标题",
    "级别",
    "问题",
    "涉及单元格",
    "原文",
    "需人工核对",
];

/// Excel keeps at most this many characters in a cell.
const MAX_CELL_CHARS: usize = 32_000;

/// The fill of a cell in error, of a cell compared, of a cell not read.
const WRONG: u32 = 0xF4C7C3;
const RELATED: u32 = 0xFFF2CC;
const UNREAD: u32 = 0xE7E6E6;
/// A cell whose value a reviewer gave (the parser's reading was wrong or missing).
const CORRECTED: u32 = 0xD1E9FF;

fn fit(text: &str) -> String {
    if text.chars().count() <= MAX_CELL_CHARS {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(MAX_CELL_CHARS).collect();
        s.push('…');
        s
    }
}

/// Deflate's level for the workbook's parts. Every summary mailed writes one, and at the
/// default level (6) compressing took 43 % of the workbook's cost. Level 1 takes a third of
/// that; the workbook of a summary of 100 reports grows from about 115 KB to 160 KB, in a
/// message of 2 MB.
const ZIP_LEVEL: u8 = 1;

/// The workbook of these reports, as bytes.
pub fn workbook(reports: &[ShownReport]) -> Result<Vec<u8>, WorkbookError> {
    let mut wb = Workbook::new();
    wb.set_zip_compression_level(ZIP_LEVEL);
    findings_sheet(wb.add_worksheet(), reports)?;
    table3_sheet(wb.add_worksheet(), reports)?;
    Ok(wb.save_to_buffer()?)
}

fn findings_sheet(ws: &mut Worksheet, reports: &[ShownReport]) -> Result<(), XlsxError> {
    ws.set_name(FINDINGS_SHEET)?;
    let head = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border(FormatBorder::Thin);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let severity = |s: &str| {
        let fill = match s {
            "error" => WRONG,
            "warning" => RELATED,
            _ => 0xFFFFFF,
        };
        Format::new()
            .set_background_color(Color::RGB(fill))
            .set_align(FormatAlign::Top)
    };
    for (col, name) in FINDINGS_COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, col as u16, *name, &head)?;
    }
    for (col, width) in [8, 28, 6, 24, 22, 20, 6, 60, 50, 50, 10].iter().enumerate() {
        ws.set_column_width(col as u16, *width)?;
    }
    let mut row: u32 = 1;
    for r in reports {
        for f in &r.findings {
            let quotes = f.quoted_sentences();
            let cells = f.cells_line();
            ws.write_number_with_format(row, 0, r.id as f64, &wrap)?;
            for (col, text) in [
                (1u16, r.organization.as_str()),
                (2, r.year.as_str()),
                (3, r.file.as_str()),
                (4, f.rule.as_str()),
                (5, f.title.as_str()),
            ] {
                ws.write_string_with_format(row, col, fit(text), &wrap)?;
            }
            ws.write_string_with_format(row, 6, &f.severity_zh, &severity(&f.severity))?;
            ws.write_string_with_format(row, 7, fit(&f.message), &wrap)?;
            ws.write_string_with_format(row, 8, fit(&cells), &wrap)?;
            ws.write_string_with_format(row, 9, fit(&quotes.join("\n")), &wrap)?;
            ws.write_string_with_format(row, 10, if r.needs_review() { "是" } else { "" }, &wrap)?;
            row += 1;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(
        0,
        0,
        row.saturating_sub(1).max(1),
        FINDINGS_COLUMNS.len() as u16 - 1,
    )?;
    Ok(())
}

fn table3_sheet(ws: &mut Worksheet, reports: &[ShownReport]) -> Result<(), XlsxError> {
    ws.set_name(TABLE3_SHEET)?;
    let title = Format::new().set_bold().set_font_size(12);
    let head = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border(FormatBorder::Thin);
    let plain = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Right);
    let filled = |c: u32| plain.clone().set_background_color(Color::RGB(c));
    // Made once: a sheet has thousands of cells and only these five looks.
    let cells = CellFormats {
        wrong: filled(WRONG),
        related: filled(RELATED),
        unread: filled(UNREAD),
        corrected: filled(CORRECTED),
        plain,
    };
    let label = Format::new().set_border(FormatBorder::Thin);
    ws.set_column_width(0, 44)?;
    for col in 1..=7u16 {
        ws.set_column_width(col, 11)?;
    }
    ws.write_string(
        0,
        0,
        "红色：问题所在的格（批注为应有的值）；黄色：问题涉及的格；灰色：未能读出的格",
    )?;
    let mut row: u32 = 2;
    for r in reports {
        ws.write_string_with_format(
            row,
            0,
            fit(&format!(
                "#{} {} {}年度（{}）",
                r.id, r.organization, r.year, r.file
            )),
            &title,
        )?;
        row += 1;
        let Some(table) = &r.table3 else {
            ws.write_string(row, 0, "未能读出表三")?;
            row += 2;
            continue;
        };
        row = write_table(ws, row, table, &head, &label, &cells)?;
        row += 1;
    }
    Ok(())
}

/// A table cell's format by its mark.
struct CellFormats {
    plain: Format,
    wrong: Format,
    related: Format,
    unread: Format,
    corrected: Format,
}

impl CellFormats {
    fn of(&self, mark: &str) -> &Format {
        match mark {
            "wrong" => &self.wrong,
            "related" => &self.related,
            "unread" => &self.unread,
            "corrected" => &self.corrected,
            _ => &self.plain,
        }
    }
}

/// Writes a table from `row`: header, then its rows; returns the next free row.
fn write_table(
    ws: &mut Worksheet,
    mut row: u32,
    table: &CellTable,
    head: &Format,
    label: &Format,
    cells: &CellFormats,
) -> Result<u32, XlsxError> {
    ws.write_string_with_format(row, 0, "项目", head)?;
    for (i, c) in table.columns.iter().enumerate() {
        ws.write_string_with_format(row, i as u16 + 1, c, head)?;
    }
    row += 1;
    for r in &table.rows {
        ws.write_string_with_format(row, 0, &r.label, label)?;
        for (i, c) in r.cells.iter().enumerate() {
            let col = i as u16 + 1;
            let format = cells.of(c.mark);
            match c.text.parse::<f64>() {
                Ok(n) => ws.write_number_with_format(row, col, n, format)?,
                Err(_) => ws.write_string_with_format(row, col, fit(&c.text), format)?,
            };
            if c.mark == "corrected" {
                ws.insert_note(
                    row,
                    col,
                    &Note::new("审核人员更正的值（原解析结果见审核平台）").set_author("ogi-audit"),
                )?;
            }
            if let Some(expected) = &c.expected {
                ws.insert_note(
                    row,
                    col,
                    &Note::new(format!("应为{expected}")).set_author("ogi-audit"),
                )?;
            }
        }
        row += 1;
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
    use serde_json::json;

    use super::*;
    use crate::model::{Finding, Report, Severity, Template, T3_COLUMNS};
    use crate::present::Titles;

    fn report() -> Report {
        let mut r = Report {
            organization: Some("示例县<人民政府>".into()),
            year: Some(2024),
            template: Some(Template::Y2021),
            ..Report::default()
        };
        for row in crate::model::t3_rows(Template::Y2021) {
            let cells = T3_COLUMNS
                .iter()
                .map(|c| (c.to_string(), Some(if *c == "total" { 6 } else { 1 })))
                .collect();
            r.table3.insert(row.to_string(), cells);
        }
        r.table3
            .get_mut("partial")
            .map(|row| row.insert("research".into(), None));
        r
    }

    fn xml(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an xlsx is a zip");
        let mut out = String::new();
        zip.by_name(name)
            .expect("part")
            .read_to_string(&mut out)
            .expect("xml");
        out
    }

    /// The fill colour of the style a cell of a sheet uses.
    fn fill_of(bytes: &[u8], sheet: &str, cell: &str) -> Option<String> {
        let sheet = xml(bytes, sheet);
        let styles = xml(bytes, "xl/styles.xml");
        let at = sheet.find(&format!("<c r=\"{cell}\""))?;
        let tag = &sheet[at..at + sheet[at..].find('>')?];
        let s: usize = tag.split("s=\"").nth(1)?.split('"').next()?.parse().ok()?;
        let xfs = styles.split("<cellXfs").nth(1)?;
        let xf = xfs.split("<xf ").nth(s + 1)?;
        let fill: usize = xf
            .split("fillId=\"")
            .nth(1)?
            .split('"')
            .next()?
            .parse()
            .ok()?;
        let fills = styles.split("<fills").nth(1)?.split("</fills>").next()?;
        let f = fills.split("<fill>").nth(fill + 1)?;
        f.split("rgb=\"")
            .nth(1)
            .map(|c| c.split('"').next().unwrap_or("").to_string())
    }

    #[test]
    fn findings_and_table_three_read_back_with_the_wrong_cell_coloured() {
        let r = report();
        let findings = [Finding {
            rule: "t3-column-total".into(),
            severity: Severity::Error,
            message: "表三“(一)予以公开”行：各列之和为6，但总计为6=".into(),
            evidence: json!({"cells": [
                {"table": "table3", "row": "granted", "column": "natural_person"},
                {"table": "table3", "row": "granted", "column": "total", "wrong": true, "expected": 7}]}),
        }];
        let titles: Titles = [("t3-column-total".to_string(), "表三总计列".to_string())].into();
        let shown = ShownReport::new(9, Some(&r), "/in/a.txt", &findings, &titles);
        let bytes = workbook(&[shown]).expect("workbook");
        let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).expect("read back");
        let sheet = wb.worksheet_range(FINDINGS_SHEET).expect("findings");
        let rows: Vec<Vec<String>> = sheet
            .rows()
            .map(|r| r.iter().map(Data::to_string).collect())
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], FINDINGS_COLUMNS);
        assert_eq!(
            &rows[1][..7],
            [
                "9",
                "示例县<人民政府>",
                "2024",
                "a.txt",
                "t3-column-total",
                "表三总计列",
                "错误"
            ]
        );
        assert_eq!(
            rows[1][8],
            "表三“(一)予以公开”/“自然人”=1；表三“(一)予以公开”/“总计”=6（应为7）"
        );
        assert_eq!(rows[1][10], "是", "the partial row has an unread cell");
        let t3 = wb.worksheet_range(TABLE3_SHEET).expect("table 3");
        assert_eq!(
            t3.get_value((2, 0)).map(Data::to_string).as_deref(),
            Some("#9 示例县<人民政府> 2024年度（a.txt）")
        );
        assert_eq!(
            t3.get_value((3, 7)).map(Data::to_string).as_deref(),
            Some("总计")
        );
        // granted is the third row of table 3: sheet row 7 (header on row 4), 总计 in column H.
        assert_eq!(
            t3.get_value((6, 0)).map(Data::to_string).as_deref(),
            Some("(一)予以公开")
        );
        assert_eq!(t3.get_value((6, 7)), Some(&Data::Float(6.0)));
        assert_eq!(
            t3.get_value((7, 3)).map(Data::to_string).as_deref(),
            Some("未读出")
        );
        let sheet2 = "xl/worksheets/sheet2.xml";
        assert_eq!(
            fill_of(&bytes, sheet2, "H7").as_deref(),
            Some("FFF4C7C3"),
            "wrong: red"
        );
        assert_eq!(
            fill_of(&bytes, sheet2, "B7").as_deref(),
            Some("FFFFF2CC"),
            "compared: yellow"
        );
        assert_eq!(
            fill_of(&bytes, sheet2, "D8").as_deref(),
            Some("FFE7E6E6"),
            "unread: grey"
        );
        assert_eq!(fill_of(&bytes, sheet2, "C7"), None, "others: no fill");
        assert!(
            xml(&bytes, "xl/comments1.xml").contains("应为7"),
            "the note on the wrong cell"
        );
    }

    #[test]
    fn hostile_and_oversized_text_is_kept_as_text() {
        let mut r = report();
        r.organization = Some(format!(
            "=HYPERLINK(\"http://x\")\u{1}{}",
            "长".repeat(40_000)
        ));
        let findings = [Finding {
            rule: "r".into(),
            severity: Severity::Warning,
            message: "=1+1".into(),
            evidence: json!({}),
        }];
        let shown = ShownReport::new(1, Some(&r), "a.txt", &findings, &Titles::new());
        let bytes = workbook(&[shown]).expect("workbook");
        let sheet = xml(&bytes, "xl/worksheets/sheet1.xml");
        assert!(!sheet.contains("<f>"), "no formula");
        let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("read back");
        let rows = wb.worksheet_range(FINDINGS_SHEET).expect("sheet");
        let org = rows
            .get_value((1, 1))
            .map(Data::to_string)
            .unwrap_or_default();
        assert!(org.starts_with("=HYPERLINK") && org.chars().count() <= MAX_CELL_CHARS + 1);
        assert_eq!(
            rows.get_value((1, 7)).map(Data::to_string).as_deref(),
            Some("=1+1")
        );
    }
}
