//! Issue 3: a monitor that survives its own restarts, against a real SLURM cluster.

mod common;
mod slurm_common;
use common::*;
use slurm_common::*;
use std::time::Duration;

/// Tasks wait for a file `go_X`, so the test decides when each one finishes.
fn gated(name: &str, extra: &str) -> Exp {
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "{name}"
command = "while [ ! -e go_{{x}} ]; do sleep 0.2; done; echo {{x}} >> ledger.txt"
[params]
x = ["a", "b", "c", "d"]
{FAST}{extra}"#
    ));
    exp
}

fn running_jobs(run: &str) -> Vec<(String, String)> {
    jobs_of(run)
        .iter()
        .filter(|l| l.contains("|RUNNING"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (
                f[0].to_string(),
                f[1].rsplit('.').next().unwrap().to_string(),
            )
        })
        .collect()
}

fn key_of(exp: &Exp, x: &str) -> String {
    exp.tasks().iter().find(|t| t["params"]["x"] == x).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn restarted_monitor_reconciles_finished_cancelled_and_resubmitted_jobs() {
    require_slurm();
    let exp = gated("recon", "");
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.file(".labtrail/labtrail.db").exists()
            && exp.run(&["list", "--json"]).stdout().contains("recon-")
    });
    let run = run_id(&exp);
    wait_until("4 running jobs", Duration::from_secs(60), || {
        running_jobs(&run).len() == 4
    });
    signal(&monitor, libc::SIGKILL);
    finish(monitor);
    let jobs = running_jobs(&run);
    let job_of = |x: &str| {
        jobs.iter()
            .find(|(_, k)| *k == key_of(&exp, x))
            .unwrap()
            .0
            .clone()
    };

    // While the monitor is down: a finishes, b is cancelled, c is resubmitted by hand.
    exp.write("go_a", "");
    sh(&format!("scancel {}", job_of("b")));
    let old_c = job_of("c");
    sh(&format!("scancel {old_c}"));
    let script = exp.file(&format!(
        ".labtrail/runs/{run}/attempts/{}-1.sbatch",
        key_of(&exp, "c")
    ));
    let new_c = sh(&format!("sbatch --parsable {}", script.display()))
        .trim()
        .to_string();
    assert_ne!(new_c, old_c);
    wait_until("a to finish", Duration::from_secs(30), || {
        exp.ledger("ledger.txt").contains(&"a".to_string())
    });

    let monitor = exp.spawn(&["monitor", "--no-progress"]);
    wait_until("c's new job to be adopted", Duration::from_secs(60), || {
        exp.attempts("x=c").len() == 2
    });
    exp.write("go_c", "");
    exp.write("go_d", "");
    let out = finish(monitor);
    assert_eq!(
        out.code(),
        1,
        "b was cancelled and the cancel policy stops it: {}",
        out.stderr()
    );

    let a = exp.attempts("x=a");
    assert_eq!(
        a.len(),
        1,
        "the finished job was finalized, not resubmitted: {a:?}"
    );
    assert_eq!(a[0]["outcome"], "success", "{a:?}");
    let b = exp.attempts("x=b");
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["outcome"], "cancelled");
    assert_eq!(
        exp.tasks()
            .iter()
            .find(|t| t["params"]["x"] == "b")
            .unwrap()["state"],
        "failed"
    );
    let c = exp.attempts("x=c");
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(c[0]["outcome"], "superseded");
    assert!(c[0]["reason"].as_str().unwrap().contains(&new_c), "{c:?}");
    assert_eq!(
        c[1]["outcome"],
        "success",
        "{c:?}\n{}",
        exp.run(&["events"]).stdout()
    );
    assert!(
        c[1]["stdout_path"]
            .as_str()
            .unwrap()
            .contains(&format!("job-{new_c}")),
        "{c:?}"
    );
    assert_eq!(exp.attempts("x=d").len(), 1);
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(
        ledger,
        ["a", "c", "d"],
        "nothing ran twice, b never finished"
    );
    let events = exp.run(&["events", "--json"]).stdout();
    assert_eq!(
        events.matches("\"submitted\"").count(),
        4,
        "labtrail submitted each task once: {events}"
    );
}

/// Regression (issue 14's CI run): a user cancels a stuck job and resubmits its script at once.
/// The cancelled job stays COMPLETING while its task shuts down (here it traps SIGTERM and takes
/// 4 s, under KillWait), and a monitor restarted meanwhile took the new job for a second copy of
/// a live one and cancelled it. The race above met it one run in three; this meets it each time.
#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_job_resubmitted_while_the_cancelled_one_completes_is_adopted() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "slowexit"
command = "trap 'sleep 4; exit 143' TERM; while [ ! -e go ]; do sleep 0.2; done; echo {{x}} >> ledger.txt"
[params]
x = ["c", "d"]
{FAST}"#
    ));
    let monitor = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.file(".labtrail/labtrail.db").exists()
            && exp.run(&["list", "--json"]).stdout().contains("slowexit-")
    });
    let run = run_id(&exp);
    wait_until("2 running jobs", Duration::from_secs(60), || {
        running_jobs(&run).len() == 2
    });
    signal(&monitor, libc::SIGKILL);
    finish(monitor);
    let key = key_of(&exp, "c");
    let old = running_jobs(&run)
        .into_iter()
        .find(|(_, k)| *k == key)
        .unwrap()
        .0;
    sh(&format!("scancel {old}"));
    let script = exp.file(&format!(".labtrail/runs/{run}/attempts/{key}-1.sbatch"));
    let new = sh(&format!("sbatch --parsable {}", script.display()))
        .trim()
        .to_string();
    assert!(
        sh(&format!("squeue -h -j {old} -O State")).contains("COMPLETING"),
        "the cancelled job is still on its way out when the monitor returns"
    );

    let monitor = exp.spawn(&["monitor", "--no-progress"]);
    wait_until("the new job to be adopted", Duration::from_secs(60), || {
        exp.attempts("x=c").len() == 2
    });
    exp.write("go", "");
    let out = finish(monitor);
    let c = exp.attempts("x=c");
    assert_eq!(out.code(), 0, "{c:?}\n{}", out.stderr());
    assert_eq!(c[0]["outcome"], "superseded", "{c:?}");
    assert!(c[0]["reason"].as_str().unwrap().contains(&new), "{c:?}");
    assert_eq!(c[1]["outcome"], "success", "{c:?}");
    let mut ledger = exp.ledger("ledger.txt");
    ledger.sort();
    assert_eq!(ledger, ["c", "d"]);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn failing_squeue_causes_no_spurious_restart() {
    require_slurm();
    let exp = gated("flaky", "");
    // A fault injector: squeue fails while the file `squeue_broken` exists.
    exp.write("fault-injector-squeue", "#!/bin/sh\nif [ -e \"$(dirname \"$0\")/squeue_broken\" ]; then echo 'squeue: error: slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1; fi\nexec squeue \"$@\"\n");
    sh(&format!(
        "chmod +x {}",
        exp.file("fault-injector-squeue").display()
    ));
    let mut cmd = exp.cmd(&["run", "exp.toml", "--no-progress"]);
    cmd.env("LABTRAIL_SQUEUE", exp.file("fault-injector-squeue"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.run(&["list", "--json"]).stdout().contains("flaky-")
    });
    let run = run_id(&exp);
    wait_until("4 running jobs", Duration::from_secs(60), || {
        running_jobs(&run).len() == 4
    });
    exp.write("squeue_broken", "");
    for x in ["a", "b", "c", "d"] {
        exp.write(&format!("go_{x}"), "");
    }
    wait_until("every task to finish", Duration::from_secs(30), || {
        exp.ledger("ledger.txt").len() == 4
    });
    wait_secs(25); // longer than lost_after: a monitor that read failures as outcomes would act now
    std::fs::remove_file(exp.file("squeue_broken")).unwrap();
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("the scheduler did not answer"),
        "the trouble was reported: {}",
        out.stderr()
    );
    for x in ["a", "b", "c", "d"] {
        let a = exp.attempts(&format!("x={x}"));
        assert_eq!(a.len(), 1, "no restart for {x}: {a:?}");
        assert_eq!(a[0]["outcome"], "success");
    }
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh), as root"]
fn slurmctld_stopped_and_started_during_monitoring_misclassifies_nothing() {
    require_slurm();
    let exp = gated("ctld", "");
    let child = exp.spawn(&["run", "exp.toml", "--no-progress"]);
    wait_until("the run to exist", Duration::from_secs(30), || {
        exp.run(&["list", "--json"]).stdout().contains("ctld-")
    });
    let run = run_id(&exp);
    wait_until("4 running jobs", Duration::from_secs(60), || {
        running_jobs(&run).len() == 4
    });
    sh("kill $(cat /run/slurm/slurmctld.pid)");
    wait_until("the controller to be down", Duration::from_secs(30), || {
        std::process::Command::new("squeue")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
    });
    // Two jobs finish while the controller is down; the monitor must not decide anything.
    exp.write("go_a", "");
    exp.write("go_b", "");
    wait_secs(25);
    let root = env!("CARGO_MANIFEST_DIR");
    sh(&format!(
        "bash {root}/scripts/slurm-up.sh > /tmp/labtrail-ctld-restart.log 2>&1"
    ));
    exp.write("go_c", "");
    exp.write("go_d", "");
    let out = finish(child);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert!(
        out.stderr().contains("the scheduler did not answer"),
        "{}",
        out.stderr()
    );
    for x in ["a", "b", "c", "d"] {
        let a = exp.attempts(&format!("x={x}"));
        assert_eq!(a.len(), 1, "no restart for {x}: {a:?}");
        assert_eq!(a[0]["outcome"], "success", "{x}: {a:?}");
    }
    assert_eq!(exp.ledger("ledger.txt").len(), 4);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn a_job_with_no_trace_anywhere_is_lost_then_follows_the_policy() {
    require_slurm();
    // Held jobs never start (so they leave no exit record) and are cancelled while pending. Real
    // sacct remembers cancellations, so a fault injector plays an accounting database that has
    // forgotten the jobs (as when slurmdbd lost them or they were purged).
    let exp = Exp::new(
        r#"
[experiment]
name = "lost"
command = "true"
[run]
executor = "slurm"
[slurm]
poll_min = "500ms"
poll_max = "1s"
hold = true
lost_after = "3s"
[restart]
lost = { action = "restart", max_attempts = 2 }
"#,
    );
    exp.write("fault-injector-sacct-forgets", "#!/bin/sh\nexit 0\n");
    sh(&format!(
        "chmod +x {}",
        exp.file("fault-injector-sacct-forgets").display()
    ));
    let mut cmd = exp.cmd(&["run", "exp.toml", "--no-progress"]);
    cmd.env("LABTRAIL_SACCT", exp.file("fault-injector-sacct-forgets"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let mut cancelled = std::collections::HashSet::new();
    let start = std::time::Instant::now();
    let mut child = Some(child);
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.as_mut().unwrap().try_wait() {
            break;
        }
        if let Some(run) = exp
            .run(&["list", "--json"])
            .stdout()
            .split('"')
            .nth(3)
            .map(str::to_string)
        {
            for line in jobs_of(&run) {
                let id = line.split('|').next().unwrap().to_string();
                if line.contains("|PENDING") && cancelled.insert(id.clone()) {
                    sh(&format!("scancel {id}"));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = finish(child.take().unwrap());
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let a = exp.attempts("main");
    let outcomes: Vec<&str> = a.iter().map(|x| x["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["lost", "lost"],
        "lost, restarted once, lost again, stopped: {a:?}"
    );
    assert!(
        a[0]["reason"].as_str().unwrap().contains("no trace"),
        "{a:?}"
    );
    assert_eq!(cancelled.len(), 2);
}

#[test]
#[ignore = "needs a SLURM cluster (scripts/slurm-up.sh)"]
fn success_needs_the_marker_and_monitor_all_finds_unfinished_runs() {
    require_slurm();
    let exp = Exp::new(&format!(
        r#"
[experiment]
name = "marker"
command = "echo 'epoch 3 done'; [ {{x}} = 1 ] && echo 'TRAINING COMPLETE'; true"
[params]
x = [1, 2]
{FAST}
[restart]
success_marker = "TRAINING COMPLETE"
"#
    ));
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("without the success marker"),
        "{}",
        out.stderr()
    );
    assert_eq!(exp.count("done"), 1);
    assert_eq!(exp.count("failed"), 1);
    let all = exp.run(&["monitor", "--all", "--once", "--no-progress"]);
    assert_eq!(all.code(), 0, "{}", all.stderr());
    assert!(
        all.stderr().contains("1/2 done"),
        "--all visits the unfinished run: {}",
        all.stderr()
    );
}
