//! What `run`, `create` and `exec` take, and the parsing of Docker's option syntaxes
//! (`--ulimit`, `--restart`, `--log-opt`, `--security-opt`).

use std::fs;

use crate::error::{Error, Result};

/// `docker run` / `docker create` options berth implements so far.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub auto_remove: bool,
    pub interactive: bool,
    /// `-t`: a pseudo-terminal.
    pub tty: bool,
    pub read_only: bool,
    pub labels: Vec<String>,
    /// `--network`: bridge (default), none, host, or a network's name.
    pub network: Option<String>,
    pub network_aliases: Vec<String>,
    /// `--ip`
    pub ip: Option<String>,
    /// `-p` values as given.
    pub publish: Vec<String>,
    /// `-P`: publish every exposed port on an ephemeral host port.
    pub publish_all: bool,
    /// `--expose`
    pub expose: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP` (IP may be `host-gateway`).
    pub add_hosts: Vec<String>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--security-opt` values: `no-new-privileges[=true|false]`, `seccomp=unconfined|FILE`.
    pub security_opt: Vec<String>,
    /// From `-v`, `--mount` and `--tmpfs`.
    pub mounts: Vec<crate::volumes::MountSpec>,
    /// `--restart`: no, always, unless-stopped, on-failure[:N]
    pub restart: Option<String>,
    pub init: bool,
    /// `--ulimit NAME=SOFT[:HARD]`
    pub ulimits: Vec<String>,
    /// `--log-opt KEY=VALUE` (max-size, max-file)
    pub log_opts: Vec<String>,
    /// `--health-*`, `--no-healthcheck`
    pub health: crate::health::HealthFlags,
}

/// The berth-init executable, built statically by build.rs (empty if that was not possible).
pub(crate) const BERTH_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where the container sees its init, as with Docker.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// `--ulimit nofile=1024:2048`, checked against what this process may grant.
pub fn parse_ulimit(v: &str) -> Result<(String, u64, u64)> {
    let bad = |r: String| Error::BadFlag {
        flag: "--ulimit",
        value: v.to_string(),
        reason: r,
    };
    let (name, limits) = v
        .split_once('=')
        .ok_or_else(|| bad("expected NAME=SOFT[:HARD]".into()))?;
    let res = match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        "as" => libc::RLIMIT_AS,
        _ => return Err(bad(format!("invalid ulimit type: {name}"))),
    };
    let num = |s: &str| -> Result<u64> {
        if s == "-1" || s == "unlimited" {
            Ok(u64::MAX)
        } else {
            s.parse()
                .map_err(|_| bad(format!("invalid ulimit value: {s}")))
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(limits)?, num(limits)?),
    };
    if soft > hard {
        return Err(bad(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    if unsafe { libc::getrlimit(res, &mut cur) } == 0
        && hard > cur.rlim_max
        && !has_cap_sys_resource()
    {
        return Err(bad(format!(
            "the hard limit {hard} is above berth's own ({}), and this host's root lacks CAP_SYS_RESOURCE to raise it",
            cur.rlim_max
        )));
    }
    Ok((format!("RLIMIT_{}", name.to_ascii_uppercase()), soft, hard))
}

fn has_cap_sys_resource() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapEff:")
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// Docker's log size syntax: `10m`, `1g`, `500k`, bytes.
pub(crate) fn parse_log_size(v: &str) -> Option<u64> {
    let s = v.to_ascii_lowercase();
    let (n, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1000),
        'm' => (&s[..s.len() - 1], 1000 * 1000),
        'g' => (&s[..s.len() - 1], 1000 * 1000 * 1000),
        _ => (&s[..], 1),
    };
    n.parse::<u64>().ok().map(|n| n * mult)
}

/// Parses `--restart`.
pub fn parse_restart(v: &str) -> Result<(String, u32)> {
    let (name, max) = v.split_once(':').unwrap_or((v, ""));
    let bad = |r: &str| Error::BadFlag {
        flag: "--restart",
        value: v.to_string(),
        reason: r.to_string(),
    };
    match name {
        "no" | "always" | "unless-stopped" if max.is_empty() => Ok((name.to_string(), 0)),
        "on-failure" => Ok((
            name.to_string(),
            if max.is_empty() {
                0
            } else {
                max.parse()
                    .map_err(|_| bad("maximum retry count must be a number"))?
            },
        )),
        "no" | "always" | "unless-stopped" => Err(bad(
            "maximum retry count cannot be used with this restart policy",
        )),
        _ => Err(bad(
            "expected no, always, unless-stopped or on-failure[:max-retries]",
        )),
    }
}

/// Applies `--security-opt` values: (no_new_privileges, seccomp profile).
pub(crate) fn security_options(
    opts: &[String],
    caps: &[String],
    privileged: bool,
) -> Result<(bool, Option<serde_json::Value>)> {
    let mut nnp = false;
    let mut seccomp = if privileged {
        None
    } else {
        Some(crate::seccomp::default_profile(caps))
    };
    for o in opts {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match k {
            "no-new-privileges" => {
                nnp = match v {
                    "" | "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::BadFlag {
                            flag: "--security-opt",
                            value: o.clone(),
                            reason: "expected no-new-privileges[=true|false]".into(),
                        })
                    }
                }
            }
            "seccomp" if v == "unconfined" => seccomp = None,
            "seccomp" if !v.is_empty() => {
                let text = fs::read_to_string(v).map_err(|e| Error::BadFlag {
                    flag: "--security-opt",
                    value: o.clone(),
                    reason: format!("cannot read the profile: {e}"),
                })?;
                seccomp = Some(crate::seccomp::from_docker_profile(&text, v, caps)?);
            }
            "label" | "apparmor" => {} // no LSM on this host; accepted as Docker does when disabled
            _ => {
                return Err(Error::BadFlag {
                    flag: "--security-opt",
                    value: o.clone(),
                    reason:
                        "expected no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json"
                            .into(),
                })
            }
        }
    }
    Ok((nnp, seccomp))
}

/// `docker exec` options.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
    pub tty: bool,
}
