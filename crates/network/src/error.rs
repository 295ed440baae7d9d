use std::path::PathBuf;

/// Errors of the network crate. Messages follow Docker's where Docker has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid value \"{value}\" for {flag}: {reason}")]
    BadFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("invalid pool request: Pool overlaps with other one on this address space ({0})")]
    Overlap(String),
    #[error("no free address pool left for a new network; give one with --subnet")]
    NoPool,
    #[error("no available IPv4 addresses on network {0}")]
    Exhausted(String),
    #[error("Address already in use: {0}")]
    AddressInUse(String),
    #[error("error while removing network: network {name} id {id} has active endpoints")]
    InUse { name: String, id: String },
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error("Bind for {0} failed: port is already allocated")]
    PortAllocated(String),
    #[error("{what} failed: {cmd}: {reason}")]
    Command {
        what: &'static str,
        cmd: String,
        reason: String,
    },
    #[error("container {container} is already attached to network {network}")]
    AlreadyAttached { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotAttached { container: String, network: String },
    #[error("network state {}: {reason}", path.display())]
    State { path: PathBuf, reason: String },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) trait IoContext<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            what,
            path: path.into(),
            source,
        })
    }
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::NotFound(_) => K::NotFound,
            Error::BadFlag { .. } | Error::Overlap(_) => K::InvalidArgument,
            Error::Exists(_)
            | Error::AddressInUse(_)
            | Error::InUse { .. }
            | Error::PortAllocated(_)
            | Error::AlreadyAttached { .. }
            | Error::NotAttached { .. }
            | Error::Exhausted(_) => K::Conflict,
            Error::Predefined(_) => K::Forbidden,
            Error::NoPool | Error::Command { .. } | Error::State { .. } => K::System,
            Error::Io { source, .. } => berth_error_kind::io_kind(source),
        }
    }
}
