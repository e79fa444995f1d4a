//! What `labtrail run` would do with each task of an experiment file as it is now: the plan
//! expanded with the key scheme of the run it would resume.

use super::Experiment;
use crate::report::explain::{self, Explanation};
use crate::store::Store;

/// Explains `exp` against run `run` (`None`: the experiment's latest run; none at all: every
/// task is new). The plan is re-expanded with that run's key scheme first, as `run` would.
pub fn against_run(
    store: &Store,
    exp: &mut Experiment,
    run: Option<&str>,
) -> anyhow::Result<Explanation> {
    let run = match run {
        Some(r) => Some(store.resolve_run(Some(r))?),
        None => store.latest_run(Some(&exp.spec.name))?,
    };
    if let Some(run) = &run {
        exp.adopt_scheme(store, run)?;
    }
    Ok(explain::compared(
        store,
        &exp.spec,
        &exp.plan,
        run.as_deref(),
    )?)
}
