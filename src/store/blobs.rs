//! Content-addressed blobs (a run's code patch, its package list): stored once by blake3,
//! whatever the number of runs that refer to them. CONTRACT STUB (issue 12): the `code` lane
//! implements it (schema migration 8).

use super::{Store, StoreError};

impl Store {
    /// Stores `bytes` under their blake3 hash (64 hex digits), once, durably; returns the hash.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String, StoreError> {
        Ok(blake3::hash(bytes).to_hex().to_string())
    }

    /// The blob stored under `hash`, if there is one.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = hash;
        Ok(None)
    }
}
