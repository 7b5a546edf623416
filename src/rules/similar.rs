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

/// For each shingle, the sentences holding it: a list per shingle, kept in one vector (a map
/// of vectors cost an allocation per shingle).
struct Holders {
    /// The shingle's last entry in `links`.
    heads: FxHashMap<u128, u32>,
    /// (sentence, the shingle's previous entry or `u32::MAX`).
    links: Vec<(u32, u32)>,
}

impl Holders {
    fn of(sentences: &[&str]) -> Holders {
        // About one shingle per character, and a Chinese character is three bytes.
        let chars: usize = sentences.iter().map(|t| t.len()).sum::<usize>() / 3;
        let mut h = Holders {
            heads: FxHashMap::with_capacity_and_hasher(chars, Default::default()),
            links: Vec::with_capacity(chars),
        };
        for (i, t) in sentences.iter().enumerate() {
            let i = i as u32;
            for k in shingle_keys(&compared(t)) {
                let next = h.links.len() as u32;
                let head = h.heads.entry(k).or_insert(u32::MAX);
                // A sentence's shingles are added together: one already listed for it heads its list.
                if *head != u32::MAX && h.links[*head as usize].0 == i {
                    continue;
                }
                h.links.push((i, *head));
                *head = next;
            }
        }
        h
    }

    /// The sentences holding shingle `s`, each once.
    fn of_shingle(&self, s: u128) -> impl Iterator<Item = usize> + '_ {
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
    let own: Vec<char> = compared(source);
    let pool = shingles(&own);
    let theirs: Vec<&str> = sentences(source);
    // Which of `source`'s sentences hold each shingle, each sentence once per shingle: made
    // when the first copied sentence is found.
    let mut holders: Option<Holders> = None;
    let mut shared = vec![0usize; theirs.len()];
    let mut out = Array::new();
    let (mut chars, mut mine) = (Vec::new(), Vec::new());
    for sentence in sentences(text) {
        chars.clear();
        chars.extend(sentence.chars().filter(|c| is_compared(*c)));
        if chars.len() < MIN_SENTENCE {
            continue;
        }
        distinct_shingles(&chars, &mut mine);
        let found = mine.iter().filter(|s| pool.contains(*s)).count();
        let share = found as FLOAT / mine.len().max(1) as FLOAT;
        if share < threshold {
            continue;
        }
        // The sentence it came from: the one sharing most of its shingles (the last of those
        // sharing as many).
        let holders = holders.get_or_insert_with(|| Holders::of(&theirs));
        shared.iter_mut().for_each(|n| *n = 0);
        for s in &mine {
            for i in holders.of_shingle(*s) {
                shared[i] += 1;
            }
        }
        let from = shared
            .iter()
            .enumerate()
            .max_by_key(|(_, n)| **n)
            .and_then(|(i, _)| theirs.get(i))
            .map_or("", |s| *s);
        let mut m = Map::new();
        m.insert("sentence".into(), Dynamic::from(sentence.to_string()));
        m.insert("share".into(), Dynamic::from(share));
        m.insert("from".into(), Dynamic::from(from.to_string()));
        m.insert("chars".into(), Dynamic::from(chars.len() as INT));
        out.push(Dynamic::from_map(m));
    }
    out
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
        let copied = copied_sentences(this, last, 0.7);
        assert_eq!(copied.len(), 1);
        let m = copied[0].clone_cast::<Map>();
        assert!(m["share"].as_float().unwrap_or(0.0) > 0.7);
        assert_eq!(
            m["from"].clone().into_string().unwrap_or_default(),
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
            copied_sentences(this, last, 0.5)
                .into_iter()
                .map(|c| c.clone_cast::<Map>()["from"].to_string())
                .collect()
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
