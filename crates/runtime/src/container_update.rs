//! `docker update` / `POST /containers/{id}/update`: new resource limits and a new restart
//! policy for a container, running or not. A running container's cgroup gets the limits at
//! once; the record keeps them for every later start. Checks and merging follow Docker's
//! daemon: a zero value leaves a limit as it is, and raising memory above memory+swap needs
//! a new memory+swap in the same request.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::cgroups::{CgroupFs, Limits};
use crate::container_config::{nullable, set_fields, RestartPolicy};
use crate::container_create::{check_cpuset, host_cpus, MIN_MEMORY};
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
    /// An empty name: unchanged.
    #[serde(deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    /// Docker's other resources (BlkioWeight, CpuQuota, …), which berth does not set.
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

impl ContainerUpdate {
    /// The fields set to something berth cannot do, as `BlkioWeight`.
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
        merge(&mut c.config, u, &mut limits).map_err(cannot)?;
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
            h.cpuset_cpus = rec.config.cpuset_cpus.clone().unwrap_or_default();
            h.cpuset_mems = rec.config.cpuset_mems.clone().unwrap_or_default();
        }
        self.containers().save(&rec)?;
        self.container_event("update", &rec, &[]);
        Ok(UpdateReport::default())
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
    check_cpuset(&u.cpuset_cpus, &u.cpuset_mems, cpus as usize)?;
    if !u.cpuset_cpus.is_empty() {
        cfg.cpuset_cpus = Some(u.cpuset_cpus.clone());
        limits.cpuset_cpus = cfg.cpuset_cpus.clone();
    }
    if !u.cpuset_mems.is_empty() {
        cfg.cpuset_mems = Some(u.cpuset_mems.clone());
        limits.cpuset_mems = cfg.cpuset_mems.clone();
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
    fn unsupported_resources_are_named() {
        let u = update(r#"{"CpusetCpus": "0", "BlkioWeight": 0, "CpuQuota": 5000}"#);
        assert_eq!(u.unsupported_fields(), vec!["CpuQuota"]);
        assert!(ContainerUpdate::default().is_empty());
    }
}
