//! The grid's shape: its axes (a plain parameter, or a linked group), `[grid] sample`, and the
//! parameters that have a single value (which labels leave out).

use super::raw::RawGrid;
use super::validate::Ctx;
use super::{Link, Param, Spec, SpecError, Value};
use toml::Spanned;

/// `[grid] sample = N`: N combinations of the grid, picked by a permutation seeded with
/// `sample_seed`. Larger N keeps the combinations of smaller N (see [`crate::plan::sample`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub count: u64,
    pub seed: u64,
}

impl Spec {
    /// The grid's axes, each as positions in [`Spec::params`], in declaration order.
    pub fn axes(&self) -> Vec<Vec<usize>> {
        axes(&self.params, &self.links)
    }
}

/// The axes of a grid: each linked group's members (contiguous in `params`) form one axis,
/// every other parameter is an axis of one.
pub(crate) fn axes(params: &[Param], links: &[Link]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last_link: Option<&str> = None;
    for (i, p) in params.iter().enumerate() {
        let link = links
            .iter()
            .find(|l| l.params.contains(&p.name))
            .map(|l| l.name.as_str());
        match (link, out.last_mut()) {
            (Some(l), Some(axis)) if last_link == Some(l) => axis.push(i),
            _ => out.push(vec![i]),
        }
        last_link = link;
    }
    out
}

/// The number of rows of each axis.
pub(crate) fn axis_sizes(params: &[Param], axes: &[Vec<usize>]) -> Vec<u64> {
    axes.iter()
        .map(|a| params[a[0]].values.len() as u64)
        .collect()
}

/// `[grid]`, checked.
pub(super) fn sample(
    cx: &Ctx,
    raw: Option<&Spanned<RawGrid>>,
) -> Result<Option<Sample>, SpecError> {
    let Some(raw) = raw else { return Ok(None) };
    let g = raw.get_ref();
    let seed = match &g.sample_seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(cx.err(
                s.span().start,
                "grid.sample_seed must be 0 or more",
                "e.g. sample_seed = 0",
            ))
        }
        Some(s) => *s.get_ref() as u64,
        None => 0,
    };
    match &g.sample {
        Some(n) if *n.get_ref() < 1 => Err(cx.err(
            n.span().start,
            "grid.sample must be at least 1",
            "give the number of combinations to run, e.g. sample = 50, or remove it to run the whole grid",
        )),
        Some(n) => Ok(Some(Sample {
            count: *n.get_ref() as u64,
            seed,
        })),
        None if g.sample_seed.is_some() => Err(cx.err(
            raw.span().start,
            "[grid] gives sample_seed but not sample",
            "add sample = N, the number of combinations to run",
        )),
        None => Ok(None),
    }
}

/// The parameters with one value over the grid and the `[[include]]` tables.
pub(super) fn single_valued(params: &[Param], include: &[Vec<(String, Value)>]) -> Vec<String> {
    params
        .iter()
        .filter(|p| {
            let first = p.values[0].to_string();
            p.values.iter().all(|v| v.to_string() == first)
                && include
                    .iter()
                    .flatten()
                    .all(|(n, v)| n != &p.name || v.to_string() == first)
        })
        .map(|p| p.name.clone())
        .collect()
}
