//! The resource budget of one report's extraction and parsing: a deadline and a memory
//! allowance, so that a hostile or pathological file ends as `unparseable` with a reason instead
//! of stalling a worker or exhausting memory.
//!
//! Memory is counted by the process's allocator ([`Counting`]), per thread: the bytes a thread
//! holds now, as allocations minus frees. A budget scope ([`within`]) notes the count at its
//! start; the allocator raises a flag when the thread holds more than the allowance on top of
//! it. Extraction and parsing call [`check`] between their stages and inside the loops that grow
//! with the input; `check` turns a passed deadline or the raised flag into an error, which the
//! pipeline reports as the reason. A step that never reaches a check (a library call that runs
//! on) is caught by the daemon's watchdog instead, which gives up on the worker.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc as System;
use std::cell::Cell;
use std::time::{Duration, Instant};

use thiserror::Error;

/// The limits of one report's extraction and parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time.
    pub time: Duration,
    /// Memory held at once, in bytes, on top of what the thread held when it started.
    pub memory: u64,
    /// Wall-clock time of a scanned PDF's OCR, counted from its start ([`begin_ocr`]): reading
    /// images takes seconds a page where text takes milliseconds.
    pub ocr_time: Duration,
    /// Pages of a scanned PDF read at most.
    pub ocr_pages: usize,
}

impl Default for Budget {
    /// The shipped defaults (`[limits]` in `config/ogi-audit.toml`).
    fn default() -> Self {
        Budget {
            time: Duration::from_secs(30),
            memory: 512 << 20,
            ocr_time: Duration::from_secs(600),
            ocr_pages: 20,
        }
    }
}

/// Why extraction or parsing was stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Exceeded {
    #[error(
        "took longer than limits.{setting} ({}); stopped while {stage}",
        humantime::format_duration(*limit)
    )]
    Time {
        limit: Duration,
        /// `parse_time`, or `ocr_time` once OCR has begun.
        setting: &'static str,
        stage: &'static str,
    },
    #[error(
        "needed more memory than limits.parse_memory ({} MB); stopped while {stage}",
        limit >> 20
    )]
    Memory { limit: u64, stage: &'static str },
}

/// The global allocator: the system allocator, counting what each thread holds.
pub struct Counting;

/// A scope: its deadline and its budget.
type Scope = (Instant, Budget);

/// One thread's count. Constant-initialised and without a destructor, so the allocator may
/// touch it at any time, even while the thread is being torn down.
struct Meter {
    /// Bytes allocated minus bytes freed by this thread.
    held: Cell<i64>,
    /// Above this, the budget is exceeded (`i64::MAX` outside a budget scope).
    cap: Cell<i64>,
    /// Set by the allocator when `held` passed `cap`.
    over: Cell<bool>,
    /// The current scope.
    deadline: Cell<Option<Scope>>,
    /// The scope's deadline is OCR's ([`begin_ocr`]).
    ocr: Cell<bool>,
}

thread_local! {
    static METER: Meter = const {
        Meter {
            held: Cell::new(0),
            cap: Cell::new(i64::MAX),
            over: Cell::new(false),
            deadline: Cell::new(None),
            ocr: Cell::new(false),
        }
    };
}

fn note(delta: i64) {
    let _ = METER.try_with(|m| {
        let held = m.held.get().wrapping_add(delta);
        m.held.set(held);
        if held > m.cap.get() {
            m.over.set(true);
        }
    });
}

fn size(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// SAFETY: every call is passed to the system allocator unchanged; the counting around it only
// touches a thread-local without a destructor and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            note(size(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            note(size(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        note(-size(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            note(size(new_size) - size(layout.size()));
        }
        p
    }
}

/// Runs `f` under `budget`: [`check`] inside it fails once the time is up or the thread holds
/// more than the memory allowance. Scopes do not nest: an inner one replaces the outer one until
/// it ends.
pub fn within<T>(budget: Budget, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<(i64, bool, Option<Scope>, bool)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some((cap, over, deadline, ocr)) = self.0.take() {
                let _ = METER.try_with(|m| {
                    m.cap.set(cap);
                    m.over.set(over);
                    m.deadline.set(deadline);
                    m.ocr.set(ocr);
                });
            }
        }
    }
    let saved = METER
        .try_with(|m| {
            let saved = (m.cap.get(), m.over.get(), m.deadline.get(), m.ocr.get());
            m.ocr.set(false);
            let allowance = i64::try_from(budget.memory).unwrap_or(i64::MAX);
            m.cap.set(m.held.get().saturating_add(allowance));
            m.over.set(false);
            m.deadline.set(Some((Instant::now() + budget.time, budget)));
            saved
        })
        .ok();
    let _restore = Restore(saved);
    f()
}

/// Starts a scanned PDF's OCR: from now the scope's deadline is `ocr_time` away (never
/// nearer than it was). Returns the scope's budget (the default outside a scope).
pub fn begin_ocr() -> Budget {
    METER
        .try_with(|m| {
            let Some((deadline, budget)) = m.deadline.get() else {
                return Budget::default();
            };
            let later = Instant::now() + budget.ocr_time;
            if later > deadline {
                m.deadline.set(Some((later, budget)));
                m.ocr.set(true);
            }
            budget
        })
        .unwrap_or_default()
}

/// Fails when the current scope's time is up or its memory allowance was passed; `stage` says
/// what was being done, for the reason. Outside a scope it always passes.
pub fn check(stage: &'static str) -> Result<(), Exceeded> {
    METER
        .try_with(|m| {
            let Some((deadline, budget)) = m.deadline.get() else {
                return Ok(());
            };
            if m.over.get() {
                return Err(Exceeded::Memory {
                    limit: budget.memory,
                    stage,
                });
            }
            if Instant::now() > deadline {
                let ocr = m.ocr.get();
                return Err(Exceeded::Time {
                    limit: if ocr { budget.ocr_time } else { budget.time },
                    setting: if ocr { "ocr_time" } else { "parse_time" },
                    stage,
                });
            }
            Ok(())
        })
        .unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_scope_every_check_passes() {
        let big = vec![0u8; 64 << 20];
        assert!(check("testing").is_ok());
        drop(big);
    }

    #[test]
    fn memory_held_past_the_allowance_fails_the_next_check() {
        let budget = Budget {
            time: Duration::from_secs(60),
            memory: 8 << 20,
            ..Budget::default()
        };
        let result = within(budget, || {
            let small = vec![1u8; 1 << 20];
            check("small")?;
            drop(small);
            let big = vec![1u8; 16 << 20];
            // Freed again before the check: the allocator still saw the peak.
            drop(big);
            check("big")
        });
        let err = result.expect_err("over the allowance");
        assert_eq!(
            err,
            Exceeded::Memory {
                limit: 8 << 20,
                stage: "big"
            }
        );
        assert!(
            err.to_string().contains("limits.parse_memory (8 MB)"),
            "{err}"
        );
        // The scope ended: the flag does not leak into what follows.
        assert!(check("after").is_ok());
    }

    #[test]
    fn memory_held_before_the_scope_does_not_count() {
        let before = vec![1u8; 32 << 20];
        let budget = Budget {
            time: Duration::from_secs(60),
            memory: 4 << 20,
            ..Budget::default()
        };
        assert!(within(budget, || check("inside")).is_ok());
        drop(before);
    }

    #[test]
    fn a_passed_deadline_fails_the_next_check() {
        let budget = Budget {
            time: Duration::from_millis(20),
            memory: u64::MAX,
            ..Budget::default()
        };
        let result = within(budget, || {
            check("early")?;
            std::thread::sleep(Duration::from_millis(40));
            check("late")
        });
        let err = result.expect_err("late");
        assert!(matches!(err, Exceeded::Time { stage: "late", .. }));
        assert!(
            err.to_string().contains("limits.parse_time (20ms)"),
            "{err}"
        );
    }

    #[test]
    fn threads_are_counted_apart() {
        let budget = Budget {
            time: Duration::from_secs(60),
            memory: 4 << 20,
            ..Budget::default()
        };
        let result = within(budget, || {
            std::thread::spawn(|| vec![1u8; 64 << 20].len())
                .join()
                .expect("thread");
            check("after the other thread")
        });
        assert!(result.is_ok());
    }
}
