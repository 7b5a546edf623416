//! Reading tables 2, 3 and 4 out of flattened text, by their row labels.
//!
//! A row is found by its label (`本年新收`, `予以公开`, `1.属于国家秘密` …), wherever the
//! flattening put it, and its cells are the values that follow the label up to the next label.
//! Two layouts need more than that, and both are told apart from the text itself:
//! - *line rows* (a PDF or markdown table: `| label | 1 | 0 | … |`): when some row holds its label
//!   and its cells on one line, a line of bare cells is a row whose label was printed elsewhere
//!   (PDF extraction often moves wrapped labels away from their numbers). Such rows take their
//!   place from the template's row order, between the labelled rows around them.
//! - *glued cells* (`713000074`, or `150 000015` with a stray space): split so that the 总计
//!   cell is the sum of the six before it. Rows that this leaves with several splits
//!   (`330000033`: 33,0,… or 3,30,…) are decided together by the column identities of table 3
//!   (balance, and (七)总计 = the result rows), a search over their splits within the table's
//!   step budget. A row no split fits, or one the identities still leave open, is reported, not
//!   guessed.
//!
//! Whatever cannot be read is left `None` and named in the warnings.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::cells::{self, CellValue, Tok};
use crate::model::{self, RawCells, Table, Table2, Template, T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// A row label found in the text (byte offsets), with the row key it stands for.
#[derive(Debug, Clone)]
struct Anchor {
    key: &'static str,
    start: usize,
    end: usize,
    /// Line number of the label's last character.
    line: usize,
}

/// Builds a pattern that tolerates line breaks and spaces between the label's characters (PDF
/// copies wrap labels: `2.其他法律行政法规禁\n止公开`).
fn loose(words: &str) -> String {
    let chars: Vec<String> = words
        .chars()
        .map(|c| regex::escape(&c.to_string()))
        .collect();
    chars.join(r"\s*")
}

/// Numbering right before a label: `1.`, `(三)`, `三、` (glued copies: `00000002.其他…`).
static NUMBERING_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[1-9]\s*[.、]|\(\s*[一二三四五六七八]\s*\)|[一二三四]\s*、)\s*$")
        .expect("numbering pattern")
});

/// Row labels of one table: one alternation to find them all in one pass, and each label on its
/// own (anchored) to tell which one matched.
struct Labels {
    any: Regex,
    each: Vec<Label>,
}

struct Label {
    key: &'static str,
    /// The character the label starts with, when its pattern starts with a literal one: only
    /// those labels are tried where the alternation found one (a few, not all of them).
    first: Option<char>,
    re: Regex,
}

fn compile(rows: &[(&'static str, &str)]) -> Labels {
    let alternation: Vec<String> = rows.iter().map(|(_, w)| format!("(?:{w})")).collect();
    Labels {
        any: Regex::new(&alternation.join("|")).expect("row labels pattern"),
        each: rows
            .iter()
            .map(|(key, words)| Label {
                key,
                first: first_char(words),
                re: Regex::new(&format!("^(?:{words})")).expect("row label pattern"),
            })
            .collect(),
    }
}

/// The character every match of `pattern` starts with, if the pattern starts with a literal
/// character (`予`, `3`, `\(`); `None` when it may start otherwise.
fn first_char(pattern: &str) -> Option<char> {
    let mut chars = pattern.chars();
    let c = chars.next()?;
    let next = chars.next();
    if c == '\\' {
        return next.filter(char::is_ascii_punctuation);
    }
    let literal = regex::escape(&c.to_string()) == c.to_string();
    // A quantifier after it would make the character optional.
    let quantified = next.is_some_and(|n| matches!(n, '*' | '?' | '{'));
    (literal && !quantified).then_some(c)
}

static T3_LABELS: LazyLock<Labels> = LazyLock::new(|| {
    let l = loose;
    compile(&[
        ("new_received", &l("本年新收")),
        ("carried_over", &l("上年结转")),
        ("granted", &l("予以公开")),
        ("partial", &l("部分公开")),
        ("denied_state_secret", &l("属于国家秘密")),
        (
            "denied_law_prohibited",
            &format!("{}(?:\\s*法\\s*规)?{}", l("其他法律行政"), l("禁止公开")),
        ),
        ("denied_three_safety", &l("危及")),
        ("denied_third_party", &l("保护第三方合法权益")),
        ("denied_internal", &l("属于三类内部事务")),
        ("denied_process", &l("属于四类过程性")),
        ("denied_enforcement_file", &l("属于行政执法案卷")),
        ("denied_admin_query", &l("属于行政查询事项")),
        ("unable_not_held", &l("本机关不掌握")),
        ("unable_needs_creation", &l("没有现成信息")),
        ("unable_unclear", &l("补正后申请内容")),
        ("rejected_petition", &l("信访举报投诉")),
        ("rejected_duplicate", &l("重复申请")),
        ("rejected_publication", &l("要求提供公开出版物")),
        ("rejected_excessive", &l("无正当理由大量反复")),
        ("rejected_confirmation", &l("要求行政机关确认")),
        ("other", r"\(\s*六\s*\)\s*其\s*他(?:\s*处\s*理)?"),
        ("other_no_correction", &l("申请人无正当理由逾期不补正")),
        ("other_no_fee", &l("申请人逾期未按收费通知")),
        ("other_misc", r"3\s*[.、]\s*其\s*他"),
        ("total_processed", r"\(\s*七\s*\)\s*总\s*计"),
        ("carried_forward", &l("结转下年度继续办理")),
    ])
});

static T2_LABELS: LazyLock<Labels> = LazyLock::new(|| {
    let l = loose;
    compile(&[
        ("rules", &l("规章")),
        ("normative_docs", &l("规范性文件")),
        ("licensing", &l("行政许可")),
        ("other_services", &l("其他对外管理服务事项")),
        ("penalty", &l("行政处罚")),
        ("enforcement", &l("行政强制")),
        ("fees", &l("行政事业性收费")),
        ("procurement", &l("政府集中采购")),
    ])
});

/// Finds every row label in `text[start..end]`, in order, without overlaps; a label's start
/// includes its numbering.
fn find_anchors(
    text: &str,
    start: usize,
    end: usize,
    labels: &Labels,
    line_index: &LineIndex,
) -> Vec<Anchor> {
    let region = &text[start..end];
    let mut out: Vec<Anchor> = Vec::new();
    for m in labels.any.find_iter(region) {
        let rest = &region[m.start()..];
        // The longest label that matches here names the row.
        let first = rest.chars().next();
        let best = labels
            .each
            .iter()
            .filter(|l| l.first.is_none() || l.first == first)
            .filter_map(|l| l.re.find(rest).map(|x| (l.key, x.end())))
            .max_by_key(|(_, len)| *len);
        let Some((key, len)) = best else { continue };
        let mut s = start + m.start();
        let e = s + len;
        let window = floor_char_boundary(text, s.saturating_sub(24));
        if let Some(n) = NUMBERING_BEFORE.find(&text[window.max(start)..s]) {
            s = window.max(start) + n.start();
        }
        if out.last().is_some_and(|prev| s < prev.end) {
            continue;
        }
        out.push(Anchor {
            key,
            start: s,
            end: e,
            line: line_index.line_of(e.saturating_sub(1)),
        });
    }
    out
}

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn a_label_is_tried_only_where_its_first_character_is() {
        assert_eq!(first_char(&loose("予以公开")), Some('予'));
        assert_eq!(first_char(r"\(\s*七\s*\)\s*总\s*计"), Some('('));
        assert_eq!(first_char(r"3\s*[.、]\s*其\s*他"), Some('3'));
        for open in [r"\s*其", "(?:a|b)", "[一二]", "a?b", "a*", ".b", "x{0,2}"] {
            assert_eq!(first_char(open), None, "{open}");
        }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Line numbers for byte offsets.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The text of line `line` (without its `\n`).
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts.get(line).copied().unwrap_or(text.len());
        let end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |next| next - 1);
        text.get(start..end.max(start)).unwrap_or("")
    }

    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }
}

/// A row's worth of cells, as found after a label or on a line of its own.
#[derive(Debug, Clone)]
struct Candidate<'a> {
    /// The row key when a label stands right before the cells.
    key: Option<&'static str>,
    cells: Vec<Option<&'a str>>,
    /// The line the row's first cell is on.
    line: usize,
    /// The cells of the run the row came from (more than the row's when a line is padded).
    run: usize,
}

/// The parts of the text a table was read from, so claims are not taken from table cells.
pub type Span = (usize, usize);

/// The result of reading one table.
pub struct Read<T> {
    pub table: T,
    pub raw: RawCells,
    pub span: Option<Span>,
}

/// Splits the tokens after each anchor into row candidates.
fn candidates<'a>(
    anchors: &[Anchor],
    slices: &[Vec<Tok<'a>>],
    width: usize,
    line_rows: bool,
    failures: &mut Vec<(&'static str, String)>,
    strays: &mut Vec<&'a str>,
    placeholders: bool,
) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    for (anchor, toks) in anchors.iter().zip(slices) {
        let mut runs: Vec<Vec<&Tok>> = Vec::new();
        let mut current: Vec<&Tok> = Vec::new();
        let mut last_line = None;
        let mut first_run_line = None;
        for t in toks {
            let new_line = line_rows && last_line.is_some_and(|l| l != t.line());
            if (!t.is_cell() || new_line) && !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            if t.is_cell() {
                if runs.is_empty() && current.is_empty() {
                    first_run_line = Some(t.line());
                }
                current.push(t);
            }
            last_line = Some(t.line());
        }
        if !current.is_empty() {
            runs.push(current);
        }
        // The first run belongs to the label when it follows it directly (line rows: on the same
        // line as the label's end).
        let labelled = !line_rows || first_run_line == Some(anchor.line);
        let mut per_line: Option<BTreeMap<usize, usize>> = None;
        for (r, run) in runs.iter().enumerate() {
            let key = (r == 0 && labelled).then_some(anchor.key);
            let line = run.first().map_or(anchor.line, |t| t.line());
            let rows = run_to_rows(run, width, line_rows);
            let placed = match &rows {
                Ok(rows) => rows.len() * width,
                Err(_) => 0,
            };
            // Numbers no row took: a number alone on its line that the copy moved away from its
            // cell (a glued run is split by the caller, a label's own numbering is no cell).
            let glued = is_glued_run(run, width);
            if !glued && placed < run.len() {
                let per_line = per_line.get_or_insert_with(|| {
                    let mut m: BTreeMap<usize, usize> = BTreeMap::new();
                    for t in toks {
                        *m.entry(t.line()).or_default() += 1;
                    }
                    m
                });
                strays.extend(run[placed..].iter().filter_map(|t| match t {
                    Tok::Value { text, line }
                        if cells::as_count(text).is_some() && per_line.get(line) == Some(&1) =>
                    {
                        Some(*text)
                    }
                    _ => None,
                }));
            }
            match rows {
                Ok(rows) => {
                    for (j, cells) in rows.into_iter().enumerate() {
                        out.push(Candidate {
                            key: if j == 0 { key } else { None },
                            cells,
                            line,
                            run: run.len(),
                        });
                    }
                }
                Err(why) => {
                    if let Some(k) = key {
                        failures.push((k, why));
                    }
                    // A row that lost cells still takes its place: rows read by position after
                    // it must not move up into it. (A lone number is a stray, not a row.)
                    if placeholders && !glued && run.len() >= 2 {
                        out.push(Candidate {
                            key,
                            cells: Vec::new(),
                            line,
                            run: run.len(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Whether a run is one row's cells run together (`713000074`): one token of at least `width`
/// digits, which the glued-cell solver splits.
fn is_glued_run(run: &[&Tok<'_>], width: usize) -> bool {
    width > 1
        && matches!(run, [Tok::Value { text, .. }]
            if text.len() >= width && text.bytes().all(|b| b.is_ascii_digit()))
}

/// Turns a run of cells into rows of `width` cells.
fn run_to_rows<'a>(
    run: &[&Tok<'a>],
    width: usize,
    line_rows: bool,
) -> Result<Vec<Vec<Option<&'a str>>>, String> {
    let cells: Vec<Option<&'a str>> = run
        .iter()
        .map(|t| match t {
            Tok::Value { text, .. } => Some(*text),
            _ => None,
        })
        .collect();
    if is_glued_run(run, width) {
        let digits = cells[0].unwrap_or_default();
        return Err(format!("glued cells `{digits}` (split by the caller)"));
    }
    if cells.len() < width {
        return Err(format!("{} of {} cells found", cells.len(), width));
    }
    if line_rows {
        return Ok(vec![cells[..width].to_vec()]);
    }
    let mut rows: Vec<Vec<Option<&'a str>>> = cells.chunks(width).map(<[_]>::to_vec).collect();
    if rows.last().is_some_and(|r| r.len() < width) {
        rows.pop();
    }
    Ok(rows)
}

/// The tokens after each anchor, up to the next one.
fn slices<'a>(
    text: &'a str,
    anchors: &[Anchor],
    region_end: usize,
    li: &LineIndex,
) -> Vec<Vec<Tok<'a>>> {
    anchors
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let stop = anchors.get(i + 1).map_or(region_end, |n| n.start);
            if stop <= a.end {
                Vec::new()
            } else {
                cells::tokenize(text, a.end, stop, li.line_of(a.end))
            }
        })
        .collect()
}

/// Whether the table is laid out one row per line (some label shares its line with its cells).
fn is_line_rows(anchors: &[Anchor], slices: &[Vec<Tok<'_>>], width: usize) -> bool {
    width > 1
        && anchors.iter().zip(slices).any(|(a, toks)| {
            let same_line = toks
                .iter()
                .filter(|t| t.line() == a.line && t.is_cell())
                .count();
            same_line >= width - 1
        })
}

/// Reads table 3 from `text[start..end]`.
pub fn read_table3(
    text: &str,
    start: usize,
    end: usize,
    template: Template,
    li: &LineIndex,
    warnings: &mut Vec<String>,
) -> Read<Table> {
    let rows = model::t3_rows(template);
    let width = T3_COLUMNS.len();
    let anchors = find_anchors(text, start, end, &T3_LABELS, li);
    let columns = column_order(text, start, anchors.first().map_or(end, |a| a.start));
    let slices = slices(text, &anchors, end, li);
    let line_rows = is_line_rows(&anchors, &slices, width);
    // Glued rows: a label followed by one long run of digits (a stray space may break it).
    let mut glued: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    // Glued rows whose own identity allows several splits: decided with the whole table below.
    let mut ambiguous: Vec<Ambiguous> = Vec::new();
    // Every row read as glued, split or not: its cells are not looked for again.
    let mut glued_keys: Vec<&'static str> = Vec::new();
    // One budget for the whole table: hostile copies repeat labels with long digit runs.
    let mut steps = cells::SPLIT_STEPS;
    // A run broken by stray spaces is only taken for one in a table that glues its cells: some
    // row there is one unbroken run, or no row has its cells apart. Elsewhere a few numbers a
    // space apart are a short row.
    let labelled = || {
        anchors
            .iter()
            .zip(&slices)
            .filter(|(a, _)| rows.contains(&a.key))
    };
    let glued_table = labelled().any(|(_, toks)| glued_run(text, toks, width, false).is_some())
        || !labelled().any(|(_, toks)| {
            toks.iter()
                .filter(|t| matches!(t, Tok::Value { .. }))
                .count()
                >= width
        });
    for (a, toks) in anchors.iter().zip(&slices) {
        if !rows.contains(&a.key) || glued_keys.contains(&a.key) {
            continue;
        }
        let Some(digits) = glued_run(text, toks, width, glued_table) else {
            continue;
        };
        glued_keys.push(a.key);
        let Some(splits) = cells::split_glued(&digits, 1, width, MAX_ROW_SPLITS + 1, &mut steps)
        else {
            warnings.push(format!(
                "table3 row {}: glued cells `{digits}` have too many possible splits to try; left unread",
                a.key
            ));
            continue;
        };
        match splits.len() {
            0 => warnings.push(format!(
                "table3 row {}: glued cells `{digits}` cannot be split so that 总计 is the sum of the six columns",
                a.key
            )),
            1 => {
                glued.insert(a.key, splits[0].clone());
            }
            n if n > MAX_ROW_SPLITS => warnings.push(format!(
                "table3 row {}: glued cells `{digits}` split in more than {MAX_ROW_SPLITS} ways; left unread",
                a.key
            )),
            _ => ambiguous.push(Ambiguous {
                key: a.key,
                digits,
                splits,
            }),
        }
    }
    let mut local = Vec::new();
    let mut strays = Vec::new();
    // In a table that glues its cells, runs are split by the glued-cell solver, not by rows.
    let cands = candidates(
        &anchors,
        &slices,
        width,
        line_rows,
        &mut local,
        &mut strays,
        !glued_table,
    );
    for (key, why) in local {
        if rows.contains(&key) && !glued_keys.contains(&key) {
            warnings.push(format!("table3 row {key}: {why}"));
        }
    }

    let mut table: Table = BTreeMap::new();
    let mut raw: RawCells = BTreeMap::new();
    let mut filled: BTreeMap<&'static str, bool> = BTreeMap::new();
    for (key, values) in &glued {
        insert_glued_row(&mut table, &mut raw, &columns, key, values);
        filled.insert(key, true);
    }
    for amb in &ambiguous {
        filled.insert(amb.key, true);
    }
    let short = short_pipe_rows(text, li, &cands, width, line_rows);
    // Rows found but left unread (a cell lost): not missing, and not read again.
    let mut lost: Vec<&'static str> = Vec::new();
    let mut pointer = 0usize;
    for (c, cand) in cands.iter().enumerate() {
        let target = match cand.key {
            Some(k) => match rows.iter().position(|r| *r == k) {
                Some(idx) => {
                    if filled.contains_key(k) {
                        warnings.push(format!("table3 row {k}: found twice; the first is kept"));
                        pointer = idx + 1;
                        continue;
                    }
                    Some(idx)
                }
                // A group label of the other template (`(六)其他处理` in 2021): not a row here.
                None => continue,
            },
            None => {
                let mut idx = pointer;
                while idx < rows.len() && filled.contains_key(rows[idx]) {
                    idx += 1;
                }
                if idx < rows.len() {
                    warnings.push(format!(
                        "table3 row {}: read by position (its label is not next to its cells)",
                        rows[idx]
                    ));
                }
                (idx < rows.len()).then_some(idx)
            }
        };
        let Some(idx) = target else { continue };
        let key = rows[idx];
        filled.insert(key, true);
        pointer = idx + 1;
        if cand.cells.is_empty() {
            lost.push(key);
            if cand.key.is_none() {
                warnings.push(format!(
                    "table3 row {key}: a row of too few cells stands where it belongs; left unread"
                ));
            }
            continue;
        }
        if short.get(&c) == Some(&Short::Row) {
            lost.push(key);
            warnings.push(format!(
                "table3 row {key}: its line has fewer cells than the table's other rows and the row is only complete with the blanks that pad the lines, so a cell is missing; left unread"
            ));
            continue;
        }
        // Trailing blanks that may be padding standing in for lost cells: unread, not blank.
        let unsure = match short.get(&c) {
            Some(Short::Tail(n)) => *n,
            _ => 0,
        };
        if unsure > 0 {
            warnings.push(format!(
                "table3 row {key}: its line may have lost its last {unsure} cell(s) to the padding of the table's lines; those cells are left unread"
            ));
        }
        let mut row = BTreeMap::new();
        let mut raw_row = BTreeMap::new();
        let sure = cand.cells.len().saturating_sub(unsure);
        for (i, (col, cell)) in columns.iter().zip(&cand.cells).enumerate() {
            let (value, text) = count_cell(*cell);
            row.insert(col.to_string(), value);
            if i < sure {
                raw_row.insert(col.to_string(), text);
            }
        }
        table.insert(key.to_string(), row);
        raw.insert(key.to_string(), raw_row);
    }
    // Glued rows that their own identity left open: the column identities of the whole table
    // decide them, or they stay unread.
    if !ambiguous.is_empty() {
        let chosen = solve_ambiguous(&table, &ambiguous, &columns, template, &mut steps);
        for (amb, outcome) in ambiguous.iter().zip(chosen) {
            match outcome {
                Ok(values) => {
                    insert_glued_row(&mut table, &mut raw, &columns, amb.key, &values);
                }
                Err(why) => warnings.push(format!(
                    "table3 row {}: glued cells `{}` split in {} ways ({}); {why}; left unread",
                    amb.key,
                    amb.digits,
                    amb.splits.len(),
                    some_splits(&amb.splits)
                )),
            }
        }
    }
    if !strays.is_empty() {
        unread_blanks(&table, &mut raw, &strays, warnings);
    }
    // Every row of the template appears, with None where nothing was read.
    let mut missing = Vec::new();
    for key in &rows {
        if !table.contains_key(*key) {
            if !glued_keys.contains(key) && !lost.contains(key) {
                missing.push(*key);
            }
            table.insert(
                key.to_string(),
                T3_COLUMNS.iter().map(|c| (c.to_string(), None)).collect(),
            );
        }
    }
    if !missing.is_empty() {
        warnings.push(format!("table3 rows not found: {}", missing.join(", ")));
    }
    if template == Template::Y2021 {
        add_other_sum(&mut table);
    }
    let span = span_of(&anchors, end);
    Read { table, raw, span }
}

/// The rows (by index into `cands`) of a table laid out a row per line with `|` that may have lost
/// a cell to the padding some copies add to every line (`| 5 | 0 | … | 5 | ||`): the padding
/// then stands in for the lost cell and every cell after the gap moves one column left. Such a
/// row ends in blanks that could be padding, the numbers before them can be the row read one
/// cell short, and either
/// - its line has `k` fewer `|` than most lines of the table (which pad to one width) while its
///   row ends in `k` or more blanks, or
/// - other lines carry blanks beyond the table's width while this one ends exactly at the
///   width, with a blank.
///
/// A line as short that ends in fewer blanks only has less padding.
fn short_pipe_rows(
    text: &str,
    li: &LineIndex,
    cands: &[Candidate<'_>],
    width: usize,
    line_rows: bool,
) -> BTreeMap<usize, Short> {
    if !line_rows {
        return BTreeMap::new();
    }
    let pipes: Vec<usize> = cands
        .iter()
        .map(|c| li.line_text(text, c.line).matches('|').count())
        .collect();
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for &p in pipes.iter().filter(|&&p| p > 0) {
        *counts.entry(p).or_default() += 1;
    }
    // The count most lines are padded to: most rows share it, and those lines carry padding
    // (a count shared only by rows without labels, say, is no padding).
    let usual = counts
        .iter()
        .max_by_key(|(p, n)| (**n, **p))
        .filter(|(_, n)| **n * 2 > pipes.len())
        .map(|(p, _)| *p)
        .filter(|u| {
            cands
                .iter()
                .zip(&pipes)
                .any(|(c, p)| p == u && c.run > width)
        });
    let padded = cands
        .iter()
        .any(|c| c.run > width && c.cells.len() == width);
    cands
        .iter()
        .zip(&pipes)
        .enumerate()
        .filter_map(|(i, (c, p))| {
            let trailing = c.cells.iter().rev().take_while(|v| v.is_none()).count();
            let short = match usual {
                Some(u) => *p > 0 && *p < u && trailing >= u - *p,
                None => padded && c.run == width,
            };
            (trailing > 0 && short).then(|| {
                let how = if may_have_lost_cells(&c.cells) {
                    Short::Row
                } else {
                    Short::Tail(trailing)
                };
                (i, how)
            })
        })
        .collect()
}

/// A row that may have lost cells to padding.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Short {
    /// Any of its cells may be the lost one: the row is unread.
    Row,
    /// Only its last cells can be the lost ones (the numbers before them cannot be the row read
    /// one cell short): those many trailing cells are unread, not blank.
    Tail(usize),
}

/// Whether a row that ends in blanks can be one that lost cells to padding: its last number
/// would then be its 总计, and the numbers before it cannot add up to more than that
/// (`1 0 0 0 0 0 ·` cannot be `? 1 0 0 0 0 0`; `2 0 0 0 0 34 ·` can be `32 2 0 0 0 0 34`).
fn may_have_lost_cells(cells: &[Option<&str>]) -> bool {
    let filled: Vec<&str> = cells.iter().map_while(|c| *c).collect();
    let Some((last, before)) = filled.split_last() else {
        return false;
    };
    let (Some(total), Some(sum)) = (
        cells::as_count(last),
        before
            .iter()
            .map(|c| cells::as_count(c))
            .try_fold(0i64, |acc, v| v.map(|v| acc.saturating_add(v))),
    ) else {
        // A cell that is no number: nothing tells either way.
        return true;
    };
    sum <= total
}

/// A table where some number stands apart from every row (a copy moved it out of its cell): its
/// blank cells may be where that number belongs, so they are unread, not blank as printed.
fn unread_blanks(table: &Table, raw: &mut RawCells, strays: &[&str], warnings: &mut Vec<String>) {
    let mut cells = Vec::new();
    for (key, raw_row) in raw.iter_mut() {
        raw_row.retain(|col, text| {
            let blank = text.is_empty()
                && table
                    .get(key)
                    .and_then(|r| r.get(col))
                    .is_some_and(Option::is_none);
            if blank {
                cells.push(format!("{key}/{col}"));
            }
            !blank
        });
    }
    if !cells.is_empty() {
        let shown: Vec<String> = strays.iter().take(5).map(|s| format!("`{s}`")).collect();
        warnings.push(format!(
            "table3: {} stand apart from every row, so the blank cells {} may be where they belong; left unread",
            shown.join(", "),
            cells.join(", ")
        ));
    }
}

/// Splits a glued row may have on its own before it is given up unread: real rows have a few.
const MAX_ROW_SPLITS: usize = 64;

/// Solutions of the table-wide search kept at most (each ambiguous row only needs to be seen
/// with two different splits to be known undecided).
const MAX_SOLUTIONS: usize = 256;

/// A glued row of table 3 whose own identity (总计 = the six columns) allows several splits.
#[derive(Debug)]
struct Ambiguous {
    key: &'static str,
    digits: String,
    /// Every split its own identity allows, cells in printed column order.
    splits: Vec<Vec<u64>>,
}

/// The digits of a glued row: the values after a label, when they are one run of digits, or
/// (with `spaced`) a few pieces of digits with single spaces between them (a stray `&nbsp;`
/// inside the run), too few pieces to be the row's cells and digits enough to be them all.
fn glued_run(text: &str, toks: &[Tok<'_>], width: usize, spaced: bool) -> Option<String> {
    let first = toks.iter().position(|t| matches!(t, Tok::Value { .. }))?;
    let pieces: Vec<&str> = toks[first..]
        .iter()
        .map_while(|t| match t {
            Tok::Value { text, .. } => Some(*text),
            _ => None,
        })
        .collect();
    // Values after the run (past a text token) mean the row is not one run.
    let more_values = toks[first + pieces.len()..]
        .iter()
        .any(|t| !matches!(t, Tok::Text { .. }));
    if more_values || pieces.len() >= width || (pieces.len() > 1 && !spaced) {
        return None;
    }
    if !pieces.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    // Consecutive pieces must be one space apart in the text itself.
    let offset = |p: &str| (p.as_ptr() as usize).checked_sub(text.as_ptr() as usize);
    for pair in pieces.windows(2) {
        let end = offset(pair[0])? + pair[0].len();
        let next = offset(pair[1])?;
        if text.get(end..next) != Some(" ") {
            return None;
        }
    }
    let digits: String = pieces.concat();
    (digits.len() >= width).then_some(digits)
}

/// The first few splits of a row, for its warning.
fn some_splits(splits: &[Vec<u64>]) -> String {
    const SHOWN: usize = 4;
    let mut out: Vec<String> = splits
        .iter()
        .take(SHOWN)
        .map(|s| s.iter().map(u64::to_string).collect::<Vec<_>>().join(","))
        .collect();
    if splits.len() > SHOWN {
        out.push("…".to_string());
    }
    out.join(" or ")
}

/// Stores a split glued row (cells in printed column order).
fn insert_glued_row(
    table: &mut Table,
    raw: &mut RawCells,
    columns: &[&'static str],
    key: &str,
    values: &[u64],
) {
    let mut row = BTreeMap::new();
    let mut raw_row = BTreeMap::new();
    for (col, v) in columns.iter().zip(values) {
        row.insert(col.to_string(), i64::try_from(*v).ok());
        raw_row.insert(col.to_string(), v.to_string());
    }
    table.insert(key.to_string(), row);
    raw.insert(key.to_string(), raw_row);
}

/// One column identity of table 3 over the ambiguous rows: the known cells add up to
/// `constant`, and `terms` (ambiguous row, coefficient) must bring the sum to zero.
#[derive(Debug)]
struct Identity {
    column: usize,
    constant: i128,
    terms: Vec<(usize, i128)>,
    /// The last ambiguous row it involves: it is checked once that row is chosen.
    last: usize,
}

/// The column identities of table 3 (SPEC.md §3), each as rows with coefficients that add up to
/// zero: the balance (新收 + 上年结转 = (七)总计 + 结转下年度), the results ((七)总计 = the sum of
/// the result rows, (六) as its rows in either template) and the two together (which still holds
/// where (七)总计 itself is unread). The form prints no group totals for (三)(四)(五).
pub(super) fn t3_identities(template: Template) -> Vec<Vec<(&'static str, i128)>> {
    let results: Vec<&'static str> = model::t3_rows(template)
        .into_iter()
        .filter(|r| {
            !matches!(
                *r,
                "new_received" | "carried_over" | "total_processed" | "carried_forward"
            )
        })
        .collect();
    let balance = vec![
        ("new_received", 1),
        ("carried_over", 1),
        ("total_processed", -1),
        ("carried_forward", -1),
    ];
    let mut processed = vec![("total_processed", 1)];
    processed.extend(results.iter().map(|r| (*r, -1)));
    let mut both = vec![
        ("new_received", 1),
        ("carried_over", 1),
        ("carried_forward", -1),
    ];
    both.extend(results.iter().map(|r| (*r, -1)));
    vec![balance, processed, both]
}

/// Chooses a split for each ambiguous glued row so that table 3's column identities hold, given
/// the rows already read: a search over the rows' candidate splits, with the table's step
/// budget. A row is decided when every assignment that satisfies the identities gives it the
/// same split; otherwise the reason it is left unread.
fn solve_ambiguous(
    table: &Table,
    ambiguous: &[Ambiguous],
    columns: &[&'static str],
    template: Template,
    steps: &mut usize,
) -> Vec<Result<Vec<u64>, String>> {
    let index_of = |row: &str| ambiguous.iter().position(|a| a.key == row);
    let mut identities = Vec::new();
    for sums in t3_identities(template) {
        'column: for (c, col) in columns.iter().enumerate() {
            let mut constant = 0i128;
            let mut terms = Vec::new();
            for (row, coef) in &sums {
                if let Some(i) = index_of(row) {
                    terms.push((i, *coef));
                    continue;
                }
                // A cell not read (blank, `/`, unread) leaves this identity out for the column.
                match table.get(*row).and_then(|r| r.get(*col)).copied().flatten() {
                    Some(v) => constant += coef * i128::from(v),
                    None => continue 'column,
                }
            }
            if let Some(last) = terms.iter().map(|(i, _)| *i).max() {
                identities.push(Identity {
                    column: c,
                    constant,
                    terms,
                    last,
                });
            }
        }
    }
    let mut search = Assign::new(ambiguous, &identities, steps);
    search.run();
    let (gave_up, solutions, seen) = (search.gave_up, search.solutions, search.seen);
    tracing::debug!(
        rows = ambiguous.len(),
        identities = identities.len(),
        solutions,
        gave_up,
        "table3: glued rows solved with the column identities"
    );
    ambiguous
        .iter()
        .zip(seen)
        .map(|(amb, seen)| {
            if gave_up {
                Err("too many combinations with the other ambiguous rows to try".to_string())
            } else if solutions == 0 {
                Err("no choice of splits makes table 3's column identities hold".to_string())
            } else if let [only] = seen.as_slice() {
                Ok(amb.splits[*only].clone())
            } else {
                Err(format!(
                    "table 3's column identities hold with {} of them",
                    seen.len()
                ))
            }
        })
        .collect()
}

/// The state of the search over the ambiguous rows' splits.
struct Assign<'a> {
    ambiguous: &'a [Ambiguous],
    steps: &'a mut usize,
    gave_up: bool,
    /// For each row, the identities it takes part in: (identity, column, coefficient).
    terms: Vec<Vec<(usize, usize, i128)>>,
    /// For each row, the identities whose last row it is: checked once it is chosen.
    checks: Vec<Vec<usize>>,
    /// Each identity's sum so far (zero when it holds).
    sums: Vec<i128>,
    /// The split chosen for each row so far.
    choice: Vec<usize>,
    /// For each row, the splits it has in the solutions found.
    seen: Vec<Vec<usize>>,
    solutions: usize,
    /// Every row has been seen with two splits: nothing more to learn.
    all_open: bool,
}

impl<'a> Assign<'a> {
    fn new(ambiguous: &'a [Ambiguous], identities: &[Identity], steps: &'a mut usize) -> Self {
        let mut terms = vec![Vec::new(); ambiguous.len()];
        let mut checks = vec![Vec::new(); ambiguous.len()];
        for (k, id) in identities.iter().enumerate() {
            for &(row, coef) in &id.terms {
                terms[row].push((k, id.column, coef));
            }
            checks[id.last].push(k);
        }
        Assign {
            ambiguous,
            steps,
            gave_up: false,
            terms,
            checks,
            sums: identities.iter().map(|id| id.constant).collect(),
            choice: Vec::with_capacity(ambiguous.len()),
            seen: vec![Vec::new(); ambiguous.len()],
            solutions: 0,
            all_open: false,
        }
    }

    fn run(&mut self) {
        self.descend();
        if self.solutions > MAX_SOLUTIONS && !self.all_open {
            // Stopped early: the rows seen with one split so far may have others.
            self.gave_up = true;
        }
    }

    /// The search is over: out of steps, too many solutions, or nothing more to learn.
    fn stopped(&self) -> bool {
        self.gave_up || self.solutions > MAX_SOLUTIONS || self.all_open
    }

    /// Adds (`sign` 1) or takes back (-1) row `row`'s split `split` in the identities' sums.
    fn apply(&mut self, row: usize, split: usize, sign: i128) {
        let cells = &self.ambiguous[row].splits[split];
        for &(k, column, coef) in &self.terms[row] {
            let v = cells.get(column).map_or(0, |v| i128::from(*v));
            self.sums[k] += sign * coef * v;
        }
    }

    fn descend(&mut self) {
        let depth = self.choice.len();
        if depth == self.ambiguous.len() {
            self.solutions += 1;
            for (seen, &c) in self.seen.iter_mut().zip(&self.choice) {
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            self.all_open = self.seen.iter().all(|s| s.len() > 1);
            return;
        }
        for split in 0..self.ambiguous[depth].splits.len() {
            if *self.steps == 0 {
                self.gave_up = true;
                return;
            }
            *self.steps -= 1;
            self.apply(depth, split, 1);
            if self.checks[depth].iter().all(|&k| self.sums[k] == 0) {
                self.choice.push(split);
                self.descend();
                self.choice.pop();
            }
            self.apply(depth, split, -1);
            if self.stopped() {
                return;
            }
        }
    }
}

/// In the 2021 template, `other` is the sum of the three (六) rows (None where any is unknown).
fn add_other_sum(table: &mut Table) {
    let mut other = BTreeMap::new();
    for col in T3_COLUMNS {
        let mut sum = Some(0i64);
        for row in model::T3_OTHER_2021 {
            let v = table.get(row).and_then(|r| r.get(col)).copied().flatten();
            sum = match (sum, v) {
                (Some(s), Some(v)) => Some(s + v),
                _ => None,
            };
        }
        other.insert(col.to_string(), sum);
    }
    table.insert("other".to_string(), other);
}

fn span_of(anchors: &[Anchor], end: usize) -> Option<Span> {
    anchors.first().map(|a| (a.start, end))
}

/// A table-3/4 cell: its count (None for blank, `/`, or anything that is not a whole number) and
/// its text as printed (empty for a blank).
fn count_cell(cell: Option<&str>) -> (Option<i64>, String) {
    match cell {
        None => (None, String::new()),
        Some(t) => (cells::as_count(t), t.to_string()),
    }
}

/// The order of table 3's columns, read from its header where the five organisation columns are
/// all named; the template's order otherwise.
fn column_order(text: &str, start: usize, end: usize) -> Vec<&'static str> {
    let header: String = text[start..end.max(start)]
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect();
    let names = [
        ("commercial", "商业企业"),
        ("research", "科研机构"),
        ("social_welfare", "社会公益"),
        ("legal_service", "法律服务"),
    ];
    let mut found: Vec<(usize, &'static str)> = Vec::new();
    for (key, word) in names {
        match header.find(word) {
            Some(p) => found.push((p, key)),
            None => return T3_COLUMNS.to_vec(),
        }
    }
    found.sort();
    let mut order = vec!["natural_person"];
    order.extend(found.into_iter().map(|(_, k)| k));
    order.push("other_org");
    order.push("total");
    order
}

/// Reads table 4 (15 cells) from `text[start..end]`.
pub fn read_table4(
    text: &str,
    start: usize,
    end: usize,
    li: &LineIndex,
    warnings: &mut Vec<String>,
) -> Read<Table> {
    let toks = cells::tokenize(text, start, end, li.line_of(start));
    let mut runs: Vec<Vec<Option<&str>>> = Vec::new();
    let mut current: Vec<Option<&str>> = Vec::new();
    for t in &toks {
        match t {
            Tok::Value { text, .. } => current.push(Some(text)),
            Tok::Blank { .. } => current.push(None),
            Tok::Text { .. } => {
                if !current.is_empty() {
                    runs.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    let total: usize = runs.iter().map(Vec::len).sum();
    let owned = |run: &[Option<&str>]| -> Vec<Option<String>> {
        run.iter().map(|c| c.map(str::to_string)).collect()
    };
    let cells: Option<Vec<Option<String>>> = if let Some(run) = runs.iter().find(|r| r.len() == 15)
    {
        Some(owned(run))
    } else if total == 15 {
        Some(owned(&runs.concat()))
    } else {
        match runs.as_slice() {
            // Glued: one run of digits for all 15 cells, each group's total the sum of its four.
            [single] => match single.as_slice() {
                [Some(d)] if d.bytes().all(|b| b.is_ascii_digit()) => {
                    let mut steps = cells::SPLIT_STEPS;
                    let splits = cells::split_glued(d, 3, 5, 3, &mut steps).unwrap_or_default();
                    (splits.len() == 1)
                        .then(|| splits[0].iter().map(|v| Some(v.to_string())).collect())
                }
                _ => None,
            },
            _ => None,
        }
    };
    let mut table: Table = BTreeMap::new();
    let mut raw: RawCells = BTreeMap::new();
    match &cells {
        Some(cells) => {
            for (g, group) in T4_GROUPS.iter().enumerate() {
                let mut row = BTreeMap::new();
                let mut raw_row = BTreeMap::new();
                for (c, col) in T4_COLUMNS.iter().enumerate() {
                    let (value, text) = count_cell(cells[g * 5 + c].as_deref());
                    row.insert(col.to_string(), value);
                    raw_row.insert(col.to_string(), text);
                }
                table.insert(group.to_string(), row);
                raw.insert(group.to_string(), raw_row);
            }
        }
        None => {
            warnings.push(format!(
                "table4: expected 15 cells, found {total}; table left unread"
            ));
            for group in T4_GROUPS {
                table.insert(
                    group.to_string(),
                    T4_COLUMNS.iter().map(|c| (c.to_string(), None)).collect(),
                );
            }
        }
    }
    Read {
        table,
        raw,
        span: cells.is_some().then_some((start, end)),
    }
}

/// Reads table 2 from `text[start..end]` with the template's rows and columns.
pub fn read_table2(
    text: &str,
    start: usize,
    end: usize,
    template: Template,
    li: &LineIndex,
    warnings: &mut Vec<String>,
) -> Read<Table2> {
    let layout = model::t2_layout(template);
    let anchors = find_anchors(text, start, end, &T2_LABELS, li);
    let mut table: Table2 = BTreeMap::new();
    let mut raw: RawCells = BTreeMap::new();
    for (i, a) in anchors.iter().enumerate() {
        let Some((_, cols)) = layout.iter().find(|(k, _)| *k == a.key) else {
            continue;
        };
        if table.contains_key(a.key) {
            continue;
        }
        let stop = anchors.get(i + 1).map_or(end, |n| n.start);
        let toks = cells::tokenize(text, a.end, stop, li.line_of(a.end));
        // The row's cells are the first run of cells after the label.
        let mut run: Vec<Option<&str>> = Vec::new();
        for t in &toks {
            match t {
                Tok::Value { text, .. } => run.push(Some(text)),
                Tok::Blank { .. } => run.push(None),
                Tok::Text { .. } if !run.is_empty() => break,
                Tok::Text { .. } => {}
            }
        }
        let owned: Vec<Option<String>>;
        let cells_text: Vec<Option<&str>> = if run.len() == 1 && cols.len() > 1 {
            match run[0] {
                Some(d) if d.bytes().all(|b| b.is_ascii_digit()) => {
                    let splits = cells::split_plain(d, cols.len(), 2);
                    if splits.len() == 1 {
                        owned = splits[0].iter().map(|v| Some(v.to_string())).collect();
                        owned.iter().map(Option::as_deref).collect()
                    } else {
                        warnings.push(format!(
                            "table2 row {}: glued cells `{d}` can be split in more than one way; left unread",
                            a.key
                        ));
                        continue;
                    }
                }
                _ => run.clone(),
            }
        } else {
            run.clone()
        };
        if cells_text.len() < cols.len() {
            warnings.push(format!(
                "table2 row {}: {} of {} cells found",
                a.key,
                cells_text.len(),
                cols.len()
            ));
        }
        let mut row = BTreeMap::new();
        let mut raw_row = BTreeMap::new();
        for (col, cell) in cols
            .iter()
            .zip(cells_text.iter().chain(std::iter::repeat(&None)))
        {
            let value = match cell {
                Some(t) => match cells::parse_value(t) {
                    CellValue::Number(v) => Some(v),
                    CellValue::Null => None,
                },
                None => None,
            };
            raw_row.insert(col.to_string(), cell.unwrap_or("").to_string());
            if *col == "amount_wan" {
                // 2021 fees are printed in 万元; a cell that names its unit is read in it.
                let yuan_unit = cell.is_some_and(|t| t.ends_with('元') && !t.ends_with("万元"));
                let explicit = cell.is_some_and(|t| t.ends_with("万元") || t.ends_with("亿元"));
                let (wan, yuan) = match value {
                    Some(v) if yuan_unit || explicit => (Some(v / 1e4), Some(v)),
                    Some(v) => (Some(v), Some(cells::round_cents(v * 1e4))),
                    None => (None, None),
                };
                row.insert("amount_wan".to_string(), wan);
                row.insert("amount_yuan".to_string(), yuan);
            } else {
                row.insert(col.to_string(), value);
            }
        }
        table.insert(a.key.to_string(), row);
        raw.insert(a.key.to_string(), raw_row);
    }
    let mut missing = Vec::new();
    for (key, cols) in &layout {
        if !table.contains_key(*key) {
            missing.push(*key);
            let mut row: BTreeMap<String, Option<f64>> =
                cols.iter().map(|c| (c.to_string(), None)).collect();
            if cols.contains(&"amount_wan") {
                row.insert("amount_yuan".to_string(), None);
            }
            table.insert(key.to_string(), row);
        }
    }
    if !missing.is_empty() {
        warnings.push(format!("table2 rows not found: {}", missing.join(", ")));
    }
    let span = anchors.first().map(|a| (a.start, end));
    Read { table, raw, span }
}

/// Table 2's column words in the 2021 form (SPEC.md §2).
static T2_2021: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"本\s*年\s*制\s*发\s*件\s*数|现\s*行\s*有\s*效\s*件\s*数|本\s*年\s*废\s*止|本年处理决定数量|本\s*年\s*收\s*费\s*金\s*额")
        .expect("2021 table 2 markers")
});
/// Table 2's column and row words in the 2019 form.
static T2_2019: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"本\s*年\s*新\s*制\s*作|对\s*外\s*公\s*开\s*总\s*数\s*量|上\s*一\s*年\s*项\s*目\s*数\s*量|本\s*年\s*增\s*/\s*减|政\s*府\s*集\s*中\s*采\s*购|采\s*购\s*总\s*金\s*额")
        .expect("2019 table 2 markers")
});
/// The (六) sub-rows only the 2021 table 3 prints.
static T3_2021: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"逾\s*期\s*不\s*补\s*正|逾期未按收费通知|逾\s*期\s*未\s*按\s*收\s*费")
        .expect("2021 table 3 markers")
});
/// The (六) row both forms print; alone (without the 2021 sub-rows) it is the 2019 form.
static T3_OTHER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"其\s*他\s*处\s*理").expect("(六) row"));

/// The form with more markers found (`a` of 2021, `b` of 2019); neither on a tie.
fn more_markers(a: usize, b: usize) -> Option<Template> {
    match a.cmp(&b) {
        std::cmp::Ordering::Greater => Some(Template::Y2021),
        std::cmp::Ordering::Less => Some(Template::Y2019),
        std::cmp::Ordering::Equal => None,
    }
}

/// Markers of the two templates over the whole text (SPEC.md §2): words only one of them
/// prints. The fallback where a table's own region does not tell.
pub fn detect_template(text: &str) -> Option<Template> {
    more_markers(
        T2_2021.find_iter(text).count() + T3_2021.find_iter(text).count(),
        T2_2019.find_iter(text).count(),
    )
}

/// The form table 2 follows, from its own column words in `region`.
pub fn detect_table2_template(region: &str) -> Option<Template> {
    more_markers(
        T2_2021.find_iter(region).count(),
        T2_2019.find_iter(region).count(),
    )
}

/// The form table 3 follows, from the rows it prints in `region`: the 2021 (六) sub-rows (逾期
/// 不补正, 逾期未按收费通知) make it the 2021 form; a (六)其他处理 row without them the 2019 form.
pub fn detect_table3_template(region: &str) -> Option<Template> {
    if T3_2021.is_match(region) {
        Some(Template::Y2021)
    } else if T3_OTHER.is_match(region) {
        Some(Template::Y2019)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_tells_its_own_form() {
        let t3_2019 = "（六）其他处理 | 8 | 0 | 0 | 0 | 0 | 0 | 8\n（七）总计 | 53 |";
        let t3_2021 = "（六）其他处理\n1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请 | 0 |\n\
                       2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请 | 0 |\n3.其他 | 1 |";
        assert_eq!(detect_table3_template(t3_2019), Some(Template::Y2019));
        assert_eq!(detect_table3_template(t3_2021), Some(Template::Y2021));
        assert_eq!(
            detect_table3_template("一、本年新收政府信息公开申请数量 | 3"),
            None
        );
        assert_eq!(
            detect_table2_template("信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数"),
            Some(Template::Y2021)
        );
        assert_eq!(
            detect_table2_template("信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量"),
            Some(Template::Y2019)
        );
        assert_eq!(detect_table2_template("规章 | 0 | 0 | 0"), None);
    }

    /// Table 3 of the 2021 form in the glued crawler form: each label, then its cells run
    /// together (`glue` gives the text of a row's cells).
    fn glued_text(rows: &[[u64; 6]; 25], glue: impl Fn(usize, &str) -> String) -> String {
        let labels = [
            "一、本年新收政府信息公开申请数量 ",
            "二、上年结转政府信息公开申请数量 ",
            "三、本年度办理结果 (一)予以公开 ",
            "(二)部分公开(区分处理的,只计这一情形,不计其他情形) ",
            "(三)不予公开 1.属于国家秘密",
            "2.其他法律行政法规禁止公开 ",
            "3.危及\"三安全一稳定\" ",
            "4.保护第三方合法权益 ",
            "5.属于三类内部事务信息 ",
            "6.属于四类过程性信息 ",
            "7.属于行政执法案卷 ",
            "8.属于行政查询事项 ",
            "(四)无法提供 1.本机关不掌握相关政府信息 ",
            "2.没有现成信息需要另行制作 ",
            "3.补正后申请内容仍不明确 ",
            "(五)不予处理 1.信访举报投诉类申请 ",
            "2.重复申请 ",
            "3.要求提供公开出版物 ",
            "4.无正当理由大量反复申请 ",
            "5.要求行政机关确认或重新出具已获取信息 ",
            "(六)其他处理 1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请 ",
            "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请 ",
            "3.其他 ",
            "(七)总计 ",
            "四、结转下年度继续办理 ",
        ];
        let mut out = String::from("申请人情况 自然人 法人或其他组织 总计 ");
        for (i, label) in labels.iter().enumerate() {
            let cells = rows[i];
            let total: u64 = cells.iter().sum();
            let run: String = cells.iter().chain([&total]).map(u64::to_string).collect();
            out.push_str(label);
            out.push_str(&glue(i, &run));
        }
        out
    }

    /// A consistent table: rows in the order of `model::t3_rows(Y2021)`.
    fn consistent(
        leaves: &[(usize, [u64; 6])],
        carried: [u64; 6],
        forward: [u64; 6],
    ) -> [[u64; 6]; 25] {
        let mut rows = [[0u64; 6]; 25];
        for (i, v) in leaves {
            rows[*i] = *v;
        }
        rows[1] = carried;
        rows[24] = forward;
        for c in 0..6 {
            let processed: u64 = (2..23).map(|r| rows[r][c]).sum();
            rows[23][c] = processed;
            rows[0][c] = processed + forward[c] - carried[c];
        }
        rows
    }

    fn read(text: &str) -> (Table, Vec<String>) {
        let li = LineIndex::new(text);
        let mut warnings = Vec::new();
        let read = read_table3(text, 0, text.len(), Template::Y2021, &li, &mut warnings);
        (read.table, warnings)
    }

    fn row_of(table: &Table, key: &str) -> Vec<Option<i64>> {
        T3_COLUMNS.iter().map(|c| table[key][*c]).collect()
    }

    /// Whether a row's own identity allows more than one split of its glued cells.
    fn ambiguous_alone(cells: [u64; 6]) -> bool {
        let total: u64 = cells.iter().sum();
        let run: String = cells.iter().chain([&total]).map(u64::to_string).collect();
        let splits = cells::split_glued(&run, 1, 7, 10, &mut cells::SPLIT_STEPS.clone());
        splits.is_some_and(|s| s.len() > 1)
    }

    fn want(cells: [u64; 6]) -> Vec<Option<i64>> {
        let total: u64 = cells.iter().sum();
        cells
            .iter()
            .chain([&total])
            .map(|v| i64::try_from(*v).ok())
            .collect()
    }

    #[test]
    fn a_row_ambiguous_alone_is_decided_by_the_column_identities() {
        // 予以公开 `330000033` is 33,0,0,0,0,0,33 or 3,30,0,0,0,0,33.
        let rows = consistent(
            &[(2, [33, 0, 0, 0, 0, 0]), (12, [5, 1, 0, 0, 0, 0])],
            [1, 0, 0, 0, 0, 0],
            [2, 0, 0, 0, 0, 0],
        );
        assert!(ambiguous_alone(rows[2]));
        let text = glued_text(&rows, |_, run| run.to_string());
        let (table, warnings) = read(&text);
        for (i, key) in model::t3_rows(Template::Y2021).iter().enumerate() {
            assert_eq!(row_of(&table, key), want(rows[i]), "{key}: {warnings:#?}");
        }
        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    #[test]
    fn several_ambiguous_rows_are_solved_together_across_a_stray_space() {
        // 予以公开, 部分公开 and (七)总计 are all ambiguous alone; stray spaces sit inside two
        // runs; only one choice of the three splits keeps the columns in balance.
        let rows = consistent(
            &[(2, [33, 11, 0, 0, 0, 0]), (3, [3, 11, 0, 0, 0, 0])],
            [0; 6],
            [3, 1, 0, 0, 0, 0],
        );
        for i in [2, 3, 23] {
            assert!(ambiguous_alone(rows[i]), "row {i}");
        }
        let text = glued_text(&rows, |i, run| match i {
            2 => format!("{} {}", &run[..3], &run[3..]),
            23 => format!("{} {}", &run[..1], &run[1..]),
            _ => run.to_string(),
        });
        assert!(
            text.contains("331 1000044") && text.contains("(七)总计 3 622000058"),
            "{text}"
        );
        let (table, warnings) = read(&text);
        for (i, key) in model::t3_rows(Template::Y2021).iter().enumerate() {
            assert_eq!(row_of(&table, key), want(rows[i]), "{key}: {warnings:#?}");
        }
        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    #[test]
    fn rows_the_identities_cannot_tell_apart_stay_unread_and_are_named() {
        // 予以公开 and 部分公开 both `330000033`: swapping 33,0 and 3,30 between them keeps
        // every column identity, so neither can be read; the rest of the table is.
        let rows = consistent(
            &[
                (2, [33, 0, 0, 0, 0, 0]),
                (3, [3, 30, 0, 0, 0, 0]),
                (13, [1, 0, 0, 0, 0, 0]),
            ],
            [0; 6],
            [0; 6],
        );
        assert!(ambiguous_alone(rows[2]) && ambiguous_alone(rows[3]));
        let text = glued_text(&rows, |_, run| run.to_string());
        let (table, warnings) = read(&text);
        for (i, key) in model::t3_rows(Template::Y2021).iter().enumerate() {
            if matches!(*key, "granted" | "partial") {
                assert_eq!(row_of(&table, key), vec![None; 7], "{key}");
                assert!(
                    warnings
                        .iter()
                        .any(|w| w.starts_with(&format!("table3 row {key}: "))
                            && w.contains("left unread")),
                    "{key}: {warnings:#?}"
                );
            } else {
                assert_eq!(row_of(&table, key), want(rows[i]), "{key}: {warnings:#?}");
            }
        }
        assert_eq!(warnings.len(), 2, "{warnings:#?}");
    }

    #[test]
    fn the_search_over_rows_keeps_to_the_budget() {
        // Many ambiguous rows and no way to settle them: the search ends when its steps do.
        let ambiguous: Vec<Ambiguous> = ["granted", "partial", "denied_internal", "denied_process"]
            .iter()
            .map(|key| Ambiguous {
                key,
                digits: "330000033".into(),
                splits: vec![vec![33, 0, 0, 0, 0, 0, 33], vec![3, 30, 0, 0, 0, 0, 33]],
            })
            .collect();
        let table = Table::new();
        let mut steps = 3;
        let out = solve_ambiguous(&table, &ambiguous, &T3_COLUMNS, Template::Y2021, &mut steps);
        assert_eq!(steps, 0);
        assert!(
            out.iter()
                .all(|r| r.as_ref().is_err_and(|e| e.contains("too many"))),
            "{out:?}"
        );
        // With no identity usable (nothing else read), every row stays open.
        let mut steps = cells::SPLIT_STEPS;
        let out = solve_ambiguous(&table, &ambiguous, &T3_COLUMNS, Template::Y2021, &mut steps);
        assert!(out.iter().all(Result::is_err), "{out:?}");
    }

    #[test]
    fn glued_runs_join_across_single_spaces_only() {
        let toks = |s: &'static str| cells::tokenize(s, 0, s.len(), 0);
        let run = |s: &'static str| glued_run(s, &toks(s), 7, true);
        assert_eq!(run("713000074").as_deref(), Some("713000074"));
        // Outside a glued table, numbers a space apart are cells.
        let s = "数量 150 000015";
        assert_eq!(glued_run(s, &toks(s), 7, false), None);
        assert_eq!(
            glued_run("713000074", &toks("713000074"), 7, false).as_deref(),
            Some("713000074")
        );
        assert_eq!(run("数量 150 000015").as_deref(), Some("150000015"));
        assert_eq!(run("1 0 0 0 0 0 1"), None);
        assert_eq!(run("150  000015"), None);
        assert_eq!(run("150\n000015"), None);
        assert_eq!(run("15 0"), None);
        assert_eq!(run("150 甲 000015"), None);
    }

    #[test]
    fn a_table_of_runs_with_many_splits_ends_within_the_budget() {
        // Every row `11111111110145` (60 splits each) and no choice that balances: the search
        // stops when the table's steps run out and every row is reported, none guessed.
        let rows = [[1, 11, 11, 11, 1, 110]; 25];
        assert_eq!(
            cells::split_glued("11111111110145", 1, 7, 100, &mut cells::SPLIT_STEPS.clone())
                .map(|s| s.len()),
            Some(60)
        );
        let text = glued_text(&rows, |_, run| run.to_string());
        let (table, warnings) = read(&text);
        for key in model::t3_rows(Template::Y2021) {
            assert_eq!(row_of(&table, key), vec![None; 7], "{key}");
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with(&format!("table3 row {key}: "))
                        && w.contains("too many combinations")),
                "{key}: {warnings:#?}"
            );
        }
        assert!(warnings.iter().all(|w| w.len() < 400), "{warnings:#?}");
    }

    #[test]
    fn a_short_row_of_a_spaced_table_is_not_taken_for_a_glued_run() {
        // Cells a space apart everywhere; 予以公开 lost a cell. Its six numbers joined would
        // split as 1,0,2,0,0,0,3 — a row the table never printed.
        let rows = consistent(&[(2, [10, 2, 0, 0, 0, 0])], [0; 6], [0; 6]);
        let text = glued_text(&rows, |i, _| {
            let cells = rows[i];
            let total: u64 = cells.iter().sum();
            let mut printed: Vec<String> =
                cells.iter().chain([&total]).map(u64::to_string).collect();
            if i == 2 {
                printed = ["10", "2", "0", "0", "0", "3"].map(String::from).to_vec();
            }
            format!("{} ", printed.join(" "))
        });
        let (table, warnings) = read(&text);
        assert_eq!(row_of(&table, "granted"), vec![None; 7], "{warnings:#?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("table3 row granted: 6 of 7 cells")),
            "{warnings:#?}"
        );
        assert_eq!(row_of(&table, "total_processed"), want(rows[23]));
    }
}
