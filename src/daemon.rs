//! The daemon (`ogi-audit run`): watch the inbox, audit each settled report, store it with its
//! findings, move the file out of the inbox; reload the rules when they change.
//!
//! Reliability first: a report's row and findings are committed in one transaction before its
//! file is moved, and a file whose content is already stored is only moved, never audited again.
//! So a crash at any moment leaves each report done or still in the inbox; never half, never
//! twice, never lost. Unreadable files go to quarantine beside a `.reason.txt`; nothing is ever
//! deleted. Reports are parsed on all cores; the store is written by one connection. When files
//! wait in the queue, a worker takes up to [`BATCH`] at once: each is read and parsed under the
//! watchdog, then the rules run over them together and their reports are committed in one
//! transaction before any of them is moved.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::json;
use tokio::sync::mpsc;

use crate::config::{After, Config};
use crate::mail::{self, Mailer};
use crate::model::{Finding, Report};
use crate::pipeline::{self, Outcome, Status};
use crate::rules::{Earlier, RuleSet, Subject};
use crate::store::{self, Store, StoreError, StoredModel, YearBefore};
use crate::units::Matcher;
use crate::watch::{self, Inbox, Stamp};

/// What the daemon shares between its loop and its workers.
pub struct Context {
    pub config: Config,
    pub store: Mutex<Store>,
    pub rules: RwLock<Arc<RuleSet>>,
    /// Files handed to a worker and not finished yet (the inbox must not hand them on again).
    in_flight: Mutex<HashSet<PathBuf>>,
    /// What each worker is on, for the watchdog.
    jobs: Mutex<HashMap<ThreadId, Job>>,
    /// Files that changed while they were read: back to settling.
    resettle: Mutex<Vec<PathBuf>>,
    /// This process's open files, as last looked at ([`watch::OwnFiles`]).
    own_files: Mutex<watch::OwnFiles>,
    /// The units register as last read, with its version ([`Store::units_version`]): read
    /// again only when it changed, not for every report.
    register: Mutex<Option<(i64, Arc<Matcher>)>>,
}

/// A file a worker is on.
struct Job {
    path: PathBuf,
    started: Instant,
    state: Arc<AtomicU8>,
    /// Time the watchdog allows on top of its limit, in ms: a scanned PDF's OCR
    /// (`limits.ocr_time`).
    extra: Arc<std::sync::atomic::AtomicU64>,
    /// The other files the worker took with this one ([`BATCH`]) and has not stored yet: if
    /// the watchdog gives up on this one, they are queued again for the other workers (the
    /// stuck worker drops them).
    others: Vec<PathBuf>,
}

/// A file the watchdog gave up on: its worker thread, the file, how long it ran, and the other
/// files of the worker's batch to queue again.
struct Overdue {
    thread: ThreadId,
    path: PathBuf,
    after: Duration,
    others: Vec<PathBuf>,
}

/// Files a worker takes from the queue at once when more are waiting: their rules run together
/// and they are written in one transaction (BENCHMARKS.md). A file alone is not held back.
const BATCH: usize = 8;

/// Job states: the worker reads and parses; then either the worker goes on to audit and store
/// (`COMMITTING`) or the watchdog gave up on it first (`GIVEN_UP`). Whichever comes first wins,
/// so a report is never stored twice.
const RUNNING: u8 = 0;
const COMMITTING: u8 = 1;
const GIVEN_UP: u8 = 2;

/// What became of one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// Audited and stored (report id, number of findings).
    Stored { id: i64, findings: usize },
    /// Not readable as a report; stored with the reason and quarantined.
    Quarantined { id: i64, reason: String },
    /// The same content was stored before (report id); the file was only moved.
    Duplicate { id: i64 },
    /// Not done now (store busy, file vanished …); the file stays and is tried again.
    Later { reason: String },
    /// The watchdog gave up on this worker while it parsed; the watchdog recorded the report.
    GivenUp,
}

/// A file read, parsed and claimed by its worker, waiting for its rules and its write.
struct Prepared {
    path: PathBuf,
    outcome: Outcome,
    /// The file as it was read (`None`: not read from a file the daemon watches).
    stamp: Option<Stamp>,
}

/// A file after its first half ([`Context::prepare`]).
enum Step {
    /// Nothing more to do for it now.
    Done(Processed),
    /// Parsed and claimed: to audit and store.
    Ready(Box<Prepared>),
}

/// `items` in runs, in order, such that no run holds an issuer's report together with its
/// report of the year after.
fn independent(items: Vec<Prepared>) -> Vec<Vec<Prepared>> {
    let mut runs: Vec<Vec<Prepared>> = Vec::new();
    let mut years: HashSet<(String, i32)> = HashSet::new();
    for item in items {
        let key = item
            .outcome
            .report
            .as_ref()
            .and_then(|r| Some((r.organization.clone()?, r.year?)));
        let after = key
            .as_ref()
            .is_some_and(|(org, year)| years.contains(&(org.clone(), year.saturating_sub(1))));
        if after || runs.is_empty() {
            runs.push(Vec::new());
            years.clear();
        }
        if let Some(key) = key {
            years.insert(key);
        }
        if let Some(run) = runs.last_mut() {
            run.push(item);
        }
    }
    runs
}

/// Loads the rule set; a set with files that failed to load is still returned (with its errors).
pub fn load_rules(config: &Config) -> Result<RuleSet> {
    crate::setup::load_rules(config)
        .with_context(|| format!("loading rules from {}", config.rules_dir.display()))
}

fn rules_json(set: &RuleSet) -> serde_json::Value {
    json!(set
        .rules
        .iter()
        .map(|r| json!({"id": r.id, "title": r.title, "severity": r.severity.as_str(), "description": r.description, "file": r.file.display().to_string(), "digest": r.digest}))
        .collect::<Vec<_>>())
}

impl Context {
    /// Opens the store and loads the rules. Errors here stop the daemon: they are the
    /// operator's to fix (bad database path, unreadable rules folder).
    pub fn open(config: Config) -> Result<Context> {
        let store = Store::open(&config.database)?;
        let set = load_rules(&config)?;
        for e in &set.errors {
            tracing::error!("rule not loaded: {e}");
        }
        let errors: Vec<String> = set.errors.iter().map(ToString::to_string).collect();
        store.record_ruleset(&set.version, &rules_json(&set), &errors)?;
        tracing::info!(version = %set.version, rules = set.rules.len(), "rule set loaded");
        Ok(Context {
            config,
            store: Mutex::new(store),
            rules: RwLock::new(Arc::new(set)),
            in_flight: Mutex::new(HashSet::new()),
            jobs: Mutex::new(HashMap::new()),
            resettle: Mutex::new(Vec::new()),
            own_files: Mutex::new(watch::OwnFiles::now()),
            register: Mutex::new(None),
        })
    }

    /// The units register, matched against issuers: the one read before while the store's
    /// register has not changed since (a register of thousands of units was read and indexed
    /// again for every report). Called with the store held.
    fn register_in(&self, s: &Store) -> Result<Arc<Matcher>, StoreError> {
        let version = s.units_version()?;
        let mut cached = match self.register.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((v, register)) = cached.as_ref() {
            if *v == version {
                return Ok(register.clone());
            }
        }
        let register = Arc::new(Matcher::new(s.units()?));
        *cached = Some((version, register.clone()));
        Ok(register)
    }

    /// For the daemon and `reaudit`, whose threads share the store: its log folded in by a
    /// thread of its own ([`Store::checkpoint_in_background`]), since a commit that also folded
    /// it in (and waited for the disk) held up every other thread waiting for the store.
    pub fn checkpoint_in_background(&self) {
        if let Err(e) = self.with_store(|s| s.checkpoint_in_background()) {
            tracing::warn!("{e}; the log is folded in by the commits");
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadId, Job>> {
        match self.jobs.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Before writing anything: claims the report for this worker, unless the watchdog gave up
    /// on it (then the watchdog has recorded it and the worker must leave it alone). Always
    /// true outside the daemon's workers.
    fn claim(&self) -> bool {
        let id = std::thread::current().id();
        let Some(state) = self.jobs().get(&id).map(|j| j.state.clone()) else {
            return true;
        };
        state
            .compare_exchange(RUNNING, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            || state.load(Ordering::Acquire) == COMMITTING
    }

    /// A file this worker is finished with: the watcher may queue it again (if it is still in
    /// the inbox, it changed or could not be moved).
    fn done_with(&self, path: &Path) {
        if let Ok(mut f) = self.in_flight.lock() {
            f.remove(path);
        }
    }

    /// Lets this worker's job run `extra` longer before the watchdog gives up on it.
    fn allow_more(&self, extra: Duration) {
        let id = std::thread::current().id();
        if let Some(job) = self.jobs().get(&id) {
            let ms = u64::try_from(extra.as_millis()).unwrap_or(u64::MAX);
            job.extra.store(ms, Ordering::Release);
        }
    }

    /// The jobs that have been reading and parsing for longer than `limit`, now given up: the
    /// worker threads and their files.
    fn overdue(&self, limit: Duration) -> Vec<Overdue> {
        let mut out = Vec::new();
        for (id, job) in self.jobs().iter() {
            let elapsed = job.started.elapsed();
            let limit = limit + Duration::from_millis(job.extra.load(Ordering::Acquire));
            if elapsed > limit
                && job
                    .state
                    .compare_exchange(RUNNING, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                out.push(Overdue {
                    thread: *id,
                    path: job.path.clone(),
                    after: elapsed,
                    others: job.others.clone(),
                });
            }
        }
        out
    }

    /// Records a report whose worker was given up on as unparseable, and quarantines it.
    fn give_up(&self, path: &Path, after: Duration) -> Processed {
        let reason = format!(
            "extraction and parsing still running after {} (more than twice limits.parse_time, {}); given up",
            humantime::format_duration(Duration::from_secs(after.as_secs().max(1))),
            humantime::format_duration(self.config.budget.time)
        );
        tracing::error!(path = %path.display(), "{reason}; a new worker takes its place");
        let small = std::fs::symlink_metadata(path)
            .is_ok_and(|m| m.is_file() && m.len() <= self.config.max_file_size);
        let sha = small
            .then(|| std::fs::read(path).ok())
            .flatten()
            .map_or_else(
                || format!("unreadable:{}:{}", path.display(), store::now()),
                |b| pipeline::sha256_hex(&b),
            );
        let outcome = Outcome {
            sha256: sha,
            ..Outcome::unreadable(path, reason)
        };
        let done = self.audit_and_store(path, outcome, None);
        if let Ok(mut f) = self.in_flight.lock() {
            f.remove(path);
        }
        done
    }

    /// The current rule set as loaded, shared by every thread: for its version and errors;
    /// rules are run on [`Context::current_rules`].
    fn shared_rules(&self) -> Arc<RuleSet> {
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The current rule set, as this thread's own copy ([`RuleSet::fork`]), made the first
    /// time the thread asks for this set.
    fn current_rules(&self) -> Arc<RuleSet> {
        thread_local! {
            /// The shared set this thread's copy was made of, and the copy.
            static MINE: std::cell::RefCell<Option<(Arc<RuleSet>, Arc<RuleSet>)>> =
                const { std::cell::RefCell::new(None) };
        }
        let shared = self.shared_rules();
        MINE.with_borrow_mut(|mine| match mine {
            Some((of, copy)) if Arc::ptr_eq(of, &shared) => copy.clone(),
            _ => {
                let copy = Arc::new(shared.fork());
                *mine = Some((shared, copy.clone()));
                copy
            }
        })
    }

    /// Whether this daemon has the file open itself: a recent snapshot of its descriptors says
    /// no; a yes is asked again with a fresh one.
    fn holds_itself(&self, meta: &std::fs::Metadata) -> bool {
        let mut own = self
            .own_files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if own.stale() || own.holds(meta) {
            *own = watch::OwnFiles::now();
        }
        own.holds(meta)
    }

    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Reloads the rules; a set that does not compile whole keeps the current one active.
    pub fn reload_rules(&self) {
        match load_rules(&self.config) {
            Ok(set) if set.errors.is_empty() => {
                let current = self.shared_rules();
                if current.version == set.version {
                    return;
                }
                let recorded = self.with_store(|s| {
                    s.record_ruleset(&set.version, &rules_json(&set), &[])?;
                    s.record_reload(Some(&set.version), &[])
                });
                if let Err(e) = recorded {
                    tracing::warn!("rule set {} not recorded: {e}", set.version);
                }
                tracing::info!(version = %set.version, rules = set.rules.len(), "rule set reloaded");
                match self.rules.write() {
                    Ok(mut w) => *w = Arc::new(set),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
                }
            }
            Ok(set) => {
                for e in &set.errors {
                    tracing::error!("rule not loaded: {e}");
                }
                let errors: Vec<String> = set.errors.iter().map(ToString::to_string).collect();
                if let Err(e) = self.with_store(|s| s.record_reload(None, &errors)) {
                    tracing::warn!("failed rule reload not recorded: {e}");
                }
                tracing::error!(
                    version = %self.shared_rules().version,
                    "the changed rule set has errors; the previous rule set stays active"
                );
            }
            Err(e) => tracing::error!("rules not reloaded: {e:#}"),
        }
    }

    /// Audits one file: the whole life of a report, synchronously. Never panics on input.
    pub fn process_file(&self, path: &Path) -> Processed {
        match self.prepare(path) {
            Step::Done(done) => done,
            Step::Ready(r) => self.audit_and_store(&r.path, r.outcome, r.stamp),
        }
    }

    /// A file's first half: read, hashed, parsed, and claimed for this worker; or finished
    /// already (a copy of a stored report, a file to try later, a worker given up on).
    fn prepare(&self, path: &Path) -> Step {
        let later = |reason: String| Step::Done(Processed::Later { reason });
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => return later(format!("cannot stat: {e}")),
        };
        let stamp = Stamp::of(&meta);
        let limit = self.config.max_file_size;
        let refused = if meta.file_type().is_symlink() {
            Some("a symbolic link; links are not followed out of the inbox".to_string())
        } else if !meta.is_file() {
            Some(format!(
                "not a regular file ({}); not read",
                pipeline::special_kind(&meta)
            ))
        } else if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
            // Another name for the same file may lie outside the inbox: whoever dropped the
            // link could make the daemon read (and archive) a file it was never given.
            Some(format!(
                "a hard link (the file has {} names); links are not followed out of the inbox: copy the report instead",
                std::os::unix::fs::MetadataExt::nlink(&meta)
            ))
        } else if meta.len() > limit {
            Some(format!(
                "too large: {} bytes, more than watch.max_file_size ({limit} bytes); not read",
                meta.len()
            ))
        } else {
            None
        };
        if refused.is_none() && self.holds_itself(&meta) {
            tracing::warn!(path = %path.display(), "this daemon has the file open itself (its log, its database …): it is never taken for a report; move it out of the inbox");
            return later("a file of the daemon's own".to_string());
        }
        let outcome = match refused {
            None => {
                let bytes = match read_settled(path, &stamp, limit) {
                    Ok(b) => b,
                    Err(Unsettled::Changed(what)) => {
                        return Step::Done(self.settle_again(path, &what))
                    }
                    Err(Unsettled::Io(e)) if std::fs::symlink_metadata(path).is_err() => {
                        return later(format!("vanished: {e}"))
                    }
                    Err(Unsettled::Io(e)) => return later(format!("cannot read file: {e}")),
                };
                let sha = pipeline::sha256_hex(&bytes);
                if let Some(done) = self.if_known(path, &sha, stamp) {
                    return Step::Done(done);
                }
                if bytes.starts_with(b"%PDF-") && crate::extract::tesseract().is_some() {
                    // A PDF may be a scan, read by OCR within its own time.
                    self.allow_more(self.config.budget.ocr_time * 2);
                }
                pipeline::read_within(path, &bytes, sha, self.config.budget)
            }
            Some(reason) => {
                // The store keys reports by content; without content, the entry itself (its
                // inode, size and time) identifies it, so a retry is not stored twice.
                let key = format!(
                    "unreadable:{}:{}:{}:{}:{}",
                    stamp.dev,
                    stamp.ino,
                    stamp.size,
                    stamp
                        .mtime
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos()),
                    path.display()
                );
                if let Some(done) = self.if_known(path, &key, stamp) {
                    return Step::Done(done);
                }
                Outcome {
                    sha256: key,
                    ..Outcome::unreadable(path, reason)
                }
            }
        };
        if !self.claim() {
            return Step::Done(Processed::GivenUp);
        }
        Step::Ready(Box::new(Prepared {
            path: path.to_path_buf(),
            outcome,
            stamp: Some(stamp),
        }))
    }

    /// A file whose key (content hash, or the entry's identity) is stored already is finished
    /// as its report's status says; `None` when it is new.
    fn if_known(&self, path: &Path, key: &str, stamp: Stamp) -> Option<Processed> {
        match self.with_store(|s| s.stored(key)) {
            Ok(Some(known)) if self.claim() => {
                Some(self.finish_known(path, key, &known, Some(stamp)))
            }
            Ok(Some(_)) => Some(Processed::GivenUp),
            Ok(None) => None,
            Err(e) => Some(Processed::Later {
                reason: e.to_string(),
            }),
        }
    }

    /// A file that changed while it was read or audited: nothing of it is kept, and it settles
    /// again (the copy is still going on).
    fn settle_again(&self, path: &Path, what: &str) -> Processed {
        tracing::info!(path = %path.display(), "{what}: still being written; it settles again");
        if let Ok(mut r) = self.resettle.lock() {
            r.push(path.to_path_buf());
        }
        Processed::Later {
            reason: format!("{what}; settling again"),
        }
    }

    /// Whether the file at `path` is still the one read (`stamp`); else it settles again.
    fn unchanged(&self, path: &Path, stamp: Option<Stamp>, when: &str) -> bool {
        let Some(stamp) = stamp else {
            return true;
        };
        match Stamp::at(path) {
            Ok(now) if now == stamp => true,
            Ok(_) => {
                self.settle_again(path, &format!("changed {when}"));
                false
            }
            // Gone: nothing to move; the caller finds out.
            Err(_) => true,
        }
    }

    fn audit_and_store(&self, path: &Path, outcome: Outcome, stamp: Option<Stamp>) -> Processed {
        let prepared = Prepared {
            path: path.to_path_buf(),
            outcome,
            stamp,
        };
        self.audit_and_store_all(vec![prepared])
            .pop()
            .unwrap_or_else(|| Processed::Later {
                reason: "not audited".to_string(),
            })
    }

    /// Audits and stores files this worker prepared, in order: the rules go over them together
    /// ([`RuleSet::run_batch`]) and their reports are written in one transaction. A report of
    /// the year after another one's of the same issuer waits for it to be stored, so that its
    /// rules read it as the year before, as they would one file after the other.
    fn audit_and_store_all(&self, items: Vec<Prepared>) -> Vec<Processed> {
        let mut out = Vec::with_capacity(items.len());
        for group in independent(items) {
            out.extend(self.audit_and_store_group(group));
        }
        out
    }

    fn audit_and_store_group(&self, group: Vec<Prepared>) -> Vec<Processed> {
        let set = self.current_rules();
        let reports: Vec<&Arc<Report>> = group
            .iter()
            .filter_map(|p| p.outcome.report.as_ref())
            .collect();
        let (runs, register) = self.run_rules_all(&set, &reports);
        let mut runs = runs.into_iter();
        let mail = &self.config.mail;
        let mut audited = Vec::with_capacity(group.len());
        for mut p in group {
            let mut notify = None;
            let mut year_before = YearBefore::None;
            if let Some(report) = &p.outcome.report {
                let (findings, given) = runs.next().unwrap_or((Vec::new(), YearBefore::Unknown));
                p.outcome.findings = findings;
                year_before = given;
                if p.outcome
                    .findings
                    .iter()
                    .any(|f| f.severity >= mail.min_severity)
                {
                    let to = mail::recipients_in(mail, report, &register);
                    if to.is_empty() {
                        tracing::warn!(
                            path = %p.path.display(),
                            organization = report.organization.as_deref().unwrap_or("?"),
                            "no mail route and no fallback: the summary stays unsent (unrouted)"
                        );
                    }
                    notify = Some(to);
                }
            }
            audited.push((p, notify, year_before));
        }
        // A copy that went on while the report was parsed and audited: nothing is stored.
        // Models are encoded before the store is taken: the other workers need not wait for it.
        let mut done: Vec<Option<Processed>> = vec![None; audited.len()];
        let mut models = Vec::with_capacity(audited.len());
        for (i, (p, _, _)) in audited.iter().enumerate() {
            if !self.unchanged(&p.path, p.stamp, "while it was audited") {
                done[i] = Some(Processed::Later {
                    reason: "changed while it was audited".to_string(),
                });
                continue;
            }
            match store::encode_model(&p.outcome) {
                Ok(m) => models.push((i, m)),
                Err(e) => {
                    tracing::error!(path = %p.path.display(), "report not stored, will retry: {e}");
                    done[i] = Some(Processed::Later {
                        reason: e.to_string(),
                    });
                }
            }
        }
        let received = store::now();
        let recordings: Vec<store::Recording<'_>> = models
            .iter()
            .map(|(i, model)| {
                let (p, notify, year_before) = &audited[*i];
                store::Recording {
                    outcome: &p.outcome,
                    report_z: model.as_deref(),
                    audit: Some((&set.version, *year_before)),
                    received_at: &received,
                    notify: notify.as_deref(),
                }
            })
            .collect();
        let ids: Vec<Result<(i64, bool), StoreError>> = match self.record_retrying(&recordings) {
            Ok(ids) => ids.into_iter().map(Ok).collect(),
            Err(e) if recordings.len() > 1 => {
                // One report's failure does not hold back the others: each on its own.
                tracing::warn!(
                    reports = recordings.len(),
                    "reports not stored together ({e}); each is stored on its own"
                );
                let mut each = Vec::with_capacity(recordings.len());
                for r in &recordings {
                    // One id for each report recorded.
                    match self.record_retrying(std::slice::from_ref(r)) {
                        Ok(ids) => each.extend(ids.into_iter().map(Ok)),
                        Err(e) => each.push(Err(e)),
                    }
                }
                each
            }
            Err(e) => vec![Err(e)],
        };
        drop(recordings);
        for ((i, _), id) in models.iter().zip(ids) {
            let (p, _, _) = &audited[*i];
            done[*i] = Some(match id {
                Ok((id, true)) => self.finish_stored(p, id),
                // The same content as a file before it in the batch.
                Ok((id, false)) => self.finish_known(
                    &p.path,
                    &p.outcome.sha256,
                    &store::Known {
                        id,
                        parsed: p.outcome.status == Status::Parsed,
                        stored_path: None,
                        error: p.outcome.error.clone(),
                    },
                    p.stamp,
                ),
                Err(e) => {
                    tracing::error!(path = %p.path.display(), "report not stored, will retry: {e}");
                    Processed::Later {
                        reason: e.to_string(),
                    }
                }
            });
        }
        done.into_iter()
            .map(|d| {
                d.unwrap_or_else(|| Processed::Later {
                    reason: "not stored".to_string(),
                })
            })
            .collect()
    }

    /// Records reports in one transaction, retrying while the store is busy (up to ~5 s).
    fn record_retrying(
        &self,
        reports: &[store::Recording<'_>],
    ) -> Result<Vec<(i64, bool)>, StoreError> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.with_store(|s| s.record_all(reports)) {
                Err(e) if e.is_transient() && delay < Duration::from_secs(5) => {
                    tracing::warn!(reports = reports.len(), "store busy, retrying: {e}");
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                done => return done,
            }
        }
    }

    /// A stored report's file goes where its status says: the archive, or quarantine.
    fn finish_stored(&self, p: &Prepared, id: i64) -> Processed {
        let outcome = &p.outcome;
        match outcome.status {
            Status::Parsed => {
                tracing::info!(
                    path = %p.path.display(),
                    id,
                    organization = outcome.report.as_ref().and_then(|r| r.organization.as_deref()).unwrap_or("?"),
                    findings = outcome.findings.len(),
                    "report audited"
                );
                self.move_done(&p.path, &outcome.sha256, id, p.stamp);
                Processed::Stored {
                    id,
                    findings: outcome.findings.len(),
                }
            }
            Status::Unparseable => {
                let reason = outcome.error.clone().unwrap_or_default();
                tracing::warn!(path = %p.path.display(), id, "report quarantined: {reason}");
                self.quarantine(&p.path, id, &reason, p.stamp);
                Processed::Quarantined { id, reason }
            }
        }
    }

    /// A file whose content is stored already: a copy dropped again, or a file that could not be
    /// moved when its report was stored (a full or read-only disk). It goes where its report's
    /// status says, and the place is recorded if none was.
    fn finish_known(
        &self,
        path: &Path,
        sha: &str,
        known: &store::Known,
        stamp: Option<Stamp>,
    ) -> Processed {
        let id = known.id;
        if known.parsed {
            if known.stored_path.is_none() && self.config.after == After::Move {
                tracing::info!(path = %path.display(), id, "report stored before; archiving its file now");
            } else {
                tracing::info!(path = %path.display(), id, "already stored; archiving this copy");
            }
            self.move_done(path, sha, id, stamp);
            return Processed::Duplicate { id };
        }
        let reason = known.error.clone().unwrap_or_default();
        if known.stored_path.is_none() {
            tracing::info!(path = %path.display(), id, "unparseable report stored before; quarantining it now");
        }
        self.quarantine(path, id, &reason, stamp);
        Processed::Quarantined { id, reason }
    }

    /// Runs the rules on a report with what they compare it with: the issuer's report of the
    /// year before (which one is returned, to be recorded with the findings) and the units below
    /// it in the register (read once here, and returned: the summary's recipients come from it
    /// too, [`mail::recipients_in`]).
    fn run_rules(
        &self,
        set: &RuleSet,
        report: &Arc<Report>,
    ) -> (Vec<Finding>, Arc<Matcher>, YearBefore) {
        let (mut runs, register) = self.run_rules_all(set, &[report]);
        let (findings, year_before) = runs.pop().unwrap_or((Vec::new(), YearBefore::Unknown));
        (findings, register, year_before)
    }

    /// The rules over several reports together, each with its year before from the store and
    /// the units below its issuer: each report's findings and the year before it was given, in
    /// order, and the units register read for them.
    fn run_rules_all(
        &self,
        set: &RuleSet,
        reports: &[&Arc<Report>],
    ) -> (Vec<(Vec<Finding>, YearBefore)>, Arc<Matcher>) {
        let mut decoded = Decoded::default();
        let previous: Vec<(YearBefore, Option<Arc<Report>>)> = reports
            .iter()
            .map(|r| previous_from(self, r, &mut decoded))
            .collect();
        let given: Vec<_> = reports
            .iter()
            .zip(&previous)
            .map(|(report, (_, previous))| (*report, previous.as_ref()))
            .collect();
        let (findings, register) = self.run_given(self, set, &given, &[]);
        let runs = findings
            .into_iter()
            .zip(previous.into_iter().map(|(year_before, _)| year_before))
            .collect();
        (runs, register)
    }

    /// The rules over reports each given with its year before, also seeing the units below
    /// each issuer (read here, with the register, which is returned); a report with `earlier`
    /// findings keeps those that hold ([`RuleSet::run_batch_reusing`]).
    fn run_given(
        &self,
        via: &impl Reads,
        set: &RuleSet,
        given: &[(&Arc<Report>, Option<&Arc<Report>>)],
        earlier: &[Option<Earlier<'_>>],
    ) -> (Vec<Vec<Finding>>, Arc<Matcher>) {
        let reports: Vec<&Report> = given.iter().map(|(r, _)| r.as_ref()).collect();
        let (register, below) = self.units_of(via, &reports);
        let subjects = given
            .iter()
            .zip(below)
            .map(|(&(report, previous), units)| Subject {
                report,
                previous,
                units,
            })
            .collect();
        (set.run_batch_reusing(subjects, earlier), register)
    }

    /// The units register and, for each report, the units below its issuer (for the rules'
    /// `report.units`). When the register cannot be read the rules see no units and summaries
    /// go by the mail routes.
    fn units_of(
        &self,
        via: &impl Reads,
        reports: &[&Report],
    ) -> (Arc<Matcher>, Vec<Option<Vec<crate::rules::UnitReport>>>) {
        let read = via.read(|s| {
            let register = self.register_in(s)?;
            let below = reports
                .iter()
                .map(|r| crate::units::units_below(s, &register, r))
                .collect::<Result<_, _>>()?;
            Ok((register, below))
        });
        read.unwrap_or_else(|e| {
            tracing::warn!("units register not read ({e}); the rules see no units and the summary goes by the mail routes");
            (Arc::new(Matcher::new(Vec::new())), vec![None; reports.len()])
        })
    }

    /// Moves a stored report's file to the archive and records where (unless one is recorded).
    /// A file that changed since it was read is not the report stored: it stays and settles
    /// again, to be read as the new content it now is.
    fn move_done(&self, path: &Path, sha: &str, id: i64, stamp: Option<Stamp>) {
        if self.config.after == After::Keep {
            return;
        }
        if !self.unchanged(path, stamp, "after its report was stored") {
            return;
        }
        let day = store::now().get(..10).unwrap_or("undated").to_string();
        let dir = self.config.archive.join(day);
        match move_into(path, &dir, sha) {
            Ok(dest) => {
                if let Err(e) = self.with_store(|s| s.set_stored_path(id, &dest)) {
                    tracing::warn!("archive path not recorded: {e}");
                }
            }
            Err(e) => tracing::error!(
                path = %path.display(),
                id,
                "cannot move to the archive {}: {e}; the report is stored, the file stays in the inbox and is moved on a later scan",
                dir.display()
            ),
        }
    }

    /// Moves a file to quarantine; its `.reason.txt` is written first, so a file in
    /// quarantine always has its reason beside it.
    fn quarantine(&self, path: &Path, id: i64, reason: &str, stamp: Option<Stamp>) {
        if !self.unchanged(path, stamp, "after it was recorded as unreadable") {
            return;
        }
        let moved = free_name(path, &self.config.quarantine, &format!("{id}")).and_then(|dest| {
            let mut note = dest.clone().into_os_string();
            note.push(".reason.txt");
            let note = PathBuf::from(note);
            let text = format!("{reason}\n\nfile: {}\nreport id: {id}\n", path.display());
            std::fs::write(&note, text)?;
            move_to(path, &dest).inspect_err(|_| {
                let _ = std::fs::remove_file(&note);
            })?;
            Ok(dest)
        });
        match moved {
            Ok(dest) => {
                if let Err(e) = self.with_store(|s| s.set_stored_path(id, &dest)) {
                    tracing::warn!("quarantine path not recorded: {e}");
                }
            }
            Err(e) => tracing::error!(
                path = %path.display(),
                "cannot move to quarantine {}: {e}; the file stays in the inbox and is tried again",
                self.config.quarantine.display()
            ),
        }
    }
}

/// Moves a file into `dir` under its own name, or with `-tag` added when that name is taken.
/// Falls back to copy-and-remove across file systems.
pub fn move_into(path: &Path, dir: &Path, tag: &str) -> std::io::Result<PathBuf> {
    let dest = free_name(path, dir, tag)?;
    move_to(path, &dest)?;
    Ok(dest)
}

/// A name in `dir` (created if missing) for the file at `path`: its own name, or with `-tag`
/// added when that name is taken.
fn free_name(path: &Path, dir: &Path, tag: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| short_name(n, 180));
    let mut dest = dir.join(&name);
    if dest.exists() {
        let p = Path::new(&name);
        let stem = p
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let ext = p.extension().map(|e| e.to_string_lossy().into_owned());
        let short: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        for n in 0.. {
            let suffix = if n == 0 {
                short.clone()
            } else {
                format!("{short}-{n}")
            };
            let candidate = match &ext {
                Some(e) => format!("{stem}-{suffix}.{e}"),
                None => format!("{stem}-{suffix}"),
            };
            dest = dir.join(candidate);
            if !dest.exists() {
                break;
            }
        }
    }
    Ok(dest)
}

/// Moves a file to `dest`; across file systems, copies, syncs and then removes the original. A
/// copy that fails half-way (a full disk) is removed again and the original kept. Links and
/// pipes are moved as what they are (never followed, never opened); a socket or device cannot
/// leave its file system and stays.
fn move_to(path: &Path, dest: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt as _;
    match std::fs::rename(path, dest) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            let kind = std::fs::symlink_metadata(path)?.file_type();
            if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(path)?, dest)?;
                return std::fs::remove_file(path).inspect_err(|_| {
                    let _ = std::fs::remove_file(dest);
                });
            }
            if kind.is_fifo() {
                make_fifo(dest)?;
                return std::fs::remove_file(path).inspect_err(|_| {
                    let _ = std::fs::remove_file(dest);
                });
            }
            if !kind.is_file() {
                return Err(std::io::Error::other(
                    "a socket or device cannot be moved to another file system",
                ));
            }
            let copied = std::fs::copy(path, dest)
                .and_then(|_| std::fs::File::open(dest))
                .and_then(|f| f.sync_all());
            if let Err(e) = copied {
                let _ = std::fs::remove_file(dest);
                return Err(e);
            }
            // Where the original cannot be removed, one copy is kept, not two.
            std::fs::remove_file(path).inspect_err(|_| {
                let _ = std::fs::remove_file(dest);
            })
        }
        Err(e) => Err(e),
    }
}

/// Creates a named pipe at `path`.
fn make_fifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other("a NUL byte in the name"))?;
    // SAFETY: mkfifo reads a NUL-terminated path that lives across the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Why a file could not be read as the settled file it seemed.
enum Unsettled {
    /// It changed (size, time or inode) while it was read: a copy still going on.
    Changed(String),
    Io(std::io::Error),
}

/// Reads a regular file that looked settled (`stamp`), at most `limit` bytes, and checks that
/// what was read is the whole of that same file: same inode, as many bytes as it had, and
/// unchanged afterwards.
fn read_settled(path: &Path, stamp: &Stamp, limit: u64) -> Result<Vec<u8>, Unsettled> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(Unsettled::Io)?;
    let opened = file
        .metadata()
        .map(|m| Stamp::of(&m))
        .map_err(Unsettled::Io)?;
    if opened != *stamp {
        return Err(Unsettled::Changed("changed before it was read".to_string()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(stamp.size).unwrap_or(0));
    (&mut file)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Unsettled::Io)?;
    let after = Stamp::at(path).map_err(Unsettled::Io)?;
    if bytes.len() as u64 != stamp.size || after != *stamp {
        return Err(Unsettled::Changed(format!(
            "changed while it was read ({} bytes when it settled, {} read, {} now)",
            stamp.size,
            bytes.len(),
            after.size
        )));
    }
    Ok(bytes)
}

/// A file name no longer than `max` bytes, so that a suffix or `.reason.txt` still fits the
/// file system's limit (255 bytes): a long stem is cut at a character boundary, the extension
/// kept. Names that are not UTF-8 are kept byte for byte when short enough.
fn short_name(name: &std::ffi::OsStr, max: usize) -> std::ffi::OsString {
    if name.len() <= max {
        return name.to_os_string();
    }
    let text = name.to_string_lossy();
    let p = Path::new(text.as_ref());
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| e.len() <= 16);
    let budget = max - ext.as_ref().map_or(0, |e| e.len() + 1);
    let stem = p
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let mut cut = String::new();
    for c in stem.chars() {
        if cut.len() + c.len_utf8() > budget {
            break;
        }
        cut.push(c);
    }
    match ext {
        Some(e) => format!("{cut}.{e}").into(),
        None => cut.into(),
    }
}

/// Converts the models stored as JSON to the compressed form ([`store::codec`]) until none is
/// left or the daemon stops.
fn compact_models(ctx: &Context, stop: &AtomicBool) {
    let mut converted = 0usize;
    while !stop.load(Ordering::Relaxed) {
        match ctx.with_store(|s| s.compact_models(100)) {
            Ok(0) => break,
            Ok(n) => {
                if converted == 0 {
                    tracing::info!("compacting the reports stored by an earlier version");
                }
                converted += n;
            }
            Err(e) => {
                tracing::warn!("stored reports not compacted ({e}); tried again at the next start");
                return;
            }
        }
        // The workers come first.
        std::thread::sleep(Duration::from_millis(5));
    }
    if converted > 0 {
        tracing::info!(reports = converted, "stored reports compacted");
    }
}

/// How long shutdown waits for the mailer to finish the message in hand.
const MAILER_GRACE: Duration = Duration::from_secs(2);

/// Why the daemon's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Shut down (SIGTERM, Ctrl-C).
    Exit,
    /// Stop and start again with the configuration read anew (SIGHUP).
    Reload,
}

/// Layouts the daemon refuses to start with: the config's (see [`Config::layout_problems`]),
/// and this process's own output written into the inbox.
pub fn start_problems(config: &Config) -> Vec<String> {
    let mut problems = config.layout_problems();
    let inbox = crate::config::real_path(&config.inbox);
    for (fd, what) in [(1, "standard output"), (2, "the log (standard error)")] {
        let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if target.is_absolute() && crate::config::real_path(&target).starts_with(&inbox) {
            problems.push(format!(
                "{what} is written to {}, inside the inbox: the daemon would take its own log for a report; write it elsewhere",
                target.display()
            ));
        }
    }
    problems
}

/// Runs the daemon until `shutdown` completes; the report in hand is finished first. Returns
/// what `shutdown` asked for.
pub async fn run(config: Config, shutdown: impl Future<Output = Stop>) -> Result<Stop> {
    crate::clock::setting().map_err(anyhow::Error::msg)?;
    let problems = start_problems(&config);
    if !problems.is_empty() {
        anyhow::bail!(
            "refusing to start, the layout would lose reports:\n  {}",
            problems.join("\n  ")
        );
    }
    // A console open to the network without users would show every report to anyone.
    crate::web::check(&config)?;
    // One daemon per database: a second one would race on the same files.
    let lock = crate::lockfile::DaemonLock::acquire(&config.database)?;
    // A lease break (see watch::open_for_writing) would send SIGIO, whose default is to stop
    // the process.
    // SAFETY: setting a signal's disposition to ignored has no other effect.
    unsafe {
        libc::signal(libc::SIGIO, libc::SIG_IGN);
    }
    std::fs::create_dir_all(&config.inbox)
        .with_context(|| format!("cannot create inbox {}", config.inbox.display()))?;
    let inbox_root = std::fs::canonicalize(&config.inbox).unwrap_or(config.inbox.clone());
    // Templates and transport are checked before anything is audited.
    let mailer = Mailer::new(&config.mail).context("mail set-up")?;
    let ctx = Arc::new(Context::open(config)?);
    ctx.checkpoint_in_background();
    {
        let set = ctx.shared_rules();
        let errors: Vec<String> = set.errors.iter().map(ToString::to_string).collect();
        if let Err(e) = ctx.with_store(|s| s.record_reload(Some(&set.version), &errors)) {
            tracing::warn!("rule load not recorded: {e}");
        }
    }
    let exclude: Vec<PathBuf> = [&ctx.config.archive, &ctx.config.quarantine]
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok().or_else(|| Some((*p).clone())))
        .collect();
    let mut inbox = Inbox::new(inbox_root.clone(), ctx.config.settle, exclude)
        .with_max_file_size(ctx.config.max_file_size);

    // Events from the inbox and the rules folder.
    let (event_tx, mut event_rx) = mpsc::unbounded_channel::<PathBuf>();
    let _inbox_watcher = watch::watch(&inbox_root, move |paths| {
        for p in paths {
            let _ = event_tx.send(p);
        }
    })
    .with_context(|| format!("cannot watch {}", inbox_root.display()))?;
    let (rules_tx, mut rules_rx) = mpsc::unbounded_channel::<()>();
    let _rules_watcher = match watch::watch(&ctx.config.rules_dir, move |_| {
        let _ = rules_tx.send(());
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("rules folder not watched ({e}); rules reload only on restart");
            None
        }
    };

    // Workers: one per core, each auditing files from the queue.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = std_mpsc::channel::<PathBuf>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut handles: HashMap<ThreadId, JoinHandle<()>> = HashMap::new();
    let mut spawned = 0usize;
    for _ in 0..workers {
        let h = spawn_worker(&ctx, &job_rx, spawned).context("cannot start worker thread")?;
        spawned += 1;
        handles.insert(h.thread().id(), h);
    }
    // A worker stuck in one step past twice the parse time is given up and replaced.
    let budget_time = ctx.config.budget.time;
    let give_up_after = (budget_time * 2).max(budget_time + Duration::from_secs(1));
    let mut given_up = 0usize;

    // The mailer: sends due summaries until shutdown.
    let stop = Arc::new(AtomicBool::new(false));
    // Models stored as JSON by an earlier version are compacted in the background, a batch at a
    // time between the workers' writes; an interrupted run goes on at the next start.
    let compactor = {
        let ctx = ctx.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("compactor".into())
            .spawn(move || compact_models(&ctx, &stop))
            .context("cannot start the compactor")?
    };
    let mail_thread = {
        let ctx = ctx.clone();
        let stop = stop.clone();
        let tick = ctx.config.poll.max(Duration::from_millis(200));
        let reminders = crate::remind::Reminding::new(&ctx.config);
        std::thread::Builder::new()
            .name("mailer".into())
            .spawn(move || mailer.run(&ctx.store, &stop, tick, reminders))
            .context("cannot start the mailer")?
    };

    tracing::info!(
        inbox = %inbox_root.display(),
        database = %ctx.config.database.display(),
        rules = %ctx.config.rules_dir.display(),
        lock = %lock.path().display(),
        pid = std::process::id(),
        "ogi-audit running"
    );
    if crate::clock::is_set() {
        tracing::warn!(
            now = %store::now(),
            "the clock is set by {}: reports are stamped, and deadlines and reminders counted, by it",
            crate::clock::VAR
        );
    }
    // The console serves pages beside the daemon; it failing to start is logged, not fatal.
    let console = match crate::web::start(&ctx.config).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}; the daemon runs on without its web console");
            None
        }
    };
    inbox.scan();
    crate::systemd::notify("READY=1");
    let mut poll = tokio::time::interval(ctx.config.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_scan = Instant::now();
    let mut reload_at: Option<Instant> = None;
    // Set when the database file is no longer the one opened: no report is taken any more.
    let mut halted: Option<String> = None;
    tokio::pin!(shutdown);
    let stopped = loop {
        tokio::select! {
            why = &mut shutdown => break why,
            Some(path) = event_rx.recv() => inbox.touch(&path),
            Some(()) = rules_rx.recv() => {
                reload_at = Some(Instant::now() + Duration::from_millis(300));
            }
            _ = poll.tick() => {
                if reload_at.is_some_and(|t| Instant::now() >= t) {
                    reload_at = None;
                    let ctx = ctx.clone();
                    tokio::task::spawn_blocking(move || ctx.reload_rules()).await.ok();
                }
                let rescan = last_scan.elapsed() >= ctx.config.rescan;
                if rescan {
                    last_scan = Instant::now();
                    inbox.scan();
                }
                for path in ctx.resettle.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default() {
                    inbox.touch(&path);
                }
                if halted.is_none() {
                    if let Err(StoreError::Lost(why)) = ctx.with_store(|s| s.check_same_file()) {
                        tracing::error!("{why}");
                        halted = Some(why);
                    }
                }
                if let Some(why) = &halted {
                    if rescan {
                        tracing::error!(waiting = inbox.pending(), "no report is taken: {why}");
                    }
                    continue;
                }
                for Overdue { thread, path, after, others } in ctx.overdue(give_up_after) {
                    // The rest of its batch goes to the other workers (still in flight: the
                    // watcher does not queue them a second time).
                    for other in others {
                        if job_tx.send(other).is_err() {
                            break;
                        }
                    }
                    // The stuck thread is left to finish on its own (it then stops); it is not
                    // waited for at shutdown.
                    handles.remove(&thread);
                    given_up += 1;
                    match spawn_worker(&ctx, &job_rx, spawned) {
                        Ok(h) => {
                            spawned += 1;
                            handles.insert(h.thread().id(), h);
                        }
                        Err(e) => tracing::error!("cannot start a worker in place of a stuck one: {e}"),
                    }
                    if given_up > workers {
                        tracing::warn!(given_up, "workers given up on since start; their threads run on until their step ends");
                    }
                    let ctx = ctx.clone();
                    tokio::task::spawn_blocking(move || ctx.give_up(&path, after));
                }
                for path in inbox.ready() {
                    let fresh = ctx.in_flight.lock().map(|mut f| f.insert(path.clone())).unwrap_or(false);
                    if fresh && job_tx.send(path).is_err() {
                        break;
                    }
                }
            }
        }
    };
    match stopped {
        Stop::Exit => {
            crate::systemd::notify("STOPPING=1");
            tracing::info!("shutting down: finishing the reports in hand");
        }
        Stop::Reload => {
            crate::systemd::notify(&format!(
                "RELOADING=1\nMONOTONIC_USEC={}",
                crate::systemd::monotonic_usec()
            ));
            tracing::info!("reloading: finishing the reports in hand, then starting again with the configuration read anew");
        }
    }
    if let Some(c) = console {
        c.stop().await;
    }
    drop(job_tx);
    // Workers finish the file in hand; files still queued stay in the inbox for the next start.
    let queued = {
        let rx = job_rx.lock();
        let mut n = 0;
        if let Ok(rx) = rx {
            while rx.try_recv().is_ok() {
                n += 1;
            }
        }
        n
    };
    if queued > 0 {
        tracing::info!(queued, "left in the inbox for the next start");
    }
    for (_, h) in handles {
        let _ = h.join();
    }
    stop.store(true, Ordering::Relaxed);
    mail_thread.thread().unpark();
    // The compactor stops after the batch in hand (one transaction).
    let _ = compactor.join();
    // The mailer may be inside an SMTP conversation with a server that does not answer, which
    // lasts up to mail.smtp.timeout. It marks a notice sent only once the server accepted the
    // message, so leaving it behind loses nothing: the summary is still pending at the next start.
    // On reload the next mailer must not start while this one may still send the same
    // summaries: it is waited for whole.
    let grace = Instant::now() + MAILER_GRACE;
    while !mail_thread.is_finished() && (stopped == Stop::Reload || Instant::now() < grace) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if mail_thread.is_finished() {
        let _ = mail_thread.join();
    } else {
        tracing::warn!(
            "the mailer is still waiting for the mail server (mail.smtp.timeout = {}); not waiting for it: the summary it is sending stays pending and is mailed after the next start",
            humantime::format_duration(ctx.config.mail.smtp.timeout)
        );
    }
    drop(lock);
    tracing::info!("stopped");
    Ok(stopped)
}

/// Starts worker number `n`: it audits files from the queue until the queue closes, or stops
/// after its file when the watchdog gave up on it (a new worker has taken its place).
fn spawn_worker(
    ctx: &Arc<Context>,
    rx: &Arc<Mutex<std_mpsc::Receiver<PathBuf>>>,
    n: usize,
) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    let rx = rx.clone();
    std::thread::Builder::new()
        .name(format!("audit-{n}"))
        .spawn(move || loop {
            // One file, and while more are waiting, up to BATCH.
            let batch = match rx.lock() {
                Ok(r) => match r.recv() {
                    Ok(first) => {
                        let mut batch = vec![first];
                        while batch.len() < BATCH {
                            match r.try_recv() {
                                Ok(p) => batch.push(p),
                                Err(_) => break,
                            }
                        }
                        batch
                    }
                    Err(_) => break,
                },
                Err(_) => break,
            };
            if !work_on(&ctx, batch) {
                break;
            }
        })
}

/// A worker's batch of files: each read and parsed under the watchdog, then audited and stored
/// together. False when the watchdog gave up on this worker (it then stops: another took its
/// place, and the rest of its batch was queued again).
fn work_on(ctx: &Context, batch: Vec<PathBuf>) -> bool {
    let me = std::thread::current().id();
    let unwind = |panic: Box<dyn std::any::Any + Send>, paths: &[PathBuf]| {
        // A bug, not an input problem: keep the daemon up and the files in place.
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        for path in paths {
            tracing::error!(path = %path.display(), "internal error while auditing: {what}");
        }
    };
    let mut ready: Vec<Prepared> = Vec::new();
    for (i, path) in batch.iter().enumerate() {
        let state = Arc::new(AtomicU8::new(RUNNING));
        let started = Instant::now();
        let others: Vec<PathBuf> = ready
            .iter()
            .map(|r| r.path.clone())
            .chain(batch[i + 1..].iter().cloned())
            .collect();
        ctx.jobs().insert(
            me,
            Job {
                path: path.clone(),
                started,
                state: state.clone(),
                extra: Arc::default(),
                others,
            },
        );
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctx.prepare(path)));
        if state.load(Ordering::Acquire) == GIVEN_UP {
            ctx.jobs().remove(&me);
            if let Err(panic) = step {
                unwind(panic, std::slice::from_ref(path));
            }
            tracing::warn!(
                path = %path.display(),
                after = %humantime::format_duration(Duration::from_secs(started.elapsed().as_secs())),
                dropped = ready.len(),
                "a worker given up on has finished its step; it stops (the rest of its batch was queued again)"
            );
            return false;
        }
        match step {
            Ok(Step::Ready(r)) => ready.push(*r),
            Ok(Step::Done(_)) => ctx.done_with(path),
            Err(panic) => {
                unwind(panic, std::slice::from_ref(path));
                ctx.done_with(path);
            }
        }
    }
    // Audited and stored together, no longer watched: each file was claimed (rules have their
    // own time limit), and the last file's job may not have been.
    ctx.jobs().remove(&me);
    let paths: Vec<PathBuf> = ready.iter().map(|r| r.path.clone()).collect();
    if !ready.is_empty() {
        let stored = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ctx.audit_and_store_all(ready)
        }));
        if let Err(panic) = stored {
            unwind(panic, &paths);
        }
    }
    for path in &paths {
        ctx.done_with(path);
    }
    true
}

/// What `reaudit` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reaudited {
    /// Stored reports looked at.
    pub total: usize,
    /// Reports that got findings of the current rule set (the others had them already).
    pub changed: usize,
    /// Reports with findings they did not have before, at or above `mail.min_severity`.
    pub news: usize,
    /// Summaries queued for the daemon's mailer (with `mail`).
    pub queued: usize,
    /// Of those, how many have no route and no fallback (kept as `unrouted`).
    pub unrouted: usize,
    /// Rules run, summed over the reports.
    pub rules_run: usize,
    /// Rules not run again because their findings of the report still held, summed over the
    /// reports.
    pub rules_kept: usize,
}

/// Where a thread reads the store: through the context's shared connection, under its lock
/// (the daemon's workers), or through a read-only connection of its own (`reaudit`'s workers,
/// whose reads then wait for no other worker's writes).
trait Reads {
    fn read<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError>;
}

impl Reads for Context {
    fn read<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.with_store(|s| f(s))
    }
}

impl Reads for Store {
    fn read<T>(&self, f: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(self)
    }
}

/// The same issuer's report of the year before from the store, and which it is; taken from
/// `decoded` when this worker decoded it already (a re-audit goes issuer by issuer, year by
/// year), and what is read is kept there. The model is read (under the store's lock when
/// `via` is the shared connection) and decoded after.
fn previous_from(
    via: &impl Reads,
    report: &Report,
    decoded: &mut Decoded,
) -> (YearBefore, Option<Arc<Report>>) {
    let (Some(org), Some(year)) = (report.organization.as_deref(), report.year) else {
        return (YearBefore::None, None);
    };
    let read = via
        .read(|s| s.stored_report_id(org, year - 1))
        .and_then(|id| {
            let Some(id) = id else { return Ok(None) };
            if let Some(r) = decoded.get(id) {
                return Ok(Some((id, r)));
            }
            let model = via.read(|s| s.stored_models(&[id]))?;
            let report = model
                .into_iter()
                .next()
                .map(StoredModel::decode)
                .transpose()?;
            Ok(report
                .flatten()
                .map(|r| (id, decoded.keep(id, Arc::new(r)))))
        });
    match read {
        Ok(Some((id, r))) => (YearBefore::Report(id), Some(r)),
        Ok(None) => (YearBefore::None, None),
        // The rules go without it; whether there was one is not known.
        Err(e) => {
            tracing::warn!("previous year's report not read: {e}");
            (YearBefore::Unknown, None)
        }
    }
}

/// How `reaudit` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReauditMode {
    /// Store the new findings.
    Store,
    /// Store them, and queue a summary for each report with new findings.
    StoreAndMail,
    /// Store nothing: only count what would change.
    DryRun,
}

/// Reports re-audited at a time by one job: their models are read in one go, not all at once
/// (100,000 decoded models would take gigabytes).
const REAUDIT_BATCH: usize = 100;

/// Re-runs the current rules over the stored reports received since `since`, on `jobs` threads
/// (the rules run in parallel; the store is written one batch at a time). Each thread reads
/// through a read-only connection of its own, so that its reads do not wait for the other
/// threads' writes. With [`ReauditMode::StoreAndMail`], a report that now has findings it did
/// not have before (at or above `mail.min_severity`) gets a summary queued in the store, which
/// the daemon's mailer sends like any other. `progress` is told how many of how many are done,
/// now and then and at the end.
pub fn reaudit(
    config: &Config,
    since: Option<&str>,
    mode: ReauditMode,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Reaudited> {
    let ctx = Context::open(config.clone())?;
    ctx.checkpoint_in_background();
    let ids = ctx.with_store(|s| s.parsed_ids(since))?;
    let total = ids.len();
    let batches: Vec<&[i64]> = ids.chunks(REAUDIT_BATCH).collect();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let failed: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let results: Vec<Reaudited> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Reaudited::default();
                    let mut decoded = Decoded::default();
                    let mut holding = Holding::default();
                    let fail = |e: anyhow::Error| {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                    };
                    let reader = match Store::open_read_only(&ctx.config.database)
                        .and_then(|r| r.plan_stably().map(|()| r))
                    {
                        Ok(reader) => reader,
                        Err(e) => {
                            fail(e.into());
                            return done;
                        }
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(batch) = batches.get(i) else { break };
                        if failed.lock().map(|f| f.is_some()).unwrap_or(true) {
                            break;
                        }
                        let batch = Batch {
                            ids: batch,
                            mode,
                            reader: &reader,
                        };
                        match reaudit_batch(
                            &ctx,
                            &ctx.current_rules(),
                            &batch,
                            &mut done,
                            &mut decoded,
                            &mut holding,
                        ) {
                            Ok(()) => {
                                finished.fetch_add(batch.ids.len(), Ordering::Relaxed);
                            }
                            Err(e) => {
                                fail(e);
                                break;
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        while !workers.iter().all(|w| w.is_finished()) {
            progress(finished.load(Ordering::Relaxed), total);
            std::thread::sleep(Duration::from_millis(250));
        }
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    if let Some(e) = failed.into_inner().ok().flatten() {
        return Err(e);
    }
    progress(total, total);
    let mut done = Reaudited {
        total,
        ..Reaudited::default()
    };
    for r in results {
        done.changed += r.changed;
        done.news += r.news;
        done.queued += r.queued;
        done.unrouted += r.unrouted;
        done.rules_run += r.rules_run;
        done.rules_kept += r.rules_kept;
    }
    Ok(done)
}

/// The reports of one issuer a re-audit worker decoded, as stored (without corrections), by id:
/// the issuer's next year finds its previous year here instead of decoding it again. A re-audit
/// goes issuer by issuer, so only the current issuer's are kept.
#[derive(Default)]
struct Decoded {
    issuer: Option<String>,
    reports: HashMap<i64, Arc<Report>>,
}

impl Decoded {
    fn get(&self, id: i64) -> Option<Arc<Report>> {
        self.reports.get(&id).cloned()
    }

    fn keep(&mut self, id: i64, report: Arc<Report>) -> Arc<Report> {
        if self.issuer != report.organization {
            self.reports.clear();
            self.issuer.clone_from(&report.organization);
        }
        self.reports.insert(id, report.clone());
        report
    }
}

/// The rules of the current set whose findings still hold for a report last audited under
/// another version of the set, by that version and by whether the report's year before is the
/// one it was audited with: the rules with the same digest there (the same text, word lists,
/// settings and program) that read neither the register nor, unless it is the same, the year
/// before. Kept by each re-audit job for the versions its reports were audited under.
#[derive(Default)]
struct Holding {
    /// By version: the rules holding when the year before is another report now, and when it
    /// is the same.
    by_version: HashMap<String, [Arc<HashSet<String>>; 2]>,
}

impl Holding {
    fn of(
        &mut self,
        via: &impl Reads,
        set: &RuleSet,
        version: &str,
        same_year_before: bool,
    ) -> Result<Arc<HashSet<String>>> {
        if let Some(holds) = self.by_version.get(version) {
            return Ok(holds[usize::from(same_year_before)].clone());
        }
        let digests = via.read(|s| s.rule_digests(version))?.unwrap_or_default();
        let holding = |same: bool| -> Arc<HashSet<String>> {
            let rules = set.rules.iter().filter(|r| {
                !r.reads_units
                    && (same || !r.reads_previous)
                    && digests.get(&r.id) == Some(&r.digest)
            });
            Arc::new(rules.map(|r| r.id.clone()).collect())
        };
        let holds = [holding(false), holding(true)];
        let out = holds[usize::from(same_year_before)].clone();
        self.by_version.insert(version.to_string(), holds);
        Ok(out)
    }
}

/// A batch of stored reports for a re-audit worker, and how the worker reads the store.
struct Batch<'a> {
    ids: &'a [i64],
    mode: ReauditMode,
    /// The worker's own read-only connection: the store is written through the context's.
    reader: &'a Store,
}

/// Re-audits one batch of stored reports, adding to `done`. The rules run over the batch as
/// a whole ([`RuleSet::run_batch_reusing`]), then each report's findings are recorded. A rule
/// whose findings of a report still hold ([`Holding`]) is not run again on it: after an edit
/// of one rule, only that rule (and those that read other reports or the register) runs. A
/// report with corrections, or whose findings include a rule error (which may have been a
/// deadline), runs every rule.
fn reaudit_batch(
    ctx: &Context,
    set: &RuleSet,
    batch: &Batch<'_>,
    done: &mut Reaudited,
    decoded: &mut Decoded,
    holding: &mut Holding,
) -> Result<()> {
    let Batch { ids, mode, reader } = *batch;
    let mail = mode == ReauditMode::StoreAndMail;
    let min = ctx.config.mail.min_severity;
    struct Item {
        id: i64,
        report: Arc<Report>,
        key: String,
        earlier: Vec<Finding>,
        holds: Option<Arc<HashSet<String>>>,
        previous: Option<Arc<Report>>,
        year_before: YearBefore,
    }
    let mut items = Vec::with_capacity(ids.len());
    // What the batch's reports have now, read in one go.
    let (models, mut findings_before, mut corrections, last_audits) = reader.read(|s| {
        Ok((
            s.stored_models(ids)?,
            s.current_findings_of(ids)?,
            s.corrections_of(ids)?,
            s.last_audits(ids)?,
        ))
    })?;
    for stored in models {
        let id = stored.id;
        let Some(stored) = stored.decode()? else {
            continue;
        };
        let stored = decoded.keep(id, Arc::new(stored));
        let earlier = findings_before.remove(&id).unwrap_or_default();
        let corrections = corrections.remove(&id).unwrap_or_default();
        let (report, key) = if corrections.is_empty() {
            (stored, set.version.clone())
        } else {
            let mut corrected = Report::clone(&stored);
            let key = apply_corrections(&mut corrected, &set.version, &corrections);
            (Arc::new(corrected), key)
        };
        let (year_before, previous) = previous_from(reader, &report, decoded);
        let last = last_audits.get(&id);
        let holds = match last.and_then(|a| a.ruleset.as_deref()) {
            // An audit of corrected tables ("…+c12") is of other tables than the stored ones.
            Some(old)
                if corrections.is_empty()
                    && !old.contains('+')
                    && !earlier.iter().any(|f| f.rule == "rule-error") =>
            {
                let same = last.is_some_and(|a| a.year_before == year_before);
                Some(holding.of(reader, set, old, same)?)
            }
            _ => None,
        };
        let kept = holds.as_ref().map_or(0, |h| h.len());
        done.rules_kept += kept;
        done.rules_run += set.rules.len() - kept;
        items.push(Item {
            id,
            report,
            key,
            earlier,
            holds,
            previous,
            year_before,
        });
    }
    let given: Vec<_> = items
        .iter()
        .map(|item| (&item.report, item.previous.as_ref()))
        .collect();
    let earlier: Vec<Option<Earlier<'_>>> = items
        .iter()
        .map(|item| {
            item.holds.as_deref().map(|holds| Earlier {
                findings: &item.earlier,
                holds,
            })
        })
        .collect();
    // The register once for the batch; each report's units below it.
    let (all, register) = ctx.run_given(reader, set, &given, &earlier);
    let mut news = Vec::with_capacity(items.len());
    let mut recipients = Vec::with_capacity(items.len());
    for (item, findings) in items.iter().zip(&all) {
        let new = findings.iter().any(|f| {
            f.severity >= min
                && !item
                    .earlier
                    .iter()
                    .any(|e| e.rule == f.rule && e.message == f.message)
        });
        news.push(new);
        recipients.push(
            (mail && new).then(|| mail::recipients_in(&ctx.config.mail, &item.report, &register)),
        );
    }
    // The batch is recorded in one transaction: one commit, not one per report.
    let changed = if mode == ReauditMode::DryRun {
        items
            .iter()
            .map(|i| {
                last_audits.get(&i.id).and_then(|a| a.ruleset.as_deref()) != Some(i.key.as_str())
            })
            .collect()
    } else {
        let writes: Vec<crate::store::Reaudit<'_>> = items
            .iter()
            .zip(&all)
            .zip(&recipients)
            .map(|((item, findings), to)| crate::store::Reaudit {
                id: item.id,
                findings,
                ruleset: &item.key,
                year_before: item.year_before,
                notify: to.as_deref(),
            })
            .collect();
        ctx.with_store(|s| s.record_reaudits(&writes))?
    };
    for ((changed, new), to) in changed.into_iter().zip(news).zip(recipients) {
        if changed {
            done.changed += 1;
            if new {
                done.news += 1;
            }
            if let Some(to) = &to {
                done.queued += 1;
                if to.is_empty() {
                    done.unrouted += 1;
                }
            }
        }
    }
    Ok(())
}

/// Puts a report's corrections in place (a later correction of a cell wins) and gives the key
/// its audit is stored under: the rule set's version, marked with the last correction when
/// cells were corrected, so that an audit of corrected tables is one of its own.
pub fn apply_corrections(
    report: &mut Report,
    version: &str,
    corrections: &[crate::store::Correction],
) -> String {
    for c in corrections {
        if !report.correct(&c.table, &c.row, &c.column, c.value) {
            tracing::warn!(
                correction = c.id,
                "a correction names a cell the tables do not have ({} {}/{}); left out",
                c.table,
                c.row,
                c.column
            );
        }
    }
    match corrections.last() {
        Some(last) => format!("{version}+c{}", last.id),
        None => version.to_string(),
    }
}

/// A cell a reviewer corrects: `t3.granted.natural_person=22`.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFix {
    pub table: &'static str,
    pub row: String,
    pub column: String,
    pub value: f64,
}

impl std::str::FromStr for CellFix {
    type Err = String;

    fn from_str(s: &str) -> Result<CellFix, String> {
        let (cell, value) = s.split_once('=').ok_or_else(|| {
            format!("`{s}`: write TABLE.ROW.COLUMN=VALUE, e.g. t3.granted.natural_person=22")
        })?;
        let mut parts = cell.trim().splitn(3, '.');
        let (Some(t), Some(row), Some(column)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{cell}`: write TABLE.ROW.COLUMN, e.g. t3.granted.natural_person"
            ));
        };
        let table = crate::model::table_key(t)
            .ok_or_else(|| format!("`{t}`: the table is t2, t3 or t4"))?;
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("`{value}`: the value is a number"))?;
        if table != "table2" && (value < 0.0 || value.fract() != 0.0) {
            return Err(format!(
                "`{value}`: cells of tables 3 and 4 are whole numbers, 0 or more"
            ));
        }
        Ok(CellFix {
            table,
            row: row.trim().to_string(),
            column: column.trim().to_string(),
            value,
        })
    }
}

/// What a correction led to.
#[derive(Debug, Clone)]
pub struct Corrected {
    pub corrections: Vec<i64>,
    pub findings: usize,
    /// A summary was queued for these recipients (empty: no route).
    pub queued: Option<Vec<String>>,
}

/// Records a reviewer's corrections of a stored report's cells and audits it again at once with
/// the corrected tables; the parsed value, the correction, who and when are kept, and a summary
/// of the new findings is queued for mailing as a fresh report's would be. `None` when the
/// report is not a parsed report inside `scope`.
pub fn correct(
    config: &Config,
    scope: &crate::store::Scope,
    id: i64,
    fixes: &[CellFix],
    note: Option<&str>,
    by: &str,
) -> Result<Option<Corrected>> {
    let ctx = Context::open(config.clone())?;
    let Some(stored) = ctx.with_store(|s| s.stored_report(scope, id))? else {
        return Ok(None);
    };
    let Some(parsed) = stored.report else {
        return Ok(None);
    };
    let mut ids = Vec::new();
    for fix in fixes {
        let mut probe = parsed.clone();
        if !probe.correct(fix.table, &fix.row, &fix.column, fix.value) {
            anyhow::bail!(
                "{} has no row `{}` with a column `{}` (the keys are those of `check --format json`)",
                crate::present::table_zh(fix.table),
                fix.row,
                fix.column
            );
        }
        let printed = parsed
            .raw_cells
            .get(fix.table)
            .and_then(|t| t.get(&fix.row))
            .and_then(|r| r.get(&fix.column))
            .cloned();
        let cell = (fix.table, fix.row.as_str(), fix.column.as_str());
        match ctx.with_store(|s| {
            s.add_correction(scope, id, cell, printed.as_deref(), fix.value, note, by)
        })? {
            Some(c) => ids.push(c),
            None => return Ok(None),
        }
    }
    let set = ctx.current_rules();
    let mut report = parsed;
    let corrections = ctx.with_store(|s| s.corrections(id))?;
    let key = apply_corrections(&mut report, &set.version, &corrections);
    let report = Arc::new(report);
    let (findings, register, year_before) = ctx.run_rules(&set, &report);
    let min = config.mail.min_severity;
    let to = findings
        .iter()
        .any(|f| f.severity >= min)
        .then(|| mail::recipients_in(&config.mail, &report, &register));
    ctx.with_store(|s| s.record_reaudit(id, &findings, &key, year_before, to.as_deref()))?;
    Ok(Some(Corrected {
        corrections: ids,
        findings: findings.len(),
        queued: to,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_fixes_read_as_written_and_refuse_what_no_table_holds() {
        let fix: CellFix = "t3.granted.natural_person=22".parse().expect("fix");
        assert_eq!(
            fix,
            CellFix {
                table: "table3",
                row: "granted".into(),
                column: "natural_person".into(),
                value: 22.0
            }
        );
        assert_eq!(
            "t2.fees.amount_wan=1.5".parse::<CellFix>().map(|f| f.value),
            Ok(1.5)
        );
        for bad in [
            "t3.granted=2",
            "t5.a.b=1",
            "t3.granted.total=-1",
            "t3.granted.total=1.5",
            "t3.granted.total=x",
            "t3.granted.total",
        ] {
            assert!(bad.parse::<CellFix>().is_err(), "{bad}");
        }
    }

    fn context(dir: &Path) -> Arc<Context> {
        let config = Config::defaults(dir);
        Arc::new(Context::open(config).expect("context"))
    }

    fn seed_copy(dir: &Path, name: &str) -> PathBuf {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
        let src = std::fs::read_dir(seeds)
            .expect("seeds")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "txt"))
            .expect("a seed");
        std::fs::create_dir_all(dir.join("inbox")).expect("inbox");
        let path = dir.join("inbox").join(name);
        std::fs::copy(src, &path).expect("copy");
        path
    }

    #[test]
    fn a_file_the_daemon_holds_open_is_left_and_taken_once_it_is_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let path = seed_copy(dir.path(), "held.txt");
        // Held as the daemon holds its log: open before the snapshot of its descriptors.
        let held = std::fs::File::open(&path).expect("open");
        *ctx.own_files.lock().expect("own files") = watch::OwnFiles::now();
        let done = ctx.process_file(&path);
        assert!(
            matches!(&done, Processed::Later { reason } if reason.contains("daemon's own")),
            "{done:?}"
        );
        assert!(path.exists(), "left where it is");
        // Closed: the snapshot that shows it held is asked again, even while fresh.
        drop(held);
        let done = ctx.process_file(&path);
        assert!(matches!(done, Processed::Stored { .. }), "{done:?}");
    }

    /// Stands for a worker stuck in a step: registers its job, waits until the watchdog gives
    /// up on it, then tries to go on as a worker would; returns whether it could.
    fn stuck_worker(ctx: &Arc<Context>, path: &Path) -> std::thread::JoinHandle<bool> {
        let (ctx, path) = (ctx.clone(), path.to_path_buf());
        let (tx, rx) = std_mpsc::channel();
        let h = std::thread::spawn(move || {
            let state = Arc::new(AtomicU8::new(RUNNING));
            let me = std::thread::current().id();
            ctx.jobs().insert(
                me,
                Job {
                    path,
                    started: Instant::now(),
                    state: state.clone(),
                    extra: Arc::default(),
                    others: Vec::new(),
                },
            );
            tx.send(()).expect("registered");
            while state.load(Ordering::Acquire) == RUNNING {
                std::thread::sleep(Duration::from_millis(5));
            }
            let claimed = ctx.claim();
            ctx.jobs().remove(&me);
            claimed
        });
        rx.recv().expect("worker started");
        h
    }

    #[test]
    fn a_stuck_worker_is_given_up_once_and_its_report_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let path = seed_copy(dir.path(), "stuck.txt");
        let worker = stuck_worker(&ctx, &path);

        assert!(ctx.overdue(Duration::from_secs(60)).is_empty(), "not yet");
        std::thread::sleep(Duration::from_millis(30));
        let overdue = ctx.overdue(Duration::from_millis(20));
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].path, path);
        assert!(
            ctx.overdue(Duration::from_millis(20)).is_empty(),
            "given up once"
        );

        let done = ctx.give_up(&path, overdue[0].after);
        let Processed::Quarantined { id, reason } = done else {
            panic!("not quarantined: {done:?}");
        };
        assert!(reason.contains("given up"), "{reason}");
        assert!(reason.contains("limits.parse_time"), "{reason}");
        // The worker, when its step ends, must leave the report alone.
        assert!(!worker.join().expect("worker"));

        // Kept: in quarantine with the reason, and in the store under its content's hash.
        assert!(!path.exists());
        let kept: Vec<PathBuf> = std::fs::read_dir(dir.path().join("quarantine"))
            .expect("quarantine")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(kept.len(), 2, "{kept:?}");
        let note = kept
            .iter()
            .find(|p| p.to_string_lossy().ends_with(".reason.txt"))
            .expect("reason file");
        assert!(std::fs::read_to_string(note)
            .expect("note")
            .contains("given up"));
        let bytes = std::fs::read(kept.iter().find(|p| *p != note).expect("file")).expect("read");
        let known = ctx.with_store(|s| s.stored(&pipeline::sha256_hex(&bytes)));
        assert_eq!(known.expect("store").map(|k| k.id), Some(id));
    }

    /// A stored report as the batch test compares it: its content hash, status, year before
    /// (as its content hash) and findings (rule, message).
    type Kept = (String, String, Option<String>, Vec<(String, String)>);

    fn stored(ctx: &Context) -> Vec<Kept> {
        let db = rusqlite::Connection::open(&ctx.config.database).expect("database");
        let mut reports = db
            .prepare(
                "SELECT r.id, r.sha256, r.status, p.sha256 FROM reports r
                 LEFT JOIN reports p ON p.id = r.year_before ORDER BY r.sha256",
            )
            .expect("query");
        let rows: Vec<(i64, String, String, Option<String>)> = reports
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        rows.into_iter()
            .map(|(id, sha, status, before)| {
                let mut f = db
                    .prepare("SELECT rule, message FROM findings WHERE report_id = ?1 ORDER BY id")
                    .expect("findings");
                let findings = f
                    .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .expect("findings")
                    .collect::<Result<_, _>>()
                    .expect("findings");
                (sha, status, before, findings)
            })
            .collect()
    }

    /// The files of a batch: the seeds, one office's report of the year after its seed's
    /// (after it, so it is audited after the seed is stored), a file that is no report, and a
    /// seed's content twice under two names.
    fn batch_files(dir: &Path) -> Vec<PathBuf> {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seeds");
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).expect("inbox");
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(seeds)
            .expect("seeds")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        seeds.sort();
        let mut files = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            let path = inbox.join(format!("{i}.txt"));
            std::fs::copy(seed, &path).expect("copy");
            files.push(path);
            if i == 0 {
                let next = std::fs::read_to_string(seed)
                    .expect("seed")
                    .replace("2020年", "2021年");
                let path = inbox.join("0-next-year.txt");
                std::fs::write(&path, next).expect("write");
                files.push(path);
                let path = inbox.join("0-again.txt");
                std::fs::copy(seed, &path).expect("copy");
                files.push(path);
            }
        }
        let path = inbox.join("not-a-report.txt");
        std::fs::write(&path, "这不是一份年度报告。").expect("write");
        files.push(path);
        files
    }

    #[test]
    fn a_batch_stores_what_one_file_after_the_other_would() {
        // The shipped pack, so that there are findings to compare.
        let pack = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let context = |dir: &Path| {
            let mut config = Config::defaults(dir);
            config.rules_dir = pack.clone();
            Arc::new(Context::open(config).expect("context"))
        };
        let one = tempfile::tempdir().expect("tempdir");
        let ctx_one = context(one.path());
        for path in batch_files(one.path()) {
            ctx_one.process_file(&path);
        }
        let batched = tempfile::tempdir().expect("tempdir");
        let ctx_batch = context(batched.path());
        let files = batch_files(batched.path());
        assert!(files.len() <= BATCH + 1, "{}", files.len());
        assert!(work_on(&ctx_batch, files[..BATCH].to_vec()));
        assert!(work_on(&ctx_batch, files[BATCH..].to_vec()));

        let (a, b) = (stored(&ctx_one), stored(&ctx_batch));
        assert_eq!(a.len(), 7, "{a:?}");
        assert!(a.iter().map(|r| r.3.len()).sum::<usize>() >= 10, "{a:?}");
        assert_eq!(a, b);
        // The year after found the seed as its year before, stored in the same batch.
        assert_eq!(a.iter().filter(|r| r.2.is_some()).count(), 1, "{a:?}");
        assert!(a.iter().any(|r| r.1 == "unparseable"));
        // Every file left the inbox: archived, quarantined, or archived as a copy.
        for dir in [one.path(), batched.path()] {
            let left: Vec<_> = std::fs::read_dir(dir.join("inbox"))
                .expect("inbox")
                .flatten()
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }

    #[test]
    fn a_copy_in_the_same_batch_is_a_duplicate_of_the_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let files = [
            seed_copy(dir.path(), "a.txt"),
            seed_copy(dir.path(), "b.txt"),
        ];
        let ready: Vec<Prepared> = files
            .iter()
            .map(|p| match ctx.prepare(p) {
                Step::Ready(r) => *r,
                Step::Done(d) => panic!("not ready: {d:?}"),
            })
            .collect();
        let done = ctx.audit_and_store_all(ready);
        let Processed::Stored { id, .. } = done[0] else {
            panic!("{done:?}");
        };
        assert_eq!(done[1], Processed::Duplicate { id });
        assert!(files.iter().all(|f| !f.exists()), "both archived");
    }

    #[test]
    fn runs_of_a_batch_keep_an_issuers_year_after_apart_from_its_year() {
        let item = |org: &str, year: i32| Prepared {
            path: PathBuf::from(format!("{org}-{year}.txt")),
            outcome: Outcome {
                report: Some(Arc::new(Report {
                    organization: Some(org.to_string()),
                    year: Some(year),
                    ..Report::default()
                })),
                ..Outcome::unreadable(Path::new("x"), String::new())
            },
            stamp: None,
        };
        let unread = Prepared {
            path: PathBuf::from("garbage"),
            outcome: Outcome::unreadable(Path::new("garbage"), "no report".to_string()),
            stamp: None,
        };
        let runs = independent(vec![
            item("甲", 2021),
            item("乙", 2020),
            unread,
            item("甲", 2020),
            item("甲", 2022),
            item("乙", 2021),
            item("丙", 2022),
        ]);
        let names: Vec<Vec<String>> = runs
            .iter()
            .map(|run| {
                run.iter()
                    .map(|p| p.path.to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            [
                vec!["甲-2021.txt", "乙-2020.txt", "garbage", "甲-2020.txt"],
                vec!["甲-2022.txt", "乙-2021.txt", "丙-2022.txt"],
            ]
        );
    }

    #[test]
    fn the_rest_of_a_given_up_workers_batch_is_handed_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let me = std::thread::current().id();
        let others = vec![PathBuf::from("b.txt"), PathBuf::from("c.txt")];
        ctx.jobs().insert(
            me,
            Job {
                path: PathBuf::from("a.txt"),
                started: Instant::now(),
                state: Arc::new(AtomicU8::new(RUNNING)),
                extra: Arc::default(),
                others: others.clone(),
            },
        );
        std::thread::sleep(Duration::from_millis(30));
        let overdue = ctx.overdue(Duration::from_millis(20));
        ctx.jobs().remove(&me);
        assert_eq!(overdue.len(), 1);
        assert_eq!(overdue[0].path, PathBuf::from("a.txt"));
        assert_eq!(overdue[0].others, others);
    }

    #[test]
    fn a_worker_that_claims_its_report_first_is_not_given_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let path = seed_copy(dir.path(), "quick.txt");
        let state = Arc::new(AtomicU8::new(RUNNING));
        let me = std::thread::current().id();
        ctx.jobs().insert(
            me,
            Job {
                path: path.clone(),
                started: Instant::now(),
                state: state.clone(),
                extra: Arc::default(),
                others: Vec::new(),
            },
        );
        assert!(ctx.claim());
        assert!(ctx.claim(), "claiming again is harmless");
        std::thread::sleep(Duration::from_millis(20));
        assert!(ctx.overdue(Duration::from_millis(10)).is_empty());
        ctx.jobs().remove(&me);
        // Outside a worker's job, processing is never refused.
        assert!(matches!(ctx.process_file(&path), Processed::Stored { .. }));
    }

    #[test]
    fn a_file_that_changes_after_it_was_read_is_neither_stored_nor_moved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = context(dir.path());
        let path = seed_copy(dir.path(), "growing.txt");
        let stamp = Stamp::at(&path).expect("stamp");
        let outcome = pipeline::read_bytes(&path, &std::fs::read(&path).expect("read"));
        // The copy goes on while the report is audited.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut f, "\n（续）\n".as_bytes()).expect("append");
        drop(f);
        let done = ctx.audit_and_store(&path, outcome.clone(), Some(stamp));
        assert!(matches!(done, Processed::Later { .. }), "{done:?}");
        assert_eq!(
            ctx.with_store(|s| s.stored(&outcome.sha256))
                .expect("store"),
            None
        );
        assert!(path.exists());
        assert_eq!(*ctx.resettle.lock().expect("resettle"), vec![path.clone()]);

        // Stored, then changed before the move: the file is not the report stored, so it stays.
        ctx.resettle.lock().expect("resettle").clear();
        let stamp = Stamp::at(&path).expect("stamp");
        let bytes = std::fs::read(&path).expect("read");
        let sha = pipeline::sha256_hex(&bytes);
        let id = ctx
            .with_store(|s| {
                s.record(
                    &pipeline::read_bytes(&path, &bytes),
                    None,
                    &store::now(),
                    None,
                )
            })
            .expect("record");
        std::fs::write(&path, [bytes.as_slice(), "（再续）".as_bytes()].concat()).expect("grow");
        ctx.move_done(&path, &sha, id, Some(stamp));
        assert!(path.exists(), "moved although changed");
        assert!(!dir.path().join("archive").exists());
        assert_eq!(*ctx.resettle.lock().expect("resettle"), vec![path.clone()]);
        // Unchanged, it is moved.
        let stamp = Stamp::at(&path).expect("stamp");
        ctx.move_done(&path, &sha, id, Some(stamp));
        assert!(!path.exists());
    }
}
