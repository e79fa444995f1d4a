//! Issue 14: `labtrail run --only FILTER` / `--exclude FILTER` run a slice of the grid without
//! editing the experiment file, with the real binary, a real store and real tasks.

mod common;
use common::Exp;

/// A 3-stage pipeline: features per representation, then train and eval per seed. Each task
/// appends its name to a ledger (one worker: in plan order) and leaves a result.
const PIPELINE: &str = r#"
[experiment]
name = "abl"
[params]
rep = ["stats", "spectral"]
seed = [1, 2]
[[stage]]
name = "features"
params = ["rep"]
command = "echo features-{rep} >> ledger.txt"
[[stage]]
name = "train"
command = "test ! -f FAIL-{rep}-{seed} && echo train-{rep}-{seed} >> ledger.txt && echo '{\"acc\": {seed}}' > $LABTRAIL_RESULT"
[[stage]]
name = "eval"
command = "echo eval-{rep}-{seed} >> ledger.txt"
[run]
workers = 1
"#;

fn run(exp: &Exp, args: &[&str]) -> common::Out {
    let mut all = vec!["run", "exp.toml", "--no-progress"];
    all.extend_from_slice(args);
    exp.run(&all)
}

fn state_of(exp: &Exp, label: &str) -> String {
    let tasks = exp.tasks();
    let t = tasks
        .iter()
        .find(|t| t["label"] == label)
        .unwrap_or_else(|| panic!("no task {label}"));
    t["state"].as_str().unwrap().to_string()
}

/// Issue 14: `--only` a slice of the last stage runs it and the upstream tasks it needs, nothing
/// else; the run is not called finished; a second slice reuses the upstream already done.
#[test]
fn only_runs_the_slice_and_its_missing_upstream_and_nothing_else() {
    let exp = Exp::new(PIPELINE);
    let out = run(&exp, &["--only", "train/rep=stats,seed=1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(
        exp.ledger("ledger.txt"),
        ["features-stats", "train-stats-1"]
    );
    let err = out.stderr();
    assert!(
        err.contains("slice: 2 of 10 tasks (1 picked + 1 upstream)"),
        "{err}"
    );
    assert!(err.contains("slice of run abl-"), "{err}");
    assert!(err.contains(": 2/2 done"), "{err}");
    assert!(err.contains("2/10 done, 8 pending"), "{err}");
    assert!(
        err.contains("The run is not finished: 8 of its 10 tasks"),
        "{err}"
    );
    assert_eq!(exp.count("pending"), 8, "the rest of the run is untouched");

    // The second slice needs train-stats-2 (not done) and nothing done again.
    let out = run(&exp, &["--only", "eval/rep=stats"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("slice: 3 of 10 tasks (2 picked + 1 upstream)"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        exp.ledger("ledger.txt")[2..],
        ["train-stats-2", "eval-stats-1", "eval-stats-2"]
    );
    assert_eq!(state_of(&exp, "eval/rep=spectral,seed=1"), "pending");

    // Results of tasks outside the next slice stay visible while it runs another one.
    let out = run(
        &exp,
        &["--only", "features/rep=spectral", "--only", "features"],
    );
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out
        .stderr()
        .contains("slice: 2 of 10 tasks (2 picked + 0 upstream)"));
    let results = exp.run_ok(&["results", "--format", "jsonl"]).stdout();
    assert!(results.contains("train/rep=stats,seed=2"), "{results}");
    let status = exp.run_ok(&["status"]).stdout();
    assert!(status.contains("6/10 done, 4 pending"), "{status}");

    // A slice already done runs nothing and says the run is not finished.
    let out = run(&exp, &["--only", "rep=stats"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("All 5 tasks of the slice are done; nothing to run. The run is not finished: 4 of its 10 tasks"),
        "{}",
        out.stderr()
    );
}

/// Issue 14: `--exclude` leaves out the matching tasks and what waits for them; the rest runs.
#[test]
fn exclude_leaves_out_the_matching_tasks_and_their_downstream() {
    let exp = Exp::new(PIPELINE);
    let out = run(&exp, &["--exclude", "train/seed=2"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(out
        .stderr()
        .contains("slice: 6 of 10 tasks (6 picked + 0 upstream)"));
    assert_eq!(
        exp.ledger("ledger.txt"),
        [
            "features-stats",
            "features-spectral",
            "train-stats-1",
            "train-spectral-1",
            "eval-stats-1",
            "eval-spectral-1"
        ]
    );
    assert_eq!(state_of(&exp, "eval/rep=stats,seed=2"), "pending");
    // --only and --exclude together: a slice minus what --exclude names.
    let out = run(&exp, &["--only", "rep=spectral", "--exclude", "eval"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.ledger("ledger.txt")[6..], ["train-spectral-2"]);
}

/// Issue 14: a failure in the slice blocks what waits for it in the slice, and the exit code
/// says so; tasks outside the slice that wait for it are left pending, untouched.
#[test]
fn a_failure_in_the_slice_blocks_its_downstream_in_the_slice_only() {
    let exp = Exp::new(PIPELINE);
    exp.write("FAIL-stats-1", "");
    let out = run(&exp, &["--only", "eval/rep=stats,seed=1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains(": 1/3 done, 1 failed, 1 blocked"),
        "{}",
        out.stderr()
    );
    assert_eq!(state_of(&exp, "train/rep=stats,seed=1"), "failed");
    assert_eq!(state_of(&exp, "eval/rep=stats,seed=1"), "blocked");
    assert_eq!(state_of(&exp, "eval/rep=spectral,seed=1"), "pending");
    assert_eq!(exp.count("pending"), 7);
}

/// Issue 14: a filter that names no task is a usage error (exit 2) that names it and lists what
/// a filter can name; no run is made.
#[test]
fn a_filter_that_matches_nothing_is_refused_with_the_values() {
    let exp = Exp::new(PIPELINE);
    for flag in ["--only", "--exclude"] {
        let out = run(&exp, &[flag, "rep=stat"]);
        assert_eq!(out.code(), 2, "{}", out.stderr());
        let err = out.stderr();
        assert!(
            err.contains(&format!("{flag} rep=stat: matches no task")),
            "{err}"
        );
        assert!(err.contains("stages: features, train, eval"), "{err}");
        assert!(err.contains("rep = stats, spectral"), "{err}");
        assert!(err.contains("seed = 1, 2"), "{err}");
    }
    let runs: Vec<String> = exp.column_once_made("SELECT id FROM runs");
    assert!(runs.is_empty(), "no run made: {runs:?}");
    assert!(exp.ledger("ledger.txt").is_empty());
}

/// Issue 14: `--dry-run` lists the slice's tasks only, and runs nothing.
#[test]
fn dry_run_honours_the_slice() {
    let exp = Exp::new(PIPELINE);
    let out = exp.run_ok(&[
        "run",
        "exp.toml",
        "--dry-run",
        "--only",
        "eval/rep=stats,seed=2",
    ]);
    let text = out.stdout();
    assert!(
        text.contains("slice: 3 of 10 tasks (1 picked + 2 upstream)"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("  run")).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(text.contains("features/rep=stats") && !text.contains("rep=spectral"));

    run(&exp, &["--only", "features"]);
    let out = exp.run_ok(&[
        "run",
        "exp.toml",
        "--dry-run",
        "--only",
        "eval/rep=stats,seed=2",
    ]);
    let text = out.stdout();
    assert!(
        text.contains("slice: 2 of 10 tasks (1 picked + 1 upstream)"),
        "{text}"
    );
    assert!(
        !text.contains("features/"),
        "done upstream is not needed: {text}"
    );
    assert_eq!(
        exp.ledger("ledger.txt"),
        ["features-stats", "features-spectral"]
    );
}

/// Issue 14: the SLURM monitor does not keep a slice, so a SLURM run refuses one, saying so.
#[test]
fn a_slurm_run_refuses_a_slice() {
    let exp = Exp::new(&format!("{PIPELINE}executor = \"slurm\"\n"));
    let out = run(&exp, &["--only", "rep=stats"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("a slice works with the local executor only"),
        "{}",
        out.stderr()
    );
}

/// Issue 14 (review): a resumed slice lists as skipped only the done tasks of the slice; it
/// listed the run's done tasks outside it (`✓ train/rep=stats,seed=1 (skipped, already done)`
/// for `--only rep=spectral`) as if this invocation were about them.
#[test]
fn a_resumed_slice_lists_only_its_own_done_tasks() {
    let exp = Exp::new(PIPELINE);
    run(&exp, &["--only", "rep=stats"]);
    run(&exp, &["--only", "eval/rep=spectral,seed=1"]);
    let out = run(&exp, &["--only", "rep=spectral"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let err = out.stderr();
    let skipped: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("skipped, already done"))
        .collect();
    assert_eq!(
        skipped,
        [
            "  ✓ features/rep=spectral (skipped, already done)",
            "  ✓ train/rep=spectral,seed=1 (skipped, already done)",
            "  ✓ eval/rep=spectral,seed=1 (skipped, already done)"
        ],
        "{err}"
    );
}

/// Issue 14 (review): a float with no fraction is named as labels write it: `--only w=1` picks
/// the tasks labelled `w=1` (of `linspace = [0, 1]`), where it matched no task and the error
/// listed `w = 0.0, 0.5, 1.0`; `status --by w` groups say `w=1` too.
#[test]
fn a_whole_float_is_named_as_its_label_writes_it() {
    let exp = Exp::new(
        "[experiment]\nname = \"f\"\ncommand = \"echo {w} {s}\"\n[params]\nw = { linspace = [0, 1], num = 3 }\ns = [1, 2]\n",
    );
    let out = run(&exp, &["--only", "w=1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("slice: 2 of 6 tasks"),
        "{}",
        out.stderr()
    );
    assert_eq!(state_of(&exp, "w=1,s=2"), "done");
    let out = run(&exp, &["--only", "w=2"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr().contains("  w = 0, 0.5, 1\n"),
        "{}",
        out.stderr()
    );
    let status = exp.run_ok(&["status", "--by", "w"]).stdout();
    assert!(status.contains("  w=1    2/2 done"), "{status}");
}
