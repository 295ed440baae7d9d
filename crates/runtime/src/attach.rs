//! `docker attach` to a detached container: its supervisor serves a unix socket in the
//! container's directory; an attached client gets the container's output from then on and
//! sends its input (stdin, terminal size) to the container.
//!
//! Frames on the socket, both ways, are Docker's stream format (an 8-byte header: kind, three
//! zero bytes, big-endian length; then the payload), which the Docker API's attach endpoint
//! speaks too. Supervisor to client: kind 1 stdout, 2 stderr. Client to supervisor: kind 0
//! stdin bytes, 3 a terminal size (rows, columns as big-endian u16s); and 4, the exit code,
//! last. A client's end of
//! input does not close the container's stdin: as with `docker run -di`, the next client can
//! go on typing — unless the container was made with `StdinOnce` (a foreground `run -i`
//! through the API): then the first client's end of input is the container's.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client_io::{ClientIo, TerminalSize};
use crate::error::{Error, Result};
use crate::record::ContainerRecord;
use crate::record::Status;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const RESIZE: u8 = 3;
/// Supervisor to client, last: the container's exit code (big-endian i32), so that a client
/// gets it even when the container is removed at once (`--rm`).
pub const EXIT: u8 = 4;
/// Client to supervisor: the client's input has ended (closes a `StdinOnce` container's
/// stdin; a client that leaves without saying so leaves it open).
pub const STDIN_END: u8 = 5;

/// The socket's name in the container's directory.
const SOCKET: &str = "attach.sock";

/// A client that reads no output for this long is dropped, so it cannot stall the container.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, kind: u8, data: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(data.len()).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(8 + data.len());
    frame.extend_from_slice(&[kind, 0, 0, 0]);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(data);
    w.write_all(&frame)
}

/// Reads one frame; `None` at the end of the stream.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 8];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other("attach frame larger than 1 MiB"));
    }
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((head[0], data)))
}

/// Unix socket paths are limited to 108 bytes and a container's directory can be deeper than
/// that, so the socket is reached through /proc/self/fd of an open handle on the directory.
struct ShortPath {
    _dir: OwnedFd,
    path: PathBuf,
}

fn short_path(dir: &Path) -> Result<ShortPath> {
    let f = std::fs::File::open(dir).map_err(|e| Error::Io {
        op: "open",
        path: dir.into(),
        source: e,
    })?;
    let fd = OwnedFd::from(f);
    let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", fd.as_raw_fd()));
    Ok(ShortPath { _dir: fd, path })
}

/// Where the container's input goes.
enum Input {
    /// The write end of the container's stdin pipe.
    Pipe(std::fs::File),
    /// The terminal's master end (input and size).
    Terminal(std::fs::File),
    /// The terminal's master end, for its size only (started without -i).
    TerminalSize(std::fs::File),
    /// The container was not started with -i: input is dropped.
    None,
}

/// Output kept for a client that is about to attach (`run -it`), at most this much: a
/// client that never comes cannot make the supervisor grow without bound.
const HELD_OUTPUT_LIMIT: usize = 4 << 20;

/// How long the exit of a container waits for the client it held output for.
const AWAIT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The clients, and the output held for the first one while it has not connected yet.
#[derive(Default)]
struct Clients {
    list: Vec<UnixStream>,
    /// `Some` until the first client connects, when a client is awaited.
    held: Option<Vec<(u8, Vec<u8>)>>,
    held_bytes: usize,
}

/// The supervisor's side: the socket and the clients attached to it.
pub struct AttachServer {
    socket: PathBuf,
    clients: Arc<(Mutex<Clients>, std::sync::Condvar)>,
    closed: Arc<AtomicBool>,
}

impl AttachServer {
    /// Listens in `dir`. `stdin` is the container's stdin pipe (with -i, no terminal),
    /// `terminal` the pty master (with -t; input only with `open_stdin`). With
    /// `await_client`, a client is about to attach (a foreground `run -it` under a
    /// supervisor): what the container prints before it connects is kept for it, and the
    /// exit code waits for it, so it misses nothing of a container that is quick.
    /// With `stdin_once`, the end of the first client's input closes the container's stdin.
    pub fn start(
        dir: &Path,
        stdin: Option<OwnedFd>,
        terminal: Option<(&OwnedFd, bool)>,
        await_client: bool,
        stdin_once: bool,
    ) -> Result<AttachServer> {
        let socket = dir.join(SOCKET);
        let _ = std::fs::remove_file(&socket);
        let short = short_path(dir)?;
        let listener = UnixListener::bind(&short.path).map_err(|e| Error::Io {
            op: "listen on",
            path: socket.clone(),
            source: e,
        })?;
        let input = match (stdin, terminal) {
            (_, Some((m, with_input))) => {
                let fd = m.try_clone().map_err(|e| Error::Io {
                    op: "dup",
                    path: "pty".into(),
                    source: e,
                })?;
                if with_input {
                    Input::Terminal(fd.into())
                } else {
                    Input::TerminalSize(fd.into())
                }
            }
            (Some(p), _) => Input::Pipe(p.into()),
            _ => Input::None,
        };
        let input = Arc::new(Mutex::new(input));
        let clients = Arc::new((
            Mutex::new(Clients {
                held: await_client.then(Vec::new),
                ..Clients::default()
            }),
            std::sync::Condvar::new(),
        ));
        let closed = Arc::new(AtomicBool::new(false));
        let (c, done) = (clients.clone(), closed.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_write_timeout(Some(WRITE_TIMEOUT));
                if let Ok(reader) = conn.try_clone() {
                    let input = input.clone();
                    std::thread::spawn(move || serve_input(reader, &input, stdin_once));
                }
                let (lock, arrived) = &*c;
                if let Ok(mut clients) = lock.lock() {
                    // Under the lock, so held output comes before anything newer.
                    let mut ok = true;
                    for (kind, data) in clients.held.take().unwrap_or_default() {
                        ok = ok && write_frame(&mut conn, kind, &data).is_ok();
                    }
                    if ok {
                        clients.list.push(conn);
                    }
                    arrived.notify_all();
                }
            }
        });
        Ok(AttachServer {
            socket,
            clients,
            closed,
        })
    }

    /// Sends output to every attached client, dropping those that fail (or keeps it for the
    /// awaited client).
    pub fn broadcast(&self, kind: u8, data: &[u8]) {
        if let Ok(mut clients) = self.clients.0.lock() {
            let c = &mut *clients;
            if let Some(held) = &mut c.held {
                if c.held_bytes + data.len() <= HELD_OUTPUT_LIMIT {
                    c.held_bytes += data.len();
                    held.push((kind, data.to_vec()));
                }
                return;
            }
            c.list
                .retain_mut(|conn| write_frame(conn, kind, data).is_ok());
        }
    }

    /// Waits (a little) for the awaited client, if it has not connected yet: its socket is
    /// in the container's directory, which `--rm` removes.
    pub fn await_client(&self) {
        let (lock, arrived) = &*self.clients;
        if let Ok(clients) = lock.lock() {
            let _ = arrived.wait_timeout_while(clients, AWAIT_CLIENT_TIMEOUT, |c| c.held.is_some());
        }
    }

    /// Tells every client the container's exit code, then closes. An awaited client that has
    /// not connected yet gets a little time to, so it learns how the container ended.
    pub fn exited(&self, code: i32) {
        self.await_client();
        self.broadcast(EXIT, &code.to_be_bytes());
        self.close();
    }

    /// Stops listening and ends every client's stream.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop so it sees `closed`.
        if let Some(dir) = self.socket.parent() {
            if let Ok(short) = short_path(dir) {
                let _ = UnixStream::connect(&short.path);
            }
        }
        let _ = std::fs::remove_file(&self.socket);
        if let Ok(mut clients) = self.clients.0.lock() {
            for c in clients.list.drain(..) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Copies one client's input frames to the container.
fn serve_input(mut conn: UnixStream, input: &Mutex<Input>, stdin_once: bool) {
    while let Ok(Some((kind, data))) = read_frame(&mut conn) {
        let Ok(mut input) = input.lock() else { return };
        match (&mut *input, kind) {
            (Input::Pipe(_), STDIN_END) if stdin_once => {
                // Dropping the pipe's write end is the container's end of input.
                *input = Input::None;
            }
            (Input::Pipe(w) | Input::Terminal(w), STDIN)
                if (&*w as &std::fs::File).write_all(&data).is_err() =>
            {
                return;
            }
            (Input::Terminal(m) | Input::TerminalSize(m), RESIZE) if data.len() == 4 => {
                let size = (
                    u16::from_be_bytes([data[0], data[1]]),
                    u16::from_be_bytes([data[2], data[3]]),
                );
                crate::tty::set_window_size(m.as_fd().as_raw_fd(), size);
            }
            _ => {}
        }
    }
}

/// The client's side: a connection to a running container's supervisor.
pub fn connect(dir: &Path) -> Result<UnixStream> {
    let short = short_path(dir)?;
    UnixStream::connect(&short.path).map_err(|e| Error::Io {
        op: "attach to",
        path: dir.join(SOCKET),
        source: e,
    })
}

/// A terminal size as a RESIZE payload.
fn resize_payload((rows, cols): TerminalSize) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// Docker's default detach keys, ctrl-p ctrl-q.
pub const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Parses `--detach-keys` ("ctrl-p,ctrl-q", "a,ctrl-@", …) as Docker does.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>> {
    let bad = |reason: &str| Error::BadFlag {
        flag: "--detach-keys",
        value: s.to_string(),
        reason: reason.to_string(),
    };
    let mut keys = Vec::new();
    for k in s.split(',') {
        let k = k.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b'@'] => 0,
                [c @ b'a'..=b'z'] => c - b'a' + 1,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => return Err(bad(
                    "expected ctrl-a … ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^ or ctrl-_",
                )),
            };
            keys.push(b);
        } else if k.len() == 1 {
            keys.push(k.as_bytes()[0]);
        } else {
            return Err(bad(
                "expected a comma-separated list of single characters or ctrl-KEY",
            ));
        }
    }
    if keys.is_empty() {
        return Err(bad("no keys given"));
    }
    Ok(keys)
}

/// Finds the detach sequence across reads of typed input.
pub struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> DetachMatcher {
        DetachMatcher { keys, matched: 0 }
    }

    /// Feeds typed bytes; returns the bytes to send on and whether the sequence completed.
    /// Bytes of a partial match are held back until the match fails (then sent), as Docker
    /// does.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

/// `berth attach` options (the streams, terminal size and signals come in a `ClientIo`).
pub struct AttachOptions {
    pub detach_keys: Vec<u8>,
}

/// How an attachment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum AttachEnd {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys; the container goes on.
    Detached,
}

impl crate::Runtime {
    /// `docker attach`: the container's output from now on, our input to it, until it exits
    /// or the detach keys are typed.
    pub fn attach(&self, key: &str, o: &AttachOptions, io: ClientIo) -> Result<AttachEnd> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(
                "You cannot attach to a stopped container, start it first".into(),
            ));
        }
        if c.state.paused {
            return Err(Error::Conflict(
                "You cannot attach to a paused container, unpause it first".into(),
            ));
        }
        self.attach_started(&c, o, io)
    }

    /// A connection to a running container's supervisor for a client that relays the
    /// stream elsewhere (the API server's hijacked connection); records the `attach` event.
    pub fn attach_connection(&self, c: &ContainerRecord) -> Result<UnixStream> {
        let conn = connect(&self.containers.dir(&c.id))?;
        self.container_event("attach", c, &[]);
        Ok(conn)
    }

    /// Sends a terminal size to a running container's supervisor on a connection of its own.
    pub fn resize(&self, c: &ContainerRecord, rows: u16, cols: u16) -> Result<()> {
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let mut conn = connect(&self.containers.dir(&c.id))?;
        let (r, k) = (rows.to_be_bytes(), cols.to_be_bytes());
        write_frame(&mut conn, RESIZE, &[r[0], r[1], k[0], k[1]]).map_err(|e| Error::Io {
            op: "resize",
            path: self.containers.dir(&c.id),
            source: e,
        })
    }

    /// Attaches to a container this caller has just started with `start_for_attach`: it may
    /// have exited (and with `--rm` be gone) already; its supervisor kept the output and the
    /// exit code for us.
    pub fn attach_started(
        &self,
        c: &ContainerRecord,
        o: &AttachOptions,
        io: ClientIo,
    ) -> Result<AttachEnd> {
        self.container_event("attach", c, &[]);
        let stream = AttachStream {
            dir: &self.containers.dir(&c.id),
            tty: c.config.tty,
            send_input: c.config.open_stdin,
            pid: c.state.pid,
        };
        match attach_stream(&stream, o, io)? {
            Some(end) => Ok(end),
            None => Ok(AttachEnd::Exited(self.wait(&c.id)?)),
        }
    }
}

/// What a client attaches to: a socket served by a supervisor in `dir`.
pub(crate) struct AttachStream<'a> {
    pub dir: &'a Path,
    pub tty: bool,
    pub send_input: bool,
    /// Where forwarded signals go (without a terminal).
    pub pid: i32,
}

/// The client's loop: output to the client's writers, its input (when the container takes
/// input), terminal sizes and signals to the supervisor, until the exit code comes
/// (`Some(Exited)`), the detach keys are typed (`Some(Detached)`) or the stream ends without
/// a code (`None`).
pub(crate) fn attach_stream(
    s: &AttachStream,
    o: &AttachOptions,
    io: ClientIo,
) -> Result<Option<AttachEnd>> {
    let ClientIo {
        stdin,
        mut stdout,
        mut stderr,
        size,
        resize,
        signals,
    } = io;
    let input = stdin.filter(|_| s.send_input);
    let mut conn = connect(s.dir)?;
    let writer = Arc::new(Mutex::new(conn.try_clone().map_err(|e| Error::Io {
        op: "attach to",
        path: s.dir.to_path_buf(),
        source: e,
    })?));
    let done = Arc::new(AtomicBool::new(false));
    if s.tty {
        if let (Some(size), Ok(mut w)) = (size, writer.lock()) {
            let _ = write_frame(&mut *w, RESIZE, &resize_payload(size));
        }
        if let Some(sizes) = resize {
            // The client's new sizes go to the container whenever they come.
            let (w, done) = (writer.clone(), done.clone());
            // Not joined (see client_io's POLL).
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    match sizes.recv_timeout(std::time::Duration::from_millis(50)) {
                        Ok(size) => {
                            if let Ok(mut w) = w.lock() {
                                let _ = write_frame(&mut *w, RESIZE, &resize_payload(size));
                            }
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(_) => return,
                    }
                }
            });
        }
    }
    // Signals are passed on without a terminal only: with one, keys go as typed.
    if let (Some(signals), false) = (signals, s.tty) {
        crate::client_io::forward_signals(
            signals,
            Arc::new(std::sync::atomic::AtomicI32::new(s.pid)),
            done.clone(),
        );
    }
    let detached = Arc::new(AtomicBool::new(false));
    if let Some(input) = input {
        let (w, d) = (writer.clone(), detached.clone());
        let mut keys = DetachMatcher::new(o.detach_keys.clone());
        // Not joined: reading a terminal can block after the container is gone.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut input = std::fs::File::from(input);
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let (data, detach) = keys.feed(&buf[..n]);
                let Ok(mut w) = w.lock() else { return };
                if !data.is_empty() && write_frame(&mut *w, STDIN, &data).is_err() {
                    return;
                }
                if detach {
                    d.store(true, Ordering::SeqCst);
                    let _ = w.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            // End of our input: the container's too only if it is `StdinOnce` (see the
            // module doc).
            if let Ok(mut w) = w.lock() {
                let _ = write_frame(&mut *w, STDIN_END, &[]);
                let _ = w.shutdown(std::net::Shutdown::Write);
            }
        });
    }
    let mut exit_code = None;
    while let Ok(Some((kind, data))) = read_frame(&mut conn) {
        let _ = match kind {
            STDERR => stderr.write_all(&data),
            EXIT => {
                exit_code = <[u8; 4]>::try_from(data.as_slice())
                    .ok()
                    .map(i32::from_be_bytes);
                Ok(())
            }
            _ => stdout.write_all(&data).and_then(|_| stdout.flush()),
        };
    }
    done.store(true, Ordering::SeqCst);
    if detached.load(Ordering::SeqCst) {
        return Ok(Some(AttachEnd::Detached));
    }
    Ok(exit_code.map(AttachEnd::Exited))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDERR, b"oops\n").unwrap();
        write_frame(&mut buf, STDOUT, b"").unwrap();
        assert_eq!(&buf[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDERR, b"oops\n".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, Vec::new())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let huge = [1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert!(read_frame(&mut &huge[..]).is_err());
    }

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), DETACH_KEYS);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        let e = parse_detach_keys("ctrl-1").unwrap_err().to_string();
        assert!(e.contains("--detach-keys") && e.contains("ctrl-1"), "{e}");
        assert!(parse_detach_keys("abc").is_err());
        let mut m = DetachMatcher::new(DETACH_KEYS.to_vec());
        assert_eq!(m.feed(b"ls\x10"), (b"ls".to_vec(), false));
        // A partial match that fails is sent on.
        assert_eq!(m.feed(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
    }
}
