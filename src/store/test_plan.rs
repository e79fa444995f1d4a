//! Test support: a plan of trivial tasks of one stage, for the store's unit tests.

use super::{NewTask, PlanRows};

/// A plan of one task per key (stage `main`, label `k=KEY`, `true`, no parameters or links).
pub(super) fn plan_of<'a>(keys: &'a [&'a str]) -> PlanRows<'a> {
    PlanRows {
        spec_path: "exp.toml".into(),
        spec_text: "".into(),
        tasks: Box::new(keys.iter().map(|&key| NewTask {
            key,
            stage: "main",
            label: format!("k={key}"),
            params: serde_json::Map::new(),
            command: "true".into(),
            workdir: ".",
            env: Vec::new(),
            deps: Vec::new(),
        })),
        inputs: None,
    }
}
