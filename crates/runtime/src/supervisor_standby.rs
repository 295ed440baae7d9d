//! A container supervisor started ahead of need, for a long-lived caller (`berth serve`).
//!
//! A fresh `berth __supervise ID` spends about 3 ms on the start's critical path before it
//! does anything for the container: fork and exec of a large binary, dynamic linking, the
//! command line's parser. A server instead keeps one supervisor started and waiting
//! (`berth __supervise --standby`), hands it the next container to start over a socket, and
//! starts the next standby in the background. The socket doubles as the ready pipe: the
//! supervisor answers "ok" (or its error) on it and closes it, exactly as on the pipe of a
//! fresh one. A standby that reads the end of its socket instead of a request (the server
//! stopped or was killed) exits without doing anything. It starts up at idle priority (a
//! spare must not slow the containers starting and stopping meanwhile) and is put back to the
//! normal policy just before it is handed a container.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The waiting supervisor, if one is started.
pub(crate) struct SupervisorStandby {
    exe: PathBuf,
    root: PathBuf,
    waiting: Mutex<Option<Waiting>>,
}

/// A started standby: the server's end of its socket, and its pid.
struct Waiting {
    sock: UnixStream,
    pid: u32,
}

/// What a standby is asked to do: supervise `id`, keeping its output for a client that
/// attaches next if `await_client`.
#[derive(Debug, PartialEq)]
pub struct StandbyRequest {
    pub id: String,
    pub await_client: bool,
}

impl SupervisorStandby {
    pub(crate) fn new(exe: &Path, root: &Path) -> Arc<SupervisorStandby> {
        Arc::new(SupervisorStandby {
            exe: exe.to_path_buf(),
            root: root.to_path_buf(),
            waiting: Mutex::new(None),
        })
    }

    /// Hands the container to the waiting supervisor and returns the socket on which it
    /// answers; None when there is none (the caller starts a fresh one).
    pub(crate) fn hand_over(&self, id: &str, await_client: bool) -> Option<UnixStream> {
        let Waiting { mut sock, pid } = self.waiting.lock().ok()?.take()?;
        // Back to the normal policy before it is woken: at idle priority, a busy CPU could
        // keep this start waiting. (It does the same itself, should this fail.)
        set_priority(pid as libc::pid_t, false);
        let mode = if await_client { "attach" } else { "detach" };
        // A standby that died meanwhile fails the write (EPIPE: SIGPIPE is ignored where
        // containers are run) and the caller starts a fresh supervisor instead.
        sock.write_all(format!("{id} {mode}\n").as_bytes()).ok()?;
        Some(sock)
    }

    /// Starts a standby in the background unless one waits already.
    pub(crate) fn refill(self: &Arc<Self>) {
        let me = self.clone();
        let _ = std::thread::Builder::new()
            .name("supervisor-standby".into())
            .spawn(move || {
                if me.waiting.lock().map(|w| w.is_some()).unwrap_or(true) {
                    return;
                }
                // The standby starts up at idle priority (the policy passes to the child):
                // it must not take the CPU from the containers starting and stopping now.
                // It returns to normal when it gets its container (`await_request`).
                set_priority(0, true);
                let Ok(spawned) = me.spawn() else {
                    return;
                };
                if let Ok(mut w) = me.waiting.lock() {
                    // Another refill may have won the race: the spare then reads the end
                    // of its socket and exits.
                    if w.is_none() {
                        *w = Some(spawned);
                    }
                }
            });
    }

    fn spawn(&self) -> std::io::Result<Waiting> {
        let (ours, theirs) = UnixStream::pair()?;
        let mut cmd = std::process::Command::new(&self.exe);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("__supervise")
            .arg("--standby");
        let pid = berth_network::daemonize::spawn_detached(cmd, theirs.as_raw_fd())?;
        Ok(Waiting { sock: ours, pid })
    }
}

/// The standby's side: waits on `fd` (its `BERTH_READY_FD`) for the container to supervise.
/// None when the server went away first (or sent something that is not a request).
pub fn await_request(fd: RawFd) -> Option<StandbyRequest> {
    // The server writes the request in one piece and then only reads, so reading in chunks
    // cannot take anything past the line.
    let mut line = Vec::new();
    let mut chunk = [0u8; 256];
    while !line.ends_with(b"\n") {
        // SAFETY: reading into a local buffer from the descriptor we were handed, without
        // taking ownership of it (the supervisor answers on it afterwards).
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        match n {
            n if n > 0 && line.len() + (n as usize) <= 256 => {
                line.extend_from_slice(&chunk[..n as usize])
            }
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
    line.pop();
    let request = parse_request(&String::from_utf8(line).ok()?)?;
    set_priority(0, false);
    Some(request)
}

/// The scheduling of thread `tid` (0: the calling one): SCHED_IDLE, or back to the normal
/// policy (with the nice value it had). Best effort.
fn set_priority(tid: libc::pid_t, idle: bool) {
    let policy = if idle {
        libc::SCHED_IDLE
    } else {
        libc::SCHED_OTHER
    };
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: changes only a scheduling policy; `param` outlives the call.
    unsafe { libc::sched_setscheduler(tid, policy, &param) };
}

fn parse_request(line: &str) -> Option<StandbyRequest> {
    let (id, mode) = line.split_once(' ')?;
    let valid_id = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    let await_client = match mode {
        "attach" => true,
        "detach" => false,
        _ => return None,
    };
    valid_id.then(|| StandbyRequest {
        id: id.to_string(),
        await_client,
    })
}

/// Reads the supervisor's answer to the end, as from a fresh supervisor's ready pipe.
pub(crate) fn read_answer(mut sock: UnixStream) -> std::io::Result<String> {
    let mut msg = String::new();
    sock.read_to_string(&mut msg)?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_the_container_and_whether_a_client_attaches() {
        assert_eq!(
            parse_request("0a1b attach"),
            Some(StandbyRequest {
                id: "0a1b".into(),
                await_client: true
            })
        );
        assert_eq!(
            parse_request("0a1b detach").map(|r| r.await_client),
            Some(false)
        );
        for bad in ["", "0a1b", "0a1b later", "../x detach", " detach"] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_standby_reads_its_request_and_nothing_when_the_server_is_gone() {
        let (mut server, standby) = UnixStream::pair().unwrap();
        // In pieces, as a stream may deliver it.
        let writer = std::thread::spawn(move || {
            server.write_all(b"abc1").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            server.write_all(b"23 attach\n").unwrap();
            server
        });
        let r = await_request(standby.as_raw_fd()).unwrap();
        assert_eq!(r.id, "abc123");
        assert!(r.await_client);
        drop(writer.join().unwrap());

        // More than a request can be: refused.
        let (mut server, standby) = UnixStream::pair().unwrap();
        server.write_all(&[b'a'; 300]).unwrap();
        assert_eq!(await_request(standby.as_raw_fd()), None);

        let (server, standby) = UnixStream::pair().unwrap();
        drop(server);
        assert_eq!(await_request(standby.as_raw_fd()), None);
    }

    #[test]
    fn a_hand_over_without_a_waiting_standby_leaves_it_to_the_caller() {
        let s = SupervisorStandby::new(Path::new("/nonexistent"), Path::new("/tmp"));
        assert!(s.hand_over("abc", false).is_none());

        // One waiting: it gets the request, and the answer is read to the end.
        let (ours, theirs) = UnixStream::pair().unwrap();
        *s.waiting.lock().unwrap() = Some(Waiting {
            sock: ours,
            pid: std::process::id(),
        });
        let sock = s.hand_over("abc", true).unwrap();
        let r = await_request(theirs.as_raw_fd()).unwrap();
        assert_eq!((r.id.as_str(), r.await_client), ("abc", true));
        (&theirs).write_all(b"ok\n").unwrap();
        drop(theirs);
        assert_eq!(read_answer(sock).unwrap(), "ok\n");
        // Taken: the next start has none until a refill.
        assert!(s.hand_over("abc", false).is_none());

        // One that died: the write fails and the caller starts a fresh supervisor.
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        *s.waiting.lock().unwrap() = Some(Waiting {
            sock: ours,
            pid: std::process::id(),
        });
        // (Rust's runtime ignores SIGPIPE: the write fails with EPIPE.)
        assert!(s.hand_over("abc", false).is_none());
    }
}
