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
    let exe = std::env::current_exe()?;
    berth_api::serve(
        berth_api::ServeOptions {
            root: root.to_path_buf(),
            exe,
            hosts,
        },
        |hosts| {
            for h in hosts {
                eprintln!("API listening on {h}");
            }
        },
    )?;
    Ok(0)
}
