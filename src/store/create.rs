//! A new run and its plan, written in one transaction: a run appears with all its tasks, or not
//! at all. A disk that fills up while a large grid is written, or a runner killed then, leaves
//! the store as it was, never an empty run that would become the latest (issue 10).

use super::changes::event;
use super::fault::{fault_injection_crash_point, fault_injection_pause_point};
use super::tasks::PlanRows;
use super::{now, Store, StoreError, INPUTS_RECORD};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::HashMap;

/// A run to create, as the store records it (its experiment file comes with its plan's rows).
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The run's id, a safe name (checked by the caller).
    pub id: &'a str,
    /// If `id` is taken, make it free with `-2`, `-3`, ...; otherwise a taken id is
    /// [`RunCreated::Existing`].
    pub numbered: bool,
    /// The experiment's name.
    pub experiment: &'a str,
    /// `local` or `slurm`.
    pub executor: &'a str,
    /// If the experiment has a run by the time this one would be created, take its latest run
    /// instead: two `labtrail run` started together work on one run, not one each.
    pub unless_latest: bool,
}

/// What [`Store::create_run_with_plan`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunCreated {
    /// The run was created, with every task of its plan (`tasks` of them), under this id.
    Created { id: String, tasks: usize },
    /// Nothing was written: this run was there already (the experiment's latest run, with
    /// `unless_latest`, or the exact id asked for).
    Existing(String),
}

impl Store {
    /// Creates a run with its whole plan in one transaction (see the module doc), with the
    /// plan hash `plan_hash`; `rows` is only called if the run is created. The check that no run
    /// is there yet is made inside the transaction, which holds the store's write lock: a second
    /// process doing the same at the same time finds the first one's run.
    pub fn create_run_with_plan<'a>(
        &mut self,
        new: &NewRun,
        plan_hash: &str,
        rows: impl FnOnce() -> PlanRows<'a>,
    ) -> Result<RunCreated, StoreError> {
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let exists = |id: &str| {
            tx.query_row("SELECT 1 FROM runs WHERE id = ?1", [id], |_| Ok(()))
                .optional()
                .map(|o| o.is_some())
        };
        if new.unless_latest {
            let latest: Option<String> = tx
                .query_row(
                    "SELECT id FROM runs WHERE experiment = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
                    [new.experiment],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e)?;
            if let Some(id) = latest {
                return Ok(RunCreated::Existing(id));
            }
        }
        let mut id = new.id.to_string();
        let mut n = 2;
        while exists(&id).map_err(e)? {
            if !new.numbered {
                return Ok(RunCreated::Existing(id));
            }
            id = format!("{}-{n}", new.id);
            n += 1;
        }
        let rows = rows();
        if let Some(json) = &rows.inputs {
            super::records::check_json(INPUTS_RECORD, json)?;
        }
        let t = now();
        tx.execute(
            "INSERT INTO runs (id, experiment, spec_path, spec_text, created_at, updated_at, layout, key_scheme, executor) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8)",
            params![id, new.experiment, rows.spec_path, rows.spec_text, t, super::folders::LAYOUT, super::inputs::NEW_RUN_KEY_SCHEME, new.executor],
        )
        .map_err(e)?;
        event(&tx, &id, None, &t, "run_created", Some(&rows.spec_path)).map_err(e)?;
        let (tasks, _) = write_plan(&tx, &id, plan_hash, rows, &mut HashMap::new()).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(RunCreated::Created { id, tasks })
    }
}

/// Writes a plan's rows into run `run` within `tx`, whose tasks were `existing` (key, in the
/// plan) before: new tasks are added as pending, tasks no longer in the plan leave it (kept with
/// their results), and the run records `plan_hash`. `rows.inputs` must have been checked to be
/// JSON. Returns the number of tasks added and retired (net: less the retired tasks that came
/// back). `existing` is used up: it ends with the keys that left the plan marked `true`.
pub(super) fn write_plan(
    tx: &Transaction,
    run: &str,
    plan_hash: &str,
    rows: PlanRows,
    existing: &mut HashMap<String, bool>,
) -> rusqlite::Result<(usize, usize)> {
    let PlanRows {
        spec_path,
        spec_text,
        tasks,
        inputs,
    } = rows;
    let (mut added, mut total, mut came_back) = (0, 0, 0);
    let was_out = existing.values().filter(|in_plan| !**in_plan).count();
    let mut summary = super::param_summary::ParamSummary::default();
    {
        let mut insert = tx.prepare("INSERT INTO tasks (run_id, key, seq, stage, label, params, command, workdir, env, deps) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)")?;
        // The label too: it leaves out parameters with one value in the plan, so a value added
        // to one brings it back into the labels of the tasks already there (issue 14).
        let mut update = tx.prepare(
            "UPDATE tasks SET seq = ?3, deps = ?4, label = ?5, params = ?6, in_plan = 1 WHERE run_id = ?1 AND key = ?2",
        )?;
        for (seq, t) in tasks.enumerate() {
            total += 1;
            summary.add(seq as i64, &t.params);
            let deps = serde_json::to_string(&t.deps).expect("strings serialize");
            // Only the tasks whose membership changes have `in_plan` written with a new value:
            // each such write fires `task_counts`'s trigger, and clearing it on every task first
            // fired it twice per task on a re-plan (issue 15). `false` marks the key as seen.
            if let Some(in_plan) = existing.get_mut(t.key) {
                came_back += usize::from(!*in_plan);
                *in_plan = false;
                // The parameters too: the same values (the key says so), but in the order the
                // file now lists them, which the parameter summary and `status` go by.
                let params = serde_json::to_string(&t.params).expect("JSON values serialize");
                update.execute(params![run, t.key, seq as i64, deps, t.label, params])?;
                continue;
            }
            let env: serde_json::Map<String, serde_json::Value> = t
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            insert.execute(params![
                run,
                t.key,
                seq as i64,
                t.stage,
                t.label,
                serde_json::to_string(&t.params).expect("JSON values serialize"),
                t.command,
                t.workdir,
                serde_json::Value::Object(env).to_string(),
                deps
            ])?;
            added += 1;
        }
    }
    summary.write(tx, run)?;
    let mut leave = tx.prepare("UPDATE tasks SET in_plan = 0 WHERE run_id = ?1 AND key = ?2")?;
    let mut left = 0;
    for (key, _) in existing.iter().filter(|(_, in_plan)| **in_plan) {
        leave.execute(params![run, key])?;
        left += 1;
    }
    drop(leave);
    let retired = (was_out - came_back + left).saturating_sub(was_out);
    let t = now();
    if let Some(json) = &inputs {
        super::records::insert_record(tx, Some(run), None, &t, INPUTS_RECORD, json)?;
    }
    tx.execute(
        "UPDATE runs SET plan_hash = ?2, spec_text = ?3, spec_path = ?4, updated_at = ?5 WHERE id = ?1",
        params![run, plan_hash, spec_text, spec_path, t],
    )?;
    event(
        tx,
        run,
        None,
        &t,
        "plan_synced",
        Some(&format!(
            "{added} added, {retired} left the plan, {total} total"
        )),
    )?;
    // The worst moment for a crash: every task written, nothing committed.
    fault_injection_crash_point("sync-plan");
    fault_injection_pause_point("sync-plan");
    Ok((added, retired))
}
