//! Word 97–2003 (`.doc`) and WPS 文字 (`.wps`) files → the report's text.
//!
//! Both are OLE compound files; the `.wps` files of current WPS versions carry the same
//! `WordDocument` stream as Word's. The text is read through the piece table (the `Clx` of the
//! table stream: runs of the text in UTF-16 or in 8-bit characters, in any order in the file),
//! the main document's characters only (not headers, footnotes or comments). Field codes are
//! dropped and their results kept.
//!
//! Tables come out as the DOCX reader writes them, one row per line with ` | ` between cells:
//! Word ends each cell with a cell mark (0x07) and each row with a row mark, a 0x07 whose
//! paragraph has the "table terminating paragraph" property. The row mark's paragraph also
//! carries the row's cell definitions (`sprmTDefTable`, `sprmTVertMerge`), which tell the cells
//! that continue a vertical merge (left out, as the DOCX reader leaves `w:vMerge` continuations
//! out) and those merged into the cell before them (Word 97's horizontal merge, left out too).
//! A table inside a cell becomes text of that cell.
//!
//! Every offset is checked against the stream it points into: a damaged or hostile file is an
//! error, never a panic or an endless loop.

use std::io::{Cursor, Read};

use crate::error::ExtractError;

/// Largest stream read (the file is in memory already; this bounds what a stream may claim).
const MAX_STREAM: u64 = 64 * 1024 * 1024;
/// Most characters of main text read.
const MAX_CHARS: usize = 16 * 1024 * 1024;

/// The OLE compound file signature.
pub const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// What an OLE file that is no Word document holds, to say so.
pub fn ole_kind(bytes: &[u8]) -> Option<&'static str> {
    let file = cfb::CompoundFile::open(Cursor::new(bytes)).ok()?;
    let has = |name: &str| file.is_stream(name);
    if has("WordDocument") {
        None
    } else if has("Workbook") || has("Book") {
        Some("an Excel workbook (.xls)")
    } else if has("PowerPoint Document") {
        Some("a PowerPoint presentation (.ppt)")
    } else if has("MatOST") || has("CONTENTS") {
        Some("a Works or older WPS document without a Word text stream")
    } else {
        Some("an OLE compound file without a Word text stream (an older WPS format?)")
    }
}

/// A `.doc`/`.wps` that cannot be read.
fn bad(m: impl std::fmt::Display) -> ExtractError {
    ExtractError::Corrupt(format!("Word 97-2003/WPS: {m}"))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn stream(
    file: &mut cfb::CompoundFile<Cursor<&[u8]>>,
    name: &str,
) -> Result<Vec<u8>, ExtractError> {
    let s = file
        .open_stream(name)
        .map_err(|e| bad(format!("no {name} stream ({e})")))?;
    let mut out = Vec::new();
    s.take(MAX_STREAM + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{name}: {e}")))?;
    if out.len() as u64 > MAX_STREAM {
        return Err(ExtractError::TooLarge(format!(
            "a {name} stream of more than {MAX_STREAM} bytes"
        )));
    }
    Ok(out)
}

/// A run of the text: characters `cp..cp_end` stored at byte `fc`, 8-bit or UTF-16.
#[derive(Debug, Clone, Copy)]
struct Piece {
    cp: u32,
    cp_end: u32,
    fc: u32,
    compressed: bool,
}

/// The file information block: what is where.
struct Fib {
    ccp_text: u32,
    /// The table stream's name.
    table: &'static str,
    /// (fc, lcb) of the piece table and of the paragraph properties' bin table.
    clx: (u32, u32),
    papx: (u32, u32),
}

fn fib(word: &[u8]) -> Result<Fib, ExtractError> {
    let ident = u16_at(word, 0).ok_or_else(|| bad("no file information block"))?;
    if ident != 0xA5EC {
        return Err(bad(format!(
            "not a Word document (identifier {ident:#06x})"
        )));
    }
    let nfib = u16_at(word, 2).unwrap_or(0);
    if nfib < 101 {
        return Err(ExtractError::Unsupported(
            "a Word 6/95 document: save it as .docx or .doc (Word 97-2003)".to_string(),
        ));
    }
    let flags = u16_at(word, 0x0A).unwrap_or(0);
    if flags & 0x0100 != 0 {
        return Err(ExtractError::Encrypted(
            "an encrypted Word/WPS document: save it without a password".to_string(),
        ));
    }
    let table = if flags & 0x0200 != 0 {
        "1Table"
    } else {
        "0Table"
    };
    // FibBase (32 bytes), then csw and fibRgW, cslw and fibRgLw, cbRgFcLcb and fibRgFcLcb.
    let csw = usize::from(u16_at(word, 32).ok_or_else(|| bad("short FIB"))?);
    let lw = 34 + csw * 2;
    let cslw = usize::from(u16_at(word, lw).ok_or_else(|| bad("short FIB"))?);
    let rg_lw = lw + 2;
    let ccp_text = u32_at(word, rg_lw + 12).ok_or_else(|| bad("short FIB"))?;
    let fc_lcb = rg_lw + cslw * 4 + 2;
    let pair = |i: usize| -> Result<(u32, u32), ExtractError> {
        Ok((
            u32_at(word, fc_lcb + i * 8).ok_or_else(|| bad("short FIB"))?,
            u32_at(word, fc_lcb + i * 8 + 4).ok_or_else(|| bad("short FIB"))?,
        ))
    };
    Ok(Fib {
        ccp_text,
        table,
        papx: pair(13)?,
        clx: pair(33)?,
    })
}

/// The piece table from the `Clx` (skipping the property modifiers before it).
fn pieces(table: &[u8], (fc, lcb): (u32, u32)) -> Result<Vec<Piece>, ExtractError> {
    let start = fc as usize;
    let clx = table
        .get(start..start.saturating_add(lcb as usize))
        .ok_or_else(|| bad("the piece table lies outside the table stream"))?;
    let mut at = 0;
    while clx.get(at) == Some(&0x01) {
        let cb = usize::from(u16_at(clx, at + 1).ok_or_else(|| bad("short Prc"))?);
        at += 3 + cb;
    }
    if clx.get(at) != Some(&0x02) {
        return Err(bad("no piece table"));
    }
    let lcb = u32_at(clx, at + 1).ok_or_else(|| bad("short piece table"))? as usize;
    let plc = clx
        .get(at + 5..(at + 5).saturating_add(lcb))
        .ok_or_else(|| bad("short piece table"))?;
    // n + 1 character positions, then n piece descriptors of 8 bytes.
    if plc.len() < 4 || (plc.len() - 4) % 12 != 0 {
        return Err(bad("piece table of a wrong size"));
    }
    let n = (plc.len() - 4) / 12;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let cp = u32_at(plc, i * 4).unwrap_or(0);
        let cp_end = u32_at(plc, (i + 1) * 4).unwrap_or(0);
        let pcd = 4 * (n + 1) + i * 8;
        let raw = u32_at(plc, pcd + 2).unwrap_or(0);
        let compressed = raw & 0x4000_0000 != 0;
        let fc = if compressed {
            (raw & !0x4000_0000) / 2
        } else {
            raw
        };
        if cp_end < cp {
            return Err(bad("piece table out of order"));
        }
        out.push(Piece {
            cp,
            cp_end,
            fc,
            compressed,
        });
    }
    Ok(out)
}

/// The 8-bit characters of compressed pieces (Windows-1252, as Word writes them).
fn compressed_char(b: u8) -> char {
    let byte = [b];
    let (c, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
    c.chars().next().unwrap_or('\u{fffd}')
}

/// A character of the main text and the file position of its byte(s).
struct Char {
    c: u16,
    fc: u32,
}

/// The main document's characters, in order.
fn characters(word: &[u8], pieces: &[Piece], ccp_text: u32) -> Result<Vec<Char>, ExtractError> {
    let mut out = Vec::new();
    for p in pieces {
        if p.cp >= ccp_text {
            break;
        }
        let end = p.cp_end.min(ccp_text);
        for i in 0..(end - p.cp) {
            if out.len() >= MAX_CHARS {
                return Err(ExtractError::TooLarge(format!(
                    "a Word document of more than {MAX_CHARS} characters"
                )));
            }
            let (c, fc) = if p.compressed {
                let fc = p.fc.saturating_add(i);
                let b = *word
                    .get(fc as usize)
                    .ok_or_else(|| bad("text outside the document stream"))?;
                let c = compressed_char(b);
                (u16::try_from(u32::from(c)).unwrap_or(0xFFFD), fc)
            } else {
                let fc = p.fc.saturating_add(i.saturating_mul(2));
                (
                    u16_at(word, fc as usize)
                        .ok_or_else(|| bad("text outside the document stream"))?,
                    fc,
                )
            };
            out.push(Char { c, fc });
            if out.len() % 65_536 == 0 {
                crate::budget::check("reading the Word document's text")?;
            }
        }
    }
    Ok(out)
}

/// What a paragraph's properties say of tables.
#[derive(Debug, Default, Clone)]
struct Para {
    /// Table depth (0: not in a table).
    depth: u32,
    /// The row mark of a row at `depth`.
    row_end: bool,
    /// The row's cells (at a row mark): (left out of the output, continuing a merge).
    cells: Vec<bool>,
}

/// The paragraph properties: for each FKP run, the file range and its properties.
struct Papx {
    runs: Vec<(u32, u32, Para)>,
}

impl Papx {
    fn read(word: &[u8], table: &[u8], data: &[u8], (fc, lcb): (u32, u32)) -> Papx {
        let mut runs = Vec::new();
        let plc = table
            .get(fc as usize..(fc as usize).saturating_add(lcb as usize))
            .unwrap_or(&[]);
        // n + 1 file positions, then n page numbers.
        let n = plc.len().saturating_sub(4) / 8;
        for i in 0..n {
            let Some(pn) = u32_at(plc, 4 * (n + 1) + i * 4) else {
                continue;
            };
            let base = (pn as usize).saturating_mul(512);
            let Some(page) = word.get(base..base.saturating_add(512)) else {
                continue;
            };
            let crun = usize::from(page[511]);
            for r in 0..crun {
                let (Some(start), Some(end)) = (u32_at(page, r * 4), u32_at(page, (r + 1) * 4))
                else {
                    continue;
                };
                let bx = 4 * (crun + 1) + r * 13;
                let Some(&offset) = page.get(bx) else {
                    continue;
                };
                let para = if offset == 0 {
                    Para::default()
                } else {
                    papx_in_fkp(page, usize::from(offset) * 2, data)
                };
                runs.push((start, end, para));
            }
        }
        runs.sort_by_key(|r| r.0);
        Papx { runs }
    }

    /// The properties of the paragraph whose mark is at `fc`.
    fn at(&self, fc: u32) -> Para {
        let i = self.runs.partition_point(|r| r.0 <= fc);
        match i.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some((start, end, p)) if *start <= fc && fc < *end => p.clone(),
            _ => Para::default(),
        }
    }
}

/// A paragraph's properties in a formatted disk page.
fn papx_in_fkp(page: &[u8], at: usize, data: &[u8]) -> Para {
    let Some(&cb) = page.get(at) else {
        return Para::default();
    };
    let (start, len) = if cb == 0 {
        let Some(&cb2) = page.get(at + 1) else {
            return Para::default();
        };
        (at + 2, usize::from(cb2) * 2)
    } else {
        (at + 1, usize::from(cb) * 2 - 1)
    };
    let Some(grpprl_istd) = page.get(start..start.saturating_add(len).min(page.len())) else {
        return Para::default();
    };
    // The style index, then the properties.
    grpprl(grpprl_istd.get(2..).unwrap_or(&[]), data)
}

/// What a paragraph's property modifiers set, as they are read.
#[derive(Default)]
struct Sprms {
    para: Para,
    in_table: bool,
    ttp: bool,
    inner_ttp: bool,
    merges: Vec<(usize, u8)>,
}

/// Reads a list of property modifiers (sprms) for what concerns tables; `data` is the Data
/// stream, where a paragraph's properties too large for their page are kept (`sprmPHugePapx`).
fn grpprl(b: &[u8], data: &[u8]) -> Para {
    let mut s = Sprms::default();
    read_sprms(b, data, &mut s, true);
    let Sprms {
        mut para,
        in_table,
        ttp,
        inner_ttp,
        merges,
    } = s;
    if para.depth == 0 && in_table {
        para.depth = 1;
    }
    para.row_end = ttp || inner_ttp;
    for (itc, flag) in merges {
        if let Some(c) = para.cells.get_mut(itc) {
            // 1: continues the merge of the cell above.
            *c = flag == 1;
        }
    }
    para
}

fn read_sprms(mut b: &[u8], data: &[u8], s: &mut Sprms, follow_huge: bool) {
    while b.len() >= 2 {
        let sprm = u16::from_le_bytes([b[0], b[1]]);
        let spra = sprm >> 13;
        let rest = &b[2..];
        let size = match spra {
            0 | 1 => 1,
            2 | 4 | 5 => 2,
            3 => 4,
            7 => 3,
            _ => match sprm {
                // sprmTDefTable: a two-byte size that counts itself.
                0xD608 | 0xD606 => usize::from(u16_at(rest, 0).unwrap_or(0)) + 1,
                // sprmPChgTabs: a one-byte size, 255 meaning a longer form.
                0xC615 if rest.first() == Some(&255) => {
                    let del = usize::from(*rest.get(1).unwrap_or(&0));
                    let add_at = 2 + del * 4;
                    let add = usize::from(*rest.get(add_at).unwrap_or(&0));
                    add_at + 1 + add * 3
                }
                _ => usize::from(*rest.first().unwrap_or(&0)) + 1,
            },
        };
        let Some(operand) = rest.get(..size) else {
            break;
        };
        match sprm {
            0x2416 => s.in_table = operand[0] != 0,
            0x2417 => s.ttp = operand[0] != 0,
            0x244C => s.inner_ttp = operand[0] != 0,
            0x6649 => s.para.depth = u32_at(operand, 0).unwrap_or(0),
            0xD608 => s.para.cells = def_table(operand.get(2..).unwrap_or(&[])),
            0xD62B => {
                if let (Some(&itc), Some(&flag)) = (operand.get(1), operand.get(2)) {
                    s.merges.push((usize::from(itc), flag));
                }
            }
            // sprmPHugePapx: the rest of the properties are in the Data stream (once: the
            // properties there cannot send the reader on again).
            0x6646 | 0x6645 if follow_huge => {
                let at = u32_at(operand, 0).unwrap_or(u32::MAX) as usize;
                if let Some(cb) = u16_at(data, at) {
                    let start = at + 2;
                    if let Some(more) = data.get(start..start.saturating_add(usize::from(cb))) {
                        read_sprms(more, data, s, false);
                    }
                }
            }
            _ => {}
        }
        b = &rest[size..];
    }
}

/// `sprmTDefTable`'s cells: whether each is left out (continuing a vertical merge, or merged
/// into the cell before it).
fn def_table(op: &[u8]) -> Vec<bool> {
    let Some(&n) = op.first() else {
        return Vec::new();
    };
    let n = usize::from(n);
    let tcs = 1 + (n + 1) * 2;
    (0..n)
        .map(|i| {
            let flags = u16_at(op, tcs + i * 20).unwrap_or(0);
            let merged = flags & 0x0002 != 0;
            let vert_merge = flags & 0x0020 != 0;
            let vert_restart = flags & 0x0040 != 0;
            merged || (vert_merge && !vert_restart)
        })
        .collect()
}

/// The document's text.
pub fn to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    if !file.is_stream("WordDocument") {
        return Err(ExtractError::Unsupported(
            ole_kind(bytes)
                .unwrap_or("an OLE compound file without a Word text stream")
                .to_string(),
        ));
    }
    let word = stream(&mut file, "WordDocument")?;
    let fib = fib(&word)?;
    if fib.ccp_text == 0 {
        return Err(ExtractError::NoText(
            "the Word document has no text (macros or objects only?)".to_string(),
        ));
    }
    let table = stream(&mut file, fib.table)?;
    let pieces = pieces(&table, fib.clx)?;
    let chars = characters(&word, &pieces, fib.ccp_text)?;
    // Paragraph properties too large for their page are kept in the Data stream.
    let data = if file.is_stream("Data") {
        stream(&mut file, "Data")?
    } else {
        Vec::new()
    };
    let papx = Papx::read(&word, &table, &data, fib.papx);
    crate::budget::check("reading the Word document's paragraphs")?;
    Ok(assemble(&chars, &papx))
}

/// The text with tables as rows of cells.
fn assemble(chars: &[Char], papx: &Papx) -> String {
    let mut out = String::new();
    let mut para = String::new();
    // The current row's cells, and the current cell's text.
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    // Field nesting: inside a field's code (before its separator) characters are dropped.
    let mut fields: Vec<bool> = Vec::new();
    let units: Vec<u16> = chars.iter().map(|c| c.c).collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].c;
        match c {
            0x13 => fields.push(true),
            0x14 => {
                if let Some(f) = fields.last_mut() {
                    *f = false;
                }
            }
            0x15 => {
                fields.pop();
            }
            _ if fields.iter().any(|in_code| *in_code) => {}
            0x0D | 0x07 | 0x0C => {
                let p = papx.at(chars[i].fc);
                if p.depth == 0 || c == 0x0C {
                    if !row.is_empty() || !cell.is_empty() {
                        // A table that ends without its row mark (damaged): its cells as a row.
                        row.push(std::mem::take(&mut cell));
                        write_row(&mut out, &std::mem::take(&mut row), &[]);
                    }
                    out.push_str(para.trim_end());
                    out.push('\n');
                    para.clear();
                } else if p.depth > 1 {
                    // A table inside a cell: its text joins the cell's.
                    if !para.is_empty() {
                        cell.push_str(para.trim());
                        cell.push(' ');
                        para.clear();
                    }
                } else if p.row_end {
                    para.clear();
                    write_row(&mut out, &std::mem::take(&mut row), &p.cells);
                } else {
                    // Word splits a label over paragraphs: joined without a space.
                    cell.push_str(para.trim());
                    para.clear();
                    if c == 0x07 {
                        row.push(std::mem::take(&mut cell));
                    }
                }
            }
            0x0B => para.push('\n'),
            0x1E => para.push('-'),
            0x09 => para.push('\t'),
            // Objects, footnote and comment marks, optional hyphens, other control characters.
            c if c < 0x20 || c == 0x1F => {}
            _ => {
                // Surrogate pairs are read together.
                let end = (i + 2).min(units.len());
                let mut decoded = char::decode_utf16(units[i..end].iter().copied());
                match decoded.next() {
                    Some(Ok(ch)) => {
                        para.push(ch);
                        if ch.len_utf16() == 2 {
                            i += 1;
                        }
                    }
                    _ => para.push('\u{fffd}'),
                }
            }
        }
        i += 1;
    }
    if !row.is_empty() || !cell.is_empty() {
        row.push(cell);
        write_row(&mut out, &row, &[]);
    }
    out.push_str(para.trim_end());
    out
}

/// A table row as the DOCX reader writes it: `| a | b |`, the cells that continue a merge left
/// out, an empty row not at all.
fn write_row(out: &mut String, row: &[String], left_out: &[bool]) {
    super::push_row(
        out,
        row.iter()
            .enumerate()
            .filter(|(i, _)| !left_out.get(*i).copied().unwrap_or(false))
            .map(|(_, c)| c.as_str()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_files_are_errors_not_panics() {
        assert!(to_text(b"not an OLE file").is_err());
        let mut ole = OLE_MAGIC.to_vec();
        ole.extend(std::iter::repeat_n(0xFF, 600));
        assert!(to_text(&ole).is_err());
    }

    #[test]
    fn damaged_copies_of_a_real_document_never_panic() {
        let original = include_bytes!("../../tests/fixtures/generated/002_51f17e08e942b61d.doc");
        assert!(to_text(original).is_ok_and(|t| t.contains("| 行政复议 |")));
        // Every 7th byte in turn set to 0xFF, 0x00 and flipped: errors or other text, no panic.
        let mut x: u32 = 12345;
        for at in (0..original.len()).step_by(7) {
            let mut copy = original.to_vec();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            copy[at] = match x % 3 {
                0 => 0xFF,
                1 => 0x00,
                _ => !copy[at],
            };
            let _ = to_text(&copy);
        }
        // Cut short anywhere.
        for len in (0..original.len()).step_by(997) {
            let _ = to_text(&original[..len]);
        }
    }

    #[test]
    fn a_sprm_list_tells_table_rows_and_merged_cells() {
        // sprmPFInTable 1, sprmPFTtp 1, sprmTDefTable with three cells, the second continuing a
        // vertical merge, the third merged into the second.
        let mut def = vec![3u8];
        def.extend([0u8; 8]); // four boundaries
        for flags in [0u16, 0x0020, 0x0002] {
            def.extend(flags.to_le_bytes());
            def.extend([0u8; 18]);
        }
        let mut g = vec![0x16, 0x24, 1, 0x17, 0x24, 1, 0x08, 0xD6];
        g.extend(((def.len() + 1) as u16).to_le_bytes());
        g.extend(&def);
        let p = grpprl(&g, &[]);
        assert_eq!(p.depth, 1);
        assert!(p.row_end);
        assert_eq!(p.cells, [false, true, true]);
        // sprmTVertMerge restarts the second cell's merge.
        g.extend([0x2B, 0xD6, 2, 1, 3]);
        assert_eq!(grpprl(&g, &[]).cells, [false, false, true]);
        // A cut list ends the reading, not the program.
        assert_eq!(grpprl(&[0x08, 0xD6, 0xFF], &[]).cells, Vec::<bool>::new());
        // The row mark's properties kept in the Data stream (sprmPHugePapx), read once.
        let mut data = vec![0u8; 3];
        data.extend(((g.len()) as u16).to_le_bytes());
        data.extend(&g);
        let huge = grpprl(&[0x46, 0x66, 3, 0, 0, 0], &data);
        assert!(huge.row_end);
        assert_eq!(huge.cells, [false, false, true]);
    }
}
