//! Starting one of berth's own background processes (a container's supervisor, a network's
//! DNS server): `berth …` in a session of its own, with a pipe on which it reports "ok" (or
//! its error) once it is ready. The fd number is passed in `BERTH_READY_FD`.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::process::{Command, Stdio};

/// Spawns `cmd` detached and returns what it wrote on the ready pipe before closing it
/// (empty if it exited without a word). The child is reaped in the background.
pub fn spawn_and_wait_ready(cmd: Command) -> std::io::Result<String> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fresh descriptors from pipe2.
    let (r, w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    spawn_detached(cmd, w.as_raw_fd())?;
    drop(w);
    let mut msg = String::new();
    let _ = (&r).read_to_string(&mut msg);
    Ok(msg)
}

/// Spawns `cmd` detached (a session of its own, standard streams on /dev/null, nothing
/// inherited but `channel`, whose number it finds in `BERTH_READY_FD`) and reaps it in the
/// background; returns its pid. `channel` is the child's end of a pipe or socket; the caller
/// closes its copy.
pub fn spawn_detached(mut cmd: Command, channel: RawFd) -> std::io::Result<u32> {
    let wfd = channel;
    cmd.env("BERTH_READY_FD", wfd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            // A background process outlives its caller: it must not keep open what the
            // caller happened to have inherited (a terminal, a pipe a script waits on).
            // Everything but the ready pipe closes on exec; no harm if the kernel is too old.
            let cloexec = libc::CLOSE_RANGE_CLOEXEC as libc::c_long;
            if wfd > 3 {
                libc::syscall(libc::SYS_close_range, 3, wfd - 1, cloexec);
            }
            libc::syscall(libc::SYS_close_range, wfd + 1, libc::c_uint::MAX, cloexec);
            let flags = libc::fcntl(wfd, libc::F_GETFD);
            libc::fcntl(wfd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

/// The child's side: the ready pipe from `BERTH_READY_FD`, made close-on-exec so processes the
/// child starts in turn do not keep the parent waiting.
pub fn ready_pipe() -> Option<std::fs::File> {
    let fd: i32 = std::env::var("BERTH_READY_FD").ok()?.parse().ok()?;
    // SAFETY: the descriptor was handed to us for this purpose by spawn_and_wait_ready.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        Some(std::fs::File::from_raw_fd(fd))
    }
}
