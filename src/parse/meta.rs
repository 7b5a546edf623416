//! The report's identity and particulars: issuer, year, statistics period, contact details and
//! publication date.
//!
//! Copies are often cut (no title line) or carry a site header and footer, so each item has
//! several sources in a fixed order of trust: the title, the report's own sentence about itself
//! (`本报告由…编制`), the statistics period, and only last the words the body uses most.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Contact, Period};

static TITLE_ORG_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"([\p{Han}()]{2,40}?)(\d{4})年度?(?:政府信息公开|政务公开|信息公开)(?:工作)?年度?报告",
    )
    .expect("title pattern")
});
static TITLE_YEAR_ORG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})年度?([\p{Han}()]{2,40}?)(?:政府信息公开|政务公开)(?:工作)?年度?报告")
        .expect("title pattern")
});
static REPORT_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"本(?:年度)?报告(?:是)?由([\p{Han}]{2,40}?)(?:\(|根据|依据|按照|编制|综合)")
        .expect("report-by pattern")
});
static COMPILED_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"由([\p{Han}]{2,40}?)(?:负责)?编制(?:而成)?").expect("compiled-by pattern")
});
static ORG_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\p{Han}{2}(?:街道|镇|乡)|\p{Han}{2,3}[市县区](?:人民政府办公室|人民政府办公厅|人民政府|[\p{Han}]{2,8}?(?:局|委员会))")
        .expect("organisation pattern")
});

/// Label words that can precede the title in saved pages (`标题:`).
fn clean_org(s: &str) -> String {
    let s = s.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '(');
    let s = s.strip_prefix("标题").unwrap_or(s);
    let s = s.trim_end_matches("关于");
    s.to_string()
}

/// Finds the issuer and year in the title (the head of the text with whitespace removed, so a
/// title broken across lines still reads as one).
pub fn title(text: &str) -> Option<(String, i32, String)> {
    // The first 800 characters, their white space and `#`s left out, copied in runs.
    let end = text.char_indices().nth(800).map_or(text.len(), |(i, _)| i);
    let mut head = crate::extract::compact(&text[..end]);
    if head.contains('#') {
        head.retain(|c| c != '#');
    }
    let from_org_year = TITLE_ORG_YEAR.captures(&head).and_then(|c| {
        let org = clean_org(c.get(1)?.as_str());
        let year = c.get(2)?.as_str().parse().ok()?;
        Some((org, year, c.get(0)?.as_str().to_string(), c.get(0)?.start()))
    });
    let from_year_org = TITLE_YEAR_ORG.captures(&head).and_then(|c| {
        let year = c.get(1)?.as_str().parse().ok()?;
        let org = clean_org(c.get(2)?.as_str());
        Some((org, year, c.get(0)?.as_str().to_string(), c.get(0)?.start()))
    });
    let best = match (from_org_year, from_year_org) {
        (Some(a), Some(b)) => {
            if b.3 <= a.3 && !b.0.is_empty() {
                Some(b)
            } else {
                Some(a)
            }
        }
        (a, b) => a.or(b),
    }?;
    if best.0.chars().count() < 2 {
        return None;
    }
    Some((best.0, best.1, best.2))
}

/// The issuer when the title does not name it, from the report body; `page` (the body with any
/// site header and footer) may qualify the name with its city or county.
pub fn organization_from_body(text: &str, page: &str) -> Option<String> {
    if let Some(c) = REPORT_BY.captures(text) {
        return Some(c[1].to_string());
    }
    if let Some(c) = COMPILED_BY.captures(text) {
        return Some(c[1].to_string());
    }
    // Last resort: the organisation the body names most often.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for m in ORG_WORD.find_iter(text) {
        *counts.entry(m.as_str()).or_default() += 1;
    }
    let (best, _) = counts
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .max_by_key(|(w, n)| (*n, w.chars().count()))?;
    let mut org = best.to_string();
    // The same name with the city or county in front, where the page gives it (an address).
    if let Some(q) = qualified(&org, page) {
        org = q;
    }
    // A sub-district's body is its 办事处, which reports call itself 我办.
    if org.ends_with("街道") && text.contains("我办") {
        org.push_str("办事处");
    }
    Some(org)
}

/// `org` with the city or county written before it somewhere in `page` (`宁国市` + `西津街道`).
fn qualified(org: &str, page: &str) -> Option<String> {
    let is_han = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
    for (pos, _) in page.match_indices(org) {
        let before: Vec<char> = page[..pos].chars().rev().take(8).collect();
        if !matches!(before.first(), Some('市' | '县' | '区')) {
            continue;
        }
        let run: usize = before.iter().take_while(|c| is_han(**c)).count().min(7);
        if run >= 2 {
            let prefix: String = before[..run].iter().rev().collect();
            return Some(format!("{prefix}{org}"));
        }
    }
    None
}

/// Writes a short form (`井陉矿区政府`) in full when the text names the full form (`…人民政府`).
pub fn expand_org(org: String, text: &str) -> String {
    if let Some(stem) = org.strip_suffix("政府") {
        if !stem.ends_with("人民") {
            let full = format!("{stem}人民政府");
            if text.contains(&full) {
                return full;
            }
        }
    }
    org
}

static PERIOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:起\s*)?(?:至|到|-|—|~)\s*(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*日",
    )
    .expect("period pattern")
});

/// The statistics period: a date range near 统计 (or the first range in the text).
pub fn period(text: &str) -> Option<Period> {
    let mut first = None;
    for c in PERIOD.captures_iter(text) {
        let m = c.get(0)?;
        let y1: i32 = c[1].parse().ok()?;
        let y2: i32 = c.get(4).map_or(Some(y1), |y| y.as_str().parse().ok())?;
        let p = Period {
            start: format!("{y1:04}-{:0>2}-{:0>2}", &c[2], &c[3]),
            end: format!("{y2:04}-{:0>2}-{:0>2}", &c[5], &c[6]),
            text: m.as_str().to_string(),
        };
        let before_start = text[..m.start()]
            .char_indices()
            .rev()
            .nth(40)
            .map_or(0, |(i, _)| i);
        if text[before_start..m.start()].contains("统计") {
            return Some(p);
        }
        first.get_or_insert(p);
    }
    first
}

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:电话|热线|传真|联系方式)[^0-9]{0,6}((?:\(?0\d{2,3}\)?[-—\s]?)?\d{7,8}|1[3-9]\d{9}|12345)")
        .expect("phone pattern")
});
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+").expect("email pattern")
});
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    // An address may hold commas ("中国体彩网,体彩网迎宾大道8号"); it ends at the next field
    // (邮编, 电话 …), a closing bracket, a semicolon, a full stop or the line end.
    Regex::new(r"(?:地址|通讯地址|办公地址)\s*[:为是]\s*([^;)\n。]{4,80}?)\s*(?:[,;]?\s*(?:邮编|邮政编码|电话|联系电话|传真|电子邮箱|邮箱|网址)|[;)\n。]|$)")
        .expect("address pattern")
});

/// Contact details in the report body (the site footer is cut off before this is called).
pub fn contact(text: &str) -> Contact {
    let mut c = Contact::default();
    for m in PHONE.captures_iter(text) {
        let p = m[1].trim().to_string();
        if !c.phones.contains(&p) {
            c.phones.push(p);
        }
    }
    for m in EMAIL.find_iter(text) {
        let e = m.as_str().trim_end_matches('.').to_string();
        if !c.emails.contains(&e) {
            c.emails.push(e);
        }
    }
    c.address = ADDRESS.captures(text).map(|m| m[1].trim().to_string());
    c
}

static PUBLISHED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:发布日期|发布时间|公开日期|成文日期|发文日期|日期)[\s:：|]*(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})")
        .expect("published pattern")
});

/// A date signed under the report, at its very end (page numbers after it allowed).
static SIGNED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日[\s\-—–－0-9第页共/]*$")
        .expect("signed pattern")
});

/// Bytes at the end of the text where the signed date is looked for.
const SIGNED_TAIL: usize = 120;

/// The publication date where the copy gives one: labelled (发布日期, 公开日期 … as the portals'
/// metadata tables print it), else signed under the report's last line.
pub fn published(text: &str) -> Option<String> {
    let c = PUBLISHED.captures(text).or_else(|| {
        let mut start = text.len().saturating_sub(SIGNED_TAIL);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        SIGNED.captures(&text[start..])
    })?;
    Some(format!("{}-{:0>2}-{:0>2}", &c[1], &c[2], &c[3]))
}

static YEAR_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(20\d{2})\s*年").expect("year pattern"));

/// The year the body talks about most, for copies without a title or period.
pub fn year_from_body(text: &str) -> Option<i32> {
    let mut counts: HashMap<i32, usize> = HashMap::new();
    for c in YEAR_WORD.captures_iter(text) {
        if let Ok(y) = c[1].parse::<i32>() {
            *counts.entry(y).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by_key(|(y, n)| (*n, *y))
        .map(|(y, _)| y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_in_both_word_orders() {
        let (org, year, _) =
            title("淮南市人民政府办公室2019年政府\n\n信息公开工作年度报告\n本报告").expect("t");
        assert_eq!((org.as_str(), year), ("淮南市人民政府办公室", 2019));
        let (org, year, _) =
            title("2019年上海市人民政府办公厅政府信息公开工作年度报告").expect("t");
        assert_eq!((org.as_str(), year), ("上海市人民政府办公厅", 2019));
        let (org, year, _) =
            title("标题: 平潭综合实验区2022年度政府信息公开工作年度报告\n发布时间").expect("t");
        assert_eq!((org.as_str(), year), ("平潭综合实验区", 2022));
    }

    #[test]
    fn published_labelled_or_signed_at_the_end() {
        assert_eq!(
            published("公开日期 | 2024-01-17 |\n正文").as_deref(),
            Some("2024-01-17")
        );
        assert_eq!(
            published("发布时间：2020年1月31日").as_deref(),
            Some("2020-01-31")
        );
        assert_eq!(
            published("……收取380元。\n沐阳县人民政府\n2026年1月23日\n\n-6-\n").as_deref(),
            Some("2026-01-23")
        );
        // A date inside the text is no publication date.
        assert_eq!(published("2026年1月23日召开会议，部署全年工作。"), None);
    }

    #[test]
    fn period_and_contact() {
        let t = "数据统计期限自2020年1月1日起至2020年12月31日止。请与办公室联系(地址:迎宾大道8号,电话:0517-83166232,电子邮箱:a@163.com)";
        let p = period(t).expect("period");
        assert_eq!(
            (p.start.as_str(), p.end.as_str()),
            ("2020-01-01", "2020-12-31")
        );
        let c = contact(t);
        assert_eq!(c.phones, ["0517-83166232"]);
        assert_eq!(c.emails, ["a@163.com"]);
        assert_eq!(c.address.as_deref(), Some("迎宾大道8号"));
        let c = contact("(地址:中国体彩网,体彩网迎宾大道8号,邮编:223005,电话:0517-83166232)");
        assert_eq!(c.address.as_deref(), Some("中国体彩网,体彩网迎宾大道8号"));
        let p = period("统计周期为 2024 年 1 月 1 日至 12 月 31 日").expect("p");
        assert_eq!(p.end, "2024-12-31");
    }

    #[test]
    fn short_government_names_are_expanded() {
        let t = "井陉矿区人民政府办公室编制";
        assert_eq!(expand_org("井陉矿区政府".into(), t), "井陉矿区人民政府");
    }
}
