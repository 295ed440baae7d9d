//! `RUN --mount=type=ssh` with `berth build --ssh ID[=SOCKET]`: a RUN step reaches an SSH
//! agent of the person building (to clone private repositories) without any key entering the
//! image or the cache. As BuildKit, the step gets a socket of its own (with the mount's mode
//! and owner, so a non-root USER can use it) and berth relays each connection to the agent's
//! socket; the relay stops when the step ends. Key files (`--ssh ID=KEY[,KEY…]`) are served,
//! as BuildKit serves them, by an agent of the build's own: OpenSSH's `ssh-agent`, holding
//! those keys only, for as long as the build runs.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What `--ssh` gives a build: the agent socket of each ID, and the agents berth started for
/// key files (keep them until the build ends: dropping one stops it).
#[derive(Default)]
pub struct SshForwards {
    pub sockets: Vec<(String, PathBuf)>,
    pub key_agents: Vec<KeyAgent>,
}

/// The agents a build may forward: `--ssh default` (the agent of `$SSH_AUTH_SOCK`),
/// `--ssh ID=SOCKET`, or `--ssh ID=KEY[,KEY…]` (private key files: an agent is started for
/// them), checked before the build starts.
pub fn parse_ssh_options(
    values: &[String],
    auth_sock: Option<&str>,
) -> Result<SshForwards, String> {
    let mut out = SshForwards::default();
    for v in values {
        let bad = |m: &str| format!("invalid argument {v:?} for \"--ssh\" flag: {m}");
        let (id, path) = match v.split_once('=') {
            Some((id, p)) => (id, p.to_string()),
            None => match auth_sock {
                Some(s) if !s.is_empty() => (v.as_str(), s.to_string()),
                _ => {
                    return Err(bad(
                        "SSH_AUTH_SOCK is not set: give ID=SOCKET or ID=KEYFILE",
                    ))
                }
            },
        };
        if id.is_empty() {
            return Err(bad("expected ID[=SOCKET|KEYFILE[,KEYFILE…]]"));
        }
        if out.sockets.iter().any(|(i, _)| i == id) {
            return Err(bad(&format!("the ID {id:?} is given twice")));
        }
        let paths: Vec<&str> = path.split(',').collect();
        let mut keys = Vec::new();
        for p in &paths {
            match std::fs::metadata(p) {
                Ok(m) if m.file_type().is_socket() && paths.len() == 1 => {}
                Ok(m) if m.file_type().is_socket() => {
                    return Err(bad(&format!("{p} is an agent socket: give it alone")))
                }
                Ok(m) if m.is_file() => keys.push(PathBuf::from(p)),
                Ok(_) => {
                    return Err(bad(&format!(
                        "{p} is neither an agent socket nor a key file"
                    )))
                }
                Err(e) => return Err(bad(&format!("{p}: {e}"))),
            }
        }
        if keys.is_empty() {
            out.sockets.push((id.to_string(), PathBuf::from(path)));
            continue;
        }
        let agent = KeyAgent::start(&keys).map_err(|e| bad(&e))?;
        out.sockets.push((id.to_string(), agent.socket.clone()));
        out.key_agents.push(agent);
    }
    Ok(out)
}

/// An `ssh-agent` of berth's holding some key files; stopped, with its socket, on drop.
pub struct KeyAgent {
    child: std::process::Child,
    dir: PathBuf,
    pub socket: PathBuf,
}

impl KeyAgent {
    /// Starts `ssh-agent` on a socket in a private directory and adds `keys` to it
    /// (`ssh-add` asks for a passphrase on the terminal if a key has one).
    pub fn start(keys: &[PathBuf]) -> Result<KeyAgent, String> {
        use std::process::{Command, Stdio};
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "berth-ssh-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        let socket = dir.join("agent.sock");
        let mut cmd = Command::new("ssh-agent");
        cmd.arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe. The agent ends with the thread that started it
        // (berth's main thread: the build), even when berth is killed.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd.spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!(
                    "ssh-agent: {e} (berth serves key files with OpenSSH's ssh-agent: install openssh-client, or give an agent's socket)"
                ));
            }
        };
        let agent = KeyAgent { child, dir, socket };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&agent.socket).is_err() {
            if std::time::Instant::now() > deadline {
                return Err("ssh-agent did not start within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for key in keys {
            let out = Command::new("ssh-add")
                .arg("-q")
                .arg(key)
                .env("SSH_AUTH_SOCK", &agent.socket)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("ssh-add: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "{}: not a private key ssh-add can load ({})",
                    key.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(agent)
    }
}

impl Drop for KeyAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A socket relaying to an agent while it lives.
pub struct AgentRelay {
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    /// The socket's path, removed with the relay: its listener may live on for a moment in
    /// a process forked meanwhile (until that one's exec), and must not be reached then.
    path: std::path::PathBuf,
}

impl AgentRelay {
    /// Listens on `listen` (made with `mode`, owned by `uid`:`gid`) and relays every
    /// connection to the agent at `agent`.
    pub fn start(
        listen: &Path,
        agent: &Path,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> io::Result<AgentRelay> {
        let listener = UnixListener::bind(listen)?;
        std::fs::set_permissions(listen, std::fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(listen, Some(uid), Some(gid))?;
        // Polled, so that the relay stops when the step ends even with no client.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let agent = agent.to_path_buf();
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => relay(client, &agent),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    Err(_) => return,
                }
            }
        });
        Ok(AgentRelay {
            stop,
            accept: Some(accept),
            path: listen.to_path_buf(),
        })
    }
}

impl Drop for AgentRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies both ways between a step's connection and a new one to the agent, on threads of
/// their own (an agent answers request by request, so each direction blocks in turn); each
/// ends when its side closes.
fn relay(client: UnixStream, agent: &Path) {
    let Ok(upstream) = UnixStream::connect(agent) else {
        return;
    };
    let _ = client.set_nonblocking(false);
    let (Ok(mut c_read), Ok(mut a_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let (mut c_write, mut a_read) = (client, upstream);
    std::thread::spawn(move || {
        let _ = io::copy(&mut c_read, &mut a_write);
        let _ = a_write.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = io::copy(&mut a_read, &mut c_write);
        let _ = c_write.shutdown(std::net::Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// What reaches the relay's socket reaches the agent, and the answer comes back; after
    /// the relay is dropped nothing listens any more.
    #[test]
    fn connections_are_relayed_to_the_agent_until_the_relay_ends() {
        let dir = tempfile::tempdir().unwrap();
        let agent_path = dir.path().join("agent.sock");
        let agent = UnixListener::bind(&agent_path).unwrap();
        // A fake agent: answers each request with it reversed.
        std::thread::spawn(move || {
            for c in agent.incoming().flatten().take(2) {
                let mut c = c;
                let mut buf = [0u8; 5];
                if c.read_exact(&mut buf).is_ok() {
                    buf.reverse();
                    let _ = c.write_all(&buf);
                }
            }
        });
        let listen = dir.path().join("step.sock");
        let relay = AgentRelay::start(&listen, &agent_path, 0o600, 0, 0).unwrap();
        // (See key_files_are_served_by_an_agent_of_the_builds_own below for key files.)
        let mode = std::fs::metadata(&listen).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        for _ in 0..2 {
            let mut s = UnixStream::connect(&listen).unwrap();
            s.write_all(b"hello").unwrap();
            let mut back = [0u8; 5];
            s.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"olleh");
        }
        drop(relay);
        assert!(
            UnixStream::connect(&listen).is_err(),
            "nothing listens after the step"
        );
    }

    #[test]
    fn ssh_options_name_agent_sockets() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a.sock");
        let _l = UnixListener::bind(&sock).unwrap();
        let s = sock.to_str().unwrap();
        let sockets = |v: &[String], a: Option<&str>| parse_ssh_options(v, a).map(|f| f.sockets);
        assert_eq!(
            sockets(&["default".into()], Some(s)).unwrap(),
            [("default".to_string(), sock.clone())]
        );
        assert_eq!(
            sockets(&[format!("gh={s}")], None).unwrap(),
            [("gh".to_string(), sock.clone())]
        );
        let e = sockets(&["default".into()], None).unwrap_err();
        assert!(e.contains("SSH_AUTH_SOCK is not set"), "{e}");
        let e = sockets(&[format!("a={s}"), format!("a={s}")], None).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
        let e = sockets(&[format!("a={}", dir.path().display())], None).unwrap_err();
        assert!(e.contains("neither an agent socket nor a key file"), "{e}");
        let e = sockets(&[format!("a={s},{s}")], None).unwrap_err();
        assert!(e.contains("give it alone"), "{e}");
    }

    /// A key file is loaded into an agent started for it (which lists that key and only
    /// it) and the agent goes with its value; a file that is no key is named.
    #[test]
    fn key_files_are_served_by_an_agent_of_the_builds_own() {
        let keygen = std::process::Command::new("ssh-keygen").arg("-?").output();
        if keygen.is_err() {
            eprintln!("ssh-keygen missing: skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "berth-test", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let f = parse_ssh_options(&[format!("deploy={}", key.display())], None).unwrap();
        let (id, socket) = f.sockets[0].clone();
        assert_eq!(id, "deploy");
        let listed = std::process::Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &socket)
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listed.contains("berth-test") && listed.lines().count() == 1,
            "{listed}"
        );
        drop(f);
        assert!(!socket.exists(), "the agent's socket goes with it");
        let not_key = dir.path().join("notes.txt");
        std::fs::write(&not_key, "hello").unwrap();
        let e = parse_ssh_options(&[format!("default={}", not_key.display())], None)
            .err()
            .unwrap();
        assert!(e.contains("not a private key"), "{e}");
    }
}
