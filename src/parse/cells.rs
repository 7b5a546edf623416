//! Cells of a flattened table: the tokens a table turns into when a web page or PDF becomes text.
//!
//! Real copies flatten tables in many ways (a row per line with `|`, a cell per line, cells ending
//! in ` |`, TABs, blank-line-separated cells, cells glued together with no separator at all). This
//! module knows none of the tables; it only turns a stretch of text into a sequence of value,
//! blank and text tokens with their line numbers, so that the table readers can find rows by
//! their labels whatever the flattening.

/// One token of flattened table text.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'a> {
    /// A cell that holds a number (with optional unit or 增加/减少 prefix) or a null marker.
    Value { text: &'a str, line: usize },
    /// An empty cell between two `|` in a row that has other cells.
    Blank { line: usize },
    /// Anything else: a label, a header, a fragment of wrapped text.
    Text { line: usize },
}

impl Tok<'_> {
    pub fn line(&self) -> usize {
        match self {
            Tok::Value { line, .. } | Tok::Blank { line } | Tok::Text { line } => *line,
        }
    }

    pub fn is_cell(&self) -> bool {
        !matches!(self, Tok::Text { .. })
    }
}

/// A cell's text that stands for "no value": `/`, `-`, `—`, `无` and the like.
pub fn is_null_marker(s: &str) -> bool {
    matches!(
        s,
        "/" | "-" | "—" | "–" | "－" | "——" | "--" | "无" | "／" | "\\" | "×" | "空"
    )
}

/// A markdown separator row (`|---|:---:|`): ASCII dashes only, so that a `—` cell (a null
/// marker) is never taken for one.
fn is_separator_row(cells: &[&str]) -> bool {
    cells.iter().all(|c| {
        let c = c.trim();
        !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':'))
    }) && cells
        .iter()
        .any(|c| c.trim().chars().filter(|&ch| ch == '-').count() >= 3)
}

/// Tokenises `text[start..end]`; `first_line` is the line number of `start`.
pub fn tokenize(text: &str, start: usize, end: usize, first_line: usize) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let slice = &text[start..end];
    for (i, line) in slice.split('\n').enumerate() {
        let line_no = first_line + i;
        if line.contains('|') {
            // On the slice's first line, the text before the first pipe is the rest of the
            // label's own cell, not a cell of the row.
            tokenize_pipe_line(line, i == 0, line_no, &mut out);
        } else if is_garbled_cell(line.trim()) {
            // A line of its own holding a garbled cell (one cell per line).
            out.push(Tok::Value {
                text: line.trim(),
                line: line_no,
            });
        } else {
            for piece in line.split(['\t', ' ']) {
                tokenize_piece(piece, line_no, &mut out);
            }
        }
    }
    out
}

fn tokenize_pipe_line<'a>(
    line: &'a str,
    after_label: bool,
    line_no: usize,
    out: &mut Vec<Tok<'a>>,
) {
    let mut cells: Vec<&str> = line.split('|').collect();
    // The piece after the last pipe is never a cell; nor is the piece before a leading pipe,
    // nor the end of a label's cell.
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    let leading = line.trim_start().starts_with('|') || after_label;
    if leading && cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
    }
    if cells.is_empty() || is_separator_row(&cells) {
        return;
    }
    let filled = cells.iter().filter(|c| !c.trim().is_empty()).count();
    let has_value = cells.iter().any(|c| {
        let c = c.trim();
        is_null_marker(c) || full_value(c)
    });
    // Blanks only mean something in a row that has several cells and some values; in a layout of
    // one cell per line (`0 |`) or in spanned header rows (`| |||`) they are layout noise. Right
    // after a row label, on the label's own line, every cell is a data cell (the label counts as
    // the row's first filled cell), so blanks there are kept even when the whole row is blank.
    let keep_blanks = if after_label {
        cells.len() >= 2
    } else {
        filled >= 2 && has_value
    };
    let single = filled == 1;
    for cell in cells {
        let c = cell.trim();
        if c.is_empty() {
            if keep_blanks {
                out.push(Tok::Blank { line: line_no });
            }
            continue;
        }
        // A cell between pipes that is neither a number nor a label's words (`1l`, `？`, `O`):
        // a cell the copy garbled. It stays one cell with its text, so the row's other cells
        // keep their columns and this one reads as unreadable text, not as a number.
        if (keep_blanks || single) && is_garbled_cell(c) {
            out.push(Tok::Value {
                text: c,
                line: line_no,
            });
            continue;
        }
        for piece in c.split(['\t', ' ']) {
            tokenize_piece(piece, line_no, out);
        }
    }
}

/// A short cell text that is no number and no words: one piece of at most three characters,
/// none of them Han or space, and not a full value (`1l`, `O`, `？`, `#`). Labels and header
/// words always hold Han; `0 0` is two cells.
fn is_garbled_cell(s: &str) -> bool {
    let n = s.chars().count();
    (1..=3).contains(&n)
        && !s.chars().any(char::is_whitespace)
        && !full_value(s)
        && !is_null_marker(s)
        && !is_noise(s)
        && !s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A short piece that mixes ASCII digits and Latin letters (`1l`, `O0`, `5S`): a number the
/// copy garbled (letters for digits), never a label's numbering or a word. Read as one cell of
/// unreadable text, so that its digits are not taken for the number.
pub fn is_garbled_number(s: &str) -> bool {
    is_garbled_cell(s)
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().any(|c| c.is_ascii_alphabetic())
}

fn full_value(s: &str) -> bool {
    !s.is_empty() && value_at(s, 0) == Some(s.len())
}

/// Splits a piece of text with no separators into text and value runs (`规章000行政规范性文件`).
fn tokenize_piece<'a>(piece: &'a str, line_no: usize, out: &mut Vec<Tok<'a>>) {
    let piece = piece.trim();
    if piece.is_empty() {
        return;
    }
    if is_null_marker(piece) || is_garbled_number(piece) {
        out.push(Tok::Value {
            text: piece,
            line: line_no,
        });
        return;
    }
    let mut last = 0;
    let mut i = 0;
    while i < piece.len() {
        match value_at(piece, i) {
            Some(end) => {
                if !is_noise(&piece[last..i]) {
                    out.push(Tok::Text { line: line_no });
                }
                out.push(Tok::Value {
                    text: &piece[i..end],
                    line: line_no,
                });
                last = end;
                i = end;
            }
            None => i += piece[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    if !is_noise(&piece[last..]) {
        out.push(Tok::Text { line: line_no });
    }
}

/// The end of a value starting at byte `i` of `s`, if one starts there: an optional 增加/减少
/// prefix, an optional sign, digits with an optional decimal part, an optional unit.
fn value_at(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = i;
    for prefix in ["增加", "减少", "新增", "增", "减"] {
        if s[j..].starts_with(prefix) {
            j += prefix.len();
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            break;
        }
    }
    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
        j += 1;
    }
    let digits = j;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if j == digits {
        return None;
    }
    if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
        j += 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
    }
    let mut k = j;
    while k < b.len() && b[k] == b' ' {
        k += 1;
    }
    for unit in ["万元", "亿元", "元", "项", "个", "件", "条"] {
        if s[k..].starts_with(unit) {
            return Some(k + unit.len());
        }
    }
    Some(j)
}

/// Punctuation between cells that carries no meaning.
fn is_noise(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_whitespace() || matches!(c, ',' | ';' | '、' | '。' | ':' | '*'))
}

/// A cell value: an integer count, a signed delta, or an amount of money.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellValue {
    /// Blank, `/`, `-`, `无`: no value (not zero).
    Null,
    Number(f64),
}

/// Reads a value token: `58`, `-155`, `+57`, `增加21项`, `28289.2178万元` (→ yuan), `/` (null).
pub fn parse_value(text: &str) -> CellValue {
    let t = crate::extract::compact(text);
    if is_null_marker(&t) {
        return CellValue::Null;
    }
    let (sign, rest) = if let Some(r) = t
        .strip_prefix("增加")
        .or_else(|| t.strip_prefix("新增"))
        .or_else(|| t.strip_prefix("增"))
    {
        (1.0, r)
    } else if let Some(r) = t.strip_prefix("减少").or_else(|| t.strip_prefix("减")) {
        (-1.0, r)
    } else {
        (1.0, t.as_str())
    };
    let (scale, rest) = if let Some(r) = rest.strip_suffix("亿元") {
        (1e8, r)
    } else if let Some(r) = rest.strip_suffix("万元") {
        (1e4, r)
    } else if let Some(r) = rest
        .strip_suffix('元')
        .or_else(|| rest.strip_suffix('项'))
        .or_else(|| rest.strip_suffix('个'))
        .or_else(|| rest.strip_suffix('件'))
        .or_else(|| rest.strip_suffix('条'))
    {
        (1.0, r)
    } else {
        (1.0, rest)
    };
    let rest = rest.strip_prefix('+').unwrap_or(rest);
    match rest.parse::<f64>() {
        // Amounts converted to yuan are kept to the fen; other numbers as printed.
        Ok(v) if scale > 1.0 => CellValue::Number(round_cents(sign * v * scale)),
        Ok(v) => CellValue::Number(sign * v),
        Err(_) => CellValue::Null,
    }
}

/// Money is kept to the fen; this also removes binary noise such as `7226100.000000001`.
pub fn round_cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Whether a value token is written as a whole number (no decimals, no unit).
pub fn as_count(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse::<i64>().ok()
}

/// Steps the glued-cell search may take for one table, all its rows together. A real glued row
/// needs a few thousand at most; a hostile copy (hundreds of rows of long digit runs) would
/// otherwise keep the parser busy for minutes.
pub const SPLIT_STEPS: usize = 2_000_000;

/// Digits a cell may have.
const CELL_DIGITS: usize = 9;

const POW10: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

fn digits_value(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
}

/// All ways to split a run of glued digits into `groups` groups of `width` numbers each, where
/// in every group the last number is the sum of the others (the tables' own identity), and no
/// number has a leading zero. Stops after `limit` solutions. `None` when the search needed more
/// than the `steps` left (which it uses up): such a run is left unread, not guessed.
pub fn split_glued(
    digits: &str,
    groups: usize,
    width: usize,
    limit: usize,
    steps: &mut usize,
) -> Option<Vec<Vec<u64>>> {
    let bytes = digits.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) || width < 2 {
        return Some(Vec::new());
    }
    // Cells have at most nine digits, so a group's total has at most as many as the sum of
    // `width - 1` nine-digit numbers: a longer run has no split.
    let total_digits = ((width as u64 - 1) * (POW10[CELL_DIGITS] - 1))
        .to_string()
        .len();
    if bytes.len() > groups.saturating_mul((width - 1) * CELL_DIGITS + total_digits) {
        return Some(Vec::new());
    }
    let mut search = Split {
        bytes,
        width,
        limit,
        steps,
        gave_up: false,
        current: Vec::with_capacity(groups * width),
        out: Vec::new(),
    };
    if groups == 1 {
        // One group: its total is the run's tail, so each length of the tail gives the sum the
        // cells before it must reach, which bounds the cells from both sides.
        let n = bytes.len();
        for total_len in 1..=total_digits.min(n.saturating_sub(width - 1)) {
            let tail = &bytes[n - total_len..];
            if total_len > 1 && tail[0] == b'0' {
                continue;
            }
            search.cells_to(0, n - total_len, width - 1, 0, digits_value(tail));
            if search.gave_up || search.out.len() >= limit {
                break;
            }
        }
    } else {
        search.groups(0, groups * width);
    }
    (!search.gave_up).then_some(search.out)
}

/// The state of one glued-cell search.
struct Split<'a> {
    bytes: &'a [u8],
    width: usize,
    limit: usize,
    steps: &'a mut usize,
    gave_up: bool,
    current: Vec<u64>,
    out: Vec<Vec<u64>>,
}

impl Split<'_> {
    /// Takes one step of the budget; false (and the search is over) when none is left.
    fn step(&mut self) -> bool {
        if *self.steps == 0 {
            self.gave_up = true;
            return false;
        }
        *self.steps -= 1;
        true
    }

    fn done(&self) -> bool {
        self.gave_up || self.out.len() >= self.limit
    }

    /// One group (`groups == 1`): `cells` more numbers in `bytes[pos..end]` that bring `sum` to
    /// exactly `total`, the number after `end`.
    fn cells_to(&mut self, pos: usize, end: usize, cells: usize, sum: u64, total: u64) {
        if self.done() || !self.step() {
            return;
        }
        let rest = end - pos;
        if cells == 0 {
            if rest == 0 && sum == total {
                let mut row = self.current.clone();
                row.push(total);
                self.out.push(row);
            }
            return;
        }
        if rest < cells || rest > cells * CELL_DIGITS {
            return;
        }
        // The longest of the cells left has at least `rest / cells` digits (rounded up), and no
        // leading zero: it alone may overshoot the total.
        let longest = rest.div_ceil(cells);
        if longest > 1 && sum + POW10[longest - 1] > total {
            return;
        }
        // Each cell left is shorter than `max_len + 1` digits: together they may fall short.
        let max_len = (rest - (cells - 1)).min(CELL_DIGITS);
        if sum + cells as u64 * POW10[max_len] <= total {
            return;
        }
        for len in 1..=max_len {
            let part = &self.bytes[pos..pos + len];
            if len > 1 && part[0] == b'0' {
                break;
            }
            let value = digits_value(part);
            // Longer cells from here are larger still.
            if sum + value > total {
                break;
            }
            self.current.push(value);
            self.cells_to(pos + len, end, cells - 1, sum + value, total);
            self.current.pop();
            if self.done() {
                return;
            }
        }
    }

    /// Several groups: `remaining` more numbers from `bytes[pos..]`.
    fn groups(&mut self, pos: usize, remaining: usize) {
        if self.done() || !self.step() {
            return;
        }
        let bytes = self.bytes;
        if remaining == 0 {
            if pos == bytes.len() {
                self.out.push(self.current.clone());
            }
            return;
        }
        let left = bytes.len() - pos;
        if left < remaining {
            return;
        }
        let width = self.width;
        let in_group = self.current.len() % width;
        if in_group == width - 1 {
            // The group's total must be the sum of its cells: its digits are known in advance.
            let start = self.current.len() - in_group;
            let sum: u64 = self.current[start..].iter().sum();
            let s = sum.to_string();
            if bytes[pos..].starts_with(s.as_bytes()) {
                self.current.push(sum);
                self.groups(pos + s.len(), remaining - 1);
                self.current.pop();
            }
            return;
        }
        let max_len = (left - (remaining - 1)).min(CELL_DIGITS);
        for len in 1..=max_len {
            let part = &bytes[pos..pos + len];
            if len > 1 && part[0] == b'0' {
                break;
            }
            self.current.push(digits_value(part));
            self.groups(pos + len, remaining - 1);
            self.current.pop();
            if self.done() {
                return;
            }
        }
    }
}

/// All ways to split glued digits into `count` numbers with no leading zeros (no identity to
/// check: table 2). Stops after `limit` solutions.
pub fn split_plain(digits: &str, count: usize, limit: usize) -> Vec<Vec<u64>> {
    let bytes = digits.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) || count == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current = Vec::with_capacity(count);
    plain_rec(bytes, 0, count, &mut current, &mut out, limit);
    out
}

fn plain_rec(
    bytes: &[u8],
    pos: usize,
    remaining: usize,
    current: &mut Vec<u64>,
    out: &mut Vec<Vec<u64>>,
    limit: usize,
) {
    if out.len() >= limit {
        return;
    }
    let left = bytes.len() - pos;
    if remaining == 0 {
        if left == 0 {
            out.push(current.clone());
        }
        return;
    }
    if left < remaining {
        return;
    }
    let max_len = (left - (remaining - 1)).min(12);
    for len in 1..=max_len {
        let part = &bytes[pos..pos + len];
        if len > 1 && part[0] == b'0' {
            break;
        }
        let value = part
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        current.push(value);
        plain_rec(bytes, pos + len, remaining - 1, current, out, limit);
        current.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(toks: &[Tok<'a>]) -> Vec<String> {
        toks.iter()
            .map(|t| match t {
                Tok::Value { text, .. } => text.to_string(),
                Tok::Blank { .. } => "_".into(),
                Tok::Text { .. } => "T".into(),
            })
            .collect()
    }

    #[test]
    fn pipe_rows_keep_inner_blanks_only() {
        let s = "| 四、结转下年度继续办理 | 1 | 0 | 0 |  |\n第二十条 | |||\n0 |\n|||\n— |\n";
        let toks = tokenize(s, 0, s.len(), 0);
        assert_eq!(values(&toks), ["T", "1", "0", "0", "_", "T", "0", "—"]);
        // Right after a label that fills its cell: the first blank is a cell.
        let s = " |  | 0 | 17 | |";
        let toks = tokenize(s, 0, s.len(), 0);
        assert_eq!(values(&toks), ["_", "0", "17", "_"]);
    }

    #[test]
    fn glued_text_and_numbers_split() {
        let s = "规章000行政规范性文件8855698 0 1 1";
        let toks = tokenize(s, 0, s.len(), 0);
        assert_eq!(values(&toks), ["T", "000", "T", "8855698", "0", "1", "1"]);
    }

    #[test]
    fn values_parse_with_units() {
        assert_eq!(
            parse_value("28289.2178万元"),
            CellValue::Number(282_892_178.0)
        );
        assert_eq!(
            parse_value("63.8495亿元"),
            CellValue::Number(6_384_950_000.0)
        );
        assert_eq!(parse_value("增加21项"), CellValue::Number(21.0));
        assert_eq!(parse_value("-155"), CellValue::Number(-155.0));
        assert_eq!(parse_value("+57"), CellValue::Number(57.0));
        assert_eq!(parse_value("/"), CellValue::Null);
    }

    #[test]
    fn glued_rows_split_by_identity() {
        let split = |d: &str, groups| split_glued(d, groups, 7, 4, &mut SPLIT_STEPS.clone());
        assert_eq!(
            split("713000074", 1),
            Some(vec![vec![71, 3, 0, 0, 0, 0, 74]])
        );
        assert_eq!(
            split("370000037", 1),
            Some(vec![vec![37, 0, 0, 0, 0, 0, 37]])
        );
        assert_eq!(split("0000000", 1), Some(vec![vec![0; 7]]));
        assert_eq!(split("12", 1), Some(vec![]));
        assert_eq!(split("1111112", 2), Some(vec![]));
        assert_eq!(
            split("713000074370000037", 2),
            Some(vec![vec![71, 3, 0, 0, 0, 0, 74, 37, 0, 0, 0, 0, 0, 37]])
        );
        assert_eq!(split_plain("000", 3, 4), vec![vec![0, 0, 0]]);
        assert!(split_plain("8855698", 3, 4).len() > 1);
    }

    #[test]
    fn one_group_search_finds_what_the_plain_search_finds() {
        // The one-group search bounds cells by the total; it must find exactly the splits of
        // the plain cell-by-cell search.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for i in 0..3000 {
            let digits: String = if i % 2 == 0 {
                let cells: Vec<u64> = (0..6)
                    .map(|_| match next() % 4 {
                        0 | 1 => 0,
                        2 => next() % 30,
                        _ => next() % 5000,
                    })
                    .collect();
                let total: u64 = cells.iter().sum();
                cells.iter().chain([&total]).map(u64::to_string).collect()
            } else {
                let len = 7 + (next() % 16) as usize;
                (0..len)
                    .map(|_| char::from(b'0' + (next() % 10) as u8))
                    .collect()
            };
            let mut steps = usize::MAX;
            let mut fast = split_glued(&digits, 1, 7, 100, &mut steps).expect("no budget");
            let mut steps = usize::MAX;
            let mut plain = Split {
                bytes: digits.as_bytes(),
                width: 7,
                limit: 100,
                steps: &mut steps,
                gave_up: false,
                current: Vec::new(),
                out: Vec::new(),
            };
            plain.groups(0, 7);
            let mut plain = plain.out;
            fast.sort();
            plain.sort();
            assert_eq!(fast, plain, "{digits}");
        }
    }

    #[test]
    fn hopeless_glued_runs_end_quickly() {
        // Longer than seven cells can be: no split, and no search.
        let mut steps = 10;
        assert_eq!(
            split_glued(&"1".repeat(100), 1, 7, 3, &mut steps),
            Some(vec![])
        );
        assert_eq!(steps, 10);
        // A run with many candidate splits: the search stops when the steps run out.
        let mut steps = 1_000;
        assert_eq!(split_glued(&"1".repeat(40), 3, 5, 3, &mut steps), None);
        assert_eq!(steps, 0);
        // Within the budget of a table, the worst single row still finishes.
        for len in 7..=70 {
            let mut steps = SPLIT_STEPS;
            assert!(split_glued(&"9".repeat(len), 1, 7, 3, &mut steps).is_some());
            let mut steps = SPLIT_STEPS;
            assert!(split_glued(&"1".repeat(len), 1, 7, 3, &mut steps).is_some());
        }
    }

    #[test]
    fn a_garbled_cell_is_one_piece_without_words() {
        for garbled in ["1l", "O", "?", "#", "l0"] {
            assert!(is_garbled_cell(garbled), "{garbled}");
        }
        for not in ["0 0", "12", "无", "/", "合计", "本年", "", "1234"] {
            assert!(!is_garbled_cell(not), "{not}");
        }
    }

    #[test]
    fn a_garbled_number_between_spaces_is_not_its_digits() {
        let text = "四、结转下年度继续办理 103 0 0 0 0 0 1l";
        assert_eq!(
            values(&tokenize(text, 0, text.len(), 1)),
            ["T", "103", "0", "0", "0", "0", "0", "1l"]
        );
        assert_eq!(parse_value("1l"), CellValue::Null);
        // Label numbering and words are no garbled numbers.
        for not in ["1.", "1、", "(1)", "O", "abc", "12"] {
            assert!(!is_garbled_number(not), "{not}");
        }
    }
}
