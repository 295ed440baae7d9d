//! Reading a container's cgroup: processes, OOM kills and usage, on cgroup v1 (one tree per
//! controller, as on this project's machines) and v2 (one unified tree, as on most users'
//! machines). Limits are written by libcontainer when the container starts and here when
//! `update` changes them on a running container; behind one type so callers never care
//! which version the host runs. (libcgroups, libcontainer's own cgroup crate, finds the
//! hierarchy from /proc/self/mountinfo: its root cannot be pointed at a fake tree, so v2
//! could not be tested on this project's v1 machines.)
//!
//! The root is a parameter so tests run both versions against fake trees.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

#[derive(Debug, Clone)]
pub struct CgroupFs {
    root: PathBuf,
    pub version: Version,
}

/// CPU time, memory and process count of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub memory: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub pids: u64,
    /// Bytes read and written, by device (Docker's blkio `io_service_bytes_recursive`).
    pub io_bytes: Vec<IoCount>,
    /// Read and write operations, by device (`io_serviced_recursive`).
    pub io_ops: Vec<IoCount>,
}

/// One block-I/O counter of a device, as Docker's stats name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IoCount {
    pub major: u64,
    pub minor: u64,
    /// v1: `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`; v2: `read`, `write`.
    pub op: String,
    pub value: u64,
}

/// v1's `blkio.throttle.io_service_bytes_recursive` (and `io_serviced`): `MAJ:MIN Op N`
/// lines and a device-less `Total N`, which Docker leaves out.
fn v1_io(text: &str) -> Vec<IoCount> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(IoCount {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// v2's `io.stat`: `MAJ:MIN rbytes=… wbytes=… rios=… wios=…`, as Docker reports it: bytes
/// and operations, each `read` and `write`.
fn v2_io(text: &str) -> (Vec<IoCount>, Vec<IoCount>) {
    let (mut bytes, mut ops) = (Vec::new(), Vec::new());
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "read"),
                "wbytes" => (&mut bytes, "write"),
                "rios" => (&mut ops, "read"),
                "wios" => (&mut ops, "write"),
                _ => continue,
            };
            list.push(IoCount {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    (bytes, ops)
}

/// Limits to write into a running container's cgroup; `None`: leave as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Bytes; -1: none.
    pub memory: Option<i64>,
    /// Memory plus swap, bytes; -1: none.
    pub memory_swap: Option<i64>,
    /// Billionths of CPUs; 0: none.
    pub nano_cpus: Option<i64>,
    /// Relative weight, as v1's cpu.shares (1024: the default).
    pub cpu_shares: Option<u64>,
    /// 0 or less: none.
    pub pids: Option<i64>,
    /// cpuset.cpus and cpuset.mems lists.
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// CFS period in microseconds.
    pub cpu_period: Option<u64>,
    /// CFS quota in microseconds; -1: none.
    pub cpu_quota: Option<i64>,
    /// Soft memory limit in bytes.
    pub memory_reservation: Option<i64>,
    /// Relative block I/O weight, 10 to 1000.
    pub blkio_weight: Option<u16>,
}

/// v2's `cpu.weight` for a v1 `cpu.shares` value (the mapping runc and crun use).
fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn read_text(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

fn read_u64(p: &Path) -> Option<u64> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.events, cpu.stat, memory.oom_control).
fn keyed(p: &Path, key: &str) -> Option<u64> {
    fs::read_to_string(p).ok()?.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|v| v.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

impl CgroupFs {
    /// The host's cgroup filesystem.
    /// Whether this is a cgroup v1 hierarchy.
    pub fn is_v1(&self) -> bool {
        self.version == Version::V1
    }

    pub fn host() -> CgroupFs {
        CgroupFs::at("/sys/fs/cgroup")
    }

    /// The cgroup filesystem mounted at `root`: v2 when it is the unified hierarchy (has
    /// `cgroup.controllers` and no per-controller trees), else v1.
    pub fn at(root: impl Into<PathBuf>) -> CgroupFs {
        let root = root.into();
        let version = if root.join("cgroup.controllers").is_file() && !root.join("memory").is_dir()
        {
            Version::V2
        } else {
            Version::V1
        };
        CgroupFs { root, version }
    }

    /// Whether the v1 hierarchy of `controller` has the file `name` at its root (what the
    /// kernel offers there, as Docker's sysinfo reads it).
    pub fn v1_root_file(&self, controller: &str, name: &str) -> bool {
        self.root.join(controller).join(name).exists()
    }

    /// The controllers a v2 hierarchy offers (its root's `cgroup.controllers`).
    pub fn v2_controllers(&self) -> Vec<String> {
        read_text(&self.root.join("cgroup.controllers"))
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn dir(&self, controller: &str, id: &str) -> PathBuf {
        match self.version {
            Version::V1 => self.root.join(controller).join("berth").join(id),
            Version::V2 => self.root.join("berth").join(id),
        }
    }

    /// Where a thread writes its own id to put itself, again, in the cgroup it is in: that
    /// cgroup's `tasks` file in the first v1 hierarchy listed in `proc_self_cgroup` (the
    /// content of /proc/self/cgroup), or its `cgroup.threads` on v2.
    pub fn rejoin_file(&self, proc_self_cgroup: &str) -> Option<PathBuf> {
        let mut lines = proc_self_cgroup.lines().filter_map(|l| {
            let mut f = l.splitn(3, ':');
            Some((f.next()?, f.next()?, f.next()?))
        });
        let rel = |p: &str| p.trim_start_matches('/').to_string();
        match self.version {
            Version::V1 => lines.find_map(|(_, controllers, path)| {
                let controller = controllers.split(',').next()?;
                (!controller.is_empty() && !controller.starts_with("name="))
                    .then(|| self.root.join(controllers).join(rel(path)).join("tasks"))
            }),
            Version::V2 => lines
                .find(|(id, _, _)| *id == "0")
                .map(|(_, _, path)| self.root.join(rel(path)).join("cgroup.threads")),
        }
    }

    /// Starts, on a thread of its own, the wait that the first move of a process between
    /// cgroups pays, so that it overlaps berth's other set-up work instead of delaying the
    /// container. Moves take a host-wide lock (cgroup_threadgroup_rwsem) whose write side
    /// first waits for an RCU grace period, 5–15 ms here, unless another move took it within
    /// the last grace period. The thread "moves" itself into the cgroup it is already in:
    /// nothing changes but the lock is taken, so libcontainer's move of the container's
    /// first process (moments later) finds it warm. Best effort: any failure is ignored.
    pub fn warm_attach_lock(&self) {
        let root = self.clone();
        let _ = std::thread::Builder::new()
            .name("cgroup-warm".into())
            .spawn(move || {
                let Ok(own) = fs::read_to_string("/proc/self/cgroup") else {
                    return;
                };
                if let Some(file) = root.rejoin_file(&own) {
                    // SAFETY: gettid has no preconditions.
                    let tid = unsafe { libc::gettid() };
                    let _ = fs::write(file, tid.to_string());
                }
            });
    }

    /// Pids in the container's cgroup.
    pub fn pids(&self, id: &str) -> Vec<i32> {
        let candidates = match self.version {
            Version::V1 => vec![self.dir("pids", id), self.dir("memory", id)],
            Version::V2 => vec![self.dir("", id)],
        };
        for d in candidates {
            if let Ok(s) = fs::read_to_string(d.join("cgroup.procs")) {
                return s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            }
        }
        Vec::new()
    }

    /// The file that freezes and thaws the container, and the values that mean each.
    fn freezer(&self, id: &str) -> (PathBuf, &'static str, &'static str) {
        match self.version {
            Version::V1 => (
                self.dir("freezer", id).join("freezer.state"),
                "FROZEN",
                "THAWED",
            ),
            Version::V2 => (self.dir("", id).join("cgroup.freeze"), "1", "0"),
        }
    }

    /// Whether the container's processes are frozen (paused).
    pub fn frozen(&self, id: &str) -> bool {
        let (file, frozen, _) = self.freezer(id);
        fs::read_to_string(file).is_ok_and(|s| s.trim() == frozen)
    }

    /// Thaws the container's processes. A frozen process never acts on a signal, not even
    /// SIGKILL, so stop, kill and rm of a paused container thaw it after signalling (as runc
    /// does for SIGKILL). A cgroup that is gone is not an error: nothing is frozen there.
    pub fn thaw(&self, id: &str) -> std::io::Result<()> {
        let (file, _, thawed) = self.freezer(id);
        match fs::write(&file, thawed) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    /// Whether the kernel's OOM killer killed a process of the container.
    pub fn oom_killed(&self, id: &str) -> bool {
        let n = match self.version {
            Version::V1 => keyed(
                &self.dir("memory", id).join("memory.oom_control"),
                "oom_kill",
            ),
            Version::V2 => keyed(&self.dir("", id).join("memory.events"), "oom_kill"),
        };
        n.unwrap_or(0) > 0
    }

    /// Keeps the OOM killer away from the container (`--oom-kill-disable`): v1's
    /// `memory.oom_control`; v2 has no such switch (Docker ignores the flag there too).
    pub fn disable_oom_killer(&self, id: &str) -> std::io::Result<()> {
        match self.version {
            Version::V1 => fs::write(self.dir("memory", id).join("memory.oom_control"), "1"),
            Version::V2 => Ok(()),
        }
    }

    /// Writes new limits into a running container's cgroup (`docker update`).
    pub fn set_limits(&self, id: &str, l: &Limits) -> std::io::Result<()> {
        let put = |dir: PathBuf, file: &str, v: String| fs::write(dir.join(file), v);
        match self.version {
            Version::V1 => {
                let mem = self.dir("memory", id);
                // The kernel refuses a memory limit above memory+swap and the other way round:
                // which goes first depends on whether memory+swap grows.
                let memsw_file = mem.join("memory.memsw.limit_in_bytes");
                let swap = l.memory_swap.filter(|_| memsw_file.exists());
                let current_memsw = read_u64(&memsw_file).unwrap_or(u64::MAX);
                let swap_first =
                    swap.is_some_and(|s| s < 0 || u64::try_from(s).unwrap_or(0) > current_memsw);
                let write_swap =
                    |s: i64| put(mem.clone(), "memory.memsw.limit_in_bytes", s.to_string());
                if let (true, Some(s)) = (swap_first, swap) {
                    write_swap(s)?;
                }
                if let Some(m) = l.memory {
                    put(mem.clone(), "memory.limit_in_bytes", m.to_string())?;
                }
                if let (false, Some(s)) = (swap_first, swap) {
                    write_swap(s)?;
                }
                let mut cpu = self.dir("cpu", id);
                if !cpu.is_dir() {
                    cpu = self.dir("cpu,cpuacct", id);
                }
                if let Some(n) = l.nano_cpus {
                    let quota = if n > 0 { n / 10_000 } else { -1 };
                    put(cpu.clone(), "cpu.cfs_period_us", "100000".into())?;
                    put(cpu.clone(), "cpu.cfs_quota_us", quota.to_string())?;
                }
                if let Some(p) = l.cpu_period {
                    put(cpu.clone(), "cpu.cfs_period_us", p.to_string())?;
                }
                if let Some(q) = l.cpu_quota {
                    put(cpu.clone(), "cpu.cfs_quota_us", q.max(-1).to_string())?;
                }
                if let Some(s) = l.cpu_shares {
                    put(cpu, "cpu.shares", s.to_string())?;
                }
                if let Some(r) = l.memory_reservation {
                    put(mem.clone(), "memory.soft_limit_in_bytes", r.to_string())?;
                }
                if let Some(w) = l.blkio_weight {
                    let blkio = self.dir("blkio", id);
                    // CFQ's file, or BFQ's where that is the scheduler (as libcgroups does).
                    let file = if blkio.join("blkio.weight").exists() {
                        "blkio.weight"
                    } else {
                        "blkio.bfq.weight"
                    };
                    put(blkio, file, w.to_string())?;
                }
                if let Some(p) = l.pids {
                    let v = if p > 0 { p.to_string() } else { "max".into() };
                    put(self.dir("pids", id), "pids.max", v)?;
                }
                if let Some(c) = &l.cpuset_cpus {
                    put(self.dir("cpuset", id), "cpuset.cpus", c.clone())?;
                }
                if let Some(m) = &l.cpuset_mems {
                    put(self.dir("cpuset", id), "cpuset.mems", m.clone())?;
                }
            }
            Version::V2 => {
                let d = self.dir("", id);
                let max = |v: i64| {
                    if v < 0 {
                        "max".to_string()
                    } else {
                        v.to_string()
                    }
                };
                if let Some(m) = l.memory {
                    put(d.clone(), "memory.max", max(m))?;
                }
                // v2 limits swap alone: memory+swap minus memory.
                if let Some(s) = l.memory_swap {
                    let swap_only = match (s, l.memory) {
                        (s, _) if s < 0 => -1,
                        (s, Some(m)) if m > 0 => (s - m).max(0),
                        _ => -1,
                    };
                    if d.join("memory.swap.max").exists() {
                        put(d.clone(), "memory.swap.max", max(swap_only))?;
                    }
                }
                if let Some(n) = l.nano_cpus {
                    let quota = if n > 0 {
                        (n / 10_000).to_string()
                    } else {
                        "max".into()
                    };
                    put(d.clone(), "cpu.max", format!("{quota} 100000"))?;
                }
                if l.cpu_period.is_some() || l.cpu_quota.is_some() {
                    // cpu.max holds both: keep the one not given.
                    let current = read_text(&d.join("cpu.max"));
                    let mut f = current.split_whitespace();
                    let (old_quota, old_period) = (f.next().unwrap_or("max"), f.next());
                    let quota = match l.cpu_quota {
                        Some(q) if q > 0 => q.to_string(),
                        Some(_) => "max".into(),
                        None => old_quota.to_string(),
                    };
                    let period = l
                        .cpu_period
                        .map(|p| p.to_string())
                        .or(old_period.map(String::from))
                        .unwrap_or_else(|| "100000".into());
                    put(d.clone(), "cpu.max", format!("{quota} {period}"))?;
                }
                if let Some(s) = l.cpu_shares {
                    put(d.clone(), "cpu.weight", shares_to_weight(s).to_string())?;
                }
                // runc's mapping of the soft limit on v2.
                if let Some(r) = l.memory_reservation {
                    put(d.clone(), "memory.low", r.to_string())?;
                }
                if let Some(w) = l.blkio_weight {
                    // BFQ takes the weight as given; io.weight is 1 to 10000 (runc's mapping).
                    if d.join("io.bfq.weight").exists() {
                        put(d.clone(), "io.bfq.weight", w.to_string())?;
                    } else {
                        let weight = 1 + (u64::from(w).saturating_sub(10)) * 9999 / 990;
                        put(d.clone(), "io.weight", format!("default {weight}"))?;
                    }
                }
                if let Some(p) = l.pids {
                    put(
                        d.clone(),
                        "pids.max",
                        if p > 0 { p.to_string() } else { "max".into() },
                    )?;
                }
                if let Some(c) = &l.cpuset_cpus {
                    put(d.clone(), "cpuset.cpus", c.clone())?;
                }
                if let Some(m) = &l.cpuset_mems {
                    put(d, "cpuset.mems", m.clone())?;
                }
            }
        }
        Ok(())
    }

    pub fn usage(&self, id: &str) -> Usage {
        match self.version {
            Version::V1 => {
                let cpu = read_u64(&self.dir("cpuacct", id).join("cpuacct.usage"))
                    .or_else(|| read_u64(&self.dir("cpu,cpuacct", id).join("cpuacct.usage")))
                    .unwrap_or(0);
                let mem_dir = self.dir("memory", id);
                // v1 reports "no limit" as a huge page-aligned number.
                let limit =
                    read_u64(&mem_dir.join("memory.limit_in_bytes")).filter(|l| *l < (1 << 62));
                Usage {
                    cpu_ns: cpu,
                    memory: read_u64(&mem_dir.join("memory.usage_in_bytes")).unwrap_or(0),
                    memory_limit: limit,
                    pids: read_u64(&self.dir("pids", id).join("pids.current")).unwrap_or(0),
                    io_bytes: v1_io(&read_text(
                        &self
                            .dir("blkio", id)
                            .join("blkio.throttle.io_service_bytes_recursive"),
                    )),
                    io_ops: v1_io(&read_text(
                        &self
                            .dir("blkio", id)
                            .join("blkio.throttle.io_serviced_recursive"),
                    )),
                }
            }
            Version::V2 => {
                let d = self.dir("", id);
                let io = v2_io(&read_text(&d.join("io.stat")));
                Usage {
                    cpu_ns: keyed(&d.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
                    memory: read_u64(&d.join("memory.current")).unwrap_or(0),
                    memory_limit: read_u64(&d.join("memory.max")), // "max" does not parse: unlimited
                    pids: read_u64(&d.join("pids.current")).unwrap_or(0),
                    io_bytes: io.0,
                    io_ops: io.1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: PathBuf, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    #[test]
    fn rejoin_file_is_the_own_cgroup_of_a_real_controller() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for c in ["memory", "pids", "cpu,cpuacct"] {
            fs::create_dir_all(r.join(c)).unwrap();
        }
        let v1 = CgroupFs::at(r);
        let own = "12:name=systemd:/user.slice\n11:cpu,cpuacct:/a/b\n4:memory:/m\n0::/\n";
        assert_eq!(v1.rejoin_file(own), Some(r.join("cpu,cpuacct/a/b/tasks")));
        assert_eq!(v1.rejoin_file("0::/\n"), None);
        let t2 = tempfile::tempdir().unwrap();
        write(t2.path().join("cgroup.controllers"), "cpu memory pids\n");
        let v2 = CgroupFs::at(t2.path());
        assert_eq!(v2.version, Version::V2);
        assert_eq!(
            v2.rejoin_file("0::/user.slice/session-2.scope\n"),
            Some(t2.path().join("user.slice/session-2.scope/cgroup.threads"))
        );
    }

    #[test]
    fn block_io_is_read_as_docker_reports_it() {
        let v1 = v1_io("8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n");
        assert_eq!(v1.len(), 3, "the device-less Total is left out");
        assert_eq!(
            v1[0],
            IoCount {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        let (bytes, ops) = v2_io("259:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n");
        let pairs = |l: &[IoCount]| {
            l.iter()
                .map(|c| (c.op.clone(), c.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&bytes), [("read".into(), 100), ("write".into(), 200)]);
        assert_eq!(pairs(&ops), [("read".into(), 3), ("write".into(), 4)]);
        assert_eq!(bytes[0].major, 259);
    }

    #[test]
    fn v1_tree() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for c in ["memory", "pids", "cpuacct"] {
            fs::create_dir_all(r.join(c)).unwrap();
        }
        write(
            r.join("memory/berth/abc/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        );
        write(r.join("memory/berth/abc/memory.usage_in_bytes"), "4096\n");
        write(
            r.join("memory/berth/abc/memory.limit_in_bytes"),
            "9223372036854771712\n",
        );
        write(r.join("pids/berth/abc/pids.current"), "3\n");
        write(r.join("pids/berth/abc/cgroup.procs"), "10\n11\n");
        write(r.join("cpuacct/berth/abc/cpuacct.usage"), "123456\n");
        let cg = CgroupFs::at(r);
        assert_eq!(cg.version, Version::V1);
        assert!(cg.oom_killed("abc"));
        assert_eq!(cg.pids("abc"), vec![10, 11]);
        write(
            r.join("blkio/berth/abc/blkio.throttle.io_service_bytes_recursive"),
            "8:0 Read 10\nTotal 10\n",
        );
        let read10 = IoCount {
            major: 8,
            minor: 0,
            op: "Read".into(),
            value: 10,
        };
        assert_eq!(
            cg.usage("abc"),
            Usage {
                cpu_ns: 123456,
                memory: 4096,
                memory_limit: None,
                pids: 3,
                io_bytes: vec![read10],
                io_ops: vec![],
            }
        );
        assert!(!cg.oom_killed("other"));
        write(r.join("freezer/berth/abc/freezer.state"), "FROZEN\n");
        assert!(cg.frozen("abc"));
        cg.thaw("abc").unwrap();
        assert!(!cg.frozen("abc"));
        assert_eq!(
            fs::read_to_string(r.join("freezer/berth/abc/freezer.state")).unwrap(),
            "THAWED"
        );
        cg.thaw("gone").unwrap();
    }

    fn read(p: PathBuf) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn v1_limits_are_written_where_the_kernel_reads_them() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(
            r.join("memory/berth/abc/memory.limit_in_bytes"),
            "67108864\n",
        );
        write(
            r.join("memory/berth/abc/memory.memsw.limit_in_bytes"),
            "134217728\n",
        );
        write(r.join("cpu,cpuacct/berth/abc/cpu.shares"), "1024\n");
        write(r.join("pids/berth/abc/pids.max"), "max\n");
        write(r.join("cpuset/berth/abc/cpuset.cpus"), "0-1\n");
        write(r.join("blkio/berth/abc/blkio.throttle.read_bps_device"), "");
        let cg = CgroupFs::at(r);
        cg.set_limits(
            "abc",
            &Limits {
                memory: Some(200 << 20),
                memory_swap: Some(400 << 20),
                nano_cpus: Some(1_500_000_000),
                cpu_shares: Some(512),
                pids: Some(50),
                cpuset_cpus: Some("0".into()),
                cpuset_mems: Some("0".into()),
                memory_reservation: Some(32 << 20),
                blkio_weight: Some(300),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            read(r.join("memory/berth/abc/memory.soft_limit_in_bytes")),
            "33554432"
        );
        // No CFQ here: BFQ's file.
        assert_eq!(read(r.join("blkio/berth/abc/blkio.bfq.weight")), "300");
        assert_eq!(read(r.join("cpuset/berth/abc/cpuset.cpus")), "0");
        assert_eq!(read(r.join("cpuset/berth/abc/cpuset.mems")), "0");
        let m = r.join("memory/berth/abc");
        assert_eq!(read(m.join("memory.limit_in_bytes")), "209715200");
        assert_eq!(read(m.join("memory.memsw.limit_in_bytes")), "419430400");
        let c = r.join("cpu,cpuacct/berth/abc");
        assert_eq!(read(c.join("cpu.cfs_quota_us")), "150000");
        assert_eq!(read(c.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read(c.join("cpu.shares")), "512");
        assert_eq!(read(r.join("pids/berth/abc/pids.max")), "50");
        // Only what is given changes; "none" is -1 or max.
        cg.set_limits(
            "abc",
            &Limits {
                nano_cpus: Some(0),
                pids: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(c.join("cpu.cfs_quota_us")), "-1");
        assert_eq!(read(r.join("pids/berth/abc/pids.max")), "max");
        assert_eq!(read(m.join("memory.limit_in_bytes")), "209715200");
        cg.set_limits(
            "abc",
            &Limits {
                cpu_period: Some(50_000),
                cpu_quota: Some(20_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(c.join("cpu.cfs_period_us")), "50000");
        assert_eq!(read(c.join("cpu.cfs_quota_us")), "20000");
    }

    #[test]
    fn v2_limits_are_written_where_the_kernel_reads_them() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r.join("cgroup.controllers"), "cpu memory pids\n");
        write(r.join("berth/abc/memory.max"), "max\n");
        write(r.join("berth/abc/memory.swap.max"), "max\n");
        let cg = CgroupFs::at(r);
        cg.set_limits(
            "abc",
            &Limits {
                memory: Some(64 << 20),
                memory_swap: Some(128 << 20),
                nano_cpus: Some(500_000_000),
                cpu_shares: Some(1024),
                pids: Some(-1),
                cpuset_cpus: Some("0-1".into()),
                memory_reservation: Some(32 << 20),
                blkio_weight: Some(1000),
                ..Default::default()
            },
        )
        .unwrap();
        let d = r.join("berth/abc");
        assert_eq!(read(d.join("cpuset.cpus")), "0-1");
        assert!(!d.join("cpuset.mems").exists());
        assert_eq!(read(d.join("memory.max")), "67108864");
        assert_eq!(read(d.join("memory.swap.max")), "67108864");
        assert_eq!(read(d.join("cpu.max")), "50000 100000");
        assert_eq!(read(d.join("cpu.weight")), "39");
        assert_eq!(read(d.join("pids.max")), "max");
        cg.set_limits(
            "abc",
            &Limits {
                memory: Some(-1),
                memory_swap: Some(-1),
                nano_cpus: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(d.join("memory.max")), "max");
        assert_eq!(read(d.join("memory.swap.max")), "max");
        assert_eq!(read(d.join("cpu.max")), "max 100000");
        assert_eq!(read(d.join("memory.low")), "33554432");
        assert_eq!(read(d.join("io.weight")), "default 10000");
        // cpu.max holds quota and period: each is changed alone.
        cg.set_limits(
            "abc",
            &Limits {
                cpu_quota: Some(30_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(d.join("cpu.max")), "30000 100000");
        cg.set_limits(
            "abc",
            &Limits {
                cpu_period: Some(60_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(read(d.join("cpu.max")), "30000 60000");
    }

    #[test]
    fn v2_tree() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        write(r.join("cgroup.controllers"), "cpu memory pids\n");
        write(
            r.join("berth/abc/memory.events"),
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n",
        );
        write(r.join("berth/abc/memory.current"), "8192\n");
        write(r.join("berth/abc/memory.max"), "67108864\n");
        write(r.join("berth/abc/pids.current"), "2\n");
        write(r.join("berth/abc/cgroup.procs"), "42\n");
        write(
            r.join("berth/abc/cpu.stat"),
            "usage_usec 250\nuser_usec 200\n",
        );
        let cg = CgroupFs::at(r);
        assert_eq!(cg.version, Version::V2);
        assert!(!cg.oom_killed("abc"), "oom without a kill is not OOMKilled");
        write(r.join("berth/abc/memory.events"), "oom 2\noom_kill 1\n");
        assert!(cg.oom_killed("abc"));
        assert_eq!(cg.pids("abc"), vec![42]);
        write(
            r.join("berth/abc/io.stat"),
            "8:0 rbytes=5 wbytes=6 rios=1 wios=2\n",
        );
        let u = cg.usage("abc");
        assert_eq!(
            (u.io_bytes.len(), u.io_ops.len(), u.io_bytes[1].value),
            (2, 2, 6)
        );
        assert_eq!(
            u,
            Usage {
                cpu_ns: 250_000,
                memory: 8192,
                memory_limit: Some(67108864),
                pids: 2,
                io_bytes: u.io_bytes.clone(),
                io_ops: u.io_ops.clone(),
            }
        );
        write(r.join("berth/abc/memory.max"), "max\n");
        assert_eq!(cg.usage("abc").memory_limit, None);
        write(r.join("berth/abc/cgroup.freeze"), "1\n");
        assert!(cg.frozen("abc"));
        cg.thaw("abc").unwrap();
        assert_eq!(
            fs::read_to_string(r.join("berth/abc/cgroup.freeze")).unwrap(),
            "0"
        );
        assert!(!cg.frozen("abc"));
    }
}
