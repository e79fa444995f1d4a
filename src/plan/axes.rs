//! The grid as a product of axes: a plain parameter is an axis of one, a linked group one axis
//! whose rows give a value to each member. Combinations are walked in odometer order (the first
//! axis changes slowest), or only those `[grid] sample` picks.

use crate::spec::{Spec, Value};
use std::collections::HashMap;

/// Each axis's rows as value indices of its members. A value index is the first position of the
/// value in its parameter's list, so that a value a linked column repeats has one index (and a
/// stage varying over that column alone gets one task for it).
pub(super) struct Axes {
    members: Vec<Vec<usize>>,
    /// Per axis, row after row: the value index of each member.
    rows: Vec<Vec<u32>>,
    sizes: Vec<u64>,
    params: usize,
}

/// A value as its JSON text tells it apart, without writing that text for each value (issue 15:
/// a range of a million values wrote two texts each): strings, integers and booleans by what
/// they hold; floats, whose text the JSON writer decides (NaN and infinities are `null`), by it.
/// No two variants share a text: strings are quoted, a float's text has a `.`, an `e` or is `null`.
#[derive(PartialEq, Eq, Hash)]
enum Ident<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Json(String),
}

impl<'a> Ident<'a> {
    fn of(v: &'a Value) -> Ident<'a> {
        match v {
            Value::Str(s) => Ident::Str(s),
            Value::Int(i) => Ident::Int(*i),
            Value::Bool(b) => Ident::Bool(*b),
            Value::Float(_) => Ident::Json(v.to_json().to_string()),
        }
    }
}

/// For each value, the position of the first value with its JSON text.
fn first_indices(values: &[Value]) -> Vec<u32> {
    if Value::increasing_ints(values) {
        return (0..values.len() as u32).collect();
    }
    let mut seen: HashMap<Ident, u32> = HashMap::with_capacity(values.len());
    values
        .iter()
        .enumerate()
        .map(|(i, v)| *seen.entry(Ident::of(v)).or_insert(i as u32))
        .collect()
}

impl Axes {
    pub(super) fn new(spec: &Spec) -> Axes {
        let members = spec.axes();
        let rows: Vec<Vec<u32>> = members
            .iter()
            .map(|m| {
                let firsts: Vec<Vec<u32>> = m
                    .iter()
                    .map(|&p| first_indices(&spec.params[p].values))
                    .collect();
                let n = spec.params[m[0]].values.len();
                (0..n)
                    .flat_map(|r| firsts.iter().map(move |first| first[r]))
                    .collect()
            })
            .collect();
        let sizes = members
            .iter()
            .map(|m| spec.params[m[0]].values.len() as u64)
            .collect();
        Axes {
            members,
            rows,
            sizes,
            params: spec.params.len(),
        }
    }

    /// The number of combinations (it fits: the spec refused larger grids).
    pub(super) fn total(&self) -> u64 {
        self.sizes.iter().product()
    }

    /// Combination `index` (its place in odometer order) as value indices of every parameter.
    pub(super) fn decode(&self, mut index: u64, out: &mut [u32]) {
        for a in (0..self.sizes.len()).rev() {
            self.fill(a, (index % self.sizes[a]) as usize, out);
            index /= self.sizes[a];
        }
    }

    fn fill(&self, axis: usize, row: usize, out: &mut [u32]) {
        let m = &self.members[axis];
        for (k, &p) in m.iter().enumerate() {
            out[p] = self.rows[axis][row * m.len() + k];
        }
    }

    /// Calls `f` with every combination not `excluded` in odometer order, or, with `picked`,
    /// those combinations (already free of excluded ones, in increasing order).
    pub(super) fn for_each(
        &self,
        excluded: impl Fn(&[u32]) -> bool,
        picked: Option<&[u64]>,
        mut f: impl FnMut(&[u32]),
    ) {
        let mut combo = vec![0u32; self.params];
        if let Some(picked) = picked {
            for &i in picked {
                self.decode(i, &mut combo);
                f(&combo);
            }
            return;
        }
        let mut odo = vec![0usize; self.sizes.len()];
        for a in 0..odo.len() {
            self.fill(a, 0, &mut combo);
        }
        for _ in 0..self.total() {
            if !excluded(&combo) {
                f(&combo);
            }
            for a in (0..odo.len()).rev() {
                odo[a] += 1;
                if (odo[a] as u64) < self.sizes[a] {
                    self.fill(a, odo[a], &mut combo);
                    break;
                }
                odo[a] = 0;
                self.fill(a, 0, &mut combo);
            }
        }
    }

    /// Whether `combo` (value indices) is a combination of the grid: on each axis, one row
    /// gives all its members' values.
    pub(super) fn contains(&self, combo: &[u32]) -> bool {
        self.members.iter().zip(&self.rows).all(|(m, rows)| {
            rows.chunks(m.len())
                .any(|row| m.iter().zip(row).all(|(&p, &i)| combo[p] == i))
        })
    }
}

/// The combinations `[grid] sample` picks, as odometer positions; `None` without a sample, or
/// when it asks for the whole grid.
pub(super) fn picked_combinations(
    spec: &Spec,
    axes: &Axes,
    excluded: &impl Fn(&[u32]) -> bool,
) -> Option<Vec<u64>> {
    let s = spec.sample?;
    let total = axes.total();
    if s.count >= total {
        return None;
    }
    let mut combo = vec![0u32; spec.params.len()];
    Some(super::sample::pick(total, s.count, s.seed, |i| {
        axes.decode(i, &mut combo);
        excluded(&combo)
    }))
}

#[cfg(test)]
mod tests {
    use crate::spec::Spec;
    use std::path::Path;

    fn labels(params: &str, rest: &str) -> Vec<String> {
        let text = format!("[experiment]\nname = \"a\"\ncommand = \"echo {{arch}} {{lr}} {{seed}}\"\n[params]\n{params}\n{rest}");
        let spec = Spec::parse(Path::new("exp.toml"), text).unwrap();
        let plan = crate::plan::expand(&spec);
        (0..plan.len()).map(|i| plan.label(i, &spec)).collect()
    }

    const LINKED: &str =
        "seed = [1, 2]\nmodel = [{ arch = \"r\", lr = 0.1 }, { arch = \"v\", lr = 0.1 }]";

    /// Issue 14: an `[[include]]` that is a row of a linked group adds nothing; one that mixes
    /// two rows is a combination of its own, added after the grid.
    #[test]
    fn includes_are_matched_against_whole_rows() {
        let grid = labels(LINKED, "");
        assert_eq!(
            grid,
            [
                "seed=1,arch=r",
                "seed=1,arch=v",
                "seed=2,arch=r",
                "seed=2,arch=v"
            ]
        );
        let same = "[[include]]\nseed = 2\narch = \"v\"\nlr = 0.1\n";
        assert_eq!(labels(LINKED, same), grid);
        let mixed = "[[include]]\nseed = 2\narch = \"v\"\nlr = 0.5\n";
        assert_eq!(
            labels(LINKED, mixed).last().unwrap(),
            "seed=2,arch=v,lr=0.5"
        );
        assert_eq!(labels(LINKED, mixed).len(), 5);
    }

    /// Issue 14: under `[grid] sample`, an `[[include]]` is run even when the sample did not
    /// pick its combination, and an excluded combination is never picked.
    #[test]
    fn includes_run_and_excludes_hold_under_a_sample() {
        let params = "seed = { range = [0, 100] }\narch = [\"r\", \"v\"]\nlr = 0.1";
        let rest = "[[exclude]]\narch = \"v\"\n[[include]]\nseed = 7\narch = \"v\"\nlr = 0.1\n[grid]\nsample = 10\n";
        let l = labels(params, rest);
        assert_eq!(l.len(), 11, "{l:?}");
        assert_eq!(
            l.iter().filter(|x| x.ends_with("arch=v")).count(),
            1,
            "{l:?}"
        );
        assert_eq!(l.last().unwrap(), "seed=7,arch=v");
    }

    /// Issue 15: values are told apart as their JSON texts tell them apart, without the texts.
    #[test]
    fn first_indices_follow_the_json_texts() {
        use crate::spec::Value::*;
        let values = [
            Int(1),
            Str("1".into()),
            Float(1.0),
            Int(1),
            Float(f64::NAN),
            Float(f64::INFINITY),
            Str("1".into()),
            Bool(true),
            Str("true".into()),
            Float(1.0),
            Float(-0.0),
            Float(0.0),
            Int(0),
        ];
        let texts: Vec<String> = values.iter().map(|v| v.to_json().to_string()).collect();
        let by_text: Vec<u32> = texts
            .iter()
            .map(|t| texts.iter().position(|w| w == t).unwrap() as u32)
            .collect();
        assert_eq!(super::first_indices(&values), by_text);
        assert_eq!(by_text, [0, 1, 2, 0, 4, 4, 1, 7, 8, 2, 10, 11, 12]);
        let ints = [Int(-3), Int(0), Int(7)];
        assert_eq!(super::first_indices(&ints), [0, 1, 2]);
        assert_eq!(super::first_indices(&[Int(2), Int(1), Int(2)]), [0, 1, 0]);
    }
}
