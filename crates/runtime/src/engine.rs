//! The OCI runtime underneath, behind a small trait so it can be swapped (or faked in tests).
//! The implementation is youki's `libcontainer`, in-process: no runc binary to exec.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::rootfs::RootfsPaths;

/// Standard streams handed to the container's process.
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

pub trait OciRuntime {
    /// Creates and starts the container described by `bundle/config.json`; returns the pid of
    /// its init process, which is a child of the calling process. `created` runs after the
    /// container exists and before its process starts, with the init's pid (to size its
    /// terminal and wire its network namespace first).
    /// With `console_socket`, the process gets a pseudo-terminal whose master end is sent to
    /// that unix socket.
    fn run(
        &self,
        id: &str,
        bundle: &Path,
        stdio: Stdio,
        console_socket: Option<&Path>,
        created: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<i32>;
    /// Removes the runtime's state and the container's cgroup (the process must be gone).
    fn delete(&self, id: &str) -> Result<()>;
    /// Starts another process in the running container's namespaces and cgroup; returns its
    /// pid (a child of the calling process).
    fn exec(
        &self,
        id: &str,
        p: &ExecProcess,
        stdio: Stdio,
        console_socket: Option<&Path>,
    ) -> Result<i32>;
    /// Mounts the container's root filesystem (`lower` layers, topmost first, under the
    /// container's own upper layer) at `paths.merged`; `disposable` when it is thrown away
    /// with the container (`--rm`: no sync on unmount). As containerd's shim does before it
    /// calls runc.
    /// `idmap`: the container's ids on the host (userns-remap): the layers are seen shifted.
    fn mount_rootfs(
        &self,
        lower: &[PathBuf],
        paths: &RootfsPaths,
        disposable: bool,
        idmap: Option<&crate::userns_remap::IdMap>,
    ) -> Result<()>;
    /// Unmounts what `mount_rootfs` mounted (nothing mounted is not an error).
    fn unmount_rootfs(&self, merged: &Path) -> Result<()>;
    /// Sends `signal` to the container's init process `pid`.
    fn kill(&self, id: &str, pid: i32, signal: i32);
    /// Freezes (`pause`) or thaws every process of the container.
    fn set_frozen(&self, id: &str, frozen: bool) -> Result<()>;
    /// Whether the kernel's OOM killer killed a process of the container.
    fn oom_killed(&self, id: &str) -> bool;
}

/// A process to start in a running container.
#[derive(Clone)]
pub struct ExecProcess {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privileges: bool,
    pub tty: bool,
}

pub struct Youki {
    /// libcontainer's own state directory.
    pub state_root: PathBuf,
}

fn rt_err(id: &str, what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Runtime {
        id: id.to_string(),
        what,
        reason: explain(&e.to_string()),
    }
}

/// libcontainer's words for what went wrong, with what they usually mean for the user and
/// what to change. The container's init reports only its last error's text (its causes stay
/// in the cloned process), so the hint comes from that text. berth checks the usual causes
/// before the runtime runs; these are for what those checks cannot see.
fn explain(reason: &str) -> String {
    const HINTS: &[(&[&str], &str)] = &[
        (
            &["failed to prepare rootfs"],
            "one of the container's mounts (-v, --mount, --tmpfs, --device) could not be made: check that each host path exists and that sources and targets are both files or both directories",
        ),
        (
            &["procfs"],
            "a --sysctl could not be set: check that the kernel has that parameter in the container's namespaces",
        ),
        (
            &["cgroup", "Invalid argument"],
            "the kernel refused one of the container's limits (--cpuset-cpus, --cpuset-mems, --memory, --cpus, --blkio-*): check the values against what this host has",
        ),
        (
            &["cgroup", "Device or resource busy"],
            "the kernel refused a limit the container's processes already exceed (a memory limit below what they use)",
        ),
        (
            &["Permission denied"],
            "the container's user may not open a file it needs (check --user, the image's file modes and the mounts' owners)",
        ),
    ];
    match HINTS
        .iter()
        .find(|(all, _)| all.iter().all(|w| reason.contains(w)))
    {
        Some((_, hint)) => format!("{reason} ({hint})"),
        None => reason.to_string(),
    }
}

impl OciRuntime for Youki {
    fn mount_rootfs(
        &self,
        lower: &[PathBuf],
        paths: &RootfsPaths,
        disposable: bool,
        idmap: Option<&crate::userns_remap::IdMap>,
    ) -> Result<()> {
        crate::rootfs::mount_overlay(lower, paths, disposable, idmap)
    }

    fn unmount_rootfs(&self, merged: &Path) -> Result<()> {
        crate::rootfs::unmount(merged)
    }

    fn kill(&self, id: &str, pid: i32, signal: i32) {
        crate::process::signal_container(id, pid, signal);
    }

    fn set_frozen(&self, id: &str, frozen: bool) -> Result<()> {
        let what = if frozen { "pause" } else { "unpause" };
        let mut c = libcontainer::container::Container::load(self.state_root.join(id))
            .map_err(|e| rt_err(id, "load", e))?;
        let r = if frozen { c.pause() } else { c.resume() };
        r.map_err(|e| rt_err(id, what, e))
    }

    fn oom_killed(&self, id: &str) -> bool {
        crate::cgroups::CgroupFs::host().oom_killed(id)
    }

    fn run(
        &self,
        id: &str,
        bundle: &Path,
        stdio: Stdio,
        console_socket: Option<&Path>,
        created: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<i32> {
        use libcontainer::container::builder::ContainerBuilder;
        use libcontainer::syscall::syscall::SyscallType;
        crate::fork_safety::clone3_falls_back_in_this_thread();
        std::fs::create_dir_all(&self.state_root).map_err(|e| rt_err(id, "create state dir", e))?;
        // Shared while creating: the parent cgroups must not be removed under us.
        let cgroup_lock = cgroup_lock(libc::LOCK_SH);
        let cwd_held = process_cwd_lock();
        let mut container = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(&self.state_root)
            .map_err(|e| rt_err(id, "runtime state", e))?
            .with_stdin(stdio.stdin)
            .with_stdout(stdio.stdout)
            .with_stderr(stdio.stderr)
            .with_console_socket(console_socket)
            .validate_id()
            .map_err(|e| rt_err(id, "container id", e))?
            .with_executor(FilterExecutor::from_bundle(bundle))
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| rt_err(id, "create", e))?;
        drop(cwd_held);
        drop(cgroup_lock);
        let Some(pid) = container.pid().map(|p| p.as_raw()) else {
            let _ = container.delete(true);
            return Err(rt_err(id, "create", "the runtime reported no pid"));
        };
        if let Err(e) = created(pid) {
            let _ = container.delete(true);
            return Err(e);
        }
        let cwd_held = process_cwd_lock();
        if let Err(e) = container.start() {
            let _ = container.delete(true);
            return Err(rt_err(id, "start", e));
        }
        drop(cwd_held);
        container
            .pid()
            .map(|p| p.as_raw())
            .ok_or_else(|| rt_err(id, "start", "the runtime reported no pid"))
    }

    fn exec(
        &self,
        id: &str,
        p: &ExecProcess,
        stdio: Stdio,
        console_socket: Option<&Path>,
    ) -> Result<i32> {
        use libcontainer::container::builder::ContainerBuilder;
        use libcontainer::syscall::syscall::SyscallType;
        crate::fork_safety::clone3_falls_back_in_this_thread();
        let env = p
            .env
            .iter()
            .filter_map(|e| {
                e.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        let (mut executor, init_pid) =
            match libcontainer::container::Container::load(self.state_root.join(id)) {
                Ok(c) => (FilterExecutor::from_bundle(c.bundle()), c.pid()),
                Err(e) => return Err(rt_err(id, "exec", e)),
            };
        // libcontainer 0.7 joins every namespace of the container but its user namespace:
        // the process then starts as the host's root and takes the user on the way in.
        let mut p = std::borrow::Cow::Borrowed(p);
        if let Some(join) = init_pid
            .map(|pid| crate::userns_remap::UserNamespaceJoin::of(pid.as_raw(), p.as_ref()))
            .transpose()
            .map_err(|e| rt_err(id, "exec", e))?
            .flatten()
        {
            let p = p.to_mut();
            (p.uid, p.gid) = (0, 0);
            p.additional_gids.clear();
            executor.userns = Some(std::sync::Arc::new(join));
        }
        let p = p.as_ref();
        // A terminal can only be asked for through a whole process.json.
        let process_file = if p.tty {
            let caps = &p.caps;
            // As the container's own process: CAP_SYS_ADMIN held only to load the filter.
            let mut held = caps.clone();
            if executor.program.is_some()
                && !p.no_new_privileges
                && !caps.iter().any(|c| c == "CAP_SYS_ADMIN")
            {
                held.push("CAP_SYS_ADMIN".to_string());
            }
            let process = serde_json::json!({
                "terminal": true,
                "user": {"uid": p.uid, "gid": p.gid, "additionalGids": p.additional_gids},
                "args": p.args,
                "env": p.env,
                "cwd": p.cwd,
                "capabilities": {"bounding": caps, "effective": held, "permitted": held},
                "noNewPrivileges": p.no_new_privileges,
            });
            let path = self.state_root.join(format!(
                "exec-{}-{}.json",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            ));
            std::fs::write(&path, process.to_string())
                .map_err(|e| rt_err(id, "write exec process", e))?;
            Some(path)
        } else {
            None
        };
        let cwd_held = process_cwd_lock();
        let built = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(&self.state_root)
            .map_err(|e| rt_err(id, "runtime state", e))?
            .with_stdin(stdio.stdin)
            .with_stdout(stdio.stdout)
            .with_stderr(stdio.stderr)
            .with_console_socket(console_socket)
            .with_executor(executor)
            .as_tenant()
            .with_process(process_file.as_ref())
            .with_container_args(p.args.clone())
            .with_env(env)
            .with_cwd(Some(&p.cwd))
            .with_user(Some(p.uid))
            .with_group(Some(p.gid))
            .with_additional_gids(p.additional_gids.clone())
            .with_capabilities(p.caps.clone())
            .with_no_new_privs(p.no_new_privileges)
            .with_detach(true)
            .build();
        drop(cwd_held);
        if let Some(f) = process_file {
            let _ = std::fs::remove_file(f);
        }
        Ok(built.map_err(|e| rt_err(id, "exec", e))?.as_raw())
    }

    fn delete(&self, id: &str) -> Result<()> {
        let dir = self.state_root.join(id);
        if !dir.exists() {
            return Ok(());
        }
        // Once the container's processes are gone, its cgroups are empty directories:
        // removing them and the state directory is all libcontainer's delete would do here,
        // without reading /proc/self/mountinfo once per controller (~3 ms of every `run`).
        // Anything else (a process still there) goes through libcontainer, which kills it.
        if remove_empty_cgroups(std::path::Path::new("/sys/fs/cgroup"), id) {
            std::fs::remove_dir_all(&dir).map_err(|e| rt_err(id, "delete runtime state", e))?;
            remove_unheld_parent_cgroups(Path::new(CGROUP_LOCK_DIR), Path::new(CGROUP_ROOT));
            return Ok(());
        }
        let r = match libcontainer::container::Container::load(dir.clone()) {
            Ok(mut c) => c.delete(true).map_err(|e| rt_err(id, "delete", e)),
            Err(_) => {
                std::fs::remove_dir_all(&dir).map_err(|e| rt_err(id, "delete runtime state", e))
            }
        };
        remove_unheld_parent_cgroups(Path::new(CGROUP_LOCK_DIR), Path::new(CGROUP_ROOT));
        r
    }
}

/// Runs the container's command as libcontainer's default executor does, after loading the
/// bundle's compiled seccomp program (see `seccomp_program`).
#[derive(Clone)]
struct FilterExecutor {
    program: Option<std::sync::Arc<crate::seccomp_program::Program>>,
    /// An exec's way into the user namespace of a remapped container.
    userns: Option<std::sync::Arc<crate::userns_remap::UserNamespaceJoin>>,
}

impl FilterExecutor {
    fn from_bundle(bundle: &Path) -> FilterExecutor {
        let file = bundle.join(crate::seccomp_program::BUNDLE_FILE);
        FilterExecutor {
            program: crate::seccomp_program::read_program(&file).map(std::sync::Arc::new),
            userns: None,
        }
    }
}

impl libcontainer::workload::Executor for FilterExecutor {
    fn exec(
        &self,
        spec: &oci_spec::runtime::Spec,
    ) -> Result<(), libcontainer::workload::ExecutorError> {
        if let Some(join) = &self.userns {
            let other = |e: String| libcontainer::workload::ExecutorError::Other(e);
            join.enter()
                .map_err(|e| other(format!("joining the container's user namespace: {e}")))?;
            // Entering gave every capability in the namespace: back to the process's own.
            let syscall = libcontainer::syscall::syscall::create_syscall();
            libcontainer::capabilities::reset_effective(syscall.as_ref())
                .map_err(|e| other(format!("resetting capabilities: {e}")))?;
            if let Some(caps) = spec
                .process()
                .as_ref()
                .and_then(|p| p.capabilities().as_ref())
            {
                libcontainer::capabilities::drop_privileges(caps, syscall.as_ref())
                    .map_err(|e| other(format!("dropping capabilities: {e}")))?;
            }
        }
        if let Some(program) = &self.program {
            crate::seccomp_program::install(program).map_err(|e| {
                libcontainer::workload::ExecutorError::Other(format!(
                    "loading the seccomp filter: {e}"
                ))
            })?;
        }
        libcontainer::workload::default::DefaultExecutor {}.exec(spec)
    }

    fn validate(
        &self,
        spec: &oci_spec::runtime::Spec,
    ) -> Result<(), libcontainer::workload::ExecutorValidationError> {
        libcontainer::workload::default::DefaultExecutor {}.validate(spec)
    }

    /// The container's environment, set as libcontainer's default does but with libc's own
    /// calls. This runs in a process cloned (without exec) from a multithreaded berth: Rust's
    /// environment lock, held by another thread at the moment of the clone (a `Command` being
    /// spawned, an `env::var`), stays held in the clone forever, and the default's
    /// `env::remove_var` then waited for it (seen with build stages running at once).
    fn setup_envs(
        &self,
        envs: std::collections::HashMap<String, String>,
    ) -> Result<(), libcontainer::workload::ExecutorSetEnvsError> {
        // SAFETY: this process is the clone's single thread; its environment is replaced
        // before the container's command is executed, and nothing holds pointers into it.
        if unsafe { libc::clearenv() } != 0 {
            return Err(libcontainer::workload::ExecutorSetEnvsError::Other(
                "clearenv failed".into(),
            ));
        }
        for (k, v) in envs {
            let (Ok(key), Ok(value)) = (std::ffi::CString::new(k), std::ffi::CString::new(v))
            else {
                continue;
            };
            // SAFETY: as above; two valid NUL-terminated strings, which setenv copies.
            if unsafe { libc::setenv(key.as_ptr(), value.as_ptr(), 1) } != 0 {
                return Err(libcontainer::workload::ExecutorSetEnvsError::Other(
                    format!("setenv {key:?}: {}", std::io::Error::last_os_error()),
                ));
            }
        }
        Ok(())
    }
}

/// Where the cgroup lock lives, and the cgroup filesystem.
const CGROUP_LOCK_DIR: &str = "/run/berth";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A host-wide lock between creating containers (shared) and removing the shared `berth`
/// parent cgroups (exclusive): without it a parent removed at the wrong moment made a
/// concurrent creation fail. None if the lock is not to be had (then nothing is removed).
fn cgroup_lock(mode: libc::c_int) -> Option<CgroupLock> {
    cgroup_lock_at(Path::new(CGROUP_LOCK_DIR), mode)
}

fn cgroup_lock_at(dir: &Path, mode: libc::c_int) -> Option<CgroupLock> {
    let _ = std::fs::create_dir_all(dir);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("cgroups.lock"))
        .ok()?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; released by `CgroupLock`'s Drop.
    (unsafe { libc::flock(f.as_raw_fd(), mode) } == 0).then_some(CgroupLock(f))
}

/// After a container's cgroups are gone: the shared parents too, if empty and nobody holds
/// the lock (a creation anywhere on the host, or a `ParentCgroupsKept`); never waits.
fn remove_unheld_parent_cgroups(lock_dir: &Path, root: &Path) {
    if let Some(_exclusive) = cgroup_lock_at(lock_dir, libc::LOCK_EX | libc::LOCK_NB) {
        remove_empty_parent_cgroups(root);
    }
}

/// For a long-lived caller (`berth serve`; dockerd keeps `/sys/fs/cgroup/*/docker` the same
/// way): the shared `berth` parent cgroups stay while it is held, instead of being made and
/// removed again around every container (two cgroupfs operations per hierarchy and
/// container under v1). It is a shared hold of the cgroup lock, which removals of the parents
/// respect; when it is dropped, parents left empty are removed as after any container.
pub struct ParentCgroupsKept {
    held: Option<CgroupLock>,
    lock_dir: PathBuf,
    root: PathBuf,
}

impl ParentCgroupsKept {
    pub fn keep() -> ParentCgroupsKept {
        ParentCgroupsKept::keep_at(Path::new(CGROUP_LOCK_DIR), Path::new(CGROUP_ROOT))
    }

    fn keep_at(lock_dir: &Path, root: &Path) -> ParentCgroupsKept {
        ParentCgroupsKept {
            held: cgroup_lock_at(lock_dir, libc::LOCK_SH),
            lock_dir: lock_dir.to_path_buf(),
            root: root.to_path_buf(),
        }
    }
}

impl Drop for ParentCgroupsKept {
    fn drop(&mut self) {
        drop(self.held.take());
        remove_unheld_parent_cgroups(&self.lock_dir, &self.root);
    }
}

/// The cgroup lock, held until dropped. flock locks belong to the open file, which a container
/// process cloned (not exec'd) from this one meanwhile shares: closing ours would leave the
/// lock held as long as that process lives, so it is released explicitly.
struct CgroupLock(std::fs::File);

impl Drop for CgroupLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Removes the container's cgroups (`berth/<id>` in every v1 hierarchy, or in the v2 tree
/// at `root`) if they are all empty; false if one is not (nothing else is left half-done:
/// rmdir only ever removes an empty cgroup, and libcontainer then removes the rest).
fn remove_empty_cgroups(root: &Path, id: &str) -> bool {
    let mut dirs = vec![root.join("berth").join(id)];
    if let Ok(entries) = std::fs::read_dir(root) {
        dirs.extend(entries.flatten().map(|e| e.path().join("berth").join(id)));
    }
    dirs.iter().all(|d| match std::fs::remove_dir(d) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    })
}

/// Removes the shared `berth` parent cgroups once no container uses them (rmdir fails while
/// one does), so nothing of berth's stays behind on the host.
fn remove_empty_parent_cgroups(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let _ = std::fs::remove_dir(e.path().join("berth"));
    }
    let _ = std::fs::remove_dir(root.join("berth"));
}

/// libcontainer changes the process's working directory while it creates and starts a
/// container (to bind its sockets by a short relative name, then back): two threads doing it
/// at once (a build's concurrent stages, a server's requests) would bind in each other's
/// directories and lose the process's own. One at a time, then.
fn process_cwd_lock() -> std::sync::MutexGuard<'static, ()> {
    static CWD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    CWD.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcontainer_errors_say_what_to_change() {
        let e = explain("failed to create container: exec process failed with error error in executing process : failed to prepare rootfs");
        assert!(
            e.ends_with("sources and targets are both files or both directories)"),
            "{e}"
        );
        let e = explain("intermediate process error cgroup error: io error: failed to write 3 to /sys/fs/cgroup/cpuset/berth/x/cpuset.mems: Invalid argument (os error 22)");
        assert!(
            e.contains("(the kernel refused one of the container's limits"),
            "{e}"
        );
        assert_eq!(explain("something else"), "something else");
    }

    /// In a child made as libcontainer makes the container's (a copy of this process, no
    /// exec), the environment becomes exactly the container's, through libc alone.
    #[test]
    fn the_containers_environment_replaces_the_inherited_one() {
        use libcontainer::workload::Executor;
        let envs = std::collections::HashMap::from([
            ("GREETING".to_string(), "hello".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ]);
        // SAFETY: the child only calls setup_envs (libc's environment functions) and reads
        // the result before _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let ok = FilterExecutor {
                program: None,
                userns: None,
            }
            .setup_envs(envs)
            .is_ok();
            let get = |k: &str| {
                let k = std::ffi::CString::new(k).unwrap_or_default();
                // SAFETY: a valid C string; the value is read before anything changes it.
                let v = unsafe { libc::getenv(k.as_ptr()) };
                // SAFETY: getenv's pointer is a NUL-terminated string while environ stands.
                (!v.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes().to_vec())
            };
            let right = ok
                && get("GREETING").as_deref() == Some(b"hello".as_slice())
                && get("PATH").as_deref() == Some(b"/bin".as_slice())
                && get("HOME").is_none()
                && get("CARGO_PKG_NAME").is_none();
            // SAFETY: ends the child without running the parent's exit handlers.
            unsafe { libc::_exit(if right { 0 } else { 1 }) };
        }
        assert!(child > 0);
        let mut status = 0;
        // SAFETY: our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
    }

    #[test]
    fn parent_cgroups_stay_while_kept_and_go_when_let_go_if_empty() {
        let locks = tempfile::tempdir().unwrap();
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for c in ["memory", "pids"] {
            std::fs::create_dir_all(r.join(c).join("berth")).unwrap();
        }
        let kept = ParentCgroupsKept::keep_at(locks.path(), r);
        // What every container's delete does: nothing while they are kept.
        remove_unheld_parent_cgroups(locks.path(), r);
        assert!(r.join("memory/berth").exists() && r.join("pids/berth").exists());
        // A parent still in use stays when let go; the empty one goes.
        std::fs::create_dir_all(r.join("pids/berth/abc")).unwrap();
        drop(kept);
        assert!(!r.join("memory/berth").exists());
        assert!(r.join("pids/berth/abc").exists());
        // Not kept: a delete removes them.
        std::fs::create_dir_all(r.join("memory/berth")).unwrap();
        remove_unheld_parent_cgroups(locks.path(), r);
        assert!(!r.join("memory/berth").exists());
    }

    #[test]
    fn empty_cgroups_are_removed_from_every_hierarchy_and_busy_ones_are_left() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for c in ["memory", "pids", "cpu,cpuacct"] {
            std::fs::create_dir_all(r.join(c).join("berth/abc")).unwrap();
        }
        assert!(remove_empty_cgroups(r, "abc"));
        for c in ["memory", "pids", "cpu,cpuacct"] {
            assert!(!r.join(c).join("berth/abc").exists());
            assert!(r.join(c).join("berth").exists());
        }
        // Nothing of the container: nothing to do.
        assert!(remove_empty_cgroups(r, "abc"));
        // A cgroup that cannot go (here: not empty) sends the caller to libcontainer.
        std::fs::create_dir_all(r.join("pids/berth/def/child")).unwrap();
        assert!(!remove_empty_cgroups(r, "def"));
        // v2: one tree.
        let t2 = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t2.path().join("berth/abc")).unwrap();
        assert!(remove_empty_cgroups(t2.path(), "abc"));
        assert!(!t2.path().join("berth/abc").exists());
    }
}
