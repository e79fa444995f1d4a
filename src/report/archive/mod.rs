//! `labtrail archive`: one run, every section of seed 004's template, as Markdown, JSON or a
//! self-contained HTML page. [`model`] is the typed archive all three are written from;
//! [`build::build`] fills it from the store.
//!
//! | module | what it owns |
//! |---|---|
//! | [`model`] | the archive as a typed value (the JSON schema is generated from it) |
//! | [`build`] | reading one run from the store into an [`model::Archive`] |
//! | [`tasks`], [`stages`] | tasks and stages: attempts, metric summaries, errors, resources, artifacts |
//! | [`curves`] | which metric curves to keep, and LTTB downsampling |
//! | [`config_flat`] | the recorded experiment file as dotted keys, redacted |
//! | [`previous`] | the previous finished run of the same experiment, and what changed |
//! | [`repro`] | the shell script that runs it again |
//! | [`markdown`], [`json`], [`html`] | the three formats ([`svg`]: the HTML's plots) |

pub mod build;
pub mod config_flat;
pub mod curves;
pub mod html;
pub mod json;
pub mod markdown;
mod markdown_cost;
mod markdown_deps;
mod markdown_steps;
mod markdown_tail;
mod markdown_tasks;
pub mod model;
pub mod previous;
pub mod repro;
pub mod scrub;
pub mod stages;
pub mod svg;
pub mod tasks;

pub use build::{build, BuildOptions};
#[cfg(test)]
mod tests_review;
