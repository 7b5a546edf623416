//! Finding the six sections by their headings.
//!
//! Headings vary in real copies: the number may be missing (`存在的主要问题及改进情况`), written
//! with a dash (`—、总体情况`) or a different numeral (a PDF that numbers its tables 一、二、三),
//! carry extra words (`政府信息公开工作存在的主要问题…`, `行政法复议`) or markdown `#`. A heading is
//! therefore matched by its words, and accepted where a heading can stand: at the start of a line
//! or, in copies that lost their line breaks, behind a section numeral. Sections must appear in
//! order; a mention of the section names inside a sentence (`全文包括总体情况、主动公开…`) is not
//! a heading.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::SectionKey;

struct HeadingPattern {
    key: SectionKey,
    words: Regex,
}

static PATTERNS: LazyLock<Vec<HeadingPattern>> = LazyLock::new(|| {
    let p = |key, re: &str| HeadingPattern {
        key,
        words: Regex::new(re).expect("heading pattern"),
    };
    vec![
        p(SectionKey::Overview, r"(?:政府信息公开工作)?总体情况"),
        p(SectionKey::Proactive, r"主动公开政府信息(?:工作)?情况"),
        p(
            SectionKey::Requests,
            r"收到和处理政府信息公开申请(?:的)?情况",
        ),
        p(
            SectionKey::ReviewLitigation,
            r"(?:因)?政府信息公开(?:工作)?(?:被申请)?行政(?:法)?复议[、和及与]?(?:提起)?行政诉讼(?:的)?情况",
        ),
        p(
            SectionKey::Problems,
            r"(?:政府信息公开工作)?存在(?:的)?主要问题(?:及|和|与)(?:改进|整改)(?:情况|措施)?",
        ),
        p(SectionKey::Other, r"其他需要报告的事项"),
    ]
});

/// What may stand before a heading's words on its line: markdown, a section numeral with its
/// mark (`一、`, `—、`, `3.`), a table number (`表二:`).
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[#\s]*(?:[一二三四五六七八九十]+|[-—–]|\d{1,2})?\s*[、.．,]?\s*(?:表[一二三四]\s*[:]?\s*)?$",
    )
    .expect("prefix pattern")
});

/// A numeral that marks a heading inside a running line (copies that lost their line breaks).
static INLINE_NUMERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[一二三四五六]\s*、\s*$").expect("numeral pattern"));

/// Fallback for reports whose problems section has only its two sub-headings.
static PROBLEMS_SUBHEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*\(一\)\s*(?:主要)?问题").expect("subheading"));

/// A heading found in the text (byte offsets).
#[derive(Debug, Clone)]
pub struct Heading {
    pub key: SectionKey,
    /// Start of the heading line (or of its numeral).
    pub start: usize,
    /// End of the heading line: where the section body begins.
    pub body: usize,
    pub text: String,
}

/// Finds the headings in document order; sections that cannot be found are left out.
pub fn find_headings(text: &str) -> Vec<Heading> {
    let mut found: Vec<Heading> = Vec::new();
    let mut from = 0;
    for pattern in PATTERNS.iter() {
        if let Some(h) = find_one(text, pattern, from) {
            from = h.body;
            found.push(h);
        }
    }
    if !found.iter().any(|h| h.key == SectionKey::Problems) {
        add_problems_fallback(text, &mut found);
    }
    found.sort_by_key(|h| h.start);
    found
}

fn find_one(text: &str, pattern: &HeadingPattern, from: usize) -> Option<Heading> {
    for m in pattern.words.find_iter(&text[from..]) {
        let start = from + m.start();
        let end = from + m.end();
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let before = &text[line_start..start];
        if PREFIX.is_match(before) {
            // A heading line is short: the words and perhaps a few more (`(单位:件)`).
            let rest = text[end..line_end].trim();
            if rest.chars().count() <= 30 || starts_table(rest) {
                let body = if rest.chars().count() <= 30 {
                    line_end
                } else {
                    end
                };
                return Some(Heading {
                    key: pattern.key,
                    start: line_start,
                    body,
                    text: text[line_start..body].trim().to_string(),
                });
            }
        }
        if let Some(num) = INLINE_NUMERAL.find(before) {
            // A numbered heading inside a long line: the body starts right after the words.
            let start = line_start + num.start();
            return Some(Heading {
                key: pattern.key,
                start,
                body: end,
                text: text[start..end].trim().to_string(),
            });
        }
    }
    None
}

/// Whether what follows a heading on its line is the start of a table rather than a sentence.
fn starts_table(rest: &str) -> bool {
    rest.starts_with('|') || rest.starts_with('(') || rest.starts_with("第二十条")
}

fn add_problems_fallback(text: &str, found: &mut Vec<Heading>) {
    // Only after the tables (section 四, else 三) and before section 六.
    let after = found
        .iter()
        .filter(|h| matches!(h.key, SectionKey::ReviewLitigation | SectionKey::Requests))
        .map(|h| h.body)
        .max();
    let Some(after) = after else { return };
    let before = found
        .iter()
        .find(|h| h.key == SectionKey::Other)
        .map_or(text.len(), |h| h.start);
    if after >= before {
        return;
    }
    if let Some(m) = PROBLEMS_SUBHEADING.find(&text[after..before]) {
        let start = after + m.start();
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        found.push(Heading {
            key: SectionKey::Problems,
            start,
            // The sub-heading belongs to the section's text.
            body: start,
            text: text[start..line_end].trim().to_string(),
        });
    }
}

/// Where the site's footer starts (主办单位, ICP备 …), if the copy carries one after `from`.
pub fn footer_start(text: &str, from: usize) -> Option<usize> {
    static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?m)^.*(?:主办单位|承办单位|ICP备|网站标识码|公网安备|版权所有|Produced By|技术支持|网站地图|关闭窗口|打印本页).*$",
        )
        .expect("footer pattern")
    });
    FOOTER.find(&text[from..]).map(|m| from + m.start())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<&'static str> {
        find_headings(text).iter().map(|h| h.key.as_str()).collect()
    }

    #[test]
    fn loose_headings() {
        let t = "全文包括总体情况、主动公开政府信息情况等。\n—、总体情况\n正文\n二、主动公开政府信息情况\n表\n\
                 三、收到和处理政府信息公开申请情况\n四、政府信息公开行政复议、行政诉讼情况\n\
                 存在的主要问题及改进情况\n问题\n六、其他需要报告的事项\n无。";
        assert_eq!(
            keys(t),
            [
                "overview",
                "proactive",
                "requests",
                "review_litigation",
                "problems",
                "other"
            ]
        );
        let h = find_headings(t);
        assert!(h[0].text.starts_with("—、总体情况"));
    }

    #[test]
    fn inline_numbered_headings_and_misspelling() {
        let t = "正文 二、主动公开政府信息情况第二十条 表 三、收到和处理政府信息公开申请情况(本列) 1 2 \
                 四、政府信息公开行政法复议、行政诉讼情况行政复议 0 五、存在的主要问题及改进情况 2022年";
        assert_eq!(
            keys(t),
            ["proactive", "requests", "review_litigation", "problems"]
        );
    }

    #[test]
    fn sentence_mentions_are_not_headings() {
        assert!(
            keys("报告包括总体情况、存在的主要问题及改进情况和其他需要报告的事项等内容。")
                .is_empty()
        );
    }
}
