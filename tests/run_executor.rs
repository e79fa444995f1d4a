//! A run's executor is fixed when the run is created.

mod common;

use common::Exp;
use labtrail::app::select::{select_and_lock, RunChoice};
use labtrail::app::Experiment;
use labtrail::store::Store;

/// rep=b fails, so the run stays unfinished and a plain `labtrail run` resumes it.
const LOCAL: &str = r#"[experiment]
name = "flip"
command = "test {rep} = a && echo {rep} >> ledger.txt"

[params]
rep = ["a", "b"]
"#;

fn with_executor(executor: &str) -> String {
    format!("{LOCAL}\n[run]\nexecutor = \"{executor}\"\n")
}

/// Issue 9: resuming a local run with `executor = "slurm"` in the file would submit the tasks
/// the local runner ran or runs; it is refused, naming the run, its executor and the ways out,
/// and nothing runs. Back to `local`, the run resumes where it was.
#[test]
fn a_local_run_is_not_resumed_with_slurm() {
    let exp = Exp::new(LOCAL);
    let out = exp.run(&["--no-progress", "run", "exp.toml"]);
    assert_eq!(out.code(), 1, "rep=b fails: {}", out.stderr());
    assert_eq!(exp.ledger("ledger.txt"), ["a"]);
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();

    exp.write("exp.toml", &with_executor("slurm"));
    let out = exp.run(&["--no-progress", "run", "exp.toml"]);
    assert_eq!(
        out.code(),
        2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout(),
        out.stderr()
    );
    let err = out.stderr();
    for needle in [
        &format!("run `{run}`"),
        "executor = \"local\"",
        "executor = \"slurm\"",
        "--fresh",
    ] {
        assert!(
            err.contains(needle),
            "stderr should mention `{needle}`:\n{err}"
        );
    }
    assert_eq!(exp.count("failed"), 1, "the run is as it was");

    exp.write("exp.toml", &with_executor("local"));
    let out = exp.run(&["--no-progress", "run", "exp.toml"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(
        exp.ledger("ledger.txt"),
        ["a"],
        "the done task was not run again"
    );
}

/// Issue 9, the other way: a run created for SLURM (as `labtrail run` does before it submits)
/// is not resumed by the local runner. Driven through the library: no cluster is needed to be
/// refused.
#[test]
fn a_slurm_run_is_not_resumed_locally() {
    let exp = Exp::new(&with_executor("slurm"));
    let path = exp.file("exp.toml");
    let store_dir = exp.file(".labtrail");
    let slurm = Experiment::load(&path).expect("valid");
    let locked = select_and_lock(
        Store::open(&store_dir, true).unwrap(),
        &slurm,
        &RunChoice::default(),
    )
    .expect("a new run");
    assert!(locked.created);
    let run = locked.run.clone();
    drop(locked.release());

    exp.write("exp.toml", &with_executor("local"));
    let local = Experiment::load(&path).expect("valid");
    let err = select_and_lock(
        Store::open(&store_dir, true).unwrap(),
        &local,
        &RunChoice::default(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains(&format!("run `{run}`")), "{err}");
    assert!(err.contains("executor = \"slurm\""), "{err}");
    assert!(err.contains("--fresh"), "{err}");

    // --fresh is the way out.
    let fresh = RunChoice {
        fresh: true,
        ..RunChoice::default()
    };
    let locked = select_and_lock(Store::open(&store_dir, true).unwrap(), &local, &fresh).unwrap();
    assert_ne!(locked.run, run);
}
