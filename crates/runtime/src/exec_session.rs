//! Execs as Docker's API splits them — create, start, inspect, resize — run under their own
//! small supervisor (`berth __exec ID EXEC_ID`) that holds the process's terminal or pipes and
//! serves them on `attach.sock` in `containers/<id>/execs/<exec-id>/`, as the daemon holds
//! them for Docker. So a client can detach (`exec -it` and the detach keys) and the process
//! goes on; `state.json` there says how it is, for `exec_inspect`.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::attach::AttachServer;
use crate::engine::Stdio;
use crate::error::{Error, IoContext, Result};
use crate::exec::check_exec;
use crate::lifecycle::Runtime;
use crate::options::ExecOptions;
use crate::process::{closed_stdin, decode_error, encode_error, pipe, relay, wait_pid};
use crate::record::write_private;

const STATE: &str = "state.json";

/// Exited execs are forgotten after this long (moby collects them too).
const EXITED_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

/// A supervised exec's record.
#[derive(Serialize, Deserialize, Debug, Clone)]
struct ExecState {
    container_id: String,
    options: ExecOptions,
    running: bool,
    pid: i32,
    exit_code: Option<i32>,
}

/// `GET /exec/{id}/json`, with Docker's field names.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ExecInspect {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "ContainerID")]
    pub container_id: String,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
    pub open_stdin: bool,
    pub open_stdout: bool,
    pub open_stderr: bool,
    pub process_config: ProcessConfig,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessConfig {
    pub tty: bool,
    pub entrypoint: String,
    pub arguments: Vec<String>,
    pub privileged: bool,
    pub user: String,
}

/// An exec started under its supervisor, to attach to.
pub struct ExecSession {
    pub id: String,
    /// containers/<id>/execs/<exec-id>: the record and the attach socket.
    pub dir: PathBuf,
    pub tty: bool,
    pub interactive: bool,
    /// As asked at create; empty: the default.
    pub detach_keys: String,
}

impl Runtime {
    /// `POST /containers/{id}/exec`: records the exec; nothing runs until `exec_start`.
    pub fn exec_create(&self, key: &str, o: &ExecOptions) -> Result<String> {
        let c = self.find(key)?;
        check_exec(&c, o)?;
        self.forget_exited_execs(&c.id);
        let id = crate::record::new_id();
        let dir = self.exec_dir(&c.id, &id);
        berth_image::permissions::ensure_private_dir(
            &dir,
            berth_image::permissions::PRIVATE_DIR_MODE,
        )
        .ctx("create directory", &dir)?;
        let state = ExecState {
            container_id: c.id.clone(),
            options: o.clone(),
            running: false,
            pid: 0,
            exit_code: None,
        };
        write_state(&dir, &state)?;
        self.exec_event("exec_create", &c, &id, &o.command, None);
        Ok(id)
    }

    /// `POST /exec/{id}/start`: starts the exec under its supervisor (`exe __exec`); returns
    /// once the process runs. Its output waits for the first client to attach.
    pub fn exec_start(&self, exec_id: &str, exe: &Path) -> Result<ExecSession> {
        let (dir, state) = self.find_exec(exec_id)?;
        if state.running || state.exit_code.is_some() {
            return Err(Error::Conflict(format!(
                "exec {exec_id} has already been started"
            )));
        }
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--root")
            .arg(self.root())
            .arg("__exec")
            .arg(&state.container_id)
            .arg(exec_id);
        let msg = berth_network::daemonize::spawn_and_wait_ready(cmd)
            .ctx("start exec supervisor", exe)?;
        match msg.trim() {
            "ok" => Ok(ExecSession {
                id: exec_id.to_string(),
                dir,
                tty: state.options.tty,
                interactive: state.options.interactive,
                detach_keys: state.options.detach_keys.clone(),
            }),
            "" => Err(Error::Runtime {
                id: state.container_id,
                what: "exec",
                reason: "the exec supervisor exited before the process started".into(),
            }),
            m => Err(decode_error(&state.container_id, m)),
        }
    }

    /// `exec -it`: create and start.
    pub fn exec_for_attach(&self, key: &str, o: &ExecOptions, exe: &Path) -> Result<ExecSession> {
        let id = self.exec_create(key, o)?;
        self.exec_start(&id, exe)
    }

    /// The client's side: our terminal or streams to the process until it exits (its code)
    /// or the detach keys are typed.
    pub fn attach_exec(
        &self,
        s: &ExecSession,
        o: &crate::attach::AttachOptions,
        io: crate::client_io::ClientIo,
    ) -> Result<crate::attach::AttachEnd> {
        let stream = crate::attach::AttachStream {
            dir: &s.dir,
            tty: s.tty,
            send_input: s.interactive,
            pid: 0,
        };
        crate::attach::attach_stream(&stream, o, io)?.ok_or_else(|| Error::Runtime {
            id: s.id.clone(),
            what: "exec",
            reason: "the exec supervisor ended without the process's exit code".into(),
        })
    }

    /// `GET /exec/{id}/json`.
    pub fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspect> {
        let (_, s) = self.find_exec(exec_id)?;
        let o = &s.options;
        Ok(ExecInspect {
            id: exec_id.to_string(),
            container_id: s.container_id.clone(),
            running: s.running,
            exit_code: s.exit_code,
            pid: s.pid,
            open_stdin: o.interactive,
            open_stdout: true,
            open_stderr: true,
            process_config: ProcessConfig {
                tty: o.tty,
                entrypoint: o.command.first().cloned().unwrap_or_default(),
                arguments: o.command.iter().skip(1).cloned().collect(),
                privileged: o.privileged,
                user: o.user.clone().unwrap_or_default(),
            },
        })
    }

    /// Hangs up a running exec's terminal (SIGHUP to its process), as closing a terminal
    /// window does: the dashboard's terminal ends its shell when the page leaves. Nothing
    /// to do for an exec that has ended.
    pub fn exec_hang_up(&self, exec_id: &str) -> Result<()> {
        let (_, s) = self.find_exec(exec_id)?;
        if s.running && s.pid > 0 {
            // SAFETY: kill(2) with a pid and a signal number has no memory effects; the
            // record says the process is running, so the pid is still the exec's.
            unsafe { libc::kill(s.pid, libc::SIGHUP) };
        }
        Ok(())
    }

    /// `POST /exec/{id}/resize`: the terminal of a running exec gets this size.
    pub fn exec_resize(&self, exec_id: &str, rows: u16, cols: u16) -> Result<()> {
        let (dir, s) = self.find_exec(exec_id)?;
        if !s.running || !s.options.tty {
            return Err(Error::Conflict(format!(
                "exec {exec_id} is not running with a terminal"
            )));
        }
        let mut conn = crate::attach::connect(&dir)?;
        let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
        crate::attach::write_frame(&mut conn, crate::attach::RESIZE, &[r[0], r[1], c[0], c[1]])
            .ctx("resize", &dir)
    }

    /// The exec supervisor (`__exec`): runs the process, serves it, records how it ended.
    pub fn supervise_exec(&self, id: &str, exec_id: &str, ready_fd: i32) -> Result<i32> {
        // SAFETY: the fd was handed to us by the parent for this purpose.
        let mut ready = unsafe { std::fs::File::from_raw_fd(ready_fd) };
        // SAFETY: fcntl on the descriptor we were handed, kept out of the exec'd process.
        unsafe { libc::fcntl(ready_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        let dir = self.exec_dir(id, exec_id);
        let (pid, relays, server, mut state) = match self.start_supervised_exec(id, exec_id, &dir) {
            Ok(x) => x,
            Err(e) => {
                // A command that cannot run leaves its exit code (126, 127) for inspect, as
                // Docker's; any other failure leaves nothing.
                let recorded = matches!(
                    e,
                    Error::CommandNotFound(_) | Error::CommandNotExecutable(_)
                ) && read_state(&dir)
                    .map(|mut state| {
                        state.running = false;
                        state.exit_code = Some(i32::from(e.exit_code()));
                        write_state(&dir, &state).is_ok()
                    })
                    .unwrap_or(false);
                if !recorded {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                let _ = ready.write_all(encode_error(&e).as_bytes());
                return Err(e);
            }
        };
        let _ = ready.write_all(b"ok\n");
        drop(ready);
        let code = wait_pid(pid);
        for r in relays {
            let _ = r.join();
        }
        state.running = false;
        state.exit_code = Some(code);
        let _ = write_state(&dir, &state);
        if let Ok(c) = self.containers.load(id) {
            self.exec_event("exec_die", &c, exec_id, &[], Some(code));
        }
        server.exited(code);
        Ok(code)
    }

    #[allow(clippy::type_complexity)]
    fn start_supervised_exec(
        &self,
        id: &str,
        exec_id: &str,
        dir: &Path,
    ) -> Result<(
        i32,
        Vec<std::thread::JoinHandle<()>>,
        std::sync::Arc<AttachServer>,
        ExecState,
    )> {
        let mut state = read_state(dir)?;
        let o = state.options.clone();
        let c = self.find(id)?;
        check_exec(&c, &o)?;
        let process = self.exec_process(&c, &o)?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        // Input: the terminal with -t, else a pipe that clients write to with -i.
        let (stdin, input) = if o.interactive && !o.tty {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            (closed_stdin()?, None)
        };
        let console = if o.tty {
            Some(crate::tty::ConsoleSocket::new(None)?)
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
        let master = console.map(|c| c.master()).transpose()?;
        state.running = true;
        state.pid = pid;
        write_state(dir, &state)?;
        self.exec_event("exec_start", &c, exec_id, &o.command, None);
        let server = std::sync::Arc::new(AttachServer::start(
            dir,
            input,
            master.as_ref().map(|m| (m, o.interactive)),
            true,
            // An exec's input ends with its client's, as with Docker.
            true,
        )?);
        let mut relays = vec![
            relay(out_r, "stdout", None, None, Some(server.clone())),
            relay(err_r, "stderr", None, None, Some(server.clone())),
        ];
        if let Some(m) = master {
            // The relay owns the master: the terminal lives as long as the process's output.
            relays.push(relay(m, "stdout", None, None, Some(server.clone())));
        }
        Ok((pid, relays, server, state))
    }

    fn exec_dir(&self, container_id: &str, exec_id: &str) -> PathBuf {
        self.containers
            .dir(container_id)
            .join("execs")
            .join(exec_id)
    }

    /// An exec by ID, in whichever container it is.
    fn find_exec(&self, exec_id: &str) -> Result<(PathBuf, ExecState)> {
        let valid = !exec_id.is_empty() && exec_id.bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            for c in self.containers.list()? {
                let dir = self.exec_dir(&c.id, exec_id);
                if let Ok(s) = read_state(&dir) {
                    return Ok((dir, s));
                }
            }
        }
        Err(Error::NoSuchExec(exec_id.to_string()))
    }

    /// Drops the records of execs that ended a while ago.
    fn forget_exited_execs(&self, container_id: &str) {
        let Ok(entries) = std::fs::read_dir(self.containers.dir(container_id).join("execs")) else {
            return;
        };
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > EXITED_KEPT);
            if old && read_state(&e.path()).is_ok_and(|s| s.exit_code.is_some()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn read_state(dir: &Path) -> Result<ExecState> {
    let p = dir.join(STATE);
    let bytes = std::fs::read(&p).ctx("read", &p)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        what: p.display().to_string(),
        source: e,
    })
}

fn write_state(dir: &Path, s: &ExecState) -> Result<()> {
    let p = dir.join(STATE);
    let tmp = dir.join(format!(".{STATE}.{}", std::process::id()));
    let body = serde_json::to_vec(s).map_err(|e| Error::Json {
        what: "exec state".into(),
        source: e,
    })?;
    write_private(&tmp, &body).ctx("write", &tmp)?;
    std::fs::rename(&tmp, &p).ctx("rename", &p)
}
