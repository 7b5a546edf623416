//! Numeric claims of the narrative: every "N件/条/起/个/项/次/篇" and "N%" with its sentence, so
//! rules can hold the text against the tables.

use crate::model::{Claim, Section};

const UNITS: [&str; 10] = ["%", "人次", "件", "条", "起", "个", "项", "次", "篇", "家"];

/// The claims of a text, as byte ranges (`58件`, `99.84%`): a number, optional spaces, a unit.
/// Hand-written: digits are rare in a report, so jumping from digit to digit beats a regex that
/// has to look at every byte.
fn claim_spans(text: &str) -> Vec<(usize, usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(p) = b[i..].iter().position(u8::is_ascii_digit) {
        let start = i + p;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let num_end = j;
        let mut k = j;
        while k < b.len() && matches!(b[k], b' ' | b'\t' | b'\n' | b'\r') {
            k += 1;
        }
        if let Some(u) = UNITS.iter().find(|u| text[k..].starts_with(**u)) {
            out.push((start, num_end, k + u.len()));
            i = k + u.len();
        } else {
            i = num_end.max(start + 1);
        }
    }
    out
}

/// Where a sentence ends for the words around a claim (a line break does not end it: copies
/// from PDFs break lines mid-sentence; a blank line does).
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | ';' | '!' | '?')
}

/// How many characters of context are kept at most.
const CONTEXT_CHARS: usize = 200;

/// The last character of the context met walking `chars` away from a number: the walk stops at a
/// sentence end, a blank line or after `CONTEXT_CHARS` characters.
fn context_edge(chars: impl Iterator<Item = (usize, char)>) -> Option<(usize, char)> {
    let mut edge = None;
    let mut newlines = 0;
    for (n, (i, c)) in chars.enumerate() {
        if n >= CONTEXT_CHARS || ends_sentence(c) {
            break;
        }
        if c == '\n' {
            newlines += 1;
            if newlines >= 2 {
                break;
            }
        } else if !c.is_whitespace() {
            newlines = 0;
        }
        edge = Some((i, c));
    }
    edge
}

fn context_before(text: &str) -> String {
    let start = context_edge(text.char_indices().rev()).map_or(text.len(), |(i, _)| i);
    crate::extract::compact(&text[start..])
}

fn context_after(text: &str) -> String {
    let end = context_edge(text.char_indices()).map_or(0, |(i, c)| i + c.len_utf8());
    crate::extract::compact(&text[..end])
}

/// The words around a claim: what [`Claim::before`], `after`, `phrase` and `sentence` hold.
pub struct Context {
    pub before: String,
    pub after: String,
    pub phrase: String,
    pub sentence: String,
}

/// The words around the claim at bytes `num_start..end` of `text` (the number and its unit).
/// The store keeps claims without them and has them made again from the text.
pub fn context(text: &str, num_start: usize, end: usize) -> Context {
    let before = context_before(&text[..num_start]);
    let after = context_after(&text[end..]);
    let phrase_start = before.rfind([',', ':']).map_or(0, |i| i + 1);
    let compact = crate::extract::compact(&text[num_start..end]);
    let phrase = [&before[phrase_start..], &compact].concat();
    let sentence = [before.as_str(), &compact, &after].concat();
    Context {
        before,
        after,
        phrase,
        sentence,
    }
}

/// Finds the claims in `text`, outside the byte spans in `skip` (the tables).
pub fn find(
    text: &str,
    skip: &[(usize, usize)],
    sections: &[Section],
    to_char: &dyn Fn(usize) -> usize,
) -> Vec<Claim> {
    let mut out = Vec::new();
    for (num_start, num_end, end) in claim_spans(text) {
        let num = &text[num_start..num_end];
        let unit = text[num_end..end].trim_start();
        let all_text = &text[num_start..end];
        if skip.iter().any(|(s, e)| num_start >= *s && num_start < *e) {
            continue;
        }
        // A digit right before means we are inside a longer token (a date, a phone number).
        if text[..num_start].ends_with(|ch: char| ch.is_ascii_digit() || ch == '.') {
            continue;
        }
        // A number inside a title (《苏政50条》) names a document, it states no count.
        let mut from = num_start.saturating_sub(120);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let before_num = &text[from..num_start];
        if before_num
            .rfind('《')
            .is_some_and(|open| !before_num[open..].contains('》'))
        {
            continue;
        }
        let Ok(value) = num.parse::<f64>() else {
            continue;
        };
        let Context {
            before,
            after,
            phrase,
            sentence,
        } = context(text, num_start, end);
        let start = to_char(num_start);
        let section = sections
            .iter()
            .find(|s| start >= s.start && start < s.end)
            .map(|s| s.key);
        out.push(Claim {
            value,
            unit: unit.to_string(),
            text: all_text.to_string(),
            before,
            after,
            phrase,
            sentence,
            section,
            start,
            end: to_char(end),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_carry_their_sentence_across_line_breaks_and_skip_titles() {
        let text = "转载《苏政50条》等解读。全年收到政府信息公开\n申请 34 件,上年结转 2 件。办结率为99.84%。";
        let found = find(text, &[], &[], &|b| text[..b].chars().count());
        let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["34 件", "2 件", "99.84%"]);
        assert_eq!(found[0].before, "全年收到政府信息公开申请");
        assert_eq!(
            found[0].sentence,
            "全年收到政府信息公开申请34件,上年结转2件"
        );
        assert_eq!(found[1].phrase, "上年结转2件");
        assert_eq!(found[2].value, 99.84);
        assert_eq!(found[2].unit, "%");
    }
}
