//! `labtrail archive`: one run, every section of seed 004's template, as Markdown, JSON or a
//! self-contained HTML page. [`model`] is the typed archive all three are written from.

pub mod build;
pub mod html;
pub mod model;
pub mod svg;
