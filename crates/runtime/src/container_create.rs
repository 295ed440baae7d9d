//! `create`: a [`ContainerCreate`] (Docker's Config/HostConfig/NetworkingConfig) checked as
//! Docker's daemon checks it, resolved against the image, and recorded. Nothing runs yet.
//! Every check is made before anything is written, so a refused request leaves nothing
//! behind.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use berth_image::config::ContainerConfig as ImageConfig;
use berth_network::{PortRequest, Proto};

use crate::container_config::{ContainerCreate, HostConfig, PortBinding};
use crate::error::{Error, Result};
use crate::lifecycle::{bridged, Runtime};
use crate::options::{check_log_config, check_restart, check_ulimit, security_options, BERTH_INIT};
use crate::record::{
    new_id, now, valid_name, ContainerRecord, RunConfig, State, Status, ZERO_TIME,
};
use crate::rootfs::DEFAULT_PATH;
use crate::volumes::MountSpec;

/// Docker's smallest memory limit: below it a container cannot even start its process.
pub(crate) const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The network side of a request, checked.
struct NetworkOptions {
    attachment: berth_network::Attachment,
    ports: Vec<PortRequest>,
    exposed: Vec<String>,
    extra_hosts: Vec<(String, String)>,
}

impl Runtime {
    /// `docker create`: records the container from the image `spec.config.image` names.
    pub fn create(&self, name: Option<&str>, spec: &ContainerCreate) -> Result<ContainerRecord> {
        Ok(self.create_with_warnings(name, spec)?.0)
    }

    /// `create`, with Docker's `Warnings`: what the host cannot apply and so was discarded
    /// (a block I/O weight without a scheduler that has weights, for one).
    pub fn create_with_warnings(
        &self,
        name: Option<&str>,
        spec: &ContainerCreate,
    ) -> Result<(ContainerRecord, Vec<String>)> {
        let img = self.store.lookup(&spec.config.image)?;
        self.create_checked(&img, name, spec)
    }

    /// `create` from an image already read (the builder's unregistered intermediate images).
    pub fn create_from(
        &self,
        img: &berth_image::Image,
        name: Option<&str>,
        spec: &ContainerCreate,
    ) -> Result<ContainerRecord> {
        Ok(self.create_checked(img, name, spec)?.0)
    }

    fn create_checked(
        &self,
        img: &berth_image::Image,
        name: Option<&str>,
        spec: &ContainerCreate,
    ) -> Result<(ContainerRecord, Vec<String>)> {
        let unsupported = spec.unsupported_fields();
        if !unsupported.is_empty() {
            return Err(Error::Invalid(format!(
                "berth does not support {} (yet); leave {} unset",
                unsupported.join(", "),
                if unsupported.len() == 1 { "it" } else { "them" }
            )));
        }
        let c = &spec.config;
        let h = &spec.host_config;
        check_resources(h, host_cpus())?;
        let (block_io, warnings) = if crate::block_io::asked(h) {
            crate::block_io::resolve(
                h,
                crate::block_io::BlockIoSupport::of(&crate::cgroups::CgroupFs::host()),
            )?
        } else {
            Default::default()
        };
        let icfg = img.config.config.clone().unwrap_or_default();
        if let Some(n) = name {
            let n = n.strip_prefix('/').unwrap_or(n);
            if !valid_name(n) {
                return Err(Error::BadName(n.to_string()));
            }
            if self.containers.list()?.iter().any(|c| c.name == n) {
                return Err(Error::NameInUse(n.to_string()));
            }
        }
        // Docker's merge: a given entrypoint (`[""]` resets it) replaces the image's, and then
        // the image's CMD is not used; a given command replaces the image's CMD.
        let entrypoint = match &c.entrypoint {
            Some(e) if e.iter().all(String::is_empty) => Vec::new(),
            Some(e) => e.clone(),
            None => icfg.entrypoint.clone().unwrap_or_default(),
        };
        let cmd = match &c.cmd {
            Some(cmd) if !cmd.is_empty() => cmd.clone(),
            _ if c.entrypoint.is_some() => Vec::new(),
            _ => icfg.cmd.clone().unwrap_or_default(),
        };
        let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
        if args.is_empty() {
            return Err(Error::NoCommand);
        }
        let mut env = merge_env(icfg.env.as_deref().unwrap_or_default(), &c.env)?;
        let mut network = spec.network_name().to_string();
        let net = network_options(spec, &network, &icfg)?;
        // `container:NAME`: that container's network namespace, and its hostname, hosts and
        // resolv.conf (Docker's container network mode); recorded by ID.
        let network_donor = match network.strip_prefix("container:") {
            Some(other) => {
                let donor = self.containers.find(other)?;
                network = format!("container:{}", donor.id);
                Some(donor)
            }
            None => None,
        };
        let mut labels = icfg.labels.clone().unwrap_or_default();
        labels.extend(c.labels.clone());
        let caps = crate::spec::capabilities(h.privileged, &h.cap_add, &h.cap_drop)?;
        let (restart_policy, restart_max) = check_restart(&h.restart_policy)?;
        if h.auto_remove && restart_policy != "no" {
            return Err(Error::Conflict(
                "conflicting options: cannot specify both --restart and --rm".into(),
            ));
        }
        let inherited = self.volumes_from(&h.volumes_from)?;
        let wanted = requested_mounts(h, c.volumes.keys(), &icfg, inherited)?;
        let device_rules = h
            .device_cgroup_rules
            .iter()
            .map(|r| crate::options::parse_device_rule(r))
            .collect::<Result<Vec<_>>>()?;
        let mut devices = Vec::new();
        for m in &h.devices {
            devices.extend(crate::options::device_nodes(m)?);
        }
        let shm_size = match h.shm_size {
            0 => None,
            n if n < 0 => {
                return Err(Error::Invalid(format!(
                    "SHM size can not be less than 0 (HostConfig.ShmSize {n})"
                )))
            }
            n => Some(n as u64),
        };
        if !matches!(h.volume_driver.as_str(), "" | "local")
            && wanted.iter().any(|m| m.kind == "volume")
        {
            let d = &h.volume_driver;
            return Err(Error::Invalid(format!(
                "error looking up volume plugin {d}: plugin \"{d}\" not found"
            )));
        }
        if h.init == Some(true) && BERTH_INIT.is_empty() {
            return Err(Error::Invalid("HostConfig.Init: this berth was built without berth-init (no static C library when it was compiled)".into()));
        }
        let ulimits = h
            .ulimits
            .iter()
            .map(|u| {
                check_ulimit(u)
                    .map_err(|r| Error::Invalid(format!("invalid ulimit {}: {r}", u.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let log_options = check_log_config(&h.log_config)?;
        let host_namespaces = host_namespaces(h)?;
        let (mut joined_namespaces, ipc_mode) = self.joined_namespaces(h)?;
        if let Some(donor) = &network_donor {
            joined_namespaces.push(("network".to_string(), donor.id.clone()));
        }
        let links = self.resolve_links(&h.links, &network)?;
        for runtime in [&h.runtime, &c.runtime] {
            if !matches!(runtime.as_str(), "" | "runc") {
                return Err(Error::Invalid(format!(
                    "unknown or invalid runtime name: {runtime}"
                )));
            }
        }
        let userns_remap =
            self.userns_remap_for(h, &network, &host_namespaces, &joined_namespaces)?;
        if !matches!(h.isolation.as_str(), "" | "default") {
            return Err(Error::Invalid(format!(
                "invalid isolation \"{}\" on linux: only default is supported",
                h.isolation
            )));
        }
        let (no_new_privileges, seccomp) = security_options(&h.security_opt, &caps, h.privileged)?;
        let seccomp = match seccomp {
            Some(p) => Some(
                serde_json::value::to_raw_value(&p).map_err(|e| Error::Json {
                    what: "seccomp profile".into(),
                    source: e,
                })?,
            ),
            None => None,
        };
        let healthcheck = crate::health::merge(icfg.healthcheck.as_ref(), c.healthcheck.as_ref())?;
        let stop_signal = match c.stop_signal.as_str() {
            "" => icfg.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
            s => {
                crate::process::parse_signal(s)?;
                s.to_string()
            }
        };
        let stop_timeout = c
            .stop_timeout
            .map(|t| {
                u64::try_from(t).map_err(|_| {
                    Error::Invalid(format!(
                        "invalid StopTimeout {t}: berth needs a number of seconds, 0 or more"
                    ))
                })
            })
            .transpose()?;
        let cpu_shares = match h.cpu_shares {
            0 => None,
            n => Some(u64::try_from(n).map_err(|_| {
                Error::Invalid(format!("invalid CpuShares {n}: cannot be negative"))
            })?),
        };
        // The volumes are made last: everything before can still refuse the request.
        let mounts = self.resolve_mounts(&wanted)?;
        let id = new_id();
        let name = name.map(|n| n.strip_prefix('/').unwrap_or(n).to_string());
        let hostname = match (c.hostname.as_str(), &network_donor) {
            ("", Some(donor)) => donor.config.hostname.clone(),
            ("", None) => id[..12].to_string(),
            (h, _) => h.to_string(),
        };
        env.push(format!("HOSTNAME={hostname}"));
        let lower_dirs: Vec<PathBuf> = img
            .chain_ids()
            .iter()
            .rev()
            .map(|c| self.store.layer_dir(c))
            .collect();
        let nonzero = |n: i64| (n != 0).then_some(n);
        let rec = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: now(),
            image: c.image.clone(),
            image_id: img.id().to_string(),
            lower_dirs,
            config: RunConfig {
                args,
                entrypoint,
                cmd,
                env,
                working_dir: Some(c.working_dir.clone())
                    .filter(|w| !w.is_empty())
                    .or(icfg.working_dir.clone())
                    .unwrap_or_default(),
                user: Some(c.user.clone())
                    .filter(|u| !u.is_empty())
                    .or(icfg.user.clone())
                    .unwrap_or_default(),
                hostname,
                open_stdin: c.open_stdin,
                stdin_once: c.open_stdin && c.stdin_once,
                attach: [c.attach_stdin, c.attach_stdout, c.attach_stderr],
                tty: c.tty,
                console_size: h
                    .console_size
                    .filter(|s| c.tty && s[0] > 0 && s[1] > 0)
                    .map(|[r, k]| [r.min(u16::MAX.into()) as u16, k.min(u16::MAX.into()) as u16]),
                auto_remove: h.auto_remove,
                read_only: h.readonly_rootfs,
                labels,
                network: network.clone(),
                ports: net.ports,
                exposed: net.exposed,
                dns: h.dns.clone(),
                dns_search: h.dns_search.clone(),
                dns_options: h.dns_options.clone(),
                extra_hosts: net.extra_hosts,
                memory: nonzero(h.memory),
                // Docker's default: as much swap as memory.
                memory_swap: match (h.memory, h.memory_swap) {
                    (m, 0) if m > 0 => Some(m * 2),
                    (_, s) => nonzero(s),
                },
                nano_cpus: nonzero(h.nano_cpus),
                cpu_shares,
                pids_limit: h.pids_limit.filter(|n| *n != 0),
                stop_signal,
                stop_timeout,
                caps,
                privileged: h.privileged,
                no_new_privileges,
                seccomp,
                mounts,
                restart_policy,
                restart_max,
                init: h.init == Some(true),
                group_add: h.group_add.clone(),
                log_driver: h.log_config.kind.clone(),
                shm_size,
                device_rules,
                devices,
                cpuset_cpus: Some(h.cpuset_cpus.clone()).filter(|c| !c.is_empty()),
                cpuset_mems: Some(h.cpuset_mems.clone()).filter(|c| !c.is_empty()),
                memory_swappiness: h.memory_swappiness.and_then(|s| u64::try_from(s).ok()),
                cpu_period: u64::try_from(h.cpu_period).ok().filter(|p| *p > 0),
                cpu_quota: Some(h.cpu_quota).filter(|q| *q > 0),
                memory_reservation: nonzero(h.memory_reservation),
                oom_kill_disable: h.oom_kill_disable == Some(true),
                oom_score_adj: h.oom_score_adj,
                sysctls: h.sysctls.clone(),
                host_namespaces,
                joined_namespaces,
                ipc_mode,
                links,
                userns_remap,
                ulimits,
                log_max_size: log_options.max_size,
                log_max_files: log_options.max_files,
                log_compress: log_options.compress,
                healthcheck,
                block_io: block_io.clone(),
            },
            state: State {
                status: Status::Created,
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..State::default()
            },
            host_config: Some(crate::block_io::without_discarded(
                HostConfig {
                    runtime: "runc".into(),
                    ..h.clone()
                },
                &block_io,
            )),
        };
        let mut rec = rec;
        // The name is checked again, and claimed, together with writing the record.
        if let Err(e) = self.containers.create(&mut rec, name.as_deref()) {
            self.remove_anonymous_volumes(&rec);
            return Err(e);
        }
        let dir = self.containers.dir(&id);
        if bridged(&network) {
            if let Err(e) = self
                .network
                .allocate(&id, &rec.name, &dir, &[net.attachment])
            {
                let _ = self.containers.remove_dir(&id);
                return Err(e.into());
            }
        }
        self.container_event("create", &rec, &[]);
        Ok((rec, warnings))
    }

    pub fn volumes(&self) -> Result<crate::volumes::Volumes> {
        crate::volumes::Volumes::new(&self.root)
    }

    /// The mounts of the containers named in HostConfig.VolumesFrom (`NAME[:ro|:rw]`; no
    /// mode keeps each mount's own), as this container gets them. Their volumes stay theirs:
    /// none counts as this container's anonymous volume.
    fn volumes_from(&self, from: &[String]) -> Result<Vec<MountSpec>> {
        let mut out = Vec::new();
        for entry in from {
            let (name, mode) = match entry.split_once(':') {
                Some((n, m)) => (n, Some(m)),
                None => (entry.as_str(), None),
            };
            let readonly = match mode {
                None => None,
                Some("ro") => Some(true),
                Some("rw") => Some(false),
                Some(m) => {
                    return Err(Error::Invalid(format!(
                        "invalid mode for volumes-from: {m}"
                    )))
                }
            };
            let source = self.containers.find(name)?;
            for m in source.config.mounts.iter().filter(|m| m.kind != "tmpfs") {
                out.push(MountSpec {
                    readonly: readonly.unwrap_or(m.readonly),
                    anonymous: false,
                    ..m.clone()
                });
            }
        }
        Ok(out)
    }

    /// Checks bind sources, names anonymous volumes and creates named ones.
    fn resolve_mounts(&self, given: &[MountSpec]) -> Result<Vec<MountSpec>> {
        let volumes = self.volumes()?;
        let mut out = Vec::new();
        for m in given {
            let mut m = m.clone();
            match m.kind.as_str() {
                "bind" => {
                    let p = fs::canonicalize(&m.source).map_err(|_| {
                        Error::Invalid(format!("invalid mount config for type \"bind\": bind source path does not exist: {}", m.source))
                    })?;
                    m.source = p.display().to_string();
                }
                "volume" => {
                    if m.anonymous {
                        m.source = new_id();
                    }
                    let labels = Some(m.labels.clone()).filter(|l| !l.is_empty());
                    volumes.create(&m.source, m.anonymous, labels)?;
                }
                _ => {}
            }
            out.push(m);
        }
        Ok(out)
    }
}

/// HostConfig's PidMode, UTSMode and CgroupnsMode as the namespaces shared with the host.
fn host_namespaces(h: &HostConfig) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if h.ipc_mode == "host" {
        out.push("ipc".to_string());
    }
    for (field, value, ns, own) in [
        ("PidMode", &h.pid_mode, "pid", ""),
        ("UTSMode", &h.uts_mode, "uts", ""),
        ("CgroupnsMode", &h.cgroupns_mode, "cgroup", "private"),
    ] {
        match value.as_str() {
            "host" => out.push(ns.to_string()),
            "" => {}
            v if ns == "pid" && v.starts_with("container:") => {}
            v if v == own => {}
            v => {
                return Err(Error::Invalid(format!(
                    "invalid {field} \"{v}\": berth supports host{}",
                    if own.is_empty() {
                        String::new()
                    } else {
                        format!(" or {own}")
                    }
                )))
            }
        }
    }
    Ok(out)
}

impl Runtime {
    /// The namespaces joined from other containers (`--pid container:NAME`, `--ipc
    /// container:NAME`): (kind, container ID); and the IPC mode as recorded (`host`, `none`,
    /// `container:ID`, or empty for a namespace of its own).
    /// The mapping a new container gets: the store's `userns-remap` unless it asks for
    /// `--userns host`; with dockerd's refusals of what cannot be remapped.
    fn userns_remap_for(
        &self,
        h: &HostConfig,
        network: &str,
        host_namespaces: &[String],
        joined_namespaces: &[(String, String)],
    ) -> Result<Option<crate::userns_remap::IdMap>> {
        if !matches!(h.userns_mode.as_str(), "" | "host") {
            return Err(Error::Invalid(format!(
                "invalid UsernsMode {:?}: host, or empty for the store's userns-remap",
                h.userns_mode
            )));
        }
        let Some(setting) = crate::userns_remap::configured(&self.root)? else {
            return Ok(None);
        };
        if h.userns_mode == "host" {
            return Ok(None);
        }
        if h.privileged {
            return Err(Error::Invalid("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode".into()));
        }
        if network == "host" {
            return Err(Error::Invalid(
                "cannot share the host's network namespace when user namespaces are enabled".into(),
            ));
        }
        if host_namespaces.iter().any(|n| n == "pid") {
            return Err(Error::Invalid(
                "cannot share the host PID namespace when user namespaces are enabled".into(),
            ));
        }
        let map = crate::userns_remap::resolve(&setting, Path::new("/etc"))?;
        // Joining another container's namespaces means joining its user namespace too (as
        // dockerd does), so that container must be remapped the same way, and be the only
        // one joined (a process is in one user namespace).
        let mut donors = joined_namespaces.iter().map(|(_, d)| d).collect::<Vec<_>>();
        donors.sort();
        donors.dedup();
        if donors.len() > 1 {
            return Err(Error::Invalid(
                "with userns-remap, a container joins the namespaces of one other container at most (they each have a user namespace of their own); add --userns host".into(),
            ));
        }
        if let (Some((kind, donor)), Some(_)) = (joined_namespaces.first(), donors.first()) {
            let other = self.containers.load(donor)?;
            if other.config.userns_remap != Some(map) {
                return Err(Error::Invalid(format!(
                    "cannot join the {kind} namespace of container {}: it does not run remapped as this one would (it was created with --userns host or before userns-remap was set); add --userns host",
                    other.name
                )));
            }
        }
        Ok(Some(map))
    }

    fn joined_namespaces(&self, h: &HostConfig) -> Result<(Vec<(String, String)>, String)> {
        let mut joined = Vec::new();
        if let Some(name) = h.pid_mode.strip_prefix("container:") {
            joined.push(("pid".to_string(), self.containers.find(name)?.id));
        }
        let ipc = match h.ipc_mode.as_str() {
            "" | "private" => String::new(),
            "host" | "none" | "shareable" => h.ipc_mode.clone(),
            v => match v.strip_prefix("container:") {
                Some(name) => {
                    let id = self.containers.find(name)?.id;
                    joined.push(("ipc".to_string(), id.clone()));
                    format!("container:{id}")
                }
                None => {
                    return Err(Error::Invalid(format!(
                        "invalid IPC mode: {v} (expected private, shareable, host, none or container:NAME)"
                    )))
                }
            },
        };
        Ok((joined, ipc))
    }
}

/// The image's environment with the request's applied: `KEY=VALUE` sets, a bare `KEY`
/// replaces the image's KEY and stays in the config as Docker keeps it, and the process
/// does not get it (`spec::process_env`). The CLI has already looked a bare `-e KEY` up in
/// its own environment.
fn merge_env(image: &[String], asked: &[String]) -> Result<Vec<String>> {
    let mut env: Vec<String> = image.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    for e in asked {
        let (k, v) = match e.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (e.as_str(), None),
        };
        if k.is_empty() {
            return Err(Error::Invalid(format!(
                "invalid environment variable {e:?}: the name is empty"
            )));
        }
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |p| p.0) != k);
        match v {
            Some(v) => env.push(format!("{k}={v}")),
            None => env.push(k.to_string()),
        }
    }
    Ok(env)
}

/// Binds, anonymous volumes, Mounts and Tmpfs as mounts, plus an anonymous volume for each of
/// the image's VOLUMEs no mount covers (seeded from the image at start), as in Docker. The
/// order is Docker's: parents before what is mounted inside them.
fn requested_mounts<'a>(
    h: &HostConfig,
    anonymous: impl Iterator<Item = &'a String>,
    icfg: &ImageConfig,
    inherited: Vec<MountSpec>,
) -> Result<Vec<MountSpec>> {
    let field = |f: &str, v: &str, r: String| Error::Invalid(format!("invalid {f} {v:?}: {r}"));
    let mut wanted = Vec::new();
    for b in &h.binds {
        wanted.push(crate::volumes::parse_bind(b).map_err(|r| field("HostConfig.Binds", b, r))?);
    }
    for m in &h.mounts {
        wanted.push(
            crate::volumes::mount_spec(m).map_err(|r| field("HostConfig.Mounts", &m.target, r))?,
        );
    }
    for (target, opts) in &h.tmpfs {
        wanted.push(
            crate::volumes::tmpfs_spec(target, opts)
                .map_err(|r| field("HostConfig.Tmpfs", target, r))?,
        );
    }
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    // A `Volumes` entry that a bind, mount or tmpfs already covers is no anonymous volume
    // (docker-py lists its binds' targets there too, as the API used to want). Anonymous
    // volumes come right after the binds, as before.
    let mut anon = Vec::new();
    for target in anonymous {
        if wanted.iter().any(|w| same(&w.target, target)) {
            continue;
        }
        anon.push(crate::volumes::parse_bind(target).map_err(|r| field("Volumes", target, r))?);
    }
    let at = h.binds.len();
    wanted.splice(at..at, anon);
    for (i, m) in wanted.iter().enumerate() {
        if wanted[..i].iter().any(|x| same(&x.target, &m.target)) {
            return Err(Error::Invalid(format!(
                "Duplicate mount point: {}",
                m.target
            )));
        }
    }
    // What VolumesFrom brings, where the container's own mounts leave room (Docker's order:
    // the container's binds and mounts win).
    for m in inherited {
        if !wanted.iter().any(|w| same(&w.target, &m.target)) {
            wanted.push(m);
        }
    }
    for target in icfg.volumes.iter().flat_map(|v| v.keys()) {
        if !wanted.iter().any(|m| same(&m.target, target)) {
            wanted.push(MountSpec {
                kind: "volume".into(),
                source: String::new(),
                target: target.clone(),
                readonly: false,
                options: Vec::new(),
                anonymous: true,
                ..Default::default()
            });
        }
    }
    wanted.sort_by_key(|m| m.target.trim_end_matches('/').matches('/').count());
    Ok(wanted)
}

/// What an endpoint's settings ask of `network` (at create, or at a connect), checked:
/// aliases, the IPv4 address, further (link-local) addresses, the MAC address (`legacy_mac`:
/// Config.MacAddress, which clients before API 1.44 send instead) and driver options.
pub fn endpoint_attachment(
    network: &str,
    endpoint: Option<&crate::container_config::EndpointSettings>,
    legacy_mac: &str,
) -> Result<berth_network::Attachment> {
    let bad = |field: &str, value: &str, reason: &str| {
        Error::Invalid(format!("invalid {field} {value:?}: {reason}"))
    };
    let ipam = endpoint.and_then(|e| e.ipam_config.as_ref());
    let ip = match ipam
        .map(|i| i.ipv4_address.as_str())
        .filter(|a| !a.is_empty())
    {
        Some(v) => Some(
            v.parse::<Ipv4Addr>()
                .map_err(|_| bad("IPAMConfig.IPv4Address", v, "expected an IPv4 address"))?,
        ),
        None => None,
    };
    let ip6 = match ipam
        .map(|i| i.ipv6_address.as_str())
        .filter(|a| !a.is_empty())
    {
        Some(v) => Some(
            v.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("IPAMConfig.IPv6Address", v, "expected an IPv6 address"))?,
        ),
        None => None,
    };
    let link_local_ips = ipam
        .map(|i| i.link_local_ips.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|a| {
            a.parse::<IpAddr>()
                .map_err(|_| bad("IPAMConfig.LinkLocalIPs", a, "expected an IP address"))
        })
        .collect::<Result<Vec<_>>>()?;
    let mac = endpoint
        .map(|e| e.mac_address.as_str())
        .filter(|m| !m.is_empty())
        .or(Some(legacy_mac).filter(|m| !m.is_empty()));
    if let Some(m) = mac {
        if berth_network::parse_mac(m).is_none() {
            return Err(bad(
                "MacAddress",
                m,
                "expected a MAC address such as 02:42:ac:11:00:02",
            ));
        }
    }
    let links = endpoint.map(|e| e.links.clone()).unwrap_or_default();
    for l in &links {
        crate::container_links::parse_link(l)?;
    }
    Ok(berth_network::Attachment {
        network: network.to_string(),
        aliases: endpoint.map(|e| e.aliases.clone()).unwrap_or_default(),
        links,
        ip,
        ip6,
        mac: mac.map(str::to_string),
        link_local_ips,
        driver_opts: endpoint.map(|e| e.driver_opts.clone()).unwrap_or_default(),
    })
}

/// Checks and resolves the network side of a request.
fn network_options(
    spec: &ContainerCreate,
    network: &str,
    icfg: &ImageConfig,
) -> Result<NetworkOptions> {
    let h = &spec.host_config;
    let bad = |field: &str, value: &str, reason: &str| {
        Error::Invalid(format!("invalid {field} {value:?}: {reason}"))
    };
    if network.starts_with("container:") {
        check_container_network_mode(spec)?;
    }
    let on_bridge = bridged(network);
    let endpoint = spec.endpoint();
    let aliases = endpoint.map(|e| e.aliases.clone()).unwrap_or_default();
    if !aliases.is_empty() && (!on_bridge || network == "bridge") {
        return Err(Error::Invalid(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let mut attachment = endpoint_attachment(network, endpoint, &spec.config.mac_address)?;
    // `HostConfig.Links` on a user-defined network: links of its endpoint (what the docker
    // CLI makes of `--link` there; Docker's daemon would ignore them in HostConfig).
    if on_bridge && !matches!(network, "bridge" | "default") {
        for l in &h.links {
            crate::container_links::parse_link(l)?;
            if !attachment.links.contains(l) {
                attachment.links.push(l.clone());
            }
        }
    }
    if let Some(m) = &attachment.mac {
        if !on_bridge {
            return Err(Error::Invalid(format!(
                "invalid MacAddress {m:?}: a MAC address needs a bridge network, not {network}"
            )));
        }
    }
    for d in &h.dns {
        d.parse::<IpAddr>()
            .map_err(|_| bad("HostConfig.Dns", d, "expected an IP address"))?;
    }
    let mut extra_hosts = Vec::new();
    for e in &h.extra_hosts {
        extra_hosts.push(parse_extra_host(e).map_err(|r| bad("HostConfig.ExtraHosts", e, r))?);
    }
    let mut exposed: Vec<(u16, Proto)> = Vec::new();
    let image_exposed = icfg
        .exposed_ports
        .as_ref()
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    for e in image_exposed.iter().chain(spec.config.exposed_ports.keys()) {
        for p in berth_network::parse_exposed(e)? {
            if !exposed.contains(&p) {
                exposed.push(p);
            }
        }
    }
    let mut ports = port_requests(h)?;
    for r in &ports {
        if !exposed.contains(&(r.container_port, r.proto)) {
            exposed.push((r.container_port, r.proto));
        }
    }
    if h.publish_all_ports {
        for (port, proto) in &exposed {
            if !ports
                .iter()
                .any(|r| r.container_port == *port && r.proto == *proto)
            {
                ports.push(PortRequest {
                    host_ip: None,
                    host_range: None,
                    container_port: *port,
                    proto: *proto,
                });
            }
        }
    }
    // Docker discards published ports outside a bridge (with a warning from its CLI).
    if !on_bridge {
        ports.clear();
    }
    exposed.sort();
    Ok(NetworkOptions {
        attachment,
        ports,
        exposed: exposed
            .iter()
            .map(|(p, proto)| format!("{p}/{}", proto.as_str()))
            .collect(),
        extra_hosts,
    })
}

/// Docker's conflicts of the container network mode: what would configure a network the
/// container does not own is refused.
fn check_container_network_mode(spec: &ContainerCreate) -> Result<()> {
    let (c, h) = (&spec.config, &spec.host_config);
    let conflict = |what: &str| Err(Error::Invalid(format!("conflicting options: {what}")));
    if h.network_mode == "container:" {
        return Err(Error::Invalid(
            "invalid HostConfig.NetworkMode \"container:\": expected container:NAME or ID".into(),
        ));
    }
    if !c.hostname.is_empty() {
        return conflict("hostname and the network mode");
    }
    if !h.dns.is_empty() {
        return conflict("dns and the network mode");
    }
    if !h.extra_hosts.is_empty() {
        return conflict("custom host-to-IP mapping and the network mode");
    }
    if !c.mac_address.is_empty() {
        return conflict("mac-address and the network mode");
    }
    if !h.port_bindings.is_empty() || h.publish_all_ports {
        return conflict("port publishing and the container type network mode");
    }
    if !c.exposed_ports.is_empty() {
        return conflict("port exposing and the container type network mode");
    }
    Ok(())
}

/// A `HostConfig.ExtraHosts` entry (the CLI's `--add-host`): `HOST:IP` or `HOST=IP`, IP
/// possibly `host-gateway`; the reason is returned for the caller to name its flag or field.
pub fn parse_extra_host(e: &str) -> std::result::Result<(String, String), &'static str> {
    let (name, addr) = e
        .split_once([':', '='])
        .filter(|(n, a)| !n.is_empty() && !a.is_empty())
        .ok_or("expected HOST:IP")?;
    if addr != "host-gateway" {
        addr.trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .map_err(|_| "invalid IP address")?;
    }
    Ok((name.to_string(), addr.to_string()))
}

/// HostConfig.PortBindings as the network crate's requests.
fn port_requests(h: &HostConfig) -> Result<Vec<PortRequest>> {
    let bad = |key: &str, r: String| {
        Error::Invalid(format!("invalid HostConfig.PortBindings {key:?}: {r}"))
    };
    let mut out = Vec::new();
    for (key, bindings) in &h.port_bindings {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let proto = match proto {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            p => return Err(bad(key, format!("unsupported protocol \"{p}\""))),
        };
        let container_port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(key, "expected PORT/PROTO".into()))?;
        let empty = [PortBinding::default()];
        let list = match bindings.as_deref() {
            Some(l) if !l.is_empty() => l,
            _ => &empty[..],
        };
        for b in list {
            let host_ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" => None,
                ip => Some(
                    ip.parse::<Ipv4Addr>()
                        .map_err(|_| bad(key, format!("invalid HostIp \"{ip}\"")))?,
                ),
            };
            let num = |s: &str| -> Result<u16> {
                s.parse::<u16>()
                    .map_err(|_| bad(key, format!("invalid HostPort \"{}\"", b.host_port)))
            };
            let host_range = match b.host_port.as_str() {
                "" | "0" => None,
                p => match p.split_once('-') {
                    Some((a, z)) => {
                        let (a, z) = (num(a)?, num(z)?);
                        if a == 0 || a > z {
                            return Err(bad(key, format!("invalid HostPort range \"{p}\"")));
                        }
                        Some((a, z))
                    }
                    None => Some((num(p)?, num(p)?)),
                },
            };
            out.push(PortRequest {
                host_ip,
                host_range,
                container_port,
                proto,
            });
        }
    }
    Ok(out)
}

impl HostConfig {
    /// Adds a parsed `-p` request as the docker CLI sends it.
    pub fn add_port_binding(&mut self, r: &PortRequest) {
        let key = format!("{}/{}", r.container_port, r.proto.as_str());
        let host_port = match r.host_range {
            None => String::new(),
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}-{b}"),
        };
        self.port_bindings
            .entry(key)
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: r.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                host_port,
            });
    }
}

/// The CPUs this process may run on (what Docker's daemon calls NCPU).
pub(crate) fn host_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The memory (NUMA) nodes this host has online, as the kernel lists them (`0`, `0-1`); a
/// kernel without NUMA has node 0 only.
pub(crate) fn host_mems() -> String {
    fs::read_to_string("/sys/devices/system/node/online")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".into())
}

/// Docker's checks of resource limits, made before anything is created, with its messages:
/// a limit the kernel would refuse at start must not leave a container behind.
fn check_resources(h: &HostConfig, cpus: usize) -> Result<()> {
    if h.memory < 0 {
        return Err(Error::Invalid("invalid Memory: cannot be negative".into()));
    }
    if h.memory != 0 && h.memory < MIN_MEMORY {
        return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()));
    }
    if h.memory_swap > 0 && h.memory == 0 {
        return Err(Error::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ));
    }
    if h.memory_swap > 0 && h.memory_swap < h.memory {
        return Err(Error::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ));
    }
    if let Some(s) = h.memory_swappiness {
        if !(-1..=100).contains(&s) {
            return Err(Error::Invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    check_cpuset(&h.cpuset_cpus, &h.cpuset_mems, cpus, &host_mems())?;
    if h.nano_cpus < 0 || h.nano_cpus > cpus as i64 * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if h.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(Error::Invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ));
    }
    if h.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(Error::Invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
        ));
    }
    if h.cpu_period != 0 && !(1000..=1_000_000).contains(&h.cpu_period) {
        return Err(Error::Invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        ));
    }
    if h.cpu_quota > 0 && h.cpu_quota < 1000 {
        return Err(Error::Invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ));
    }
    if h.memory_reservation != 0 && h.memory_reservation < MIN_MEMORY {
        return Err(Error::Invalid(
            "Minimum memory reservation allowed is 6MB".into(),
        ));
    }
    if h.memory > 0 && h.memory_reservation > 0 && h.memory < h.memory_reservation {
        return Err(Error::Invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        ));
    }
    if !(-1000..=1000).contains(&h.oom_score_adj) {
        return Err(Error::Invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            h.oom_score_adj
        )));
    }
    for k in h.sysctls.keys() {
        check_sysctl(k, &h.network_mode, &h.ipc_mode)?;
        check_sysctl_exists(k, Path::new("/proc/sys"))?;
    }
    Ok(())
}

/// A parameter the kernel does not have is named before anything is made (the runtime would
/// fail later with a bare "open subpath in procfs failed"). The container's namespaces have
/// the host's parameters, except those of its own interfaces (`net.ipv4.conf.eth0.…`),
/// which cannot be looked at from here.
fn check_sysctl_exists(key: &str, proc_sys: &Path) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let per_interface = matches!(parts.as_slice(), ["net", "ipv4" | "ipv6", "conf" | "neigh", ifname, ..] if !matches!(*ifname, "all" | "default"));
    if per_interface {
        return Ok(());
    }
    let path = parts.iter().fold(proc_sys.to_path_buf(), |p, s| p.join(s));
    if parts.iter().any(|p| p.is_empty() || *p == "..") || !path.exists() {
        return Err(Error::Invalid(format!(
            "sysctl {key:?} is not a kernel parameter on this host: {} does not exist",
            path.display()
        )));
    }
    Ok(())
}

/// Docker's rule for `--sysctl`: only parameters of the container's own namespaces (IPC's
/// `kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`; the network's `net.*`), and not
/// those of a namespace shared with the host.
pub(crate) fn check_sysctl(key: &str, network_mode: &str, ipc_mode: &str) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let ipc_host = ipc_mode == "host";
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        if ipc_host {
            return Err(Error::Invalid(format!(
                "sysctl {key:?} is not allowed in host IPC namespace"
            )));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if network_mode == "host" {
            return Err(Error::Invalid(format!(
                "sysctl {key:?} is not allowed in host network namespace"
            )));
        }
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "sysctl {key:?} is not allowed: only namespaced sysctls (net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) can be set"
    )))
}

/// Docker's checks of cpuset.cpus and cpuset.mems lists (empty: not set).
pub(crate) fn check_cpuset(
    cpuset_cpus: &str,
    cpuset_mems: &str,
    cpus: usize,
    mems_online: &str,
) -> Result<()> {
    if !cpuset_cpus.is_empty() {
        let wanted = parse_cpu_list(cpuset_cpus).ok_or_else(|| {
            Error::Invalid(format!(
                "Invalid value {cpuset_cpus} for cpuset cpus: expected a list such as 0-2,4"
            ))
        })?;
        if wanted.iter().any(|c| *c >= cpus) {
            return Err(Error::Invalid(format!(
                "Requested CPUs are not available - requested {cpuset_cpus}, available: 0-{}",
                cpus.saturating_sub(1)
            )));
        }
    }
    if !cpuset_mems.is_empty() {
        let wanted = parse_cpu_list(cpuset_mems).ok_or_else(|| {
            Error::Invalid(format!(
                "Invalid value {cpuset_mems} for cpuset mems: expected a list such as 0-1"
            ))
        })?;
        let online = parse_cpu_list(mems_online).unwrap_or_else(|| vec![0]);
        if wanted.iter().any(|m| !online.contains(m)) {
            return Err(Error::Invalid(format!(
                "Requested memory nodes are not available - requested {cpuset_mems}, available: {mems_online}"
            )));
        }
    }
    Ok(())
}

/// A cpuset list (`0-2,4`) as its numbers; None when it is not one.
fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sysctl_the_kernel_lacks_is_named() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("net/ipv4/conf/all")).unwrap();
        std::fs::write(t.path().join("net/ipv4/ip_forward"), "0").unwrap();
        std::fs::write(t.path().join("net/ipv4/conf/all/rp_filter"), "0").unwrap();
        assert!(check_sysctl_exists("net.ipv4.ip_forward", t.path()).is_ok());
        assert!(check_sysctl_exists("net.ipv4.conf.all.rp_filter", t.path()).is_ok());
        // The container's own interfaces are not there to look at.
        assert!(check_sysctl_exists("net.ipv4.conf.eth0.rp_filter", t.path()).is_ok());
        let e = check_sysctl_exists("net.ipv4.nonexistent", t.path()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "sysctl \"net.ipv4.nonexistent\" is not a kernel parameter on this host"
            ),
            "{e}"
        );
        assert!(check_sysctl_exists("net.ipv4..ip_forward", t.path()).is_err());
    }

    #[test]
    fn cpusets_and_swappiness_are_checked_as_docker_checks_them() {
        assert_eq!(parse_cpu_list("0-2,4"), Some(vec![0, 1, 2, 4]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(parse_cpu_list("a"), None);
        let h = |cpus: &str, swap: Option<i64>| HostConfig {
            cpuset_cpus: cpus.into(),
            memory_swappiness: swap,
            ..HostConfig::default()
        };
        assert!(check_resources(&h("0,1", Some(40)), 2).is_ok());
        let err = check_resources(&h("0-3", None), 2).unwrap_err().to_string();
        assert!(err.contains("Requested CPUs are not available"), "{err}");
        assert!(check_resources(&h("", Some(101)), 2).is_err());
        assert!(check_resources(&h("", Some(-1)), 2).is_ok());
        let mems =
            |m: &str, online: &str| check_cpuset("", m, 2, online).map_err(|e| e.to_string());
        assert!(mems("0", "0").is_ok());
        assert!(mems("1", "0-1").is_ok());
        assert_eq!(
            mems("3", "0"),
            Err("Requested memory nodes are not available - requested 3, available: 0".into())
        );
    }

    fn with(memory: i64, swap: i64, cpus: i64) -> HostConfig {
        HostConfig {
            memory,
            memory_swap: swap,
            nano_cpus: cpus,
            ..Default::default()
        }
    }

    #[test]
    fn resource_limits_are_checked_as_docker_checks_them() {
        let err = |h: HostConfig| check_resources(&h, 2).unwrap_err().to_string();
        assert_eq!(err(with(1024, 0, 0)), "Minimum memory limit allowed is 6MB");
        assert!(check_resources(&with(MIN_MEMORY, 0, 0), 2).is_ok());
        assert!(check_resources(&with(MIN_MEMORY, -1, 0), 2).is_ok());
        assert!(err(with(64 << 20, 32 << 20, 0)).starts_with("Minimum memoryswap"));
        assert!(err(with(0, 32 << 20, 0)).starts_with("You should always set"));
        assert_eq!(
            err(with(0, 0, 3_000_000_000)),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(check_resources(&with(0, 0, 2_000_000_000), 2).is_ok());
    }

    #[test]
    fn port_bindings_round_trip_the_clis_requests() {
        let mut h = HostConfig::default();
        for p in [
            "8080:80",
            "127.0.0.1::53/udp",
            "7000-7005:70",
            "9000-9001:90-91",
        ] {
            for r in berth_network::parse_publish(p).unwrap() {
                h.add_port_binding(&r);
            }
        }
        let key = |k: &str| h.port_bindings[k].as_ref().unwrap()[0].clone();
        assert_eq!(key("70/tcp").host_port, "7000-7005");
        assert_eq!(key("91/tcp").host_port, "9001");
        assert_eq!(key("53/udp").host_ip, "127.0.0.1");
        let mut back = port_requests(&h).unwrap();
        back.sort_by_key(|r| r.container_port);
        let mut want: Vec<PortRequest> = [
            "8080:80",
            "127.0.0.1::53/udp",
            "7000-7005:70",
            "9000-9001:90-91",
        ]
        .iter()
        .flat_map(|p| berth_network::parse_publish(p).unwrap())
        .collect();
        want.sort_by_key(|r| r.container_port);
        assert_eq!(back, want);
        // A key without bindings publishes on an ephemeral port, as Docker does.
        let h: HostConfig =
            serde_json::from_str(r#"{"PortBindings":{"80/tcp":null,"81/tcp":[]}}"#).unwrap();
        assert!(port_requests(&h)
            .unwrap()
            .iter()
            .all(|r| r.host_range.is_none()));
        let h: HostConfig = serde_json::from_str(r#"{"PortBindings":{"80/sctp":[]}}"#).unwrap();
        assert!(port_requests(&h).unwrap_err().to_string().contains("sctp"));
    }

    #[test]
    fn env_merges_as_docker_merges_it() {
        let image = vec!["PATH=/bin".to_string(), "A=1".into(), "B=2".into()];
        let env = merge_env(&image, &["A=9".into(), "B".into(), "C=3".into()]).unwrap();
        assert_eq!(env, ["PATH=/bin", "A=9", "B", "C=3"]);
        assert_eq!(
            crate::spec::process_env(&env, false),
            ["PATH=/bin", "A=9", "C=3"],
            "a bare name unsets"
        );
        assert!(merge_env(&[], &["=x".into()]).is_err());
        assert!(merge_env(&[], &[]).unwrap()[0].starts_with("PATH="));
    }

    #[test]
    fn volumes_from_gives_way_to_the_containers_own_mounts_and_covers_image_volumes() {
        let theirs = |target: &str, source: &str| MountSpec {
            kind: "volume".into(),
            source: source.into(),
            target: target.into(),
            readonly: false,
            options: Vec::new(),
            anonymous: false,
            ..Default::default()
        };
        let h = HostConfig {
            binds: vec!["/tmp:/shared".into()],
            ..Default::default()
        };
        let image: ImageConfig = serde_json::from_str(r#"{"Volumes": {"/data": {}}}"#).unwrap();
        let m = requested_mounts(
            &h,
            [].iter(),
            &image,
            vec![theirs("/shared", "a"), theirs("/data", "b")],
        )
        .unwrap();
        let got: Vec<(&str, &str, bool)> = m
            .iter()
            .map(|m| (m.target.as_str(), m.source.as_str(), m.anonymous))
            .collect();
        assert_eq!(got, [("/shared", "/tmp", false), ("/data", "b", false)]);
    }

    #[test]
    fn mounts_are_checked_and_ordered_parents_first() {
        let h = HostConfig {
            binds: vec!["/tmp:/data/sub:ro".into()],
            tmpfs: [("/run".to_string(), "size=1m".to_string())].into(),
            ..Default::default()
        };
        let anon = ["/data".to_string()];
        let m = requested_mounts(&h, anon.iter(), &ImageConfig::default(), Vec::new()).unwrap();
        let targets: Vec<&str> = m.iter().map(|m| m.target.as_str()).collect();
        assert_eq!(targets, ["/data", "/run", "/data/sub"]);
        // docker-py names its binds' targets in `Volumes` too: no anonymous volume for them.
        let py = HostConfig {
            binds: vec!["v1:/v:rw".into()],
            ..Default::default()
        };
        let m = requested_mounts(
            &py,
            ["/v".to_string()].iter(),
            &ImageConfig::default(),
            Vec::new(),
        )
        .unwrap();
        assert_eq!((m.len(), m[0].source.as_str()), (1, "v1"));
        let dup = HostConfig {
            binds: vec!["/tmp:/x".into(), "v1:/x/".into()],
            ..Default::default()
        };
        let e = requested_mounts(&dup, [].iter(), &ImageConfig::default(), Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "Duplicate mount point: /x/");
        let bad = HostConfig {
            binds: vec!["rel:x".into()],
            ..Default::default()
        };
        let e = requested_mounts(&bad, [].iter(), &ImageConfig::default(), Vec::new()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid HostConfig.Binds \"rel:x\""),
            "{e}"
        );
    }
}

#[cfg(test)]
mod lifecycle_tests {
    use crate::engine_fake::fake_runtime;
    use crate::Error;

    /// Creates racing for one name from many threads: one wins, the others get Docker's
    /// conflict, and nothing of theirs is left.
    #[test]
    fn racing_creates_with_one_name_make_one_container() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let spec: crate::ContainerCreate = serde_json::from_value(serde_json::json!({
            "Image": "tools", "Cmd": ["true"], "HostConfig": {"NetworkMode": "host"},
        }))
        .unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| rt.create(Some("one"), &spec)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(e, Error::NameInUse(n) if n == "one"), "{e}");
            assert_eq!(e.to_string(), "Conflict. The container name \"/one\" is already in use. You have to remove (or rename) that container to be able to reuse that name.");
        }
        assert_eq!(rt.containers().list().unwrap().len(), 1);
        // Unnamed containers all get distinct names.
        let names: std::collections::HashSet<String> = (0..20)
            .map(|_| rt.create(None, &spec).unwrap().name)
            .collect();
        assert_eq!(names.len(), 20);
    }
}
