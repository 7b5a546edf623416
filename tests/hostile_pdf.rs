//! A PDF with 10,000 pages: the extractor reads only the first 300 (its page cap), quickly, and a
//! running daemon quarantines it with a reason while the real reports dropped around it are
//! stored with their findings and memory stays bounded.

mod common;

use std::io::Write as _;
use std::time::{Duration, Instant};

use common::{seed, wait_for, walk, Daemon, RULE_ALWAYS};

/// Pages in the hostile PDF.
const PAGES: usize = 10_000;
/// Kids per intermediate Pages node: 100 nodes of 100 pages, no Kids array longer than 100.
const FANOUT: usize = 100;
/// Pages `pdf::to_text` reads at most (`MAX_PAGES` in src/extract/pdf.rs).
const PAGE_CAP: usize = 300;

/// A plain PDF 1.4 of `pages` pages in a two-level page tree (`fanout` pages per intermediate
/// node), sharing one Helvetica font; page N shows the text `page N`.
fn many_page_pdf(pages: usize, fanout: usize) -> Vec<u8> {
    let nodes = pages.div_ceil(fanout);
    // Objects: 1 catalog, 2 root Pages, 3 font, then the intermediate Pages nodes, then one
    // (page, content stream) pair per page. Object 0 is the free-list head.
    let first_node = 4;
    let first_page = first_node + nodes;
    let size = first_page + 2 * pages;
    let mut out: Vec<u8> = Vec::with_capacity(pages * 300);
    let mut offsets = vec![0usize; size];
    out.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let mut object = |out: &mut Vec<u8>, n: usize, body: &str| {
        offsets[n] = out.len();
        write!(out, "{n} 0 obj\n{body}\nendobj\n").expect("write");
    };
    object(&mut out, 1, "<< /Type /Catalog /Pages 2 0 R >>");
    let kids: Vec<String> = (0..nodes)
        .map(|i| format!("{} 0 R", first_node + i))
        .collect();
    object(
        &mut out,
        2,
        &format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
    );
    object(
        &mut out,
        3,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    );
    for node in 0..nodes {
        let range = node * fanout..((node + 1) * fanout).min(pages);
        let count = range.len();
        let kids: Vec<String> = range
            .map(|p| format!("{} 0 R", first_page + 2 * p))
            .collect();
        object(
            &mut out,
            first_node + node,
            &format!(
                "<< /Type /Pages /Parent 2 0 R /Kids [{}] /Count {count} >>",
                kids.join(" ")
            ),
        );
    }
    for p in 0..pages {
        let (page, content) = (first_page + 2 * p, first_page + 2 * p + 1);
        object(
            &mut out,
            page,
            &format!(
                "<< /Type /Page /Parent {} 0 R /MediaBox [0 0 200 50] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>",
                first_node + p / fanout
            ),
        );
        let stream = format!("BT /F1 12 Tf 10 20 Td (page {}) Tj ET", p + 1);
        object(
            &mut out,
            content,
            &format!(
                "<< /Length {} >>\nstream\n{stream}\nendstream",
                stream.len()
            ),
        );
    }
    let xref = out.len();
    // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, EOL.
    write!(out, "xref\n0 {size}\n0000000000 65535 f \n").expect("write");
    for offset in &offsets[1..] {
        writeln!(out, "{offset:010} 00000 n ").expect("write");
    }
    write!(
        out,
        "trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    )
    .expect("write");
    out
}

/// The 10,000-page PDF, with how long it took to make.
fn big_pdf() -> Vec<u8> {
    let start = Instant::now();
    let pdf = many_page_pdf(PAGES, FANOUT);
    let took = start.elapsed();
    eprintln!(
        "generated a {PAGES}-page PDF of {} bytes in {took:?}",
        pdf.len()
    );
    assert!(took < Duration::from_secs(1), "generation took {took:?}");
    pdf
}

#[test]
fn the_generator_writes_a_pdf_poppler_reads_page_by_page() {
    // A small one, checked through pdftotext itself: every page present, each with its text.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("small.pdf");
    std::fs::write(&path, many_page_pdf(7, 3)).expect("write");
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let pages: Vec<&str> = text.split('\u{c}').map(str::trim).collect();
    assert_eq!(
        pages,
        ["page 1", "page 2", "page 3", "page 4", "page 5", "page 6", "page 7", ""]
    );
}

#[test]
fn the_library_reads_only_the_first_300_pages_of_a_10000_page_pdf() {
    let pdf = big_pdf();
    let start = Instant::now();
    let extracted = ogi_audit::extract::extract_bytes(&pdf).expect("the PDF is read");
    let took = start.elapsed();
    eprintln!(
        "extracted {} bytes of text in {took:?}",
        extracted.text.len()
    );
    assert_eq!(extracted.format, "pdf");
    assert_eq!(extracted.encoding, "UTF-8");
    // Exactly pages 1..=300, in order, one line each: the page cap holds, and nothing is lost
    // or reordered below it. (Whole lines, since "page 3000" contains "page 300".)
    let lines: Vec<&str> = extracted
        .text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let expected: Vec<String> = (1..=PAGE_CAP).map(|n| format!("page {n}")).collect();
    assert_eq!(lines, expected);
    assert!(!extracted.text.contains("page 301"));
    assert!(!extracted.text.contains("page 10000"));
    // And the reader is told.
    assert_eq!(
        extracted.warnings,
        ["PDF: only the first 300 pages were read; the rest is not audited"]
    );
    // Reading 300 of the pages takes a fraction of the 60 s extraction timeout.
    assert!(took < Duration::from_secs(10), "extraction took {took:?}");

    // Through the whole pipeline the text is read but is no annual report: unparseable, with
    // the parser's reason.
    let outcome = ogi_audit::pipeline::read_bytes(std::path::Path::new("big.pdf"), &pdf);
    assert_eq!(outcome.status, ogi_audit::pipeline::Status::Unparseable);
    assert_eq!(outcome.format.as_deref(), Some("pdf"));
    let reason = outcome.error.expect("a reason");
    eprintln!("pipeline reason: {reason}");
    assert!(
        reason.starts_with("not an annual report on government information disclosure"),
        "{reason}"
    );
    assert!(
        reason.ends_with("(PDF: only the first 300 pages were read; the rest is not audited)"),
        "{reason}"
    );
}

#[test]
fn a_pdf_of_exactly_300_pages_is_read_whole_without_a_warning() {
    let pdf = many_page_pdf(PAGE_CAP, FANOUT);
    let extracted = ogi_audit::extract::extract_bytes(&pdf).expect("the PDF is read");
    assert!(extracted.warnings.is_empty(), "{:?}", extracted.warnings);
    let last = extracted
        .text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty());
    assert_eq!(last, Some("page 300"));
}

#[test]
fn a_10000_page_pdf_is_quarantined_and_real_reports_keep_flowing() {
    let pdf = big_pdf();
    let mut d = Daemon::start_full(&[("always.rhai", RULE_ALWAYS)], "", "");

    let start = Instant::now();
    d.drop_file(&seed("001"), "before.txt");
    // Written next to the inbox and moved in whole.
    let staging = d.path("staging");
    std::fs::create_dir_all(&staging).expect("staging");
    std::fs::write(staging.join("big.pdf"), &pdf).expect("write");
    std::fs::rename(staging.join("big.pdf"), d.path("inbox/big.pdf")).expect("move in");
    d.drop_file(&seed("002"), "after.txt");

    // Done: three rows, an empty inbox, and the quarantine note (written after the move) there.
    wait_for(Duration::from_secs(90), || {
        d.count("SELECT COUNT(*) FROM reports") >= 3
            && d.inbox_files() == 0
            && walk(&d.path("quarantine")).iter().any(|p| {
                p.to_string_lossy().ends_with(".reason.txt")
                    && std::fs::read_to_string(p).is_ok_and(|t| t.contains("report id:"))
            })
    });
    eprintln!("three reports done in {:?}", start.elapsed());
    assert!(d.running(), "daemon exited");

    // The PDF's row: unparseable, with a reason, and no findings.
    let sha = ogi_audit::pipeline::sha256_hex(&pdf);
    let (status, error, encoding): (String, Option<String>, Option<String>) = d
        .db()
        .query_row(
            "SELECT status, error, encoding FROM reports WHERE sha256 = ?1",
            [&sha],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the PDF's row");
    let error = error.unwrap_or_default();
    eprintln!("stored reason: {error}");
    assert_eq!(status, "unparseable");
    assert!(
        error.starts_with("not an annual report on government information disclosure"),
        "{error}"
    );
    assert!(
        error.contains("only the first 300 pages were read"),
        "{error}"
    );
    // The text was extracted (as UTF-8 from pdftotext) before the parser refused it.
    assert_eq!(encoding.as_deref(), Some("UTF-8"));
    assert_eq!(
        d.count(&format!(
            "SELECT COUNT(*) FROM findings f JOIN reports r ON f.report_id = r.id \
             WHERE r.sha256 = '{sha}'"
        )),
        0
    );

    // It is in quarantine, whole, beside a reason naming it.
    let quarantined = walk(&d.path("quarantine"));
    let kept: Vec<_> = quarantined
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    assert_eq!(kept.len(), 1, "{quarantined:#?}");
    assert_eq!(std::fs::read(kept[0]).expect("quarantined PDF"), pdf);
    let reasons: Vec<String> = quarantined
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".reason.txt"))
        .map(|p| std::fs::read_to_string(p).expect("reason"))
        .collect();
    assert_eq!(reasons.len(), 1, "{quarantined:#?}");
    assert!(reasons[0].starts_with(&error), "{}", reasons[0]);
    assert!(reasons[0].contains("big.pdf"), "{}", reasons[0]);

    // Both real reports, before and after it, are parsed with the always-rule's finding.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM reports WHERE status = 'parsed'"),
        2
    );
    assert_eq!(d.parsed_with_finding("always"), 2);
    assert_eq!(walk(&d.path("archive")).len(), 2);

    let peak = d.peak_rss_kb();
    eprintln!("daemon peak RSS (VmHWM): {peak} kB");
    assert!(peak < 400 * 1024, "peak RSS {peak} kB");
}
