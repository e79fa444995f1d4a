//! Issue 11, review of the submission work, against a real cluster: values with carriage
//! returns (sbatch refuses a script with a CR byte), sbatch's refusal reported, two stores of
//! one run id, a store moved after a crash, restarts under `max_running` in array mode.

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

/// An experiment of `n` single-job tasks that each append their value to `ledger.txt` in the
/// experiment's folder, then sleep `secs`.
fn ledgered(name: &str, n: usize, secs: u32, extra: &str) -> String {
    let xs: Vec<String> = (1..=n).map(|i| format!("\"t{i}\"")).collect();
    format!(
        r#"
[experiment]
name = "{name}"
command = "echo {{x}} >> ledger.txt; sleep {secs}; echo '{{\"ok\": 1}}' > $LABTRAIL_RESULT"
[params]
x = [{}]
{FAST}{extra}
"#,
        xs.join(", ")
    )
}

fn sorted_ledger(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("ledger.txt")).unwrap_or_default();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn all(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("t{i}")).collect()
}

/// Issue 11: two stores with the same run id (a copied experiment folder, or `--id` reused),
/// monitored at once: the second adopted the first's live jobs by their names and ended 4/4
/// done without running anything. Each store now runs its own jobs.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn two_stores_of_one_run_id_each_run_their_own_jobs() {
    require_slurm();
    let toml = ledgered("samerun", 4, 4, "max_running = 1");
    let (a, b) = (Exp::new(&toml), Exp::new(&toml));
    let id = format!("samerun{}", std::process::id());
    let args = ["run", "exp.toml", "--id", id.as_str(), "--no-progress"];
    let first = Monitor(Some(a.spawn(&args)));
    wait_secs(2);
    std::thread::sleep(Duration::from_millis(500));
    let second = Monitor(Some(b.spawn(&args)));
    let (out_a, out_b) = (first.finish(), second.finish());
    assert_eq!(out_a.code(), 0, "{}", out_a.stderr());
    assert_eq!(out_b.code(), 0, "{}", out_b.stderr());
    assert_eq!(sorted_ledger(a.path()), all(4), "A ran each task once");
    assert_eq!(
        sorted_ledger(b.path()),
        all(4),
        "B ran its own jobs: {}",
        out_b.stderr()
    );
}

/// Issue 11: a store moved between a crash after `sbatch` and the restart ran that task twice:
/// the job's folder (the old path) was not the store's, so the intent found "no job of that
/// name" and submitted again. A job whose folder no longer exists is not another store's.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_store_moved_after_a_crash_adopts_its_job_and_runs_each_task_once() {
    require_slurm();
    let exp = Exp::new(&ledgered("movedaway", 3, 1, ""));
    run_until_crash_after_sbatch(&exp);
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    wait_until("the accepted job to end", Duration::from_secs(90), || {
        sorted_ledger(exp.path()).len() == 1 && jobs_of(&run).is_empty()
    });
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("moved");
    std::fs::rename(exp.path(), &moved).unwrap();
    let out = Out(std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .current_dir(&moved)
        .args(["monitor", "--no-progress"])
        .env_remove("LABTRAIL_STORE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(!out.stderr().contains("never accepted"), "{}", out.stderr());
    assert_eq!(sorted_ledger(&moved), all(3), "{}", out.stderr());
}

/// Issue 11: in array mode `max_running` did not limit restarts (they go as single jobs,
/// outside any array's throttle): 10 tasks whose first attempt asks for a restart had up to 10
/// restarts live at once. Restarts now wait for a free place among the live jobs.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn restarts_in_array_mode_respect_max_running() {
    require_slurm();
    let xs: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "arrthrottle"
command = "if [ $LABTRAIL_ATTEMPT = 1 ]; then echo RETRYME; exit 1; fi; sleep 3; echo '{{}}' > $LABTRAIL_RESULT"
[params]
x = [{}]
{FAST}array = true
max_running = 2
[restart]
log_rules = [ {{ pattern = "RETRYME", action = "restart" }} ]
"#,
        xs.join(", ")
    ));
    let store = exp.file(".labtrail");
    let monitor = Monitor(Some(exp.spawn(&["run", "exp.toml", "--no-progress"])));
    wait_until("the run's folder", Duration::from_secs(60), || {
        exp.file(".labtrail/runs")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    });
    let run = exp
        .run_dir()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Restarts are single jobs, named `lt.RUN.KEY` (an array's name has `.@STAGE.`).
    let mut most = 0;
    wait_until("all ten done", Duration::from_secs(240), || {
        let singles = jobs_of(&run).iter().filter(|l| !l.contains(".@")).count();
        most = most.max(singles);
        done_in_db(&store) == 10
    });
    let out = monitor.finish();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        most <= 2,
        "{most} restarts live at once with max_running = 2"
    );
}
