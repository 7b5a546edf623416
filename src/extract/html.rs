//! HTML pages saved from a browser (or portal fragments) → the report's text.
//!
//! Tables are rebuilt as real grids, with `rowspan` and `colspan` resolved, and written one row
//! per line with ` | ` between cells: the same flattening the text parser already reads, so the
//! merged label cells of table 3 (三、本年度办理结果, （三）不予公开 …) cannot shift the numbers,
//! and a blank cell stays a blank cell. Paragraphs and line breaks become lines; scripts, styles
//! and the page head are dropped (the `<title>` is kept as the first line). The walk over the
//! document is iterative, tables have a size cap, and pages nested deeper than the parser can
//! take in reasonable time are refused before parsing (see [`prepare`]), so hostile pages end in
//! an error, not in a stack overflow, an exhausted memory or a stall.

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
    // Every form below starts with `<`: a text report is told apart without copying its head.
    if !head.starts_with('<') {
        return false;
    }
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

/// Most elements a page may hold open at once (nested), as [`prepare`] counts them.
const MAX_OPEN: usize = 1_000;

/// HTML's formatting elements: the parser keeps a list of the open ones and opens them again
/// in every later block they were cut off from.
const FORMATTING: [&str; 14] = [
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];

/// Elements without content (no end tag).
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

/// Elements the parser closes by itself (at the next `<p>`, `<li>`, cell or row, or at the end
/// of their parent): real pages leave them open, and they do not pile up.
fn closes_itself(name: &str) -> bool {
    matches!(
        name,
        "p" | "li"
            // A new `<a>`, `<nobr>`, `<button>` or `<select>` closes the open one; a `<form>`
            // inside a form is dropped.
            | "a"
            | "nobr"
            | "button"
            | "select"
            | "form"
            | "dd"
            | "dt"
            | "option"
            | "optgroup"
            | "tr"
            | "td"
            | "th"
            | "thead"
            | "tbody"
            | "tfoot"
            | "colgroup"
            | "caption"
            | "rb"
            | "rt"
            | "rp"
            | "rtc"
            | "html"
            | "head"
            | "body"
    )
}

/// Elements whose content is text to the parser: a `<` inside starts no tag.
fn is_raw_text(name: &str) -> bool {
    matches!(
        name,
        "script"
            | "style"
            | "textarea"
            | "title"
            | "xmp"
            | "iframe"
            | "noembed"
            | "noframes"
            | "noscript"
    )
}

/// HTML start tags that end SVG or MathML content (the parser goes back to HTML).
fn leaves_foreign(name: &str) -> bool {
    matches!(
        name,
        "b" | "big"
            | "blockquote"
            | "body"
            | "br"
            | "center"
            | "code"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "em"
            | "embed"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "hr"
            | "i"
            | "img"
            | "li"
            | "listing"
            | "menu"
            | "meta"
            | "nobr"
            | "ol"
            | "p"
            | "pre"
            | "ruby"
            | "s"
            | "small"
            | "span"
            | "strong"
            | "strike"
            | "sub"
            | "sup"
            | "table"
            | "tt"
            | "u"
            | "ul"
            | "var"
            | "font"
    )
}

/// A tag as the tokenizer reads it after its name.
struct TagEnd {
    /// Just past the `>` that ends the tag.
    end: usize,
    /// `/>`: self-closing (it matters in SVG and MathML only).
    self_closing: bool,
    /// Whether the tag has attributes.
    attributes: bool,
}

/// Reads a tag's attributes from `i` (just after its name) the way the HTML tokenizer does, so
/// that a `>` inside a quoted value does not end the tag and one outside does; `None` when the
/// page ends inside the tag.
fn tag_end(bytes: &[u8], mut i: usize) -> Option<TagEnd> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        BeforeName,
        Name,
        AfterName,
        BeforeValue,
        Quoted(u8),
        Unquoted,
        AfterQuoted,
        SelfClosing,
    }
    let mut state = State::BeforeName;
    let mut attributes = false;
    while let Some(&b) = bytes.get(i) {
        let space = b.is_ascii_whitespace();
        state = match (state, b) {
            (State::Quoted(q), _) => {
                i += bytes[i..].iter().position(|&c| c == q)?;
                State::AfterQuoted
            }
            (State::BeforeValue, b'"' | b'\'') => State::Quoted(b),
            (State::SelfClosing, b'>') => {
                return Some(TagEnd {
                    end: i + 1,
                    self_closing: true,
                    attributes,
                })
            }
            (_, b'>') => {
                return Some(TagEnd {
                    end: i + 1,
                    self_closing: false,
                    attributes,
                })
            }
            (State::BeforeValue, _) if space => State::BeforeValue,
            (State::BeforeValue, _) => State::Unquoted,
            (State::Unquoted, _) if space => State::BeforeName,
            (State::Unquoted, _) => State::Unquoted,
            (_, b'/') => State::SelfClosing,
            (State::Name | State::AfterName, b'=') => State::BeforeValue,
            (State::Name, _) if space => State::AfterName,
            (State::Name, _) => State::Name,
            (State::BeforeName | State::AfterQuoted | State::SelfClosing, _) if space => {
                State::BeforeName
            }
            (State::AfterName, _) if space => State::AfterName,
            // Anything else starts an attribute name (a `=` here too).
            _ => {
                attributes = true;
                State::Name
            }
        };
        i += 1;
    }
    None
}

/// Where a comment that starts at `from` (just after `<!--`) ends: after `-->` or `--!>`, or
/// at once for `<!-->` and `<!--->`.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let rest = &bytes[from..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut i = 0;
    while let Some(p) = rest[i..].windows(2).position(|w| w == b"--") {
        let at = i + p + 2;
        if rest[at..].starts_with(b">") {
            return from + at + 1;
        }
        if rest[at..].starts_with(b"!>") {
            return from + at + 2;
        }
        i += p + 1;
    }
    bytes.len()
}

/// Where the end tag `</name` of a raw-text element starts at or after `from` (the end of the
/// page if it has none).
fn raw_text_end(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut i = from;
    while let Some(p) = bytes[i..].windows(2).position(|w| w == b"</") {
        let at = i + p;
        let after = at + 2 + name.len();
        if bytes
            .get(at + 2..after)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            && bytes
                .get(after)
                .is_none_or(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
        {
            return at;
        }
        i = at + 2;
    }
    bytes.len()
}

/// Readies a page for the HTML parser, whose work grows with the square of what a crafted page
/// leaves open: every block start looks down the stack of open elements, and formatting elements
/// (`<b>`, `<font>` …) that differ in their attributes are all remembered and all opened again
/// in every later block. A page of thousands of `<b id=N>` took seconds per 100 KB and built
/// millions of elements; one of thousands of nested `<div>`s took seconds too.
///
/// So, in one pass over the tags as the parser will see them: attributes are dropped from
/// formatting elements (no reader here uses them; the parser then keeps at most three alike, as
/// the standard says), and a page that holds more than [`MAX_OPEN`] elements open at once is an
/// error. Elements that the parser closes by itself (`<p>`, `<li>`, cells and rows) are not
/// counted, so real pages that leave them open read as before.
fn prepare(html: &str) -> Result<std::borrow::Cow<'_, str>, ExtractError> {
    let bytes = html.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut open: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut total_open = 0usize;
    // Open <svg> and <math> elements: their self-closing tags (`<path/>`) open nothing.
    let mut foreign = 0usize;
    let mut i = 0;
    while let Some(p) = bytes[i..].iter().position(|&b| b == b'<') {
        let lt = i + p;
        let rest = &bytes[lt + 1..];
        if rest.starts_with(b"!--") {
            i = comment_end(bytes, lt + 4);
            continue;
        }
        if rest.starts_with(b"!") || rest.starts_with(b"?") || rest.starts_with(b"/>") {
            // A doctype, a conditional comment or a bogus comment: up to the next `>`.
            i = rest
                .iter()
                .position(|&b| b == b'>')
                .map_or(bytes.len(), |q| lt + 1 + q + 1);
            continue;
        }
        let is_end = rest.first() == Some(&b'/');
        let name_start = lt + 1 + usize::from(is_end);
        if !bytes.get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            i = lt + 1;
            continue;
        }
        let name_end = bytes[name_start..]
            .iter()
            .position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')
            .map_or(bytes.len(), |q| name_start + q);
        let name = String::from_utf8_lossy(&bytes[name_start..name_end]).to_ascii_lowercase();
        // A page that ends inside a tag: the parser drops the tag.
        let Some(TagEnd {
            end,
            self_closing,
            attributes,
        }) = tag_end(bytes, name_end)
        else {
            break;
        };
        i = end;
        if is_end {
            if let Some(n) = open.get_mut(&name).filter(|n| **n > 0) {
                *n -= 1;
                total_open -= 1;
            }
            if matches!(name.as_str(), "svg" | "math") {
                foreign = foreign.saturating_sub(1);
            }
            continue;
        }
        if foreign > 0 && leaves_foreign(&name) {
            foreign = 0;
        }
        if attributes && FORMATTING.contains(&name.as_str()) {
            out.push_str(&html[copied..lt]);
            out.push('<');
            out.push_str(&name);
            out.push('>');
            copied = end;
        }
        if name == "plaintext" {
            break;
        }
        // Inside SVG and MathML, `<style>` and `<title>` hold markup.
        if foreign == 0 && is_raw_text(&name) {
            i = raw_text_end(bytes, end, &name);
            continue;
        }
        if is_void(&name) || closes_itself(&name) || (self_closing && foreign > 0) {
            continue;
        }
        if matches!(name.as_str(), "svg" | "math") {
            foreign += 1;
        }
        *open.entry(name).or_default() += 1;
        total_open += 1;
        if total_open > MAX_OPEN {
            return Err(ExtractError::TooLarge(format!(
                "an HTML page with more than {MAX_OPEN} elements open at once (nested too deep)"
            )));
        }
    }
    if copied == 0 {
        return Ok(std::borrow::Cow::Borrowed(html));
    }
    out.push_str(&html[copied..]);
    Ok(std::borrow::Cow::Owned(out))
}

/// Bytes of the page handed to the HTML parser at a time: the budget is checked between them,
/// so a page that is slow to build into a tree stops within its time.
const PARSE_CHUNK: usize = 64 << 10;

/// The page's document tree, parsed `chunk` bytes at a time (rounded up to a character) with
/// the budget checked after each; the parser is streaming, so the tree is the one a single
/// call would build.
fn parse_document(html: &str, chunk: usize) -> Result<Html, ExtractError> {
    use html5ever::tendril::TendrilSink;
    let mut parser = html5ever::driver::parse_document(
        scraper::HtmlTreeSink::new(Html::new_document()),
        html5ever::ParseOpts::default(),
    );
    let mut rest = html;
    while !rest.is_empty() {
        let mut cut = chunk.clamp(1, rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, after) = rest.split_at(cut);
        parser.process(scraper::StrTendril::from_slice(piece));
        crate::budget::check("parsing the HTML")?;
        rest = after;
    }
    Ok(parser.finish())
}

/// The page as text: title, paragraphs, and tables as ` | ` rows.
pub fn to_text(html: &str) -> Result<String, ExtractError> {
    let html = prepare(html)?;
    crate::budget::check("preparing the HTML")?;
    let doc = parse_document(&html, PARSE_CHUNK)?;
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
    let mut visited = 0u32;
    while let Some((node, leaving)) = stack.pop() {
        visited = visited.wrapping_add(1);
        if visited.is_multiple_of(4096) {
            crate::budget::check("reading the HTML page")?;
        }
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
        if r % 256 == 0 {
            crate::budget::check("reading an HTML table")?;
        }
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
        super::push_row(
            out,
            row.iter().filter_map(|s| match s {
                Slot::Cell(t) => Some(t.as_str()),
                Slot::Empty => Some(""),
                Slot::Spanned => None,
            }),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_parsed_in_pieces_is_the_page_parsed_at_once() {
        let pages: [&[u8]; 3] = [
            include_bytes!("../../tests/fixtures/samples/2019-shanghai-bgt.html"),
            include_bytes!("../../tests/fixtures/samples/2023-shuyang-fgj.html"),
            include_bytes!("../../tests/fixtures/fuzz/html-reopened-formatting.html"),
        ];
        for bytes in pages {
            let (page, _) = decode(bytes).expect("decoded");
            let page = prepare(&page).expect("prepared");
            let whole = Html::parse_document(&page).html();
            // Pieces that cut tags, entities, `\r\n` and multi-byte characters.
            for chunk in [1, 7, 4096, PARSE_CHUNK] {
                let pieces = parse_document(&page, chunk).expect("parsed").html();
                assert!(
                    pieces == whole,
                    "a page parsed {chunk} bytes at a time differs"
                );
            }
        }
        let cut = "<p>a&amp;b&#20013;\r\n<b>粗</b></p>";
        for chunk in 1..cut.len() {
            assert_eq!(
                parse_document(cut, chunk).expect("parsed").html(),
                Html::parse_document(cut).html()
            );
        }
    }

    #[test]
    fn a_page_slow_to_parse_stops_within_its_time() {
        let page = "<p>本机关依法公开政府信息，共计<b>12</b>条。</p>\n".repeat(20_000);
        let budget = crate::budget::Budget {
            time: std::time::Duration::ZERO,
            ..crate::budget::Budget::default()
        };
        // The deadline has passed before the first piece: the parser stops after it, not at
        // the end of the page.
        let err = crate::budget::within(budget, || parse_document(&page, PARSE_CHUNK))
            .expect_err("out of time");
        assert!(
            err.to_string().ends_with("stopped while parsing the HTML"),
            "{err}"
        );
    }

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
        // The parser's work grows with the square of the depth (50 000 levels took seconds):
        // such a page is an error before it is parsed.
        assert!(matches!(to_text(&deep), Err(ExtractError::TooLarge(_))));
        let huge = format!(
            "<table>{}</table>",
            "<tr><td rowspan=1000 colspan=1000>1</td></tr>".repeat(5)
        );
        assert!(matches!(to_text(&huge), Err(ExtractError::TooLarge(_))));
    }

    #[test]
    fn formatting_attributes_are_dropped_and_pages_nested_too_deep_are_errors() {
        let page = "<p><b class=\"x>y\" id=1>粗</b><FONT color=red size=3>红</font><a href='/a'>链</a></p>";
        assert_eq!(
            prepare(page).expect("prepared"),
            "<p><b>粗</b><font>红</font><a>链</a></p>"
        );
        assert_eq!(to_text(page).expect("text"), "粗红链\n");
        // Thousands of distinct formatting elements: the parser would remember and reopen all.
        let bomb = format!(
            "<p>{}</p>{}",
            (0..900).map(|i| format!("<i id={i}>")).collect::<String>(),
            "<p>x</p>".repeat(900)
        );
        assert_eq!(to_text(&bomb).expect("text").lines().count(), 900);
        let deep = |n: usize| format!("{}x", "<div>".repeat(n));
        assert!(to_text(&deep(MAX_OPEN)).is_ok());
        assert!(matches!(
            to_text(&deep(MAX_OPEN + 1)),
            Err(ExtractError::TooLarge(_))
        ));
        // Closed, self-closing-in-SVG, raw-text, commented and self-closing (`<p>`, `<li>`,
        // cells) elements do not count.
        let n = 3 * MAX_OPEN;
        for fine in [
            "<div>x</div>".repeat(n),
            format!("<svg>{}</svg>", "<path d='M0 0'/>".repeat(n)),
            format!("<script>{}</script>", "<div>".repeat(n)),
            format!("<!--{}-->", "<div>".repeat(n)),
            format!("<div title='{}'>x</div>", "<div>".repeat(n)),
            format!("<ul>{}</ul>", "<li>x".repeat(n)),
            format!("<table>{}</table>", "<tr><td>1<td>2".repeat(n)),
            "<p>x".repeat(n),
        ] {
            assert!(prepare(&fine).is_ok(), "{}", &fine[..40]);
        }
        // What the parser sees as markup counts, however it is dressed.
        for nested in [
            format!("<!-->{}", "<div>".repeat(n)),
            format!("<!-- --!>{}", "<div>".repeat(n)),
            format!("<b =\">{}\">", "<div>".repeat(n)),
            format!("<svg><style>{}", "<div/>".repeat(n)),
            "<span/>".repeat(n),
        ] {
            assert!(prepare(&nested).is_err(), "{}", &nested[..40]);
        }
    }
}
