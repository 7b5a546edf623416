//! HTML pages saved from a browser (or portal fragments) → the report's text.
//!
//! Tables are rebuilt as real grids, with `rowspan` and `colspan` resolved, and written one row
//! per line with ` | ` between cells: the same flattening the text parser already reads, so the
//! merged label cells of table 3 (三、本年度办理结果, （三）不予公开 …) cannot shift the numbers,
//! and a blank cell stays a blank cell. Paragraphs and line breaks become lines; scripts, styles
//! and the page head are dropped (the `<title>` is kept as the first line). The walk over the
//! document is iterative and tables have a size cap, so hostile pages end in an error, not in a
//! stack overflow or an exhausted memory.

use encoding_rs::{Encoding, GB18030, UTF_8};
use scraper::node::Node;
use scraper::Html;

use crate::error::ExtractError;

type NodeRef<'a> = ego_tree::NodeRef<'a, Node>;

/// Largest table grid rebuilt (cells); larger tables are an error.
const MAX_CELLS: usize = 200_000;
/// Largest `rowspan`/`colspan` honoured.
const MAX_SPAN: usize = 1_000;

/// Whether decoded bytes look like an HTML document or fragment.
pub fn looks_like_html(head: &str) -> bool {
    let head = head.trim_start_matches('\u{feff}').trim_start();
    let lower: String = head
        .chars()
        .take(2048)
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.starts_with("<?xml") && lower.contains("<html")
        || (lower.starts_with('<')
            && ["<body", "<table", "<p>", "<p ", "<div", "<meta", "<head"]
                .iter()
                .any(|t| lower.contains(t)))
}

/// Decodes an HTML page: BOM, then the charset its `<meta>` declares, then UTF-8, then detection.
pub fn decode(bytes: &[u8]) -> Result<(String, &'static str), ExtractError> {
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        let (text, _, _) = enc.decode(bytes);
        return Ok((text.into_owned(), enc.name()));
    }
    if let Some(enc) = meta_charset(bytes) {
        // GBK and GB2312 pages are decoded with their superset.
        let enc = if enc == encoding_rs::GBK {
            GB18030
        } else {
            enc
        };
        let (text, _, _) = enc.decode(bytes);
        return Ok((text.into_owned(), enc.name()));
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok((s.to_string(), UTF_8.name()));
    }
    super::decode(bytes)
}

/// The charset named by `<meta charset=…>` or `<meta http-equiv … content="…; charset=…">`.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(8192)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let needle = b"charset=";
    let pos = lower.windows(needle.len()).position(|w| w == needle)?;
    let rest = &lower[pos + needle.len()..];
    let rest = rest
        .iter()
        .skip_while(|b| matches!(b, b'"' | b'\'' | b' '))
        .copied()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        .collect::<Vec<u8>>();
    Encoding::for_label(&rest)
}

/// Element names that start a new line.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "br"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "nav"
            | "table"
            | "tr"
            | "blockquote"
            | "pre"
            | "dd"
            | "dt"
            | "dl"
            | "hr"
            | "center"
            | "form"
            | "title"
            | "body"
            | "main"
            | "aside"
    )
}

/// Element names whose content is never report text.
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "noscript"
            | "template"
            | "head"
            | "iframe"
            | "svg"
            | "canvas"
            | "object"
            | "select"
            | "button"
    )
}

/// Appends text, folding HTML whitespace into single spaces.
fn push_text(out: &mut String, text: &str) {
    for (i, piece) in text
        .split(|c: char| c.is_whitespace() && c != '\u{a0}')
        .enumerate()
    {
        if i > 0 && !out.ends_with([' ', '\n']) && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(piece);
    }
}

fn newline(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

/// The page as text: title, paragraphs, and tables as ` | ` rows.
pub fn to_text(html: &str) -> Result<String, ExtractError> {
    let doc = Html::parse_document(html);
    let mut out = String::new();
    // The title first: saved pages put navigation before the report's own heading.
    if let Some(title) = doc
        .tree
        .root()
        .descendants()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == "title"))
    {
        push_text(&mut out, &cell_text(title));
        newline(&mut out);
    }
    // Iterative walk: (node, leaving?) so that deep nesting cannot exhaust the stack.
    let mut stack: Vec<(NodeRef<'_>, bool)> = vec![(doc.tree.root(), false)];
    while let Some((node, leaving)) = stack.pop() {
        match node.value() {
            Node::Text(t) if !leaving => push_text(&mut out, t),
            Node::Element(e) => {
                let name = e.name();
                if leaving {
                    if is_block(name) {
                        newline(&mut out);
                    }
                    continue;
                }
                if is_skipped(name) {
                    continue;
                }
                if name == "table" {
                    newline(&mut out);
                    table_text(node, &mut out)?;
                    newline(&mut out);
                    continue;
                }
                if is_block(name) {
                    newline(&mut out);
                }
                stack.push((node, true));
                let children: Vec<NodeRef<'_>> = node.children().collect();
                for child in children.into_iter().rev() {
                    stack.push((child, false));
                }
            }
            Node::Document | Node::Fragment if !leaving => {
                let children: Vec<NodeRef<'_>> = node.children().collect();
                for child in children.into_iter().rev() {
                    stack.push((child, false));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The text of a cell (or any subtree), blocks joined without spaces (Word splits words across
/// `<p>` and `<span>`), skipped elements left out.
fn cell_text(node: NodeRef<'_>) -> String {
    let mut out = String::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.value() {
            Node::Text(t) => push_text(&mut out, t),
            Node::Element(e) if is_skipped(e.name()) => {}
            Node::Element(e) if e.name() == "br" => out.push(' '),
            _ => {
                let children: Vec<NodeRef<'_>> = n.children().collect();
                stack.extend(children.into_iter().rev());
            }
        }
    }
    out.replace('\u{a0}', " ").trim().to_string()
}

fn element_name<'a>(n: &NodeRef<'a>) -> Option<&'a str> {
    n.value().as_element().map(|e| e.name())
}

/// Descendant elements with one of `names`, not looking inside nested tables.
fn own_descendants<'a>(node: NodeRef<'a>, names: &[&str]) -> Vec<NodeRef<'a>> {
    let mut out = Vec::new();
    let mut stack: Vec<NodeRef<'a>> = node
        .children()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    while let Some(n) = stack.pop() {
        match element_name(&n) {
            Some(name) if names.contains(&name) => out.push(n),
            Some("table") => {}
            _ => {
                let children: Vec<NodeRef<'a>> = n.children().collect();
                stack.extend(children.into_iter().rev());
            }
        }
    }
    out
}

fn span(node: &NodeRef<'_>, attr: &str) -> usize {
    node.value()
        .as_element()
        .and_then(|e| e.attr(attr))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_SPAN)
}

/// A slot of the rebuilt grid: the cell that starts there, or the continuation of a spanned one.
#[derive(Clone)]
enum Slot {
    Empty,
    Cell(String),
    Spanned,
}

/// Writes a table row by row, one line each. The grid is rebuilt with its spans so that every
/// cell lands in its true column; a spanned cell is written once, where it starts (a merged
/// label is one label, a value spanning two columns is one value), so no row gains or loses a
/// cell.
fn table_text(table: NodeRef<'_>, out: &mut String) -> Result<(), ExtractError> {
    let rows = own_descendants(table, &["tr"]);
    let mut grid: Vec<Vec<Slot>> = Vec::new();
    let mut cells_used = 0usize;
    for (r, tr) in rows.iter().enumerate() {
        if grid.len() <= r {
            grid.push(Vec::new());
        }
        let mut c = 0usize;
        for cell in own_descendants(*tr, &["td", "th"]) {
            while grid[r].get(c).is_some_and(|s| !matches!(s, Slot::Empty)) {
                c += 1;
            }
            let (rs, cs) = (span(&cell, "rowspan"), span(&cell, "colspan"));
            cells_used = cells_used.saturating_add(rs.saturating_mul(cs));
            if cells_used > MAX_CELLS {
                return Err(ExtractError::TooLarge(format!(
                    "an HTML table with more than {MAX_CELLS} cells"
                )));
            }
            let mut text = Some(cell_text(cell));
            for rr in r..(r + rs).min(rows.len().max(r + 1)) {
                while grid.len() <= rr {
                    grid.push(Vec::new());
                }
                let row = &mut grid[rr];
                if row.len() < c + cs {
                    row.resize(c + cs, Slot::Empty);
                }
                for slot in row.iter_mut().skip(c).take(cs) {
                    *slot = match text.take() {
                        Some(t) => Slot::Cell(t),
                        None => Slot::Spanned,
                    };
                }
            }
            c += cs;
        }
    }
    for row in grid {
        let cells: Vec<&str> = row
            .iter()
            .filter_map(|s| match s {
                Slot::Cell(t) => Some(t.as_str()),
                Slot::Empty => Some(""),
                Slot::Spanned => None,
            })
            .collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        out.push('|');
        for cell in cells {
            out.push(' ');
            out.push_str(&cell.replace('|', "/"));
            out.push_str(" |");
        }
        out.push('\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_resolve_into_a_grid_and_blanks_stay_blank() {
        let html = "<html><head><title>T</title><script>x()</script></head><body>\
            <div>一、总体情况</div><p>正文<span>分</span>开</p>\
            <table><tr><td rowspan=2>三、本年度办理结果</td><td colspan=2>(一)予以公开</td><td>5</td><td>&nbsp;</td></tr>\
            <tr><td>(三)不予公开</td><td>1.属于国家秘密</td><td>0</td><td>1</td></tr></table>\
            <p>五、存在的主要问题</p></body></html>";
        let text = to_text(html).expect("text");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "T");
        assert!(lines.contains(&"正文分开"), "{text}");
        assert!(
            lines.contains(&"| 三、本年度办理结果 | (一)予以公开 | 5 |  |"),
            "{text}"
        );
        assert!(
            lines.contains(&"| (三)不予公开 | 1.属于国家秘密 | 0 | 1 |"),
            "{text}"
        );
        assert!(!text.contains("x()"));
    }

    #[test]
    fn charset_from_meta_and_html_sniffing() {
        let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body>政府信息公开</body></html>";
        let (bytes, _, _) = GB18030.encode(page);
        let (text, enc) = decode(&bytes).expect("decode");
        assert_eq!(enc, "gb18030");
        assert!(text.contains("政府信息公开"));
        assert!(looks_like_html(page));
        assert!(!looks_like_html("一、总体情况\n<不是网页>"));
    }

    #[test]
    fn deep_nesting_and_huge_spans_do_not_break_anything() {
        let deep = format!(
            "<html><body>{}x{}</body></html>",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        );
        assert!(to_text(&deep).is_ok());
        let huge = format!(
            "<table>{}</table>",
            "<tr><td rowspan=1000 colspan=1000>1</td></tr>".repeat(5)
        );
        assert!(matches!(to_text(&huge), Err(ExtractError::TooLarge(_))));
    }
}
