//! CONTRACT STUB (issue 12): see provenance/mod.rs for what this module owns.

use super::model::{Code, Probed};
use std::path::Path;
use std::time::Duration;

/// The git state of the repository holding `dir`, and the patch bytes to store as a blob (at
/// most `cap` bytes), each git command limited to `timeout`. STUB on the env lane's branch: the
/// code lane's implementation replaces it at merge.
pub fn capture(dir: &Path, cap: u64, timeout: Duration) -> (Probed<Code>, Option<Vec<u8>>) {
    let _ = (dir, cap, timeout);
    (Probed::na("not captured yet"), None)
}
