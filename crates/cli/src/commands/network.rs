//! `berth network create|ls|inspect|rm|connect|disconnect|prune` and `berth port`.

use std::path::Path;

use anyhow::{bail, Result};
use berth_runtime::record::Status;
use berth_runtime::Runtime;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::shared::ExitError;

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short, long)]
    driver: Option<String>,
    /// Subnet in CIDR format that represents a network segment (an IPv4 and an IPv6 one)
    #[arg(long)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long)]
    ip_range: Vec<String>,
    /// Enable or disable IPv6 networking
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    ipv6: Option<bool>,
    /// Auxiliary IPv4 addresses used by Network driver (NAME=IP)
    #[arg(long)]
    aux_address: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Set metadata on a network
    #[arg(long)]
    label: Vec<String>,
    name: String,
}

#[derive(Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Provide filter values (e.g. "name=app", "driver=bridge", "id=…", "label=k")
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

/// `network inspect` and `volume inspect`: names and a template.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long)]
    alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    ip6: Option<String>,
    /// Add a link-local address for the container
    #[arg(long)]
    link_local_ip: Vec<String>,
    /// Add link to another container
    #[arg(long)]
    link: Vec<String>,
    /// driver options for the network
    #[arg(long)]
    driver_opt: Vec<String>,
    network: String,
    container: String,
}

#[derive(Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long)]
    filter: Vec<String>,
}

fn fail(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(ExitError {
        code: 1,
        message: e.to_string(),
    })
}

/// A network's inspect JSON (see `Runtime::network_inspect`).
pub fn network_inspect(rt: &Runtime, key: &str) -> Result<Option<Value>> {
    rt.network_inspect(key).map_err(fail)
}

pub fn network(root: &Path, cmd: NetworkCommand) -> Result<u8> {
    let rt = Runtime::open(root).map_err(fail)?;
    // Every network command first cleans up after berth processes that were killed.
    rt.reconcile_network().map_err(fail)?;
    match cmd {
        NetworkCommand::Create(a) => {
            let mut aux = Vec::new();
            for v in &a.aux_address {
                let Some((name, ip)) = v.split_once('=') else {
                    anyhow::bail!(
                        "invalid argument {v:?} for \"--aux-address\" flag: expected NAME=IP"
                    );
                };
                aux.push((name.to_string(), ip.to_string()));
            }
            // One of each per address family, as the docker CLI pairs them.
            let family = |flag: &str, values: Vec<String>| -> anyhow::Result<_> {
                let (v6, v4): (Vec<String>, Vec<String>) =
                    values.into_iter().partition(|v| v.contains(':'));
                if v4.len() > 1 || v6.len() > 1 {
                    anyhow::bail!(
                        "invalid argument for \"--{flag}\" flag: berth takes one IPv4 and one IPv6 value at most"
                    );
                }
                Ok((v4.into_iter().next(), v6.into_iter().next()))
            };
            let (subnet, subnet6) = family("subnet", a.subnet)?;
            let (gateway, gateway6) = family("gateway", a.gateway)?;
            let (ip_range, ip_range6) = family("ip-range", a.ip_range)?;
            let n = rt
                .create_network(&berth_network::CreateOptions {
                    name: a.name,
                    driver: a.driver,
                    subnet,
                    gateway,
                    ip_range,
                    enable_ipv6: a.ipv6.unwrap_or(false),
                    ipv6_subnet: subnet6,
                    ipv6_gateway: gateway6,
                    ipv6_ip_range: ip_range6,
                    aux_addresses: aux,
                    internal: a.internal,
                    labels: a.label,
                    // As the docker CLI, which always sends its (empty) --ipam-opt map.
                    ipam_options_given: true,
                })
                .map_err(fail)?;
            println!("{}", n.id);
            Ok(0)
        }
        NetworkCommand::Ls(a) => ls(&rt, a),
        NetworkCommand::Inspect(a) => {
            let mut found = Vec::new();
            let mut code = 0;
            for key in &a.names {
                match network_inspect(&rt, key)? {
                    Some(v) => found.push(v),
                    None => {
                        eprintln!("Error: No such network: {key}");
                        code = 1;
                    }
                }
            }
            crate::output::print_inspect(a.format.as_deref(), found)?;
            Ok(code)
        }
        NetworkCommand::Rm(a) => {
            let mut code = 0;
            for name in &a.names {
                match rt.remove_network(name) {
                    Ok(n) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        NetworkCommand::Connect(a) => {
            let mut driver_opts = std::collections::BTreeMap::new();
            for o in &a.driver_opt {
                let Some((k, v)) = o.split_once('=') else {
                    anyhow::bail!(
                        "invalid argument {o:?} for \"--driver-opt\" flag: expected KEY=VALUE"
                    );
                };
                driver_opts.insert(k.to_string(), v.to_string());
            }
            let endpoint = berth_runtime::container_config::EndpointSettings {
                aliases: a.alias.clone(),
                links: a.link.clone(),
                ipam_config: Some(berth_runtime::container_config::EndpointIpamConfig {
                    ipv4_address: a.ip.clone().unwrap_or_default(),
                    ipv6_address: a.ip6.clone().unwrap_or_default(),
                    link_local_ips: a.link_local_ip.clone(),
                    ..Default::default()
                }),
                driver_opts,
                ..Default::default()
            };
            rt.connect(&a.container, &a.network, &endpoint)
                .map_err(fail)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            let _ = a.force;
            rt.disconnect(&a.container, &a.network).map_err(fail)?;
            Ok(0)
        }
        NetworkCommand::Prune(a) => {
            if !a.force && !crate::output::confirm("WARNING! This will remove all custom networks not used by at least one container.")? {
                return Ok(0);
            }
            let removed = rt.prune_networks(&a.filter).map_err(fail)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for n in removed {
                    println!("{n}");
                }
            }
            Ok(0)
        }
    }
}

fn ls(rt: &Runtime, a: LsArgs) -> Result<u8> {
    let nets = rt.list_networks(&a.filter).map_err(fail)?;
    if a.quiet {
        for n in &nets {
            let id = n["Id"].as_str().unwrap_or("");
            println!("{}", if a.no_trunc { id } else { &id[..12] });
        }
        return Ok(0);
    }
    let rows: Vec<Value> = nets
        .iter()
        .map(|n| {
            let id = n["Id"].as_str().unwrap_or("");
            json!({
                "ID": if a.no_trunc { id } else { &id[..12] },
                "Name": n["Name"],
                "Driver": n["Driver"],
                "Scope": "local",
                "IPv6": n["EnableIPv6"],
                "Internal": n["Internal"],
                "CreatedAt": n["Created"],
                "Labels": n["Labels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")).unwrap_or_default(),
            })
        })
        .collect();
    crate::output::print_table(
        a.format.as_deref(),
        "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        &[
            ("ID", "NETWORK ID"),
            ("Name", "NAME"),
            ("Driver", "DRIVER"),
            ("Scope", "SCOPE"),
            ("CreatedAt", "CREATED AT"),
        ],
        &rows,
    )
}

#[derive(Args)]
pub struct PortArgs {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    port: Option<String>,
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(root: &Path, a: PortArgs) -> Result<u8> {
    let rt = Runtime::open(root).map_err(fail)?;
    let c = rt.find(&a.container).map_err(fail)?;
    let published = if c.state.status == Status::Running {
        rt.networking().published(&c.id)
    } else {
        Vec::new()
    };
    match &a.port {
        None => {
            for p in &published {
                println!("{p}");
            }
        }
        Some(want) => {
            let key = if want.contains('/') {
                want.clone()
            } else {
                format!("{want}/tcp")
            };
            let hits: Vec<_> = published
                .iter()
                .filter(|p| format!("{}/{}", p.container_port, p.proto.as_str()) == key)
                .collect();
            if hits.is_empty() {
                bail!("No public port '{key}' published for {}", a.container);
            }
            for p in hits {
                println!("{}:{}", p.host_ip, p.host_port);
            }
        }
    }
    Ok(0)
}
