//! Making an open store ready to write: how its transactions take the write lock, the watch on
//! its database file, and its schema brought up to date.

use super::{gone, schema, Store, StoreError};

impl Store {
    /// Makes the connection ready to write: every transaction takes the write lock when it
    /// begins (IMMEDIATE), so that one which reads before it writes never fails with "database
    /// is locked" when another process wrote meanwhile (a deferred transaction cannot wait for
    /// that: its snapshot is stale); every commit is refused once the database file is deleted,
    /// moved or replaced (see `gone.rs`); and the schema is brought up to date.
    pub(super) fn prepare_for_writing(&mut self) -> Result<(), StoreError> {
        self.conn
            .set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        self.watch = gone::watch(&self.conn, &self.db_path)?;
        self.migrate()?;
        // From now on another process's long write is waited out (see `busy`); the open itself
        // still gives up after the busy timeout, as a store locked for good would never open.
        super::busy::wait_patiently(&self.conn, &self.db_path)
            .map_err(|e| StoreError::sqlite(&self.db_path, e))
    }

    /// Brings the schema up to date. Two processes may open a new store at the same instant:
    /// the version is read again inside an IMMEDIATE transaction (the write lock, which the other
    /// waits for within the busy timeout), so the schema is made once, by the first, and the
    /// second finds it made. A store already current is not written.
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let version = |c: &rusqlite::Connection| -> Result<u32, StoreError> {
            let found: u32 = c
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(e)?;
            if found > schema::CURRENT_VERSION {
                return Err(StoreError::TooNew {
                    path: path.clone(),
                    found,
                    supported: schema::CURRENT_VERSION,
                });
            }
            Ok(found)
        };
        if version(&self.conn)? == schema::CURRENT_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        let found = version(&tx)?;
        for sql in &schema::MIGRATIONS[found as usize..] {
            tx.execute_batch(sql).map_err(e)?;
        }
        // Schema 10's parameter summaries need a JSON pass SQL cannot make: runs synced before
        // it get theirs here, in the same transaction.
        if found < 10 {
            super::param_summary::fill_all(&tx).map_err(e)?;
        }
        tx.pragma_update(None, "user_version", schema::CURRENT_VERSION)
            .map_err(e)?;
        tx.commit().map_err(e)
    }
}
