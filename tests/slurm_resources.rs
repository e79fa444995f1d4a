//! Issue 12: a SLURM attempt's whole process tree, measured by the job wrapper's sampler and
//! recorded by the monitor as `task_resources`, as a local attempt's is.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;

/// Issue 12: a job whose task forks 3 children holding 100 MB each for 4 s leaves a
/// `resources.json` sidecar in its attempt folder, and its `task_resources` record carries the
/// sampled tree peak (≥ 300 MB) and the sampler's sample count.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_jobs_task_resources_record_has_the_wrappers_tree_peak() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "slurmtree"
command = "python3 fork3.py && echo '{{}}' > $LABTRAIL_RESULT"
{FAST}mem = "1G"
"#
    ));
    exp.write(
        "fork3.py",
        r#"import os, time
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (100 << 20)
        time.sleep(4)
        os._exit(0 if len(block) else 1)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    let attempts = exp.run_dir().join("attempts");
    if out.code() != 0 {
        let logs = sh(&format!(
            "tail -n 20 {0}/*.log {0}/*/*.log",
            attempts.display()
        ));
        panic!("the run failed: {}\n{logs}", out.stderr());
    }
    let mb = 1024;
    let folder = std::fs::read_dir(&attempts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("an attempt folder");
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("resources.json")).unwrap())
            .unwrap();
    assert!(
        sidecar["peak_tree_rss_kb"].as_u64().unwrap() >= 300 * mb,
        "{sidecar}"
    );
    let records: Vec<String> = exp.column("SELECT json FROM records WHERE kind = 'task_resources'");
    assert_eq!(records.len(), 1, "{records:?}");
    let r: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(r["attempt"], 1);
    assert!(r["peak_tree_rss_kb"].as_u64().unwrap() >= 300 * mb, "{r}");
    assert_eq!(r["samples"], sidecar["samples"], "{r}");
    assert!(r["samples"].as_u64().unwrap() >= 2, "{r}");
    // sacct sums a step's processes too, sampled at other moments: either may be higher.
    assert!(
        ["sampled", "sacct"].contains(&r["rss_source"].as_str().unwrap()),
        "{r}"
    );
}
