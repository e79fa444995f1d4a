//! `labtrail run --dry-run`: what the same command would run and why, the slice honoured,
//! without writing anything.

use super::run::RunArgs;
use crate::app::{self, Experiment};
use crate::spec::Spec;
use std::path::Path;

/// Says what `run` with `args` would do with each task of `spec`'s plan, in the store at
/// `store_dir` (none yet: every task would run).
pub fn dry_run(args: &RunArgs, spec: Spec, store_dir: &Path) -> anyhow::Result<i32> {
    // A dry run writes nothing: no store made, no digest remembered; it reads the store as
    // `status --explain FILE` does.
    if !store_dir.join(crate::store::DB_FILE).exists() {
        let exp = Experiment::expand(spec, None)?;
        let picked = app::slice::pick(&exp.spec, &exp.plan, &args.only, &args.exclude)?;
        return super::status::explain_fresh(&exp.spec, &exp.plan, picked.as_ref());
    }
    let store =
        app::read::store_to_read(Some(store_dir), Some(&spec), crate::store::Access::ReadOnly)?
            .expect("a store that exists is opened or refused");
    let mut exp = Experiment::expand(spec, Some(&store))?;
    let picked = app::slice::pick(&exp.spec, &exp.plan, &args.only, &args.exclude)?;
    // What the same command without --dry-run would work on: --fresh, or an --id not in
    // the store, makes a new run, in which every task runs (issue 10, review).
    let id_taken = match &args.id {
        Some(id) => store.run_exists(id)?,
        None => false,
    };
    if args.fresh && id_taken {
        return Err(app::select::fresh_id_taken(
            args.id.as_deref().unwrap_or_default(),
        ));
    }
    if args.resume.is_none() && (args.fresh || (args.id.is_some() && !id_taken)) {
        return super::status::explain_new_run(
            &exp.spec,
            &exp.plan,
            args.id.as_deref(),
            picked.as_ref(),
        );
    }
    let run = args.resume.as_deref().or(args.id.as_deref());
    super::status::explain(&store, &mut exp, run, picked.as_ref())
}
