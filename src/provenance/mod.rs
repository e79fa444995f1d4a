//! Provenance: what a run captures about the world it ran in (code, host, Python, packages,
//! GPUs, environment, data) and what each attempt leaves beyond its result (resources, errors,
//! artifacts). Capture never fails a run: a probe that cannot answer records why
//! ([`model::Probed::Na`]). Everything is written to the store as records (see
//! [`crate::store::RecordRow`]); [`crate::report::archive`] reads them back.
//!
//! | module | what it owns |
//! |---|---|
//! | [`model`] | the captured facts as stored and archived |
//! | [`redact`] | secrets out of everything captured: names by pattern, values by token shape |
//! | [`git`] | the code: commit, branch, upstream, remote, dirty files, a patch that replays |
//! | `git_facts` | describe, upstream and distance, remote URL without credentials, on a remote |
//! | `git_patch` | the working state: a temporary index, its tree, the patch from `HEAD` to it |
//! | [`host`] | host, user, OS, kernel, CPU, memory |
//! | [`python`] | the tasks' interpreter and its environment, found without running it |
//! | [`packages`] | installed packages from their metadata folders, editable installs' commits |
//! | [`gpu`] | NVIDIA GPUs through NVML loaded at run time |
//! | [`gpu_use`] | per-task GPU memory and utilisation, attributed by the task's PIDs |
//! | [`envvars`] | the environment by allowlist |
//! | [`data`] | `[archive] data` files: counts, lines, blake3, cached by file identity |
//! | [`capture`] | runs the probes at run start (fast ones first, slow ones in the background) |
//! | [`stderr`] | a failed attempt's error line, stack and warnings, read from its stderr |
//! | [`artifacts`] | the files a stage's `artifacts` patterns name, with `last` / `best` tags |
//! | [`attempt_end`] | the error or artifacts of an ended attempt, as records of its end |

pub mod artifacts;
pub mod attempt_end;
pub mod capture;
pub mod data;
pub mod envvars;
pub mod git;
mod git_facts;
mod git_patch;
mod git_scratch;
pub mod gpu;
pub mod gpu_use;
pub mod host;
pub mod model;
pub mod packages;
pub mod python;
pub mod redact;
pub mod stderr;
