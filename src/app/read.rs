//! Which run a reading command (`status`, `tasks`, `logs`, `results`, `events`, `reset`)
//! works on: the store found as `labtrail run` finds it, and the run named, or the latest.

use super::UsageError;
use crate::spec::Spec;
use crate::store::{Access, Store, STORE_DIR};
use std::path::Path;

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
/// an experiment file and no store next to it, `None`: nothing has run yet. Reading commands
/// open it [`Access::ReadOnly`]; `reset`, which changes it, read-write.
pub fn store_to_read(
    given: Option<&Path>,
    spec: Option<&Spec>,
    access: Access,
) -> anyhow::Result<Option<Store>> {
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
    Ok(Some(Store::open_with(&dir, access)?))
}

/// The store folder a command about a whole store (`check`, `check --repair`) works on:
/// `given` (`--store`), else the `.labtrail` next to the experiment file, as `labtrail run`
/// finds it, else the nearest one above the current folder. Only the folder: a repair must
/// reach a store whose database cannot be opened.
pub fn store_dir(given: Option<&Path>, spec: Option<&Spec>) -> anyhow::Result<std::path::PathBuf> {
    match (given, spec) {
        (Some(dir), _) => Ok(dir.to_path_buf()),
        (None, Some(spec)) => {
            let dir = spec.base_dir().join(STORE_DIR);
            if !dir.join(crate::store::DB_FILE).exists() {
                return Err(not_run_yet(spec, &dir));
            }
            Ok(dir)
        }
        (None, None) => Ok(Store::discover(&std::env::current_dir()?)?),
    }
}

/// Picks the run a reading command reads: `run` (`--run`) if given, else the latest run of the
/// experiment `spec` if given, else the store's latest run (with a [`ReadTarget::note`] when the
/// store holds runs of several experiments). A run of another experiment than `spec` is refused.
/// The store is opened as `access` says.
pub fn read_target(
    given: Option<&Path>,
    spec: Option<&Spec>,
    run: Option<&str>,
    access: Access,
) -> anyhow::Result<ReadTarget> {
    let Some(store) = store_to_read(given, spec, access)? else {
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
