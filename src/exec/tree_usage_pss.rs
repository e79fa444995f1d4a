//! Proportional memory of a task's processes that share pages (issue 12). A parent holding
//! 300 MB that forks 4 workers shows 5 × 300 MB in their resident memory summed; their PSS
//! (each shared page divided among the processes mapping it) sums to 300 MB. The kernel computes
//! PSS by walking the page tables (`/proc/PID/smaps_rollup`, Linux 4.14 and later): ~6 ms per
//! process of 300 MB here, 100 times the `stat` read. So it is read within a budget of CPU time
//! ([`Budget`]), for a group when it is first seen with more than one process, when its resident
//! memory grew by a tenth since its last PSS, and every [`PSS_EVERY`] else.

use super::Proc;
use std::time::{Duration, Instant};

/// How often a group's PSS is read again when its resident memory did not grow (its pages can
/// still turn from shared to private: workers writing their copies).
const PSS_EVERY: Duration = Duration::from_secs(5);
/// The CPU time PSS reads may take, a fraction of one core (the `/proc` pass takes ~0.28 %: 0.5 % in all).
const SHARE_OF_A_CORE: f64 = 0.002;
/// The most CPU time saved up for a burst: a first read of large trees.
const MOST_SAVED: Duration = Duration::from_millis(250);

/// The CPU time PSS reads may still take: earned at [`SHARE_OF_A_CORE`] of the time passed, up
/// to [`MOST_SAVED`]; a read that took more leaves a debt paid before the next.
pub(super) struct Budget {
    left_s: f64,
    at: Instant,
}

impl Budget {
    pub(super) fn new() -> Budget {
        Budget {
            left_s: MOST_SAVED.as_secs_f64(),
            at: Instant::now(),
        }
    }

    fn allows(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * SHARE_OF_A_CORE;
        self.left_s = (self.left_s + earned).min(MOST_SAVED.as_secs_f64());
        self.at = now;
        self.left_s > 0.0
    }

    fn spend(&mut self, cpu_s: f64) {
        self.left_s -= cpu_s;
    }
}

/// A group's moments with more than one process.
#[derive(Default)]
pub(super) struct Shared {
    pss_peak_kb: u64,
    pss_samples: u32,
    /// The peak of the RSS sums: what is left when no PSS could be read.
    rss_peak_kb: u64,
    seen: bool,
    unreadable: bool,
    /// When PSS was last read, and the RSS sum then.
    last: Option<(Instant, u64)>,
}

impl Shared {
    /// Whether PSS is to be read for a group of `procs` now.
    pub(super) fn due(&self, procs: &[Proc]) -> bool {
        let rss: u64 = procs.iter().map(|p| p.rss_kb).sum();
        procs.len() > 1
            && !self.unreadable
            && match self.last {
                None => true,
                Some((at, then)) => at.elapsed() >= PSS_EVERY || rss > then + then / 10,
            }
    }

    /// Whether its PSS was read at least once.
    pub(super) fn was_read(&self) -> bool {
        self.pss_samples > 0
    }

    /// Counts a moment of `procs`, more than one, with their PSS sum if it was read
    /// (`Some(None)`: it could not be).
    pub(super) fn record(&mut self, procs: &[Proc], pss: Option<Option<u64>>) {
        let rss: u64 = procs.iter().map(|p| p.rss_kb).sum();
        self.seen = true;
        self.rss_peak_kb = self.rss_peak_kb.max(rss);
        match pss {
            Some(Some(kb)) => {
                self.pss_peak_kb = self.pss_peak_kb.max(kb);
                self.pss_samples += 1;
                self.last = Some((Instant::now(), rss));
            }
            Some(None) => self.unreadable = true,
            None => {}
        }
    }

    /// The tree's peak, given `single_kb`, the peak of its single-process moments, and how it
    /// was measured.
    pub(super) fn peak(&self, single_kb: u64) -> (u64, &'static str) {
        if !self.seen {
            (single_kb, "sampled rss")
        } else if self.pss_samples > 0 {
            (single_kb.max(self.pss_peak_kb), "sampled pss")
        } else if self.unreadable {
            let kb = single_kb.max(self.rss_peak_kb);
            (
                kb,
                "sampled rss (smaps_rollup unreadable: shared pages counted per process)",
            )
        } else {
            let kb = single_kb.max(self.rss_peak_kb);
            (kb, "sampled rss (no PSS within the sampler's budget: shared pages counted per process)")
        }
    }
}

/// The PSS sum of `pids` if the budget allows a read now (`Some(None)`: unreadable).
pub(super) fn read(pids: &[u32], budget: &mut Budget) -> Option<Option<u64>> {
    if !budget.allows() {
        return None;
    }
    let before = thread_cpu_s();
    let pss = pids.iter().map(|&p| pss_kb(p)).sum::<Option<u64>>();
    budget.spend(thread_cpu_s() - before);
    Some(pss)
}

/// `Pss:` of `/proc/PID/smaps_rollup`, KiB; 0 for a process that ended meanwhile; `None` when
/// the file cannot be read (a kernel before 4.14, no permission).
fn pss_kb(pid: u32) -> Option<u64> {
    let path = format!("/proc/{pid}/smaps_rollup");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok()),
        Err(_) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => Some(0),
        Err(_) => None,
    }
}

/// CPU time this thread has used, seconds.
fn thread_cpu_s() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: a process shares nothing with itself: its PSS is at most its RSS, and a pid
    /// that does not exist counts 0.
    #[test]
    fn own_pss_is_read_and_an_ended_process_counts_nothing() {
        let me = pss_kb(std::process::id()).expect("smaps_rollup (Linux 4.14+)");
        assert!(me > 0);
        assert_eq!(pss_kb(u32::MAX - 1), Some(0));
    }

    /// Issue 12: the budget lets a first read through, then holds reads back until the time
    /// they cost is earned again.
    #[test]
    fn a_read_over_the_budget_waits_for_it() {
        let mut b = Budget::new();
        assert!(b.allows());
        b.spend(10.0);
        assert!(!b.allows(), "a debt of 10 s CPU is not paid at once");
    }
}
