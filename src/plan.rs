//! Expands an experiment into tasks with stable, content-derived keys.
//!
//! Order is deterministic odometer order: the first parameter changes slowest, the last fastest,
//! like nested loops in the order the file declares them; `[[include]]` combinations follow.
//! A task's key hashes what determines its result (stage, resolved command, parameters, working
//! directory, declared environment), so it does not depend on the order of the grid.

use crate::spec::{shell_quote, Spec, Stage, Value};
use std::collections::{HashMap, HashSet};

/// Length in hex digits of a task key (64 bits: collisions are negligible below 10^8 tasks).
pub const KEY_LEN: usize = 16;

/// One unit of work: a stage's command for one combination of parameters.
#[derive(Debug, Clone)]
pub struct Task {
    pub key: String,
    /// Index into [`Spec::stages`].
    pub stage: usize,
    /// Values of the stage's parameters, aligned with [`Stage::params`].
    pub values: Vec<Value>,
    /// The command with placeholders substituted (shell-quoted).
    pub command: String,
    /// Environment declared by the experiment, resolved.
    pub env: Vec<(String, String)>,
    /// Keys of the tasks this one waits for.
    pub deps: Vec<String>,
}

/// All tasks of an experiment, in order.
#[derive(Debug)]
pub struct Plan {
    pub tasks: Vec<Task>,
    /// Hash of every key and dependency: equal plans have equal hashes.
    pub hash: String,
}

impl Task {
    /// A readable name: `rep=stats,layers=all` or `train/rep=stats` when the experiment has stages.
    pub fn label(&self, spec: &Spec) -> String {
        let stage = &spec.stages[self.stage];
        let params: Vec<String> = stage
            .params
            .iter()
            .zip(&self.values)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        match (spec.is_staged(), params.is_empty()) {
            (true, true) => stage.name.clone(),
            (true, false) => format!("{}/{}", stage.name, params.join(",")),
            (false, true) => "main".to_string(),
            (false, false) => params.join(","),
        }
    }

    /// Parameters as a JSON object, in grid order.
    pub fn params_json(&self, spec: &Spec) -> serde_json::Map<String, serde_json::Value> {
        let stage = &spec.stages[self.stage];
        stage
            .params
            .iter()
            .zip(&self.values)
            .map(|(n, v)| (n.clone(), v.to_json()))
            .collect()
    }
}

/// For one upstream stage: positions of the shared parameters, and shared values -> keys.
type UpstreamIndex = (Vec<usize>, HashMap<String, Vec<String>>);

/// Expands `spec` into a [`Plan`].
pub fn expand(spec: &Spec) -> Plan {
    let combos = combinations(spec);
    let mut tasks: Vec<Task> = Vec::new();
    // Per stage: projection of upstream values -> keys, for dependency lookup.
    let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); spec.stages.len()];
    for (si, stage) in spec.stages.iter().enumerate() {
        let idx: Vec<usize> = stage
            .params
            .iter()
            .map(|p| {
                spec.params
                    .iter()
                    .position(|g| &g.name == p)
                    .expect("validated")
            })
            .collect();
        let mut seen: HashSet<String> = HashSet::new();
        let upstream: Vec<UpstreamIndex> = stage
            .after
            .iter()
            .map(|a| {
                let ui = spec
                    .stages
                    .iter()
                    .position(|s| &s.name == a)
                    .expect("validated");
                let shared: Vec<usize> = stage
                    .params
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| spec.stages[ui].params.contains(p))
                    .map(|(i, _)| i)
                    .collect();
                let up_stage = &spec.stages[ui];
                let mut map: HashMap<String, Vec<String>> = HashMap::new();
                for &ti in &by_stage[ui] {
                    let t: &Task = &tasks[ti];
                    let proj = projection(shared.iter().map(|&i| {
                        let name = &stage.params[i];
                        &t.values[up_stage
                            .params
                            .iter()
                            .position(|p| p == name)
                            .expect("shared")]
                    }));
                    map.entry(proj).or_default().push(t.key.clone());
                }
                (shared, map)
            })
            .collect();
        for combo in &combos {
            let values: Vec<Value> = idx.iter().map(|&i| combo[i].clone()).collect();
            let task = resolve(spec, si, stage, values);
            if !seen.insert(task.key.clone()) {
                continue;
            }
            let mut task = task;
            for (shared, map) in &upstream {
                let proj = projection(shared.iter().map(|&i| &task.values[i]));
                if let Some(keys) = map.get(&proj) {
                    task.deps.extend(keys.iter().cloned());
                }
            }
            by_stage[si].push(tasks.len());
            tasks.push(task);
        }
    }
    let mut h = blake3::Hasher::new();
    for t in &tasks {
        h.update(t.key.as_bytes());
        for d in &t.deps {
            h.update(d.as_bytes());
        }
        h.update(b"\n");
    }
    Plan {
        tasks,
        hash: h.finalize().to_hex()[..32].to_string(),
    }
}

fn projection<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    let mut s = String::new();
    for v in values {
        s.push_str(&v.to_json().to_string());
        s.push('\0');
    }
    s
}

/// Every combination of the grid in odometer order, minus exclusions, plus inclusions.
fn combinations(spec: &Spec) -> Vec<Vec<Value>> {
    let sizes: Vec<usize> = spec.params.iter().map(|p| p.values.len()).collect();
    let total: usize = sizes.iter().product();
    let mut out = Vec::with_capacity(total + spec.include.len());
    let mut odo = vec![0usize; sizes.len()];
    for _ in 0..total {
        let combo: Vec<Value> = odo
            .iter()
            .enumerate()
            .map(|(i, &j)| spec.params[i].values[j].clone())
            .collect();
        let excluded = spec.exclude.iter().any(|ex| {
            ex.iter().all(|(name, v)| {
                spec.params
                    .iter()
                    .position(|p| &p.name == name)
                    .is_some_and(|i| &combo[i] == v)
            })
        });
        if !excluded {
            out.push(combo);
        }
        for i in (0..odo.len()).rev() {
            odo[i] += 1;
            if odo[i] < sizes[i] {
                break;
            }
            odo[i] = 0;
        }
    }
    for inc in &spec.include {
        out.push(inc.iter().map(|(_, v)| v.clone()).collect());
    }
    out
}

fn resolve(spec: &Spec, si: usize, stage: &Stage, values: Vec<Value>) -> Task {
    let texts: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    let lookup = |name: &str| stage.params.iter().position(|p| p == name);
    let quoted: Vec<String> = texts.iter().map(|t| shell_quote(t).into_owned()).collect();
    let command = stage
        .command
        .render(|n| lookup(n).map(|i| quoted[i].as_str()));
    let env: Vec<(String, String)> = stage
        .env
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.render(|n| lookup(n).map(|i| texts[i].as_str())),
            )
        })
        .collect();
    let mut h = blake3::Hasher::new();
    for part in [
        stage.name.as_str(),
        command.as_str(),
        stage.workdir.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    // By name, so that reordering [params] does not change keys.
    let mut named: Vec<(&String, &Value)> = stage.params.iter().zip(&values).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    for (name, v) in named {
        h.update(name.as_bytes());
        h.update(b"=");
        h.update(v.to_json().to_string().as_bytes());
        h.update(b"\0");
    }
    for (k, v) in &env {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    let _ = spec;
    let key = h.finalize().to_hex()[..KEY_LEN].to_string();
    Task {
        key,
        stage: si,
        values,
        command,
        env,
        deps: Vec::new(),
    }
}
