//! What kind of failure an error is, independent of the crate that raised it — the classes of
//! moby's `errdefs`. Each crate's `Error` has a `kind()`; front ends decide by kind, never by
//! matching another crate's variants or message text: the CLI picks exit codes and hints, the
//! Engine API server the HTTP status (`http_status`), as Docker's daemon does.

/// A class of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object named does not exist (no such container, image, network, volume, user).
    NotFound,
    /// The request is malformed or a value is out of range (a bad flag, reference, JSON).
    InvalidArgument,
    /// The object's state or another object forbids it (a name in use, a container that is
    /// not running or is paused, an image in use).
    Conflict,
    /// Nothing to do: the object is already in the state asked for (Docker's 304 for a start
    /// of a running container or a stop of a stopped one).
    NotModified,
    /// Credentials are missing or wrong.
    Unauthorized,
    /// Not allowed, whatever the credentials.
    Forbidden,
    /// A feature berth does not have.
    NotImplemented,
    /// Something this engine needs is unreachable or failed (a registry, the network).
    Unavailable,
    /// The data berth read is corrupt (a digest mismatch, an unreadable archive).
    DataLoss,
    /// Anything else: a fault of the engine or the system.
    System,
}

impl ErrorKind {
    /// The Engine API's status code for this kind, as moby's `httpstatus` maps `errdefs`.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::InvalidArgument => 400,
            ErrorKind::Conflict => 409,
            ErrorKind::NotModified => 304,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotImplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::DataLoss | ErrorKind::System => 500,
        }
    }
}

/// An error that knows its kind.
pub trait HasKind {
    fn kind(&self) -> ErrorKind;
}

/// An I/O error's kind: a missing path is `NotFound`, a refused one `Forbidden`, bad data
/// `InvalidArgument`, the rest `System`.
pub fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as Io;
    match e.kind() {
        Io::NotFound => ErrorKind::NotFound,
        Io::PermissionDenied => ErrorKind::Forbidden,
        Io::InvalidInput | Io::InvalidData => ErrorKind::InvalidArgument,
        Io::UnexpectedEof => ErrorKind::DataLoss,
        _ => ErrorKind::System,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_the_engine_apis() {
        assert_eq!(ErrorKind::NotFound.http_status(), 404);
        assert_eq!(ErrorKind::Conflict.http_status(), 409);
        assert_eq!(ErrorKind::InvalidArgument.http_status(), 400);
        assert_eq!(ErrorKind::NotModified.http_status(), 304);
        assert_eq!(ErrorKind::System.http_status(), 500);
    }

    #[test]
    fn io_errors_are_sorted_by_what_went_wrong() {
        let e = |k| std::io::Error::new(k, "x");
        assert_eq!(
            io_kind(&e(std::io::ErrorKind::NotFound)),
            ErrorKind::NotFound
        );
        assert_eq!(
            io_kind(&e(std::io::ErrorKind::PermissionDenied)),
            ErrorKind::Forbidden
        );
        assert_eq!(io_kind(&e(std::io::ErrorKind::Other)), ErrorKind::System);
    }
}
