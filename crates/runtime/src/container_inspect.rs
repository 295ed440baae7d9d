//! `docker inspect` of a container and the PORTS text, as the Engine API's
//! `GET /containers/{id}/json` returns them (Docker's field names), built from the record,
//! the network state and the health record.

use serde_json::{json, Value};

use crate::lifecycle::Runtime;
use crate::record::{ContainerRecord, Status};

impl Runtime {
    /// Docker's PORTS column: published ports, then exposed ones not published.
    pub fn ports_text(&self, c: &ContainerRecord) -> String {
        let published = if c.state.status == Status::Running {
            self.networking().published(&c.id)
        } else {
            Vec::new()
        };
        let mut parts: Vec<String> = published
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip,
                    p.host_port,
                    p.container_port,
                    p.proto.as_str()
                )
            })
            .collect();
        for e in &c.config.exposed {
            if !published
                .iter()
                .any(|p| format!("{}/{}", p.container_port, p.proto.as_str()) == *e)
            {
                parts.push(e.clone());
            }
        }
        parts.join(", ")
    }

    /// `NetworkSettings` of `inspect`: addresses per network and published ports.
    fn network_settings(&self, c: &ContainerRecord) -> Value {
        let endpoints = self.networking().container_endpoints(&c.id);
        let running = c.state.status == Status::Running;
        let mut ports = serde_json::Map::new();
        for e in &c.config.exposed {
            ports.insert(e.clone(), Value::Null);
        }
        if running {
            for p in self.networking().published(&c.id) {
                let key = format!("{}/{}", p.container_port, p.proto.as_str());
                let entry =
                    json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()});
                match ports.get_mut(&key) {
                    Some(Value::Array(v)) => v.push(entry),
                    _ => {
                        ports.insert(key, json!([entry]));
                    }
                }
            }
        }
        // A running container's IPv6 address, gateway and prefix on a network with IPv6.
        let ipv6 = |n: &berth_network::Network, e: &berth_network::Endpoint| match (&n.ipv6, e.ip6)
        {
            (Some(v6), Some(ip)) if running => Some((ip, v6.gateway, v6.subnet.prefix_len())),
            _ => None,
        };
        let mut networks = serde_json::Map::new();
        for (n, e) in &endpoints {
            // As Docker's API 1.45 on: the aliases asked for (null when none); the short ID
            // is among the DNS names (the API server adds it back for older clients).
            let aliases = e.aliases.clone();
            networks.insert(
                n.name.clone(),
                json!({
                    // What was asked of the endpoint, as Docker keeps it (null: nothing).
                    "IPAMConfig": if e.asked_ip.is_none() && e.asked_ip6.is_none() && e.link_local_ips.is_empty() { Value::Null } else {
                        let mut i = json!({});
                        if let Some(ip) = e.asked_ip {
                            i["IPv4Address"] = json!(ip.to_string());
                        }
                        if let Some(ip) = e.asked_ip6 {
                            i["IPv6Address"] = json!(ip.to_string());
                        }
                        if !e.link_local_ips.is_empty() {
                            i["LinkLocalIPs"] = json!(e.link_local_ips.iter().map(|a| a.to_string()).collect::<Vec<_>>());
                        }
                        i
                    },
                    "Links": if e.links.is_empty() { Value::Null } else { json!(e.links) },
                    "DriverOpts": if e.driver_opts.is_empty() { Value::Null } else { json!(e.driver_opts) },
                    "Aliases": if n.is_default() || aliases.is_empty() { Value::Null } else { json!(aliases) },
                    "NetworkID": n.id,
                    "EndpointID": if running { json!(format!("{}{}", &c.id[..32], &n.id[..32])) } else { json!("") },
                    "Gateway": if running { n.gateway.to_string() } else { String::new() },
                    "IPAddress": if running { e.ip.to_string() } else { String::new() },
                    "IPPrefixLen": if running { n.subnet.prefix_len() } else { 0 },
                    "IPv6Gateway": ipv6(n, e).map(|(_, gw, _)| gw.to_string()).unwrap_or_default(),
                    "GlobalIPv6Address": ipv6(n, e).map(|(ip, _, _)| ip.to_string()).unwrap_or_default(),
                    "GlobalIPv6PrefixLen": ipv6(n, e).map(|(_, _, p)| p).unwrap_or(0),
                    // One asked for is configuration (API 1.44 on): shown while stopped too.
                    "MacAddress": if running { e.mac_address() } else { e.mac.clone() },
                    "DNSNames": if n.is_default() { Value::Null } else {
                        let mut d = vec![c.name.clone(), c.id[..12].to_string()];
                        d.extend(aliases);
                        json!(d)
                    },
                }),
            );
        }
        if c.config.network == "host" || c.config.network == "none" {
            networks.insert(
                c.config.network.clone(),
                json!({"NetworkID": "", "IPAddress": "", "Gateway": ""}),
            );
        }
        let default = endpoints.iter().find(|(n, _)| n.is_default());
        json!({
            "Ports": ports,
            "IPAddress": default.filter(|_| running).map(|(_, e)| e.ip.to_string()).unwrap_or_default(),
            "Gateway": default.filter(|_| running).map(|(n, _)| n.gateway.to_string()).unwrap_or_default(),
            "IPPrefixLen": default.filter(|_| running).map(|(n, _)| n.subnet.prefix_len()).unwrap_or(0),
            "MacAddress": default.filter(|_| running).map(|(_, e)| e.mac_address()).unwrap_or_default(),
            "GlobalIPv6Address": default.and_then(|(n, e)| ipv6(n, e)).map(|(ip, _, _)| ip.to_string()).unwrap_or_default(),
            "GlobalIPv6PrefixLen": default.and_then(|(n, e)| ipv6(n, e)).map(|(_, _, p)| p).unwrap_or(0),
            "IPv6Gateway": default.and_then(|(n, e)| ipv6(n, e)).map(|(_, gw, _)| gw.to_string()).unwrap_or_default(),
            "Networks": networks,
        })
    }

    /// The container as `docker inspect` (and `GET /containers/{id}/json`) shows it.
    pub fn container_json(&self, c: &ContainerRecord) -> Value {
        let mut out = self.container_json_computed(c);
        // The HostConfig as asked for, with what berth computed (ports, caps, limits as
        // applied) over it: fields such as Tmpfs, Init, Binds and Ulimits read back as sent.
        if let Some(asked) = c
            .host_config
            .as_ref()
            .and_then(|h| serde_json::to_value(h).ok())
        {
            if let (Value::Object(mut base), Some(Value::Object(computed))) =
                (asked, out.get("HostConfig").cloned())
            {
                base.extend(computed);
                out["HostConfig"] = Value::Object(base);
            }
        }
        out
    }

    /// `HostConfig.Links` as Docker shows them: `/OTHER:/THIS/ALIAS` (null: none).
    fn links_shown(&self, c: &ContainerRecord) -> Value {
        if c.config.links.is_empty() {
            return Value::Null;
        }
        json!(c
            .config
            .links
            .iter()
            .map(|l| {
                let other = self
                    .containers
                    .load(&l.container_id)
                    .map(|o| o.name)
                    .unwrap_or_else(|_| l.container_id.clone());
                format!("/{other}:/{}/{}", c.name, l.alias)
            })
            .collect::<Vec<_>>())
    }

    fn container_json_computed(&self, c: &ContainerRecord) -> Value {
        let cfg = &c.config;
        json!({
            "Id": c.id,
            "Created": c.created,
            "Path": cfg.args.first(),
            "Args": cfg.args.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": c.state.docker_status(),
                "Running": c.state.status == Status::Running,
                "Paused": c.state.paused,
                "Restarting": c.state.status == Status::Restarting,
                "OOMKilled": c.state.oom_killed,
                "Dead": false,
                "Pid": c.state.pid,
                "ExitCode": c.state.exit_code,
                "Error": c.state.error,
                "StartedAt": c.state.started_at,
                "FinishedAt": c.state.finished_at,
                "Health": self.health(c),
            },
            "Image": c.image_id,
            "LogPath": crate::logs::log_path(&self.containers().dir(&c.id), &c.id),
            "Name": format!("/{}", c.name),
            "RestartCount": c.state.restart_count,
            "Driver": "overlay",
            "NetworkSettings": self.network_settings(c),
            "HostConfig": {
                "NetworkMode": cfg.network,
                "Links": self.links_shown(c),
                "LogConfig": log_config(cfg),
                "PortBindings": cfg.ports.iter().fold(serde_json::Map::new(), |mut m, p| {
                    let key = format!("{}/{}", p.container_port, p.proto.as_str());
                    let entry = json!({
                        "HostIp": p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                        "HostPort": match p.host_range {
                            None => String::new(),
                            Some((a, b)) if a == b => a.to_string(),
                            Some((a, b)) => format!("{a}-{b}"),
                        },
                    });
                    if let Some(Value::Array(v)) = m.get_mut(&key) {
                        v.push(entry);
                    } else {
                        m.insert(key, json!([entry]));
                    }
                    m
                }),
                "Dns": cfg.dns,
                "DnsSearch": cfg.dns_search,
                "DnsOptions": cfg.dns_options,
                "ExtraHosts": cfg.extra_hosts.iter().map(|(n, a)| format!("{n}:{a}")).collect::<Vec<_>>(),
                "RestartPolicy": {"Name": cfg.restart_policy, "MaximumRetryCount": cfg.restart_max},
                "AutoRemove": cfg.auto_remove,
                "ReadonlyRootfs": cfg.read_only,
                "Memory": cfg.memory.unwrap_or(0),
                "MemorySwap": cfg.memory_swap.unwrap_or(0),
                "NanoCpus": cfg.nano_cpus.unwrap_or(0),
                "CpuShares": cfg.cpu_shares.unwrap_or(0),
                "PidsLimit": cfg.pids_limit,
                "ShmSize": cfg.shm_size.unwrap_or(crate::spec::DEFAULT_SHM_SIZE),
                "Privileged": cfg.privileged,
                "CapAdd": cfg.caps.iter().filter(|c| !crate::spec::DOCKER_CAPS.contains(&c.as_str())).collect::<Vec<_>>(),
                "CapDrop": crate::spec::DOCKER_CAPS.iter().filter(|c| !cfg.caps.iter().any(|x| x == *c)).collect::<Vec<_>>(),
                "SecurityOpt": if cfg.seccomp.is_none() { json!(["seccomp=unconfined"]) } else { Value::Null },
            },
            "Mounts": cfg.mounts.iter().map(|m| {
                let vols = self.volumes().ok();
                let mut mount = json!({
                    "Type": m.kind,
                    "Name": if m.kind == "volume" { json!(m.source) } else { Value::Null },
                    "Source": match (m.kind.as_str(), &vols) {
                        ("volume", Some(v)) => v.data_dir(&m.source).display().to_string(),
                        _ => m.source.clone(),
                    },
                    "Destination": m.target,
                    "Mode": "",
                    "RW": !m.readonly,
                    "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
                });
                // `system df -v` counts a container's local volumes by this field.
                if m.kind == "volume" {
                    mount["Driver"] = json!("local");
                }
                mount
            }).collect::<Vec<_>>(),
            "Config": {
                "Hostname": cfg.hostname,
                "User": cfg.user,
                "AttachStdin": cfg.attach[0],
                "AttachStdout": cfg.attach[1],
                "AttachStderr": cfg.attach[2],
                "OpenStdin": cfg.open_stdin,
                "StdinOnce": cfg.stdin_once,
                "Tty": cfg.tty,
                "Env": cfg.env,
                "Cmd": cfg.cmd,
                "Image": c.image,
                "WorkingDir": cfg.working_dir,
                "Entrypoint": if cfg.entrypoint.is_empty() { Value::Null } else { json!(cfg.entrypoint) },
                "Labels": cfg.labels,
                "ExposedPorts": cfg.exposed.iter().map(|e| (e.clone(), json!({}))).collect::<serde_json::Map<String, Value>>(),
                "StopSignal": cfg.stop_signal,
                "StopTimeout": cfg.stop_timeout,
                "Healthcheck": cfg.healthcheck,
            },
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "LowerDir": c.lower_dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                    "UpperDir": self.containers().dir(&c.id).join("upper"),
                    "WorkDir": self.containers().dir(&c.id).join("work"),
                    "MergedDir": self.containers().dir(&c.id).join("rootfs"),
                }
            },
        })
    }

    /// `inspect -s`: the container's own changes (its writable layer) and those plus its image.
    pub fn container_sizes(&self, c: &ContainerRecord) -> (u64, u64) {
        let upper = crate::rootfs::RootfsPaths::of(&self.containers().dir(&c.id)).upper;
        let rw = crate::volumes::dir_size(&upper);
        let image = self
            .store
            .lookup(&c.image_id)
            .map(|i| self.store.image_size(&i))
            .unwrap_or(0);
        (rw, rw + image)
    }
}

/// `HostConfig.LogConfig`: clients read logs back only from drivers they know keep them
/// (docker-py's `run`); berth's log has json-file's format and rotation options, for the
/// `local` driver too.
fn log_config(cfg: &crate::record::RunConfig) -> Value {
    let mut options = serde_json::Map::new();
    if let Some(s) = cfg.log_max_size {
        options.insert("max-size".into(), json!(s.to_string()));
    }
    if let Some(f) = cfg.log_max_files {
        options.insert("max-file".into(), json!(f.to_string()));
    }
    if let Some(c) = cfg.log_compress {
        options.insert("compress".into(), json!(c.to_string()));
    }
    let kind = match cfg.log_driver.as_str() {
        "none" | "local" => cfg.log_driver.as_str(),
        _ => "json-file",
    };
    json!({"Type": kind, "Config": options})
}
