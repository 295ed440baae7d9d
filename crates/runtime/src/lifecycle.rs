//! Creating, running, stopping and removing containers.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_image::Store;

use crate::engine::{ExecProcess, OciRuntime, Stdio, Youki};
use crate::error::{Error, IoContext, Result};
use crate::logs::{log_path, LogWriter, DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE};
use crate::record::{
    new_id, now, random_name, valid_name, ContainerRecord, Containers, RunConfig, State, ZERO_TIME,
};
use crate::rootfs::{
    check_command, mount_overlay, resolve_user, unmount, write_etc_files, RootfsPaths, DEFAULT_PATH,
};
use crate::spec::build_spec;

/// `docker run` / `docker create` options berth implements so far.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub auto_remove: bool,
    pub interactive: bool,
    /// `-t`: a pseudo-terminal.
    pub tty: bool,
    pub read_only: bool,
    pub labels: Vec<String>,
    pub network: Option<String>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--security-opt` values: `no-new-privileges[=true|false]`, `seccomp=unconfined|FILE`.
    pub security_opt: Vec<String>,
    /// From `-v`, `--mount` and `--tmpfs`.
    pub mounts: Vec<crate::volumes::MountSpec>,
    /// `--restart`: no, always, unless-stopped, on-failure[:N]
    pub restart: Option<String>,
    pub init: bool,
    /// `--ulimit NAME=SOFT[:HARD]`
    pub ulimits: Vec<String>,
    /// `--log-opt KEY=VALUE` (max-size, max-file)
    pub log_opts: Vec<String>,
}

/// The berth-init executable, built statically by build.rs (empty if that was not possible).
const BERTH_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where the container sees its init, as with Docker.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// `--ulimit nofile=1024:2048`, checked against what this process may grant.
pub fn parse_ulimit(v: &str) -> Result<(String, u64, u64)> {
    let bad = |r: String| Error::BadFlag {
        flag: "--ulimit",
        value: v.to_string(),
        reason: r,
    };
    let (name, limits) = v
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]".into()))?;
    let res = match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        "as" => libc::RLIMIT_AS,
        _ => return Err(bad(format!("invalid ulimit type: {name}"))),
    };
    let num = |s: &str| -> Result<u64> {
        if s == "-1" || s == "unlimited" {
            Ok(u64::MAX)
        } else {
            s.parse()
                .map_err(|_| bad(format!("invalid ulimit value: {s}")))
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(limits)?, num(limits)?),
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    if unsafe { libc::getrlimit(res, &mut cur) } == 0
        && hard > cur.rlim_max
        && !has_cap_sys_resource()
    {
        return Err(bad(format!(
            "the hard limit {hard} is above berth's own ({}), and this host's root lacks CAP_SYS_RESOURCE to raise it",
            cur.rlim_max
        )));
    }
    Ok((format!("RLIMIT_{}", name.to_ascii_uppercase()), soft, hard))
}

fn has_cap_sys_resource() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapEff:")
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// Docker's log size syntax: `10m`, `1g`, `500k`, bytes.
fn parse_log_size(v: &str) -> Option<u64> {
    let s = v.to_ascii_lowercase();
    let (n, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1000),
        'm' => (&s[..s.len() - 1], 1000 * 1000),
        'g' => (&s[..s.len() - 1], 1000 * 1000 * 1000),
        _ => (&s[..], 1),
    };
    n.parse::<u64>().ok().map(|n| n * mult)
}

/// Parses `--restart`.
pub fn parse_restart(v: &str) -> Result<(String, u32)> {
    let (name, max) = v.split_once(':').unwrap_or((v, ""));
    let bad = |r: &str| Error::BadFlag {
        flag: "--restart",
        value: v.to_string(),
        reason: r.to_string(),
    };
    match name {
        "no" | "always" | "unless-stopped" if max.is_empty() => Ok((name.to_string(), 0)),
        "on-failure" => Ok((
            name.to_string(),
            if max.is_empty() {
                0
            } else {
                max.parse()
                    .map_err(|_| bad("maximum retry count must be a number"))?
            },
        )),
        "no" | "always" | "unless-stopped" => Err(bad(
            "maximum retry count cannot be used with this restart policy",
        )),
        _ => Err(bad(
            "expected no, always, unless-stopped or on-failure[:max-retries]",
        )),
    }
}

/// Applies `--security-opt` values: (no_new_privileges, seccomp profile).
fn security_options(
    opts: &[String],
    caps: &[String],
    privileged: bool,
) -> Result<(bool, Option<serde_json::Value>)> {
    let mut nnp = false;
    let mut seccomp = if privileged {
        None
    } else {
        Some(crate::seccomp::default_profile(caps))
    };
    for o in opts {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match k {
            "no-new-privileges" => {
                nnp = match v {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::BadFlag {
                            flag: "--security-opt",
                            value: o.clone(),
                            reason: "expected no-new-privileges[=true|false]".into(),
                        })
                    }
                }
            }
            "seccomp" if v == "unconfined" => seccomp = None,
            "seccomp" if !v.is_empty() => {
                let text = fs::read_to_string(v).map_err(|e| Error::BadFlag {
                    flag: "--security-opt",
                    value: o.clone(),
                    reason: format!("cannot read the profile: {e}"),
                })?;
                seccomp = Some(crate::seccomp::from_docker_profile(&text, v, caps)?);
            }
            "label" | "apparmor" => {} // no LSM on this host; accepted as Docker does when disabled
            _ => {
                return Err(Error::BadFlag {
                    flag: "--security-opt",
                    value: o.clone(),
                    reason:
                        "expected no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json"
                            .into(),
                })
            }
        }
    }
    Ok((nnp, seccomp))
}

/// `docker exec` options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
    pub tty: bool,
}

/// Where output of the container goes besides its log.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Also to this process's stdout/stderr, with signals forwarded (foreground `run`).
    Terminal,
    /// Log only (the supervisor of a detached container).
    LogOnly,
}

pub struct Runtime {
    root: PathBuf,
    store: Store,
    containers: Containers,
    engine: Youki,
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
        })
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
        let network = o.network.clone().unwrap_or_else(|| "none".into());
        if !matches!(network.as_str(), "none" | "host") {
            return Err(Error::BadFlag {
                flag: "--network",
                value: network,
                reason: "only none and host are available until networking lands".into(),
            });
        }
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
        let mounts = self.resolve_mounts(&o.mounts)?;
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
                network,
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
            },
            state: State {
                status: "created".into(),
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                ..State::default()
            },
        };
        let dir = self.containers.dir(&id);
        fs::create_dir_all(&dir).ctx("create directory", &dir)?;
        self.containers.save(&rec)?;
        Ok(rec)
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
        let started = self.start_process(&mut rec, &dir, attach);
        let (pid, relays, tty) = match started {
            Ok(x) => x,
            Err(e) => {
                ready(Err(&e));
                let _ = unmount(&RootfsPaths::of(&dir).merged);
                rec.state.status = "created".into();
                rec.state.error = e.to_string();
                let _ = self.containers.save(&rec);
                if rec.config.auto_remove {
                    let _ = self.containers.remove_dir(id);
                }
                return Err(e);
            }
        };
        ready(Ok(&rec));
        if attach == Attach::LogOnly {
            release_startup_code();
        }
        let forward = if attach == Attach::Terminal {
            forward_signals(pid)
        } else {
            None
        };
        let code = wait_pid(pid);
        if let Some(h) = forward {
            h.close();
        }
        for r in relays {
            let _ = r.join();
        }
        drop(tty); // our terminal back to normal
        let oom = crate::cgroups::CgroupFs::host().oom_killed(id);
        let _ = self.engine.delete(id);
        let _ = unmount(&RootfsPaths::of(&dir).merged);
        let mut rec = self.containers.load(id).unwrap_or(rec);
        rec.state.status = "exited".into();
        rec.state.pid = 0;
        rec.state.exit_code = code;
        rec.state.oom_killed = oom;
        rec.state.finished_at = now();
        if rec.config.auto_remove {
            self.remove_anonymous_volumes(&rec);
            self.containers.remove_dir(id)?;
        } else {
            self.containers.save(&rec)?;
        }
        Ok(code)
    }

    fn start_process(
        &self,
        rec: &mut ContainerRecord,
        dir: &Path,
        attach: Attach,
    ) -> Result<(i32, Vec<std::thread::JoinHandle<()>>, Option<TtySession>)> {
        let paths = RootfsPaths::of(dir);
        mount_overlay(&rec.lower_dirs, &paths)?;
        write_etc_files(dir, &rec.config.hostname)?;
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
        let spec = build_spec(rec, dir, &paths.merged, user, &volumes, init_bin.as_deref())?;
        let config = dir.join("config.json");
        fs::write(
            &config,
            serde_json::to_vec_pretty(&spec).unwrap_or_default(),
        )
        .ctx("write", &config)?;

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = if rec.config.open_stdin && attach == Attach::Terminal {
            // SAFETY: dup of our own stdin; the new fd is owned by the OwnedFd.
            let fd = unsafe { libc::dup(0) };
            if fd < 0 {
                return Err(Error::Io {
                    op: "dup",
                    path: "stdin".into(),
                    source: std::io::Error::last_os_error(),
                });
            }
            unsafe { OwnedFd::from_raw_fd(fd) }
        } else {
            let (r, w) = pipe()?;
            drop(w); // the container reads end-of-file, as with Docker without -i
            r
        };
        let console = if rec.config.tty {
            Some(crate::tty::ConsoleSocket::new()?)
        } else {
            None
        };
        let console_path = console.as_ref().map(|c| c.path.clone());
        let mut console = console;
        let mut master: Option<OwnedFd> = None;
        let size_terminal = attach == Attach::Terminal;
        let pid = self.engine.run(
            &rec.id,
            dir,
            Stdio {
                stdin,
                stdout: out_w,
                stderr: err_w,
            },
            console_path.as_deref(),
            &mut || {
                // The terminal exists now; size it before the command starts.
                if let Some(c) = console.take() {
                    let m = c.master()?;
                    if size_terminal {
                        crate::tty::copy_window_size(m.as_raw_fd());
                    }
                    master = Some(m);
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
            status: "running".into(),
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
        let mut relays = vec![
            relay(out_r, "stdout", log.clone(), attach == Attach::Terminal),
            relay(err_r, "stderr", log.clone(), attach == Attach::Terminal),
        ];
        let mut session = None;
        if let Some(master) = master {
            // The terminal carries both streams; the container sees one tty, as with Docker.
            let reader = master.try_clone().ctx("dup", "pty")?;
            relays.push(relay(reader, "stdout", log, attach == Attach::Terminal));
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
        Ok((pid, relays, session))
    }

    /// Starts a created container under a detached supervisor (`exe __supervise ID`) and
    /// returns once it runs.
    pub fn start_detached(&self, id: &str, exe: &Path) -> Result<()> {
        self.clear_stop_request(id);
        let (r, w) = pipe()?;
        let wfd = w.as_raw_fd();
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("__supervise")
            .arg(id)
            .env("BERTH_READY_FD", wfd.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        use std::os::unix::process::CommandExt;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                let flags = libc::fcntl(wfd, libc::F_GETFD);
                libc::fcntl(wfd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                Ok(())
            });
        }
        let mut child = cmd.spawn().ctx("start supervisor", exe)?;
        drop(w);
        let mut msg = String::new();
        let _ = std::fs::File::from(r).read_to_string(&mut msg);
        // The supervisor double-forks nothing: reap it later only if it already failed.
        let _ = child.try_wait();
        std::thread::spawn(move || {
            let _ = child.wait();
        });
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

    /// The supervisor's side of `start_detached`.
    pub fn supervise(&self, id: &str, ready_fd: i32) -> Result<i32> {
        // SAFETY: the fd was handed to us by the parent for this purpose.
        let mut ready_pipe = Some(unsafe { std::fs::File::from_raw_fd(ready_fd) });
        let mut ready = |r: std::result::Result<&ContainerRecord, &Error>| {
            if let Some(mut p) = ready_pipe.take() {
                let _ = match r {
                    Ok(_) => p.write_all(b"ok\n"),
                    Err(e) => p.write_all(encode_error(e).as_bytes()),
                };
            }
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let code = self.run(id, Attach::LogOnly, &mut ready)?;
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
            rec.state.status = "restarting".into();
            self.containers.save(&rec)?;
            if self.stop_requested(id) {
                rec.state.status = "exited".into();
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
            if c.state.status == "running"
                && !pid_alive(c.state.pid)
                && !pid_alive(c.state.monitor_pid)
            {
                c.state.status = "exited".into();
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
        if c.state.status != "running" {
            return Err(Error::Conflict(format!(
                "cannot kill container: {key}: container {} is not running",
                c.id
            )));
        }
        let sig = parse_signal(signal)?;
        if matches!(sig, libc::SIGKILL | libc::SIGTERM | libc::SIGINT) {
            self.request_stop(&c.id);
        }
        // SAFETY: plain kill(2).
        signal_pid(c.state.pid, sig);
        Ok(())
    }

    /// `docker stop -t`: the stop signal, then SIGKILL after the timeout.
    pub fn stop(&self, key: &str, timeout: Option<u64>) -> Result<()> {
        let c = self.find(key)?;
        if c.state.status == "restarting" {
            // Between two runs: tell the supervisor not to start it again.
            self.request_stop(&c.id);
            self.wait_exit(&c.id, Duration::from_secs(10));
            return Ok(());
        }
        if c.state.status != "running" {
            return Ok(());
        }
        let t = timeout.or(c.config.stop_timeout).unwrap_or(10);
        let sig = parse_signal(&c.config.stop_signal)?;
        self.request_stop(&c.id);
        signal_pid(c.state.pid, sig);
        if !self.wait_exit(&c.id, Duration::from_secs(t)) {
            signal_pid(c.state.pid, libc::SIGKILL);
            self.wait_exit(&c.id, Duration::from_secs(10));
        }
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
                    if (c.state.status == "running"
                        && (pid_alive(c.state.pid) || pid_alive(c.state.monitor_pid)))
                        || (c.state.status == "restarting" && pid_alive(c.state.monitor_pid)) => {}
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
                    if r.state.status == "running"
                        && (pid_alive(r.state.pid) || pid_alive(r.state.monitor_pid)) => {}
                Ok(r) if r.state.status == "running" => return Ok(-1),
                Ok(r) => return Ok(r.state.exit_code),
                // Removed (--rm) after exiting.
                Err(_) => return Ok(0),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `docker exec`: runs a process in a running container (its namespaces and cgroup);
    /// returns its exit code (0 at once with `detach`).
    pub fn exec(&self, key: &str, o: &ExecOptions) -> Result<i32> {
        let c = self.find(key)?;
        if c.state.status != "running" {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        if o.command.is_empty() {
            return Err(Error::NoCommand);
        }
        let rootfs = RootfsPaths::of(&self.containers.dir(&c.id)).merged;
        let mut env = c.config.env.clone();
        for e in &o.env {
            if let Some((k, _)) = e.split_once('=') {
                env.retain(|x| x.split_once('=').map(|p| p.0) != Some(k));
                env.push(e.clone());
            }
        }
        let user = resolve_user(&rootfs, o.user.as_deref().unwrap_or(&c.config.user))?;
        let cwd = o.workdir.clone().unwrap_or_else(|| {
            if c.config.working_dir.is_empty() {
                "/".into()
            } else {
                c.config.working_dir.clone()
            }
        });
        check_command(&rootfs, &o.command[0], &env, &cwd)?;
        let caps = if o.privileged {
            crate::spec::capabilities(true, &[], &[])?
        } else {
            c.config.caps.clone()
        };
        let mut groups = vec![user.1];
        groups.extend(user.2.iter().copied().filter(|g| *g != user.1));
        let process = ExecProcess {
            args: o.command.clone(),
            env,
            cwd,
            uid: user.0,
            gid: user.1,
            additional_gids: groups,
            caps,
            no_new_privileges: c.config.no_new_privileges,
            tty: o.tty,
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = if o.interactive && !o.detach && !o.tty {
            // SAFETY: dup of our own stdin, owned by the OwnedFd.
            let fd = unsafe { libc::dup(0) };
            if fd < 0 {
                return Err(Error::Io {
                    op: "dup",
                    path: "stdin".into(),
                    source: std::io::Error::last_os_error(),
                });
            }
            unsafe { OwnedFd::from_raw_fd(fd) }
        } else {
            pipe()?.0
        };
        let console = if o.tty {
            Some(crate::tty::ConsoleSocket::new()?)
        } else {
            None
        };
        let pid = self.engine.exec(
            &c.id,
            &process,
            Stdio {
                stdin,
                stdout: out_w,
                stderr: err_w,
            },
            console.as_ref().map(|c| c.path.as_path()),
        )?;
        let master = match console {
            Some(c) => Some(c.master()?),
            None => None,
        };
        if o.detach {
            return Ok(0);
        }
        let copy = |r: OwnedFd, err: bool| {
            std::thread::spawn(move || {
                let mut f = std::fs::File::from(r);
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = if err {
                        std::io::stderr().lock().write_all(&buf[..n])
                    } else {
                        let mut o = std::io::stdout().lock();
                        o.write_all(&buf[..n]).and_then(|_| o.flush())
                    };
                }
            })
        };
        let mut threads = vec![copy(out_r, false), copy(err_r, true)];
        let mut session = None;
        if let Some(m) = master {
            crate::tty::copy_window_size(m.as_raw_fd());
            threads.push(copy(m.try_clone().ctx("dup", "pty")?, false));
            let winch = crate::tty::follow_window_size(m.as_raw_fd());
            let raw = if o.interactive {
                crate::tty::forward_stdin(&m)?;
                Some(crate::tty::RawMode::enable())
            } else {
                None
            };
            session = Some(TtySession {
                _raw: raw,
                winch,
                _master: m,
            });
        }
        let forward = forward_signals(pid);
        let code = wait_pid(pid);
        if let Some(h) = forward {
            h.close();
        }
        for t in threads {
            let _ = t.join();
        }
        drop(session);
        Ok(code)
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
        c.name = new_name.to_string();
        self.containers.save(&c)
    }

    /// `docker pause` / `unpause`, through the freezer cgroup.
    pub fn set_paused(&self, key: &str, pause: bool) -> Result<()> {
        let mut c = self.find(key)?;
        if c.state.status != "running" {
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
        self.containers.save(&c)
    }

    /// `docker container prune`: removes every stopped container; returns their ids.
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for c in self.list()? {
            if c.state.status != "running" && c.state.status != "restarting" {
                self.remove(&c.id, false, false)?;
                out.push(c.id);
            }
        }
        Ok(out)
    }

    /// `docker diff`: changes in the container's filesystem against its image, as
    /// (kind, path) with kind `A`, `C` or `D`, sorted by path.
    pub fn diff(&self, key: &str) -> Result<Vec<(char, String)>> {
        let c = self.find(key)?;
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        let mut out = Vec::new();
        diff_walk(&upper, Path::new("/"), &c.lower_dirs, &mut out);
        let skip: Vec<String> = runtime_mount_points(&c)
            .iter()
            .map(|p| format!("/{}", p.display()))
            .collect();
        out.retain(|(_, p)| !skip.contains(p));
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// Runs `f` with the container's merged filesystem mounted (mounting it for the call if
    /// the container is not running).
    pub fn with_rootfs<T>(&self, key: &str, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
        let c = self.find(key)?;
        let paths = RootfsPaths::of(&self.containers.dir(&c.id));
        let mounted_here = !crate::rootfs::is_mounted(&paths.merged);
        if mounted_here {
            mount_overlay(&c.lower_dirs, &paths)?;
        }
        let r = f(&paths.merged);
        if mounted_here {
            unmount(&paths.merged)?;
        }
        r
    }

    /// `docker commit`: the container's changes become a new layer on its image.
    pub fn commit(
        &self,
        key: &str,
        changes: &[String],
        comment: Option<String>,
        author: Option<String>,
        tag: Option<&str>,
        pause: bool,
    ) -> Result<berth_image::Image> {
        let c = self.find(key)?;
        let base = self.store.lookup(&c.image_id)?;
        let paused_here = pause && c.state.status == "running" && !c.state.paused;
        if paused_here {
            self.set_paused(&c.id, true)?;
        }
        let mut cfg = base.config.config.clone().unwrap_or_default();
        cfg.env = Some(
            c.config
                .env
                .iter()
                .filter(|e| !e.starts_with("HOSTNAME="))
                .cloned()
                .collect(),
        );
        cfg.cmd = Some(c.config.cmd.clone());
        cfg.entrypoint = if c.config.entrypoint.is_empty() {
            None
        } else {
            Some(c.config.entrypoint.clone())
        };
        if !c.config.working_dir.is_empty() {
            cfg.working_dir = Some(c.config.working_dir.clone());
        }
        if !c.config.user.is_empty() {
            cfg.user = Some(c.config.user.clone());
        }
        if !c.config.labels.is_empty() {
            cfg.labels = Some(c.config.labels.clone());
        }
        let opts = berth_image::commit::CommitOptions {
            config: cfg,
            changes: changes.to_vec(),
            comment,
            author,
            created_by: c.config.args.join(" "),
            tag: tag
                .map(berth_image::Reference::parse_tagged_default)
                .transpose()?,
            exclude: runtime_mount_points(&c),
        };
        let upper = RootfsPaths::of(&self.containers.dir(&c.id)).upper;
        let r = berth_image::commit::commit(&self.store, &base, &upper, &opts);
        if paused_here {
            let _ = self.set_paused(&c.id, false);
        }
        Ok(r?)
    }

    /// `docker cp CONTAINER:SRC DEST`. Paths in the container are resolved inside its root,
    /// so a symlink in the container can never make berth read host files.
    pub fn copy_from(&self, key: &str, src: &str, dest: &Path) -> Result<()> {
        self.with_rootfs(key, |root| {
            let from = crate::rootfs::resolve_in_root(root, Path::new(src));
            if fs::symlink_metadata(&from).is_err() {
                return Err(Error::Conflict(format!(
                    "Could not find the file {src} in container {key}"
                )));
            }
            let to = if dest.is_dir() {
                dest.join(from.file_name().unwrap_or_default())
            } else {
                dest.to_path_buf()
            };
            copy_tree(&from, &to)
        })
    }

    /// `docker cp SRC CONTAINER:DEST`, writing only inside the container's root.
    pub fn copy_to(&self, key: &str, src: &Path, dest: &str) -> Result<()> {
        if fs::symlink_metadata(src).is_err() {
            return Err(Error::Conflict(format!(
                "could not find the file {} on the host",
                src.display()
            )));
        }
        self.with_rootfs(key, |root| {
            let to = crate::rootfs::resolve_in_root(root, Path::new(dest));
            let to = if to.is_dir() {
                to.join(src.file_name().unwrap_or_default())
            } else {
                to
            };
            if !to.starts_with(root) {
                return Err(Error::Conflict(format!(
                    "{dest} resolves outside the container"
                )));
            }
            copy_tree(src, &to)
        })
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
        if c.state.status == "running" {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"{key}\": container is running: stop the container before removing or force remove"
                )));
            }
            self.request_stop(&c.id);
            signal_pid(c.state.pid, libc::SIGKILL);
            self.wait_exit(&c.id, Duration::from_secs(10));
        }
        let dir = self.containers.dir(&c.id);
        self.engine.delete(&c.id)?;
        unmount(&RootfsPaths::of(&dir).merged)?;
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        self.containers.remove_dir(&c.id)
    }
}

fn encode_error(e: &Error) -> String {
    format!("{}\t{}\n", e.exit_code(), e)
}

fn decode_error(id: &str, m: &str) -> Error {
    let (code, msg) = m.split_once('\t').unwrap_or(("125", m));
    match code {
        "127" => Error::CommandNotFound(
            msg.trim_start_matches("exec: \"")
                .split('"')
                .next()
                .unwrap_or(msg)
                .to_string(),
        ),
        "126" => Error::CommandNotExecutable(
            msg.trim_start_matches("exec: \"")
                .split('"')
                .next()
                .unwrap_or(msg)
                .to_string(),
        ),
        _ => Error::Runtime {
            id: id.to_string(),
            what: "start",
            reason: msg.to_string(),
        },
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::Io {
            op: "pipe",
            path: PathBuf::new(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: pipe2 returned two new fds we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Copies a container stream to its log (one entry per line) and, attached, to our own stream.
fn relay(
    r: OwnedFd,
    stream: &'static str,
    log: std::sync::Arc<std::sync::Mutex<LogWriter>>,
    echo: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(r);
        let mut buf = vec![0u8; 32 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if echo {
                let _ = if stream == "stdout" {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&buf[..n]).and_then(|_| o.flush())
                } else {
                    std::io::stderr().lock().write_all(&buf[..n])
                };
            }
            pending.extend_from_slice(&buf[..n]);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                if let Ok(mut l) = log.lock() {
                    let _ = l.write(stream, &line);
                }
            }
        }
        if !pending.is_empty() {
            if let Ok(mut l) = log.lock() {
                let _ = l.write(stream, &pending);
            }
        }
    })
}

/// Forwards the usual terminal and control signals to the container's init.
fn forward_signals(pid: i32) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::*;
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])
            .ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for s in signals.forever() {
            signal_pid(pid, s);
        }
    });
    Some(handle)
}

/// Waits for our child `pid`; Docker's exit code (128+signal when killed).
fn wait_pid(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return -1;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // A zombie counts as gone.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "WINCH" => libc::SIGWINCH,
        "PWR" => libc::SIGPWR,
        _ => {
            return Err(Error::BadFlag {
                flag: "--signal",
                value: s.to_string(),
                reason: "invalid signal".into(),
            });
        }
    };
    Ok(n)
}

/// Walks an overlay upper dir and classifies each entry against the lower dirs.
fn diff_walk(dir: &Path, shown: &Path, lowers: &[PathBuf], out: &mut Vec<(char, String)>) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let path = e.path();
        let rel = shown.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(&path) else {
            continue;
        };
        let rel_inner = rel.strip_prefix("/").unwrap_or(&rel).to_path_buf();
        let in_lower = lowers
            .iter()
            .any(|l| fs::symlink_metadata(l.join(&rel_inner)).is_ok());
        if m.file_type().is_char_device() && m.rdev() == 0 {
            out.push(('D', rel.display().to_string()));
            continue;
        }
        out.push((if in_lower { 'C' } else { 'A' }, rel.display().to_string()));
        if m.is_dir() {
            diff_walk(&path, &rel, lowers, out);
        }
    }
}

/// Copies a file, symlink (as a symlink, never followed) or directory tree.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let m = fs::symlink_metadata(from).ctx("stat", from)?;
    if m.file_type().is_symlink() {
        let _ = fs::remove_file(to);
        std::os::unix::fs::symlink(fs::read_link(from).ctx("read link", from)?, to)
            .ctx("symlink", to)?;
    } else if m.is_dir() {
        if !to.is_dir() {
            fs::create_dir(to).ctx("create directory", to)?;
        }
        for e in fs::read_dir(from).ctx("read directory", from)?.flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777)).ctx("chmod", to)?;
    } else if m.is_file() {
        if fs::symlink_metadata(to).is_ok_and(|t| t.file_type().is_symlink()) {
            fs::remove_file(to).ctx("remove", to)?; // replace a symlink, never write through it
        }
        fs::copy(from, to).ctx("copy", to)?;
    }
    let _ = std::os::unix::fs::lchown(to, Some(m.uid()), Some(m.gid()));
    Ok(())
}

/// Files and dirs that exist in the upper dir only because something was mounted there
/// (generated /etc files, volume and bind targets missing from the image): not content.
fn runtime_mount_points(c: &ContainerRecord) -> Vec<PathBuf> {
    let mut targets: Vec<PathBuf> = ["etc/hostname", "etc/hosts", "etc/resolv.conf"]
        .iter()
        .map(PathBuf::from)
        .collect();
    targets.extend(
        c.config
            .mounts
            .iter()
            .map(|m| PathBuf::from(m.target.trim_start_matches('/'))),
    );
    targets.retain(|t| {
        !c.lower_dirs
            .iter()
            .any(|l| fs::symlink_metadata(l.join(t)).is_ok())
    });
    targets
}

/// A supervisor spends its life in `waitpid` and two small copy loops, but starting the
/// container touched much of berth's code (libcontainer, clap, serde…), which stays resident.
/// Executable mappings are never written, so their pages can be dropped: the few the loops
/// use come back from the page cache on their next run. This keeps an idle supervisor small.
fn release_startup_code() {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        // Only file-backed private text, and each file's first segment (ELF headers, symbol
        // and relocation tables, read-only from the start): never written, safe to drop.
        // Other read-only mappings may be RELRO data the loader wrote: those stay.
        let first_segment = perms == "r--p" && offset.trim_start_matches('0').is_empty();
        if !(perms == "r-xp" || first_segment) || !line.contains('/') || line.contains("[vdso]") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: the range is a whole executable mapping of this process; dropping clean
        // file-backed pages only makes them fault in again from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    // Return freed heap from start-up to the system.
    // SAFETY: glibc's malloc_trim only releases unused memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What a container with a terminal holds while it runs.
struct TtySession {
    _raw: Option<crate::tty::RawMode>,
    winch: Option<signal_hook::iterator::Handle>,
    _master: OwnedFd,
}

impl Drop for TtySession {
    fn drop(&mut self) {
        if let Some(h) = self.winch.take() {
            h.close();
        }
    }
}

/// kill(2) for a container's process. Never for pid 0 or below: kill(0, …) would signal
/// berth's own process group (a record between two runs of a restart policy has pid 0).
fn signal_pid(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: plain kill(2) of a positive pid.
        unsafe { libc::kill(pid, sig) };
    }
}
