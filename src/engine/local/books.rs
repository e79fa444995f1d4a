//! The runner's books: what the loop keeps between turns, and what an ended attempt changes.

use super::attempt::Running;
use super::ending::Output;
use super::graph::Graph;
use super::RunReport;
use crate::exec::process::Exit;
use crate::plan::Plan;
use crate::policy::{self, Decision, Outcome};
use crate::progress::{error_part, Counts};
use crate::spec::{format_duration, Spec};
use crate::store::{format_time, Change, TaskState};
use std::collections::BTreeMap;
use std::time::Instant;

/// What the loop keeps between turns, besides the processes in flight.
pub(super) struct Books<'a> {
    pub(super) spec: &'a Spec,
    pub(super) plan: &'a Plan,
    /// Attempts of each task in this invocation (retries are counted against the policy).
    pub(super) tries: Vec<u32>,
    pub(super) graph: Graph,
    /// Retries waiting for their backoff, by due time.
    pub(super) delayed: BTreeMap<(Instant, usize), ()>,
    /// Changes of the current commit window, and the lines that report them.
    pub(super) changes: Vec<Change>,
    pub(super) lines: Vec<String>,
    pub(super) report: RunReport,
    pub(super) counts: Counts,
}

impl Books<'_> {
    /// Applies the policy to an ended attempt and queues the resulting changes and report lines.
    pub(super) fn finish(
        &mut self,
        i: usize,
        r: &Running,
        exit: Exit,
        outcome: Outcome,
        reason: Option<String>,
        output: Output,
    ) {
        let (spec, plan) = (self.spec, self.plan);
        let Books {
            tries,
            graph,
            delayed,
            changes,
            lines,
            report,
            counts,
            ..
        } = self;
        let task = &plan.tasks[i];
        let stage = &spec.stages[task.stage];
        let (outcome, reason, result) = match outcome {
            Outcome::Success => match output.result {
                Ok(result) => (Outcome::Success, None, result),
                Err(why) => (Outcome::Failed, Some(why), None),
            },
            other => (other, reason, None),
        };
        let decision = policy::decide(outcome, tries[i], stage.retries, spec.run.backoff);
        let label = plan.label(i, spec);
        let took = format_duration(exit.at.saturating_duration_since(r.started));
        let why = reason.clone().unwrap_or_default();
        let error = error_part(output.facts.error.as_ref().and_then(|e| e.line.as_deref()));
        let state = match &decision {
            Decision::Done => {
                graph.done(i);
                report.done += 1;
                counts.done += 1;
                lines.push(format!("✓ {label} ({took})"));
                TaskState::Done
            }
            Decision::Retry(after) => {
                delayed.insert((Instant::now() + *after, i), ());
                lines.push(format!(
                    "↻ {label}: {why} (attempt {}){error}; retry {} of {} in {}; log: {}",
                    r.attempt,
                    tries[i],
                    stage.retries,
                    format_duration(*after),
                    r.files.stderr.display()
                ));
                TaskState::Pending
            }
            Decision::Fail => {
                report.failed += 1;
                counts.failed += 1;
                lines.push(format!(
                    "✗ {label}: {why} (attempt {}){error}; log: {}",
                    r.attempt,
                    r.files.stderr.display()
                ));
                for d in graph.downstream(i) {
                    let reason = format!("upstream task {} failed", label);
                    changes.push(Change::Blocked {
                        key: plan.tasks[d].key.to_string(),
                        reason,
                    });
                    report.blocked += 1;
                    lines.push(format!(
                        "⊘ {}: blocked, upstream {label} failed",
                        plan.label(d, spec)
                    ));
                }
                TaskState::Failed
            }
            Decision::Interrupted => {
                report.interrupted += 1;
                lines.push(format!("⏸ {label}: interrupted, will run again on resume"));
                TaskState::Interrupted
            }
        };
        report.ran += 1;
        let facts = (*output.facts).changes(&task.key, outcome);
        changes.push(Change::Finished {
            key: task.key.to_string(),
            attempt: r.attempt,
            ended_at: format_time(exit.at_wall),
            exit_code: exit.code,
            signal: exit.signal,
            outcome,
            reason,
            state,
            result,
            max_rss_kb: (exit.max_rss_kb > 0).then_some(exit.max_rss_kb),
            user_cpu_s: Some(exit.user_cpu_s),
            sys_cpu_s: Some(exit.sys_cpu_s),
            metrics: output.metrics,
        });
        changes.extend(facts);
        for warning in output.warnings {
            lines.push(format!("⚠ {label}: {warning}"));
            changes.push(Change::TaskNote {
                key: task.key.to_string(),
                kind: "task_output_skipped".into(),
                detail: warning,
            });
        }
    }
}
