//! A container's root filesystem: an overlay of the image's shared layer dirs under a private
//! upper dir, plus the files berth generates (hostname, hosts, resolv.conf), and lookups inside
//! it that never leave it (users, groups, executables).

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Paths of one container's filesystem pieces.
pub struct RootfsPaths {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

impl RootfsPaths {
    pub fn of(container_dir: &Path) -> RootfsPaths {
        RootfsPaths {
            upper: container_dir.join("upper"),
            work: container_dir.join("work"),
            merged: container_dir.join("rootfs"),
        }
    }
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Io {
        op: "mount",
        path: p.to_path_buf(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })
}

/// Mounts the overlay (lower dirs topmost first) at `paths.merged`, creating dirs as needed.
/// A `disposable` rootfs (a `--rm` container's: its changes are deleted with it) is mounted
/// `volatile` where the kernel has it (5.10+), as podman does for `--rm`: the overlay then
/// skips syncing the whole upper filesystem when it is unmounted (up to ~12 ms here).
///
/// With `idmap` (userns-remap), each layer is an idmapped copy of its mount, so the image's
/// root shows as the container's root on the host; the upper dir's own root is chowned to it.
pub fn mount_overlay(
    lower: &[PathBuf],
    paths: &RootfsPaths,
    disposable: bool,
    idmap: Option<&crate::userns_remap::IdMap>,
) -> Result<()> {
    for d in [&paths.upper, &paths.work, &paths.merged] {
        fs::create_dir_all(d).ctx("create directory", d)?;
    }
    if is_mounted(&paths.merged) {
        return Ok(());
    }
    let empty;
    let lower: &[PathBuf] = if lower.is_empty() {
        // An image without layers (FROM scratch, nothing added): an empty lower dir.
        empty = [paths.merged.with_file_name("empty-lower")];
        fs::create_dir_all(&empty[0]).ctx("create directory", &empty[0])?;
        &empty
    } else {
        lower
    };
    // The mount options must fit in one page: with ~90 bytes per layer path that is about 40
    // layers. Longer stacks name each layer by an fd of this process (`/proc/self/fd/N`, 18
    // bytes), which the kernel resolves at mount time; the fds are closed right after.
    // Idmapped layers are named so too: they are detached mounts that only an fd holds.
    let mut _held: Vec<std::os::fd::OwnedFd> = Vec::new();
    let long = lower.iter().map(|p| p.as_os_str().len() + 1).sum::<usize>() > 3000;
    let lowers = if let Some(m) = idmap {
        let userns = crate::userns_remap::user_namespace(m)?;
        let upper_root = fs::metadata(&paths.upper).ctx("stat", &paths.upper)?;
        if std::os::unix::fs::MetadataExt::uid(&upper_root) == 0 {
            std::os::unix::fs::chown(&paths.upper, Some(m.uid), Some(m.gid))
                .ctx("chown", &paths.upper)?;
        }
        let mut names = Vec::with_capacity(lower.len());
        for p in lower {
            let fd = crate::userns_remap::idmapped_tree(p, &userns)?;
            names.push(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ));
            _held.push(fd);
        }
        names.join(":")
    } else if long {
        let mut names = Vec::with_capacity(lower.len());
        for p in lower {
            let fd = fs::File::open(p).ctx("open layer", p)?;
            names.push(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ));
            _held.push(fd.into());
        }
        names.join(":")
    } else {
        lower
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    };
    let opts = format!(
        "lowerdir={lowers},upperdir={},workdir={}",
        paths.upper.display(),
        paths.work.display()
    );
    let src = CString::new("overlay").unwrap_or_default();
    let target = cstr(&paths.merged)?;
    let mount = |opts: String| -> Result<i32> {
        let data = CString::new(opts).map_err(|_| Error::Runtime {
            id: String::new(),
            what: "mount overlay",
            reason: "path with NUL byte".into(),
        })?;
        // SAFETY: all pointers are valid NUL-terminated strings for the duration of the call.
        Ok(unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        })
    };
    // The upper dir must hold whole files and directories, since commits and builds turn it
    // into a layer: no metadata-only copy-up and no renamed directories that point back into
    // the lower layers, whatever the kernel's defaults are. Kernels that do not know these
    // options (before 4.19) have neither feature on.
    let safe = format!("{opts},redirect_dir=off,metacopy=off");
    let mut r = -1;
    if disposable {
        r = mount(format!("{safe},volatile"))?;
    }
    if r != 0 {
        // Not disposable, or a kernel without `volatile` (EINVAL).
        r = mount(safe)?;
    }
    if r != 0 {
        r = mount(opts)?;
    }
    if r != 0 {
        return Err(Error::Io {
            op: "mount overlay at",
            path: paths.merged.clone(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Unmounts the overlay if it is mounted (lazily, so a process still inside cannot block it).
pub fn unmount(merged: &Path) -> Result<()> {
    let target = cstr(merged)?;
    // SAFETY: valid NUL-terminated path.
    let r = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        // EINVAL: not a mount point (already unmounted); ENOENT: no such directory.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(Error::Io {
                op: "unmount",
                path: merged.to_path_buf(),
                source: e,
            });
        }
    }
    Ok(())
}

/// Whether `p` is a mount point (listed in /proc/self/mountinfo).
pub fn is_mounted(p: &Path) -> bool {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.to_string_lossy();
    info.lines().any(|l| l.split(' ').nth(4) == Some(&want))
}

/// Resolves `path` inside `root` as the container would see it: symlinks (absolute ones
/// relative to `root`) and `..` never leave `root`.
pub fn resolve_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    let mut pending: Vec<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            parts.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&parts);
        candidate.push(&c);
        match fs::read_link(&candidate) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    parts.clear();
                }
                for t in target.components().rev() {
                    match t {
                        Component::Normal(n) => pending.push(n.to_os_string()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => parts.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(parts);
    out
}

/// uid, gid and supplementary gids for `-u user[:group]`, from the image's /etc/passwd and
/// /etc/group (numeric ids need no entry, as in Docker).
pub fn resolve_user(root: &Path, spec: &str) -> Result<(u32, u32, Vec<u32>)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd =
        fs::read_to_string(resolve_in_root(root, Path::new("/etc/passwd"))).unwrap_or_default();
    let groups =
        fs::read_to_string(resolve_in_root(root, Path::new("/etc/group"))).unwrap_or_default();
    let (uid, mut gid, name) = if user.is_empty() {
        (0, 0, "root".to_string())
    } else if let Ok(n) = user.parse::<u32>() {
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[2] == user);
        match entry {
            Some(f) => (n, f[3].parse().unwrap_or(0), f[0].to_string()),
            None => (n, 0, String::new()),
        }
    } else {
        let f = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == user)
            .ok_or_else(|| Error::NoSuchUser(user.to_string()))?;
        (
            f[2].parse()
                .map_err(|_| Error::NoSuchUser(user.to_string()))?,
            f[3].parse().unwrap_or(0),
            user.to_string(),
        )
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| Error::NoSuchGroup(g.to_string()))?,
        };
    }
    // Supplementary groups: those listing the user as a member.
    let extra = if name.is_empty() {
        Vec::new()
    } else {
        groups
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() > 3 && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect()
    };
    Ok((uid, gid, extra))
}

/// The ids of HostConfig.GroupAdd's groups: numbers as they are, names from the image's
/// /etc/group.
pub fn resolve_groups(root: &Path, names: &[String]) -> Result<Vec<u32>> {
    let groups =
        fs::read_to_string(resolve_in_root(root, Path::new("/etc/group"))).unwrap_or_default();
    names
        .iter()
        .map(|g| match g.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => groups
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| Error::NoSuchGroup(g.to_string())),
        })
        .collect()
}

/// Checks that the command exists and is executable in the rootfs, as Docker reports it
/// before starting (exit 127 / 126).
pub fn check_command(root: &Path, cmd: &str, env: &[String], cwd: &str) -> Result<()> {
    let is_exec = |p: &Path| -> Option<bool> {
        let m = fs::metadata(resolve_in_root(root, p)).ok()?;
        Some(m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if cmd.contains('/') {
        let p = if cmd.starts_with('/') {
            PathBuf::from(cmd)
        } else {
            Path::new(cwd).join(cmd)
        };
        return match is_exec(&p) {
            Some(true) => Ok(()),
            Some(false) => Err(Error::CommandNotExecutable(cmd.to_string())),
            None => Err(Error::CommandNotFound(cmd.to_string())),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        if is_exec(&Path::new(dir).join(cmd)) == Some(true) {
            return Ok(());
        }
    }
    Err(Error::CommandNotFound(cmd.to_string()))
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What goes into a container's /etc/hosts and /etc/resolv.conf besides the host's defaults.
#[derive(Default)]
pub struct EtcFiles<'a> {
    pub hostname: &'a str,
    /// The container's own addresses (its hostname points at the first).
    pub addresses: Vec<String>,
    pub extra_hosts: &'a [(String, String)],
    /// The embedded DNS server of a user-defined network, if the container is on one.
    pub embedded_dns: Option<String>,
    pub dns: &'a [String],
    pub dns_search: &'a [String],
    pub dns_options: &'a [String],
}

/// Writes hostname, hosts and resolv.conf for the container into its directory.
pub fn write_etc_files(dir: &Path, e: &EtcFiles) -> Result<()> {
    let hostname = e.hostname;
    let mut hosts = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in e.extra_hosts {
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    match e.addresses.first() {
        Some(ip) => hosts.push_str(&format!("{ip}\t{hostname}\n")),
        None => hosts.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    fs::write(dir.join("hostname"), format!("{hostname}\n")).ctx("write", dir.join("hostname"))?;
    fs::write(dir.join("hosts"), hosts).ctx("write", dir.join("hosts"))?;
    let resolv = resolv_conf(&host_resolv_conf(), e);
    fs::write(dir.join("resolv.conf"), resolv).ctx("write", dir.join("resolv.conf"))?;
    Ok(())
}

/// The container's resolv.conf: the host's, with `--dns`, `--dns-search` and `--dns-option`
/// replacing their kind of line, or the embedded DNS server as the only nameserver.
fn resolv_conf(host: &str, e: &EtcFiles) -> String {
    let servers: Vec<String> = match &e.embedded_dns {
        Some(gw) => vec![gw.clone()],
        None if !e.dns.is_empty() => e.dns.to_vec(),
        None => Vec::new(),
    };
    let mut out = String::new();
    for l in host.lines() {
        let t = l.trim_start();
        let replaced = (t.starts_with("nameserver") && !servers.is_empty())
            || (t.starts_with("search") && !e.dns_search.is_empty())
            || (t.starts_with("options") && !e.dns_options.is_empty());
        if !replaced {
            out.push_str(l);
            out.push('\n');
        }
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !e.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", e.dns_search.join(" ")));
    }
    if !e.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", e.dns_options.join(" ")));
    }
    out
}

/// The host's resolv.conf; when the host uses a 127.0.0.x stub resolver (systemd-resolved),
/// its upstream servers instead, as Docker does.
fn host_resolv_conf() -> String {
    let main = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let stub = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .any(|ns| ns.trim().starts_with("127."));
    if stub {
        if let Ok(up) = fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return up;
        }
        return main
            .lines()
            .filter(|l| {
                !l.trim()
                    .strip_prefix("nameserver")
                    .is_some_and(|ns| ns.trim().starts_with("127."))
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            + "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    }
    main
}

/// Where a shareable container keeps its /dev/shm on the host (`--ipc shareable`), so that
/// containers joining its IPC namespace can bind the same tmpfs.
pub fn shm_dir(container_dir: &Path) -> PathBuf {
    container_dir.join("shm")
}

/// Mounts a fresh tmpfs of `size` bytes for a shareable container's /dev/shm (as Docker's
/// `mounts/shm`).
pub fn mount_shm(container_dir: &Path, size: u64) -> Result<()> {
    let dir = shm_dir(container_dir);
    fs::create_dir_all(&dir).ctx("create directory", &dir)?;
    if is_mounted(&dir) {
        return Ok(());
    }
    let target = cstr(&dir)?;
    let opts = CString::new(format!("mode=1777,size={size}")).map_err(|_| Error::Io {
        op: "mount",
        path: dir.clone(),
        source: std::io::Error::other("bad tmpfs options"),
    })?;
    // SAFETY: valid NUL-terminated strings for the duration of the call.
    let r = unsafe {
        libc::mount(
            c"shm".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            opts.as_ptr().cast(),
        )
    };
    if r != 0 {
        return Err(Error::Io {
            op: "mount shm",
            path: dir,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_overrides() {
        let host = "# comment\nnameserver 10.0.0.1\nsearch corp\noptions ndots:2\n";
        let dns = vec!["1.1.1.1".to_string()];
        let e = EtcFiles {
            dns: &dns,
            ..EtcFiles::default()
        };
        assert_eq!(
            resolv_conf(host, &e),
            "# comment\nsearch corp\noptions ndots:2\nnameserver 1.1.1.1\n"
        );
        let e = EtcFiles {
            embedded_dns: Some("172.20.0.1".into()),
            ..EtcFiles::default()
        };
        assert_eq!(
            resolv_conf(host, &e),
            "# comment\nsearch corp\noptions ndots:2\nnameserver 172.20.0.1\n"
        );
        assert_eq!(resolv_conf(host, &EtcFiles::default()), host);
    }

    #[test]
    fn resolution_stays_inside_root() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("bin")).unwrap();
        fs::create_dir_all(r.join("etc")).unwrap();
        std::os::unix::fs::symlink("/bin", r.join("usrbin")).unwrap();
        std::os::unix::fs::symlink("../../../../etc/shadow", r.join("escape")).unwrap();
        assert_eq!(
            resolve_in_root(r, Path::new("/usrbin/sh")),
            r.join("bin/sh")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/escape")),
            r.join("etc/shadow")
        );
        assert_eq!(
            resolve_in_root(r, Path::new("/../../etc/passwd")),
            r.join("etc/passwd")
        );
    }

    #[test]
    fn users_from_the_image() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::write(
            r.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            r.join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\n",
        )
        .unwrap();
        assert_eq!(resolve_user(r, "app").unwrap(), (1000, 1000, vec![10]));
        assert_eq!(resolve_user(r, "app:wheel").unwrap(), (1000, 10, vec![]));
        assert_eq!(resolve_user(r, "4242:4343").unwrap(), (4242, 4343, vec![]));
        assert!(matches!(
            resolve_user(r, "nobody"),
            Err(Error::NoSuchUser(_))
        ));
        assert!(matches!(
            resolve_user(r, "app:nogroup"),
            Err(Error::NoSuchGroup(_))
        ));
    }
}
