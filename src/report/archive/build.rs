//! Building a run's [`Archive`] from the store. STUB (issue 12): the archive lane writes it;
//! this placeholder keeps the agreed signature so `labtrail diff RUN_A RUN_B` compiles, and says
//! plainly that it cannot build an archive yet (diffing archive JSON files works).

use super::model::Archive;
use crate::store::{Store, StoreError};

/// How to build an archive.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {}

/// Why an archive could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The store could not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This build cannot build archives from the store yet.
    #[error("archive build not yet available: cannot archive run {run} (diff archive JSON files instead)")]
    NotYetAvailable {
        /// The run asked for.
        run: String,
    },
}

/// Builds the archive of `run` from `store`.
pub fn build(store: &Store, run: &str, options: &BuildOptions) -> Result<Archive, BuildError> {
    let _ = (store, options);
    Err(BuildError::NotYetAvailable {
        run: run.to_string(),
    })
}
