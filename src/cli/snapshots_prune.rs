//! `labtrail snapshots prune`.

use super::output::{Global, UsageError};
use super::terminal::escape;
use crate::app::snapshots_prune::{self, PruneError, PrunePolicy};
use crate::snapshot::git_commit::CommitOutcome;
use crate::snapshot::retention::restic::{parse_duration, Count, KeepRules};
use std::path::PathBuf;

/// What `prune --help` adds after the options: the rules in full, and examples.
const PRUNE_HELP: &str =
    "restic's `forget` rules, exactly: calendar buckets (hour, day, ISO week, month, year) in each
snapshot's own UTC offset, the newest snapshot of each of the newest N buckets that have one
(and the oldest snapshot while a rule has counts left), rules combined by OR, durations
(`2y5m7d3h`) counted back from the latest snapshot not in the future, so future snapshots are
never removed by a duration; `-1` means unlimited.

`--policy seed`: per experiment, all snapshots while it is active; once completed, the newest
of each day; completed more than 6 months before the latest snapshot, the newest of each
month; always each experiment's first and last snapshot and every snapshot where its jobs,
flags, activity or stage changed. A snapshot whose squeue failed never makes an experiment
completed; in seed 000's own files each job name is an experiment.

Examples:
  labtrail snapshots prune --policy seed                  # what would go, and why
  labtrail snapshots prune --policy seed --apply          # remove them, in one commit
  labtrail snapshots prune --keep-daily 7 --keep-monthly unlimited --json
  labtrail snapshots prune --keep-within 2m --keep-within-weekly 1y";

/// Remove old snapshots: restic's rules, or the seed's policy. A dry run unless --apply.
#[derive(Debug, clap::Args)]
#[command(after_long_help = PRUNE_HELP)]
pub struct PruneArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Remove the snapshots the rules do not keep (in one commit when the folder is in git).
    #[arg(long)]
    pub apply: bool,
    /// Print the decisions as JSON.
    #[arg(long)]
    pub json: bool,
    /// The seed's policy (active experiments: all; completed: daily; after 6 months: monthly).
    #[arg(long, value_enum, value_name = "NAME")]
    pub policy: Option<NamedPolicy>,
    /// restic's rules (boxed: they are large, and the other commands' arguments small).
    #[command(flatten)]
    pub rules: Box<KeepArgs>,
}

/// restic's `--keep-*` rules.
#[derive(Debug, clap::Args)]
pub struct KeepArgs {
    /// Keep the N latest snapshots.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_last: Option<Count>,
    /// Keep the latest snapshot of each of the N latest hours that have one.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_hourly: Option<Count>,
    /// Keep the latest snapshot of each of the N latest days that have one.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_daily: Option<Count>,
    /// Keep the latest snapshot of each of the N latest ISO weeks that have one.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_weekly: Option<Count>,
    /// Keep the latest snapshot of each of the N latest months that have one.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_monthly: Option<Count>,
    /// Keep the latest snapshot of each of the N latest years that have one.
    #[arg(long, value_name = "N|unlimited", value_parser = parse_count, allow_negative_numbers = true)]
    pub keep_yearly: Option<Count>,
    /// Keep every snapshot within DURATION (`2y5m7d3h`) of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within: Option<jiff::Span>,
    /// Keep the latest snapshot of each hour within DURATION of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within_hourly: Option<jiff::Span>,
    /// Keep the latest snapshot of each day within DURATION of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within_daily: Option<jiff::Span>,
    /// Keep the latest snapshot of each ISO week within DURATION of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within_weekly: Option<jiff::Span>,
    /// Keep the latest snapshot of each month within DURATION of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within_monthly: Option<jiff::Span>,
    /// Keep the latest snapshot of each year within DURATION of the latest one.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep_within_yearly: Option<jiff::Span>,
}

/// A named retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NamedPolicy {
    /// Seed 000's: active experiments all, completed daily, monthly 6 months after.
    Seed,
}

/// `N` or `unlimited` (restic's `-1` too).
fn parse_count(text: &str) -> Result<Count, String> {
    match text.trim() {
        "unlimited" | "-1" => Ok(Count::Unlimited),
        n => n
            .parse::<u32>()
            .map(Count::N)
            .map_err(|_| format!("`{n}` is not a count: give a number or `unlimited`")),
    }
}

impl PruneArgs {
    fn policy(&self) -> PrunePolicy {
        let r = &self.rules;
        PrunePolicy {
            seed: self.policy == Some(NamedPolicy::Seed),
            rules: KeepRules {
                last: r.keep_last,
                hourly: r.keep_hourly,
                daily: r.keep_daily,
                weekly: r.keep_weekly,
                monthly: r.keep_monthly,
                yearly: r.keep_yearly,
                within: r.keep_within,
                within_hourly: r.keep_within_hourly,
                within_daily: r.keep_within_daily,
                within_weekly: r.keep_within_weekly,
                within_monthly: r.keep_within_monthly,
                within_yearly: r.keep_within_yearly,
            },
        }
    }
}

/// Runs `labtrail snapshots prune`.
pub fn run(g: &Global, args: PruneArgs) -> anyhow::Result<i32> {
    let policy = args.policy();
    if policy.is_empty() {
        return Err(UsageError(
            "no retention policy given, so nothing would be kept: prune refuses to remove everything\n  help: give --policy seed, or restic's rules such as --keep-daily 7 --keep-monthly unlimited (--keep-last/hourly/daily/weekly/monthly/yearly N|unlimited, --keep-within[-hourly|-daily|...] 2y5m7d3h)".into(),
        )
        .into());
    }
    let plan = snapshots_prune::plan(&args.dir, &policy).map_err(|e| match e {
        PruneError::NoFolder { .. } => anyhow::Error::new(UsageError(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    let applied = if args.apply {
        Some(snapshots_prune::apply(&plan)?)
    } else {
        None
    };
    let kept = plan.kept_count();
    let removed = plan.files.len() - kept;
    if args.json {
        let commit = applied.as_ref().map(|a| match &a.commit {
            CommitOutcome::Committed(id) => {
                serde_json::json!({"status": "committed", "commit": id})
            }
            CommitOutcome::NothingToCommit => serde_json::json!({"status": "nothing"}),
            CommitOutcome::NotARepository => serde_json::json!({"status": "not_a_repository"}),
            CommitOutcome::Skipped(w) => serde_json::json!({"status": "skipped", "warning": w}),
        });
        let out = serde_json::json!({
            "dir": plan.dir,
            "policy": plan.policy,
            "applied": args.apply,
            "kept": kept,
            "removed": removed,
            "snapshots": plan.files,
            "commit": commit,
        });
        say!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        say!("Policy: {}", plan.policy);
        for f in &plan.files {
            let what = if f.keep { "keep  " } else { "remove" };
            let reasons = f.reasons.join("; ");
            say!(
                "{what}  {}  {}  {}",
                escape(&f.file),
                f.time,
                escape(&reasons)
            );
        }
        match &applied {
            None => say!(
                "kept {kept}, would remove {removed} (a dry run: nothing was removed; --apply removes them)"
            ),
            Some(a) => say!("kept {kept}, removed {}", a.removed),
        }
    }
    if let Some(a) = &applied {
        if let Some(w) = &a.index_warning {
            tell!("warning: {w}");
        }
        match &a.commit {
            CommitOutcome::Committed(id) if !args.json && !g.quiet => {
                tell!("committed {}", &id[..id.len().min(12)])
            }
            CommitOutcome::Skipped(w) => tell!("warning: not committed: {}", escape(w)),
            _ => {}
        }
    }
    // A Ctrl+C held while git committed ends the process now, all said.
    crate::snapshot::git_commit::act_on_held_signal();
    Ok(0)
}
