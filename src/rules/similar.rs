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
    text.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// A shingle as one number: its length, then 21 bits per character (every `char` fits).
fn key(w: &[char]) -> u128 {
    w.iter().fold(w.len() as u128, |k, c| {
        (k << 21) | u128::from(u32::from(*c))
    })
}

/// The shingles of a text; a text shorter than one shingle is one shingle.
fn shingles(chars: &[char]) -> FxHashSet<u128> {
    if chars.len() < SHINGLE {
        return std::iter::once(chars)
            .filter(|c| !c.is_empty())
            .map(key)
            .collect();
    }
    chars.windows(SHINGLE).map(key).collect()
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

/// The sentences of `text` that `source` already holds: at least [`MIN_SENTENCE`] characters
/// long and with at least `threshold` of their shingles in it. Each as `#{sentence, share,
/// from}`: `share` the part found, `from` the sentence of `source` most like it.
pub fn copied_sentences(text: &str, source: &str, threshold: FLOAT) -> Array {
    let own: Vec<char> = compared(source);
    let pool = shingles(&own);
    let theirs: Vec<&str> = sentences(source);
    // Which of `source`'s sentences hold each shingle (each sentence once per shingle).
    let mut holders: FxHashMap<u128, Vec<usize>> = FxHashMap::default();
    for (i, t) in theirs.iter().enumerate() {
        for s in shingles(&compared(t)) {
            holders.entry(s).or_default().push(i);
        }
    }
    let mut shared = vec![0usize; theirs.len()];
    let mut out = Array::new();
    for sentence in sentences(text) {
        let chars = compared(sentence);
        if chars.len() < MIN_SENTENCE {
            continue;
        }
        let mine = shingles(&chars);
        let found = mine.iter().filter(|s| pool.contains(*s)).count();
        let share = found as FLOAT / mine.len().max(1) as FLOAT;
        if share < threshold {
            continue;
        }
        // The sentence it came from: the one sharing most of its shingles (the last of those
        // sharing as many).
        shared.iter_mut().for_each(|n| *n = 0);
        for s in &mine {
            for i in holders.get(s).map_or(&[][..], Vec::as_slice) {
                shared[*i] += 1;
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
}
