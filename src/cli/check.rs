//! `check`: reports read and audited without the daemon, printed file by file.

use super::*;

use std::collections::BTreeMap;
use std::sync::Arc;

/// Where each issuer's report of each year is, among the files checked and the `--previous`
/// ones, so that a report is audited against its previous year's as the daemon does.
struct Years {
    files: BTreeMap<(String, i32), PathBuf>,
}

impl Years {
    /// Reads every file once for its issuer and year (only kept: the path). With one file and
    /// no `--previous`, there is nothing to look up and nothing is read.
    fn index(files: &[PathBuf], previous: &[PathBuf], config: &Config) -> Result<Self> {
        let mut all = pipeline::report_files(previous)?;
        if !all.is_empty() || files.len() > 1 {
            all.extend(files.iter().cloned());
        }
        let mut out = BTreeMap::new();
        for f in all {
            let o = pipeline::read_path_within(&f, config.budget, config.max_file_size);
            if let Some(r) = &o.report {
                if let (Some(org), Some(year)) = (&r.organization, r.year) {
                    out.entry((org.clone(), year)).or_insert(f);
                }
            }
        }
        Ok(Years { files: out })
    }

    /// The same issuer's report of the year before, read again.
    fn previous_of(&self, report: &Report, config: &Config) -> Option<Arc<Report>> {
        let key = (report.organization.clone()?, report.year? - 1);
        let path = self.files.get(&key)?;
        pipeline::read_path_within(path, config.budget, config.max_file_size).report
    }
}

pub(super) fn check(
    paths: &[PathBuf],
    previous: &[PathBuf],
    set: &RuleSet,
    config: &Config,
    format: Format,
    fail_on: Severity,
) -> Result<ExitCode> {
    let files = pipeline::report_files(paths)?;
    let years = Years::index(&files, previous, config)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // File by file: a folder of 10,000 reports is never held in memory at once.
    let (mut failed, mut flagged) = (false, false);
    if format == Format::Json {
        writeln!(out, "{{\n  \"reports\": [")?;
    }
    for (i, f) in files.iter().enumerate() {
        let mut o = pipeline::read_path_within(f, config.budget, config.max_file_size);
        if let Some(report) = &o.report {
            let last = years.previous_of(report, config);
            o.findings = set.run(report, last.as_ref());
        }
        failed |= o.status != Status::Parsed;
        flagged |= o.findings.iter().any(|f| f.severity >= fail_on);
        match format {
            Format::Json => {
                if i > 0 {
                    writeln!(out, ",")?;
                }
                serde_json::to_writer_pretty(&mut out, &o)?;
            }
            Format::Human => write_human(&mut out, &o)?,
        }
        out.flush()?;
    }
    if format == Format::Json {
        writeln!(out, "\n  ]\n}}")?;
    }
    Ok(if failed {
        ExitCode::from(2)
    } else if flagged {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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
