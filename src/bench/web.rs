//! `bench web`: how fast the web console serves its pages on a large store.
//!
//! The target: a page of the reports list in < 200 ms at 100,000 stored reports. A list page is
//! one query by index and a render; what makes it slow at scale is a filter or an order that no
//! index serves (SQLite then reads every report to find 50), so each kind of list request is
//! timed on its own, first and deep pages alike.
//!
//! 1. The store. Making 100,000 reports through the pipeline would take ten minutes and measure
//!    nothing new (`bench scale` does that), so ~200 distinct generated reports go through the
//!    daemon's per-file code once (parse, last year's report, the rule pack, store: what
//!    `bench store` times), and then their outcomes, findings included, are recorded again and
//!    again with [`crate::store::Store::record`] (one transaction each: the store has no batch
//!    write) under distinct SHA-256s, a few thousand issuer names and the years 2019–2025, until
//!    the store holds N reports — the same rows, the same JSON and the same findings per report
//!    as the daemon writes, so every filter has data. One in 200 is an unreadable file, as
//!    quarantined reports are part of a real store. `--store PATH` measures an existing store
//!    instead, read-only.
//! 2. The console of this program on 127.0.0.1:0 (no users: loopback needs no login), in this
//!    process on a runtime of its own; each request is a plain HTTP/1.1 GET on a new TCP
//!    connection, timed from the connect until the last byte of the response, one warm-up and
//!    then `--runs` times (fewer for a page slower than 2 s, so one slow page cannot hold the
//!    bench for minutes).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::{median, quantile, thousands, MdTable, TempDir, WebArgs};
use crate::config::Config;
use crate::daemon::Processed;
use crate::pipeline::{self, Outcome, Status};
use crate::store::YearBefore;

/// The target: a reports-list page in less than this, at [`TARGET_REPORTS`] reports.
pub const TARGET_MS: f64 = 200.0;
/// The store size the target is set at.
pub const TARGET_REPORTS: u64 = 100_000;
/// One stored report in this many is an unreadable file (quarantined).
const QUARANTINED_EVERY: usize = 200;
/// A page whose warm-up took longer than this is timed only [`SLOW_RUNS`] times.
const SLOW_PAGE: Duration = Duration::from_secs(2);
const SLOW_RUNS: usize = 3;
/// How long one response may take before the bench gives up on it (the console's own request
/// deadline is 60 s).
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// One page as timed.
#[derive(Debug, Clone)]
pub struct PageTime {
    /// What the page is (`reports, first page`).
    pub label: String,
    /// The request, decoded, as a reader would type it.
    pub shown: String,
    /// A page of the reports list (the target is about these).
    pub list: bool,
    /// HTTP status of the last run.
    pub status: u16,
    /// Body bytes.
    pub bytes: usize,
    /// Reports on the page (rows of a list, lines of a CSV); `None` for other pages.
    pub rows: Option<usize>,
    pub median_ms: f64,
    pub p95_ms: f64,
    pub runs: usize,
}

/// The figures of `bench web`.
#[derive(Debug, Clone)]
pub struct WebResult {
    pub reports: u64,
    pub findings: u64,
    pub issuers: u64,
    pub db_bytes: u64,
    /// How the store came to be (filled here, and how long it took; or given).
    pub origin: String,
    pub pages: Vec<PageTime>,
}

impl WebResult {
    /// The slowest list page by median, if any was timed.
    pub fn slowest_list(&self) -> Option<&PageTime> {
        self.pages
            .iter()
            .filter(|p| p.list)
            .max_by(|a, b| a.median_ms.total_cmp(&b.median_ms))
    }

    /// Whether every list page answered 200 within the target.
    pub fn list_target_met(&self) -> bool {
        self.pages
            .iter()
            .filter(|p| p.list)
            .all(|p| p.status == 200 && p.median_ms < TARGET_MS)
    }
}

/// Runs and prints `bench web`.
pub fn run(args: &WebArgs) -> Result<WebResult> {
    let r = measure(args)?;
    print!("{}", render(&r));
    Ok(r)
}

/// Fills (or takes) the store, starts the console on it and times the pages.
pub fn measure(args: &WebArgs) -> Result<WebResult> {
    let mut dir = None;
    let (database, origin) = match &args.store {
        Some(path) => {
            if !path.is_file() {
                bail!("--store {}: no such database file", path.display());
            }
            (
                path.clone(),
                format!("the store {} (read only)", path.display()),
            )
        }
        None => {
            let mut d = TempDir::new(args.common.tmp.as_deref(), "web")?;
            if args.keep {
                d.keep();
            }
            let (database, origin) = fill(args, &d.path)?;
            if args.keep {
                eprintln!(
                    "web: store kept at {} (measure it again with --store)",
                    database.display()
                );
            }
            dir = Some(d);
            (database, origin)
        }
    };
    let result = time_pages(args, &database, origin);
    drop(dir);
    result
}

/// A reusable outcome: a report as the pipeline and the rule pack left it.
struct Base {
    outcome: Outcome,
    /// File extension of the generated file (`txt`, `html`).
    ext: String,
}

/// Fills a store in `dir` with `args.reports` reports; returns its path and how it was made.
pub(super) fn fill(args: &WebArgs, dir: &Path) -> Result<(PathBuf, String)> {
    let total = args.reports.max(1);
    let distinct = args.distinct.clamp(1, total);
    let rules = super::rules_dir(&args.common.rules)?;
    let started = Instant::now();
    eprintln!(
        "web: {} reports through the daemon's per-file code ({}) …",
        distinct,
        args.common.describe()
    );
    let corpus = super::stages::corpus(&args.common.generator(), distinct)?;
    let ctx = super::stages::context(dir, &rules)?;
    let version = ctx
        .rules
        .read()
        .map_err(|_| anyhow::anyhow!("the rule set's lock is poisoned"))?
        .version
        .clone();
    let mut bases = Vec::with_capacity(distinct);
    for item in &corpus {
        let path = ctx.config.inbox.join(&item.name);
        std::fs::write(&path, &item.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let id = match ctx.process_file(&path) {
            Processed::Stored { id, .. } => id,
            other => bail!("{} was not stored: {other:?}", item.name.display()),
        };
        // The outcome as the daemon had it: the pipeline's reading of the bytes, and the
        // findings the daemon stored with it (last year's report included in their making).
        let mut outcome = pipeline::read_bytes(&path, &item.bytes);
        let findings = ctx
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?
            .report_for_mail(id, &version)?
            .2;
        outcome.findings = findings;
        let ext = item
            .name
            .extension()
            .map_or_else(|| "txt".into(), |e| e.to_string_lossy().into_owned());
        bases.push(Base { outcome, ext });
    }
    let pipeline_secs = started.elapsed().as_secs_f64();
    let issuers = issuer_names(&corpus_meta(args, distinct)?, args.issuers.max(1));
    let quarantined = pipeline::read_bytes(
        Path::new("notice.txt"),
        "会议通知：请各单位于周五前报送材料。".as_bytes(),
    );
    if quarantined.status != Status::Unparseable {
        bail!("the stand-in for an unreadable file was read as a report");
    }
    eprintln!(
        "web: recording {} more ({} issuers, years 2019–2025) …",
        thousands((total - distinct) as u64),
        thousands(issuers.len() as u64)
    );
    let record_start = Instant::now();
    {
        let mut store = ctx
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("the store's lock is poisoned"))?;
        for n in distinct..total {
            let outcome = copy(n, args.common.seed, &bases, &issuers, &quarantined, dir);
            // Findings copied from another report: which year before they were found with is
            // not known.
            store.record(
                &outcome,
                Some((&version, YearBefore::Unknown)),
                &crate::store::now(),
                None,
            )?;
            if (n + 1) % 10_000 == 0 {
                eprintln!(
                    "  {} reports, {:.0} s",
                    thousands((n + 1) as u64),
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    let record_secs = record_start.elapsed().as_secs_f64();
    let database = ctx.config.database.clone();
    // Closing the one writing connection folds its write-ahead log into the file.
    drop(ctx);
    let origin = format!(
        "filled in {:.0} s: {} generated reports through the daemon's per-file code ({:.1} s), \
         then {} copies of their outcomes and findings recorded one by one with Store::record \
         ({:.0} s, {:.0} reports/s) under distinct SHA-256s, {} issuers and the years 2019–2025; \
         one in {QUARANTINED_EVERY} an unreadable file",
        started.elapsed().as_secs_f64(),
        distinct,
        pipeline_secs,
        thousands((total - distinct) as u64),
        record_secs,
        (total - distinct) as f64 / record_secs.max(1e-9),
        thousands(issuers.len() as u64),
    );
    Ok((database, origin))
}

/// The generated issuers and places of the corpus's reports `0..n`.
fn corpus_meta(args: &WebArgs, n: usize) -> Result<Vec<(String, String)>> {
    let g = args.common.generator();
    (0..n as u64)
        .map(|i| g.generate(i).map(|r| (r.meta.organization, r.meta.place)))
        .collect()
}

/// Up to `wanted` distinct issuer names: every place of the corpus with every department (or
/// sub-district office) of the corpus, as real names are made — `青山县` + `教育局`.
fn issuer_names(meta: &[(String, String)], wanted: usize) -> Vec<String> {
    let mut places: Vec<&str> = Vec::new();
    let mut units: Vec<&str> = Vec::new();
    for (organization, place) in meta {
        if !places.contains(&place.as_str()) {
            places.push(place);
        }
        if let Some(unit) = organization.strip_prefix(place.as_str()) {
            if !unit.is_empty() && !units.contains(&unit) {
                units.push(unit);
            }
        }
    }
    if units.is_empty() {
        units.push("人民政府");
    }
    let mut names = Vec::with_capacity(wanted);
    // Every place once per round, each round with the departments shifted by one: the first
    // names already spread over places and departments, and no pair comes twice.
    'all: for shift in 0..units.len() {
        for (i, p) in places.iter().enumerate() {
            if names.len() >= wanted {
                break 'all;
            }
            names.push(format!("{p}{}", units[(i + shift) % units.len()]));
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Report `n` of the store: the outcome of base `n mod bases` under another SHA-256, file name,
/// issuer and year.
fn copy(
    n: usize,
    seed: u64,
    bases: &[Base],
    issuers: &[String],
    quarantined: &Outcome,
    dir: &Path,
) -> Outcome {
    let sha256 = pipeline::sha256_hex(format!("ogi-audit bench web {seed} {n}").as_bytes());
    if n % QUARANTINED_EVERY == QUARANTINED_EVERY - 1 {
        return Outcome {
            sha256,
            path: dir.join("inbox").join(format!("{n:06}-notice.txt")),
            ..quarantined.clone()
        };
    }
    let base = &bases[n % bases.len()];
    // 7919 is prime: each run of `issuers` reports has every issuer once, in a scattered order,
    // and the next run the next year.
    let issuer = &issuers[(n.wrapping_mul(7919)) % issuers.len()];
    let year = 2019 + ((n / issuers.len()) % 7) as i32;
    let report = base.outcome.report.as_ref().map(|r| {
        let mut r = (**r).clone();
        r.organization = Some(issuer.clone());
        r.year = Some(year);
        Arc::new(r)
    });
    Outcome {
        sha256,
        path: dir.join("inbox").join(format!("{n:06}.{}", base.ext)),
        report,
        ..base.outcome.clone()
    }
}

/// One request of the bench.
struct Request {
    label: String,
    /// Path and query, percent-encoded.
    target: String,
    shown: String,
    list: bool,
    csv: bool,
}

impl Request {
    fn new(label: &str, path: &str, query: &[(&str, String)], list: bool) -> Request {
        let mut target = path.to_string();
        let mut shown = path.to_string();
        for (i, (k, v)) in query.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            target.push_str(&format!("{sep}{k}={}", encode(v)));
            shown.push_str(&format!("{sep}{k}={v}"));
        }
        Request {
            label: label.to_string(),
            target,
            shown,
            list,
            csv: path.ends_with(".csv"),
        }
    }
}

/// What the requests need from the store: picked through a read-only connection of its own.
struct Picks {
    reports: u64,
    findings: u64,
    issuers: u64,
    /// Part of one issuer's name.
    issuer_part: String,
    /// A rule with many current findings.
    rule: String,
    /// A parsed report.
    report_id: i64,
    /// The cursor of the newest-first order 60 rows before its end.
    deep_newest: String,
    /// The cursor of the issuer order 60 rows before its end.
    deep_issuer: String,
    /// 2023 if the store has reports of it, else its latest year.
    year: i64,
}

fn picks(database: &Path) -> Result<Picks> {
    let conn = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", database.display()))?;
    let count = |sql: &str| -> Result<u64> {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let reports = count("SELECT COUNT(*) FROM reports")?;
    if reports == 0 {
        bail!("the store {} holds no report", database.display());
    }
    let findings = count("SELECT COUNT(*) FROM findings")?;
    let issuers = count("SELECT COUNT(DISTINCT organization) FROM reports")?;
    let (min_id, max_id): (i64, i64) =
        conn.query_row("SELECT MIN(id), MAX(id) FROM reports", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let middle = min_id + (max_id - min_id) / 2;
    let (report_id, organization): (i64, Option<String>) = conn
        .query_row(
            "SELECT id, organization FROM reports WHERE status = 'parsed' AND id >= ?1
             ORDER BY id LIMIT 1",
            [middle],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .context("the store holds no parsed report")?;
    // The name without its first character: a part, as a reader types it.
    let organization = organization.unwrap_or_default();
    let issuer_part = if organization.chars().count() > 3 {
        organization.chars().skip(1).collect()
    } else {
        organization
    };
    // Among the findings of the newest 1,000 reports (by index, without a scan of them all).
    let rule: String = conn
        .query_row(
            "SELECT rule FROM findings WHERE report_id > ?1 GROUP BY rule ORDER BY COUNT(*) DESC, rule LIMIT 1",
            [max_id - 1000],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| "t3-balance".into());
    // 60 rows before the end: a full page of 50 follows the cursor, and then one more page.
    let offset = i64::try_from(60.min(reports.saturating_sub(1))).unwrap_or(0);
    let deep_newest: i64 = conn.query_row(
        "SELECT id FROM reports ORDER BY id LIMIT 1 OFFSET ?1",
        [offset],
        |r| r.get(0),
    )?;
    let (issuer_key, issuer_id): (String, i64) = conn.query_row(
        "SELECT COALESCE(organization, ''), id FROM reports
         ORDER BY COALESCE(organization, '') DESC, id DESC LIMIT 1 OFFSET ?1",
        [offset],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let has_2023: bool = conn
        .query_row(
            "SELECT 1 FROM reports WHERE year = 2023 LIMIT 1",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let year = if has_2023 {
        2023
    } else {
        conn.query_row("SELECT COALESCE(MAX(year), 2023) FROM reports", [], |r| {
            r.get(0)
        })?
    };
    Ok(Picks {
        reports,
        findings,
        issuers,
        issuer_part,
        rule,
        report_id,
        deep_newest: format!("{deep_newest}:{deep_newest}"),
        deep_issuer: format!("{issuer_id}:{issuer_key}"),
        year,
    })
}

fn requests(p: &Picks) -> Vec<Request> {
    let year = p.year.to_string();
    vec![
        Request::new("reports, first page", "/reports", &[], true),
        Request::new(
            "reports, deep page (60 rows from the end)",
            "/reports",
            &[("after", p.deep_newest.clone())],
            true,
        ),
        Request::new(
            "issuer contains (one issuer)",
            "/reports",
            &[("issuer", p.issuer_part.clone())],
            true,
        ),
        Request::new(
            "severity error",
            "/reports",
            &[("severity", "error".into())],
            true,
        ),
        Request::new(
            "one common rule",
            "/reports",
            &[("rule", p.rule.clone())],
            true,
        ),
        Request::new(
            "sorted by issuer, deep page",
            "/reports",
            &[("sort", "issuer".into()), ("after", p.deep_issuer.clone())],
            true,
        ),
        Request::new(
            &format!("year {year}, severity ≥ warning"),
            "/reports",
            &[("year", year.clone()), ("severity", "warning".into())],
            true,
        ),
        Request::new(
            "one report",
            &format!("/reports/{}", p.report_id),
            &[],
            false,
        ),
        Request::new("overview", "/", &[], false),
        Request::new(
            &format!("CSV export, year {year}"),
            "/reports.csv",
            &[("year", year.clone())],
            false,
        ),
        Request::new(
            "CSV export, severity error, by issuer",
            "/reports.csv",
            &[("severity", "error".into()), ("sort", "issuer".into())],
            false,
        ),
    ]
}

/// Starts the console over `database` and times every request.
fn time_pages(args: &WebArgs, database: &Path, origin: String) -> Result<WebResult> {
    let p = picks(database)?;
    let base = database.parent().unwrap_or(Path::new("."));
    let mut config = Config::defaults(base);
    config.database = database.to_path_buf();
    config.rules_dir = args.common.rules.clone();
    config.web.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    config.web.users.clear();
    // Its own runtime, as the daemon's: two workers, the store read in blocking threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let console = runtime
        .block_on(crate::web::start(&config))?
        .context("the console did not start")?;
    let addr = console.addr();
    eprintln!(
        "web: console on http://{addr}, {} reports in the store …",
        thousands(p.reports)
    );
    let timed = requests(&p)
        .iter()
        .map(|r| time_one(addr, r, args.runs.max(1)))
        .collect::<Result<Vec<_>>>();
    runtime.block_on(console.stop());
    Ok(WebResult {
        reports: p.reports,
        findings: p.findings,
        issuers: p.issuers,
        db_bytes: super::db_bytes(database),
        origin,
        pages: timed?,
    })
}

/// One warm-up, then `runs` timed requests (fewer when the page is slow).
fn time_one(addr: SocketAddr, r: &Request, runs: usize) -> Result<PageTime> {
    let warm = Instant::now();
    let first = get(addr, &r.target)?;
    if first.status == 303 || first.status == 302 {
        bail!(
            "{} was answered with a redirect (HTTP {}): the store has console users, so the \
             console asks for a login; measure a store without users",
            r.shown,
            first.status
        );
    }
    let runs = if warm.elapsed() > SLOW_PAGE {
        runs.min(SLOW_RUNS)
    } else {
        runs
    };
    let mut times = Vec::with_capacity(runs);
    let mut last = first;
    for _ in 0..runs {
        let t = Instant::now();
        last = get(addr, &r.target)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let text = String::from_utf8_lossy(&last.body);
    let rows = if r.csv {
        Some(text.lines().count().saturating_sub(1))
    } else if r.list {
        Some(text.matches("data-report=\"").count())
    } else {
        None
    };
    eprintln!(
        "  {}: median {:.1} ms ({} runs)",
        r.label,
        median(&times),
        times.len()
    );
    Ok(PageTime {
        label: r.label.clone(),
        shown: r.shown.clone(),
        list: r.list,
        status: last.status,
        bytes: last.body.len(),
        rows,
        median_ms: median(&times),
        p95_ms: quantile(&times, 0.95),
        runs: times.len(),
    })
}

/// A response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// `GET target` over a new connection (`Connection: close`), read to its end.
fn get(addr: SocketAddr, target: &str) -> Result<Response> {
    let mut stream =
        TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ogi-audit-bench\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    .with_context(|| format!("cannot send GET {target}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("GET {target}: no complete response"))?;
    parse_response(&raw).with_context(|| format!("GET {target}"))
}

/// Splits a raw HTTP/1.1 response into status and body (chunked bodies decoded).
fn parse_response(raw: &[u8]) -> Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .context("the response has no status line")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Response { status, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk without its size line")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("a chunk size `{size_text}`"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).context("a chunk cut short")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

/// Percent-encodes a query value (everything but unreserved ASCII).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pages as a table, with the store and the target.
pub fn render(r: &WebResult) -> String {
    let mut t = MdTable::new(&[
        "page",
        "request",
        "reports shown",
        "bytes",
        "median ms",
        "p95 ms",
        "runs",
    ]);
    for p in &r.pages {
        let ok = p.status == 200;
        t.row(vec![
            p.label.clone(),
            format!("`{}`", p.shown),
            p.rows.map_or_else(|| "-".into(), |n| thousands(n as u64)),
            if ok {
                thousands(p.bytes as u64)
            } else {
                format!("HTTP {}", p.status)
            },
            format!("{:.1}", p.median_ms),
            format!("{:.1}", p.p95_ms),
            p.runs.to_string(),
        ]);
    }
    let verdict = match r.slowest_list() {
        Some(s) => format!(
            "list target (a reports-list page in < {TARGET_MS:.0} ms at {} reports): {}; slowest list page: {} at {:.1} ms median{}",
            thousands(TARGET_REPORTS),
            if r.list_target_met() { "met" } else { "NOT met" },
            s.label,
            s.median_ms,
            if r.reports == TARGET_REPORTS {
                String::new()
            } else {
                format!(" (this store holds {} reports)", thousands(r.reports))
            }
        ),
        None => "list target: no list page timed".into(),
    };
    format!(
        "\n## Web console ({} reports, {} findings, {} issuers, database {:.1} MB; console in process on 127.0.0.1, no login; \
         each request on a new connection, median and p95 of the runs after one warm-up)\n\n\
         store: {}\n\n{}\n{verdict}\n",
        thousands(r.reports),
        thousands(r.findings),
        thousands(r.issuers),
        r.db_bytes as f64 / 1e6,
        r.origin,
        t.render()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_plain_bodies_are_read() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"helloabc"[..]));
        let r = parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
            .expect("plain");
        assert_eq!((r.status, r.body.as_slice()), (404, &b"no"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode("12:淮南市 a&b"),
            "12%3A%E6%B7%AE%E5%8D%97%E5%B8%82%20a%26b"
        );
    }

    #[test]
    fn issuer_names_cross_places_and_departments() {
        let meta = vec![
            ("青山县教育局".to_string(), "青山县".to_string()),
            ("白河区公安局".to_string(), "白河区".to_string()),
            ("红湖市城关街道办事处".to_string(), "红湖市".to_string()),
        ];
        let names = issuer_names(&meta, 100);
        assert_eq!(names.len(), 9, "{names:?}");
        assert!(names.contains(&"白河区教育局".to_string()), "{names:?}");
        assert_eq!(issuer_names(&meta, 4).len(), 4);
    }
}
