//! The rules a command runs, and `rules list` / `rules test`.

use super::*;

/// The rules folder a command works on: the one given, else the config's.
pub(super) fn rules_dir(explicit_config: Option<&Path>, given: Option<PathBuf>) -> Result<PathBuf> {
    init_tracing("warn", LogFormat::Human);
    match given {
        Some(dir) => Ok(dir),
        None => Ok(Config::resolve(explicit_config)?.rules_dir),
    }
}

/// Reports rule files that did not load on stderr.
pub(super) fn report_load_errors(set: RuleSet) -> RuleSet {
    for e in &set.errors {
        eprintln!("ogi-audit: rule not loaded: {e}");
    }
    set
}

/// The rules a command runs: the folder given on the command line, else the config's (the
/// built-in pack on the built-in defaults without a rules folder), with the config.
pub(super) fn rule_set(
    explicit_config: Option<&Path>,
    given: Option<&Path>,
) -> Result<(RuleSet, Config)> {
    init_tracing("warn", LogFormat::Human);
    let config = Config::resolve(explicit_config)?;
    let set = match given {
        Some(dir) => RuleSet::load(dir, crate::setup::rule_limits(&config))?
            .with_settings(crate::setup::rule_settings(&config)),
        None => crate::setup::load_rules(&config)?,
    };
    Ok((report_load_errors(set), config))
}

pub(super) fn rules_list(set: &RuleSet, stats: Option<&Config>) -> Result<ExitCode> {
    let feedback = match stats {
        Some(config) => Some(
            Store::open_read_only(&config.database)?.rule_feedback(&crate::store::Scope::all())?,
        ),
        None => None,
    };
    match &feedback {
        Some(_) => println!(
            "{:<26} {:<8} {:>8} {:>9} {:>11} {:<28}",
            "id", "severity", "findings", "confirmed", "false alarm", "title"
        ),
        None => println!("{:<26} {:<8} {:<28} file", "id", "severity", "title"),
    }
    let mut rules: Vec<&crate::rules::Rule> = set.rules.iter().collect();
    if let Some(f) = &feedback {
        // The rules reviewers dismiss most as false alarms first: those to fix first.
        rules.sort_by_key(|r| std::cmp::Reverse(f.get(&r.id).map_or(0, |x| x.1)));
    }
    for r in rules {
        match &feedback {
            Some(f) => {
                let (n, false_alarms, confirmed) = f.get(&r.id).copied().unwrap_or((0, 0, 0));
                println!(
                    "{:<26} {:<8} {:>8} {:>9} {:>11} {}",
                    r.id,
                    r.severity.as_str(),
                    n,
                    confirmed,
                    false_alarms,
                    r.title
                );
            }
            None => println!(
                "{:<26} {:<8} {:<28} {}",
                r.id,
                r.severity.as_str(),
                r.title,
                r.file.display()
            ),
        }
    }
    println!("rule set version {}", set.version);
    Ok(if set.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(super) fn rules_test(dir: &Path) -> Result<ExitCode> {
    let set = report_load_errors(RuleSet::load(dir, Limits::default())?);
    let suites = rules::testing::find_suites(dir);
    if suites.is_empty() {
        eprintln!(
            "ogi-audit: no test suites under {}",
            dir.join("tests").display()
        );
        return Ok(ExitCode::from(1));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for suite in suites {
        match rules::testing::run_suite(&set, &suite) {
            Ok(results) => {
                for r in results {
                    if r.passed() {
                        passed += 1;
                        println!("ok    {} :: {}", suite.display(), r.name);
                    } else {
                        failed += 1;
                        println!("FAIL  {} :: {}", suite.display(), r.name);
                        for f in &r.failures {
                            println!("      {f}");
                        }
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {e}");
            }
        }
    }
    failed += set.errors.len();
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
