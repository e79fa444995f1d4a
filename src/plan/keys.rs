//! A task's key: what determines its result (stage, resolved command, parameters by name,
//! working directory, declared environment) hashed with blake3, then folded with its stage's
//! input digests and, under [`KeyScheme::Lineage`], its upstream keys.

use super::{Identity, Key, KeyScheme};
use crate::spec::{Spec, Stage, Value};

/// Parameter values with their texts computed once, not once per task: as text (commands, which
/// quote it for each placeholder's place; env; labels) and typed JSON (keys). Values named only by `[[include]]` tables are
/// appended after the grid's own.
#[derive(Debug)]
pub(super) struct ValueTable {
    pub(super) values: Vec<Vec<Value>>,
    pub(super) text: Vec<Vec<String>>,
    /// The JSON text of a value whose JSON text is not its text (`None` for integers: a range
    /// of a million values held each text twice, issue 15).
    json: Vec<Vec<Option<String>>>,
}

/// A value's JSON text, if it is not the value's text `text`.
fn json_unless(v: &Value, text: &str) -> Option<String> {
    match v {
        Value::Int(_) => None,
        _ => Some(v.to_json().to_string()).filter(|j| j != text),
    }
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
            let text: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
            t.json.push(
                vs.iter()
                    .zip(&text)
                    .map(|(v, s)| json_unless(v, s))
                    .collect(),
            );
            t.text.push(text);
            t.values.push(vs);
        }
        t
    }

    /// The index of value `v` of parameter `p`, appending it if the grid does not have it.
    pub(super) fn index_of(&mut self, p: usize, v: &Value) -> u32 {
        if let Some(i) = self.values[p].iter().position(|x| x == v) {
            return i as u32;
        }
        let text = v.to_string();
        self.json[p].push(json_unless(v, &text));
        self.text[p].push(text);
        self.values[p].push(v.clone());
        (self.values[p].len() - 1) as u32
    }

    /// The JSON text of value `i` of parameter `p`, as keys hash it.
    pub(super) fn json(&self, p: usize, i: usize) -> &str {
        self.json[p][i].as_deref().unwrap_or(&self.text[p][i])
    }
}

/// The key of a task whose own key is `own`: with its stage's input digests and, under
/// [`KeyScheme::Lineage`], its upstream keys (sorted, so that the order of `after` does not
/// matter). A task with neither keeps its own key, so experiments without stages or inputs keep
/// the keys they had before lineage existed.
pub(super) fn fold_lineage(own: Key, identity: &Identity, stage: usize, deps: &[Key]) -> Key {
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
    let mut sorted: Vec<&Key> = deps.iter().collect();
    sorted.sort();
    for d in sorted {
        h.update(b"\0after\0");
        h.update(d.as_bytes());
    }
    Key::from_digest(&h.finalize())
}

/// The plan's hash of every key and dependency, fed to blake3 in 64 KiB pieces: the digest is
/// that of the same bytes fed one key at a time, but a large piece is hashed several chunks at
/// once (SIMD), and a million 16-byte `update`s cost more than the hashing itself (issue 15).
pub(super) struct PlanHasher {
    hasher: blake3::Hasher,
    pending: Vec<u8>,
}

impl PlanHasher {
    const PIECE: usize = 64 << 10;

    pub(super) fn new() -> PlanHasher {
        PlanHasher {
            hasher: blake3::Hasher::new(),
            pending: Vec::with_capacity(Self::PIECE),
        }
    }

    pub(super) fn update(&mut self, bytes: &[u8]) {
        if self.pending.len() + bytes.len() > Self::PIECE {
            self.hasher.update(&self.pending);
            self.pending.clear();
        }
        self.pending.extend_from_slice(bytes);
    }

    pub(super) fn finalize(mut self) -> blake3::Hash {
        self.hasher.update(&self.pending);
        self.hasher.finalize()
    }
}

/// Positions in `stage.params`, ordered by parameter name: keys hash parameters by name, so that
/// reordering `[params]` does not change them.
pub(super) fn sorted_by_name(stage: &Stage) -> Vec<usize> {
    let mut order: Vec<usize> = (0..stage.params.len()).collect();
    order.sort_by(|&a, &b| stage.params[a].cmp(&stage.params[b]));
    order
}

/// The text of the value a task of `stage` gives the placeholder `name`: `params` are the grid
/// positions of the stage's parameters, `proj` the task's value indices of them.
fn text_of<'t>(
    table: &'t ValueTable,
    stage: &Stage,
    params: &[usize],
    proj: &[u32],
    name: &str,
) -> Option<&'t str> {
    let i = stage.params.iter().position(|p| p == name)?;
    Some(table.text[params[i]][proj[i] as usize].as_str())
}

/// The command of one task of `stage`, placeholders substituted (see [`text_of`]).
pub(super) fn command(table: &ValueTable, stage: &Stage, params: &[usize], proj: &[u32]) -> String {
    stage
        .command
        .render(|n| text_of(table, stage, params, proj, n))
}

/// The declared environment of one task of `stage`, resolved (see [`text_of`]).
pub(super) fn env(
    table: &ValueTable,
    stage: &Stage,
    params: &[usize],
    proj: &[u32],
) -> Vec<(String, String)> {
    stage
        .env
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.render(|n| text_of(table, stage, params, proj, n)),
            )
        })
        .collect()
}

/// The own key of one task of `stage` (see [`text_of`]): what the command, environment and
/// parameters the plan renders for it when it runs hash to. `buf` is scratch space, reused from
/// task to task (issue 15: a plan of a million tasks allocated a command for each). The whole
/// input is written into it and hashed at once: blake3 gives the same digest as the piecewise
/// updates this replaced, and one call costs a fraction of a dozen small `update`s.
pub(super) fn own_key(
    table: &ValueTable,
    stage: &Stage,
    (params, proj): (&[usize], &[u32]),
    by_name: &[usize],
    buf: &mut String,
) -> Key {
    buf.clear();
    buf.push_str(&stage.name);
    buf.push('\0');
    stage
        .command
        .render_into(buf, |n| text_of(table, stage, params, proj, n));
    buf.push('\0');
    buf.push_str(&stage.workdir);
    buf.push('\0');
    for &i in by_name {
        buf.push_str(&stage.params[i]);
        buf.push('=');
        buf.push_str(table.json(params[i], proj[i] as usize));
        buf.push('\0');
    }
    if !stage.env.is_empty() {
        for (k, v) in &env(table, stage, params, proj) {
            buf.push_str(k);
            buf.push('=');
            buf.push_str(v);
            buf.push('\0');
        }
    }
    Key::from_digest(&blake3::hash(buf.as_bytes()))
}
