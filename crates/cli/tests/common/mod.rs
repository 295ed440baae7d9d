//! Helpers for end-to-end tests: they drive the real `berth` binary, each with its own
//! temporary root, as a user would.
#![allow(dead_code)]

pub mod berth_serve;
pub mod registry_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub struct Berth {
    pub root: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let mut stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        if let Some(sig) = o.status.signal() {
            stderr.push_str(&format!("[berth was killed by signal {sig}]"));
        }
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr,
        }
    }
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }
    /// Asserts failure and returns stderr.
    #[track_caller]
    pub fn fails(self) -> String {
        assert_ne!(
            self.code, 0,
            "expected failure\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stderr
    }
}

/// Runs any command (stdin empty) and collects it as a [`Run`].
/// How long one command in a test may take before it is killed and the test fails.
const COMMAND_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

pub fn run_command(mut c: Command) -> Run {
    Run::from(bounded_output(c.stdin(Stdio::null())))
}

/// `Command::output`, bounded by `COMMAND_LIMIT`: a hang fails the test that met it, naming
/// the command, instead of stalling the whole suite.
pub fn bounded_output(c: &mut Command) -> std::process::Output {
    use std::io::Read;
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn command");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = std::time::Instant::now() + COMMAND_LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for command") {
            break st;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{c:?} did not finish within {COMMAND_LIMIT:?}; stderr so far: {}",
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

impl Berth {
    pub fn new() -> Berth {
        Berth {
            root: tempfile::tempdir().expect("temp root"),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("BERTH_ROOT");
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(bounded_output(self.cmd(args).stdin(Stdio::null())))
    }

    /// `run` with one more environment variable set.
    pub fn run_env(&self, args: &[&str], key: &str, value: &std::path::Path) -> Run {
        let mut c = self.cmd(args);
        c.env(key, value);
        run_command(c)
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn berth");
        let mut stdin = child.stdin.take().expect("stdin");
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait berth");
        let _ = writer.join();
        Run::from(out)
    }

    /// Imports the busybox fixture as `name` and returns the image id.
    pub fn import_busybox(&self, name: &str) -> String {
        let tar = busybox_tar();
        self.run(&["import", "-c", r#"CMD ["sh"]"#, tar.to_str().unwrap(), name])
            .ok()
            .trim()
            .to_string()
    }

    /// Every blob file under the root, checked against its name: a visible blob must always
    /// be complete and correct.
    pub fn assert_blobs_verified(&self) {
        use sha2::Digest;
        let dir = self.root().join("blobs/sha256");
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            let hex = hex::encode(sha2::Sha256::digest(&bytes));
            assert_eq!(
                hex,
                e.file_name().to_str().unwrap(),
                "blob content matches its name"
            );
        }
    }

    pub fn blob_count(&self) -> usize {
        std::fs::read_dir(self.root().join("blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    pub fn layer_count(&self) -> usize {
        std::fs::read_dir(self.root().join("layers"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Berth {
    /// A test that fails half-way must not leave containers (processes, mounts, cgroups)
    /// behind on the machine: remove whatever is left in this root.
    fn drop(&mut self) {
        if !self.root().join("containers").is_dir() {
            return;
        }
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = self.run(&["rm", "-f", "-v", id]);
        }
    }
}

/// The busybox rootfs tarball made once per test run by tests/fixtures/make-busybox-rootfs.sh
/// from Debian's busybox-static.
pub fn busybox_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("busybox-rootfs-{}.tar", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/make-busybox-rootfs.sh");
        let st = Command::new("bash")
            .arg(&script)
            .arg(&out)
            .status()
            .expect("run fixture script");
        assert!(
            st.success(),
            "building the busybox fixture failed (is busybox-static installed?)"
        );
        out
    })
    .clone()
}

/// Whether an external tool is installed; under CI it must be (the test would otherwise
/// silently prove nothing).
pub fn have_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "{name} must be installed under CI (scripts/deps.sh installs it)"
        );
        eprintln!("skipping: {name} is not installed");
    }
    found
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// A new pseudo-terminal (master, slave), both close-on-exec from the start: with
/// `openpty` and a later `fcntl`, a process another test thread spawns in between inherits
/// the slave and keeps the terminal open long after our child has exited.
fn open_pty() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = std::os::fd::OwnedFd::from_raw_fd(m);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut name = [0 as libc::c_char; 64];
        assert_eq!(libc::ptsname_r(m, name.as_mut_ptr(), name.len()), 0);
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            s >= 0,
            "open the pty slave: {}",
            std::io::Error::last_os_error()
        );
        (master, std::os::fd::OwnedFd::from_raw_fd(s))
    }
}

/// How long a terminal session in a test may last.
const PTY_SESSION_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs berth on a new pseudo-terminal of `rows`x`cols` (as its controlling terminal, like an
/// interactive shell would), feeding `input` (the first chunk at once, each next one 700 ms
/// later); `resize` changes the size half a second in. Returns what appeared on the terminal
/// and the exit code.
pub fn in_pty(
    b: &Berth,
    args: &[&str],
    rows: u16,
    cols: u16,
    input: &[&[u8]],
    resize: Option<(u16, u16)>,
) -> (String, i32) {
    in_pty_cmd(b.cmd(args), rows, cols, input, resize)
}

/// `in_pty` for a prepared command (extra environment, another program).
pub fn in_pty_cmd(
    mut cmd: Command,
    rows: u16,
    cols: u16,
    input: &[&[u8]],
    resize: Option<(u16, u16)>,
) -> (String, i32) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (master, slave) = open_pty();
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    assert_eq!(
        unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &ws) },
        0
    );
    cmd.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // Only the child may hold the terminal's other end, or reading never sees its end.
    drop(cmd);
    drop(slave);
    let mut w = std::fs::File::from(master.try_clone().unwrap());
    let chunks: Vec<Vec<u8>> = input.iter().map(|c| c.to_vec()).collect();
    let typist = std::thread::spawn(move || {
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(700));
            }
            std::io::Write::write_all(&mut w, chunk).unwrap();
        }
    });
    if let Some((r, c)) = resize {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let ws = libc::winsize {
            ws_row: r,
            ws_col: c,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    let exited = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let child_gone = exited.clone();
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // EIO once every holder of the other end has closed it; but a process another
            // test started at the wrong moment may hold it too, so once our child has
            // exited, a quiet terminal is the end as well.
            let mut pfd = libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let gone = child_gone.load(std::sync::atomic::Ordering::SeqCst);
            if unsafe { libc::poll(&mut pfd, 1, 200) } == 0 {
                if gone {
                    break;
                }
                continue;
            }
            match std::io::Read::read(&mut f, &mut buf) {
                Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        out
    });
    // Bounded: a session that never ends (input the program did not take as expected) fails
    // the test, whose Berth then removes its containers, instead of hanging the suite and
    // leaving them (with their cgroups and the bridge) behind when it is killed.
    let deadline = std::time::Instant::now() + PTY_SESSION_LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            exited.store(true, std::sync::atomic::Ordering::SeqCst);
            break st;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            exited.store(true, std::sync::atomic::Ordering::SeqCst);
            let out = reader.join().unwrap_or_default();
            panic!(
                "the terminal session did not end within {PTY_SESSION_LIMIT:?}: {}",
                String::from_utf8_lossy(&out)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let code = status.code().unwrap_or(-1);
    let out = reader.join().unwrap();
    let _ = typist.join();
    (String::from_utf8_lossy(&out).replace('\r', ""), code)
}

/// Removes a user network when the test ends, even a failed one. Create it before the
/// `Berth` whose containers use it, so those are removed first.
pub struct NetworkGuard(pub String);

impl Drop for NetworkGuard {
    fn drop(&mut self) {
        let _ = Command::new(bin())
            .args(["network", "rm", &self.0])
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status();
    }
}

impl Berth {
    /// `inspect` of one container (or other object), parsed.
    pub fn inspect(&self, id: &str) -> serde_json::Value {
        json(&self.run(&["inspect", id]).ok())[0].clone()
    }
}
