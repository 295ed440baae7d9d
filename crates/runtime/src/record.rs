//! Container records on disk: `containers/<id>/container.json`, written atomically and readable
//! by the owner only (a record holds the container's environment, often secrets).

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use berth_image::permissions::{
    ensure_private_dir, make_file_private, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE,
};

use crate::error::{Error, IoContext, Result};

/// Writes `bytes` to `path` (created or truncated), readable and writable by the owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    // An existing file keeps its old mode through open(): narrow it too.
    f.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    f.write_all(bytes)
}

/// What the user asked for (the parts of `docker run` berth implements), resolved against the
/// image config.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct RunConfig {
    /// Entrypoint + command, as run.
    pub args: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// As given (`-u`), or the image's USER.
    pub user: String,
    pub hostname: String,
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client's input ends (`run -i`
    /// through the API).
    #[serde(default)]
    pub stdin_once: bool,
    /// The streams the creating client meant to attach to (`Config.AttachStdin` …), shown by
    /// inspect: dockerpty (compose's `run`) reads them.
    #[serde(default)]
    pub attach: [bool; 3],
    pub tty: bool,
    /// The terminal's first size (rows, columns) when the client that made the container
    /// said it (`HostConfig.ConsoleSize`); later sizes come as resizes.
    #[serde(default)]
    pub console_size: Option<[u16; 2]>,
    pub auto_remove: bool,
    pub read_only: bool,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `none`, `host`, `bridge` or a user-defined network's name.
    pub network: String,
    /// Ports to publish when the container starts (`-p`, `-P`).
    #[serde(default)]
    pub ports: Vec<berth_network::PortRequest>,
    /// Exposed ports (image's EXPOSE and `--expose`), as `80/tcp`.
    #[serde(default)]
    pub exposed: Vec<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `/etc/hosts` additions: (name, address).
    #[serde(default)]
    pub extra_hosts: Vec<(String, String)>,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
    pub stop_signal: String,
    pub stop_timeout: Option<u64>,
    /// Capabilities the process gets (Docker's default set, changed by --cap-add/--cap-drop).
    #[serde(default)]
    pub caps: Vec<String>,
    pub privileged: bool,
    pub no_new_privileges: bool,
    /// The seccomp profile in OCI form; `None` for `seccomp=unconfined`. Kept as written and
    /// parsed only when the container starts: it is most of a record (~12 KB for Docker's
    /// default), and records are read far more often (every lookup, list, wait).
    #[serde(default)]
    pub seccomp: Option<Box<serde_json::value::RawValue>>,
    /// Bind mounts, volumes and tmpfs mounts, sources resolved.
    #[serde(default)]
    pub mounts: Vec<crate::volumes::MountSpec>,
    /// `no`, `always`, `unless-stopped`, `on-failure`
    #[serde(default)]
    pub restart_policy: String,
    /// For `on-failure:N`; 0 = no limit.
    #[serde(default)]
    pub restart_max: u32,
    /// `--init`: berth-init runs as PID 1 in front of the command.
    #[serde(default)]
    pub init: bool,
    /// cpuset.cpus and cpuset.mems (HostConfig.CpusetCpus/Mems).
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    #[serde(default)]
    pub cpuset_mems: Option<String>,
    /// 0 to 100 (HostConfig.MemorySwappiness), for cgroup v1.
    #[serde(default)]
    pub memory_swappiness: Option<u64>,
    /// CFS period and quota in microseconds (HostConfig.CpuPeriod, CpuQuota).
    #[serde(default)]
    pub cpu_period: Option<u64>,
    #[serde(default)]
    pub cpu_quota: Option<i64>,
    /// The soft memory limit in bytes (HostConfig.MemoryReservation).
    #[serde(default)]
    pub memory_reservation: Option<i64>,
    /// HostConfig.OomKillDisable (cgroup v1 only).
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// HostConfig.OomScoreAdj.
    #[serde(default)]
    pub oom_score_adj: i64,
    /// Namespaced kernel parameters (HostConfig.Sysctls), checked at create.
    #[serde(default)]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `json-file` (empty), `local` or `none`.
    #[serde(default)]
    pub log_driver: String,
    /// /dev/shm's size in bytes (None: 64 MiB).
    #[serde(default)]
    pub shm_size: Option<u64>,
    /// Devices allowed beyond the default set (HostConfig.DeviceCgroupRules, checked).
    #[serde(default)]
    pub device_rules: Vec<crate::options::DeviceRule>,
    /// Host devices made in the container (HostConfig.Devices, read from the host at create).
    #[serde(default)]
    pub devices: Vec<crate::options::DeviceNode>,
    /// Supplementary groups asked for (HostConfig.GroupAdd), resolved at start.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// Namespaces shared with the host: `pid`, `uts`, `cgroup`, `ipc`.
    #[serde(default)]
    pub host_namespaces: Vec<String>,
    /// Namespaces joined from another container at start: (kind, container ID).
    #[serde(default)]
    pub joined_namespaces: Vec<(String, String)>,
    /// `host` (the host's /dev/shm), `none` (no /dev/shm), `container:ID` (its /dev/shm),
    /// empty: its own.
    #[serde(default)]
    pub ipc_mode: String,
    /// Legacy links to containers on the default bridge (`--link`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::container_links::Link>,
    /// The host ids its root and users map to (the store's `userns-remap` when it was
    /// created); none: the host's user namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_remap: Option<crate::userns_remap::IdMap>,
    /// `--ulimit`: (OCI name, soft, hard).
    #[serde(default)]
    pub ulimits: Vec<(String, u64, u64)>,
    /// `--log-opt max-size` / `max-file`.
    #[serde(default)]
    pub log_max_size: Option<u64>,
    #[serde(default)]
    pub log_max_files: Option<u32>,
    /// `--log-opt compress`: rotated log files are gzipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_compress: Option<bool>,
    /// Block I/O weight and throttles, device paths resolved at create.
    #[serde(default, skip_serializing_if = "crate::block_io::BlockIo::is_empty")]
    pub block_io: crate::block_io::BlockIo,
    /// The image's HEALTHCHECK changed by `--health-*` (Docker's form).
    #[serde(default)]
    pub healthcheck: Option<berth_image::config::Healthcheck>,
}

/// Where a container is in its life, as Docker's `State.Status` names it (stored in the
/// record by those names). Paused is not one of them here: a paused container is `Running`
/// with `State::paused` set, and `State::docker_status` says "paused" for it, as Docker does.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    /// The process watching the container (its supervisor, or a foreground `berth run`).
    #[serde(default)]
    pub monitor_pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub paused: bool,
}

impl State {
    pub fn running(&self) -> bool {
        self.status == Status::Running
    }

    /// Docker's status word: `paused` for a paused running container, else the status.
    pub fn docker_status(&self) -> &'static str {
        if self.paused && self.running() {
            "paused"
        } else {
            self.status.as_str()
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// The image ID (config digest).
    pub image_id: String,
    /// Overlay lower dirs, topmost layer first.
    pub lower_dirs: Vec<PathBuf>,
    pub config: RunConfig,
    pub state: State,
    /// The HostConfig as it was asked for (from flags or the API), which `inspect` shows
    /// as Docker does; what berth acts on is `config`. None in records from before it.
    #[serde(default)]
    pub host_config: Option<crate::container_config::HostConfig>,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Where containers live under a berth root.
#[derive(Clone, Debug)]
pub struct Containers {
    root: PathBuf,
    /// `<berth root>/container-names.lock`, beside `containers/` (whose entries are
    /// containers only).
    names_lock: PathBuf,
}

impl Containers {
    pub fn new(berth_root: &Path) -> Result<Containers> {
        let root = berth_root.join("containers");
        let narrowed =
            ensure_private_dir(&root, PRIVATE_DIR_MODE).ctx("create directory", &root)?;
        let containers = Containers {
            root,
            names_lock: berth_root.join("container-names.lock"),
        };
        if narrowed {
            // A store written before berth kept its state private: close what is in it.
            containers.make_existing_private();
        }
        Ok(containers)
    }

    /// Narrows every container directory and the records, specs, health and logs in them to
    /// owner-only. Best effort: a container removed meanwhile is simply gone.
    fn make_existing_private(&self) {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for dir in entries.flatten().map(|e| e.path()) {
            let _ = ensure_private_dir(&dir, PRIVATE_DIR_MODE);
            for file in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let _ = make_file_private(&file.path());
            }
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Writes the record through a temp name no other thread or process uses, then renames
    /// it into place: a reader sees the old record or the new one, never a part.
    pub fn save(&self, rec: &ContainerRecord) -> Result<()> {
        static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = self.dir(&rec.id);
        let path = dir.join("container.json");
        let tmp = dir.join(format!(
            ".container.json.{}.{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let bytes = serde_json::to_vec_pretty(rec).map_err(|e| Error::Json {
            what: "container record".into(),
            source: e,
        })?;
        let written = write_private(&tmp, &bytes)
            .ctx("write", &tmp)
            .and_then(|()| fs::rename(&tmp, &path).ctx("rename", &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// An exclusive hold on one container (a `flock` on `containers/<id>/.lock`): what
    /// changes a container's record or its processes takes it, so two threads or processes
    /// changing the same container never interleave. Not re-entrant: a holder must not ask
    /// for the same container's lock again.
    pub fn lock(&self, id: &str) -> Result<ContainerLock> {
        let path = self.dir(id).join(".lock");
        match lock_file(&path) {
            Ok(f) => Ok(ContainerLock { _file: f }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NoSuchContainer(id.to_string()))
            }
            Err(e) => Err(Error::Io {
                op: "lock",
                path,
                source: e,
            }),
        }
    }

    /// Reads the record, lets `change` edit it and writes it back, all under the container's
    /// lock; nothing is written when `change` fails. Returns the record as written and what
    /// `change` returned.
    pub fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut ContainerRecord) -> Result<T>,
    ) -> Result<(ContainerRecord, T)> {
        let _held = self.lock(id)?;
        let mut rec = self.load(id)?;
        let out = change(&mut rec)?;
        self.save(&rec)?;
        Ok((rec, out))
    }

    /// Records a new container: its name (`name`, else a free random one) is checked and
    /// claimed under the names lock together with writing the record, so two creates can
    /// never both get a name.
    pub fn create(&self, rec: &mut ContainerRecord, name: Option<&str>) -> Result<()> {
        let _names = self.names_lock()?;
        let taken: HashSet<String> = self.list()?.into_iter().map(|r| r.name).collect();
        rec.name = match name {
            Some(n) if taken.contains(n) => return Err(Error::NameInUse(n.to_string())),
            Some(n) => n.to_string(),
            None => free_random_name(&rec.id, &taken),
        };
        let dir = self.dir(&rec.id);
        ensure_private_dir(&dir, PRIVATE_DIR_MODE).ctx("create directory", &dir)?;
        if let Err(e) = self.save(rec) {
            let _ = self.remove_dir(&rec.id);
            return Err(e);
        }
        Ok(())
    }

    /// Renames a container, the new name checked and claimed under the names lock; returns
    /// the record as renamed and its old name.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<(ContainerRecord, String)> {
        let _names = self.names_lock()?;
        if self
            .list()?
            .iter()
            .any(|x| x.name == new_name && x.id != id)
        {
            return Err(Error::NameInUse(new_name.to_string()));
        }
        self.update(id, |r| {
            Ok(std::mem::replace(&mut r.name, new_name.to_string()))
        })
    }

    /// Held while a name is checked and claimed (create, rename).
    fn names_lock(&self) -> Result<ContainerLock> {
        let path = &self.names_lock;
        lock_file(path)
            .map(|f| ContainerLock { _file: f })
            .ctx("lock", path)
    }

    pub fn load(&self, id: &str) -> Result<ContainerRecord> {
        let path = self.dir(id).join("container.json");
        let mut s = String::new();
        fs::File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut s))
            .map_err(|_| Error::NoSuchContainer(id.to_string()))?;
        serde_json::from_str(&s).map_err(|e| Error::Json {
            what: path.display().to_string(),
            source: e,
        })
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root).ctx("read directory", &self.root)? {
            let e = e.ctx("read directory", &self.root)?;
            let name = e.file_name();
            let name = name.to_str().unwrap_or_default();
            if let Some(taken) = name.strip_prefix(".removing-") {
                delete_if_abandoned(&e.path(), taken);
                continue;
            }
            // Other dot files are the containers' locks, not containers.
            if name.is_empty() || name.starts_with('.') {
                continue;
            }
            if let Ok(r) = self.load(name) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// By full id, unique id prefix, or name (Docker's order).
    pub fn find(&self, key: &str) -> Result<ContainerRecord> {
        // A full ID (what API clients send back) names one container before anything else:
        // read just that record, not every one.
        if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(r) = self.load(key) {
                return Ok(r);
            }
        }
        let key_name = key.strip_prefix('/').unwrap_or(key);
        let all = self.list()?;
        if let Some(r) = all.iter().find(|r| r.id == key) {
            return Ok(r.clone());
        }
        if let Some(r) = all.iter().find(|r| r.name == key_name) {
            return Ok(r.clone());
        }
        if let Some(r) = crate::container_links::find_by_link_name(key, &all) {
            return Ok(r.clone());
        }
        let hits: Vec<&ContainerRecord> = all
            .iter()
            .filter(|r| !key.is_empty() && r.id.starts_with(key))
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NoSuchContainer(key.to_string())),
            _ => Err(Error::Conflict(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    pub fn remove_dir(&self, id: &str) -> Result<()> {
        match self.take_dir(id)? {
            Some(taken) => delete_taken_dir(&taken),
            None => Ok(()),
        }
    }

    /// Takes the container's directory out of the store in one step (a rename to a dot
    /// name, which `list` skips): from here on the container is gone for every reader, and
    /// its files can be deleted after the caller has said so (`delete_taken_dir`). None if
    /// there was no directory.
    pub fn take_dir(&self, id: &str) -> Result<Option<PathBuf>> {
        static TAKE_SEQ: AtomicU64 = AtomicU64::new(0);
        let d = self.dir(id);
        // A name no other thread or process uses (one left by a killed removal stays out
        // of the way).
        let taken = self.root.join(format!(
            ".removing-{id}.{}.{}",
            std::process::id(),
            TAKE_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::rename(&d, &taken) {
            Ok(()) => Ok(Some(taken)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                op: "remove",
                path: d,
                source: e,
            }),
        }
    }
}

/// A directory `take_dir` took out whose remover was killed before it deleted it
/// (`ID.PID.SEQ`): deleted by whoever sees it next, unless that process still lives.
fn delete_if_abandoned(path: &Path, taken: &str) {
    let pid = taken.split('.').nth(1).and_then(|p| p.parse::<i32>().ok());
    if pid.is_some_and(|p| !crate::process::pid_alive(p)) {
        let _ = fs::remove_dir_all(path);
    }
}

/// Deletes a directory `Containers::take_dir` took out of the store.
pub fn delete_taken_dir(taken: &Path) -> Result<()> {
    match fs::remove_dir_all(taken) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io {
            op: "remove",
            path: taken.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// See [`Containers::lock`]; released when dropped.
pub struct ContainerLock {
    _file: fs::File,
}

impl Drop for ContainerLock {
    /// flock locks belong to the open file, which a container process cloned (not exec'd) from
    /// this one meanwhile shares: closing ours would leave the lock held for as long as that
    /// process lives, so the lock is released explicitly.
    fn drop(&mut self) {
        let _ = self._file.unlock();
    }
}

/// Opens (creating, owner-only) and exclusively `flock`s `path`. A lock belongs to the open
/// file, so two threads of one process exclude each other as two processes do.
fn lock_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    loop {
        // SAFETY: flock on a descriptor we own; released when it is closed.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(f);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A new random 64-hex container id.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    if fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b[..16].copy_from_slice(&t.to_le_bytes());
        b[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "cosmic", "crisp", "daring",
    "eager", "elated", "fervent", "fond", "gallant", "gentle", "happy", "humble", "jolly", "keen",
    "kind", "lively", "lucid", "merry", "modest", "nifty", "noble", "patient", "proud", "quiet",
    "quirky", "rapid", "serene", "sharp", "steady", "sunny", "tender", "upbeat", "vibrant",
    "vivid", "warm", "wizardly", "witty", "zealous",
];
const SURNAMES: &[&str] = &[
    "agnesi",
    "babbage",
    "bohr",
    "boole",
    "cantor",
    "curie",
    "darwin",
    "dijkstra",
    "euler",
    "faraday",
    "fermat",
    "feynman",
    "galois",
    "gauss",
    "goodall",
    "hamilton",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "knuth",
    "lamarr",
    "laplace",
    "leavitt",
    "lovelace",
    "maxwell",
    "meitner",
    "mendel",
    "mirzakhani",
    "newton",
    "noether",
    "pascal",
    "planck",
    "ramanujan",
    "riemann",
    "ritchie",
    "sagan",
    "shannon",
    "somerville",
    "tesla",
    "thompson",
    "turing",
    "volta",
    "wozniak",
    "yalow",
    "yonath",
];

/// Docker-style `adjective_surname` from the id's bytes.
pub fn random_name(id: &str) -> String {
    name_candidate(id, 0)
}

/// The `attempt`-th name for the container `id`: other words from other bytes of the id,
/// then (as Docker does on a collision) a number appended.
fn name_candidate(id: &str, attempt: usize) -> String {
    let bytes = id.as_bytes();
    let window = |from: usize| {
        (0..8).fold(0u64, |n, i| {
            let c = bytes
                .get((from + i) % bytes.len().max(1))
                .copied()
                .unwrap_or(b'0');
            n.wrapping_mul(31).wrapping_add(u64::from(c))
        })
    };
    let n = window(attempt.wrapping_mul(7));
    let base = format!(
        "{}_{}",
        ADJECTIVES[(n % ADJECTIVES.len() as u64) as usize],
        SURNAMES[((n / ADJECTIVES.len() as u64) % SURNAMES.len() as u64) as usize]
    );
    if attempt < 8 {
        base
    } else {
        format!("{base}{}", attempt - 7)
    }
}

/// The first of the id's name candidates that no container has.
fn free_random_name(id: &str, taken: &HashSet<String>) -> String {
    (0..)
        .map(|attempt| name_candidate(id, attempt))
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| id[..12.min(id.len())].to_string())
}

/// Docker's rule for container names.
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_killed_midway_is_finished_by_the_next_list() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let root = dir.path().join("containers");
        // A remover that is gone (no such pid), and one that still works (this process).
        let gone = root.join(".removing-abc.999999999.0");
        let busy = root.join(format!(".removing-def.{}.0", std::process::id()));
        for d in [&gone, &busy] {
            fs::create_dir_all(d.join("upper/etc")).unwrap();
            fs::write(d.join("container.json"), "{}").unwrap();
        }
        assert!(containers.list().unwrap().is_empty());
        assert!(!gone.exists(), "left by a killed removal");
        assert!(busy.exists(), "another process is deleting it");
    }

    #[test]
    fn a_dropped_lock_is_free_though_a_cloned_process_shares_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = ContainerLock {
            _file: lock_file(&path).unwrap(),
        };
        // A child as libcontainer makes them: a copy of this process, no exec, so it shares
        // the locked open file until it exits.
        // SAFETY: the child only sleeps and exits (async-signal-safe calls).
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: as above.
            unsafe {
                libc::sleep(5);
                libc::_exit(0);
            }
        }
        assert!(child > 0);
        drop(held);
        let again = fs::File::open(&path).unwrap();
        let free = again.try_lock().is_ok();
        // SAFETY: our own child.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
        assert!(free, "the lock outlived its guard in the cloned child");
    }

    #[test]
    fn status_is_stored_by_dockers_names() {
        let s: State = serde_json::from_value(serde_json::json!({
            "status": "restarting", "pid": 0, "exit_code": 1, "oom_killed": false,
            "error": "", "started_at": ZERO_TIME, "finished_at": ZERO_TIME,
        }))
        .unwrap();
        assert_eq!(s.status, Status::Restarting);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["status"], "restarting");
        assert!(serde_json::from_value::<Status>(serde_json::json!("sleeping")).is_err());
    }

    #[test]
    fn a_paused_running_container_is_paused_to_docker() {
        let mut s = State {
            status: Status::Running,
            paused: true,
            ..State::default()
        };
        assert_eq!(s.docker_status(), "paused");
        s.paused = false;
        assert_eq!(s.docker_status(), "running");
        s.status = Status::Exited;
        assert!(!s.running());
        assert_eq!(s.docker_status(), "exited");
    }

    fn record(id: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.to_string(),
            name: String::new(),
            created: now(),
            image: "busybox".into(),
            image_id: String::new(),
            lower_dirs: Vec::new(),
            config: RunConfig::default(),
            state: State::default(),
            host_config: None,
        }
    }

    /// Read-modify-writes of one record from many threads (each with its own lock file
    /// description, as separate processes have) lose no change.
    #[test]
    fn concurrent_updates_of_one_container_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let mut rec = record(&new_id());
        containers.create(&mut rec, Some("counter")).unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..40 {
                        containers
                            .update(&rec.id, |r| {
                                let seen = r.state.restart_count;
                                std::thread::yield_now();
                                r.state.restart_count = seen + 1;
                                Ok(())
                            })
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(containers.load(&rec.id).unwrap().state.restart_count, 320);
        // No temp file is left behind, and the lock file is not taken for a container.
        let names: Vec<String> = fs::read_dir(containers.dir(&rec.id))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".container.json"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        assert_eq!(containers.list().unwrap().len(), 1);
    }

    #[test]
    fn a_failed_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let mut rec = record(&new_id());
        containers.create(&mut rec, Some("keep")).unwrap();
        let r = containers.update(&rec.id, |r| {
            r.name = "changed".into();
            Err::<(), _>(Error::Conflict("no".into()))
        });
        assert!(r.is_err());
        assert_eq!(containers.load(&rec.id).unwrap().name, "keep");
        let gone = containers.update(&"f".repeat(64), |_| Ok(()));
        assert!(matches!(gone, Err(Error::NoSuchContainer(_))));
    }

    /// Many creates racing for one name: exactly one gets it, the others are told it is in
    /// use and leave nothing behind.
    #[test]
    fn a_name_is_claimed_by_exactly_one_of_racing_creates() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12)
                .map(|_| {
                    s.spawn(|| {
                        let mut rec = record(&new_id());
                        containers.create(&mut rec, Some("web"))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(r, Error::NameInUse(n) if n == "web"), "{r}");
        }
        assert_eq!(containers.list().unwrap().len(), 1);
    }

    /// A rename to a name another container holds is refused; a rename to a free one frees
    /// the old name for the next create.
    #[test]
    fn rename_claims_the_new_name_and_frees_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let (mut a, mut b) = (record(&new_id()), record(&new_id()));
        containers.create(&mut a, Some("a")).unwrap();
        containers.create(&mut b, Some("b")).unwrap();
        assert!(matches!(
            containers.rename(&a.id, "b"),
            Err(Error::NameInUse(_))
        ));
        let (renamed, old) = containers.rename(&a.id, "c").unwrap();
        assert_eq!((renamed.name.as_str(), old.as_str()), ("c", "a"));
        containers
            .create(&mut record(&new_id()), Some("a"))
            .unwrap();
    }

    /// Generated names never collide, however many containers share the first choice.
    #[test]
    fn generated_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let containers = Containers::new(dir.path()).unwrap();
        let same_start = "0123456789ab".repeat(5) + "cdef";
        let mut names = HashSet::new();
        for i in 0..30 {
            // Ids that all begin alike: every create wants the same first name.
            let id = format!("{}{:04x}", &same_start[..60], i);
            let mut rec = record(&id);
            containers.create(&mut rec, None).unwrap();
            assert!(valid_name(&rec.name), "{}", rec.name);
            assert!(names.insert(rec.name.clone()), "{} given twice", rec.name);
        }
    }
}
