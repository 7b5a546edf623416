//! Audit rules: Rhai scripts the office edits without recompiling.
//!
//! One rule per `.rhai` file (subfolders allowed). A rule declares its metadata as constants and
//! a `check(report)` function that returns zero or more findings:
//!
//! ```rhai
//! const ID = "t3-balance";
//! const TITLE = "表三平衡关系";
//! const SEVERITY = "error";
//! const DESCRIPTION = "第一项加第二项之和等于第三项加第四项之和 (国办公开办函〔2021〕30号)";
//!
//! fn check(report) {
//!     []
//! }
//! ```
//!
//! [`engine`] builds the one engine that the daemon, `check` and `rules test` all use, with
//! the helpers of the script API and the sandbox limits. A [`RuleSet`] is compiled whole, is
//! immutable, and is swapped in as one value; a file that does not compile is reported with
//! file:line:column and left out while the other rules load. At run time a rule that throws or
//! exceeds a limit becomes a `rule-error` finding, and the other rules still run.
//!
//! Besides its scripts, a pack may hold word lists (`lists/NAME.txt`, one phrase a line, `#`
//! starts a comment) that scripts read with `word_list("NAME")`, so that an office edits the
//! phrases a rule looks for without touching the script; and the config's `[rules.settings]`
//! gives values that scripts read with `setting("name")` (dates, thresholds).

mod api;
mod grid;
mod similar;
pub mod testing;
mod view;
pub use view::UnitReport;

pub use similar::{containment, similarity};

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Position, Scope, AST};
use serde_json::json;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::model::{Finding, Report, Severity};

/// Limits that keep a rule from taking the daemon down with it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    /// Wall-clock time one rule may take on one report.
    pub deadline: Duration,
    /// Findings one rule may give on one report; the excess becomes one `rule-error` finding.
    pub max_findings: usize,
    /// Bytes of one finding's message; longer messages are cut.
    pub max_message: usize,
    /// Bytes of one finding's evidence as JSON; larger evidence is replaced by a note.
    pub max_evidence: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 2_000_000,
            max_call_levels: 48,
            max_string_size: 4 * 1024 * 1024,
            max_array_size: 100_000,
            max_map_size: 20_000,
            deadline: Duration::from_millis(500),
            max_findings: 100,
            max_message: 4 << 10,
            max_evidence: 64 << 10,
        }
    }
}

/// A rule file that could not be loaded.
#[derive(Debug, Clone, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LoadError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A rules directory that could not be read at all.
#[derive(Debug, Error)]
pub enum RulesError {
    #[error("cannot read rules directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub file: PathBuf,
    /// What the rule's findings on a report depend on besides the report: its text, the word
    /// lists and settings it [reads](Rule::lists_read) and the program's version, hashed (not
    /// where the pack is). Two rule sets whose rule of this id has the same digest find the same
    /// on the same report (and the same year before, for a rule that
    /// [reads it](Rule::reads_previous)).
    pub digest: String,
    /// The word lists the rule's text can read (`word_list("name")`).
    pub lists_read: Reach,
    /// The settings the rule's text can read (`setting("name")`).
    pub settings_read: Reach,
    /// Whether the rule's text names `previous` (other than as a key of a map it writes): its
    /// findings then also depend on the issuer's report of the year before, which may arrive
    /// or be sent again after the report's audit.
    pub reads_previous: bool,
    /// Whether the rule's text names `units` (likewise): its findings then also depend on the
    /// register and the units' reports.
    pub reads_units: bool,
    ast: AST,
}

/// What of the pack's word lists or the config's settings a rule can read, from its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// These by name (none for a rule that never calls the function).
    Named(BTreeSet<String>),
    /// Any of them: the rule names one by a value computed as it runs, or calls functions
    /// through pointers (`Fn`), which can name any function.
    All,
}

impl Reach {
    /// What `src` can read through `function` (`word_list` or `setting`). Read from the text, not
    /// the syntax tree: a comment or a string naming the function counts too, which can only
    /// make a rule run when it did not need to.
    pub fn of(src: &str, function: &str) -> Reach {
        if names(src, "Fn") {
            return Reach::All;
        }
        let mut named = BTreeSet::new();
        for rest in occurrences(src, function) {
            match literal_argument(rest) {
                Some(name) => named.insert(name.to_string()),
                None => return Reach::All,
            };
        }
        Reach::Named(named)
    }

    /// Whether the rule reads none of them.
    fn is_nothing(&self) -> bool {
        matches!(self, Reach::Named(names) if names.is_empty())
    }

    fn reaches(&self, name: &str) -> bool {
        match self {
            Reach::Named(names) => names.contains(name),
            Reach::All => true,
        }
    }

    /// Hashes what this reach reads of `values` (name, then text), and the names it reads that
    /// `values` lacks: a list added later under that name changes the hash.
    fn hash<'a, V: AsRef<[u8]>>(
        &self,
        hasher: &mut Sha256,
        values: impl Iterator<Item = (&'a str, V)>,
    ) {
        let mut seen = BTreeSet::new();
        for (name, value) in values.filter(|(name, _)| self.reaches(name)) {
            for part in [name.as_bytes(), value.as_ref()] {
                hasher.update(part);
                hasher.update([0]);
            }
            seen.insert(name);
        }
        if let Reach::Named(names) = self {
            for absent in names.iter().filter(|n| !seen.contains(n.as_str())) {
                hasher.update(absent.as_bytes());
                hasher.update([1]);
            }
        }
    }
}

/// The name in `("name")` at the start of `rest` (spaces allowed), if that is what follows.
fn literal_argument(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix('(')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    let after = rest[end..].strip_prefix('"')?;
    after.trim_start().starts_with(')').then(|| &rest[..end])
}

/// Reports per batch where reports come many at a time (`check`): enough for the rules to run
/// one by one over the batch with their caches warm (16, 32, 64 and 128 cost the same within
/// this machine's noise, `bench rules`), few enough to hold in memory at once.
pub const BATCH: usize = 32;

/// One report of a batch ([`RuleSet::run_batch`]) and what its rules compare it with.
pub struct Subject<'a> {
    pub report: &'a Arc<Report>,
    /// The same issuer's report of the year before (`report.previous`).
    pub previous: Option<&'a Arc<Report>>,
    /// The units below the issuer in the register (`report.units`), when known.
    pub units: Option<Vec<view::UnitReport>>,
}

impl<'a> Subject<'a> {
    /// A report with its previous year's, without units.
    pub fn new(report: &'a Arc<Report>, previous: Option<&'a Arc<Report>>) -> Subject<'a> {
        Subject {
            report,
            previous,
            units: None,
        }
    }
}

/// A report's findings from an earlier audit, and the rules whose findings they still are
/// ([`RuleSet::run_batch_reusing`]).
pub struct Earlier<'a> {
    pub findings: &'a [Finding],
    /// Ids of the rules not to run again.
    pub holds: &'a HashSet<String>,
}

/// A compiled, immutable set of rules and the engine that runs them.
pub struct RuleSet {
    engine: Engine,
    pub rules: Vec<Rule>,
    /// Files that did not load, with file:line:column.
    pub errors: Vec<LoadError>,
    /// Content hash of the rule files and their names within the pack (not where the pack
    /// lies): which rule set produced a finding.
    pub version: String,
    limits: Limits,
    /// The config's `[rules.settings]`, as scripts read them with `setting(name)`.
    settings: Arc<Map>,
    /// The sources it was compiled from, for [`RuleSet::fork`].
    sources: Arc<Vec<(PathBuf, String)>>,
}

/// The word lists of a pack, by name (the file name without `.txt`).
pub type WordLists = BTreeMap<String, Array>;

thread_local! {
    /// When the rule running on this thread must stop.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The settings of the rule set running on this thread.
    static SETTINGS: RefCell<Arc<Map>> = RefCell::new(Arc::new(Map::new()));
    /// Whether the rule running on this thread names `previous` and `units` in its text
    /// ([`Rule::reads_previous`], [`Rule::reads_units`]); `None` when no rule runs.
    static NAMED: Cell<Option<(bool, bool)>> = const { Cell::new(None) };
}

/// Whether the rule running on this thread may read the report's field `name`: `previous` and
/// `units` only when the rule's text names them. A re-audit keeps the findings of a rule whose
/// text names neither, even when the year before or the register changed, so a name made as
/// the rule runs (`report["prev" + "ious"]`) must not reach them. Outside a rule's run, every
/// field.
pub(crate) fn may_read(name: &str) -> bool {
    match (name, NAMED.get()) {
        (_, None) => true,
        ("previous", Some((previous, _))) => previous,
        ("units", Some((_, units))) => units,
        _ => true,
    }
}

/// A setting of the rule set running on this thread, or `()`.
fn setting(name: &str) -> Dynamic {
    SETTINGS.with_borrow(|s| s.get(name).cloned().unwrap_or(Dynamic::UNIT))
}

/// Settings as scripts read them, from the TOML they are written in (the config's
/// `[rules.settings]`, a rule test's `settings`).
pub fn settings_from_toml(values: &BTreeMap<String, toml::Value>) -> Map {
    values
        .iter()
        .map(|(k, v)| {
            let value = rhai::serde::to_dynamic(v).unwrap_or(Dynamic::UNIT);
            (k.as_str().into(), value)
        })
        .collect()
}

/// The deepest folder that holds every one of `files` (empty when they are bare names or share
/// none).
fn common_folder<'a>(files: impl Iterator<Item = &'a Path>) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for file in files {
        let folder = file.parent().unwrap_or(Path::new(""));
        common = Some(match common {
            None => folder.to_path_buf(),
            Some(c) => c
                .components()
                .zip(folder.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common.unwrap_or_default()
}

/// A rule set's version: the first six bytes of its digest, in hex.
fn short_hex(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a pack's file is a word list: `lists/NAME.txt` at the top of the pack.
fn is_word_list(relative: &Path) -> bool {
    relative.extension().is_some_and(|e| e == "txt")
        && relative
            .parent()
            .is_some_and(|p| p.file_name().is_some_and(|n| n == "lists"))
}

/// A word list's phrases: its lines, trimmed, without blank lines and `#` comments.
fn word_list(text: &str) -> Array {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Dynamic::from(l.to_string()))
        .collect()
}

/// Builds the engine every caller uses: sandbox limits, the script API with the pack's word
/// lists, and script output sent to `tracing`.
pub fn engine(limits: &Limits, lists: WordLists) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(64, 64)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(1_000)
        .set_max_functions(200)
        .set_strict_variables(true)
        // Rhai keeps a table of short strings to share their copies; rules make many distinct
        // ones (clauses, labels), so the table was mostly scanned for one to evict: 3–4 % of
        // the pack's instructions for no saving.
        .set_max_strings_interned(0);
    engine.disable_symbol("eval");
    engine.on_progress(|ops| {
        // Reading the clock costs more than an operation: look every 256 operations.
        if ops % 256 != 0 {
            return None;
        }
        let late = DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t));
        late.then(|| Dynamic::from("deadline exceeded"))
    });
    engine.set_optimization_level(rhai::OptimizationLevel::Full);
    engine.on_print(|s| tracing::info!(target: "ogi_audit::rules::script", "{s}"));
    engine.on_debug(|s, src, pos| {
        tracing::debug!(target: "ogi_audit::rules::script", source = src.unwrap_or(""), %pos, "{s}")
    });
    api::register(&mut engine);
    let names = lists.keys().cloned().collect::<Vec<_>>().join(", ");
    rhai::FuncRegistration::new("word_list").register_into_engine(
        &mut engine,
        move |name: &str| -> Result<Array, Box<EvalAltResult>> {
            lists.get(name).cloned().ok_or_else(|| {
                format!("no word list `{name}` in the rule pack's lists/ (lists: {names})").into()
            })
        },
    );
    // Settings differ between rule sets of one engine's life (rule tests): read at run time,
    // never folded into the compiled script.
    rhai::FuncRegistration::new("setting")
        .with_volatility(true)
        .register_into_engine(&mut engine, setting);
    engine
}

fn position_of(err: &EvalAltResult) -> Position {
    let pos = err.position();
    if pos.is_none() {
        // Errors raised inside a called function carry the position in their inner error.
        if let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = err {
            return position_of(inner);
        }
    }
    pos
}

impl RuleSet {
    /// Loads every `.rhai` file below `dir` (sorted by path) and the word lists in
    /// `dir/lists`. Files that fail to compile or lack the required constants and `check`
    /// function are in [`RuleSet::errors`].
    pub fn load(dir: &Path, limits: Limits) -> Result<RuleSet, RulesError> {
        let mut files = Vec::new();
        collect_rhai(dir, &mut files).map_err(|source| RulesError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Ok(entries) = std::fs::read_dir(dir.join("lists")) {
            files.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.strip_prefix(dir).is_ok_and(is_word_list)),
            );
        }
        files.sort();
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(src) => sources.push((file, src)),
                Err(e) => errors.push(LoadError {
                    file,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        let mut set = RuleSet::from_sources(sources, limits);
        errors.append(&mut set.errors);
        set.errors = errors;
        Ok(set)
    }

    /// Compiles rules from (file name, source) pairs; sources named `lists/NAME.txt` are the
    /// pack's word lists.
    pub fn from_sources(sources: Vec<(PathBuf, String)>, limits: Limits) -> RuleSet {
        let kept = Arc::new(sources.clone());
        // Each file by its place in the pack, not on the disk: the pack moved to another folder
        // is the same rule set.
        let root = common_folder(sources.iter().map(|(file, _)| file.as_path()));
        let mut hasher = Sha256::new();
        for (file, src) in &sources {
            let within = file.strip_prefix(&root).unwrap_or(file);
            hasher.update(within.to_string_lossy().as_bytes());
            hasher.update([0]);
            hasher.update(src.as_bytes());
            hasher.update([0]);
        }
        let (lists, scripts): (Vec<_>, Vec<_>) = sources
            .into_iter()
            .partition(|(file, _)| is_word_list(file));
        // By name, not by path: a pack moved to another folder finds the same.
        let list_texts: Vec<(String, &str)> = lists
            .iter()
            .map(|(file, text)| {
                let name = file.file_stem().unwrap_or_default();
                (name.to_string_lossy().into_owned(), text.as_str())
            })
            .collect();
        let lists: WordLists = lists
            .iter()
            .filter_map(|(file, text)| {
                let name = file.file_stem()?.to_string_lossy().into_owned();
                Some((name, word_list(text)))
            })
            .collect();
        let engine = engine(&limits, lists);
        let mut rules: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        for (file, src) in scripts {
            match compile_rule(&engine, &file, &src, &list_texts) {
                Ok(rule) => {
                    if let Some(dup) = rules.iter().find(|r| r.id == rule.id) {
                        errors.push(LoadError {
                            file: file.clone(),
                            line: 1,
                            column: 1,
                            message: format!(
                                "rule id `{}` is already used by {}",
                                rule.id,
                                dup.file.display()
                            ),
                        });
                    } else {
                        rules.push(rule);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let version = short_hex(hasher);
        RuleSet {
            engine,
            rules,
            errors,
            version,
            limits,
            settings: Arc::new(Map::new()),
            sources: kept,
        }
    }

    /// The same set compiled anew, sharing nothing with this one, for another thread. The
    /// engine's functions and the scripts' syntax trees are reference-counted: threads running
    /// one set count on the same counters and slow each other down (two threads ran the pack
    /// slower than one, `bench rules`), so each thread that runs rules runs its own copy.
    pub fn fork(&self) -> RuleSet {
        let sources: Vec<(PathBuf, String)> = self
            .sources
            .iter()
            .map(|(p, s)| (p.clone(), s.as_str().to_owned()))
            .collect();
        let mut set = RuleSet::from_sources(sources, self.limits);
        set.errors = self.errors.clone();
        set.version = self.version.clone();
        for (rule, same) in set.rules.iter_mut().zip(&self.rules) {
            rule.digest.clone_from(&same.digest);
        }
        // The settings' strings are shared too: copied, not cloned.
        set.settings = Arc::new(
            self.settings
                .iter()
                .map(|(k, v)| {
                    let v = if v.is_string() {
                        Dynamic::from(v.to_string())
                    } else {
                        v.clone()
                    };
                    (k.as_str().into(), v)
                })
                .collect(),
        );
        set
    }

    /// The set with the config's `[rules.settings]`. They count in the set's version, and in
    /// the digest of each rule that reads them: the same scripts with other settings can give
    /// other findings.
    pub fn with_settings(mut self, settings: Map) -> RuleSet {
        if !settings.is_empty() {
            let with = |digest: &str, reach: &Reach| {
                let mut hasher = Sha256::new();
                hasher.update(digest.as_bytes());
                let values = settings.iter().map(|(k, v)| (k.as_str(), v.to_string()));
                reach.hash(&mut hasher, values);
                short_hex(hasher)
            };
            self.version = with(&self.version, &Reach::All);
            for rule in &mut self.rules {
                // A rule reading no setting keeps its digest.
                if !rule.settings_read.is_nothing() {
                    rule.digest = with(&rule.digest, &rule.settings_read);
                }
            }
        }
        self.settings = Arc::new(settings);
        self
    }

    /// Runs every rule on a report; `previous` is the same issuer's report of the year before,
    /// which scripts see as `report.previous` (or `()`). Never fails: a rule that breaks yields a
    /// `rule-error` finding.
    pub fn run(&self, report: &Arc<Report>, previous: Option<&Arc<Report>>) -> Vec<Finding> {
        self.run_one(report, previous, None, &self.settings, |_| true)
    }

    /// Runs every rule, scripts also seeing the units below the issuer in the register
    /// (`report.units`: each with its name and its report of the year, or `()`).
    pub fn run_with_units(
        &self,
        report: &Arc<Report>,
        previous: Option<&Arc<Report>>,
        units: Option<Vec<view::UnitReport>>,
    ) -> Vec<Finding> {
        self.run_one(report, previous, units, &self.settings, |_| true)
    }

    /// Runs the named rules only.
    pub fn run_only(
        &self,
        report: &Arc<Report>,
        previous: Option<&Arc<Report>>,
        ids: &[String],
    ) -> Vec<Finding> {
        self.run_one(report, previous, None, &self.settings, |r| {
            ids.contains(&r.id)
        })
    }

    /// Runs the named rules only, as a rule test sets them up: the units below the issuer, and
    /// other settings than the set's.
    pub fn run_case(
        &self,
        report: &Arc<Report>,
        previous: Option<&Arc<Report>>,
        units: Option<Vec<view::UnitReport>>,
        ids: &[String],
        settings: Option<Map>,
    ) -> Vec<Finding> {
        let settings = settings.map_or_else(|| self.settings.clone(), Arc::new);
        self.run_one(report, previous, units, &settings, |r| ids.contains(&r.id))
    }

    /// Runs every rule on several reports, each with what it is compared with: the same
    /// findings as `run_with_units` on each in turn, in the same order. The rules go one by one
    /// over the whole batch, so one rule's syntax tree and regular expressions stay in the
    /// processor's caches while it runs: the pack costs 10–20 % less time this way than report
    /// by report (BENCHMARKS.md).
    pub fn run_batch(&self, batch: Vec<Subject<'_>>) -> Vec<Vec<Finding>> {
        self.run_filtered(batch, &self.settings, |_| true, &[])
    }

    /// [`RuleSet::run_batch`] where some findings are known from an earlier audit: for the
    /// report `i` of the batch with `earlier[i]` given, the rules it names as holding are not
    /// run, and their findings are taken from it, each rule's in the place a run would give
    /// them. When they do hold (the same rule text, lists and settings on the same report),
    /// the result is run_batch's.
    pub fn run_batch_reusing(
        &self,
        batch: Vec<Subject<'_>>,
        earlier: &[Option<Earlier<'_>>],
    ) -> Vec<Vec<Finding>> {
        self.run_filtered(batch, &self.settings, |_| true, earlier)
    }

    /// The rules `keep` selects over a batch, with these settings: each report is converted once
    /// for all rules, and the rules go one by one over the batch. A rule that holds for a report
    /// in `earlier` (by index in the batch) gives that report its earlier findings.
    fn run_filtered(
        &self,
        batch: Vec<Subject<'_>>,
        settings: &Arc<Map>,
        keep: impl Fn(&Rule) -> bool,
        earlier: &[Option<Earlier<'_>>],
    ) -> Vec<Vec<Finding>> {
        let mut out: Vec<Vec<Finding>> = Vec::with_capacity(batch.len());
        let mut converted = Vec::with_capacity(batch.len());
        for job in batch {
            match to_script(job.report, job.previous, job.units) {
                Ok(d) => {
                    out.push(Vec::new());
                    converted.push(Some(d));
                }
                Err(e) => {
                    out.push(vec![unconvertible(&e)]);
                    converted.push(None);
                }
            }
        }
        let outer = SETTINGS.replace(settings.clone());
        for rule in self.rules.iter().filter(|r| keep(r)) {
            for (i, (findings, report)) in out.iter_mut().zip(&converted).enumerate() {
                let Some(report) = report else { continue };
                match earlier.get(i).and_then(Option::as_ref) {
                    Some(e) if e.holds.contains(&rule.id) => {
                        findings.extend(e.findings.iter().filter(|f| f.rule == rule.id).cloned())
                    }
                    _ => findings.extend(self.run_rule(rule, report)),
                }
            }
        }
        SETTINGS.set(outer);
        out
    }

    /// [`RuleSet::run_filtered`] on one report.
    fn run_one(
        &self,
        report: &Arc<Report>,
        previous: Option<&Arc<Report>>,
        units: Option<Vec<view::UnitReport>>,
        settings: &Arc<Map>,
        keep: impl Fn(&Rule) -> bool,
    ) -> Vec<Finding> {
        let subject = Subject {
            report,
            previous,
            units,
        };
        self.run_filtered(vec![subject], settings, keep, &[])
            .pop()
            .unwrap_or_default()
    }

    fn run_rule(&self, rule: &Rule, report: &Dynamic) -> Vec<Finding> {
        let mut scope = Scope::new();
        DEADLINE.with(|d| d.set(Some(Instant::now() + self.limits.deadline)));
        NAMED.set(Some((rule.reads_previous, rule.reads_units)));
        // The top level (the constants) ran once at load time; only `check` runs per report.
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        let result = self.engine.call_fn_with_options::<Dynamic>(
            options,
            &mut scope,
            &rule.ast,
            "check",
            (report.clone(),),
        );
        DEADLINE.with(|d| d.set(None));
        NAMED.set(None);
        match result {
            Ok(value) => match findings_from(rule, value) {
                Ok(f) => self.capped(rule, f),
                Err(message) => vec![rule_error(rule, 0, message)],
            },
            Err(err) => {
                let pos = position_of(&err);
                let line = pos.line().unwrap_or(0);
                let err: String = match *err {
                    EvalAltResult::ErrorTerminated(..) => format!(
                        "deadline exceeded: the rule ran longer than {:?} (超过时限)",
                        self.limits.deadline
                    ),
                    EvalAltResult::ErrorTooManyOperations(..) => format!(
                        "too many operations: more than {} (超过运算次数上限，可能是死循环)",
                        self.limits.max_operations
                    ),
                    ref other => other.to_string(),
                };
                tracing::warn!(rule = %rule.id, file = %rule.file.display(), line, "rule failed: {err}");
                vec![rule_error(rule, line, err)]
            }
        }
    }

    /// A rule's findings within the limits: at most `max_findings` (the rest summed up in one
    /// `rule-error` finding), each message and evidence within its size. One rule that floods
    /// must not fill the database or the mail.
    fn capped(&self, rule: &Rule, mut findings: Vec<Finding>) -> Vec<Finding> {
        let limits = &self.limits;
        let mut cut_messages = 0usize;
        let mut cut_evidence = 0usize;
        let total = findings.len();
        let dropped = total.saturating_sub(limits.max_findings);
        findings.truncate(limits.max_findings);
        for f in &mut findings {
            if f.message.len() > limits.max_message {
                let mut end = limits.max_message;
                while !f.message.is_char_boundary(end) {
                    end -= 1;
                }
                let bytes = f.message.len();
                f.message.truncate(end);
                f.message
                    .push_str(&format!("…（消息过长，已截断；原长 {bytes} 字节）"));
                cut_messages += 1;
            }
            let size = serde_json::to_vec(&f.evidence).map_or(0, |v| v.len());
            if size > limits.max_evidence {
                f.evidence = json!({
                    "truncated": true,
                    "bytes": size,
                    "note": format!("依据过大（{size} 字节，超过 rules.max_evidence），未保存"),
                });
                cut_evidence += 1;
            }
        }
        if dropped > 0 || cut_messages > 0 || cut_evidence > 0 {
            let mut parts = Vec::new();
            if dropped > 0 {
                parts.push(format!(
                    "给出 {total} 条问题，超过上限 rules.max_findings（{}），只保留前 {} 条，其余 {dropped} 条未保存",
                    limits.max_findings, limits.max_findings
                ));
            }
            if cut_messages > 0 {
                parts.push(format!(
                    "{cut_messages} 条问题的说明超过 rules.max_message（{} 字节），已截断",
                    limits.max_message
                ));
            }
            if cut_evidence > 0 {
                parts.push(format!(
                    "{cut_evidence} 条问题的依据超过 rules.max_evidence（{} 字节），未保存",
                    limits.max_evidence
                ));
            }
            tracing::warn!(rule = %rule.id, total, dropped, cut_messages, cut_evidence, "rule output over its limits; cut");
            findings.push(Finding {
                rule: "rule-error".to_string(),
                severity: Severity::Error,
                message: format!(
                    "规则 {} 的输出超出上限 ({})：{}",
                    rule.id,
                    rule.file.display(),
                    parts.join("；")
                ),
                evidence: json!({
                "rule": rule.id,
                "file": rule.file.display().to_string(),
                "findings": total,
                "kept": total - dropped,
                "dropped": dropped,
                "messages_cut": cut_messages,
                "evidence_cut": cut_evidence,
                }),
            });
        }
        findings
    }

    /// Each rule's Chinese title, by id.
    pub fn titles(&self) -> crate::present::Titles {
        self.rules
            .iter()
            .map(|r| (r.id.clone(), r.title.clone()))
            .collect()
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// The report as scripts see it: a shared read-only `Report` object, with `previous`.
fn to_script(
    report: &Arc<Report>,
    previous: Option<&Arc<Report>>,
    units: Option<Vec<view::UnitReport>>,
) -> Result<Dynamic, Box<EvalAltResult>> {
    Ok(Dynamic::from(view::ScriptReport::with_units(
        report.clone(),
        previous.cloned(),
        units,
    )))
}

/// The finding for a report that could not be handed to the scripts.
fn unconvertible(e: &EvalAltResult) -> Finding {
    Finding {
        rule: "rule-error".to_string(),
        severity: Severity::Error,
        message: format!("报告无法交给规则检查: {e}"),
        evidence: json!({}),
    }
}

fn rule_error(rule: &Rule, line: usize, message: String) -> Finding {
    Finding {
        rule: "rule-error".to_string(),
        severity: Severity::Error,
        message: if line > 0 {
            format!(
                "规则 {} 运行出错 ({}:{line}): {message}",
                rule.id,
                rule.file.display()
            )
        } else {
            format!(
                "规则 {} 运行出错 ({}): {message}",
                rule.id,
                rule.file.display()
            )
        },
        evidence: json!({ "rule": rule.id, "file": rule.file.display().to_string(), "line": line, "error": message }),
    }
}

/// Turns what `check` returned into findings: `()`, one finding map, or an array of them. A map
/// needs `message`; `severity` defaults to the rule's, `evidence` to `{}`.
fn findings_from(rule: &Rule, value: Dynamic) -> Result<Vec<Finding>, String> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    let items: Vec<Dynamic> = if value.is_array() {
        value
            .into_array()
            .map_err(|t| format!("check returned {t}"))?
    } else {
        vec![value]
    };
    let mut out = Vec::new();
    for item in items {
        let type_name = item.type_name();
        let Some(mut map) = item.try_cast::<rhai::Map>() else {
            return Err(format!(
                "check returned a value of type {type_name}, not a finding map"
            ));
        };
        let message = map
            .get("message")
            .and_then(|m| m.clone().into_string().ok())
            .ok_or_else(|| "a finding has no `message`".to_string())?;
        let severity = match map.get("severity") {
            Some(s) => s.to_string().parse::<Severity>()?,
            None => rule.severity,
        };
        let evidence = match map.remove("evidence") {
            Some(e) if !e.is_unit() => to_json(&e),
            _ => json!({}),
        };
        out.push(Finding {
            rule: rule.id.clone(),
            severity,
            message,
            evidence,
        });
    }
    Ok(out)
}

/// A script value as JSON: unit is null, maps and arrays recurse, other types print as strings.
/// (Direct, not through serde: evidence can list a hundred cells.)
fn to_json(value: &Dynamic) -> serde_json::Value {
    use serde_json::Value;
    if value.is_unit() {
        Value::Null
    } else if let Ok(b) = value.as_bool() {
        Value::Bool(b)
    } else if let Ok(i) = value.as_int() {
        Value::from(i)
    } else if let Ok(f) = value.as_float() {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    } else if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        Value::String(s.to_string())
    } else if let Some(a) = value.read_lock::<rhai::Array>() {
        Value::Array(a.iter().map(to_json).collect())
    } else if let Some(m) = value.read_lock::<rhai::Map>() {
        Value::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
    } else {
        Value::String(value.to_string())
    }
}

fn load_error(file: &Path, pos: Position, message: String) -> LoadError {
    LoadError {
        file: file.to_path_buf(),
        line: pos.line().unwrap_or(1),
        column: pos.position().unwrap_or(1),
        message,
    }
}

/// Compiles one rule file; `lists` are the pack's word lists (name, text), of which the
/// [`Rule::digest`] takes those the rule reads.
fn compile_rule(
    engine: &Engine,
    file: &Path,
    src: &str,
    lists: &[(String, &str)],
) -> Result<Rule, LoadError> {
    let ast = engine
        .compile(src)
        .map_err(|e| load_error(file, e.position(), e.0.to_string()))?;
    if !ast
        .iter_functions()
        .any(|f| f.name == "check" && f.params.len() == 1)
    {
        return Err(load_error(
            file,
            Position::new(1, 1),
            "no `fn check(report)` in the rule file".to_string(),
        ));
    }
    // Run the top level once to read the constants.
    let mut scope = Scope::new();
    DEADLINE.with(|d| d.set(Some(Instant::now() + Duration::from_secs(1))));
    let ran = engine.run_ast_with_scope(&mut scope, &ast);
    DEADLINE.with(|d| d.set(None));
    ran.map_err(|e| load_error(file, position_of(&e), e.to_string()))?;
    let text = |name: &str| -> Result<String, LoadError> {
        scope
            .get_value::<rhai::ImmutableString>(name)
            .map(|s| s.to_string())
            .ok_or_else(|| {
                load_error(
                    file,
                    Position::new(1, 1),
                    format!("missing `const {name} = \"…\";`"),
                )
            })
    };
    let id = text("ID")?;
    if id.is_empty() || id == "rule-error" {
        return Err(load_error(
            file,
            Position::new(1, 1),
            format!("invalid rule id `{id}`"),
        ));
    }
    let lists_read = Reach::of(src, "word_list");
    let severity = text("SEVERITY")?
        .parse::<Severity>()
        .map_err(|e| load_error(file, Position::new(1, 1), e))?;
    Ok(Rule {
        id,
        title: text("TITLE")?,
        severity,
        description: text("DESCRIPTION").unwrap_or_default(),
        file: file.to_path_buf(),
        digest: {
            let mut hasher = Sha256::new();
            hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
            hasher.update([0]);
            lists_read.hash(
                &mut hasher,
                lists.iter().map(|(name, text)| (name.as_str(), *text)),
            );
            hasher.update(src.as_bytes());
            short_hex(hasher)
        },
        lists_read,
        settings_read: Reach::of(src, "setting"),
        reads_previous: reads_field(src, "previous"),
        reads_units: reads_field(src, "units"),
        ast,
    })
}

/// What follows each place a rule's text has `word` as a whole word.
fn occurrences<'a>(src: &'a str, word: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    src.match_indices(word).filter_map(move |(at, _)| {
        let rest = &src[at + word.len()..];
        let whole = !src[..at].chars().next_back().is_some_and(ident)
            && !rest.chars().next().is_some_and(ident);
        whole.then_some(rest)
    })
}

/// Whether a rule's text has `word` as a word anywhere in it (a comment naming it too: that only
/// costs a run that was not needed).
fn names(src: &str, word: &str) -> bool {
    occurrences(src, word).next().is_some()
}

/// Whether a rule's text can read the report's field `field` (`report.units`,
/// `report["units"]`, a comment naming it): `field` as a word anywhere but as the key of a map
/// it writes (`#{ units: [...] }`).
fn reads_field(src: &str, field: &str) -> bool {
    occurrences(src, field).any(|rest| {
        let rest = rest.trim_start();
        // A map's key is followed by one colon (two would be a path).
        !rest.starts_with(':') || rest.starts_with("::")
    })
}

fn collect_rhai(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_rhai(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rhai") {
            out.push(path);
        }
    }
    Ok(())
}
