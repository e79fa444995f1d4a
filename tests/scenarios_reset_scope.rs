//! Issue 9: what a reset covers (a whole stage; downstream tasks always from scratch) and what it
//! says (the real experiment file; nothing with `-q`), and naming a stage in task filters.

mod common;
use common::*;

/// `prepare` feeds two `train` tasks that checkpoint into `$LABTRAIL_TASK_DIR` and, finding a
/// checkpoint, "resume" (finish at once, as a training at its last step does); `eval` reads them.
const STAGED_CKPT: &str = r#"
[experiment]
name = "staged"
[params]
rep = ["a", "b"]
[[stage]]
name = "prepare"
params = []
command = '''
if [ -f "$LABTRAIL_TASK_DIR/ckpt" ]; then echo "prepare resumed" >> ledger.txt
else echo "prepare fresh" >> ledger.txt; touch "$LABTRAIL_TASK_DIR/ckpt"; fi
'''
[[stage]]
name = "train"
command = '''
if [ -f "$LABTRAIL_TASK_DIR/ckpt" ]; then echo "train-{rep} resumed" >> ledger.txt
else echo "train-{rep} fresh" >> ledger.txt; touch "$LABTRAIL_TASK_DIR/ckpt"; fi
'''
[[stage]]
name = "eval"
params = []
after = ["train"]
command = "echo eval >> ledger.txt"
[run]
workers = 1   # the ledger in plan order
"#;

fn run_ok(exp: &Exp) {
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
}

/// Issue 9: `reset prepare --keep-task-dir` kept the downstream train tasks' folders too, so they
/// "resumed" from their final checkpoints instead of training on the re-prepared data. The flag
/// keeps the folders of the tasks named only; downstream tasks start from scratch.
#[test]
fn keep_task_dir_keeps_the_named_tasks_folders_and_downstream_starts_from_scratch() {
    let exp = Exp::new(STAGED_CKPT);
    run_ok(&exp);
    let first = ["prepare fresh", "train-a fresh", "train-b fresh", "eval"];
    assert_eq!(exp.ledger("ledger.txt"), first);

    let out = exp.run(&["reset", "prepare", "--keep-task-dir"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let text = out.stdout();
    // `eval` kept nothing in its folder, so it has none to move aside (issue 15).
    assert!(
        text.contains("1 task folder kept") && text.contains("2 task folders moved aside"),
        "{text}"
    );
    run_ok(&exp);
    assert_eq!(
        exp.ledger("ledger.txt")[4..],
        ["prepare resumed", "train-a fresh", "train-b fresh", "eval"]
    );

    let help = exp.run(&["reset", "--help"]).stdout();
    assert!(
        help.contains("--keep-task-dir: their upstream will write new output"),
        "`reset --help` says downstream folders are moved aside:\n{help}"
    );
}

/// Issue 9: a whole stage could not be named (`reset train`, `reset stage=train` and
/// `tasks train` matched no task, exit 2; only `train/rep=a` worked). A bare stage name and
/// `stage=NAME` now select every task of the stage, in every command that takes TASK; `logs`,
/// which shows one task, refuses a stage of several with the list of them.
#[test]
fn a_whole_stage_is_named_bare_or_as_stage_filter() {
    let exp = Exp::new(STAGED_CKPT);
    run_ok(&exp);
    let labels = |args: &[&str]| -> Vec<String> {
        let out = exp.run(args);
        assert_eq!(out.code(), 0, "{args:?}: {}", out.stderr());
        let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
        rows.iter()
            .map(|t| t["label"].as_str().unwrap().to_string())
            .collect()
    };
    let train = ["train/rep=a", "train/rep=b"];
    assert_eq!(labels(&["tasks", "train", "--json"]), train);
    assert_eq!(labels(&["tasks", "stage=train", "--json"]), train);
    assert_eq!(
        labels(&["tasks", "stage=train,rep=b", "--json"]),
        ["train/rep=b"]
    );

    let logs = exp.run(&["logs", "train"]);
    assert_eq!(logs.code(), 2, "{}", logs.stdout());
    assert!(
        logs.stderr().contains("train/rep=a") && logs.stderr().contains("train/rep=b"),
        "{}",
        logs.stderr()
    );
    assert_eq!(exp.run(&["logs", "stage=eval"]).code(), 0);

    let out = exp.run(&["reset", "train", "exp.toml"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout().contains("reset 2 tasks and 1 downstream"),
        "{}",
        out.stdout()
    );
    assert_eq!(exp.count("pending"), 3);
    run_ok(&exp);
    let out = exp.run(&["reset", "stage=train", "--only"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("pending"), 2);

    let unknown = exp.run(&["reset", "stage=nope"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.stdout());
    assert!(
        unknown.stderr().contains("matches no task"),
        "{}",
        unknown.stderr()
    );
}

/// Issue 9: `reset` ended with a literal "`labtrail run EXPERIMENT.toml` will run them again" and
/// printed it all under `-q`. It names the experiment file (the one given, else the one the run
/// was started with) and is silent with `-q`; errors still show.
#[test]
fn reset_names_the_real_experiment_file_and_is_quiet_with_q() {
    let exp = Exp::new(STAGED_CKPT);
    std::fs::rename(exp.file("exp.toml"), exp.file("my grid.toml")).unwrap();
    let out = exp.run(&["run", "my grid.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());

    let out = exp.run(&["reset", "eval"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stdout()
            .contains("`labtrail run 'my grid.toml'` will run them again"),
        "{}",
        out.stdout()
    );
    let out = exp.run(&["reset", "eval", "my grid.toml"]);
    assert!(
        out.stdout()
            .contains("`labtrail run 'my grid.toml'` will run them again"),
        "{}",
        out.stdout()
    );

    let quiet = exp.run(&["-q", "reset", "prepare"]);
    assert_eq!(quiet.code(), 0, "{}", quiet.stderr());
    assert_eq!(quiet.stdout(), "", "nothing but errors with -q");
    assert_eq!(exp.count("pending"), 4, "and the reset is done");
    let failed = exp.run(&["-q", "reset", "nope"]);
    assert_eq!(failed.code(), 2);
    assert!(
        failed.stderr().contains("matches no task"),
        "{}",
        failed.stderr()
    );
}
