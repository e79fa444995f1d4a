//! Parsing squeue and sacct output. Kept apart from running the commands so that a poll's parse
//! cost can be measured on recorded output.

use super::usage::{duration_ms, request_mb, JobResources};

/// The field separator asked of squeue: ASCII unit separator, which job names and comments do not
/// contain (`|` does appear in comments).
pub const SEP: char = '\x1f';

/// Fields asked of squeue, each terminated by `SEP` (a suffix also keeps squeue from padding
/// or truncating the field).
/// `StdOut` and `WorkDir`: `check --scheduler` tells a job of this store from one of another
/// store's copy of the run by them. `SubmitTime`: jobs that carry one name are taken in the order
/// they were submitted. `TimeLimit` and `MinMemory`: the limits of a job labtrail adopts, which
/// a restart scales (issue 11). `Partition` and `TimeUsed`: what a snapshot records of each
/// job, from the same one call (issue 13).
pub const SQUEUE_FORMAT: &str = "JobArrayID:\x1f,JobID:\x1f,Name:\x1f,State:\x1f,Reason:\x1f,NodeList:\x1f,RestartCnt:\x1f,StartTime:\x1f,Comment:\x1f,StdOut:\x1f,WorkDir:\x1f,SubmitTime:\x1f,TimeLimit:\x1f,MinMemory:\x1f,Partition:\x1f,TimeUsed:\x1f";

/// One job as squeue shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueEntry {
    /// `123` or, for an array element, `123_4` (the id labtrail stores).
    pub job_id: String,
    /// The scheduler's own numeric id of the job (for an array element, its unique id).
    pub raw_id: String,
    pub name: String,
    /// e.g. PENDING, RUNNING, COMPLETING.
    pub state: String,
    pub reason: String,
    pub node: Option<String>,
    pub restarts: u32,
    pub start: Option<String>,
    /// Where SLURM writes the job's output (a `%` pattern is not expanded by every version).
    pub stdout: Option<String>,
    /// The job's working directory.
    pub workdir: Option<String>,
    /// When the job was (last) submitted, in the cluster's local time.
    pub submit: Option<String>,
    /// Its time limit in seconds (None: unlimited).
    pub time_limit_s: Option<u64>,
    /// Its memory request in MiB (None: none).
    pub mem_mb: Option<u64>,
    /// Its partition.
    pub partition: Option<String>,
    /// How long it has run, as squeue prints it (`M:SS`, `H:MM:SS`, `D-HH:MM:SS`).
    pub time_used: Option<String>,
}

/// One job as sacct shows it (allocation lines only; `.batch` / `.extern` steps are skipped).
/// With `-D` (see [`super::Scheduler::sacct_named`]), a requeued job has one entry per run, in
/// the order of its submissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcctEntry {
    pub job_id: String,
    /// The scheduler's own numeric id (for an array element, its unique id).
    pub raw_id: String,
    pub name: String,
    /// The first word of sacct's state (`CANCELLED by 0` → `CANCELLED`).
    pub state: String,
    pub exit_code: i32,
    pub signal: i32,
    /// When this run of the job was submitted (a requeue is submitted again), local time.
    pub submit: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub node: Option<String>,
    /// The job's working directory.
    pub workdir: Option<String>,
    /// Its time limit in seconds (None: unlimited).
    pub time_limit_s: Option<u64>,
    /// Its memory request in MiB (None: none).
    pub mem_mb: Option<u64>,
    /// What it used: its own line's CPU times and allocation, its steps' peak memory.
    pub resources: JobResources,
}

/// A time limit as squeue and sacct print it, in seconds; None for `UNLIMITED` and the like.
fn time_limit_s(text: &str) -> Option<u64> {
    duration_ms(text).map(|ms| ms / 1000)
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && !matches!(s, "N/A" | "None" | "Unknown" | "None assigned" | "(null)"))
        .then(|| s.to_string())
}

/// Parses `squeue -h -r -O SQUEUE_FORMAT` output. Lines that do not have every field are skipped.
pub fn parse_squeue(text: &str) -> Vec<QueueEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(SEP).map(str::trim).collect();
            if f.len() < 9 || f[0].is_empty() {
                return None;
            }
            Some(QueueEntry {
                job_id: f[0].to_string(),
                raw_id: f[1].to_string(),
                name: f[2].to_string(),
                state: f[3].to_string(),
                reason: f[4].to_string(),
                node: opt(f[5]),
                restarts: f[6].parse().unwrap_or(0),
                start: opt(f[7]),
                stdout: f.get(9).and_then(|s| opt(s)),
                workdir: f.get(10).and_then(|s| opt(s)),
                submit: f.get(11).and_then(|s| opt(s)),
                time_limit_s: f.get(12).and_then(|s| time_limit_s(s)),
                mem_mb: f.get(13).and_then(|s| request_mb(s)),
                partition: f.get(14).and_then(|s| opt(s)),
                time_used: f.get(15).and_then(|s| opt(s)),
            })
        })
        .collect()
}

/// Fields asked of sacct (`--parsable2 --noheader`, with or without `--allocations`).
/// `Timelimit` to `AllocTRES`: an adopted job's limits and what each job used (issue 11).
/// `WorkDir` comes last, so that a `|` in it does not shift the other fields.
pub const SACCT_FORMAT: &str =
    "JobID,JobIDRaw,JobName,State,ExitCode,Submit,Start,End,NodeList,Timelimit,ReqMem,MaxRSS,TotalCPU,UserCPU,SystemCPU,Elapsed,AllocTRES,WorkDir";

/// Where `WorkDir` starts in a line of [`SACCT_FORMAT`].
const SACCT_WORKDIR: usize = 17;

/// Parses `sacct -n -P -o SACCT_FORMAT` output: one entry per allocation line (per run with
/// `-D`). Step lines (`ID.batch`, `ID.extern`, `ID.0`; absent with `-X`) are folded into the
/// entry of their job's run that precedes them: its peak memory is the largest of its steps'.
pub fn parse_sacct(text: &str) -> Vec<AcctEntry> {
    let mut entries: Vec<AcctEntry> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 9 {
            continue;
        }
        if let Some((job, _step)) = f[0].trim().split_once('.') {
            if let Some(e) = entries.iter_mut().rev().find(|e| e.job_id == job) {
                e.resources.add_step(f.get(11).unwrap_or(&""));
            }
            continue;
        }
        entries.push(allocation_entry(&f));
    }
    entries
}

/// One allocation line of [`SACCT_FORMAT`], split at `|`.
fn allocation_entry(f: &[&str]) -> AcctEntry {
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    // A line of the fields before issue 11 (recorded output) has its WorkDir tenth, and no
    // limits or resources (they read as none).
    let workdir_at = if f.len() > SACCT_WORKDIR {
        SACCT_WORKDIR
    } else {
        9
    };
    let (code, signal) = f[4].split_once(':').unwrap_or((f[4], "0"));
    AcctEntry {
        job_id: f[0].trim().to_string(),
        raw_id: f[1].trim().to_string(),
        name: f[2].trim().to_string(),
        state: f[3].split_whitespace().next().unwrap_or("").to_string(),
        exit_code: code.trim().parse().unwrap_or(0),
        signal: signal.trim().parse().unwrap_or(0),
        submit: opt(f[5]),
        start: opt(f[6]),
        end: opt(f[7]),
        node: opt(f[8]),
        workdir: (f.len() > workdir_at)
            .then(|| opt(&f[workdir_at..].join("|")))
            .flatten(),
        time_limit_s: time_limit_s(field(9)),
        mem_mb: request_mb(field(10)),
        resources: JobResources::of_allocation(
            field(11),
            field(12),
            field(13),
            field(14),
            field(15),
            field(16),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_rows_with_arrays_and_empty_fields() {
        let text = "39|39|lt.r.0123456789abcdef|RUNNING|None|vm|0|2026-11-23T11:09:34|labtrail:r:0123456789abcdef:1|\n\
                    41_3|44|lt.r.@train|PENDING|JobArrayTaskLimit||1|N/A|a | in a comment|\n";
        let q = parse_squeue(&text.replace('|', "\x1f").replace("a \x1f in", "a | in"));
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].node.as_deref(), Some("vm"));
        assert_eq!(q[1].job_id, "41_3");
        assert_eq!(q[1].raw_id, "44");
        assert_eq!(q[1].restarts, 1);
        assert_eq!(q[1].node, None);
        assert_eq!(q[1].start, None);
        assert_eq!(
            q[1].name, "lt.r.@train",
            "a `|` in another field does not shift the fields"
        );
    }

    #[test]
    fn sacct_rows_skip_steps_and_split_exit_codes() {
        let text = "39|39|lt.r.k|CANCELLED by 0|0:15|2026-11-23T11:09:30|2026-11-23T11:09:34|2026-11-23T11:10:00|vm\n\
                    39.batch|39.batch|batch|CANCELLED|0:15|2026-11-23T11:09:34|2026-11-23T11:09:34|2026-11-23T11:10:00|vm\n\
                    40_2|43|lt.r.@s|FAILED|3:0|2026-11-23T11:09:30|2026-11-23T11:09:34|Unknown|vm\n";
        let a = parse_sacct(text);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].state, "CANCELLED");
        assert_eq!(a[0].signal, 15);
        assert_eq!(a[1].exit_code, 3);
        assert_eq!(a[1].raw_id, "43");
        assert_eq!(a[1].submit.as_deref(), Some("2026-11-23T11:09:30"));
        assert_eq!(a[1].end, None);
    }

    /// Issue 11: without `-X`, each run's step lines follow it; the peak memory is the largest
    /// step's, CPU and elapsed times and the allocation are the job's own line's, and an adopted
    /// job's limits come with it. With `-D`, each run keeps its own steps.
    #[test]
    fn sacct_steps_fold_into_their_run() {
        let text = "\
50|50|lt.r.k|REQUEUED|0:0|t0|t1|t2|vm|00:05:00|512M||00:01.500|00:01.000|00:00.500|00:00:04|billing=1,cpu=1,mem=512M,node=1|/w\n\
50.batch|50.batch|batch|CANCELLED|0:15||t1|t2|vm|||1024K|00:01.500|00:01.000|00:00.500|00:00:04|cpu=1,mem=512M,node=1|\n\
50|50|lt.r.k|COMPLETED|0:0|t3|t4|t5|vm|00:05:00|512M||00:09.250|00:08.000|00:01.250|00:00:10|billing=1,cpu=1,gres/gpu=1,mem=512M,node=1|/w|x\n\
50.batch|50.batch|batch|COMPLETED|0:0||t4|t5|vm|||204800K|00:09.000|00:08.000|00:01.000|00:00:10|cpu=1,mem=512M,node=1|\n\
50.extern|50.extern|extern|COMPLETED|0:0||t4|t5|vm|||900K|00:00.250|00:00:00|00:00.250|00:00:10|cpu=1,mem=512M,node=1|\n\
51_2|53|lt.r.@s|RUNNING|0:0|t0|t1|Unknown|vm|UNLIMITED|0||||||billing=1|/w\n";
        let a = parse_sacct(text);
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].state, "REQUEUED");
        assert_eq!(a[0].resources.max_rss_kb, Some(1024));
        let done = &a[1];
        assert_eq!(done.workdir.as_deref(), Some("/w|x"));
        assert_eq!(done.time_limit_s, Some(300));
        assert_eq!(done.mem_mb, Some(512));
        assert_eq!(done.resources.max_rss_kb, Some(204_800));
        assert_eq!(done.resources.total_cpu_ms, Some(9_250));
        assert_eq!(done.resources.user_cpu_ms, Some(8_000));
        assert_eq!(done.resources.sys_cpu_ms, Some(1_250));
        assert_eq!(done.resources.elapsed_s, Some(10));
        assert_eq!(done.resources.gpus, Some(1));
        assert_eq!(a[2].job_id, "51_2");
        assert_eq!((a[2].time_limit_s, a[2].mem_mb), (None, None));
        assert_eq!(a[2].resources.max_rss_kb, None);
    }

    /// Issue 13: a snapshot's partition and time used come from the same line, after the
    /// monitor's fields; a line without them (an older recording) reads as none.
    #[test]
    fn squeue_gives_partition_and_time_used() {
        let line = "39|39|n|RUNNING|None|vm|0|t|c|/o|/w|t|1:00:00|2G|debug|1-02:03:04|\n\
                    40|40|n|PENDING|Priority||0|N/A|c|/o|/w|t|UNLIMITED|0|\n";
        let q = parse_squeue(&line.replace('|', "\x1f"));
        assert_eq!(q[0].partition.as_deref(), Some("debug"));
        assert_eq!(q[0].time_used.as_deref(), Some("1-02:03:04"));
        assert_eq!(
            (q[1].partition.as_deref(), q[1].time_used.as_deref()),
            (None, None)
        );
    }

    /// Issue 11: an adopted job's limits, from squeue's last two fields.
    #[test]
    fn squeue_gives_a_jobs_limits() {
        let line = "39|39|lt.r.0123456789abcdef|RUNNING|None|vm|0|t|c|/o|/w|t|1:00:00|2G|\n\
                    40|40|lt.r.0123456789abcdee|RUNNING|None|vm|0|t|c|/o|/w|t|UNLIMITED|0|\n";
        let q = parse_squeue(&line.replace('|', "\x1f"));
        assert_eq!((q[0].time_limit_s, q[0].mem_mb), (Some(3600), Some(2048)));
        assert_eq!((q[1].time_limit_s, q[1].mem_mb), (None, None));
    }
}
