//! One look at everything a snapshot records: one squeue call, at most one sacct call (for the
//! jobs of `previous` that left the queue), the flags, the disk walks and the stores' runs.
//!
//! The disk walks, the slow part, run on their own thread while the scheduler, the stores and
//! the flags are read.

use super::config::{ExperimentRule, SnapshotConfig};
use super::model::{
    Counts, EndedJob, Experiment, Flag, Job, Run, SchedulerView, Snapshot, SNAPSHOT_SCHEMA,
};
use super::{clock, collect_files, collect_jobs, collect_runs};
use crate::exec::slurm::Scheduler;
use crate::plan::glob_walk;
use indexmap::IndexMap;
use std::time::Instant;

/// Takes the snapshot's contents (everything but writing it). `previous` is the folder's
/// latest snapshot whose scheduler answered (not one whose squeue failed: that one knows no
/// jobs), whose jobs that are gone are asked of sacct. Never fails: a scheduler that
/// does not answer, a folder that cannot be read, a store that cannot be opened are recorded in
/// the snapshot (`scheduler.status`, `disk[..].error`, `warnings`).
pub fn collect(cfg: &SnapshotConfig, previous: Option<&Snapshot>, sched: &Scheduler) -> Snapshot {
    let started = Instant::now();
    let snapshot_timestamp = clock::now();
    std::thread::scope(|scope| {
        let walks = scope.spawn(|| collect_files::disks(cfg));
        let mut queue = collect_jobs::look(&cfg.jobs, previous, sched);
        let stores = collect_runs::look(&cfg.stores, &mut queue.jobs);
        claim_by_rules(&cfg.experiments, &mut queue.jobs);
        claim_ended_by_rules(&cfg.experiments, &mut queue.ended);
        let (flags, mut warnings) = collect_files::flags(cfg);
        if queue.dropped_lines > 0 {
            warnings.push(format!(
                "{} line(s) of squeue's answer were left out: not one whole job each (a job name, \
                 comment or path with a newline or a \\x1f in it); those jobs are not recorded",
                queue.dropped_lines
            ));
        }
        warnings.extend(stores.warnings);
        let mut experiments = experiments(cfg, &queue.jobs, &stores.runs);
        scheduler_warnings(&queue.view, previous, &mut experiments, &mut warnings);
        // A walk that panicked loses its figures, not the snapshot.
        let disks = walks.join().unwrap_or_else(|_| {
            warnings.push(
                "the disk walk failed (a bug: please report it); no disk usage recorded".into(),
            );
            Vec::new()
        });
        let counts = counts(&queue.jobs, queue.ended.len(), &flags, &experiments);
        Snapshot {
            snapshot_timestamp,
            user: user_name(),
            completion_flags: flags.iter().map(|f| f.path.clone()).collect(),
            disk_usage: disks
                .iter()
                .map(|(n, d)| (n.clone(), d.human.clone()))
                .collect(),
            running_jobs: queue.jobs,
            schema: SNAPSHOT_SCHEMA,
            host: nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            labtrail_version: env!("CARGO_PKG_VERSION").into(),
            scheduler: queue.view,
            ended_jobs: queue.ended,
            flags,
            disk: disks.into_iter().collect(),
            runs: stores.runs,
            experiments,
            counts,
            took_ms: started.elapsed().as_millis() as u64,
            warnings,
        }
    })
}

/// `$USER`, else the name of this process's user id (cron sets `USER`, `env -i` does not).
fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| nix::unistd::getuid().to_string())
}

/// Jobs no store claimed get the first rule whose name regex or working folder matches.
fn claim_by_rules(rules: &[ExperimentRule], jobs: &mut [Job]) {
    let compiled: Vec<(&ExperimentRule, Option<regex::Regex>)> = rules
        .iter()
        .map(|r| (r, r.jobs.as_deref().and_then(|p| regex::Regex::new(p).ok())))
        .collect();
    for job in jobs.iter_mut().filter(|j| j.experiment.is_none()) {
        let rule = compiled.iter().find(|(r, re)| {
            re.as_ref().is_some_and(|re| re.is_match(&job.name))
                || r.workdir
                    .as_ref()
                    .zip(job.workdir.as_ref())
                    .is_some_and(|(dir, wd)| std::path::Path::new(wd).starts_with(dir))
        });
        job.experiment = rule.map(|(r, _)| r.name.clone());
    }
}

/// Ended jobs no snapshot saw queued (they started and ended between two) get their
/// experiment from the rules' name patterns.
fn claim_ended_by_rules(rules: &[ExperimentRule], ended: &mut [EndedJob]) {
    let mut as_jobs: Vec<Job> = ended
        .iter()
        .map(|e| Job {
            name: e.name.clone(),
            experiment: e.experiment.clone(),
            ..Job::default()
        })
        .collect();
    claim_by_rules(rules, &mut as_jobs);
    for (e, j) in ended.iter_mut().zip(as_jobs) {
        e.experiment = j.experiment;
    }
}

/// The experiments: labtrail's runs', the configured rules', and `other` for jobs nobody claims.
fn experiments(cfg: &SnapshotConfig, jobs: &[Job], runs: &[Run]) -> Vec<Experiment> {
    let mut out: IndexMap<String, Experiment> = IndexMap::new();
    let entry = |out: &mut IndexMap<String, Experiment>, name: &str, source: &str| {
        out.entry(name.to_string())
            .or_insert_with(|| Experiment {
                name: name.to_string(),
                source: source.to_string(),
                ..Experiment::default()
            })
            .name
            .clone()
    };
    for run in runs {
        let name = entry(&mut out, &run.experiment, "labtrail");
        let e = &mut out[&name];
        // Runs come oldest first: the latest, or an active one, tells the stage.
        if run.state == "active" || !e.active {
            e.stage = run.stage.clone();
        }
        e.active |= run.state == "active";
    }
    for rule in &cfg.experiments {
        let name = entry(&mut out, &rule.name, "rule");
        if let Some(pattern) = &rule.done_flag {
            let found = glob_walk::matches(&cfg.base, pattern, &glob_walk::Bounds::default())
                .is_ok_and(|m| m.paths.iter().any(|p| p.is_file()));
            out[&name].done_flag = Some(found);
            out[&name].active |= !found;
        }
    }
    for job in jobs {
        let name = match &job.experiment {
            Some(n) => entry(&mut out, n, "rule"),
            None => entry(&mut out, "other", "other"),
        };
        let e = &mut out[&name];
        e.queued_jobs += 1;
        e.active = true;
    }
    out.into_values().collect()
}

/// A scheduler that did not answer is said in `warnings` (and printed); a snapshot without its
/// answer keeps each experiment's queued jobs from `previous` (the latest that saw the queue),
/// marked `carried_forward`, so that retention and the queries do not take an experiment whose
/// jobs were still queued for a completed one (review r3 #1). A sacct that failed is said too.
fn scheduler_warnings(
    view: &SchedulerView,
    previous: Option<&Snapshot>,
    experiments: &mut Vec<Experiment>,
    warnings: &mut Vec<String>,
) {
    let detail = view.detail.as_deref().unwrap_or("no reason given");
    if view.status != "failed" {
        if let Some(sacct) = view.detail.as_deref() {
            warnings.insert(0, format!("{sacct}; the ended jobs of this snapshot have no exit code (their state is squeue's, or `unknown`)"));
        }
        return;
    }
    let Some(previous) = previous else {
        warnings.insert(
            0,
            format!(
                "the scheduler did not answer ({detail}): no jobs are recorded in this snapshot"
            ),
        );
        return;
    };
    for before in previous.experiments.iter().filter(|e| e.queued_jobs > 0) {
        let now = match experiments.iter().position(|e| e.name == before.name) {
            Some(i) => &mut experiments[i],
            None => {
                experiments.push(Experiment {
                    name: before.name.clone(),
                    source: before.source.clone(),
                    ..Experiment::default()
                });
                experiments.last_mut().expect("just pushed")
            }
        };
        now.queued_jobs = before.queued_jobs;
        now.active = true;
        now.stage = now.stage.take().or_else(|| before.stage.clone());
        now.carried_forward = true;
    }
    warnings.insert(
        0,
        format!(
            "the scheduler did not answer ({detail}): no jobs are recorded in this snapshot; \
             experiments keep the queued jobs of the snapshot of {} (carried_forward)",
            previous.snapshot_timestamp
        ),
    );
}

/// The timeline's figures.
fn counts(jobs: &[Job], ended: usize, flags: &[Flag], experiments: &[Experiment]) -> Counts {
    let mut c = Counts {
        ended: ended as u64,
        flags: flags.len() as u64,
        active_experiments: experiments.iter().filter(|e| e.active).count() as u64,
        ..Counts::default()
    };
    for j in jobs {
        match j.state.as_str() {
            "R" | "CG" => c.running += 1,
            "PD" | "CF" | "RQ" | "RH" | "RF" | "RD" => c.pending += 1,
            _ => c.other += 1,
        }
    }
    c
}
