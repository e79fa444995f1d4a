//! Issue 12 on a real SLURM cluster: the monitor records a failed job's error (read from the end
//! of its stderr) and a done job's artifacts, with the attempt's end.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// Issue 12: a Python task that raises in its job gets an `attempt_error` record with the
/// exception line; a task that writes checkpoints gets an `artifacts` record with `last`/`best`.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn slurm_attempts_record_their_error_and_artifacts() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "facts"
[params]
mode = ["raise", "train"]
[[stage]]
name = "work"
command = "python3 {{dir}}/job.py {{mode}}"
artifacts = ["ckpt_*.pt"]
{FAST}"#
    ));
    let dir = exp.path().display().to_string();
    let toml = std::fs::read_to_string(exp.file("exp.toml"))
        .unwrap()
        .replace("{dir}", &dir);
    exp.write("exp.toml", &toml);
    exp.write(
        "job.py",
        r#"
import json, os, sys
if sys.argv[1] == "raise":
    raise RuntimeError("bad shard 7 in slurm job")
d = os.environ["LABTRAIL_TASK_DIR"]
with open(os.environ["LABTRAIL_METRICS"], "w") as m:
    for step, acc in ((1, 0.5), (2, 0.9), (3, 0.7)):
        m.write(json.dumps({"step": step, "acc": acc}) + "\n")
        open(f"{d}/ckpt_{step}.pt", "wb").write(b"w" * step)
json.dump({"acc": 0.7}, open(os.environ["LABTRAIL_RESULT"], "w"))
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let errors: Vec<String> = exp.column("SELECT json FROM records WHERE kind = 'attempt_error'");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e: serde_json::Value = serde_json::from_str(&errors[0]).unwrap();
    assert_eq!(e["line"], "RuntimeError: bad shard 7 in slurm job");
    assert_eq!(e["kind"], "exception");
    let arts: Vec<String> = exp.column("SELECT json FROM records WHERE kind = 'artifacts'");
    assert_eq!(arts.len(), 1, "{arts:?}");
    let list: serde_json::Value = serde_json::from_str(&arts[0]).unwrap();
    assert_eq!(list[1]["path"], "ckpt_2.pt");
    assert_eq!(list[1]["tags"], serde_json::json!(["best"]));
    assert_eq!(list[2]["tags"], serde_json::json!(["last"]));
}
