//! Waiting out another process's lock where SQLite does not wait by itself.
//!
//! The busy timeout makes SQLite wait for most locks, but not for all: switching a new database
//! to WAL needs an exclusive lock for which it returns "database is locked" at once when a second
//! process opens the same new store at that instant (seen with two `labtrail run` started
//! together: one always failed). Such steps are retried here, for as long as the busy timeout.
//!
//! And a store opened to write never gives up on a lock another labtrail process holds: a
//! large new run is written in one transaction (a 10^6-task grid: half a minute in a debug
//! build), and a runner or monitor that died of "database is locked" after the busy timeout
//! killed its tasks with it. Past the busy timeout it says once that it waits, and waits until
//! the lock is free, or until a stop signal (then the busy error is returned as before).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The store a patient connection waits for, named in the one message.
static WAITING_FOR: Mutex<Option<PathBuf>> = Mutex::new(None);
/// Whether the message was said (once per process).
static SAID: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// When this thread's current wait began.
    static SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Makes `conn`, a connection to the database `db` opened to write, wait for another process's
/// lock as long as it is held (see the module doc).
pub(super) fn wait_patiently(conn: &rusqlite::Connection, db: &Path) -> rusqlite::Result<()> {
    *WAITING_FOR.lock().unwrap_or_else(|p| p.into_inner()) = Some(db.to_path_buf());
    conn.busy_handler(Some(patient))
}

/// SQLite's busy handler: `true` to try again (after a pause), `false` to give up.
fn patient(count: i32) -> bool {
    let now = Instant::now();
    if count == 0 {
        SINCE.set(Some(now));
    }
    let waited = now - SINCE.get().unwrap_or(now);
    if waited >= super::busy_timeout() {
        if crate::exec::signals::early_stop().is_some() {
            return false;
        }
        if !SAID.swap(true, Ordering::SeqCst) {
            let db = WAITING_FOR
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            eprintln!(
                "labtrail: waiting for another labtrail process's write to the store {} to end (a large run being created, or a repair; `ps -C labtrail -f` shows them); nothing is lost meanwhile, Ctrl+C stops",
                db.unwrap_or_default().display()
            );
        }
    }
    let pause = Duration::from_millis(1 << count.clamp(0, 5) as u32);
    std::thread::sleep(pause.min(Duration::from_millis(25)));
    true
}

/// Runs `step` until it does not fail with "database is busy", for at most the busy timeout
/// the store's connections use ([`super::busy_timeout`]); any other outcome, or the last busy
/// error, is returned.
pub(super) fn retry_while_busy<T>(
    mut step: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let give_up = Instant::now() + super::busy_timeout();
    let mut pause = Duration::from_millis(1);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < give_up =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}
