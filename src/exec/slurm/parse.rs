//! Parsing squeue and sacct output. Kept apart from running the commands so that a poll's parse
//! cost can be measured on recorded output.

/// The field separator asked of squeue: ASCII unit separator, which job names and comments do not
/// contain (`|` does appear in comments).
pub const SEP: char = '\x1f';

/// Fields asked of squeue, each terminated by `SEP` (a suffix also keeps squeue from padding
/// or truncating the field).
/// `StdOut` and `WorkDir`: `check --scheduler` tells a job of this store from one of another
/// store's copy of the run by them. `SubmitTime`: jobs that carry one name are taken in the order
/// they were submitted.
pub const SQUEUE_FORMAT: &str = "JobArrayID:\x1f,JobID:\x1f,Name:\x1f,State:\x1f,Reason:\x1f,NodeList:\x1f,RestartCnt:\x1f,StartTime:\x1f,Comment:\x1f,StdOut:\x1f,WorkDir:\x1f,SubmitTime:\x1f";

/// One job as squeue shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// One job as sacct shows it (allocation lines only; `.batch` / `.extern` steps are skipped).
/// With `-D` (see [`super::Scheduler::sacct_named`]), a requeued job has one entry per run, in
/// the order of its submissions.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            })
        })
        .collect()
}

/// Fields asked of sacct (`--parsable2 --noheader --allocations`).
/// `WorkDir` comes last, so that a `|` in it does not shift the other fields.
pub const SACCT_FORMAT: &str =
    "JobID,JobIDRaw,JobName,State,ExitCode,Submit,Start,End,NodeList,WorkDir";

/// Parses `sacct -X -n -P -o SACCT_FORMAT` output.
pub fn parse_sacct(text: &str) -> Vec<AcctEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            if f.len() < 9 || f[0].contains('.') {
                return None;
            }
            let (code, signal) = f[4].split_once(':').unwrap_or((f[4], "0"));
            Some(AcctEntry {
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
                workdir: (f.len() > 9).then(|| opt(&f[9..].join("|"))).flatten(),
            })
        })
        .collect()
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
}
