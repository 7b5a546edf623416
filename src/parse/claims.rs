//! Numeric claims of the narrative: every "N件/条/起/个/项/次/篇" and "N%" with its sentence, so
//! rules can hold the text against the tables.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Claim, Section};

static CLAIM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d+(?:\.\d+)?)\s*(%|件|条|起|个|项|次|篇|家|人次)").expect("claim pattern")
});

fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | ';' | '!' | '?' | '\n')
}

fn is_clause_end(c: char) -> bool {
    is_sentence_end(c) || matches!(c, ',' | '，' | ':')
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
        let sentence_start = text[..num.start()].rfind(is_sentence_end).map_or(0, |i| {
            i + text[i..].chars().next().map_or(1, char::len_utf8)
        });
        let sentence_end = text[all.end()..]
            .find(is_sentence_end)
            .map_or(text.len(), |i| {
                all.end()
                    + i
                    + text[all.end() + i..]
                        .chars()
                        .next()
                        .map_or(0, char::len_utf8)
            });
        let phrase_start = text[..num.start()]
            .rfind(is_clause_end)
            .map_or(0, |i| {
                i + text[i..].chars().next().map_or(1, char::len_utf8)
            })
            .max(sentence_start);
        let start = to_char(num.start());
        let section = sections
            .iter()
            .find(|s| start >= s.start && start < s.end)
            .map(|s| s.key);
        out.push(Claim {
            value,
            unit: unit.as_str().to_string(),
            text: all.as_str().to_string(),
            phrase: text[phrase_start..all.end()].trim().to_string(),
            sentence: text[sentence_start..sentence_end].trim().to_string(),
            section,
            start,
            end: to_char(all.end()),
        });
    }
    out
}
