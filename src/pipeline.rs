//! One report through the stages: read the file, extract its text, parse it. Every failure
//! becomes a status with a reason: the caller never loses a report to an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::budget::{self, Budget};
use crate::extract;
use crate::model::{Finding, Report};
use crate::parse;

/// What became of one input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read and parsed; findings (if any) are in the outcome.
    Parsed,
    /// Not readable as an annual report; `error` says why.
    Unparseable,
}

/// The result of reading one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    pub path: PathBuf,
    /// SHA-256 of the file's bytes (empty when the file could not be read).
    pub sha256: String,
    pub status: Status,
    pub error: Option<String>,
    /// The character encoding the text was read in.
    pub encoding: Option<String>,
    /// What the file was (`text`, `html`).
    #[serde(default)]
    pub format: Option<String>,
    pub report: Option<Arc<Report>>,
    pub findings: Vec<Finding>,
    /// Why a person should look at the report's tables before trusting its findings (cells the
    /// parser could not read); empty when none.
    #[serde(default)]
    pub needs_review: Vec<String>,
}

/// Hex SHA-256 of bytes: a report's identity is its content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Outcome {
    /// A file whose bytes could not be (or were not) read: no content, so no hash.
    pub fn unreadable(path: &Path, reason: String) -> Outcome {
        Outcome {
            path: path.to_path_buf(),
            sha256: String::new(),
            status: Status::Unparseable,
            error: Some(reason),
            encoding: None,
            format: None,
            report: None,
            findings: Vec::new(),
            needs_review: Vec::new(),
        }
    }
}

/// Reads and parses one file, within the default [`Budget`].
pub fn read_file(path: &Path) -> Outcome {
    read_file_within(path, Budget::default())
}

/// Reads and parses one file within `budget`.
pub fn read_file_within(path: &Path, budget: Budget) -> Outcome {
    match std::fs::read(path) {
        Ok(bytes) => read_within(path, &bytes, sha256_hex(&bytes), budget),
        Err(e) => Outcome::unreadable(path, format!("cannot read file: {e}")),
    }
}

/// Reads and parses the file a command was given (`check`, `mail preview`): a regular file only
/// (a link is followed to one; a pipe, device or socket is refused without being opened, since
/// reading `/dev/zero` never ends and opening a FIFO waits for a writer), and at most
/// `max_size` bytes of it.
pub fn read_path_within(path: &Path, budget: Budget, max_size: u64) -> Outcome {
    match read_regular(path, max_size) {
        Ok(bytes) => read_within(path, &bytes, sha256_hex(&bytes), budget),
        Err(reason) => Outcome::unreadable(path, reason),
    }
}

/// The issuer and year of the report in the file a command was given, read as
/// [`read_path_within`] reads it but not parsed whole ([`parse::identity`]); `None` when the
/// file cannot be read or they are not found.
pub fn identify_path_within(path: &Path, budget: Budget, max_size: u64) -> Option<(String, i32)> {
    let bytes = read_regular(path, max_size).ok()?;
    budget::within(budget, || {
        let extracted = extract::extract_bytes(&bytes).ok()?;
        match parse::identity(&extracted.text) {
            (Some(org), Some(year)) => Some((org, year)),
            _ => None,
        }
    })
}

/// The bytes of a regular file of at most `max_size` bytes, or why it was not read.
fn read_regular(path: &Path, max_size: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read file: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "not a regular file ({}); not read",
            special_kind(&meta)
        ));
    }
    let too_large = |n: u64| {
        format!("too large: {n} bytes, more than watch.max_file_size ({max_size} bytes); not read")
    };
    if meta.len() > max_size {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    let read = file.and_then(|f| {
        if f.metadata()?.is_file() {
            f.take(max_size.saturating_add(1)).read_to_end(&mut bytes)
        } else {
            Err(std::io::Error::other("not a regular file any more"))
        }
    });
    match read {
        Err(e) => Err(format!("cannot read file: {e}")),
        Ok(n) if n as u64 > max_size => Err(too_large(n as u64)),
        Ok(_) => Ok(bytes),
    }
}

/// What a file that is not a regular file is, in words.
pub fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a named pipe (FIFO)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// Parses a report from the bytes of a file at `path`, within the default [`Budget`].
pub fn read_bytes(path: &Path, bytes: &[u8]) -> Outcome {
    read_within(path, bytes, sha256_hex(bytes), Budget::default())
}

/// Parses a report from the bytes of a file at `path` whose hash is `sha256`. Extraction and
/// parsing stop when they pass `budget`; the report is then unparseable with that reason.
pub fn read_within(path: &Path, bytes: &[u8], sha256: String, budget: Budget) -> Outcome {
    budget::within(budget, || parse_bytes(path, bytes, sha256))
}

fn parse_bytes(path: &Path, bytes: &[u8], sha256: String) -> Outcome {
    let mut outcome = Outcome {
        path: path.to_path_buf(),
        sha256,
        status: Status::Unparseable,
        error: None,
        encoding: None,
        format: None,
        report: None,
        findings: Vec::new(),
        needs_review: Vec::new(),
    };
    let extracted = match extract::extract_bytes(bytes) {
        Ok(x) => x,
        Err(e) => {
            outcome.error = Some(e.to_string());
            return outcome;
        }
    };
    outcome.encoding = Some(extracted.encoding.to_string());
    outcome.format = Some(extracted.format.to_string());
    match parse::parse(&extracted.text) {
        Ok(mut report) => {
            if extracted.ocr {
                parse::accept_ocr(&mut report);
            }
            report.warnings.extend(extracted.warnings);
            outcome.needs_review = report.review_reasons();
            outcome.status = Status::Parsed;
            outcome.report = Some(Arc::new(report));
        }
        Err(e) => {
            let mut error = e.to_string();
            for w in &extracted.warnings {
                error.push_str(" (");
                error.push_str(w);
                error.push(')');
            }
            outcome.error = Some(error);
        }
    }
    outcome
}

/// The report files named by `paths`: folders expand into the files below them (sorted; hidden
/// files and README.md skipped).
pub fn report_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    use anyhow::Context as _;
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out).with_context(|| format!("cannot list {}", p.display()))?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.eq_ignore_ascii_case("README.md") {
            continue;
        }
        let path = e.path();
        if e.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
