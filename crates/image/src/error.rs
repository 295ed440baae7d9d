//! Errors of the image store. Each names the thing that failed and what was expected.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest { digest: String, reason: String },

    #[error("invalid reference format: {0}")]
    InvalidReference(String),

    #[error("No such image: {0}")]
    NoSuchImage(String),

    /// A list filter berth does not know or a value it cannot take (Docker's words).
    #[error("{0}")]
    InvalidFilter(String),

    #[error("{0}")]
    Conflict(String),

    #[error("blob {what}: digest mismatch: expected {expected}, got {actual} (the data is corrupt or truncated)")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error("blob {0} is missing from the store")]
    MissingBlob(String),

    #[error("unsupported media type {media_type:?} for {what}")]
    UnsupportedMediaType { media_type: String, what: String },

    #[error("layer tar entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },

    /// `cause` is the tar reader's complaint, shown only when it is plain text: about a file of
    /// random bytes it quotes those bytes.
    #[error("{what}: not a valid tar archive or truncated: {}", tar_reason(.cause))]
    BadTar { what: String, cause: std::io::Error },

    #[error("{what}: {reason}")]
    BadArchive { what: String, reason: String },

    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("invalid change {change:?}: {reason}")]
    BadChange { change: String, reason: String },

    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another place blobs come from or go to failed (a registry holding a build cache).
    #[error("{0}")]
    Remote(String),

    #[error("{context}: {source}")]
    Stream {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
    pub fn stream(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Stream {
            context: context.into(),
            source,
        }
    }
}

/// A tar reader's error as a user can read it: its own words when they are short printable
/// text, else just that the header is invalid.
fn tar_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let printable = text.chars().all(|c| c.is_ascii_graphic() || c == ' ');
    if printable && text.len() <= 120 {
        text
    } else {
        "invalid tar header".into()
    }
}

/// Adds the operation and path to an `io::Result`.
pub trait IoContext<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::NoSuchImage(_) => K::NotFound,
            Error::Conflict(_) => K::Conflict,
            Error::InvalidDigest { .. }
            | Error::InvalidFilter(_)
            | Error::InvalidReference(_)
            | Error::UnsupportedMediaType { .. }
            | Error::UnsafeEntry { .. }
            | Error::BadTar { .. }
            | Error::BadArchive { .. }
            | Error::Json { .. }
            | Error::BadChange { .. } => K::InvalidArgument,
            Error::DigestMismatch { .. } | Error::MissingBlob(_) => K::DataLoss,
            Error::Remote(_) => K::Unavailable,
            Error::Io { source, .. } | Error::Stream { source, .. } => {
                berth_error_kind::io_kind(source)
            }
        }
    }
}
