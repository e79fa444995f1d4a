//! The pool of GPUs the workers share out (issue 14): a worker takes the devices its attempt
//! needs, lowest free first, just before starting it, and gives them back once its process is
//! reaped. No two attempts running at once ever hold one device. A worker that finds too few
//! free waits on a condition variable (no polling) until another gives some back, or the run
//! stops.
//!
//! **An attempt whose process group lingers** (a background job its shell never waited for,
//! see `leftovers.rs`) keeps its devices until that group is gone: a leftover may still hold GPU
//! memory or run kernels, and the next task on that device would run out of memory or share it
//! unknowingly. The loop's leak schedule ends such a group within the leak timeout plus the
//! grace period, so the devices come back soon; they are given back anyway once
//! [`Pool::lingering_limit`] has passed (a process stuck in uninterruptible sleep after its
//! SIGKILL would otherwise hold them for the rest of the run, and the loop forgets it too).
//! While devices wait for a lingering group, a waiting worker looks again every [`POLL`].

use super::gpus::Devices;
use crate::exec::leftovers;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a waiting worker looks whether a lingering group is gone (as the loop does).
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Free,
    /// Held by a running attempt.
    Running,
    /// Held by the process group `pgid` of an attempt that ended, since `since`.
    Lingering {
        pgid: u32,
        since: Instant,
    },
}

/// The devices of one run and who holds each.
pub(super) struct Pool {
    devices: Devices,
    holders: Mutex<Vec<Holder>>,
    changed: Condvar,
    /// How long a lingering group may keep its devices at most.
    lingering_limit: Duration,
}

/// Devices one attempt holds (positions in the pool), and their `CUDA_VISIBLE_DEVICES` value.
#[derive(Debug, Default)]
pub(super) struct Grant {
    held: Vec<usize>,
    /// The ids, comma-separated (`""` for an attempt that needs none).
    pub visible: String,
}

impl Pool {
    /// A pool of `devices`, all free; a lingering group keeps its devices `lingering_limit` at
    /// most.
    pub fn new(devices: Devices, lingering_limit: Duration) -> Pool {
        Pool {
            holders: Mutex::new(vec![Holder::Free; devices.ids.len()]),
            devices,
            changed: Condvar::new(),
            lingering_limit,
        }
    }

    fn holders(&self) -> MutexGuard<'_, Vec<Holder>> {
        // Nothing panics while holding it; if something did, the list is still whole.
        self.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The devices an attempt of stage `stage` needs, if they are free now (lowest first).
    pub fn try_take(&self, stage: usize) -> Option<Grant> {
        self.grab(&mut self.holders(), stage)
    }

    /// The devices an attempt of stage `stage` needs, lowest free first, once they are free;
    /// `None` if the run stops (`stopping`) meanwhile.
    pub fn take(&self, stage: usize, stopping: &AtomicBool) -> Option<Grant> {
        let mut holders = self.holders();
        loop {
            if stopping.load(Ordering::SeqCst) {
                return None;
            }
            if let Some(grant) = self.grab(&mut holders, stage) {
                return Some(grant);
            }
            let lingering = holders
                .iter()
                .any(|h| matches!(h, Holder::Lingering { .. }));
            holders = if lingering {
                self.changed
                    .wait_timeout(holders, POLL)
                    .map_or_else(|e| e.into_inner().0, |(h, _)| h)
            } else {
                self.changed
                    .wait(holders)
                    .unwrap_or_else(|e| e.into_inner())
            };
        }
    }

    /// Takes what stage `stage` needs if it is free, all or nothing.
    fn grab(&self, holders: &mut [Holder], stage: usize) -> Option<Grant> {
        let needs = self.devices.per_stage.get(stage).copied().unwrap_or(1) as usize;
        if needs == 0 {
            return Some(Grant::default());
        }
        self.reclaim(holders);
        let free: Vec<usize> = (0..holders.len())
            .filter(|&i| holders[i] == Holder::Free)
            .take(needs)
            .collect();
        if free.len() < needs {
            return None;
        }
        for &i in &free {
            holders[i] = Holder::Running;
        }
        let ids: Vec<&str> = free.iter().map(|&i| self.devices.ids[i].as_str()).collect();
        Some(Grant {
            visible: ids.join(","),
            held: free,
        })
    }

    /// Gives `grant` back: free at once, or held until the process group `lingering` is gone.
    pub fn give_back(&self, grant: Grant, lingering: Option<u32>) {
        if grant.held.is_empty() {
            return;
        }
        let mut holders = self.holders();
        let holder = match lingering {
            Some(pgid) => Holder::Lingering {
                pgid,
                since: Instant::now(),
            },
            None => Holder::Free,
        };
        for i in grant.held {
            holders[i] = holder;
        }
        drop(holders);
        self.changed.notify_all();
    }

    /// A new attempt got process id `pid`: a lingering group with that id is gone (the kernel
    /// does not reuse the id of a live group), whatever it looks like now.
    pub fn started(&self, pid: u32) {
        let mut holders = self.holders();
        let mut freed = false;
        for h in holders.iter_mut() {
            if matches!(h, Holder::Lingering { pgid, .. } if *pgid == pid) {
                *h = Holder::Free;
                freed = true;
            }
        }
        drop(holders);
        if freed {
            self.changed.notify_all();
        }
    }

    /// Wakes every waiting worker: the run is stopping (taken under the lock, so that a worker
    /// between its look at `stopping` and its wait does not miss it).
    pub fn wake_all(&self) {
        let _holders = self.holders();
        self.changed.notify_all();
    }

    /// Frees the devices of lingering groups that are gone, or that held them too long.
    fn reclaim(&self, holders: &mut [Holder]) {
        for h in holders.iter_mut() {
            if let Holder::Lingering { pgid, since } = *h {
                if since.elapsed() >= self.lingering_limit || !leftovers::group_alive(pgid) {
                    *h = Holder::Free;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: usize, per_task: u32) -> Pool {
        let devices = Devices {
            ids: (0..n).map(|i| i.to_string()).collect(),
            per_stage: vec![per_task, 0],
            per_task,
            source: "test".into(),
        };
        Pool::new(devices, Duration::from_secs(60))
    }

    #[test]
    fn lowest_free_first_and_none_for_a_cpu_stage() {
        let (p, go) = (pool(4, 2), AtomicBool::new(false));
        let a = p.take(0, &go).unwrap();
        let b = p.take(0, &go).unwrap();
        assert_eq!((a.visible.as_str(), b.visible.as_str()), ("0,1", "2,3"));
        assert_eq!(p.take(1, &go).unwrap().visible, "");
        p.give_back(a, None);
        assert_eq!(p.take(0, &go).unwrap().visible, "0,1");
    }

    /// A worker waiting for devices lets go when the run stops.
    #[test]
    fn a_waiting_worker_returns_on_stop() {
        let (p, stop) = (pool(1, 1), AtomicBool::new(false));
        let _held = p.take(0, &stop).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| p.take(0, &stop).is_none());
            stop.store(true, Ordering::SeqCst);
            p.wake_all();
            assert!(waiter.join().unwrap());
        });
    }

    /// Devices of a group that lingers come back once it is gone (here: a pid with no group).
    #[test]
    fn devices_of_a_gone_group_come_back() {
        let (p, go) = (pool(1, 1), AtomicBool::new(false));
        let a = p.take(0, &go).unwrap();
        p.give_back(a, Some(u32::MAX / 2));
        assert_eq!(p.take(0, &go).unwrap().visible, "0");
    }
}
