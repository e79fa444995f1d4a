//! The Markdown's GPU line and "Dependencies (Versions)" table.

use super::build::NO_PROVENANCE;
use super::markdown::{cell, na, Doc, TABLE_CAP};
use crate::provenance::model::Probed;

pub(super) fn gpu_line(g: &crate::provenance::model::Gpus) -> String {
    let mut names: Vec<(String, usize)> = Vec::new();
    for dev in &g.devices {
        match names.iter_mut().find(|(n, _)| *n == dev.name) {
            Some((_, c)) => *c += 1,
            None => names.push((dev.name.clone(), 1)),
        }
    }
    if names.is_empty() {
        return na("no GPU visible");
    }
    names
        .iter()
        .map(|(n, c)| format!("{n} x {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A chosen package's version, `not installed`, or why packages are unknown.
pub(super) fn package(d: &Doc, name: &str) -> String {
    d.prov(
        |p| &p.packages,
        |pk| {
            pk.chosen
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.version.clone())
                .or_else(|| {
                    pk.all
                        .iter()
                        .find(|p| p.name == name)
                        .map(|p| p.version.clone())
                })
                .unwrap_or_else(|| "not installed".into())
        },
    )
}

pub(super) fn dependencies(d: &mut Doc) {
    d.heading("Dependencies (Versions)");
    d.line("| name | version |");
    d.line("| --- | --- |");
    let names: Vec<String> = match d.a.provenance.value().and_then(|p| p.packages.value()) {
        Some(pk) => pk.chosen.iter().map(|c| c.name.clone()).collect(),
        None => crate::spec::archive::DEFAULT_PACKAGES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let mut shown = Vec::new();
    for name in names.iter().take(TABLE_CAP) {
        let v = package(d, name);
        d.line(format!("| {} | {} |", cell(name), cell(&v)));
        shown.push(format!("{name}={v}"));
    }
    if names.len() > TABLE_CAP {
        d.line(format!(
            "\n{} more packages left out (see the JSON archive).",
            names.len() - TABLE_CAP
        ));
    }
    if let Some(pk) = d.a.provenance.value().and_then(|p| p.packages.value()) {
        d.line(format!(
            "\n{} packages installed in all (listed in the JSON archive).",
            pk.all.len()
        ));
    }
    let deps = match d.a.provenance.value().map(|p| &p.packages) {
        None => na(NO_PROVENANCE),
        Some(Probed::Na(why)) => na(why),
        Some(Probed::Value(_)) => shown.join(", "),
    };
    d.check(
        "Dependencies",
        "transformers/megatron/apex/te",
        "Key versions",
        &deps,
    );
}
