//! The benchmark corpus: any number of distinct, realistic reports made from the real ones.
//!
//! Eight real reports are embedded in the binary (the five seeds, one per way of flattening the
//! tables, and three text samples), so `ogi-audit bench gen` works from an installed binary.
//! Report `i` of a corpus is a pure function of (`seed`, `i`): one of the eight, with
//!
//! - the issuer replaced by a generated county, district or city and department (or sub-district),
//!   shared by reports 2k and 2k + 1, which are one year apart (so the daemon finds the year
//!   before in its store, as in real use) and otherwise unique within the first
//!   2 × [`UNIQUE_NAMES`] reports: no two reports of a corpus are the same file;
//! - the year moved (every `20XX年` and date shifted alike, within the years of the report's
//!   template, so `template-year` stays quiet);
//! - table numbers changed consistently: requests moved from one applicant column to another in
//!   the rows 本年新收, one result row and (七)总计, so every identity of table 3 still holds, and
//!   some 处理决定数量 of table 2 rescaled; in a fraction of the reports (`broken`) one identity is
//!   then broken on purpose (`t3-balance`, `t3-processed-total` or `t4-totals` must fire). (The
//!   sample whose table-3 cells are glued together, `713000074`, keeps its table 3.)
//! - written as plain text (its own flattening, LF or CRLF) or, for the seeds, as an HTML page
//!   with real `<table>`s built from the numbers; in UTF-8 (some with BOM) or GBK.
//!
//! Where each table cell sits in the text is found once per embedded report, by parsing a copy
//! whose numbers are all replaced by distinct markers: the parser itself says which number is
//! which cell, whatever the flattening.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock};

use anyhow::{bail, Context as _, Result};
use regex::Regex;

use crate::model::{
    t2_layout, t3_rows, Report, Table, Table2, Template, T3_COLUMNS, T3_OTHER_2021, T4_COLUMNS,
    T4_GROUPS,
};
use crate::{extract, parse};

/// How a name in an embedded report is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    /// The whole issuer: place + department.
    Org,
    /// The county, district or city (`青川县`).
    Place,
    /// The place without its last character (`青川`).
    Stem,
    /// A sub-district's two-character name (`白沙`, before `街道`).
    Town,
}

/// One embedded real report.
struct Source {
    id: &'static str,
    text: &'static str,
    /// Whether an HTML page can be built from it (its section headings start lines).
    html: bool,
    /// Names to replace, longest first.
    names: &'static [(&'static str, Name)],
}

const SOURCES: &[Source] = &[
    Source {
        id: "seed000",
        text: include_str!("../../tests/fixtures/seeds/000_32590e3cc98cb08c.txt"),
        html: true,
        names: &[
            ("淮安经济技术开发区党政办公室", Name::Org),
            ("经开区党政办", Name::Org),
            ("经开区", Name::Place),
        ],
    },
    Source {
        id: "seed001",
        text: include_str!("../../tests/fixtures/seeds/001_7525cffb9e742ff2.txt"),
        html: true,
        names: &[("淮南市人民政府办公室", Name::Org), ("淮南市", Name::Place)],
    },
    Source {
        id: "seed002",
        text: include_str!("../../tests/fixtures/seeds/002_51f17e08e942b61d.txt"),
        html: true,
        names: &[
            ("烟台市人民政府", Name::Org),
            ("烟台市", Name::Place),
            ("烟台", Name::Stem),
        ],
    },
    Source {
        id: "seed003",
        text: include_str!("../../tests/fixtures/seeds/003_211f0501946b8fa1.txt"),
        html: true,
        names: &[("宁国市", Name::Place), ("西津", Name::Town)],
    },
    Source {
        id: "seed004",
        text: include_str!("../../tests/fixtures/seeds/004_b29312736e7f4b68.txt"),
        html: true,
        names: &[
            ("井陘礦區人民政府辦公室", Name::Org),
            ("井陘礦區政府", Name::Org),
            ("井陘礦區", Name::Place),
        ],
    },
    Source {
        id: "pingtan2022",
        text: include_str!("../../tests/fixtures/samples/2022-pingtan.txt"),
        html: false,
        names: &[("平潭综合实验区", Name::Org)],
    },
    Source {
        id: "kewei2024",
        text: include_str!("../../tests/fixtures/samples/2024-shanghai-kewei.txt"),
        html: false,
        names: &[
            ("上海市科委", Name::Org),
            ("上海市", Name::Place),
            ("上海", Name::Stem),
        ],
    },
    Source {
        id: "shuyang2025",
        text: include_str!("../../tests/fixtures/samples/2025-shuyang-xzf.txt"),
        html: false,
        names: &[("沐阳县人民政府", Name::Org), ("沐阳", Name::Stem)],
    },
];

/// First and second characters of generated place names (60 × 60 stems).
const STEM1: [&str; 60] = [
    "青", "白", "红", "金", "银", "玉", "云", "龙", "凤", "鹤", "松", "柏", "桂", "梅", "兰", "竹",
    "荷", "桃", "柳", "杨", "清", "明", "长", "永", "新", "安", "平", "宁", "丰", "泰", "福", "兴",
    "华", "昌", "盛", "嘉", "宜", "顺", "康", "乐", "文", "武", "德", "仁", "高", "广", "东", "西",
    "南", "北", "临", "延", "汉", "通", "定", "崇", "怀", "碧", "翠", "紫",
];
const STEM2: [&str; 60] = [
    "山", "川", "河", "江", "湖", "海", "溪", "泉", "岭", "峰", "原", "林", "阳", "城", "州", "水",
    "田", "桥", "口", "台", "坪", "湾", "塘", "陵", "丘", "沙", "石", "门", "关", "岩", "庄", "浦",
    "洲", "渡", "滨", "源", "谷", "冈", "坡", "岗", "泽", "津", "坝", "屯", "营", "堡", "集", "店",
    "埠", "寨", "铺", "圩", "亭", "宁", "安", "兴", "都", "丰", "昌", "乡",
];
const SUFFIX: [&str; 3] = ["县", "区", "市"];
/// Departments (for `Org`) or, at the same index, sub-districts (for `Town`).
const UNITS: [(&str, &str); 30] = [
    ("人民政府办公室", "城关"),
    ("人民政府", "新华"),
    ("发展和改革委员会", "人民"),
    ("教育局", "解放"),
    ("公安局", "东风"),
    ("民政局", "和平"),
    ("司法局", "建设"),
    ("财政局", "胜利"),
    ("人力资源和社会保障局", "红旗"),
    ("自然资源和规划局", "朝阳"),
    ("生态环境局", "向阳"),
    ("住房和城乡建设局", "团结"),
    ("交通运输局", "光明"),
    ("水利局", "幸福"),
    ("农业农村局", "文化"),
    ("商务局", "北关"),
    ("文化和旅游局", "南关"),
    ("卫生健康委员会", "西关"),
    ("应急管理局", "东关"),
    ("审计局", "城东"),
    ("市场监督管理局", "城西"),
    ("统计局", "城南"),
    ("医疗保障局", "城北"),
    ("城市管理局", "新城"),
    ("退役军人事务局", "老城"),
    ("林业局", "河滨"),
    ("数据局", "江南"),
    ("行政审批局", "江北"),
    ("科学技术局", "湖滨"),
    ("工业和信息化局", "山前"),
];

/// Pairs `0..UNIQUE_NAMES` (reports `0..2 × UNIQUE_NAMES`) of one corpus all have different
/// issuer names; the two reports of a pair are one year apart.
pub const UNIQUE_NAMES: u64 = (STEM1.len() * STEM2.len() * SUFFIX.len() * UNITS.len()) as u64;

/// A multiplier coprime with [`UNIQUE_NAMES`] (= 2^5·3^4·5^3): `i ↦ i·A + b mod M` is a bijection.
const NAME_STRIDE: u64 = 100_003;

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1).max(1) as u64) as i64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// A number in an embedded report's text.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    value: i64,
}

/// Which table a cell is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Tbl {
    T2,
    T3,
    T4,
}

type CellKey = (Tbl, String, String);

/// What is known about one embedded report: its parsed model and where each cell is.
struct Analysis {
    source: &'static Source,
    base: Report,
    template: Template,
    year: i32,
    tokens: Vec<Token>,
    /// Cell → index into `tokens`.
    cells: HashMap<CellKey, usize>,
    names: Regex,
}

static ANALYSES: OnceLock<Result<Vec<Arc<Analysis>>, String>> = OnceLock::new();

static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+").expect("number pattern"));
/// A year in a date or before 年 (not in document numbers such as 〔2019〕60号).
static YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(20\d\d)([ \t]*年|-\d{1,2}-\d{1,2})").expect("year pattern"));

fn parse_text(text: &str) -> Result<Report> {
    let x = extract::extract_bytes(text.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
    parse::parse(&x.text).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Numbers that may be table cells: not list labels (`1.属于…`), decimals, years, dates,
/// document numbers or percentages.
fn candidate_tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for m in NUMBER.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..]
            .trim_start_matches([' ', '\t'])
            .chars()
            .next();
        let skip_before = matches!(
            before,
            Some(
                '.' | '．'
                    | '('
                    | '（'
                    | '〔'
                    | '﹝'
                    | '['
                    | '第'
                    | '-'
                    | '－'
                    | '+'
                    | ':'
                    | '：'
                    | '/'
            )
        );
        let skip_after = matches!(
            after,
            Some(
                '.' | '．'
                    | '、'
                    | ')'
                    | '）'
                    | '%'
                    | '％'
                    | '年'
                    | '月'
                    | '日'
                    | '号'
                    | '號'
                    | '〕'
                    | '﹞'
                    | ']'
                    | ':'
                    | '：'
                    | '-'
                    | '－'
                    | '/'
                    | '万'
                    | '元'
            )
        );
        if skip_before || skip_after || m.len() > 6 {
            continue;
        }
        if let Ok(value) = m.as_str().parse() {
            out.push(Token {
                start: m.start(),
                end: m.end(),
                value,
            });
        }
    }
    out
}

/// The probe's markers: distinct, larger than any count in the embedded reports.
const MARKER_BASE: i64 = 10_000;

fn analyse(source: &'static Source) -> Result<Analysis> {
    let base = parse_text(source.text).with_context(|| format!("{} does not parse", source.id))?;
    let template = base
        .template
        .with_context(|| format!("{}: no template", source.id))?;
    let year = base
        .year
        .with_context(|| format!("{}: no year", source.id))?;
    let tokens = candidate_tokens(source.text);
    // Every candidate number replaced by its marker, in one copy: one parse finds them all.
    let mut probe = String::with_capacity(source.text.len() + tokens.len() * 4);
    let mut at = 0;
    for (i, t) in tokens.iter().enumerate() {
        probe.push_str(&source.text[at..t.start]);
        let _ = write!(probe, "{}", MARKER_BASE + i as i64);
        at = t.end;
    }
    probe.push_str(&source.text[at..]);
    let marked = parse_text(&probe).with_context(|| format!("{}: probe copy", source.id))?;

    let mut found: HashMap<usize, Vec<CellKey>> = HashMap::new();
    let mut note = |v: f64, key: CellKey| {
        let i = v.abs() as i64 - MARKER_BASE;
        if v.fract() == 0.0 && (0..tokens.len() as i64).contains(&i) {
            found.entry(i as usize).or_default().push(key);
        }
    };
    for (tbl, table) in [(Tbl::T3, &marked.table3), (Tbl::T4, &marked.table4)] {
        for (row, cols) in table {
            for (col, v) in cols {
                if let Some(v) = v {
                    note(*v as f64, (tbl, row.clone(), col.clone()));
                }
            }
        }
    }
    for (row, cols) in &marked.table2 {
        for (col, v) in cols {
            if let Some(v) = v {
                note(*v, (Tbl::T2, row.clone(), col.clone()));
            }
        }
    }
    let mut cells = HashMap::new();
    for (i, keys) in found {
        // A marker read into two cells is not a cell's own number.
        if let [key] = keys.as_slice() {
            let base_value = match key.0 {
                Tbl::T2 => cell2(&base.table2, &key.1, &key.2).map(|v| v as i64),
                Tbl::T3 => cell(&base.table3, &key.1, &key.2),
                Tbl::T4 => cell(&base.table4, &key.1, &key.2),
            };
            if base_value == Some(tokens[i].value) {
                cells.insert(key.clone(), i);
            }
        }
    }
    let mut needles: Vec<&str> = source.names.iter().map(|(n, _)| *n).collect();
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let names = Regex::new(
        &needles
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|"),
    )
    .context("names pattern")?;
    Ok(Analysis {
        source,
        base,
        template,
        year,
        tokens,
        cells,
        names,
    })
}

fn analyses() -> Result<&'static [Arc<Analysis>]> {
    let result = ANALYSES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|s| analyse(s).map(Arc::new).map_err(|e| format!("{e:#}")))
            .collect()
    });
    match result {
        Ok(v) => Ok(v.as_slice()),
        Err(e) => bail!("benchmark corpus: {e}"),
    }
}

fn cell(t: &Table, row: &str, col: &str) -> Option<i64> {
    t.get(row).and_then(|r| r.get(col)).copied().flatten()
}

fn cell2(t: &Table2, row: &str, col: &str) -> Option<f64> {
    t.get(row).and_then(|r| r.get(col)).copied().flatten()
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Html,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Html => "html",
        }
    }
}

/// The character encoding of a generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    Gbk,
    /// GBK could not hold every character: written as GB18030.
    Gb18030,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Utf8Bom => "utf-8-bom",
            Encoding::Gbk => "gbk",
            Encoding::Gb18030 => "gb18030",
        }
    }
}

/// What a generated report is, and what a correct reading of it gives.
#[derive(Debug, Clone)]
pub struct Meta {
    pub index: u64,
    /// The embedded report it was made from.
    pub source: &'static str,
    /// The generated issuer (as written in the title or the report's own sentence).
    pub organization: String,
    /// The generated place (every reading of the issuer contains it).
    pub place: String,
    pub year: i32,
    pub template: Template,
    pub format: Format,
    pub encoding: Encoding,
    pub crlf: bool,
    /// The identity broken on purpose: the rule that must fire (`t3-balance` …), if any.
    pub broken: Option<&'static str>,
    /// Tables 3 and 4 as they are written in the file.
    pub table3: Table,
    pub table4: Table,
}

/// One generated report.
#[derive(Debug, Clone)]
pub struct Generated {
    /// File name (`000123.txt`, `000124.html`).
    pub name: String,
    pub bytes: Vec<u8>,
    pub meta: Meta,
}

/// Makes report `i` of a corpus; deterministic in (`seed`, `broken`, `i`).
#[derive(Debug, Clone)]
pub struct Generator {
    pub seed: u64,
    /// Fraction of reports with one identity broken on purpose.
    pub broken: f64,
    /// Fraction written as HTML pages (of those made from a seed).
    pub html: f64,
    /// Fraction written in GBK.
    pub gbk: f64,
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            seed,
            broken: 0.1,
            html: 0.3,
            gbk: 0.35,
        }
    }

    /// Checks the embedded reports once (parsing each twice); later calls are free.
    pub fn prepare(&self) -> Result<()> {
        analyses().map(|_| ())
    }

    /// The report of index `i`.
    pub fn generate(&self, index: u64) -> Result<Generated> {
        let all = analyses()?;
        // Reports 2k and 2k + 1 are the same issuer's, one year apart, made from the same
        // embedded report: the daemon finds the year before in the store, as it does in real use.
        let pair = index / 2;
        let mut shared = Rng::new(self.seed ^ pair.wrapping_mul(0x9FB2_1C65_1E98_DF25));
        shared.next();
        let a = &all[shared.below(all.len())];
        let mut rng = Rng::new(self.seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();

        // Names: unique for the first UNIQUE_NAMES pairs.
        let offset = Rng::new(self.seed).next() % UNIQUE_NAMES;
        let mut k = (pair % UNIQUE_NAMES)
            .wrapping_mul(NAME_STRIDE)
            .wrapping_add(offset)
            % UNIQUE_NAMES;
        let mut digit = |n: usize| {
            let d = (k % n as u64) as usize;
            k /= n as u64;
            d
        };
        let (s1, s2, sfx, unit) = (
            digit(STEM1.len()),
            digit(STEM2.len()),
            digit(SUFFIX.len()),
            digit(UNITS.len()),
        );
        let stem = format!("{}{}", STEM1[s1], STEM2[s2]);
        let place = format!("{stem}{}", SUFFIX[sfx]);
        let (dept, town) = UNITS[unit];
        let org = format!("{place}{dept}");
        let organization = if a.source.names.iter().any(|(_, n)| *n == Name::Org) {
            org.clone()
        } else {
            format!("{place}{town}街道办事处")
        };

        // Year, within the template's years; the second of a pair one year after the first
        // (or before it, at the end of the range).
        let (lo, hi) = match a.template {
            Template::Y2019 => (2019, 2020),
            Template::Y2021 => (2021, 2025),
        };
        let first = shared.range(lo, hi) as i32;
        let year = match (index % 2, first < hi as i32) {
            (0, _) => first,
            (_, true) => first + 1,
            (_, false) => first - 1,
        };
        let delta = year - a.year;

        // Numbers.
        let mut edit = Edit::new(a);
        edit.move_requests(&mut rng);
        if rng.chance(0.5) {
            edit.move_requests(&mut rng);
        }
        edit.vary_table2(&mut rng);
        let broken = if rng.chance(self.broken) {
            edit.break_identity(&mut rng)
        } else {
            None
        };
        let mut text = edit.apply();

        // Names and years.
        text = a
            .names
            .replace_all(&text, |c: &regex::Captures<'_>| {
                let found = &c[0];
                let kind = a
                    .source
                    .names
                    .iter()
                    .find(|(n, _)| *n == found)
                    .map_or(Name::Place, |(_, k)| *k);
                match kind {
                    Name::Org => org.clone(),
                    Name::Place => place.clone(),
                    Name::Stem => stem.clone(),
                    Name::Town => town.to_string(),
                }
            })
            .into_owned();
        if delta != 0 {
            text = YEAR
                .replace_all(&text, |c: &regex::Captures<'_>| {
                    let y: i32 = c[1].parse().unwrap_or(0);
                    format!("{}{}", y + delta, &c[2])
                })
                .into_owned();
        }

        // Format, line endings, encoding.
        let format = if a.source.html && rng.chance(self.html) {
            Format::Html
        } else {
            Format::Text
        };
        let mut crlf = false;
        let gbk = rng.chance(self.gbk);
        let bom = rng.chance(0.15);
        let body = match format {
            Format::Html => html_page(&text, &organization, year, a.template, &edit, gbk),
            Format::Text => {
                crlf = rng.chance(0.25);
                if crlf {
                    text.replace("\r\n", "\n").replace('\n', "\r\n")
                } else {
                    text
                }
            }
        };
        let (bytes, encoding) = if gbk {
            match encode_gbk(&body) {
                Some(b) => (b, Encoding::Gbk),
                None => {
                    let (b, _, _) = encoding_rs::GB18030.encode(&body);
                    (b.into_owned(), Encoding::Gb18030)
                }
            }
        } else if bom && format == Format::Text {
            let mut b = vec![0xEF, 0xBB, 0xBF];
            b.extend_from_slice(body.as_bytes());
            (b, Encoding::Utf8Bom)
        } else {
            (body.into_bytes(), Encoding::Utf8)
        };
        let ext = match format {
            Format::Html => "html",
            Format::Text => "txt",
        };
        Ok(Generated {
            name: format!("{index:06}.{ext}"),
            bytes,
            meta: Meta {
                index,
                source: a.source.id,
                organization,
                place,
                year,
                template: a.template,
                format,
                encoding,
                crlf,
                broken,
                table3: edit.t3,
                table4: edit.t4,
            },
        })
    }

    /// Writes reports `0..n` into `dir` (created), with a `.manifest.tsv` describing each
    /// (a hidden file: neither `check` nor the daemon reads it). Returns the total bytes written.
    pub fn write_dir(&self, n: u64, dir: &Path) -> Result<u64> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut manifest = String::from(
            "file\tsource\torganization\tyear\ttemplate\tformat\tencoding\tline_endings\tbroken\tsha256\n",
        );
        let mut seen = HashSet::new();
        let mut total = 0;
        for i in 0..n {
            let g = self.generate(i)?;
            let sha = crate::pipeline::sha256_hex(&g.bytes);
            if !seen.insert(sha.clone()) {
                bail!("report {i} repeats an earlier one (sha256 {sha})");
            }
            std::fs::write(dir.join(&g.name), &g.bytes)
                .with_context(|| format!("cannot write {}", dir.join(&g.name).display()))?;
            total += g.bytes.len() as u64;
            let m = &g.meta;
            let _ = writeln!(
                manifest,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                g.name,
                m.source,
                m.organization,
                m.year,
                m.template,
                m.format.as_str(),
                m.encoding.as_str(),
                if m.crlf { "crlf" } else { "lf" },
                m.broken.unwrap_or("-"),
                sha
            );
        }
        std::fs::write(dir.join(".manifest.tsv"), manifest).context("cannot write the manifest")?;
        Ok(total)
    }
}

/// A character's GBK bytes (up to two) and their count; `None`: not in GBK.
type GbkBytes = Option<([u8; 2], u8)>;

thread_local! {
    /// GBK bytes of each character met so far.
    static GBK: std::cell::RefCell<HashMap<char, GbkBytes>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Text in GBK, as `encoding_rs::GBK.encode` gives it, or `None` when a character is not in
/// GBK. GBK is stateless, so character by character is the same; the cache makes it ~20 times
/// faster than encoding_rs's encoder, which searches its tables for every Chinese character.
fn encode_gbk(text: &str) -> Option<Vec<u8>> {
    GBK.with(|cache| {
        let mut cache = cache.borrow_mut();
        let mut out = Vec::with_capacity(text.len());
        let mut buf = [0u8; 4];
        for ch in text.chars() {
            if ch.is_ascii() {
                out.push(ch as u8);
                continue;
            }
            let entry = *cache.entry(ch).or_insert_with(|| {
                let (b, _, unmappable) = encoding_rs::GBK.encode(ch.encode_utf8(&mut buf));
                match b.len() {
                    1 | 2 if !unmappable => {
                        let mut bytes = [0u8; 2];
                        bytes[..b.len()].copy_from_slice(&b);
                        Some((bytes, b.len() as u8))
                    }
                    _ => None,
                }
            });
            let (bytes, len) = entry?;
            out.extend_from_slice(&bytes[..len as usize]);
        }
        Some(out)
    })
}

/// Changes to one embedded report's numbers, kept in step with the tables they give.
struct Edit<'a> {
    a: &'a Analysis,
    /// Token index → new value.
    values: BTreeMap<usize, i64>,
    t2: Table2,
    t3: Table,
    t4: Table,
}

impl<'a> Edit<'a> {
    fn new(a: &'a Analysis) -> Edit<'a> {
        Edit {
            a,
            values: BTreeMap::new(),
            t2: a.base.table2.clone(),
            t3: a.base.table3.clone(),
            t4: a.base.table4.clone(),
        }
    }

    /// Whether a cell's number can be changed in the text (and its current value).
    fn editable(&self, tbl: Tbl, row: &str, col: &str) -> Option<i64> {
        self.a.cells.get(&(tbl, row.to_string(), col.to_string()))?;
        match tbl {
            Tbl::T3 => cell(&self.t3, row, col),
            Tbl::T4 => cell(&self.t4, row, col),
            Tbl::T2 => cell2(&self.t2, row, col).map(|v| v as i64),
        }
    }

    fn add(&mut self, tbl: Tbl, row: &str, col: &str, delta: i64) {
        let Some(v) = self.editable(tbl, row, col) else {
            return;
        };
        let new = v + delta;
        let key = (tbl, row.to_string(), col.to_string());
        let token = self.a.cells[&key];
        self.values.insert(token, new);
        match tbl {
            Tbl::T3 | Tbl::T4 => {
                let t = if tbl == Tbl::T3 {
                    &mut self.t3
                } else {
                    &mut self.t4
                };
                if let Some(c) = t.get_mut(row).and_then(|r| r.get_mut(col)) {
                    *c = Some(new);
                }
                // The parser adds the three (六) rows of the 2021 template up into `other`.
                if tbl == Tbl::T3 && T3_OTHER_2021.contains(&row) {
                    if let Some(Some(o)) = self.t3.get_mut("other").and_then(|r| r.get_mut(col)) {
                        *o += delta;
                    }
                }
            }
            Tbl::T2 => {
                if let Some(c) = self.t2.get_mut(row).and_then(|r| r.get_mut(col)) {
                    *c = Some(new as f64);
                }
            }
        }
    }

    /// Result rows of table 3 (the rows (七)总计 adds up).
    fn result_rows(&self) -> Vec<&'static str> {
        t3_rows(self.a.template)
            .into_iter()
            .filter(|r| {
                !matches!(
                    *r,
                    "new_received" | "carried_over" | "total_processed" | "carried_forward"
                )
            })
            .collect()
    }

    /// Moves k requests from one applicant column to another in 本年新收, one result row and
    /// (七)总计: row totals, column balances and the processed total all still hold.
    fn move_requests(&mut self, rng: &mut Rng) {
        let applicants = &T3_COLUMNS[..6];
        let mut options = Vec::new();
        for s in applicants {
            let (Some(nr), Some(tp)) = (
                self.editable(Tbl::T3, "new_received", s),
                self.editable(Tbl::T3, "total_processed", s),
            ) else {
                continue;
            };
            for r in self.result_rows() {
                let Some(rv) = self.editable(Tbl::T3, r, s) else {
                    continue;
                };
                let most = nr.min(tp).min(rv).min(3);
                if most < 1 {
                    continue;
                }
                for t in applicants {
                    if t != s
                        && ["new_received", "total_processed", r]
                            .iter()
                            .all(|row| self.editable(Tbl::T3, row, t).is_some())
                    {
                        options.push((*s, *t, r, most));
                    }
                }
            }
        }
        let Some(&(s, t, r, most)) = rng.pick(&options) else {
            return;
        };
        let k = rng.range(1, most);
        for row in ["new_received", "total_processed", r] {
            self.add(Tbl::T3, row, s, -k);
            self.add(Tbl::T3, row, t, k);
        }
    }

    /// Rescales some 处理决定数量 of table 2 (no identity involves them).
    fn vary_table2(&mut self, rng: &mut Rng) {
        for (row, cols) in t2_layout(self.a.template) {
            if !cols.contains(&"decisions") {
                continue;
            }
            if let Some(v) = self.editable(Tbl::T2, row, "decisions") {
                if v > 0 && rng.chance(0.7) {
                    let new = v * rng.range(60, 140) / 100 + rng.range(0, 9);
                    self.add(Tbl::T2, row, "decisions", new - v);
                }
            }
        }
    }

    /// Breaks one identity; returns the rule that must notice.
    fn break_identity(&mut self, rng: &mut Rng) -> Option<&'static str> {
        let k = rng.range(1, 5);
        let applicants = &T3_COLUMNS[..6];
        let mut kinds: Vec<u8> = Vec::new();
        let balance: Vec<&str> = applicants
            .iter()
            .copied()
            .filter(|c| {
                self.editable(Tbl::T3, "new_received", c).is_some()
                    && self.editable(Tbl::T3, "new_received", "total").is_some()
                    && ["carried_over", "total_processed", "carried_forward"]
                        .iter()
                        .all(|r| cell(&self.t3, r, c).is_some())
            })
            .collect();
        if !balance.is_empty() {
            kinds.push(0);
        }
        let mut results = Vec::new();
        for r in self.result_rows() {
            for c in applicants {
                if self.editable(Tbl::T3, r, c).is_some()
                    && self.editable(Tbl::T3, r, "total").is_some()
                    && cell(&self.t3, "total_processed", c).is_some()
                {
                    results.push((r, *c));
                }
            }
        }
        if !results.is_empty() {
            kinds.push(1);
        }
        let groups: Vec<&str> = T4_GROUPS
            .iter()
            .copied()
            .filter(|g| {
                self.editable(Tbl::T4, g, "total").is_some()
                    && T4_COLUMNS[..4]
                        .iter()
                        .all(|c| cell(&self.t4, g, c).is_some())
            })
            .collect();
        if !groups.is_empty() {
            kinds.push(2);
        }
        match rng.pick(&kinds)? {
            0 => {
                let c = *rng.pick(&balance)?;
                self.add(Tbl::T3, "new_received", c, k);
                self.add(Tbl::T3, "new_received", "total", k);
                Some("t3-balance")
            }
            1 => {
                let (r, c) = *rng.pick(&results)?;
                self.add(Tbl::T3, r, c, k);
                self.add(Tbl::T3, r, "total", k);
                Some("t3-processed-total")
            }
            _ => {
                let g = *rng.pick(&groups)?;
                self.add(Tbl::T4, g, "total", k);
                Some("t4-totals")
            }
        }
    }

    /// The embedded text with the changed numbers written in.
    fn apply(&self) -> String {
        let text = self.a.source.text;
        let mut out = String::with_capacity(text.len() + 64);
        let mut at = 0;
        for (&i, &v) in &self.values {
            let t = self.a.tokens[i];
            out.push_str(&text[at..t.start]);
            let _ = write!(out, "{v}");
            at = t.end;
        }
        out.push_str(&text[at..]);
        out
    }
}

// ---------------------------------------------------------------------------------------------
// HTML pages: the narrative of the text, the tables as real <table>s with the template's merged
// cells (as tools/gen_fixtures.py builds them).

/// A table cell: text, rowspan, colspan.
type Cell = (String, usize, usize);

fn c(text: &str, rowspan: usize, colspan: usize) -> Cell {
    (text.to_string(), rowspan, colspan)
}

fn int_text(v: Option<i64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn num_text(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
    }
}

fn t3_labels(template: Template) -> Vec<(&'static str, Vec<Cell>)> {
    let results = if template == Template::Y2019 { 22 } else { 24 };
    let mut rows = vec![
        (
            "new_received",
            vec![c("一、本年新收政府信息公开申请数量", 1, 3)],
        ),
        (
            "carried_over",
            vec![c("二、上年结转政府信息公开申请数量", 1, 3)],
        ),
        (
            "granted",
            vec![
                c("三、本年度办理结果", results, 1),
                c("（一）予以公开", 1, 2),
            ],
        ),
        (
            "partial",
            vec![c(
                "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
                1,
                2,
            )],
        ),
    ];
    let denied = [
        ("denied_state_secret", "1.属于国家秘密"),
        ("denied_law_prohibited", "2.其他法律行政法规禁止公开"),
        ("denied_three_safety", "3.危及“三安全一稳定”"),
        ("denied_third_party", "4.保护第三方合法权益"),
        ("denied_internal", "5.属于三类内部事务信息"),
        ("denied_process", "6.属于四类过程性信息"),
        ("denied_enforcement_file", "7.属于行政执法案卷"),
        ("denied_admin_query", "8.属于行政查询事项"),
    ];
    let unable = [
        ("unable_not_held", "1.本机关不掌握相关政府信息"),
        ("unable_needs_creation", "2.没有现成信息需要另行制作"),
        ("unable_unclear", "3.补正后申请内容仍不明确"),
    ];
    let rejected = [
        ("rejected_petition", "1.信访举报投诉类申请"),
        ("rejected_duplicate", "2.重复申请"),
        ("rejected_publication", "3.要求提供公开出版物"),
        ("rejected_excessive", "4.无正当理由大量反复申请"),
        (
            "rejected_confirmation",
            "5.要求行政机关确认或重新出具已获取信息",
        ),
    ];
    let other_2021 = [
        (
            "other_no_correction",
            "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
        ),
        (
            "other_no_fee",
            "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请",
        ),
        ("other_misc", "3.其他"),
    ];
    let groups: Vec<(&str, &[(&str, &str)])> = vec![
        ("（三）不予公开", &denied),
        ("（四）无法提供", &unable),
        ("（五）不予处理", &rejected),
    ];
    for (group, items) in groups {
        for (i, (key, label)) in items.iter().enumerate() {
            let mut cells = Vec::new();
            if i == 0 {
                cells.push(c(group, items.len(), 1));
            }
            cells.push(c(label, 1, 1));
            rows.push((key, cells));
        }
    }
    if template == Template::Y2019 {
        rows.push(("other", vec![c("（六）其他处理", 1, 2)]));
    } else {
        for (i, (key, label)) in other_2021.iter().enumerate() {
            let mut cells = Vec::new();
            if i == 0 {
                cells.push(c("（六）其他处理", 3, 1));
            }
            cells.push(c(label, 1, 1));
            rows.push((key, cells));
        }
    }
    rows.push(("total_processed", vec![c("（七）总计", 1, 2)]));
    rows.push(("carried_forward", vec![c("四、结转下年度继续办理", 1, 3)]));
    rows
}

fn table3_cells(t: &Table, template: Template) -> Vec<Vec<Cell>> {
    let mut rows = vec![
        vec![
            c(
                "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
                3,
                3,
            ),
            c("申请人情况", 1, 7),
        ],
        vec![
            c("自然人", 2, 1),
            c("法人或其他组织", 1, 5),
            c("总计", 2, 1),
        ],
        [
            "商业企业",
            "科研机构",
            "社会公益组织",
            "法律服务机构",
            "其他",
        ]
        .iter()
        .map(|x| c(x, 1, 1))
        .collect(),
    ];
    for (key, mut labels) in t3_labels(template) {
        for col in T3_COLUMNS {
            labels.push((int_text(cell(t, key, col)), 1, 1));
        }
        rows.push(labels);
    }
    rows
}

fn table4_cells(t: &Table) -> Vec<Vec<Cell>> {
    let heads = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"];
    let mut values = Vec::new();
    for g in T4_GROUPS {
        for col in T4_COLUMNS {
            values.push((int_text(cell(t, g, col)), 1, 1));
        }
    }
    vec![
        vec![c("行政复议", 1, 5), c("行政诉讼", 1, 10)],
        heads
            .iter()
            .map(|h| c(h, 2, 1))
            .chain([c("未经复议直接起诉", 1, 5), c("复议后起诉", 1, 5)])
            .collect(),
        heads
            .iter()
            .chain(heads.iter())
            .map(|h| c(h, 1, 1))
            .collect(),
        values,
    ]
}

fn table2_cells(t: &Table2, template: Template) -> Vec<Vec<Cell>> {
    type Block<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str, Vec<&'a str>)>);
    let blocks: Vec<Block<'_>> = if template == Template::Y2019 {
        let docs = vec!["new_made", "new_published", "total_published"];
        let items = vec!["prev_items", "delta", "decisions"];
        let items_head = vec!["上一年项目数量", "本年增/减", "处理决定数量"];
        vec![
            (
                "第二十条第（一）项",
                vec!["本年新制作数量", "本年新公开数量", "对外公开总数量"],
                vec![
                    ("规章", "rules", docs.clone()),
                    ("规范性文件", "normative_docs", docs),
                ],
            ),
            (
                "第二十条第（五）项",
                items_head.clone(),
                vec![
                    ("行政许可", "licensing", items.clone()),
                    ("其他对外管理服务事项", "other_services", items.clone()),
                ],
            ),
            (
                "第二十条第（六）项",
                items_head,
                vec![
                    ("行政处罚", "penalty", items.clone()),
                    ("行政强制", "enforcement", items),
                ],
            ),
            (
                "第二十条第（八）项",
                vec!["上一年项目数量", "本年增/减"],
                vec![("行政事业性收费", "fees", vec!["prev_items", "delta"])],
            ),
            (
                "第二十条第（九）项",
                vec!["采购项目数量", "采购总金额"],
                vec![("政府集中采购", "procurement", vec!["items", "amount_yuan"])],
            ),
        ]
    } else {
        let docs = vec!["issued", "repealed", "in_force"];
        vec![
            (
                "第二十条第（一）项",
                vec!["本年制发件数", "本年废止件数", "现行有效件数"],
                vec![
                    ("规章", "rules", docs.clone()),
                    ("行政规范性文件", "normative_docs", docs),
                ],
            ),
            (
                "第二十条第（五）项",
                vec!["本年处理决定数量"],
                vec![("行政许可", "licensing", vec!["decisions"])],
            ),
            (
                "第二十条第（六）项",
                vec!["本年处理决定数量"],
                vec![
                    ("行政处罚", "penalty", vec!["decisions"]),
                    ("行政强制", "enforcement", vec!["decisions"]),
                ],
            ),
            (
                "第二十条第（八）项",
                vec!["本年收费金额（单位：万元）"],
                vec![("行政事业性收费", "fees", vec!["amount_wan"])],
            ),
        ]
    };
    let mut rows = Vec::new();
    for (title, heads, block) in blocks {
        rows.push(vec![c(title, 1, 4)]);
        rows.push(
            std::iter::once(c("信息内容", 1, 1))
                .chain(heads.iter().map(|h| c(h, 1, 1)))
                .collect(),
        );
        for (label, key, cols) in block {
            let mut cells = vec![c(label, 1, 1)];
            for col in cols {
                let v = cell2(t, key, col);
                let mut text = num_text(v);
                if col == "amount_yuan" && v.is_some() {
                    text.push('元');
                }
                cells.push((text, 1, 1));
            }
            rows.push(cells);
        }
    }
    rows
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_table(out: &mut String, rows: &[Vec<Cell>]) {
    out.push_str("<table border=\"1\" cellspacing=\"0\">\n");
    for row in rows {
        out.push_str("<tr>");
        for (text, rowspan, colspan) in row {
            out.push_str("<td");
            if *rowspan > 1 {
                let _ = write!(out, " rowspan=\"{rowspan}\"");
            }
            if *colspan > 1 {
                let _ = write!(out, " colspan=\"{colspan}\"");
            }
            let inner = if text.is_empty() {
                "&nbsp;".to_string()
            } else {
                escape(text)
            };
            let _ = write!(
                out,
                "><p align=\"center\"><span style=\"font-size:10pt\">{inner}</span></p></td>"
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// The text's narrative: the lines before section 二, and from section 五 on (table lines out).
fn narrative(text: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut state = 0;
    for line in text.lines() {
        let s = line.trim();
        if state == 0 && (s.starts_with("二、主动公开") || s.starts_with("二、主動公開"))
        {
            state = 1;
            continue;
        }
        if state == 1 && (s.starts_with("五、") || s.starts_with("存在的主要问题")) {
            state = 2;
        }
        match state {
            0 if !s.is_empty() => before.push(s),
            2 if !s.is_empty() && !s.contains('|') => after.push(s),
            _ => {}
        }
    }
    (before, after)
}

fn html_page(
    text: &str,
    organization: &str,
    year: i32,
    template: Template,
    edit: &Edit<'_>,
    gbk: bool,
) -> String {
    let (before, after) = narrative(text);
    let title = format!("{organization}{year}年政府信息公开工作年度报告");
    let charset = if gbk { "gbk" } else { "utf-8" };
    let mut out = String::with_capacity(text.len() * 2 + 16_384);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset={charset}\">\
         <title>{t}</title><style>.top-nav{{color:#333}}</style></head>\n<body>\n\
         <div class=\"top-nav\"><a href=\"/\">首页</a> | <a href=\"/zwgk/\">政务公开</a> | <a href=\"/hdjl/\">互动交流</a></div>\n\
         <div class=\"crumb\">当前位置：首页 &gt; 政务公开 &gt; 政府信息公开年报</div>\n<h1>{t}</h1>\n<div class=\"article\">\n",
        t = escape(&title)
    );
    let p = |out: &mut String, s: &str| {
        let _ = writeln!(out, "<p>{}</p>", escape(s));
    };
    for s in before {
        p(&mut out, s);
    }
    p(&mut out, "二、主动公开政府信息情况");
    html_table(&mut out, &table2_cells(&edit.t2, template));
    p(&mut out, "三、收到和处理政府信息公开申请情况");
    html_table(&mut out, &table3_cells(&edit.t3, template));
    p(&mut out, "四、政府信息公开行政复议、行政诉讼情况");
    html_table(&mut out, &table4_cells(&edit.t4));
    for s in after {
        p(&mut out, s);
    }
    out.push_str(
        "</div>\n<div class=\"footer\"><p>主办单位：本级人民政府办公室 网站标识码：0000000000</p></div>\n</body></html>\n",
    );
    out
}

/// How many cells of each table the generator can change in each embedded report (for tests
/// and `bench gen --verbose`): (source, table 2, table 3, table 4).
pub fn coverage() -> Result<Vec<(&'static str, usize, usize, usize)>> {
    Ok(analyses()?
        .iter()
        .map(|a| {
            let count = |t: Tbl| a.cells.keys().filter(|k| k.0 == t).count();
            (a.source.id, count(Tbl::T2), count(Tbl::T3), count(Tbl::T4))
        })
        .collect())
}
