//! Which tasks may run now: dependency counts between the tasks of one invocation.

use crate::plan::Plan;
use crate::store::TaskState;
use std::collections::{HashMap, VecDeque};

/// Dependency bookkeeping for the tasks still to run.
pub struct Graph {
    /// Number of upstream tasks not yet done, per task index.
    unmet: Vec<u32>,
    /// Downstream task indices, per task index.
    dependents: Vec<Vec<u32>>,
    /// Tasks whose upstream tasks are all done, in plan order.
    pub ready: VecDeque<usize>,
}

impl Graph {
    /// Builds the graph; tasks already done are not scheduled, nor tasks outside `within` (a
    /// slice of the plan, `run --only`: it holds every upstream task its tasks need that is not
    /// done). Returns the graph and the number of tasks of the slice skipped as done.
    pub fn new(
        plan: &Plan,
        state: impl Fn(&str) -> TaskState,
        within: Option<&[bool]>,
    ) -> (Graph, usize) {
        let index: HashMap<&str, usize> = plan
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.key.as_str(), i))
            .collect();
        let n = plan.tasks.len();
        let mut unmet = vec![0u32; n];
        let mut dependents = vec![Vec::new(); n];
        let mut ready = VecDeque::new();
        let mut skipped = 0;
        for (i, t) in plan.tasks.iter().enumerate() {
            if within.is_some_and(|w| !w[i]) {
                continue;
            }
            if state(&t.key) == TaskState::Done {
                skipped += 1;
                continue;
            }
            for d in &t.deps {
                if let Some(&j) = index.get(d.as_str()) {
                    if state(d) != TaskState::Done {
                        unmet[i] += 1;
                        dependents[j].push(i as u32);
                    }
                }
            }
            if unmet[i] == 0 {
                ready.push_back(i);
            }
        }
        (
            Graph {
                unmet,
                dependents,
                ready,
            },
            skipped,
        )
    }

    /// Task `i` is done: its dependents whose upstream is now complete become ready.
    pub fn done(&mut self, i: usize) {
        for &d in &self.dependents[i] {
            let d = d as usize;
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
        let mut stack: Vec<usize> = self.dependents[i].iter().map(|&d| d as usize).collect();
        while let Some(d) = stack.pop() {
            if std::mem::replace(&mut seen[d], true) {
                continue;
            }
            out.push(d);
            stack.extend(self.dependents[d].iter().map(|&x| x as usize));
        }
        out.sort_unstable();
        out
    }
}
