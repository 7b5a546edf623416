//! Running an outside reader (pdftotext, LibreOffice) as a child process that a hostile file
//! cannot use to stall or exhaust the daemon: an address-space limit, its own process group,
//! and a wait that ends at a time limit or when the report's budget is up, killing the group.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::ExtractError;

/// Limits the program `command` runs to `memory` bytes of address space, in a process group of
/// its own (so that a kill ends the helpers it starts too).
pub fn limit(command: &mut Command, memory: libc::rlim_t) {
    // SAFETY: between fork and exec the child only calls setrlimit and setpgid, which are
    // async-signal-safe and touch no memory of the parent's.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::setpgid(0, 0);
            Ok(())
        });
    }
}

/// Kills a child started with [`limit`] and its process group, and reaps it.
fn kill(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: signals the process group this child leads; no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to end. Past `timeout` from `start` it is killed and `late()` is the
/// error; once the report's budget is up ([`crate::budget::check`] with `stage`) it is killed
/// and that is the error.
pub fn wait(
    child: &mut Child,
    start: Instant,
    timeout: Duration,
    stage: &'static str,
    late: impl FnOnce() -> ExtractError,
) -> Result<ExitStatus, ExtractError> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if start.elapsed() > timeout => {
                kill(child);
                return Err(late());
            }
            Ok(None) => {
                if let Err(e) = crate::budget::check(stage) {
                    kill(child);
                    return Err(e.into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(ExtractError::Corrupt(format!("{stage}: {e}"))),
        }
    }
}

/// What a program run by [`filter`] wrote and how it ended.
pub struct Filtered {
    pub status: ExitStatus,
    /// Its standard output, cut at the cap.
    pub out: Vec<u8>,
    /// It wrote more than the cap.
    pub over: bool,
}

/// Runs `command` with [`limit`]s, `input` on its standard input and its standard output read
/// (up to `max_output` bytes), waiting as [`wait`] does. A program that cannot be started is
/// `cannot_start`'s error.
#[allow(clippy::too_many_arguments)]
pub fn filter(
    command: &mut Command,
    input: &[u8],
    memory: libc::rlim_t,
    max_output: u64,
    timeout: Duration,
    stage: &'static str,
    cannot_start: impl FnOnce(std::io::Error) -> ExtractError,
    late: impl FnOnce() -> ExtractError,
) -> Result<Filtered, ExtractError> {
    let start = Instant::now();
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    limit(command, memory);
    let mut child = command.spawn().map_err(cannot_start)?;
    // Input is fed from a thread so that a large input cannot deadlock against a full pipe.
    let input = input.to_vec();
    let mut stdin = child.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let Some(mut stdout) = child.stdout.take() else {
        kill(&mut child);
        return Err(ExtractError::Corrupt(format!("{stage}: no output")));
    };
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(max_output + 1).read_to_end(&mut out);
        out
    });
    let status = wait(&mut child, start, timeout, stage, late)?;
    let _ = feeder.join();
    let mut out = reader
        .join()
        .map_err(|_| ExtractError::Corrupt(format!("{stage}: output reader failed")))?;
    let over = out.len() as u64 > max_output;
    out.truncate(usize::try_from(max_output).unwrap_or(usize::MAX));
    Ok(Filtered { status, out, over })
}
