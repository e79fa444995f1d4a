//! Which run an invocation works on, and the lock that makes it the only one working on it.

use super::UsageError;
use crate::plan::{self, Plan};
use crate::spec::{is_safe_name, Spec};
use crate::store::{Change, RunLock, Store, STORE_DIR};
use std::path::{Path, PathBuf};

/// An experiment file, parsed, validated and expanded into its plan.
pub struct Experiment {
    pub spec: Spec,
    pub plan: Plan,
}

impl Experiment {
    /// Loads the experiment file at `path`; a grid left empty by `[[exclude]]` is an error.
    pub fn load(path: &Path) -> anyhow::Result<Experiment> {
        let spec = Spec::load(path)?;
        let plan = plan::expand(&spec);
        if plan.tasks.is_empty() {
            return Err(UsageError(format!(
                "{}: the grid has no tasks left after [[exclude]]; remove an exclusion or add values",
                spec.path.display()
            ))
            .into());
        }
        Ok(Experiment { spec, plan })
    }

    /// The store folder: `given` (`--store`), else `.labtrail` next to the experiment file.
    pub fn store_dir(&self, given: Option<&Path>) -> PathBuf {
        given
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.spec.base_dir().join(STORE_DIR))
    }
}

/// How the user asked to pick the run (`--resume`, `--id`, `--fresh`).
#[derive(Debug, Clone, Default)]
pub struct RunChoice {
    /// Resume this run id, or `latest`; it must exist.
    pub resume: Option<String>,
    /// Use this run id: resumed if it exists, created otherwise.
    pub id: Option<String>,
    /// Start a new run even if an unfinished one exists.
    pub fresh: bool,
}

/// A run selected (or created) and locked for this invocation; the lock is released on drop.
pub struct LockedRun {
    pub store: Store,
    pub run: String,
    /// Whether this invocation created the run.
    pub created: bool,
    /// Who held the lock before, if it was taken over from a process that is gone.
    pub taken_over_from: Option<String>,
    lock: RunLock,
}

impl LockedRun {
    /// Releases the lock.
    pub fn release(self) -> Store {
        drop(self.lock);
        self.store
    }
}

/// Picks the run `choice` names for `spec` (creating it if needed) and takes its lock. A lock
/// taken over from a dead holder is recorded in the run's events.
pub fn select_and_lock(
    mut store: Store,
    spec: &Spec,
    choice: &RunChoice,
) -> anyhow::Result<LockedRun> {
    let (run, created) = choose_run(&mut store, spec, choice)?;
    let lock = RunLock::acquire(&store.run_dir(&run), &run)?;
    let taken_over_from = lock.taken_over_from.clone();
    if let Some(previous) = &taken_over_from {
        store.apply(
            &run,
            &[Change::Note {
                kind: "lock_taken_over".into(),
                detail: previous.clone(),
            }],
        )?;
    }
    Ok(LockedRun {
        store,
        run,
        created,
        taken_over_from,
        lock,
    })
}

fn new_run_id(store: &Store, experiment: &str) -> anyhow::Result<String> {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    let base = format!("{experiment}-{stamp}");
    let mut id = base.clone();
    let mut n = 2;
    while store.run_exists(&id)? {
        id = format!("{base}-{n}");
        n += 1;
    }
    Ok(id)
}

/// Picks the run to work on; `Ok((id, created))`.
fn choose_run(store: &mut Store, spec: &Spec, c: &RunChoice) -> anyhow::Result<(String, bool)> {
    if let Some(id) = &c.id {
        if !is_safe_name(id) {
            return Err(UsageError(format!("run id `{id}` is not allowed: use letters, digits, `.`, `_` and `-` (at most 100, not starting with `.`)")).into());
        }
    }
    let existing = match (&c.resume, &c.id, c.fresh) {
        (Some(r), _, _) => Some(store.resolve_run_of(Some(r), &spec.name)?),
        (None, Some(id), false) => store.run_exists(id)?.then(|| id.clone()),
        (None, Some(id), true) if store.run_exists(id)? => {
            return Err(UsageError(format!("--fresh with --id {id}: a run with that id already exists; pick another id or drop --fresh to resume it")).into())
        }
        (None, None, false) => store.latest_run(Some(&spec.name))?,
        _ => None,
    };
    if let Some(id) = existing {
        if let Some(other) = store.run_experiment(&id)?.filter(|e| e != &spec.name) {
            return Err(UsageError(format!(
                "run `{id}` belongs to experiment `{other}`, not `{}`",
                spec.name
            ))
            .into());
        }
        return Ok((id, false));
    }
    let id = match &c.id {
        Some(id) => id.clone(),
        None => new_run_id(store, &spec.name)?,
    };
    store.create_run(
        &id,
        &spec.name,
        &spec.path.display().to_string(),
        &spec.source,
    )?;
    Ok((id, true))
}
