//! `mail test`, `mail retry`, `mail preview`.

use super::rule_pack::report_load_errors;
use super::*;

pub(super) fn mail_test(explicit: Option<&Path>, to: &str) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mailer = Mailer::new(&config.mail)?;
    let id = mailer.send_test(to)?;
    println!("test message {id} accepted for {to}");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn mail_retry(explicit: Option<&Path>, failed: bool) -> Result<ExitCode> {
    let config = config(explicit)?;
    if !config.database.is_file() {
        return Err(StoreError::Missing(config.database.clone()).into());
    }
    let mut store = Store::open(&config.database)?;
    if !failed {
        let n = store.retry_pending_now()?;
        println!(
            "{n} pending notice{} due now; the running daemon mails {} at its next round (group_wait and group_interval still apply)",
            if n == 1 { " is" } else { "s are" },
            if n == 1 { "it" } else { "them" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let back = store.retry_failed()?;
    if back.is_empty() {
        println!("no failed notices");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} failed notice{} pending again; the running daemon mails {}:",
        back.len(),
        if back.len() == 1 { " is" } else { "s are" },
        if back.len() == 1 { "it" } else { "them" }
    );
    for n in back.iter().rev() {
        println!(
            "  report #{} {}{}",
            n.report_id,
            n.organization.as_deref().unwrap_or("(发布机关不详)"),
            n.last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(" (was: {e})"))
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn mail_preview(
    explicit: Option<&Path>,
    path: &Path,
    html: bool,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let config = config(explicit)?;
    let mailer = Mailer::offline(&config.mail)?;
    let outcome = pipeline::read_path_within(path, config.budget, config.max_file_size);
    let Some(report) = &outcome.report else {
        println!(
            "{}: not readable as a report: {}",
            path.display(),
            outcome.error.unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    };
    let set = report_load_errors(crate::setup::load_rules(&config)?);
    let findings = set.run(report, None);
    let to = crate::mail::recipients(&config.mail, report);
    let rendered = crate::mail::preview(
        &mailer,
        report,
        &path.to_string_lossy(),
        &findings,
        &set.titles(),
    )?;
    let mailed = findings
        .iter()
        .any(|f| f.severity >= config.mail.min_severity);
    println!(
        "To: {}",
        if to.is_empty() {
            "(no route, no fallback: kept unsent)".to_string()
        } else {
            to.join(", ")
        }
    );
    if !mailed {
        println!(
            "(no finding at or above {}: no mail would be sent)",
            config.mail.min_severity.as_str()
        );
    }
    println!("Subject: {}\n", rendered.subject);
    println!("{}", if html { &rendered.html } else { &rendered.text });
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let stem = path
            .file_stem()
            .map_or_else(|| "preview".into(), |s| s.to_string_lossy().into_owned());
        // Without a route the message is addressed to the sender, as a preview only.
        let to = if to.is_empty() {
            vec![config.mail.from.clone()]
        } else {
            to
        };
        let eml = dir.join(format!("{stem}.eml"));
        let page = dir.join(format!("{stem}.html"));
        std::fs::write(&eml, mailer.formatted(&to, &rendered)?)
            .with_context(|| format!("cannot write {}", eml.display()))?;
        std::fs::write(&page, &rendered.html)
            .with_context(|| format!("cannot write {}", page.display()))?;
        eprintln!(
            "wrote {} (the message as sent, {} attached) and {} (open it in a browser)",
            eml.display(),
            crate::mail::WORKBOOK_NAME,
            page.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
