//! A real store in a temporary folder for the report models' tests: an experiment parsed and
//! expanded, its run created and synchronised, attempts applied as the engines apply them.
//!
//! Every test builds its store through here, so a change to how the store is fed (the plan
//! synchronisation, the shape of [`Change::Finished`]) is made once.

use crate::outcome::Outcome;
use crate::plan::{self, Plan};
use crate::spec::Spec;
use crate::store::{Change, RunLock, Store, TaskState};
use std::collections::{HashMap, HashSet};

/// A store holding one run of one experiment.
pub struct Fixture {
    /// Holds the folder for as long as the fixture lives.
    pub dir: tempfile::TempDir,
    /// The store, in `.labtrail` inside `dir`.
    pub store: Store,
    /// The run's id.
    pub run: String,
    /// The experiment, as `exp.toml` in `dir` (not written there).
    pub spec: Spec,
    /// The experiment's plan, as synchronised into the run.
    pub plan: Plan,
    /// The number of the last attempt started, per task key.
    attempts: HashMap<String, u32>,
    /// Tasks with an attempt started and not yet finished.
    running: HashSet<String>,
    /// The run's lock, held from the first [`Fixture::start`] as a runner holds it, until
    /// [`Fixture::runner_dies`].
    runner: Option<RunLock>,
}

impl Fixture {
    /// A store with run `r1` of the experiment `toml`, its plan synchronised, nothing run.
    pub fn new(toml: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let spec = Spec::parse(&dir.path().join("exp.toml"), toml.to_string()).unwrap();
        let plan = plan::expand(&spec);
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        store
            .create_run("r1", &spec.name, "exp.toml", &spec.source)
            .unwrap();
        store
            .sync_plan("r1", &plan.hash, || plan.store_rows(&spec))
            .unwrap();
        Fixture {
            dir,
            store,
            run: "r1".into(),
            spec,
            plan,
            attempts: HashMap::new(),
            running: HashSet::new(),
            runner: None,
        }
    }

    /// The plan's task keys, in plan order.
    pub fn keys(&self) -> Vec<String> {
        self.plan.tasks.iter().map(|t| t.key.to_string()).collect()
    }

    /// Releases the run's lock, as the kernel does when a runner is killed: its attempts stay
    /// open in the store.
    pub fn runner_dies(&mut self) {
        self.runner = None;
    }

    /// Starts a new attempt of task `key` (taking the run's lock first, as a runner does);
    /// returns its number.
    pub fn start(&mut self, key: &str) -> u32 {
        if self.runner.is_none() {
            self.runner = Some(RunLock::acquire(&self.store, &self.run).unwrap());
        }
        let n = self.attempts.entry(key.to_string()).or_default();
        *n += 1;
        let number = *n;
        self.running.insert(key.to_string());
        let stem = self.dir.path().join(format!("{key}-{number}"));
        let change = Change::Started {
            key: key.into(),
            attempt: number,
            host: crate::exec::process::hostname(),
            pid: 1000 + number,
            started_at: format!("2026-01-01T00:00:{number:02}.000Z"),
            stdout: format!("{}.stdout.log", stem.display()),
            stderr: format!("{}.stderr.log", stem.display()),
        };
        self.store.apply(&self.run, &[change]).unwrap();
        number
    }

    /// Runs one attempt of task `key` to its end: the task becomes `state`, with `result` (JSON
    /// text) when given. A failed end has exit code 1 and the reason `exit code 1`.
    pub fn finish(&mut self, key: &str, state: TaskState, result: Option<&str>) {
        if !self.running.contains(key) {
            self.start(key);
        }
        self.running.remove(key);
        let attempt = self.attempts[key];
        let ok = state == TaskState::Done;
        let change = Change::Finished {
            key: key.into(),
            attempt,
            ended_at: format!("2026-01-01T00:01:{attempt:02}.000Z"),
            exit_code: Some(if ok { 0 } else { 1 }),
            signal: None,
            outcome: if ok {
                Outcome::Success
            } else {
                Outcome::Failed
            },
            reason: (!ok).then(|| "exit code 1".to_string()),
            state,
            result: result.map(str::to_string),
            max_rss_kb: Some(2048),
            user_cpu_s: Some(0.5),
            sys_cpu_s: Some(0.25),
            metrics: Vec::new(),
        };
        self.store.apply(&self.run, &[change]).unwrap();
    }
}
