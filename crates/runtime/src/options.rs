//! Checks of the values in a container's HostConfig that Docker's daemon makes (ulimits,
//! restart policy, log options, security options), shared by the CLI (which names its flag
//! when one fails) and `Runtime::create` (which names the field), and what `exec` takes.

use std::fs;

use crate::container_config::{LogConfig, RestartPolicy, Ulimit};
use crate::error::{Error, Result};

/// The berth-init executable, built statically by build.rs (empty if that was not possible).
pub(crate) const BERTH_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where the container sees its init, as with Docker.
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Docker's RAMInBytes: `512m`, `1g`, `100k`, `1.5gb`, plain bytes (flags and compose files).
pub fn parse_bytes(v: &str) -> std::result::Result<i64, String> {
    let s = v.trim().to_ascii_lowercase();
    let s = s
        .strip_suffix('b')
        .filter(|x| !x.is_empty() && x.ends_with(['k', 'm', 'g', 't']))
        .unwrap_or(&s);
    let (num, mult) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1i64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        Some('t') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: f64 = num.parse().map_err(|_| format!("invalid size: '{v}'"))?;
    if n < 0.0 {
        return Err("size must not be negative".into());
    }
    Ok((n * mult as f64) as i64)
}

/// The kernel's resource for a ulimit name (`nofile`), as Docker names them.
pub fn rlimit_resource(name: &str) -> Option<u32> {
    Some(match name {
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
        _ => return None,
    })
}

/// What is wrong with a ulimit (soft and hard in the API's form, -1 for unlimited), checked
/// against what this process may grant; on success the OCI form (`RLIMIT_NOFILE`, soft, hard).
pub fn check_ulimit(u: &Ulimit) -> std::result::Result<(String, u64, u64), String> {
    let res = rlimit_resource(&u.name).ok_or_else(|| format!("invalid ulimit type: {}", u.name))?;
    let num = |n: i64| -> std::result::Result<u64, String> {
        match n {
            -1 => Ok(u64::MAX),
            n if n >= 0 => Ok(n as u64),
            n => Err(format!("invalid ulimit value: {n}")),
        }
    };
    let (soft, hard) = (num(u.soft)?, num(u.hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we pass.
    if unsafe { libc::getrlimit(res as _, &mut cur) } == 0
        && hard > cur.rlim_max
        && !has_cap_sys_resource()
    {
        return Err(format!(
            "the hard limit {hard} is above berth's own ({}), and this host's root lacks CAP_SYS_RESOURCE to raise it",
            cur.rlim_max
        ));
    }
    Ok((
        format!("RLIMIT_{}", u.name.to_ascii_uppercase()),
        soft,
        hard,
    ))
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

/// A restart policy checked as Docker's daemon checks it: (name, maximum retries).
pub fn check_restart(p: &RestartPolicy) -> Result<(String, u32)> {
    let bad = |r: String| Error::Invalid(format!("invalid restart policy: {r}"));
    let name = if p.name.is_empty() {
        "no"
    } else {
        p.name.as_str()
    };
    match name {
        "no" | "always" | "unless-stopped" if p.maximum_retry_count != 0 => Err(bad(
            "maximum retry count can only be used with 'on-failure'".into(),
        )),
        "no" | "always" | "unless-stopped" => Ok((name.to_string(), 0)),
        "on-failure" => u32::try_from(p.maximum_retry_count)
            .map(|n| (name.to_string(), n))
            .map_err(|_| bad("maximum retry count cannot be negative".into())),
        _ => Err(bad(format!(
            "unknown policy '{name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
        ))),
    }
}

/// The log options of a driver, checked: what `LogWriter` keeps and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub max_size: Option<u64>,
    pub max_files: Option<u32>,
    /// Rotated files are gzipped (`compress`; the `local` driver's default).
    pub compress: Option<bool>,
}

/// A driver's log options checked as Docker checks them: `json-file` and `local` (both kept
/// in berth's log file, `local` with its own defaults: 20 MiB × 5 files, compressed) take
/// `max-size`, `max-file` and `compress`; `none` takes none.
pub fn check_log_config(l: &LogConfig) -> Result<LogOptions> {
    let driver = match l.kind.as_str() {
        "" | "json-file" => "json-file",
        "local" => "local",
        "none" if l.config.is_empty() => return Ok(LogOptions::default()),
        "none" => {
            return Err(Error::Invalid(
                "the none log driver takes no log opts".into(),
            ))
        }
        // Docker's words for a driver it does not have.
        other => {
            return Err(Error::Invalid(format!(
                "logger: no log driver named '{other}' is registered"
            )))
        }
    };
    let mut o = LogOptions::default();
    for (k, v) in &l.config {
        let bad = |r: &str| Error::Invalid(format!("invalid log opt {k}={v}: {r}"));
        match k.as_str() {
            "max-size" => {
                o.max_size = Some(
                    parse_log_size(v)
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("expected a size such as 10m"))?,
                )
            }
            "max-file" => {
                o.max_files = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad("expected a positive number"))?,
                )
            }
            "compress" => {
                o.compress = Some(match v.as_str() {
                    "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                    "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                    _ => return Err(bad("expected true or false")),
                })
            }
            _ if driver == "local" => {
                return Err(Error::Invalid(format!(
                    "unknown log opt '{k}' for log driver local"
                )))
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "unknown log opt '{k}' for json-file log driver"
                )))
            }
        }
    }
    // json-file compresses only what rotates away, so it needs more than one file.
    if driver == "json-file" && o.compress == Some(true) && o.max_files.unwrap_or(1) < 2 {
        return Err(Error::Invalid(
            "compress cannot be true when max-file is less than 2".into(),
        ));
    }
    Ok(o)
}

/// Applies HostConfig.SecurityOpt: (no_new_privileges, seccomp profile in OCI form).
/// A profile comes inline (`seccomp={...}`), as the docker CLI sends the file it read.
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
    for (i, o) in opts.iter().enumerate() {
        let bad = || {
            Error::Invalid(format!(
                "invalid --security-opt {}: {o:?} (expected no-new-privileges[=true|false], seccomp=unconfined or seccomp=<profile JSON>)",
                i + 1
            ))
        };
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match k {
            "no-new-privileges" => {
                nnp = match v {
                    "" | "true" => true,
                    "false" => false,
                    _ => return Err(bad()),
                }
            }
            "seccomp" if v == "unconfined" => seccomp = None,
            "seccomp" if v.trim_start().starts_with('{') => {
                seccomp = Some(crate::seccomp::from_docker_profile(v, "(inline)", caps)?);
            }
            "label" | "apparmor" => {} // no LSM on this host; accepted as Docker does when disabled
            _ => return Err(bad()),
        }
    }
    Ok((nnp, seccomp))
}

/// A device cgroup rule (HostConfig.DeviceCgroupRules): which devices the container may
/// read, write or create (mknod) beyond the default set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRule {
    /// `a` (all), `b` (block) or `c` (character).
    pub kind: String,
    /// None: every major (or minor) number (`*`).
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// Some of `r`, `w`, `m`.
    pub access: String,
}

/// Docker's rule syntax, `TYPE MAJOR:MINOR ACCESS` (`c 7:128 rwm`, `b *:* r`), with its
/// message for anything else.
pub fn parse_device_rule(r: &str) -> Result<DeviceRule> {
    let bad = || Error::Invalid(format!("invalid device cgroup rule format: '{r}'"));
    let mut parts = r.split(' ');
    let (Some(kind), Some(nums), Some(access), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !matches!(kind, "a" | "b" | "c") {
        return Err(bad());
    }
    let number = |n: &str| -> Result<Option<i64>> {
        match n {
            "*" => Ok(None),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                n.parse().map(Some).map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    };
    let (major, minor) = nums.split_once(':').ok_or_else(bad)?;
    let (major, minor) = (number(major)?, number(minor)?);
    if access.is_empty() || access.len() > 3 || !access.bytes().all(|b| b"rwm".contains(&b)) {
        return Err(bad());
    }
    Ok(DeviceRule {
        kind: kind.into(),
        major,
        minor,
        access: access.into(),
    })
}

/// `docker exec` options.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExecOptions {
    /// Detach keys for attachments to it (`ctrl-p,ctrl-q` style); empty: Docker's default.
    #[serde(default)]
    pub detach_keys: String,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
    pub tty: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rules_are_read_as_docker_reads_them() {
        let r = parse_device_rule("c 7:128 rwm").unwrap();
        assert_eq!(
            (r.kind.as_str(), r.major, r.minor),
            ("c", Some(7), Some(128))
        );
        assert_eq!(r.access, "rwm");
        let any = parse_device_rule("b *:* r").unwrap();
        assert_eq!(
            (any.major, any.minor, any.access.as_str()),
            (None, None, "r")
        );
        for bad in [
            "c 7:128",
            "x 1:2 r",
            "c 1:2 rwx",
            "c 1 r",
            "c -1:2 r",
            "c 1:2 rwmr",
            "a",
        ] {
            let e = parse_device_rule(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("'{bad}'")), "{bad}: {e}");
        }
    }
}

/// A host device node as the container gets it (`--device`), read from the host at create.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceNode {
    pub path_in_container: String,
    /// `c` or `b`.
    pub kind: String,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub access: String,
}

/// The device nodes a `DeviceMapping` names (a directory: every device under it), as
/// Docker's daemon gathers them, with its message for a path that is not a device.
pub fn device_nodes(m: &crate::container_config::DeviceMapping) -> Result<Vec<DeviceNode>> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let access = match m.cgroup_permissions.as_str() {
        "" => "rwm".to_string(),
        p if !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) => p.to_string(),
        p => {
            return Err(Error::Invalid(format!(
                "invalid device mode {p:?} for {}: use some of r, w, m",
                m.path_on_host
            )))
        }
    };
    let gathering = |e: std::io::Error| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device {:?}: {e}",
            m.path_on_host
        ))
    };
    let host = std::path::Path::new(&m.path_on_host);
    let inside = if m.path_in_container.is_empty() {
        m.path_on_host.clone()
    } else {
        m.path_in_container.clone()
    };
    let meta = std::fs::metadata(host).map_err(gathering)?;
    let node = |path: &std::path::Path, inside: String, meta: &std::fs::Metadata| {
        let ft = meta.file_type();
        let kind = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else {
            return None;
        };
        let _ = path;
        let rdev = meta.rdev();
        Some(DeviceNode {
            path_in_container: inside,
            kind: kind.into(),
            major: libc::major(rdev) as i64,
            minor: libc::minor(rdev) as i64,
            file_mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            access: access.clone(),
        })
    };
    if meta.is_dir() {
        let mut out = Vec::new();
        let mut stack = vec![host.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).map_err(gathering)?.flatten() {
                let p = e.path();
                let Ok(md) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if md.is_dir() {
                    stack.push(p);
                    continue;
                }
                let rel = p.strip_prefix(host).unwrap_or(&p);
                let target = std::path::Path::new(&inside).join(rel);
                if let Some(n) = node(&p, target.to_string_lossy().into_owned(), &md) {
                    out.push(n);
                }
            }
        }
        out.sort_by(|a, b| a.path_in_container.cmp(&b.path_in_container));
        return Ok(out);
    }
    node(host, inside, &meta).map(|n| vec![n]).ok_or_else(|| {
        Error::Invalid(format!(
            "error gathering device information while adding custom device {:?}: not a device node",
            m.path_on_host
        ))
    })
}

#[cfg(test)]
mod device_tests {
    use super::*;
    use crate::container_config::DeviceMapping;

    #[test]
    fn devices_are_read_from_the_host() {
        let m = |host: &str, inside: &str, perms: &str| DeviceMapping {
            path_on_host: host.into(),
            path_in_container: inside.into(),
            cgroup_permissions: perms.into(),
        };
        let n = device_nodes(&m("/dev/null", "/dev/n", "rw")).unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].kind.as_str(), n[0].major, n[0].minor), ("c", 1, 3));
        assert_eq!(
            (n[0].path_in_container.as_str(), n[0].access.as_str()),
            ("/dev/n", "rw")
        );
        assert_eq!(
            device_nodes(&m("/dev/zero", "", "")).unwrap()[0].path_in_container,
            "/dev/zero"
        );
        let e = device_nodes(&m("/etc/hostname", "", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a device node"), "{e}");
        assert!(device_nodes(&m("/dev/null", "", "x")).is_err());
    }
}
