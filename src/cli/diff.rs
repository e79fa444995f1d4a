//! `labtrail diff A B`: what changed between two runs, from the store or from archive files.

use super::output::Global;
use super::terminal::escape_lines;
use crate::report::archive::build::{build, BuildOptions};
use crate::report::archive::model::{Archive, ARCHIVE_SCHEMA};
use crate::report::diff::{self, DiffOptions, DEFAULT_RESOURCE_TOLERANCE};
use crate::store::Store;
use std::path::Path;

const DIFF_EXIT_CODES: &str = "Exit codes (as diff(1)):
  0    the runs are the same (volatile fields and changes within the tolerances aside)
  1    they differ
  2    error: an unknown run, an unreadable file, a file that is not a labtrail archive";

/// Show what changed between two runs: config keys, code, environment, packages, data, tasks,
/// metrics and resources, only what differs.
///
/// A and B are run ids in the store, or archive JSON files (`labtrail archive --format json`,
/// e.g. copied off a cluster). Tasks are paired by key, else by stage and parameters, so a task
/// whose command changed is compared with its old self. Volatile fields (when the archive was
/// written, start and end times, process and job ids, nodes) never count. Durations, CPU time
/// and memory vary from run to run: they count only beyond --resource-tolerance (10 %).
///
/// Examples:
///   labtrail diff 20261129-101500-ab12 20261130-093000-cd34
///   labtrail diff old-run.json new-run.json --format md > changes.md
///   labtrail diff A B --tolerance 0.01 || echo "the runs differ"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, after_help = DIFF_EXIT_CODES, after_long_help = DIFF_EXIT_CODES)]
pub struct DiffArgs {
    /// The first run: a run id in the store, or an archive JSON file.
    pub a: String,
    /// The second run, compared with the first.
    pub b: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Show equal fields and empty sections too.
    #[arg(long)]
    pub all: bool,
    /// Relative change of a metric at or below which it counts as the same (0.01 = 1 %).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    pub tolerance: f64,
    /// Relative change of a duration, CPU time or memory figure at or below which it counts as
    /// the same: these are noisy.
    #[arg(long, default_value_t = DEFAULT_RESOURCE_TOLERANCE, value_name = "FRACTION")]
    pub resource_tolerance: f64,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Md,
    Json,
}

/// Runs `labtrail diff`: 0 same, 1 different, 2 on any error (printed here, as `main` would).
pub fn run(g: &Global, args: DiffArgs) -> anyhow::Result<i32> {
    match compare(g, &args) {
        Ok(code) => Ok(code),
        Err(err) => {
            tell!("error: {}", escape_lines(&format!("{err:#}")));
            Ok(2)
        }
    }
}

fn compare(g: &Global, args: &DiffArgs) -> anyhow::Result<i32> {
    for (name, value) in [
        ("--tolerance", args.tolerance),
        ("--resource-tolerance", args.resource_tolerance),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            anyhow::bail!("{name} {value} is not a fraction of 0 or more (0.01 = 1 %)");
        }
    }
    let mut store = None;
    let (a, a_name) = load(g, &mut store, &args.a)?;
    let (b, b_name) = load(g, &mut store, &args.b)?;
    let options = DiffOptions {
        all: args.all,
        tolerance: args.tolerance,
        resource_tolerance: args.resource_tolerance,
    };
    let mut result = diff::compare(&a, &b, &options);
    diff::code::count_commits(&mut result, &a, &b);
    (result.a, result.b) = (a_name, b_name);
    let text = match args.format {
        Format::Text => diff::render_text::render(&result),
        Format::Md => diff::render_md::render(&result),
        Format::Json => serde_json::to_string_pretty(&result)? + "\n",
    };
    say!("{}", text.trim_end_matches('\n'));
    Ok(i32::from(diff::differs(&result)))
}

/// The archive `arg` names, and how the diff calls it: an existing file (or a name ending in
/// `.json`) is an archive file, anything else a run id in the store (opened once, when needed).
fn load(g: &Global, store: &mut Option<Store>, arg: &str) -> anyhow::Result<(Archive, String)> {
    let path = Path::new(arg);
    if path.is_file() || arg.ends_with(".json") {
        return Ok((read_archive(path)?, arg.to_string()));
    }
    if store.is_none() {
        *store = Some(g.open_store()?);
    }
    let store = store.as_ref().expect("opened above");
    let run = store.resolve_run(Some(arg))?;
    let archive = build(store, &run, &BuildOptions::default())?;
    Ok((archive, run))
}

/// Reads an archive JSON file, refusing one that is not `labtrail.archive/1`.
pub fn read_archive(path: &Path) -> anyhow::Result<Archive> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read archive file {shown}: {e}"))?;
    // The schema first (the rest skipped, not built): a file of another schema or none is
    // named as such, not as a missing field deep inside.
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{shown} is not JSON ({e}): expected a `labtrail archive --format json` file"
        )
    })?;
    match head.schema.as_deref() {
        Some(ARCHIVE_SCHEMA) => {}
        Some(other) => anyhow::bail!(
            "{shown} has schema `{other}`, not `{ARCHIVE_SCHEMA}`: this labtrail reads only {ARCHIVE_SCHEMA} archives (write it again with this version's `labtrail archive --format json`)"
        ),
        None => anyhow::bail!(
            "{shown} has no `schema` field: not a labtrail archive (expected `{ARCHIVE_SCHEMA}`, as `labtrail archive --format json` writes)"
        ),
    }
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{shown} is not a valid {ARCHIVE_SCHEMA} archive: {e}"))
}
