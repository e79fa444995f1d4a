//! The limits an experiment file must keep, checked before anything is allocated for the plan.
//! Each is documented in the README's experiment file reference ("Limits").

use super::validate::Ctx;
use super::{Link, Param, Sample, SpecError, Stage, Value};

/// An experiment file larger than this is refused before it is read (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The most tasks an experiment may have, all stages and `[[include]]` tables together. A plan
/// of a million tasks takes about 300 MB and a second or two; ten million took 4 GB.
pub const MAX_TASKS: u64 = 1_000_000;

/// The longest parameter value, as text, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;

/// The longest task label (`stage/a=1,b=2`), in bytes.
pub const MAX_LABEL_BYTES: usize = 8192;

/// What is wrong with a parameter value's text, if anything: the message and what to do.
pub fn value_problem(text: &str) -> Option<(String, String)> {
    if text.contains('\0') {
        return Some((
            "contains a NUL character (\\u0000), which no command line or environment can carry"
                .into(),
            "remove it".into(),
        ));
    }
    // Labels are `a=1,b=2` and filters are read the same way: split at `,`, then at the first
    // `=`. Parameter names never hold `=`, so only a `,` in a value makes a label ambiguous;
    // values such as `--lr=0.1` stay allowed.
    if text.contains(',') {
        return Some((
            "contains `,`, which task labels use between parameters (`a=1,b=2`), so labels would be ambiguous".into(),
            "use another character in values, e.g. `;`, `+` or `:`".into(),
        ));
    }
    if text.len() > MAX_VALUE_BYTES {
        return Some((
            format!(
                "is {} bytes long, more than the limit of {MAX_VALUE_BYTES} bytes (values make task labels)",
                text.len()
            ),
            "put long content in a file and pass its name as the value".into(),
        ));
    }
    None
}

/// An upper bound on the tasks of an experiment: for each stage, the combinations of the rows
/// of the axes it varies over (at most `grid`, the grid's own count), plus one per
/// `[[include]]`; `None` if the count overflows. Only counts are multiplied, so a grid of 10^18
/// combinations costs nothing to refuse.
pub fn task_bound(
    params: &[Param],
    axes: &[Vec<usize>],
    grid: u64,
    stages: &[Vec<String>],
    includes: usize,
) -> Option<u64> {
    stages.iter().try_fold(0u64, |total, stage_params| {
        let combos = axes
            .iter()
            .filter(|a| a.iter().any(|&p| stage_params.contains(&params[p].name)))
            .try_fold(1u64, |acc, a| {
                acc.checked_mul(params[a[0]].values.len() as u64)
            })
            .map_or(grid, |c| c.min(grid));
        total.checked_add(combos)?.checked_add(includes as u64)
    })
}

/// The number of combinations of the whole grid (`None` if it overflows), as written in
/// messages: `a × b × c`, one factor per axis.
pub fn grid_size(params: &[Param], axes: &[Vec<usize>]) -> (Option<u64>, String) {
    let sizes = super::grid::axis_sizes(params, axes);
    let product = sizes.iter().try_fold(1u64, |acc, n| acc.checked_mul(*n));
    let factors: Vec<String> = sizes.iter().map(u64::to_string).collect();
    (product, factors.join(" × "))
}

/// The longest label a task of a stage named `stage` over `names` can have, in bytes, with the
/// values of `params` and of the `[[include]]` combinations.
pub fn longest_label(
    stage: &str,
    names: &[String],
    params: &[Param],
    include: &[Vec<(String, Value)>],
) -> usize {
    let longest_value = |name: &String| {
        let grid = params
            .iter()
            .filter(|p| &p.name == name)
            .flat_map(|p| p.values.iter());
        let included = include.iter().flatten().filter(|(n, _)| n == name);
        grid.chain(included.map(|(_, v)| v))
            .map(|v| v.to_string().len())
            .max()
            .unwrap_or(0)
    };
    stage.len()
        + 1
        + names
            .iter()
            .map(|n| n.len() + 1 + longest_value(n) + 1)
            .sum::<usize>()
}

/// Refuses a plan too large to make, counting before anything is allocated, and labels too long
/// to list.
pub(super) fn check_size(
    cx: &Ctx,
    params_at: usize,
    params: &[Param],
    links: &[Link],
    sample: Option<Sample>,
    include: &[Vec<(String, Value)>],
    stages: &[Stage],
) -> Result<(), SpecError> {
    let limit = MAX_TASKS;
    let help = "split the experiment into several files (e.g. one per value of a parameter), list fewer values, or run a random part: [grid] sample = 1000";
    let axes = super::grid::axes(params, links);
    let (grid, factors) = grid_size(params, &axes);
    if let Some(s) = sample {
        // Said of the sample, not of the grid, whose size is fine when sampled (issue 14, review).
        match grid {
            None => return Err(cx.err(params_at,
                format!("the grid has more than 18446744073709551615 combinations ({factors}), more than [grid] sample can pick from"),
                "list fewer values, or split the experiment into several files (e.g. one per value of a parameter)")),
            Some(g) if g > limit && s.count > limit => return Err(cx.err(params_at,
                format!("[grid] sample = {} asks for more than the limit of {limit} tasks (the grid has {g} combinations)", s.count),
                format!("give sample = {limit} or less"))),
            _ => {}
        }
    }
    // A sample picks indices of the grid, so the grid may be larger than the limit; the
    // indices are 64-bit numbers.
    let grid = match (grid, sample) {
        (Some(g), Some(s)) => Some(g.min(s.count)),
        (g, _) => g,
    };
    if grid.is_none_or(|g| g > limit) {
        let count = grid.map_or("more than 18446744073709551615".into(), |g| g.to_string());
        return Err(cx.err(
            params_at,
            format!(
                "the grid has {count} combinations ({factors}), more than the limit of {limit}"
            ),
            help,
        ));
    }
    let per_stage: Vec<Vec<String>> = stages.iter().map(|s| s.params.clone()).collect();
    let tasks = task_bound(
        params,
        &axes,
        grid.unwrap_or(u64::MAX),
        &per_stage,
        include.len(),
    );
    if tasks.is_none_or(|t| t > limit) {
        let count = tasks.map_or("too many".into(), |t| t.to_string());
        return Err(cx.err(params_at,
            format!("the experiment has up to {count} tasks over its {} stages, more than the limit of {limit}", stages.len()), help));
    }
    for stage in stages {
        let longest = longest_label(&stage.name, &stage.params, params, include);
        if longest > MAX_LABEL_BYTES {
            return Err(cx.err(params_at,
                format!("task labels of stage `{}` can be {longest} bytes long, more than the limit of {} bytes", stage.name, MAX_LABEL_BYTES),
                "use shorter values (put long content in files and pass their names), or fewer parameters"));
        }
    }
    Ok(())
}
