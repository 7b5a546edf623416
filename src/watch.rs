//! Watching the inbox: which files are there, and which have settled enough to be read.
//!
//! File events (`notify`) only say where to look; they can be lost (queue overflow, network
//! shares), so the inbox is also scanned at start-up and every `rescan`. A file is handed on only
//! once its size and modification time have stayed the same for `settle`, so a report still being
//! copied is never read half-written. Temporary and hidden files are never handed on.

use std::collections::HashMap;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    size: u64,
    mtime: Option<SystemTime>,
}

#[derive(Debug)]
struct Pending {
    seen: Seen,
    changed_at: Instant,
}

/// Files in the inbox that are waiting to settle.
#[derive(Debug)]
pub struct Inbox {
    root: PathBuf,
    settle: Duration,
    /// Folders below the root that are not part of the inbox (an archive placed inside it).
    exclude: Vec<PathBuf>,
    pending: HashMap<PathBuf, Pending>,
}

impl Inbox {
    pub fn new(root: PathBuf, settle: Duration, exclude: Vec<PathBuf>) -> Inbox {
        Inbox {
            root,
            settle,
            exclude,
            pending: HashMap::new(),
        }
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
                    Pending {
                        seen: Seen {
                            size: m.len(),
                            mtime: m.modified().ok(),
                        },
                        changed_at: Instant::now(),
                    },
                );
            }
            // Gone, or a link or special file: the daemon's file handling decides about links.
            Ok(m)
                if m.file_type().is_symlink()
                    && !is_ignored(path)
                    && !self.pending.contains_key(path) =>
            {
                self.pending.insert(
                    path.to_path_buf(),
                    Pending {
                        seen: Seen {
                            size: 0,
                            mtime: None,
                        },
                        changed_at: Instant::now(),
                    },
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

    /// Files that have not changed for `settle`; they leave the pending set. Files that vanished
    /// are forgotten.
    pub fn ready(&mut self) -> Vec<PathBuf> {
        let now = Instant::now();
        let settle = self.settle;
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
                return true;
            }
            if now.duration_since(p.changed_at) >= settle {
                out.push(path.clone());
                return false;
            }
            true
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
