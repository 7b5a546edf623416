//! Parsing: normalised report text → [`Report`].
//!
//! Deterministic and layout-agnostic: sections are found by their heading words, table rows by
//! their labels, numbers by what the tables' own identities allow. Nothing here is tuned to one
//! copy; what cannot be read is left empty and named in [`Report::warnings`].

pub(crate) mod cells;
mod claims;
pub use claims::{context as claim_context, Context as ClaimWords};
mod meta;
mod ocr;
pub use ocr::accept as accept_ocr;
mod sections;
mod tables;

use crate::budget;
use crate::error::ParseError;
use crate::model::{Report, Section, SectionKey, Template};

use tables::LineIndex;

/// Parses a report from its normalised text (see [`crate::extract::normalize`]).
pub fn parse(text: &str) -> Result<Report, ParseError> {
    let mut report = Report {
        text: text.to_string(),
        ..Report::default()
    };
    let li = LineIndex::new(text);
    let to_char = char_offsets(text);

    // Sections, ending the last one where the site footer starts.
    let headings = sections::find_headings(text);
    budget::check("finding the sections")?;
    let body_end = body_end(text, &headings);
    let bounds: Vec<(SectionKey, usize, usize, usize, String)> = headings
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let end = headings
                .get(i + 1)
                .map_or(body_end, |n| n.start)
                .max(h.body);
            (h.key, h.start, h.body, end, h.text.clone())
        })
        .collect();
    for (key, start, body, end, heading) in &bounds {
        report.sections.push(*key);
        report.section_text.push(Section {
            key: *key,
            heading: heading.clone(),
            text: text[*body..*end].trim().to_string(),
            start: to_char(*start),
            end: to_char(*end),
        });
    }
    let range = |key: SectionKey| {
        bounds
            .iter()
            .find(|b| b.0 == key)
            .map(|(_, _, body, end, _)| (*body, *end))
    };

    let mut spans = Vec::new();
    // Table 3 is the core; without it the copy is not a report we can audit.
    let (s3, e3) = range(SectionKey::Requests)
        .or_else(|| fallback_region(text, &bounds))
        .unwrap_or((0, body_end));
    let (s2, e2) = range(SectionKey::Proactive).unwrap_or((0, s3));

    // Each table's form, from the rows and columns it prints (real reports mix them); the
    // whole text's markers where a table's own region does not tell.
    let overall = tables::detect_template(text);
    let t3_form = text
        .get(s3..e3)
        .and_then(tables::detect_table3_template)
        .or(overall);
    let t2_form = text
        .get(s2..e2)
        .and_then(tables::detect_table2_template)
        .or(overall)
        .or(t3_form);
    budget::check("detecting the template")?;
    report.template = t3_form;
    report.table2_template = t2_form;
    if t3_form.is_none() {
        report
            .warnings
            .push("template: no marker of the 2019 or the 2021 template found".to_string());
    }
    let assumed = t3_form.unwrap_or(Template::Y2021);
    let assumed2 = t2_form.unwrap_or(assumed);

    let t3 = tables::read_table3(text, s3, e3, assumed, &li, &mut report.warnings);
    budget::check("reading table 3")?;
    let read_rows = t3
        .table
        .iter()
        .filter(|(k, _)| k.as_str() != "other" || assumed == Template::Y2019)
        .filter(|(_, r)| r.values().any(Option::is_some))
        .count();
    let expected_rows = crate::model::t3_rows(assumed).len();
    if headings.is_empty() && read_rows == 0 {
        return Err(ParseError::NotAReport(
            "no section heading and no table row of an annual report found".to_string(),
        ));
    }
    if read_rows * 2 < expected_rows {
        return Err(ParseError::Table3(format!(
            "only {read_rows} of {expected_rows} rows could be read (is the copy cut short?)"
        )));
    }
    spans.extend(t3.span);
    report.table3 = t3.table;
    report.raw_cells.insert("table3".to_string(), t3.raw);

    let t2 = tables::read_table2(text, s2, e2, assumed2, &li, &mut report.warnings);
    budget::check("reading table 2")?;
    spans.extend(t2.span);
    report.table2 = t2.table;
    report.raw_cells.insert("table2".to_string(), t2.raw);

    let (s4, e4) = range(SectionKey::ReviewLitigation).unwrap_or((e3, e3));
    let t4 = tables::read_table4(text, s4, e4, &li, &mut report.warnings);
    budget::check("reading table 4")?;
    spans.extend(t4.span);
    report.table4 = t4.table;
    report.raw_cells.insert("table4".to_string(), t4.raw);

    // Identity and particulars.
    let id = identify(text, || body_end);
    report.organization = id.organization;
    report.title = id.title;
    report.period = id.period;
    report.year = id.year;
    if report.organization.is_none() {
        report
            .warnings
            .push("organization: the issuer is not named in the copy".to_string());
    }
    report.contact = meta::contact(&text[..body_end]);
    report.published = meta::published(text);
    budget::check("reading the particulars")?;
    report.claims = claims::find(&text[..body_end], &spans, &report.section_text, &to_char);
    budget::check("finding the narrative's figures")?;
    Ok(report)
}

/// Where the report's body ends: where the site's footer starts after the last heading.
fn body_end(text: &str, headings: &[sections::Heading]) -> usize {
    let last_start = headings.last().map_or(0, |h| h.body);
    sections::footer_start(text, last_start).unwrap_or(text.len())
}

/// Who issued a report, for which year, under which title and period.
struct Identity {
    organization: Option<String>,
    title: Option<String>,
    period: Option<crate::model::Period>,
    year: Option<i32>,
}

/// The identity of the report in `text`; `body_end` gives where its body ends, asked only when
/// the title does not name the issuer.
fn identify(text: &str, body_end: impl FnOnce() -> usize) -> Identity {
    let title = meta::title(text);
    let organization = title
        .as_ref()
        .map(|t| t.0.clone())
        .or_else(|| meta::organization_from_body(&text[..body_end()], text))
        .map(|o| meta::expand_org(o, text));
    let period = meta::period(text);
    let year = title
        .as_ref()
        .map(|t| t.1)
        .or_else(|| period.as_ref().and_then(|p| p.end[..4].parse().ok()))
        .or_else(|| meta::year_from_body(text));
    Identity {
        organization,
        title: title.map(|t| t.2),
        period,
        year,
    }
}

/// The issuer and year [`parse`] finds in `text`, without reading its tables and figures (a
/// fraction of the time): what `check` needs to find each report's year before among the files
/// it was given. A text `parse` refuses may still have them.
pub fn identity(text: &str) -> (Option<String>, Option<i32>) {
    // A title naming the issuer (most reports) spares finding the sections and the body's end.
    let id = identify(text, || body_end(text, &sections::find_headings(text)));
    (id.organization, id.year)
}

/// Where to look for table 3 when its heading is missing: between the sections around it.
fn fallback_region(
    text: &str,
    bounds: &[(SectionKey, usize, usize, usize, String)],
) -> Option<(usize, usize)> {
    let start = bounds
        .iter()
        .filter(|b| b.0 < SectionKey::Requests)
        .map(|b| b.2)
        .max()
        .unwrap_or(0);
    let end = bounds
        .iter()
        .filter(|b| b.0 > SectionKey::Requests)
        .map(|b| b.1)
        .min()
        .unwrap_or(text.len());
    (start < end).then_some((start, end))
}

/// Maps byte offsets to character offsets (what scripts and readers count in).
fn char_offsets(text: &str) -> impl Fn(usize) -> usize + '_ {
    let mut prefix: Vec<(usize, usize)> = Vec::with_capacity(text.len() / 64 + 1);
    for (n, (b, _)) in text.char_indices().enumerate() {
        if n % 64 == 0 {
            prefix.push((b, n));
        }
    }
    move |byte: usize| {
        let idx = match prefix.binary_search_by_key(&byte, |p| p.0) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let (b0, n0) = prefix.get(idx).copied().unwrap_or((0, 0));
        let end = byte.min(text.len());
        n0 + text.get(b0..end).map_or(0, |s| s.chars().count())
    }
}
