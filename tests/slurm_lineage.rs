//! Issue 9 against a real SLURM cluster: a three-stage pipeline passes files along through
//! `LABTRAIL_UPSTREAM_<STAGE>` (its links made on the submitting host, read on the node), and an
//! edited declared input reruns exactly what depends on it.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_pipeline_passes_files_downstream_and_follows_its_inputs() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "slpipe"

[params]
lr = [0.1, 0.01]

[[stage]]
name = "prepare"
params = []
command = "echo prepare >> ledger; echo data > \"$LABTRAIL_TASK_DIR/data.txt\""

[[stage]]
name = "train"
inputs = ["train.py"]
command = "echo train-{{lr}} >> ledger; cat \"$LABTRAIL_UPSTREAM_PREPARE/data.txt\" train.py > \"$LABTRAIL_TASK_DIR/model\""

[[stage]]
name = "eval"
params = []
command = "echo eval >> ledger; cd \"$LABTRAIL_UPSTREAM_TRAIN\" && cat lr=0.1/model lr=0.01/model > \"$LABTRAIL_TASK_DIR/table\""
{FAST}"#
    ));
    exp.write("train.py", "v1\n");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 4);
    let eval = exp
        .tasks()
        .into_iter()
        .find(|t| t["stage"] == "eval")
        .unwrap();
    let table = exp
        .run_dir()
        .join("tasks")
        .join(eval["key"].as_str().unwrap())
        .join("table");
    assert_eq!(
        std::fs::read_to_string(&table).unwrap(),
        "data\nv1\ndata\nv1\n"
    );

    std::fs::remove_file(exp.file("ledger")).unwrap();
    exp.write("train.py", "v2\n");
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let mut ran = exp.ledger("ledger");
    ran.sort();
    assert_eq!(ran, ["eval", "train-0.01", "train-0.1"]);
}
