//! Shared helpers for integration tests: an experiment folder, the built binary, waiting.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// An experiment in its own temporary folder.
pub struct Exp {
    pub dir: tempfile::TempDir,
}

impl Exp {
    /// Writes `toml` as `exp.toml` in a new folder.
    pub fn new(toml: &str) -> Exp {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("exp.toml"), toml).expect("write exp.toml");
        Exp { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).expect("write");
    }

    /// Writes an executable script `name` in the experiment folder (a wrapper of a scheduler
    /// command, a fault injector) and returns its path.
    pub fn write_executable(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A `labtrail` command run in the experiment folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_labtrail"));
        c.current_dir(self.path())
            .args(args)
            .env_remove("LABTRAIL_STORE");
        c
    }

    /// Runs `labtrail ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Out {
        Out(self
            .cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run labtrail"))
    }

    /// Runs `labtrail ARGS` to completion and asserts it exited 0 (stderr in the message).
    pub fn run_ok(&self, args: &[&str]) -> Out {
        let out = self.run(args);
        assert_eq!(out.code(), 0, "labtrail {args:?} failed: {}", out.stderr());
        out
    }

    /// Starts `labtrail ARGS` (with `env` added) paused at the fault-injection point `point`
    /// (`LABTRAIL_FAULT=pause:POINT`, debug builds only), and returns once it waits there, with
    /// the gate file whose creation lets it go on.
    pub fn spawn_paused_at(
        &self,
        point: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (Child, PathBuf) {
        let gate = self.file("gate");
        let child = self
            .cmd(args)
            .env("LABTRAIL_FAULT", format!("pause:{point}"))
            .env("LABTRAIL_FAULT_GATE", &gate)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn labtrail");
        wait_until(
            &format!("labtrail paused at {point}"),
            Duration::from_secs(60),
            || self.file("gate.paused").exists(),
        );
        (child, gate)
    }

    /// Starts `labtrail ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn labtrail")
    }

    /// `labtrail tasks --json`, parsed.
    pub fn tasks(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["tasks", "--json"]);
        assert_eq!(out.code(), 0, "tasks --json failed: {}", out.stderr());
        serde_json::from_str(&out.stdout()).expect("tasks json")
    }

    /// The attempt history of the task `task` (key, label or filter), oldest first.
    pub fn attempts(&self, task: &str) -> Vec<serde_json::Value> {
        let out = self.run(&["tasks", task, "--attempts", "--json"]);
        assert_eq!(out.code(), 0, "tasks --attempts failed: {}", out.stderr());
        serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout())
            .expect("attempts json")
            .into_iter()
            .map(|a| a["attempt"].clone())
            .collect()
    }

    /// Number of tasks in `state`.
    pub fn count(&self, state: &str) -> usize {
        self.tasks().iter().filter(|t| t["state"] == state).count()
    }

    /// Lines of a ledger file the tasks append to (empty if absent).
    pub fn ledger(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path().join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The first column of every row `sql` selects from the store's database, read directly:
    /// what is stored, whatever the read commands show.
    pub fn column<T: rusqlite::types::FromSql>(&self, sql: &str) -> Vec<T> {
        let db = rusqlite::Connection::open(self.file(".labtrail/labtrail.db")).expect("store");
        let mut st = db.prepare(sql).expect("query");
        let rows = st.query_map([], |r| r.get(0)).expect("rows");
        rows.map(|r| r.expect("row")).collect()
    }

    /// [`Exp::column`] for a store that may not be there yet: nothing until its database file
    /// and its tables exist (a runner just started creates the file a moment before them).
    pub fn column_once_made<T: rusqlite::types::FromSql>(&self, sql: &str) -> Vec<T> {
        let path = self.file(".labtrail/labtrail.db");
        if !path.exists() {
            return Vec::new();
        }
        let read = || -> rusqlite::Result<Vec<T>> {
            let db = rusqlite::Connection::open(&path)?;
            let mut st = db.prepare(sql)?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        };
        read().unwrap_or_default()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// The folder of the store's first run (`.labtrail/runs/RUN`).
    pub fn run_dir(&self) -> PathBuf {
        std::fs::read_dir(self.file(".labtrail/runs"))
            .expect("the store has runs")
            .next()
            .expect("one run")
            .unwrap()
            .path()
    }
}

/// Output of a finished command.
pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
}

/// Output of a background child after it ended.
pub fn finish(child: Child) -> Out {
    Out(child.wait_with_output().expect("wait"))
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; panics with `what` on timeout.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` to a child.
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Counts of each state straight from the store's database (no process spawn, for tight polls).
pub fn done_in_db(store: &Path) -> usize {
    let db = store.join("labtrail.db");
    if !db.exists() {
        return 0;
    }
    // Not read-only: after a runner was SIGKILLed mid-commit, the first reader may have to recover
    // the WAL, which a read-only connection cannot do (it would fail, and read as 0).
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .expect("open the store");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.query_row("SELECT COUNT(*) FROM tasks WHERE state = 'done'", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as usize)
    .unwrap_or_else(|e| match e {
        // The store exists but its schema is not there yet.
        rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => 0,
        e => panic!("reading {}: {e}", db.display()),
    })
}

/// Processes whose environment carries `LABTRAIL_STORE=store`.
pub fn processes_of_store(store: &Path) -> Vec<u32> {
    let wanted = format!("LABTRAIL_STORE={}", store.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        })
        .collect()
}

/// Runs a `tasks --command` `snippet` with `sh` from another folder, with nothing of this
/// environment but PATH, as a user pasting it would; panics unless it succeeds.
pub fn run_by_hand(snippet: &str) {
    let elsewhere = tempfile::tempdir().unwrap();
    let mut sh = std::process::Command::new("sh")
        .current_dir(elsewhere.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sh.stdin
        .take()
        .unwrap()
        .write_all(snippet.as_bytes())
        .unwrap();
    assert!(sh.wait().unwrap().success(), "{snippet}");
}
