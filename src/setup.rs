//! First run and health checks: `ogi-audit init` writes a working set-up (commented config, the
//! rule pack, the folders); `ogi-audit validate` checks a set-up before it goes live.

use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

use crate::config::{self, Config, Transport};
use crate::mail::Mailer;
use crate::rules::{Limits, RuleSet, RulesError};

include!(concat!(env!("OUT_DIR"), "/rule_pack.rs"));

#[derive(Debug, Error)]
pub enum SetupError {
    #[error("{} already exists; init never overwrites (choose another folder or move it away)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The shipped rule pack, compiled from the copy inside the binary: what the daemon runs on
/// the built-in defaults when there is no `./rules` folder (`init` writes an editable copy).
pub fn builtin_rules(limits: Limits) -> RuleSet {
    let sources = RULE_PACK
        .iter()
        .filter(|(name, _)| {
            (name.ends_with(".rhai") && !name.contains('/'))
                || (name.starts_with("lists/") && name.ends_with(".txt"))
        })
        .map(|(name, bytes)| {
            (
                PathBuf::from(format!("(built-in)/{name}")),
                String::from_utf8_lossy(bytes).into_owned(),
            )
        })
        .collect();
    RuleSet::from_sources(sources, limits)
}

/// The sandbox limits a config sets for its rules.
pub fn rule_limits(config: &Config) -> Limits {
    Limits {
        deadline: config.rule_deadline,
        max_findings: config.rule_max_findings,
        max_message: config.rule_max_message,
        max_evidence: config.rule_max_evidence,
        ..Limits::default()
    }
}

/// The rule set a config means: its rules folder, or, on the built-in defaults without one,
/// the built-in pack. Files that fail to compile are in the set's `errors`.
pub fn load_rules(config: &Config) -> Result<RuleSet, RulesError> {
    if uses_builtin_rules(config) {
        tracing::warn!(
            "no rules folder at {}: using the built-in rule pack (`ogi-audit init` writes an editable copy)",
            config.rules_dir.display()
        );
        return Ok(builtin_rules(rule_limits(config)).with_settings(rule_settings(config)));
    }
    Ok(RuleSet::load(&config.rules_dir, rule_limits(config))?.with_settings(rule_settings(config)))
}

/// The values a config gives its rules (`[rules.settings]`).
pub fn rule_settings(config: &Config) -> rhai::Map {
    crate::rules::settings_from_toml(&config.rule_settings)
}

/// Whether a config falls back to the built-in rule pack: the built-in defaults and no rules
/// folder. (A config file that names a missing folder is an error to fix, not a fallback.)
pub fn uses_builtin_rules(config: &Config) -> bool {
    config.source.is_none() && !config.rules_dir.exists()
}

/// What `init` wrote.
#[derive(Debug)]
pub struct Initialized {
    pub config: PathBuf,
    pub rules: PathBuf,
    pub folders: Vec<PathBuf>,
}

/// Writes `ogi-audit.toml` (the commented defaults), `rules/` (the shipped pack with its tests)
/// and the folders the config names, below `dir`. Refuses, writing nothing, when the config
/// or the rules folder is already there.
pub fn init(dir: &Path) -> Result<Initialized, SetupError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SetupError::Io { path, source }
    };
    let config_path = dir.join("ogi-audit.toml");
    let rules_dir = dir.join("rules");
    for p in [&config_path, &rules_dir] {
        if p.exists() {
            return Err(SetupError::Exists(p.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (rel, bytes) in RULE_PACK {
        let path = rules_dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    std::fs::write(&config_path, config::DEFAULT_TOML).map_err(io(&config_path))?;
    let config = Config::defaults(dir);
    let mut folders = vec![
        config.inbox.clone(),
        config.archive.clone(),
        config.quarantine.clone(),
        config.mail.outbox.clone(),
    ];
    if let Some(data) = config.database.parent() {
        folders.push(data.to_path_buf());
    }
    for f in &folders {
        std::fs::create_dir_all(f).map_err(io(f))?;
    }
    Ok(Initialized {
        config: config_path,
        rules: rules_dir,
        folders,
    })
}

/// One line of `validate`'s report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn pass(what: &str, detail: impl Into<String>) -> Check {
        Check {
            what: what.to_string(),
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(what: &str, detail: impl Into<String>) -> Check {
        Check {
            what: what.to_string(),
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Checks a loaded config: the folders, every rule, the mail templates and (unless `offline`
/// or the file transport is used) the SMTP server. The config itself loaded, or the caller
/// would have an error to show instead.
pub fn validate(config: &Config, offline: bool) -> Vec<Check> {
    let mut checks = vec![Check::pass(
        "config",
        match &config.source {
            Some(p) => format!("{} read", p.display()),
            None => "built-in defaults (no config file)".to_string(),
        },
    )];
    let problems = config.layout_problems();
    checks.push(if problems.is_empty() {
        Check::pass(
            "layout",
            format!(
                "the inbox {} holds none of the daemon's own files",
                config.inbox.display()
            ),
        )
    } else {
        Check::fail("layout", problems.join("\n"))
    });
    checks.push(folder("inbox", &config.inbox));
    checks.push(folder("archive", &config.archive));
    checks.push(folder("quarantine", &config.quarantine));
    if let Some(data) = config.database.parent() {
        checks.push(folder("database folder", data));
    }
    checks.push(rules(config));
    match Mailer::offline(&config.mail) {
        Ok(_) => checks.push(Check::pass(
            "mail templates",
            match &config.mail.templates {
                Some(dir) => format!("{} render", dir.display()),
                None => "built-in templates render".to_string(),
            },
        )),
        Err(e) => checks.push(Check::fail("mail templates", e.to_string())),
    }
    checks.push(mail_transport(config, offline));
    checks.push(web_console(config));
    checks.push(readers());
    checks
}

/// The web console: where it listens, and whether it may listen there.
/// The optional readers: always passes (a missing one only narrows what is read), saying
/// which formats are read and which quarantined.
fn readers() -> Check {
    let lines: Vec<String> = crate::extract::readers()
        .iter()
        .map(|r| match &r.path {
            Some(p) => format!("{}: {} ({})", r.formats, r.program, p.display()),
            None => format!(
                "{}: {} not installed (Debian package {}): {}",
                r.formats, r.program, r.package, r.without
            ),
        })
        .collect();
    Check::pass(
        "optional readers",
        format!(
            "text, HTML, DOCX, Word 97-2003 .doc and .wps built in; {}",
            lines.join("; ")
        ),
    )
}

fn web_console(config: &Config) -> Check {
    let Some(addr) = config.web.listen else {
        return Check::pass("web console", "off ([web] listen is not set)");
    };
    match crate::web::check(config) {
        Ok(()) => Check::pass(
            "web console",
            format!(
                "http://{addr}{}",
                if addr.ip().is_loopback() {
                    " (loopback)"
                } else {
                    " (login required)"
                }
            ),
        ),
        Err(e) => Check::fail("web console", e.to_string()),
    }
}

/// A folder the daemon writes: it exists and is writable, or can be created.
fn folder(what: &str, path: &Path) -> Check {
    if path.is_dir() {
        return match probe_write(path) {
            Ok(()) => Check::pass(what, format!("{} (writable)", path.display())),
            Err(e) => Check::fail(what, format!("{} is not writable: {e}", path.display())),
        };
    }
    if path.exists() {
        return Check::fail(what, format!("{} is not a folder", path.display()));
    }
    // Missing: fine if the daemon can create it, i.e. the nearest existing parent is writable.
    let mut parent = path.parent();
    while let Some(p) = parent {
        if p.as_os_str().is_empty() {
            parent = Some(Path::new("."));
            continue;
        }
        if p.is_dir() {
            return match probe_write(p) {
                Ok(()) => Check::pass(
                    what,
                    format!("{} (missing; created at start)", path.display()),
                ),
                Err(e) => Check::fail(
                    what,
                    format!(
                        "{} is missing and {} is not writable: {e}",
                        path.display(),
                        p.display()
                    ),
                ),
            };
        }
        parent = p.parent();
    }
    Check::fail(what, format!("{} cannot be created", path.display()))
}

/// Creates and removes a file, which is the only sure test of write access.
fn probe_write(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".ogi-audit-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

fn rules(config: &Config) -> Check {
    let source = if uses_builtin_rules(config) {
        format!(
            "the built-in pack (no {} folder; `ogi-audit init` writes an editable copy)",
            config.rules_dir.display()
        )
    } else {
        config.rules_dir.display().to_string()
    };
    match load_rules(config) {
        Err(e) => Check::fail("rules", e.to_string()),
        Ok(set) if !set.errors.is_empty() => Check::fail(
            "rules",
            set.errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Ok(set) if set.rules.is_empty() => Check::fail(
            "rules",
            format!("no .rhai rule in {}", config.rules_dir.display()),
        ),
        Ok(set) => Check::pass(
            "rules",
            format!(
                "{} rules compile in {source} (rule set {})",
                set.rules.len(),
                set.version
            ),
        ),
    }
}

fn mail_transport(config: &Config, offline: bool) -> Check {
    let mail = &config.mail;
    if mail.transport == Transport::File {
        return Check::pass(
            "mail transport",
            format!("file: messages are written to {}", mail.outbox.display()),
        );
    }
    let server = format!("{}:{}", mail.smtp.host, mail.smtp.port);
    if offline {
        return Check::pass(
            "mail transport",
            format!("smtp {server} (not contacted: --offline)"),
        );
    }
    let mailer = match Mailer::new(mail) {
        Ok(m) => m,
        Err(e) => return Check::fail("mail transport", e.to_string()),
    };
    // The configured timeout can be long; a check should answer within seconds.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(mailer.test_connection());
    });
    let wait = mail.smtp.timeout.min(Duration::from_secs(15));
    match rx.recv_timeout(wait) {
        Ok(Ok(())) => Check::pass("mail transport", format!("smtp {server} answers")),
        Ok(Err(e)) => Check::fail(
            "mail transport",
            format!("smtp {server} cannot be reached: {e}"),
        ),
        Err(_) => Check::fail(
            "mail transport",
            format!("smtp {server} did not answer within {wait:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pack_is_the_rules_folder() {
        let names: Vec<&str> = RULE_PACK.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"t3-balance.rhai"), "{names:?}");
        assert!(names.contains(&"README.md"));
        assert!(names.contains(&"tests/t3-balance.toml"));
        let on_disk =
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/t3-balance.rhai"))
                .expect("read rule");
        let embedded = RULE_PACK
            .iter()
            .find(|(n, _)| *n == "t3-balance.rhai")
            .map(|(_, b)| *b)
            .expect("embedded");
        assert_eq!(embedded, on_disk.as_slice());
    }

    #[test]
    fn the_builtin_pack_reads_its_word_lists_as_the_folder_does() {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/seeds/003_211f0501946b8fa1.txt");
        let report = crate::pipeline::read_file(&seed)
            .report
            .expect("seed parsed");
        let builtin = builtin_rules(Limits::default());
        assert!(builtin.errors.is_empty(), "{:?}", builtin.errors);
        let folder = RuleSet::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
            Limits::default(),
        )
        .expect("rules folder");
        let messages = |set: &RuleSet| -> Vec<String> {
            set.run(&report, None)
                .into_iter()
                .map(|f| f.message)
                .collect()
        };
        let got = messages(&builtin);
        assert!(got.iter().any(|m| m.contains("只有套话")), "{got:?}");
        assert_eq!(got, messages(&folder));
    }

    #[test]
    fn init_writes_a_working_setup_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = init(dir.path()).expect("init");
        assert!(done.config.is_file());
        assert!(done.rules.join("t3-balance.rhai").is_file());
        assert!(dir.path().join("inbox").is_dir());
        assert!(dir.path().join("data").is_dir());
        let config = Config::load(&done.config).expect("config loads");
        let checks = validate(&config, true);
        assert!(checks.iter().all(|c| c.ok), "{checks:#?}");
        let again = init(dir.path());
        assert!(matches!(again, Err(SetupError::Exists(_))), "{again:?}");
    }

    #[test]
    fn validate_names_a_rule_that_does_not_compile() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path()).expect("init");
        std::fs::write(
            dir.path().join("rules/broken.rhai"),
            "const ID = \"broken\";\nfn check(report) {\n  let x = ;\n}\n",
        )
        .expect("write");
        let config = Config::load(&dir.path().join("ogi-audit.toml")).expect("config");
        let rules = validate(&config, true)
            .into_iter()
            .find(|c| c.what == "rules")
            .expect("rules check");
        assert!(!rules.ok);
        assert!(rules.detail.contains("broken.rhai:3:"), "{}", rules.detail);
    }
}
