//! The columns of `results --format csv` found one record at a time (issue 15): a first pass
//! over a run that holds the names, not the records, and may read them in any order.

use super::csv::Columns;
use super::ResultRecord;
use indexmap::IndexMap;
use serde_json::Value;

/// The columns seen so far, one record at a time: what [`Columns::of`] derives, without holding
/// the records. Records may come in any order: each name keeps where it first appears in plan
/// order (the task's position, then the name's within the task), and the columns are put in
/// that order at the end.
#[derive(Debug, Default)]
pub struct ColumnsSeen {
    params: IndexMap<String, (i64, usize)>,
    fields: IndexMap<String, (i64, usize)>,
    not_object: bool,
}

/// The names of a JSON object, in its order; what is not an object has none.
type Names = IndexMap<String, serde::de::IgnoredAny>;

impl ColumnsSeen {
    /// Takes in the parameter names and result fields of the record at plan position `at`.
    pub fn add(&mut self, at: i64, r: &ResultRecord) {
        let params = r.params.as_object().into_iter().flat_map(|o| o.keys());
        let fields = match &r.result {
            Some(Value::Object(o)) => Some(o.keys()),
            _ => None,
        };
        self.not_object |= matches!(&r.result, Some(v) if !v.is_object());
        note(&mut self.params, at, params);
        note(&mut self.fields, at, fields.into_iter().flatten());
    }

    /// Takes in one record as stored (JSON text), at plan position `seq`: only the names of its
    /// parameters and result fields are read.
    pub fn add_stored(&mut self, seq: i64, params: &str, result: Option<&str>) {
        let params: Names = serde_json::from_str(params).unwrap_or_default();
        note(&mut self.params, seq, params.keys());
        // As the record's decoder: a result that is not JSON is none; `null` is not an object.
        let Some(result) = result else { return };
        match serde_json::from_str::<Names>(result) {
            Ok(fields) => note(&mut self.fields, seq, fields.keys()),
            Err(_) => {
                self.not_object |= serde_json::from_str::<serde::de::IgnoredAny>(result).is_ok()
            }
        }
    }

    /// The columns of every record added.
    pub fn columns(self) -> Columns {
        let in_order = |names: IndexMap<String, (i64, usize)>| {
            let mut names: Vec<(String, (i64, usize))> = names.into_iter().collect();
            names.sort_by_key(|(_, at)| *at);
            names.into_iter().map(|(n, _)| n).collect::<Vec<String>>()
        };
        let params = in_order(self.params);
        let fields = in_order(self.fields);
        let mut header = vec!["key".to_string(), "stage".to_string()];
        header.extend(params.iter().cloned());
        header.extend(fields.iter().map(|f| {
            if params.contains(f) {
                format!("result.{f}")
            } else {
                f.clone()
            }
        }));
        if self.not_object {
            header.push("result".into());
        }
        Columns {
            params,
            fields,
            header,
        }
    }
}

/// Records that the names in `names` appear at plan position `at`, each keeping its earliest.
fn note<'n>(
    seen: &mut IndexMap<String, (i64, usize)>,
    at: i64,
    names: impl Iterator<Item = &'n String>,
) {
    for (i, name) in names.enumerate() {
        match seen.get_mut(name) {
            Some(first) => *first = (*first).min((at, i)),
            None => {
                seen.insert(name.clone(), (at, i));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::Results;

    /// Issue 15: the columns pass reads the stored records in any order (no sort) and finds
    /// the columns, in the order, that reading them in plan order finds.
    #[test]
    fn columns_of_stored_records_in_any_order_are_those_of_plan_order() {
        let stored = [
            (r#"{"x": 1}"#, Some(r#"{"b": 1, "a": 2}"#)),
            (r#"{"y": 1, "x": 2}"#, Some("3")),
            (r#"{"x": 3}"#, Some(r#"{"c": 1, "a": 1, "x": 0}"#)),
            (r#"{"z": 1}"#, Some("not json")),
            (r#"{"x": 4}"#, None),
        ];
        let records = Results {
            run: "r".into(),
            records: stored
                .iter()
                .map(|(p, r)| ResultRecord {
                    key: "k".into(),
                    stage: "main".into(),
                    label: String::new(),
                    params: serde_json::from_str(p).unwrap(),
                    result: r.and_then(|r| serde_json::from_str(r).ok()),
                    attempts: 1,
                    finished_at: None,
                })
                .collect(),
        };
        let mut seen = ColumnsSeen::default();
        for (seq, (p, r)) in stored.iter().enumerate().rev() {
            seen.add_stored(seq as i64, p, *r);
        }
        let columns = seen.columns();
        assert_eq!(columns, Columns::of(&records));
        assert_eq!(
            columns.header,
            ["key", "stage", "x", "y", "z", "b", "a", "c", "result.x", "result"]
        );
    }
}
