//! Compose errors. A file's error names the file and, where it can, the line, the service and
//! the key; an engine error keeps the engine's kind.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A compose file or option that is wrong: the message names what and where.
    #[error("{0}")]
    Invalid(String),
    /// No compose file where one was looked for.
    #[error("no configuration file provided: not found")]
    NoConfigFile,
    /// Something the project refers to that is not there (an external network, a service).
    #[error("{0}")]
    NotFound(String),
    /// A dependency that failed, or a one-off that ended badly.
    #[error("{0}")]
    Dependency(String),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] berth_runtime::Error),
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::Invalid(_) => K::InvalidArgument,
            Error::NoConfigFile | Error::NotFound(_) => K::NotFound,
            Error::Dependency(_) => K::Conflict,
            Error::Io { .. } => K::System,
            Error::Engine(e) => e.kind(),
        }
    }
}

pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
