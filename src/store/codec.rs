//! How a report's model is kept in the store: its JSON without the copies of its own text,
//! compressed.
//!
//! A report's text was stored three times over: once as `text`, again in each section's text,
//! and again in each claim's sentence and context (with its phrase and the words before and
//! after). Here a section's text is kept as where it lies in `text`, a claim's words are made
//! again from `text` by the parser's own function, and the rest is compressed. Nothing is dropped
//! that cannot be made again exactly: each section and claim is checked when it is written, and
//! one that would not come back the same is kept whole.
//!
//! The payload is the model's JSON without the text, then the text spelled in two bytes per
//! Chinese character instead of UTF-8's three ([`spell`]): the text is three quarters of a stored
//! model, and the compressor finds its repeats in the shorter spelling (a model is ~12 %
//! smaller). Format 3 (written now) compresses it with zstd, format 2 with deflate: zstd at
//! level 2 makes it as small in under half the time, and reads it back in about half.
//! Formats 1 (deflate, the text inside the JSON) and 2 are still read.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};
use serde::{Deserialize, Serialize};

use crate::model::Report;

mod spell;

/// The format's version, first byte of every stored model: the payload compressed by zstd.
const VERSION: u8 = 3;
/// The format before: the same payload deflated.
const VERSION_2: u8 = 2;
/// The first format: the deflated JSON of [`Stored`], the text inside it.
const VERSION_1: u8 = 1;
/// What the compressor is given beforehand: the official form's labels, the model's keys and the
/// tables' shapes, the same in every report (`tools/gen_codec_dictionary.py`). Part of the
/// format: another dictionary needs another version. Zstd takes it as raw content, as deflate did.
const DICTIONARY: &[u8] = include_bytes!("codec.dict");
/// Zstd's level: 2 stores a model as small as deflate's level 3 did, at 40 % of its time
/// (levels 3–5 save 3–6 % more for 1.3–3 times the time).
const ZSTD_LEVEL: i32 = 2;
/// Deflate's level of format 1 and 2, as they were written (for the tests).
#[cfg(test)]
const LEVEL: u32 = 3;
/// Largest model inflated (a stored model is a few hundred KB at most).
const MAX_INFLATED: u64 = 256 * 1024 * 1024;

/// What is stored: the report with the copies emptied, and which were.
#[derive(Serialize, Deserialize)]
struct Stored {
    report: Report,
    /// For each section, the character range of its text in `report.text` (`None`: kept whole).
    sections: Vec<Option<(usize, usize)>>,
    /// For each claim, whether its text and words are to be made again from `report.text`.
    claims: Vec<bool>,
}

/// Byte offsets of each character of `text`, and of its end.
fn boundaries(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect()
}

fn slice<'a>(text: &'a str, at: &[usize], from: usize, to: usize) -> Option<&'a str> {
    let (a, b) = (*at.get(from)?, *at.get(to)?);
    text.get(a..b)
}

/// Where `needle` first occurs in `haystack`, as `haystack.find(needle)`. A section's text is
/// thousands of bytes, and preparing a search for all of them cost a fifth of a model's
/// encoding: its first few characters are searched for, and each place checked whole.
fn first_occurrence(haystack: &str, needle: &str) -> Option<usize> {
    let mut head = needle.len().min(48);
    while !needle.is_char_boundary(head) {
        head -= 1;
    }
    if head == needle.len() {
        return haystack.find(needle);
    }
    haystack
        .match_indices(&needle[..head])
        .map(|(at, _)| at)
        .find(|&at| haystack[at..].starts_with(needle))
}

/// The claim's text and words as the parser makes them from `text`.
fn remade(
    text: &str,
    at: &[usize],
    start: usize,
    end: usize,
) -> Option<(String, crate::parse::ClaimWords)> {
    let (a, b) = (*at.get(start)?, *at.get(end)?);
    if a > b {
        return None;
    }
    Some((
        text.get(a..b)?.to_string(),
        crate::parse::claim_context(text, a, b),
    ))
}

/// The stored form of a report.
pub fn encode(report: &Report) -> Result<Vec<u8>, String> {
    compress(&payload(report)?)
}

/// What is compressed: the JSON's length, the JSON of [`Stored`] (the copies emptied, the text
/// left out), the text spelled short.
fn payload(report: &Report) -> Result<Vec<u8>, String> {
    let text = &report.text;
    let at = boundaries(text);
    let mut slim = report.clone();
    let mut sections = Vec::with_capacity(slim.section_text.len());
    for s in &mut slim.section_text {
        // The section's text is its stretch of the report's text, trimmed: find where (after
        // the stretch's leading white space, or anywhere in it).
        let found = slice(text, &at, s.start, s.end).and_then(|stretch| {
            let lead = stretch.len() - stretch.trim_start().len();
            let off = if stretch[lead..].starts_with(s.text.as_str()) {
                lead
            } else {
                first_occurrence(stretch, &s.text)?
            };
            let from = s.start + stretch[..off].chars().count();
            Some((from, from + s.text.chars().count()))
        });
        match found {
            Some((from, to)) if slice(text, &at, from, to) == Some(s.text.as_str()) => {
                s.text.clear();
                sections.push(Some((from, to)));
            }
            _ => sections.push(None),
        }
    }
    let mut claims = Vec::with_capacity(slim.claims.len());
    for c in &mut slim.claims {
        let same = remade(text, &at, c.start, c.end).is_some_and(|(t, w)| {
            t == c.text
                && w.before == c.before
                && w.after == c.after
                && w.phrase == c.phrase
                && w.sentence == c.sentence
        });
        if same {
            c.text.clear();
            c.before.clear();
            c.after.clear();
            c.phrase.clear();
            c.sentence.clear();
        }
        claims.push(same);
    }
    slim.text = String::new();
    let stored = Stored {
        report: slim,
        sections,
        claims,
    };
    let json = serde_json::to_vec(&stored).map_err(|e| e.to_string())?;
    let text_bytes = spell::encode(text);
    // Format 2's payload: the JSON's length, the JSON, the text.
    let json_len = u32::try_from(json.len()).map_err(|_| "a model over 4 GB".to_string())?;
    let mut payload = Vec::with_capacity(4 + json.len() + text_bytes.len());
    payload.extend_from_slice(&json_len.to_le_bytes());
    payload.extend_from_slice(&json);
    payload.extend_from_slice(&text_bytes);
    Ok(payload)
}

thread_local! {
    /// One compressor and one decompressor per thread, each with the dictionary loaded once:
    /// setting one up (its tables and the dictionary) cost more than a model's whole write.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// `VERSION` and the payload compressed with the dictionary.
fn compress(payload: &[u8]) -> Result<Vec<u8>, String> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let z = match slot {
            Some(z) => z,
            None => slot.insert(
                zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, DICTIONARY)
                    .map_err(|e| format!("zstd: {e}"))?,
            ),
        };
        // The frame's header gives the payload's size: the reader allocates no more.
        let mut out = vec![0; 1 + zstd::zstd_safe::compress_bound(payload.len())];
        out[0] = VERSION;
        let n = z
            .compress_to_buffer(payload, &mut out[1..])
            .map_err(|e| format!("zstd: {e}"))?;
        out.truncate(1 + n);
        Ok(out)
    })
}

/// The payload of a format 3 model, at most [`MAX_INFLATED`] bytes.
fn decompress(z: &[u8]) -> Result<Vec<u8>, String> {
    let size = match zstd::zstd_safe::get_frame_content_size(z) {
        Ok(Some(size)) => size,
        Ok(None) | Err(_) => return Err("stored model: damaged (no frame size)".to_string()),
    };
    if size > MAX_INFLATED {
        return Err("a stored model larger than any report".to_string());
    }
    let size = usize::try_from(size).map_err(|e| e.to_string())?;
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let d = match slot {
            Some(d) => d,
            None => slot.insert(
                zstd::bulk::Decompressor::with_dictionary(DICTIONARY)
                    .map_err(|e| format!("zstd: {e}"))?,
            ),
        };
        let out = d
            .decompress(z, size)
            .map_err(|e| format!("stored model: {e}"))?;
        if out.len() != size {
            return Err("stored model: cut short".to_string());
        }
        Ok(out)
    })
}

/// Inflates a stored model's JSON, at most [`MAX_INFLATED`] bytes.
fn inflate(z: &[u8]) -> Result<Vec<u8>, String> {
    INFLATER.with_borrow_mut(|slot| {
        let d = match slot {
            Some(d) => {
                d.reset(false);
                d
            }
            None => slot.insert(Decompress::new(false)),
        };
        inflate_with(d, z)
    })
}

fn inflate_with(d: &mut Decompress, z: &[u8]) -> Result<Vec<u8>, String> {
    d.set_dictionary(DICTIONARY).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(z.len() * 4);
    loop {
        let read = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        if out.len() == out.capacity() {
            if out.len() as u64 >= MAX_INFLATED {
                return Err("a stored model larger than any report".to_string());
            }
            out.reserve(out.len().max(4096));
        }
        let before = (d.total_in(), d.total_out());
        match d
            .decompress_vec(
                z.get(read..).unwrap_or(&[]),
                &mut out,
                FlushDecompress::Finish,
            )
            .map_err(|e| format!("stored model: {e}"))?
        {
            Status::StreamEnd => return Ok(out),
            // No progress with room to write: the stream is cut short.
            _ if (d.total_in(), d.total_out()) == before && out.len() < out.capacity() => {
                return Err("stored model: cut short".to_string())
            }
            _ => {}
        }
    }
}

/// A report from its stored form.
pub fn decode(bytes: &[u8]) -> Result<Report, String> {
    let (&version, z) = bytes.split_first().ok_or("an empty stored model")?;
    let payload = match version {
        VERSION => decompress(z)?,
        VERSION_2 | VERSION_1 => inflate(z)?,
        _ => {
            return Err(format!(
                "a stored model of format {version}, this version reads {VERSION_1} to {VERSION}"
            ))
        }
    };
    let (json, text) = if version == VERSION_1 {
        (payload.as_slice(), None)
    } else {
        let (len, rest) = payload
            .split_first_chunk::<4>()
            .ok_or("stored model: cut short")?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|e| e.to_string())?;
        if len > rest.len() {
            return Err("stored model: cut short".to_string());
        }
        let (json, text) = rest.split_at(len);
        let text = spell::decode(text).ok_or("stored model: its text is damaged")?;
        (json, Some(text))
    };
    let Stored {
        mut report,
        sections,
        claims,
    } = serde_json::from_slice(json).map_err(|e| format!("stored model: {e}"))?;
    if let Some(text) = text {
        report.text = text;
    }
    let at = boundaries(&report.text);
    for (s, range) in report.section_text.iter_mut().zip(sections) {
        if let Some((from, to)) = range {
            s.text = slice(&report.text, &at, from, to)
                .ok_or("a section outside the report's text")?
                .to_string();
        }
    }
    let text = &report.text;
    for (c, slimmed) in report.claims.iter_mut().zip(claims) {
        if slimmed {
            let (t, w) =
                remade(text, &at, c.start, c.end).ok_or("a claim outside the report's text")?;
            c.text = t;
            c.before = w.before;
            c.after = w.after;
            c.phrase = w.phrase;
            c.sentence = w.sentence;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// `data` deflated with the dictionary after the format's byte, as formats 1 and 2 were
    /// written.
    fn deflated(version: u8, data: &[u8]) -> Vec<u8> {
        let mut z = Compress::new(Compression::new(LEVEL), false);
        z.set_dictionary(DICTIONARY).expect("dictionary");
        let mut out = Vec::with_capacity(data.len() + 1024);
        out.push(version);
        let status = z
            .compress_vec(data, &mut out, FlushCompress::Finish)
            .expect("deflate");
        assert_eq!(status, Status::StreamEnd);
        out
    }

    /// Every real report and seed comes back exactly as parsed, in a fraction of its JSON.
    #[test]
    fn real_reports_come_back_exactly_and_smaller() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut files = Vec::new();
        for dir in ["seeds", "samples", "generated"] {
            for e in std::fs::read_dir(root.join(dir))
                .expect("fixtures")
                .flatten()
            {
                let p = e.path();
                if p.extension().is_some_and(|x| x != "md" && x != "pdf") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() > 20, "{files:?}");
        let (mut json_bytes, mut stored_bytes) = (0, 0);
        for path in &files {
            let outcome = crate::pipeline::read_file(path);
            let Some(report) = outcome.report else {
                continue;
            };
            let z = encode(&report).expect("encode");
            let report = &report;
            assert_eq!(decode(&z).expect("decode"), **report, "{}", path.display());
            json_bytes += serde_json::to_vec(&**report).expect("json").len();
            stored_bytes += z.len();
        }
        assert!(
            stored_bytes * 4 < json_bytes,
            "{stored_bytes} bytes stored for {json_bytes} bytes of JSON"
        );
    }

    #[test]
    fn a_section_or_claim_that_would_not_come_back_the_same_is_kept_whole() {
        let mut report = crate::parse::parse(
            "2020年政府信息公开工作年度报告\n一、总体情况\n全年共收到申请58件,办结率100%。\n",
        )
        .unwrap_or_default();
        report.text =
            "2020年政府信息公开工作年度报告\n一、总体情况\n全年共收到申请58件,办结率100%。\n"
                .into();
        report.section_text.push(crate::model::Section {
            key: crate::model::SectionKey::Overview,
            heading: "一、总体情况".into(),
            text: "不在正文里的文字".into(),
            start: 0,
            end: 5,
        });
        report.claims.push(crate::model::Claim {
            value: 1.0,
            unit: "件".into(),
            text: "1件".into(),
            phrase: "改过的".into(),
            sentence: "改过的句子".into(),
            before: String::new(),
            after: String::new(),
            section: None,
            start: 10_000,
            end: 10_002,
        });
        let z = encode(&report).expect("encode");
        let back = decode(&z).expect("decode");
        assert_eq!(back, report);
        // Cut short anywhere, or damaged: an error, never a hang or a panic.
        for len in 0..z.len() {
            assert!(decode(&z[..len]).is_err(), "cut at {len}");
        }
        for at in 1..z.len() {
            let mut bad = z.clone();
            bad[at] ^= 0x5A;
            let _ = decode(&bad);
        }
        // Damaged stored models are errors.
        assert!(decode(&[]).is_err());
        assert!(decode(&[VERSION, 1, 2, 3]).is_err());
        assert!(decode(&[VERSION_1, 1, 2, 3]).is_err());
        assert!(decode(&[VERSION_2, 1, 2, 3]).is_err());
        assert!(decode(&[9]).is_err());
        // A frame that says it holds more than any report: refused before anything is
        // allocated for it (zstd's magic number, a single segment with an 8-byte size).
        let mut huge = vec![VERSION, 0x28, 0xB5, 0x2F, 0xFD, 0xE0];
        huge.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        let err = decode(&huge).expect_err("a huge frame");
        assert!(err.contains("larger than any report"), "{err}");
    }

    #[test]
    fn first_occurrence_is_find() {
        let hay = "一、总体情况\n本机关本机关本机关收到申请。二、主动公开\n本机关收到申请58件。本机关收到申请58件。";
        for needle in [
            "",
            "本",
            "本机关收到申请58件。",
            "本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关本机关",
            "本机关本机关本机关本机关本机关本机关本机关本机关",
            "本机关本机关本机关本机关本机关本机关本机关本机关本",
            "本机关本机关本机关本机关本机关本机关本机关收到申请。二、主动公开",
            "收到申请。二、主动公开\n本机关收到申请58件。本机关收到申请58件。",
            "收到申请。二、主动公开\n本机关收到申请58件。本机关收到申请58件。！",
        ] {
            assert_eq!(first_occurrence(hay, needle), hay.find(needle), "{needle}");
        }
    }

    /// Models stored in format 2 (the same payload, deflated) are read as they were written,
    /// and the format written now is the smaller or within a few per cent.
    #[test]
    fn format_2_is_read_as_written() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
        let (mut v2, mut v3) = (0, 0);
        for e in std::fs::read_dir(root).expect("seeds").flatten() {
            let Some(report) = crate::pipeline::read_file(&e.path()).report else {
                continue;
            };
            let old = deflated(VERSION_2, &payload(&report).expect("payload"));
            assert_eq!(decode(&old).expect("format 2"), *report);
            let new = encode(&report).expect("encode");
            assert_eq!(new[0], VERSION);
            assert_eq!(decode(&new).expect("format 3"), *report);
            v2 += old.len();
            v3 += new.len();
        }
        assert!(v2 > 0);
        assert!(v3 * 100 <= v2 * 105, "format 3: {v3} bytes, format 2: {v2}");
    }

    /// Format 1 as it was written: the JSON of `Stored`, the text inside, deflated.
    fn encode_v1(report: &Report) -> Vec<u8> {
        let stored = Stored {
            report: report.clone(),
            sections: vec![None; report.section_text.len()],
            claims: vec![false; report.claims.len()],
        };
        deflated(VERSION_1, &serde_json::to_vec(&stored).expect("json"))
    }

    /// Models stored in format 1 are read as they were written; characters outside GB18030's
    /// two-byte codes come back the same.
    #[test]
    fn format_1_is_read_and_any_text_comes_back() {
        let text = "2021年政府信息公开工作年度报告\n一、总体情况\n全年共收到申请58件。\n";
        let mut report = crate::parse::parse(text).unwrap_or_default();
        report.text = text.into();
        assert_eq!(decode(&encode_v1(&report)).expect("format 1"), report);
        for odd in ["\u{E5E5}", "😀", "\u{FFFD}", "a\u{0}b", "繁體字與简体字"] {
            report.text = format!("{text}{odd}");
            let z = encode(&report).expect("encode");
            assert_eq!(decode(&z).expect("decode"), report, "{odd:?}");
        }
    }
}
