//! Which run an invocation works on, and the lock that makes it the only one working on it.

use super::UsageError;
use crate::plan::inputs::CachedDigest;
use crate::plan::{self, Identity, Inputs, KeyScheme, Plan};
use crate::spec::{is_safe_name, Spec};
use crate::store::{Change, NewRun, RunCreated, RunLock, Store, INPUTS_RECORD, STORE_DIR};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// An experiment file, parsed, validated and expanded into its plan.
pub struct Experiment {
    pub spec: Spec,
    pub plan: Plan,
    /// Digests of input files read for this plan that the store does not remember yet.
    unremembered: Vec<CachedDigest>,
}

impl Experiment {
    /// Loads the experiment file at `path` and expands it with the keys of a new run; declared
    /// inputs are hashed without the store's remembered digests (see [`Experiment::expand`]).
    pub fn load(path: &Path) -> anyhow::Result<Experiment> {
        Experiment::expand(Spec::load(path)?, None)
    }

    /// Expands `spec` with the keys of a new run. Declared inputs are found and hashed; with a
    /// `store`, files whose size, mtime and inode it remembers are not read again (and
    /// [`Experiment::remember_digests`] remembers the others). A grid left empty by
    /// `[[exclude]]` is an error.
    pub fn expand(spec: Spec, store: Option<&Store>) -> anyhow::Result<Experiment> {
        let inputs = if spec.stages.iter().any(|s| !s.inputs.is_empty()) {
            let cache: HashMap<String, CachedDigest> = match &store {
                Some(st) => st
                    .input_digests()?
                    .into_iter()
                    .map(|d| (d.path.clone(), d))
                    .collect(),
                None => HashMap::new(),
            };
            plan::inputs::resolve(&spec, &cache, store.map(Store::dir))?
        } else {
            (Inputs::default(), Vec::new())
        };
        let (inputs, unremembered) = inputs;
        let plan = plan::expand_with(
            &spec,
            &Identity {
                scheme: KeyScheme::Lineage,
                inputs: &inputs,
            },
        );
        if plan.tasks.is_empty() {
            return Err(UsageError(format!(
                "{}: the grid has no tasks left after [[exclude]]; remove an exclusion or add values",
                spec.path.display()
            ))
            .into());
        }
        Ok(Experiment {
            spec,
            plan,
            unremembered,
        })
    }

    /// Remembers in `store` the digests of the input files this plan had to read, so that the
    /// next invocation does not read them again. A store opened read-only is left as it is.
    pub fn remember_digests(&mut self, store: &mut Store) -> anyhow::Result<()> {
        if store.is_read_only() {
            return Ok(());
        }
        store.remember_input_digests(&self.unremembered)?;
        self.unremembered.clear();
        Ok(())
    }

    /// Makes the plan's keys those of run `run`: a run made before labtrail 0.4 keeps its key
    /// scheme, without lineage, so that upgrading never reruns its tasks. Returns whether the
    /// run has the old scheme.
    pub fn adopt_scheme(&mut self, store: &Store, run: &str) -> anyhow::Result<bool> {
        let scheme = run_scheme(store, run)?;
        if scheme != self.plan.scheme {
            let inputs = self.plan.inputs.clone();
            self.plan = plan::expand_with(
                &self.spec,
                &Identity {
                    scheme,
                    inputs: &inputs,
                },
            );
        }
        Ok(scheme == KeyScheme::Own)
    }

    /// The store folder: `given` (`--store`), else `.labtrail` next to the experiment file.
    pub fn store_dir(&self, given: Option<&Path>) -> PathBuf {
        store_dir_of(&self.spec, given)
    }
}

/// The store folder of `spec`: `given` (`--store`), else `.labtrail` next to the experiment file.
pub fn store_dir_of(spec: &Spec, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| spec.base_dir().join(STORE_DIR))
}

/// The key scheme of run `run`; one this build does not know (a newer labtrail made the run) is
/// refused rather than guessed.
pub fn run_scheme(store: &Store, run: &str) -> anyhow::Result<KeyScheme> {
    let n = store.key_scheme(run)?;
    KeyScheme::from_number(n).ok_or_else(|| {
        UsageError(format!(
            "run `{run}` was made by a newer labtrail (key scheme {n}); upgrade labtrail to work on it"
        ))
        .into()
    })
}

/// The plan of stored run `run` exactly as it was last synced: its experiment file as recorded
/// (`spec`), its key scheme, and the input digests recorded with it (the files may have changed
/// since; a monitor must keep watching the tasks that were submitted).
pub fn stored_plan(store: &Store, run: &str, spec: &Spec) -> anyhow::Result<Plan> {
    let scheme = run_scheme(store, run)?;
    let inputs = store
        .records(run, INPUTS_RECORD)?
        .last()
        .and_then(|r| Inputs::from_json(spec, &r.json))
        .unwrap_or_default();
    Ok(plan::expand_with(
        spec,
        &Identity {
            scheme,
            inputs: &inputs,
        },
    ))
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
    /// Take over the run's lock even though a process on another host took it and never
    /// released it cleanly (the user checked that it no longer runs there).
    pub force: bool,
}

/// A run selected (or created) and locked for this invocation; the lock is released on drop.
pub struct LockedRun {
    pub store: Store,
    pub run: String,
    /// Whether this invocation created the run.
    pub created: bool,
    /// Who held the lock before, if it was taken over from a process that is gone.
    pub taken_over_from: Option<String>,
    /// Tasks this invocation created the run with and has not reported as added yet.
    pub(super) created_tasks: usize,
    /// Why the lock does not keep out another host, if it does not (see [`RunLock`]).
    pub locks_stay_here: Option<String>,
    lock: RunLock,
}

impl LockedRun {
    /// Releases the lock.
    pub fn release(self) -> Store {
        drop(self.lock);
        self.store
    }
}

/// Picks the run `choice` names for the experiment (creating it, with its whole plan, if
/// needed) and takes its lock. A lock taken over from a dead holder is recorded in the run's
/// events.
pub fn select_and_lock(
    mut store: Store,
    exp: &Experiment,
    choice: &RunChoice,
) -> anyhow::Result<LockedRun> {
    let (run, created_tasks) = choose_run(&mut store, exp, choice)?;
    let lock = RunLock::acquire_with(&store, &run, choice.force)?;
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
        created: created_tasks.is_some(),
        taken_over_from,
        created_tasks: created_tasks.unwrap_or(0),
        locks_stay_here: lock.locks_stay_here.clone(),
        lock,
    })
}

/// Picks the run to work on; `Ok((id, Some(tasks)))` if it created it, with that many tasks. A new run is created with its plan in one
/// transaction, which looks again for a run to resume: two invocations started together on the
/// same experiment find one run, whichever made it.
fn choose_run(
    store: &mut Store,
    exp: &Experiment,
    c: &RunChoice,
) -> anyhow::Result<(String, Option<usize>)> {
    let spec = &exp.spec;
    if let Some(id) = &c.id {
        if !is_safe_name(id) {
            return Err(UsageError(format!("run id `{id}` is not allowed: use letters, digits, `.`, `_` and `-` (at most 100, not starting with `.`)")).into());
        }
    }
    let existing = match (&c.resume, &c.id, c.fresh) {
        (Some(r), _, _) => Some(store.resolve_run_of(Some(r), &spec.name)?),
        (None, Some(id), false) => store.run_exists(id)?.then(|| id.clone()),
        (None, Some(id), true) if store.run_exists(id)? => return Err(fresh_id_taken(id)),
        (None, None, false) => store.latest_run(Some(&spec.name))?,
        _ => None,
    };
    if let Some(id) = existing {
        check_resumable(store, spec, &id)?;
        return Ok((id, None));
    }
    let stamped = format!(
        "{}-{}",
        spec.name,
        jiff::Zoned::now().strftime("%Y%m%d-%H%M%S")
    );
    let new = NewRun {
        id: c.id.as_deref().unwrap_or(&stamped),
        numbered: c.id.is_none(),
        experiment: &spec.name,
        executor: spec.run.executor.name(),
        unless_latest: c.id.is_none() && !c.fresh,
    };
    match store.create_run_with_plan(&new, &exp.plan.hash, || exp.plan.store_rows(spec))? {
        RunCreated::Created { id, tasks } => Ok((id, Some(tasks))),
        RunCreated::Existing(id) if c.fresh => Err(fresh_id_taken(&id)),
        RunCreated::Existing(id) => {
            check_resumable(store, spec, &id)?;
            Ok((id, None))
        }
    }
}

/// The error of `--fresh --id ID` when run ID exists.
pub fn fresh_id_taken(id: &str) -> anyhow::Error {
    UsageError(format!("--fresh with --id {id}: a run with that id already exists; pick another id or drop --fresh to resume it")).into()
}

/// Refuses to resume run `id` with `spec` if it belongs to another experiment or executor.
fn check_resumable(store: &Store, spec: &Spec, id: &str) -> anyhow::Result<()> {
    if let Some(other) = store.run_experiment(id)?.filter(|e| e != &spec.name) {
        return Err(UsageError(format!(
            "run `{id}` belongs to experiment `{other}`, not `{}`",
            spec.name
        ))
        .into());
    }
    // Tasks a SLURM run submitted may be running on the cluster; running the run locally
    // (or the other way round) would run them a second time.
    let executor = store.executor(id)?;
    if executor != spec.run.executor.name() {
        return Err(UsageError(format!(
            "run `{id}` was started with executor = \"{executor}\", and {} now says executor = \"{}\"; a run keeps its executor\n  help: start a new run with --fresh, or set executor = \"{executor}\" again to resume run `{id}`",
            spec.path.display(),
            spec.run.executor.name()
        ))
        .into());
    }
    Ok(())
}
