//! `labtrail status`: how far a run is, grouped; `--explain` says why each task runs or not.

use super::output::{print_json, Global};
use crate::plan::Plan;
use crate::report::status::StatusModel;
use crate::spec::Spec;
use crate::store::{Store, TaskRow, TaskState};
use std::collections::HashMap;
use std::path::PathBuf;

/// Show a run's progress, grouped by stage and parameter.
///
/// Groups: by stage when the experiment has stages, and by the parameter with the fewest values
/// (more than one) unless --by names others.
///
/// Examples:
///   labtrail status                      # the latest run
///   labtrail status --by rep --by layers # group by these parameters
///   labtrail status --json | jq .counts
///   labtrail status --watch              # refresh every 2 s until Ctrl+C
///   labtrail status --explain            # why each task will be skipped or run
///   labtrail status --explain exp.toml   # ... against the experiment file as it is now
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// With --explain: compare the store with this experiment file as it is now.
    pub experiment: Option<PathBuf>,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Group by this parameter (repeatable).
    #[arg(long, value_name = "PARAM")]
    pub by: Vec<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Refresh every N seconds (default 2) until interrupted.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    pub watch: Option<f64>,
    /// For each task: will it be skipped or run, and why.
    #[arg(long)]
    pub explain: bool,
}

pub fn run(g: &Global, args: StatusArgs) -> anyhow::Result<i32> {
    let mut store = g.open_store()?;
    if args.explain {
        return match &args.experiment {
            Some(path) => {
                let spec = Spec::load(path)?;
                let plan = crate::plan::expand(&spec);
                explain(&mut store, &spec, &plan, args.run.as_deref())
            }
            None => explain_stored(&store, args.run.as_deref()),
        };
    }
    loop {
        let m = StatusModel::load(&store, args.run.as_deref(), &args.by)?;
        if args.json {
            print_json(&m)?;
            return Ok(0);
        }
        if args.watch.is_some() {
            print!("\x1b[2J\x1b[H");
        }
        let (run, all) = (&m.run, &m.counts);
        println!("run {run}: {} ({:.1}%)", all.describe(), all.percent_done());
        if m.has_stages() {
            for (s, c) in &m.stages {
                println!("  stage {s:<20} {}", c.describe());
            }
        }
        let width = m.groups.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, c) in &m.groups {
            println!("  {k:<width$}  {}", c.describe());
        }
        match args.watch {
            Some(secs) => std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.2))),
            None => return Ok(0),
        }
    }
}

fn explain_line(t: &TaskRow) -> (&'static str, String) {
    let reason = t.reason.clone().unwrap_or_default();
    match t.state {
        TaskState::Done => (
            "skip",
            format!(
                "done (attempt {}, {})",
                t.attempts,
                t.finished_at.clone().unwrap_or_default()
            ),
        ),
        TaskState::Running => ("busy", format!("running now (attempt {})", t.attempts)),
        TaskState::Pending if t.attempts == 0 => ("run", "never run".into()),
        TaskState::Pending => (
            "run",
            format!(
                "pending after {} attempt(s){}",
                t.attempts,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                }
            ),
        ),
        TaskState::Failed => (
            "run",
            format!("failed last time ({reason}); will be retried"),
        ),
        TaskState::Interrupted => ("run", format!("interrupted ({reason}); will run again")),
        TaskState::Blocked => (
            "run",
            format!("blocked ({reason}); runs once its upstream succeeds"),
        ),
    }
}

fn explain_stored(store: &Store, run: Option<&str>) -> anyhow::Result<i32> {
    let run = store.resolve_run(run)?;
    println!("run {run}:");
    for t in store.tasks(&run, None)? {
        let (verb, why) = explain_line(&t);
        println!("  {verb:<4}  {}  {}  {why}", t.key, t.label);
    }
    Ok(0)
}

/// Explains a plan that has no run yet: every task would run.
pub fn explain_fresh(spec: &Spec, plan: &Plan) -> anyhow::Result<i32> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(
        out,
        "no run of experiment `{}` yet: all {} tasks would run",
        spec.name,
        plan.tasks.len()
    )?;
    for t in &plan.tasks {
        writeln!(out, "  run   {}  {}  never run", t.key, t.label(spec))?;
    }
    out.flush()?;
    Ok(0)
}

/// Explains, for each task of `plan`, what `labtrail run` would do with it and why.
pub fn explain(
    store: &mut Store,
    spec: &Spec,
    plan: &Plan,
    run: Option<&str>,
) -> anyhow::Result<i32> {
    let run = match run {
        Some(r) => Some(store.resolve_run(Some(r))?),
        None => store.latest_run(Some(&spec.name))?,
    };
    let Some(run) = run else {
        return explain_fresh(spec, plan);
    };
    let stored: HashMap<String, TaskRow> = store
        .tasks(&run, None)?
        .into_iter()
        .chain(store.retired_tasks(&run)?)
        .map(|t| (t.key.clone(), t))
        .collect();
    let by_label: HashMap<&str, &TaskRow> =
        stored.values().map(|t| (t.label.as_str(), t)).collect();
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "run {run}, compared with {}:", spec.path.display())?;
    for t in &plan.tasks {
        let label = t.label(spec);
        let (verb, why) = match stored.get(&t.key) {
            Some(row) => explain_line(row),
            None => {
                match by_label.get(label.as_str()) {
                    Some(old) => {
                        let stage = &spec.stages[t.stage];
                        let what = if old.command != t.command {
                            format!("the command changed (was: {})", old.command)
                        } else if old.workdir != stage.workdir {
                            format!("the working directory changed (was: {})", old.workdir)
                        } else {
                            "its environment changed".to_string()
                        };
                        ("run", format!("new configuration: {what}; the earlier result is kept but not reused"))
                    }
                    None => ("run", "new task: not in this run before".into()),
                }
            }
        };
        writeln!(out, "  {verb:<4}  {}  {label}  {why}", t.key)?;
    }
    out.flush()?;
    Ok(0)
}
