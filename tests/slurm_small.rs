//! Issue 11's smaller SLURM fixes against a real cluster: byte-identical parameter values in job
//! arrays, the monitor started from another folder, squeue asked for the caller's own jobs, an
//! adopted job's limits, resources of a job recorded with its attempt. (The table of states is
//! checked in `slurm_states.rs`.)

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::path::Path;
use std::time::Duration;

/// A value with every character a shell or a script generator could change.
const AWKWARD: &str =
    "line one\n\ttabbed 'single' \"double\" $HOME ${X:-y} `tick` back\\slash \\n\n  indented\n\n";

/// Runs the two-task experiment in `array` or single-job mode; returns, per task, the bytes the
/// task received through `{v}` and through `LABTRAIL_PARAM_V`.
fn received_values(array: bool) -> Vec<(String, String)> {
    let values = toml::Value::Array(vec![
        toml::Value::String(AWKWARD.into()),
        toml::Value::String("plain".into()),
    ]);
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "bytes"
command = "printf '%s' {{v}} > \"$LABTRAIL_TASK_DIR/brace.bin\"; printf '%s' \"$LABTRAIL_PARAM_V\" > \"$LABTRAIL_TASK_DIR/env.bin\"; echo '{{}}' > $LABTRAIL_RESULT"
[params]
v = {values}
{FAST}array = {array}
"#
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(exp.count("done"), 2);
    let tasks = exp.run_dir().join("tasks");
    // Bytes read exactly; as text only so that a failure shows them readably.
    let bytes = |p: &Path| String::from_utf8(std::fs::read(p).unwrap()).expect("UTF-8");
    let mut got: Vec<(String, String)> = std::fs::read_dir(&tasks)
        .expect("task folders")
        .map(|d| {
            let d = d.unwrap().path();
            (bytes(&d.join("brace.bin")), bytes(&d.join("env.bin")))
        })
        .collect();
    got.sort();
    got
}

/// Issue 11: a job array's script indented every line of a task's variables, so a parameter
/// value with newlines gained two spaces per line in `{v}` and `LABTRAIL_PARAM_V`. Array and
/// single-job modes now pass the same bytes, which are the value's own.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn array_and_single_jobs_pass_multi_line_values_byte_for_byte() {
    require_slurm();
    let mut want = vec![
        (AWKWARD.to_string(), AWKWARD.to_string()),
        ("plain".to_string(), "plain".to_string()),
    ];
    want.sort();
    assert_eq!(received_values(false), want, "single jobs");
    assert_eq!(received_values(true), want, "a job array");
}

/// Runs `labtrail ARGS` in `dir` as uid 65534 in a mount namespace where that uid has no name
/// (an `/etc/passwd` without it, NSS from files only): what a container or a directory-service
/// outage gives. Returns its output.
fn as_a_user_without_a_name(dir: &Path, args: &[&str]) -> Out {
    let passwd: String = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .filter(|l| l.split(':').nth(2) != Some("65534"))
        .map(|l| format!("{l}\n"))
        .collect();
    let nss: String = std::fs::read_to_string("/etc/nsswitch.conf")
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("passwd:") {
                "passwd: files\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let fake = tempfile::tempdir().unwrap();
    std::fs::write(fake.path().join("passwd"), passwd).unwrap();
    std::fs::write(fake.path().join("nsswitch.conf"), nss).unwrap();
    let script = format!(
        "mount --bind {0}/passwd /etc/passwd && mount --bind {0}/nsswitch.conf /etc/nsswitch.conf && \
         exec setpriv --reuid 65534 --regid 65534 --clear-groups \"$@\"",
        fake.path().display()
    );
    let out = std::process::Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            &script,
            "sh",
            env!("CARGO_BIN_EXE_labtrail"),
        ])
        .args(args)
        .current_dir(dir)
        .env_remove("LABTRAIL_STORE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("unshare");
    Out(out)
}

/// Issue 11: squeue was asked for the jobs of the user's name, and of `root` when the name could
/// not be found: a monitor whose uid has no name read root's queue as its own. Now it asks for
/// its own uid (`squeue --me`, `sacct -u UID`), and a uid the scheduler's tools cannot resolve
/// is reported as the scheduler not answering, never read as an empty or another user's queue.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh) and root (a mount namespace)"]
fn a_user_without_a_name_never_reads_roots_queue() {
    require_slurm();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"me\"\ncommand = \"echo '{{}}' > $LABTRAIL_RESULT\"\n{FAST}"
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    sh(&format!("chown -R 65534 {}", exp.path().display()));
    // A job of root's is in the queue while the monitor looks.
    let root_job = sh("sbatch --parsable -J lt-small-roots-own -o /dev/null --wrap 'sleep 60'");
    let out = as_a_user_without_a_name(exp.path(), &["monitor", "--once", "--no-progress"]);
    let check = as_a_user_without_a_name(exp.path(), &["check", "exp.toml", "--scheduler"]);
    sh(&format!("scancel {}", root_job.trim()));
    assert!(
        out.stderr().contains("--me") && out.stderr().contains("Invalid user"),
        "the monitor tells that squeue cannot resolve its user: {}",
        out.stderr()
    );
    assert!(
        (check.stdout() + &check.stderr()).contains("Invalid user"),
        "check tells that the scheduler's tools cannot resolve its user: {}{}",
        check.stdout(),
        check.stderr()
    );
}

/// Issue 11: `labtrail monitor` started from another folder placed a run's working directories
/// against its own folder when the run was started with a relative path (`run sub/exp.toml`):
/// the next job could not enter its folder and failed. The run now records its experiment file's
/// absolute path, so a monitor from anywhere submits into the folder `run` used.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_monitor_from_another_folder_submits_into_the_experiments_folder() {
    require_slurm();
    // Folder A holds sub/exp.toml; `run` starts in A, the monitor later in folder B.
    let a = Exp::new("");
    std::fs::create_dir(a.file("sub")).unwrap();
    std::fs::write(
        a.file("sub/exp.toml"),
        format!(
            r#"
[experiment]
name = "elsewhere"
command = "pwd -P > $LABTRAIL_TASK_DIR/pwd.txt; sleep 3; echo '{{}}' > $LABTRAIL_RESULT"
[params]
x = [1, 2]
{FAST}max_running = 1
"#
        ),
    )
    .unwrap();
    let store = a.file("sub/.labtrail");
    let attempts = || -> usize {
        rusqlite::Connection::open(store.join("labtrail.db"))
            .and_then(|db| db.query_row("SELECT COUNT(*) FROM attempts", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    // `run` submits the first task (one at a time), then is stopped as by Ctrl+C.
    let run = a.spawn(&["run", "sub/exp.toml", "--no-progress"]);
    wait_until("the first job is recorded", Duration::from_secs(60), || {
        attempts() >= 1
    });
    signal(&run, libc::SIGINT);
    let stopped = finish(run);
    assert_eq!(
        attempts(),
        1,
        "run stopped before the second task: {}",
        stopped.stderr()
    );
    let b = tempfile::tempdir().unwrap();
    let out = Out(std::process::Command::new(env!("CARGO_BIN_EXE_labtrail"))
        .current_dir(b.path())
        .args(["monitor", "--no-progress", "--store"])
        .arg(&store)
        .env_remove("LABTRAIL_STORE")
        .output()
        .unwrap());
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let sub = std::fs::canonicalize(a.file("sub")).unwrap();
    let tasks = std::fs::read_dir(
        std::fs::read_dir(store.join("runs"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("tasks"),
    )
    .unwrap();
    let mut n = 0;
    for t in tasks {
        let pwd = std::fs::read_to_string(t.unwrap().path().join("pwd.txt")).unwrap();
        assert_eq!(
            Path::new(pwd.trim()),
            sub,
            "each task ran in the experiment's folder"
        );
        n += 1;
    }
    assert_eq!(n, 2);
}

/// Issue 11: a job labtrail adopts (one that carries the task's name, here submitted by hand)
/// got no limits on its attempt, so when SLURM killed it for its memory the restart could not
/// double the memory (and a SIGKILL without a memory request read as a plain failure → stop).
/// The adopted attempt now has the job's own time limit and memory from squeue; it ends as
/// out of memory, and the next attempt asks for twice as much.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn an_adopted_jobs_limits_are_its_own_and_an_out_of_memory_restart_doubles_them() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "adoptmem"
command = "[ -e go ] || exit 3; echo '{{}}' > $LABTRAIL_RESULT"
{FAST}"#
    ));
    // The first attempt fails (stop): the task waits for the next `run`.
    assert_eq!(exp.run(&["run", "exp.toml", "--no-progress"]).code(), 1);
    exp.write("go", "");
    let run: Vec<String> = exp.column("SELECT id FROM runs");
    let key: Vec<String> = exp.column("SELECT key FROM tasks");
    // Resubmitted by hand with the task's name, 100 MiB and 10 minutes; it outgrows its memory
    // a few seconds in (SLURM's poller kills it: FAILED with signal 9 here).
    let job = sh(&format!(
        "sbatch --parsable -J lt.{}.{} --mem=100M --time=10 -o /dev/null \
         --wrap 'sleep 6; (head -c 400M /dev/zero; sleep 30) | tail > /dev/null'",
        run[0], key[0]
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    let _ = std::process::Command::new("scancel")
        .arg(job.trim())
        .status();
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let outcomes: Vec<String> =
        exp.column("SELECT COALESCE(outcome, '-') FROM attempts ORDER BY number");
    let jobs: Vec<String> = exp.column("SELECT job_id FROM attempts ORDER BY number");
    let limits: Vec<(Option<i64>, Option<i64>)> = exp
        .column::<Option<i64>>("SELECT time_limit_s FROM attempts ORDER BY number")
        .into_iter()
        .zip(exp.column::<Option<i64>>("SELECT mem_mb FROM attempts ORDER BY number"))
        .collect();
    assert_eq!(jobs[1], job.trim(), "the second attempt is the adopted job");
    assert_eq!(
        outcomes,
        ["failed", "out_of_memory", "success"],
        "{}",
        out.stderr()
    );
    assert_eq!(
        limits[1],
        (Some(600), Some(100)),
        "the adopted job's own limits"
    );
    assert_eq!(
        limits[2],
        (Some(600), Some(200)),
        "memory doubled on the restart"
    );
}

/// Issue 11: a SLURM attempt recorded no resources. Its peak memory (the largest of its steps'
/// MaxRSS) and CPU times are now on the attempt, as for a local one, and its elapsed time, total
/// CPU and allocation (AllocTRES) in a `slurm_resources` record, all from the sacct call that
/// settles the job.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_jobs_memory_and_cpu_time_are_recorded_with_its_attempt() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "usage"
command = "(head -c 200M /dev/zero; sleep 5) | tail > /dev/null; i=0; while [ $i -lt 700000 ]; do i=$((i+1)); done; echo '{{}}' > $LABTRAIL_RESULT"
{FAST}mem = "1G"
"#
    ));
    exp.run_ok(&["run", "exp.toml", "--no-progress"]);
    let out = exp.run_ok(&["tasks", "--attempts", "--json"]);
    let attempts: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    let a = &attempts[0]["attempt"];
    let rss = a["max_rss_kb"].as_i64().unwrap_or(0);
    assert!(rss >= 150 * 1024, "peak memory of the job's steps: {a}");
    let cpu = a["user_cpu_s"].as_f64().unwrap_or(0.0) + a["sys_cpu_s"].as_f64().unwrap_or(0.0);
    // A fixed amount of work (about 1.4 s of CPU here), whatever else the machine runs.
    assert!(cpu >= 0.5, "CPU time of the job: {a}");
    let records: Vec<String> =
        exp.column("SELECT json FROM records WHERE kind = 'slurm_resources'");
    assert_eq!(records.len(), 1, "{records:?}");
    let r: serde_json::Value = serde_json::from_str(&records[0]).unwrap();
    assert_eq!(r["attempt"], 1);
    assert!(r["elapsed_s"].as_u64().unwrap_or(0) >= 5, "{r}");
    assert!(r["total_cpu_s"].as_f64().unwrap_or(0.0) >= 0.5, "{r}");
    assert!(
        r["alloc_tres"].as_str().unwrap_or("").contains("mem=1G"),
        "{r}"
    );
}

/// Issue 11: `squeue --me` needs Slurm 20.11; an older squeue (a fake here: this cluster's is
/// 22.05, and the refusal is the old client's message) is asked for the numeric user id instead.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_squeue_older_than_me_is_asked_for_the_user_id() {
    require_slurm();
    let exp = Exp::new(&format!(
        "[experiment]\nname = \"oldsq\"\ncommand = \"echo '{{}}' > $LABTRAIL_RESULT\"\n{FAST}"
    ));
    exp.write(
        "fake-old-squeue",
        "#!/bin/sh\ncase \" $* \" in *' --me '*) echo \"squeue: unrecognized option '--me'\" >&2; exit 1;; esac\nexec squeue \"$@\"\n",
    );
    sh(&format!(
        "chmod +x {}",
        exp.file("fake-old-squeue").display()
    ));
    let mut child = exp
        .cmd(&["run", "exp.toml", "--no-progress"])
        .env("LABTRAIL_SQUEUE", exp.file("fake-old-squeue"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the run did not end: {}", finish(child).stderr());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.count("done"), 1);
}
