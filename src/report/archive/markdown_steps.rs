//! Seed 004's "Steps": one block per stage with its params, training summary, metrics, eval,
//! logs, warnings, error and retries, then the task table (failures first, capped).

use super::markdown::{na, num, Doc};
use super::model::{MetricSummary, StageArchive, TaskArchive};
use std::fmt::Write;

pub(super) fn metric<'a>(m: &'a [MetricSummary], words: &[&str]) -> Option<&'a MetricSummary> {
    let mut hits: Vec<&MetricSummary> = m
        .iter()
        .filter(|s| words.iter().any(|w| s.key.to_ascii_lowercase().contains(w)))
        .collect();
    hits.sort_by(|a, b| a.key.len().cmp(&b.key.len()).then(a.key.cmp(&b.key)));
    hits.first().copied()
}

fn opt(x: Option<f64>, why: &str) -> String {
    x.map(num).unwrap_or_else(|| na(why))
}

pub(super) fn steps(d: &mut Doc) {
    d.heading("Steps");
    let a = d.a;
    let mut filled = [false; 4];
    let mut eval_seen = String::new();
    for st in &a.stages {
        let tasks: Vec<&TaskArchive> = a.tasks.iter().filter(|t| t.stage == st.name).collect();
        stage(d, st, &tasks, &mut filled);
        let eval = eval_block(d, &tasks);
        if eval_seen.is_empty() {
            eval_seen = eval;
        }
        tail(d, st, &tasks);
    }
    if a.stages.is_empty() {
        d.line("n/a (the run has no stages)");
    }
    let names = ["loss", "ppl", "throughput", "step_time"];
    let training: Vec<String> = names
        .iter()
        .zip(filled)
        .map(|(n, f)| format!("{n}={}", if f { "filled" } else { "n/a" }))
        .collect();
    d.check(
        "Steps.training",
        "loss/ppl/throughput/step_time",
        "Training curves",
        &training.join(", "),
    );
    if eval_seen.is_empty() {
        eval_seen = na("no task result has `archive.eval` or `eval`");
    }
    d.check(
        "Steps.eval",
        "datasets/results/script",
        "Eval context",
        &eval_seen,
    );
    super::markdown_tasks::sections(d);
    super::markdown_tasks::task_table(d);
}

fn stage(d: &mut Doc, st: &StageArchive, tasks: &[&TaskArchive], filled: &mut [bool; 4]) {
    d.line("");
    d.field(0, "step_id", st.step_id.to_string());
    d.sub(2, "name", &st.name);
    d.sub(
        2,
        "stage",
        na("labtrail's stages are the steps; no sub-stage"),
    );
    d.sub(2, "status", &st.status);
    let counts: Vec<String> = st.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    d.sub(2, "tasks", counts.join(", "));
    d.sub(
        2,
        "config",
        format!("{} [stage {}]", d.a.config.spec_path, st.name),
    );
    d.sub(2, "command", format!("`{}`", st.command.replace('`', "'")));
    list(d, "inputs", &st.inputs, "no inputs declared");
    list(
        d,
        "outputs",
        &st.outputs,
        "no `artifacts` patterns declared",
    );
    if st.params.is_empty() {
        d.sub(2, "params", na("the stage varies over no parameter"));
    } else {
        d.sub(2, "params", "");
        for (k, v) in &st.params {
            let vals = serde_json::to_string(v).unwrap_or_default();
            let _ = writeln!(d.out, "    {k}: {vals}");
        }
    }
    let m = &st.metrics;
    if m.is_empty() {
        d.sub(2, "training", na("no metric stream recorded"));
    } else {
        d.sub(2, "training", "");
        let curves = d.a.curves.iter().filter(|c| c.stage == st.name).count();
        d.sub(
            4,
            "loss_curve",
            match curves {
                0 => na("no curve kept for this stage"),
                n => format!("{n} curves in the JSON archive (`curves`) and the HTML plots"),
            },
        );
        let loss = metric(m, &["loss"]);
        filled[0] |= loss.is_some();
        d.sub(
            4,
            "final_loss",
            opt(loss.and_then(|l| l.last), "no loss metric"),
        );
        d.sub(
            4,
            "best_loss",
            opt(loss.and_then(|l| l.best), "no loss metric"),
        );
        let ppl = metric(m, &["ppl", "perplexity"]);
        filled[1] |= ppl.is_some();
        d.sub(4, "ppl", opt(ppl.and_then(|p| p.last), "no ppl metric"));
        let head = loss.or(m.first());
        d.sub(
            4,
            "steps",
            opt(head.and_then(|h| h.last_step), "no step recorded"),
        );
        d.sub(
            4,
            "duration_sec",
            opt(st.duration_s.map(f64::round), "no attempt ended"),
        );
        let tok = metric(m, &["tokens_per_sec", "tokens/s", "tok_per_s"]);
        filled[2] |= tok.is_some() || head.and_then(|h| h.steps_per_s).is_some();
        d.sub(
            4,
            "throughput_tokens_per_sec",
            opt(tok.and_then(|t| t.last), "no tokens/s metric"),
        );
        d.sub(
            4,
            "throughput_steps_per_sec",
            opt(
                head.and_then(|h| h.steps_per_s),
                "no time field in the metrics",
            ),
        );
        let step_time = head.and_then(|h| h.step_time_mean_s);
        filled[3] |= step_time.is_some();
        d.sub(
            4,
            "step_time_sec_avg",
            opt(step_time, "no time field in the metrics"),
        );
        d.sub(
            4,
            "step_time_sec_p95",
            opt(
                head.and_then(|h| h.step_time_p95_s),
                "no time field in the metrics",
            ),
        );
    }
    if m.is_empty() {
        d.sub(2, "metrics", na("no metric stream recorded"));
    } else {
        d.sub(2, "metrics", "");
        for s in m {
            let _ = writeln!(
                d.out,
                "    {}: last={} best={} ({}, step {}) n={} nan={}",
                s.key,
                s.last.map(num).unwrap_or("n/a".into()),
                s.best.map(num).unwrap_or("n/a".into()),
                s.direction,
                s.best_step.map(num).unwrap_or("n/a".into()),
                s.count,
                s.nan_count
            );
        }
    }
    let _ = tasks;
}

fn list(d: &mut Doc, name: &str, items: &[String], why: &str) {
    if items.is_empty() {
        d.sub(2, name, na(why));
    } else {
        d.sub(2, name, "");
        for i in items {
            let _ = writeln!(d.out, "    - {i}");
        }
    }
}

/// A task result's eval block: `archive.eval` (how a task fills a seed-004 section, as
/// examples/train/eval.py does), else a top-level `eval` object.
pub(super) fn eval_of(result: &serde_json::Value) -> Option<&serde_json::Value> {
    let nested = result.get("archive").and_then(|a| a.get("eval"));
    nested
        .or_else(|| result.get("eval"))
        .filter(|e| e.is_object())
}

/// Seed 004's `eval`: from the first task result of the stage with an eval block.
fn eval_block(d: &mut Doc, tasks: &[&TaskArchive]) -> String {
    let eval = tasks
        .iter()
        .find_map(|t| eval_of(t.result.as_ref()?).cloned());
    let Some(eval) = eval else {
        d.sub(
            2,
            "eval",
            na("no task result of this stage has `archive.eval` or `eval`"),
        );
        return String::new();
    };
    d.sub(2, "eval", "");
    let mut parts = Vec::new();
    for key in ["datasets", "results", "script"] {
        let v = eval.get(key).map(|v| v.to_string());
        parts.push(format!(
            "{key}={}",
            if v.is_some() { "filled" } else { "n/a" }
        ));
        let shown = v.unwrap_or_else(|| na(&format!("the result's eval block has no `{key}`")));
        d.sub(4, key, shown);
    }
    parts.join(", ")
}

fn tail(d: &mut Doc, st: &StageArchive, tasks: &[&TaskArchive]) {
    d.sub(
        2,
        "logs",
        format!(
            "{}/attempts/ (KEY-N.stdout.log, KEY-N.stderr.log)",
            d.a.paths.run_dir
        ),
    );
    if st.warnings.is_empty() {
        d.sub(2, "warnings", na("none counted"));
    } else {
        d.sub(2, "warnings", "");
        for (k, n) in &st.warnings {
            let _ = writeln!(d.out, "    - {k}: {n}");
        }
    }
    let failed = tasks
        .iter()
        .find(|t| t.state == "failed" || !t.errors.is_empty());
    let err = failed.and_then(|t| t.errors.last().map(|e| (t, e)));
    let error = match (failed, err) {
        (_, Some((t, e))) => format!(
            "{}: {}",
            t.label,
            e.line.clone().unwrap_or_else(|| e.kind.clone())
        ),
        (Some(t), None) => format!(
            "{}: {}",
            t.label,
            t.reason.clone().unwrap_or_else(|| na("no error record"))
        ),
        (None, None) => na("no failed attempt"),
    };
    d.sub(2, "error", error);
    match err.map(|(_, e)| &e.stack).filter(|s| !s.is_empty()) {
        Some(stack) => {
            d.sub(2, "error_stack", "|");
            for l in stack {
                let _ = writeln!(d.out, "    {}", super::markdown::text(l));
            }
        }
        None => d.sub(2, "error_stack", na("no stack recorded")),
    }
    d.sub(2, "retries", st.retries.to_string());
}
