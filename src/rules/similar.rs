//! How alike two Chinese texts are, for the rules that compare a report with last year's.
//!
//! Chinese has no spaces to cut words at, so texts are compared by character shingles: every
//! run of [`SHINGLE`] characters, punctuation and spaces left out. A sentence whose shingles are
//! nearly all in last year's text was copied from it, whatever was cut or joined around it;
//! changing one number or name in a sentence touches only the few shingles that cover it.

use rhai::{Array, Dynamic, Map, FLOAT, INT};
use rustc_hash::{FxHashMap, FxHashSet};

/// Characters per shingle: four Han characters are about two words.
pub const SHINGLE: usize = 4;

/// Characters that end a sentence.
const SENTENCE_ENDS: [char; 8] = ['。', '！', '？', '；', '!', '?', ';', '\n'];

/// Characters that end a clause besides a sentence's end: a comma, a colon (not 、, which lists
/// the parts of one clause).
const CLAUSE_MARKS: [char; 4] = ['，', ',', '：', ':'];

/// Sentences shorter than this (in characters compared) are not judged: stock phrases such as
/// “现将有关情况报告如下” recur every year by design.
pub const MIN_SENTENCE: usize = 15;

/// Character-bigram similarity (Dice coefficient) of two texts, 0.0 to 1.0.
pub fn similarity(a: &str, b: &str) -> FLOAT {
    fn bigrams(s: &str) -> FxHashMap<(char, char), usize> {
        let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        let mut m = FxHashMap::default();
        for w in chars.windows(2) {
            *m.entry((w[0], w[1])).or_insert(0) += 1;
        }
        m
    }
    let (x, y) = (bigrams(a), bigrams(b));
    let total: usize = x.values().sum::<usize>() + y.values().sum::<usize>();
    if total == 0 {
        return 0.0;
    }
    let common: usize = x
        .iter()
        .map(|(k, n)| (*n).min(y.get(k).copied().unwrap_or(0)))
        .sum();
    2.0 * common as FLOAT / total as FLOAT
}

/// The characters compared: letters and digits of any script, nothing else.
fn compared(text: &str) -> Vec<char> {
    text.chars().filter(|c| is_compared(*c)).collect()
}

/// `c.is_alphanumeric()`, answered first for the characters a report is made of: the common
/// Han characters (all letters) and ASCII; Unicode's tables are searched for the rest only.
fn is_compared(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match c {
        '\u{4E00}'..='\u{9FFF}' => true,
        // Chinese punctuation: 、。〃《》「」『』【】，：；！？（）and the like, dashes, quotes.
        '\u{3000}'..='\u{3004}'
        | '\u{3008}'..='\u{3020}'
        | '\u{2010}'..='\u{2027}'
        | '\u{FF01}'..='\u{FF0F}'
        | '\u{FF1A}'..='\u{FF20}' => false,
        _ => c.is_alphanumeric(),
    }
}

/// A shingle as one number: its length, then 21 bits per character (every `char` fits).
fn key(w: &[char]) -> u128 {
    w.iter().fold(w.len() as u128, |k, c| {
        (k << 21) | u128::from(u32::from(*c))
    })
}

/// The shingles of a text; a text shorter than one shingle is one shingle.
fn shingles(chars: &[char]) -> FxHashSet<u128> {
    let mut set = FxHashSet::with_capacity_and_hasher(chars.len(), Default::default());
    set.extend(shingle_keys(chars));
    set
}

/// The distinct shingles of a short text into `keys` (cleared first), sorted: for a sentence,
/// cheaper than a set.
fn distinct_shingles(chars: &[char], keys: &mut Vec<u128>) {
    keys.clear();
    keys.extend(shingle_keys(chars));
    keys.sort_unstable();
    keys.dedup();
}

/// Each shingle of a text in order, repeats included; a text shorter than one shingle is one
/// shingle, an empty one has none.
fn shingle_keys(chars: &[char]) -> impl Iterator<Item = u128> + '_ {
    let whole = (!chars.is_empty() && chars.len() < SHINGLE).then_some(chars);
    whole.into_iter().chain(chars.windows(SHINGLE)).map(key)
}

/// The share (0.0 to 1.0) of `text`'s shingles that are also in `source`: 1.0 when every part
/// of it is found there, whatever else `source` holds.
pub fn containment(text: &str, source: &str) -> FLOAT {
    let (a, b) = (compared(text), compared(source));
    let (a, b) = (shingles(&a), shingles(&b));
    if a.is_empty() {
        return 0.0;
    }
    a.iter().filter(|s| b.contains(*s)).count() as FLOAT / a.len() as FLOAT
}

/// The sentences of a text, cut at 。！？； and line ends, trimmed, empty ones left out.
pub fn sentences(text: &str) -> Vec<&str> {
    text.split(SENTENCE_ENDS)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The sentences of `text` as [`sentences`] cuts them, each handed to `each` once its compared
/// characters have been appended to `chars`; in one reading of the text, where cutting it and
/// then reading each sentence read it twice. What `each` leaves in `chars` stays there.
fn scan_sentences<'a>(
    text: &'a str,
    chars: &mut Vec<char>,
    mut each: impl FnMut(&'a str, &mut Vec<char>),
) {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if SENTENCE_ENDS.contains(&c) {
            let sentence = text[start..i].trim();
            // An empty sentence was only white space: nothing of it was compared.
            if !sentence.is_empty() {
                each(sentence, chars);
            }
            start = i + c.len_utf8();
        } else if is_compared(c) {
            chars.push(c);
        }
    }
    let sentence = text[start..].trim();
    if !sentence.is_empty() {
        each(sentence, chars);
    }
}

/// The clauses of a text: its sentences cut again at commas and colons, trimmed, empty ones
/// left out.
pub fn clauses(text: &str) -> Vec<&str> {
    text.split(|c| SENTENCE_ENDS.contains(&c) || CLAUSE_MARKS.contains(&c))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The first of `phrases` that `text` holds, if any.
pub fn first_phrase<S: AsRef<str>>(text: &str, phrases: impl IntoIterator<Item = S>) -> Option<S> {
    phrases
        .into_iter()
        .find(|p| !p.as_ref().is_empty() && text.contains(p.as_ref()))
}

/// Last year's text prepared for the comparison, in one pass over it: every shingle of it, those
/// spanning two of its sentences too, and for each the sentences holding it whole, kept as a
/// list per shingle in one vector (a map of vectors cost an allocation per shingle).
struct Source<'a> {
    sentences: Vec<&'a str>,
    /// Each shingle's last entry in `links`; `u32::MAX` when no sentence holds it whole (it
    /// spans two).
    heads: FxHashMap<u128, u32>,
    /// (sentence, the shingle's previous entry or `u32::MAX`).
    links: Vec<(u32, u32)>,
}

impl<'a> Source<'a> {
    fn of(text: &'a str) -> Source<'a> {
        // The characters compared, sentence after sentence: the same as the whole text's, as
        // what separates two sentences is never compared.
        let mut chars: Vec<char> = Vec::with_capacity(text.len() / 3);
        let (mut sentences, mut ends) = (Vec::new(), Vec::new());
        scan_sentences(text, &mut chars, |sentence, chars| {
            sentences.push(sentence);
            ends.push(chars.len());
        });
        let mut s = Source {
            sentences,
            heads: FxHashMap::with_capacity_and_hasher(chars.len(), Default::default()),
            links: Vec::with_capacity(chars.len()),
        };
        if chars.len() < SHINGLE {
            // The whole text is one shingle; no sentence of it is long enough to be compared.
            s.heads.extend(shingle_keys(&chars).map(|k| (k, u32::MAX)));
            return s;
        }
        let mut sentence = 0;
        for (at, w) in chars.windows(SHINGLE).enumerate() {
            while ends[sentence] <= at {
                sentence += 1;
            }
            let next = s.links.len() as u32;
            let head = s.heads.entry(key(w)).or_insert(u32::MAX);
            if at + SHINGLE > ends[sentence] {
                continue; // spans two sentences: in the text, in none of its sentences
            }
            // A sentence's shingles come together: one already listed for it heads its list.
            if *head != u32::MAX && s.links[*head as usize].0 == sentence as u32 {
                continue;
            }
            s.links.push((sentence as u32, *head));
            *head = next;
        }
        s
    }

    fn holds(&self, s: u128) -> bool {
        self.heads.contains_key(&s)
    }

    /// The sentences holding shingle `s` whole, each once.
    fn holders(&self, s: u128) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.heads.get(&s).copied().unwrap_or(u32::MAX);
        std::iter::from_fn(move || {
            let (sentence, next) = *self.links.get(at as usize)?;
            at = next;
            Some(sentence as usize)
        })
    }
}

/// The sentences of `text` that `source` already holds: at least [`MIN_SENTENCE`] characters
/// long and with at least `threshold` of their shingles in it. Each as `#{sentence, share,
/// from}`: `share` the part found, `from` the sentence of `source` most like it.
pub fn copied_sentences(text: &str, source: &str, threshold: FLOAT) -> Array {
    // Made when the first sentence long enough to judge is found.
    let mut theirs: Option<Source> = None;
    let mut shared = Vec::new();
    let mut out = Array::new();
    let (mut chars, mut mine) = (Vec::new(), Vec::new());
    scan_sentences(text, &mut chars, |sentence, chars| {
        if chars.len() >= MIN_SENTENCE {
            let theirs = theirs.get_or_insert_with(|| Source::of(source));
            if let Some(copied) = copied(sentence, chars, theirs, threshold, &mut mine, &mut shared)
            {
                out.push(copied);
            }
        }
        chars.clear();
    });
    out
}

/// `sentence` (its compared characters `chars`) as `copied_sentences` gives it when at least
/// `threshold` of its shingles are in `theirs`; `mine` and `shared` are room to work in.
fn copied(
    sentence: &str,
    chars: &[char],
    theirs: &Source,
    threshold: FLOAT,
    mine: &mut Vec<u128>,
    shared: &mut Vec<usize>,
) -> Option<Dynamic> {
    distinct_shingles(chars, mine);
    let found = mine.iter().filter(|s| theirs.holds(**s)).count();
    let share = found as FLOAT / mine.len().max(1) as FLOAT;
    if share < threshold {
        return None;
    }
    // The sentence it came from: the one sharing most of its shingles (the last of those
    // sharing as many).
    shared.clear();
    shared.resize(theirs.sentences.len(), 0usize);
    for s in mine.iter() {
        for i in theirs.holders(*s) {
            shared[i] += 1;
        }
    }
    let from = shared
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .and_then(|(i, _)| theirs.sentences.get(i))
        .map_or("", |s| *s);
    let mut m = Map::new();
    m.insert("sentence".into(), Dynamic::from(sentence.to_string()));
    m.insert("share".into(), Dynamic::from(share));
    m.insert("from".into(), Dynamic::from(from.to_string()));
    m.insert("chars".into(), Dynamic::from(chars.len() as INT));
    Some(Dynamic::from_map(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_answers_as_unicode_does() {
        for c in ('\u{0}'..='\u{FFFF}').chain('\u{20000}'..='\u{20100}') {
            assert_eq!(
                is_compared(c),
                c.is_alphanumeric(),
                "{c:?} U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn a_sentences_distinct_shingles_are_its_set_of_shingles() {
        let mut keys = vec![7];
        for text in [
            "",
            "公开",
            "公开公开公开公开",
            "全年共组织4次政务公开季度检查通报，推进3轮督促整改",
        ] {
            let chars = compared(text);
            distinct_shingles(&chars, &mut keys);
            let mut set: Vec<u128> = shingles(&chars).into_iter().collect();
            set.sort_unstable();
            assert_eq!(keys, set, "{text}");
        }
    }

    /// The sentences of `text` and, for each judged one, its share and the source sentence it
    /// came from, worked out the plain way: last year's shingles over its whole text, then
    /// each of its sentences' shingles.
    fn plainly(text: &str, source: &str) -> Vec<(String, FLOAT, String)> {
        let pool = shingles(&compared(source));
        let theirs: Vec<FxHashSet<u128>> = sentences(source)
            .iter()
            .map(|t| shingles(&compared(t)))
            .collect();
        let mut out = Vec::new();
        for sentence in sentences(text) {
            let chars = compared(sentence);
            if chars.len() < MIN_SENTENCE {
                continue;
            }
            let mine = shingles(&chars);
            let share = mine.iter().filter(|s| pool.contains(*s)).count() as FLOAT
                / mine.len().max(1) as FLOAT;
            let shared = |t: &FxHashSet<u128>| mine.iter().filter(|s| t.contains(*s)).count();
            let from = (0..theirs.len())
                .max_by_key(|i| shared(&theirs[*i]))
                .map_or("", |i| sentences(source)[i]);
            out.push((sentence.to_string(), share, from.to_string()));
        }
        out
    }

    /// What `copied_sentences` found, as (sentence, share, from).
    fn found(text: &str, source: &str, threshold: FLOAT) -> Vec<(String, FLOAT, String)> {
        copied_sentences(text, source, threshold)
            .into_iter()
            .map(|c| {
                let m = c.clone_cast::<Map>();
                let share = m["share"].as_float().unwrap_or(-1.0);
                (m["sentence"].to_string(), share, m["from"].to_string())
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Last year's shingles and the sentences holding them, gathered in one pass, give what
        /// the plain way gives: shingles spanning two of its sentences count as found, and
        /// `from` is the last sentence sharing most.
        #[test]
        fn copied_sentences_are_those_found_the_plain_way(
            parts in proptest::collection::vec("[公开政务信息年度报告工作情况，、 ]{3,30}", 0..6),
            edits in proptest::collection::vec(0u8..12, 0..200),
            threshold in 0.0f64..1.0,
        ) {
            // Last year's text: this year's with characters dropped, changed or said twice and
            // sentences cut elsewhere, so that its shingles often span two of its sentences.
            let text = parts.join("。");
            let mut source = String::new();
            for (c, e) in text.chars().zip(edits.iter().chain(std::iter::repeat(&9))) {
                match e {
                    0 => {}
                    1 => source.push('。'),
                    2 => source.push('政'),
                    3 => { source.push(c); source.push('；'); }
                    4 => {
                        // A run said twice: a shingle held twice by one sentence.
                        let run: Vec<char> = source.chars().rev().take(6).collect();
                        source.push(c);
                        source.extend(run.into_iter().rev());
                        source.push(c);
                    }
                    _ => source.push(c),
                }
            }
            let expected: Vec<(String, FLOAT, String)> = plainly(&text, &source)
                .into_iter()
                .filter(|(_, share, _)| *share >= threshold)
                .collect();
            proptest::prop_assert_eq!(found(&text, &source, threshold), expected);
        }
    }

    #[test]
    fn a_shingle_spanning_two_of_last_years_sentences_is_found() {
        // 16 characters: 10 of the 13 shingles lie within one of last year's sentences, 3 span
        // the two.
        let this = "政务公开信息发布年度报告工作情况。";
        let last = "政务公开信息发布。年度报告工作情况。";
        let copied = found(this, last, 0.9);
        assert_eq!(copied.len(), 1);
        assert!((copied[0].1 - 1.0).abs() < 1e-9);
        assert_eq!(copied[0].2, "年度报告工作情况");
    }

    #[test]
    fn similarity_bounds() {
        assert!((similarity("存在的主要问题", "存在的主要问题") - 1.0).abs() < 1e-9);
        assert_eq!(similarity("", ""), 0.0);
        assert!(similarity("公开不够及时", "人员力量不足") < 0.2);
    }

    #[test]
    fn containment_ignores_punctuation_and_what_surrounds() {
        let last = "一是政策解读形式单一，缺少多角度的解读。二是公开内容不够全面。";
        assert!((containment("政策解读形式单一，缺少多角度的解读", last) - 1.0).abs() < 1e-9);
        assert!((containment("政策解读形式单一缺少多角度的解读！", last) - 1.0).abs() < 1e-9);
        assert!(containment("网站栏目更新不及时，个别链接失效", last) < 0.1);
        assert_eq!(containment("", last), 0.0);
    }

    #[test]
    fn one_changed_figure_still_copied() {
        let last = "全年共组织4次政务公开季度检查通报，推进3轮督促整改工作。";
        let this = "全年共组织5次政务公开季度检查通报，推进3轮督促整改工作。";
        let copied = found(this, last, 0.7);
        assert_eq!(copied.len(), 1);
        assert!(copied[0].1 > 0.7);
        assert_eq!(
            copied[0].2,
            "全年共组织4次政务公开季度检查通报，推进3轮督促整改工作"
        );
        // A short sentence is not judged; a new one is not copied.
        assert!(
            copied_sentences("现将有关情况报告如下。", "现将有关情况报告如下。", 0.5).is_empty()
        );
        assert!(
            copied_sentences("今年新建了政府信息公开专栏并按月更新目录内容。", last, 0.5)
                .is_empty()
        );
    }

    /// `from` is the source sentence sharing most of the copied sentence's shingles (the last
    /// of those sharing as many), counting a shingle once per sentence however often it recurs.
    #[test]
    fn the_sentence_copied_from_is_the_one_sharing_most() {
        let from = |this: &str, last: &str| -> Vec<String> {
            found(this, last, 0.5).into_iter().map(|c| c.2).collect()
        };
        let last = "加强政务公开队伍建设。加强政务公开队伍建设加强政务公开队伍建设。\
                    进一步加强政务公开队伍建设和业务培训工作。其他内容与此无关。";
        assert_eq!(
            from("进一步加强政务公开队伍建设和业务培训工作。", last),
            ["进一步加强政务公开队伍建设和业务培训工作"]
        );
        assert_eq!(
            from("加强政务公开队伍建设加强政务公开队伍建设。", last),
            ["加强政务公开队伍建设加强政务公开队伍建设"]
        );
        // Two source sentences share all of it: the last of them.
        assert_eq!(
            from(
                "依法依规做好政府信息公开申请办理工作。",
                "依法依规做好政府信息公开申请办理工作。依法依规做好政府信息公开申请办理工作并答复。"
            ),
            ["依法依规做好政府信息公开申请办理工作并答复"]
        );
        let twice = "全面推进基层政务公开标准化规范化建设。全面推进基层政务公开标准化规范化建设。";
        assert_eq!(
            from("全面推进基层政务公开标准化规范化建设。", twice),
            ["全面推进基层政务公开标准化规范化建设"]
        );
    }
}
