//! Which tasks may run now: dependency counts between the tasks of one invocation.

use crate::plan::Plan;
use crate::store::TaskState;
use std::collections::VecDeque;

/// Dependency bookkeeping for the tasks still to run.
pub struct Graph {
    /// Number of upstream tasks not yet done, per task index.
    unmet: Vec<u32>,
    /// Where each task's downstream tasks start in `downstream` (they end where the next task's
    /// start): one array for all, not a list per task (issue 15: 24 bytes per task, most empty).
    starts: Vec<u32>,
    /// Downstream task indices, task after task.
    downstream: Vec<u32>,
    /// Tasks whose upstream tasks are all done, in plan order.
    pub ready: VecDeque<usize>,
}

impl Graph {
    /// Builds the graph; tasks already done are not scheduled, nor tasks outside `within` (a
    /// slice of the plan, `run --only`: it holds every upstream task its tasks need that is not
    /// done); `state` gives a task's state by plan position. Returns the graph and the number of
    /// tasks of the slice skipped as done.
    pub fn new(
        plan: &Plan,
        state: impl Fn(usize) -> TaskState,
        within: Option<&[bool]>,
    ) -> (Graph, usize) {
        let n = plan.tasks.len();
        let mut unmet = vec![0u32; n];
        let mut ready = VecDeque::new();
        let mut skipped = 0;
        // The tasks to schedule, and per upstream task how many of them wait for it.
        let mut scheduled = vec![false; n];
        let mut counts = vec![0u32; n + 1];
        for i in 0..n {
            if within.is_some_and(|w| !w[i]) {
                continue;
            }
            if state(i) == TaskState::Done {
                skipped += 1;
                continue;
            }
            scheduled[i] = true;
            for &j in plan.deps(i) {
                if state(j as usize) != TaskState::Done {
                    unmet[i] += 1;
                    counts[j as usize + 1] += 1;
                }
            }
            if unmet[i] == 0 {
                ready.push_back(i);
            }
        }
        for j in 0..n {
            counts[j + 1] += counts[j];
        }
        let starts = counts;
        let mut downstream = vec![0u32; starts[n] as usize];
        let mut filled = starts.clone();
        for i in (0..n).filter(|&i| scheduled[i] && unmet[i] > 0) {
            for &j in plan.deps(i) {
                if state(j as usize) != TaskState::Done {
                    downstream[filled[j as usize] as usize] = i as u32;
                    filled[j as usize] += 1;
                }
            }
        }
        (
            Graph {
                unmet,
                starts,
                downstream,
                ready,
            },
            skipped,
        )
    }

    /// The tasks that wait for task `i`, in plan order.
    fn dependents(&self, i: usize) -> &[u32] {
        &self.downstream[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Task `i` is done: its dependents whose upstream is now complete become ready.
    pub fn done(&mut self, i: usize) {
        let (from, to) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        for k in from..to {
            let d = self.downstream[k] as usize;
            self.unmet[d] -= 1;
            if self.unmet[d] == 0 {
                self.ready.push_back(d);
            }
        }
    }

    /// Task `i` failed for good: every task downstream of it, transitively, is blocked.
    pub fn downstream(&self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = vec![false; self.unmet.len()];
        let mut stack: Vec<usize> = self.dependents(i).iter().map(|&d| d as usize).collect();
        while let Some(d) = stack.pop() {
            if std::mem::replace(&mut seen[d], true) {
                continue;
            }
            out.push(d);
            stack.extend(self.dependents(d).iter().map(|&x| x as usize));
        }
        out.sort_unstable();
        out
    }
}
