//! DOCX attachments → the report's text.
//!
//! Paragraphs become lines; tables are written one row per line with ` | ` between cells, a
//! horizontally merged cell (`w:gridSpan`) once, a vertically merged continuation (`w:vMerge`
//! without `restart`) not at all, so merged labels cannot shift the numbers; a table inside a
//! cell becomes text of that cell. The archive is checked before anything is inflated: too many
//! entries, an oversized or suspiciously compressed document part are errors, and inflation
//! stops at the size limit whatever the headers claim.

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::ExtractError;

/// Most entries an archive may have.
const MAX_ENTRIES: usize = 5_000;
/// Largest `word/document.xml` inflated.
const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;
/// Largest compression ratio accepted for the document part.
const MAX_RATIO: u64 = 200;
/// Deepest nesting of tables read. A table inside a cell is copied into that cell's text, so
/// every level copies everything nested below it again: thousands of levels made a document of a
/// few megabytes take minutes.
const MAX_TABLE_DEPTH: usize = 32;

/// Whether a ZIP archive is a Word document.
pub fn is_docx(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map(|mut a| a.by_name("word/document.xml").is_ok())
        .unwrap_or(false)
}

/// The document's text.
pub fn to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ExtractError::TooLarge(format!(
            "a ZIP archive with {} entries (at most {MAX_ENTRIES})",
            archive.len()
        )));
    }
    let file = archive
        .by_name("word/document.xml")
        .map_err(|e| bad(format!("no word/document.xml ({e})")))?;
    let (size, packed) = (file.size(), file.compressed_size().max(1));
    if size > MAX_DOCUMENT || size / packed > MAX_RATIO {
        return Err(ExtractError::TooLarge(format!(
            "word/document.xml inflates to {size} bytes from {packed} (a ZIP bomb?)"
        )));
    }
    let mut xml = Vec::new();
    file.take(MAX_DOCUMENT + 1)
        .read_to_end(&mut xml)
        .map_err(|e| bad(e.to_string()))?;
    if xml.len() as u64 > MAX_DOCUMENT {
        return Err(ExtractError::TooLarge(
            "word/document.xml is larger than its header says".to_string(),
        ));
    }
    let xml = String::from_utf8(xml).map_err(|_| bad("document.xml is not UTF-8".to_string()))?;
    document_text(&xml)
}

/// A DOCX that cannot be read.
fn bad(m: impl std::fmt::Display) -> ExtractError {
    ExtractError::Corrupt(format!("DOCX: {m}"))
}

/// A table being read: rows of (text, colspan, continues a vertical merge).
#[derive(Default)]
struct TableState {
    rows: Vec<Vec<(String, usize, bool)>>,
}

enum EventKind {
    Empty,
    Other,
}

/// The text of `word/document.xml`.
fn document_text(xml: &str) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut tables: Vec<TableState> = Vec::new();
    // The paragraph being read, and the cell it belongs to (innermost table).
    let mut para = String::new();
    let mut cell: Option<(String, usize, bool)> = None;
    let mut cells_stack: Vec<Option<(String, usize, bool)>> = Vec::new();
    let mut in_text = false;
    let mut events = 0u32;
    loop {
        events = events.wrapping_add(1);
        if events.is_multiple_of(4096) {
            crate::budget::check("reading the DOCX document")?;
        }
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        let event_kind = if matches!(event, Event::Empty(_)) {
            EventKind::Empty
        } else {
            EventKind::Other
        };
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let is_empty = matches!(event_kind, EventKind::Empty);
                match e.local_name().as_ref() {
                    // `<w:tbl/>`: no table, and no end tag to close one.
                    b"tbl" if is_empty => {}
                    b"tbl" => {
                        if tables.len() >= MAX_TABLE_DEPTH {
                            return Err(bad(format!(
                                "tables nested more than {MAX_TABLE_DEPTH} deep"
                            )));
                        }
                        cells_stack.push(cell.take());
                        tables.push(TableState::default());
                    }
                    b"tr" => {
                        if let Some(t) = tables.last_mut() {
                            t.rows.push(Vec::new());
                        }
                    }
                    b"tc" if is_empty => {
                        if let Some(row) = tables.last_mut().and_then(|t| t.rows.last_mut()) {
                            row.push((String::new(), 1, false));
                        }
                    }
                    b"tc" => cell = Some((String::new(), 1, false)),
                    b"gridSpan" => {
                        if let (Some(c), Some(v)) = (cell.as_mut(), attr(&e, b"val")) {
                            c.1 = v.parse::<usize>().unwrap_or(1).clamp(1, 1000);
                        }
                    }
                    b"vMerge" => {
                        if let Some(c) = cell.as_mut() {
                            // `<w:vMerge/>` or val="continue" continues the cell above.
                            c.2 = attr(&e, b"val").is_none_or(|v| v == "continue");
                        }
                    }
                    b"t" => in_text = !is_empty,
                    b"tab" => para.push('\t'),
                    b"br" | b"cr" => para.push('\n'),
                    _ => {}
                }
            }
            Event::Text(t) if in_text => {
                para.push_str(&t.decode().map_err(|e| bad(e.to_string()))?);
            }
            Event::GeneralRef(r) if in_text => {
                super::push_xml_ref(&mut para, &r).map_err(bad)?;
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let text = std::mem::take(&mut para);
                    match cell.as_mut() {
                        // Word splits a label over paragraphs: joined without a space.
                        Some(c) => c.0.push_str(text.trim()),
                        None => {
                            out.push_str(text.trim_end());
                            out.push('\n');
                        }
                    }
                }
                b"tc" => {
                    if let (Some(c), Some(t)) = (cell.take(), tables.last_mut()) {
                        if let Some(row) = t.rows.last_mut() {
                            row.push(c);
                        }
                    }
                }
                b"tbl" => {
                    let table = tables.pop().unwrap_or_default();
                    cell = cells_stack.pop().flatten();
                    match cell.as_mut() {
                        // A table inside a cell: its text joins the cell's.
                        Some(c) => {
                            for row in &table.rows {
                                for (text, _, _) in row {
                                    c.0.push_str(text);
                                }
                            }
                        }
                        None => write_table(&table, &mut out),
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn attr(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let key = a.key.local_name();
        (key.as_ref() == local)
            .then(|| a.unescape_value().ok().map(|v| v.into_owned()))
            .flatten()
    })
}

fn write_table(table: &TableState, out: &mut String) {
    for row in &table.rows {
        super::push_row(
            out,
            row.iter()
                .filter(|(_, _, continued)| !continued)
                .map(|(text, _, _)| text.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn docx(document: &str) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            z.start_file("word/document.xml", opts).expect("entry");
            z.write_all(document.as_bytes()).expect("write");
            z.finish().expect("finish");
        }
        buf.into_inner()
    }

    const W: &str = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"";

    #[test]
    fn paragraphs_and_merged_cells() {
        let doc = format!(
            "<w:document {W}><w:body>\
             <w:p><w:r><w:t>一、总体</w:t></w:r><w:r><w:t>情况 &amp; 说明</w:t></w:r></w:p>\
             <w:tbl><w:tr>\
               <w:tc><w:tcPr><w:vMerge w:val=\"restart\"/></w:tcPr><w:p><w:r><w:t>三、本年度办理结果</w:t></w:r></w:p></w:tc>\
               <w:tc><w:tcPr><w:gridSpan w:val=\"2\"/></w:tcPr><w:p><w:r><w:t>(一)予以</w:t></w:r></w:p><w:p><w:r><w:t>公开</w:t></w:r></w:p></w:tc>\
               <w:tc><w:p><w:r><w:t>5</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr>\
             <w:tr><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>\
               <w:tc><w:p><w:r><w:t>(三)不予公开</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>1.属于国家秘密</w:t></w:r></w:p></w:tc>\
               <w:tc><w:p><w:r><w:t>0</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>1</w:t></w:r></w:p></w:tc></w:tr>\
             </w:tbl></w:body></w:document>"
        );
        let text = to_text(&docx(&doc)).expect("text");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "一、总体情况 & 说明");
        assert_eq!(lines[1], "| 三、本年度办理结果 | (一)予以公开 | 5 |  |");
        assert_eq!(lines[2], "| (三)不予公开 | 1.属于国家秘密 | 0 | 1 |");
        assert!(is_docx(&docx(&doc)));
    }

    #[test]
    fn zip_bombs_and_broken_archives_are_errors() {
        let bomb = docx(&format!(
            "<w:document {W}>{}</w:document>",
            " ".repeat(20_000_000)
        ));
        assert!(matches!(to_text(&bomb), Err(ExtractError::TooLarge(_))));
        assert!(to_text(b"PK\x03\x04 not really").is_err());
        let mut buf = Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file("other.txt", zip::write::SimpleFileOptions::default())
                .expect("entry");
            z.finish().expect("finish");
        }
        assert!(!is_docx(&buf.into_inner()));
    }

    #[test]
    fn deeply_nested_tables_are_an_error() {
        let nested = |depth: usize| {
            docx(&format!(
                "<w:document {W}><w:body>{}<w:p><w:r><w:t>x</w:t></w:r></w:p>{}</w:body></w:document>",
                "<w:tbl><w:tr><w:tc>".repeat(depth),
                "</w:tc></w:tr></w:tbl>".repeat(depth)
            ))
        };
        assert_eq!(to_text(&nested(MAX_TABLE_DEPTH)).expect("text"), "| x |\n");
        let empty_tables = docx(&format!(
            "<w:document {W}><w:body>{}<w:p><w:r><w:t>x</w:t></w:r></w:p></w:body></w:document>",
            "<w:tbl/>".repeat(MAX_TABLE_DEPTH + 1)
        ));
        assert_eq!(to_text(&empty_tables).expect("text"), "x\n");
        let err = to_text(&nested(MAX_TABLE_DEPTH + 1)).expect_err("too deep");
        assert!(err.to_string().contains("nested"), "{err}");
    }
}
