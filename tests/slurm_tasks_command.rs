//! Issue 14: `labtrail tasks TASK --command` for a task that ran as a SLURM job: the snippet
//! gives the job's variables (its job id, its attempt folder's result file), and run by hand
//! it does what the job did.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// `LABTRAIL_SLOT` is a worker's, not the task's: a reproduction by hand has no worker.
const TASK: &str = r#"
{ pwd; env | grep -E '^(LABTRAIL_|MY_)' | grep -v -E '^LABTRAIL_(SLOT|REQUIRE_CHROMIUM)=' | sort; } > "$LABTRAIL_TASK_DIR/seen.txt"
printf '{"x": %s, "job": "%s"}\n' "$LABTRAIL_PARAM_X" "$LABTRAIL_JOB_ID" > "$LABTRAIL_RESULT"
"#;

/// Issue 14: the snippet of a SLURM task, run with `sh` from elsewhere with an empty
/// environment, sees the variables the job saw and rewrites the job's result file.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn the_snippet_of_a_slurm_task_does_what_the_job_did() {
    require_slurm();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"cmdslurm\"\ncommand = \"sh task.sh\"\nenv = {{ MY_NOTE = \"a 'b' $c\" }}\n[params]\nx = [1]\n{FAST}"
    ));
    exp.write("task.sh", TASK);
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(exp.count("done"), 1);
    let snippet = exp.run_ok(&["tasks", "x=1", "--command"]).stdout();
    let value = |name: &str| -> String {
        let line = snippet
            .lines()
            .find(|l| l.starts_with(&format!("export {name}=")))
            .unwrap_or_else(|| panic!("no {name} in\n{snippet}"));
        sh(&format!("{line}; printf %s \"${name}\""))
    };
    let result = value("LABTRAIL_RESULT");
    assert!(
        result.ends_with("/result.json"),
        "a SLURM attempt folder's: {result}"
    );
    assert!(!value("LABTRAIL_JOB_ID").is_empty(), "{snippet}");
    let seen = std::path::Path::new(&value("LABTRAIL_TASK_DIR")).join("seen.txt");
    let before = (
        std::fs::read_to_string(&seen).unwrap(),
        std::fs::read_to_string(&result).unwrap(),
    );
    std::fs::remove_file(&seen).unwrap();
    std::fs::remove_file(&result).unwrap();
    run_by_hand(&snippet);
    let after = (
        std::fs::read_to_string(&seen).unwrap(),
        std::fs::read_to_string(&result).unwrap(),
    );
    assert_eq!(after, before, "{snippet}");
}
