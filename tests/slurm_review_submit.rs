//! Issue 11, review of the submission work, against a real cluster: values with carriage
//! returns (sbatch refuses a script with a CR byte).

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

/// Kills the monitor it holds if the test fails before the monitor ended.
struct Monitor(Option<Child>);

impl Monitor {
    fn finish(mut self) -> Out {
        finish(self.0.take().expect("a monitor"))
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            signal(&c, libc::SIGINT);
            std::thread::sleep(Duration::from_secs(2));
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A value with carriage returns, alone and before a newline.
const WITH_CR: &str = "dos\r\nline\rlone 'q' \"d\" $HOME\r";

/// Runs a one-task experiment whose value is `WITH_CR` in `array` or single-job mode; returns
/// the bytes the task received through `{v}` and through `LABTRAIL_PARAM_V`.
fn received_with_cr(array: bool) -> (Vec<u8>, Vec<u8>) {
    let values = toml::Value::Array(vec![toml::Value::String(WITH_CR.into())]);
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "crbytes"
command = "printf '%s' {{v}} > \"$LABTRAIL_TASK_DIR/brace.bin\"; printf '%s' \"$LABTRAIL_PARAM_V\" > \"$LABTRAIL_TASK_DIR/env.bin\"; echo '{{}}' > $LABTRAIL_RESULT"
[params]
v = {values}
{FAST}array = {array}
"#
    ));
    let store = exp.file(".labtrail");
    let monitor = Monitor(Some(exp.spawn(&["run", "exp.toml", "--no-progress"])));
    // Before the fix sbatch refused every script and the monitor tried again for ever.
    wait_until("the task to be done", Duration::from_secs(120), || {
        done_in_db(&store) == 1
    });
    let out = monitor.finish();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let task = std::fs::read_dir(exp.run_dir().join("tasks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let read = |p: &Path| std::fs::read(p).unwrap();
    (read(&task.join("brace.bin")), read(&task.join("env.bin")))
}

/// Issue 11: a value with `\r\n` made sbatch refuse every script ("DOS line breaks") and the run
/// never ended. Now the script has no CR byte and the task gets the value's exact bytes, in
/// single-job and in array mode.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn values_with_carriage_returns_reach_the_task_byte_for_byte() {
    require_slurm();
    let want = (WITH_CR.as_bytes().to_vec(), WITH_CR.as_bytes().to_vec());
    assert_eq!(received_with_cr(false), want, "single jobs");
    assert_eq!(received_with_cr(true), want, "a job array");
}

/// Issue 11: an sbatch that refused a script with a message was reported as "the scheduler did
/// not answer (…); nothing is decided about unseen jobs". The report now says sbatch refused it,
/// with sbatch's own message, and that it is tried again at the next poll.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_refused_script_is_reported_as_refused_with_sbatchs_message() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "refused"
command = "echo '{{}}' > $LABTRAIL_RESULT"
[params]
v = [1]
{FAST}partition = "no-such-partition-i11"
"#
    ));
    let mut monitor = Monitor(Some(exp.spawn(&["run", "exp.toml", "--no-progress"])));
    wait_until("a job script", Duration::from_secs(60), || {
        walk_count(&exp.file(".labtrail/runs"), ".sbatch") > 0
    });
    // The refusal is reported as soon as sbatch answered; polls come every 2 s at most.
    wait_secs(4);
    let child = monitor.0.take().unwrap();
    signal(&child, libc::SIGINT);
    let out = finish(child);
    let err = out.stderr();
    assert!(err.contains("sbatch refused lt."), "{err}");
    assert!(err.contains("invalid partition"), "{err}");
    assert!(err.contains("tried again at the next poll"), "{err}");
    assert!(!err.contains("did not answer"), "{err}");
}

/// Files under `dir` whose name ends with `suffix`.
fn walk_count(dir: &Path, suffix: &str) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_count(&p, suffix)
            } else {
                usize::from(p.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}
