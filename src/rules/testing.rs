//! `rules test`: test cases kept beside the rules, so an office can change a rule and see at once
//! whether it still fires where it should and stays quiet where it should.
//!
//! A suite is a TOML file under `<rules>/tests/`:
//!
//! ```toml
//! [[case]]
//! name = "平衡关系被破坏时报错"
//! report = "reports/000_32590e3cc98cb08c.txt"   # relative to this file
//! rules = ["t3-balance"]                         # rules under test (default: all)
//! set = { "table3.new_received.total" = 59 }     # optional changes to the parsed report
//!                                                # (a claim by what it says: "claims[回复率99.84%].value")
//! previous = "reports/…"                         # optional: last year's report (report.previous)
//! previous_set = { "year" = 2019 }               # optional changes to it
//! [[case.units]]                                 # optional: units below the issuer in the
//! name = "某县教育局"                             # register (report.units), each with its
//! report = "reports/…"                           # report (none: not received)
//! set = { "table3.new_received.total" = 9 }      # and changes to it
//! [[case.expect]]                                # each must match a finding; none = no findings
//! rule = "t3-balance"
//! severity = "error"                             # optional
//! message = "总计"                               # optional: a part of the message
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use thiserror::Error;

use super::RuleSet;
use crate::model::{Finding, Report};
use crate::pipeline::{self, Status};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Suite {
    #[serde(default)]
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    report: PathBuf,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    set: BTreeMap<String, toml::Value>,
    /// Last year's report of the same issuer (`report.previous`), relative to this file.
    previous: Option<PathBuf>,
    /// Changes to last year's report.
    #[serde(default)]
    previous_set: BTreeMap<String, toml::Value>,
    /// Units below the issuer in the register (`report.units`).
    #[serde(default)]
    units: Vec<CaseUnit>,
    /// Settings instead of the config's `[rules.settings]`.
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseUnit {
    name: String,
    report: Option<PathBuf>,
    #[serde(default)]
    set: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    rule: String,
    severity: Option<String>,
    message: Option<String>,
}

/// A suite file that cannot be used.
#[derive(Debug, Error)]
pub enum SuiteError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The result of one case.
#[derive(Debug)]
pub struct CaseResult {
    pub suite: PathBuf,
    pub name: String,
    /// Empty when the case passed.
    pub failures: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Finds the suites (`*.toml` below `<rules>/tests`).
pub fn find_suites(rules_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![rules_dir.join("tests")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs every case of a suite file.
pub fn run_suite(set: &RuleSet, path: &Path) -> Result<Vec<CaseResult>, SuiteError> {
    let invalid = |message: String| SuiteError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let suite: Suite = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut results = Vec::new();
    for case in suite.case {
        let failures = match run_case(set, base, &case) {
            Ok(f) => f,
            Err(e) => vec![e],
        };
        results.push(CaseResult {
            suite: path.to_path_buf(),
            name: case.name,
            failures,
        });
    }
    Ok(results)
}

fn run_case(set: &RuleSet, base: &Path, case: &Case) -> Result<Vec<String>, String> {
    for id in &case.rules {
        if set.get(id).is_none() {
            return Err(format!("rule `{id}` is not in the rule set"));
        }
    }
    let report = Arc::new(load_report(base, &case.report, &case.set)?);
    let previous = match &case.previous {
        Some(p) => Some(Arc::new(load_report(base, p, &case.previous_set)?)),
        None => None,
    };
    let ids: Vec<String> = if case.rules.is_empty() {
        set.rules.iter().map(|r| r.id.clone()).collect()
    } else {
        case.rules.clone()
    };
    let units = if case.units.is_empty() {
        None
    } else {
        let mut units = Vec::new();
        for u in &case.units {
            let report = match &u.report {
                Some(p) => Some(Arc::new(load_report(base, p, &u.set)?)),
                None => None,
            };
            units.push(super::UnitReport {
                name: u.name.clone(),
                report,
            });
        }
        Some(units)
    };
    let settings = (!case.settings.is_empty()).then(|| super::settings_from_toml(&case.settings));
    let findings = set.run_case(&report, previous.as_ref(), units, &ids, settings);
    Ok(compare(&case.expect, &findings))
}

fn load_report(
    base: &Path,
    rel: &Path,
    set: &BTreeMap<String, toml::Value>,
) -> Result<Report, String> {
    let path = base.join(rel);
    let outcome = pipeline::read_file(&path);
    if outcome.status != Status::Parsed {
        return Err(format!(
            "{}: {}",
            path.display(),
            outcome.error.unwrap_or_default()
        ));
    }
    let report = outcome.report.ok_or("no report")?;
    if set.is_empty() {
        Ok(Arc::unwrap_or_clone(report))
    } else {
        apply_overrides(&report, set)
    }
}

/// One step of a `set` path: a key (or a list index), or a list element chosen by what it says.
#[derive(Debug, PartialEq)]
enum Step<'a> {
    Key(&'a str),
    Select(&'a str),
}

/// Splits `claims[办件回复率99.84%].value` into its steps; a selector may hold dots.
fn steps(path: &str) -> Result<Vec<Step<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner
                .find(']')
                .ok_or_else(|| format!("`{path}`: `[` without `]`"))?;
            if close == 0 {
                return Err(format!("`{path}`: empty `[]`"));
            }
            out.push(Step::Select(&inner[..close]));
            rest = &inner[close + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        if end == 0 {
            return Err(format!("`{path}`: empty part"));
        }
        out.push(Step::Key(&rest[..end]));
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Ok(out)
}

/// What a list element says, for `[…]` selectors: a claim's `phrase`, which ends with its number
/// (`办件回复率99.84%`), else its `text`, else its `name`.
fn says(item: &serde_json::Value) -> String {
    let field = |k: &str| item.get(k).and_then(|v| v.as_str()).unwrap_or("");
    match (field("phrase"), field("text"), field("name")) {
        ("", "", name) => name.to_string(),
        (phrase, text, _) if phrase.ends_with(text) => phrase.to_string(),
        (phrase, text, _) => format!("{phrase}{text}"),
    }
}

/// Applies `"a.b.c" = value` changes to a report through its JSON form. A list element is named
/// by its index (`claims.14`) or, better, by what it says (`claims[回复率99.84%]`: the one claim
/// whose phrase contains those words), which survives parser changes that add or drop other
/// claims.
fn apply_overrides(report: &Report, set: &BTreeMap<String, toml::Value>) -> Result<Report, String> {
    let mut json = serde_json::to_value(report).map_err(|e| e.to_string())?;
    for (path, value) in set {
        let value = serde_json::to_value(value).map_err(|e| e.to_string())?;
        let parts = steps(path)?;
        let mut node = &mut json;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let slot = match (node, part) {
                (serde_json::Value::Object(map), Step::Key(key)) => {
                    if last {
                        map.insert((*key).to_string(), value.clone());
                        break;
                    }
                    map.entry((*key).to_string())
                        .or_insert_with(|| serde_json::json!({}))
                }
                (serde_json::Value::Array(items), Step::Key(key)) => {
                    let idx: usize = key
                        .parse()
                        .map_err(|_| format!("`{path}`: `{key}` is not an index"))?;
                    let len = items.len();
                    items
                        .get_mut(idx)
                        .ok_or_else(|| format!("`{path}`: index {idx} out of {len}"))?
                }
                (serde_json::Value::Array(items), Step::Select(words)) => {
                    let found: Vec<usize> = (0..items.len())
                        .filter(|&i| says(&items[i]).contains(words))
                        .collect();
                    match found[..] {
                        [idx] => &mut items[idx],
                        [] => return Err(format!("`{path}`: no element says `{words}`")),
                        _ => {
                            let all: Vec<String> = found.iter().map(|&i| says(&items[i])).collect();
                            return Err(format!(
                                "`{path}`: {} elements say `{words}` ({}): say more",
                                found.len(),
                                all.join(" / ")
                            ));
                        }
                    }
                }
                (_, Step::Select(words)) => {
                    return Err(format!("`{path}`: `[{words}]` does not follow a list"))
                }
                (_, Step::Key(key)) => {
                    return Err(format!("`{path}`: `{key}` is not inside a table"))
                }
            };
            if last {
                *slot = value.clone();
                break;
            }
            node = slot;
        }
    }
    serde_json::from_value(json).map_err(|e| format!("changed report is not valid: {e}"))
}

fn compare(expect: &[Expect], findings: &[Finding]) -> Vec<String> {
    let mut failures = Vec::new();
    if expect.is_empty() {
        for f in findings {
            failures.push(format!(
                "unexpected finding [{}] {}: {}",
                f.severity.as_str(),
                f.rule,
                f.message
            ));
        }
        return failures;
    }
    for e in expect {
        let hit = findings.iter().any(|f| {
            f.rule == e.rule
                && e.severity
                    .as_deref()
                    .is_none_or(|s| s == f.severity.as_str())
                && e.message.as_deref().is_none_or(|m| f.message.contains(m))
        });
        if !hit {
            let got: Vec<String> = findings
                .iter()
                .map(|f| format!("[{}] {}: {}", f.severity.as_str(), f.rule, f.message))
                .collect();
            failures.push(format!(
                "expected a finding of {}{}{}; got: {}",
                e.rule,
                e.severity
                    .as_deref()
                    .map_or(String::new(), |s| format!(" ({s})")),
                e.message
                    .as_deref()
                    .map_or(String::new(), |m| format!(" containing `{m}`")),
                if got.is_empty() {
                    "none".to_string()
                } else {
                    got.join(" | ")
                }
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_keys_indexes_and_selectors() {
        assert_eq!(
            steps("claims[办件回复率99.84%].value"),
            Ok(vec![
                Step::Key("claims"),
                Step::Select("办件回复率99.84%"),
                Step::Key("value")
            ])
        );
        assert_eq!(
            steps("table3.new_received.total"),
            Ok(vec![
                Step::Key("table3"),
                Step::Key("new_received"),
                Step::Key("total")
            ])
        );
        assert_eq!(
            steps("claims.14.text"),
            Ok(vec![
                Step::Key("claims"),
                Step::Key("14"),
                Step::Key("text")
            ])
        );
        assert!(steps("claims[99.84%.value").is_err());
        assert!(steps("claims[].value").is_err());
        assert!(steps("a..b").is_err());
    }

    fn claim(phrase: &str, text: &str, value: f64) -> crate::model::Claim {
        crate::model::Claim {
            value,
            unit: "件".to_string(),
            text: text.to_string(),
            phrase: phrase.to_string(),
            sentence: phrase.to_string(),
            before: String::new(),
            after: String::new(),
            section: None,
            start: 0,
            end: 0,
        }
    }

    #[test]
    fn a_selector_changes_the_one_claim_that_says_it_or_says_why_not() {
        let report = Report {
            claims: vec![
                claim("收到申请58件", "58件", 58.0),
                claim("办理完毕58件", "58件", 58.0),
                claim("其中予以公开12件", "12件", 12.0),
            ],
            ..Report::default()
        };
        let set = |k: &str, v: f64| BTreeMap::from([(k.to_string(), toml::Value::Float(v))]);

        let changed = apply_overrides(&report, &set("claims[办理完毕58件].value", 57.0))
            .expect("one claim says it");
        let values: Vec<f64> = changed.claims.iter().map(|c| c.value).collect();
        assert_eq!(values, [58.0, 57.0, 12.0]);

        let err = apply_overrides(&report, &set("claims[58件].value", 57.0)).expect_err("two");
        assert!(err.contains("2 elements say `58件`"), "{err}");
        let err = apply_overrides(&report, &set("claims[不予公开].value", 1.0)).expect_err("none");
        assert!(err.contains("no element says `不予公开`"), "{err}");
        let err = apply_overrides(&report, &set("year[2020]", 1.0)).expect_err("not a list");
        assert!(err.contains("does not follow a list"), "{err}");
    }
}
