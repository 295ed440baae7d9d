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
use crate::record::{now, valid_name, ContainerRecord, Containers, State, ZERO_TIME};
use crate::rootfs::{
    check_command, mount_overlay, resolve_user, unmount, write_etc_files, RootfsPaths,
};
use crate::spec::build_spec;

use crate::options::BERTH_INIT;
pub use crate::options::{ExecOptions, INIT_PATH};
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
    /// In the foreground, output to the log only and no signal handling: for a caller that is
    /// a server (a build through the API), which reads the log itself.
    Captured,
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

pub struct Runtime {
    pub(crate) root: PathBuf,
    pub(crate) store: Store,
    pub(crate) containers: Containers,
    pub(crate) engine: Youki,
    pub(crate) network: berth_network::Networking,
}

/// Whether a container gets its own network wiring (bridge or user-defined network).
pub(crate) fn bridged(network: &str) -> bool {
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
        let probe = crate::health::Probe::from_config(rec.config.healthcheck.as_ref());
        if probe.is_some() {
            if let Err(e) = crate::health::begin(&dir) {
                ready(Err(&e));
                return Err(e);
            }
        }
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
        if let Some(a) = &attached {
            a.await_client();
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
        // Saved before the `die` event: a client woken by it (a wait, then an rm) finds
        // the container exited, as with Docker.
        if !rec.config.auto_remove {
            self.containers.save(&rec)?;
        }
        self.container_event("die", &rec, &[("exitCode", &code.to_string())]);
        if rec.config.auto_remove {
            self.remove_anonymous_volumes(&rec);
            if on_bridge {
                let _ = self.network.release(id);
            }
            self.containers.remove_dir(id)?;
            self.container_event("destroy", &rec, &[]);
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
        // Docker creates a missing working directory.
        let wd = crate::rootfs::resolve_in_root(&paths.merged, Path::new(&cwd));
        if !wd.exists() {
            fs::create_dir_all(&wd).ctx("create working directory", &wd)?;
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
        let console_size = rec.config.console_size;
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
                    } else if let Some([rows, cols]) = console_size {
                        let ws = libc::winsize {
                            ws_row: rows,
                            ws_col: cols,
                            ws_xpixel: 0,
                            ws_ypixel: 0,
                        };
                        crate::tty::set_window_size(m.as_raw_fd(), &ws);
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
        // The `none` log driver keeps nothing (attached clients still get the output).
        let log = if rec.config.log_driver == "none" {
            None
        } else {
            Some(std::sync::Arc::new(std::sync::Mutex::new(
                LogWriter::open(
                    log_path(dir, &rec.id),
                    rec.config.log_max_size.unwrap_or(DEFAULT_MAX_SIZE),
                    rec.config.log_max_files.unwrap_or(DEFAULT_MAX_FILES),
                )
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
            attach == Attach::AwaitClient,
            rec.config.stdin_once,
        )?));
        let echo = attach == Attach::Terminal;
        let mut relays = vec![
            relay(out_r, "stdout", log.clone(), echo, attached.clone()),
            relay(err_r, "stderr", log.clone(), echo, attached.clone()),
        ];
        let mut session = None;
        if let Some(master) = master {
            // The terminal carries both streams; the container sees one tty, as with Docker.
            let reader = master.try_clone().ctx("dup", "pty")?;
            relays.push(relay(reader, "stdout", log, echo, attached.clone()));
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
            // Restarting from the exit on, as Docker shows it (an `rm` without -f then
            // refuses it), through the back-off, which a stop or rm cuts short.
            rec.state.restart_count += 1;
            rec.state.status = Status::Restarting;
            self.containers.save(&rec)?;
            let until = Instant::now() + backoff;
            while Instant::now() < until && !self.stop_requested(id) {
                std::thread::sleep(
                    Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
                );
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
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
        let abandoned = |c: &ContainerRecord| {
            c.state.status == Status::Running
                && !pid_alive(c.state.pid)
                && !pid_alive(c.state.monitor_pid)
        };
        let mut all = self.containers.list()?;
        for c in &mut all {
            if abandoned(c) {
                // Its monitor may have recorded the exit and gone between the read and the
                // look at its pid: the record as it is now decides.
                match self.containers.load(&c.id) {
                    Ok(now) if !abandoned(&now) => {
                        *c = now;
                        continue;
                    }
                    Err(_) => continue,
                    Ok(_) => {}
                }
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

    /// `docker kill` without a signal: SIGKILL, then (as dockerd) a wait of at most 10 s for
    /// the exit to be recorded, so that what the caller does next (inspect, rm, start) finds
    /// the container stopped with its exit code.
    pub fn kill_and_wait(&self, key: &str) -> Result<()> {
        self.kill(key, "KILL")?;
        let c = self.find(key)?;
        self.wait_exit(&c.id, Duration::from_secs(10));
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
        endpoint: &crate::container_config::EndpointSettings,
    ) -> Result<()> {
        let c = self.find(key)?;
        if !bridged(&c.config.network) {
            return Err(Error::Conflict(format!(
                "container cannot be connected to multiple networks with one of the networks in {} mode",
                c.config.network
            )));
        }
        let unsupported = endpoint.unsupported_fields();
        if !unsupported.is_empty() {
            return Err(Error::Invalid(format!(
                "berth does not support {} in an endpoint's settings",
                unsupported.join(", ")
            )));
        }
        let attachment = crate::container_create::endpoint_attachment(network, Some(endpoint), "")?;
        let pid = (c.state.status == Status::Running && c.state.pid > 0).then_some(c.state.pid);
        self.network.connect(
            &c.id,
            &c.name,
            &self.containers.dir(&c.id),
            &attachment,
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
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{key}\": container is {}: stop the container before removing or force remove",
                    c.state.status.as_str()
                )));
            }
            self.request_stop(&c.id);
            if c.state.status == Status::Running {
                signal_container(&c.id, c.state.pid, libc::SIGKILL);
            }
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
