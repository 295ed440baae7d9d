//! `docker exec`: another process in a running container's namespaces and cgroup.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use crate::client_io::{copy_input, follow_resizes, forward_signals, shared, ClientIo};
use crate::engine::{ExecProcess, Stdio};
use crate::error::{Error, IoContext, Result};
use crate::lifecycle::{Runtime, TtySession};
use crate::options::ExecOptions;
use crate::process::{closed_stdin, pipe, relay, wait_pid};
use crate::record::Status;
use crate::rootfs::{check_command, resolve_user, RootfsPaths};

/// Docker's refusals of an exec: a container that is not running or paused, no command.
pub(crate) fn check_exec(c: &crate::record::ContainerRecord, o: &ExecOptions) -> Result<()> {
    if c.state.status != Status::Running {
        return Err(Error::Conflict(format!(
            "container {} is not running",
            c.id
        )));
    }
    if c.state.paused {
        // A process started in a frozen cgroup would hang, frozen, until unpause.
        return Err(Error::Conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    if o.command.is_empty() {
        return Err(Error::NoCommand);
    }
    Ok(())
}

impl Runtime {
    /// `docker exec`: runs a process in a running container (its namespaces and cgroup)
    /// with the client's streams, terminal size and signals; returns its exit code (0 at
    /// once with `detach`, when `io` is not used).
    pub fn exec(&self, key: &str, o: &ExecOptions, io: ClientIo) -> Result<i32> {
        let c = self.find(key)?;
        check_exec(&c, o)?;
        let process = self.exec_process(&c, o)?;
        let exec_id = crate::record::new_id();
        self.exec_event("exec_create", &c, &exec_id, &o.command, None);
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let ClientIo {
            stdin: client_stdin,
            stdout,
            stderr,
            size,
            resize,
            signals,
        } = io;
        let (stdin, input) = match client_stdin {
            Some(i) if o.interactive && !o.detach && !o.tty => (i, None),
            Some(i) if o.interactive && !o.detach => (closed_stdin()?, Some(i)),
            _ => (closed_stdin()?, None),
        };
        let console = if o.tty {
            Some(crate::tty::ConsoleSocket::new(size)?)
        } else {
            None
        };
        let target = Arc::new(AtomicI32::new(0));
        let done = Arc::new(AtomicBool::new(false));
        if let (false, Some(s)) = (o.detach, signals) {
            forward_signals(s, target.clone(), done.clone());
        }
        let started = self.engine.exec(
            &c.id,
            &process,
            Stdio {
                stdin,
                stdout: out_w,
                stderr: err_w,
            },
            console.as_ref().map(|c| c.path.as_path()),
        );
        let master = started.and_then(|pid| match console {
            Some(c) => c.master().map(|m| (pid, Some(m))),
            None => Ok((pid, None)),
        });
        let (pid, master) = match master {
            Ok(x) => x,
            Err(e) => {
                done.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        self.exec_event("exec_start", &c, &exec_id, &o.command, None);
        if o.detach {
            return Ok(0);
        }
        let stdout = shared(stdout);
        let mut threads = vec![
            relay(out_r, "stdout", None, Some(stdout.clone()), None),
            relay(err_r, "stderr", None, Some(shared(stderr)), None),
        ];
        let mut session = None;
        if let Some(m) = master {
            threads.push(relay(
                m.try_clone().ctx("dup", "pty")?,
                "stdout",
                None,
                Some(stdout),
                None,
            ));
            if let Some(sizes) = resize {
                follow_resizes(sizes, m.try_clone().ctx("dup", "pty")?, done.clone());
            }
            if let Some(input) = input {
                copy_input(input, m.try_clone().ctx("dup", "pty")?);
            }
            session = Some(TtySession { _master: m });
        }
        target.store(pid, Ordering::SeqCst);
        let code = wait_pid(pid);
        done.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        drop(session);
        self.exec_event("exec_die", &c, &exec_id, &o.command, Some(code));
        Ok(code)
    }

    /// Docker's exec events: `exec_create: CMD ARGS`, `exec_start: CMD ARGS`, `exec_die` (with
    /// the exit code), each with the exec's ID.
    pub(crate) fn exec_event(
        &self,
        action: &str,
        c: &crate::record::ContainerRecord,
        exec_id: &str,
        command: &[String],
        exit_code: Option<i32>,
    ) {
        let action = if command.is_empty() || exit_code.is_some() {
            action.to_string()
        } else {
            format!("{action}: {}", command.join(" "))
        };
        let code = exit_code.map(|c| c.to_string());
        let mut extra = vec![("execID", exec_id)];
        if let Some(code) = &code {
            extra.push(("exitCode", code));
        }
        self.container_event(&action, c, &extra);
    }

    /// The process `o` describes in container `c`: its environment, user, directory and
    /// capabilities resolved as Docker does.
    pub(crate) fn exec_process(
        &self,
        c: &crate::record::ContainerRecord,
        o: &ExecOptions,
    ) -> Result<ExecProcess> {
        let rootfs = RootfsPaths::of(&self.containers.dir(&c.id)).merged;
        let mut env = c.config.env.clone();
        for e in &o.env {
            // A bare name unsets it (process_env leaves it out).
            let k = e.split_once('=').map_or(e.as_str(), |p| p.0);
            env.retain(|x| x.split_once('=').map_or(x.as_str(), |p| p.0) != k);
            env.push(e.clone());
        }
        let env = crate::spec::process_env(&env, o.tty);
        let user = resolve_user(&rootfs, o.user.as_deref().unwrap_or(&c.config.user))?;
        let cwd = o.workdir.clone().unwrap_or_else(|| {
            if c.config.working_dir.is_empty() {
                "/".into()
            } else {
                c.config.working_dir.clone()
            }
        });
        check_command(&rootfs, &o.command[0], &env, &cwd)?;
        check_exec_workdir(c.state.pid, &cwd)?;
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
        Ok(process)
    }

    /// Runs a health probe in container `id`: (exit code, combined output). A probe still
    /// running after `timeout` is killed and reported as Docker does (exit code -1).
    pub(crate) fn run_probe(
        &self,
        id: &str,
        command: &[String],
        timeout: std::time::Duration,
    ) -> (i32, String) {
        // Starts the probe: its pid and the read end of its combined output.
        let start = || -> Result<(i32, std::os::fd::OwnedFd)> {
            let c = self.find(id)?;
            let o = ExecOptions {
                command: command.to_vec(),
                ..ExecOptions::default()
            };
            let process = self.exec_process(&c, &o)?;
            let (out_r, out_w) = pipe()?;
            let err_w = out_w.try_clone().ctx("dup", "pipe")?;
            let stdio = Stdio {
                stdin: closed_stdin()?,
                stdout: out_w,
                stderr: err_w,
            };
            Ok((self.engine.exec(&c.id, &process, stdio, None)?, out_r))
        };
        let (pid, out_r) = match start() {
            Ok(x) => x,
            Err(e) => return (-1, e.to_string()),
        };
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut out = Vec::new();
            let _ = std::fs::File::from(out_r).read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        });
        let deadline = std::time::Instant::now() + timeout;
        let code = loop {
            if let Some(code) = crate::process::try_wait_pid(pid) {
                break code;
            }
            if std::time::Instant::now() >= deadline {
                // SAFETY: kill of our own child, which has not been reaped yet.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let _ = wait_pid(pid);
                let _ = reader.join();
                return (
                    -1,
                    format!(
                        "Health check exceeded timeout ({})",
                        crate::health::go_duration(timeout)
                    ),
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        (code, reader.join().unwrap_or_default())
    }
}

/// The exec's working directory, as the container sees it (its mounts included, through
/// /proc/PID/root): the runtime would only fail with "failed to unix syscall".
fn check_exec_workdir(pid: i32, cwd: &str) -> Result<()> {
    if pid <= 0 {
        return Ok(());
    }
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    let dir = crate::rootfs::resolve_in_root(&root, std::path::Path::new(cwd));
    let problem = match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => "not a directory",
        // The container may have gone meanwhile: the runtime says so better.
        Err(_) if !root.exists() => return Ok(()),
        Err(_) => "no such file or directory",
    };
    Err(Error::Invalid(format!(
        "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (\"{cwd}\") set in config.json failed: {problem} (choose an existing directory with -w / WorkingDir)"
    )))
}
