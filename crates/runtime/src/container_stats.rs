//! `docker stats` and the Engine API's `GET /containers/{id}/stats`: one sample of a
//! container's CPU, memory, pids and network counters, in Docker's JSON shape, and the
//! percentages the docker CLI derives from two samples.

use serde::Serialize;

use crate::error::Result;
use crate::lifecycle::Runtime;
use crate::record::ContainerRecord;

#[derive(Serialize, Debug, Clone, Default, PartialEq)]
pub struct ContainerStats {
    pub read: String,
    /// The previous sample's `read` (Go's zero time in the first sample).
    pub preread: String,
    pub name: String,
    pub id: String,
    pub pids_stats: PidsStats,
    pub cpu_stats: CpuStats,
    /// The previous sample's CPU counters (zero in the first sample), as Docker streams them.
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    pub blkio_stats: BlkioStats,
    /// Bytes through the container's interfaces (loopback excluded), by interface.
    pub networks: std::collections::BTreeMap<String, NetworkStats>,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct PidsStats {
    pub current: u64,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    /// The host's CPU time, in nanoseconds, from /proc/stat.
    pub system_cpu_usage: u64,
    pub online_cpus: u32,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuUsage {
    pub total_usage: u64,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub usage: u64,
    /// The container's limit, or the host's memory when it has none (Docker's rule).
    pub limit: u64,
}

/// Docker's block-I/O stats: what the cgroup counts; the lists it has no source for are
/// null, as dockerd sends them.
#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_serviced_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_queue_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_service_time_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_wait_time_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_merged_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub io_time_recursive: Option<Vec<crate::cgroups::IoCount>>,
    pub sectors_recursive: Option<Vec<crate::cgroups::IoCount>>,
}

#[derive(Serialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl ContainerStats {
    /// The docker CLI's CPU %: the container's share of the host's CPU time between the two
    /// samples, times the CPUs.
    pub fn cpu_percent(&self) -> f64 {
        let cpu = self
            .cpu_stats
            .cpu_usage
            .total_usage
            .saturating_sub(self.precpu_stats.cpu_usage.total_usage) as f64;
        let system = self
            .cpu_stats
            .system_cpu_usage
            .saturating_sub(self.precpu_stats.system_cpu_usage) as f64;
        if cpu > 0.0 && system > 0.0 {
            cpu / system * f64::from(self.cpu_stats.online_cpus.max(1)) * 100.0
        } else {
            0.0
        }
    }

    pub fn memory_percent(&self) -> f64 {
        if self.memory_stats.limit == 0 {
            0.0
        } else {
            self.memory_stats.usage as f64 / self.memory_stats.limit as f64 * 100.0
        }
    }

    /// (received, sent) bytes over all interfaces.
    pub fn network_bytes(&self) -> (u64, u64) {
        self.networks
            .values()
            .fold((0, 0), |(r, t), n| (r + n.rx_bytes, t + n.tx_bytes))
    }

    /// (read, written) bytes over all block devices, as `docker stats` sums them.
    pub fn block_io_bytes(&self) -> (u64, u64) {
        self.blkio_stats
            .io_service_bytes_recursive
            .iter()
            .flatten()
            .fold((0, 0), |(r, w), c| {
                match c.op.to_ascii_lowercase().as_str() {
                    "read" => (r + c.value, w),
                    "write" => (r, w + c.value),
                    _ => (r, w),
                }
            })
    }
}

impl Runtime {
    /// One sample; `previous` (the last sample of the same container) fills `precpu_stats`.
    pub fn stats(
        &self,
        c: &ContainerRecord,
        previous: Option<&ContainerStats>,
    ) -> Result<ContainerStats> {
        let u = crate::cgroups::CgroupFs::host().usage(&c.id);
        let host_memory = crate::system_info::mem_total();
        let limit = match u.memory_limit {
            Some(l) if l > 0 && l < host_memory => l,
            _ => host_memory,
        };
        let networks = if c.state.running() && c.state.pid > 0 {
            std::fs::read_to_string(format!("/proc/{}/net/dev", c.state.pid))
                .map(|t| parse_net_dev(&t))
                .unwrap_or_default()
        } else {
            Default::default()
        };
        Ok(ContainerStats {
            read: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            preread: previous
                .map(|p| p.read.clone())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            name: format!("/{}", c.name),
            id: c.id.clone(),
            pids_stats: PidsStats { current: u.pids },
            cpu_stats: CpuStats {
                cpu_usage: CpuUsage {
                    total_usage: u.cpu_ns,
                },
                system_cpu_usage: system_cpu_ns(),
                online_cpus: std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1),
            },
            precpu_stats: previous.map(|p| p.cpu_stats.clone()).unwrap_or_default(),
            memory_stats: MemoryStats {
                usage: u.memory,
                limit,
            },
            blkio_stats: BlkioStats {
                io_service_bytes_recursive: Some(u.io_bytes),
                io_serviced_recursive: Some(u.io_ops),
                ..BlkioStats::default()
            },
            networks,
        })
    }
}

/// The host's CPU time in nanoseconds: the first line of /proc/stat, in clock ticks.
fn system_cpu_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_proc_stat(&text) * (1_000_000_000 / ticks)
}

/// The sum of the `cpu` line's tick counts.
fn parse_proc_stat(text: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// /proc/PID/net/dev: bytes received and sent per interface, loopback left out.
fn parse_net_dev(text: &str) -> std::collections::BTreeMap<String, NetworkStats> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let name = name.trim();
            let f: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (name != "lo" && f.len() >= 9).then(|| {
                (
                    name.to_string(),
                    NetworkStats {
                        rx_bytes: f[0],
                        tx_bytes: f[8],
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_from_proc() {
        assert_eq!(
            parse_proc_stat("cpu  10 0 5 85 0 0 0 0 0 0\ncpu0 1 2 3\n"),
            100
        );
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets ...\n    \
                   lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n  \
                   eth0: 1200 10 0 0 0 0 0 0 3400 20 0 0 0 0 0 0\n";
        let n = parse_net_dev(dev);
        assert_eq!(n.len(), 1);
        assert_eq!(
            n["eth0"],
            NetworkStats {
                rx_bytes: 1200,
                tx_bytes: 3400
            }
        );
    }

    #[test]
    fn percentages_follow_the_docker_cli() {
        let mut s = ContainerStats::default();
        s.precpu_stats.cpu_usage.total_usage = 1_000;
        s.precpu_stats.system_cpu_usage = 10_000;
        s.cpu_stats.cpu_usage.total_usage = 2_000;
        s.cpu_stats.system_cpu_usage = 20_000;
        s.cpu_stats.online_cpus = 2;
        assert!((s.cpu_percent() - 20.0).abs() < 1e-9);
        s.memory_stats = MemoryStats {
            usage: 25,
            limit: 100,
        };
        assert!((s.memory_percent() - 25.0).abs() < 1e-9);
        assert_eq!(ContainerStats::default().cpu_percent(), 0.0);
    }
}
