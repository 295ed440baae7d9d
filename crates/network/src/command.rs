//! Running iproute2 and iptables.
//!
//! Why shell out instead of speaking netlink/nf_tables directly: each container start needs
//! one batched `ip` call per namespace (about 2.5 ms each here) and published ports one
//! `iptables-restore` call; `ip` and `iptables` are what every host has and what admins read
//! rules with, and `iptables` picks the host's backend (nft or legacy) so berth's rules sit in
//! the same tables as Docker's and firewalld's. The crates tried (rtnetlink, nftables) need an
//! async runtime or the `nft` binary, which hosts with iptables-nft do not always have.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// A system tool by name, looked up in the usual sbin directories first (a supervisor may
/// run with a PATH that lacks them).
pub(crate) fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

/// Runs `program args` with `input` on stdin; when `netns_pid` is given, the program runs in
/// that process's network namespace.
pub(crate) fn run(
    what: &'static str,
    program: &str,
    args: &[&str],
    input: Option<&str>,
    netns_pid: Option<i32>,
) -> Result<String> {
    let shown = format!("{program} {}", args.join(" "));
    let fail = |reason: String| Error::Command {
        what,
        cmd: shown.clone(),
        reason,
    };
    let mut cmd = Command::new(tool(program));
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let ns = match netns_pid {
        Some(pid) => Some(
            std::fs::File::open(format!("/proc/{pid}/ns/net"))
                .map_err(|e| fail(format!("network namespace of pid {pid}: {e}")))?,
        ),
        None => None,
    };
    if let Some(ns) = &ns {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = ns.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the fd stays open until after spawn.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e} (is it installed?)")))?;
    if let Some(input) = input {
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(fail(if err.is_empty() {
            out.status.to_string()
        } else {
            err
        }));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ip -batch -` with the given commands, one per line.
pub(crate) fn ip_batch(what: &'static str, batch: &str, netns_pid: Option<i32>) -> Result<()> {
    run(what, "ip", &["-batch", "-"], Some(batch), netns_pid).map(|_| ())
}

/// Writes a sysctl under /proc/sys unless it already has the value.
pub(crate) fn sysctl(path: &str, value: &str) -> Result<()> {
    let p = PathBuf::from("/proc/sys").join(path);
    if std::fs::read_to_string(&p)
        .map(|v| v.trim() == value)
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(&p, value).map_err(|e| Error::Io {
        what: "set sysctl",
        path: p,
        source: e,
    })
}
