//! What a client in the foreground hands the engine when it runs a container (`run` without
//! `-d`, `start -a`, a build's RUN step), runs an exec, or attaches: where the output goes,
//! where the input comes from, its terminal's size and its changes, and the signals it wants
//! passed on. The engine never reads or writes the calling process's own streams, installs
//! signal handlers or changes a terminal's mode: that is the front end's (the CLI's
//! `terminal` module), so a server can hand in a socket or a channel instead.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A writer shared by the threads that copy a container's streams.
pub type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;

/// A terminal size: rows, columns.
pub type TerminalSize = (u16, u16);

pub struct ClientIo {
    /// The process's input (with `-i`); `None`: its stdin is at its end from the start.
    pub stdin: Option<OwnedFd>,
    /// Where its output goes (besides the log). With a terminal, all of it is on `stdout`.
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
    /// The client's terminal size when the process gets a terminal; later ones on `resize`.
    pub size: Option<TerminalSize>,
    pub resize: Option<Receiver<TerminalSize>>,
    /// Signals the client passes on to the process (the CLI's `--sig-proxy`).
    pub signals: Option<Receiver<i32>>,
}

impl ClientIo {
    /// No input, output dropped (still logged), no terminal, no signals.
    pub fn discard() -> ClientIo {
        ClientIo::writing_to(Box::new(std::io::sink()), Box::new(std::io::sink()))
    }

    /// Output to these writers; no input, terminal or signals.
    pub fn writing_to(stdout: Box<dyn Write + Send>, stderr: Box<dyn Write + Send>) -> ClientIo {
        ClientIo {
            stdin: None,
            stdout,
            stderr,
            size: None,
            resize: None,
            signals: None,
        }
    }
}

/// How often the forwarding threads look whether their process has ended. They are not
/// joined: each ends by itself within this time of `done`, and joining them made every
/// foreground run or exec wait up to this long after its process had exited.
const POLL: Duration = Duration::from_millis(50);

/// Passes the client's signals on to the process whose pid `target` will hold (0 until it
/// has started: a signal that comes while it starts is held, not lost) until `done`.
pub(crate) fn forward_signals(
    signals: Receiver<i32>,
    target: Arc<AtomicI32>,
    done: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        while !done.load(Ordering::SeqCst) {
            let sig = match signals.recv_timeout(POLL) {
                Ok(s) => s,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Starting takes milliseconds; give up after 10 s (the start failed).
            for _ in 0..1000 {
                if target.load(Ordering::SeqCst) != 0 || done.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // Once the process is gone its pid may be another's.
            if !done.load(Ordering::SeqCst) {
                crate::process::signal_pid(target.load(Ordering::SeqCst), sig);
            }
        }
    });
}

/// Gives the pty `master` each size that comes on `sizes`, until `done`.
pub(crate) fn follow_resizes(
    sizes: Receiver<TerminalSize>,
    master: OwnedFd,
    done: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        while !done.load(Ordering::SeqCst) {
            match sizes.recv_timeout(POLL) {
                Ok(size) => crate::tty::set_window_size(master.as_raw_fd(), size),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    });
}

/// Copies the client's input into the process's terminal (not joined: reading a terminal
/// can block after the process is gone).
pub(crate) fn copy_input(input: OwnedFd, to: OwnedFd) {
    std::thread::spawn(move || {
        let mut from = std::fs::File::from(input);
        let mut to = std::fs::File::from(to);
        let _ = std::io::copy(&mut from, &mut to);
    });
}

/// Wraps a writer for the copying threads.
pub(crate) fn shared(w: Box<dyn Write + Send>) -> SharedWriter {
    Arc::new(Mutex::new(w))
}
