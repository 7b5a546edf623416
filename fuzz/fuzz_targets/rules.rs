//! The rule API: a text (spliced into a real report, see `common::splice`) is parsed and, when it
//! parses, the shipped rule pack (`../rules`, loaded once) runs on it, with the unaltered
//! fixture's report as the previous year. A rule that throws or hits a limit becomes a
//! `rule-error` finding, which is fine; a panic or a stall is not.
#![no_main]

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ogi_audit::model::Report;
use ogi_audit::parse;
use ogi_audit::rules::{Limits, RuleSet};

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        let set = RuleSet::load(&dir, Limits::default()).expect("rules directory");
        assert!(
            set.errors.is_empty(),
            "shipped rules do not load: {:?}",
            set.errors
        );
        assert!(!set.rules.is_empty(), "no rules in {}", dir.display());
        set
    })
}

/// The unaltered fixtures' reports, the "previous year" of a spliced one.
fn base_reports() -> &'static [Option<Arc<Report>>] {
    static REPORTS: OnceLock<Vec<Option<Arc<Report>>>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        common::base_texts()
            .iter()
            .map(|t| parse::parse(t).ok().map(Arc::new))
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let rules = rules();
    let (text, base) = common::splice(data);
    let Ok(report) = parse::parse(&text) else {
        return;
    };
    let report = Arc::new(report);
    let previous = base.and_then(|i| base_reports()[i].as_ref());
    let _ = rules.run(&report, previous);
});
