//! `-p` / `--publish` syntax and host port reservation.
//!
//! A published port is a DNAT rule (see firewall.rs); the host port itself is held by a bound,
//! non-listening socket kept by the container's monitor process, so no other program (and no
//! other container) can take it while the container runs — what docker-proxy's listening
//! socket does for Docker, without copying any traffic through user space.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::OwnedFd;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One container port to publish: `host_range` None means an ephemeral host port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PortRequest {
    pub host_ip: Option<Ipv4Addr>,
    pub host_range: Option<(u16, u16)>,
    pub container_port: u16,
    pub proto: Proto,
}

/// A port as published while the container runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl std::fmt::Display for PortMapping {
    /// As `docker port` prints it: `80/tcp -> 0.0.0.0:4000`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port,
            self.proto.as_str(),
            self.host_ip,
            self.host_port
        )
    }
}

fn bad(value: &str, reason: impl Into<String>) -> Error {
    Error::BadFlag {
        flag: "--publish",
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn port_range(s: &str, what: &str, whole: &str) -> Result<(u16, u16)> {
    let one = |p: &str| -> Result<u16> {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            Ok(_) => Err(bad(whole, format!("{what} {p} is outside 1-65535"))),
            Err(_) => Err(bad(whole, format!("invalid {what} \"{p}\""))),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(whole, format!("invalid {what} range {s}")));
            }
            Ok((a, b))
        }
        None => {
            let p = one(s)?;
            Ok((p, p))
        }
    }
}

/// Parses one `-p` value: `[[IP:][HOSTPORT]:]CTRPORT[/PROTO]`, with ranges on either side.
pub fn parse_publish(value: &str) -> Result<Vec<PortRequest>> {
    let (spec, proto) = match value.rsplit_once('/') {
        Some((s, "tcp")) => (s, Proto::Tcp),
        Some((s, "udp")) => (s, Proto::Udp),
        Some((_, p)) => return Err(bad(value, format!("unsupported protocol \"{p}\""))),
        None => (value, Proto::Tcp),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [c] => (None, None, *c),
        [c, h] => (None, Some(*h), *c),
        [c, h, ip] => (Some(*ip), Some(*h), *c),
        _ => {
            return Err(bad(
                value,
                "expected [[IP:][HOSTPORT]:]CONTAINERPORT[/PROTO]",
            ))
        }
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(ip) => Some(
            ip.trim_matches(|c| c == '[' || c == ']')
                .parse::<Ipv4Addr>()
                .map_err(|_| bad(value, format!("invalid IP address \"{ip}\"")))?,
        ),
    };
    let ctr = port_range(ctr, "container port", value)?;
    let host = match host {
        // Host port 0 asks for an ephemeral port, as with Docker.
        None | Some("") | Some("0") => None,
        Some(h) => Some(port_range(h, "host port", value)?),
    };
    let count = ctr.1 - ctr.0;
    let mut out = Vec::new();
    for (i, cp) in (ctr.0..=ctr.1).enumerate() {
        let host_range = match host {
            None => None,
            Some((a, b)) if b - a == count => Some((a + i as u16, a + i as u16)),
            // One container port with a host range: any free port of the range (Docker's rule).
            Some((a, b)) if count == 0 => Some((a, b)),
            Some(_) => {
                return Err(bad(
                    value,
                    "host and container port ranges must have the same length",
                ))
            }
        };
        out.push(PortRequest {
            host_ip,
            host_range,
            container_port: cp,
            proto,
        });
    }
    Ok(out)
}

/// Parses an image's `ExposedPorts` key or `--expose` value (`80`, `80/tcp`, `8000-8002/udp`).
pub fn parse_exposed(value: &str) -> Result<Vec<(u16, Proto)>> {
    let (p, proto) = match value.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, x)) => return Err(bad(value, format!("unsupported protocol \"{x}\""))),
        None => (value, Proto::Tcp),
    };
    let (a, b) = port_range(p, "port", value)?;
    Ok((a..=b).map(|n| (n, proto)).collect())
}

/// A host port held for a running container (see the module comment).
pub struct Reservation {
    pub mapping: PortMapping,
    _socket: OwnedFd,
}

fn bind_socket(proto: Proto, addr: SocketAddrV4) -> std::io::Result<(OwnedFd, u16)> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let kind = match proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket calls on a descriptor we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, kind | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if proto == Proto::Tcp {
            // Like every TCP server: connections of an earlier listener in TIME_WAIT must not
            // keep the port from being published again.
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        if libc::bind(
            fd.as_raw_fd(),
            &sa as *const _ as *const libc::sockaddr,
            len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        // Listening (it never gets a connection: DNAT happens before socket lookup) keeps
        // programs that set SO_REUSEADDR from binding the port too, and shows the holder in
        // `ss -ltnp`, as docker-proxy does.
        if proto == Proto::Tcp && libc::listen(fd.as_raw_fd(), 1) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut out: libc::sockaddr_in = std::mem::zeroed();
        let mut olen = len;
        if libc::getsockname(
            fd.as_raw_fd(),
            &mut out as *mut _ as *mut libc::sockaddr,
            &mut olen,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok((fd, u16::from_be(out.sin_port)))
    }
}

/// Reserves host ports for the requests: the fixed port, the first free one of a range, or
/// an ephemeral one. Fails with Docker's message when a port is taken.
pub fn reserve(requests: &[PortRequest]) -> Result<Vec<Reservation>> {
    let mut out = Vec::new();
    for r in requests {
        let ip = r.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (lo, hi) = r.host_range.unwrap_or((0, 0));
        let mut last_err = None;
        let mut got = None;
        for port in lo..=hi {
            match bind_socket(r.proto, SocketAddrV4::new(ip, port)) {
                Ok(x) => {
                    got = Some(x);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let Some((socket, host_port)) = got else {
            let shown = if lo == hi {
                format!("{ip}:{lo}")
            } else {
                format!("{ip}:{lo}-{hi}")
            };
            return Err(match last_err {
                Some(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                    Error::PortAllocated(shown)
                }
                Some(e) => Error::Command {
                    what: "reserving a host port",
                    cmd: format!("bind {shown}"),
                    reason: e.to_string(),
                },
                None => Error::PortAllocated(shown),
            });
        };
        out.push(Reservation {
            mapping: PortMapping {
                host_ip: ip,
                host_port,
                container_port: r.container_port,
                proto: r.proto,
            },
            _socket: socket,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(h: Option<(u16, u16)>, c: u16) -> PortRequest {
        PortRequest {
            host_ip: None,
            host_range: h,
            container_port: c,
            proto: Proto::Tcp,
        }
    }

    #[test]
    fn publish_forms() {
        assert_eq!(parse_publish("80").unwrap(), vec![one(None, 80)]);
        assert_eq!(parse_publish("0:80").unwrap(), vec![one(None, 80)]);
        assert_eq!(
            parse_publish("4000:80").unwrap(),
            vec![one(Some((4000, 4000)), 80)]
        );
        let r = parse_publish("127.0.0.1:4000:80/udp").unwrap();
        assert_eq!(r[0].host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(r[0].proto, Proto::Udp);
        let r = parse_publish("127.0.0.1::80").unwrap();
        assert_eq!(r[0].host_range, None);
        assert_eq!(r[0].host_ip, Some(Ipv4Addr::LOCALHOST));
        let r = parse_publish("8000-8002:9000-9002").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], one(Some((8002, 8002)), 9002));
        assert_eq!(
            parse_publish("8000-8010:80").unwrap(),
            vec![one(Some((8000, 8010)), 80)]
        );
    }

    #[test]
    fn publish_errors_name_the_problem() {
        for (v, want) in [
            ("abc", "invalid container port \"abc\""),
            ("80:0", "outside 1-65535"),
            ("70000:80", "outside 1-65535"),
            ("80/sctp", "unsupported protocol"),
            ("1.2.3:80:80", "invalid IP address"),
            ("8000-8001:80-82", "same length"),
            ("90-80", "range"),
        ] {
            let e = parse_publish(v).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn exposed_forms() {
        assert_eq!(parse_exposed("80").unwrap(), vec![(80, Proto::Tcp)]);
        assert_eq!(parse_exposed("53/udp").unwrap(), vec![(53, Proto::Udp)]);
        assert_eq!(parse_exposed("1-3/tcp").unwrap().len(), 3);
    }

    #[test]
    fn reserved_port_is_refused_to_others() {
        let r = reserve(&[PortRequest {
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_range: None,
            container_port: 80,
            proto: Proto::Tcp,
        }])
        .unwrap();
        let port = r[0].mapping.host_port;
        assert_ne!(port, 0);
        let again = reserve(&[PortRequest {
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_range: Some((port, port)),
            container_port: 80,
            proto: Proto::Tcp,
        }]);
        let e = again
            .err()
            .expect("second reservation must fail")
            .to_string();
        assert_eq!(
            e,
            format!("Bind for 127.0.0.1:{port} failed: port is already allocated")
        );
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
        // Not even for a program that sets SO_REUSEADDR (as most servers do).
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: plain socket calls on a descriptor created and closed here.
        let bound = unsafe {
            let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            let one: libc::c_int = 1;
            libc::setsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const _ as *const libc::c_void,
                4,
            );
            let r = libc::bind(
                s,
                &sa as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            libc::close(s);
            r
        };
        assert_ne!(bound, 0, "a SO_REUSEADDR socket must not share the port");
        drop(r);
        assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
