//! `[slurm]` and `[restart]`: sbatch options and what to do after each kind of job outcome.

use super::raw::SpannedMap;
use super::{line_col, parse_duration, SpecError};
use crate::outcome::Outcome;
use std::path::Path;
use std::time::Duration;

/// Restart or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Restart,
    Stop,
}

/// The rule for one outcome class.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub action: Action,
    /// Attempts in all, counting the first; restarts stop when reached.
    pub max_attempts: u32,
    /// Multiplies the time limit on each restart after this outcome.
    pub time_factor: f64,
    /// Multiplies the memory request on each restart after this outcome.
    pub mem_factor: f64,
}

/// A pattern in a job's log that decides its outcome or action.
#[derive(Debug, Clone)]
pub struct LogRule {
    /// Matched against the bytes of each log line: a log need not be UTF-8.
    pub pattern: regex::bytes::Regex,
    /// Classify the attempt as this outcome when the line appears.
    pub outcome: Option<Outcome>,
    /// Or apply this action directly.
    pub action: Option<Action>,
}

/// `[restart]`: one rule per outcome class, log rules, and an optional success marker.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    pub rules: Vec<(Outcome, Rule)>,
    pub log_rules: Vec<LogRule>,
    pub success_marker: Option<String>,
}

impl RestartPolicy {
    /// The rule for `class` (every class but `completed` has one).
    pub fn rule(&self, class: Outcome) -> Rule {
        self.rules
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| default_rule(class))
    }
}

/// The defaults documented in the README.
pub fn default_rule(class: Outcome) -> Rule {
    let restart = |max_attempts, time_factor, mem_factor| Rule {
        action: Action::Restart,
        max_attempts,
        time_factor,
        mem_factor,
    };
    let stop = Rule {
        action: Action::Stop,
        max_attempts: 1,
        time_factor: 1.0,
        mem_factor: 1.0,
    };
    match class {
        Outcome::Timeout => restart(3, 1.5, 1.0),
        Outcome::Preempted => restart(10, 1.0, 1.0),
        Outcome::NodeFail => restart(3, 1.0, 1.0),
        Outcome::OutOfMemory => restart(3, 1.0, 2.0),
        Outcome::Lost => restart(2, 1.0, 1.0),
        Outcome::Failed | Outcome::Cancelled => stop,
        // No rule is ever asked for these: a success is done, the rest are not SLURM outcomes
        // of a finished job.
        Outcome::Success
        | Outcome::Killed
        | Outcome::Interrupted
        | Outcome::Withdrawn
        | Outcome::Superseded
        | Outcome::Requeued => stop,
    }
}

/// `[slurm]`: sbatch options. `time` and `mem` are parsed because restarts scale them; every
/// other key passes through as `#SBATCH --key=value` (`true` for a bare flag).
#[derive(Debug, Clone, Default)]
pub struct SlurmSettings {
    pub time: Option<Duration>,
    pub mem_mb: Option<u64>,
    /// One job array per stage instead of one job per task.
    pub array: bool,
    /// Array throttle (`%N`) and limit of jobs labtrail keeps submitted at once.
    pub max_running: Option<u32>,
    /// `--signal`, e.g. `B:USR1@90`.
    pub signal: Option<String>,
    /// Other sbatch options, as (`--name`, value or empty for a flag).
    pub options: Vec<(String, String)>,
    /// Shortest and longest time between polls.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// How long a job may be missing from squeue and sacct before it is declared lost.
    pub lost_after: Duration,
}

/// Parses `mem` like sbatch: a number with an optional K/M/G/T suffix (default M).
pub fn parse_mem_mb(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(
        t.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len()),
    );
    let n: f64 = num.parse().ok()?;
    let mb = match unit.trim().to_ascii_uppercase().as_str() {
        "K" | "KB" => n / 1024.0,
        "" | "M" | "MB" => n,
        "G" | "GB" => n * 1024.0,
        "T" | "TB" => n * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(mb.ceil() as u64)
}

fn err(path: &Path, source: &str, at: usize, message: String, help: &str) -> SpecError {
    SpecError {
        path: path.to_path_buf(),
        line_col: Some(line_col(source, at)),
        message,
        help: Some(help.to_string()),
    }
}

/// A `[slurm]` key or value becomes one `#SBATCH --key=value` line of the job script: a newline
/// would end that line early (and sbatch would read the rest as the script), and any other
/// control character reaches sbatch unseen. Refused at the line that has it (issue 11).
fn refuse_control_characters(
    path: &Path,
    source: &str,
    at: usize,
    key: &str,
    text: &str,
) -> Result<(), SpecError> {
    let (what, found) = match key.chars().find(|c| c.is_control()) {
        Some(c) => ("name", c),
        None => match text.chars().find(|c| c.is_control()) {
            Some(c) => ("value", c),
            None => return Ok(()),
        },
    };
    let name = match found {
        '\n' => "a newline".to_string(),
        '\r' => "a carriage return".to_string(),
        '\t' => "a tab".to_string(),
        c => format!("the control character U+{:04X}", c as u32),
    };
    Err(err(
        path,
        source,
        at,
        format!("the {what} of slurm.{} contains {name}", key.escape_debug()),
        "each [slurm] entry becomes one `#SBATCH --key=value` line of the job script: write it \
         on one line, without tabs or other control characters",
    ))
}

/// Validates `[slurm]`.
pub fn slurm_settings(
    path: &Path,
    source: &str,
    raw: Option<&SpannedMap>,
) -> Result<SlurmSettings, SpecError> {
    let mut s = SlurmSettings {
        poll_min: Duration::from_secs(2),
        poll_max: Duration::from_secs(60),
        lost_after: Duration::from_secs(120),
        ..Default::default()
    };
    let Some(raw) = raw else { return Ok(s) };
    for (key, value) in raw {
        let at = value.span().start;
        let text = match value.get_ref() {
            toml::Value::String(t) => t.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(err(
                    path,
                    source,
                    at,
                    format!(
                        "slurm.{key} must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                    "",
                ))
            }
        };
        refuse_control_characters(path, source, at, key, &text)?;
        let duration = |t: &str| {
            parse_duration(t).map_err(|m| {
                err(
                    path,
                    source,
                    at,
                    format!("slurm.{key}: {m}"),
                    "examples: \"04:00:00\", \"90m\"",
                )
            })
        };
        match key.as_str() {
            "time" => s.time = Some(duration(&text)?),
            "mem" => {
                s.mem_mb = Some(parse_mem_mb(&text).ok_or_else(|| {
                    err(
                        path,
                        source,
                        at,
                        format!("slurm.mem: `{text}` is not a memory size"),
                        "examples: \"32G\", \"500M\"",
                    )
                })?)
            }
            "array" => s.array = matches!(value.get_ref(), toml::Value::Boolean(true)),
            "max_running" => {
                s.max_running = Some(text.parse().map_err(|_| {
                    err(
                        path,
                        source,
                        at,
                        "slurm.max_running must be a positive number".into(),
                        "",
                    )
                })?)
            }
            "signal" => s.signal = Some(text),
            "poll_min" => s.poll_min = duration(&text)?,
            "poll_max" => s.poll_max = duration(&text)?,
            "lost_after" => s.lost_after = duration(&text)?,
            "job_name" | "job-name" | "comment" | "output" | "error" | "array_spec"
            | "dependency" | "parsable" | "wrap" => return Err(err(
                path,
                source,
                at,
                format!("slurm.{key} is set by labtrail"),
                "labtrail names jobs, places logs and sets dependencies itself; remove this key",
            )),
            other => {
                let flag = format!("--{}", other.replace('_', "-"));
                match value.get_ref() {
                    toml::Value::Boolean(true) => s.options.push((flag, String::new())),
                    toml::Value::Boolean(false) => {}
                    _ => s.options.push((flag, text)),
                }
            }
        }
    }
    Ok(s)
}

/// Validates `[restart]`.
pub fn restart_policy(
    path: &Path,
    source: &str,
    raw: Option<&SpannedMap>,
) -> Result<RestartPolicy, SpecError> {
    let mut p = RestartPolicy {
        rules: Vec::new(),
        log_rules: Vec::new(),
        success_marker: None,
    };
    let Some(raw) = raw else { return Ok(p) };
    let classes = Outcome::RULED.map(|c| c.as_str()).join(", ");
    for (key, value) in raw {
        let at = value.span().start;
        let bad = |m: String| {
            err(
                path,
                source,
                at,
                m,
                "see the SLURM guide in the README for [restart]",
            )
        };
        match key.as_str() {
            "success_marker" => {
                p.success_marker = Some(
                    value
                        .get_ref()
                        .as_str()
                        .ok_or_else(|| bad("restart.success_marker must be a string".into()))?
                        .to_string(),
                )
            }
            "log_rules" => {
                let list = value
                    .get_ref()
                    .as_array()
                    .ok_or_else(|| bad("restart.log_rules must be a list of tables".into()))?;
                for item in list {
                    let t = item.as_table().ok_or_else(|| bad("each log rule is a table like { pattern = \"...\", outcome = \"out_of_memory\" }".into()))?;
                    let pattern = t
                        .get("pattern")
                        .and_then(|v| v.as_str())
                        .ok_or_else(|| bad("a log rule needs `pattern`".into()))?;
                    let pattern = regex::bytes::Regex::new(pattern)
                        .map_err(|e| bad(format!("log rule pattern `{pattern}`: {e}")))?;
                    let outcome = match t.get("outcome").and_then(|v| v.as_str()) {
                        Some(o) => Some(Outcome::parse_rule_name(o).ok_or_else(|| {
                            bad(format!("unknown outcome `{o}` (use one of {classes})"))
                        })?),
                        None => None,
                    };
                    let action = match t.get("action").and_then(|v| v.as_str()) {
                        Some("restart") => Some(Action::Restart),
                        Some("stop") => Some(Action::Stop),
                        Some(a) => {
                            return Err(bad(format!("unknown action `{a}` (use restart or stop)")))
                        }
                        None => None,
                    };
                    if outcome.is_none() == action.is_none() {
                        return Err(bad(
                            "a log rule needs exactly one of `outcome` or `action`".into()
                        ));
                    }
                    if let Some(k) = t
                        .keys()
                        .find(|k| !["pattern", "outcome", "action"].contains(&k.as_str()))
                    {
                        return Err(bad(format!("unknown key `{k}` in a log rule")));
                    }
                    p.log_rules.push(LogRule {
                        pattern,
                        outcome,
                        action,
                    });
                }
            }
            name => {
                let class = Outcome::RULED.into_iter().find(|c| c.as_str() == name).ok_or_else(|| bad(format!("unknown outcome `{name}` in [restart] (use one of {classes}, log_rules, success_marker)")))?;
                let t = value.get_ref().as_table().ok_or_else(|| bad(format!("restart.{name} must be a table like {{ action = \"restart\", max_attempts = 3 }}")))?;
                let mut rule = default_rule(class);
                for (k, v) in t {
                    match (k.as_str(), v) {
                        ("action", toml::Value::String(a)) if a == "restart" => rule.action = Action::Restart,
                        ("action", toml::Value::String(a)) if a == "stop" => rule.action = Action::Stop,
                        ("max_attempts", toml::Value::Integer(n)) if *n >= 1 => rule.max_attempts = *n as u32,
                        ("time_factor", v) if v.as_float().or(v.as_integer().map(|i| i as f64)).is_some_and(|f| f >= 1.0) => rule.time_factor = v.as_float().unwrap_or_else(|| v.as_integer().unwrap_or(1) as f64),
                        ("mem_factor", v) if v.as_float().or(v.as_integer().map(|i| i as f64)).is_some_and(|f| f >= 1.0) => rule.mem_factor = v.as_float().unwrap_or_else(|| v.as_integer().unwrap_or(1) as f64),
                        _ => return Err(bad(format!("restart.{name}.{k} = {v} is not valid (action = \"restart\"|\"stop\", max_attempts >= 1, time_factor/mem_factor >= 1)"))),
                    }
                }
                if rule.action == Action::Restart
                    && !t.contains_key("max_attempts")
                    && rule.max_attempts < 2
                {
                    rule.max_attempts = 3;
                }
                p.rules.push((class, rule));
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
#[path = "slurm_tests.rs"]
mod tests;
