//! Watching the inbox: which files are there, and which have settled enough to be read.
//!
//! File events (`notify`) only say where to look; they can be lost (queue overflow, network
//! shares), so the inbox is also scanned at start-up and every `rescan`. A file is handed on only
//! once its size and modification time have stayed the same for `settle`, so a report still being
//! copied is never read half-written. Temporary and hidden files are never handed on.
//!
//! Settled means more than "unchanged for a while": a copy from a slow share can pause longer
//! than `settle`, and a Windows copy first sizes the file and fills it with zeros. So a file is
//! not handed on while another process still has it open for writing (where the kernel can tell:
//! a read lease is refused then), nor while its last 4 KB are all zeros (for at most
//! [`ZERO_TAIL_WAIT`], after which it is handed on and, if still zeros, quarantined).

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};

/// Names that belong to editors, downloads in progress and the like, never to a finished report.
pub fn is_ignored(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return true;
    };
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || name.ends_with('~')
        || [
            ".part",
            ".partial",
            ".swp",
            ".swx",
            ".tmp",
            ".temp",
            ".crdownload",
            ".download",
            ".reason.txt",
        ]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// A file with a zero-filled tail waits at most this long (or 20 × `settle` if longer) for its
/// writer to fill it.
pub const ZERO_TAIL_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    mtime: Option<SystemTime>,
}

#[derive(Debug)]
struct Pending {
    seen: Seen,
    changed_at: Instant,
    /// Since when the file has looked settled but for a zero tail.
    zero_since: Option<Instant>,
    /// Whether waiting for a writer has been logged (once per file).
    told: bool,
}

impl Pending {
    fn new(seen: Seen) -> Pending {
        Pending {
            seen,
            changed_at: Instant::now(),
            zero_since: None,
            told: false,
        }
    }
}

/// What a file was when it was read: a file whose stamp changed since is not the file read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    pub mtime: Option<SystemTime>,
    pub dev: u64,
    pub ino: u64,
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime: meta.modified().ok(),
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The stamp of the entry at `path` (links not followed).
    pub fn at(path: &Path) -> std::io::Result<Stamp> {
        std::fs::symlink_metadata(path).map(|m| Stamp::of(&m))
    }
}

/// Whether another process has the regular file at `path` open for writing: the kernel refuses
/// a read lease on such a file. `None` where that cannot be told (a file system without leases,
/// a file of another user without CAP_LEASE).
pub fn open_for_writing(path: &Path) -> Option<bool> {
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::io::AsRawFd as _;
    // Non-blocking, so that a FIFO swapped in meanwhile cannot hang the daemon.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns; the lease is released at once (and with
    // the descriptor). SIGIO, which a lease break would send, is ignored by the daemon.
    let taken = unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) };
    if taken == 0 {
        // SAFETY: as above.
        unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) };
        return Some(false);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EBUSY) => Some(true),
        _ => None,
    }
}

/// Whether the last 4 KB of a non-empty regular file are all zero bytes: space a copy has
/// reserved but not yet written.
pub fn zero_tail(path: &Path, size: u64) -> bool {
    use std::io::{Read as _, Seek as _};
    if size == 0 {
        return false;
    }
    let want = size.min(4096);
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut buf = vec![0u8; usize::try_from(want).unwrap_or(4096)];
    if f.seek(std::io::SeekFrom::Start(size - want)).is_err() || f.read_exact(&mut buf).is_err() {
        return false;
    }
    buf.iter().all(|b| *b == 0)
}

/// The files this process holds open (its log, its database …), as its descriptors showed
/// them when the snapshot was taken: such a file is never taken for a report, wherever it lies.
///
/// Each descriptor listed in `/proc/self/fd` is asked with `fstat` on its number: following
/// its link in `/proc` to stat the file cost a path walk through `/proc` each, two dozen per
/// report. The daemon asks for every file it reads. Its own files are opened at start and held,
/// so a snapshot a moment old answers as well as a fresh one: it is taken again once older than
/// [`OwnFiles::FRESH`] (a fresh one for every file was 3 % of the daemon's time).
#[derive(Debug)]
pub struct OwnFiles {
    ids: std::collections::HashSet<(u64, u64)>,
    taken: Instant,
}

impl OwnFiles {
    /// How long a snapshot is used. A file it shows as held is asked about again with a fresh
    /// one (a descriptor closed since, or an inode reused). A file opened since would have to be
    /// a new file of the daemon's own in the inbox, and the daemon opens none while running
    /// that it does not write (which keeps a file from settling: [`open_for_writing`]).
    pub const FRESH: Duration = Duration::from_millis(100);

    /// The descriptors' files as they are now.
    pub fn now() -> OwnFiles {
        let ids = std::fs::read_dir("/proc/self/fd")
            .map(|fds| {
                fds.flatten()
                    .filter_map(|fd| {
                        fd.file_name()
                            .to_str()
                            .and_then(|n| n.parse::<libc::c_int>().ok())
                            .and_then(identity_of_fd)
                    })
                    .collect()
            })
            .unwrap_or_default();
        OwnFiles {
            ids,
            taken: Instant::now(),
        }
    }

    /// Whether the snapshot is older than [`OwnFiles::FRESH`].
    pub fn stale(&self) -> bool {
        self.taken.elapsed() > OwnFiles::FRESH
    }

    /// Whether the file `meta` describes was open in this process when the snapshot was taken.
    pub fn holds(&self, meta: &Metadata) -> bool {
        self.ids.contains(&(meta.dev(), meta.ino()))
    }
}

/// The device and inode of the file open as descriptor `fd` of this process, if it is open.
fn identity_of_fd(fd: libc::c_int) -> Option<(u64, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fstat` only writes the `stat` it is given, which is large enough. A descriptor
    // closed meanwhile fails (EBADF); one reused meanwhile describes its new file: either way
    // only this answer is affected.
    let rc = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: `fstat` succeeded, so it filled the structure.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Some((st.st_dev as u64, st.st_ino as u64))
}

/// Files in the inbox that are waiting to settle.
#[derive(Debug)]
pub struct Inbox {
    root: PathBuf,
    settle: Duration,
    /// Folders below the root that are not part of the inbox (an archive placed inside it).
    exclude: Vec<PathBuf>,
    /// Files larger than this are refused unread, so their content is not waited for.
    max_file_size: u64,
    pending: HashMap<PathBuf, Pending>,
}

impl Inbox {
    pub fn new(root: PathBuf, settle: Duration, exclude: Vec<PathBuf>) -> Inbox {
        Inbox {
            root,
            settle,
            exclude,
            max_file_size: u64::MAX,
            pending: HashMap::new(),
        }
    }

    /// Files over `limit` are handed on without waiting for a zero tail to fill: they are
    /// refused unread whatever they hold.
    pub fn with_max_file_size(mut self, limit: u64) -> Inbox {
        self.max_file_size = limit;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many files are waiting to settle.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn excluded(&self, path: &Path) -> bool {
        self.exclude.iter().any(|e| path.starts_with(e))
    }

    /// Notes a file (from an event or a scan); directories are scanned.
    pub fn touch(&mut self, path: &Path) {
        if self.excluded(path)
            || path
                .ancestors()
                .any(|a| a != self.root && a.starts_with(&self.root) && is_ignored(a))
        {
            return;
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => self.scan_dir(path),
            Ok(m) if m.is_file() => {
                if is_ignored(path) || self.pending.contains_key(path) {
                    return;
                }
                self.pending.insert(
                    path.to_path_buf(),
                    Pending::new(Seen {
                        size: m.len(),
                        mtime: m.modified().ok(),
                    }),
                );
            }
            // A link, pipe, socket or device: handed on too, for the daemon to quarantine with
            // the reason (never read, never followed).
            Ok(_) if !is_ignored(path) && !self.pending.contains_key(path) => {
                self.pending.insert(
                    path.to_path_buf(),
                    Pending::new(Seen {
                        size: 0,
                        mtime: None,
                    }),
                );
            }
            _ => {}
        }
    }

    /// Scans the whole inbox (start-up, periodic safety net).
    pub fn scan(&mut self) {
        let root = self.root.clone();
        self.scan_dir(&root);
    }

    fn scan_dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            if is_ignored(&path) || self.excluded(&path) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => self.scan_dir(&path),
                Ok(_) => self.touch(&path),
                Err(_) => {}
            }
        }
    }

    /// Files that have settled: unchanged for `settle`, not open for writing by another
    /// process, and not ending in reserved zeros; they leave the pending set. Files that
    /// vanished are forgotten.
    pub fn ready(&mut self) -> Vec<PathBuf> {
        let now = Instant::now();
        let settle = self.settle;
        let zero_wait = ZERO_TAIL_WAIT.max(settle * 20);
        let max_file_size = self.max_file_size;
        let mut out = Vec::new();
        self.pending.retain(|path, p| {
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                return false;
            };
            let seen = Seen {
                size: meta.len(),
                mtime: meta.modified().ok(),
            };
            if seen != p.seen {
                p.seen = seen;
                p.changed_at = now;
                p.zero_since = None;
                return true;
            }
            if now.duration_since(p.changed_at) < settle {
                return true;
            }
            if meta.is_file() {
                if open_for_writing(path) == Some(true) {
                    if !p.told {
                        tracing::info!(path = %path.display(), "still open for writing by another process: waiting for the copy to finish");
                        p.told = true;
                    }
                    p.changed_at = now;
                    return true;
                }
                if meta.len() <= max_file_size && zero_tail(path, meta.len()) {
                    let since = *p.zero_since.get_or_insert(now);
                    if now.duration_since(since) < zero_wait {
                        if !p.told {
                            tracing::info!(path = %path.display(), "ends in zeros (space reserved by a copy not yet written): waiting for the copy to finish");
                            p.told = true;
                        }
                        p.changed_at = now;
                        return true;
                    }
                    tracing::warn!(path = %path.display(), waited = %humantime::format_duration(Duration::from_secs(since.elapsed().as_secs())), "still ends in zeros; read as it is");
                }
            }
            out.push(path.clone());
            false
        });
        out.sort();
        out
    }
}

/// Starts watching `dir` recursively; every event's paths are passed to `on_paths`.
pub fn watch<F>(dir: &Path, on_paths: F) -> notify::Result<notify::RecommendedWatcher>
where
    F: Fn(Vec<PathBuf>) + Send + 'static,
{
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            // Opening a file or folder changes nothing. The daemon's own reads would otherwise
            // feed back: listing the inbox opens it (IN_OPEN), whose event lists it again, and
            // loading the rules opens them, whose events reload them (a busy loop, even idle).
            Ok(event)
                if matches!(
                    event.kind,
                    notify::EventKind::Access(notify::event::AccessKind::Open(_))
                ) => {}
            Ok(event) => on_paths(event.paths),
            Err(e) => tracing::warn!("file watch error: {e}"),
        })?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_and_hidden_files_are_ignored() {
        for name in [
            "~$report.docx",
            ".report.txt",
            "a.part",
            "a.swp",
            "a.txt~",
            "x.crdownload",
            "r.txt.reason.txt",
        ] {
            assert!(is_ignored(Path::new(name)), "{name}");
        }
        for name in ["report.txt", "2024年报.html", "a.docx"] {
            assert!(!is_ignored(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn a_file_this_process_holds_open_is_told_from_one_it_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = dir.path().join("held.log");
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "x").expect("write");
        let file = std::fs::File::create(&held).expect("create");
        let meta = |p: &Path| std::fs::metadata(p).expect("metadata");
        let own = OwnFiles::now();
        assert!(own.holds(&meta(&held)));
        assert!(!own.holds(&meta(&other)));
        let seen = meta(&held);
        drop(file);
        assert!(
            own.holds(&seen),
            "a snapshot shows what was open when it was taken"
        );
        assert!(!OwnFiles::now().holds(&seen), "closed: no longer held");
    }

    #[test]
    fn a_file_is_ready_only_after_it_settles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut inbox = Inbox::new(dir.path().to_path_buf(), Duration::from_millis(150), vec![]);
        let f = dir.path().join("r.txt");
        std::fs::write(&f, "part").expect("write");
        std::fs::write(dir.path().join(".hidden"), "x").expect("write");
        inbox.scan();
        assert_eq!(inbox.pending(), 1);
        assert!(inbox.ready().is_empty());
        std::thread::sleep(Duration::from_millis(80));
        std::fs::write(&f, "part and more").expect("write");
        assert!(inbox.ready().is_empty(), "changed: waits again");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(inbox.ready(), vec![f]);
        assert_eq!(inbox.pending(), 0);
    }
}
