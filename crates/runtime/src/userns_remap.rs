//! User-namespace remapping, dockerd's `userns-remap`: a container's root is an unprivileged
//! range of host ids taken from /etc/subuid and /etc/subgid, so a process that escapes the
//! container is nobody on the host.
//!
//! berth has no daemon to start with the option: it is the `userns-remap` key of the store's
//! `daemon.json` (`ROOT/daemon.json`, Docker's key and values: `default`, `USER`,
//! `USER:GROUP`, names or numbers). Containers created while it is set run remapped unless
//! created with `--userns host`; each records its mapping, so changing the setting later
//! changes only new containers.
//!
//! Docker keeps a second copy of every image layer, chowned into the range. berth does not:
//! the container's overlay stacks *idmapped* mounts of the shared layers (`open_tree` +
//! `mount_setattr(MOUNT_ATTR_IDMAP)`, overlayfs accepts them as lower layers since Linux
//! 5.19), so the same store serves remapped and unremapped containers, and nothing is copied.

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// Where a container's ids start on the host: container id `n` is host id `uid + n` for
/// `n < uid_size` (and the same for groups). Ids outside the range show as nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub uid: u32,
    pub uid_size: u32,
    pub gid: u32,
    pub gid_size: u32,
}

impl From<&IdMap> for berth_image::layer::IdShift {
    fn from(m: &IdMap) -> Self {
        berth_image::layer::IdShift {
            uid: m.uid,
            uid_size: m.uid_size,
            gid: m.gid,
            gid_size: m.gid_size,
        }
    }
}

impl From<IdMap> for berth_image::layer::IdShift {
    fn from(m: IdMap) -> Self {
        (&m).into()
    }
}

/// The user Docker creates and maps for `userns-remap: default`.
pub const DEFAULT_REMAP_USER: &str = "dockremap";
/// The size of the range added for a user that has none (Docker's).
const DEFAULT_RANGE_SIZE: u32 = 65536;
/// Where the first range added for a user starts (shadow-utils' SUB_UID_MIN).
const FIRST_RANGE_START: u64 = 100_000;

/// The store's `daemon.json` setting, if any. A file that is not JSON, or that has keys
/// berth does not know, is refused naming the file and the key (dockerd refuses an unknown
/// key too).
pub fn configured(root: &Path) -> Result<Option<String>> {
    let path = root.join("daemon.json");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                op: "read",
                path,
                source: e,
            })
        }
    };
    let invalid = |what: String| Error::Invalid(format!("{}: {what}", path.display()));
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let serde_json::Value::Object(map) = v else {
        return Err(invalid("expected a JSON object".into()));
    };
    let mut remap = None;
    for (k, v) in map {
        match (k.as_str(), v) {
            ("userns-remap", serde_json::Value::String(s)) if s.is_empty() => {}
            ("userns-remap", serde_json::Value::String(s)) => remap = Some(s),
            ("userns-remap", _) => {
                return Err(invalid(
                    "userns-remap: expected a string (default, USER or USER:GROUP)".into(),
                ))
            }
            (other, _) => {
                return Err(invalid(format!(
                    "the following directives don't match any configuration option: {other}"
                )))
            }
        }
    }
    Ok(remap)
}

/// One line of /etc/passwd or /etc/group: its name and id.
fn lookup(db: &Path, key: &str) -> Result<Option<(String, u32)>> {
    let text = fs::read_to_string(db).ctx("read", db)?;
    Ok(text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (name == key || key.parse() == Ok(id)).then(|| (name.to_string(), id))
    }))
}

/// The subordinate ranges /etc/subuid or /etc/subgid gives `name` (or its id), in file order.
fn ranges(db: &Path, name: &str, id: u32) -> Result<Vec<(u64, u64)>> {
    let text = match fs::read_to_string(db) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Error::Io {
                op: "read",
                path: db.to_path_buf(),
                source: e,
            })
        }
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let who = f.next()?;
            let start: u64 = f.next()?.parse().ok()?;
            let count: u64 = f.next()?.parse().ok()?;
            (who == name || who.parse() == Ok(id)).then_some((start, count))
        })
        .filter(|&(_, count)| count > 0)
        .collect())
}

/// The first host id after every range of `db` (never below 100000): where a new range for a
/// user without one goes, as Docker places dockremap's.
fn next_free_start(db: &Path) -> Result<u64> {
    let text = fs::read_to_string(db).unwrap_or_default();
    let end = text
        .lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':').skip(1);
            let start: u64 = f.next()?.parse().ok()?;
            let count: u64 = f.next()?.parse().ok()?;
            Some(start + count)
        })
        .max()
        .unwrap_or(0);
    Ok(end.max(FIRST_RANGE_START))
}

/// Resolves a `userns-remap` value against the user databases in `etc` (`/etc` on a host).
/// `default` is the `dockremap` user, made (with its ranges) when missing as dockerd makes
/// it; any other user must exist and have ranges already (Docker's rule).
pub fn resolve(setting: &str, etc: &Path) -> Result<IdMap> {
    let (user, group) = match setting.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (setting, None),
    };
    let (passwd, groups) = (etc.join("passwd"), etc.join("group"));
    let (subuid, subgid) = (etc.join("subuid"), etc.join("subgid"));
    if user == "default" {
        if lookup(&passwd, DEFAULT_REMAP_USER)?.is_none() {
            add_system_user(etc, DEFAULT_REMAP_USER)?;
        }
        let (_, uid) = lookup(&passwd, DEFAULT_REMAP_USER)?.ok_or_else(|| {
            Error::Invalid(format!(
                "userns-remap: could not create the user {DEFAULT_REMAP_USER}"
            ))
        })?;
        let gid = lookup(&groups, DEFAULT_REMAP_USER)?.map_or(uid, |(_, g)| g);
        for (db, id) in [(&subuid, uid), (&subgid, gid)] {
            if ranges(db, DEFAULT_REMAP_USER, id)?.is_empty() {
                let start = next_free_start(db)?;
                append_line(
                    db,
                    &format!("{DEFAULT_REMAP_USER}:{start}:{DEFAULT_RANGE_SIZE}\n"),
                )?;
            }
        }
        return resolve(DEFAULT_REMAP_USER, etc);
    }
    let (user_name, uid) = lookup(&passwd, user)?.ok_or_else(|| {
        Error::Invalid(format!(
            "userns-remap: error during uid lookup for {user:?}: no such user in {}",
            passwd.display()
        ))
    })?;
    // Without a group, the group named as the user (Docker's rule).
    let group_key = group.unwrap_or(&user_name);
    let (group_name, gid) = match lookup(&groups, group_key)? {
        Some(g) => g,
        None if group.is_none() => (user_name.clone(), uid),
        None => {
            return Err(Error::Invalid(format!(
                "userns-remap: error during gid lookup for {group_key:?}: no such group in {}",
                groups.display()
            )))
        }
    };
    let first = |db: &Path, name: &str, id: u32, what: &str| -> Result<(u32, u32)> {
        let r = ranges(db, name, id)?;
        let &(start, count) = r.first().ok_or_else(|| {
            Error::Invalid(format!(
                "userns-remap: no {what} ranges found for {name:?} in {}",
                db.display()
            ))
        })?;
        let start = u32::try_from(start)
            .map_err(|_| Error::Invalid(format!("{}: range start too large", db.display())))?;
        Ok((start, count.min(u64::from(u32::MAX - start)) as u32))
    };
    let (uid_start, uid_size) = first(&subuid, &user_name, uid, "subuid")?;
    let (gid_start, gid_size) = first(&subgid, &group_name, gid, "subgid")?;
    Ok(IdMap {
        uid: uid_start,
        uid_size,
        gid: gid_start,
        gid_size,
    })
}

fn append_line(db: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(db)
        .ctx("open", db)?;
    f.write_all(line.as_bytes()).ctx("write", db)
}

/// Makes a system user without a login, as dockerd makes dockremap (with useradd, else
/// BusyBox's adduser). Only against the host's own databases.
fn add_system_user(etc: &Path, name: &str) -> Result<()> {
    if etc != Path::new("/etc") {
        return Err(Error::Invalid(format!(
            "userns-remap: no user {name} in {}",
            etc.join("passwd").display()
        )));
    }
    let tries: [&[&str]; 2] = [
        &["useradd", "-r", "-s", "/bin/false", name],
        &["adduser", "-S", "-H", "-s", "/bin/false", name],
    ];
    for args in tries {
        if let Ok(s) = std::process::Command::new(args[0])
            .args(&args[1..])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
        {
            if s.success() {
                return Ok(());
            }
        }
    }
    Err(Error::Invalid(format!(
        "userns-remap: could not add the user {name} (neither useradd nor adduser worked)"
    )))
}

/// A user namespace with `map`'s mappings, as an fd to give `mount_setattr`. Made by a forked
/// child that unshares it and waits until this side has written the maps and opened it.
pub(crate) fn user_namespace(map: &IdMap) -> Result<OwnedFd> {
    user_namespace_of(
        &format!("0 {} {}\n", map.uid, map.uid_size),
        &format!("0 {} {}\n", map.gid, map.gid_size),
    )
}

/// A view of `dir` with the container's host ids shifted back to the container's own (host
/// id `map.uid + n` shows as `n`), as an fd that holds it and its `/proc/self/fd/N` path:
/// what a commit or diff reads of a remapped container's upper dir, so its layer has the
/// image's owners, not the host's.
pub(crate) fn unshifted_view(dir: &Path, map: &IdMap) -> Result<(OwnedFd, std::path::PathBuf)> {
    let userns = user_namespace_of(
        &format!("{} 0 {}\n", map.uid, map.uid_size),
        &format!("{} 0 {}\n", map.gid, map.gid_size),
    )?;
    let tree = idmapped_tree(dir, &userns)?;
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", tree.as_raw_fd()));
    Ok((tree, path))
}

/// A user namespace with these `uid_map` and `gid_map` lines.
fn user_namespace_of(uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    let err = |what: &'static str, e: std::io::Error| Error::Io {
        op: what,
        path: "/proc/self/ns/user".into(),
        source: e,
    };
    let (told_r, told_w) = crate::process::pipe()?;
    let (hold_r, hold_w) = crate::process::pipe()?;
    // SAFETY: the child makes only async-signal-safe system calls on fds it inherited, then
    // `_exit`s: nothing of this process's threads, locks or allocator is touched.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(err("fork", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: see above; raw fds of the pipes this process made.
        unsafe {
            libc::close(hold_w.as_raw_fd());
            let ok: u8 = (libc::unshare(libc::CLONE_NEWUSER) == 0).into();
            libc::write(told_w.as_raw_fd(), (&ok as *const u8).cast(), 1);
            let mut b = 0u8;
            // Returns at EOF: the parent is done with the namespace.
            libc::read(hold_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop((told_w, hold_r));
    let reap = |hold: OwnedFd| {
        drop(hold);
        let mut status = 0;
        // SAFETY: waiting for the child forked above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
    };
    let mut ok = 0u8;
    // SAFETY: reading one byte into a local.
    let n = unsafe { libc::read(told_r.as_raw_fd(), (&mut ok as *mut u8).cast(), 1) };
    if n != 1 || ok != 1 {
        let e = std::io::Error::last_os_error();
        reap(hold_w);
        return Err(err("unshare a user namespace", e));
    }
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let written = fs::write(proc_dir.join("uid_map"), uid_map)
        .and_then(|()| fs::write(proc_dir.join("setgroups"), "deny"))
        .and_then(|()| fs::write(proc_dir.join("gid_map"), gid_map))
        .and_then(|()| fs::File::open(proc_dir.join("ns/user")));
    reap(hold_w);
    written
        .map(OwnedFd::from)
        .map_err(|e| err("map ids of a user namespace", e))
}

/// What an exec into a remapped container does in its new process, before the command:
/// join the container's user namespace (libcontainer 0.7's exec joins all the others but
/// not that one), then become the exec's user there.
pub(crate) struct UserNamespaceJoin {
    ns: OwnedFd,
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
}

impl UserNamespaceJoin {
    /// For an exec of `p` into the container whose init is `pid`: none when that container
    /// shares this process's user namespace.
    pub(crate) fn of(
        pid: i32,
        p: &crate::engine::ExecProcess,
    ) -> std::io::Result<Option<UserNamespaceJoin>> {
        use std::os::unix::fs::MetadataExt;
        let theirs = format!("/proc/{pid}/ns/user");
        let (a, b) = (fs::metadata(&theirs)?, fs::metadata("/proc/self/ns/user")?);
        if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
            return Ok(None);
        }
        Ok(Some(UserNamespaceJoin {
            ns: fs::File::open(&theirs)?.into(),
            uid: p.uid,
            gid: p.gid,
            groups: p.additional_gids.clone(),
        }))
    }

    /// Runs in the exec's own process (a clone of a multithreaded berth): raw system calls,
    /// not the C library's set*id wrappers, which would signal threads the clone does not
    /// have and wait for them.
    pub(crate) fn enter(&self) -> std::io::Result<()> {
        let check = |r: libc::c_long| {
            if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        // SAFETY: plain system calls on an fd this struct owns and on ids.
        unsafe {
            check(libc::setns(self.ns.as_raw_fd(), libc::CLONE_NEWUSER).into())?;
            check(libc::syscall(
                libc::SYS_setgroups,
                self.groups.len(),
                self.groups.as_ptr(),
            ))?;
            check(libc::syscall(
                libc::SYS_setresgid,
                self.gid,
                self.gid,
                self.gid,
            ))?;
            check(libc::syscall(
                libc::SYS_setresuid,
                self.uid,
                self.uid,
                self.uid,
            ))?;
        }
        Ok(())
    }
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// A detached copy of the mount of `dir`, its owners shifted by the user namespace `userns`
/// (host id `n` shows as the id `n` maps to). Usable as an overlay lower layer by its
/// `/proc/self/fd/N` path; it vanishes with its last reference.
pub(crate) fn idmapped_tree(dir: &Path, userns: &OwnedFd) -> Result<OwnedFd> {
    let io = |op: &'static str| Error::Io {
        op,
        path: dir.to_path_buf(),
        source: std::io::Error::last_os_error(),
    };
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::Io {
        op: "open layer",
        path: dir.to_path_buf(),
        source: std::io::ErrorKind::InvalidInput.into(),
    })?;
    // SAFETY: a valid path; the result is a new fd this function owns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io("clone the mount of layer"));
    }
    // SAFETY: `fd` was just returned by open_tree and is owned by nobody else.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    // SAFETY: `attr` lives across the call and its size is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        return Err(io("idmap the mount of layer (needs Linux 5.19+ and a filesystem that supports idmapped mounts)"));
    }
    Ok(tree)
}

/// Lets a remapped container's root reach what its runtime mounts from berth's directories
/// (its rootfs, /etc files, volumes): search permission for others on `dirs`, nothing more
/// (Docker makes /var/lib/docker 0711 under userns-remap for the same reason). Listing and
/// reading stay owner-only.
pub(crate) fn grant_traversal(dirs: &[&Path]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in dirs {
        let m = fs::metadata(d).ctx("stat", d)?;
        let mode = m.permissions().mode() & 0o7777;
        if mode & 0o001 == 0 {
            fs::set_permissions(d, fs::Permissions::from_mode(mode | 0o001)).ctx("chmod", d)?;
        }
    }
    Ok(())
}

/// Gives what berth made for a container (its /etc files, an empty new volume, a working
/// directory it created) to the container's root, as Docker does under userns-remap.
pub(crate) fn give_to_root(paths: &[&Path], m: &IdMap) -> Result<()> {
    for p in paths {
        std::os::unix::fs::lchown(p, Some(m.uid), Some(m.gid)).ctx("chown", p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn a_user_and_group_are_resolved_to_their_first_ranges() {
        let d = etc(&[
            (
                "passwd",
                "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
            ),
            ("group", "root:x:0:\nalice:x:1000:\nstaff:x:50:\n"),
            (
                "subuid",
                "bob:100000:65536\nalice:165536:65536\nalice:300000:10\n",
            ),
            ("subgid", "1000:200000:1000\nstaff:400000:500\n"),
        ]);
        assert_eq!(
            resolve("alice", d.path()).unwrap(),
            IdMap {
                uid: 165536,
                uid_size: 65536,
                gid: 200000,
                gid_size: 1000
            },
            "the group defaults to the user's; subgid may name it by number"
        );
        assert_eq!(resolve("1000:staff", d.path()).unwrap().gid, 400000);
        let e = resolve("carol", d.path()).unwrap_err().to_string();
        assert!(e.contains("no such user"), "{e}");
        let e = resolve("root", d.path()).unwrap_err().to_string();
        assert!(e.contains("no subuid ranges found for \"root\""), "{e}");
        let e = resolve("alice:nogroup", d.path()).unwrap_err().to_string();
        assert!(e.contains("no such group"), "{e}");
    }

    #[test]
    fn default_gets_a_range_after_the_others() {
        let d = etc(&[
            ("passwd", "dockremap:x:998:998::/:/bin/false\n"),
            ("group", "dockremap:x:998:\n"),
            ("subuid", "alice:100000:65536\nbob:165536:65536\n"),
        ]);
        let m = resolve("default", d.path()).unwrap();
        assert_eq!((m.uid, m.uid_size), (231072, 65536));
        assert_eq!((m.gid, m.gid_size), (100000, 65536), "no subgid file yet");
        // Asked again, the same ranges: nothing more is added.
        assert_eq!(resolve("default", d.path()).unwrap(), m);
        let subuid = fs::read_to_string(d.path().join("subuid")).unwrap();
        assert_eq!(subuid.matches("dockremap").count(), 1, "{subuid}");
        // Without the user, a test directory is not the host: it is not made.
        let bare = etc(&[("passwd", ""), ("group", "")]);
        assert!(resolve("default", bare.path()).is_err());
    }

    #[test]
    fn daemon_json_is_read_with_dockers_key_and_checked() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(configured(d.path()).unwrap(), None);
        fs::write(
            d.path().join("daemon.json"),
            r#"{"userns-remap": "default"}"#,
        )
        .unwrap();
        assert_eq!(configured(d.path()).unwrap().as_deref(), Some("default"));
        fs::write(d.path().join("daemon.json"), r#"{"userns-remap": ""}"#).unwrap();
        assert_eq!(configured(d.path()).unwrap(), None);
        fs::write(d.path().join("daemon.json"), r#"{"debug": true}"#).unwrap();
        let e = configured(d.path()).unwrap_err().to_string();
        assert!(e.contains("daemon.json") && e.contains("debug"), "{e}");
        fs::write(d.path().join("daemon.json"), "{").unwrap();
        let e = configured(d.path()).unwrap_err().to_string();
        assert!(e.contains("not valid JSON"), "{e}");
    }
}
