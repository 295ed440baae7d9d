//! Reading a container's cgroup: processes, OOM kills and usage, on cgroup v1 (one tree per
//! controller, as on this project's machines) and v2 (one unified tree, as on most users'
//! machines). Limits are written by libcontainer when the container starts; this is the
//! reading side, behind one type so callers never care which version the host runs.
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub cpu_ns: u64,
    pub memory: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub pids: u64,
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

    fn dir(&self, controller: &str, id: &str) -> PathBuf {
        match self.version {
            Version::V1 => self.root.join(controller).join("berth").join(id),
            Version::V2 => self.root.join("berth").join(id),
        }
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
                }
            }
            Version::V2 => {
                let d = self.dir("", id);
                Usage {
                    cpu_ns: keyed(&d.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
                    memory: read_u64(&d.join("memory.current")).unwrap_or(0),
                    memory_limit: read_u64(&d.join("memory.max")), // "max" does not parse: unlimited
                    pids: read_u64(&d.join("pids.current")).unwrap_or(0),
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
        assert_eq!(
            cg.usage("abc"),
            Usage {
                cpu_ns: 123456,
                memory: 4096,
                memory_limit: None,
                pids: 3
            }
        );
        assert!(!cg.oom_killed("other"));
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
        assert_eq!(
            cg.usage("abc"),
            Usage {
                cpu_ns: 250_000,
                memory: 8192,
                memory_limit: Some(67108864),
                pids: 2
            }
        );
        write(r.join("berth/abc/memory.max"), "max\n");
        assert_eq!(cg.usage("abc").memory_limit, None);
    }
}
