//! A fake OCI runtime for unit tests of the lifecycle: no namespaces, no mounts, no cgroups,
//! no root. A container's "root filesystem" is a plain copy of its layers, and its process
//! is the command run straight on the host (`sh -c 'exit 3'`, `sleep 30`), so exit codes,
//! signals, restarts and removal behave as they do for real, and every call is recorded
//! for the test to check.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::engine::{ExecProcess, OciRuntime, Stdio};
use crate::error::{Error, Result};
use crate::rootfs::RootfsPaths;

#[derive(Default)]
struct FakeState {
    calls: Vec<String>,
    /// Init pid of each container the fake started and has not deleted.
    pids: HashMap<String, i32>,
    /// Containers whose next exit is to count as killed by the OOM killer.
    oom: HashSet<String>,
    /// `run` fails for these ids, as a runtime refusing a bad spec would.
    refuse: HashSet<String>,
}

/// Clones share one state: the test keeps one to look at what the runtime was asked.
#[derive(Clone, Default)]
pub(crate) struct FakeRuntime {
    state: Arc<Mutex<FakeState>>,
}

impl FakeRuntime {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Every call so far, as `verb id` lines (`run`, `delete`, `kill <signal>`, `freeze`,
    /// `thaw`, `exec`, `mount`, `unmount`).
    pub(crate) fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    pub(crate) fn calls_of(&self, verb: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.split(' ').next() == Some(verb))
            .count()
    }

    /// The container's next exit counts as an OOM kill.
    pub(crate) fn oom_on_exit(&self, id: &str) {
        self.with(|s| s.oom.insert(id.to_string()));
    }

    /// The next `run` of this container fails.
    pub(crate) fn refuse_run(&self, id: &str) {
        self.with(|s| s.refuse.insert(id.to_string()));
    }

    fn record(&self, call: String) {
        self.with(|s| s.calls.push(call));
    }
}

/// Runs `args` on the host (args[0] looked up by its file name on the host's PATH) with the
/// given streams and environment; returns the pid of the child.
fn spawn_on_host(args: &[String], env: &[String], stdio: Stdio) -> Result<i32> {
    let Some(first) = args.first() else {
        return Err(Error::NoCommand);
    };
    let program = Path::new(first)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(first));
    let mut cmd = std::process::Command::new(program);
    cmd.args(&args[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .envs(env.iter().filter_map(|e| e.split_once('=')))
        .stdin(std::process::Stdio::from(stdio.stdin))
        .stdout(std::process::Stdio::from(stdio.stdout))
        .stderr(std::process::Stdio::from(stdio.stderr));
    let child = cmd.spawn().map_err(|e| Error::Runtime {
        id: String::new(),
        what: "start",
        reason: e.to_string(),
    })?;
    // Reaped by the lifecycle's own waitpid, as a real init would be.
    Ok(child.id() as i32)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

impl OciRuntime for FakeRuntime {
    fn run(
        &self,
        id: &str,
        bundle: &Path,
        stdio: Stdio,
        _console_socket: Option<&Path>,
        created: &mut dyn FnMut(i32) -> Result<()>,
    ) -> Result<i32> {
        self.record(format!("run {id}"));
        if self.with(|s| s.refuse.remove(id)) {
            return Err(Error::Runtime {
                id: id.into(),
                what: "create",
                reason: "refused by the fake runtime".into(),
            });
        }
        let spec: serde_json::Value = fs::read(bundle.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let args = strings(&spec["process"]["args"]);
        let env = strings(&spec["process"]["env"]);
        let pid = spawn_on_host(&args, &env, stdio)?;
        self.with(|s| s.pids.insert(id.to_string(), pid));
        created(pid)?;
        Ok(pid)
    }

    fn delete(&self, id: &str) -> Result<()> {
        self.record(format!("delete {id}"));
        self.with(|s| s.pids.remove(id));
        Ok(())
    }

    fn exec(
        &self,
        id: &str,
        p: &ExecProcess,
        stdio: Stdio,
        _console_socket: Option<&Path>,
    ) -> Result<i32> {
        self.record(format!("exec {id}"));
        spawn_on_host(&p.args, &p.env, stdio)
    }

    fn mount_rootfs(
        &self,
        lower: &[PathBuf],
        paths: &RootfsPaths,
        _: bool,
        _: Option<&crate::userns_remap::IdMap>,
    ) -> Result<()> {
        self.record(format!("mount {}", paths.merged.display()));
        let io = |e: std::io::Error| Error::Io {
            op: "copy layer",
            path: paths.merged.clone(),
            source: e,
        };
        for d in [&paths.upper, &paths.work, &paths.merged] {
            fs::create_dir_all(d).map_err(io)?;
        }
        // Bottom layer first, so upper layers win.
        for l in lower.iter().rev().filter(|l| l.is_dir()) {
            copy_tree(l, &paths.merged).map_err(io)?;
        }
        Ok(())
    }

    fn unmount_rootfs(&self, merged: &Path) -> Result<()> {
        self.record(format!("unmount {}", merged.display()));
        Ok(())
    }

    fn kill(&self, id: &str, pid: i32, signal: i32) {
        self.record(format!("kill {id} {signal}"));
        if pid > 0 {
            // SAFETY: kill(2) on a pid this test's fake started.
            unsafe { libc::kill(pid, signal) };
        }
    }

    fn set_frozen(&self, id: &str, frozen: bool) -> Result<()> {
        self.record(format!("{} {id}", if frozen { "freeze" } else { "thaw" }));
        match self.with(|s| s.pids.get(id).copied()) {
            Some(pid) => {
                let sig = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
                // SAFETY: kill(2) on a pid this fake started.
                unsafe { libc::kill(pid, sig) };
                Ok(())
            }
            None => Err(Error::Runtime {
                id: id.into(),
                what: if frozen { "pause" } else { "unpause" },
                reason: "not running".into(),
            }),
        }
    }

    fn oom_killed(&self, id: &str) -> bool {
        self.with(|s| s.oom.remove(id))
    }
}

/// A runtime over a fresh store in `root` whose engine is the fake, holding one image,
/// `tools`, whose layer has stand-ins for the commands the tests run (the fake runs the
/// host's own `sh`, `sleep` and `true`).
pub(crate) fn fake_runtime(root: &Path) -> (crate::Runtime, FakeRuntime) {
    let fake = FakeRuntime::default();
    let rt = crate::Runtime::with_engine(root, Box::new(fake.clone())).expect("runtime");
    let mut layer = tar::Builder::new(Vec::new());
    // SAFETY: geteuid/getegid cannot fail. The layer's files are the caller's own, so that
    // importing it needs no root.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let files: [(&str, &[u8], u32); 4] = [
        ("bin/sh", b"", 0o755),
        ("bin/sleep", b"", 0o755),
        ("bin/true", b"", 0o755),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
    ];
    for (path, body, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        layer.append_data(&mut h, path, body).expect("tar entry");
    }
    let bytes = layer.into_inner().expect("tar");
    berth_image::import::import(
        &rt.store,
        &bytes[..],
        &berth_image::import::ImportOptions {
            source: "-".into(),
            tag: Some(berth_image::Reference::parse_tagged_default("tools").expect("reference")),
            ..Default::default()
        },
    )
    .expect("import the test image");
    (rt, fake)
}

/// Creates the container `name` from `tools` running `cmd`, on the host's network (the fake
/// has no network namespace to wire); `host` adjusts its HostConfig.
pub(crate) fn create(
    rt: &crate::Runtime,
    name: &str,
    cmd: &[&str],
    host: impl FnOnce(&mut crate::container_config::HostConfig),
) -> crate::ContainerRecord {
    let mut spec: crate::ContainerCreate = serde_json::from_value(serde_json::json!({
        "Image": "tools",
        "Cmd": cmd,
        "HostConfig": {"NetworkMode": "host"},
    }))
    .expect("create request");
    host(&mut spec.host_config);
    rt.create(Some(name), &spec).expect("create")
}

/// The actions of the container events recorded for `id`, oldest first.
pub(crate) fn actions(rt: &crate::Runtime, id: &str) -> Vec<String> {
    fs::read_to_string(rt.root().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<berth_events::Event>(l).ok())
        .filter(|e| e.kind == "container" && e.actor.id == id)
        .map(|e| e.action)
        .collect()
}

/// Waits (at most 10 s) until the container's record satisfies `ready`.
pub(crate) fn wait_for(
    rt: &crate::Runtime,
    id: &str,
    ready: impl Fn(&crate::ContainerRecord) -> bool,
) -> crate::ContainerRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Ok(r) = rt.containers().load(id) {
            if ready(&r) {
                return r;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "container {id} never got there"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Runs the container in the foreground on a thread of `s` (its output discarded) and
/// returns once its record says it runs.
pub(crate) fn run_in_background<'scope, 'env>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    rt: &'env crate::Runtime,
    id: &'env str,
) -> std::thread::ScopedJoinHandle<'scope, crate::Result<i32>> {
    let run = s.spawn(move || {
        rt.run(
            id,
            crate::container_run::Attach::Client(crate::client_io::ClientIo::discard()),
            &mut |_| {},
        )
    });
    wait_for(rt, id, |r| r.state.status == crate::record::Status::Running);
    run
}
