//! `labtrail archive`: one run with its provenance, as Markdown, JSON or HTML.

use super::output::Global;
use crate::report::archive::{self, BuildOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Write a run's archive: every section of the experiment-archive template (summary,
/// environment, dependencies, config, paths, data, steps with metrics, errors and retries,
/// repro script, artifacts, resources, changes vs the previous run, field checklist).
///
/// Facts labtrail could not know are written `n/a (reason)`, never left out. The same run
/// archived twice gives the same bytes except `generated_at`.
///
/// Examples:
///   labtrail archive                           # the latest run, Markdown, to stdout
///   labtrail archive --run exp-20261130-0512 --format html -o run.html
///   labtrail archive --format json -o archive.json   # what `labtrail diff` reads
///   labtrail archive --schema > archive.schema.json  # the JSON archive's schema
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ArchiveArgs {
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write to this file (atomically: a temporary file renamed over it) instead of stdout.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print the JSON Schema of the JSON archive and exit.
    #[arg(long, conflicts_with_all = ["run", "format", "output"])]
    pub schema: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Markdown, following the experiment-archive template section by section.
    Md,
    /// JSON (`"schema": "labtrail.archive/1"`), what `labtrail diff` compares.
    Json,
    /// One self-contained HTML page (no JavaScript, no external URL).
    Html,
}

pub fn run(g: &Global, args: ArchiveArgs) -> anyhow::Result<i32> {
    if args.schema {
        say!("{}", archive::json::schema().trim_end());
        return Ok(0);
    }
    if let Some(path) = &args.output {
        if path.is_dir() {
            return Err(super::UsageError(format!(
                "-o {} is a folder\n  help: give a file name, e.g. -o {}/archive.{}",
                path.display(),
                path.display(),
                extension(args.format)
            ))
            .into());
        }
    }
    let t = g.read_target(None, args.run.as_deref())?;
    if let Some(note) = &t.note {
        tell!("{note}");
    }
    if let Some(path) = &args.output {
        if inside(path, t.store.dir()) {
            return Err(super::UsageError(format!(
                "-o {} is inside the store {}: writing there could replace its database\n  help: write the archive next to the experiment, e.g. -o archive.{}",
                path.display(),
                t.store.dir().display(),
                extension(args.format)
            ))
            .into());
        }
    }
    let a = archive::build(&t.store, &t.run, &BuildOptions::default())?;
    let text = match args.format {
        Format::Md => archive::markdown::render(&a),
        Format::Json => archive::json::render(&a),
        Format::Html => archive::html::render(&a),
    };
    match &args.output {
        None => {
            use std::io::IsTerminal;
            let mut out = std::io::stdout().lock();
            // On a terminal, what tasks wrote (an error line with an escape sequence) must not
            // reach it raw; a file or a pipe gets the document exact (its patch must apply).
            let text = if out.is_terminal() && matches!(args.format, Format::Md) {
                std::borrow::Cow::Owned(super::terminal::escape_lines(&text))
            } else {
                std::borrow::Cow::Borrowed(text.as_str())
            };
            super::output::unless_closed(out.write_all(text.as_bytes()), "stdout");
        }
        Some(path) => write_atomically(path, text.as_bytes())?,
    }
    Ok(0)
}

/// Whether `path` (which need not exist yet) is in the folder `dir`, links resolved.
fn inside(path: &Path, dir: &Path) -> bool {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let resolved = match (std::fs::canonicalize(path), std::fs::canonicalize(parent)) {
        (Ok(p), _) => p,
        (_, Ok(p)) => p.join(path.file_name().unwrap_or_default()),
        _ => return false,
    };
    resolved.starts_with(&dir)
}

fn extension(f: Format) -> &'static str {
    match f {
        Format::Md => "md",
        Format::Json => "json",
        Format::Html => "html",
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the whole new one: a
/// temporary file in the same folder, flushed to disk, renamed over `path`, and the folder
/// synced.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".into());
    let tmp = dir.join(format!(".{name}.labtrail-{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // A file replaced keeps its permissions (an archive kept private stays private).
        if let Ok(old) = std::fs::metadata(path) {
            f.set_permissions(old.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
