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
/// job, from the same one call (issue 13). `UserName`: whose job it is, for a snapshot of every
/// user's jobs (issue 13, review r3 #9).
pub const SQUEUE_FORMAT: &str = "JobArrayID:\x1f,JobID:\x1f,Name:\x1f,State:\x1f,Reason:\x1f,NodeList:\x1f,RestartCnt:\x1f,StartTime:\x1f,Comment:\x1f,StdOut:\x1f,WorkDir:\x1f,SubmitTime:\x1f,TimeLimit:\x1f,MinMemory:\x1f,Partition:\x1f,TimeUsed:\x1f,UserName:\x1f";

/// How many fields a line of [`SQUEUE_FORMAT`] has (each ends with [`SEP`]).
const SQUEUE_FIELDS: usize = 17;

/// One job as squeue shows it, borrowed from squeue's answer: at 10^5 jobs a poll, 13 `String`s
/// a job were a fifth of the poll's own time (issue 15). Parse with [`parse_squeue_checked`]
/// while the answer's text is held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueEntry<'a> {
    /// `123` or, for an array element, `123_4` (the id labtrail stores).
    pub job_id: &'a str,
    /// The scheduler's own numeric id of the job (for an array element, its unique id).
    pub raw_id: &'a str,
    pub name: &'a str,
    /// e.g. PENDING, RUNNING, COMPLETING.
    pub state: &'a str,
    pub reason: &'a str,
    pub node: Option<&'a str>,
    pub restarts: u32,
    pub start: Option<&'a str>,
    /// Where SLURM writes the job's output (a `%` pattern is not expanded by every version).
    pub stdout: Option<&'a str>,
    /// The job's working directory.
    pub workdir: Option<&'a str>,
    /// When the job was (last) submitted, in the cluster's local time.
    pub submit: Option<&'a str>,
    /// Its time limit in seconds (None: unlimited).
    pub time_limit_s: Option<u64>,
    /// Its memory request in MiB (None: none).
    pub mem_mb: Option<u64>,
    /// Its partition.
    pub partition: Option<&'a str>,
    /// How long it has run, as squeue prints it (`M:SS`, `H:MM:SS`, `D-HH:MM:SS`).
    pub time_used: Option<&'a str>,
    /// Whose job it is (the user name).
    pub user: Option<&'a str>,
}

/// squeue's answer: its jobs, and how many lines were left out because they were not one whole
/// record each (a job name, comment or path with a newline or [`SEP`] in it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueAnswer<'a> {
    /// The jobs, in squeue's order.
    pub entries: Vec<QueueEntry<'a>>,
    /// Lines left out.
    pub dropped: usize,
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
    opt_str(s).map(str::to_string)
}

/// [`opt`] borrowed: the trimmed text, None for the scheduler's words for "none".
fn opt_str(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && !matches!(s, "N/A" | "None" | "Unknown" | "None assigned" | "(null)"))
        .then_some(s)
}

/// Parses `squeue -h -r -O SQUEUE_FORMAT` output (see [`parse_squeue_checked`]).
pub fn parse_squeue(text: &str) -> Vec<QueueEntry<'_>> {
    parse_squeue_checked(text).entries
}

/// Parses `squeue -h -r -O SQUEUE_FORMAT` output, keeping only lines that are one whole record:
/// exactly [`SQUEUE_FIELDS`] fields, each ended by [`SEP`], and job ids of digits (`123`,
/// `123_4`). A user can put a newline into a job name (and its comment and paths): that splits
/// the job's record into a first line that does not end with `SEP` and a last line that does,
/// and every line between them is the user's own text, which may look like a whole record of a
/// job that does not exist. So every line from such a first line to the next line that ends a
/// record is left out, whole-looking or not; a line that ends with `SEP` but has too many or
/// too few fields (a `SEP` in a name) is left out alone (issue 13, review r1 H3).
///
/// What this cannot tell: a name that holds both newlines and `SEP`s laid out so that each of
/// its lines looks whole. squeue does not escape its fields; only `squeue --json` would.
pub fn parse_squeue_checked(text: &str) -> QueueAnswer<'_> {
    // One line a job: sized once, not grown by copying 10^5 entries (issue 15).
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut answer = QueueAnswer {
        entries: Vec::with_capacity(lines),
        dropped: 0,
    };
    let mut inside_broken = false;
    for line in text.lines() {
        let ends_record = line.ends_with(SEP);
        let entry = ends_record
            .then(|| fields_of(line))
            .flatten()
            .and_then(|f| entry_of(&f));
        match entry {
            Some(e) if !inside_broken => answer.entries.push(e),
            Some(_) => answer.dropped += 1,
            None => {
                answer.dropped += 1;
                // The end of a split record, or a record that is malformed on its own line.
                inside_broken = !ends_record;
            }
        }
    }
    answer
}

/// The [`SQUEUE_FIELDS`] fields of a line that ends with [`SEP`], trimmed; None when it has
/// more or fewer. Split in one pass into an array on the stack: at 10^5 jobs a `Vec` and a
/// separate count per line were a large part of the poll's parse (issue 15).
fn fields_of(line: &str) -> Option<[&str; SQUEUE_FIELDS]> {
    let mut f = [""; SQUEUE_FIELDS];
    let mut parts = line.split(SEP);
    for slot in &mut f {
        *slot = parts.next()?.trim();
    }
    // What follows the last SEP: empty for a whole record, anything else is one field too many.
    (parts.next() == Some("") && parts.next().is_none()).then_some(f)
}

/// One whole line of [`SQUEUE_FORMAT`], split by [`fields_of`]; None when its job ids are not ids.
fn entry_of<'a>(f: &[&'a str; SQUEUE_FIELDS]) -> Option<QueueEntry<'a>> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let id_ok = match f[0].split_once('_') {
        Some((array, index)) => digits(array) && digits(index),
        None => digits(f[0]),
    };
    if !id_ok || !digits(f[1]) {
        return None;
    }
    Some(QueueEntry {
        job_id: f[0],
        raw_id: f[1],
        name: f[2],
        state: f[3],
        reason: f[4],
        node: opt_str(f[5]),
        restarts: f[6].parse().unwrap_or(0),
        start: opt_str(f[7]),
        stdout: opt_str(f[9]),
        workdir: opt_str(f[10]),
        submit: opt_str(f[11]),
        time_limit_s: time_limit_s(f[12]),
        mem_mb: request_mb(f[13]),
        partition: opt_str(f[14]),
        time_used: opt_str(f[15]),
        user: opt_str(f[16]),
    })
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
        let text = "39|39|lt.r.0123456789abcdef|RUNNING|None|vm|0|2026-11-23T11:09:34|labtrail:r:0123456789abcdef:1||||||||u|\n\
                    41_3|44|lt.r.@train|PENDING|JobArrayTaskLimit||1|N/A|a | in a comment||||||||u|\n";
        let replaced = text.replace('|', "\x1f").replace("a \x1f in", "a | in");
        let q = parse_squeue(&replaced);
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].node, Some("vm"));
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

    /// Issue 13: a snapshot's partition, time used and user come from the same line, after
    /// the monitor's fields.
    #[test]
    fn squeue_gives_partition_time_used_and_user() {
        let line = "39|39|n|RUNNING|None|vm|0|t|c|/o|/w|t|1:00:00|2G|debug|1-02:03:04|ann|\n";
        let replaced = line.replace('|', "\x1f");
        let q = parse_squeue(&replaced);
        assert_eq!(q[0].partition, Some("debug"));
        assert_eq!(q[0].time_used, Some("1-02:03:04"));
        assert_eq!(q[0].user, Some("ann"));
    }

    /// Issue 15: the one-pass split keeps exactly the lines the old count-then-split kept: a
    /// name with spaces, `123_4` array elements; not an unexpanded array (`123_[4-7%2]`), a
    /// line one field short or one too long, or one that does not end with the separator.
    #[test]
    fn squeue_split_in_one_pass_keeps_whole_records_only() {
        let short = line("50", "short").replacen("|debug", "", 1);
        let long = line("51", "long").replace("|ann|", "|ann|extra|");
        let unended = line("52", "unended").replace("|ann|\n", "|ann\n");
        let text = [
            line("43", "a name with spaces"),
            // An element's raw id is the scheduler's own number.
            line("44_4", "element").replacen("44_4|44_4", "44_4|1044", 1),
            line("45_[4-7%2]", "pending array"),
            short,
            long,
            line("46", "after"),
            // Last: a line that does not end a record starts a split one (see above).
            unended,
        ]
        .concat()
        .replace('|', "\x1f");
        let a = parse_squeue_checked(&text);
        let kept: Vec<(&str, &str)> = a.entries.iter().map(|e| (e.job_id, e.name)).collect();
        assert_eq!(
            kept,
            [
                ("43", "a name with spaces"),
                ("44_4", "element"),
                ("46", "after")
            ]
        );
        assert_eq!(a.dropped, 4);
    }

    /// A whole line of [`SQUEUE_FORMAT`] for job `id` named `name` (`|` for the separator).
    fn line(id: &str, name: &str) -> String {
        format!("{id}|{id}|{name}|RUNNING|None|vm|0|t|c|/o|/w|t|1:00:00|2G|debug|1:00|ann|\n")
    }

    /// Issue 13 (review r1 H3): a job name with a newline in it splits its record in two short
    /// lines; whatever sits between them (a whole-looking line of a job that does not exist) is
    /// left out with them, and the jobs around are kept. A name with the separator in it (one
    /// line with too many fields) is left out alone. Every line left out is counted.
    #[test]
    fn a_name_with_a_newline_neither_hides_nor_forges_jobs() {
        let forged = line("77777", "FAKE").replace('\n', "");
        let crafted = line("41", &format!("x\n{forged}\nmore\ny"));
        let text = [line("40", "before"), crafted, line("42", "after")].concat();
        let replaced = text.replace('|', "\x1f");
        let a = parse_squeue_checked(&replaced);
        let ids: Vec<&str> = a.entries.iter().map(|e| e.job_id).collect();
        assert_eq!(ids, ["40", "42"]);
        assert_eq!(a.dropped, 4);
        // The reviewer's form: the forged record's fields run on into the real ones.
        let runs_on = line("41", &format!("x\n{}", forged.trim_end_matches('|')));
        let text = [runs_on, line("42", "after")].concat();
        let replaced = text.replace('|', "\x1f");
        let a = parse_squeue_checked(&replaced);
        assert_eq!(a.entries.len(), 1);
        assert_eq!((a.entries[0].job_id, a.dropped), ("42", 2));
        // A separator in a name: that line only.
        let text = [line("43", "a|sep"), line("44", "fine")].concat();
        let replaced = text.replace('|', "\x1f");
        let a = parse_squeue_checked(&replaced);
        assert_eq!(a.entries.len(), 1);
        assert_eq!((a.entries[0].job_id, a.dropped), ("44", 1));
        // A name ending in a newline: its two parts only.
        let text = [line("45", "nl\n"), line("46", "fine")].concat();
        let replaced = text.replace('|', "\x1f");
        let a = parse_squeue_checked(&replaced);
        assert_eq!(a.entries.len(), 1);
        assert_eq!((a.entries[0].job_id, a.dropped), ("46", 2));
    }

    /// Issue 11: an adopted job's limits, from squeue's last two fields.
    #[test]
    fn squeue_gives_a_jobs_limits() {
        let line = "39|39|lt.r.0123456789abcdef|RUNNING|None|vm|0|t|c|/o|/w|t|1:00:00|2G|p|0:01|u|\n\
                    40|40|lt.r.0123456789abcdee|RUNNING|None|vm|0|t|c|/o|/w|t|UNLIMITED|0|p|0:01|u|\n";
        let replaced = line.replace('|', "\x1f");
        let q = parse_squeue(&replaced);
        assert_eq!((q[0].time_limit_s, q[0].mem_mb), (Some(3600), Some(2048)));
        assert_eq!((q[1].time_limit_s, q[1].mem_mb), (None, None));
    }
}
