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
//! previous = "reports/…"                         # optional: last year's report (report.previous)
//! previous_set = { "year" = 2019 }               # optional changes to it
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
    #[serde(default)]
    expect: Vec<Expect>,
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
    let findings = if case.rules.is_empty() {
        set.run(&report, previous.as_ref())
    } else {
        set.run_only(&report, previous.as_ref(), &case.rules)
    };
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

/// Applies `"a.b.c" = value` changes to a report through its JSON form.
fn apply_overrides(report: &Report, set: &BTreeMap<String, toml::Value>) -> Result<Report, String> {
    let mut json = serde_json::to_value(report).map_err(|e| e.to_string())?;
    for (path, value) in set {
        let value = serde_json::to_value(value).map_err(|e| e.to_string())?;
        let mut node = &mut json;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            node = match node {
                serde_json::Value::Object(map) => {
                    if last {
                        map.insert(part.to_string(), value.clone());
                        break;
                    }
                    map.entry(part.to_string())
                        .or_insert_with(|| serde_json::json!({}))
                }
                serde_json::Value::Array(items) => {
                    let idx: usize = part
                        .parse()
                        .map_err(|_| format!("`{path}`: `{part}` is not an index"))?;
                    let len = items.len();
                    let slot = items
                        .get_mut(idx)
                        .ok_or_else(|| format!("`{path}`: index {idx} out of {len}"))?;
                    if last {
                        *slot = value.clone();
                        break;
                    }
                    slot
                }
                _ => return Err(format!("`{path}`: `{part}` is not inside a table")),
            };
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
