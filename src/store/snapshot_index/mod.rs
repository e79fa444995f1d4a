//! The snapshot folder's index: a SQLite database (`.snapshot-index.db` in the folder, kept out of
//! git) of the snapshots, the jobs they saw and the flags, so that queries do not parse files.
//! It is derived data: `snapshots reindex` rebuilds it from the JSON files. It is not a labtrail
//! store: one snapshot folder describes several stores and jobs labtrail did not submit.
//! Callers hand it rows ([`crate::app::snapshots_index`] converts a snapshot into them).
//!
//! Besides one row per snapshot it keeps *spans*: consecutive snapshots in which one thing (a
//! job, a flag, a run, an experiment) looked the same (the same state and node, the same mtime,
//! the same stage). A year of 5-minute snapshots with twenty jobs each is two million job
//! sightings but only a few thousand spans, and every question ("what ran at T", "a job's
//! lifetime", "when did this flag appear") is an indexed range over spans.

mod files;
mod insert;
mod queries;
mod schema;

pub use queries::{SnapshotInfo, SpanRow};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a file name sorts among the files of the same instant: the plain name first, then its
/// `-2`, `-3`... (byte order would put `-2` before `.json`).
pub fn name_order(name: &str) -> String {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    match stem.rsplit_once('-') {
        Some((base, n))
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() < 10 =>
        {
            format!("{base}\u{1}{n:0>10}")
        }
        _ => format!("{stem}\u{1}{:0>10}", 1),
    }
}

/// A file of the folder as the freshness check sees it: name, size, mtime in nanoseconds.
pub type FileStamp = (String, u64, i64);

/// The index database's file name in the snapshot folder.
pub const INDEX_FILE: &str = ".snapshot-index.db";

/// What a span follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// A job in the queue; `sig` is its state and node.
    Job,
    /// A job that left the queue (`ended_jobs`); `sig` is its end state.
    Ended,
    /// A completion flag; `sig` is its mtime.
    Flag,
    /// A labtrail run; `sig` is its state and stage.
    Run,
    /// An experiment; `sig` is whether it is active and its stage.
    Experiment,
}

impl SpanKind {
    /// The name stored in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Job => "job",
            SpanKind::Ended => "ended",
            SpanKind::Flag => "flag",
            SpanKind::Run => "run",
            SpanKind::Experiment => "experiment",
        }
    }
}

/// One snapshot's row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotRow {
    /// Its file name in the folder.
    pub file: String,
    /// `snapshot_timestamp` as written.
    pub ts: String,
    /// The same instant in Unix seconds (what ordering and ranges use).
    pub epoch: i64,
    /// The host that took it.
    pub host: String,
    /// The scheduler's status (`slurm`, `absent`, `failed`).
    pub scheduler: String,
    /// Jobs running.
    pub running: i64,
    /// Jobs pending.
    pub pending: i64,
    /// Jobs in other states.
    pub other: i64,
    /// Jobs that left the queue since the previous snapshot.
    pub ended: i64,
    /// Completion flags.
    pub flags: i64,
    /// Active experiments.
    pub active_experiments: i64,
    /// All measured folders' bytes together.
    pub disk_bytes: i64,
}

/// One thing a snapshot saw, as a span continues or opens it.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanItem {
    /// What it is.
    pub kind: SpanKind,
    /// Which one (job id, flag path, `store run_id`, experiment name).
    pub key: String,
    /// What, when it changes, opens a new span (state and node, mtime, stage).
    pub sig: String,
    /// The experiment it belongs to, when known.
    pub experiment: Option<String>,
    /// The item itself as JSON (the latest sighting's, for a span that continues).
    pub data: String,
}

/// A snapshot's rows: its own and the things it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRows {
    /// The snapshot.
    pub snapshot: SnapshotRow,
    /// What it saw.
    pub items: Vec<SpanItem>,
}

/// What went wrong with the index database.
#[derive(Debug, thiserror::Error)]
pub enum IndexDbError {
    /// SQLite said no.
    #[error("{path}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// A snapshot older than the newest indexed one: spans only grow forward, so the caller
    /// rebuilds instead.
    #[error("{file} is older than the newest indexed snapshot {newest}")]
    OutOfOrder {
        /// The file being added.
        file: String,
        /// The newest file already in the index.
        newest: String,
    },
}

/// An open index database.
pub struct SnapshotIndex {
    conn: Connection,
    path: PathBuf,
}

impl SnapshotIndex {
    /// Opens (creating when `create`) the index database at `path` and makes sure its tables
    /// exist. Another process writing waits up to the busy timeout, not fails.
    pub fn open(path: &Path, create: bool) -> Result<SnapshotIndex, IndexDbError> {
        let err = |source| IndexDbError::Sql {
            path: path.to_path_buf(),
            source,
        };
        use rusqlite::OpenFlags as F;
        let mut flags = F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= F::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        // The journal file stays (emptied) between writes, so that writing the index does not
        // move the folder's mtime, which the freshness check compares.
        let _ = conn.query_row("PRAGMA journal_mode = TRUNCATE", [], |_| Ok(()));
        schema::ensure(&conn).map_err(err)?;
        Ok(SnapshotIndex {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Trades durability for speed while a rebuild fills a new database (it is fsynced and
    /// renamed into place only when whole, so a crash loses nothing that was there).
    pub fn fast_fill(&self) -> Result<(), IndexDbError> {
        self.conn
            .execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
            .map_err(|e| self.sql(e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> IndexDbError {
        IndexDbError::Sql {
            path: self.path.clone(),
            source,
        }
    }
}
