//! A task's key: what determines its result (stage, resolved command, parameters by name,
//! working directory, declared environment) hashed with blake3, then folded with its stage's
//! input digests and, under [`KeyScheme::Lineage`], its upstream keys.

use super::{Identity, KeyScheme, Task, KEY_LEN};
use crate::spec::{Spec, Stage, Value};

/// Parameter values with their texts computed once, not once per task: as text (commands, which
/// quote it for each placeholder's place; env; labels) and typed JSON (keys). Values named only by `[[include]]` tables are
/// appended after the grid's own.
pub(super) struct ValueTable {
    values: Vec<Vec<Value>>,
    text: Vec<Vec<String>>,
    json: Vec<Vec<String>>,
}

impl ValueTable {
    pub(super) fn new(spec: &Spec) -> ValueTable {
        let values: Vec<Vec<Value>> = spec.params.iter().map(|p| p.values.clone()).collect();
        let mut t = ValueTable {
            values: Vec::new(),
            text: Vec::new(),
            json: Vec::new(),
        };
        for vs in values {
            t.text.push(vs.iter().map(|v| v.to_string()).collect());
            t.json
                .push(vs.iter().map(|v| v.to_json().to_string()).collect());
            t.values.push(vs);
        }
        t
    }

    /// The index of value `v` of parameter `p`, appending it if the grid does not have it.
    pub(super) fn index_of(&mut self, p: usize, v: &Value) -> u32 {
        if let Some(i) = self.values[p].iter().position(|x| x == v) {
            return i as u32;
        }
        self.text[p].push(v.to_string());
        self.json[p].push(v.to_json().to_string());
        self.values[p].push(v.clone());
        (self.values[p].len() - 1) as u32
    }
}

/// The key of a task whose own key is `own`: with its stage's input digests and, under
/// [`KeyScheme::Lineage`], its upstream keys (sorted, so that the order of `after` does not
/// matter). A task with neither keeps its own key, so experiments without stages or inputs keep
/// the keys they had before lineage existed.
pub(super) fn fold_lineage(
    own: String,
    identity: &Identity,
    stage: usize,
    deps: &[String],
) -> String {
    let inputs = identity.inputs.of_stage(stage);
    let deps = match identity.scheme {
        KeyScheme::Lineage => deps,
        KeyScheme::Own => &[],
    };
    if inputs.is_empty() && deps.is_empty() {
        return own;
    }
    let mut h = blake3::Hasher::new();
    h.update(b"lineage\0");
    h.update(own.as_bytes());
    for (path, digest) in inputs {
        h.update(b"\0input\0");
        h.update(path.as_bytes());
        h.update(b"=");
        h.update(digest.as_bytes());
    }
    let mut sorted: Vec<&String> = deps.iter().collect();
    sorted.sort();
    for d in sorted {
        h.update(b"\0after\0");
        h.update(d.as_bytes());
    }
    h.finalize().to_hex()[..KEY_LEN].to_string()
}

/// Positions in `stage.params`, ordered by parameter name: keys hash parameters by name, so that
/// reordering `[params]` does not change them.
pub(super) fn sorted_by_name(stage: &Stage) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stage.params.len()).collect();
    order.sort_by(|&a, &b| stage.params[a].cmp(&stage.params[b]));
    order
}

/// One task of `stage`: `params` are the grid positions of its parameters, `proj` their value
/// indices.
pub(super) fn resolve(
    table: &ValueTable,
    si: usize,
    stage: &Stage,
    params: &[usize],
    proj: &[u32],
    by_name: &[usize],
) -> Task {
    let lookup = |name: &str| stage.params.iter().position(|p| p == name);
    let command = stage
        .command
        .render(|n| lookup(n).map(|i| table.text[params[i]][proj[i] as usize].as_str()));
    let env: Vec<(String, String)> = stage
        .env
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.render(|n| lookup(n).map(|i| table.text[params[i]][proj[i] as usize].as_str())),
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
    for &i in by_name {
        h.update(stage.params[i].as_bytes());
        h.update(b"=");
        h.update(table.json[params[i]][proj[i] as usize].as_bytes());
        h.update(b"\0");
    }
    for (k, v) in &env {
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
        h.update(b"\0");
    }
    Task {
        key: h.finalize().to_hex()[..KEY_LEN].to_string(),
        stage: si,
        values: params
            .iter()
            .zip(proj)
            .map(|(&p, &i)| table.values[p][i as usize].clone())
            .collect(),
        command,
        env,
        deps: Vec::new(),
    }
}
