/// Registry errors, one clear line each; messages follow Docker's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    #[error("Get \"{url}\": {reason}")]
    Http { url: String, reason: String },
    #[error("{what}: unauthorized: authentication required")]
    Unauthorized { what: String },
    #[error("{0}: not found")]
    NotFound(String),
    #[error("registry {registry} answered {status} for {what}: {body}")]
    Status {
        registry: String,
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: invalid JSON: {reason}")]
    BadJson { what: String, reason: String },
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("unsupported media type {media_type} for {what}")]
    UnsupportedMediaType { what: String, media_type: String },
    #[error("no matching manifest for {platform} in the manifest list entries")]
    NoPlatform { platform: String },
    #[error("invalid platform {0:?}: expected OS/ARCH[/VARIANT]")]
    BadPlatform(String),
    #[error("An image does not exist locally with the tag: {0}")]
    NoLocalTag(String),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("config {}: {reason}", path.display())]
    Config {
        path: std::path::PathBuf,
        reason: String,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl berth_error_kind::HasKind for Error {
    fn kind(&self) -> berth_error_kind::ErrorKind {
        use berth_error_kind::ErrorKind as K;
        match self {
            Error::Image(e) => e.kind(),
            Error::Http { .. } => K::Unavailable,
            Error::Unauthorized { .. } | Error::Credentials(_) => K::Unauthorized,
            Error::NotFound(_) | Error::NoPlatform { .. } | Error::NoLocalTag(_) => K::NotFound,
            Error::Status { status, .. } => match status {
                401 => K::Unauthorized,
                403 => K::Forbidden,
                404 => K::NotFound,
                400..=499 => K::InvalidArgument,
                _ => K::Unavailable,
            },
            Error::BadJson { .. } | Error::DigestMismatch { .. } => K::DataLoss,
            Error::UnsupportedMediaType { .. } => K::NotImplemented,
            Error::BadPlatform(_) | Error::Config { .. } => K::InvalidArgument,
            Error::Io { source, .. } => berth_error_kind::io_kind(source),
        }
    }
}
