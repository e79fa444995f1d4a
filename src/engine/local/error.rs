//! What can stop the local engine, besides a signal: the store, or the machine.

use crate::store::StoreError;

/// Why a local run could not go on. Whatever it is, every change reported so far is durable and
/// the run resumes with the same command.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be read or written (exit code 3).
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The system refused the runner a resource it needs: a thread, a pipe, a signal handler,
    /// `/dev/null` (exit code 5).
    #[error("the runner could not get {what}: {cause}\n  help: the system is short of resources (threads, file descriptors); free some and run the same command again")]
    System { what: String, cause: std::io::Error },

    /// A thread of the runner panicked: a bug in labtrail. The tasks it ran were killed (exit
    /// code 5).
    #[error("a {thread} thread of the runner panicked (a bug in labtrail); the running tasks were stopped\n  help: run the same command again to resume, and please report the panic message above")]
    Panicked { thread: &'static str },
}

impl RunError {
    /// A resource the system refused, named for the user.
    pub fn system(what: impl Into<String>, source: std::io::Error) -> RunError {
        RunError::System {
            what: what.into(),
            cause: source,
        }
    }

    /// A file of the run that could not be made or opened: a store problem.
    pub fn file(path: &std::path::Path, source: std::io::Error) -> RunError {
        RunError::Store(StoreError::io(path, source))
    }
}
