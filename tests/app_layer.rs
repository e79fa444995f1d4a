//! The application layer driven as a library, without the binary (issue 8): what `labtrail run`
//! does — select the run, lock it, recover, sync, run — with real SQLite files and real
//! processes.

use labtrail::app::{self, Experiment, RunChoice};
use labtrail::engine::local::RunConfig;
use labtrail::progress::Reporter;
use labtrail::store::{Store, StoreError, TaskState};
use std::path::Path;
use std::time::Duration;

const EXP: &str = r#"
[experiment]
name = "lib"
command = "sh -c 'test {x} != 3 && echo \"{\\\"x\\\": {x}}\" > \"$LABTRAIL_RESULT\"'"

[params]
x = [1, 2, 3]
"#;

fn experiment(dir: &Path) -> Experiment {
    std::fs::write(dir.join("exp.toml"), EXP).unwrap();
    Experiment::load(&dir.join("exp.toml")).unwrap()
}

fn quiet(total: usize, done: usize) -> Reporter {
    Reporter::new(false, true, total as u64, done as u64)
}

fn cfg() -> RunConfig {
    RunConfig {
        workers: 2,
        grace: Duration::from_secs(1),
        devices: None,
    }
}

#[test]
fn a_run_and_its_resume_through_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());
    let store = Store::open(&exp.store_dir(None), true).unwrap();
    let mut locked = app::select::select_and_lock(store, &exp, &RunChoice::default()).unwrap();
    assert!(locked.created);
    let start = app::local::prepare(&mut locked, &exp, Duration::from_secs(1), false).unwrap();
    assert_eq!((start.added, start.done.len()), (3, 0));
    let finish = app::local::execute(&mut locked, &exp, &cfg(), &quiet(3, 0)).unwrap();
    assert_eq!(finish.states.get(TaskState::Done), 2);
    assert_eq!(finish.states.get(TaskState::Failed), 1);
    assert_eq!(finish.report.exit_code(), 1, "a failed task exits 1");

    // While the run is locked, a second invocation of the same run is refused.
    let again = Store::open(&exp.store_dir(None), false).unwrap();
    let err = app::select::select_and_lock(again, &exp, &RunChoice::default())
        .err()
        .expect("locked");
    assert!(matches!(
        err.downcast_ref::<StoreError>(),
        Some(StoreError::Locked { .. })
    ));
    let run = locked.run.clone();
    let store = locked.release();

    // The resume finds the latest run, its two done tasks, and the failed one to run again.
    let mut locked = app::select::select_and_lock(store, &exp, &RunChoice::default()).unwrap();
    assert_eq!((locked.run.as_str(), locked.created), (run.as_str(), false));
    let start = app::local::prepare(&mut locked, &exp, Duration::from_secs(1), false).unwrap();
    assert_eq!(start.done, vec![0, 1], "plan indices of the done tasks");
    assert_eq!(start.states.get(TaskState::Failed), 1);
    assert!(!start.all_done(&exp));
}

/// `labtrail run` of a SLURM experiment retries what the policy stopped, as a local run does:
/// the rule lives in the application layer, not in the CLI.
#[test]
fn a_new_slurm_invocation_makes_stopped_tasks_pending_again() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());
    let store = Store::open(&exp.store_dir(None), true).unwrap();
    let mut locked = app::select::select_and_lock(store, &exp, &RunChoice::default()).unwrap();
    app::local::prepare(&mut locked, &exp, Duration::from_secs(1), false).unwrap();
    app::local::execute(&mut locked, &exp, &cfg(), &quiet(3, 0)).unwrap();
    let start = app::slurm::prepare(&mut locked, &exp).unwrap();
    assert_eq!((start.added, start.retried), (0, 1));
    let states = app::local::StateCounts::of(&locked.store, &locked.run).unwrap();
    assert_eq!(states.get(TaskState::Pending), 1);
    assert_eq!(states.get(TaskState::Done), 2);
    assert_eq!(
        app::slurm::runs_to_watch(&locked.store, false, None).unwrap(),
        vec![locked.run.clone()]
    );
}

#[test]
fn an_empty_grid_and_a_bad_run_id_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("exp.toml");
    std::fs::write(
        &path,
        "[experiment]\nname = \"e\"\ncommand = \"true {x}\"\n[params]\nx = [1]\n[[exclude]]\nx = 1\n",
    )
    .unwrap();
    let err = Experiment::load(&path).err().expect("empty grid");
    assert!(err.downcast_ref::<app::UsageError>().is_some(), "{err}");

    let exp = experiment(tmp.path());
    let store = Store::open(&exp.store_dir(None), true).unwrap();
    let choice = RunChoice {
        id: Some("../escape".into()),
        ..RunChoice::default()
    };
    let err = app::select::select_and_lock(store, &exp, &choice)
        .err()
        .expect("unsafe id");
    assert!(err.downcast_ref::<app::UsageError>().is_some(), "{err}");
}
