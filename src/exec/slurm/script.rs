//! Job scripts. A small POSIX-sh wrapper runs the task and records, in the attempt's folder on
//! the shared filesystem, when it started and how it exited: the ground truth when the
//! scheduler has forgotten the job.
//!
//! The attempt folder is `runs/RUN/attempts/KEY-job-JOBID` (`-rN` after the N-th requeue), so a
//! requeued or hand-resubmitted job never writes over an earlier attempt's logs, and the monitor
//! can resolve each attempt's log paths without templates.

use crate::spec::shell_quote;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What one task's job runs.
pub struct TaskJob {
    pub key: String,
    /// The task's own folder (`LABTRAIL_TASK_DIR`).
    pub task_dir: PathBuf,
    /// Where its attempt files go (see [`crate::store::RunFolders::attempt_prefix`]).
    pub attempt_prefix: PathBuf,
    pub workdir: PathBuf,
    pub command: String,
    /// Environment for the task (declared env, parameters, labtrail identity).
    pub env: Vec<(String, String)>,
    /// Attempt number labtrail expects this job to be (requeues add to it).
    pub attempt: u32,
}

/// `#SBATCH` lines shared by a job or an array.
pub struct Header {
    pub name: String,
    pub comment: String,
    /// Where SLURM writes the wrapper's own output (task output goes to the attempt folder).
    pub slurm_log: PathBuf,
    pub time_limit_s: Option<u64>,
    pub mem_mb: Option<u64>,
    pub signal: Option<String>,
    pub options: Vec<(String, String)>,
    pub array: Option<String>,
}

/// The folder of the attempt run by job `job_id` after `restarts` requeues, for the task whose
/// attempt prefix is `attempt_prefix`.
pub fn attempt_dir(attempt_prefix: &Path, job_id: &str, restarts: u32) -> PathBuf {
    let mut name = attempt_prefix.as_os_str().to_owned();
    name.push(format!("-job-{job_id}"));
    if restarts > 0 {
        name.push(format!("-r{restarts}"));
    }
    PathBuf::from(name)
}

/// The folder of job `job_id` after `restarts` requeues, next to `prev`, the folder of an earlier
/// attempt of the same task (of either layout: `KEY-job-ID[-rN]` or, from labtrail 0.1,
/// `job-ID[-rN]`). None if `prev` is not an attempt folder.
pub fn sibling_attempt_dir(prev: &Path, job_id: &str, restarts: u32) -> Option<PathBuf> {
    let name = prev.file_name()?.to_str()?;
    let stem = &name[..name.rfind("job-")?];
    let mut next = format!("{stem}job-{job_id}");
    if restarts > 0 {
        next.push_str(&format!("-r{restarts}"));
    }
    Some(prev.with_file_name(next))
}

/// A file of attempt `attempt` that labtrail writes before submitting it: `PREFIX-N.WHAT`
/// (the job script, `sbatch`, and the wrapper's own output, `slurm.log`).
pub fn attempt_file(attempt_prefix: &Path, attempt: u32, what: &str) -> PathBuf {
    let mut name = attempt_prefix.as_os_str().to_owned();
    name.push(format!("-{attempt}.{what}"));
    PathBuf::from(name)
}

fn slurm_time(secs: u64) -> String {
    let mins = secs.div_ceil(60).max(1);
    format!(
        "{}-{:02}:{:02}:00",
        mins / 1440,
        (mins % 1440) / 60,
        mins % 60
    )
}

fn header(h: &Header) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let mut line = |k: &str, v: &str| {
        let _ = if v.is_empty() {
            writeln!(s, "#SBATCH {k}")
        } else {
            writeln!(s, "#SBATCH {k}={v}")
        };
    };
    line("--job-name", &h.name);
    line("--comment", &h.comment);
    line("--output", &h.slurm_log.to_string_lossy());
    // The job starts in the folder of its own log, inside its run's folder (the wrapper then
    // enters the task's workdir): sacct keeps the working directory of an ended job, which tells
    // `check --scheduler` whose job it is when two stores have a run of the same id.
    if let Some(dir) = h.slurm_log.parent().filter(|d| !d.as_os_str().is_empty()) {
        line("--chdir", &dir.to_string_lossy());
    }
    line("--open-mode", "append");
    line("--requeue", "");
    if let Some(t) = h.time_limit_s {
        line("--time", &slurm_time(t));
    }
    if let Some(m) = h.mem_mb {
        line("--mem", &format!("{m}M"));
    }
    if let Some(sig) = &h.signal {
        line("--signal", sig);
    }
    if let Some(a) = &h.array {
        line("--array", a);
    }
    for (k, v) in &h.options {
        line(k, v);
    }
    s
}

/// Sets `$CR` to a carriage return: sbatch refuses a script holding a CR byte ("DOS line
/// breaks"), so values carry their CRs as `"$CR"` between quoted segments (issue 11).
const CR_LINE: &str = "CR=$(printf '\\r')\n";

/// `value` as one shell word whose text has no CR byte but which expands to exactly `value`.
fn script_quote(value: &str) -> String {
    if !value.contains('\r') {
        return shell_quote(value).into_owned();
    }
    let segments: Vec<String> = value
        .split('\r')
        .map(|seg| format!("'{}'", seg.replace('\'', r"'\''")))
        .collect();
    segments.join("\"$CR\"")
}

/// Shell lines that set one task's variables.
fn task_vars(t: &TaskJob) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "TASK_DIR={}",
        script_quote(&t.task_dir.to_string_lossy())
    );
    let _ = writeln!(
        s,
        "ATTEMPT_PREFIX={}",
        script_quote(&t.attempt_prefix.to_string_lossy())
    );
    let _ = writeln!(s, "WORKDIR={}", script_quote(&t.workdir.to_string_lossy()));
    let _ = writeln!(s, "BASE_ATTEMPT={}", t.attempt);
    let _ = writeln!(s, "CMD={}", script_quote(&t.command));
    let _ = writeln!(s, "PREFIX={}", shell_quote(crate::exec::TASK_SHELL_PREFIX));
    for (k, v) in &t.env {
        let _ = writeln!(s, "export {k}={}", script_quote(v));
    }
    s
}

/// The wrapper that runs the task in a job: records where and when it started, sets the
/// attempt's variables (see [`crate::protocol`]), runs the task in its own process group with
/// signals forwarded and its resources sampled (see [`super::sidecar`]), and records how it
/// exited.
fn wrapper() -> String {
    use crate::protocol::{
        shell_attempt_exports, shell_finish_function, STARTED_RECORD, STDERR_FILE, STDOUT_FILE,
    };
    format!(
        r#"
JOB="${{SLURM_ARRAY_JOB_ID:+${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}}}"
JOB="${{JOB:-$SLURM_JOB_ID}}"
R="${{SLURM_RESTART_COUNT:-0}}"
D="$ATTEMPT_PREFIX-job-$JOB"
[ "$R" -gt 0 ] && D="$D-r$R"
mkdir -p "$D" "$TASK_DIR"
now() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}
printf '{{"job_id":"%s","restarts":%s,"node":"%s","started_at":"%s"}}\n' "$JOB" "$R" "$(hostname)" "$(now)" > "$D/{STARTED_RECORD}"
{exports}
{finish}
cd "$WORKDIR" || {{ echo "labtrail: cannot enter $WORKDIR" > "$D/{STDERR_FILE}"; finish 127; }}
# The task leads its own process group, so a forwarded signal reaches every process of it.
setsid /bin/sh -c "$PREFIX$CMD" > "$D/{STDOUT_FILE}" 2> "$D/{STDERR_FILE}" &
child=$!
{sampler}sample "$child" < /dev/null > /dev/null 2>&1 &
sampler=$!
for s in TERM INT USR1 USR2 HUP; do trap "kill -$s -$child 2>/dev/null || kill -$s $child 2>/dev/null" $s; done
wait "$child"; code=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
finish "$code"
"#,
        exports = shell_attempt_exports(),
        finish = shell_finish_function(),
        sampler = super::sidecar::SHELL_SAMPLER,
    )
}

/// A script for one task's job.
pub fn single(h: &Header, t: &TaskJob) -> String {
    format!("{}\n{CR_LINE}{}{}", header(h), task_vars(t), wrapper())
}

/// A script for a job array: element `i` runs `tasks[i]`.
pub fn array(h: &Header, tasks: &[TaskJob]) -> String {
    let mut s = header(h);
    s.push('\n');
    s.push_str(CR_LINE);
    s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
    for (i, t) in tasks.iter().enumerate() {
        let _ = writeln!(s, "{i})");
        // Not indented: a quoted value may span lines, and an indent would become part of it.
        // Each element must get the bytes a single job gets (issue 11).
        s.push_str(&task_vars(t));
        s.push_str(";;\n");
    }
    s.push_str("*) echo \"labtrail: no task for array index $SLURM_ARRAY_TASK_ID\" >&2; exit 64 ;;\nesac\n");
    s.push_str(&wrapper());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requeue_or_an_adopted_job_writes_next_to_the_attempt_before() {
        let new = Path::new("/s/runs/r/attempts/ab12-job-7");
        assert_eq!(
            sibling_attempt_dir(new, "7", 1).unwrap(),
            Path::new("/s/runs/r/attempts/ab12-job-7-r1")
        );
        assert_eq!(
            sibling_attempt_dir(Path::new("/s/runs/r/attempts/ab12-job-7-r1"), "9", 0).unwrap(),
            Path::new("/s/runs/r/attempts/ab12-job-9")
        );
        // A job submitted by labtrail 0.1 writes in the task's folder.
        assert_eq!(
            sibling_attempt_dir(Path::new("/s/runs/r/tasks/ab12/job-7"), "7", 2).unwrap(),
            Path::new("/s/runs/r/tasks/ab12/job-7-r2")
        );
        assert_eq!(sibling_attempt_dir(Path::new("/s/x/stdout"), "7", 0), None);
        assert_eq!(
            attempt_dir(Path::new("/s/runs/r/attempts/ab12"), "7_3", 0),
            Path::new("/s/runs/r/attempts/ab12-job-7_3")
        );
    }

    #[test]
    fn time_limits_round_up_to_minutes() {
        assert_eq!(slurm_time(90), "0-00:02:00");
        assert_eq!(slurm_time(4 * 3600), "0-04:00:00");
        assert_eq!(slurm_time(36 * 3600), "1-12:00:00");
    }

    #[test]
    fn script_quotes_the_command_and_env() {
        let h = Header {
            name: "lt.r.k".into(),
            comment: "c".into(),
            slurm_log: "/s/slurm.log".into(),
            time_limit_s: Some(60),
            mem_mb: Some(512),
            signal: Some("B:USR1@30".into()),
            options: vec![("--partition".into(), "gpu".into())],
            array: None,
        };
        let t = TaskJob {
            key: "k".into(),
            task_dir: "/s/t".into(),
            attempt_prefix: "/s/a".into(),
            workdir: "/w".into(),
            command: "echo 'a b'; x".into(),
            env: vec![("V".into(), "x y".into())],
            attempt: 2,
        };
        let s = single(&h, &t);
        assert!(s.contains("#SBATCH --time=0-00:01:00\n"));
        assert!(s.contains("#SBATCH --mem=512M\n"));
        assert!(s.contains("#SBATCH --partition=gpu\n"));
        assert!(s.contains(r#"CMD='echo '\''a b'\''; x'"#));
        assert!(s.contains("export V='x y'"));
    }

    /// Issue 11: sbatch refuses a script with a CR byte; a value's CRs come from `$CR`, and the
    /// shell gives the task the value's exact bytes.
    #[test]
    fn a_value_with_carriage_returns_leaves_no_cr_in_the_script() {
        let value = "a\r\nb'c\r";
        let t = TaskJob {
            key: "k".into(),
            task_dir: "/s/t".into(),
            attempt_prefix: "/s/a".into(),
            workdir: "/w".into(),
            command: format!("echo {}", shell_quote(value)),
            env: vec![("V".into(), value.into())],
            attempt: 1,
        };
        let h = Header {
            name: "lt.r.k".into(),
            comment: "c".into(),
            slurm_log: "/s/slurm.log".into(),
            time_limit_s: None,
            mem_mb: None,
            signal: None,
            options: vec![],
            array: None,
        };
        for script in [single(&h, &t), array(&h, std::slice::from_ref(&t))] {
            assert!(!script.contains('\r'), "{script}");
        }
        let lines = format!(
            "{CR_LINE}export V={}\nprintf %s \"$V\"",
            script_quote(value)
        );
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &lines])
            .output()
            .unwrap();
        assert_eq!(out.stdout, value.as_bytes());
    }

    /// The wrapper is assembled from the protocol's pieces; what a job runs is unchanged from
    /// the hand-written script of labtrail 0.2 (issue 8: one home for the task contract).
    #[test]
    fn the_wrapper_is_the_script_jobs_always_ran() {
        let before = r#"
JOB="${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}}"
JOB="${JOB:-$SLURM_JOB_ID}"
R="${SLURM_RESTART_COUNT:-0}"
D="$ATTEMPT_PREFIX-job-$JOB"
[ "$R" -gt 0 ] && D="$D-r$R"
mkdir -p "$D" "$TASK_DIR"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
printf '{"job_id":"%s","restarts":%s,"node":"%s","started_at":"%s"}\n' "$JOB" "$R" "$(hostname)" "$(now)" > "$D/started.json"
export LABTRAIL_ATTEMPT=$((BASE_ATTEMPT + R)) LABTRAIL_TASK_DIR="$TASK_DIR" LABTRAIL_RESULT="$D/result.json" LABTRAIL_METRICS="$D/metrics.jsonl" LABTRAIL_JOB_ID="$JOB"
finish() {
  printf '{"exit_code":%s,"ended_at":"%s"}\n' "$1" "$(now)" > "$D/exit.json.tmp" && mv -f "$D/exit.json.tmp" "$D/exit.json"
  exit "$1"
}
cd "$WORKDIR" || { echo "labtrail: cannot enter $WORKDIR" > "$D/stderr.log"; finish 127; }
# The task leads its own process group, so a forwarded signal reaches every process of it.
setsid /bin/sh -c "$PREFIX$CMD" > "$D/stdout.log" 2> "$D/stderr.log" &
child=$!
SAMPLER
sample "$child" < /dev/null > /dev/null 2>&1 &
sampler=$!
for s in TERM INT USR1 USR2 HUP; do trap "kill -$s -$child 2>/dev/null || kill -$s $child 2>/dev/null" $s; done
wait "$child"; code=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; code=$?; done
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
finish "$code"
"#;
        // Issue 12 added the resource sampler, started beside the task and stopped after it.
        // Issue 15: the shell's "Terminated" for the stopped sampler no longer goes to the
        // job's own log (`slurm.log`), which then stays empty and is removed.
        let before = before.replace("SAMPLER\n", super::super::sidecar::SHELL_SAMPLER);
        assert_eq!(wrapper(), before);
    }
}
