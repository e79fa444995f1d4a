//! The task contract: what labtrail gives a task and what it reads back, for both engines.
//!
//! A task receives its identity and its files through `LABTRAIL_*` variables ([`task_env`],
//! [`attempt_env`]); the SLURM job wrapper sets the per-attempt ones itself, in shell, from
//! [`shell_attempt_exports`], because only the job knows its id and requeue count. A task may
//! write a JSON result ([`parse_result`]) and a JSON-lines metric stream ([`parse_metrics`]), in
//! Python's dialect too (`NaN`, `Infinity`: see [`standard_json`]).
//! On SLURM the wrapper leaves an exit record in the attempt folder ([`EXIT_RECORD`]), the
//! ground truth when the scheduler has forgotten the job.
//!
//! The README's "The task protocol" table documents the same names; a test pins them.

use std::path::{Path, PathBuf};

mod metrics;
mod output;
pub use metrics::{parse_metrics, read_metrics, Metrics};
pub use output::{
    parse_result, read_result, standard_json, METRICS_LIMIT, METRICS_LINE_LIMIT, NON_FINITE,
    RESULT_LIMIT,
};

/// The run id.
pub const RUN_ID: &str = "LABTRAIL_RUN_ID";
/// The store folder (absolute).
pub const STORE: &str = "LABTRAIL_STORE";
/// The task's content-derived key.
pub const TASK_KEY: &str = "LABTRAIL_TASK_KEY";
/// The task's readable label (`rep=stats,layers=all`).
pub const TASK_LABEL: &str = "LABTRAIL_TASK_LABEL";
/// The task's stage.
pub const STAGE: &str = "LABTRAIL_STAGE";
/// The attempt number, from 1, counted across invocations of the run.
pub const ATTEMPT: &str = "LABTRAIL_ATTEMPT";
/// The task's own folder, kept across attempts.
pub const TASK_DIR: &str = "LABTRAIL_TASK_DIR";
/// Where the task may write its JSON result.
pub const RESULT: &str = "LABTRAIL_RESULT";
/// Where the task may append JSON lines of metrics.
pub const METRICS: &str = "LABTRAIL_METRICS";
/// SLURM: the job id (`123`, or `123_4` for an array element).
pub const JOB_ID: &str = "LABTRAIL_JOB_ID";
/// Local: the worker slot running the attempt, 1 to the number of workers (GNU parallel's
/// `{%}`); no two attempts running at once share one. A command's `{slot}` is the same number.
pub const SLOT: &str = "LABTRAIL_SLOT";
/// Set to `1` for every task unless the experiment's `env` or labtrail's own environment sets
/// it: Python then writes its output as it comes, and `logs --follow` shows it (issue 14).
pub const PYTHON_UNBUFFERED: &str = "PYTHONUNBUFFERED";
/// Prefix of one variable per parameter; the name follows, upper-cased.
pub const PARAM_PREFIX: &str = "LABTRAIL_PARAM_";
/// Prefix of one variable per upstream stage; the stage's name follows, upper-cased (see
/// [`crate::plan::upstream`]).
pub const UPSTREAM_PREFIX: &str = "LABTRAIL_UPSTREAM_";

/// Every variable a task may read, in the README's order (parameters aside).
pub const VARIABLES: [&str; 11] = [
    RESULT, METRICS, TASK_DIR, ATTEMPT, RUN_ID, TASK_KEY, TASK_LABEL, STAGE, STORE, JOB_ID, SLOT,
];

/// In a SLURM attempt folder: the result file.
pub const RESULT_FILE: &str = "result.json";
/// In a SLURM attempt folder: the metric stream.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// In a SLURM attempt folder: the task's standard output.
pub const STDOUT_FILE: &str = "stdout.log";
/// In a SLURM attempt folder: the task's standard error.
pub const STDERR_FILE: &str = "stderr.log";
/// In a SLURM attempt folder: where and when the job started,
/// `{"job_id", "restarts", "node", "started_at"}`, written by the wrapper before the task runs.
pub const STARTED_RECORD: &str = "started.json";
/// In a SLURM attempt folder: the exit record, `{"exit_code": N, "ended_at": "..."}`, written
/// whole (a temporary file renamed into place) once the task's process has ended.
pub const EXIT_RECORD: &str = "exit.json";

/// Who a task is: what every attempt of it receives, whichever engine runs it.
pub struct TaskIdentity<'a> {
    pub run: &'a str,
    pub store_dir: &'a Path,
    pub key: &'a str,
    pub label: String,
    pub stage: &'a str,
    /// Parameter names and their values' texts (unquoted).
    pub params: Vec<(&'a str, String)>,
    /// The environment the experiment declares for the task, resolved.
    pub declared: Vec<(String, String)>,
}

/// The task's environment: `PYTHONUNBUFFERED=1` (see [`unbuffered`]), the declared variables,
/// then labtrail's identity variables and one `LABTRAIL_PARAM_<NAME>` per parameter (a later
/// name replaces an earlier one).
pub fn task_env(t: &TaskIdentity) -> Vec<(String, String)> {
    let mut env = Vec::with_capacity(t.declared.len() + 6 + t.params.len() + 4);
    if unbuffered(&t.declared, inherited_unbuffered()) {
        env.push((PYTHON_UNBUFFERED.to_string(), "1".to_string()));
    }
    env.extend_from_slice(&t.declared);
    env.extend([
        (RUN_ID.to_string(), t.run.to_string()),
        (STORE.to_string(), t.store_dir.display().to_string()),
        (TASK_KEY.to_string(), t.key.to_string()),
        (TASK_LABEL.to_string(), t.label.clone()),
        (STAGE.to_string(), t.stage.to_string()),
    ]);
    for (name, value) in &t.params {
        env.push((
            format!("{PARAM_PREFIX}{}", name.to_uppercase()),
            value.clone(),
        ));
    }
    env
}

/// Whether a task gets `PYTHONUNBUFFERED=1`: not when the experiment declares the variable (its
/// value wins, `""` included, which turns buffering back on), nor when labtrail's own
/// environment has it (`inherited`): the task inherits that value, the user's choice. Never part
/// of a task's identity: it is not a declared variable.
pub fn unbuffered(declared: &[(String, String)], inherited: bool) -> bool {
    !inherited && !declared.iter().any(|(k, _)| k == PYTHON_UNBUFFERED)
}

/// Whether labtrail's own environment sets `PYTHONUNBUFFERED`; read once (it does not change
/// while labtrail runs, and tasks start by the thousand).
fn inherited_unbuffered() -> bool {
    static INHERITED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INHERITED.get_or_init(|| std::env::var_os(PYTHON_UNBUFFERED).is_some())
}

/// A local attempt's worker slot, as its variable (see [`SLOT`]).
pub fn slot_env(slot: usize) -> (String, String) {
    (SLOT.to_string(), slot.to_string())
}

/// One attempt's own variables (the local engine; a SLURM job sets them in its wrapper).
pub fn attempt_env(
    attempt: u32,
    task_dir: &Path,
    result: &Path,
    metrics: &Path,
) -> [(String, String); 4] {
    [
        (ATTEMPT.to_string(), attempt.to_string()),
        (TASK_DIR.to_string(), task_dir.display().to_string()),
        (RESULT.to_string(), result.display().to_string()),
        (METRICS.to_string(), metrics.display().to_string()),
    ]
}

/// The SLURM wrapper's `export` line for the attempt's variables, in POSIX shell. It reads the
/// wrapper's own variables: `BASE_ATTEMPT` and `R` (the requeue count) give the attempt number,
/// `TASK_DIR` the task folder, `D` the attempt folder, `JOB` the job id.
pub fn shell_attempt_exports() -> String {
    format!(
        "export {ATTEMPT}=$((BASE_ATTEMPT + R)) {TASK_DIR}=\"$TASK_DIR\" {RESULT}=\"$D/{RESULT_FILE}\" {METRICS}=\"$D/{METRICS_FILE}\" {JOB_ID}=\"$JOB\""
    )
}

/// The SLURM wrapper's `finish CODE` shell function: writes the exit record whole, then exits
/// with CODE. Needs the wrapper's `D` (attempt folder) and `now` (UTC time) function.
pub fn shell_finish_function() -> String {
    format!(
        "finish() {{\n  printf '{{\"exit_code\":%s,\"ended_at\":\"%s\"}}\\n' \"$1\" \"$(now)\" > \"$D/{EXIT_RECORD}.tmp\" && mv -f \"$D/{EXIT_RECORD}.tmp\" \"$D/{EXIT_RECORD}\"\n  exit \"$1\"\n}}"
    )
}

/// The folder a task runs in: its stage's workdir, relative to the experiment file's folder.
pub fn workdir(base: &Path, stage_workdir: &str) -> PathBuf {
    base.join(stage_workdir)
}

/// The exit code in the exit record of a SLURM attempt folder, if the wrapper wrote one.
pub fn read_exit_record(attempt_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(attempt_dir.join(EXIT_RECORD)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["exit_code"].as_i64().map(|c| c as i32)
}

/// Paths of one attempt's files: `runs/RUN/attempts/KEY-N.stdout.log` and so on (see
/// [`crate::store::RunFolders::attempt_prefix`]). Files in one shared folder rather than a folder per
/// attempt: a new folder costs a directory block and, on a journaling filesystem, directory
/// operations that may wait behind the commit of a concurrent fsync. The stdout log is created
/// before the process starts, so it also marks an attempt that was started.
pub struct AttemptFiles {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub result: PathBuf,
    pub metrics: PathBuf,
}

impl AttemptFiles {
    /// The files of attempt `number` of the task whose attempt prefix is `prefix`.
    pub fn new(prefix: &Path, number: u32) -> AttemptFiles {
        let file = |what: &str| {
            let mut name = prefix.as_os_str().to_owned();
            name.push(format!("-{number}.{what}"));
            PathBuf::from(name)
        };
        AttemptFiles {
            stdout: file(STDOUT_FILE),
            stderr: file(STDERR_FILE),
            result: file(RESULT_FILE),
            metrics: file(METRICS_FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_env() -> Vec<(String, String)> {
        task_env(&TaskIdentity {
            run: "r",
            store_dir: Path::new("/s"),
            key: "k",
            label: "lr=0.1".into(),
            stage: "main",
            params: vec![("lr", "0.1".into())],
            declared: Vec::new(),
        })
    }

    /// What the engines actually set is what [`VARIABLES`] lists (the SLURM-only job id aside).
    #[test]
    fn the_variables_list_is_what_tasks_get() {
        let mut set: Vec<String> = identity_env()
            .into_iter()
            .chain(attempt_env(
                1,
                Path::new("/t"),
                Path::new("/r"),
                Path::new("/m"),
            ))
            .chain([slot_env(1)])
            .map(|(k, _)| k)
            .filter(|k| !k.starts_with(PARAM_PREFIX) && k != PYTHON_UNBUFFERED)
            .collect();
        set.push(JOB_ID.into());
        set.sort();
        let mut listed: Vec<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        listed.sort();
        assert_eq!(set, listed);
    }

    /// The README documents the contract; every variable labtrail sets is in its table.
    #[test]
    fn the_readme_documents_every_variable() {
        let readme = include_str!("../README.md");
        let table = &readme[readme.find("## The task protocol").expect("section")..];
        let table = &table[..table.find("\n## ").unwrap_or(table.len())];
        for var in VARIABLES {
            assert!(
                table.contains(&format!("`{var}`")),
                "{var} is not in the README"
            );
        }
        assert!(table.contains(&format!("`{PARAM_PREFIX}<NAME>`")));
        assert!(table.contains(&format!("`{UPSTREAM_PREFIX}<STAGE>`")));
    }

    /// The wrapper's shell writes the exit record that [`read_exit_record`] reads, whole.
    #[test]
    fn the_shell_exit_record_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "now() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}\n{}\nfinish 3",
            shell_finish_function()
        );
        let status = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .env("D", dir.path())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3));
        assert_eq!(read_exit_record(dir.path()), Some(3));
        assert!(!dir.path().join(format!("{EXIT_RECORD}.tmp")).exists());
    }

    /// The wrapper's exports give a SLURM attempt the same variables a local attempt gets.
    #[test]
    fn the_shell_exports_set_what_a_local_attempt_gets() {
        let script = format!(
            "BASE_ATTEMPT=2 R=1 TASK_DIR=/t D=/a JOB=7_1\n{}\nenv",
            shell_attempt_exports()
        );
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", &script])
            .env_clear()
            .output()
            .unwrap();
        let env = String::from_utf8(out.stdout).unwrap();
        let local = attempt_env(
            3,
            Path::new("/t"),
            &Path::new("/a").join(RESULT_FILE),
            &Path::new("/a").join(METRICS_FILE),
        );
        for (k, v) in local {
            assert!(env.lines().any(|l| l == format!("{k}={v}")), "{k}: {env}");
        }
        assert!(env.lines().any(|l| l == format!("{JOB_ID}=7_1")), "{env}");
    }

    #[test]
    fn task_env_puts_declared_variables_first_and_names_parameters_upper_case() {
        let declared = [("OMP_NUM_THREADS".to_string(), "4".to_string())];
        let env = task_env(&TaskIdentity {
            run: "r",
            store_dir: Path::new("/s"),
            key: "k",
            label: "lr=0.1".into(),
            stage: "main",
            params: vec![("lr", "0.1".into())],
            declared: declared.to_vec(),
        });
        let env: Vec<_> = env
            .into_iter()
            .filter(|(k, _)| k != PYTHON_UNBUFFERED)
            .collect();
        assert_eq!(env[0], declared[0]);
        assert!(env.contains(&("LABTRAIL_PARAM_LR".into(), "0.1".into())));
        for (name, value) in [
            (RUN_ID, "r"),
            (STORE, "/s"),
            (TASK_KEY, "k"),
            (TASK_LABEL, "lr=0.1"),
            (STAGE, "main"),
        ] {
            assert!(
                env.contains(&(name.into(), value.into())),
                "{name}: {env:?}"
            );
        }
        assert_eq!(env.len(), 7, "{env:?}");
        let extra = usize::from(!inherited_unbuffered());
        assert_eq!(identity_env().len(), 6 + extra);
    }

    /// Issue 14: `PYTHONUNBUFFERED=1` unless the experiment or labtrail's environment sets it.
    #[test]
    fn python_is_unbuffered_unless_someone_said_otherwise() {
        let declared = |v: &str| vec![(PYTHON_UNBUFFERED.to_string(), v.to_string())];
        assert!(unbuffered(&[], false));
        assert!(!unbuffered(&[], true));
        assert!(!unbuffered(&declared(""), false));
        assert!(!unbuffered(&declared("1"), false));
    }
}
