//! `labtrail results`: the merged results of every finished task.

use super::output::Global;
use crate::store::TaskState;
use serde_json::{Map, Value};
use std::io::Write;

/// Print the results of every done task: parameters plus the JSON each task wrote to
/// $LABTRAIL_RESULT.
///
/// CSV has one column per parameter and one per top-level result field (nested values are
/// written as JSON).
///
/// Examples:
///   labtrail results --format csv > results.csv
///   labtrail results --format jsonl | jq -c '{rep: .params.rep, acc: .result.val_acc}'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ResultsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
}

fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn run(g: &Global, args: ResultsArgs) -> anyhow::Result<i32> {
    let store = g.open_store()?;
    let run = store.resolve_run(args.run.as_deref())?;
    let tasks = store.tasks(&run, Some(TaskState::Done))?;
    let records: Vec<Value> = tasks
        .iter()
        .map(|t| {
            serde_json::json!({
                "key": t.key, "stage": t.stage, "label": t.label, "params": t.params,
                "result": t.result, "attempts": t.attempts, "finished_at": t.finished_at,
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&records)?)?,
        Format::Jsonl => {
            for r in &records {
                writeln!(out, "{r}")?;
            }
        }
        Format::Csv => {
            let mut params: Vec<String> = Vec::new();
            let mut fields: Vec<String> = Vec::new();
            for t in &tasks {
                for k in t
                    .params
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    if !params.contains(&k) {
                        params.push(k);
                    }
                }
                if let Some(Value::Object(o)) = &t.result {
                    for k in o.keys() {
                        if !fields.contains(k) {
                            fields.push(k.clone());
                        }
                    }
                }
            }
            let mut header = vec!["key".to_string(), "stage".to_string()];
            header.extend(params.iter().cloned());
            header.extend(fields.iter().map(|f| {
                if params.contains(f) {
                    format!("result.{f}")
                } else {
                    f.clone()
                }
            }));
            if tasks
                .iter()
                .any(|t| matches!(&t.result, Some(v) if !v.is_object()))
            {
                header.push("result".into());
            }
            writeln!(
                out,
                "{}",
                header
                    .iter()
                    .map(|h| csv_cell(&Value::String(h.clone())))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            let empty = Map::new();
            for t in &tasks {
                let p = t.params.as_object().unwrap_or(&empty);
                let mut row = vec![
                    csv_cell(&Value::String(t.key.clone())),
                    csv_cell(&Value::String(t.stage.clone())),
                ];
                row.extend(
                    params
                        .iter()
                        .map(|k| csv_cell(p.get(k).unwrap_or(&Value::Null))),
                );
                let r = match &t.result {
                    Some(Value::Object(o)) => o,
                    _ => &empty,
                };
                row.extend(
                    fields
                        .iter()
                        .map(|k| csv_cell(r.get(k).unwrap_or(&Value::Null))),
                );
                if header.last().is_some_and(|h| h == "result") {
                    row.push(match &t.result {
                        Some(v) if !v.is_object() => csv_cell(v),
                        _ => String::new(),
                    });
                }
                writeln!(out, "{}", row.join(","))?;
            }
        }
    }
    Ok(0)
}
