//! The report model: what the parser reads out of an annual report and what every later stage
//! (rules, store, mail) speaks.
//!
//! Keys follow the domain reference (SPEC.md §2) exactly, so that rules, the JSON output and the
//! stored reports all use the same names. Tables are maps from row key to column key to value;
//! a cell the document leaves blank (or fills with `/`, `-`, `无`) is `None`, never 0, and the
//! cell's text as printed is kept beside the number for evidence.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which official template (国办公开办函) the report's tables follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Template {
    /// 国办公开办函〔2019〕60号, used for the 2019 and 2020 reports.
    #[serde(rename = "2019")]
    Y2019,
    /// 国办公开办函〔2021〕30号, used from the 2021 reports on.
    #[serde(rename = "2021")]
    Y2021,
}

impl Template {
    pub fn as_str(self) -> &'static str {
        match self {
            Template::Y2019 => "2019",
            Template::Y2021 => "2021",
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The six sections of an annual report, in their required order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKey {
    Overview,
    Proactive,
    Requests,
    ReviewLitigation,
    Problems,
    Other,
}

impl SectionKey {
    pub const ALL: [SectionKey; 6] = [
        SectionKey::Overview,
        SectionKey::Proactive,
        SectionKey::Requests,
        SectionKey::ReviewLitigation,
        SectionKey::Problems,
        SectionKey::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SectionKey::Overview => "overview",
            SectionKey::Proactive => "proactive",
            SectionKey::Requests => "requests",
            SectionKey::ReviewLitigation => "review_litigation",
            SectionKey::Problems => "problems",
            SectionKey::Other => "other",
        }
    }

    /// The heading the official template gives the section.
    pub fn title(self) -> &'static str {
        match self {
            SectionKey::Overview => "一、总体情况",
            SectionKey::Proactive => "二、主动公开政府信息情况",
            SectionKey::Requests => "三、收到和处理政府信息公开申请情况",
            SectionKey::ReviewLitigation => "四、政府信息公开行政复议、行政诉讼情况",
            SectionKey::Problems => "五、存在的主要问题及改进情况",
            SectionKey::Other => "六、其他需要报告的事项",
        }
    }
}

/// One section found in the report: its heading as printed and its body text (normalised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub key: SectionKey,
    pub heading: String,
    pub text: String,
    /// Character offset of the heading in [`Report::text`].
    pub start: usize,
    /// Character offset where the section ends in [`Report::text`].
    pub end: usize,
}

/// The statistics period the report states (数据统计期限).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// ISO date, e.g. `2020-01-01`.
    pub start: String,
    /// ISO date, e.g. `2020-12-31`.
    pub end: String,
    /// The words as printed.
    pub text: String,
}

/// Contact details printed in the report (for questions about it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub address: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.address.is_none() && self.phones.is_empty() && self.emails.is_empty()
    }
}

/// A number stated in the narrative ("收到申请58件", "办结率为100%"), so rules can compare text
/// against tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The number as a value (`99.84` for `99.84%`).
    pub value: f64,
    /// The unit after the number: `件`, `条`, `起`, `个`, `项`, `次`, `篇` or `%`.
    pub unit: String,
    /// The number and unit as printed (`58件`).
    pub text: String,
    /// The clause that leads up to the number (from the previous comma or sentence end),
    /// whitespace removed.
    pub phrase: String,
    /// The whole sentence around the number, across hard line breaks, whitespace removed.
    pub sentence: String,
    /// The words of the sentence before the number, across hard line breaks, whitespace removed
    /// (`全年共收到依申请公开申请`).
    #[serde(default)]
    pub before: String,
    /// The words of the sentence after the number and unit, likewise.
    #[serde(default)]
    pub after: String,
    /// The section the sentence is in, if any.
    pub section: Option<SectionKey>,
    /// Character offset of the number in [`Report::text`].
    pub start: usize,
    pub end: usize,
}

/// A table as read: row key → column key → value (`None` for a blank or `/` cell).
pub type Table = BTreeMap<String, BTreeMap<String, Option<i64>>>;

/// Table 2 values: counts, signed deltas, and money in yuan.
pub type Table2 = BTreeMap<String, BTreeMap<String, Option<f64>>>;

/// The cells' text as printed, for evidence: row key → column key → text.
pub type RawCells = BTreeMap<String, BTreeMap<String, String>>;

/// Everything the parser reads out of one annual report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The issuing body (发布机关), simplified Chinese.
    pub organization: Option<String>,
    /// The report year (the year whose work is reported, not the publication year).
    pub year: Option<i32>,
    /// The official form table 3 follows, told from the rows it prints (a single (六)其他处理
    /// row is the 2019 form, three (六) rows the 2021 one), not from the year. Real reports mix
    /// forms: a 2023 report may keep the 2019 table 3 under a 2021 table 2.
    pub template: Option<Template>,
    /// The official form table 2 follows, told from its column words (本年新制作数量 … or
    /// 本年制发件数 …).
    #[serde(default)]
    pub table2_template: Option<Template>,
    /// The title line, where the copy has one.
    pub title: Option<String>,
    pub period: Option<Period>,
    pub contact: Contact,
    /// Publication date (ISO), where the copy states it (发布日期 …).
    pub published: Option<String>,
    /// Keys of the sections found, in document order.
    pub sections: Vec<SectionKey>,
    /// The sections found, with their text.
    pub section_text: Vec<Section>,
    pub table2: Table2,
    pub table3: Table,
    pub table4: Table,
    /// Cells as printed, per table (`table2`, `table3`, `table4`).
    pub raw_cells: BTreeMap<String, RawCells>,
    pub claims: Vec<Claim>,
    /// What the parser could not read or had to decide: missing rows and cells, ambiguities.
    pub warnings: Vec<String>,
    /// The whole report text, normalised (simplified, half-width, line endings `\n`).
    pub text: String,
    /// Read by OCR from a scan: only the table cells its sums confirm are kept, and a person
    /// should check what was read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ocr: bool,
}

impl Report {
    /// The count in a cell of table 3 or 4 by its names; `None` for a blank or unread cell, or
    /// another table (table 2 holds amounts).
    pub fn count(&self, table: &str, row: &str, col: &str) -> Option<i64> {
        let t = match table {
            "table3" => &self.table3,
            "table4" => &self.table4,
            _ => return None,
        };
        t.get(row).and_then(|r| r.get(col)).copied().flatten()
    }

    /// The cells of tables 3 and 4 the parser could not read, as (table, row, column): no value
    /// and no printed text recorded. A cell printed blank (or `/`, `-`, `无`) keeps its text in
    /// `raw_cells` and is not among them: blank is the document's, unread is the parser's.
    pub fn unread_cells(&self) -> Vec<(&'static str, &'static str, &'static str)> {
        let mut out = Vec::new();
        let t3_rows = t3_rows(self.template.unwrap_or(Template::Y2021));
        for (name, rows, cols) in [
            ("table3", t3_rows, &T3_COLUMNS[..]),
            ("table4", T4_GROUPS.to_vec(), &T4_COLUMNS[..]),
        ] {
            for row in rows {
                for col in cols {
                    if self.is_unread(name, row, col) {
                        out.push((name, row, *col));
                    }
                }
            }
        }
        out
    }

    /// Whether the parser could not read a cell (`table` is `table2`, `table3` or `table4`): it
    /// has no value and no printed text. A cell printed blank has its text (`""`, `/` …).
    pub fn is_unread(&self, table: &str, row: &str, col: &str) -> bool {
        let has_value = match table {
            "table2" => self
                .table2
                .get(row)
                .and_then(|r| r.get(col))
                .is_some_and(Option::is_some),
            "table3" => self
                .table3
                .get(row)
                .and_then(|r| r.get(col))
                .is_some_and(Option::is_some),
            "table4" => self
                .table4
                .get(row)
                .and_then(|r| r.get(col))
                .is_some_and(Option::is_some),
            _ => return false,
        };
        !has_value
            && self
                .raw_cells
                .get(table)
                .and_then(|t| t.get(row))
                .and_then(|r| r.get(col))
                .is_none()
    }

    /// Why a person should look at the tables before trusting the findings: the cells the
    /// parser could not read, per table (the checks that need them were not made). Empty when
    /// every cell was read.
    pub fn review_reasons(&self) -> Vec<String> {
        let unread = self.unread_cells();
        let mut out = Vec::new();
        if self.ocr {
            out.push(
                "扫描件经OCR识别，请核对：表格只采用合计关系成立的数字，正文数字未与表格比对"
                    .to_string(),
            );
        }
        for (name, zh) in [("table3", "表三"), ("table4", "表四")] {
            let cells: Vec<_> = unread.iter().filter(|c| c.0 == name).collect();
            if cells.is_empty() {
                continue;
            }
            let mut rows: Vec<&str> = cells.iter().map(|c| c.1).collect();
            rows.dedup();
            let shown: Vec<String> = rows
                .iter()
                .take(3)
                .map(|r| format!("“{}”", label(name, r)))
                .collect();
            let more = if rows.len() > 3 {
                format!("等{}行", rows.len())
            } else {
                String::new()
            };
            out.push(format!(
                "{zh}有{}格未能读出（{}{more}），涉及这些格的核对未做，请人工核对",
                cells.len(),
                shown.join("、")
            ));
        }
        out
    }

    /// The text of a section, if the report has it.
    pub fn section(&self, key: SectionKey) -> Option<&Section> {
        self.section_text.iter().find(|s| s.key == key)
    }
}

/// Column keys of table 3, in template order.
pub const T3_COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial",
    "research",
    "social_welfare",
    "legal_service",
    "other_org",
    "total",
];

/// Row keys of table 3 shared by both templates, before the (六) rows.
const T3_ROWS_HEAD: [&str; 20] = [
    "new_received",
    "carried_over",
    "granted",
    "partial",
    "denied_state_secret",
    "denied_law_prohibited",
    "denied_three_safety",
    "denied_third_party",
    "denied_internal",
    "denied_process",
    "denied_enforcement_file",
    "denied_admin_query",
    "unable_not_held",
    "unable_needs_creation",
    "unable_unclear",
    "rejected_petition",
    "rejected_duplicate",
    "rejected_publication",
    "rejected_excessive",
    "rejected_confirmation",
];

/// The (六) rows of the 2021 template.
pub const T3_OTHER_2021: [&str; 3] = ["other_no_correction", "other_no_fee", "other_misc"];

/// Row keys of table 3 as printed in a template, in order.
pub fn t3_rows(template: Template) -> Vec<&'static str> {
    let mut rows: Vec<&'static str> = T3_ROWS_HEAD.to_vec();
    match template {
        Template::Y2019 => rows.push("other"),
        Template::Y2021 => rows.extend(T3_OTHER_2021),
    }
    rows.push("total_processed");
    rows.push("carried_forward");
    rows
}

/// The result categories of table 3 (三、本年度办理结果), in the template's order: the words
/// the template heads them with, and their rows.
pub fn t3_categories(template: Template) -> Vec<(&'static str, Vec<&'static str>)> {
    let rows = t3_rows(template);
    let with = |prefix: &str| -> Vec<&'static str> {
        rows.iter()
            .copied()
            .filter(|r| r.starts_with(prefix))
            .collect()
    };
    vec![
        ("予以公开", vec!["granted"]),
        ("部分公开", vec!["partial"]),
        ("不予公开", with("denied_")),
        ("无法提供", with("unable_")),
        ("不予处理", with("rejected_")),
        ("其他处理", with("other")),
    ]
}

/// Group keys of table 4.
pub const T4_GROUPS: [&str; 3] = ["review", "lawsuit_direct", "lawsuit_after_review"];
/// Column keys of each table-4 group.
pub const T4_COLUMNS: [&str; 5] = ["upheld", "corrected", "other", "pending", "total"];

/// Rows and columns of table 2 in a template.
pub fn t2_layout(template: Template) -> Vec<(&'static str, Vec<&'static str>)> {
    match template {
        Template::Y2019 => {
            let docs = vec!["new_made", "new_published", "total_published"];
            let items = vec!["prev_items", "delta", "decisions"];
            vec![
                ("rules", docs.clone()),
                ("normative_docs", docs),
                ("licensing", items.clone()),
                ("other_services", items.clone()),
                ("penalty", items.clone()),
                ("enforcement", items),
                ("fees", vec!["prev_items", "delta"]),
                ("procurement", vec!["items", "amount_yuan"]),
            ]
        }
        Template::Y2021 => {
            let docs = vec!["issued", "repealed", "in_force"];
            vec![
                ("rules", docs.clone()),
                ("normative_docs", docs),
                ("licensing", vec!["decisions"]),
                ("penalty", vec!["decisions"]),
                ("enforcement", vec!["decisions"]),
                ("fees", vec!["amount_wan"]),
            ]
        }
    }
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (error, warning or info)"
            )),
        }
    }
}

/// What a rule found in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id (`t3-balance`), or `rule-error` for a rule that failed to run.
    pub rule: String,
    pub severity: Severity,
    /// Chinese, naming the table/row/column or quoting the sentence.
    pub message: String,
    /// What the finding is about, as JSON: the keys of [`Evidence`] (`cells`, `quote`,
    /// `quotes`, `compared`) in their fixed shapes, and any other data of the rule's own.
    pub evidence: serde_json::Value,
}

impl Finding {
    /// The evidence's structured part, for rendering.
    pub fn structured(&self) -> Evidence {
        Evidence::from_json(&self.evidence)
    }

    /// What the finding is about, as a stable key: the rule with the cells it names (table,
    /// row, column) and the sentences it quotes, or, when it names neither, the labels of the
    /// values it compared. Not the message's wording, the values or any position: the same
    /// finding under a new rule-set version, or after a correction changed a number, has the
    /// same fingerprint, so a reviewer's decision about it holds. (Two findings of one rule
    /// about the same thing in one report are told apart when stored: `#2`, `#3` ….)
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let e = self.structured();
        let mut about: Vec<String> = e
            .cells
            .iter()
            .map(|c| format!("cell {} {} {}", c.table, c.row, c.column))
            .collect();
        about.extend(e.quotes.iter().map(|q| {
            let words: String = q.sentence.chars().filter(|c| !c.is_whitespace()).collect();
            format!("quote {words}")
        }));
        if about.is_empty() {
            about.extend(e.compared.iter().map(|c| format!("compared {}", c.label)));
        }
        about.sort();
        about.dedup();
        let mut hash = Sha256::new();
        hash.update(self.rule.as_bytes());
        for a in &about {
            hash.update(b"\n");
            hash.update(a.as_bytes());
        }
        hash.finalize()
            .iter()
            .take(10)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Table keys a correction may name: `t2`/`t3`/`t4` or the full names.
pub fn table_key(short: &str) -> Option<&'static str> {
    match short {
        "t2" | "table2" => Some("table2"),
        "t3" | "table3" => Some("table3"),
        "t4" | "table4" => Some("table4"),
        _ => None,
    }
}

impl Report {
    /// Puts a reviewer's reading of a cell in place of the parser's: the value, and its text
    /// as printed. `false` when the table has no such row and column in either form.
    pub fn correct(&mut self, table: &str, row: &str, col: &str, value: f64) -> bool {
        let known = match table {
            "table3" => {
                (t3_rows(Template::Y2019).contains(&row) || t3_rows(Template::Y2021).contains(&row))
                    && T3_COLUMNS.contains(&col)
            }
            "table4" => T4_GROUPS.contains(&row) && T4_COLUMNS.contains(&col),
            "table2" => [Template::Y2019, Template::Y2021].iter().any(|t| {
                t2_layout(*t)
                    .iter()
                    .any(|(r, cs)| *r == row && cs.contains(&col))
            }),
            _ => false,
        };
        if !known {
            return false;
        }
        match table {
            "table2" => {
                self.table2
                    .entry(row.to_string())
                    .or_default()
                    .insert(col.to_string(), Some(value));
            }
            _ => {
                let t = if table == "table3" {
                    &mut self.table3
                } else {
                    &mut self.table4
                };
                t.entry(row.to_string())
                    .or_default()
                    .insert(col.to_string(), Some(value as i64));
            }
        }
        self.raw_cells
            .entry(table.to_string())
            .or_default()
            .entry(row.to_string())
            .or_default()
            .insert(col.to_string(), format_number(value));
        true
    }
}

/// The part of a finding's evidence every output renders: the table cells involved, the
/// sentences quoted, the values compared. Read from the evidence JSON, where rules write it
/// with their helpers (`cell_ref`, `wrong_cell`, `quote`; rules/README.md): `cells` is an
/// array of cells, `quote` one quote (or `quotes` several), `compared` an array of
/// `{label, value}`. Entries of another shape are not rendered; other keys are the rule's own
/// data, kept in the store and shown nowhere but the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    pub cells: Vec<CellRef>,
    pub quotes: Vec<Quote>,
    pub compared: Vec<Compared>,
}

/// A table cell a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRef {
    /// `table2`, `table3` or `table4`.
    pub table: String,
    pub row: String,
    pub column: String,
    /// The value read; `None` when the cell is blank or was not read.
    #[serde(default)]
    pub value: Option<f64>,
    /// The cell as printed; `None` when the parser could not read it.
    #[serde(default)]
    pub text: Option<String>,
    /// What the cell should hold, where an identity of the table gives it.
    #[serde(default)]
    pub expected: Option<f64>,
    /// This is the cell in error (else one of the cells compared).
    #[serde(default)]
    pub wrong: bool,
}

/// A sentence of the report quoted, with the part the finding is about (a number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub sentence: String,
    /// Character offsets of the highlighted part within `sentence` (`start == end`: none).
    #[serde(default)]
    pub start: usize,
    #[serde(default)]
    pub end: usize,
}

impl Quote {
    /// The sentence in three parts: before the highlight, the highlight, after it. Offsets out
    /// of range or reversed highlight nothing.
    pub fn parts(&self) -> (String, String, String) {
        let chars: Vec<char> = self.sentence.chars().collect();
        let (start, end) = if self.start <= self.end && self.end <= chars.len() {
            (self.start, self.end)
        } else {
            (chars.len(), chars.len())
        };
        (
            chars[..start].iter().collect(),
            chars[start..end].iter().collect(),
            chars[end..].iter().collect(),
        )
    }
}

/// One value a finding compares, with what it is (`正文所述`, `表三(七)总计`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub label: String,
    /// A number or a text.
    pub value: serde_json::Value,
}

impl Compared {
    /// The value as shown: numbers as printed, texts as they are.
    pub fn shown(&self) -> String {
        match &self.value {
            serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), format_number),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "（无）".to_string(),
            other => other.to_string(),
        }
    }
}

impl Evidence {
    /// The structured part of evidence JSON; whatever does not have the documented shape is
    /// left out.
    pub fn from_json(value: &serde_json::Value) -> Evidence {
        fn each<T: serde::de::DeserializeOwned>(v: Option<&serde_json::Value>) -> Vec<T> {
            match v {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| serde_json::from_value(i.clone()).ok())
                    .collect(),
                Some(one @ serde_json::Value::Object(_)) => {
                    serde_json::from_value(one.clone()).into_iter().collect()
                }
                _ => Vec::new(),
            }
        }
        let mut quotes: Vec<Quote> = each(value.get("quote"));
        quotes.extend(each::<Quote>(value.get("quotes")));
        Evidence {
            cells: each(value.get("cells")),
            quotes,
            compared: each(value.get("compared")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.quotes.is_empty() && self.compared.is_empty()
    }
}

/// A number as a report prints it: whole numbers without decimals, others without float noise
/// (`589.19`, not `589.1899999`).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The Chinese label of a key as the templates print it: `table` is `table2`, `table3`,
/// `table4` or `section`. Unknown keys come back unchanged.
pub fn label(table: &str, key: &str) -> String {
    let found = match table {
        "table2" => match key {
            "rules" => "规章",
            "normative_docs" => "规范性文件",
            "licensing" => "行政许可",
            "other_services" => "其他对外管理服务事项",
            "penalty" => "行政处罚",
            "enforcement" => "行政强制",
            "fees" => "行政事业性收费",
            "procurement" => "政府集中采购",
            "new_made" => "本年新制作数量",
            "new_published" => "本年新公开数量",
            "total_published" => "对外公开总数量",
            "issued" => "本年制发件数",
            "repealed" => "本年废止件数",
            "in_force" => "现行有效件数",
            "prev_items" => "上一年项目数量",
            "delta" => "本年增/减",
            "decisions" => "处理决定数量",
            "amount_wan" => "本年收费金额(万元)",
            "items" => "采购项目数量",
            "amount_yuan" => "采购总金额",
            _ => "",
        },
        "table3" => match key {
            "new_received" => "一、本年新收政府信息公开申请数量",
            "carried_over" => "二、上年结转政府信息公开申请数量",
            "granted" => "(一)予以公开",
            "partial" => "(二)部分公开",
            "denied_state_secret" => "(三)不予公开 1.属于国家秘密",
            "denied_law_prohibited" => "(三)不予公开 2.其他法律行政法规禁止公开",
            "denied_three_safety" => "(三)不予公开 3.危及“三安全一稳定”",
            "denied_third_party" => "(三)不予公开 4.保护第三方合法权益",
            "denied_internal" => "(三)不予公开 5.属于三类内部事务信息",
            "denied_process" => "(三)不予公开 6.属于四类过程性信息",
            "denied_enforcement_file" => "(三)不予公开 7.属于行政执法案卷",
            "denied_admin_query" => "(三)不予公开 8.属于行政查询事项",
            "unable_not_held" => "(四)无法提供 1.本机关不掌握相关政府信息",
            "unable_needs_creation" => "(四)无法提供 2.没有现成信息需要另行制作",
            "unable_unclear" => "(四)无法提供 3.补正后申请内容仍不明确",
            "rejected_petition" => "(五)不予处理 1.信访举报投诉类申请",
            "rejected_duplicate" => "(五)不予处理 2.重复申请",
            "rejected_publication" => "(五)不予处理 3.要求提供公开出版物",
            "rejected_excessive" => "(五)不予处理 4.无正当理由大量反复申请",
            "rejected_confirmation" => "(五)不予处理 5.要求行政机关确认或重新出具已获取信息",
            "other" => "(六)其他处理",
            "other_no_correction" => "(六)其他处理 1.申请人无正当理由逾期不补正",
            "other_no_fee" => "(六)其他处理 2.申请人逾期未按收费通知要求缴纳费用",
            "other_misc" => "(六)其他处理 3.其他",
            "total_processed" => "(七)总计",
            "carried_forward" => "四、结转下年度继续办理",
            "natural_person" => "自然人",
            "commercial" => "商业企业",
            "research" => "科研机构",
            "social_welfare" => "社会公益组织",
            "legal_service" => "法律服务机构",
            "other_org" => "其他",
            "total" => "总计",
            _ => "",
        },
        "table4" => match key {
            "review" => "行政复议",
            "lawsuit_direct" => "行政诉讼(未经复议直接起诉)",
            "lawsuit_after_review" => "行政诉讼(复议后起诉)",
            "upheld" => "结果维持",
            "corrected" => "结果纠正",
            "other" => "其他结果",
            "pending" => "尚未审结",
            "total" => "总计",
            _ => "",
        },
        "section" => SectionKey::ALL
            .iter()
            .find(|k| k.as_str() == key)
            .map_or("", |k| k.title()),
        _ => "",
    };
    if found.is_empty() {
        key.to_string()
    } else {
        found.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_categories_cover_every_result_row_once() {
        for template in [Template::Y2019, Template::Y2021] {
            let categories = t3_categories(template);
            let names: Vec<&str> = categories.iter().map(|(n, _)| *n).collect();
            assert_eq!(
                names,
                [
                    "予以公开",
                    "部分公开",
                    "不予公开",
                    "无法提供",
                    "不予处理",
                    "其他处理"
                ]
            );
            let mut covered: Vec<&str> = categories.into_iter().flat_map(|(_, r)| r).collect();
            covered.extend([
                "new_received",
                "carried_over",
                "total_processed",
                "carried_forward",
            ]);
            covered.sort_unstable();
            let mut all = t3_rows(template);
            all.sort_unstable();
            assert_eq!(covered, all, "{template:?}");
        }
        let other = |t| t3_categories(t).pop().map(|(_, rows)| rows);
        assert_eq!(other(Template::Y2019), Some(vec!["other"]));
        assert_eq!(other(Template::Y2021), Some(T3_OTHER_2021.to_vec()));
    }
}
