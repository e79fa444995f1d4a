//! Which run an invocation works on, and the lock that makes it the only one working on it.

use super::UsageError;
use crate::plan::inputs::CachedDigest;
use crate::plan::{self, Identity, Inputs, KeyScheme, Plan};
use crate::spec::{is_safe_name, Spec};
use crate::store::{Change, RunLock, Store, INPUTS_RECORD, STORE_DIR};
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
            plan::inputs::resolve(&spec, &cache)?
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
    /// next invocation does not read them again.
    pub fn remember_digests(&mut self, store: &mut Store) -> anyhow::Result<()> {
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

/// The run a reading command (`status`, `tasks`, `logs`, `results`, `events`, `reset`) works
/// on, and how it was picked.
pub struct ReadTarget {
    /// The store the run is in.
    pub store: Store,
    /// The run id.
    pub run: String,
    /// A line for the user when the pick may not be what they meant: no experiment file and no
    /// `--run` were given, and the store holds runs of several experiments.
    pub note: Option<String>,
}

/// The store a reading command opens: `given` (`--store`), else the one next to the experiment
/// file as `labtrail run` finds it, else the nearest `.labtrail` above the current folder. With
/// an experiment file and no store next to it, `None`: nothing has run yet.
pub fn store_to_read(given: Option<&Path>, spec: Option<&Spec>) -> anyhow::Result<Option<Store>> {
    let dir = match (given, spec) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(spec)) => {
            let dir = spec.base_dir().join(STORE_DIR);
            if !dir.join(crate::store::DB_FILE).is_file() {
                return Ok(None);
            }
            dir
        }
        (None, None) => Store::discover(&std::env::current_dir()?)?,
    };
    Ok(Some(Store::open(&dir, false)?))
}

/// Picks the run a reading command reads: `run` (`--run`) if given, else the latest run of the
/// experiment `spec` if given, else the store's latest run (with a [`ReadTarget::note`] when the
/// store holds runs of several experiments). A run of another experiment than `spec` is refused.
pub fn read_target(
    given: Option<&Path>,
    spec: Option<&Spec>,
    run: Option<&str>,
) -> anyhow::Result<ReadTarget> {
    let Some(store) = store_to_read(given, spec)? else {
        let spec = spec.expect("a missing store is only reported for an experiment file");
        return Err(not_run_yet(spec, &spec.base_dir().join(STORE_DIR)));
    };
    let mut note = None;
    let run = match (spec, run) {
        (Some(spec), run) => {
            let id = match run {
                Some(r) if r != "latest" => store.resolve_run(Some(r))?,
                _ => store
                    .latest_run(Some(&spec.name))?
                    .ok_or_else(|| not_run_yet(spec, store.dir()))?,
            };
            if let Some(other) = store.run_experiment(&id)?.filter(|e| e != &spec.name) {
                return Err(UsageError(format!(
                    "run `{id}` belongs to experiment `{other}`, not `{}` ({})",
                    spec.name,
                    spec.path.display()
                ))
                .into());
            }
            id
        }
        (None, Some(r)) => store.resolve_run(Some(r))?,
        (None, None) => {
            let id = store.resolve_run(None)?;
            let runs = store.list_runs()?;
            let mut experiments: Vec<&str> = runs.iter().map(|r| r.experiment.as_str()).collect();
            experiments.sort_unstable();
            experiments.dedup();
            if experiments.len() > 1 {
                note = Some(format!(
                    "labtrail: reading run {id}, the latest in the store, which has runs of {} experiments; name one with `--run RUN` or its experiment file",
                    experiments.len()
                ));
            }
            id
        }
    };
    Ok(ReadTarget { store, run, note })
}

fn not_run_yet(spec: &Spec, store: &Path) -> anyhow::Error {
    UsageError(format!(
        "experiment `{}` ({}) has no run in the store {} yet; `labtrail run {}` starts one",
        spec.name,
        spec.path.display(),
        store.display(),
        spec.path.display()
    ))
    .into()
}
