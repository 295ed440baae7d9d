//! `berth serve`: the Docker Engine API on a unix socket (and TCP if asked), so the docker CLI,
//! docker-py and compose drive berth. The server is `berth_api`; this only reads the flags.

use std::path::Path;

use anyhow::{anyhow, Result};
use clap::Args;

use berth_api::{Host, DEFAULT_SOCKET, DOCKER_SOCKET};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on: unix:///PATH or tcp://HOST:PORT (repeatable)
    #[arg(short = 'H', long = "host", value_name = "list")]
    hosts: Vec<String>,
    /// Listen on /var/run/docker.sock too, where Docker's clients look by default
    #[arg(long)]
    docker_socket: bool,
    /// Serve the dashboard (a web app) on this loopback address; the URL to open, with its
    /// token, is printed
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_DASHBOARD)]
    dashboard: Option<String>,
}

/// Where `--dashboard` listens without an address: next to Docker's 2375/2376.
const DEFAULT_DASHBOARD: &str = "127.0.0.1:2380";

/// `--dashboard`'s address: IP:PORT, localhost:PORT or :PORT, on loopback only (its guard
/// takes only local Host names, so elsewhere it could not be used anyway).
fn dashboard_addr(s: &str) -> Result<std::net::SocketAddr> {
    let bad = |why: &str| anyhow!("--dashboard: invalid address {s:?}: {why}");
    let addr = s.strip_prefix("http://").unwrap_or(s).trim_end_matches('/');
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| bad("expected HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| bad("the port must be a number"))?;
    let ip: std::net::IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "" | "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        h => h
            .parse()
            .map_err(|_| bad("expected an IP address or localhost"))?,
    };
    if !ip.is_loopback() {
        return Err(bad(
            "the dashboard listens on loopback addresses only (127.0.0.1, ::1)",
        ));
    }
    Ok((ip, port).into())
}

pub fn serve(root: &Path, a: ServeArgs) -> Result<u8> {
    let mut hosts = Vec::new();
    for h in &a.hosts {
        let host: Host = h.parse().map_err(|e: String| anyhow!("-H, --host: {e}"))?;
        hosts.push(host);
    }
    if a.docker_socket {
        hosts.push(Host::Unix(DOCKER_SOCKET.into()));
    }
    if hosts.is_empty() {
        hosts.push(Host::Unix(DEFAULT_SOCKET.into()));
    }
    for h in hosts.iter().filter(|h| !h.is_local()) {
        eprintln!(
            "WARNING: the API on {h} is reachable from other machines, without TLS or authentication: anyone who can connect has root on this host. Listen on 127.0.0.1 or a unix socket unless that is what you want."
        );
    }
    let dashboard = a.dashboard.as_deref().map(dashboard_addr).transpose()?;
    // The running binary itself, not its path: a berth replaced on disk while the server
    // runs (an upgrade, a rebuild) would otherwise leave it unable to start supervisors
    // (the path names another file, or one that is gone).
    let exe = std::path::PathBuf::from("/proc/self/exe");
    berth_api::serve(
        berth_api::ServeOptions {
            root: root.to_path_buf(),
            exe,
            hosts,
            dashboard,
        },
        |ready| {
            for h in ready.hosts {
                eprintln!("API listening on {h}");
            }
            if let Some(url) = ready.dashboard_url {
                eprintln!("Dashboard: {url}");
            }
        },
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_listens_on_loopback_only() {
        assert_eq!(
            dashboard_addr("127.0.0.1:2380").unwrap().to_string(),
            "127.0.0.1:2380"
        );
        assert_eq!(dashboard_addr(":0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(
            dashboard_addr("localhost:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert_eq!(dashboard_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        let e = dashboard_addr("0.0.0.0:2380").unwrap_err().to_string();
        assert!(e.contains("loopback addresses only"), "{e}");
        let e = dashboard_addr("127.0.0.1").unwrap_err().to_string();
        assert!(e.contains("expected HOST:PORT"), "{e}");
    }
}
