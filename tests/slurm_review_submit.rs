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
