//! Runtime errors. Each names the container, image, flag or path involved.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// Something else that is not there (a path in a container), as Docker words it.
    #[error("{0}")]
    NotFound(String),
    #[error("Conflict. The container name \"/{0}\" is already in use. You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse(String),
    #[error("invalid container name ({0}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("{0}")]
    Conflict(String),
    /// A value the engine refuses, as Docker's daemon words it.
    #[error("{0}")]
    Invalid(String),
    #[error("invalid argument {flag} {value:?}: {reason}")]
    BadFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// The command does not exist in the image: Docker's exit 127.
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    CommandNotFound(String),
    /// The command exists but cannot be run: Docker's exit 126.
    #[error("exec: \"{0}\": permission denied")]
    CommandNotExecutable(String),
    #[error("no command specified")]
    NoCommand,
    #[error(transparent)]
    Network(#[from] berth_network::Error),
    /// An error reported by a container's supervisor, as it printed it.
    #[error("{0}")]
    Relayed(String),
    #[error("container {id}: {what}: {reason}")]
    Runtime {
        id: String,
        what: &'static str,
        reason: String,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<std::path::PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<std::path::PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

impl Error {
    /// The exit code `berth run` uses for this error, as Docker does: 125 for errors of the
    /// engine itself, 126 when the command cannot be invoked, 127 when it does not exist.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CommandNotFound(_) => 127,
            Error::CommandNotExecutable(_) => 126,
            _ => 125,
        }
    }
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::NoSuchContainer(_)
            | Error::NoSuchExec(_)
            | Error::NoSuchVolume(_)
            | Error::NotFound(_)
            | Error::NoSuchUser(_)
            | Error::NoSuchGroup(_) => K::NotFound,
            Error::NameInUse(_) | Error::Conflict(_) => K::Conflict,
            Error::BadName(_)
            | Error::Invalid(_)
            | Error::BadFlag { .. }
            | Error::NoCommand
            | Error::Json { .. } => K::InvalidArgument,
            // The command: Docker's daemon reports these as bad requests too.
            Error::CommandNotFound(_) | Error::CommandNotExecutable(_) => K::InvalidArgument,
            Error::Network(e) => e.kind(),
            Error::Image(e) => e.kind(),
            Error::Relayed(_) | Error::Runtime { .. } => K::System,
            Error::Io { source, .. } => berth_error_kind::io_kind(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_error_kind::{ErrorKind, HasKind};

    #[test]
    fn kinds_follow_dockers_classes_through_wrapped_errors() {
        assert_eq!(
            Error::NoSuchContainer("x".into()).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(Error::NameInUse("x".into()).kind(), ErrorKind::Conflict);
        assert_eq!(
            Error::Conflict("container x is not running".into()).kind(),
            ErrorKind::Conflict
        );
        assert_eq!(
            Error::Invalid("Minimum memory".into()).kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            Error::Image(berth_image::Error::NoSuchImage("busybox".into())).kind(),
            ErrorKind::NotFound
        );
        let in_use = berth_network::Error::InUse {
            name: "n".into(),
            id: "i".into(),
        };
        assert_eq!(Error::Network(in_use).kind(), ErrorKind::Conflict);
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            Error::Io {
                op: "open",
                path: "/x".into(),
                source: missing
            }
            .kind(),
            ErrorKind::NotFound
        );
    }
}
