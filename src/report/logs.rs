//! Which attempt's output files to show, and following them as they grow: behind `labtrail logs`.

use super::QueryError;
use crate::outcome::Outcome;
use crate::store::{AttemptRow, Store, StoreError, TaskRow};
use std::io::{self, Read, Seek, SeekFrom, Write};

/// How many lines of stderr come first for an attempt that did not succeed.
pub const STDERR_TAIL_LINES: usize = 20;
/// How much of the end of stderr is read for them (longer lines: fewer of them).
const STDERR_TAIL_BYTES: u64 = 64 << 10;

/// One part of what `labtrail logs` prints: a header, then a file or the lines read from one.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// What follows, for the `==> … <==` line (unescaped).
    pub header: String,
    pub body: Body,
}

/// What a [`Section`] shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The whole file at this path.
    File(String),
    /// The last lines of a file, as read.
    Lines(Vec<u8>),
}

/// One attempt of one task, chosen by a task query and an optional attempt number.
#[derive(Debug, Clone)]
pub struct LogSelection {
    /// The run id.
    pub run: String,
    /// The task.
    pub task: TaskRow,
    /// The chosen attempt.
    pub attempt: AttemptRow,
}

impl LogSelection {
    /// Chooses the task of `run` (`None`: the latest run) that `query` names (see
    /// [`Store::find_tasks`]) and its attempt `number` (`None`: the latest). The query must match
    /// exactly one task, and the task must have that attempt.
    pub fn load(
        store: &Store,
        run: Option<&str>,
        query: &str,
        number: Option<u32>,
    ) -> Result<LogSelection, QueryError> {
        let run = store.resolve_run(run)?;
        let found = store.find_tasks(&run, query)?;
        let task = match found.as_slice() {
            [t] => t.clone(),
            // `find_tasks` never returns an empty list: matching nothing is its error.
            many => {
                return Err(QueryError::Ambiguous {
                    query: query.into(),
                    matches: many
                        .iter()
                        .map(|t| (t.key.clone(), t.label.clone()))
                        .collect(),
                })
            }
        };
        let attempts = store.attempts(&run, &task.key)?;
        let attempt = match number {
            Some(n) => attempts.iter().find(|a| a.number == n).ok_or_else(|| {
                QueryError::NoSuchAttempt {
                    label: task.label.clone(),
                    number: n,
                    count: attempts.len(),
                }
            })?,
            None => attempts.last().ok_or_else(|| QueryError::NotRunYet {
                label: task.label.clone(),
            })?,
        }
        .clone();
        Ok(LogSelection { run, task, attempt })
    }

    /// The files to show: stdout then stderr, or only one of them.
    pub fn paths(&self, only_stdout: bool, only_stderr: bool) -> Vec<String> {
        let mut paths = Vec::new();
        if !only_stderr {
            paths.push(self.attempt.stdout_path.clone());
        }
        if !only_stdout {
            paths.push(self.attempt.stderr_path.clone());
        }
        paths
    }

    /// What to show, in order. By default stdout then stderr; for an attempt that ended
    /// without success and wrote to stderr, stderr's end comes first, where the error is: its
    /// last [`STDERR_TAIL_LINES`] lines, then stdout and the whole stderr (or, when stderr is no
    /// longer than that, stderr whole then stdout). `--stdout`/`--stderr` show that file alone.
    pub fn sections(&self, only_stdout: bool, only_stderr: bool) -> Vec<Section> {
        let a = &self.attempt;
        let file = |p: &str| Section {
            header: p.to_string(),
            body: Body::File(p.to_string()),
        };
        let plain = || -> Vec<Section> {
            self.paths(only_stdout, only_stderr)
                .iter()
                .map(|p| file(p))
                .collect()
        };
        let failed = a.outcome.is_some_and(|o| o != Outcome::Success);
        if !failed || only_stdout || only_stderr {
            return plain();
        }
        let Ok((tail, whole)) = last_lines(&a.stderr_path, STDERR_TAIL_LINES) else {
            return plain();
        };
        if tail.iter().all(u8::is_ascii_whitespace) {
            return plain();
        }
        let why = self.ending();
        if whole {
            return vec![
                Section {
                    header: format!("{} ({why})", a.stderr_path),
                    body: Body::File(a.stderr_path.clone()),
                },
                file(&a.stdout_path),
            ];
        }
        vec![
            Section {
                header: format!(
                    "{}: last {STDERR_TAIL_LINES} lines ({why}; the whole file follows stdout)",
                    a.stderr_path
                ),
                body: Body::Lines(tail),
            },
            file(&a.stdout_path),
            file(&a.stderr_path),
        ]
    }

    /// How the attempt ended, for a header: `attempt 2 failed: exit code 1`.
    fn ending(&self) -> String {
        let a = &self.attempt;
        let outcome = a.outcome.map_or("ended", |o| o.as_str());
        match &a.reason {
            Some(r) if !r.is_empty() => format!("attempt {} {outcome}: {r}", a.number),
            _ => format!("attempt {} {outcome}", a.number),
        }
    }

    /// Whether the attempt has ended by now (has an outcome), read afresh from the store; an
    /// attempt whose runner is gone ([`super::runner`]) will not write more either.
    pub fn has_ended(&self, store: &Store) -> Result<bool, StoreError> {
        let (ended, gone) = super::runner::read_with_runner(store, &self.run, || {
            Ok::<_, StoreError>(
                store
                    .attempts(&self.run, &self.task.key)?
                    .iter()
                    .find(|a| a.number == self.attempt.number)
                    .is_some_and(|a| a.outcome.is_some()),
            )
        })?;
        Ok(ended || gone)
    }
}

/// The last `n` lines of the file at `path` (from its last [`STDERR_TAIL_BYTES`] at most), and
/// whether they are the whole file.
pub fn last_lines(path: &str, n: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let from = size.saturating_sub(STDERR_TAIL_BYTES);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(STDERR_TAIL_BYTES).read_to_end(&mut buf)?;
    // A last line without its newline is a line too; a final newline does not start one.
    let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
    let cut = body
        .iter()
        .enumerate()
        .rev()
        .filter(|&(_, &b)| b == b'\n')
        .nth(n.saturating_sub(1))
        .map(|(i, _)| i + 1);
    Ok(match cut {
        Some(at) => (buf[at..].to_vec(), false),
        None if from == 0 => (buf, true),
        // Fewer lines than asked in the bytes read, the first of them cut by the read.
        None => {
            let at = buf.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            (buf[at..].to_vec(), false)
        }
    })
}

/// Follows files like `tail -f`: each call copies what was appended since the last one.
#[derive(Debug)]
pub struct Tail {
    paths: Vec<String>,
    /// Bytes already copied, per file.
    offsets: Vec<u64>,
}

impl Tail {
    /// Follows `paths` from their beginning.
    pub fn new(paths: Vec<String>) -> Tail {
        let offsets = vec![0; paths.len()];
        Tail { paths, offsets }
    }

    /// Copies to `out` what each file gained since the last call, file by file. A file that
    /// does not exist yet is skipped (the attempt may not have created it); a file that shrank
    /// was truncated and is copied again from its start.
    pub fn copy_new(&mut self, out: &mut impl Write) -> io::Result<()> {
        for (p, off) in self.paths.iter().zip(self.offsets.iter_mut()) {
            if let Ok(mut f) = std::fs::File::open(p) {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len < *off {
                    *off = 0;
                }
                f.seek(SeekFrom::Start(*off))?;
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                *off += buf.len() as u64;
                out.write_all(&buf)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::Fixture;
    use crate::store::TaskState;

    const EXP: &str = "[experiment]\nname = \"l\"\ncommand = \"echo {x}\"\n[params]\nx = [1, 2]\n";

    #[test]
    fn selects_one_task_and_one_attempt() {
        let mut f = Fixture::new(EXP);
        let k = f.keys();
        f.finish(&k[0], TaskState::Failed, None);
        f.start(&k[0]);
        let s = LogSelection::load(&f.store, None, "x=1", None).unwrap();
        assert_eq!((s.task.key.as_str(), s.attempt.number), (k[0].as_str(), 2));
        assert!(!s.has_ended(&f.store).unwrap(), "attempt 2 is running");
        let first = LogSelection::load(&f.store, None, "x=1", Some(1)).unwrap();
        assert!(first.has_ended(&f.store).unwrap());
        assert_eq!(first.paths(false, false).len(), 2);
        assert_eq!(
            first.paths(false, true),
            [first.attempt.stderr_path.as_str()]
        );
        assert_eq!(
            first.paths(true, false),
            [first.attempt.stdout_path.as_str()]
        );

        let err = |q: &str, n| {
            LogSelection::load(&f.store, None, q, n)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("x=1", Some(5)), "task x=1 has no attempt 5 (it has 2)");
        assert_eq!(err("x=2", None), "task x=2 has not run yet");
        let f2 = Fixture::new(&EXP.replace("x = [1, 2]", "x = [1, 2]\ny = [\"a\", \"b\"]"));
        let err = LogSelection::load(&f2.store, None, "x=1", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`x=1` matches 2 tasks (e.g. x=1,y=a, x=1,y=b); name one by key or label"
        );
        let QueryError::Ambiguous { matches, .. } = err else {
            panic!("{err}")
        };
        let labels: Vec<&str> = matches.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["x=1,y=a", "x=1,y=b"], "every match, in plan order");
    }

    /// Issue 14: the last lines of a file, and whether they are all of it.
    #[test]
    fn last_lines_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e");
        let path = p.display().to_string();
        std::fs::write(&p, "a\nb\nc\n").unwrap();
        assert_eq!(last_lines(&path, 3).unwrap(), (b"a\nb\nc\n".to_vec(), true));
        assert_eq!(last_lines(&path, 2).unwrap(), (b"b\nc\n".to_vec(), false));
        std::fs::write(&p, "a\nb\nno newline").unwrap();
        assert_eq!(
            last_lines(&path, 1).unwrap(),
            (b"no newline".to_vec(), false)
        );
        let long: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&p, long).unwrap();
        let (tail, whole) = last_lines(&path, 2).unwrap();
        assert_eq!(
            (tail.as_slice(), whole),
            (&b"line 9998\nline 9999\n"[..], false)
        );
    }

    /// A tail copies only what is new, and starts over on a file that was truncated.
    #[test]
    fn tail_copies_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let path = |p: &std::path::Path| p.display().to_string();
        let mut tail = Tail::new(vec![path(&a), path(&b)]);
        let copy = |tail: &mut Tail| {
            let mut out = Vec::new();
            tail.copy_new(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        std::fs::write(&a, "one\n").unwrap();
        assert_eq!(copy(&mut tail), "one\n", "b does not exist yet");
        std::fs::write(&a, "one\ntwo\n").unwrap();
        std::fs::write(&b, "err\n").unwrap();
        assert_eq!(copy(&mut tail), "two\nerr\n");
        assert_eq!(copy(&mut tail), "");
        std::fs::write(&a, "x\n").unwrap();
        assert_eq!(copy(&mut tail), "x\n", "a was truncated");
    }
}
