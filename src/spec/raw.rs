//! The experiment file as TOML gives it, before validation. Spans are kept so that every later
//! error can point at a line.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

pub type SpannedMap = IndexMap<String, Spanned<toml::Value>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    pub experiment: Spanned<RawExperiment>,
    #[serde(default)]
    pub params: Option<Spanned<SpannedMap>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<SpannedMap>>,
    #[serde(default)]
    pub include: Vec<Spanned<SpannedMap>>,
    #[serde(default)]
    pub grid: Option<Spanned<RawGrid>>,
    #[serde(default)]
    pub stage: Vec<Spanned<RawStage>>,
    #[serde(default)]
    pub run: RawRun,
    #[serde(default)]
    pub slurm: Option<Spanned<SpannedMap>>,
    #[serde(default)]
    pub restart: Option<Spanned<SpannedMap>>,
    #[serde(default)]
    pub archive: Option<Spanned<super::archive::RawArchive>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub command: Option<Spanned<String>>,
    #[serde(default)]
    pub workdir: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub inputs: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    pub name: Spanned<String>,
    pub command: Spanned<String>,
    #[serde(default)]
    pub params: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub after: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub workdir: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub inputs: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub artifacts: Option<Spanned<Vec<String>>>,
    /// GPUs each task of this stage gets (issue 14; see `devices.rs`).
    #[serde(default)]
    pub gpus_per_task: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    #[serde(default)]
    pub workers: Option<Spanned<i64>>,
    #[serde(default)]
    pub retries: Option<Spanned<i64>>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub backoff: Option<Spanned<String>>,
    #[serde(default)]
    pub grace: Option<Spanned<String>>,
    #[serde(default)]
    pub executor: Option<Spanned<String>>,
    /// The GPUs the workers share out: a list, or `"auto"` (issue 14; see `devices.rs`).
    #[serde(default)]
    pub gpus: Option<Spanned<toml::Value>>,
    /// GPUs each task gets, unless its stage says otherwise.
    #[serde(default)]
    pub gpus_per_task: Option<Spanned<i64>>,
}

/// `[grid]`: how the product of `[params]` is walked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGrid {
    #[serde(default)]
    pub sample: Option<Spanned<i64>>,
    #[serde(default)]
    pub sample_seed: Option<Spanned<i64>>,
}
