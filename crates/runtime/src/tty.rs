//! Pseudo-terminals for `-t`: receiving the master end from the runtime over a console socket,
//! and its window size. The client's own terminal (raw mode, its size, SIGWINCH) is the front
//! end's.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::client_io::TerminalSize;
use crate::error::{Error, Result};

/// A console socket waiting for the runtime to send the pty master.
pub struct ConsoleSocket {
    pub path: PathBuf,
    rx: mpsc::Receiver<std::io::Result<OwnedFd>>,
}

impl ConsoleSocket {
    /// With `size`, the terminal gets it the moment it arrives (before the runtime goes on
    /// to exec the command).
    pub fn new(size: Option<TerminalSize>) -> Result<ConsoleSocket> {
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
            if let (Some(size), Ok(fd)) = (size, &r) {
                set_window_size(fd.as_raw_fd(), size);
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

/// Sets a pty's window size (the kernel tells its foreground processes with SIGWINCH).
pub fn set_window_size(fd: RawFd, (rows, cols): TerminalSize) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}
