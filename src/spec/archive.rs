//! `[archive]`: what a run captures for its provenance archive beyond what labtrail knows by
//! itself, and `artifacts` of a stage. None of it is part of a task's identity: changing it
//! never makes a done task run again.

use super::{line_col, SpecError};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// seed 004's "Dependencies" table: the packages every archive names, found or `not installed`.
pub const DEFAULT_PACKAGES: &[&str] = &[
    "torch",
    "transformers",
    "megatron-core",
    "apex",
    "transformer-engine",
    "vllm",
];

/// Environment variables captured by default (a trailing `*` matches any suffix). Values of
/// names that look secret are redacted even when listed.
pub const DEFAULT_ENV: &[&str] = &[
    "CUDA_*",
    "CUDNN_*",
    "NCCL_*",
    "NVIDIA_*",
    "SLURM_*",
    "LABTRAIL_*",
    "PYTHON*",
    "CONDA_*",
    "VIRTUAL_ENV",
    "OMP_*",
    "MKL_*",
    "TORCH_*",
    "HF_HOME",
    "HF_DATASETS_CACHE",
    "TRANSFORMERS_CACHE",
    "LD_LIBRARY_PATH",
    "PATH",
];

/// The largest patch stored by default (5 MiB); over it only its diffstat and checksum are kept.
pub const DEFAULT_PATCH_CAP: u64 = 5 << 20;

/// The largest untracked file put into the patch (1 MiB); bigger ones are listed as omitted.
pub const UNTRACKED_FILE_CAP: u64 = 1 << 20;

/// `[archive]` as validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveSettings {
    /// Whether to capture provenance at all (`capture = false` turns it off).
    pub capture: bool,
    /// Glob patterns of data files (relative to the experiment file's folder) to snapshot.
    pub data: Vec<String>,
    /// Environment allowlist: [`DEFAULT_ENV`] followed by the file's `env` patterns.
    pub env: Vec<String>,
    /// Packages to name in the Dependencies table ([`DEFAULT_PACKAGES`] unless given).
    pub packages: Vec<String>,
    /// The patch cap in bytes.
    pub patch_cap: u64,
    /// The interpreter the tasks use, when it is not the `python3` on their PATH.
    pub python: Option<String>,
    /// Metric keys whose best value is the smallest / the largest, overriding the guess from the
    /// name (`loss` → min, `acc` → max).
    pub minimize: Vec<String>,
    pub maximize: Vec<String>,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings {
            capture: true,
            data: Vec::new(),
            env: DEFAULT_ENV.iter().map(|s| s.to_string()).collect(),
            packages: DEFAULT_PACKAGES.iter().map(|s| s.to_string()).collect(),
            patch_cap: DEFAULT_PATCH_CAP,
            python: None,
            minimize: Vec::new(),
            maximize: Vec::new(),
        }
    }
}

/// `[archive]` as TOML gives it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArchive {
    #[serde(default)]
    pub capture: Option<bool>,
    #[serde(default)]
    pub data: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub packages: Option<Vec<String>>,
    #[serde(default)]
    pub patch_cap_mib: Option<u64>,
    #[serde(default)]
    pub python: Option<String>,
    #[serde(default)]
    pub minimize: Option<Vec<String>>,
    #[serde(default)]
    pub maximize: Option<Vec<String>>,
}

/// Validates `[archive]`: every pattern a valid glob, no empty names.
pub(super) fn archive_settings(
    path: &Path,
    source: &str,
    raw: Option<&Spanned<RawArchive>>,
) -> Result<ArchiveSettings, SpecError> {
    let mut s = ArchiveSettings::default();
    let Some(raw) = raw else { return Ok(s) };
    let err = |message: String, help: &str| SpecError {
        path: path.to_path_buf(),
        line_col: Some(line_col(source, raw.span().start)),
        message,
        help: Some(help.to_string()),
    };
    let r = raw.get_ref();
    let names = |field: &str, list: &Option<Vec<String>>| -> Result<Vec<String>, SpecError> {
        let list = list.clone().unwrap_or_default();
        if let Some(bad) = list
            .iter()
            .find(|n| n.trim().is_empty() || n.chars().any(char::is_control))
        {
            return Err(err(
                format!("archive.{field} has an empty or invalid entry {bad:?}"),
                "give names without control characters",
            ));
        }
        Ok(list)
    };
    s.capture = r.capture.unwrap_or(true);
    s.data = names("data", &r.data)?;
    for p in &s.data {
        if let Err(e) = glob::Pattern::new(p) {
            return Err(err(
                format!("archive.data entry `{p}` is not a valid pattern: {}", e.msg),
                "use `*`, `?`, `**` and `[abc]`, relative to the experiment file",
            ));
        }
    }
    s.env.extend(names("env", &r.env)?);
    if r.packages.is_some() {
        s.packages = names("packages", &r.packages)?;
    }
    if let Some(mib) = r.patch_cap_mib {
        if mib == 0 || mib > 1024 {
            return Err(err(
                format!("archive.patch_cap_mib = {mib} is out of range"),
                "give a size in MiB from 1 to 1024 (the default is 5)",
            ));
        }
        s.patch_cap = mib << 20;
    }
    s.python = r.python.clone();
    s.minimize = names("minimize", &r.minimize)?;
    s.maximize = names("maximize", &r.maximize)?;
    Ok(s)
}

/// Validates a stage's `artifacts` patterns (relative to the task's folder, or absolute).
pub(super) fn artifact_patterns(
    path: &Path,
    source: &str,
    list: Option<&Spanned<Vec<String>>>,
) -> Result<Vec<String>, SpecError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in list.get_ref() {
        let problem = if p.trim().is_empty() || p.contains('\0') {
            Some("is empty or holds a NUL character".to_string())
        } else {
            glob::Pattern::new(p)
                .err()
                .map(|e| format!("is not a valid pattern: {}", e.msg))
        };
        if let Some(problem) = problem {
            return Err(SpecError {
                path: path.to_path_buf(),
                line_col: Some(line_col(source, list.span().start)),
                message: format!("`artifacts` entry {p:?} {problem}"),
                help: Some(
                    "give glob patterns relative to the task's folder, e.g. [\"checkpoints/*.pt\"]"
                        .into(),
                ),
            });
        }
        out.push(p.clone());
    }
    Ok(out)
}
