//! The write-ahead log folded into the database from a thread of its own.
//!
//! SQLite folds its write-ahead log into the database file itself, in the commit that takes the
//! log past 1,000 pages: that commit copies the pages and waits for the disk (`fsync`), while
//! the process holds the store for it. The daemon's workers and `reaudit`'s jobs share one
//! store, so every such commit stopped the others too (`perf`: the jobs of a re-audit waited on
//! the store's lock, the holder on `fsync`). A [`Checkpointer`] takes that work off the writer:
//! its connection folds the log in every [`INTERVAL`] (SQLite's passive checkpoint, which never
//! waits for the writer or the readers), and the writer's own connection no longer does it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::{Store, StoreError};

/// How often the log is folded in.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// The thread folding a store's log in. It belongs to the [`Store`] and stops with it, folding
/// in what is left.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Store {
    /// Folds this store's write-ahead log in from a thread of its own from now on, instead of
    /// in this connection's commits. When the thread cannot be started, nothing changes.
    pub fn checkpoint_in_background(&mut self) -> Result<(), StoreError> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let conn = open_checkpointer(&self.path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("checkpoints".into())
                .spawn(move || run(&conn, &stop))
                .map_err(StoreError::Thread)?
        };
        let checkpointer = Checkpointer {
            stop,
            thread: Some(thread),
        };
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }
}

fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

fn run(conn: &Connection, stop: &AtomicBool) {
    let mut failing = false;
    loop {
        let last = stop.load(Ordering::Acquire);
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            Ok(()) => failing = false,
            // Said once, not four times a second; tried again at the next turn.
            Err(e) if !failing => {
                tracing::warn!("write-ahead log not folded into the database: {e}");
                failing = true;
            }
            Err(_) => {}
        }
        if last {
            return;
        }
        std::thread::park_timeout(INTERVAL);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn file_len(p: &Path) -> u64 {
        std::fs::metadata(p).map_or(0, |m| m.len())
    }

    /// With the checkpointer, the writer's commits leave the log alone and the thread folds it
    /// into the database file soon after; when the store closes, the log is folded in whole.
    #[test]
    fn the_log_is_folded_in_by_the_thread_not_by_the_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.sqlite");
        let mut store = Store::open(&path).expect("open");
        store.checkpoint_in_background().expect("checkpointer");
        let auto: i64 = store
            .conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .expect("pragma");
        assert_eq!(auto, 0, "the commits no longer fold the log in");
        let before = file_len(&path);
        // 8 MB in 2,000 commits: SQLite's own commits would have folded it in along the way.
        store
            .conn
            .execute_batch("CREATE TABLE filler (b BLOB)")
            .expect("table");
        for _ in 0..2_000 {
            store
                .conn
                .execute("INSERT INTO filler (b) VALUES (zeroblob(4000))", [])
                .expect("insert");
        }
        let wal = dir.path().join("s.sqlite-wal");
        assert!(file_len(&wal) > 8_000_000, "written to the log");
        let deadline = Instant::now() + Duration::from_secs(10);
        while file_len(&path) < before + 8_000_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            file_len(&path) >= before + 8_000_000,
            "folded into the database: {} bytes",
            file_len(&path)
        );
        drop(store);
        assert_eq!(
            file_len(&wal),
            0,
            "the log is empty once the store is closed"
        );
        let reopened = Store::open(&path).expect("reopen");
        let rows: i64 = reopened
            .conn
            .query_row("SELECT COUNT(*) FROM filler", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 2_000);
    }
}
