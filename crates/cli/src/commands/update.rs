//! `berth update`: new resource limits or restart policy for containers, as `docker update`.

use std::path::Path;

use anyhow::{bail, Result};
use berth_runtime::container_update::ContainerUpdate;
use clap::Args;

use super::run_flags::{parse_cpus, parse_memory_swap, parse_restart, parse_size};

#[derive(Args)]
pub struct UpdateArgs {
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_negative_numbers = true)]
    memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long, value_name = "uint16")]
    blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// Memory soft limit
    #[arg(long)]
    memory_reservation: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

/// The request the flags ask for.
fn request(a: &UpdateArgs) -> Result<ContainerUpdate> {
    let u = ContainerUpdate {
        cpu_shares: a.cpu_shares.map_or(0, |s| s.min(i64::MAX as u64) as i64),
        memory: a
            .memory
            .as_deref()
            .map(|m| parse_size("-m, --memory", m))
            .transpose()?
            .unwrap_or(0),
        nano_cpus: a.cpus.as_deref().map(parse_cpus).transpose()?.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        memory_swap: a
            .memory_swap
            .as_deref()
            .map(parse_memory_swap)
            .transpose()?
            .unwrap_or(0),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        memory_reservation: a
            .memory_reservation
            .as_deref()
            .map(|m| parse_size("--memory-reservation", m))
            .transpose()?
            .unwrap_or(0),
        restart_policy: a
            .restart
            .as_deref()
            .map(parse_restart)
            .transpose()?
            .unwrap_or_default(),
        ..Default::default()
    };
    if u.is_empty() {
        bail!("you must provide one or more flags when using this command");
    }
    Ok(u)
}

pub fn update(root: &Path, a: UpdateArgs) -> Result<u8> {
    let u = request(&a)?;
    let rt = super::shared::open(root)?;
    super::shared::each(&a.containers, |k| {
        for w in rt.update(k, &u)?.warnings {
            eprintln!("WARNING: {w}");
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: UpdateArgs,
    }

    fn parse(args: &[&str]) -> Result<ContainerUpdate> {
        let cli = Cli::try_parse_from(std::iter::once("update").chain(args.iter().copied()))?;
        request(&cli.a)
    }

    #[test]
    fn flags_become_docker_update_fields() {
        let u = parse(&[
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "-1",
            "--restart",
            "on-failure:3",
            "--cpuset-cpus",
            "0-1",
            "--blkio-weight",
            "300",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "-1",
            "--memory-reservation",
            "32m",
            "c",
        ])
        .unwrap();
        assert_eq!(
            (
                u.blkio_weight,
                u.cpu_period,
                u.cpu_quota,
                u.memory_reservation
            ),
            (300, 50_000, -1, 32 << 20)
        );
        assert_eq!(u.cpuset_cpus, "0-1");
        assert_eq!(u.memory, 64 << 20);
        assert_eq!(u.memory_swap, -1);
        assert_eq!(u.nano_cpus, 1_500_000_000);
        assert_eq!(u.pids_limit, Some(-1));
        assert_eq!(u.restart_policy.name, "on-failure");
        assert_eq!(u.restart_policy.maximum_retry_count, 3);
        let e = parse(&["c"]).unwrap_err().to_string();
        assert_eq!(
            e,
            "you must provide one or more flags when using this command"
        );
        assert!(parse(&["--cpus", "lots", "c"])
            .unwrap_err()
            .to_string()
            .contains("--cpus"));
    }
}
