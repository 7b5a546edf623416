//! `check`: reports read and audited without the daemon, printed file by file.

use super::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::rules::Subject;

/// Where each issuer's report of each year is, among the files checked and the `--previous`
/// ones, so that a report is audited against its previous year's as the daemon does.
struct Years {
    /// Each issuer's year's files, in the order given.
    files: BTreeMap<(String, i32), Vec<PathBuf>>,
}

impl Years {
    /// Reads every file once for its issuer and year (only kept: the path), on `jobs` threads;
    /// only as much of it as tells them is parsed ([`pipeline::identify_path_within`]). With one
    /// file and no `--previous`, there is nothing to look up and nothing is read.
    fn index(
        files: &[PathBuf],
        previous: &[PathBuf],
        config: &Config,
        jobs: usize,
    ) -> Result<Self> {
        let mut all = pipeline::report_files(previous)?;
        if !all.is_empty() || files.len() > 1 {
            all.extend(files.iter().cloned());
        }
        let mut out = BTreeMap::new();
        let chunks: Vec<&[PathBuf]> = all.chunks(rules::BATCH).collect();
        in_order(
            &chunks,
            jobs,
            || (),
            |(), chunk| {
                chunk
                    .iter()
                    .map(|f| pipeline::identify_path_within(f, config.budget, config.max_file_size))
                    .collect::<Vec<_>>()
            },
            |(chunk, ids)| {
                for (f, id) in chunk.iter().zip(ids) {
                    if let Some(id) = id {
                        out.entry(id).or_insert_with(Vec::new).push(f.clone());
                    }
                }
                Ok(())
            },
        )?;
        Ok(Years { files: out })
    }

    /// The same issuer's report of the year before: the first of its files, in the order
    /// given, that parses (the index found its issuer and year as the parse does). Among `read`
    /// (the batch's reports, by path) when it is one of them, else read again.
    fn previous_of(
        &self,
        report: &Report,
        read: &HashMap<&Path, &Arc<Report>>,
        config: &Config,
    ) -> Option<Arc<Report>> {
        let key = (report.organization.clone()?, report.year? - 1);
        self.files
            .get(&key)?
            .iter()
            .find_map(|path| match read.get(path.as_path()) {
                Some(r) => Some(Arc::clone(r)),
                None => {
                    pipeline::read_path_within(path, config.budget, config.max_file_size).report
                }
            })
    }
}

/// Runs `work` over `items` on `jobs` threads, each with its own state from `init`, and hands
/// each item with its result to `sink` in the items' order. A thread takes the next item only
/// while fewer than `2 × jobs` results wait for the ones before them, so a slow item holds
/// back no more than that in memory. `sink`'s first error stops the work and is returned.
fn in_order<'a, T: Sync, S, R: Send>(
    items: &'a [T],
    jobs: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) -> R + Sync,
    mut sink: impl FnMut((&'a T, R)) -> Result<()>,
) -> Result<()> {
    use std::sync::{mpsc, Condvar, Mutex};
    let jobs = jobs.clamp(1, items.len().max(1));
    let window = 2 * jobs;
    struct Queue {
        /// The next item to take.
        next: usize,
        /// Items handed to `sink` so far.
        handed: usize,
        /// `sink` failed: nothing more is taken.
        stopped: bool,
    }
    let state = Mutex::new(Queue {
        next: 0,
        handed: 0,
        stopped: false,
    });
    let moved = Condvar::new();
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (state, moved, init, work) = (&state, &moved, &init, &work);
            scope.spawn(move || {
                let mut mine = init();
                loop {
                    let i = {
                        let Ok(mut s) = state.lock() else { return };
                        while !s.stopped && s.next < items.len() && s.next >= s.handed + window {
                            s = match moved.wait(s) {
                                Ok(s) => s,
                                Err(_) => return,
                            };
                        }
                        if s.stopped || s.next >= items.len() {
                            return;
                        }
                        s.next += 1;
                        s.next - 1
                    };
                    if tx.send((i, work(&mut mine, &items[i]))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut done = 0usize;
        let mut result = Ok(());
        for (i, r) in rx.iter() {
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&done) {
                if result.is_ok() {
                    result = sink((&items[done], r));
                }
                done += 1;
            }
            if let Ok(mut s) = state.lock() {
                s.handed = done;
                s.stopped |= result.is_err();
            }
            moved.notify_all();
        }
        result
    })
}

pub(super) fn check(
    paths: &[PathBuf],
    previous: &[PathBuf],
    set: &RuleSet,
    config: &Config,
    format: Format,
    fail_on: Severity,
    jobs: Option<usize>,
) -> Result<ExitCode> {
    let files = pipeline::report_files(paths)?;
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let years = Years::index(&files, previous, config, jobs)?;
    let mut out = buffered_stdout();
    // Batch by batch on `jobs` threads, printed in the order given: a folder of 10,000 reports
    // is never held in memory at once.
    let (mut failed, mut flagged) = (false, false);
    if format == Format::Json {
        writeln!(out, "{{\n  \"reports\": [")?;
    }
    let batches: Vec<&[PathBuf]> = files.chunks(rules::BATCH).collect();
    let mut first = true;
    // Each thread runs its own copy of the rule set (RuleSet::fork); one thread runs `set`.
    let forks = jobs.min(batches.len()) > 1;
    in_order(
        &batches,
        jobs,
        || forks.then(|| set.fork()),
        |mine, batch| audit_batch(mine.as_ref().unwrap_or(set), batch, &years, config),
        |(_, outcomes)| {
            for o in outcomes {
                failed |= o.status != Status::Parsed;
                flagged |= o.findings.iter().any(|f| f.severity >= fail_on);
                match format {
                    Format::Json => {
                        if !first {
                            writeln!(out, ",")?;
                        }
                        serde_json::to_writer_pretty(&mut out, &o)?;
                    }
                    Format::Human => write_human(&mut out, &o)?,
                }
                first = false;
            }
            out.flush()?;
            Ok(())
        },
    )?;
    if format == Format::Json {
        writeln!(out, "\n  ]\n}}")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else if flagged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads a batch of files and audits what was read, each report against its previous year's;
/// the rules run over the batch as a whole ([`RuleSet::run_batch`]).
fn audit_batch(set: &RuleSet, files: &[PathBuf], years: &Years, config: &Config) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = files
        .iter()
        .map(|f| pipeline::read_path_within(f, config.budget, config.max_file_size))
        .collect();
    let read: HashMap<&Path, &Arc<Report>> = files
        .iter()
        .zip(&outcomes)
        .filter_map(|(f, o)| Some((f.as_path(), o.report.as_ref()?)))
        .collect();
    let previous: Vec<Option<Arc<Report>>> = outcomes
        .iter()
        .map(|o| {
            o.report
                .as_ref()
                .and_then(|r| years.previous_of(r, &read, config))
        })
        .collect();
    let subjects = outcomes
        .iter()
        .zip(&previous)
        .filter_map(|(o, p)| o.report.as_ref().map(|r| Subject::new(r, p.as_ref())))
        .collect();
    let mut findings = set.run_batch(subjects).into_iter();
    for o in outcomes.iter_mut().filter(|o| o.report.is_some()) {
        o.findings = findings.next().unwrap_or_default();
    }
    outcomes
}

pub(super) fn cell(v: Option<i64>) -> String {
    v.map_or_else(|| "·".to_string(), |v| v.to_string())
}

pub(super) fn write_human(out: &mut impl Write, o: &Outcome) -> Result<()> {
    writeln!(out, "== {}", o.path.display())?;
    let Some(r) = &o.report else {
        writeln!(
            out,
            "   UNPARSEABLE: {}",
            o.error.as_deref().unwrap_or("unknown reason")
        )?;
        writeln!(out)?;
        return Ok(());
    };
    write_report(out, r)?;
    for why in &o.needs_review {
        writeln!(out, "   NEEDS MANUAL REVIEW: {why}")?;
    }
    let colour = std::io::stdout().is_terminal();
    for f in &o.findings {
        let tag = f.severity.as_str();
        let tag = match (colour, f.severity) {
            (false, _) => format!("[{tag}]"),
            (true, Severity::Error) => format!("\x1b[31m[{tag}]\x1b[0m"),
            (true, Severity::Warning) => format!("\x1b[33m[{tag}]\x1b[0m"),
            (true, Severity::Info) => format!("\x1b[36m[{tag}]\x1b[0m"),
        };
        writeln!(out, "   {tag} {}: {}", f.rule, f.message)?;
    }
    writeln!(out)?;
    Ok(())
}

pub(super) fn write_report(out: &mut impl Write, r: &Report) -> Result<()> {
    writeln!(
        out,
        "   issuer: {}   year: {}   template: {}",
        r.organization.as_deref().unwrap_or("?"),
        r.year.map_or("?".to_string(), |y| y.to_string()),
        match (r.template, r.table2_template) {
            (Some(t3), Some(t2)) if t2 != t3 => format!("{t3} (table 2: {t2})"),
            (t3, _) => t3.map_or("?", |t| t.as_str()).to_string(),
        },
    )?;
    let sections: Vec<&str> = r.sections.iter().map(|s| s.as_str()).collect();
    writeln!(out, "   sections: {}", sections.join(", "))?;
    if let Some(p) = &r.period {
        writeln!(out, "   period: {} – {}", p.start, p.end)?;
    }
    writeln!(out, "   table 3 ({}):", T3_COLUMNS.join(" "))?;
    if let Some(t) = r.template {
        for row in crate::model::t3_rows(t) {
            if let Some(cols) = r.table3.get(row) {
                let cells: Vec<String> = T3_COLUMNS
                    .iter()
                    .map(|c| cell(cols.get(*c).copied().flatten()))
                    .collect();
                writeln!(out, "     {row:<24} {}", cells.join(" "))?;
            }
        }
    }
    writeln!(out, "   table 4 ({}):", T4_COLUMNS.join(" "))?;
    for g in T4_GROUPS {
        if let Some(cols) = r.table4.get(g) {
            let cells: Vec<String> = T4_COLUMNS
                .iter()
                .map(|c| cell(cols.get(*c).copied().flatten()))
                .collect();
            writeln!(out, "     {g:<24} {}", cells.join(" "))?;
        }
    }
    writeln!(out, "   claims: {}", r.claims.len())?;
    for w in &r.warnings {
        writeln!(out, "   warning: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Items handed on in order however long each takes, each thread with its own state; the
    /// sink's error stops the work: the threads take at most the window's worth more.
    #[test]
    fn in_order_keeps_the_order_and_stops_at_the_first_error() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        in_order(
            &items,
            3,
            || 0u64,
            |calls, i| {
                *calls += 1;
                // Uneven work: later items often finish before earlier ones.
                std::thread::sleep(Duration::from_micros((i * 7919) % 13 * 50));
                i * 2
            },
            |(i, doubled)| {
                assert_eq!(*i * 2, doubled);
                seen.push(*i);
                Ok(())
            },
        )
        .expect("no error");
        assert_eq!(seen, items);

        let taken = AtomicUsize::new(0);
        let mut handed = 0;
        let err = in_order(
            &items,
            3,
            || (),
            |(), i| {
                taken.fetch_add(1, Ordering::Relaxed);
                *i
            },
            |(i, _)| {
                handed += 1;
                if *i == 10 {
                    anyhow::bail!("stdout closed")
                }
                Ok(())
            },
        )
        .expect_err("the sink's error");
        assert_eq!(err.to_string(), "stdout closed");
        assert_eq!(handed, 11, "nothing handed on after the error");
        let taken = taken.load(Ordering::Relaxed);
        assert!(taken <= 11 + 2 * 3 + 3, "{taken} items worked on");
    }
}
