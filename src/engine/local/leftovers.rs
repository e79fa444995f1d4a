//! What tasks leave running (issue 9). A task's process group stays on the kill schedule after
//! its shell ends: what a stop or a time limit sent SIGTERM to gets its SIGKILL at the end of
//! the grace period, and what is still in the group [`LEAK_TIMEOUT`] after a task ended on its
//! own (a background job it never waited for) is stopped, SIGTERM then SIGKILL, and recorded
//! as a `leaked` event (nextest's leak detection). The run is over once every such group is
//! gone. Processes of the run that left their group (`setsid`) are found by their variables
//! when the run ends ([`stop_escapees`]), stopped, and recorded as an `escaped` event.

use super::attempt::Running;
use super::turn::Loop;
use super::wake::Sleeper;
use super::Event;
use crate::exec::{leftovers, process};
use crate::progress::Reporter;
use crate::spec::format_duration;
use crate::store::{Change, Store, StoreError};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

/// How long what is still in an ended task's process group may take to end on its own.
pub(super) const LEAK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a group on the schedule is looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long a group is still watched after its SIGKILL: a process in uninterruptible sleep
/// (a hung network filesystem) dies late, and the run does not wait for it for ever.
pub(super) const AFTER_KILL: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Terminate,
    Kill,
    Forget,
}

/// The process group of an ended attempt, with something still in it.
pub(super) struct Leftover {
    pgid: u32,
    index: usize,
    attempt: u32,
    /// The next step, and when.
    next: Step,
    at: Instant,
    looked: Instant,
    /// Its `leaked` event is recorded.
    recorded: bool,
}

impl Loop<'_> {
    /// Attempt `r` ended with processes still in its group: the group goes on the schedule.
    pub(super) fn left_behind(&mut self, r: &Running) {
        let now = Instant::now();
        let mut l = Leftover {
            pgid: r.pid,
            index: r.index,
            attempt: r.attempt,
            next: Step::Terminate,
            at: now + LEAK_TIMEOUT,
            looked: now,
            recorded: false,
        };
        if self.killing {
            self.kill_leftover(&mut l, now);
        } else if let Some(kill_at) = r.kill_at {
            // A stop or its time limit sent the group SIGTERM: SIGKILL comes when it was due.
            (l.next, l.at) = (Step::Kill, kill_at);
        }
        self.leftovers.push(l);
    }

    /// A new attempt got `pid`: a group with that id was gone, whatever the last look said.
    pub(super) fn forget_group(&mut self, pid: u32) {
        self.leftovers.retain(|l| l.pgid != pid);
    }

    /// Takes each group's next step when it is due; forgets the groups that are gone.
    pub(super) fn enforce_leftovers(&mut self, now: Instant) {
        let mut groups = std::mem::take(&mut self.leftovers);
        groups.retain_mut(|l| {
            if now < l.at && now < l.looked + POLL {
                return true;
            }
            l.looked = now;
            if !leftovers::group_alive(l.pgid) {
                return false;
            }
            match l.next {
                _ if now < l.at => {}
                Step::Terminate => self.terminate_leftover(l, now + self.cfg.grace),
                Step::Kill => self.kill_leftover(l, now),
                Step::Forget => return false,
            }
            true
        });
        self.leftovers = groups;
    }

    /// When the schedule next needs a look.
    pub(super) fn leftovers_due(&self) -> Option<Instant> {
        self.leftovers
            .iter()
            .map(|l| l.at.min(l.looked + POLL))
            .min()
    }

    /// The run is stopping: groups waiting for their leak timeout get SIGTERM now, and SIGKILL
    /// at `kill_at` at the latest.
    pub(super) fn terminate_leftovers(&mut self, kill_at: Instant) {
        let mut groups = std::mem::take(&mut self.leftovers);
        for l in &mut groups {
            match l.next {
                Step::Terminate => self.terminate_leftover(l, kill_at),
                Step::Kill => l.at = l.at.min(kill_at),
                Step::Forget => {}
            }
        }
        self.leftovers = groups;
    }

    /// SIGKILL to every group on the schedule now.
    pub(super) fn kill_leftovers(&mut self) {
        let mut groups = std::mem::take(&mut self.leftovers);
        for l in groups.iter_mut().filter(|l| l.next != Step::Forget) {
            self.kill_leftover(l, Instant::now());
        }
        self.leftovers = groups;
    }

    fn terminate_leftover(&mut self, l: &mut Leftover, kill_at: Instant) {
        let grace = format_duration(kill_at.saturating_duration_since(Instant::now()));
        self.record_leak(l, &format!("SIGTERM, then SIGKILL after {grace}"));
        process::signal_group(l.pgid, Signal::SIGTERM);
        (l.next, l.at) = (Step::Kill, kill_at);
    }

    fn kill_leftover(&mut self, l: &mut Leftover, now: Instant) {
        self.record_leak(l, "SIGKILL");
        process::signal_group(l.pgid, Signal::SIGKILL);
        (l.next, l.at) = (Step::Forget, now + AFTER_KILL);
    }

    /// Records, once per group, that the attempt left processes running, and which.
    fn record_leak(&mut self, l: &mut Leftover, what: &str) {
        if std::mem::replace(&mut l.recorded, true) {
            return;
        }
        let members = leftovers::group_members(l.pgid);
        let pids: Vec<String> = members.iter().map(u32::to_string).collect();
        let detail = format!(
            "attempt {} left {} process(es) running in its process group after it ended (pid {}): {what}",
            l.attempt,
            members.len(),
            pids.join(", ")
        );
        let (spec, task) = (self.books.spec, &self.books.plan.tasks[l.index]);
        self.books.lines.push(format!(
            "⚠ {}: {detail}",
            self.books.plan.label(l.index, spec)
        ));
        self.books.changes.push(Change::TaskNote {
            key: task.key.to_string(),
            kind: "leaked".into(),
            detail,
        });
    }
}

/// Stops the processes of `run` still running once it is over: they left their task's process
/// group (`setsid`), so only the variables they inherited find them. SIGTERM, SIGKILL after
/// `grace` (at once on a stop signal); recorded as an `escaped` event. Returns how many.
pub(super) fn stop_escapees(
    store: &mut Store,
    run: &str,
    grace: Duration,
    sleeper: &Sleeper,
    rep: &Reporter,
) -> Result<usize, StoreError> {
    let store_dir = store.dir().to_path_buf();
    let found = leftovers::find_orphans(&store_dir, run);
    if found.is_empty() {
        return Ok(0);
    }
    let list = |pids: &[u32]| {
        pids.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    rep.always(&format!(
        "labtrail: {} process(es) of this run's tasks left their process group and still run (pid {}): stopping them (SIGTERM, then SIGKILL after {}; Ctrl+C kills them now)",
        found.len(),
        list(&found),
        format_duration(grace)
    ));
    let pause = |d| {
        let news = sleeper.wait(d);
        news.iter().any(|e| matches!(e, Event::Signal(..)))
    };
    let stopped = leftovers::stop_orphans(&store_dir, run, grace, pause);
    store.apply(
        run,
        &[Change::Note {
            kind: "escaped".into(),
            detail: format!(
                "{} process(es) of this run's tasks left their process group and were still running when the run ended (pid {}): stopped",
                stopped.len(),
                list(&stopped)
            ),
        }],
    )?;
    Ok(stopped.len())
}
