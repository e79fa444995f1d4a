//! Issue 14 on a real cluster: SLURM tasks get `PYTHONUNBUFFERED=1` too (unless the experiment
//! sets it), so `logs --follow` shows a Python job's output as it comes.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// Issue 14: a SLURM task sees `PYTHONUNBUFFERED=1`; one whose experiment sets the variable
/// sees the experiment's value.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn slurm_tasks_get_pythonunbuffered_unless_the_experiment_sets_it() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "unbuffered"
[params]
i = [1]
[[stage]]
name = "plain"
command = "printf '%s' \"${{PYTHONUNBUFFERED-unset}}\" > \"$LABTRAIL_TASK_DIR/pu.txt\""
[[stage]]
name = "declared"
command = "printf '%s' \"${{PYTHONUNBUFFERED-unset}}\" > \"$LABTRAIL_TASK_DIR/pu.txt\""
env = {{ PYTHONUNBUFFERED = "" }}
{FAST}"#
    ));
    let out = Out(exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env_remove("PYTHONUNBUFFERED")
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let mut seen: Vec<String> = std::fs::read_dir(exp.run_dir().join("tasks"))
        .unwrap()
        .map(|d| std::fs::read_to_string(d.unwrap().path().join("pu.txt")).unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, ["", "1"]);
}
