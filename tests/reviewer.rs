//! The shipped pack against a careful reviewer: for every real fixture,
//! `tests/fixtures/golden/findings.toml` lists by hand what the reviewer finds. Each expected
//! finding must be reported, no other warning or error may be, and a finding marked `pending`
//! (a check the pack does not make yet) must not be reported either, so the mark is removed as
//! soon as the pack learns it.

use std::path::{Path, PathBuf};

use ogi_audit::model::{Finding, Severity};
use ogi_audit::pipeline::{self, Status};
use ogi_audit::rules::{Limits, RuleSet};
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    fixture: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    file: String,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
struct Expect {
    rule: String,
    about: String,
    /// `info`, `warning` or `error`; any warning or error when not given.
    severity: Option<String>,
    pending: Option<String>,
}

impl Expect {
    fn matches(&self, f: &Finding) -> bool {
        f.rule == self.rule
            && f.message.contains(&self.about)
            && match self.severity.as_deref() {
                Some(s) => f.severity.as_str() == s,
                None => f.severity >= Severity::Warning,
            }
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn the_pack_finds_what_the_reviewer_finds_and_nothing_else() {
    let text = std::fs::read_to_string(fixtures().join("golden/findings.toml")).expect("file");
    let expected: Expected = toml::from_str(&text).expect("findings.toml");
    let set = RuleSet::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        Limits::default(),
    )
    .expect("rules");
    let mut errors = Vec::new();
    let (mut found, mut pending) = (0, 0);
    for fixture in &expected.fixture {
        let outcome = pipeline::read_file(&fixtures().join(&fixture.file));
        assert_eq!(outcome.status, Status::Parsed, "{}", fixture.file);
        let report = outcome.report.expect("report");
        let findings = set.run(&report, None);
        for e in &fixture.expect {
            let hit = findings.iter().any(|f| e.matches(f));
            match (&e.pending, hit) {
                (None, false) => errors.push(format!(
                    "{}: missing {} finding about “{}”",
                    fixture.file, e.rule, e.about
                )),
                (Some(why), true) => errors.push(format!(
                    "{}: {} now finds “{}” ({why}): remove its pending mark",
                    fixture.file, e.rule, e.about
                )),
                (None, true) => found += 1,
                (Some(_), false) => pending += 1,
            }
        }
        for f in &findings {
            let listed = fixture
                .expect
                .iter()
                .any(|e| e.pending.is_none() && e.matches(f));
            if f.severity >= Severity::Warning && !listed {
                errors.push(format!(
                    "{}: unexpected {} {}: {}",
                    fixture.file,
                    f.severity.as_str(),
                    f.rule,
                    f.message
                ));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors:\n{}",
        errors.len(),
        errors.join("\n")
    );
    eprintln!("reviewer's findings: {found} found, {pending} not yet checked by the pack");
}
