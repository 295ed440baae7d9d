//! `berth serve` for tests, on a socket of its own, and the docker CLI pointed at it (with
//! a config directory of its own, so logins stay in the test).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{run_command, Berth, Run};

/// `berth serve` on a socket of its own; stopped (SIGTERM) when dropped.
pub struct Server {
    pub child: Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(b: &Berth, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("berth.sock");
        Server::start_at(b, dir, socket, extra)
    }

    /// A server started from another copy of the berth binary.
    #[allow(dead_code)]
    pub fn start_binary(b: &Berth, binary: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("berth.sock");
        let mut cmd = Command::new(binary);
        cmd.arg("--root").arg(b.root()).env_remove("BERTH_ROOT");
        Server::spawn(cmd, dir, socket, extra)
    }

    /// A server on `socket` (which may be another server's), `dir` kept for its lifetime.
    pub fn start_at(b: &Berth, dir: tempfile::TempDir, socket: PathBuf, extra: &[&str]) -> Server {
        Server::spawn(b.cmd(&[]), dir, socket, extra)
    }

    fn spawn(mut cmd: Command, dir: tempfile::TempDir, socket: PathBuf, extra: &[&str]) -> Server {
        let host = format!("unix://{}", socket.display());
        cmd.args(["serve", "-H", &host]);
        cmd.args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("start berth serve");
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "serve did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            socket,
            _dir: dir,
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_bin());
        c.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self._dir.path())
            .env_remove("DOCKER_CONTEXT");
        c
    }

    pub fn docker(&self, args: &[&str]) -> Run {
        run_command(self.docker_cmd(args))
    }

    /// The docker CLI with `input` piped to it (then its end).
    pub fn docker_stdin(&self, args: &[&str], input: &'static [u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .docker_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docker");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input);
        });
        let out = child.wait_with_output().expect("wait docker");
        let _ = writer.join();
        Run::from(out)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal_stop();
        self.wait_exit()
    }

    /// SIGTERM, without waiting.
    pub fn signal_stop(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }

    /// Open file descriptors of the server process.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// The exit status, once the server has stopped (at most 10 s).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "serve did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn docker_bin() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "docker"
    }
}
