//! Content-addressed blobs (a run's code patch, its package list): stored once by blake3,
//! whatever the number of runs that refer to them. A record names a blob by its hash (see
//! [`crate::provenance::model::Patch::blob`]); 100 runs with the same dirty patch store it once.

use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Stores `bytes` under their blake3 hash (64 hex digits), once, durably; returns the hash.
    /// Storing the same bytes again changes nothing. Committed (synchronous) before it returns,
    /// so that a record naming the hash never points at a blob a crash lost.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String, StoreError> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO blobs (hash, size, bytes) VALUES (?1, ?2, ?3)")
            .and_then(|mut st| st.execute(params![hash, bytes.len() as i64, bytes]))
            .map_err(|e| self.err(e))?;
        Ok(hash)
    }

    /// The blob stored under `hash`, if there is one. Its bytes are checked against the hash: a
    /// damaged blob is an error, never a wrong patch.
    pub fn blob(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT bytes FROM blobs WHERE hash = ?1", [hash], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        match bytes {
            Some(b) if blake3::hash(&b).to_hex().as_str() != hash => Err(StoreError::DamagedRead {
                path: self.db_path.clone(),
                detail: format!(
                    "blob {hash} holds {} bytes that hash to {}",
                    b.len(),
                    blake3::hash(&b).to_hex()
                ),
            }),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: the same patch put by 100 runs is one row; different bytes are another; a
    /// stored blob reads back, an unknown hash is `None`.
    #[test]
    fn a_blob_is_stored_once_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        let patch = b"diff --git a/x b/x\n\xff binary-ish\n".to_vec();
        let hash = store.put_blob(&patch).unwrap();
        assert_eq!(hash, blake3::hash(&patch).to_hex().to_string());
        for _ in 0..99 {
            assert_eq!(store.put_blob(&patch).unwrap(), hash);
        }
        let other = store.put_blob(b"another").unwrap();
        let rows: i64 = store
            .conn
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2);
        let size: i64 = store
            .conn
            .query_row("SELECT size FROM blobs WHERE hash = ?1", [&hash], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(size, patch.len() as i64);
        assert_eq!(store.blob(&hash).unwrap(), Some(patch));
        assert_eq!(
            store.blob(&other).unwrap().as_deref(),
            Some(&b"another"[..])
        );
        assert_eq!(store.blob(&"0".repeat(64)).unwrap(), None);
        // Durable: a new connection (another process) reads it.
        drop(store);
        let store = Store::open(&dir.path().join(".labtrail"), false).unwrap();
        assert!(store.blob(&hash).unwrap().is_some());
    }

    /// Issue 12: a blob whose bytes no longer match its hash is reported, not returned.
    #[test]
    fn a_damaged_blob_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        let hash = store.put_blob(b"patch").unwrap();
        store
            .conn
            .execute("UPDATE blobs SET bytes = x'00' WHERE hash = ?1", [&hash])
            .unwrap();
        let err = store.blob(&hash).unwrap_err().to_string();
        assert!(err.contains(&hash), "{err}");
    }
}
