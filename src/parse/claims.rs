//! Numeric claims of the narrative: every "N件/条/起/个/项/次/篇" and "N%" with its sentence, so
//! rules can hold the text against the tables.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Claim, Section};

static CLAIM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d+(?:\.\d+)?)\s*(%|件|条|起|个|项|次|篇|家|人次)").expect("claim pattern")
});

/// Where a sentence ends for the words around a claim (a line break does not end it: copies
/// from PDFs break lines mid-sentence; a blank line does).
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | ';' | '!' | '?')
}

/// How many characters of context are kept at most.
const CONTEXT_CHARS: usize = 200;

fn context_before(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut newlines = 0;
    for c in text.chars().rev().take(CONTEXT_CHARS) {
        if ends_sentence(c) {
            break;
        }
        if c == '\n' {
            newlines += 1;
            if newlines >= 2 {
                break;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        newlines = 0;
        out.push(c);
    }
    out.iter().rev().collect()
}

fn context_after(text: &str) -> String {
    let mut out = String::new();
    let mut newlines = 0;
    for c in text.chars().take(CONTEXT_CHARS) {
        if ends_sentence(c) {
            break;
        }
        if c == '\n' {
            newlines += 1;
            if newlines >= 2 {
                break;
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        newlines = 0;
        out.push(c);
    }
    out
}

/// Finds the claims in `text`, outside the byte spans in `skip` (the tables).
pub fn find(
    text: &str,
    skip: &[(usize, usize)],
    sections: &[Section],
    to_char: &dyn Fn(usize) -> usize,
) -> Vec<Claim> {
    let mut out = Vec::new();
    for c in CLAIM.captures_iter(text) {
        let (Some(all), Some(num), Some(unit)) = (c.get(0), c.get(1), c.get(2)) else {
            continue;
        };
        if skip
            .iter()
            .any(|(s, e)| all.start() >= *s && all.start() < *e)
        {
            continue;
        }
        // A digit right before means we are inside a longer token (a date, a phone number).
        if text[..num.start()].ends_with(|ch: char| ch.is_ascii_digit() || ch == '.') {
            continue;
        }
        let Ok(value) = num.as_str().parse::<f64>() else {
            continue;
        };
        let before = context_before(&text[..num.start()]);
        let after = context_after(&text[all.end()..]);
        let phrase_start = before.rfind([',', ':']).map_or(0, |i| i + 1);
        let phrase = format!("{}{}", &before[phrase_start..], all.as_str());
        let sentence = format!("{before}{}{after}", all.as_str());
        let start = to_char(num.start());
        let section = sections
            .iter()
            .find(|s| start >= s.start && start < s.end)
            .map(|s| s.key);
        out.push(Claim {
            value,
            unit: unit.as_str().to_string(),
            text: all.as_str().to_string(),
            before,
            after,
            phrase,
            sentence,
            section,
            start,
            end: to_char(all.end()),
        });
    }
    out
}
