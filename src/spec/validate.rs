//! Turns a [`RawFile`] into a [`Spec`], rejecting everything that would make a wrong or empty plan.

use super::raw::{RawFile, RawStage};
use super::{
    limits, line_col, parse_duration, Executor, RunSettings, Spec, SpecError, Stage, Template,
    Value,
};
use indexmap::IndexMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// What error messages need: the file and its text.
pub(super) struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
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

    fn duration(&self, field: &str, s: &Spanned<String>) -> Result<Duration, SpecError> {
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
        check_workdir(&cx, w)?;
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
            vec![stage_of(&cx, &stage, &param_names, &[], &exp.env, &default_workdir, &run)?]
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
                let st = stage_of(&cx, s.get_ref(), &param_names, &stages, &exp.env, &default_workdir, &run)?;
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

/// A `workdir` is one folder for all of a stage's tasks (it is part of their identity as
/// written), so placeholders are refused rather than silently kept as literal braces.
fn check_workdir(cx: &Ctx, w: &Spanned<String>) -> Result<(), SpecError> {
    let at = w.span().start;
    if w.get_ref().contains('\0') {
        return Err(cx.err(
            at,
            "workdir contains a NUL character (\\u0000)",
            "remove it",
        ));
    }
    if let Some((p, _)) = Template::parse(w.get_ref()).params().next() {
        return Err(cx.err(at,
            format!("workdir `{}` has the placeholder {{{p}}}; placeholders are not substituted in workdir", w.get_ref()),
            format!("give one folder for all tasks and change into a per-task one in the command: command = \"cd {{{p}}} && ...\"")));
    }
    Ok(())
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

/// Byte offset in the file of the placeholder `{name}` found at byte `offset` of the string value
/// `text`. The value's offsets match the file only for a one-line string with no escapes before the
/// placeholder; otherwise (multi-line strings, escapes) the placeholder is found in the raw text.
fn placeholder_in_source(source: &str, text: &Spanned<String>, name: &str, offset: usize) -> usize {
    let span = text.span();
    let needle = format!("{{{name}}}");
    // +1 skips the opening quote.
    let direct = span.start + 1 + offset;
    if source.get(direct..).is_some_and(|s| s.starts_with(&needle)) {
        return direct;
    }
    let raw = source.get(span.clone()).unwrap_or("");
    let mut from = 0;
    while let Some(i) = raw[from..].find(&needle) {
        let at = from + i;
        // `{{name}}` is literal text and `${name}` a shell variable, not placeholders.
        if !matches!(raw[..at].bytes().last(), Some(b'{' | b'$')) {
            return span.start + at;
        }
        from = at + 1;
    }
    span.start
}

fn stage_of(
    cx: &Ctx,
    raw: &RawStage,
    grid: &[String],
    earlier: &[Stage],
    experiment_env: &IndexMap<String, Spanned<String>>,
    default_workdir: &Spanned<String>,
    run: &RunSettings,
) -> Result<Stage, SpecError> {
    let name = raw.name.get_ref().clone();
    if !is_ident(&name) {
        return Err(cx.err(
            raw.name.span().start,
            format!("stage name `{name}` is not an identifier"),
            "use letters, digits and `_`, not starting with a digit",
        ));
    }
    if let Some(same) = earlier.iter().find(|s| s.name.eq_ignore_ascii_case(&name)) {
        // Upper-cased, both would name one LABTRAIL_UPSTREAM_<STAGE> variable.
        return Err(cx.err(
            raw.name.span().start,
            format!("two stages are named `{name}`{}", match same.name == name {
                true => String::new(),
                false => format!(" and `{}`, which differ only in case", same.name),
            }),
            "stage names must be unique, ignoring case (each names a LABTRAIL_UPSTREAM_<STAGE> variable)",
        ));
    }
    let params = match &raw.params {
        None => grid.to_vec(),
        Some(list) => {
            for p in list.get_ref() {
                if !grid.contains(p) {
                    return Err(cx.err(
                        list.span().start,
                        format!("stage `{name}` varies over `{p}`, which is not a parameter"),
                        format!("parameters are: {}", grid.join(", ")),
                    ));
                }
            }
            grid.iter()
                .filter(|g| list.get_ref().contains(g))
                .cloned()
                .collect()
        }
    };
    let after = match &raw.after {
        None => earlier
            .last()
            .map(|s| vec![s.name.clone()])
            .unwrap_or_default(),
        Some(list) => {
            for a in list.get_ref() {
                if !earlier.iter().any(|s| &s.name == a) {
                    return Err(cx.err(
                        list.span().start,
                        format!("stage `{name}` runs after `{a}`, which is not an earlier stage"),
                        "`after` names stages defined above this one",
                    ));
                }
            }
            list.get_ref().clone()
        }
    };
    if let Some(w) = &raw.workdir {
        check_workdir(cx, w)?;
    }
    let workdir = raw.workdir.as_ref().unwrap_or(default_workdir);
    let check_template = |text: &Spanned<String>, what: &str| -> Result<Template, SpecError> {
        if text.get_ref().contains('\0') {
            return Err(cx.err(
                text.span().start,
                format!("{what} contains a NUL character (\\u0000), which no command line or environment can carry"),
                "remove it",
            ));
        }
        let t = if what == "command" {
            Template::parse_command(text.get_ref()).map_err(|e| {
                let at = match &e.placeholder {
                    Some(p) => placeholder_in_source(cx.source, text, p, e.offset),
                    None => text.span().start,
                };
                cx.err(at, format!("{what}: {}", e.message), e.help)
            })?
        } else {
            Template::parse(text.get_ref())
        };
        for (p, offset) in t.params() {
            if params.iter().any(|x| x == p) {
                continue;
            }
            let at = placeholder_in_source(cx.source, text, p, offset);
            if p == super::devices::SLOT && !grid.iter().any(|g| g == p) {
                match super::devices::slot_placeholder(what, run.executor) {
                    Ok(()) => continue,
                    Err((message, help)) => return Err(cx.err(at, message, help)),
                }
            }
            let help = if grid.iter().any(|g| g == p) {
                format!("stage `{name}` does not vary over `{p}`: add it to the stage's params")
            } else {
                format!(
                    "defined parameters: {} (write {{{{ and }}}} for literal braces)",
                    if grid.is_empty() {
                        "none".to_string()
                    } else {
                        grid.join(", ")
                    }
                )
            };
            return Err(cx.err(at, format!("unknown placeholder {{{p}}} in {what}"), help));
        }
        Ok(t)
    };
    let command = check_template(&raw.command, "command")?;
    let mut env: Vec<(String, Template)> = Vec::new();
    for (k, v) in experiment_env.iter().chain(raw.env.iter()) {
        if !is_ident(k) || k.starts_with("LABTRAIL_") {
            return Err(cx.err(
                v.span().start,
                format!("environment variable name `{k}` is not allowed"),
                "use letters, digits and `_`; names starting with LABTRAIL_ are set by labtrail",
            ));
        }
        let t = check_template(v, &format!("env.{k}"))?;
        env.retain(|(existing, _)| existing != k);
        env.push((k.clone(), t));
    }
    env.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Stage {
        name,
        command_text: raw.command.get_ref().clone(),
        command,
        params,
        after,
        workdir: workdir.get_ref().clone(),
        workdir_at: (!workdir.span().is_empty()).then(|| line_col(cx.source, workdir.span().start)),
        env,
        timeout: match &raw.timeout {
            Some(t) => Some(cx.duration("stage.timeout", t)?),
            None => run.timeout,
        },
        retries: raw.retries.unwrap_or(run.retries),
        inputs: Vec::new(),
        artifacts: Vec::new(),
    })
}
