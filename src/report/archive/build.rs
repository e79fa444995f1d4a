//! Reads one run from the store into an [`Archive`]: what the run recorded (tasks, attempts,
//! metrics, results, events) plus what provenance capture and the per-attempt probes wrote as
//! records. Whatever is missing (a run made before capture existed) is `n/a (reason)`, never an
//! error. Tasks are read one at a time (see [`super::tasks`]): memory grows with the number of
//! tasks, not with the number of metric lines.

use super::config_flat;
use super::model::*;
use super::{previous, repro, stages, tasks};
use crate::provenance::model::{Probed, Provenance, PROVENANCE_RECORD};
use crate::report::QueryError;
use crate::spec::Spec;
use crate::store::Store;
use std::collections::BTreeMap;
use std::path::Path;

/// How to build an archive.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Compare with the previous finished run of the same experiment ("changes vs previous")
    /// and overlay its curves. Off when building that previous run itself.
    pub previous: bool,
    /// The `generated_at` to write (default: now). Tests pin it to compare bytes.
    pub generated_at: Option<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            previous: true,
            generated_at: None,
        }
    }
}

/// The reason shown for everything provenance capture would have recorded.
pub const NO_PROVENANCE: &str =
    "no provenance recorded: the run was made before capture, or with `[archive] capture = false`";

/// Builds the archive of `run` (an id, or `latest`).
pub fn build(store: &Store, run: &str, options: &BuildOptions) -> Result<Archive, QueryError> {
    let run = store.resolve_run(Some(run))?;
    let row = store
        .list_runs()?
        .into_iter()
        .find(|r| r.id == run)
        .expect("resolve_run found the run");
    let (spec_path, spec_text) = store.run_spec(&run)?;
    let spec = Spec::parse(Path::new(&spec_path), spec_text.clone()).ok();
    let settings = spec.as_ref().map(|s| s.archive.clone()).unwrap_or_default();
    let (provenance, earlier_commits, sessions) = provenance_of(store, &run)?;
    let mut found = Vec::new();
    let mut secrets = Vec::new();
    let config = config_flat::config(&spec_path, &spec_text, &mut found, &mut secrets);
    let stage_count = spec.as_ref().map_or(1, |s| s.stages.len());
    let collected = tasks::collect(
        store,
        &run,
        stage_count,
        &settings.minimize,
        &settings.maximize,
        &mut found,
    )?;
    let stages = stages::stages(spec.as_ref(), &collected.tasks);
    let resources = resources(&collected.tasks, collected.cpu_s);
    let summary = summary(&row, store.executor(&run)?, &collected, &resources);
    let provenance = match provenance {
        Probed::Value(p) if summary.status != "running" => Probed::Value(stopped_first(p)),
        other => other,
    };
    let folders = store.folders(&run)?;
    let workdir = Path::new(&spec_path)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut archive = Archive {
        schema: ARCHIVE_SCHEMA.to_string(),
        generated_at: options
            .generated_at
            .clone()
            .unwrap_or_else(crate::store::now),
        labtrail_version: env!("CARGO_PKG_VERSION").to_string(),
        summary,
        provenance,
        earlier_commits,
        sessions,
        config,
        paths: Paths {
            store: store.dir().display().to_string(),
            run_dir: folders.run_dir().display().to_string(),
            workdir,
        },
        stages,
        tasks: collected.tasks,
        task_sections: collected.task_sections,
        curves: collected.curves,
        resources,
        changes: Probed::na("not compared"),
        repro: Repro {
            script: String::new(),
            env: BTreeMap::new(),
            redacted: Vec::new(),
            notes: Vec::new(),
            redactions: Vec::new(),
        },
    };
    archive.changes = if options.previous {
        previous::attach(store, &mut archive)?
    } else {
        Probed::na("not compared (building the previous run itself)")
    };
    archive.repro = repro::repro(store, &archive, found);
    let mut scrubber = super::scrub::Scrubber::new(secrets);
    scrubber.archive(&mut archive);
    for r in scrubber.found {
        if !archive.repro.redactions.contains(&r) {
            archive.repro.redactions.push(r);
        }
    }
    Ok(archive)
}

/// The provenance of the run: its last invocation's record (a sealed one follows the partial
/// one of the same invocation), with the code of the latest invocation that has a value when
/// the last one's code probe has none (timed out); the commits of earlier invocations that
/// differ from it; and one [`Session`] per invocation.
fn provenance_of(store: &Store, run: &str) -> Result<ProvenanceOf, QueryError> {
    let records: Vec<Provenance> = store
        .records(run, PROVENANCE_RECORD)?
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.json).ok())
        .collect();
    // One per invocation: the partial and the sealed record share `captured_at`.
    let mut invocations: Vec<Provenance> = Vec::new();
    for p in records {
        match invocations.last_mut() {
            Some(last) if last.captured_at == p.captured_at => *last = p,
            _ => invocations.push(p),
        }
    }
    let Some(mut last) = invocations.last().cloned() else {
        return Ok((Probed::na(NO_PROVENANCE), Vec::new(), Vec::new()));
    };
    if last.code.value().is_none() {
        if let Some(code) = invocations.iter().rev().find(|p| p.code.value().is_some()) {
            last.code = code.code.clone();
        }
    }
    let commit_of = |p: &Provenance| p.code.value().map(|c| c.commit.clone());
    let last_commit = commit_of(&last);
    let mut earlier: Vec<String> = Vec::new();
    for c in invocations.iter().filter_map(commit_of) {
        if Some(&c) != last_commit.as_ref() && !earlier.contains(&c) {
            earlier.push(c);
        }
    }
    let sessions = invocations
        .iter()
        .map(|p| Session {
            captured_at: p.captured_at.clone(),
            commit: commit_of(p),
            patch_checksum: p.code.value().map(|c| c.patch.checksum.clone()),
            data_roots: p
                .data
                .iter()
                .map(|d| format!("{}={}", d.pattern, d.root))
                .collect(),
        })
        .collect();
    Ok((Probed::Value(last), earlier, sessions))
}

/// The run's provenance, the commits of earlier invocations, and every invocation's session.
type ProvenanceOf = (Probed<Provenance>, Vec<String>, Vec<Session>);

/// What a probe of a partial record says while capture is still at work.
const STILL_CAPTURING: &str = "still being captured";

/// The reason a probe's value is missing when its invocation ended (or its runner died) before
/// capture sealed the record.
pub const STOPPED_FIRST: &str = "capture did not finish: the run stopped first";

/// A partial record of a run that no longer runs: its unfinished probes will never finish.
fn stopped_first(mut p: Provenance) -> Provenance {
    fn fix<T>(v: &mut Probed<T>) {
        if matches!(v, Probed::Na(why) if why == STILL_CAPTURING) {
            *v = Probed::na(STOPPED_FIRST);
        }
    }
    fix(&mut p.code);
    fix(&mut p.host);
    fix(&mut p.python);
    fix(&mut p.packages);
    fix(&mut p.gpus);
    p
}

fn summary(
    row: &crate::store::RunSummary,
    executor: String,
    c: &tasks::Collected,
    resources: &ResourcesSummary,
) -> Summary {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for t in &c.tasks {
        *counts.entry(t.state.clone()).or_default() += 1;
    }
    let n = |s: &str| counts.get(s).copied().unwrap_or(0);
    let status = if n("failed") + n("blocked") > 0 {
        "failed"
    } else if n("running") > 0 {
        "running"
    } else if n("interrupted") > 0 {
        "interrupted"
    } else if n("pending") > 0 {
        "incomplete"
    } else {
        "success"
    };
    // A run still working has no end yet.
    let finished_at = (n("running") + n("pending") + n("interrupted") == 0)
        .then(|| c.last_end.clone())
        .flatten();
    let first_failure = c.tasks.iter().find(|t| t.state == "failed").map(|t| {
        let line = t
            .errors
            .iter()
            .rev()
            .find_map(|e| e.line.clone())
            .or_else(|| t.reason.clone())
            .unwrap_or_else(|| "n/a (no error line recorded)".into());
        FailureLine {
            task: t.key.clone(),
            label: t.label.clone(),
            line,
        }
    });
    Summary {
        experiment: row.experiment.clone(),
        run_id: row.id.clone(),
        executor,
        status: status.into(),
        counts,
        started_at: c
            .first_start
            .clone()
            .unwrap_or_else(|| row.created_at.clone()),
        duration_s: c
            .first_start
            .as_deref()
            .zip(finished_at.as_deref())
            .and_then(|(a, b)| tasks::seconds_between(a, b)),
        finished_at,
        cpu_hours: resources.cpu_hours,
        gpu_hours: resources.gpu_hours,
        first_failure,
    }
}

fn resources(tasks: &[TaskArchive], cpu_s: f64) -> ResourcesSummary {
    let mut r = ResourcesSummary {
        cpu_hours: cpu_s / 3600.0,
        ..Default::default()
    };
    let (mut vram_sum, mut vram_n, mut util_sum, mut util_n, mut gpu_s) =
        (0u128, 0u64, 0.0, 0u64, 0.0);
    for t in tasks {
        let d = t.duration_s.unwrap_or(0.0);
        r.task_time_s += d;
        let rss = t.resources.peak_tree_rss_kb.or(t.resources.max_rss_kb);
        r.peak_rss_kb = r.peak_rss_kb.max(rss);
        for g in &t.resources.gpus {
            gpu_s += d;
            r.peak_vram_bytes = r.peak_vram_bytes.max(Some(g.peak_memory_bytes));
            vram_sum += g.peak_memory_bytes as u128;
            vram_n += 1;
            if let Some(u) = g.mean_util_pct {
                util_sum += u;
                util_n += 1;
            }
        }
    }
    if vram_n > 0 {
        r.gpu_hours = Some(gpu_s / 3600.0);
        r.avg_vram_bytes = Some((vram_sum / vram_n as u128) as u64);
    }
    if util_n > 0 {
        r.gpu_util_avg_pct = Some(util_sum / util_n as f64);
    }
    r
}
