//! The CLI's own terminal and streams, handed to the engine as a `ClientIo`: raw mode while
//! a container's terminal takes our keys, our window size and its changes (SIGWINCH), and
//! the signals we pass on to a container (`--sig-proxy`). The engine never touches any of
//! this itself, so the API server can hand in sockets instead.

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::mpsc;

use berth_runtime::client_io::{ClientIo, TerminalSize};

/// What the CLI hands in for one foreground container, exec or attach.
pub struct ClientOptions {
    /// The process gets a terminal (`-t`): our size goes to it, and with `stdin` our
    /// terminal goes raw so that keys reach it as typed.
    pub tty: bool,
    /// Our stdin is the process's input (`-i`).
    pub stdin: bool,
    /// Signals we get are passed on (`--sig-proxy`; the keys do it with a terminal).
    pub sig_proxy: bool,
}

/// Holds our terminal's raw mode and the signal watchers; dropping it puts things back.
pub struct TerminalGuard {
    _raw: Option<RawMode>,
    handles: Vec<signal_hook::iterator::Handle>,
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        for h in &self.handles {
            h.close();
        }
    }
}

/// The signals `--sig-proxy` passes on, as the docker CLI's.
const PROXIED: [i32; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Our streams for the engine, and the guard that keeps our terminal set up meanwhile.
/// Signal handlers are installed now, before the process starts: a signal that comes while
/// it starts is passed on once it runs (and never kills berth, leaving it behind).
pub fn client_io(o: ClientOptions) -> anyhow::Result<(ClientIo, TerminalGuard)> {
    let mut handles = Vec::new();
    let stdin = if o.stdin { Some(dup_stdin()?) } else { None };
    let mut resize = None;
    if o.tty {
        let (tx, rx) = mpsc::channel();
        if let Some(h) = on_signals(&[libc::SIGWINCH], move |_| {
            if let Some(size) = window_size() {
                let _ = tx.send(size);
            }
        }) {
            handles.push(h);
        }
        resize = Some(rx);
    }
    let mut signals = None;
    if o.sig_proxy {
        let (tx, rx) = mpsc::channel();
        if let Some(h) = on_signals(&PROXIED, move |s| {
            let _ = tx.send(s);
        }) {
            handles.push(h);
        }
        signals = Some(rx);
    }
    let io = ClientIo {
        stdin,
        stdout: Box::new(std::io::stdout()),
        stderr: Box::new(std::io::stderr()),
        size: if o.tty { window_size() } else { None },
        resize,
        signals,
    };
    let raw = (o.tty && o.stdin).then(RawMode::enable);
    Ok((io, TerminalGuard { _raw: raw, handles }))
}

fn dup_stdin() -> anyhow::Result<OwnedFd> {
    // SAFETY: dup of our own stdin; the new fd is owned by the OwnedFd.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        anyhow::bail!("dup stdin: {}", std::io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Calls `f` with each of `signals` as it comes, until the handle is closed.
fn on_signals(
    signals: &[i32],
    mut f: impl FnMut(i32) + Send + 'static,
) -> Option<signal_hook::iterator::Handle> {
    let mut it = signal_hook::iterator::Signals::new(signals).ok()?;
    let handle = it.handle();
    std::thread::spawn(move || {
        for s in it.forever() {
            f(s);
        }
    });
    Some(handle)
}

/// Our terminal's size (from stdout, else stdin), if we have a terminal.
pub fn window_size() -> Option<TerminalSize> {
    for fd in [1, 0] {
        // SAFETY: winsize is plain data filled by the ioctl.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Our terminal in raw mode (keys go to the container as typed) until dropped.
pub struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    pub fn enable() -> RawMode {
        // SAFETY: termios is plain data; tcgetattr/tcsetattr on our own stdin.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) == 0 || libc::tcgetattr(0, &mut t) != 0 {
                return RawMode { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            if libc::tcsetattr(0, libc::TCSANOW, &t) != 0 {
                return RawMode { saved: None };
            }
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
