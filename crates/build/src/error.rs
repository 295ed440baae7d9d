//! What can stop a build. Every error about the Dockerfile names the file and line.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Dockerfile does not parse.
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    /// An instruction cannot be carried out (bad argument, missing source, unknown stage, …).
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    /// A RUN command exited non-zero (BuildKit's wording).
    #[error(
        "{file}:{line}: RUN: process {command:?} did not complete successfully: exit code: {code}"
    )]
    RunFailed {
        file: String,
        line: usize,
        command: String,
        code: i32,
    },
    #[error("failed to read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// `--target` names no stage (Docker's classic builder's words).
    #[error("failed to reach build target {0} in Dockerfile")]
    NoSuchTarget(String),
    #[error("{0}")]
    Image(#[from] berth_image::Error),
    #[error("{0}")]
    Runtime(#[from] berth_runtime::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::Parse { .. } | Error::Step { .. } | Error::NoSuchTarget(_) => K::InvalidArgument,
            // The user's command failed, not the engine; Docker answers the build with it.
            Error::RunFailed { .. } => K::InvalidArgument,
            Error::Read { source, .. } | Error::Io { source, .. } => {
                berth_error_kind::io_kind(source)
            }
            Error::Image(e) => e.kind(),
            Error::Runtime(e) => e.kind(),
        }
    }
}
