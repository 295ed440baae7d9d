//! Creating, running, stopping and removing containers.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_image::Store;

use crate::attach::AttachServer;
use crate::engine::{OciRuntime, Stdio, Youki};
use crate::error::{Error, IoContext, Result};
use crate::logs::{log_path, LogWriter, DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE};
use crate::record::Status;
use crate::record::{
    new_id, now, random_name, valid_name, ContainerRecord, Containers, RunConfig, State, ZERO_TIME,
};
use crate::rootfs::{
    check_command, mount_overlay, resolve_user, unmount, write_etc_files, RootfsPaths, DEFAULT_PATH,
};
use crate::spec::build_spec;

use crate::options::{parse_log_size, security_options, BERTH_INIT};
pub use crate::options::{parse_restart, parse_ulimit, ExecOptions, RunOptions, INIT_PATH};
use crate::process::{
    container_stdin, decode_error, encode_error, forward_signals, pipe, relay,
    release_startup_code, signal_container, wait_pid,
};
pub use crate::process::{parse_signal, pid_alive};

/// Where output of the container goes besides its log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Also to this process's stdout/stderr, with signals forwarded (foreground `run`).
    Terminal,
    /// Log only (the supervisor of a detached container).
    LogOnly,
    /// As `LogOnly`, for a container a client is about to attach to (a foreground `run -it`
    /// under a supervisor, so that it can be detached from): the output until that client
    /// connects is kept for it, and the exit code waits for it.
    AwaitClient,
    /// In the foreground with signals forwarded, like `Terminal`, but the output only goes to
    /// the log (`build -q`).
    Silent,
}

/// A started container: init pid, output relays, terminal, network reservations, the
/// attach socket of a supervised container.
type Started = (
    i32,
    Vec<std::thread::JoinHandle<()>>,
    Option<TtySession>,
    Option<berth_network::Running>,
    Option<Arc<AttachServer>>,
);

/// `run`/`create` network options, checked.
struct NetworkOptions {
    ip: Option<std::net::Ipv4Addr>,
    ports: Vec<berth_network::PortRequest>,
    exposed: Vec<String>,
    extra_hosts: Vec<(String, String)>,
}

pub struct Runtime {
    root: PathBuf,
    pub(crate) store: Store,
    pub(crate) containers: Containers,
    pub(crate) engine: Youki,
    pub(crate) network: berth_network::Networking,
}

/// Whether a container gets its own network wiring (bridge or user-defined network).
fn bridged(network: &str) -> bool {
    !matches!(network, "none" | "host")
}

impl Runtime {
    pub fn open(root: &Path) -> Result<Runtime> {
        let store = Store::open(root)?;
        Ok(Runtime {
            root: root.to_path_buf(),
            containers: Containers::new(root)?,
            engine: Youki {
                state_root: root.join("runtime"),
            },
            store,
            network: berth_network::Networking::open(&berth_network::default_dir()),
        })
    }

    /// Host-wide network state (shared by every berth root on the host).
    pub fn networking(&self) -> &berth_network::Networking {
        &self.network
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn containers(&self) -> &Containers {
        &self.containers
    }

    /// Image IDs that containers use (rmi refuses these unless forced).
    pub fn images_in_use(&self) -> Vec<String> {
        self.containers
            .list()
            .map(|l| l.into_iter().map(|c| c.image_id).collect())
            .unwrap_or_default()
    }

    /// `docker create`: records the container; nothing runs yet.
    pub fn create(&self, o: &RunOptions) -> Result<ContainerRecord> {
        let img = self.store.lookup(&o.image)?;
        self.create_from(&img, o)
    }

    /// `create` from an image already read (the builder's unregistered intermediate images).
    pub fn create_from(&self, img: &berth_image::Image, o: &RunOptions) -> Result<ContainerRecord> {
        check_resources(o, host_cpus())?;
        let icfg = img.config.config.clone().unwrap_or_default();
        if let Some(n) = &o.name {
            if !valid_name(n) {
                return Err(Error::BadName(n.clone()));
            }
            if self.containers.list()?.iter().any(|c| &c.name == n) {
                return Err(Error::NameInUse(n.clone()));
            }
        }
        let entrypoint = match &o.entrypoint {
            Some(e) if e.is_empty() => Vec::new(),
            Some(e) => vec![e.clone()],
            None => icfg.entrypoint.clone().unwrap_or_default(),
        };
        // As in Docker: --entrypoint resets the image's CMD; a given command replaces it.
        let cmd = if !o.command.is_empty() {
            o.command.clone()
        } else if o.entrypoint.is_some() {
            Vec::new()
        } else {
            icfg.cmd.clone().unwrap_or_default()
        };
        let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
        if args.is_empty() {
            return Err(Error::NoCommand);
        }
        let mut env: Vec<String> = icfg.env.clone().unwrap_or_default();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, format!("PATH={DEFAULT_PATH}"));
        }
        for e in &o.env {
            let (k, v) = match e.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                // `-e NAME` takes the value from berth's own environment, or drops it.
                None => (e.clone(), std::env::var(e).ok()),
            };
            if k.is_empty() {
                return Err(Error::BadFlag {
                    flag: "--env",
                    value: e.clone(),
                    reason: "variable name is empty".into(),
                });
            }
            env.retain(|x| x.split_once('=').map(|p| p.0) != Some(k.as_str()));
            if let Some(v) = v {
                env.push(format!("{k}={v}"));
            }
        }
        let network = o.network.clone().unwrap_or_else(|| "bridge".into());
        let net = self.network_options(o, &network, &icfg)?;
        let mut labels = icfg.labels.clone().unwrap_or_default();
        for l in &o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_string(), v.to_string());
        }
        let caps = crate::spec::capabilities(o.privileged, &o.cap_add, &o.cap_drop)?;
        let (restart_policy, restart_max) = parse_restart(o.restart.as_deref().unwrap_or("no"))?;
        if o.auto_remove && restart_policy != "no" {
            return Err(Error::Conflict(
                "conflicting options: cannot specify both --restart and --rm".into(),
            ));
        }
        // The image's VOLUMEs that no mount of the user's covers get anonymous volumes (seeded
        // from the image's content at start), as in Docker.
        let mut wanted = o.mounts.clone();
        for target in icfg.volumes.iter().flat_map(|v| v.keys()) {
            let same = |m: &crate::volumes::MountSpec| {
                m.target.trim_end_matches('/') == target.trim_end_matches('/')
            };
            if !wanted.iter().any(same) {
                wanted.push(crate::volumes::MountSpec {
                    kind: "volume".into(),
                    source: String::new(),
                    target: target.clone(),
                    readonly: false,
                    options: Vec::new(),
                    anonymous: true,
                });
            }
        }
        let mounts = self.resolve_mounts(&wanted)?;
        if o.init && BERTH_INIT.is_empty() {
            return Err(Error::BadFlag { flag: "--init", value: String::new(), reason: "this berth was built without berth-init (no static C library when it was compiled)".into() });
        }
        let ulimits = o
            .ulimits
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<Result<Vec<_>>>()?;
        let (mut log_max_size, mut log_max_files) = (None, None);
        for opt in &o.log_opts {
            let bad = |r: &str| Error::BadFlag {
                flag: "--log-opt",
                value: opt.clone(),
                reason: r.to_string(),
            };
            match opt.split_once('=') {
                Some(("max-size", v)) => {
                    log_max_size = Some(
                        parse_log_size(v)
                            .filter(|n| *n > 0)
                            .ok_or_else(|| bad("expected a size such as 10m"))?,
                    )
                }
                Some(("max-file", v)) => {
                    log_max_files = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| bad("expected a positive number"))?,
                    )
                }
                _ => return Err(bad("supported options are max-size and max-file")),
            }
        }
        let (no_new_privileges, seccomp) = security_options(&o.security_opt, &caps, o.privileged)?;
        let healthcheck = crate::health::resolve(icfg.healthcheck.as_ref(), &o.health)?;
        let id = new_id();
        let name = o.name.clone().unwrap_or_else(|| random_name(&id));
        let hostname = o.hostname.clone().unwrap_or_else(|| id[..12].to_string());
        env.push(format!("HOSTNAME={hostname}"));
        let lower_dirs: Vec<PathBuf> = img
            .chain_ids()
            .iter()
            .rev()
            .map(|c| self.store.layer_dir(c))
            .collect();
        let rec = ContainerRecord {
            id: id.clone(),
            name,
            created: now(),
            image: o.image.clone(),
            image_id: img.id().to_string(),
            lower_dirs,
            config: RunConfig {
                args,
                entrypoint,
                cmd,
                env,
                working_dir: o
                    .workdir
                    .clone()
                    .or(icfg.working_dir.clone())
                    .unwrap_or_default(),
                user: o.user.clone().or(icfg.user.clone()).unwrap_or_default(),
                hostname,
                open_stdin: o.interactive,
                tty: o.tty,
                auto_remove: o.auto_remove,
                read_only: o.read_only,
                labels,
                network: network.clone(),
                ports: net.ports,
                exposed: net.exposed,
                dns: o.dns.clone(),
                dns_search: o.dns_search.clone(),
                dns_options: o.dns_options.clone(),
                extra_hosts: net.extra_hosts,
                memory: o.memory,
                memory_swap: o.memory_swap,
                nano_cpus: o.nano_cpus,
                cpu_shares: o.cpu_shares,
                pids_limit: o.pids_limit,
                stop_signal: o
                    .stop_signal
                    .clone()
                    .or(icfg.stop_signal.clone())
                    .unwrap_or_else(|| "SIGTERM".into()),
                stop_timeout: o.stop_timeout,
                caps,
                privileged: o.privileged,
                no_new_privileges,
                seccomp,
                mounts,
                restart_policy,
                restart_max,
                init: o.init,
                ulimits,
                log_max_size,
                log_max_files,
                healthcheck,
            },
            state: State {
                status: Status::Created,
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..State::default()
            },
        };
        let dir = self.containers.dir(&id);
        berth_image::permissions::ensure_private_dir(
            &dir,
            berth_image::permissions::PRIVATE_DIR_MODE,
        )
        .ctx("create directory", &dir)?;
        self.containers.save(&rec)?;
        if bridged(&network) {
            let attach = berth_network::Attachment {
                network: network.clone(),
                aliases: o.network_aliases.clone(),
                ip: net.ip,
            };
            if let Err(e) = self.network.allocate(&id, &rec.name, &dir, &[attach]) {
                let _ = self.containers.remove_dir(&id);
                return Err(e.into());
            }
        }
        self.container_event("create", &rec, &[]);
        Ok(rec)
    }

    /// Checks and resolves the network options of `run`/`create`.
    fn network_options(
        &self,
        o: &RunOptions,
        network: &str,
        icfg: &berth_image::config::ContainerConfig,
    ) -> Result<NetworkOptions> {
        let bad = |flag: &'static str, value: &str, reason: &str| Error::BadFlag {
            flag,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if network.is_empty() || network.starts_with("container:") {
            return Err(bad(
                "--network",
                network,
                "expected bridge, host, none or a network name (container: is not supported)",
            ));
        }
        let on_bridge = bridged(network);
        if !on_bridge && !o.network_aliases.is_empty() {
            return Err(bad(
                "--network-alias",
                &o.network_aliases.join(","),
                "network-scoped aliases are only supported for user-defined networks",
            ));
        }
        let ip = match &o.ip {
            Some(v) => Some(
                v.parse::<std::net::Ipv4Addr>()
                    .map_err(|_| bad("--ip", v, "expected an IPv4 address"))?,
            ),
            None => None,
        };
        for d in &o.dns {
            d.parse::<std::net::IpAddr>()
                .map_err(|_| bad("--dns", d, "expected an IP address"))?;
        }
        let mut extra_hosts = Vec::new();
        for h in &o.add_hosts {
            let (name, addr) = h
                .split_once(':')
                .filter(|(n, a)| !n.is_empty() && !a.is_empty())
                .ok_or_else(|| bad("--add-host", h, "expected HOST:IP"))?;
            if addr != "host-gateway" {
                addr.trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| bad("--add-host", h, "invalid IP address"))?;
            }
            extra_hosts.push((name.to_string(), addr.to_string()));
        }
        let mut exposed: Vec<(u16, berth_network::Proto)> = Vec::new();
        let image_exposed = icfg
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for e in image_exposed.iter().chain(o.expose.iter()) {
            for p in berth_network::parse_exposed(e)? {
                if !exposed.contains(&p) {
                    exposed.push(p);
                }
            }
        }
        let mut ports = Vec::new();
        for p in &o.publish {
            ports.extend(berth_network::parse_publish(p)?);
        }
        for r in &ports {
            if !exposed.contains(&(r.container_port, r.proto)) {
                exposed.push((r.container_port, r.proto));
            }
        }
        if o.publish_all {
            for (port, proto) in &exposed {
                if !ports
                    .iter()
                    .any(|r| r.container_port == *port && r.proto == *proto)
                {
                    ports.push(berth_network::PortRequest {
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
            ip,
            ports,
            exposed: exposed
                .iter()
                .map(|(p, proto)| format!("{p}/{}", proto.as_str()))
                .collect(),
            extra_hosts,
        })
    }

    pub fn volumes(&self) -> Result<crate::volumes::Volumes> {
        crate::volumes::Volumes::new(&self.root)
    }

    /// Checks bind sources, names anonymous volumes and creates named ones.
    fn resolve_mounts(
        &self,
        given: &[crate::volumes::MountSpec],
    ) -> Result<Vec<crate::volumes::MountSpec>> {
        let volumes = self.volumes()?;
        let mut out = Vec::new();
        for m in given {
            let mut m = m.clone();
            match m.kind.as_str() {
                "bind" => {
                    let p = fs::canonicalize(&m.source).map_err(|_| Error::BadFlag {
                        flag: "--volume",
                        value: format!("{}:{}", m.source, m.target),
                        reason: format!("invalid mount config for type \"bind\": bind source path does not exist: {}", m.source),
                    })?;
                    m.source = p.display().to_string();
                }
                "volume" => {
                    if m.anonymous {
                        m.source = new_id();
                    }
                    volumes.ensure(&m.source, m.anonymous)?;
                }
                _ => {}
            }
            if out
                .iter()
                .any(|x: &crate::volumes::MountSpec| x.target == m.target)
            {
                return Err(Error::BadFlag {
                    flag: "--volume",
                    value: m.target.clone(),
                    reason: "duplicate mount point".into(),
                });
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Runs a created container to completion, relaying its output; returns its exit code.
    /// `ready` is called once it is running (or with the error that stopped it).
    pub fn run(
        &self,
        id: &str,
        attach: Attach,
        ready: &mut dyn FnMut(std::result::Result<&ContainerRecord, &Error>),
    ) -> Result<i32> {
        let mut rec = self.containers.load(id)?;
        let dir = self.containers.dir(id);
        let target = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
        let forward = if matches!(attach, Attach::Terminal | Attach::Silent) {
            forward_signals(target.clone())
        } else {
            None
        };
        let started = self.start_process(&mut rec, &dir, attach);
        let on_bridge = bridged(&rec.config.network);
        let (pid, relays, tty, wired, attached) = match started {
            Ok(x) => x,
            Err(e) => {
                if let Some(h) = forward {
                    h.close();
                }
                if on_bridge {
                    let _ = self.network.stop(id);
                }
                ready(Err(&e));
                let _ = unmount(&RootfsPaths::of(&dir).merged);
                rec.state.status = Status::Created;
                rec.state.error = e.to_string();
                let _ = self.containers.save(&rec);
                if rec.config.auto_remove {
                    if on_bridge {
                        let _ = self.network.release(id);
                    }
                    let _ = self.containers.remove_dir(id);
                }
                return Err(e);
            }
        };
        target.store(pid, std::sync::atomic::Ordering::SeqCst);
        self.container_event("start", &rec, &[]);
        ready(Ok(&rec));
        if matches!(attach, Attach::LogOnly | Attach::AwaitClient) {
            release_startup_code();
        }
        // Health checks run while the container does (in its pid namespace, a probe dies
        // with it, so the scope ends promptly after the exit).
        let probe = crate::health::Probe::from_config(rec.config.healthcheck.as_ref());
        let stop = std::sync::atomic::AtomicBool::new(false);
        let code = std::thread::scope(|s| {
            if let Some(p) = &probe {
                let (dir, stop) = (&dir, &stop);
                s.spawn(move || {
                    crate::health::watch(dir, p, stop, &|cmd, timeout| {
                        self.run_probe(id, cmd, timeout)
                    })
                });
            }
            let code = wait_pid(pid);
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            code
        });
        if let Some(h) = forward {
            h.close();
        }
        for r in relays {
            let _ = r.join();
        }
        drop(tty); // our terminal back to normal
        let oom = crate::cgroups::CgroupFs::host().oom_killed(id);
        let _ = self.engine.delete(id);
        drop(wired);
        if on_bridge && !rec.config.auto_remove {
            let _ = self.network.stop(id);
        }
        let _ = unmount(&RootfsPaths::of(&dir).merged);
        let mut rec = self.containers.load(id).unwrap_or(rec);
        rec.state.status = Status::Exited;
        rec.state.pid = 0;
        rec.state.paused = false;
        rec.state.exit_code = code;
        rec.state.oom_killed = oom;
        rec.state.finished_at = now();
        if oom {
            self.container_event("oom", &rec, &[]);
        }
        self.container_event("die", &rec, &[("exitCode", &code.to_string())]);
        if rec.config.auto_remove {
            self.remove_anonymous_volumes(&rec);
            if on_bridge {
                let _ = self.network.release(id);
            }
            self.containers.remove_dir(id)?;
            self.container_event("destroy", &rec, &[]);
        } else {
            self.containers.save(&rec)?;
        }
        // Attached clients have had all the output; now that the record says so, the code.
        if let Some(a) = attached {
            a.exited(code);
        }
        Ok(code)
    }

    fn start_process(
        &self,
        rec: &mut ContainerRecord,
        dir: &Path,
        attach: Attach,
    ) -> Result<Started> {
        let paths = RootfsPaths::of(dir);
        mount_overlay(&rec.lower_dirs, &paths, rec.config.auto_remove)?;
        let endpoints = if bridged(&rec.config.network) {
            self.network.container_endpoints(&rec.id)
        } else {
            Vec::new()
        };
        let gateway = match endpoints.first() {
            Some((n, _)) => Some(n.gateway.to_string()),
            None => self
                .network
                .get(berth_network::DEFAULT_NETWORK)
                .ok()
                .map(|n| n.gateway.to_string()),
        };
        let extra_hosts: Vec<(String, String)> = rec
            .config
            .extra_hosts
            .iter()
            .map(|(n, a)| match (a.as_str(), &gateway) {
                ("host-gateway", Some(gw)) => (n.clone(), gw.clone()),
                _ => (n.clone(), a.clone()),
            })
            .collect();
        write_etc_files(
            dir,
            &crate::rootfs::EtcFiles {
                hostname: &rec.config.hostname,
                addresses: endpoints.iter().map(|(_, e)| e.ip.to_string()).collect(),
                extra_hosts: &extra_hosts,
                embedded_dns: endpoints
                    .iter()
                    .find(|(n, _)| !n.is_default())
                    .map(|(n, _)| n.gateway.to_string()),
                dns: &rec.config.dns,
                dns_search: &rec.config.dns_search,
                dns_options: &rec.config.dns_options,
            },
        )?;
        let user = resolve_user(&paths.merged, &rec.config.user)?;
        let cwd = if rec.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            rec.config.working_dir.clone()
        };
        check_command(&paths.merged, &rec.config.args[0], &rec.config.env, &cwd)?;
        // Docker creates a missing working directory.
        let wd = crate::rootfs::resolve_in_root(&paths.merged, Path::new(&cwd));
        if !wd.exists() {
            fs::create_dir_all(&wd).ctx("create working directory", &wd)?;
        }
        // A volume that is still empty gets the image's content at its mount point (Docker's
        // copy-up), so e.g. a volume on /usr/share/app starts with the app's files.
        let volumes = self.volumes()?;
        for m in rec.config.mounts.iter().filter(|m| m.kind == "volume") {
            let data = volumes.data_dir(&m.source);
            if fs::read_dir(&data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
            {
                let from = crate::rootfs::resolve_in_root(&paths.merged, Path::new(&m.target));
                crate::volumes::seed(&from, &data)?;
            }
        }
        let init_bin = if rec.config.init {
            let p = self.root.join("runtime-bin/berth-init");
            if fs::read(&p).map(|b| b != BERTH_INIT).unwrap_or(true) {
                fs::create_dir_all(p.parent().unwrap_or(Path::new("/")))
                    .ctx("create directory", &p)?;
                let tmp = p.with_extension(format!("tmp{}", std::process::id()));
                fs::write(&tmp, BERTH_INIT).ctx("write", &tmp)?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).ctx("chmod", &tmp)?;
                fs::rename(&tmp, &p).ctx("rename", &p)?;
            }
            Some(p)
        } else {
            None
        };
        let mut spec = build_spec(rec, dir, &paths.merged, user, &volumes, init_bin.as_deref())?;
        crate::seccomp_program::prepare_bundle(&mut spec, &self.root.join("seccomp"), dir)?;
        let config = dir.join("config.json");
        crate::record::write_private(
            &config,
            &serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        )
        .ctx("write", &config)?;

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        // A supervised container started with -i keeps its stdin open for `attach`.
        let supervised = matches!(attach, Attach::LogOnly | Attach::AwaitClient);
        let mut stdin_for_attach = None;
        let stdin = if supervised && rec.config.open_stdin && !rec.config.tty {
            let (r, w) = pipe()?;
            stdin_for_attach = Some(w);
            r
        } else {
            container_stdin(rec.config.open_stdin && attach == Attach::Terminal && !rec.config.tty)?
        };
        let console = if rec.config.tty {
            Some(crate::tty::ConsoleSocket::new(attach == Attach::Terminal)?)
        } else {
            None
        };
        let console_path = console.as_ref().map(|c| c.path.clone());
        let mut console = console;
        let mut master: Option<OwnedFd> = None;
        let size_terminal = attach == Attach::Terminal;
        let mut wired: Option<berth_network::Running> = None;
        let (cid, mode, ports) = (
            rec.id.clone(),
            rec.config.network.clone(),
            rec.config.ports.clone(),
        );
        let pid = self.engine.run(
            &rec.id,
            dir,
            Stdio {
                stdin,
                stdout: out_w,
                stderr: err_w,
            },
            console_path.as_deref(),
            &mut |pid| {
                // The terminal exists now; size it before the command starts.
                if let Some(c) = console.take() {
                    let m = c.master()?;
                    if size_terminal {
                        crate::tty::copy_window_size(m.as_raw_fd());
                    }
                    master = Some(m);
                }
                // So is the network namespace: wire it before the command starts.
                match mode.as_str() {
                    "host" => {}
                    "none" => berth_network::netns::loopback_up(pid)?,
                    _ => wired = Some(self.network.start(&cid, pid, &ports)?),
                }
                Ok(())
            },
        )?;
        let restart_count = self
            .containers
            .load(&rec.id)
            .map(|r| r.state.restart_count)
            .unwrap_or(0);
        rec.state = State {
            status: Status::Running,
            pid,
            restart_count,
            monitor_pid: std::process::id() as i32,
            started_at: now(),
            finished_at: ZERO_TIME.into(),
            ..State::default()
        };
        self.containers.save(rec)?;
        let log = std::sync::Arc::new(std::sync::Mutex::new(
            LogWriter::open(
                log_path(dir, &rec.id),
                rec.config.log_max_size.unwrap_or(DEFAULT_MAX_SIZE),
                rec.config.log_max_files.unwrap_or(DEFAULT_MAX_FILES),
            )
            .ctx("open log", log_path(dir, &rec.id))?,
        ));
        // Others can attach to a foreground container too, but its input is its caller's.
        let terminal = master
            .as_ref()
            .map(|m| (m, supervised && rec.config.open_stdin));
        let attached = Some(Arc::new(AttachServer::start(
            dir,
            stdin_for_attach,
            terminal,
            attach == Attach::AwaitClient,
        )?));
        let echo = attach == Attach::Terminal;
        let mut relays = vec![
            relay(out_r, "stdout", Some(log.clone()), echo, attached.clone()),
            relay(err_r, "stderr", Some(log.clone()), echo, attached.clone()),
        ];
        let mut session = None;
        if let Some(master) = master {
            // The terminal carries both streams; the container sees one tty, as with Docker.
            let reader = master.try_clone().ctx("dup", "pty")?;
            relays.push(relay(reader, "stdout", Some(log), echo, attached.clone()));
            if attach == Attach::Terminal {
                let winch = crate::tty::follow_window_size(master.as_raw_fd());
                let raw = if rec.config.open_stdin {
                    crate::tty::forward_stdin(&master)?;
                    Some(crate::tty::RawMode::enable())
                } else {
                    None
                };
                session = Some(TtySession {
                    _raw: raw,
                    winch,
                    _master: master,
                });
            } else {
                session = Some(TtySession {
                    _raw: None,
                    winch: None,
                    _master: master,
                });
            }
        }
        Ok((pid, relays, session, wired, attached))
    }

    /// Starts a created container under a detached supervisor (`exe __supervise ID`) and
    /// returns once it runs.
    pub fn start_detached(&self, id: &str, exe: &Path) -> Result<()> {
        self.start_supervised(id, exe, false)
    }

    /// As `start_detached`, for a caller that attaches next (`run -it`, `start -ai`): the
    /// supervisor keeps the output until it connects (see `Attach::AwaitClient`).
    pub fn start_for_attach(&self, id: &str, exe: &Path) -> Result<()> {
        self.start_supervised(id, exe, true)
    }

    fn start_supervised(&self, id: &str, exe: &Path, await_client: bool) -> Result<()> {
        self.clear_stop_request(id);
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--root").arg(&self.root).arg("__supervise").arg(id);
        if await_client {
            cmd.arg("--await-client");
        }
        let msg =
            berth_network::daemonize::spawn_and_wait_ready(cmd).ctx("start supervisor", exe)?;
        match msg.trim() {
            "ok" => Ok(()),
            "" => Err(Error::Runtime {
                id: id.into(),
                what: "start",
                reason: "the supervisor exited before the container started".into(),
            }),
            m => Err(decode_error(id, m)),
        }
    }

    /// The supervisor's side of `start_detached` and `start_for_attach`.
    pub fn supervise(&self, id: &str, ready_fd: i32, await_client: bool) -> Result<i32> {
        // SAFETY: the fd was handed to us by the parent for this purpose.
        let mut ready_pipe = Some(unsafe { std::fs::File::from_raw_fd(ready_fd) });
        // Processes started from here (a network's DNS server) must not hold the pipe open,
        // or the CLI waiting for its end would wait for them too.
        // SAFETY: fcntl on the descriptor we were handed.
        unsafe { libc::fcntl(ready_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let mut ready = |r: std::result::Result<&ContainerRecord, &Error>| {
            if let Some(mut p) = ready_pipe.take() {
                let _ = match r {
                    Ok(_) => p.write_all(b"ok\n"),
                    Err(e) => p.write_all(encode_error(e).as_bytes()),
                };
            }
        };
        let mut backoff = Duration::from_millis(100);
        // Only the first run has a client on its way; restarts are attached to anew.
        let mut attach = if await_client {
            Attach::AwaitClient
        } else {
            Attach::LogOnly
        };
        loop {
            let code = self.run(id, attach, &mut ready)?;
            attach = Attach::LogOnly;
            let Ok(mut rec) = self.containers.load(id) else {
                return Ok(code);
            };
            let policy = rec.config.restart_policy.as_str();
            let again = !self.stop_requested(id)
                && match policy {
                    "always" | "unless-stopped" => true,
                    "on-failure" => {
                        code != 0
                            && (rec.config.restart_max == 0
                                || rec.state.restart_count < rec.config.restart_max)
                    }
                    _ => false,
                };
            if !again {
                return Ok(code);
            }
            // Docker's back-off: doubling from 100 ms, reset after a run of 10 s or more.
            let ran = chrono::DateTime::parse_from_rfc3339(&rec.state.started_at)
                .map(|t| chrono::Utc::now().signed_duration_since(t).num_seconds())
                .unwrap_or(0);
            if ran >= 10 {
                backoff = Duration::from_millis(100);
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(60));
            rec.state.restart_count += 1;
            rec.state.status = Status::Restarting;
            self.containers.save(&rec)?;
            if self.stop_requested(id) {
                rec.state.status = Status::Exited;
                self.containers.save(&rec)?;
                return Ok(code);
            }
        }
    }

    /// Marks a container as stopped on purpose, so its restart policy leaves it stopped. A
    /// marker file rather than a field of the record: the supervisor rewrites the record as
    /// the container starts, and must never overwrite this request.
    fn request_stop(&self, id: &str) {
        let _ = fs::write(self.containers.dir(id).join("stop-requested"), b"");
    }

    fn stop_requested(&self, id: &str) -> bool {
        self.containers.dir(id).join("stop-requested").exists()
    }

    /// A user's `start`/`restart`: the restart policy applies again.
    pub fn clear_stop_request(&self, id: &str) {
        let _ = fs::remove_file(self.containers.dir(id).join("stop-requested"));
    }

    /// Every container, with states corrected for processes that died unobserved (a killed
    /// supervisor).
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut all = self.containers.list()?;
        for c in &mut all {
            if c.state.status == Status::Running
                && !pid_alive(c.state.pid)
                && !pid_alive(c.state.monitor_pid)
            {
                c.state.status = Status::Exited;
                c.state.paused = false;
                c.state.exit_code = -1;
                c.state.error =
                    "the container's process ended while nothing was watching it".into();
            }
        }
        Ok(all)
    }

    pub fn find(&self, key: &str) -> Result<ContainerRecord> {
        let c = self.containers.find(key)?;
        Ok(self.list()?.into_iter().find(|x| x.id == c.id).unwrap_or(c))
    }

    /// `docker kill -s SIGNAL`.
    pub fn kill(&self, key: &str, signal: &str) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "cannot kill container: {key}: container {} is not running",
                c.id
            )));
        }
        let sig = parse_signal(signal)?;
        if matches!(sig, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
            self.request_stop(&c.id);
        }
        signal_container(&c.id, c.state.pid, sig);
        self.container_event("kill", &c, &[("signal", &sig.to_string())]);
        Ok(())
    }

    /// `docker stop -t`: the stop signal, then SIGKILL after the timeout.
    pub fn stop(&self, key: &str, timeout: Option<u64>) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status == Status::Restarting {
            // Between two runs: tell the supervisor not to start it again.
            self.request_stop(&c.id);
            self.wait_exit(&c.id, Duration::from_secs(10));
            return Ok(());
        }
        if c.state.status != Status::Running {
            return Ok(());
        }
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10);
        let sig = parse_signal(&c.config.stop_signal)?;
        self.request_stop(&c.id);
        signal_container(&c.id, c.state.pid, sig);
        self.container_event("kill", &c, &[("signal", &sig.to_string())]);
        if !self.wait_exit(&c.id, Duration::from_secs(t)) {
            signal_container(&c.id, c.state.pid, libc::SIGKILL);
            self.container_event("kill", &c, &[("signal", &libc::SIGKILL.to_string())]);
            self.wait_exit(&c.id, Duration::from_secs(10));
        }
        self.container_event("stop", &c, &[]);
        Ok(())
    }

    /// Waits until the record says exited (or its pid is gone); true if it did in time.
    fn wait_exit(&self, id: &str, limit: Duration) -> bool {
        let start = Instant::now();
        loop {
            match self.containers.load(id) {
                // Still running, or exited but its monitor is still recording that, or between
                // two runs of a restart policy with its supervisor deciding.
                Ok(c)
                    if (c.state.status == Status::Running
                        && (pid_alive(c.state.pid) || pid_alive(c.state.monitor_pid)))
                        || (c.state.status == Status::Restarting
                            && pid_alive(c.state.monitor_pid)) => {}
                _ => return true,
            }
            if start.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `docker wait`: blocks until the container exits, returns its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        let c = self.find(key)?;
        loop {
            match self.containers.load(&c.id) {
                Ok(r)
                    if r.state.status == Status::Running
                        && (pid_alive(r.state.pid) || pid_alive(r.state.monitor_pid)) => {}
                Ok(r) if r.state.status == Status::Running => return Ok(-1),
                Ok(r) => return Ok(r.state.exit_code),
                // Removed (--rm) after exiting.
                Err(_) => return Ok(0),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `docker rename`.
    pub fn rename(&self, key: &str, new_name: &str) -> Result<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if !valid_name(new_name) {
            return Err(Error::BadName(new_name.to_string()));
        }
        let mut c = self.containers.find(key)?;
        if self
            .containers
            .list()?
            .iter()
            .any(|x| x.name == new_name && x.id != c.id)
        {
            return Err(Error::NameInUse(new_name.to_string()));
        }
        let old_name = std::mem::replace(&mut c.name, new_name.to_string());
        self.containers.save(&c)?;
        if bridged(&c.config.network) {
            self.network.rename(&c.id, new_name)?;
        }
        self.container_event("rename", &c, &[("oldName", &format!("/{old_name}"))]);
        Ok(())
    }

    /// `network connect`: a running container gets the new interface at once.
    pub fn connect(
        &self,
        key: &str,
        network: &str,
        aliases: &[String],
        ip: Option<&str>,
    ) -> Result<()> {
        let c = self.find(key)?;
        if !bridged(&c.config.network) {
            return Err(Error::Conflict(format!(
                "container cannot be connected to multiple networks with one of the networks in {} mode",
                c.config.network
            )));
        }
        let ip = match ip {
            Some(v) => Some(v.parse().map_err(|_| Error::BadFlag {
                flag: "--ip",
                value: v.to_string(),
                reason: "expected an IPv4 address".into(),
            })?),
            None => None,
        };
        let pid = (c.state.status == Status::Running && c.state.pid > 0).then_some(c.state.pid);
        self.network.connect(
            &c.id,
            &c.name,
            &self.containers.dir(&c.id),
            &berth_network::Attachment {
                network: network.to_string(),
                aliases: aliases.to_vec(),
                ip,
            },
            pid,
        )?;
        self.attachment_event("connect", network, &c.id);
        Ok(())
    }

    /// `network disconnect`.
    pub fn disconnect(&self, key: &str, network: &str) -> Result<()> {
        let c = self.find(key)?;
        self.network.disconnect(&c.id, &c.name, network)?;
        self.attachment_event("disconnect", network, &c.id);
        Ok(())
    }

    /// Cleans network leftovers of berth processes that were killed.
    pub fn reconcile_network(&self) -> Result<()> {
        self.network.reconcile()?;
        Ok(())
    }

    /// `docker pause` / `unpause`, through the freezer cgroup.
    pub fn set_paused(&self, key: &str, pause: bool) -> Result<()> {
        let mut c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        if c.state.paused == pause {
            return Err(Error::Conflict(format!(
                "container {} is {}",
                c.id,
                if pause {
                    "already paused"
                } else {
                    "not paused"
                }
            )));
        }
        let dir = self.engine.state_root.join(&c.id);
        let mut lc = libcontainer::container::Container::load(dir).map_err(|e| Error::Runtime {
            id: c.id.clone(),
            what: "load",
            reason: e.to_string(),
        })?;
        let r = if pause { lc.pause() } else { lc.resume() };
        r.map_err(|e| Error::Runtime {
            id: c.id.clone(),
            what: if pause { "pause" } else { "unpause" },
            reason: e.to_string(),
        })?;
        c.state.paused = pause;
        self.containers.save(&c)?;
        self.container_event(if pause { "pause" } else { "unpause" }, &c, &[]);
        Ok(())
    }

    /// `docker container prune`: removes every stopped container; returns their ids.
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in self.list()? {
            if c.state.status != Status::Running && c.state.status != Status::Restarting {
                self.remove(&c.id, false, false)?;
                out.push(c.id);
            }
        }
        Ok(out)
    }

    fn remove_anonymous_volumes(&self, rec: &ContainerRecord) {
        if let Ok(v) = self.volumes() {
            for m in rec.config.mounts.iter().filter(|m| m.anonymous) {
                let _ = v.remove(&m.source);
            }
        }
    }

    /// Volume names that containers use.
    pub fn volumes_in_use(&self) -> Vec<String> {
        self.containers
            .list()
            .map(|l| {
                l.iter()
                    .flat_map(|c| {
                        c.config
                            .mounts
                            .iter()
                            .filter(|m| m.kind == "volume")
                            .map(|m| m.source.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `docker rm [-f] [-v]`: also cleans up after a supervisor or CLI that was killed.
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status == Status::Running {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{key}\": container is running: stop the container before removing or force remove"
                )));
            }
            self.request_stop(&c.id);
            signal_container(&c.id, c.state.pid, libc::SIGKILL);
            self.wait_exit(&c.id, Duration::from_secs(10));
        }
        let dir = self.containers.dir(&c.id);
        self.engine.delete(&c.id)?;
        unmount(&RootfsPaths::of(&dir).merged)?;
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        if bridged(&c.config.network) {
            self.network.release(&c.id)?;
        }
        self.containers.remove_dir(&c.id)?;
        self.container_event("destroy", &c, &[]);
        Ok(())
    }
}

/// Docker's smallest memory limit: below it a container cannot even start its process.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The CPUs this process may run on (what Docker's daemon calls NCPU).
fn host_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Docker's checks of resource limits, made before anything is created, with its messages:
/// a limit the kernel would refuse at start must not leave a container behind.
fn check_resources(o: &RunOptions, cpus: usize) -> Result<()> {
    let memory = o.memory.unwrap_or(0);
    if memory != 0 && memory < MIN_MEMORY {
        return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()));
    }
    match o.memory_swap {
        Some(swap) if swap > 0 && memory == 0 => {
            return Err(Error::Invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
                    .into(),
            ))
        }
        Some(swap) if swap > 0 && swap < memory => {
            return Err(Error::Invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ))
        }
        _ => {}
    }
    if let Some(n) = o.nano_cpus {
        if n < 0 || n > cpus as i64 * 1_000_000_000 {
            return Err(Error::Invalid(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
    }
    Ok(())
}

/// What a container with a terminal holds while it runs.
pub(crate) struct TtySession {
    pub(crate) _raw: Option<crate::tty::RawMode>,
    pub(crate) winch: Option<signal_hook::iterator::Handle>,
    pub(crate) _master: OwnedFd,
}

impl Drop for TtySession {
    fn drop(&mut self) {
        if let Some(h) = self.winch.take() {
            h.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(memory: Option<i64>, swap: Option<i64>, cpus: Option<i64>) -> RunOptions {
        RunOptions {
            memory,
            memory_swap: swap,
            nano_cpus: cpus,
            ..Default::default()
        }
    }

    #[test]
    fn resource_limits_are_checked_as_docker_checks_them() {
        let err = |o: RunOptions| check_resources(&o, 2).unwrap_err().to_string();
        assert_eq!(
            err(with(Some(1024), None, None)),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(check_resources(&with(Some(MIN_MEMORY), None, None), 2).is_ok());
        assert!(check_resources(&with(Some(MIN_MEMORY), Some(-1), None), 2).is_ok());
        assert!(err(with(Some(64 << 20), Some(32 << 20), None)).starts_with("Minimum memoryswap"));
        assert!(err(with(None, Some(32 << 20), None)).starts_with("You should always set"));
        assert_eq!(
            err(with(None, None, Some(3_000_000_000))),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(check_resources(&with(None, None, Some(2_000_000_000)), 2).is_ok());
    }
}
