//! `docker update` / `POST /containers/{id}/update`: new resource limits and a new restart
//! policy for a container, running or not. A running container's cgroup gets the limits at
//! once; the record keeps them for every later start. Checks and merging follow Docker's
//! daemon: a zero value leaves a limit as it is, and raising memory above memory+swap needs
//! a new memory+swap in the same request.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::block_io::BlockIoSupport;
use crate::cgroups::{CgroupFs, Limits};
use crate::container_config::{nullable, set_fields, RestartPolicy};
use crate::container_create::{check_cpuset, host_cpus, host_mems, MIN_MEMORY};
use crate::error::{Error, Result};
use crate::lifecycle::Runtime;
use crate::record::{RunConfig, Status};

/// Docker's `UpdateConfig`: the resources of a `HostConfig` plus its restart policy.
#[derive(Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerUpdate {
    /// Relative CPU weight; 0: unchanged.
    pub cpu_shares: i64,
    /// Bytes; 0: unchanged.
    pub memory: i64,
    /// Billionths of a CPU; 0: unchanged.
    pub nano_cpus: i64,
    /// Memory plus swap in bytes; 0: unchanged; -1: unlimited swap.
    pub memory_swap: i64,
    /// None: unchanged; 0 or -1: no limit.
    pub pids_limit: Option<i64>,
    /// CPUs the container may run on (`0-2,4`); empty: unchanged.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    /// Memory nodes it may use; empty: unchanged.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_mems: String,
    /// The CFS period in microseconds; 0: unchanged.
    pub cpu_period: i64,
    /// CPU time per period in microseconds; 0: unchanged; -1: no limit.
    pub cpu_quota: i64,
    /// Soft memory limit in bytes; 0: unchanged.
    pub memory_reservation: i64,
    /// Relative block I/O weight, 10 to 1000; 0: unchanged.
    pub blkio_weight: u16,
    /// An empty name: unchanged.
    #[serde(deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    /// Docker's other resources (CpuRealtimeRuntime, KernelMemory, …), which berth does not
    /// set.
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

impl ContainerUpdate {
    /// The fields set to something berth cannot do, as `CpuRealtimeRuntime`.
    pub fn unsupported_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        set_fields("", &self.unsupported, &mut out);
        out
    }

    /// Whether the request changes nothing (the CLI refuses to send such a request).
    pub fn is_empty(&self) -> bool {
        *self == ContainerUpdate::default()
    }
}

/// What an update says besides success: Docker's `Warnings`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpdateReport {
    pub warnings: Vec<String>,
}

impl Runtime {
    /// Applies `u` to the container `key`, as Docker's daemon does.
    pub fn update(&self, key: &str, u: &ContainerUpdate) -> Result<UpdateReport> {
        let mut c = self.find(key)?;
        // Held to the end: the record is read, changed and written by this update alone.
        let _held = self.containers().lock(&c.id)?;
        let cannot = |e: Error| match e {
            Error::Conflict(m) => Error::Conflict(format!("Cannot update container {}: {m}", c.id)),
            Error::Invalid(m) => Error::Invalid(format!("Cannot update container {}: {m}", c.id)),
            e => e,
        };
        let fields = u.unsupported_fields();
        if !fields.is_empty() {
            return Err(cannot(Error::Invalid(format!(
                "berth does not support {}",
                fields.join(", ")
            ))));
        }
        let mut limits = Limits::default();
        let mut u = u.clone();
        let mut warnings = Vec::new();
        // As at create, a weight the kernel cannot apply is dropped with Docker's warning.
        if u.blkio_weight > 0 && !BlockIoSupport::of(&CgroupFs::host()).weight {
            let h = crate::container_config::HostConfig {
                blkio_weight: u.blkio_weight,
                ..Default::default()
            };
            warnings = crate::block_io::resolve(&h, BlockIoSupport::default())
                .map_err(cannot)?
                .1;
            u.blkio_weight = 0;
        }
        merge(&mut c.config, &u, &mut limits).map_err(cannot)?;
        if c.state.status == Status::Running && c.state.pid > 0 {
            CgroupFs::host()
                .set_limits(&c.id, &limits)
                .map_err(|e| Error::Runtime {
                    id: c.id.clone(),
                    what: "update",
                    reason: e.to_string(),
                })?;
        }
        // The supervisor rewrites the record's state as the container runs: take the newest
        // record and change only its configuration.
        let mut rec = self.containers().load(&c.id)?;
        rec.config = c.config;
        // inspect shows the asked HostConfig's cpusets: keep them in step.
        if let Some(h) = rec.host_config.as_mut() {
            let cfg = &rec.config;
            h.cpuset_cpus = cfg.cpuset_cpus.clone().unwrap_or_default();
            h.cpuset_mems = cfg.cpuset_mems.clone().unwrap_or_default();
            h.cpu_period = cfg
                .cpu_period
                .and_then(|p| i64::try_from(p).ok())
                .unwrap_or(0);
            h.cpu_quota = cfg.cpu_quota.unwrap_or(0);
            h.memory_reservation = cfg.memory_reservation.unwrap_or(0);
            h.blkio_weight = cfg.block_io.weight.unwrap_or(0);
        }
        self.containers().save(&rec)?;
        self.container_event("update", &rec, &[]);
        Ok(UpdateReport { warnings })
    }
}

/// Docker's checks and merge of an update into a container's configuration; `limits` gets
/// what a running container's cgroup must change.
fn merge(cfg: &mut RunConfig, u: &ContainerUpdate, limits: &mut Limits) -> Result<()> {
    if u.memory < 0 {
        return Err(Error::Invalid("invalid Memory: cannot be negative".into()));
    }
    if u.memory != 0 && u.memory < MIN_MEMORY {
        return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()));
    }
    let cpus = host_cpus() as i64;
    if u.nano_cpus < 0 || u.nano_cpus > cpus * 1_000_000_000 {
        return Err(Error::Invalid(format!(
            "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
        )));
    }
    if u.cpu_shares < 0 {
        return Err(Error::Invalid(format!(
            "invalid CpuShares {}: cannot be negative",
            u.cpu_shares
        )));
    }
    let restart = if u.restart_policy.name.is_empty() {
        None
    } else {
        let (name, max) = crate::options::check_restart(&u.restart_policy)?;
        if cfg.auto_remove && name != "no" {
            return Err(Error::Conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            ));
        }
        Some((name, max))
    };
    let current_swap = cfg.memory_swap.unwrap_or(0);
    if u.memory != 0 && u.memory > current_swap && u.memory_swap == 0 {
        return Err(Error::Conflict("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time".into()));
    }
    let memory = if u.memory != 0 {
        u.memory
    } else {
        cfg.memory.unwrap_or(0)
    };
    let swap = if u.memory_swap != 0 {
        u.memory_swap
    } else {
        current_swap
    };
    if swap > 0 && memory == 0 {
        return Err(Error::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ));
    }
    if swap > 0 && swap < memory {
        return Err(Error::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ));
    }
    if u.memory != 0 || u.memory_swap != 0 {
        cfg.memory = (memory != 0).then_some(memory);
        cfg.memory_swap = (swap != 0).then_some(swap);
        limits.memory = Some(if memory > 0 { memory } else { -1 });
        limits.memory_swap = Some(if swap != 0 { swap } else { -1 });
    }
    if u.nano_cpus != 0 {
        cfg.nano_cpus = Some(u.nano_cpus);
        limits.nano_cpus = Some(u.nano_cpus);
    }
    if u.cpu_shares != 0 {
        cfg.cpu_shares = u64::try_from(u.cpu_shares).ok();
        limits.cpu_shares = cfg.cpu_shares;
    }
    if let Some(p) = u.pids_limit {
        cfg.pids_limit = (p > 0).then_some(p);
        limits.pids = Some(p);
    }
    check_cpuset(&u.cpuset_cpus, &u.cpuset_mems, cpus as usize, &host_mems())?;
    if !u.cpuset_cpus.is_empty() {
        cfg.cpuset_cpus = Some(u.cpuset_cpus.clone());
        limits.cpuset_cpus = cfg.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        cfg.cpuset_mems = Some(u.cpuset_mems.clone());
        limits.cpuset_mems = cfg.cpuset_mems.clone();
    }
    // Docker's checks of the new CFS period, quota and soft limit, against each other and
    // against CPUs set as a count.
    if u.cpu_period != 0 && !(1000..=1_000_000).contains(&u.cpu_period) {
        return Err(Error::Invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                .into(),
        ));
    }
    if u.cpu_quota > 0 && u.cpu_quota < 1000 {
        return Err(Error::Invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ));
    }
    let nano_cpus_set = u.nano_cpus > 0 || cfg.nano_cpus.is_some_and(|n| n > 0);
    let period_or_quota_set = cfg.cpu_period.is_some() || cfg.cpu_quota.is_some();
    if u.nano_cpus > 0 && period_or_quota_set && u.cpu_period == 0 && u.cpu_quota == 0 {
        return Err(Error::Conflict(
            "Conflicting options: Nano CPUs cannot be updated as CPU Period or CPU Quota has already been set".into(),
        ));
    }
    if (u.cpu_period > 0 || u.cpu_quota > 0) && nano_cpus_set {
        let which = if u.cpu_period > 0 { "Period" } else { "Quota" };
        return Err(Error::Conflict(format!(
            "Conflicting options: CPU {which} cannot be updated as NanoCPUs has already been set"
        )));
    }
    if u.memory_reservation < 0 || (u.memory_reservation != 0 && u.memory_reservation < MIN_MEMORY)
    {
        return Err(Error::Invalid(
            "Minimum memory reservation allowed is 6MB".into(),
        ));
    }
    let reservation = if u.memory_reservation != 0 {
        u.memory_reservation
    } else {
        cfg.memory_reservation.unwrap_or(0)
    };
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(Error::Invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        ));
    }
    crate::block_io::check_weight(u.blkio_weight)?;
    if u.cpu_period != 0 {
        cfg.cpu_period = u64::try_from(u.cpu_period).ok();
        limits.cpu_period = cfg.cpu_period;
    }
    if u.cpu_quota != 0 {
        cfg.cpu_quota = Some(u.cpu_quota).filter(|q| *q > 0);
        limits.cpu_quota = Some(u.cpu_quota);
    }
    if u.memory_reservation != 0 {
        cfg.memory_reservation = Some(u.memory_reservation);
        limits.memory_reservation = cfg.memory_reservation;
    }
    if u.blkio_weight != 0 {
        cfg.block_io.weight = Some(u.blkio_weight);
        limits.blkio_weight = Some(u.blkio_weight);
    }
    if let Some((name, max)) = restart {
        cfg.restart_policy = name;
        cfg.restart_max = max;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(memory: Option<i64>, memory_swap: Option<i64>) -> RunConfig {
        RunConfig {
            memory,
            memory_swap,
            ..Default::default()
        }
    }

    fn update(json: &str) -> ContainerUpdate {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn memory_above_the_set_memory_swap_needs_a_new_memory_swap() {
        let mut c = config(None, None);
        let mut l = Limits::default();
        let e = merge(&mut c, &update(r#"{"Memory": 104857600}"#), &mut l).unwrap_err();
        assert!(matches!(e, Error::Conflict(_)));
        assert!(e.to_string().starts_with("Memory limit should be smaller"));
        merge(
            &mut c,
            &update(r#"{"Memory": 104857600, "MemorySwap": -1}"#),
            &mut l,
        )
        .unwrap();
        assert_eq!((c.memory, c.memory_swap), (Some(100 << 20), Some(-1)));
        assert_eq!((l.memory, l.memory_swap), (Some(100 << 20), Some(-1)));
        // Within the set memory+swap, memory alone is fine.
        let mut c = config(Some(64 << 20), Some(256 << 20));
        let mut l = Limits::default();
        merge(&mut c, &update(r#"{"Memory": 134217728}"#), &mut l).unwrap();
        assert_eq!(
            (c.memory, c.memory_swap),
            (Some(128 << 20), Some(256 << 20))
        );
        assert_eq!(l.memory_swap, Some(256 << 20));
    }

    #[test]
    fn docker_rejections_and_zero_values() {
        let mut c = config(Some(64 << 20), Some(128 << 20));
        let mut l = Limits::default();
        let err = |c: &mut _, j: &str| {
            merge(c, &update(j), &mut Limits::default())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&mut c, r#"{"Memory": 1024}"#),
            "Minimum memory limit allowed is 6MB"
        );
        assert!(err(&mut c, r#"{"MemorySwap": 33554432}"#).starts_with("Minimum memoryswap"));
        assert!(err(&mut c, r#"{"NanoCpus": 99000000000}"#).starts_with("Range of CPUs"));
        assert!(
            err(&mut c, r#"{"RestartPolicy": {"Name": "sometimes"}}"#).contains("unknown policy")
        );
        // Go's zero values (what the docker CLI sends for flags not given) change nothing.
        let before = c.clone();
        merge(
            &mut c,
            &update(r#"{"Memory":0,"MemorySwap":0,"NanoCpus":0,"CpuShares":0,"CpusetCpus":"","BlkioWeight":0,"RestartPolicy":{"Name":"","MaximumRetryCount":0},"Devices":null}"#),
            &mut l,
        )
        .unwrap();
        assert_eq!(c.memory, before.memory);
        assert_eq!(l, Limits::default());
        merge(
            &mut c,
            &update(r#"{"NanoCpus": 500000000, "CpuShares": 512, "PidsLimit": 0, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}}"#),
            &mut l,
        )
        .unwrap();
        assert_eq!(
            (c.nano_cpus, c.cpu_shares, c.pids_limit),
            (Some(500_000_000), Some(512), None)
        );
        assert_eq!(
            (c.restart_policy.as_str(), c.restart_max),
            ("on-failure", 2)
        );
        assert_eq!(l.pids, Some(0));
        c.auto_remove = true;
        assert!(err(&mut c, r#"{"RestartPolicy": {"Name": "always"}}"#).contains("AutoRemove"));
    }

    #[test]
    fn cfs_period_quota_reservation_and_weight_are_merged_with_dockers_checks() {
        let err = |c: &mut RunConfig, j: &str| {
            merge(c, &update(j), &mut Limits::default())
                .unwrap_err()
                .to_string()
        };
        let mut c = config(Some(64 << 20), Some(128 << 20));
        assert!(err(&mut c, r#"{"CpuPeriod": 500}"#).starts_with("CPU cfs period"));
        assert!(err(&mut c, r#"{"CpuQuota": 500}"#).starts_with("CPU cfs quota"));
        assert!(err(&mut c, r#"{"MemoryReservation": 1024}"#).contains("6MB"));
        assert!(err(&mut c, r#"{"MemoryReservation": 104857600}"#)
            .starts_with("Minimum memory limit can not be less than memory reservation"));
        assert_eq!(
            err(&mut c, r#"{"BlkioWeight": 5}"#),
            "Range of blkio weight is from 10 to 1000"
        );
        let mut l = Limits::default();
        merge(
            &mut c,
            &update(r#"{"CpuPeriod": 50000, "CpuQuota": 25000, "MemoryReservation": 33554432, "BlkioWeight": 300}"#),
            &mut l,
        )
        .unwrap();
        assert_eq!(
            (
                c.cpu_period,
                c.cpu_quota,
                c.memory_reservation,
                c.block_io.weight
            ),
            (Some(50_000), Some(25_000), Some(32 << 20), Some(300))
        );
        assert_eq!(
            (
                l.cpu_period,
                l.cpu_quota,
                l.memory_reservation,
                l.blkio_weight
            ),
            (Some(50_000), Some(25_000), Some(32 << 20), Some(300))
        );
        // CPUs as a count and as period/quota exclude each other, as in Docker.
        assert!(err(&mut c, r#"{"NanoCpus": 500000000}"#).contains("Nano CPUs cannot be updated"));
        let mut n = config(None, None);
        n.nano_cpus = Some(500_000_000);
        assert_eq!(
            err(&mut n, r#"{"CpuQuota": 20000}"#),
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
        );
    }

    #[test]
    fn unsupported_resources_are_named() {
        let u = update(r#"{"CpusetCpus": "0", "BlkioWeight": 0, "CpuRealtimeRuntime": 5000}"#);
        assert_eq!(u.unsupported_fields(), vec!["CpuRealtimeRuntime"]);
        assert!(ContainerUpdate::default().is_empty());
    }
}
