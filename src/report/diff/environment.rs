//! Environment: the host, its OS and CPU, the GPUs, the tasks' Python, and the allowlisted
//! environment variables (the volatile SLURM ones left out).

use super::values::bytes;
use super::{both, field, new_section};
use crate::provenance::model::{Gpus, Host, Provenance, Python};
use crate::report::archive::model::{Archive, DiffSection};
use std::collections::BTreeSet;

/// A field of a captured fact: its key and how to read it.
type Field<T> = (&'static str, fn(&T) -> Option<String>);

/// The `environment` section.
pub fn section(a: &Archive, b: &Archive) -> DiffSection {
    let mut s = new_section("environment");
    let Some((pa, pb)) = both(&mut s, "provenance", &a.provenance, &b.provenance) else {
        return s;
    };
    host(&mut s, pa, pb);
    gpus(&mut s, pa, pb);
    python(&mut s, pa, pb);
    env_vars(&mut s, pa, pb);
    s
}

fn host(s: &mut DiffSection, a: &Provenance, b: &Provenance) {
    let Some((x, y)) = both(s, "host", &a.host, &b.host) else {
        return;
    };
    let fields: [Field<Host>; 7] = [
        ("host", |h| Some(h.hostname.clone())),
        ("user", |h| Some(h.user.clone())),
        ("os", |h| Some(h.os.clone())),
        ("kernel", |h| Some(h.kernel.clone())),
        ("arch", |h| Some(h.arch.clone())),
        ("cpu", |h| Some(format!("{} × {}", h.cpus, h.cpu_model))),
        ("memory", |h| Some(bytes(h.memory_bytes))),
    ];
    for (key, get) in fields {
        s.entries.push(field(key, get(x), get(y)));
    }
}

fn gpus(s: &mut DiffSection, a: &Provenance, b: &Provenance) {
    let Some((x, y)) = both(s, "gpus", &a.gpus, &b.gpus) else {
        return;
    };
    let fields: [Field<Gpus>; 4] = [
        ("gpus", |g| Some(models(g))),
        ("driver", |g| Some(g.driver.clone())),
        ("cuda", |g| Some(g.cuda.clone())),
        ("cuda_visible_devices", |g| g.visible.clone()),
    ];
    for (key, get) in fields {
        s.entries.push(field(key, get(x), get(y)));
    }
}

/// `2 × NVIDIA A100-SXM4-80GB, 1 × Tesla T4`: models with their counts, in first-seen order.
fn models(g: &Gpus) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for d in &g.devices {
        match counts.iter_mut().find(|(name, _)| *name == d.name) {
            Some((_, n)) => *n += 1,
            None => counts.push((&d.name, 1)),
        }
    }
    if counts.is_empty() {
        return "none".to_string();
    }
    let parts: Vec<String> = counts.iter().map(|(m, n)| format!("{n} × {m}")).collect();
    parts.join(", ")
}

fn python(s: &mut DiffSection, a: &Provenance, b: &Provenance) {
    let Some((x, y)) = both(s, "python", &a.python, &b.python) else {
        return;
    };
    let fields: [Field<Python>; 4] = [
        ("python", |p| p.version.clone()),
        ("python_executable", |p| Some(p.executable.clone())),
        ("venv", |p| p.venv.clone()),
        ("conda_env", |p| p.conda_env.clone()),
    ];
    for (key, get) in fields {
        s.entries.push(field(key, get(x), get(y)));
    }
}

fn env_vars(s: &mut DiffSection, a: &Provenance, b: &Provenance) {
    let names: BTreeSet<&String> = a.env.vars.keys().chain(b.env.vars.keys()).collect();
    for name in names.into_iter().filter(|n| !is_volatile_env(n)) {
        s.entries.push(field(
            format!("env.{name}"),
            a.env.vars.get(name).cloned(),
            b.env.vars.get(name).cloned(),
        ));
    }
}

/// Whether an environment variable names this one job rather than how it was set up: SLURM's
/// job, step, array task and process ids, its node lists and times. They differ on every run.
pub fn is_volatile_env(name: &str) -> bool {
    let slurm = name.starts_with("SLURM_") || name.starts_with("SLURMD_");
    slurm
        && (name.ends_with("ID")
            || name.contains("NODELIST")
            || name.contains("NODENAME")
            || name.ends_with("_TIME")
            || name.contains("TOPOLOGY"))
}
