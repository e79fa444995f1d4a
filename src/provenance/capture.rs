//! Capture at run start: the probes run in threads of their own, each with a time limit; the
//! fast ones (code, host, Python, package names) are waited for at most [`FAST_BUDGET`], and a
//! `provenance` record naming what is still running (`partial`) is committed before the first
//! task starts. The slow ones (NVML, data hashing, editable installs' commits) go on in the
//! background; the record is sealed (a second, complete `provenance` record of the same
//! invocation; readers take the latest) when they are done, or when the engine returns
//! ([`Capture::seal`]), whichever comes first. A crash leaves the partial record. Nothing here
//! fails a run: a probe that cannot answer records why, and a record that cannot be written is
//! a warning.

use super::model::{Patch, Probed, Provenance, PROVENANCE_RECORD};
use super::{data, envvars, git, gpu, host, packages, python};
use crate::spec::archive::ArchiveSettings;
use crate::spec::Spec;
use crate::store::{Change, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The kind of the record saying what capture cost: the time to the partial record, and each
/// probe's time, in milliseconds (volatile: never a difference between runs).
pub const CAPTURE_COST_RECORD: &str = "capture_cost";

/// How long the first task waits for the fast probes, at most. On a loaded login node the
/// working state's patch alone takes longer (measured: the whole wait was spent on it); the
/// cheap code facts (commit, branch) are in by then, and the rest is sealed later.
pub const FAST_BUDGET: Duration = Duration::from_millis(50);
/// The time limit of a fast probe (and of each `git` command).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The time limit of the NVML probe (initialising NVML can take seconds per GPU).
const GPU_TIMEOUT: Duration = Duration::from_secs(30);
/// How long sealing at the end of the run waits for probes told to stop.
const SEAL_WAIT: Duration = Duration::from_millis(500);

const CODE: &str = "code";
const HOST: &str = "host";
const PYTHON: &str = "python";
const PACKAGES: &str = "packages";
const COMMITS: &str = "package_commits";
const GPUS: &str = "gpus";
const DATA: &str = "data";
const FAST: &[&str] = &[CODE, HOST, PYTHON, PACKAGES];

/// What the probes found so far, and what is still running.
struct Board {
    prov: Provenance,
    /// Probes not finished, with when each must be given up.
    pending: BTreeMap<&'static str, Instant>,
    /// The code patch, until it is stored as a blob.
    patch: Option<Vec<u8>>,
    sealed: bool,
    probe_ms: BTreeMap<&'static str, u64>,
    critical_ms: u64,
}

struct Shared {
    board: Mutex<Board>,
    changed: Condvar,
    cancel: AtomicBool,
    run: String,
}

impl Shared {
    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records probe `name`'s answer (dropped once the record is sealed).
    fn finish(&self, name: &'static str, started: Instant, fill: impl FnOnce(&mut Board)) {
        let mut b = self.board();
        if !b.sealed {
            fill(&mut b);
            b.pending.remove(name);
            b.probe_ms
                .insert(name, started.elapsed().as_millis() as u64);
        }
        drop(b);
        self.changed.notify_all();
    }

    /// Waits until every probe in `names` (all when empty) is done, the record is sealed, or
    /// `until`; or, `or_cancel`, until the run ends.
    fn wait(&self, names: &[&str], until: Instant, or_cancel: bool) -> MutexGuard<'_, Board> {
        let mut b = self.board();
        loop {
            let busy = b
                .pending
                .keys()
                .any(|k| names.is_empty() || names.contains(k));
            let now = Instant::now();
            let cancelled = or_cancel && self.cancel.load(Ordering::Relaxed);
            if !busy || b.sealed || cancelled || now >= until {
                return b;
            }
            b = self
                .changed
                .wait_timeout(b, until - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn spawn(self: &Arc<Self>, name: &'static str, probe: impl FnOnce(&Shared) + Send + 'static) {
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("capture-{name}"))
            .spawn(move || probe(&me));
        if let Err(e) = spawned {
            self.finish(name, Instant::now(), |b| {
                b.prov.partial.push(format!("{name}: {e}"))
            });
        }
    }
}

/// A capture under way; [`Capture::seal`] it when the engine returns.
pub struct Capture {
    shared: Arc<Shared>,
    /// The git commands and temporary folder of the code probe, stopped and removed when the
    /// capture is dropped: nothing outlives labtrail.
    git: Arc<git::Leftovers>,
}

/// Starts capturing for `run` as `spec` says (`None` with `[archive] capture = false`), and
/// writes the partial record to `store` before returning: at most [`FAST_BUDGET`] after it was
/// called, plus one commit.
pub fn start(store: &mut Store, run: &str, spec: &Spec) -> Option<Capture> {
    if !spec.archive.capture {
        return None;
    }
    let t0 = Instant::now();
    let settings = spec.archive.clone();
    let base = std::path::absolute(spec.base_dir()).unwrap_or_else(|_| spec.base_dir());
    let mut redactions = Vec::new();
    let env = envvars::capture_process(&settings.env, &mut redactions);
    fn waiting<T>() -> Probed<T> {
        Probed::na("still being captured")
    }
    let mut pending = BTreeMap::new();
    for name in [CODE, HOST, PYTHON, PACKAGES, COMMITS] {
        pending.insert(name, t0 + PROBE_TIMEOUT);
    }
    pending.insert(GPUS, t0 + GPU_TIMEOUT);
    let limits = data::Limits::default();
    if !settings.data.is_empty() {
        pending.insert(DATA, t0 + limits.budget + PROBE_TIMEOUT);
    }
    let shared = Arc::new(Shared {
        board: Mutex::new(Board {
            prov: Provenance {
                captured_at: crate::store::now(),
                partial: Vec::new(),
                code: waiting(),
                host: waiting(),
                python: waiting(),
                packages: waiting(),
                gpus: waiting(),
                env,
                data: Vec::new(),
                redactions,
            },
            pending,
            patch: None,
            sealed: false,
            probe_ms: BTreeMap::new(),
            critical_ms: 0,
        }),
        changed: Condvar::new(),
        cancel: AtomicBool::new(false),
        run: run.to_string(),
    });
    let (dir, cap, store_dir) = (base.clone(), settings.patch_cap, store.dir().to_path_buf());
    let leftovers = Arc::new(git::Leftovers::new(&store_dir));
    let git_leftovers = leftovers.clone();
    shared.spawn(CODE, move |s| {
        let t = Instant::now();
        let mut found = Vec::new();
        // Commit and branch on the board at once: a short run records them even when the
        // working state is not captured by its end.
        let early = |code| {
            let mut b = s.board();
            if !b.sealed {
                b.prov.code = Probed::Value(code);
            }
        };
        let within = git::Within {
            store: Some(&store_dir),
            leftovers: Some(leftovers),
            early: Some(&early),
        };
        let (code, patch) = git::capture_within(&dir, cap, PROBE_TIMEOUT, &within, &mut found);
        s.finish(CODE, t, |b| {
            b.prov.code = code;
            b.patch = patch;
            b.prov.redactions.extend(found);
        });
    });
    shared.spawn(HOST, |s| {
        let t = Instant::now();
        let h = host::capture();
        s.finish(HOST, t, |b| b.prov.host = h);
    });
    let (dir, set) = (base.clone(), settings.clone());
    shared.spawn(PYTHON, move |s| python_probes(s, &dir, &set));
    {
        let mut b = shared.wait(FAST, t0 + FAST_BUDGET, false);
        write(&mut b, store, run, false);
        // Up to the partial record's commit: what the first task waited for.
        b.critical_ms = t0.elapsed().as_millis() as u64;
    }
    let (dir, store_dir) = (base, store.dir().to_path_buf());
    let background = shared.clone();
    shared.spawn("background", move |s| {
        let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
        background.spawn(GPUS, move |s| {
            let t = Instant::now();
            let g = gpu::capture(visible.as_deref());
            s.finish(GPUS, t, |b| b.prov.gpus = g);
        });
        let mut store = Store::open(&store_dir, false).ok();
        if !settings.data.is_empty() {
            let t = Instant::now();
            let snaps =
                data::snapshot_cached(store.as_mut(), &dir, &settings.data, &limits, &s.cancel);
            s.finish(DATA, t, |b| b.prov.data = snaps);
        }
        let until = {
            let b = s.board();
            b.pending
                .values()
                .max()
                .copied()
                .unwrap_or_else(Instant::now)
        };
        let mut b = s.wait(&[], until, true);
        if !s.cancel.load(Ordering::Relaxed) || b.pending.is_empty() {
            if let Some(store) = store.as_mut() {
                write(&mut b, store, &s.run, true);
            }
        }
    });
    Some(Capture {
        shared,
        git: git_leftovers,
    })
}

/// The Python probe, then the package names in its folders, then their commits.
fn python_probes(s: &Shared, base: &Path, set: &ArchiveSettings) {
    let t = Instant::now();
    let path_var = std::env::var("PATH").ok();
    let py = match python::find(set.python.as_deref(), base, path_var.as_deref()) {
        Some(exe) => python::describe(&exe, base),
        None => Probed::na("no python3 or python on the tasks' PATH"),
    };
    s.finish(PYTHON, t, |b| b.prov.python = py.clone());
    let t = Instant::now();
    let Probed::Value(p) = py else {
        s.finish(PACKAGES, t, |b| {
            b.prov.packages = Probed::na("no Python found")
        });
        s.finish(COMMITS, t, |_| {});
        return;
    };
    let sites: Vec<PathBuf> = p.site_packages.iter().map(PathBuf::from).collect();
    let conda = p.conda_env.as_ref().map(|_| {
        let exe = Path::new(&p.executable);
        exe.parent()
            .and_then(Path::parent)
            .unwrap_or(exe)
            .to_path_buf()
    });
    let mut listed = packages::list(&sites, conda.as_deref());
    let names = packages::packages(&listed, &set.packages);
    s.finish(PACKAGES, t, |b| b.prov.packages = Probed::Value(names));
    let t = Instant::now();
    packages::resolve_commits(&mut listed);
    let with_commits = packages::packages(&listed, &set.packages);
    s.finish(COMMITS, t, |b| {
        b.prov.packages = Probed::Value(with_commits)
    });
}

/// Writes the board as a `provenance` record (and, `sealed`, the capture cost): the partial
/// one, or the sealed one, after which nothing more is recorded.
fn write(b: &mut Board, store: &mut Store, run: &str, sealed: bool) {
    if b.sealed {
        return;
    }
    if let Some(bytes) = b.patch.take() {
        match store.put_blob(&bytes) {
            Ok(hash) => {
                if let Probed::Value(code) = &mut b.prov.code {
                    code.patch.blob = Some(hash);
                }
            }
            Err(e) => warn(&format!("code patch not stored: {e}")),
        }
    }
    let mut prov = b.prov.clone();
    prov.partial = b.pending.keys().map(|k| k.to_string()).collect();
    let mut changes = Vec::new();
    if sealed {
        b.sealed = true;
        fn gave_up<T>(name: &str) -> Probed<T> {
            Probed::na(format!("{name} probe did not finish in time"))
        }
        for name in &prov.partial {
            match name.as_str() {
                CODE => match &mut prov.code {
                    // The commit and branch came early; the working state did not.
                    Probed::Value(code) => {
                        code.patch =
                            Patch::missing("working state not captured: the run ended first")
                    }
                    na => *na = gave_up(CODE),
                },
                HOST => prov.host = gave_up(HOST),
                PYTHON => prov.python = gave_up(PYTHON),
                PACKAGES => prov.packages = gave_up(PACKAGES),
                GPUS => prov.gpus = gave_up(GPUS),
                _ => {}
            }
        }
        let cost = serde_json::json!({
            "critical_path_ms": b.critical_ms,
            "probe_ms": b.probe_ms,
        });
        changes.push(record(CAPTURE_COST_RECORD, cost.to_string()));
    }
    match serde_json::to_string(&prov) {
        Ok(json) => changes.insert(0, record(PROVENANCE_RECORD, json)),
        Err(e) => return warn(&format!("provenance not serialisable: {e}")),
    }
    if let Err(e) = store.apply(run, &changes) {
        warn(&format!("provenance not recorded: {e}"));
    }
}

fn record(kind: &str, json: String) -> Change {
    Change::Record {
        task: None,
        kind: kind.to_string(),
        json,
    }
}

pub(super) fn warn(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "labtrail: warning: {what}");
}

impl Capture {
    /// Seals the record now (the engine returned): probes still running are told to stop, given
    /// [`SEAL_WAIT`], then listed as partial. Does nothing if the background sealed it already.
    pub fn seal(self, store: &mut Store) {
        self.shared.cancel.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
        let mut b = self.shared.wait(&[], Instant::now() + SEAL_WAIT, false);
        write(&mut b, store, &self.shared.run, true);
        drop(b);
        self.shared.changed.notify_all();
    }
}

impl Drop for Capture {
    /// After sealing (or when the run ends without it): what the code probe still runs is of
    /// no use to anyone.
    fn drop(&mut self) {
        self.git.clear();
    }
}
