//! Text PDFs → the report's text, through poppler's `pdftotext`.
//!
//! Government PDFs often use CJK fonts encoded with `UniGB-UCS2-H`, which pure-Rust extractors
//! mishandle; poppler reads them. Pages without a table keep poppler's `-layout` text; pages
//! with one are rebuilt from the word boxes of `-bbox-layout` ([`tables`]), so that each number
//! is read in the column it is printed in, whatever the header's wrapping or the page breaks.
//! The tool runs as a separate process with a time limit, a page limit, a memory limit and an
//! output cap, so a hostile PDF cannot stall or exhaust the daemon. A PDF whose pages carry no
//! text (a scan) is reported as such, never guessed.

mod tables;

use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::ExtractError;

/// The extractor, found on PATH.
const PDFTOTEXT: &str = "pdftotext";
/// Pages read at most.
pub const MAX_PAGES: usize = 300;
/// Text kept at most.
const MAX_OUTPUT: u64 = 32 * 1024 * 1024;
/// Address space the extractor may use: a PDF built to exhaust memory ends its process only.
const MAX_MEMORY: libc::rlim_t = 1 << 30;
/// Time one PDF may take, both pdftotext runs together (less when the report's budget has less
/// left).
const TIMEOUT: Duration = Duration::from_secs(60);

/// The text of a PDF, and whether pages were left unread.
pub struct PdfText {
    pub text: String,
    /// The PDF has more than [`MAX_PAGES`] pages; the rest were not read.
    pub truncated: bool,
    /// The pages are images only and were read by OCR.
    pub ocr: bool,
    /// What the reader should know about the text.
    pub warnings: Vec<String>,
}

/// The text of a PDF's first [`MAX_PAGES`] pages.
pub fn to_text(bytes: &[u8]) -> Result<PdfText, ExtractError> {
    let start = Instant::now();
    let out = run(bytes, "-layout", start)?;
    // pdftotext ends every page with a form feed.
    let mut out = out;
    let ends: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == 0x0c)
        .map(|(i, _)| i)
        .take(MAX_PAGES + 1)
        .collect();
    let truncated = ends.len() > MAX_PAGES;
    if let Some(&end) = ends.get(MAX_PAGES - 1).filter(|_| truncated) {
        out.truncate(end + 1);
    }
    let layout = String::from_utf8_lossy(&out);
    if layout.trim().is_empty() {
        // A scan: its pages hold images only.
        let (text, warnings) = super::ocr::to_text(bytes, ends.len().min(MAX_PAGES))?;
        return Ok(PdfText {
            text,
            truncated,
            ocr: true,
            warnings,
        });
    }
    let text = with_tables(bytes, &layout, start)?;
    Ok(PdfText {
        text,
        truncated,
        ocr: false,
        warnings: Vec::new(),
    })
}

/// The layout text with each page that holds a table rebuilt from its word boxes. Word boxes
/// that cannot be had (or do not match the pages) leave the layout text as it is.
fn with_tables(bytes: &[u8], layout: &str, start: Instant) -> Result<String, ExtractError> {
    let boxes = match run(bytes, "-bbox-layout", start).and_then(|xml| tables::parse_pages(&xml)) {
        Ok(b) => Some(b),
        Err(e) => {
            // Out of budget is the report's end; anything else leaves the layout text.
            crate::budget::check("reading the PDF's word boxes")?;
            tracing::warn!(error = %e, "PDF word boxes unreadable; tables read from layout text");
            None
        }
    };
    rebuild(layout, boxes)
}

/// The text of a PDF from pdftotext's two outputs, the `-layout` text and the `-bbox-layout`
/// XML, as [`to_text`] makes it. Lets a PDF's words be altered without making a new PDF.
pub fn text_from_outputs(layout: &str, bbox_xml: &[u8]) -> Result<String, ExtractError> {
    rebuild(layout, Some(tables::parse_pages(bbox_xml)?))
}

/// The layout text, each page that holds a table rebuilt from its word boxes (`None`: no word
/// boxes, the layout text as it is).
fn rebuild(layout: &str, boxes: Option<Vec<Vec<tables::Word>>>) -> Result<String, ExtractError> {
    let mut pages: Vec<&str> = layout.split('\u{c}').collect();
    // The text after the last form feed is not a page.
    if pages.len() > 1 {
        pages.pop();
    }
    let Some(boxes) = boxes else {
        return Ok(pages.join("\n"));
    };
    if boxes.len() < pages.len() {
        tracing::warn!(
            pages = pages.len(),
            boxes = boxes.len(),
            "PDF word boxes do not match the pages; tables read from layout text"
        );
        return Ok(pages.join("\n"));
    }
    let mut out = String::with_capacity(layout.len());
    let mut header: Option<String> = None;
    let mut columns: Vec<(f64, f64)> = Vec::new();
    for (page, words) in pages.iter().zip(&boxes) {
        crate::budget::check("reading the PDF's tables")?;
        match tables::page_text(words, header.as_deref(), &columns) {
            Some(rebuilt) => {
                out.push_str(&rebuilt.text);
                header = rebuilt.last_header;
                columns = rebuilt.last_columns;
            }
            None => {
                out.push_str(page);
                // A page without a table ends whatever table ran before it.
                header = None;
                columns.clear();
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// Runs pdftotext with `mode` (`-layout` or `-bbox-layout`) on the first [`MAX_PAGES`] pages
/// (and one more, to tell whether there are more), within the limits ([`TIMEOUT`] counted from
/// `start`); its raw output.
fn run(bytes: &[u8], mode: &str, start: Instant) -> Result<Vec<u8>, ExtractError> {
    let mut command = Command::new(PDFTOTEXT);
    command.args([
        mode,
        "-enc",
        "UTF-8",
        "-l",
        // One page more than is read: tells whether there are more.
        &(MAX_PAGES + 1).to_string(),
        "-",
        "-",
    ]);
    let timeout = TIMEOUT.saturating_sub(start.elapsed());
    let super::child::Filtered { status, out, over } = super::child::filter(
        &mut command,
        bytes,
        MAX_MEMORY,
        MAX_OUTPUT,
        timeout,
        "running pdftotext",
        |e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ExtractError::Unsupported(
                    "PDF: the PDF reader pdftotext is not installed (Debian package poppler-utils)"
                        .to_string(),
                )
            } else {
                ExtractError::Corrupt(format!("PDF: cannot start pdftotext: {e}"))
            }
        },
        || {
            ExtractError::TooLarge(format!(
                "PDF: text extraction took longer than {} s",
                TIMEOUT.as_secs()
            ))
        },
    )?;
    if !status.success() {
        return Err(ExtractError::Corrupt(
            "PDF: pdftotext could not read the file (damaged or encrypted?)".to_string(),
        ));
    }
    if over {
        return Err(ExtractError::TooLarge(format!(
            "PDF: more than {MAX_OUTPUT} bytes of text"
        )));
    }
    Ok(out)
}
