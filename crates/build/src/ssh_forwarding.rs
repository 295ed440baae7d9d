//! `RUN --mount=type=ssh` with `berth build --ssh ID[=SOCKET]`: a RUN step reaches an SSH
//! agent of the person building (to clone private repositories) without any key entering the
//! image or the cache. As BuildKit, the step gets a socket of its own (with the mount's mode
//! and owner, so a non-root USER can use it) and berth relays each connection to the agent's
//! socket; the relay stops when the step ends.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The agents a build may forward: `--ssh default` (the agent of `$SSH_AUTH_SOCK`) or
/// `--ssh ID=SOCKET`, checked before the build starts.
pub fn parse_ssh_options(
    values: &[String],
    auth_sock: Option<&str>,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for v in values {
        let bad = |m: &str| format!("invalid argument {v:?} for \"--ssh\" flag: {m}");
        let (id, path) = match v.split_once('=') {
            Some((id, p)) => (id, p.to_string()),
            None => match auth_sock {
                Some(s) if !s.is_empty() => (v.as_str(), s.to_string()),
                _ => return Err(bad("SSH_AUTH_SOCK is not set: give ID=SOCKET")),
            },
        };
        if id.is_empty() {
            return Err(bad("expected ID[=SOCKET]"));
        }
        if path.contains(',') {
            return Err(bad(
                "berth forwards one agent socket per ID, not key files (run ssh-agent and ssh-add the keys)",
            ));
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.file_type().is_socket() => {}
            Ok(_) => {
                return Err(bad(&format!(
                    "{path} is not an agent socket (berth forwards SSH agents, not key files: run ssh-agent and ssh-add the key)"
                )))
            }
            Err(e) => return Err(bad(&format!("{path}: {e}"))),
        }
        if out.iter().any(|(i, _)| i == id) {
            return Err(bad(&format!("the ID {id:?} is given twice")));
        }
        out.push((id.to_string(), PathBuf::from(path)));
    }
    Ok(out)
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
        assert_eq!(
            parse_ssh_options(&["default".into()], Some(s)).unwrap(),
            [("default".to_string(), sock.clone())]
        );
        assert_eq!(
            parse_ssh_options(&[format!("gh={s}")], None).unwrap(),
            [("gh".to_string(), sock.clone())]
        );
        let e = parse_ssh_options(&["default".into()], None).unwrap_err();
        assert!(e.contains("SSH_AUTH_SOCK is not set"), "{e}");
        let key = dir.path().join("id_ed25519");
        std::fs::write(&key, "k").unwrap();
        let e = parse_ssh_options(&[format!("default={}", key.display())], None).unwrap_err();
        assert!(e.contains("not an agent socket"), "{e}");
        let e = parse_ssh_options(&[format!("a={s}"), format!("a={s}")], None).unwrap_err();
        assert!(e.contains("given twice"), "{e}");
    }
}
