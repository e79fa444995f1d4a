//! Results as a table of [`Cell`]s: one row per done task, or one per group. The terminal,
//! Markdown and grouped CSV writers all print this one shape; sorting is done here.

use super::aggregate::{result_fields, Grouped};
use super::cell::{Cell, Num};
use super::stats::Agg;
use super::Results;
use serde_json::{Map, Value};

/// Header and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<Cell>>,
    /// Which columns hold a parameter (a task's, or a group's): the only columns
    /// [`Table::drop_constant_columns`] may drop.
    pub is_param: Vec<bool>,
    /// One row per group: the columns that are not parameters (nor `stage`, `tasks`) are
    /// named `KEY:AGG`.
    pub grouped: bool,
}

/// A `--sort` that names no column.
#[derive(Debug, thiserror::Error)]
#[error("--sort {name}: no such column; sort by one of: {}", columns.join(", "))]
pub struct UnknownColumn {
    /// What was asked.
    pub name: String,
    /// What could have been.
    pub columns: Vec<String>,
}

impl Table {
    /// One row per record: the stage (when several), every parameter, every result key (named
    /// `result.KEY` when a parameter has the same name), in order of first appearance.
    pub fn of_records(results: &Results) -> Table {
        let mut params: Vec<String> = Vec::new();
        let mut fields: Vec<String> = Vec::new();
        let mut stages: Vec<&str> = Vec::new();
        for r in &results.records {
            for k in r.params.as_object().into_iter().flat_map(|o| o.keys()) {
                if !params.contains(k) {
                    params.push(k.clone());
                }
            }
            for (k, _) in result_fields(&r.result) {
                if !fields.iter().any(|f| f == k) {
                    fields.push(k.to_string());
                }
            }
            if !stages.contains(&r.stage.as_str()) {
                stages.push(&r.stage);
            }
        }
        let with_stage = stages.len() > 1;
        let mut header: Vec<String> = Vec::new();
        if with_stage {
            header.push("stage".into());
        }
        header.extend(params.iter().cloned());
        header.extend(fields.iter().map(|f| {
            if params.contains(f) || (with_stage && f == "stage") {
                format!("result.{f}")
            } else {
                f.clone()
            }
        }));
        let empty = Map::new();
        let rows = results
            .records
            .iter()
            .map(|r| {
                let p = r.params.as_object().unwrap_or(&empty);
                let result: Map<String, Value> = result_fields(&r.result)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                let mut row = Vec::with_capacity(header.len());
                if with_stage {
                    row.push(Cell::Text(r.stage.clone()));
                }
                row.extend(params.iter().map(|k| Cell::param(p.get(k))));
                row.extend(fields.iter().map(|k| Cell::of(result.get(k))));
                row
            })
            .collect();
        let mut is_param = vec![false; header.len()];
        let first = usize::from(with_stage);
        is_param[first..first + params.len()].fill(true);
        Table {
            header,
            rows,
            is_param,
            grouped: false,
        }
    }

    /// One row per group: the stage (when several), the grouping parameters, `tasks`, then
    /// `KEY:AGG` for each aggregated key and each of `aggs`, and `KEY:nonfinite` for a key with
    /// `NaN` or infinite values in some group (how many were left out of its statistics).
    pub fn of_groups(grouped: &Grouped, aggs: &[Agg]) -> Table {
        let with_stage = grouped.several_stages();
        let mut header: Vec<String> = Vec::new();
        if with_stage {
            header.push("stage".into());
        }
        header.extend(grouped.by.iter().cloned());
        header.push("tasks".into());
        let mut columns: Vec<(&str, Option<Agg>)> = Vec::new();
        for key in &grouped.numeric {
            for &agg in aggs {
                columns.push((key, Some(agg)));
            }
            let nonfinite = grouped
                .groups
                .iter()
                .any(|g| g.stats.get(key).is_some_and(|s| s.nonfinite > 0));
            if nonfinite {
                columns.push((key, None));
            }
        }
        header.extend(
            columns
                .iter()
                .map(|(key, agg)| format!("{key}:{}", agg.map_or("nonfinite", Agg::name))),
        );
        let rows = grouped
            .groups
            .iter()
            .map(|g| {
                let mut row = Vec::with_capacity(header.len());
                if with_stage {
                    row.push(Cell::Text(g.stage.clone()));
                }
                row.extend(g.values.iter().map(|v| Cell::param(v.as_ref())));
                row.push(Cell::Num(Num::count(g.tasks)));
                for (key, agg) in &columns {
                    let stats = g.stats.get(*key).cloned().unwrap_or_default();
                    row.push(match agg {
                        None => Cell::Num(Num::count(stats.nonfinite)),
                        Some(Agg::Count) => Cell::Num(Num::count(stats.count)),
                        Some(a) => stats
                            .get(*a)
                            .map_or(Cell::Missing, |x| Cell::Num(Num::of(x))),
                    });
                }
                row
            })
            .collect();
        let mut is_param = vec![false; header.len()];
        let first = usize::from(with_stage);
        is_param[first..first + grouped.by.len()].fill(true);
        Table {
            header,
            rows,
            is_param,
            grouped: true,
        }
    }

    /// The column `name` names: a column by its exact name, else `NAME:mean` (or the first
    /// `NAME:…` column) in a grouped table, so that `--sort val_acc` sorts by its mean.
    pub fn column(&self, name: &str) -> Result<usize, UnknownColumn> {
        let exact = self.header.iter().position(|h| h == name);
        let prefix = format!("{name}:");
        let mean = self
            .header
            .iter()
            .position(|h| *h == format!("{name}:mean"));
        let first = self.header.iter().position(|h| h.starts_with(&prefix));
        exact.or(mean).or(first).ok_or_else(|| UnknownColumn {
            name: name.to_string(),
            columns: self.header.clone(),
        })
    }

    /// The row order that sorts by column `name` (stable: ties keep their order; missing values
    /// last, in either direction). With several stages, each stage's rows stay together, stages
    /// in the order they come: the same key means another measure in another stage, and sorted
    /// together a `prepare` row would land between two `train` rows.
    pub fn order_by(&self, name: &str, desc: bool) -> Result<Vec<usize>, UnknownColumn> {
        let c = self.column(name)?;
        let stage_rank = self.stage_ranks();
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by(|&a, &b| {
            stage_rank[a]
                .cmp(&stage_rank[b])
                .then_with(|| self.rows[a][c].order(&self.rows[b][c], desc))
        });
        Ok(order)
    }

    /// Per row, the rank of its stage by first appearance (all 0 without a stage column).
    fn stage_ranks(&self) -> Vec<usize> {
        let has_stage = self.header.first().is_some_and(|h| h == "stage")
            && self.is_param.first() == Some(&false);
        if !has_stage {
            return vec![0; self.rows.len()];
        }
        let mut seen: Vec<&Cell> = Vec::new();
        self.rows
            .iter()
            .map(|r| match seen.iter().position(|s| **s == r[0]) {
                Some(i) => i,
                None => {
                    seen.push(&r[0]);
                    seen.len() - 1
                }
            })
            .collect()
    }

    /// The rows in `order` (from [`Table::order_by`]).
    pub fn reorder(&mut self, order: &[usize]) {
        let mut rows: Vec<Option<Vec<Cell>>> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(Some)
            .collect();
        self.rows = order.iter().filter_map(|&i| rows[i].take()).collect();
    }

    /// Removes the parameter columns whose value is the same in every row (when there are
    /// several rows), and returns them as `name=value`: a table to read shows what varies.
    pub fn drop_constant_columns(&mut self) -> Vec<String> {
        if self.rows.len() < 2 {
            return Vec::new();
        }
        let constant: Vec<usize> = (0..self.header.len())
            .filter(|&c| self.is_param[c])
            .filter(|&c| {
                let first = &self.rows[0][c];
                !matches!(first, Cell::Missing) && self.rows.iter().all(|r| r[c] == *first)
            })
            .collect();
        let dropped = constant
            .iter()
            .map(|&c| format!("{}={}", self.header[c], self.rows[0][c].short()))
            .collect();
        for &c in constant.iter().rev() {
            self.header.remove(c);
            self.is_param.remove(c);
            for r in &mut self.rows {
                r.remove(c);
            }
        }
        dropped
    }
}
