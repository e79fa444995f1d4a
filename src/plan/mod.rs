//! Expands an experiment into tasks with stable, content-derived keys.
//!
//! Order is deterministic odometer order: the first parameter changes slowest, the last fastest,
//! like nested loops in the order the file declares them; `[[include]]` combinations follow.
//! A task's key hashes what determines its result (stage, resolved command, parameters, working
//! directory, declared environment), so it does not depend on the order of the grid. Under
//! [`KeyScheme::Lineage`] (every run made since labtrail 0.4) it also covers the keys of the
//! tasks it waits for, so a change upstream reaches every task downstream, and the content of the
//! stage's declared [`inputs`].

mod axes;
pub mod filter;
pub(crate) mod glob_walk;
mod input_files;
pub mod inputs;
mod key;
mod keys;
pub mod sample;
mod task;
pub mod upstream;

use crate::spec::Spec;
use crate::store::{NewTask, PlanRows};
pub use inputs::Inputs;
pub use key::Key;
use keys::{fold_lineage, own_key, sorted_by_name, PlanHasher, ValueTable};
use std::collections::{HashMap, HashSet};
pub use task::Task;

/// Length in hex digits of a task key (64 bits: collisions are negligible below 10^8 tasks).
pub const KEY_LEN: usize = 16;

/// What task keys cover beyond a task's own configuration. A run keeps the scheme it was made
/// with (the store records it), so upgrading labtrail never changes the keys of a run's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScheme {
    /// Runs made before labtrail 0.4: the task's own configuration (and declared inputs, if the
    /// experiment file gains some); a change upstream does not change downstream keys.
    Own = 1,
    /// The task's own configuration, the keys of its upstream tasks, and its declared inputs.
    Lineage = 2,
}

impl KeyScheme {
    /// The scheme with this stored number; unknown numbers (a newer labtrail) are `None`.
    pub fn from_number(n: i64) -> Option<KeyScheme> {
        match n {
            1 => Some(KeyScheme::Own),
            2 => Some(KeyScheme::Lineage),
            _ => None,
        }
    }
}

/// How a plan's keys are made: the scheme and the declared inputs' digests.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub scheme: KeyScheme,
    pub inputs: &'a Inputs,
}

/// Inputs of an experiment that declares none.
static NO_INPUTS: Inputs = Inputs {
    by_stage: Vec::new(),
};

impl Identity<'static> {
    /// The scheme of new runs, for an experiment without declared inputs.
    pub fn without_inputs() -> Identity<'static> {
        Identity {
            scheme: KeyScheme::Lineage,
            inputs: &NO_INPUTS,
        }
    }
}

/// All tasks of an experiment, in order.
#[derive(Debug)]
pub struct Plan {
    pub tasks: Vec<Task>,
    /// Hash of every key and dependency: equal plans have equal hashes.
    pub hash: String,
    /// How the keys were made.
    pub scheme: KeyScheme,
    /// The declared inputs' digests the keys cover (none when the experiment declares none).
    pub inputs: Inputs,
    /// The tasks' value indices and upstream tasks, and the values they index.
    arrays: task::Arrays,
}

impl Plan {
    /// The plan as the store records it (see [`crate::store::Store::sync_plan`]): each task's
    /// stage name, label, parameters and working directory worked out from `spec`, the spec this
    /// plan was expanded from. The rows are made as the store reads them.
    pub fn store_rows<'a>(&'a self, spec: &'a Spec) -> PlanRows<'a> {
        PlanRows {
            // Absolute: a run's stored file places its working directories, and a monitor or
            // reset started from another folder must find them where `run` did (issue 11).
            spec_path: std::path::absolute(&spec.path)
                .unwrap_or_else(|_| spec.path.clone())
                .display()
                .to_string(),
            spec_text: spec.text_to_record(),
            tasks: Box::new(self.tasks.iter().enumerate().map(move |(i, t)| {
                let stage = &spec.stages[t.stage];
                NewTask {
                    key: &t.key,
                    stage: &stage.name,
                    label: self.label(i, spec),
                    params: self.params_json(i, spec),
                    command: self.command(i, spec),
                    workdir: &stage.workdir,
                    env: self.env(i, spec),
                    deps: self.dep_keys(i).map(|k| k.as_str()).collect(),
                }
            })),
            inputs: self.inputs.to_json(spec),
        }
    }
}

/// For one upstream stage: the grid positions of the parameters it shares with a stage, and its
/// tasks by their value indices of those parameters.
type UpstreamIndex = (Vec<usize>, HashMap<Vec<u32>, Vec<usize>>);

/// Expands `spec` into a [`Plan`] with the keys of new runs, for an experiment that declares no
/// `inputs` (those of one that does are hashed as an empty list: use [`expand_with`]).
pub fn expand(spec: &Spec) -> Plan {
    expand_with(spec, &Identity::without_inputs())
}

/// Expands `spec` into a [`Plan`] whose keys are made as `identity` says.
pub fn expand_with(spec: &Spec, identity: &Identity) -> Plan {
    let mut table = ValueTable::new(spec);
    let position = |name: &str| {
        spec.params
            .iter()
            .position(|g| g.name == name)
            .expect("validated")
    };
    let includes: Vec<Vec<u32>> = spec
        .include
        .iter()
        .map(|inc| {
            inc.iter()
                .map(|(n, v)| table.index_of(position(n), v))
                .collect()
        })
        .collect();
    // Exclusion rules as (parameter, value index); a rule naming a value the grid lacks never matches.
    let rules: Vec<Vec<(usize, u32)>> = spec
        .exclude
        .iter()
        .filter_map(|ex| {
            ex.iter()
                .map(|(n, v)| {
                    spec.params[position(n)]
                        .values
                        .iter()
                        .position(|x| x == v)
                        .map(|i| (position(n), i as u32))
                })
                .collect()
        })
        .collect();
    let excluded = |c: &[u32]| rules.iter().any(|r| r.iter().all(|&(p, i)| c[p] == i));
    let axes = axes::Axes::new(spec);
    let picked = axes::picked_combinations(spec, &axes, &excluded);
    let picked_set: Option<HashSet<Vec<u32>>> = picked.as_ref().map(|p| {
        let mut combo = vec![0u32; spec.params.len()];
        p.iter()
            .map(|&i| {
                axes.decode(i, &mut combo);
                combo.clone()
            })
            .collect()
    });
    let in_grid = |c: &[u32]| match &picked_set {
        Some(set) => set.contains(c),
        None => axes.contains(c) && !excluded(c),
    };
    // Includes that repeat a grid combination, or each other, add nothing.
    let mut extra: Vec<&Vec<u32>> = Vec::new();
    for inc in &includes {
        if !in_grid(inc) && !extra.contains(&inc) {
            extra.push(inc);
        }
    }
    let mut arrays = task::Arrays {
        table,
        stage_params: spec
            .stages
            .iter()
            .map(|s| s.params.iter().map(|p| position(p)).collect())
            .collect(),
        values: Vec::new(),
        deps: Vec::new(),
    };
    let mut tasks: Vec<Task> = Vec::new();
    let mut by_stage: Vec<Vec<usize>> = vec![Vec::new(); spec.stages.len()];
    let mut deps: Vec<u32> = Vec::new();
    let mut dep_keys: Vec<Key> = Vec::new();
    let mut h = PlanHasher::new();
    for (si, stage) in spec.stages.iter().enumerate() {
        let params = arrays.stage_params[si].clone();
        let full = params.len() == spec.params.len();
        // For each upstream stage: which of this stage's parameters it shares, and its tasks by
        // their values of those parameters.
        let upstream: Vec<UpstreamIndex> = stage
            .after
            .iter()
            .map(|a| {
                let ui = spec
                    .stages
                    .iter()
                    .position(|s| &s.name == a)
                    .expect("validated");
                let up = &spec.stages[ui];
                let shared: Vec<usize> = stage
                    .params
                    .iter()
                    .filter(|p| up.params.contains(p))
                    .map(|p| position(p))
                    .collect();
                let up_pos = &arrays.stage_params[ui];
                let at: Vec<usize> = shared
                    .iter()
                    .map(|g| up_pos.iter().position(|x| x == g).expect("shared"))
                    .collect();
                let mut map: HashMap<Vec<u32>, Vec<usize>> = HashMap::new();
                for &ti in &by_stage[ui] {
                    let start = tasks[ti].values_at();
                    let proj = at.iter().map(|&k| arrays.values[start + k]).collect();
                    map.entry(proj).or_default().push(ti);
                }
                (shared, map)
            })
            .collect();
        let by_name = sorted_by_name(stage);
        let mut seen: HashSet<Vec<u32>> = HashSet::new();
        let mut proj: Vec<u32> = Vec::with_capacity(params.len());
        let mut command = String::new();
        let mut emit = |combo: &[u32]| {
            proj.clear();
            proj.extend(params.iter().map(|&p| combo[p]));
            if !full && !seen.insert(proj.clone()) {
                return;
            }
            let own = own_key(
                &arrays.table,
                stage,
                (&params, &proj),
                &by_name,
                &mut command,
            );
            deps.clear();
            for (shared, map) in &upstream {
                let key: Vec<u32> = shared.iter().map(|&g| combo[g]).collect();
                if let Some(up) = map.get(&key) {
                    deps.extend(up.iter().map(|&ti| ti as u32));
                }
            }
            dep_keys.clear();
            dep_keys.extend(deps.iter().map(|&d| tasks[d as usize].key));
            let key = fold_lineage(own, identity, si, &dep_keys);
            // Hash of every key and dependency, in plan order.
            h.update(key.as_bytes());
            for d in &dep_keys {
                h.update(d.as_bytes());
            }
            h.update(b"\n");
            if spec.stages.len() > 1 {
                by_stage[si].push(tasks.len());
            }
            tasks.push(arrays.push(key, si, &proj, &deps));
        };
        axes.for_each(excluded, picked.as_deref(), &mut emit);
        for inc in &extra {
            emit(inc);
        }
    }
    Plan {
        tasks,
        hash: h.finalize().to_hex()[..32].to_string(),
        scheme: identity.scheme,
        inputs: identity.inputs.clone(),
        arrays,
    }
}
