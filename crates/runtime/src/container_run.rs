//! Running a created container to its end: rootfs, OCI spec, the process, its output and
//! terminal, then the exit recorded (and `--rm` honoured).

use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::attach::AttachServer;
use crate::client_io::{
    copy_input, follow_resizes, forward_signals, shared, ClientIo, SharedWriter,
};
use crate::engine::Stdio;
use crate::error::{Error, IoContext, Result};
use crate::lifecycle::{bridged, Runtime};
use crate::logs::{log_path, LogSettings, LogWriter};
use crate::options::BERTH_INIT;
use crate::process::{closed_stdin, pipe, relay, release_startup_code, wait_pid};
use crate::record::{now, ContainerRecord, State, Status, ZERO_TIME};
use crate::rootfs::{check_command, resolve_user, write_etc_files, RootfsPaths};
use crate::spec::build_spec;

/// Who watches the container's output besides its log.
pub enum Attach {
    /// A client in the foreground (`run` without `-d`, `start -a`, a build's RUN step), with
    /// the streams, terminal size and signals it hands in.
    Client(ClientIo),
    /// Nobody: log only (the supervisor of a detached container).
    LogOnly,
    /// As `LogOnly`, for a container a client is about to attach to (a foreground `run -it`
    /// under a supervisor, so that it can be detached from): the output until that client
    /// connects is kept for it, and the exit code waits for it.
    AwaitClient,
}

impl Attach {
    fn supervised(&self) -> bool {
        matches!(self, Attach::LogOnly | Attach::AwaitClient)
    }
}

/// The parts of a foreground client's `ClientIo` that outlive the start.
struct ClientEnds {
    stdout: Option<SharedWriter>,
    stderr: Option<SharedWriter>,
    resize: Option<std::sync::mpsc::Receiver<crate::client_io::TerminalSize>>,
    stdin: Option<OwnedFd>,
    size: Option<crate::client_io::TerminalSize>,
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

impl Runtime {
    /// Runs a created container to completion, relaying its output; returns its exit code.
    /// `ready` is called once it is running (or with the error that stopped it).
    pub fn run(
        &self,
        id: &str,
        attach: Attach,
        ready: &mut dyn FnMut(std::result::Result<&ContainerRecord, &Error>),
    ) -> Result<i32> {
        // Held until the container runs (or failed to): a concurrent start, rm or rename of
        // the same container waits for it.
        let held = self.containers.lock(id)?;
        let mut rec = self.containers.load(id)?;
        // A restart the restart policy decided on, with a stop asked for since: it stays
        // stopped. Checked under the lock `stop` takes to ask, so a stop never misses a run.
        if rec.state.status == Status::Restarting && self.stop_requested(id) {
            rec.state.status = Status::Exited;
            self.containers.save(&rec)?;
            return Ok(rec.state.exit_code);
        }
        let dir = self.containers.dir(id);
        let probe = crate::health::Probe::from_config(rec.config.healthcheck.as_ref());
        if probe.is_some() {
            if let Err(e) = crate::health::begin(&dir) {
                ready(Err(&e));
                return Err(e);
            }
        }
        let target = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let supervised = attach.supervised();
        let await_client = matches!(attach, Attach::AwaitClient);
        let mut client = None;
        if let Attach::Client(io) = attach {
            if let Some(signals) = io.signals {
                forward_signals(signals, target.clone(), done.clone());
            }
            client = Some(ClientEnds {
                stdout: Some(shared(io.stdout)),
                stderr: Some(shared(io.stderr)),
                resize: io.resize,
                stdin: io.stdin,
                size: io.size,
            });
        }
        let started = self.start_process(&mut rec, &dir, supervised, await_client, client, &done);
        let on_bridge = bridged(&rec.config.network);
        let (pid, relays, tty, wired, attached) = match started {
            Ok(x) => x,
            Err(e) => {
                done.store(true, Ordering::SeqCst);
                if on_bridge {
                    let _ = self.network.stop(id);
                }
                ready(Err(&e));
                let _ = self.engine.unmount_rootfs(&RootfsPaths::of(&dir).merged);
                let _ = crate::rootfs::unmount(&crate::rootfs::shm_dir(&dir));
                rec.state = State {
                    status: Status::Created,
                    error: e.to_string(),
                    ..rec.state
                };
                rec.state.pid = 0;
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
        drop(held);
        target.store(pid, std::sync::atomic::Ordering::SeqCst);
        ready(Ok(&rec));
        if supervised {
            release_startup_code();
        }
        // Health checks run while the container does (in its pid namespace, a probe dies
        // with it, so the scope ends promptly after the exit).
        let stop = std::sync::atomic::AtomicBool::new(false);
        let code = std::thread::scope(|s| {
            if let Some(p) = &probe {
                let (dir, stop, rec) = (&dir, &stop, &rec);
                s.spawn(move || {
                    crate::health::watch(
                        dir,
                        p,
                        stop,
                        &|cmd, timeout| self.run_probe(id, cmd, timeout),
                        &|status| {
                            let action = format!("health_status: {status}");
                            self.container_event(&action, rec, &[]);
                        },
                    )
                });
            }
            let code = wait_pid(pid);
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            code
        });
        // The process is gone: the forwarders stop, the output drains.
        done.store(true, Ordering::SeqCst);
        for r in relays {
            let _ = r.join();
        }
        if let Some(a) = &attached {
            a.await_client();
        }
        drop(tty);
        let oom = self.engine.oom_killed(id);
        let _ = self.engine.delete(id);
        drop(wired);
        if on_bridge && !rec.config.auto_remove {
            let _ = self.network.stop(id);
        }
        let _ = self.engine.unmount_rootfs(&RootfsPaths::of(&dir).merged);
        let _ = crate::rootfs::unmount(&crate::rootfs::shm_dir(&dir));
        let exited = |s: &mut State| {
            s.status = Status::Exited;
            s.pid = 0;
            s.paused = false;
            s.exit_code = code;
            s.oom_killed = oom;
            s.finished_at = now();
        };
        // Saved before the `die` event: a client woken by it (a wait, then an rm) finds
        // the container exited, as with Docker.
        let held = self.containers.lock(id)?;
        let mut rec = self.containers.load(id).unwrap_or(rec);
        exited(&mut rec.state);
        // The restart policy's decision is made with the exit, under the lock, as dockerd
        // does: the record goes from running to restarting without an exited state between
        // that a `stop` could take for stopped.
        if supervised
            && !rec.config.auto_remove
            && !self.stop_requested(id)
            && crate::container_start::restarts(&rec.config, rec.state.restart_count, code)
        {
            rec.state.restart_count += 1;
            rec.state.status = Status::Restarting;
        }
        if !rec.config.auto_remove {
            self.containers.save(&rec)?;
            drop(held);
        }
        if oom {
            self.container_event("oom", &rec, &[]);
        }
        self.container_event("die", &rec, &[("exitCode", &code.to_string())]);
        self.volume_mount_events("unmount", &rec);
        if rec.config.auto_remove {
            self.remove_anonymous_volumes(&rec);
            if on_bridge {
                let _ = self.network.release(id);
            }
            let linked = self.is_link_target(id);
            let taken = self.containers.take_dir(id)?;
            if linked {
                self.drop_links_to(id);
            }
            self.container_event("destroy", &rec, &[]);
            if let Some(a) = attached {
                a.exited(code);
            }
            // Its files go once everyone waiting has been told (a `docker run --rm` waits
            // for the removal).
            if let Some(t) = taken {
                crate::record::delete_taken_dir(&t)?;
            }
            return Ok(code);
        }
        // Attached clients have had all the output; now that the record says so, the code.
        if let Some(a) = attached {
            a.exited(code);
        }
        Ok(code)
    }

    /// What a remapped container's root needs of berth's directories: to reach its mounts'
    /// sources, and to own the files berth made for it and its still-empty volumes.
    fn share_with_remapped_root(
        &self,
        rec: &ContainerRecord,
        dir: &Path,
        m: &crate::userns_remap::IdMap,
    ) -> Result<()> {
        let volumes = self.volumes()?;
        let volume_mounts: Vec<&crate::volumes::MountSpec> = rec
            .config
            .mounts
            .iter()
            .filter(|v| v.kind == "volume")
            .collect();
        let containers = self.root.join("containers");
        let volumes_root = self.root.join("volumes");
        let volume_dirs: Vec<std::path::PathBuf> = volume_mounts
            .iter()
            .filter_map(|v| volumes.data_dir(&v.source).parent().map(Path::to_path_buf))
            .collect();
        // runtime-bin (berth-init) and the volume data dirs are made with mode 0755.
        let mut reach: Vec<&Path> = vec![&self.root, &containers, dir];
        if !volume_dirs.is_empty() {
            reach.push(&volumes_root);
            reach.extend(volume_dirs.iter().map(|d| d.as_path()));
        }
        crate::userns_remap::grant_traversal(&reach)?;
        let etc: Vec<std::path::PathBuf> = ["hostname", "hosts", "resolv.conf"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| p.exists())
            .collect();
        let etc: Vec<&Path> = etc.iter().map(|p| p.as_path()).collect();
        crate::userns_remap::give_to_root(&etc, m)?;
        for v in volume_mounts {
            let data = volumes.data_dir(&v.source);
            let fresh = fs::metadata(&data)
                .map(|md| std::os::unix::fs::MetadataExt::uid(&md) == 0)
                .unwrap_or(false)
                && fs::read_dir(&data)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false);
            if fresh {
                crate::userns_remap::give_to_root(&[&data], m)?;
            }
        }
        Ok(())
    }

    fn start_process(
        &self,
        rec: &mut ContainerRecord,
        dir: &Path,
        supervised: bool,
        await_client: bool,
        mut client: Option<ClientEnds>,
        done: &Arc<AtomicBool>,
    ) -> Result<Started> {
        let paths = RootfsPaths::of(dir);
        self.engine.mount_rootfs(
            &rec.lower_dirs,
            &paths,
            rec.config.auto_remove,
            rec.config.userns_remap.as_ref(),
        )?;
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
        let linked = if rec.config.links.is_empty() {
            Default::default()
        } else {
            self.linked_view(rec, &self.containers.list()?)?
        };
        let extra_hosts: Vec<(String, String)> = rec
            .config
            .extra_hosts
            .iter()
            .map(|(n, a)| match (a.as_str(), &gateway) {
                ("host-gateway", Some(gw)) => (n.clone(), gw.clone()),
                _ => (n.clone(), a.clone()),
            })
            .chain(linked.hosts)
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
        let mut user = resolve_user(&paths.merged, &rec.config.user)?;
        for g in crate::rootfs::resolve_groups(&paths.merged, &rec.config.group_add)? {
            if g != user.1 && !user.2.contains(&g) {
                user.2.push(g);
            }
        }
        let cwd = if rec.config.working_dir.is_empty() {
            "/".to_string()
        } else {
            rec.config.working_dir.clone()
        };
        check_command(&paths.merged, &rec.config.args[0], &rec.config.env, &cwd)?;
        // Docker creates a missing working directory; one that is a file is refused here
        // with what to change (the runtime's chdir would fail with a bare errno).
        let wd = crate::rootfs::resolve_in_root(&paths.merged, Path::new(&cwd));
        if wd.exists() && !wd.is_dir() {
            return Err(Error::Invalid(format!(
                "cannot use {cwd} as the working directory: not a directory (choose a directory with -w / Config.WorkingDir)"
            )));
        }
        if !wd.exists() {
            let mut made = Vec::new();
            let mut d = wd.as_path();
            while !d.exists() && d.starts_with(&paths.merged) {
                made.push(d.to_path_buf());
                d = d.parent().unwrap_or(&paths.merged);
            }
            fs::create_dir_all(&wd).ctx("create working directory", &wd)?;
            if let Some(m) = &rec.config.userns_remap {
                let made: Vec<&Path> = made.iter().map(|p| p.as_path()).collect();
                crate::userns_remap::give_to_root(&made, m)?;
            }
        }
        // A volume that is still empty gets the image's content at its mount point (Docker's
        // copy-up), so e.g. a volume on /usr/share/app starts with the app's files.
        let volumes = self.volumes()?;
        let seeded = |m: &&crate::volumes::MountSpec| {
            m.kind == "volume" && !m.no_copy && m.subpath.is_empty()
        };
        for m in rec.config.mounts.iter().filter(seeded) {
            let data = volumes.data_dir(&m.source);
            if fs::read_dir(&data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false)
            {
                let from = crate::rootfs::resolve_in_root(&paths.merged, Path::new(&m.target));
                crate::volumes::seed(&from, &data)?;
            }
        }
        if let Some(m) = &rec.config.userns_remap {
            self.share_with_remapped_root(rec, dir, m)?;
        }
        let init_bin = if rec.config.init {
            let p = self.root.join("runtime-bin/berth-init");
            if fs::read(&p).map(|b| b != BERTH_INIT).unwrap_or(true) {
                fs::create_dir_all(p.parent().unwrap_or(Path::new("/")))
                    .ctx("create directory", &p)?;
                // Unique to this call: a server's threads may write it at once.
                static TEMP_SEQ: std::sync::atomic::AtomicU64 =
                    std::sync::atomic::AtomicU64::new(0);
                let tmp = p.with_extension(format!(
                    "tmp{}.{}",
                    std::process::id(),
                    TEMP_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                fs::write(&tmp, BERTH_INIT).ctx("write", &tmp)?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).ctx("chmod", &tmp)?;
                fs::rename(&tmp, &p).ctx("rename", &p)?;
            }
            Some(p)
        } else {
            None
        };
        // The links' environment comes first: the container's own entries win.
        let with_links;
        let spec_rec: &ContainerRecord = if linked.env.is_empty() {
            rec
        } else {
            let key = |e: &String| e.split('=').next().unwrap_or_default().to_string();
            let own: Vec<String> = rec.config.env.iter().map(key).collect();
            let mut r = rec.clone();
            r.config.env = linked
                .env
                .into_iter()
                .filter(|e| !own.contains(&key(e)))
                .chain(rec.config.env.iter().cloned())
                .collect();
            with_links = r;
            &with_links
        };
        let mut spec = build_spec(
            spec_rec,
            dir,
            &paths.merged,
            user,
            &volumes,
            init_bin.as_deref(),
        )?;
        if rec.config.ipc_mode == "shareable" {
            let size = rec.config.shm_size.unwrap_or(crate::spec::DEFAULT_SHM_SIZE);
            crate::rootfs::mount_shm(dir, size)?;
            bind_shm(&mut spec, &crate::rootfs::shm_dir(dir));
        }
        self.join_namespaces(rec, &mut spec)?;
        // In another container's network namespace, its names and resolvers too (Docker
        // shares the files; these are copies as of this start).
        if let Some(donor) = rec.config.network.strip_prefix("container:") {
            let from = self.containers.dir(donor);
            for f in ["hosts", "resolv.conf"] {
                fs::copy(from.join(f), dir.join(f)).ctx("copy", from.join(f))?;
            }
        }
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
        let mut stdin_for_attach = None;
        let client_stdin = client.as_mut().and_then(|c| c.stdin.take());
        let stdin = match client_stdin {
            Some(input) if rec.config.open_stdin && !rec.config.tty => input,
            _ if supervised && rec.config.open_stdin && !rec.config.tty => {
                let (r, w) = pipe()?;
                stdin_for_attach = Some(w);
                r
            }
            _ => closed_stdin()?,
        };
        // A foreground client's terminal size, else the one the container was made with.
        let size = match &client {
            Some(c) => c.size,
            None => rec.config.console_size.map(|[rows, cols]| (rows, cols)),
        };
        let console = if rec.config.tty {
            Some(crate::tty::ConsoleSocket::new(size)?)
        } else {
            None
        };
        let console_path = console.as_ref().map(|c| c.path.clone());
        let mut console = console;
        let mut master: Option<OwnedFd> = None;
        let mut wired: Option<berth_network::Running> = None;
        let oom_kill_disable = rec.config.oom_kill_disable;
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
                // The terminal exists now (sized as it arrived), before the command starts.
                if let Some(c) = console.take() {
                    master = Some(c.master()?);
                }
                // Its cgroup too: what libcontainer leaves out goes in before the command.
                if oom_kill_disable {
                    crate::cgroups::CgroupFs::host()
                        .disable_oom_killer(&cid)
                        .map_err(|e| Error::Io {
                            op: "disable the OOM killer of",
                            path: cid.clone().into(),
                            source: e,
                        })?;
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
        // The caller holds the container's lock: the record on disk is the one it read.
        let restart_count = rec.state.restart_count;
        rec.state = State {
            status: Status::Running,
            pid,
            restart_count,
            monitor_pid: std::process::id() as i32,
            started_at: now(),
            finished_at: ZERO_TIME.into(),
            ..State::default()
        };
        // Announced before the record says running: whoever acts on the running container
        // (a stop, a kill) records its events after this one.
        self.volume_mount_events("mount", rec);
        self.container_event("start", rec, &[]);
        self.containers.save(rec)?;
        // The `none` log driver keeps nothing (attached clients still get the output).
        let log = if rec.config.log_driver == "none" {
            None
        } else {
            Some(std::sync::Arc::new(std::sync::Mutex::new(
                LogWriter::open(log_path(dir, &rec.id), LogSettings::of(&rec.config))
                    .ctx("open log", log_path(dir, &rec.id))?,
            )))
        };
        // Others can attach to a foreground container too, but its input is its caller's.
        let terminal = master
            .as_ref()
            .map(|m| (m, supervised && rec.config.open_stdin));
        let attached = Some(Arc::new(AttachServer::start(
            dir,
            stdin_for_attach,
            terminal,
            await_client,
            rec.config.stdin_once,
        )?));
        let (echo_out, echo_err) = match &mut client {
            Some(c) => (c.stdout.take(), c.stderr.take()),
            None => (None, None),
        };
        let mut relays = vec![
            relay(
                out_r,
                "stdout",
                log.clone(),
                echo_out.clone(),
                attached.clone(),
            ),
            relay(err_r, "stderr", log.clone(), echo_err, attached.clone()),
        ];
        let mut session = None;
        if let Some(master) = master {
            // The terminal carries both streams; the container sees one tty, as with Docker.
            let reader = master.try_clone().ctx("dup", "pty")?;
            relays.push(relay(reader, "stdout", log, echo_out, attached.clone()));
            if let Some(c) = client {
                if let Some(sizes) = c.resize {
                    let m = master.try_clone().ctx("dup", "pty")?;
                    follow_resizes(sizes, m, done.clone());
                }
                if let (Some(input), true) = (c.stdin, rec.config.open_stdin) {
                    copy_input(input, master.try_clone().ctx("dup", "pty")?);
                }
            }
            session = Some(TtySession { _master: master });
        }
        Ok((pid, relays, session, wired, attached))
    }
}

impl Runtime {
    /// Points the spec's namespaces at those of the containers it joins (`--pid
    /// container:NAME`, `--ipc container:NAME`, which also shares that container's /dev/shm,
    /// `--network container:NAME`); they must be running, as Docker requires.
    fn join_namespaces(&self, rec: &ContainerRecord, spec: &mut serde_json::Value) -> Result<()> {
        for (kind, target) in &rec.config.joined_namespaces {
            let refuse = || {
                let what = match kind.as_str() {
                    "network" => "network".to_string(),
                    k => k.to_uppercase(),
                };
                Error::Conflict(format!(
                    "cannot join {what} of a non running container: {target}"
                ))
            };
            let other = self.containers.load(target).map_err(|_| refuse())?;
            if other.state.status != Status::Running || !crate::process::pid_alive(other.state.pid)
            {
                return Err(refuse());
            }
            let pid = other.state.pid;
            if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
                for n in ns.iter_mut().filter(|n| n["type"] == kind.as_str()) {
                    // The OCI type `network` is /proc's `net`.
                    let file = if kind == "network" {
                        "net"
                    } else {
                        kind.as_str()
                    };
                    n["path"] = serde_json::json!(format!("/proc/{pid}/ns/{file}"));
                }
            }
            if kind == "ipc" {
                // Its /dev/shm is a tmpfs on the host only when it is shareable (Docker's
                // rule for a donor).
                if other.config.ipc_mode != "shareable" {
                    return Err(Error::Conflict(
                        "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                            .into(),
                    ));
                }
                bind_shm(spec, &crate::rootfs::shm_dir(&self.containers.dir(target)));
            }
            // A remapped container joins the other's user namespace (create checked that it
            // is remapped the same way and is the only one joined): its namespaces belong
            // to that one.
            if rec.config.userns_remap.is_some() {
                let linux = &mut spec["linux"];
                if let Some(ns) = linux["namespaces"].as_array_mut() {
                    for n in ns.iter_mut().filter(|n| n["type"] == "user") {
                        n["path"] = serde_json::json!(format!("/proc/{pid}/ns/user"));
                    }
                }
                if let Some(l) = linux.as_object_mut() {
                    l.remove("uidMappings");
                    l.remove("gidMappings");
                }
            }
        }
        Ok(())
    }
}

/// The spec's /dev/shm as a bind of `source` (a shareable container's host-side tmpfs).
fn bind_shm(spec: &mut serde_json::Value, source: &Path) {
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
            *m = serde_json::json!({
                "destination": "/dev/shm", "type": "bind", "source": source,
                "options": ["rbind", "rprivate", "nosuid", "nodev", "noexec"],
            });
        }
    }
}

/// What a container with a terminal holds while it runs: the pty's master, closed when
/// the run ends.
pub(crate) struct TtySession {
    pub(crate) _master: OwnedFd,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine_fake::{actions, create, fake_runtime};

    #[test]
    fn a_container_runs_to_its_exit_and_is_recorded_exited() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "quick", &["sh", "-c", "exit 3"], |_| {});
        assert_eq!(c.state.status, Status::Created);
        let mut when_ready = None;
        let code = rt
            .run(&c.id, Attach::Client(ClientIo::discard()), &mut |r| {
                when_ready = Some(r.map(|r| r.state.status).map_err(|e| e.to_string()))
            })
            .unwrap();
        assert_eq!(code, 3);
        assert_eq!(when_ready, Some(Ok(Status::Running)));
        let rec = rt.containers().load(&c.id).unwrap();
        assert_eq!(rec.state.status, Status::Exited);
        assert_eq!((rec.state.exit_code, rec.state.pid), (3, 0));
        assert!(!rec.state.oom_killed);
        assert_ne!(rec.state.started_at, ZERO_TIME);
        assert_ne!(rec.state.finished_at, ZERO_TIME);
        assert_eq!(actions(&rt, &c.id), ["create", "start", "die"]);
        // The runtime was asked to run it once, and its state was deleted after.
        assert_eq!((fake.calls_of("run"), fake.calls_of("delete")), (1, 1));
        assert_eq!(fake.calls_of("mount"), 1);
        assert!(fake.calls_of("unmount") >= 1);
    }

    #[test]
    fn auto_remove_takes_the_container_away_after_its_exit() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let c = create(&rt, "gone", &["true"], |h| h.auto_remove = true);
        assert_eq!(
            rt.run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
                .unwrap(),
            0
        );
        assert!(matches!(
            rt.containers().load(&c.id),
            Err(Error::NoSuchContainer(_))
        ));
        assert!(!rt.containers().dir(&c.id).exists());
        assert_eq!(actions(&rt, &c.id), ["create", "start", "die", "destroy"]);
        // The name is free again.
        create(&rt, "gone", &["true"], |_| {});
    }

    #[test]
    fn a_runtime_failure_leaves_the_container_created_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "refused", &["true"], |_| {});
        fake.refuse_run(&c.id);
        let mut told = None;
        let e = rt
            .run(&c.id, Attach::Client(ClientIo::discard()), &mut |r| {
                told = Some(r.err().map(|e| e.to_string()))
            })
            .unwrap_err();
        assert!(e.to_string().contains("refused by the fake runtime"), "{e}");
        assert_eq!(told, Some(Some(e.to_string())));
        let rec = rt.containers().load(&c.id).unwrap();
        assert_eq!((rec.state.status, rec.state.pid), (Status::Created, 0));
        assert_eq!(rec.state.error, e.to_string());
        assert_eq!(actions(&rt, &c.id), ["create"]);
        // It can be started again once the cause is gone.
        assert_eq!(
            rt.run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
                .unwrap(),
            0
        );

        // With --rm a failed start removes the container too.
        let c = create(&rt, "refused-rm", &["true"], |h| h.auto_remove = true);
        fake.refuse_run(&c.id);
        assert!(rt
            .run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
            .is_err());
        assert!(rt.containers().load(&c.id).is_err());
    }

    #[test]
    fn a_missing_command_is_refused_before_the_runtime_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "nocmd", &["no-such-command"], |_| {});
        let e = rt
            .run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
            .unwrap_err();
        assert!(matches!(e, Error::CommandNotFound(_)), "{e}");
        assert_eq!(fake.calls_of("run"), 0);
        assert_eq!(
            rt.containers().load(&c.id).unwrap().state.status,
            Status::Created
        );
    }

    #[test]
    fn an_oom_kill_is_recorded_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let c = create(&rt, "hungry", &["sh", "-c", "exit 137"], |_| {});
        fake.oom_on_exit(&c.id);
        assert_eq!(
            rt.run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
                .unwrap(),
            137
        );
        let rec = rt.containers().load(&c.id).unwrap();
        assert!(rec.state.oom_killed);
        assert_eq!(actions(&rt, &c.id), ["create", "start", "oom", "die"]);
    }

    #[test]
    fn output_goes_to_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let c = create(
            &rt,
            "talker",
            &["sh", "-c", "echo out; echo err >&2"],
            |_| {},
        );
        rt.run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {})
            .unwrap();
        let log = std::fs::read_to_string(log_path(&rt.containers().dir(&c.id), &c.id)).unwrap();
        assert!(log.contains(r#""log":"out\n","stream":"stdout""#), "{log}");
        assert!(log.contains(r#""log":"err\n","stream":"stderr""#), "{log}");
    }

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Collected(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Collected {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Collected {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// A foreground client's own streams: its input reaches the process (`-i`), the
    /// process's output reaches its writers, and a signal it passes on reaches the process.
    #[test]
    fn a_foreground_client_hands_in_its_streams_and_signals() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _fake) = fake_runtime(dir.path());
        let script = "trap 'echo got-usr1; exit 9' USR1; read line; echo \"in: $line\"; \
                      echo oops >&2; while :; do sleep 0.1; done";
        let c = create(&rt, "client", &["sh", "-c", script], |_| {});
        // OpenStdin is the container's; `create` above has none, so make it take input.
        rt.containers()
            .update(&c.id, |r| {
                r.config.open_stdin = true;
                Ok(())
            })
            .unwrap();
        let (input_r, input_w) = crate::process::pipe().unwrap();
        let (signal_tx, signal_rx) = std::sync::mpsc::channel();
        let (out, err) = (Collected::default(), Collected::default());
        let io = ClientIo {
            stdin: Some(input_r),
            stdout: Box::new(out.clone()),
            stderr: Box::new(err.clone()),
            size: None,
            resize: None,
            signals: Some(signal_rx),
        };
        std::thread::scope(|s| {
            let run = s.spawn(|| rt.run(&c.id, Attach::Client(io), &mut |_| {}));
            std::io::Write::write_all(&mut std::fs::File::from(input_w), b"hello\n").unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !err.text().contains("oops") {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no output: {}",
                    out.text()
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            signal_tx.send(libc::SIGUSR1).unwrap();
            assert_eq!(run.join().unwrap().unwrap(), 9);
        });
        assert_eq!(out.text(), "in: hello\ngot-usr1\n");
        assert_eq!(err.text(), "oops\n");
    }

    /// A checked container's probes run while it does; each change of its health is
    /// recorded and announced (`health_status: healthy`), as Docker does.
    #[test]
    fn health_changes_are_recorded_and_announced() {
        let dir = tempfile::tempdir().unwrap();
        let (rt, fake) = fake_runtime(dir.path());
        let spec: crate::ContainerCreate = serde_json::from_value(serde_json::json!({
            "Image": "tools",
            "Cmd": ["sleep", "30"],
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 50_000_000},
            "HostConfig": {"NetworkMode": "host"},
        }))
        .unwrap();
        let c = rt.create(Some("checked"), &spec).unwrap();
        std::thread::scope(|s| {
            let run = s.spawn(|| rt.run(&c.id, Attach::Client(ClientIo::discard()), &mut |_| {}));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !actions(&rt, &c.id)
                .iter()
                .any(|a| a == "health_status: healthy")
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{:?}",
                    actions(&rt, &c.id)
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            rt.stop("checked", Some(5)).unwrap();
            run.join().unwrap().unwrap();
        });
        // Probes are execs in the container; one change, one event.
        assert!(fake.calls_of("exec") >= 1);
        let events = actions(&rt, &c.id);
        let healthy = events
            .iter()
            .filter(|a| a.starts_with("health_status"))
            .count();
        assert_eq!(healthy, 1, "{events:?}");
    }
}
