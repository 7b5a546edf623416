//! `units`: the register of units expected to report, and who has reported.

use super::*;

pub(super) fn import(explicit: Option<&Path>, file: &Path) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut store = Store::open(&config.database)?;
    match crate::units::import(&mut store, file) {
        Ok(n) => {
            println!(
                "{n} units imported from {} (the register was replaced)",
                file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("ogi-audit: {e}; the register is unchanged");
            Ok(ExitCode::from(1))
        }
    }
}

pub(super) fn list(explicit: Option<&Path>, format: Format) -> Result<ExitCode> {
    let config = config(explicit)?;
    let units = Store::open_read_only(&config.database)?.units()?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(std::io::stdout().lock(), &units)?;
            println!();
        }
        Format::Human => {
            for u in &units {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    u.name,
                    u.kind.as_str(),
                    u.parent.as_deref().unwrap_or("-"),
                    u.aliases.join(";"),
                    u.emails.join(";")
                );
            }
            println!("{} units", units.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(explicit: Option<&Path>, year: i32, format: Format) -> Result<ExitCode> {
    let config = config(explicit)?;
    let store = Store::open_read_only(&config.database)?;
    let c = crate::units::coverage(&store, year, &config.rule_settings)?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(std::io::stdout().lock(), &c)?;
            println!();
        }
        Format::Human => {
            for u in &c.units {
                let detail = match &u.report {
                    Some(r) => format!(
                        "{} (report {}, {} errors, {} warnings{}){}",
                        r.file,
                        r.report_id,
                        r.errors,
                        r.warnings,
                        if u.versions > 1 {
                            format!(", {} versions received", u.versions)
                        } else {
                            String::new()
                        },
                        u.late_by
                            .as_deref()
                            .map_or(String::new(), |l| format!("；{l}"))
                    ),
                    None => format!("due {}", u.due),
                };
                println!("{:<9} {}  {detail}", u.status, u.name);
            }
            for a in &c.unmatched {
                println!(
                    "unmatched report {} ({}): no unit; `ogi-audit units assign {} UNIT`",
                    a.report_id,
                    a.organization.as_deref().unwrap_or("?"),
                    a.report_id
                );
            }
            for (a, names) in &c.ambiguous {
                println!(
                    "ambiguous report {} ({}): {}; `ogi-audit units assign {} UNIT`",
                    a.report_id,
                    a.organization.as_deref().unwrap_or("?"),
                    names.join(" / "),
                    a.report_id
                );
            }
            let count = |s: &str| c.units.iter().filter(|u| u.status == s).count();
            println!(
                "{year}: {} received, {} late, {} missing of {} units",
                count("received"),
                count("late"),
                count("missing"),
                c.units.len()
            );
        }
    }
    let short = c.units.iter().any(|u| u.status != "received");
    Ok(if short {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(super) fn assign(
    explicit: Option<&Path>,
    report: i64,
    unit: &str,
    by: Option<&str>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mut store = Store::open(&config.database)?;
    let by = review::actor(by);
    if store.assign_unit(report, unit, &by)? {
        println!("report {report} assigned to {unit}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("ogi-audit: no report {report} or no unit named {unit}");
        Ok(ExitCode::from(1))
    }
}
