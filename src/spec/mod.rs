//! The experiment file: parsing and validation.
//!
//! [`Spec::load`] reads a TOML file and returns a validated [`Spec`] or a [`SpecError`] that names
//! the file, line and column, says what is wrong and what to write instead.

pub mod archive;
pub mod devices;
mod duplicates;
mod duration;
mod generate;
mod grid;
mod heredoc;
mod inputs;
mod limits;
mod params;
mod quoting;
mod raw;
mod recorded;
pub mod set;
pub mod slurm;
mod stage;
pub mod template;
mod validate;
mod value;

pub use duration::{format_duration, parse_duration, MAX_DURATION};
pub use limits::{MAX_FILE_BYTES, MAX_LABEL_BYTES, MAX_TASKS, MAX_VALUE_BYTES};
pub use quoting::QuoteError;
pub use template::{shell_quote, Quoting, Template};
pub use value::Value;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The experiment file, as given.
    pub path: PathBuf,
    /// The file's text, kept so a run records exactly what it ran.
    pub source: String,
    /// `[experiment] name`.
    pub name: String,
    /// `[experiment] description`, free text.
    pub description: Option<String>,
    /// Grid parameters in declaration order. The grid is the cartesian product of its axes
    /// ([`Spec::axes`]): a plain parameter is an axis of its own, a [`Link`] one axis.
    pub params: Vec<Param>,
    /// Parameters that vary together (`model = [{ arch = "a", lr = 0.1 }, ...]`).
    pub links: Vec<Link>,
    /// `[grid] sample`: run this many combinations of the grid, picked at random.
    pub sample: Option<grid::Sample>,
    /// Parameters with one value over the grid and the `[[include]]` tables: task labels leave
    /// them out (`epochs=25` on every line says nothing).
    pub single_valued: Vec<String>,
    /// Partial combinations to drop from the grid.
    pub exclude: Vec<Vec<(String, Value)>>,
    /// Extra full combinations to add after the grid.
    pub include: Vec<Vec<(String, Value)>>,
    /// At least one stage; the single-command form is one stage named `main`.
    pub stages: Vec<Stage>,
    /// `[run]` settings.
    pub run: RunSettings,
    /// `[slurm]` sbatch options (used with `executor = "slurm"`).
    pub slurm: slurm::SlurmSettings,
    /// `[restart]` policies (used with `executor = "slurm"`).
    pub restart: slurm::RestartPolicy,
    /// `[archive]`: what provenance capture looks at.
    pub archive: archive::ArchiveSettings,
    /// `gpus` and `gpus_per_task`: the GPUs local workers share out (issue 14).
    pub devices: devices::DeviceSettings,
}

/// A grid parameter and its values.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub values: Vec<Value>,
}

/// Parameters that vary together: row `r` of the group is value `r` of each member, and the
/// group is one axis of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The group's name in `[params]` (names no parameter of its own).
    pub name: String,
    /// The members, in the order of the group's first table.
    pub params: Vec<String>,
}

pub use grid::Sample;

/// A stage of an experiment: one command over (a subset of) the grid.
#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    /// The command as written.
    pub command_text: String,
    pub command: Template,
    /// The grid parameters this stage varies over, in grid order.
    pub params: Vec<String>,
    /// Upstream stages; a task waits for the upstream tasks whose shared parameters match.
    pub after: Vec<String>,
    /// The working directory as written (relative to the experiment file), part of task identity.
    pub workdir: String,
    /// Where `workdir` is written in the file (line, column), if it is.
    pub workdir_at: Option<(usize, usize)>,
    /// Declared environment variables (templates), part of task identity.
    pub env: Vec<(String, Template)>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    /// Declared input files (glob patterns relative to the experiment file's folder): the
    /// experiment's `inputs`, then the stage's own. Their content is part of task identity.
    pub inputs: Vec<String>,
    /// Files a task of this stage leaves that the archive lists (glob patterns relative to the
    /// task's folder): referenced, never copied, not part of identity.
    pub artifacts: Vec<String>,
}

/// How tasks are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Executor {
    /// A worker pool on this machine.
    Local,
    /// One sbatch job (or array element) per attempt, watched by `labtrail monitor`.
    Slurm,
}

impl Executor {
    /// The name the experiment file and the store use: `local` or `slurm`.
    pub fn name(self) -> &'static str {
        match self {
            Executor::Local => "local",
            Executor::Slurm => "slurm",
        }
    }
}

/// `[run]` settings.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Concurrent tasks; `None` means the number of CPUs.
    pub workers: Option<usize>,
    pub retries: u32,
    pub timeout: Option<Duration>,
    /// Delay before the first retry; doubles on each further retry, capped at 10 minutes.
    pub backoff: Duration,
    /// Time between SIGTERM and SIGKILL when stopping a task.
    pub grace: Duration,
    pub executor: Executor,
}

/// An experiment file that cannot be used, with the place it went wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}{}", self.location(), self.message_and_help())]
pub struct SpecError {
    pub path: PathBuf,
    /// 1-based line and column, when the error has a place in the file.
    pub line_col: Option<(usize, usize)>,
    pub message: String,
    pub help: Option<String>,
}

impl SpecError {
    fn location(&self) -> String {
        match self.line_col {
            Some((l, c)) => format!("{}:{l}:{c}: ", self.path.display()),
            None => format!("{}: ", self.path.display()),
        }
    }

    fn message_and_help(&self) -> String {
        match &self.help {
            Some(h) => format!("{}\n  help: {h}", self.message),
            None => self.message.clone(),
        }
    }
}

fn too_large(path: &Path, size: Option<u64>) -> SpecError {
    let size = size.map_or(String::new(), |s| format!(" ({s} bytes)"));
    SpecError {
        path: path.to_path_buf(),
        line_col: None,
        message: format!(
            "the experiment file is larger than the limit of {MAX_FILE_BYTES} bytes (1 MiB){size}"
        ),
        help: Some(
            "is this the experiment file? List values in the file; keep data in other files".into(),
        ),
    }
}

/// 1-based line and column of byte `offset` in `source`.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

impl Spec {
    /// Reads and validates an experiment file. A file larger than [`MAX_FILE_BYTES`] is refused
    /// before it is read (a device or a FIFO is read only up to that much).
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let cannot_read = |e: std::io::Error| SpecError {
            path: path.to_path_buf(),
            line_col: None,
            message: format!("cannot read the experiment file: {e}"),
            help: Some("check the path; `labtrail run --help` shows an example file".into()),
        };
        // Non-blocking: opening a FIFO for reading would wait for a writer, for ever.
        let file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(cannot_read)?;
        let meta = file.metadata().map_err(cannot_read)?;
        if !meta.is_file() {
            return Err(cannot_read(std::io::Error::other(
                "it is not a regular file (a folder, FIFO or device)",
            )));
        }
        let size = meta.len();
        if size > MAX_FILE_BYTES {
            return Err(too_large(path, Some(size)));
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot_read)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(path, None));
        }
        let source = String::from_utf8(bytes)
            .map_err(|e| cannot_read(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        Spec::parse(path, source)
    }

    /// Reads an experiment file and applies `--set` overrides to its text (see [`set`]); with
    /// none, the same as [`Spec::load`].
    pub fn load_with(path: &Path, sets: &[String]) -> Result<Spec, set::SetError> {
        if sets.is_empty() {
            return Ok(Spec::load(path)?);
        }
        let source = Spec::load(path)?.source;
        let text = set::apply(path, &source, sets)?;
        Spec::parse(path, text).map_err(|mut e| {
            // The text begins with a comment line per override: places are given in the file
            // as the user wrote it.
            if let Some((line, col)) = e.line_col.filter(|(l, _)| *l > sets.len()) {
                e.line_col = Some((line - sets.len(), col));
            }
            set::SetError::Invalid {
                sets: sets.join(" "),
                error: e,
            }
        })
    }

    /// Validates experiment-file text; `path` is used for messages and relative folders.
    pub fn parse(path: &Path, source: String) -> Result<Spec, SpecError> {
        if source.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(path, Some(source.len() as u64)));
        }
        let raw: raw::RawFile = toml::from_str(&source).map_err(|e| SpecError {
            path: path.to_path_buf(),
            line_col: e.span().map(|s| line_col(&source, s.start)),
            message: e.message().trim().to_string(),
            help: Some(
                "see the experiment file reference in the README (sections: [experiment], \
                 [params], [grid], [[exclude]], [[include]], [[stage]], [run])"
                    .into(),
            ),
        })?;
        validate::validate(path, &source, raw).map(|mut spec| {
            spec.source = source;
            spec
        })
    }

    /// The folder relative paths in the file are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Checks that every stage's `workdir` is a folder, relative to the experiment file. Done
    /// before a run starts, not when a file is parsed: a stored run's file is parsed again
    /// long after, when its folders may be gone.
    pub fn check_workdirs(&self) -> Result<(), SpecError> {
        for stage in &self.stages {
            let dir = self.base_dir().join(&stage.workdir);
            let problem = match std::fs::metadata(&dir) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => "is a file, not a folder".to_string(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
                Err(e) => format!("cannot be read: {e}"),
            };
            return Err(SpecError {
                path: self.path.clone(),
                line_col: stage.workdir_at,
                message: format!(
                    "workdir `{}` ({}) {problem}",
                    stage.workdir,
                    dir.display()
                ),
                help: Some(
                    "workdir is a folder relative to the experiment file; create it or fix the path"
                        .into(),
                ),
            });
        }
        Ok(())
    }

    /// Whether the experiment has more than the implicit `main` stage.
    pub fn is_staged(&self) -> bool {
        !(self.stages.len() == 1 && self.stages[0].name == "main")
    }
}

pub use validate::is_safe_name;
