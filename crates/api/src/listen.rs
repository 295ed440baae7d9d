//! The addresses `berth serve -H` takes, in Docker's syntax (`unix:///path`, `tcp://host:port`),
//! and the listening sockets made for them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where `berth serve` listens without `-H`.
pub const DEFAULT_SOCKET: &str = "/var/run/berth.sock";
/// Where Docker's clients look by default (`berth serve --docker-socket`).
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Docker's port for plain-HTTP TCP.
const DEFAULT_TCP_PORT: u16 = 2375;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

impl std::str::FromStr for Host {
    type Err = String;

    fn from_str(s: &str) -> Result<Host, String> {
        let bad = |why: &str| format!("invalid host address {s:?}: {why}");
        if let Some(path) = s.strip_prefix("unix://") {
            let path = if path.is_empty() {
                DEFAULT_SOCKET
            } else {
                path
            };
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute"));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if s.starts_with("fd://") || s.starts_with("npipe://") || s.starts_with("ssh://") {
            return Err(bad("only unix:// and tcp:// addresses are supported"));
        }
        let addr = s.strip_prefix("tcp://").unwrap_or(s);
        if addr.contains("://") {
            return Err(bad("expected unix:///PATH or tcp://HOST:PORT"));
        }
        let addr = addr.trim_end_matches('/');
        let (host, port) = match addr.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| bad(&format!("invalid port {p:?}")))?;
                (h, port)
            }
            _ => (addr, DEFAULT_TCP_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip: IpAddr = match host {
            "" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            h => h
                .parse()
                .map_err(|_| bad("expected an IP address or localhost"))?,
        };
        Ok(Host::Tcp(SocketAddr::new(ip, port)))
    }
}

impl Host {
    /// Only this machine can connect (a unix socket, or TCP on a loopback address).
    pub fn is_local(&self) -> bool {
        match self {
            Host::Unix(_) => true,
            Host::Tcp(a) => a.ip().is_loopback(),
        }
    }
}

/// Whether a socket file is left over from a server that is gone (nothing accepts on it).
pub(crate) fn stale_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket && std::os::unix::net::UnixStream::connect(path).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Host {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_are_read_as_docker_reads_them() {
        assert_eq!(
            parse("unix:///run/b.sock"),
            Host::Unix("/run/b.sock".into())
        );
        assert_eq!(parse("unix://"), Host::Unix(DEFAULT_SOCKET.into()));
        assert_eq!(
            parse("tcp://127.0.0.1:2376"),
            Host::Tcp("127.0.0.1:2376".parse().unwrap())
        );
        assert_eq!(
            parse("tcp://localhost"),
            Host::Tcp("127.0.0.1:2375".parse().unwrap())
        );
        assert_eq!(
            parse("tcp://:9000"),
            Host::Tcp("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(
            parse("[::1]:9000"),
            Host::Tcp("[::1]:9000".parse().unwrap())
        );
        assert!(parse("tcp://0.0.0.0:2375").to_string() == "tcp://0.0.0.0:2375");
        assert!(!parse("tcp://0.0.0.0:2375").is_local());
        assert!(parse("tcp://127.0.0.1:1").is_local());
    }

    #[test]
    fn bad_addresses_say_what_was_expected() {
        let e = "unix://run/b.sock".parse::<Host>().unwrap_err();
        assert!(e.contains("must be absolute"), "{e}");
        let e = "tcp://127.0.0.1:http".parse::<Host>().unwrap_err();
        assert!(e.contains("invalid port \"http\""), "{e}");
        let e = "fd://".parse::<Host>().unwrap_err();
        assert!(e.contains("only unix:// and tcp://"), "{e}");
        let e = "tcp://example.com:1".parse::<Host>().unwrap_err();
        assert!(e.contains("expected an IP address"), "{e}");
    }
}
