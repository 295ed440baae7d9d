//! Small things done inside a container's network namespace without starting a program.

use crate::error::{Error, Result};

/// Brings `lo` up in the network namespace of `pid` (what Docker does for `--network none`
/// too). A short-lived thread joins the namespace, so the caller's own stays untouched.
pub fn loopback_up(pid: i32) -> Result<()> {
    let fail = |reason: String| Error::Command {
        what: "bringing up lo",
        cmd: format!("setns /proc/{pid}/ns/net"),
        reason,
    };
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| fail(e.to_string()))?;
    let worker = std::thread::spawn(move || -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: setns on this thread only; the socket and ioctl use memory we own.
        unsafe {
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo\0".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req);
            if r == 0 {
                req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                r = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
            }
            let err = std::io::Error::last_os_error();
            libc::close(s);
            if r != 0 {
                return Err(err);
            }
        }
        Ok(())
    });
    match worker.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail("the worker thread panicked".into())),
    }
}
