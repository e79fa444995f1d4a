//! Issue 9: a task that makes its result or metrics file huge (`truncate -s 2G`, sparse: no
//! disk used) costs the runner a `fstat` and a bounded read, not gigabytes of memory.

mod common;
use common::*;

/// The metrics records stored, in order.
fn stored_metrics(exp: &Exp) -> Vec<String> {
    let db = rusqlite::Connection::open(exp.file(".labtrail/labtrail.db")).unwrap();
    let mut query = db
        .prepare("SELECT record FROM metrics ORDER BY line")
        .unwrap();
    let rows = query.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// Issue 9: a result file over the limit fails the attempt, unread, with a reason that names
/// the file, its size and the limit; the run ends.
#[test]
fn a_result_file_over_the_limit_fails_the_attempt_unread() {
    let exp = Exp::new(
        r#"
[experiment]
name = "bigresult"
command = "truncate -s 2G \"$LABTRAIL_RESULT\""
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let task = &exp.tasks()[0];
    assert_eq!(task["state"], "failed", "{task}");
    let reason = task["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("result file ")
            && reason.contains("result.json is 2147483648 bytes (2.0 GiB), over the limit of 16777216 bytes (16.0 MiB)"),
        "{reason}"
    );
}

/// Issue 9: a metrics file over the limit is read up to it: its lines before the limit are
/// kept, the rest is skipped with a warning naming the file, its size and the limit; a line
/// over the line limit (2 MiB here) is skipped and counted, the lines around it kept; the line
/// the limit cuts (2 GB of zeros) is part of the rest.
#[test]
fn a_metrics_file_over_the_limits_keeps_what_fits() {
    let exp = Exp::new(
        r#"
[experiment]
name = "bigmetrics"
command = "sh write.sh"
"#,
    );
    exp.write(
        "write.sh",
        r#"
m="$LABTRAIL_METRICS"
echo '{"step": 1}' > "$m"
head -c 2097152 /dev/zero | tr '\0' 'a' >> "$m"
printf '\n{"step": 2}\n' >> "$m"
truncate -s 2G "$m"
"#,
    );
    let out = exp.run(&["run", "exp.toml", "--no-progress"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_eq!(exp.tasks()[0]["state"], "done");
    assert_eq!(stored_metrics(&exp), [r#"{"step":1}"#, r#"{"step":2}"#]);
    let events = exp.run(&["events"]).stdout();
    assert!(
        events.contains("1 metrics line skipped in ")
            && events.contains(".metrics.jsonl: line 2: longer than the limit of 1048576 bytes (1.0 MiB)")
            && events.contains(".metrics.jsonl is 2147483648 bytes (2.0 GiB), over the limit of 67108864 bytes (64.0 MiB)"),
        "{events}"
    );
}

/// Whether process `pid` has ended: gone, or a zombie not reaped yet.
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    }
}

/// Issue 9: the end of an attempt is seen when it happens, not after labtrail has read what
/// the attempt before it left. One worker: `a` writes a large (under the limits) metrics file,
/// and `b`, started while `a`'s file is read, exits 0 at once. Once `b` has ended, the run is
/// stopped: `b` is a success. Before, its worker read `a`'s file before waiting for `b`: `b`
/// stayed a zombie through the read, its end was taken after the stop, and it was recorded as
/// interrupted (its time, and end time, counting the read).
#[test]
fn an_attempt_that_ended_during_a_read_is_not_counted_as_stopped() {
    let exp = Exp::new(
        r#"
[experiment]
name = "readtime"
command = "sh task.sh {n}"
[params]
n = ["a", "b"]
"#,
    );
    exp.write(
        "task.sh",
        r#"
case "$1" in
  a) yes '{"step": 1, "loss": 0.25, "acc": [0.5, 0.75, 1.0], "tag": "a metrics line"}' | head -c 20000000 > "$LABTRAIL_METRICS" ;;
  b) echo $$ > b.pid.tmp && mv b.pid.tmp b.pid ;;
esac
"#,
    );
    let child = exp.spawn(&["run", "exp.toml", "--no-progress", "-j", "1"]);
    let pid_file = exp.file("b.pid");
    wait_until("b to start", std::time::Duration::from_secs(120), || {
        pid_file.exists()
    });
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_until("b to end", std::time::Duration::from_secs(60), || {
        has_ended(pid)
    });
    // A zombie is reaped by its worker a moment later; on 2 busy cores (CI) that moment came
    // after the stop. The read of `a`'s file that used to hold the reap back takes seconds.
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let out = finish(child);
    let b = exp
        .tasks()
        .into_iter()
        .find(|t| t["params"]["n"] == "b")
        .unwrap();
    assert_eq!(b["state"], "done", "{b}\n{}", out.stderr());
    assert_eq!(
        exp.tasks().iter().filter(|t| t["state"] == "done").count(),
        2
    );
}
