//! Issue 15: a stage larger than the cluster's `MaxArraySize` goes as several job arrays of at
//! most that many elements, each its own durable submission, against the real SLURM cluster
//! (`MaxArraySize` 1001, SLURM's default). The jobs are held (`--hold`): they never run, so the
//! tests check what was submitted, then cancel it (three arrays, by id).

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Tasks in the stage: three arrays with `MaxArraySize` 1001.
const TASKS: usize = 2_500;

/// An experiment of [`TASKS`] held array jobs, with `extra` lines in `[slurm]`.
fn held_stage(name: &str, extra: &str) -> Exp {
    Exp::new(&format!(
        "[experiment]\nname = \"{name}\"\ncommand = \"true {{i}}\"\n[params]\ni = {{ range = [0, {TASKS}] }}\n{FAST}array = true\nhold = true\n{extra}"
    ))
}

/// The run's jobs in squeue, by array: array id -> its elements' indices.
fn arrays_of(run: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let mut arrays: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for (id, _) in jobs(run) {
        let (array, index) = id.split_once('_').expect("an array element");
        arrays
            .entry(array.to_string())
            .or_default()
            .insert(index.parse().expect("an element index"));
    }
    arrays
}

/// Cancels the run's arrays (one scancel each, not one per element), even when the test fails.
struct CancelArraysOf(String);
impl Drop for CancelArraysOf {
    fn drop(&mut self) {
        for array in arrays_of(&self.0).keys() {
            let _ = std::process::Command::new("scancel").arg(array).status();
        }
    }
}

/// The job ids the store records for its attempts.
fn recorded_jobs(exp: &Exp) -> Vec<String> {
    exp.column("SELECT job_id FROM attempts WHERE job_id IS NOT NULL")
}

/// Stops a monitor with Ctrl+C (its jobs keep running) and returns what it printed.
fn stop(monitor: std::process::Child) -> Out {
    signal(&monitor, libc::SIGINT);
    finish(monitor)
}

/// Issue 15: a stage of 2,500 tasks goes as arrays of 1001, 1001 and 498 elements (indices from
/// 0), each an intent of its own; the monitor killed right after the first `sbatch` leaves that
/// array, found again by its name, and the two intents it never handed to `sbatch`, whose tasks
/// go again: every task has exactly one job, and SLURM has no job the store does not know.
/// Before: one array `0-2499`, refused by SLURM ("Invalid job array specification").
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_stage_larger_than_max_array_size_goes_as_several_arrays_even_across_a_crash() {
    require_slurm();
    let exp = held_stage("chunked", "");
    run_until_crash_after_sbatch(&exp);
    let run = run_id(&exp);
    let _cancel = CancelArraysOf(run.clone());
    let first = arrays_of(&run);
    assert_eq!(
        first.values().map(BTreeSet::len).collect::<Vec<_>>(),
        [1001],
        "one array was accepted before the crash: {first:?}"
    );
    assert!(recorded_jobs(&exp).is_empty(), "nothing recorded yet");

    let monitor = exp.spawn(&["monitor", "--no-progress"]);
    wait_until(
        "every task to have a recorded job",
        Duration::from_secs(90),
        || recorded_jobs(&exp).len() == TASKS,
    );
    let out = stop(monitor);
    let arrays = arrays_of(&run);
    let mut sizes: Vec<usize> = arrays.values().map(BTreeSet::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [498, 1001, 1001], "{arrays:?}\n{}", out.stderr());
    for elements in arrays.values() {
        let expected: BTreeSet<u32> = (0..elements.len() as u32).collect();
        assert_eq!(elements, &expected, "indices from 0, none missing");
    }
    assert!(
        arrays.contains_key(first.keys().next().unwrap()),
        "the array accepted before the crash is kept"
    );
    let recorded: BTreeSet<String> = recorded_jobs(&exp).into_iter().collect();
    let queued: BTreeSet<String> = jobs(&run).into_iter().map(|(id, _)| id).collect();
    assert_eq!(recorded.len(), TASKS, "one job per task");
    assert_eq!(recorded, queued, "the store knows every job SLURM has");
    assert!(
        out.stderr().contains("found again") && out.stderr().contains("never handed to sbatch"),
        "{}",
        out.stderr()
    );
}

/// Issue 15: with `max_running`, every array carries the throttle, so a stage has one array at
/// a time: the first poll submits 1001 tasks (`%2`), the other 1,499 wait for it to end, instead
/// of three arrays running up to 6 jobs at once.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn with_max_running_a_stage_has_one_array_at_a_time() {
    require_slurm();
    let exp = held_stage("throttled", "max_running = 2\n");
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    let run = wait_for_run(&exp);
    let _cancel = CancelArraysOf(run.clone());
    wait_until(
        "the first array to be recorded",
        Duration::from_secs(90),
        || recorded_jobs(&exp).len() == 1001,
    );
    // A few more polls, in which nothing else may go.
    wait_secs(3);
    let out = stop(monitor);
    let arrays = arrays_of(&run);
    assert_eq!(
        arrays.values().map(BTreeSet::len).collect::<Vec<_>>(),
        [1001],
        "{arrays:?}\n{}",
        out.stderr()
    );
    assert_eq!(recorded_jobs(&exp).len(), 1001);
    assert_eq!(exp.count("pending"), TASKS - 1001);
    assert!(
        out.stderr().contains("with 1001 tasks (at most 2 at once)"),
        "{}",
        out.stderr()
    );
}
