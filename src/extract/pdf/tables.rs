//! Tables of a PDF page as printed, from the word boxes of `pdftotext -bbox-layout`.
//!
//! `-layout` text places words by character cells, so a header wrapped over three lines and
//! centred over a narrow column lands among its neighbours' words, and a row's cells are told
//! apart only by runs of spaces. Here each number is put in its column by where it lies on the
//! page: the number columns of a table are the x-extents that its numbers cover, aligned down
//! the table (numbers of one column overlap one another, numbers of two columns never do).
//! Each table row then becomes one `label | cell | cell |` line with its blank cells kept, the
//! header cells are read column by column, and the page footers and repeated headers between the
//! rows of a table cut by a page break are dropped. Lines outside the tables keep their words in
//! reading order.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::ExtractError;

/// One word and its box (PDF points, y down).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
    pub text: String,
}

impl Word {
    fn centre_y(&self) -> f64 {
        (self.y0 + self.y1) / 2.0
    }

    fn height(&self) -> f64 {
        (self.y1 - self.y0).max(0.1)
    }
}

/// The words of each page of `pdftotext -bbox-layout` output, in the order it gives them.
pub fn parse_pages(xml: &[u8]) -> Result<Vec<Vec<Word>>, ExtractError> {
    let bad = |e: String| ExtractError::Corrupt(format!("PDF: word boxes: {e}"));
    let mut reader = Reader::from_reader(xml);
    let mut pages: Vec<Vec<Word>> = Vec::new();
    let mut word: Option<Word> = None;
    let mut events = 0u32;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(4096) {
            crate::budget::check("reading the PDF's word boxes")?;
        }
        match reader.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(e) => match e.local_name().as_ref() {
                b"page" => pages.push(Vec::new()),
                b"word" => word = Some(word_box(&e)),
                _ => {}
            },
            Event::Text(t) => {
                if let Some(w) = word.as_mut() {
                    w.text
                        .push_str(&t.decode().map_err(|e| bad(e.to_string()))?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(w) = word.as_mut() {
                    crate::extract::push_xml_ref(&mut w.text, &r).map_err(bad)?;
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"word" => {
                if let (Some(w), Some(page)) = (word.take(), pages.last_mut()) {
                    if !w.text.trim().is_empty() {
                        page.push(w);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(pages)
}

fn word_box(e: &BytesStart<'_>) -> Word {
    let mut w = Word {
        x0: 0.0,
        y0: 0.0,
        x1: 0.0,
        y1: 0.0,
        text: String::new(),
    };
    for a in e.attributes().flatten() {
        let v = a
            .unescape_value()
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0);
        match a.key.as_ref() {
            b"xMin" => w.x0 = v,
            b"yMin" => w.y0 = v,
            b"xMax" => w.x1 = v,
            b"yMax" => w.y1 = v,
            _ => {}
        }
    }
    w
}

/// A word that is a table cell's whole value: a number (sign, thousands commas, decimals, a
/// trailing `%` or money unit), a null marker, or a garbled number (`1l`), which keeps its
/// column as unreadable text. `1.` or `1、` (a label's numbering) is not.
fn is_value(s: &str) -> bool {
    use crate::parse::cells::{is_garbled_number, is_null_marker};
    if is_null_marker(s) || is_garbled_number(s) {
        return true;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let body = ["%", "万元", "亿元", "元"]
        .iter()
        .find_map(|u| body.strip_suffix(u))
        .unwrap_or(body);
    body.starts_with(|c: char| c.is_ascii_digit())
        && body.ends_with(|c: char| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && body.matches('.').count() <= 1
}

/// A page number printed as a footer or header: `— 5 —`, `-4-`, `第 3 页`, `3/6`; a bare
/// number only as the page's first or last line (`edge`).
fn is_page_number(line: &Line, edge: bool) -> bool {
    let text: String = line.words.iter().map(|w| w.text.trim()).collect();
    let dashes = |c: char| matches!(c, '-' | '—' | '–' | '－' | '─');
    let inner = text.trim_matches(dashes).trim();
    let marked = inner.len() < text.len();
    let (inner, marked) = match inner.strip_prefix('第').and_then(|s| s.strip_suffix('页')) {
        Some(n) => (n.trim(), true),
        None => (inner, marked),
    };
    let (inner, marked) = match inner.split_once('/') {
        Some((n, _)) => (n, true),
        None => (inner, marked),
    };
    !inner.is_empty()
        && inner.len() <= 4
        && inner.chars().all(|c| c.is_ascii_digit())
        && (marked || edge)
}

/// A line that begins with a section number (`三、`, `十二、`): a heading, never a table header.
fn is_heading(line: &Line) -> bool {
    let text = line.text();
    let number: String = text
        .chars()
        .take_while(|c| "一二三四五六七八九十".contains(*c))
        .collect();
    !number.is_empty() && text[number.len()..].starts_with('、')
}

/// Words whose vertical centres are close enough to be read as one printed line.
#[derive(Debug, Clone)]
struct Line {
    words: Vec<Word>,
    y: f64,
    height: f64,
}

impl Line {
    /// The values at the end of the line (the row's cells), if every value comes after every
    /// other word: `label v v v`, or values alone.
    fn trailing_values(&self) -> usize {
        let n = self
            .words
            .iter()
            .rev()
            .take_while(|w| is_value(&w.text))
            .count();
        if self.words[..self.words.len() - n]
            .iter()
            .any(|w| is_value(&w.text))
        {
            // A number inside the text (`自 2024 年 1 月`): prose, not a row.
            return 0;
        }
        n
    }

    fn text(&self) -> String {
        join(self.words.iter())
    }
}

fn join<'a>(words: impl Iterator<Item = &'a Word>) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w.text.trim());
    }
    out
}

/// Words grouped into lines top to bottom, each line's words left to right.
fn lines(words: &[Word]) -> Vec<Line> {
    let mut sorted: Vec<&Word> = words.iter().collect();
    sorted.sort_by(|a, b| a.centre_y().total_cmp(&b.centre_y()));
    let mut out: Vec<Line> = Vec::new();
    for w in sorted {
        let joins = out
            .last()
            .is_some_and(|l| (w.centre_y() - l.y).abs() < 0.5 * l.height.min(w.height()));
        if joins {
            if let Some(l) = out.last_mut() {
                l.words.push(w.clone());
            }
        } else {
            out.push(Line {
                words: vec![w.clone()],
                y: w.centre_y(),
                height: w.height(),
            });
        }
    }
    for l in &mut out {
        l.words.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    }
    out
}

/// A table's rows on one page: line indices, and the x-extents of its number columns.
#[derive(Debug)]
struct Region {
    rows: Vec<usize>,
    columns: Vec<(f64, f64)>,
    /// Where the values begin: words left of it are labels.
    left: f64,
    /// Where the row labels end (`left` when the rows have none).
    labels_end: f64,
    /// Line index where its header begins (the lines between it and the first row).
    header: usize,
}

/// Slack (points) when comparing boxes.
const SLACK: f64 = 1.0;

/// Runs of row lines that form a table: consecutive rows whose labels stay left of the values,
/// with only label fragments (also left of the values) between them.
fn regions(lines: &[Line]) -> Vec<Region> {
    let mut out: Vec<Region> = Vec::new();
    let mut current: Option<Region> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_page_number(line, i == 0 || i + 1 == lines.len()) {
            continue;
        }
        let n = line.trailing_values();
        let values = &line.words[line.words.len() - n..];
        let label_end = line.words[..line.words.len() - n]
            .iter()
            .map(|w| w.x1)
            .fold(f64::NEG_INFINITY, f64::max);
        let values_start = values.iter().map(|w| w.x0).fold(f64::INFINITY, f64::min);
        if let Some(r) = current.as_mut() {
            let fits = if n > 0 {
                label_end < r.left.min(values_start) + SLACK
            } else {
                line.words.iter().all(|w| w.x1 < r.left + SLACK)
            };
            if fits {
                if n > 0 {
                    r.rows.push(i);
                    r.left = r.left.min(values_start);
                }
                r.labels_end = r.labels_end.max(label_end).max(
                    line.words[..line.words.len() - n]
                        .iter()
                        .map(|w| w.x1)
                        .fold(f64::NEG_INFINITY, f64::max),
                );
                continue;
            }
            out.extend(current.take());
        }
        if n > 0 && label_end < values_start + SLACK {
            current = Some(Region {
                rows: vec![i],
                columns: Vec::new(),
                left: values_start,
                labels_end: label_end,
                header: i,
            });
        }
    }
    out.extend(current);
    for r in &mut out {
        r.columns = columns(lines, &r.rows);
        if !r.labels_end.is_finite() || r.labels_end > r.left {
            r.labels_end = r.left;
        }
    }
    out.retain(|r| {
        let widest = r
            .rows
            .iter()
            .map(|&i| lines[i].trailing_values())
            .max()
            .unwrap_or(0);
        (r.rows.len() >= 2 && widest >= 2) || widest >= 3
    });
    out
}

/// The x-extents of the number columns: the values' boxes merged where they overlap.
fn columns(lines: &[Line], rows: &[usize]) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = rows
        .iter()
        .flat_map(|&i| {
            let l = &lines[i];
            let n = l.trailing_values();
            l.words[l.words.len() - n..].iter().map(|w| (w.x0, w.x1))
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The column a box lies in: the one it overlaps most, or whose centre is nearest.
fn column_of(columns: &[(f64, f64)], x0: f64, x1: f64) -> Option<usize> {
    let centre = (x0 + x1) / 2.0;
    (0..columns.len()).min_by(|&a, &b| {
        let d = |i: usize| {
            let (c0, c1) = columns[i];
            if centre >= c0 && centre <= c1 {
                0.0
            } else {
                (centre - c0).abs().min((centre - c1).abs())
            }
        };
        d(a).total_cmp(&d(b))
    })
}

/// Adds the columns that hold no number anywhere in the table (an organisation column printed
/// blank in every row) from the header: when its lowest words (none below them) make more cells
/// than there are number columns, those over no number column stand for columns of their own.
fn header_columns(r: &mut Region, header: &[&Line]) {
    let words: Vec<&Word> = header
        .iter()
        .flat_map(|l| l.words.iter())
        .filter(|w| w.x0 >= r.labels_end - SLACK)
        .collect();
    let overlaps = |a: (f64, f64), b: (f64, f64)| a.0 < b.1 - SLACK && a.1 > b.0 + SLACK;
    let mut lowest: Vec<(f64, f64)> = words
        .iter()
        .filter(|w| {
            !words
                .iter()
                .any(|o| o.y0 > w.y1 - SLACK && overlaps((o.x0, o.x1), (w.x0, w.x1)))
        })
        .map(|w| (w.x0, w.x1))
        .collect();
    lowest.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cells: Vec<(f64, f64)> = Vec::new();
    for span in lowest {
        match cells.last_mut() {
            Some(last) if overlaps(*last, span) => last.1 = last.1.max(span.1),
            _ => cells.push(span),
        }
    }
    // As many header cells as number columns: every column has numbers (a header aligned
    // otherwise than its numbers is no column of its own).
    if cells.len() <= r.columns.len() {
        return;
    }
    let added: Vec<(f64, f64)> = cells
        .into_iter()
        .filter(|&span| !r.columns.iter().any(|&c| overlaps(c, span)))
        .collect();
    if !added.is_empty() {
        r.columns.extend(added);
        r.columns.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
}

/// The column a header word stands over: it lies between the column's neighbours (midway),
/// or overlaps this column's numbers only and starts or ends where they do (a header aligned
/// left or right like its numbers). `None` for a word over several columns (法人或其他组织,
/// 申请人情况 centred over seven).
fn cell_of(columns: &[(f64, f64)], w: &Word) -> Option<usize> {
    let bounds: Vec<f64> = columns
        .windows(2)
        .map(|p| (p[0].1 + p[1].0) / 2.0)
        .collect();
    let start = bounds.iter().filter(|&&b| b <= w.x0 + SLACK).count();
    let end = bounds.iter().filter(|&&b| b < w.x1 - SLACK).count();
    if start == end {
        return Some(start);
    }
    let over: Vec<usize> = (0..columns.len())
        .filter(|&c| w.x0 < columns[c].1 - SLACK && w.x1 > columns[c].0 + SLACK)
        .collect();
    match over.as_slice() {
        [c] => {
            let (c0, c1) = columns[*c];
            let aligned = (w.x0 >= c0 - SLACK && w.x0 <= c1) || (w.x1 >= c0 && w.x1 <= c1 + SLACK);
            aligned.then_some(*c)
        }
        _ => None,
    }
}

/// The text of a page whose tables were found, or `None` when it has no table to read here.
pub struct PageText {
    pub text: String,
    /// The header of the page's last table, to know it again on the next page.
    pub last_header: Option<String>,
    /// The number columns of the page's last table, for its rows on the next page.
    pub last_columns: Vec<(f64, f64)>,
}

/// A page rebuilt from its word boxes, tables as `label | cell |` rows, page numbers left out;
/// `None` when the page holds no table. `previous_header` is the header of the previous page's
/// last table: a table whose header is the same as the one before it (on this page or the
/// last) prints it again after a page break, and it is left out.
///
/// `previous_columns` are the columns of the previous page's last table: a table that starts
/// this page without a header of its own and whose numbers all lie in those columns is that
/// table's rest, and keeps its columns (those it has no number in included).
pub fn page_text(
    words: &[Word],
    previous_header: Option<&str>,
    previous_columns: &[(f64, f64)],
) -> Option<PageText> {
    let lines = lines(words);
    let mut regions = regions(&lines);
    if regions.is_empty() {
        return None;
    }
    // The header of each table: the lines above its first row whose words keep to the label
    // area or to the number columns (one each, or several, like 法人或其他组织), up to the
    // previous table or the first line that runs from the label area into the columns.
    let mut floor = 0;
    for (n, r) in regions.iter_mut().enumerate() {
        let first = r.rows[0];
        let mut h = first;
        while h > floor {
            let line = &lines[h - 1];
            // A header cell can be wider than its numbers; a line of text starts among the labels.
            let crosses = line
                .words
                .iter()
                .any(|w| w.x0 < r.labels_end - SLACK && w.x1 > r.left + SLACK);
            // A number (another table's row) or a section heading (`三、收到和…`) ends it too.
            let ends = line.words.iter().any(|w| is_value(&w.text)) || is_heading(line);
            if crosses || ends {
                break;
            }
            h -= 1;
        }
        r.header = h;
        floor = r.rows.last().map_or(first, |&e| e + 1);
        let header: Vec<&Line> = lines[h..first].iter().collect();
        header_columns(r, &header);
        let continues = n == 0
            && h == first
            && previous_columns.len() > r.columns.len()
            && r.columns.iter().all(|c| {
                previous_columns
                    .iter()
                    .any(|p| c.0 < p.1 + SLACK && c.1 > p.0 - SLACK)
            });
        if continues {
            r.columns = previous_columns.to_vec();
        }
    }
    let page_number = |i: usize| is_page_number(&lines[i], i == 0 || i + 1 == lines.len());
    let mut out = String::new();
    let mut last_header = previous_header.map(str::to_string);
    for (k, line) in lines.iter().enumerate() {
        if page_number(k) {
            continue;
        }
        let region = regions
            .iter()
            .find(|r| r.header <= k && r.rows.last().is_some_and(|&end| k <= end));
        let Some(r) = region else {
            out.push_str(&line.text());
            out.push('\n');
            continue;
        };
        let first = r.rows[0];
        if k < first {
            // A header line: written with the first row, read column by column.
            continue;
        }
        if k == first {
            let header: Vec<&Line> = (r.header..first)
                .filter(|&h| !page_number(h))
                .map(|h| &lines[h])
                .collect();
            if let Some(h) = header_text(&header, r) {
                if last_header.as_deref() != Some(h.columns.as_str()) {
                    out.push_str(&h.text);
                }
                last_header = Some(h.columns);
            }
        }
        if r.rows.contains(&k) {
            out.push_str(&row_text(line, r));
        } else {
            out.push_str(&line.text());
        }
        out.push('\n');
    }
    Some(PageText {
        text: out,
        last_header,
        last_columns: regions
            .last()
            .map(|r| r.columns.clone())
            .unwrap_or_default(),
    })
}

struct Header {
    /// The lines as printed, then one line of the column cells read top to bottom.
    text: String,
    /// The column cells alone, to know the header again when a page repeats it.
    columns: String,
}

/// The header lines of a table (`None` when there are none): the label area's text, the words
/// spanning several columns, then one line of the column cells, each read top to bottom.
fn header_text(lines: &[&Line], r: &Region) -> Option<Header> {
    if lines.is_empty() {
        return None;
    }
    let mut label: Vec<&Word> = Vec::new();
    let mut spanning: Vec<&Word> = Vec::new();
    let mut cells: Vec<Vec<&Word>> = vec![Vec::new(); r.columns.len()];
    for line in lines {
        for w in &line.words {
            if w.x1 < r.left + SLACK {
                label.push(w);
            } else if let Some(c) = cell_of(&r.columns, w) {
                cells[c].push(w);
            } else {
                spanning.push(w);
            }
        }
    }
    let mut text = String::new();
    if !label.is_empty() {
        // The label area's lines in reading order, its words glued as one cell's text.
        let mut by_line: Vec<&Word> = label;
        by_line.sort_by(|a, b| {
            a.centre_y()
                .total_cmp(&b.centre_y())
                .then(a.x0.total_cmp(&b.x0))
        });
        text.push_str(&by_line.iter().map(|w| w.text.trim()).collect::<String>());
        text.push('\n');
    }
    for w in spanning {
        text.push_str(w.text.trim());
        text.push('\n');
    }
    let columns: Vec<String> = cells
        .iter()
        .map(|ws| {
            let mut ws = ws.clone();
            ws.sort_by(|a, b| {
                a.centre_y()
                    .total_cmp(&b.centre_y())
                    .then(a.x0.total_cmp(&b.x0))
            });
            ws.iter().map(|w| w.text.trim()).collect::<String>()
        })
        .collect();
    let columns = columns.join(" ");
    text.push_str(&columns);
    text.push('\n');
    Some(Header { text, columns })
}

/// A row as `label | v | | v |`: each value in its column, a blank cell where a column has none.
fn row_text(line: &Line, r: &Region) -> String {
    let n = line.trailing_values();
    let (label, values) = line.words.split_at(line.words.len() - n);
    let mut cells: Vec<Option<&str>> = vec![None; r.columns.len()];
    for w in values {
        if let Some(c) = column_of(&r.columns, w.x0, w.x1) {
            match cells[c] {
                // Two values in one column: not a table row after all; keep the words.
                Some(_) => return line.text(),
                None => cells[c] = Some(w.text.trim()),
            }
        }
    }
    let mut out = join(label.iter());
    out.push_str(" |");
    for c in cells {
        out.push(' ');
        out.push_str(c.unwrap_or(""));
        out.push_str(" |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(x0: f64, y0: f64, width: f64, text: &str) -> Word {
        Word {
            x0,
            y0,
            x1: x0 + width,
            y1: y0 + 8.0,
            text: text.to_string(),
        }
    }

    #[test]
    fn values_are_numbers_and_null_markers_not_numbering() {
        for v in [
            "0",
            "3001",
            "96171.6",
            "-155",
            "+57",
            "1,234",
            "/",
            "—",
            "45.3%",
            "4003622元",
        ] {
            assert!(is_value(v), "{v}");
        }
        for v in ["1.", "1、", "2.重复申请", "年", "1.2.3", "—2—"] {
            assert!(!is_value(v), "{v}");
        }
    }

    #[test]
    fn blank_cells_stay_blank_and_numbers_go_to_their_columns() {
        // Three rows; the middle row has no value in the second column. Numbers are centred.
        let words = vec![
            w(10.0, 100.0, 60.0, "一、本年新收"),
            w(100.0, 100.0, 16.0, "3001"),
            w(140.0, 102.0, 8.0, "53"),
            w(180.0, 101.0, 16.0, "3054"),
            w(10.0, 120.0, 60.0, "二、上年结转"),
            w(104.0, 120.0, 8.0, "34"),
            w(184.0, 120.0, 8.0, "34"),
            w(10.0, 140.0, 60.0, "（七）总计"),
            w(102.0, 140.0, 12.0, "100"),
            w(142.0, 140.0, 4.0, "7"),
            w(182.0, 140.0, 12.0, "107"),
        ];
        let page = page_text(&words, None, &[]).expect("a table");
        let rows: Vec<&str> = page.text.lines().filter(|l| l.contains('|')).collect();
        assert_eq!(
            rows,
            [
                "一、本年新收 | 3001 | 53 | 3054 |",
                "二、上年结转 | 34 |  | 34 |",
                "（七）总计 | 100 | 7 | 107 |"
            ]
        );
    }

    #[test]
    fn a_garbled_number_keeps_its_column() {
        let words = vec![
            w(10.0, 100.0, 60.0, "一、本年新收"),
            w(100.0, 100.0, 16.0, "3001"),
            w(140.0, 100.0, 8.0, "53"),
            w(180.0, 100.0, 16.0, "3054"),
            w(10.0, 120.0, 60.0, "二、上年结转"),
            w(104.0, 120.0, 8.0, "34"),
            w(140.0, 120.0, 8.0, "0"),
            w(184.0, 120.0, 8.0, "1l"),
        ];
        let page = page_text(&words, None, &[]).expect("a table");
        let rows: Vec<&str> = page.text.lines().filter(|l| l.contains('|')).collect();
        assert_eq!(
            rows,
            [
                "一、本年新收 | 3001 | 53 | 3054 |",
                "二、上年结转 | 34 | 0 | 1l |"
            ]
        );
    }

    #[test]
    fn wrapped_centred_headers_are_read_column_by_column() {
        // 自然人 centred a line below 商业企 / 业, 总计 likewise.
        let words = vec![
            w(40.0, 50.0, 30.0, "商业企"),
            w(50.0, 60.0, 10.0, "业"),
            w(80.0, 50.0, 30.0, "科研机"),
            w(90.0, 60.0, 10.0, "构"),
            w(0.0, 55.0, 30.0, "自然人"),
            w(120.0, 55.0, 20.0, "总计"),
            w(-60.0, 80.0, 40.0, "一、新收"),
            w(10.0, 80.0, 10.0, "5"),
            w(50.0, 80.0, 10.0, "1"),
            w(90.0, 80.0, 10.0, "0"),
            w(125.0, 80.0, 10.0, "6"),
            w(-60.0, 100.0, 40.0, "二、结转"),
            w(10.0, 100.0, 10.0, "0"),
            w(50.0, 100.0, 10.0, "0"),
            w(90.0, 100.0, 10.0, "0"),
            w(125.0, 100.0, 10.0, "0"),
        ];
        let page = page_text(&words, None, &[]).expect("a table");
        assert!(
            page.text.contains("自然人 商业企业 科研机构 总计\n"),
            "{}",
            page.text
        );
    }

    #[test]
    fn footer_and_repeated_header_between_rows_are_dropped() {
        let header = |y: f64| vec![w(100.0, y, 20.0, "自然人"), w(140.0, y, 20.0, "总计")];
        let row = |y: f64, label: &str, a: &str, b: &str| {
            vec![
                w(10.0, y, 40.0, label),
                w(105.0, y, 8.0, a),
                w(145.0, y, 8.0, b),
            ]
        };
        let mut page1 = header(50.0);
        page1.extend(row(70.0, "一、新收", "1", "1"));
        page1.extend(row(90.0, "二、结转", "2", "2"));
        page1.push(w(120.0, 800.0, 30.0, "— 4 —"));
        let first = page_text(&page1, None, &[]).expect("a table");
        assert!(!first.text.contains('—'), "{}", first.text);
        let mut page2 = header(50.0);
        page2.extend(row(70.0, "（一）予以公开", "3", "3"));
        page2.extend(row(90.0, "（七）总计", "3", "3"));
        let second =
            page_text(&page2, first.last_header.as_deref(), &first.last_columns).expect("a table");
        assert!(!second.text.contains("自然人"), "{}", second.text);
        assert!(
            second.text.starts_with("（一）予以公开 | 3 | 3 |"),
            "{}",
            second.text
        );
    }

    #[test]
    fn prose_with_numbers_is_no_table() {
        let words = vec![
            w(10.0, 100.0, 20.0, "自"),
            w(35.0, 100.0, 20.0, "2024"),
            w(60.0, 100.0, 20.0, "年"),
            w(85.0, 100.0, 10.0, "1"),
            w(100.0, 100.0, 20.0, "月"),
        ];
        assert!(page_text(&words, None, &[]).is_none());
    }

    #[test]
    fn word_boxes_are_read_from_the_xhtml() {
        let xml = br#"<html><body><doc><page width="595" height="842"><flow><block><line>
<word xMin="1.5" yMin="2" xMax="3" yMax="4">&#x81EA;&amp;1</word></line></block></flow></page>
<page width="595" height="842"></page></doc></body></html>"#;
        let pages = parse_pages(xml).expect("parsed");
        assert_eq!(pages.len(), 2);
        assert_eq!(
            pages[0],
            vec![Word {
                x0: 1.5,
                y0: 2.0,
                x1: 3.0,
                y1: 4.0,
                text: "自&1".into()
            }]
        );
        assert!(pages[1].is_empty());
    }
}
