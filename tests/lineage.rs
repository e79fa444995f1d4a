//! Issue 9, lineage: a change upstream reaches every task downstream, declared inputs are part of
//! a task's identity, and `status --explain` says which change made a task run again. Each
//! scenario is what a user of a three-stage pipeline does: run it, edit one thing, run again.

mod common;
use common::Exp;

/// prepare → train (one per lr) → eval (fan-in over every train task). Every task appends its
/// label to `ledger`, so a test sees exactly what ran.
const PIPELINE: &str = r#"
[experiment]
name = "pipe"

[params]
lr = [0.1, 0.01]

[[stage]]
name = "prepare"
params = []
command = "echo prepare >> ledger"

[[stage]]
name = "train"
command = "echo train-{lr} >> ledger"

[[stage]]
name = "eval"
params = []
command = "echo eval >> ledger"
"#;

fn run_ok(e: &Exp) {
    e.run_ok(&["run", "exp.toml", "-j", "1"]);
}

fn ran(e: &Exp) -> Vec<String> {
    let mut lines = e.ledger("ledger");
    std::fs::remove_file(e.file("ledger")).ok();
    lines.sort();
    lines
}

fn explain(e: &Exp) -> String {
    let out = e.run(&["status", "--explain", "exp.toml"]);
    assert_eq!(out.code(), 0, "explain failed: {}", out.stderr());
    out.stdout()
}

/// Issue 9: changing `prepare`'s command reruns the train tasks that read its output and the eval
/// that reads theirs (before, only `prepare` reran and 2 train + 1 eval stayed done, stale).
#[test]
fn a_changed_upstream_command_reruns_everything_downstream() {
    let e = Exp::new(PIPELINE);
    run_ok(&e);
    assert_eq!(ran(&e), ["eval", "prepare", "train-0.01", "train-0.1"]);
    e.write(
        "exp.toml",
        &PIPELINE.replace("echo prepare", "echo  prepare"),
    );
    let why = explain(&e);
    assert!(
        why.contains("train/lr=0.1") && why.contains("upstream prepare changed"),
        "{why}"
    );
    assert!(
        why.contains("upstream train/lr="),
        "eval names a train task: {why}"
    );
    run_ok(&e);
    assert_eq!(ran(&e), ["eval", "prepare", "train-0.01", "train-0.1"]);
}

/// Issue 9: changing one train task reruns it and the fan-in eval, not the other train task
/// and not prepare.
#[test]
fn a_changed_middle_task_reruns_it_and_the_fan_in_only() {
    let e = Exp::new(PIPELINE);
    run_ok(&e);
    ran(&e);
    e.write(
        "exp.toml",
        &PIPELINE.replace("lr = [0.1, 0.01]", "lr = [0.1, 0.02]"),
    );
    run_ok(&e);
    assert_eq!(ran(&e), ["eval", "train-0.02"]);
}

/// Issue 9: lineage keys are stable: resuming an unchanged pipeline runs nothing.
#[test]
fn resuming_an_unchanged_pipeline_runs_nothing() {
    let e = Exp::new(PIPELINE);
    run_ok(&e);
    ran(&e);
    run_ok(&e);
    assert!(ran(&e).is_empty());
}

const WITH_INPUTS: &str = r#"
[experiment]
name = "inp"
inputs = ["common.cfg"]

[params]
lr = [0.1, 0.01]

[[stage]]
name = "prepare"
params = []
inputs = ["data/*.csv"]
command = "echo prepare >> ledger"

[[stage]]
name = "train"
inputs = ["train.py"]
command = "echo train-{lr} >> ledger"
"#;

fn inputs_exp() -> Exp {
    let e = Exp::new(WITH_INPUTS);
    std::fs::create_dir(e.file("data")).unwrap();
    e.write("data/a.csv", "1,2\n");
    e.write("train.py", "print('v1')\n");
    e.write("common.cfg", "x = 1\n");
    e
}

/// Issue 9: editing a declared input reruns the tasks of the stages that declare it (and what
/// is downstream of them), and `--explain` names the file.
#[test]
fn an_edited_input_reruns_what_depends_on_it() {
    let e = inputs_exp();
    run_ok(&e);
    assert_eq!(ran(&e), ["prepare", "train-0.01", "train-0.1"]);
    e.write("train.py", "print('v2')\n");
    let why = explain(&e);
    assert!(why.contains("input train.py changed"), "{why}");
    run_ok(&e);
    assert_eq!(
        ran(&e),
        ["train-0.01", "train-0.1"],
        "prepare does not read train.py"
    );

    // A new file matching a stage's pattern is part of its inputs; downstream follows.
    e.write("data/b.csv", "3,4\n");
    assert!(explain(&e).contains("input data/b.csv is new"));
    run_ok(&e);
    assert_eq!(ran(&e), ["prepare", "train-0.01", "train-0.1"]);

    // An experiment-wide input belongs to every stage.
    e.write("common.cfg", "x = 2\n");
    run_ok(&e);
    assert_eq!(ran(&e), ["prepare", "train-0.01", "train-0.1"]);

    // Unchanged files: nothing runs.
    run_ok(&e);
    assert!(ran(&e).is_empty());
}

/// Issue 9: a declared input that matches no file is refused before anything runs, naming the
/// pattern and the stage.
#[test]
fn an_input_that_matches_nothing_is_refused() {
    let e = inputs_exp();
    std::fs::remove_file(e.file("train.py")).unwrap();
    let out = e.run(&["run", "exp.toml"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("`inputs` entry `train.py` (stage `train`) matches no file"),
        "{}",
        out.stderr()
    );
    assert!(!e.file("ledger").exists(), "nothing ran");
}

/// Issue 9: a run made before lineage keys (labtrail 0.3 and older: key scheme 1 in the store)
/// keeps the keys it was made with, so upgrading labtrail reruns none of its tasks; `run` says
/// that upstream changes do not reach downstream in it, and how to get a run that tracks them.
#[test]
fn a_run_made_before_lineage_keeps_its_keys() {
    let e = Exp::new(PIPELINE);
    {
        let mut store = labtrail::store::Store::open(&e.file(".labtrail"), true).unwrap();
        store
            .create_run("old", "pipe", "exp.toml", PIPELINE)
            .unwrap();
    }
    let db = rusqlite::Connection::open(e.file(".labtrail/labtrail.db")).unwrap();
    db.execute("UPDATE runs SET key_scheme = 1", []).unwrap();
    run_ok(&e);
    ran(&e);
    e.write(
        "exp.toml",
        &PIPELINE.replace("echo prepare", "echo  prepare"),
    );
    let out = e.run(&["run", "exp.toml", "-j", "1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("run old was made before labtrail 0.4")
            && out.stderr().contains("--fresh"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        ran(&e),
        ["prepare"],
        "the old run's downstream keys did not change"
    );
    let fresh = e.run(&["run", "exp.toml", "--fresh", "-j", "1"]);
    assert_eq!(fresh.code(), 0, "{}", fresh.stderr());
    assert_eq!(ran(&e).len(), 4, "a fresh run tracks lineage");
}

/// Issue 9: each task finds its upstream tasks' folders in `LABTRAIL_UPSTREAM_<STAGE>`: the one
/// upstream task's folder, or for a fan-in a folder of links named by the parameters that tell
/// the upstream tasks apart. A real pipeline passes files along without building paths by hand.
#[test]
fn tasks_read_what_their_upstream_tasks_wrote() {
    let e = Exp::new(
        r#"
[experiment]
name = "files"

[params]
lr = [0.1, 0.01]
seed = [1]

[[stage]]
name = "prepare"
params = []
command = "echo data > \"$LABTRAIL_TASK_DIR/data.txt\""

[[stage]]
name = "train"
params = ["lr"]
command = "cat \"$LABTRAIL_UPSTREAM_PREPARE/data.txt\" > \"$LABTRAIL_TASK_DIR/model\" && echo {lr} >> \"$LABTRAIL_TASK_DIR/model\""

[[stage]]
name = "eval"
params = ["seed"]
command = "cd \"$LABTRAIL_UPSTREAM_TRAIN\" && for d in *; do echo \"$d: $(tr '\\n' ' ' < \"$d/model\")\"; done > \"$LABTRAIL_TASK_DIR/table\""
"#,
    );
    run_ok(&e);
    let eval = e
        .tasks()
        .into_iter()
        .find(|t| t["stage"] == "eval")
        .unwrap();
    let key = eval["key"].as_str().unwrap();
    let table = std::fs::read_to_string(e.run_dir().join("tasks").join(key).join("table")).unwrap();
    assert_eq!(table, "lr=0.01: data 0.01 \nlr=0.1: data 0.1 \n");
}

/// Issue 9: a stored run's plan is expanded again with the input digests it was synced with,
/// not with what the files hold now: a SLURM monitor restarted after `train.py` was edited keeps
/// watching the tasks that were submitted (a new `run` is what takes the edit into account).
#[test]
fn a_stored_plan_keeps_the_inputs_it_was_synced_with() {
    use labtrail::app::{self, Experiment, RunChoice};
    use labtrail::store::Store;
    let e = inputs_exp();
    let exp = Experiment::load(&e.file("exp.toml")).unwrap();
    let store = Store::open(&exp.store_dir(None), true).unwrap();
    let mut locked = app::select::select_and_lock(store, &exp, &RunChoice::default()).unwrap();
    let run = locked.run.clone();
    let synced = exp.plan.hash.clone();
    locked
        .store
        .sync_plan(&run, &exp.plan.hash, || exp.plan.store_rows(&exp.spec))
        .unwrap();
    e.write("train.py", "print('edited')\n");
    let now = Experiment::load(&e.file("exp.toml")).unwrap();
    assert_ne!(
        now.plan.hash, synced,
        "the edit changes the keys of a new sync"
    );
    let stored = app::select::stored_plan(&locked.store, &run, &now.spec).unwrap();
    assert_eq!(stored.hash, synced);
}

/// Issue 9 (found in review): a fan-in's links are made anew for each attempt and point to
/// their targets relatively: after `[params]` is reordered (the keys stay, the link names
/// change) or the experiment folder is moved, a rerun of the fan-in sees exactly its upstream
/// tasks, in the store it runs from (before: stale links doubled every model, or pointed into
/// the old folder and the fan-in read nothing, and was recorded done).
#[test]
fn fan_in_links_follow_reordered_params_and_a_moved_folder() {
    const FAN: &str = r#"
[experiment]
name = "fan"

[params]
lr = [0.1, 0.01]
seed = [1, 2]

[[stage]]
name = "train"
command = "echo {lr}-{seed} > \"$LABTRAIL_TASK_DIR/model\""

[[stage]]
name = "eval"
params = []
command = "cat \"$LABTRAIL_UPSTREAM_TRAIN\"/*/model | sort | tr '\\n' ' ' > seen"
"#;
    let e = Exp::new(FAN);
    run_ok(&e);
    let seen = |e: &Exp| std::fs::read_to_string(e.file("seen")).unwrap();
    let all = "0.01-1 0.01-2 0.1-1 0.1-2 ";
    assert_eq!(seen(&e), all);

    e.write(
        "exp.toml",
        &FAN.replace(
            "lr = [0.1, 0.01]\nseed = [1, 2]",
            "seed = [1, 2]\nlr = [0.1, 0.01]",
        ),
    );
    let reset = e.run(&["reset", "eval", "exp.toml"]);
    assert_eq!(reset.code(), 0, "{}", reset.stderr());
    run_ok(&e);
    assert_eq!(seen(&e), all, "each model once");

    let moved = tempfile::tempdir().unwrap();
    let to = moved.path().join("fan");
    std::fs::rename(e.path(), &to).unwrap();
    let m = common::Exp { dir: moved };
    let run_in = |args: &[&str]| {
        let mut c = m.cmd(args);
        c.current_dir(&to);
        common::Out(c.output().unwrap())
    };
    assert_eq!(run_in(&["reset", "eval", "exp.toml"]).code(), 0);
    let out = run_in(&["run", "exp.toml", "-j", "1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(std::fs::read_to_string(to.join("seen")).unwrap(), all);
}

/// Issue 9 (found in review): with several earlier configurations of a task in the run,
/// `--explain` compares with the latest, and says the same every time (before, it picked one
/// at random: "was: echo v1" or "was: echo v2" from one call to the next).
#[test]
fn explain_compares_with_the_latest_configuration() {
    let text = |v: &str| {
        format!("[experiment]\nname = \"cfg\"\ncommand = \"echo {v} {{x}}\"\n[params]\nx = [1]\n")
    };
    let e = Exp::new(&text("v1"));
    run_ok(&e);
    e.write("exp.toml", &text("v2"));
    run_ok(&e);
    e.write("exp.toml", &text("v3"));
    for _ in 0..6 {
        let why = explain(&e);
        assert!(why.contains("(was: echo v2 1)"), "{why}");
    }
}
