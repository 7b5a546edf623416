//! Scanned PDFs (pages that are images only) read by Tesseract, page by page.
//!
//! Each page is rendered by poppler's `pdftoppm` and straightened. The tables are found by
//! their ruling lines ([`grid`]) and written as the DOCX reader writes tables, a `| … |` line
//! per row with each merged cell once. The text around them is read by Tesseract's Chinese
//! model with the tables blanked out.
//!
//! Table numbers are where a whole-page reading fails most, so every cell is read by its own
//! box: the cells of a page are cut out and stacked into one strip image, read once in Chinese
//! (labels), and the cells that hold no Chinese again with a digits-only pass. A cell with ink
//! that gives no clean number is written `?`, which the parser leaves unread; an empty cell is
//! blank. Whether the numbers are accepted is decided after parsing, by the tables' own
//! identities (`parse::accept_ocr`).
//!
//! Every program runs as a child process with a time limit and an address-space limit, within
//! the report's budget; the pages read are capped by `limits.ocr_pages`.

mod grid;
mod image;
mod labels;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use image::Gray;

use crate::error::ExtractError;

/// The environment variable naming the Tesseract program (default: `tesseract` on PATH); a
/// path that is no file means none.
pub const VAR: &str = "OGI_AUDIT_TESSERACT";
/// Resolution pages are rendered at: digits of a 10.5 pt table are then ~30 pixels high.
const DPI: usize = 300;
/// Time one run of pdftoppm or Tesseract may take (less when the budget has less left).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Address space a child may use.
const MAX_MEMORY: libc::rlim_t = 2 << 30;
/// Output kept from a child at most (a rendered page is ~26 MB).
const MAX_OUTPUT: u64 = 128 << 20;
/// Space around and between the cells of a strip.
const PAD: usize = 12;
const GAP: usize = 36;
/// Space between two numbers of a line: wide enough that they are never read as one.
const SPACE: usize = 150;
/// Numbers laid side by side in a line of the digits pass: Tesseract finds long lines of text
/// surely, where it drops short ones.
const DIGITS_PER_LINE: usize = 12;

/// The Tesseract program, if one is installed with the Chinese model (`chi_sim`).
pub fn tesseract() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let program = match std::env::var_os(VAR).filter(|p| !p.is_empty()) {
                Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file())?,
                None => {
                    let path = std::env::var_os("PATH")?;
                    std::env::split_paths(&path)
                        .map(|d| d.join("tesseract"))
                        .find(|p| p.is_file())?
                }
            };
            let langs = Command::new(&program)
                .arg("--list-langs")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            let langs = String::from_utf8_lossy(&langs.stdout);
            let has = |l: &str| langs.lines().any(|x| x.trim() == l);
            (has("chi_sim") && has("eng")).then_some(program)
        })
        .clone()
}

/// What Tesseract needs and lacks, for the reason a scan is refused.
pub const MISSING: &str =
    "Tesseract with its Chinese model is not installed to read it (Debian packages tesseract-ocr and tesseract-ocr-chi-sim)";

/// The text of a scanned PDF of `pages` pages (the first `limits.ocr_pages` are read), and
/// what the reader should know.
pub fn to_text(bytes: &[u8], pages: usize) -> Result<(String, Vec<String>), ExtractError> {
    let Some(program) = tesseract() else {
        return Err(ExtractError::NoText(format!(
            "no text layer (a scanned PDF): {MISSING}"
        )));
    };
    let budget = crate::budget::begin_ocr();
    let mut warnings = Vec::new();
    let read = pages.min(budget.ocr_pages);
    if read < pages {
        warnings.push(format!(
            "扫描件：只识别了前{read}页（limits.ocr_pages），其余{}页未审核",
            pages - read
        ));
    }
    let dir = tempfile::Builder::new()
        .prefix("ogi-audit-ocr-")
        .tempdir()
        .map_err(|e| ExtractError::Corrupt(format!("OCR: no temporary folder: {e}")))?;
    let pdf = dir.path().join("scan.pdf");
    std::fs::write(&pdf, bytes).map_err(|e| ExtractError::Corrupt(format!("OCR: {e}")))?;
    let mut out = String::new();
    for n in 1..=read {
        crate::budget::check("reading a scanned page")?;
        let page = render(&pdf, n)?;
        out.push_str(&read_page(&program, &page)?);
        out.push('\n');
    }
    if out.trim().is_empty() {
        return Err(ExtractError::NoText(format!(
            "no text layer (a scanned PDF), and OCR found no text on its {read} page(s)"
        )));
    }
    tracing::info!(pages = read, "scanned PDF read by OCR");
    Ok((out, warnings))
}

/// Page `n` of the PDF at `pdf` as a grey image at [`DPI`].
fn render(pdf: &Path, n: usize) -> Result<Gray, ExtractError> {
    let mut command = Command::new("pdftoppm");
    command.args([
        "-r",
        &DPI.to_string(),
        "-f",
        &n.to_string(),
        "-l",
        &n.to_string(),
    ]);
    command.arg(pdf);
    let ppm = run(&mut command, &[], "rendering a scanned page")?;
    Gray::from_pnm(&ppm).map_err(|e| ExtractError::Corrupt(format!("OCR: page {n}: {e}")))
}

/// Runs a program of the OCR with its limits; its output.
fn run(command: &mut Command, input: &[u8], stage: &'static str) -> Result<Vec<u8>, ExtractError> {
    let done = super::child::filter(
        command,
        input,
        MAX_MEMORY,
        MAX_OUTPUT,
        STEP_TIMEOUT,
        stage,
        |e| ExtractError::Corrupt(format!("OCR: cannot start the program for {stage}: {e}")),
        || {
            ExtractError::TooLarge(format!(
                "OCR: {stage} took longer than {} s",
                STEP_TIMEOUT.as_secs()
            ))
        },
    )?;
    if !done.status.success() {
        return Err(ExtractError::Corrupt(format!(
            "OCR: {stage} failed (a damaged PDF?)"
        )));
    }
    if done.over {
        return Err(ExtractError::TooLarge(format!(
            "OCR: more than {} MB of output while {stage}",
            MAX_OUTPUT >> 20
        )));
    }
    Ok(done.out)
}

/// A word Tesseract read, with its box and line.
#[derive(Debug, Clone)]
struct Word {
    line: (u32, u32, u32),
    left: usize,
    top: usize,
    width: usize,
    height: usize,
    conf: f64,
    text: String,
}

impl Word {
    /// The word with its box scaled by `f` (read on a scaled image).
    fn scaled(mut self, f: f64) -> Word {
        let s = |v: usize| (v as f64 * f).round() as usize;
        (self.left, self.top, self.width, self.height) =
            (s(self.left), s(self.top), s(self.width), s(self.height));
        self
    }
}

/// Runs Tesseract on `image` and returns its words (TSV output).
fn recognise(program: &Path, image: &Gray, args: &[&str]) -> Result<Vec<Word>, ExtractError> {
    let mut command = Command::new(program);
    command.args(["stdin", "stdout"]).args(args).arg("tsv");
    command.env("OMP_THREAD_LIMIT", "1");
    let tsv = run(&mut command, &image.to_pgm(), "reading a scanned page")?;
    Ok(parse_tsv(&String::from_utf8_lossy(&tsv)))
}

fn parse_tsv(tsv: &str) -> Vec<Word> {
    tsv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 12 || f[0] != "5" {
                return None;
            }
            let n = |i: usize| f[i].trim().parse::<u32>().ok();
            let text = f[11].trim();
            if text.is_empty() {
                return None;
            }
            Some(Word {
                line: (n(2)?, n(3)?, n(4)?),
                left: n(6)? as usize,
                top: n(7)? as usize,
                width: n(8)? as usize,
                height: n(9)? as usize,
                conf: f[10].trim().parse().ok()?,
                text: text.to_string(),
            })
        })
        .collect()
}

/// Words joined as written: no space between Chinese characters, one between Latin words and
/// numbers.
fn join_words<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for w in words {
        let spaced = out
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && w.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if spaced {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// One page's text: the lines around the tables, and each table's rows where it stands.
fn read_page(program: &Path, page: &Gray) -> Result<String, ExtractError> {
    let ink = page.ink_level();
    let angle = page.skew(ink);
    let mut page = if angle.abs() > 0.02f64.to_radians() {
        page.rotated(angle)
    } else {
        page.clone()
    };
    crate::budget::check("finding a scanned page's tables")?;
    // Thin vertical rules of a blurred scan are lighter than the print: they are looked for at
    // a lighter level. Horizontal ones are not: lines of blurred text would pass for them.
    let light = ink.saturating_add(40).min(230);
    let tables = grid::tables(&page, ink, light, DPI);
    // What is lighter than the print (a seal's red, the paper's grain) is paper to Tesseract.
    page.clean(light);
    // (top, text) of every line and table, put in reading order at the end.
    let mut blocks: Vec<(usize, String)> = Vec::new();
    let mut rest = page.clone();
    for t in &tables {
        blocks.push((t.outline.1, read_table(program, &page, ink, t)?));
        rest.blank(t.outline.0, t.outline.1, t.outline.2, t.outline.3);
    }
    crate::budget::check("reading a scanned page")?;
    if rest.ink_box(ink, (0, 0, rest.width, rest.height)).is_some() {
        let words = recognise(program, &rest, &["-l", "chi_sim", "--psm", "3"])?;
        // Tesseract gives the words line by line.
        let mut lines: Vec<Vec<&Word>> = Vec::new();
        for w in &words {
            match lines.last_mut() {
                Some(l) if l.first().is_some_and(|f| f.line == w.line) => l.push(w),
                _ => lines.push(vec![w]),
            }
        }
        for ws in lines {
            let text = join_words(ws.iter().map(|w| w.text.as_str()));
            let top = ws.iter().map(|w| w.top).min().unwrap_or(0);
            if !is_page_number(&text) {
                blocks.push((top, text));
            }
        }
    }
    blocks.sort_by_key(|b| b.0);
    let mut out = String::new();
    for (_, text) in blocks {
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// A page number standing alone (`- 4 -`, `— 12 —`, `4`).
fn is_page_number(line: &str) -> bool {
    let core = line.trim_matches(|c: char| matches!(c, '-' | '—' | '–' | '一' | ' ' | '_'));
    !core.is_empty() && core.len() <= 3 && core.chars().all(|c| c.is_ascii_digit())
}

/// The cells of `cells` (boxes in `page`) laid out in one image, `per_line` to a line with
/// wide gaps between them; the box each cell takes in it.
fn strip(
    page: &Gray,
    cells: &[(usize, usize, usize, usize)],
    per_line: usize,
) -> (Gray, Vec<(usize, usize, usize, usize)>) {
    let per_line = per_line.max(1);
    let lines: Vec<&[(usize, usize, usize, usize)]> = cells.chunks(per_line).collect();
    let line_height =
        |l: &[(usize, usize, usize, usize)]| l.iter().map(|c| c.3 - c.1).max().unwrap_or(0);
    let line_width =
        |l: &[(usize, usize, usize, usize)]| -> usize { l.iter().map(|c| c.2 - c.0 + SPACE).sum() };
    let width = lines.iter().map(|l| line_width(l)).max().unwrap_or(0) + GAP;
    let height: usize = lines.iter().map(|l| line_height(l) + GAP).sum::<usize>() + GAP;
    let mut image = Gray::white(width, height);
    let mut boxes = Vec::with_capacity(cells.len());
    let mut y = GAP;
    for line in lines {
        let h = line_height(line);
        let mut x = GAP;
        for &(x0, y0, x1, y1) in line {
            // Centred on the line, so that a line of numbers reads as one line of text.
            let top = y + (h - (y1 - y0)) / 2;
            image.paste(&page.crop(x0, y0, x1, y1), x, top);
            boxes.push((x, y, x + (x1 - x0), y + h));
            x += x1 - x0 + SPACE;
        }
        y += h + GAP;
    }
    (image, boxes)
}

/// The words of a strip that fall in each of its cells' boxes, in the order read.
fn words_by_cell(words: Vec<Word>, boxes: &[(usize, usize, usize, usize)]) -> Vec<Vec<Word>> {
    let mut out: Vec<Vec<Word>> = vec![Vec::new(); boxes.len()];
    let (half_x, half_y) = (SPACE / 2, GAP / 2);
    for w in words {
        let (cx, cy) = (w.left + w.width / 2, w.top + w.height / 2);
        let inside = boxes.iter().position(|b| {
            cx + half_x >= b.0 && cx < b.2 + half_x && cy + half_y >= b.1 && cy < b.3 + half_y
        });
        if let Some(i) = inside {
            out[i].push(w);
        }
    }
    out
}

/// Whether the Chinese reading of a cell looks like a number, or a number read badly (`人2`,
/// `工`, `l`, `l78`), rather than a label: no more than one Chinese character among few, and
/// not a mark the parser reads as a cell printed empty (`/`, `—`, `无`), which is kept as read.
fn looks_numeric(text: &str) -> bool {
    let han = text.chars().filter(|&c| is_han(c)).count();
    let n = text.chars().filter(|c| !c.is_whitespace()).count();
    !crate::parse::cells::is_null_marker(text.trim()) && (han == 0 || (han == 1 && n <= 6))
}

/// A table's rows as `| … |` lines.
fn read_table(
    program: &Path,
    page: &Gray,
    ink: u8,
    table: &grid::Table,
) -> Result<String, ExtractError> {
    // The ink of each cell, less specks (a blurred line's edge, dust).
    let min_ink = (DPI / 60).pow(2);
    let mut boxes: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut index: Vec<Vec<Option<usize>>> = Vec::new();
    for row in &table.rows {
        let mut r = Vec::new();
        for cell in row {
            match page.ink_box(ink, cell.inside) {
                Some(((x0, y0, x1, y1), n)) if n >= min_ink => {
                    r.push(Some(boxes.len()));
                    boxes.push((
                        x0.saturating_sub(PAD),
                        y0.saturating_sub(PAD),
                        (x1 + PAD).min(page.width),
                        (y1 + PAD).min(page.height),
                    ));
                }
                _ => r.push(None),
            }
        }
        index.push(r);
    }
    let mut texts: Vec<String> = vec![String::new(); boxes.len()];
    if !boxes.is_empty() {
        let (image, spans) = strip(page, &boxes, 1);
        let words = recognise(program, &image, &["-l", "chi_sim", "--psm", "6"])?;
        let chinese = words_by_cell(words, &spans);
        for (i, ws) in chinese.iter().enumerate() {
            texts[i] = join_words(ws.iter().map(|w| w.text.as_str()));
        }
        // The cells that hold no Chinese: numbers, read again twice side by side, digits only,
        // by the Chinese and the English model (the latter on a larger copy). A number is
        // taken when two of the three readings agree.
        let numeric: Vec<usize> = (0..boxes.len())
            .filter(|&i| looks_numeric(&texts[i]))
            .collect();
        for (i, text) in texts.iter_mut().enumerate() {
            if numeric.binary_search(&i).is_err() {
                if let Some(label) = labels::snap(text) {
                    *text = label.to_string();
                }
            }
        }
        if !numeric.is_empty() {
            let cells: Vec<_> = numeric.iter().map(|&i| boxes[i]).collect();
            let mut readings: Vec<Vec<Option<(String, f64)>>> =
                numeric.iter().map(|&i| vec![number(&chinese[i])]).collect();
            let (image, spans) = strip(page, &cells, DIGITS_PER_LINE);
            // Digits are read best some 40 pixels high.
            let mut heights: Vec<usize> = cells
                .iter()
                .map(|c| (c.3 - c.1).saturating_sub(2 * PAD))
                .collect();
            heights.sort_unstable();
            let height = heights.get(heights.len() / 2).copied().unwrap_or(40).max(1);
            let factor = (40.0 / height as f64).clamp(1.0, 3.0);
            let larger = image.scaled(factor);
            for (model, image) in [("chi_sim", &image), ("eng", &larger)] {
                crate::budget::check("reading a scanned table's numbers")?;
                let words = recognise(
                    program,
                    image,
                    &[
                        "-l",
                        model,
                        "--psm",
                        "6",
                        "-c",
                        "tessedit_char_whitelist=0123456789.",
                    ],
                )?;
                let scale = if model == "eng" { factor } else { 1.0 };
                let words = words.into_iter().map(|w| w.scaled(1.0 / scale)).collect();
                for (k, ws) in words_by_cell(words, &spans).into_iter().enumerate() {
                    readings[k].push(number(&ws));
                }
            }
            for (k, r) in readings.iter().enumerate() {
                texts[numeric[k]] = vote(r).unwrap_or_else(|| "?".to_string());
            }
        }
    }
    let mut out = String::new();
    for row in &index {
        super::push_row(
            &mut out,
            row.iter().map(|c| c.map_or("", |i| texts[i].as_str())),
        );
    }
    Ok(out)
}

/// The number one reading of a cell gives: one word of digits (a decimal point inside), not
/// read in doubt.
fn number(words: &[Word]) -> Option<(String, f64)> {
    let [word] = words else {
        return None;
    };
    let t = word.text.as_str();
    let well_formed = !t.is_empty()
        && t.split('.').count() <= 2
        && !t.starts_with('.')
        && !t.ends_with('.')
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !(t.len() > 1 && t.starts_with('0') && !t.starts_with("0."));
    (well_formed && word.conf >= 30.0).then(|| (t.to_string(), word.conf))
}

/// The number at least two readings agree on, or the only number read, when it was read with
/// high confidence and no reading gave another.
fn vote(readings: &[Option<(String, f64)>]) -> Option<String> {
    let given: Vec<&(String, f64)> = readings.iter().flatten().collect();
    if let Some(agreed) = given
        .iter()
        .find(|r| given.iter().filter(|o| o.0 == r.0).count() >= 2)
    {
        return Some(agreed.0.clone());
    }
    match given.as_slice() {
        [(only, conf)] if *conf >= 90.0 => Some(only.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_and_their_lines() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t10\t20\t30\t40\t91.5\t本年\n\
                   5\t1\t1\t1\t1\t2\t50\t20\t30\t40\t88\t新收\n\
                   5\t1\t1\t1\t2\t1\t10\t80\t30\t40\t95\t58\n";
        let words = parse_tsv(tsv);
        assert_eq!(words.len(), 3);
        assert_eq!(words[2].line, (1, 1, 2));
        assert_eq!(
            join_words(words.iter().map(|w| w.text.as_str())),
            "本年新收58"
        );
        assert_eq!(join_words(["2021", "10", "件"].into_iter()), "2021 10件");
    }

    #[test]
    fn only_clean_confident_numbers_are_taken() {
        let w = |text: &str, conf: f64| Word {
            line: (1, 1, 1),
            left: 0,
            top: 0,
            width: 10,
            height: 10,
            conf,
            text: text.to_string(),
        };
        let some = |s: &str| Some(s.to_string());
        let read = |s: &str, conf: f64| Some((s.to_string(), conf));
        assert_eq!(number(&[w("2932", 91.0)]), read("2932", 91.0));
        assert_eq!(number(&[w("96171.6", 90.0)]), read("96171.6", 90.0));
        assert_eq!(number(&[w("0", 90.0)]), read("0", 90.0));
        assert_eq!(number(&[w("2932", 20.0)]), None);
        assert_eq!(number(&[w("07", 90.0)]), None);
        assert_eq!(number(&[w("1.2.3", 90.0)]), None);
        assert_eq!(number(&[w("29", 90.0), w("32", 90.0)]), None);
        assert_eq!(number(&[]), None);
        assert_eq!(
            vote(&[read("12", 50.0), read("2", 69.0), read("12", 96.0)]),
            some("12")
        );
        assert_eq!(vote(&[None, read("1", 40.0), read("1", 36.0)]), some("1"));
        assert_eq!(vote(&[read("12", 96.0), read("2", 96.0), None]), None);
        assert_eq!(vote(&[None, None, read("7", 60.0)]), None);
        assert_eq!(vote(&[None, read("351", 92.0), None]), some("351"));
    }

    #[test]
    fn numbers_read_badly_are_read_again_and_marks_of_empty_cells_are_not() {
        // `l`, `一` and `工` may be a 1: the digits decide.
        for t in ["58", "人2", "l", "一", "工", "l78"] {
            assert!(looks_numeric(t), "{t}");
        }
        for t in ["/", "—", "无", "其他", "(七)总计"] {
            assert!(!looks_numeric(t), "{t}");
        }
    }

    #[test]
    fn page_numbers_are_told() {
        for s in ["- 4 -", "— 12 —", "4", "-5-"] {
            assert!(is_page_number(s), "{s}");
        }
        for s in ["2024年", "一、总体情况", "1000", "4件"] {
            assert!(!is_page_number(s), "{s}");
        }
    }
}
