//! What a task's whole process tree uses, sampled (issue 12): `wait4` gives the peak of the
//! largest single process, so a task forking 4 workers of 200 MB each shows 200 MB there. One
//! thread samples every running task: each interval it reads `/proc/PID/stat` of every process
//! once (process group, CPU ticks, resident pages) and groups them by task (a task leads its own
//! group, its pgid is its pid). A group of one process counts its resident memory; a group of
//! more shares pages (a parent's forked workers: a PyTorch DataLoader), which resident memory
//! counts once per process, so it counts proportional shares (`Pss:` of `smaps_rollup`) instead,
//! within a CPU budget ([`pss`]). The peak is kept. A task in a cgroup
//! of its own (not the runner's: a SLURM step, a systemd scope) has its cgroup v2 `memory.peak`
//! read instead, exact. GPUs are sampled less often, through [`GpuProbe`], loaded in the thread
//! on its first GPU turn (no driver: never again).

use crate::provenance::gpu_use::{self, GpuProbe, GpuTally, TaskView};
use crate::provenance::model::GpuUse;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What a task's tree used, as far as the sampler saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeUsage {
    /// Peak resident memory of the tree, KiB (`None`: no sample saw it).
    pub peak_rss_kb: Option<u64>,
    /// `cgroup` or `sampled`.
    pub source: Option<&'static str>,
    /// CPU seconds of every process seen, as last seen (a lower bound: a process living less
    /// than an interval is not seen).
    pub cpu_s: Option<f64>,
    pub samples: u32,
    pub gpus: Vec<GpuUse>,
}

/// Loads the GPU probe, in the sampler thread.
pub type ProbeLoader = Box<dyn FnOnce() -> Option<Box<dyn GpuProbe>> + Send>;

/// The sampler thread of a pool of workers; stopped when dropped.
pub struct TreeSampler {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    tasks: Mutex<Tasks>,
    wake: Condvar,
    /// The GPU probe was loaded and found no GPU: a task's allowed devices are never needed, so
    /// its environment is not read (a read of another process's memory per task start).
    no_gpus: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Tasks {
    by_pgid: HashMap<u32, Tally>,
    stop: bool,
}

#[derive(Default)]
struct Tally {
    /// The peak of the single-process moments' RSS and of the PSS samples.
    peak_kb: u64,
    samples: u32,
    /// Moments with more than one process: their PSS, and their RSS sum (the fallback).
    shared: pss::Shared,
    /// The task's own cgroup's `memory.peak`, if it has one.
    cgroup_peak: Option<PathBuf>,
    cgroup_peak_kb: u64,
    /// CPU ticks per process, as last seen.
    ticks: HashMap<u32, u64>,
    /// Its processes at the last sample.
    pids: HashSet<u32>,
    allocated: Option<Vec<String>>,
    gpus: GpuTally,
}

impl TreeSampler {
    /// Starts the thread: memory every `memory_every`, GPUs every `gpu_every` through the probe
    /// `load_gpus` gives.
    pub fn start(
        memory_every: Duration,
        gpu_every: Duration,
        load_gpus: ProbeLoader,
    ) -> std::io::Result<TreeSampler> {
        let shared = Arc::new(Shared {
            tasks: Mutex::new(Tasks::default()),
            wake: Condvar::new(),
            no_gpus: Default::default(),
        });
        let inner = shared.clone();
        let thread = std::thread::Builder::new()
            .name("tree-sampler".into())
            .spawn(move || sample_loop(&inner, memory_every, gpu_every, load_gpus))?;
        Ok(TreeSampler {
            shared,
            thread: Some(thread),
        })
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.shared.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Samples the process group `pgid` (a task just started) from the next turn on.
    pub fn watch(&self, pgid: u32) {
        let tally = Tally {
            cgroup_peak: own_cgroup_peak(pgid),
            allocated: match self
                .shared
                .no_gpus
                .load(std::sync::atomic::Ordering::Relaxed)
            {
                true => None,
                false => visible_devices(pgid),
            },
            ..Tally::default()
        };
        self.tasks().by_pgid.insert(pgid, tally);
    }

    /// Stops sampling `pgid` (its leader was reaped) and says what it used.
    pub fn finish(&self, pgid: u32) -> TreeUsage {
        let Some(t) = self.tasks().by_pgid.remove(&pgid) else {
            return TreeUsage::default();
        };
        let (peak, source) = match t.cgroup_peak {
            Some(_) if t.cgroup_peak_kb > 0 => (Some(t.cgroup_peak_kb), Some("cgroup")),
            _ if t.samples > 0 => {
                let (kb, source) = t.shared.peak(t.peak_kb);
                (Some(kb), Some(source))
            }
            _ => (None, None),
        };
        let ticks: u64 = t.ticks.values().sum();
        TreeUsage {
            peak_rss_kb: peak,
            source,
            cpu_s: (ticks > 0).then(|| ticks as f64 / clock_ticks()),
            samples: t.samples,
            gpus: t.gpus.finish(),
        }
    }
}

impl Drop for TreeSampler {
    fn drop(&mut self) {
        self.tasks().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sample_loop(shared: &Shared, memory_every: Duration, gpu_every: Duration, load: ProbeLoader) {
    let mut load = Some(load);
    let mut probe: Option<Box<dyn GpuProbe>> = None;
    let mut next_gpu = Instant::now() + gpu_every;
    let mut last_gpu_us = 0;
    let mut buf = Vec::with_capacity(512);
    let mut budget = pss::Budget::new();
    loop {
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + memory_every;
        while !tasks.stop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            tasks = shared
                .wake
                .wait_timeout(tasks, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if tasks.stop {
            return;
        }
        if tasks.by_pgid.is_empty() {
            continue;
        }
        let groups: HashSet<u32> = tasks.by_pgid.keys().copied().collect();
        drop(tasks);
        // Read without the lock: a worker that starts or ends a task does not wait for /proc.
        let seen = scan(&groups, &mut buf);
        let due = pss_due(
            &shared.tasks.lock().unwrap_or_else(|e| e.into_inner()),
            &seen,
        );
        // PSS too: a pass over large trees takes a while.
        let pss = read_pss(due, &mut budget);
        let mut tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for (pgid, t) in tasks.by_pgid.iter_mut() {
            let procs = seen.get(pgid).map(Vec::as_slice).unwrap_or_default();
            t.record(procs, pss.get(pgid).copied());
        }
        if Instant::now() >= next_gpu {
            next_gpu = Instant::now() + gpu_every;
            if let Some(load) = load.take() {
                drop(tasks);
                probe = load();
                shared
                    .no_gpus
                    .store(probe.is_none(), std::sync::atomic::Ordering::Relaxed);
                tasks = shared.tasks.lock().unwrap_or_else(|e| e.into_inner());
            }
            if let Some(p) = probe.as_deref() {
                let now_us = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros() as u64);
                sample_gpus(p, &mut tasks, last_gpu_us);
                last_gpu_us = now_us;
            }
        }
    }
}

/// The groups whose PSS is to be read now, with their processes: those never read first (the
/// budget may not reach them all).
fn pss_due(tasks: &Tasks, seen: &HashMap<u32, Vec<Proc>>) -> Vec<(u32, Vec<u32>)> {
    let mut due = Vec::new();
    for (pgid, t) in &tasks.by_pgid {
        let procs = seen.get(pgid).map(Vec::as_slice).unwrap_or_default();
        if t.shared.due(procs) {
            due.push((
                t.shared.was_read(),
                *pgid,
                procs.iter().map(|p| p.pid).collect(),
            ));
        }
    }
    due.sort_by_key(|d| d.0);
    due.into_iter()
        .map(|(_, pgid, pids)| (pgid, pids))
        .collect()
}

/// PSS sums of the `due` groups, as far as the budget allows.
fn read_pss(due: Vec<(u32, Vec<u32>)>, budget: &mut pss::Budget) -> HashMap<u32, Option<u64>> {
    due.into_iter()
        .filter_map(|(pgid, pids)| Some((pgid, pss::read(&pids, budget)?)))
        .collect()
}

fn sample_gpus(probe: &dyn GpuProbe, tasks: &mut Tasks, since_us: u64) {
    let order: Vec<u32> = tasks.by_pgid.keys().copied().collect();
    let samples = {
        let views: Vec<TaskView> = order
            .iter()
            .map(|p| {
                let t = &tasks.by_pgid[p];
                TaskView {
                    pids: &t.pids,
                    allocated: t.allocated.as_deref(),
                }
            })
            .collect();
        gpu_use::attribute(probe, &views, since_us)
    };
    for (pgid, s) in order.iter().zip(samples) {
        if let Some(t) = tasks.by_pgid.get_mut(pgid) {
            t.gpus.add(&s);
        }
    }
}

/// One process as `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    ticks: u64,
    rss_kb: u64,
}

impl Tally {
    /// Counts a sample of `procs`, with their PSS sum if it was read.
    fn record(&mut self, procs: &[Proc], pss: Option<Option<u64>>) {
        self.samples += 1;
        if procs.len() > 1 {
            self.shared.record(procs, pss);
        } else {
            self.peak_kb = self.peak_kb.max(procs.iter().map(|p| p.rss_kb).sum());
        }
        self.pids = procs.iter().map(|p| p.pid).collect();
        for p in procs {
            self.ticks.insert(p.pid, p.ticks);
        }
        if let Some(path) = &self.cgroup_peak {
            if let Some(kb) = read_u64(path).map(|b| b / 1024) {
                self.cgroup_peak_kb = self.cgroup_peak_kb.max(kb);
            }
        }
    }
}

/// The processes of each group in `groups`, from one pass over `/proc`.
fn scan(groups: &HashSet<u32>, buf: &mut Vec<u8>) -> HashMap<u32, Vec<Proc>> {
    let mut out: HashMap<u32, Vec<Proc>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    let page_kb = page_kb();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        buf.clear();
        let mut path = PathBuf::from("/proc");
        path.push(&name);
        path.push("stat");
        if std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(buf))
            .is_err()
        {
            continue; // It ended meanwhile.
        }
        if let Some((pgid, p)) = parse_stat(pid, buf, page_kb) {
            if groups.contains(&pgid) {
                out.entry(pgid).or_default().push(p);
            }
        }
    }
    out
}

/// pgid and figures from a `/proc/PID/stat` line: fields after the command's closing `)` (the
/// command may hold spaces and parentheses) are state, ppid, pgrp, ..., utime (14), stime (15),
/// ..., rss (24, pages).
fn parse_stat(pid: u32, line: &[u8], page_kb: u64) -> Option<(u32, Proc)> {
    let close = line.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&line[close + 1..]).ok()?;
    let f: Vec<&str> = rest.split_ascii_whitespace().take(22).collect();
    let num = |i: usize| f.get(i)?.parse::<u64>().ok();
    let pgid = num(2)? as u32;
    Some((
        pgid,
        Proc {
            pid,
            ticks: num(11)? + num(12)?,
            rss_kb: num(21)? * page_kb,
        },
    ))
}

fn page_kb() -> u64 {
    // SAFETY: sysconf only reads a constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64 / 1024
    } else {
        4
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The cgroup v2 path of `pid` (`0::/path` in `/proc/PID/cgroup`).
fn cgroup_of(pid: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// `memory.peak` of the cgroup `pgid` runs in, if it is not the runner's own (then it holds
/// only the task: a SLURM step, a systemd scope) and the kernel keeps one (5.19 and later).
fn own_cgroup_peak(pgid: u32) -> Option<PathBuf> {
    let theirs = cgroup_of(&pgid.to_string())?;
    // The runner's own cgroup, read once: it was read again at every task start (issue 15).
    static OWN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if Some(&theirs) == OWN.get_or_init(|| cgroup_of("self")).as_ref() {
        return None;
    }
    // The unified hierarchy: at the root on a cgroup v2 system, under `unified` on a hybrid one.
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(|root| {
            Path::new(root)
                .join(theirs.trim_start_matches('/'))
                .join("memory.peak")
        })
        .find(|p| p.is_file())
}

/// The GPUs `CUDA_VISIBLE_DEVICES` gives process `pid`; `None` when it is unset (all of them).
fn visible_devices(pid: u32) -> Option<Vec<String>> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0)
        .filter_map(|kv| kv.strip_prefix(b"CUDA_VISIBLE_DEVICES="))
        .next_back()
        .map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
}

#[path = "tree_usage_pss.rs"]
mod pss;

#[cfg(test)]
#[path = "tree_usage_tests.rs"]
mod tests;
