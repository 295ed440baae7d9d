//! Process plumbing shared by `run`, `exec` and the supervisor: pipes, output relays, signal
//! forwarding, waiting, and keeping an idle supervisor small.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use crate::attach::{AttachServer, STDERR, STDOUT};
use crate::client_io::SharedWriter;
use crate::error::{Error, Result};
use crate::logs::LogWriter;

pub(crate) fn encode_error(e: &Error) -> String {
    format!("{}\t{}\n", e.exit_code(), e)
}

pub(crate) fn decode_error(id: &str, m: &str) -> Error {
    let (code, msg) = m.split_once('\t').unwrap_or(("125", m));
    match code {
        "127" => Error::CommandNotFound(
            msg.trim_start_matches("exec: \"")
                .split('"')
                .next()
                .unwrap_or(msg)
                .to_string(),
        ),
        "126" => Error::CommandNotExecutable(
            msg.trim_start_matches("exec: \"")
                .split('"')
                .next()
                .unwrap_or(msg)
                .to_string(),
        ),
        _ => {
            let _ = id;
            Error::Relayed(msg.trim_end().to_string())
        }
    }
}

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::Io {
            op: "pipe",
            path: PathBuf::new(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: pipe2 returned two new fds we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Copies a container stream to its log (one entry per line), to `attach` clients and to
/// `echo`, a foreground client's writer (`exec` has only the last).
pub(crate) fn relay(
    r: OwnedFd,
    stream: &'static str,
    log: Option<Arc<std::sync::Mutex<LogWriter>>>,
    echo: Option<SharedWriter>,
    attached: Option<Arc<AttachServer>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(r);
        let mut buf = vec![0u8; 32 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(a) = &attached {
                let kind = if stream == "stdout" { STDOUT } else { STDERR };
                a.broadcast(kind, &buf[..n]);
            }
            if let Some(echo) = &echo {
                if let Ok(mut w) = echo.lock() {
                    let _ = w.write_all(&buf[..n]).and_then(|_| w.flush());
                }
            }
            let Some(log) = &log else { continue };
            pending.extend_from_slice(&buf[..n]);
            while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=i).collect();
                if let Ok(mut l) = log.lock() {
                    let _ = l.write(stream, &line);
                }
            }
        }
        if let (false, Some(log)) = (pending.is_empty(), &log) {
            if let Ok(mut l) = log.lock() {
                let _ = l.write(stream, &pending);
            }
        }
    })
}

/// Waits for our child `pid`; Docker's exit code (128+signal when killed).
pub(crate) fn wait_pid(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return -1;
        }
    }
    exit_code(status)
}

/// Docker's exit code for a wait status: the code, or 128+signal when killed.
fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// The exit code of child `pid` if it has exited (reaping it), None while it runs.
pub(crate) fn try_wait_pid(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: a non-blocking wait for our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return None;
    }
    if r < 0 {
        return Some(-1);
    }
    Some(exit_code(status))
}

pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // A zombie counts as gone.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "STOP" => libc::SIGSTOP,
        "CONT" => libc::SIGCONT,
        "WINCH" => libc::SIGWINCH,
        "PWR" => libc::SIGPWR,
        _ => {
            return Err(Error::BadFlag {
                flag: "--signal",
                value: s.to_string(),
                reason: "invalid signal".into(),
            });
        }
    };
    Ok(n)
}

/// A supervisor spends its life in `waitpid` and two small copy loops, but starting the
/// container touched much of berth's code (libcontainer, clap, serde…), which stays resident.
/// Executable mappings are never written, so their pages can be dropped: the few the loops
/// use come back from the page cache on their next run. This keeps an idle supervisor small.
pub(crate) fn release_startup_code() {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(offset)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        // Only file-backed private text, and each file's first segment (ELF headers, symbol
        // and relocation tables, read-only from the start): never written, safe to drop.
        // Other read-only mappings may be RELRO data the loader wrote: those stay.
        let first_segment = perms == "r--p" && offset.trim_start_matches('0').is_empty();
        if !(perms == "r-xp" || first_segment) || !line.contains('/') || line.contains("[vdso]") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        else {
            continue;
        };
        // SAFETY: the range is a whole executable mapping of this process; dropping clean
        // file-backed pages only makes them fault in again from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    // Return freed heap from start-up to the system.
    // SAFETY: glibc's malloc_trim only releases unused memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// kill(2) for a container's process. Never for pid 0 or below: kill(0, …) would signal
/// berth's own process group (a record between two runs of a restart policy has pid 0).
pub(crate) fn signal_pid(pid: i32, sig: i32) {
    if pid > 0 {
        // SAFETY: plain kill(2) of a positive pid.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals a container's main process. SIGKILL also thaws the container: a paused
/// (frozen) process acts on no signal until it is thawed, so a kill, a stop past its timeout
/// or an `rm -f` of a paused container would otherwise wait forever (as runc, Docker's
/// default runtime, thaws after SIGKILL). Other signals stay pending until `unpause`.
pub(crate) fn signal_container(id: &str, pid: i32, sig: i32) {
    signal_pid(pid, sig);
    if sig == libc::SIGKILL && pid > 0 {
        let _ = crate::cgroups::CgroupFs::host().thaw(id);
    }
}

/// The stdin of a process started without input: a pipe that is already at end-of-file, as
/// with Docker without `-i`.
pub(crate) fn closed_stdin() -> Result<OwnedFd> {
    let (r, _closed) = pipe()?;
    Ok(r)
}
