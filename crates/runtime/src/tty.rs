//! Pseudo-terminals for `-t`: receiving the master end from the runtime over a console socket,
//! relaying it, raw mode for our own terminal, and window size (also on SIGWINCH).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};

/// A console socket waiting for the runtime to send the pty master.
pub struct ConsoleSocket {
    pub path: PathBuf,
    rx: mpsc::Receiver<std::io::Result<OwnedFd>>,
}

impl ConsoleSocket {
    /// With `size_from_caller`, the terminal gets our own window size the moment it arrives
    /// (before the runtime goes on to exec the command).
    pub fn new(size_from_caller: bool) -> Result<ConsoleSocket> {
        // A short path: unix socket paths are limited to 108 bytes.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("berth-tty-{}-{nanos}.sock", std::process::id()));
        let listener = UnixListener::bind(&path).map_err(|e| Error::Io {
            op: "bind console socket",
            path: path.clone(),
            source: e,
        })?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = listener.accept().and_then(|(s, _)| recv_fd(s.as_raw_fd()));
            if let (true, Ok(fd)) = (size_from_caller, &r) {
                copy_window_size(fd.as_raw_fd());
            }
            let _ = tx.send(r);
        });
        Ok(ConsoleSocket { path, rx })
    }

    /// The pty master, once the container has started.
    pub fn master(self) -> Result<OwnedFd> {
        let r = self.rx.recv_timeout(Duration::from_secs(10));
        let _ = std::fs::remove_file(&self.path);
        match r {
            Ok(Ok(fd)) => Ok(fd),
            Ok(Err(e)) => Err(Error::Io {
                op: "receive pty from",
                path: self.path.clone(),
                source: e,
            }),
            Err(_) => Err(Error::Runtime {
                id: String::new(),
                what: "tty",
                reason: "the runtime sent no terminal".into(),
            }),
        }
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Receives one file descriptor sent with SCM_RIGHTS.
fn recv_fd(sock: RawFd) -> std::io::Result<OwnedFd> {
    let mut data = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one fd's control message.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; we point it at live buffers for the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: sock is a connected unix socket; buffers outlive the call.
    // Close-on-exec from the start: nothing the supervisor runs later may hold the terminal.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: walking the control messages recvmsg filled in.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                return Ok(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Err(std::io::Error::other(
        "no file descriptor in the console socket message",
    ))
}

/// Our terminal's window size (from stdout, else stdin), if we have a terminal.
pub fn window_size() -> Option<libc::winsize> {
    for fd in [1, 0] {
        // SAFETY: winsize is plain data filled by the ioctl.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some(ws);
        }
    }
    None
}

/// Sets a pty's window size (the kernel tells its foreground processes with SIGWINCH).
pub fn set_window_size(fd: RawFd, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, ws) };
}

/// Copies our window size to the pty.
pub fn copy_window_size(master: RawFd) {
    if let Some(ws) = window_size() {
        set_window_size(master, &ws);
    }
}

/// Calls `f` each time our terminal is resized, until the returned handle is closed.
pub fn on_window_change(
    mut f: impl FnMut() + Send + 'static,
) -> Option<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGWINCH]).ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for _ in signals.forever() {
            f();
        }
    });
    Some(handle)
}

/// Keeps the pty's size in step with our terminal until the returned handle is closed.
pub fn follow_window_size(master: RawFd) -> Option<signal_hook::iterator::Handle> {
    on_window_change(move || copy_window_size(master))
}

/// Our terminal in raw mode (keys go to the container as typed), restored on drop.
pub struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    pub fn enable() -> RawMode {
        // SAFETY: termios is plain data; isatty/tcgetattr/tcsetattr on our stdin.
        unsafe {
            if libc::isatty(0) == 0 {
                return RawMode { saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawMode { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restoring the settings we saved.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

/// Forwards our stdin to the pty (not joined: it may block on a terminal forever).
pub fn forward_stdin(master: &OwnedFd) -> Result<()> {
    // SAFETY: dup of an fd we own; the copy is owned by the File.
    let fd = unsafe { libc::dup(master.as_raw_fd()) };
    if fd < 0 {
        return Err(Error::Io {
            op: "dup",
            path: Path::new("pty").into(),
            source: std::io::Error::last_os_error(),
        });
    }
    let mut out = unsafe { std::fs::File::from_raw_fd(fd) };
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    Ok(())
}
