//! The snapshot folder's index: a SQLite database (`.snapshot-index.db` in the folder, kept out of
//! git) of the snapshots, the jobs they saw and the flags, so that queries do not parse files.
//! It is derived data: `snapshots reindex` rebuilds it from the JSON files. It is not a labtrail
//! store: one snapshot folder describes several stores and jobs labtrail did not submit.
//! Callers hand it rows ([`crate::app::snapshots_index`] converts a snapshot into them).

/// The index database's file name in the snapshot folder.
pub const INDEX_FILE: &str = ".snapshot-index.db";
