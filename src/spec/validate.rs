//! Turns a [`RawFile`] into a [`Spec`], rejecting everything that would make a wrong or empty plan.

use super::raw::{RawFile, RawStage};
use super::{
    limits, line_col, parse_duration, Executor, Link, RunSettings, Spec, SpecError, Stage, Value,
};
use indexmap::IndexMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// What error messages need: the file and its text.
pub(super) struct Ctx<'a> {
    path: &'a Path,
    pub(super) source: &'a str,
}

impl Ctx<'_> {
    /// An error at byte `offset` of the file; an empty `help` is left out.
    pub(super) fn err(
        &self,
        offset: usize,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> SpecError {
        let help: String = help.into();
        SpecError {
            path: self.path.to_path_buf(),
            line_col: Some(line_col(self.source, offset)),
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
        }
    }

    pub(super) fn duration(&self, field: &str, s: &Spanned<String>) -> Result<Duration, SpecError> {
        let d = parse_duration(s.get_ref()).map_err(|m| {
            self.err(
                s.span().start,
                format!("{field}: {m}"),
                "examples: \"30s\", \"2h\", \"1h30m\", \"04:00:00\"",
            )
        })?;
        // A zero time limit would end every attempt as it starts.
        if d.is_zero() && field.ends_with("timeout") {
            return Err(self.err(
                s.span().start,
                format!("{field}: a time limit of zero would stop every attempt as it starts"),
                "give a limit like \"2h\", or leave `timeout` out for no limit",
            ));
        }
        Ok(d)
    }
}

/// The text of a TOML date or time (`2024-01-01`), which the TOML reader hands over as a table
/// with one private key; `None` for any other value.
pub(super) fn toml_date(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::Datetime(d) => Some(d.to_string()),
        toml::Value::Table(t) if t.len() == 1 => t
            .get("$__toml_private_datetime")
            .and_then(toml::Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

pub(super) fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Names usable as file names and run ids: letters, digits, `.`, `_`, `-`; not starting with `.`.
pub fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub(super) fn validate(path: &Path, source: &str, raw: RawFile) -> Result<Spec, SpecError> {
    let cx = Ctx { path, source };
    let exp = raw.experiment.get_ref();
    let name = exp.name.get_ref().clone();
    if !is_safe_name(&name) {
        return Err(cx.err(
            exp.name.span().start,
            format!("experiment name `{name}` is not allowed"),
            "use letters, digits, `.`, `_` and `-` (it names runs and folders)",
        ));
    }
    let (params, links) = super::params::grid_params(&cx, raw.params.as_ref())?;
    let sample = super::grid::sample(&cx, raw.grid.as_ref())?;
    let param_names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    let exclude = raw
        .exclude
        .iter()
        .map(|e| super::params::combination(&cx, e, &params, "exclude", false))
        .collect::<Result<_, _>>()?;
    let include: Vec<Vec<(String, Value)>> = raw
        .include
        .iter()
        .map(|e| super::params::combination(&cx, e, &params, "include", true))
        .collect::<Result<_, _>>()?;

    if let Some(w) = &exp.workdir {
        super::stage::check_workdir(&cx, w)?;
    }
    let default_workdir = exp
        .workdir
        .clone()
        .unwrap_or_else(|| Spanned::new(0..0, ".".into()));
    let run = run_settings(&cx, &raw.run)?;
    let stages = match (&exp.command, raw.stage.is_empty()) {
        (Some(cmd), true) => {
            let stage = RawStage {
                name: Spanned::new(0..0, "main".into()),
                command: cmd.clone(),
                params: None,
                after: None,
                workdir: None,
                env: IndexMap::new(),
                timeout: None,
                retries: None,
                inputs: None,
                artifacts: None,
                gpus_per_task: None,
            };
            vec![super::stage::stage_of(&cx, &stage, &param_names, &[], &exp.env, &default_workdir, &run)?]
        }
        (Some(cmd), false) => {
            return Err(cx.err(cmd.span().start, "both [experiment] command and [[stage]] tables are given",
                "keep one: a single `command`, or one [[stage]] per step, each with its own command"))
        }
        (None, true) => {
            return Err(cx.err(raw.experiment.span().start, "the experiment has no command",
                "add `command = \"python3 train.py --lr {lr}\"` under [experiment], or [[stage]] tables"))
        }
        (None, false) => {
            let mut stages: Vec<Stage> = Vec::new();
            for s in &raw.stage {
                group_in_stage_params(&cx, s.get_ref(), &links)?;
                let st = super::stage::stage_of(&cx, s.get_ref(), &param_names, &stages, &exp.env, &default_workdir, &run)?;
                stages.push(st);
            }
            stages
        }
    };
    let mut stages = stages;
    let shared = super::inputs::patterns(path, source, exp.inputs.as_ref())?;
    for (stage, raw) in stages.iter_mut().zip(
        raw.stage
            .iter()
            .map(|s| Some(s.get_ref()))
            .chain(std::iter::repeat(None)),
    ) {
        let own = super::inputs::patterns(path, source, raw.and_then(|r| r.inputs.as_ref()))?;
        stage.artifacts = super::archive::artifact_patterns(
            path,
            source,
            raw.and_then(|r| r.artifacts.as_ref()),
        )?;
        stage.inputs = shared.iter().chain(&own).fold(Vec::new(), |mut all, p| {
            if !all.contains(p) {
                all.push(p.clone());
            }
            all
        });
    }
    let params_at = raw.params.as_ref().map_or(0, |p| p.span().start);
    limits::check_size(&cx, params_at, &params, &links, sample, &include, &stages)?;
    let single_valued = super::grid::single_valued(&params, &include);
    let devices = super::devices::device_settings(&cx, &raw.run, &raw.stage, run.executor)?;
    Ok(Spec {
        path: path.to_path_buf(),
        source: String::new(),
        name,
        description: exp.description.clone(),
        params,
        links,
        sample,
        single_valued,
        exclude,
        include,
        stages,
        run,
        slurm: super::slurm::slurm_settings(path, source, raw.slurm.as_ref().map(|s| s.get_ref()))?,
        restart: super::slurm::restart_policy(
            path,
            source,
            raw.restart.as_ref().map(|s| s.get_ref()),
        )?,
        archive: super::archive::archive_settings(path, source, raw.archive.as_ref())?,
        devices,
    })
}

fn run_settings(cx: &Ctx, raw: &super::raw::RawRun) -> Result<RunSettings, SpecError> {
    let workers = match &raw.workers {
        Some(w) if *w.get_ref() < 1 => {
            return Err(cx.err(
                w.span().start,
                "run.workers must be at least 1",
                "omit it to use one worker per CPU",
            ))
        }
        Some(w) => Some(*w.get_ref() as usize),
        None => None,
    };
    let retries = match &raw.retries {
        Some(r) if !(0..=100).contains(r.get_ref()) => {
            return Err(cx.err(r.span().start, "run.retries must be between 0 and 100", ""))
        }
        Some(r) => *r.get_ref() as u32,
        None => 0,
    };
    let executor = match raw
        .executor
        .as_ref()
        .map(|e| (e.get_ref().as_str(), e.span().start))
    {
        None | Some(("local", _)) => Executor::Local,
        Some(("slurm", _)) => Executor::Slurm,
        Some((other, at)) => {
            return Err(cx.err(
                at,
                format!("unknown executor `{other}`"),
                "use executor = \"local\" or \"slurm\"",
            ))
        }
    };
    Ok(RunSettings {
        workers,
        retries,
        timeout: raw
            .timeout
            .as_ref()
            .map(|t| cx.duration("run.timeout", t))
            .transpose()?,
        backoff: raw
            .backoff
            .as_ref()
            .map(|t| cx.duration("run.backoff", t))
            .transpose()?
            .unwrap_or(Duration::from_secs(10)),
        grace: raw
            .grace
            .as_ref()
            .map(|t| cx.duration("run.grace", t))
            .transpose()?
            .unwrap_or(Duration::from_secs(30)),
        executor,
    })
}

/// A stage's `params` naming a linked group rather than its members: said as such, with the
/// members to write (it was "`model` is not a parameter", issue 14, review).
fn group_in_stage_params(cx: &Ctx, raw: &RawStage, links: &[Link]) -> Result<(), SpecError> {
    let Some(list) = &raw.params else {
        return Ok(());
    };
    for p in list.get_ref() {
        if let Some(link) = links.iter().find(|l| &l.name == p) {
            let members: Vec<String> = link.params.iter().map(|m| format!("\"{m}\"")).collect();
            return Err(cx.err(
                list.span().start,
                format!(
                    "stage `{}` varies over `{p}`, which is a linked group, not a parameter",
                    raw.name.get_ref()
                ),
                format!("name its parameters: params = [{}]", members.join(", ")),
            ));
        }
    }
    Ok(())
}
