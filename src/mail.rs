//! Mail: summaries of findings to the office responsible for each report.
//!
//! Modelled on alerting systems: a report's notice is written to the store in the same
//! transaction as the report (so no notice is lost); notices wait `group_wait`, are grouped per
//! set of recipients into one summary, and later notices for the same recipients go out at most
//! every `group_interval`. A notice is marked sent only after the server accepted the message;
//! transient failures are retried with backoff, permanent ones recorded with the reason. Without
//! an SMTP server the same messages are written as `.eml` files to the outbox.
//!
//! A summary lists at most `max_reports` reports: a larger group (a folder dropped at once) goes
//! out as several summaries in the same round, one read and sent at a time.
//! A summary larger than `max_message_size` goes out in consecutive parts in the same round, each
//! under the limit and numbered in its subject; a server that refuses a message as too large
//! (552) has it split further, and a single report's summary it still refuses is marked failed
//! with that reason. While its rounds fail (the database unusable) the mailer waits longer after
//! each failure, up to a minute, and logs once per wait.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};
use minijinja::Environment;
use thiserror::Error;

use crate::config::{Mail, Security, Transport};
use crate::model::{Finding, Report, Severity};
use crate::present::{ShownReport, Titles};
use crate::store::{self, Notice, Store, StoreError};

/// Mail that cannot be set up (stops the daemon at start-up) or sent.
#[derive(Debug, Error)]
pub enum MailError {
    #[error("mail template {name}: {message}")]
    Template { name: String, message: String },
    #[error("mail: the environment variable {0} (mail.smtp.password_env) is not set")]
    Password(String),
    #[error("mail: {0}")]
    Setup(String),
    #[error("mail not accepted (permanent): {0}")]
    Permanent(String),
    #[error("mail not accepted, too large for the server: {0}")]
    TooLarge(String),
    #[error("mail not sent (will retry): {0}")]
    Transient(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SUBJECT: &str = include_str!("mail/subject.txt");
const BODY_TEXT: &str = include_str!("mail/body.txt");
const BODY_HTML: &str = include_str!("mail/body.html");
const REMINDER: &str = include_str!("mail/reminder.txt");
const COVERAGE: &str = include_str!("mail/coverage.txt");

/// A rendered summary: subject, both parts, and the workbook attached.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `.xlsx` of the findings and tables ([`crate::workbook`]).
    pub workbook: Vec<u8>,
}

/// The workbook's media type.
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The attached workbook's file name.
pub const WORKBOOK_NAME: &str = "审核结果.xlsx";

/// The recipients a report's summary goes to: the first matching route, plus the report's own
/// address if configured; the fallback when nothing matched. Sorted and deduplicated.
pub fn recipients(mail: &Mail, report: &Report) -> Vec<String> {
    let org = report.organization.as_deref().unwrap_or("");
    let mut to = routed(mail, org);
    if mail.use_report_contact {
        to.extend(
            report
                .contact
                .emails
                .iter()
                .filter(|e| e.parse::<lettre::Address>().is_ok())
                .cloned(),
        );
    }
    if to.is_empty() {
        to = mail.fallback.clone();
    }
    to.sort();
    to.dedup();
    to
}

/// The recipients of a report's summary given the units register: the addresses of the one
/// unit its issuer matches (as coverage matches it), else [`recipients`] (routes, fallback).
/// The report's own address is added as [`recipients`] adds it.
pub fn recipients_in(
    mail: &Mail,
    report: &Report,
    register: &crate::units::Matcher,
) -> Vec<String> {
    let unit = report
        .organization
        .as_deref()
        .and_then(|org| match register.find(org) {
            crate::units::Match::One(id) => register.units().iter().find(|u| u.id == id),
            _ => None,
        });
    match unit.filter(|u| !u.emails.is_empty()) {
        None => recipients(mail, report),
        Some(u) => {
            let mut to = u.emails.clone();
            if mail.use_report_contact {
                to.extend(
                    report
                        .contact
                        .emails
                        .iter()
                        .filter(|e| e.parse::<lettre::Address>().is_ok())
                        .cloned(),
                );
            }
            to.sort();
            to.dedup();
            to
        }
    }
}

/// The recipients of the first route that matches an issuer's name (none: empty).
pub fn routed(mail: &Mail, org: &str) -> Vec<String> {
    mail.routes
        .iter()
        .find(|r| {
            r.organization.as_ref().is_none_or(|g| g.is_match(org))
                && r.organization_regex
                    .as_ref()
                    .is_none_or(|g| g.is_match(org))
                && (r.region.is_empty() || r.region.iter().any(|w| org.contains(w.as_str())))
        })
        .map(|r| r.to.clone())
        .unwrap_or_default()
}

/// A plain-text letter (a reminder, the office's coverage summary): the template's first line
/// is the subject, the rest the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub text: String,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

enum Sender {
    File(FileTransport),
    Smtp(Box<SmtpTransport>),
    /// Renders only (previews, checks).
    Offline,
}

/// Renders and sends summaries.
pub struct Mailer {
    config: Mail,
    env: Environment<'static>,
    sender: Sender,
}

/// Keeps a header value on one line, whatever the report's text holds.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A body's text with CRLF line endings, as mail has them. Lettre would add each CR by an
/// insertion that moves the rest of the text, which for a summary of a hundred reports (thousands
/// of lines) cost more than auditing them; here the text is copied once. A CR already before an
/// LF is kept, as lettre keeps it.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut from = 0;
    for (i, _) in text.match_indices('\n') {
        if i == 0 || text.as_bytes()[i - 1] != b'\r' {
            out.push_str(&text[from..i]);
            out.push('\r');
            from = i;
        }
    }
    out.push_str(&text[from..]);
    out
}

impl Mailer {
    /// Loads the templates (checked by rendering a sample) and sets up the transport.
    pub fn new(config: &Mail) -> Result<Mailer, MailError> {
        Mailer::build(config, true)
    }

    /// Loads the templates only: for previews and checks, which send nothing (no outbox is
    /// created, no SMTP password is needed).
    pub fn offline(config: &Mail) -> Result<Mailer, MailError> {
        Mailer::build(config, false)
    }

    fn build(config: &Mail, sending: bool) -> Result<Mailer, MailError> {
        let mut env = Environment::new();
        for (name, builtin) in [
            ("subject.txt", SUBJECT),
            ("body.txt", BODY_TEXT),
            ("body.html", BODY_HTML),
            ("reminder.txt", REMINDER),
            ("coverage.txt", COVERAGE),
        ] {
            let source = match &config.templates {
                Some(dir) if dir.join(name).is_file() => std::fs::read_to_string(dir.join(name))
                    .map_err(|e| MailError::Template {
                        name: dir.join(name).display().to_string(),
                        message: e.to_string(),
                    })?,
                _ => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), source)
                .map_err(|e| MailError::Template {
                    name: name.to_string(),
                    message: e.to_string(),
                })?;
        }
        let sender = match config.transport {
            _ if !sending => Sender::Offline,
            Transport::File => {
                std::fs::create_dir_all(&config.outbox).map_err(|e| {
                    MailError::Setup(format!(
                        "cannot create outbox {}: {e}",
                        config.outbox.display()
                    ))
                })?;
                Sender::File(FileTransport::new(&config.outbox))
            }
            Transport::Smtp => Sender::Smtp(Box::new(smtp_transport(config)?)),
        };
        let mailer = Mailer {
            config: config.clone(),
            env,
            sender,
        };
        // A template that does not render is found now, not when the first report arrives.
        mailer.render(&[sample_report()])?;
        for (name, ctx) in crate::remind::samples() {
            mailer.letter(name, &ctx)?;
        }
        Ok(mailer)
    }

    /// Renders a letter template (`reminder.txt`, `coverage.txt`) with `ctx`.
    pub fn letter(&self, name: &str, ctx: &minijinja::Value) -> Result<Letter, MailError> {
        let ctx = minijinja::context! {
            public_url => self.config.public_url.as_deref().map(|u| u.trim_end_matches('/')),
            generated_at => store::now(),
            ..ctx.clone()
        };
        let text = self
            .env
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| MailError::Template {
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;
        let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
        Ok(Letter {
            subject: one_line(subject),
            text: body.trim_start_matches('\n').to_string(),
        })
    }

    /// Sends a plain-text letter; returns its Message-ID.
    pub fn send_letter(&self, to: &[String], letter: &Letter) -> Result<String, MailError> {
        let message_id = format!("<{}.{}@ogi-audit>", now_ms(), std::process::id());
        let message = self
            .builder(to)?
            .subject(letter.subject.clone())
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(crlf(&letter.text))
            .map_err(|e| MailError::Permanent(e.to_string()))?;
        self.deliver(&message)?;
        Ok(message_id)
    }

    /// A message from the configured sender to these recipients.
    fn builder(&self, to: &[String]) -> Result<lettre::message::MessageBuilder, MailError> {
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|e| MailError::Permanent(format!("from address: {e}")))?;
        let mut builder = Message::builder().from(from);
        for addr in to {
            let mb: Mailbox = addr
                .parse()
                .map_err(|e| MailError::Permanent(format!("recipient {addr}: {e}")))?;
            builder = builder.to(mb);
        }
        Ok(builder)
    }

    /// Renders the summary of these reports.
    pub fn render(&self, reports: &[ShownReport]) -> Result<Rendered, MailError> {
        let sum = |f: fn(&ShownReport) -> usize| reports.iter().map(f).sum::<usize>();
        let ctx = minijinja::context! {
            reports => reports,
            counts => minijinja::context! {
                reports => reports.len(),
                errors => sum(|r| r.errors),
                warnings => sum(|r| r.warnings),
                infos => sum(|r| r.infos),
                review => reports.iter().filter(|r| r.needs_review()).count(),
            },
            public_url => self.config.public_url.as_deref().map(|u| u.trim_end_matches('/')),
            workbook => WORKBOOK_NAME,
            generated_at => store::now(),
        };
        let render = |name: &str| -> Result<String, MailError> {
            self.env
                .get_template(name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| MailError::Template {
                    name: name.to_string(),
                    message: format!("{e:#}"),
                })
        };
        Ok(Rendered {
            subject: one_line(&render("subject.txt")?),
            text: render("body.txt")?,
            html: render("body.html")?,
            workbook: crate::workbook::workbook(reports)
                .map_err(|e| MailError::Setup(e.to_string()))?,
        })
    }

    /// Builds the message for these recipients; returns it with its Message-ID.
    fn message(&self, to: &[String], rendered: &Rendered) -> Result<(Message, String), MailError> {
        self.message_titled(to, rendered, rendered.subject.clone())
    }

    /// [`Mailer::message`] under another subject (a part's).
    fn message_titled(
        &self,
        to: &[String],
        rendered: &Rendered,
        subject: String,
    ) -> Result<(Message, String), MailError> {
        let builder = self.builder(to)?.subject(subject);
        let message_id = format!("<{}.{}@ogi-audit>", now_ms(), std::process::id());
        let message = builder
            .message_id(Some(message_id.clone()))
            .multipart(
                MultiPart::mixed()
                    .multipart(
                        MultiPart::alternative()
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_PLAIN)
                                    .body(crlf(&rendered.text)),
                            )
                            .singlepart(
                                SinglePart::builder()
                                    .header(ContentType::TEXT_HTML)
                                    .body(crlf(&rendered.html)),
                            ),
                    )
                    .singlepart(
                        Attachment::new(WORKBOOK_NAME.to_string()).body(
                            rendered.workbook.clone(),
                            ContentType::parse(XLSX_TYPE)
                                .map_err(|e| MailError::Setup(e.to_string()))?,
                        ),
                    ),
            )
            .map_err(|e| MailError::Permanent(e.to_string()))?;
        Ok((message, message_id))
    }

    /// The message for these recipients as it would be sent (`mail preview --out`).
    pub fn formatted(&self, to: &[String], rendered: &Rendered) -> Result<Vec<u8>, MailError> {
        Ok(self.message(to, rendered)?.0.formatted())
    }

    /// Hands one message to the transport.
    fn deliver(&self, message: &Message) -> Result<(), MailError> {
        match &self.sender {
            Sender::File(t) => t
                .send(message)
                .map(|_| ())
                .map_err(|e| MailError::Transient(e.to_string())),
            Sender::Offline => Err(MailError::Setup(
                "this mailer only renders messages (offline)".into(),
            )),
            Sender::Smtp(t) => match t.send(message) {
                Ok(_) => Ok(()),
                Err(e) if too_large(&e) => Err(MailError::TooLarge(e.to_string())),
                Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
                // An address with characters the server cannot take (no SMTPUTF8): no retry
                // makes it go.
                Err(e) if e.to_string().contains("SMTPUTF8") => Err(MailError::Permanent(format!(
                    "{e} (an address with non-ASCII characters)"
                ))),
                Err(e) => Err(MailError::Transient(e.to_string())),
            },
        }
    }

    /// Sends one message; returns its Message-ID.
    pub fn send(&self, to: &[String], rendered: &Rendered) -> Result<String, MailError> {
        let (message, message_id) = self.message(to, rendered)?;
        self.deliver(&message)?;
        Ok(message_id)
    }

    /// Sends a test message (`ogi-audit mail test`).
    pub fn send_test(&self, to: &str) -> Result<String, MailError> {
        let rendered = self.render(&[sample_report()])?;
        let rendered = Rendered {
            subject: format!("[ogi-audit] 测试邮件 / test message: {}", rendered.subject),
            ..rendered
        };
        self.send(&[to.to_string()], &rendered)
    }

    /// Checks the SMTP connection (for `validate`); the file transport always passes.
    pub fn test_connection(&self) -> Result<(), MailError> {
        match &self.sender {
            Sender::File(_) | Sender::Offline => Ok(()),
            Sender::Smtp(t) => match t.test_connection() {
                Ok(true) => Ok(()),
                Ok(false) => Err(MailError::Transient(
                    "the SMTP server did not answer".into(),
                )),
                Err(e) => Err(MailError::Transient(e.to_string())),
            },
        }
    }

    /// Splits `range` of `reports` into consecutive parts whose messages are at most `limit`
    /// bytes, halving until each fits; a single report is a part however large it is. `whole`:
    /// `range` is the whole summary (sent without a part note if it fits). Each part measured
    /// keeps its rendering, and the whole summary its message, to be sent as they are.
    fn partition(
        &self,
        to: &[String],
        reports: &[ShownReport],
        range: Range<usize>,
        limit: u64,
        whole: bool,
        out: &mut Vec<Part>,
    ) -> Result<(), MailError> {
        if range.len() <= 1 {
            out.push(Part {
                range,
                rendered: None,
                message: None,
            });
            return Ok(());
        }
        let rendered = self.render(&reports[range.clone()])?;
        // A part is measured with the longest part note its subject can get.
        let subject = if whole {
            rendered.subject.clone()
        } else {
            format!("{}{LONGEST_PART_NOTE}", rendered.subject)
        };
        let (message, id) = self.message_titled(to, &rendered, subject)?;
        let size = message.formatted().len();
        if size as u64 <= limit {
            out.push(Part {
                range,
                rendered: Some(rendered),
                message: whole.then_some((message, id, size)),
            });
            return Ok(());
        }
        let mid = range.start + range.len() / 2;
        self.partition(to, reports, range.start..mid, limit, false, out)?;
        self.partition(to, reports, mid..range.end, limit, false, out)
    }

    /// A part's message as it is sent (numbered in its subject when `total` > 1), rendered and
    /// built now unless it was while being measured; with its rendering, Message-ID and size.
    fn build_part(
        &self,
        to: &[String],
        reports: &[ShownReport],
        part: Part,
        (number, total): (usize, usize),
    ) -> Result<(Rendered, Message, String, usize), MailError> {
        let mut rendered = match part.rendered {
            Some(r) => r,
            None => self.render(reports)?,
        };
        if total > 1 {
            rendered.subject = part_subject(&rendered.subject, number, total);
        } else if let Some((message, id, size)) = part.message {
            return Ok((rendered, message, id, size));
        }
        let (message, id) = self.message(to, &rendered)?;
        let size = message.formatted().len();
        Ok((rendered, message, id, size))
    }

    /// Sends every group of notices that is due; returns how many messages went out. Stops
    /// between messages once `stop` is set (what is not sent stays pending).
    pub fn tick(&self, store: &Mutex<Store>, stop: &AtomicBool) -> Result<usize, MailError> {
        let now = now_ms();
        let lock = || locked(store);
        let groups = lock().pending_groups()?;
        // What the server refuses as too large lowers the limit for the rest of this tick.
        let mut limit = self.config.max_message_size;
        let mut sent = 0;
        for g in groups {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let wait = i64::try_from(self.config.group_wait.as_millis()).unwrap_or(i64::MAX);
            let interval =
                i64::try_from(self.config.group_interval.as_millis()).unwrap_or(i64::MAX);
            if now < g.first_created_ms.saturating_add(wait) || now < g.next_attempt_ms {
                continue;
            }
            let mut notices = lock().pending_notices(&g.recipients)?;
            if self.config.require_review {
                // Held until every finding that would be mailed has a reviewer's decision.
                let mut ready = Vec::new();
                for n in notices {
                    let waiting = lock().awaiting_review(
                        n.report_id,
                        &n.ruleset,
                        self.config.min_severity,
                    )?;
                    if waiting == 0 {
                        ready.push(n);
                    }
                }
                notices = ready;
            }
            // A notice tried before belongs to a summary that was due already (a part that failed
            // while the others went out, or a server that was down): `group_interval` spaces new
            // summaries, not the retries of one.
            let retrying = notices.iter().any(|n| n.attempts > 0);
            if !retrying {
                if let Some(last) = lock().last_mail_ms(&g.recipients)? {
                    if now < last.saturating_add(interval) {
                        continue;
                    }
                }
            }
            // At most `max_reports` per summary: a group of thousands (a folder dropped at
            // once) is mailed as several summaries in this round, one after the other, so the
            // mailer never holds them all in memory.
            for chunk in notices.chunks(self.config.max_reports.max(1)) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let (n, finished) =
                    self.send_chunk(store, &g.recipients, chunk, &mut limit, now, stop)?;
                sent += n;
                if !finished {
                    break;
                }
            }
        }
        Ok(sent)
    }

    /// Mails the summary of some of a group's notices (read from the store here), in as many
    /// parts as `limit` needs; `false` when it stopped early (shutdown, a server to retry).
    fn send_chunk(
        &self,
        store: &Mutex<Store>,
        recipients: &str,
        notices: &[Notice],
        limit: &mut u64,
        now: i64,
        stop: &AtomicBool,
    ) -> Result<(usize, bool), MailError> {
        let lock = || locked(store);
        let mut notices = notices.to_vec();
        let mut reports = Vec::new();
        let mut nothing_left = Vec::new();
        let mut titles = crate::present::TitleCache::default();
        for n in &notices {
            let guard = lock();
            let (report, path, findings) = if self.config.require_review {
                guard.confirmed_for_mail(n.report_id, &n.ruleset)?
            } else {
                guard.report_for_mail(n.report_id, &n.ruleset)?
            };
            let titles = titles.of(&guard, &n.ruleset)?;
            let corrected = guard.corrected_cells(n.report_id)?;
            drop(guard);
            if self.config.require_review && findings.is_empty() {
                nothing_left.push(n.id);
                continue;
            }
            reports.push(
                ShownReport::new(n.report_id, report.as_ref(), &path, &findings, titles)
                    .with_corrected(report.as_ref(), &findings, &corrected),
            );
        }
        if !nothing_left.is_empty() {
            lock().mark_unmailed(
                &nothing_left,
                "not mailed: a reviewer dismissed every finding",
            )?;
            notices.retain(|n| !nothing_left.contains(&n.id));
        }
        if notices.is_empty() {
            return Ok((0, true));
        }
        let to: Vec<String> = serde_json::from_str(recipients).unwrap_or_default();
        let group = Group {
            recipients,
            to: &to,
            notices: &notices,
            reports: &reports,
        };
        self.send_group(store, &group, limit, now, stop)
    }

    /// Sends one group's summary, in as many parts as `limit` needs, all in this tick.
    fn send_group(
        &self,
        store: &Mutex<Store>,
        g: &Group<'_>,
        limit: &mut u64,
        now: i64,
        stop: &AtomicBool,
    ) -> Result<(usize, bool), MailError> {
        let lock = || locked(store);
        let to = g.to.join(", ");
        let mut parts = Vec::new();
        self.partition(
            g.to,
            g.reports,
            0..g.reports.len(),
            *limit,
            true,
            &mut parts,
        )?;
        if parts.len() > 1 {
            tracing::info!(to = %to, reports = g.reports.len(), parts = parts.len(), limit = *limit, "summary split into parts (mail.max_message_size)");
        }
        let mut queue: VecDeque<Part> = parts.into();
        // Parts are numbered within this tick: those sent, and those still to send.
        let mut done = 0usize;
        let mut total = queue.len();
        let mut sent = 0;
        while let Some(part) = queue.pop_front() {
            let range = part.range.clone();
            if stop.load(Ordering::Relaxed) {
                tracing::info!(to = %to, reports = range.len() + queue.iter().map(|p| p.range.len()).sum::<usize>(), "shutting down: the rest of the summary stays pending");
                return Ok((sent, false));
            }
            let reports = &g.reports[range.clone()];
            let ids: Vec<i64> = g.notices[range.clone()].iter().map(|n| n.id).collect();
            let built = self.build_part(g.to, reports, part, (done + 1, total));
            let (rendered, message, message_id, size) = match built {
                Ok(b) => b,
                Err(MailError::Permanent(reason)) => {
                    tracing::error!(to = %to, "summary not sent: {reason}");
                    lock().mark_failed(&ids, &reason)?;
                    total = total.saturating_sub(1);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if size as u64 > *limit {
                tracing::warn!(to = %to, report = reports[0].id, size, limit = *limit, "the summary of one report alone is larger than mail.max_message_size; sent alone");
            }
            match self.deliver(&message) {
                Ok(()) => {
                    lock().mark_sent(&ids, g.recipients, &rendered.subject, &message_id, now)?;
                    tracing::info!(to = %to, reports = reports.len(), size, subject = %rendered.subject, "summary mailed");
                    done += 1;
                    sent += 1;
                }
                Err(MailError::TooLarge(reason)) if reports.len() > 1 => {
                    // The server's limit is below this message: keep under it from now on.
                    *limit = (*limit).min(size.saturating_sub(1) as u64);
                    tracing::warn!(to = %to, reports = reports.len(), size, limit = *limit, "the mail server refused the summary as too large ({reason}); splitting it and sending the rest of this round's mail under {} bytes", *limit);
                    let rest = range.start..queue.back().map_or(range.end, |p| p.range.end);
                    let mut again = Vec::new();
                    self.partition(g.to, g.reports, rest, *limit, false, &mut again)?;
                    queue = again.into();
                    total = done + queue.len();
                }
                Err(MailError::TooLarge(reason)) => {
                    let reason = format!(
                        "the summary of this report alone ({size} bytes) is larger than the mail server accepts: {reason}"
                    );
                    tracing::error!(to = %to, report = reports[0].id, "summary rejected: {reason}");
                    lock().mark_failed(&ids, &reason)?;
                    total = total.saturating_sub(1);
                }
                Err(MailError::Permanent(reason)) => {
                    tracing::error!(to = %to, "summary rejected: {reason}");
                    lock().mark_failed(&ids, &reason)?;
                    total = total.saturating_sub(1);
                }
                Err(e) => {
                    // The rest of the summary waits with this part: the group is due again when
                    // this part is (its latest `next_attempt_ms`).
                    let attempts = g.notices[range.clone()]
                        .iter()
                        .map(|n| n.attempts)
                        .max()
                        .unwrap_or(0)
                        + 1;
                    let backoff = backoff(attempts);
                    tracing::warn!(to = %to, attempts, retry_in = ?backoff, "{e}");
                    let next =
                        now.saturating_add(i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX));
                    lock().mark_retry(&ids, &e.to_string(), next)?;
                    return Ok((sent, false));
                }
            }
        }
        Ok((sent, true))
    }

    /// The daemon's mailer: a tick every `tick` until `stop` is set. While ticks fail (the
    /// database unusable, a template that no longer renders) it waits longer after each
    /// failure, from `tick` up to a minute, logging once per wait; the first tick that works
    /// resets it. Wakes early when its thread is unparked (shutdown).
    /// With `reminders`, each tick also sends the reminders that are due ([`crate::remind`]).
    pub fn run(
        &self,
        store: &Mutex<Store>,
        stop: &AtomicBool,
        tick: Duration,
        mut reminders: Option<crate::remind::Reminding>,
    ) {
        let mut failing = Backoff::new(tick, MAX_FAILURE_WAIT);
        while !stop.load(Ordering::Relaxed) {
            let round = self
                .tick(store, stop)
                .and_then(|sent| match &mut reminders {
                    Some(r) => r.tick(self, store, stop).map(|_| sent),
                    None => Ok(sent),
                });
            let wait = match round {
                Ok(_) => {
                    if failing.reset() {
                        tracing::info!("mailer: working again; the waiting summaries are mailed");
                    }
                    tick
                }
                Err(e) => {
                    let wait = failing.next_wait();
                    let retry_in = humantime::format_duration(wait);
                    let waiting = waiting(store);
                    match e {
                        MailError::Store(e) => tracing::error!(
                            "mailer: the database is unusable ({e}); {waiting}; next try in {retry_in}"
                        ),
                        e => tracing::error!("mailer: {e}; {waiting}; next try in {retry_in}"),
                    }
                    wait
                }
            };
            let until = Instant::now() + wait;
            while !stop.load(Ordering::Relaxed) {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::park_timeout(left);
            }
        }
    }
}

/// One set of recipients' pending notices and their reports, in the same order.
struct Group<'a> {
    recipients: &'a str,
    to: &'a [String],
    notices: &'a [Notice],
    reports: &'a [ShownReport],
}

/// One message of a summary: a range of its reports, with what was built of it while it was
/// measured ([`Mailer::partition`]).
struct Part {
    range: Range<usize>,
    /// The summary of these reports, without a part note.
    rendered: Option<Rendered>,
    /// The whole summary as one message: the message, its Message-ID and size.
    message: Option<(Message, String, usize)>,
}

/// The part note of a split summary's subject, at its longest (for measuring).
const LONGEST_PART_NOTE: &str = "（第99999/99999部分）";

/// A split summary's subject: which part of how many.
fn part_subject(subject: &str, part: usize, parts: usize) -> String {
    format!("{subject}（第{part}/{parts}部分）")
}

/// Whether the server refused a message for its size: reply 552 (RFC 5321: exceeded storage
/// allocation, in practice the size limit) unless it says a mailbox is full, or any permanent
/// reply that says so in words or by the enhanced codes 5.3.4 and 5.2.3.
fn too_large(e: &lettre::transport::smtp::Error) -> bool {
    too_large_reply(e.status().map(u16::from), e.is_permanent(), &e.to_string())
}

/// [`too_large`] on the parts of a reply: its code, whether it is permanent, its text.
fn too_large_reply(code: Option<u16>, permanent: bool, text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let full = text.contains("5.2.2") || text.contains("mailbox full") || text.contains("quota");
    let says = [
        "5.3.4",
        "5.2.3",
        "too large",
        "too big",
        "too much mail data",
        "size",
    ]
    .iter()
    .any(|w| text.contains(w));
    match code {
        Some(552) => !full,
        Some(_) => permanent && says,
        None => false,
    }
}

/// The longest the mailer waits between failing ticks.
const MAX_FAILURE_WAIT: Duration = Duration::from_secs(60);

/// Waits that double after each failure, from `base` up to `max`.
#[derive(Debug)]
struct Backoff {
    base: Duration,
    max: Duration,
    current: Option<Duration>,
}

impl Backoff {
    fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            current: None,
        }
    }

    /// The wait after one more failure.
    fn next_wait(&mut self) -> Duration {
        let wait = self
            .current
            .map_or(self.base, |c| c.saturating_mul(2))
            .min(self.max);
        self.current = Some(wait);
        wait
    }

    /// Back to no failure; true when there had been one.
    fn reset(&mut self) -> bool {
        self.current.take().is_some()
    }
}

/// The store, also after another thread panicked holding it: every write to it is a statement
/// or a transaction of its own, so a panic leaves nothing half written for the mailer to read.
fn locked(store: &Mutex<Store>) -> std::sync::MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What waits to be mailed, for the mailer's error log: the count of pending notices and
/// their first reports, or why they cannot be read.
fn waiting(store: &Mutex<Store>) -> String {
    let guard = locked(store);
    match guard.waiting(10) {
        Ok((0, _)) => "no summary waits to be mailed".to_string(),
        Ok((count, reports)) => {
            let ids: Vec<String> = reports.iter().map(|id| format!("#{id}")).collect();
            let more = if count > reports.len() as i64 {
                ", …"
            } else {
                ""
            };
            format!(
                "{count} report{} waiting to be mailed (report{} {}{more})",
                if count == 1 { "" } else { "s" },
                if count == 1 { "" } else { "s" },
                ids.join(", ")
            )
        }
        Err(e) => format!("the reports waiting to be mailed cannot be counted ({e})"),
    }
}

/// 1 s, 2 s, 4 s … up to 5 minutes between attempts.
pub(crate) fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(2u64.saturating_pow(exp).min(300))
}

fn smtp_transport(config: &Mail) -> Result<SmtpTransport, MailError> {
    let smtp = &config.smtp;
    let tls = || {
        TlsParameters::new(smtp.host.clone())
            .map_err(|e| MailError::Setup(format!("TLS for {}: {e}", smtp.host)))
    };
    let mut builder = SmtpTransport::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .timeout(Some(smtp.timeout));
    builder = match smtp.security {
        Security::None => builder.tls(Tls::None),
        Security::StartTls => builder.tls(Tls::Required(tls()?)),
        Security::Tls => builder.tls(Tls::Wrapper(tls()?)),
    };
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_env {
            Some(var) => std::env::var(var).map_err(|_| MailError::Password(var.clone()))?,
            None => String::new(),
        };
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// A report for checking templates and for `mail test`: one finding about cells, one about a
/// sentence, one with no evidence, and a cell not read.
fn sample_report() -> ShownReport {
    use crate::model::T3_COLUMNS;
    let mut report = Report {
        organization: Some("示例市人民政府办公室".to_string()),
        year: Some(2025),
        template: Some(crate::model::Template::Y2021),
        ..Report::default()
    };
    for (row, v) in [
        ("new_received", 10),
        ("carried_over", 0),
        ("total_processed", 9),
        ("carried_forward", 0),
    ] {
        let cells = T3_COLUMNS
            .iter()
            .map(|c| {
                (
                    c.to_string(),
                    Some(if *c == "natural_person" || *c == "total" {
                        v
                    } else {
                        0
                    }),
                )
            })
            .collect();
        report.table3.insert(row.to_string(), cells);
    }
    let cell = |row: &str, wrong: bool| serde_json::json!({"table": "table3", "row": row, "column": "total", "wrong": wrong});
    let findings = [
        Finding {
            rule: "t3-balance".to_string(),
            severity: Severity::Error,
            message: "表三“总计”列：本年新收10 + 上年结转0 = 10，但办理结果总计9 + 结转下年度0 = 9"
                .to_string(),
            evidence: serde_json::json!({"cells": [
                cell("new_received", false), cell("carried_over", false),
                cell("total_processed", true), cell("carried_forward", false)]}),
        },
        Finding {
            rule: "narrative-vs-tables".to_string(),
            severity: Severity::Error,
            message: "正文“收到申请12件”与表三本年新收总计10不一致".to_string(),
            evidence: serde_json::json!({
                "quote": {"sentence": "全年共收到政府信息公开申请12件。", "start": 13, "end": 16},
                "cells": [cell("new_received", false)]}),
        },
        Finding {
            rule: "reply-rate-stated".to_string(),
            severity: Severity::Warning,
            message: "正文未说明办结率或答复率".to_string(),
            evidence: serde_json::json!({}),
        },
    ];
    let titles: Titles = [
        ("t3-balance", "表三平衡关系"),
        ("narrative-vs-tables", "正文与表三、表四一致"),
        ("reply-rate-stated", "说明办结率"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    ShownReport::new(0, Some(&report), "示例.txt", &findings, &titles)
}

/// The summary `mail preview` shows for one parsed report.
pub fn preview(
    mailer: &Mailer,
    report: &Report,
    path: &str,
    findings: &[Finding],
    titles: &Titles,
) -> Result<Rendered, MailError> {
    mailer.render(&[ShownReport::new(0, Some(report), path, findings, titles)])
}

/// Counts of notices by status, for `status`.
pub type NoticeCounts = BTreeMap<String, i64>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn mail(extra: &str) -> Mail {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!("[mail]\nfallback = [\"fb@example.org\"]\n{extra}"),
        )
        .expect("write");
        Config::load(&path).expect("config").mail
    }

    fn report(org: &str, emails: &[&str]) -> Report {
        let mut r = Report {
            organization: Some(org.to_string()),
            ..Report::default()
        };
        r.contact.emails = emails.iter().map(|e| e.to_string()).collect();
        r
    }

    #[test]
    fn routes_match_by_glob_regex_and_region_first_match_wins() {
        let m = mail(
            "[[mail.routes]]\norganization = \"淮南市*\"\nto = [\"a@example.org\"]\n\
             [[mail.routes]]\norganization_regex = \"^淮南\"\nto = [\"never@example.org\"]\n\
             [[mail.routes]]\nregion = [\"沭阳\", \"宿迁\"]\nto = [\"c@example.org\", \"b@example.org\"]\n",
        );
        assert_eq!(
            recipients(&m, &report("淮南市人民政府办公室", &[])),
            ["a@example.org"]
        );
        assert_eq!(
            recipients(&m, &report("沭阳县发展和改革局", &[])),
            ["b@example.org", "c@example.org"]
        );
        assert_eq!(
            recipients(&m, &report("烟台市人民政府", &[])),
            ["fb@example.org"]
        );
        // Traditional script in the config is normalised like the reports.
        let m = mail("[[mail.routes]]\norganization = \"井陘礦區*\"\nto = [\"j@example.org\"]\n");
        assert_eq!(
            recipients(&m, &report("井陉矿区人民政府", &[])),
            ["j@example.org"]
        );
    }

    #[test]
    fn a_units_addresses_in_the_register_come_before_the_routes() {
        let m = mail("[[mail.routes]]\norganization = \"淮南市*\"\nto = [\"route@example.org\"]\n");
        let unit = |id: i64, name: &str, aliases: &[&str], emails: &[&str]| crate::store::Unit {
            id,
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            kind: crate::store::UnitKind::Department,
            parent: None,
            emails: emails.iter().map(|e| e.to_string()).collect(),
        };
        let units = [
            unit(1, "淮南市政府办公室", &[], &["unit@example.org"]),
            unit(2, "淮南市教育局", &[], &[]),
            unit(
                3,
                "淮安经济技术开发区党政办公室",
                &["经开区党政办"],
                &["jkq@example.org"],
            ),
        ];
        let units = crate::units::Matcher::new(units.to_vec());
        // By the normalised name (人民政府/政府), and by an alias.
        assert_eq!(
            recipients_in(&m, &report("淮南市人民政府办公室", &[]), &units),
            ["unit@example.org"]
        );
        assert_eq!(
            recipients_in(&m, &report("经开区党政办", &[]), &units),
            ["jkq@example.org"]
        );
        // A unit without an address, and an issuer in no register: the routes, then fallback.
        assert_eq!(
            recipients_in(&m, &report("淮南市教育局", &[]), &units),
            ["route@example.org"]
        );
        assert_eq!(
            recipients_in(&m, &report("烟台市人民政府", &[]), &units),
            ["fb@example.org"]
        );
        assert_eq!(
            recipients_in(
                &m,
                &report("淮南市人民政府办公室", &[]),
                &crate::units::Matcher::new(Vec::new())
            ),
            ["route@example.org"]
        );
    }

    #[test]
    fn the_reports_own_address_only_when_asked() {
        let r = report("烟台市人民政府", &["zwgk@yantai.example", "not an address"]);
        assert_eq!(recipients(&mail(""), &r), ["fb@example.org"]);
        let m = mail("use_report_contact = true\n");
        assert_eq!(recipients(&m, &r), ["zwgk@yantai.example"]);
    }

    #[test]
    fn report_text_is_escaped_in_html_and_kept_on_one_line_in_the_subject() {
        let m = mail(&format!(
            "outbox = \"{}\"\n",
            tempfile::tempdir().expect("tmp").path().display()
        ));
        let mailer = Mailer::new(&m).expect("mailer");
        let hostile = Finding {
            rule: "r<i>".into(),
            severity: Severity::Error,
            message: "正文“<b>”".into(),
            evidence: serde_json::json!({
                "quote": {"sentence": "<img src=x onerror=alert(1)>共12件", "start": 28, "end": 31},
                "cells": [{"table": "table3", "row": "<u>", "column": "total", "text": "<s>"}],
                "compared": [{"label": "<em>", "value": "<a href=javascript:x>"}],
            }),
        };
        let mut titles = Titles::new();
        titles.insert("r<i>".into(), "<marquee>".into());
        let r = ShownReport::new(
            1,
            Some(&report("<script>x</script>\r\nBcc: evil@example.org", &[])),
            "a<b>.txt",
            &[hostile],
            &titles,
        );
        let out = mailer.render(&[r]).expect("render");
        for tag in [
            "<img",
            "<u>",
            "<s>",
            "<em>",
            "<a href=javascript",
            "<marquee",
            "<i>",
            "<b>.txt",
        ] {
            assert!(!out.html.contains(tag), "{tag} in {}", out.html);
        }
        assert!(!out.html.contains("<script>"), "{}", out.html);
        assert!(out.html.contains("&lt;script&gt;"));
        assert!(out.html.contains("&lt;b&gt;"));
        assert!(
            !out.subject.contains('\n') && !out.subject.contains('\r'),
            "{}",
            out.subject
        );
    }

    #[test]
    fn a_report_with_unread_cells_says_so_in_both_parts() {
        let m = mail(&format!(
            "outbox = \"{}\"\n",
            tempfile::tempdir().expect("tmp").path().display()
        ));
        let mailer = Mailer::new(&m).expect("mailer");
        let none = Titles::new();
        let mut r = ShownReport::new(1, Some(&report("示例县人民政府", &[])), "a.txt", &[], &none);
        r.review =
            vec!["表三有7格未能读出（“(二)部分公开”），涉及这些格的核对未做，请人工核对".into()];
        let out = mailer.render(&[r]).expect("render");
        assert!(
            out.text.contains("需人工核对：表三有7格未能读出"),
            "{}",
            out.text
        );
        assert!(out.html.contains("需人工核对"), "{}", out.html);
        // The reasons come from the report itself: a report without tables has every cell unread.
        let bare = ShownReport::new(3, Some(&report("示例县人民政府", &[])), "c.txt", &[], &none);
        assert_eq!(bare.review.len(), 2, "{:?}", bare.review);
        let clean = ShownReport::new(2, None, "b.txt", &[], &none);
        assert!(clean.review.is_empty(), "{:?}", clean.review);
        let out = mailer.render(&[clean]).expect("render");
        assert!(!out.text.contains("需人工核对"));
    }

    #[test]
    fn bad_mail_settings_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        for (toml, key) in [
            ("[mail]\ntransport = \"pigeon\"\n", "mail.transport"),
            ("[mail]\nfrom = \"nobody\"\n", "mail.from"),
            (
                "[[mail.routes]]\nto = [\"a@example.org\"]\n",
                "mail.routes[0]",
            ),
            ("[mail.smtp]\nsecurity = \"ssl3\"\n", "mail.smtp.security"),
            (
                "[mail]\nmax_message_size = \"0\"\n",
                "mail.max_message_size",
            ),
            (
                "[mail]\nmax_message_size = \"10KB\"\n",
                "mail.max_message_size",
            ),
            (
                "[mail]\nmax_message_size = \"big\"\n",
                "mail.max_message_size",
            ),
        ] {
            std::fs::write(&path, toml).expect("write");
            let e = Config::load(&path).expect_err(toml).to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn the_message_size_limit_defaults_to_5mb_and_accepts_64kb() {
        assert_eq!(mail("").max_message_size, 5 << 20);
        assert_eq!(
            mail("max_message_size = \"64KB\"\n").max_message_size,
            64 << 10
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[mail]\nmax_message_size = \"1000\"\n").expect("write");
        let e = Config::load(&path).expect_err("too small").to_string();
        assert!(e.contains("too small") && e.contains("64KB"), "{e}");
    }

    #[test]
    fn size_refusals_are_told_from_other_rejections() {
        assert!(too_large_reply(
            Some(552),
            true,
            "permanent error (552): Error: Too much mail data"
        ));
        assert!(too_large_reply(
            Some(554),
            true,
            "permanent error (554): 5.3.4 Message size exceeds fixed limit"
        ));
        assert!(!too_large_reply(
            Some(552),
            true,
            "permanent error (552): 5.2.2 Mailbox full"
        ));
        assert!(!too_large_reply(
            Some(550),
            true,
            "permanent error (550): 5.1.1 mailbox unavailable"
        ));
        // A transient reply is retried as it is, whatever it says.
        assert!(!too_large_reply(
            Some(452),
            false,
            "transient error (452): message size exceeds the space left"
        ));
        assert!(!too_large_reply(None, false, "network error: size"));
    }

    fn many_reports(n: usize) -> Vec<ShownReport> {
        (0..n)
            .map(|i| {
                let mut r = sample_report();
                r.id = i64::try_from(i).expect("id");
                r.file = format!("r{i}.txt");
                r
            })
            .collect()
    }

    #[test]
    fn a_summary_is_split_into_consecutive_parts_under_the_limit() {
        let mailer = Mailer::offline(&mail("")).expect("mailer");
        let to = ["office@example.org".to_string()];
        let reports = many_reports(40);
        let size = |rendered: &Rendered| {
            let (message, _) = mailer.message(&to, rendered).expect("message");
            message.formatted().len() as u64
        };
        let whole = size(&mailer.render(&reports).expect("render"));
        let limit = whole / 3;
        let ranges = |limit: u64, range: Range<usize>| {
            let mut parts = Vec::new();
            mailer
                .partition(&to, &reports, range, limit, true, &mut parts)
                .expect("partition");
            parts
        };
        let parts = ranges(limit, 0..reports.len());
        assert!(parts.len() >= 3, "{}", parts.len());
        // Consecutive, covering every report once, each part's message under the limit with the
        // part note its subject gets; what was rendered while measuring is what is sent.
        assert_eq!(parts[0].range.start, 0);
        assert_eq!(parts.last().map(|p| p.range.end), Some(reports.len()));
        let total = parts.len();
        for (i, p) in parts.into_iter().enumerate() {
            let range = p.range.clone();
            assert!(p.message.is_none());
            let kept = p.rendered.as_ref().map(|r| r.text.clone());
            let (rendered, message, _, sent_size) = mailer
                .build_part(&to, &reports[range.clone()], p, (i + 1, total))
                .expect("part");
            assert!(sent_size as u64 <= limit);
            assert_eq!(message.formatted().len(), sent_size);
            let mut again = mailer.render(&reports[range]).expect("render");
            again.subject = part_subject(&again.subject, i + 1, total);
            assert_eq!(rendered.subject, again.subject);
            assert_eq!(kept.unwrap_or_else(|| again.text.clone()), again.text);
            assert_eq!(size(&again), sent_size as u64);
        }
        // A summary that fits is one message, sent as it was measured; a report larger than
        // the limit is a part alone.
        let mut parts = ranges(whole, 0..reports.len());
        assert_eq!(parts.len(), 1);
        let part = parts.remove(0);
        assert_eq!(part.range, 0..40);
        let (_, measured_id, measured_size) = part.message.as_ref().expect("the message kept");
        let (measured_id, measured_size) = (measured_id.clone(), *measured_size);
        let (_, message, id, sent_size) = mailer
            .build_part(&to, &reports, part, (1, 1))
            .expect("whole");
        assert_eq!((id, sent_size), (measured_id, measured_size));
        assert_eq!(message.formatted().len(), measured_size);
        let singles: Vec<Range<usize>> = ranges(10, 0..3).into_iter().map(|p| p.range).collect();
        assert_eq!(singles, [0..1, 1..2, 2..3]);
        assert_eq!(
            part_subject("[ogi-audit] 3份年度报告", 2, 5),
            "[ogi-audit] 3份年度报告（第2/5部分）"
        );
    }

    #[test]
    fn failing_rounds_wait_longer_each_time_up_to_a_minute() {
        let mut b = Backoff::new(Duration::from_millis(200), MAX_FAILURE_WAIT);
        let waits: Vec<Duration> = (0..12).map(|_| b.next_wait()).collect();
        assert_eq!(waits[0], Duration::from_millis(200));
        assert_eq!(waits[1], Duration::from_millis(400));
        assert_eq!(waits[4], Duration::from_millis(3200));
        assert_eq!(waits[11], Duration::from_secs(60));
        assert!(b.reset());
        assert!(!b.reset(), "reset once");
        assert_eq!(b.next_wait(), Duration::from_millis(200));
    }

    #[test]
    fn while_the_store_is_unusable_the_log_says_so_and_names_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let store = Mutex::new(Store::open(&path).expect("store"));
        assert_eq!(waiting(&store), "no summary waits to be mailed");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch("DROP TABLE notices"))
            .expect("drop");
        let said = waiting(&store);
        assert!(
            said.contains("cannot be counted") && said.contains("no such table: notices"),
            "{said}"
        );
    }

    /// The bodies sent are what lettre's own line-ending conversion makes of the text: the same
    /// encoding chosen, the same bytes.
    #[test]
    fn bodies_get_crlf_line_endings_as_lettre_gives_them() {
        use lettre::message::Body;
        let long = "长".repeat(600);
        for text in [
            "",
            "\n",
            "\n\nx",
            "a\r\nb\nc\r\n\n",
            "\r\n",
            "\r\r\n\r",
            "line one\nline two\n",
            "全年共收到申请58件。\n一、总体情况\r\n二、主动公开\n",
            &format!("{long}\n{long}\r\n{long}"),
            "<p>a &amp; b</p>\n<p>\u{FFFD}😀</p>",
        ] {
            let theirs = Body::new(text.to_string());
            let ours = Body::new(crlf(text));
            assert_eq!(ours.encoding(), theirs.encoding(), "{text:?}");
            assert_eq!(ours.into_vec(), theirs.into_vec(), "{text:?}");
        }
        assert_eq!(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(40), Duration::from_secs(300));
    }
}
