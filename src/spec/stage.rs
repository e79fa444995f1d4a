//! One `[[stage]]` (or the single `[experiment] command`) checked: its name, the parameters it
//! varies over, the stages it runs after, its `workdir`, and the placeholders of its command
//! and environment.

use super::raw::RawStage;
use super::validate::{is_ident, Ctx};
use super::{line_col, RunSettings, SpecError, Stage, Template};
use indexmap::IndexMap;
use toml::Spanned;

/// A `workdir` is one folder for all of a stage's tasks (it is part of their identity as
/// written), so placeholders are refused rather than silently kept as literal braces.
pub(super) fn check_workdir(cx: &Ctx, w: &Spanned<String>) -> Result<(), SpecError> {
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

pub(super) fn stage_of(
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
