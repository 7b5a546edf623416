//! Configuration: a TOML file whose every path is relative to the file's own folder, with
//! embedded defaults so that `ogi-audit run` works in a fresh checkout with no file at all.
//!
//! The embedded defaults are the shipped `config/ogi-audit.toml`, so the documented file and the
//! behaviour without a file can never drift apart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::budget::Budget;
use thiserror::Error;

/// The shipped, documented configuration; also the defaults.
pub const DEFAULT_TOML: &str = include_str!("../config/ogi-audit.toml");

/// A configuration that cannot be used. These stop the program: they are the operator's to fix.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    watch: RawWatch,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    rules: RawRules,
    #[serde(default)]
    files: RawFiles,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    mail: RawMail,
    #[serde(default)]
    web: RawWeb,
    #[serde(default)]
    reminders: RawReminders,
}

/// `[reminders]`: mail to the units that have not reported, on days counted from their
/// deadlines, and a coverage summary to the office on the same days.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawReminders {
    days: Vec<i64>,
    office: Option<Vec<String>>,
    utc_offset: String,
    year: Option<i32>,
}

impl Default for RawReminders {
    fn default() -> Self {
        RawReminders {
            days: Vec::new(),
            office: None,
            utc_offset: "+08:00".into(),
            year: None,
        }
    }
}

/// `[web]`: the web console and where the office reaches it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWeb {
    /// The address the console listens on (`127.0.0.1:8080`); absent or empty: no console.
    listen: Option<String>,
    /// The console's address as people open it (`https://audit.example.gov.cn`): each report in
    /// a summary mail links to its page there.
    public_url: Option<String>,
    /// How long a login lasts without use.
    session_idle: Option<String>,
    users: Vec<RawUser>,
}

/// `[[web.users]]`: a console user kept in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: String,
    /// An argon2 hash in PHC form (`ogi-audit user hash` prints one), never the password.
    password_hash: String,
    role: String,
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMail {
    transport: String,
    outbox: String,
    from: String,
    group_wait: String,
    group_interval: String,
    max_message_size: String,
    max_reports: usize,
    min_severity: String,
    fallback: Vec<String>,
    use_report_contact: bool,
    require_review: bool,
    templates: Option<String>,
    smtp: RawSmtp,
    routes: Vec<RawRoute>,
}

impl Default for RawMail {
    fn default() -> Self {
        RawMail {
            transport: "file".into(),
            outbox: "outbox".into(),
            from: "ogi-audit@localhost".into(),
            group_wait: "30s".into(),
            group_interval: "5m".into(),
            max_message_size: "5MB".into(),
            max_reports: 100,
            min_severity: "warning".into(),
            fallback: vec!["audit@localhost".into()],
            use_report_contact: false,
            require_review: false,
            templates: None,
            smtp: RawSmtp::default(),
            routes: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSmtp {
    host: String,
    port: u16,
    security: String,
    username: Option<String>,
    password_env: Option<String>,
    timeout: String,
}

impl Default for RawSmtp {
    fn default() -> Self {
        RawSmtp {
            host: "127.0.0.1".into(),
            port: 25,
            security: "none".into(),
            username: None,
            password_env: None,
            timeout: "30s".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    organization: Option<String>,
    organization_regex: Option<String>,
    #[serde(default)]
    region: Vec<String>,
    to: Vec<String>,
}

/// How mail leaves the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `.eml` files in the outbox folder (no mail server needed).
    File,
    Smtp,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    None,
    StartTls,
    Tls,
}

/// The SMTP server.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// The name of the environment variable that holds the password (never the password).
    pub password_env: Option<String>,
    pub timeout: Duration,
}

/// Which reports go to whom: a report matches when every condition given matches.
#[derive(Debug, Clone)]
pub struct Route {
    /// Glob on the issuer (`淮南市*`), compiled.
    pub organization: Option<regex::Regex>,
    pub organization_regex: Option<regex::Regex>,
    /// Words of which the issuer must contain at least one.
    pub region: Vec<String>,
    pub to: Vec<String>,
    /// The route as written, for logs.
    pub describe: String,
}

/// Mail settings.
#[derive(Debug, Clone)]
pub struct Mail {
    pub transport: Transport,
    pub outbox: PathBuf,
    pub from: String,
    pub group_wait: Duration,
    pub group_interval: Duration,
    /// The largest message the mailer sends: a larger summary is split into parts.
    pub max_message_size: u64,
    /// The most reports one summary holds: a larger group of waiting reports is mailed as
    /// several summaries in the same round (the mailer holds one at a time in memory).
    pub max_reports: usize,
    pub min_severity: crate::model::Severity,
    /// Hold each report's summary until a reviewer has confirmed or dismissed every finding at
    /// or above `min_severity`; then mail only the confirmed ones.
    pub require_review: bool,
    pub fallback: Vec<String>,
    pub use_report_contact: bool,
    pub templates: Option<PathBuf>,
    pub smtp: Smtp,
    pub routes: Vec<Route>,
    /// `[web] public_url`, without a trailing `/`: summaries link each report to its page.
    pub public_url: Option<String>,
}

/// A glob (`*` any run, `?` one character) as an anchored regex.
fn glob(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWatch {
    inbox: String,
    settle: String,
    poll: String,
    rescan: String,
    max_file_size: String,
}

impl Default for RawWatch {
    fn default() -> Self {
        RawWatch {
            inbox: "inbox".into(),
            settle: "500ms".into(),
            poll: "100ms".into(),
            rescan: "60s".into(),
            max_file_size: "50MB".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    database: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            database: "data/ogi-audit.sqlite".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawRules {
    dir: String,
    deadline: String,
    max_findings: i64,
    max_message: String,
    max_evidence: String,
    settings: BTreeMap<String, toml::Value>,
}

impl Default for RawRules {
    fn default() -> Self {
        RawRules {
            dir: "rules".into(),
            deadline: "500ms".into(),
            max_findings: 100,
            max_message: "4KB".into(),
            max_evidence: "64KB".into(),
            settings: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFiles {
    archive: String,
    quarantine: String,
    after: String,
}

impl Default for RawFiles {
    fn default() -> Self {
        RawFiles {
            archive: "archive".into(),
            quarantine: "quarantine".into(),
            after: "move".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLimits {
    parse_time: String,
    parse_memory: String,
    ocr_time: String,
    ocr_pages: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            parse_time: "30s".into(),
            parse_memory: "512MB".into(),
            ocr_time: "10m".into(),
            ocr_pages: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLog {
    format: String,
    level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: "human".into(),
            level: "info".into(),
        }
    }
}

/// What happens to a report file once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Move it to the archive (or quarantine); the inbox only holds what is still to do.
    Move,
    /// Leave it where it is (the store remembers it by content).
    Keep,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The configuration with every path resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from (`None`: the embedded defaults).
    pub source: Option<PathBuf>,
    pub inbox: PathBuf,
    /// How long a file must stay unchanged (size and mtime) before it is read.
    pub settle: Duration,
    /// How often pending files are looked at.
    pub poll: Duration,
    /// How often the whole inbox is scanned again, in case file events were lost.
    pub rescan: Duration,
    /// Files larger than this are quarantined without being read.
    pub max_file_size: u64,
    /// The time and memory one report's extraction and parsing may take.
    pub budget: Budget,
    pub database: PathBuf,
    pub rules_dir: PathBuf,
    pub rule_deadline: Duration,
    /// Findings one rule may give on one report; the rest become one `rule-error` finding.
    pub rule_max_findings: usize,
    /// Bytes of one finding's message; a longer one is cut.
    pub rule_max_message: usize,
    /// Bytes of one finding's evidence (as JSON); larger evidence is replaced by a note.
    pub rule_max_evidence: usize,
    /// Values rules read with `setting(name)` (`[rules.settings]`).
    pub rule_settings: BTreeMap<String, toml::Value>,
    pub archive: PathBuf,
    pub quarantine: PathBuf,
    pub after: After,
    pub log_format: LogFormat,
    pub log_level: String,
    pub mail: Mail,
    pub web: Web,
    pub reminders: Reminders,
}

/// `[reminders]`, checked.
#[derive(Debug, Clone)]
pub struct Reminders {
    /// Days from each unit's deadline on which it is reminded while its report is missing
    /// (-7: a week before, 0: the day itself), ascending; empty: no reminders.
    pub days: Vec<i32>,
    /// Who gets the coverage summary on those days (`None`: `mail.fallback`).
    pub office: Option<Vec<String>>,
    /// The office's time zone as an offset from UTC: dates are its dates.
    pub offset: jiff::tz::Offset,
    /// The reporting year reminded of; `None`: the one whose reminder days are near today.
    pub year: Option<i32>,
}

impl Reminders {
    /// Who gets the office's coverage summary.
    pub fn office<'a>(&'a self, mail: &'a Mail) -> &'a [String] {
        self.office.as_deref().unwrap_or(&mail.fallback)
    }
}

/// What a console user may do: each role may do all that the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the pages and exports of its scope.
    Viewer,
    /// Also reviews findings and corrects cells.
    Reviewer,
    /// Also sees the quarantine and the users, and manages what is shared by everyone.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    /// 查看 / 审核 / 管理.
    pub fn zh(self) -> &'static str {
        match self {
            Role::Viewer => "查看",
            Role::Reviewer => "审核",
            Role::Admin => "管理",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s.trim() {
            "viewer" => Ok(Role::Viewer),
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "`{other}` is not a role: use viewer, reviewer or admin"
            )),
        }
    }
}

/// A console user from the config file (users added with `ogi-audit user add` are in the store).
#[derive(Debug, Clone)]
pub struct WebUser {
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    /// Issuer patterns (`淮南市*`) the user sees; empty: every issuer.
    pub scope: Vec<String>,
}

/// `[web]`: the console.
#[derive(Debug, Clone)]
pub struct Web {
    /// Where it listens; `None`: no console.
    pub listen: Option<std::net::SocketAddr>,
    /// `public_url` (also in [`Mail::public_url`]), for the `Secure` cookie flag behind TLS.
    pub public_url: Option<String>,
    /// How long a login lasts without use.
    pub session_idle: Duration,
    pub users: Vec<WebUser>,
}

impl Web {
    /// Whether people reach the console through TLS (a reverse proxy), so cookies are `Secure`.
    pub fn behind_tls(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

fn duration(path: &Path, key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim()).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: format!("{key} = \"{value}\": {e} (write e.g. \"500ms\", \"30s\", \"5m\")"),
    })
}

/// A size such as "50MB", "800KB", "2GB" or a number of bytes.
fn size(path: &Path, key: &str, value: &str) -> Result<u64, ConfigError> {
    let v = value.trim().to_ascii_uppercase();
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "K" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        _ => 0,
    };
    match digits.parse::<u64>() {
        Ok(n) if factor > 0 => Ok(n.saturating_mul(factor)),
        _ => Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("{key} = \"{value}\": write a size such as \"50MB\" or \"800KB\""),
        }),
    }
}

/// A size of at least `min` bytes: "0" or a few bytes would make the daemon refuse every report.
fn size_at_least(path: &Path, key: &str, value: &str, min: u64) -> Result<u64, ConfigError> {
    let n = size(path, key, value)?;
    if n < min {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "{key} = \"{value}\": too small, every report would be refused; use at least {} (e.g. the default)",
                human_size(min)
            ),
        });
    }
    Ok(n)
}

/// A duration of at least `min`.
fn duration_at_least(
    path: &Path,
    key: &str,
    value: &str,
    min: Duration,
) -> Result<Duration, ConfigError> {
    let d = duration(path, key, value)?;
    if d < min {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "{key} = \"{value}\": too short, every report would be refused; use at least {}",
                humantime::format_duration(min)
            ),
        });
    }
    Ok(d)
}

/// "64 KB", "16 MB": a size as the config writes it.
pub fn human_size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GB", n >> 30)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The levels `log.level` accepts.
const LOG_LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// Checks a log level or a filter such as `info,ogi_audit=debug`: every part must be a level or
/// `target=level`. tracing reads an unknown word such as "warning" as a target name, which would
/// silently log nothing at all.
pub fn check_log_level(value: &str) -> Result<(), String> {
    let accepted = || format!("use one of {}", LOG_LEVELS.join(", "));
    if value.trim().is_empty() {
        return Err(format!("log.level is empty: {}", accepted()));
    }
    for part in value.split(',').map(str::trim) {
        let level =
            part.rsplit_once('=').map_or(
                part,
                |(target, level)| {
                    if target.trim().is_empty() {
                        ""
                    } else {
                        level
                    }
                },
            );
        if !LOG_LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(format!(
                "log.level = \"{value}\": \"{part}\" is not a level; {} (or target=level, e.g. \"info,ogi_audit=debug\")",
                accepted()
            ));
        }
    }
    Ok(())
}

impl Config {
    /// Reads a config file; relative paths are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut config = Config::parse(&text, base, path)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// The embedded defaults, with paths relative to `base` (the working directory).
    pub fn defaults(base: &Path) -> Config {
        // The embedded file is checked by a unit test; should it ever fail, the built-in values
        // of the raw structs are the same.
        Config::parse(DEFAULT_TOML, base, Path::new("(embedded defaults)")).unwrap_or_else(|_| {
            Config::from_raw(
                RawConfig {
                    watch: RawWatch::default(),
                    store: RawStore::default(),
                    rules: RawRules::default(),
                    files: RawFiles::default(),
                    limits: RawLimits::default(),
                    log: RawLog::default(),
                    mail: RawMail::default(),
                    web: RawWeb::default(),
                    reminders: RawReminders::default(),
                },
                base,
                Path::new("(built-in)"),
            )
            .expect("built-in defaults are valid")
        })
    }

    /// The config for a command: `--config FILE`, else `./ogi-audit.toml` if present, else the
    /// embedded defaults relative to the working directory.
    pub fn resolve(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        if let Some(p) = explicit {
            return Config::load(p);
        }
        let local = Path::new("ogi-audit.toml");
        if local.is_file() {
            return Config::load(local);
        }
        Ok(Config::defaults(Path::new(".")))
    }

    fn parse(text: &str, base: &Path, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Config::from_raw(raw, base, path)
    }

    fn from_raw(raw: RawConfig, base: &Path, path: &Path) -> Result<Config, ConfigError> {
        let resolve = |p: &str| -> PathBuf {
            let p = Path::new(p);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let after = match raw.files.after.as_str() {
            "move" => After::Move,
            "keep" => After::Keep,
            other => {
                return Err(invalid(format!(
                    "files.after = \"{other}\": use \"move\" or \"keep\""
                )))
            }
        };
        let log_format = match raw.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(format!(
                    "log.format = \"{other}\": use \"human\" or \"json\""
                )))
            }
        };
        check_log_level(&raw.log.level).map_err(invalid)?;
        let max_findings = usize::try_from(raw.rules.max_findings)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                invalid(format!(
                    "rules.max_findings = {}: use a number of at least 1 (default 100)",
                    raw.rules.max_findings
                ))
            })?;
        let mut mail = mail_from_raw(&raw.mail, &resolve, &invalid, path)?;
        mail.public_url = match raw.web.public_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(u) if (u.starts_with("https://") || u.starts_with("http://"))
                && !u.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\'))
                && u.len() > "https://".len() =>
            {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                return Err(invalid(format!(
                    "web.public_url = \"{u}\": give the console's address as people open it, starting with https:// or http://"
                )))
            }
        };
        let web = web_from_raw(&raw.web, mail.public_url.clone(), &invalid, path)?;
        let reminders = reminders_from_raw(&raw.reminders, &invalid)?;
        Ok(Config {
            mail,
            web,
            reminders,
            source: None,
            inbox: resolve(&raw.watch.inbox),
            settle: duration(path, "watch.settle", &raw.watch.settle)?,
            poll: duration(path, "watch.poll", &raw.watch.poll)?.max(Duration::from_millis(10)),
            rescan: duration(path, "watch.rescan", &raw.watch.rescan)?.max(Duration::from_secs(1)),
            max_file_size: size_at_least(
                path,
                "watch.max_file_size",
                &raw.watch.max_file_size,
                1 << 10,
            )?,
            budget: Budget {
                time: duration_at_least(
                    path,
                    "limits.parse_time",
                    &raw.limits.parse_time,
                    Duration::from_millis(100),
                )?,
                memory: size_at_least(
                    path,
                    "limits.parse_memory",
                    &raw.limits.parse_memory,
                    16 << 20,
                )?,
                ocr_time: duration_at_least(
                    path,
                    "limits.ocr_time",
                    &raw.limits.ocr_time,
                    Duration::from_secs(1),
                )?,
                ocr_pages: raw.limits.ocr_pages.max(1),
            },
            database: resolve(&raw.store.database),
            rules_dir: resolve(&raw.rules.dir),
            rule_deadline: duration_at_least(
                path,
                "rules.deadline",
                &raw.rules.deadline,
                Duration::from_millis(1),
            )?,
            rule_max_findings: max_findings,
            rule_max_message: usize::try_from(size_at_least(
                path,
                "rules.max_message",
                &raw.rules.max_message,
                256,
            )?)
            .unwrap_or(usize::MAX),
            rule_max_evidence: usize::try_from(size_at_least(
                path,
                "rules.max_evidence",
                &raw.rules.max_evidence,
                1 << 10,
            )?)
            .unwrap_or(usize::MAX),
            rule_settings: raw.rules.settings,
            archive: resolve(&raw.files.archive),
            quarantine: resolve(&raw.files.quarantine),
            after,
            log_format,
            log_level: raw.log.level,
        })
    }
}

/// `[reminders]` checked: days within a season, addresses that are addresses, an offset.
fn reminders_from_raw(
    raw: &RawReminders,
    invalid: &dyn Fn(String) -> ConfigError,
) -> Result<Reminders, ConfigError> {
    let mut days = Vec::new();
    for d in &raw.days {
        match i32::try_from(*d) {
            Ok(d) if (-180..=180).contains(&d) => days.push(d),
            _ => {
                return Err(invalid(format!(
                    "reminders.days: {d} is not a number of days from a deadline between -180 and 180 (e.g. [-7, 0, 7])"
                )))
            }
        }
    }
    days.sort_unstable();
    days.dedup();
    if let Some(office) = &raw.office {
        for a in office {
            if a.parse::<lettre::Address>().is_err() {
                return Err(invalid(format!(
                    "reminders.office: `{a}` is not an e-mail address"
                )));
            }
        }
    }
    let offset = parse_offset(&raw.utc_offset).ok_or_else(|| {
        invalid(format!(
            "reminders.utc_offset = \"{}\": write the office's offset from UTC as \"+08:00\"",
            raw.utc_offset
        ))
    })?;
    if let Some(y) = raw.year {
        if !(2000..=2100).contains(&y) {
            return Err(invalid(format!(
                "reminders.year = {y}: a reporting year such as 2025"
            )));
        }
    }
    Ok(Reminders {
        days,
        office: raw.office.clone(),
        offset,
        year: raw.year,
    })
}

/// `+08:00`, `-05:30`, `+8`, `Z`.
fn parse_offset(s: &str) -> Option<jiff::tz::Offset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s == "0" {
        return Some(jiff::tz::Offset::UTC);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// `[web]` checked: an address to listen on, durations, users with valid hashes and roles.
fn web_from_raw(
    raw: &RawWeb,
    public_url: Option<String>,
    invalid: &dyn Fn(String) -> ConfigError,
    path: &Path,
) -> Result<Web, ConfigError> {
    let listen = match raw.listen.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(a) => Some(a.parse::<std::net::SocketAddr>().map_err(|_| {
            invalid(format!(
                "web.listen = \"{a}\": give an address and port such as \"127.0.0.1:8080\" (or \"0.0.0.0:8080\" with users configured)"
            ))
        })?),
    };
    let session_idle = duration_at_least(
        path,
        "web.session_idle",
        raw.session_idle.as_deref().unwrap_or("8h"),
        Duration::from_secs(60),
    )?;
    let mut users: Vec<WebUser> = Vec::new();
    for (i, u) in raw.users.iter().enumerate() {
        let key = format!("web.users[{i}]");
        let name = u.name.trim();
        if name.is_empty() || name.len() > 64 || name.contains(char::is_control) {
            return Err(invalid(format!(
                "{key}.name: give a name of 1 to 64 characters"
            )));
        }
        if users.iter().any(|o| o.name == name) {
            return Err(invalid(format!("{key}.name: `{name}` is given twice")));
        }
        if !u.password_hash.starts_with("$argon2") {
            return Err(invalid(format!(
                "{key}.password_hash: give an argon2 hash (`ogi-audit user hash` prints one), never the password"
            )));
        }
        let role = u
            .role
            .parse::<Role>()
            .map_err(|e| invalid(format!("{key}.role: {e}")))?;
        users.push(WebUser {
            name: name.to_string(),
            password_hash: u.password_hash.clone(),
            role,
            scope: u
                .scope
                .iter()
                .map(|p| crate::extract::normalize_short(p))
                .collect(),
        });
    }
    Ok(Web {
        listen,
        public_url,
        session_idle,
        users,
    })
}

/// A path as the file system resolves it: absolute, with symbolic links and `..` resolved as
/// far as the path exists (the rest is appended as written), so that two names of one folder
/// compare equal even before the folder is created.
pub fn real_path(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        let Some(parent) = existing.parent() else {
            return absolute;
        };
        if let Some(last) = existing.components().next_back() {
            rest.push(last);
        }
        existing = parent;
    }
}

impl Config {
    /// What the daemon writes or reads as its own, by name: none of it may lie in the inbox.
    pub fn own_paths(&self) -> Vec<(String, PathBuf)> {
        let mut out = vec![
            (
                "the database (store.database)".to_string(),
                self.database.clone(),
            ),
            (
                "the archive (files.archive)".to_string(),
                self.archive.clone(),
            ),
            (
                "the quarantine (files.quarantine)".to_string(),
                self.quarantine.clone(),
            ),
            (
                "the rules folder (rules.dir)".to_string(),
                self.rules_dir.clone(),
            ),
        ];
        for suffix in ["-wal", "-shm", ".lock"] {
            let mut p = self.database.clone().into_os_string();
            p.push(suffix);
            out.push((format!("the database's {suffix} file"), PathBuf::from(p)));
        }
        if self.mail.transport == Transport::File {
            out.push((
                "the mail outbox (mail.outbox)".to_string(),
                self.mail.outbox.clone(),
            ));
        }
        if let Some(t) = &self.mail.templates {
            out.push(("the mail templates (mail.templates)".to_string(), t.clone()));
        }
        if let Some(source) = &self.source {
            out.push(("this config file".to_string(), source.clone()));
        }
        out
    }

    /// Layouts that would make the daemon take its own files for reports, or never see a
    /// report: the inbox containing (or being) the database, archive, quarantine, rules, outbox,
    /// templates or the config file. Empty when the layout is sound.
    pub fn layout_problems(&self) -> Vec<String> {
        let inbox = real_path(&self.inbox);
        let mut problems = Vec::new();
        for (what, path) in self.own_paths() {
            let real = real_path(&path);
            if real == inbox {
                problems.push(format!(
                    "{what} {} is the inbox itself: nothing dropped there would ever be audited; give the inbox its own folder (watch.inbox = \"inbox\")",
                    path.display()
                ));
            } else if real.starts_with(&inbox) {
                problems.push(format!(
                    "{what} {} is inside the inbox {}: the daemon would take its own files for reports and move them away; give the inbox its own folder (watch.inbox = \"inbox\")",
                    path.display(),
                    self.inbox.display()
                ));
            }
        }
        problems
    }
}

/// The smallest `mail.max_message_size` accepted.
const MIN_MESSAGE_SIZE: u64 = 64 << 10;

fn mail_from_raw(
    raw: &RawMail,
    resolve: &dyn Fn(&str) -> PathBuf,
    invalid: &dyn Fn(String) -> ConfigError,
    path: &Path,
) -> Result<Mail, ConfigError> {
    let transport = match raw.transport.as_str() {
        "file" => Transport::File,
        "smtp" => Transport::Smtp,
        other => {
            return Err(invalid(format!(
                "mail.transport = \"{other}\": use \"file\" or \"smtp\""
            )))
        }
    };
    let security = match raw.smtp.security.as_str() {
        "none" => Security::None,
        "starttls" => Security::StartTls,
        "tls" => Security::Tls,
        other => {
            return Err(invalid(format!(
                "mail.smtp.security = \"{other}\": use \"starttls\", \"tls\" or \"none\""
            )))
        }
    };
    let min_severity = raw
        .min_severity
        .parse()
        .map_err(|e: String| invalid(format!("mail.min_severity: {e}")))?;
    let check_address = |a: &str, key: &str| -> Result<(), ConfigError> {
        a.parse::<lettre::Address>()
            .map(|_| ())
            .map_err(|e| invalid(format!("{key}: `{a}` is not an e-mail address ({e})")))
    };
    check_address(&raw.from, "mail.from")?;
    for a in &raw.fallback {
        check_address(a, "mail.fallback")?;
    }
    let max_message_size = size(path, "mail.max_message_size", &raw.max_message_size)?;
    if max_message_size < MIN_MESSAGE_SIZE {
        return Err(invalid(format!(
            "mail.max_message_size = \"{}\": too small; write at least \"64KB\" (one report's summary alone takes a few KB; mail servers take 10MB or more)",
            raw.max_message_size
        )));
    }
    if raw.max_reports == 0 {
        return Err(invalid(
            "mail.max_reports = 0: a summary holds at least one report (100 by default)"
                .to_string(),
        ));
    }
    let mut routes = Vec::new();
    for (i, r) in raw.routes.iter().enumerate() {
        let key = format!("mail.routes[{i}]");
        if r.to.is_empty() {
            return Err(invalid(format!("{key}: `to` is empty")));
        }
        for a in &r.to {
            check_address(a, &format!("{key}.to"))?;
        }
        if r.organization.is_none() && r.organization_regex.is_none() && r.region.is_empty() {
            return Err(invalid(format!(
                "{key}: give `organization`, `organization_regex` or `region`"
            )));
        }
        let organization = r
            .organization
            .as_deref()
            .map(|g| glob(&crate::extract::normalize_short(g)))
            .transpose()
            .map_err(|e| invalid(format!("{key}.organization: {e}")))?;
        let organization_regex = r
            .organization_regex
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| invalid(format!("{key}.organization_regex: {e}")))?;
        let describe = [
            r.organization
                .as_ref()
                .map(|o| format!("organization = {o}")),
            r.organization_regex
                .as_ref()
                .map(|o| format!("organization_regex = {o}")),
            (!r.region.is_empty()).then(|| format!("region = {:?}", r.region)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        routes.push(Route {
            organization,
            organization_regex,
            region: r
                .region
                .iter()
                .map(|w| crate::extract::normalize(w))
                .collect(),
            to: r.to.clone(),
            describe,
        });
    }
    Ok(Mail {
        transport,
        outbox: resolve(&raw.outbox),
        from: raw.from.clone(),
        group_wait: duration(path, "mail.group_wait", &raw.group_wait)?,
        group_interval: duration(path, "mail.group_interval", &raw.group_interval)?,
        max_message_size,
        max_reports: raw.max_reports,
        min_severity,
        fallback: raw.fallback.clone(),
        use_report_contact: raw.use_report_contact,
        require_review: raw.require_review,
        templates: raw.templates.as_deref().map(resolve),
        smtp: Smtp {
            host: raw.smtp.host.clone(),
            port: raw.smtp.port,
            security,
            username: raw.smtp.username.clone(),
            password_env: raw.smtp.password_env.clone(),
            timeout: duration(path, "mail.smtp.timeout", &raw.smtp.timeout)?,
        },
        routes,
        public_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_parse() {
        let c = Config::parse(DEFAULT_TOML, Path::new("/srv/x"), Path::new("t")).expect("valid");
        assert_eq!(c.inbox, Path::new("/srv/x/inbox"));
        assert_eq!(c.database, Path::new("/srv/x/data/ogi-audit.sqlite"));
        assert_eq!(c.rules_dir, Path::new("/srv/x/rules"));
        assert_eq!(c.after, After::Move);
        // The library's default budget (used without a config) is the documented one.
        assert_eq!(c.budget, Budget::default());
        let raw = Config::from_raw(
            toml::from_str("").expect("empty"),
            Path::new("/srv/x"),
            Path::new("t"),
        )
        .expect("built-in");
        assert_eq!(raw.budget, Budget::default());
    }

    #[test]
    fn the_public_url_is_an_http_address_kept_without_its_last_slash() {
        let parse = |t: &str| Config::parse(t, Path::new("/srv"), Path::new("t"));
        let url = |t: &str| parse(t).expect("valid").mail.public_url;
        assert_eq!(url(""), None);
        assert_eq!(url("[web]\npublic_url = \"\"\n"), None);
        assert_eq!(
            url("[web]\npublic_url = \"https://audit.example.gov.cn/ogi/\"\n").as_deref(),
            Some("https://audit.example.gov.cn/ogi")
        );
        for bad in [
            "javascript:alert(1)",
            "audit.example.gov.cn",
            "https://",
            "https://a b",
            "https://a\\\"<x>",
        ] {
            let e = parse(&format!("[web]\npublic_url = \"{bad}\"\n"))
                .expect_err(bad)
                .to_string();
            assert!(e.contains("web.public_url"), "{e}");
        }
    }

    #[test]
    fn paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[watch]\ninbox = \"in\"\nsettle = \"2s\"\n").expect("write");
        let c = Config::load(&file).expect("load");
        assert_eq!(c.inbox, dir.path().join("in"));
        assert_eq!(c.settle, Duration::from_secs(2));
        assert_eq!(c.database, dir.path().join("data/ogi-audit.sqlite"));
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::parse(
            "[watch]\nsettle = \"soon\"\n",
            Path::new("."),
            Path::new("c.toml"),
        )
        .expect_err("invalid");
        assert!(e.to_string().contains("watch.settle"), "{e}");
        let e =
            Config::parse("[wtach]\n", Path::new("."), Path::new("c.toml")).expect_err("unknown");
        assert!(e.to_string().contains("wtach"), "{e}");
    }
}
