//! LibreOffice, when installed, reads what the built-in Word reader cannot (Word 6/95, Works
//! and older WPS formats, damaged files Word itself repairs): `soffice --headless --convert-to
//! docx` in a temporary folder of its own, with a time limit and an address-space limit, and
//! the DOCX it writes is read as any DOCX. Without LibreOffice the file keeps the reason the
//! built-in reader gave.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::ExtractError;

/// The environment variable naming the LibreOffice program (default: `soffice` on PATH); a
/// path that is no file means none.
pub const VAR: &str = "OGI_AUDIT_SOFFICE";
/// Time one conversion may take (less when the report's budget has less left).
const TIMEOUT: Duration = Duration::from_secs(60);
/// Address space LibreOffice may use.
const MAX_MEMORY: libc::rlim_t = 4 << 30;

/// The LibreOffice program, if one is installed.
pub fn soffice() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(VAR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("soffice"), d.join("libreoffice")])
        .find(|p| p.is_file())
}

/// The text of a Word/WPS file converted by LibreOffice; `Ok(None)` when it is not installed.
pub fn to_text(bytes: &[u8], extension: &str) -> Result<Option<String>, ExtractError> {
    let Some(program) = soffice() else {
        return Ok(None);
    };
    let dir = tempfile::Builder::new()
        .prefix("ogi-audit-office-")
        .tempdir()
        .map_err(|e| ExtractError::Corrupt(format!("LibreOffice: no temporary folder: {e}")))?;
    let input = dir.path().join(format!("report.{extension}"));
    std::fs::write(&input, bytes)
        .map_err(|e| ExtractError::Corrupt(format!("LibreOffice: {e}")))?;
    let out = dir.path().join("out");
    convert(&program, dir.path(), &input, &out)?;
    let docx = std::fs::read(out.join("report.docx")).map_err(|_| {
        ExtractError::Corrupt("LibreOffice could not read the file either".to_string())
    })?;
    super::docx::to_text(&docx).map(Some)
}

fn convert(program: &Path, home: &Path, input: &Path, out: &Path) -> Result<(), ExtractError> {
    let profile = format!(
        "-env:UserInstallation=file://{}",
        home.join("profile").display()
    );
    let mut command = Command::new(program);
    command
        .args(["--headless", "--norestore", "--nolockcheck", &profile])
        .args(["--convert-to", "docx", "--outdir"])
        .arg(out)
        .arg(input)
        .env("HOME", home)
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    super::child::limit(&mut command, MAX_MEMORY);
    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| ExtractError::Corrupt(format!("LibreOffice: cannot start it: {e}")))?;
    super::child::wait(
        &mut child,
        start,
        TIMEOUT,
        "converting with LibreOffice",
        || {
            ExtractError::TooLarge(format!(
                "LibreOffice took longer than {} s to read the file",
                TIMEOUT.as_secs()
            ))
        },
    )?;
    Ok(())
}
