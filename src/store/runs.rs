//! Runs: one execution history of an experiment, resumable by id.

use super::{now, Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// A run with its task counts, as `labtrail list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub id: String,
    pub experiment: String,
    pub spec_path: String,
    pub created_at: String,
    pub updated_at: String,
    pub total: u64,
    pub done: u64,
    pub failed: u64,
    pub running: u64,
    pub interrupted: u64,
    pub blocked: u64,
    pub pending: u64,
}

impl RunSummary {
    /// Whether every task of the plan is done.
    pub fn finished(&self) -> bool {
        self.done == self.total
    }
}

impl Store {
    /// Creates a run with no tasks yet (for fixtures and tools). `id` must be a safe name
    /// (checked by the caller's validation). `labtrail run` creates a run with its plan in one
    /// transaction instead: [`Store::create_run_with_plan`].
    pub fn create_run(
        &mut self,
        id: &str,
        experiment: &str,
        spec_path: &str,
        spec_text: &str,
    ) -> Result<(), StoreError> {
        let t = now();
        let tx = self
            .conn
            .transaction()
            .map_err(|e| StoreError::sqlite(&self.db_path, e))?;
        tx.execute(
            "INSERT INTO runs (id, experiment, spec_path, spec_text, created_at, updated_at, layout, key_scheme) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
            params![id, experiment, spec_path, spec_text, t, super::folders::LAYOUT, super::inputs::NEW_RUN_KEY_SCHEME],
        )
        .map_err(|e| StoreError::sqlite(&self.db_path, e))?;
        tx.execute(
            "INSERT INTO events (run_id, at, kind, detail) VALUES (?1, ?2, 'run_created', ?3)",
            params![id, t, spec_path],
        )
        .map_err(|e| StoreError::sqlite(&self.db_path, e))?;
        tx.commit()
            .map_err(|e| StoreError::sqlite(&self.db_path, e))
    }

    /// Whether a run with this id exists.
    pub fn run_exists(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// The experiment name of a run.
    pub fn run_experiment(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT experiment FROM runs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The newest run, optionally only of one experiment.
    pub fn latest_run(&self, experiment: Option<&str>) -> Result<Option<String>, StoreError> {
        let sql = "SELECT id FROM runs WHERE (?1 IS NULL OR experiment = ?1) ORDER BY created_at DESC, rowid DESC LIMIT 1";
        self.conn
            .query_row(sql, [experiment], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Resolves `--run RUN` (`None` or `latest` = newest run) to an existing run id.
    pub fn resolve_run(&self, run: Option<&str>) -> Result<String, StoreError> {
        match run {
            None | Some("latest") => self.latest_run(None)?.ok_or_else(|| StoreError::NoRuns {
                store: self.dir.clone(),
            }),
            Some(id) if self.run_exists(id)? => Ok(id.to_string()),
            Some(id) => Err(StoreError::RunNotFound {
                id: id.to_string(),
                store: self.dir.clone(),
                known: self
                    .list_runs()?
                    .into_iter()
                    .rev()
                    .take(5)
                    .map(|r| r.id)
                    .collect(),
            }),
        }
    }

    /// The plan hash recorded by the last synchronisation of a run.
    pub fn plan_hash(&self, run: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT plan_hash FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// The experiment file text recorded for a run.
    pub fn run_spec(&self, run: &str) -> Result<(String, String), StoreError> {
        self.conn
            .query_row(
                "SELECT spec_path, spec_text FROM runs WHERE id = ?1",
                [run],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))
    }

    /// Every run, oldest first, with task counts of its current plan, from `task_counts` (a row
    /// per stage and state, not per task: issue 15).
    pub fn list_runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        let sql = "SELECT r.id, r.experiment, r.spec_path, r.created_at, r.updated_at,
                COALESCE(SUM(c.n), 0),
                COALESCE(SUM((c.state = 'done') * c.n), 0), COALESCE(SUM((c.state = 'failed') * c.n), 0),
                COALESCE(SUM((c.state = 'running') * c.n), 0), COALESCE(SUM((c.state = 'interrupted') * c.n), 0),
                COALESCE(SUM((c.state = 'blocked') * c.n), 0), COALESCE(SUM((c.state = 'pending') * c.n), 0)
            FROM runs r LEFT JOIN task_counts c ON c.run_id = r.id AND c.in_plan = 1
            GROUP BY r.id ORDER BY r.created_at, r.rowid";
        let mut st = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    experiment: r.get(1)?,
                    spec_path: r.get(2)?,
                    created_at: r.get(3)?,
                    updated_at: r.get(4)?,
                    total: r.get(5)?,
                    done: r.get(6)?,
                    failed: r.get(7)?,
                    running: r.get(8)?,
                    interrupted: r.get(9)?,
                    blocked: r.get(10)?,
                    pending: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

impl Store {
    /// Resolves `--resume RUN|latest` for an experiment: `latest` is its newest run.
    pub fn resolve_run_of(
        &self,
        run: Option<&str>,
        experiment: &str,
    ) -> Result<String, StoreError> {
        match run {
            None | Some("latest") => {
                self.latest_run(Some(experiment))?
                    .ok_or_else(|| StoreError::NoRuns {
                        store: self.dir.clone(),
                    })
            }
            Some(id) => self.resolve_run(Some(id)),
        }
    }
}
