//! Waiting out another process's lock where SQLite does not wait by itself.
//!
//! The busy timeout makes SQLite wait for most locks, but not for all: switching a new database
//! to WAL needs an exclusive lock for which it returns "database is locked" at once when a second
//! process opens the same new store at that instant (seen with two `labtrail run` started
//! together: one always failed). Such steps are retried here, for as long as the busy timeout.

use std::time::{Duration, Instant};

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
