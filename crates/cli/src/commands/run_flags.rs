//! The flags of `run` and `create`, and their translation into the engine's typed request
//! (Docker's Config/HostConfig/NetworkingConfig), as the docker CLI makes it: flag syntax is
//! checked here, with messages naming the flag; what the daemon checks is checked by the
//! engine (and checked here too where Docker's CLI does, so the message names the flag).

use anyhow::{anyhow, Result};
use berth_runtime::container_config::{
    Config, ContainerCreate, EndpointIpamConfig, EndpointSettings, Healthcheck, HostConfig,
    LogConfig, Mount, RestartPolicy, TmpfsOptions, Ulimit,
};
use clap::Args;

use super::shared::{engine_error, flag_error, ExitError};

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, value_name = "string")]
    pub(crate) detach_keys: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    pub(crate) rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub(crate) env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub(crate) env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub(crate) workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub(crate) entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub(crate) hostname: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub(crate) read_only: bool,
    /// Memory limit
    #[arg(short, long)]
    pub(crate) memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub(crate) cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub(crate) cpu_shares: Option<u64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long)]
    pub(crate) pids_limit: Option<i64>,
    /// Set meta data on a container
    #[arg(short, long = "label")]
    pub(crate) label: Vec<String>,
    /// Connect a container to a network (bridge, host, none or a network name)
    #[arg(long, alias = "net")]
    pub(crate) network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub(crate) network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub(crate) ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub(crate) ip6: Option<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long)]
    pub(crate) link_local_ip: Vec<String>,
    /// Add link to another container
    #[arg(long)]
    pub(crate) link: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub(crate) publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub(crate) publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub(crate) expose: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub(crate) dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub(crate) dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub(crate) dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub(crate) add_host: Vec<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub(crate) pull: String,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub(crate) platform: Option<String>,
    /// Signal to stop the container
    #[arg(long)]
    pub(crate) stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    pub(crate) stop_timeout: Option<u64>,
    /// Command to run to check health
    #[arg(long)]
    pub(crate) health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long)]
    pub(crate) health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long)]
    pub(crate) health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long)]
    pub(crate) health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long)]
    pub(crate) health_start_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub(crate) no_healthcheck: bool,
    /// Bind mount a volume ([SOURCE:]TARGET[:ro])
    #[arg(short, long = "volume")]
    pub(crate) volume: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=,readonly)
    #[arg(long)]
    pub(crate) mount: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS])
    #[arg(long)]
    pub(crate) tmpfs: Vec<String>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long)]
    pub(crate) restart: Option<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub(crate) cidfile: Option<std::path::PathBuf>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub(crate) init: bool,
    /// Ulimit options (NAME=SOFT[:HARD])
    #[arg(long)]
    pub(crate) ulimit: Vec<String>,
    /// Log driver options (max-size, max-file)
    #[arg(long)]
    pub(crate) log_opt: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub(crate) mac_address: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub(crate) cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub(crate) cpuset_mems: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) memory_swappiness: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub(crate) cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) cpu_quota: Option<i64>,
    /// Memory soft limit
    #[arg(long)]
    pub(crate) memory_reservation: Option<String>,
    /// Disable OOM Killer
    #[arg(long)]
    pub(crate) oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) oom_score_adj: Option<i64>,
    /// Sysctl options
    #[arg(long, value_name = "map")]
    pub(crate) sysctl: Vec<String>,
    /// IPC mode to use (private, shareable, host, none, container:NAME)
    #[arg(long)]
    pub(crate) ipc: Option<String>,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS])
    #[arg(long, value_name = "list")]
    pub(crate) device: Vec<String>,
    /// Size of /dev/shm
    #[arg(long)]
    pub(crate) shm_size: Option<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long)]
    pub(crate) device_cgroup_rule: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long)]
    pub(crate) volumes_from: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long, value_name = "uint16")]
    pub(crate) blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight)
    #[arg(long, value_name = "list")]
    pub(crate) blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long, value_name = "list")]
    pub(crate) device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long, value_name = "list")]
    pub(crate) device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long, value_name = "list")]
    pub(crate) device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long, value_name = "list")]
    pub(crate) device_write_iops: Vec<String>,
    /// User namespace to use (host)
    #[arg(long)]
    pub(crate) userns: Option<String>,
    /// Logging driver for the container (json-file, local or none)
    #[arg(long)]
    pub(crate) log_driver: Option<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub(crate) group_add: Vec<String>,
    /// PID namespace to use (host)
    #[arg(long)]
    pub(crate) pid: Option<String>,
    /// UTS namespace to use (host)
    #[arg(long)]
    pub(crate) uts: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub(crate) cgroupns: Option<String>,
    /// Container isolation technology (default)
    #[arg(long)]
    pub(crate) isolation: Option<String>,
    /// Runtime to use for this container (runc)
    #[arg(long)]
    pub(crate) runtime: Option<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub(crate) cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub(crate) cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Security options (no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json)
    #[arg(long)]
    pub(crate) security_opt: Vec<String>,
    /// Print usage
    #[arg(long, action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// IMAGE [COMMAND] [ARG...]
    /// (Flags come before the image: an unknown flag is an error, never taken for the image;
    /// everything after the image is the container's command.)
    #[arg(required = true, trailing_var_arg = true, num_args = 1..)]
    pub(crate) image_and_command: Vec<String>,
}

/// Docker's RAMInBytes (`512m`, `1g`, `100k`, plain bytes), the error naming the flag.
/// `--blkio-weight-device PATH:WEIGHT`, with the docker CLI's checks and messages.
fn parse_weight_device(v: &str) -> Result<berth_runtime::block_io::WeightDevice> {
    let flag = "--blkio-weight-device";
    let (path, weight) = v
        .split_once(':')
        .filter(|(_, w)| !w.contains(':'))
        .ok_or_else(|| flag_error(flag, v, &format!("bad format: {v}")))?;
    if !path.starts_with("/dev/") {
        return Err(flag_error(
            flag,
            v,
            &format!("bad format for device path: {v}"),
        ));
    }
    match weight.parse::<u16>() {
        Ok(w) if w == 0 || (10..=1000).contains(&w) => Ok(berth_runtime::block_io::WeightDevice {
            path: path.to_string(),
            weight: w,
        }),
        _ => Err(flag_error(
            flag,
            v,
            &format!("invalid weight for device: {v}"),
        )),
    }
}

/// `--device-{read,write}-{bps,iops} PATH:RATE`: a size with an optional unit for bytes, a
/// plain number for operations, as the docker CLI takes them.
fn throttles(
    flag: &str,
    values: &[String],
    bytes: bool,
) -> Result<Vec<berth_runtime::block_io::ThrottleDevice>> {
    values
        .iter()
        .map(|v| {
            let (path, rate) = v
                .split_once(':')
                .filter(|(_, r)| !r.contains(':'))
                .ok_or_else(|| flag_error(flag, v, &format!("bad format: {v}")))?;
            if !path.starts_with("/dev/") {
                return Err(flag_error(
                    flag,
                    v,
                    &format!("bad format for device path: {v}"),
                ));
            }
            let rate = if bytes {
                berth_runtime::options::parse_bytes(rate)
                    .ok()
                    .and_then(|n| u64::try_from(n).ok())
            } else {
                rate.parse::<u64>().ok()
            };
            let expected = if bytes {
                "<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
            } else {
                "<number>. Number must be a positive integer"
            };
            let rate = rate.ok_or_else(|| {
                flag_error(
                    flag,
                    v,
                    &format!("invalid rate for device: {v}. The correct format is <device-path>:{expected}"),
                )
            })?;
            Ok(berth_runtime::block_io::ThrottleDevice {
                path: path.to_string(),
                rate,
            })
        })
        .collect()
}

pub(crate) fn parse_size(flag: &str, v: &str) -> Result<i64> {
    berth_runtime::options::parse_bytes(v).map_err(|reason| flag_error(flag, v, &reason))
}

/// `--memory-swap`: a size, or -1 for unlimited swap.
pub(crate) fn parse_memory_swap(v: &str) -> Result<i64> {
    match v {
        "-1" => Ok(-1),
        s => parse_size("--memory-swap", s),
    }
}

/// `--cpus 1.5` in billionths of a CPU.
pub(crate) fn parse_cpus(c: &str) -> Result<i64> {
    c.parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .map(|n| (n * 1e9) as i64)
        .ok_or_else(|| flag_error("--cpus", c, "expected a positive number of CPUs"))
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub(crate) fn parse_restart(v: &str) -> Result<RestartPolicy> {
    let (name, max) = v.split_once(':').unwrap_or((v, ""));
    let bad = |r: &str| flag_error("--restart", v, r);
    match name {
        "no" | "always" | "unless-stopped" if max.is_empty() => Ok(RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: 0,
        }),
        "on-failure" => Ok(RestartPolicy {
            name: name.to_string(),
            maximum_retry_count: if max.is_empty() {
                0
            } else {
                max.parse::<u32>()
                    .map_err(|_| bad("maximum retry count must be a number"))?
                    .into()
            },
        }),
        "no" | "always" | "unless-stopped" => Err(bad(
            "maximum retry count cannot be used with this restart policy",
        )),
        _ => Err(bad(
            "expected no, always, unless-stopped or on-failure[:max-retries]",
        )),
    }
}

/// `--ulimit NAME=SOFT[:HARD]`, checked against what berth may grant.
fn parse_ulimit(v: &str) -> Result<Ulimit> {
    let (name, limits) = v
        .split_once('=')
        .ok_or_else(|| flag_error("--ulimit", v, "expected NAME=SOFT[:HARD]"))?;
    let num = |s: &str| -> Result<i64> {
        if s == "-1" || s == "unlimited" {
            Ok(-1)
        } else {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| flag_error("--ulimit", v, &format!("invalid ulimit value: {s}")))
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(limits)?, num(limits)?),
    };
    let u = Ulimit {
        name: name.to_string(),
        soft,
        hard,
    };
    berth_runtime::options::check_ulimit(&u).map_err(|r| flag_error("--ulimit", v, &r))?;
    Ok(u)
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…,readonly,tmpfs-size=…,tmpfs-mode=…`.
fn parse_mount(v: &str) -> Result<Mount> {
    let bad = |r: String| flag_error("--mount", v, &r);
    let mut m = Mount {
        kind: "volume".into(),
        ..Mount::default()
    };
    let mut tmpfs = TmpfsOptions::default();
    let mut volume = berth_runtime::container_config::VolumeOptions::default();
    let mut volume_set = false;
    for field in v.split(',') {
        let (k, val) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => m.kind = val.to_string(),
            "source" | "src" => m.source = val.to_string(),
            "target" | "destination" | "dst" => m.target = val.to_string(),
            "readonly" | "ro" => m.read_only = matches!(val, "" | "true" | "1"),
            "tmpfs-size" => tmpfs.size_bytes = parse_size("--mount", val)?,
            "tmpfs-mode" => {
                tmpfs.mode = u32::from_str_radix(val, 8)
                    .map_err(|_| bad(format!("invalid tmpfs-mode {val:?}: expected octal bits")))?
            }
            "volume-nocopy" => {
                volume.no_copy = matches!(val, "" | "true" | "1");
                volume_set = true;
            }
            "volume-subpath" => {
                volume.subpath = val.to_string();
                volume_set = true;
            }
            "volume-label" => {
                let (lk, lv) = val.split_once('=').unwrap_or((val, ""));
                volume.labels.insert(lk.to_string(), lv.to_string());
                volume_set = true;
            }
            // Accepted as the docker CLI accepts them; berth's mounts are always private.
            "bind-propagation" | "consistency" => {}
            _ => return Err(bad(format!("unexpected key '{k}'"))),
        }
    }
    if tmpfs != TmpfsOptions::default() {
        m.tmpfs_options = Some(tmpfs);
    }
    if volume_set {
        m.volume_options = Some(volume);
    }
    // Like the docker CLI: a relative bind source is relative to the current directory.
    if m.kind == "bind" && m.source.starts_with('.') {
        m.source = absolute(&m.source);
    }
    berth_runtime::volumes::mount_spec(&m).map_err(bad)?;
    Ok(m)
}

fn absolute(p: &str) -> String {
    std::env::current_dir()
        .map(|d| d.join(p).display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

/// `--health-*` and `--no-healthcheck` as the request's Healthcheck (None: the image's).
fn healthcheck(a: &RunArgs) -> Result<Option<Healthcheck>> {
    let any_flag = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_start_period.is_some()
        || a.health_start_interval.is_some()
        || a.health_retries.is_some();
    if a.no_healthcheck {
        if any_flag {
            return Err(anyhow!(ExitError {
                code: 125,
                message: "--no-healthcheck conflicts with --health-* options".into(),
            }));
        }
        return Ok(Some(Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Healthcheck::default()
        }));
    }
    if !any_flag {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| match berth_image::config::parse_go_duration(s) {
                Some(n) if n >= 0 => Ok(n),
                Some(_) => Err(flag_error(flag, s, "cannot be negative")),
                None => Err(flag_error(
                    flag,
                    s,
                    "expected a duration such as 30s, 1m30s or 500ms",
                )),
            })
            .transpose()
    };
    if let Some(r) = a.health_retries.filter(|r| *r < 0) {
        return Err(flag_error(
            "--health-retries",
            &r.to_string(),
            "cannot be negative",
        ));
    }
    Ok(Some(Healthcheck {
        test: a
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".into(), c.clone()]),
        interval: dur("--health-interval", &a.health_interval)?,
        timeout: dur("--health-timeout", &a.health_timeout)?,
        start_period: dur("--health-start-period", &a.health_start_period)?,
        start_interval: dur("--health-start-interval", &a.health_start_interval)?,
        retries: a.health_retries,
    }))
}

/// `--env-file` lines, then `-e`; a bare NAME takes its value from this environment (and is
/// left bare, so the image's NAME is removed, when it is not set here), as the docker CLI does.
fn environment(a: &RunArgs) -> Result<Vec<String>> {
    let mut given = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f).map_err(|e| {
            anyhow!(ExitError {
                code: 125,
                message: format!("open {f}: {e}")
            })
        })?;
        for line in text.lines() {
            let l = line.trim_start();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            given.push(l.to_string());
        }
    }
    given.extend(a.env.iter().cloned());
    Ok(given
        .into_iter()
        .map(|e| match (e.contains('='), std::env::var(&e)) {
            (false, Ok(v)) => format!("{e}={v}"),
            _ => e,
        })
        .collect())
}

/// `--security-opt`: a `seccomp=FILE` is read and sent inline, as the docker CLI sends it.
fn security_options(a: &RunArgs) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for o in &a.security_opt {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        if k != "seccomp" || v.is_empty() || v == "unconfined" || v.trim_start().starts_with('{') {
            out.push(o.clone());
            continue;
        }
        let text = std::fs::read_to_string(v).map_err(|e| {
            flag_error(
                "--security-opt",
                o,
                &format!("cannot read the profile: {e}"),
            )
        })?;
        berth_runtime::seccomp::from_docker_profile(&text, v, &[]).map_err(engine_error)?;
        out.push(format!("seccomp={text}"));
    }
    Ok(out)
}

/// The name and the typed request the flags ask for.
pub(crate) fn create_request(a: &RunArgs) -> Result<(Option<String>, ContainerCreate)> {
    let mut it = a.image_and_command.iter();
    let image = it
        .next()
        .cloned()
        .ok_or_else(|| anyhow!("\"berth run\" requires at least 1 argument"))?;
    let command: Vec<String> = it.cloned().collect();
    let memory = a
        .memory
        .as_deref()
        .map(|m| parse_size("-m, --memory", m))
        .transpose()?;
    let memory_swap = a
        .memory_swap
        .as_deref()
        .map(parse_memory_swap)
        .transpose()?;
    let nano_cpus = a.cpus.as_deref().map(parse_cpus).transpose()?;
    if let Some(s) = &a.stop_signal {
        berth_runtime::lifecycle::parse_signal(s).map_err(engine_error)?;
    }
    let restart_policy = a
        .restart
        .as_deref()
        .map(parse_restart)
        .transpose()?
        .unwrap_or(RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        });
    let mut log_config = LogConfig {
        kind: a.log_driver.clone().unwrap_or_default(),
        ..LogConfig::default()
    };
    for o in &a.log_opt {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| flag_error("--log-opt", o, "expected KEY=VALUE"))?;
        log_config.config.insert(k.to_string(), v.to_string());
    }
    berth_runtime::options::check_log_config(&log_config).map_err(|e| match &a.log_driver {
        Some(d) if a.log_opt.is_empty() => flag_error("--log-driver", d, &e.to_string()),
        _ => flag_error("--log-opt", &a.log_opt.join(","), &e.to_string()),
    })?;
    for d in &a.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| flag_error("--dns", d, &format!("{d} is not an ip address")))?;
    }
    for h in &a.add_host {
        berth_runtime::container_create::parse_extra_host(h)
            .map_err(|r| flag_error("--add-host", h, r))?;
    }
    for l in &a.link {
        berth_runtime::container_links::parse_link(l)
            .map_err(|e| flag_error("--link", l, &e.to_string()))?;
    }
    if let Some(ip) = &a.ip {
        ip.parse::<std::net::Ipv4Addr>()
            .map_err(|_| flag_error("--ip", ip, "expected an IPv4 address"))?;
    }
    if let Some(ip) = &a.ip6 {
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| flag_error("--ip6", ip, "expected an IPv6 address"))?;
    }

    let mut config = Config {
        hostname: a.hostname.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        attach_stdin: a.interactive && !a.detach,
        attach_stdout: !a.detach,
        attach_stderr: !a.detach,
        tty: a.tty,
        open_stdin: a.interactive,
        stdin_once: a.interactive && !a.detach,
        env: environment(a)?,
        cmd: (!command.is_empty()).then_some(command),
        healthcheck: healthcheck(a)?,
        image,
        working_dir: a.workdir.clone().unwrap_or_default(),
        entrypoint: a.entrypoint.clone().map(|e| vec![e]),
        labels: a
            .label
            .iter()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        stop_signal: a.stop_signal.clone().unwrap_or_default(),
        stop_timeout: a.stop_timeout.map(|t| t as i64),
        mac_address: a.mac_address.clone().unwrap_or_default(),
        ..Config::default()
    };
    let mut host = HostConfig {
        network_mode: a.network.clone().unwrap_or_else(|| "default".into()),
        restart_policy,
        log_config,
        auto_remove: a.rm,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        dns: a.dns.clone(),
        dns_options: a.dns_option.clone(),
        dns_search: a.dns_search.clone(),
        extra_hosts: a.add_host.clone(),
        links: a.link.clone(),
        privileged: a.privileged,
        publish_all_ports: a.publish_all,
        readonly_rootfs: a.read_only,
        security_opt: security_options(a)?,
        cpu_shares: a.cpu_shares.map(|n| n as i64).unwrap_or(0),
        memory: memory.unwrap_or(0),
        nano_cpus: nano_cpus.unwrap_or(0),
        memory_swap: memory_swap.unwrap_or(0),
        pids_limit: a.pids_limit,
        ulimits: a
            .ulimit
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<Result<_>>()?,
        init: a.init.then_some(true),
        group_add: a.group_add.clone(),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        memory_swappiness: a.memory_swappiness,
        cpu_period: a.cpu_period.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        memory_reservation: a
            .memory_reservation
            .as_deref()
            .map(|v| parse_size("--memory-reservation", v))
            .transpose()?
            .unwrap_or(0),
        oom_kill_disable: a.oom_kill_disable.then_some(true),
        oom_score_adj: a.oom_score_adj.unwrap_or(0),
        sysctls: a
            .sysctl
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(flag_error("--sysctl", kv, "expected KEY=VALUE")),
            })
            .collect::<Result<_>>()?,
        devices: a
            .device
            .iter()
            .map(|d| parse_device(d))
            .collect::<Result<_>>()?,
        shm_size: a
            .shm_size
            .as_deref()
            .map(|v| parse_size("--shm-size", v))
            .transpose()?
            .unwrap_or(0),
        device_cgroup_rules: a.device_cgroup_rule.clone(),
        blkio_weight: a.blkio_weight.unwrap_or(0),
        blkio_weight_device: a
            .blkio_weight_device
            .iter()
            .map(|v| parse_weight_device(v))
            .collect::<Result<_>>()?,
        blkio_device_read_bps: throttles("--device-read-bps", &a.device_read_bps, true)?,
        blkio_device_write_bps: throttles("--device-write-bps", &a.device_write_bps, true)?,
        blkio_device_read_iops: throttles("--device-read-iops", &a.device_read_iops, false)?,
        blkio_device_write_iops: throttles("--device-write-iops", &a.device_write_iops, false)?,
        volumes_from: a.volumes_from.clone(),
        pid_mode: a.pid.clone().unwrap_or_default(),
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        uts_mode: a.uts.clone().unwrap_or_default(),
        cgroupns_mode: a.cgroupns.clone().unwrap_or_default(),
        userns_mode: match a.userns.as_deref() {
            None | Some("") => String::new(),
            Some("host") => "host".into(),
            // The docker CLI's words.
            Some(_) => return Err(anyhow!("--userns: invalid USER mode")),
        },
        isolation: a.isolation.clone().unwrap_or_default(),
        runtime: a.runtime.clone().unwrap_or_default(),
        ..HostConfig::default()
    };
    for p in &a.publish {
        for r in berth_network::parse_publish(p).map_err(|e| engine_error(e.into()))? {
            config.exposed_ports.insert(
                format!("{}/{}", r.container_port, r.proto.as_str()),
                Default::default(),
            );
            host.add_port_binding(&r);
        }
    }
    for e in &a.expose {
        for (port, proto) in berth_network::parse_exposed(e).map_err(|e| engine_error(e.into()))? {
            config
                .exposed_ports
                .insert(format!("{port}/{}", proto.as_str()), Default::default());
        }
    }
    for v in &a.volume {
        // Like the docker CLI: a relative bind source is relative to the current directory.
        let v = match v.split_once(':') {
            Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", absolute(src)),
            _ => v.clone(),
        };
        let m =
            berth_runtime::volumes::parse_bind(&v).map_err(|r| flag_error("--volume", &v, &r))?;
        if m.anonymous {
            config.volumes.insert(m.target, Default::default());
        } else {
            host.binds.push(v);
        }
    }
    for v in &a.mount {
        host.mounts.push(parse_mount(v)?);
    }
    for v in &a.tmpfs {
        let (target, opts) = v.split_once(':').unwrap_or((v, ""));
        berth_runtime::volumes::tmpfs_spec(target, opts)
            .map_err(|r| flag_error("--tmpfs", v, &r))?;
        host.tmpfs.insert(target.to_string(), opts.to_string());
    }
    let endpoint = EndpointSettings {
        aliases: a.network_alias.clone(),
        ipam_config: (a.ip.is_some() || a.ip6.is_some() || !a.link_local_ip.is_empty()).then(
            || EndpointIpamConfig {
                ipv4_address: a.ip.clone().unwrap_or_default(),
                ipv6_address: a.ip6.clone().unwrap_or_default(),
                link_local_ips: a.link_local_ip.clone(),
                ..EndpointIpamConfig::default()
            },
        ),
        ..EndpointSettings::default()
    };
    let mut spec = ContainerCreate {
        config,
        host_config: host,
        ..ContainerCreate::default()
    };
    spec.networking_config
        .endpoints_config
        .insert(spec.host_config.network_mode.clone(), endpoint);
    Ok((a.name.clone(), spec))
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`, as the docker CLI reads it.
fn parse_device(d: &str) -> Result<berth_runtime::container_config::DeviceMapping> {
    let mode =
        |p: &str| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let parts: Vec<&str> = d.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [s] => (*s, "", ""),
        [s, p] if mode(p) => (*s, "", *p),
        [s, t] => (*s, *t, ""),
        [s, t, p] => {
            if !mode(p) {
                return Err(flag_error(
                    "--device",
                    d,
                    &format!("invalid device mode: {p}"),
                ));
            }
            (*s, *t, *p)
        }
        _ => return Err(flag_error("--device", d, "invalid device specification")),
    };
    if src.is_empty() {
        return Err(flag_error("--device", d, "invalid device specification"));
    }
    Ok(berth_runtime::container_config::DeviceMapping {
        path_on_host: src.to_string(),
        path_in_container: if dst.is_empty() { src } else { dst }.to_string(),
        cgroup_permissions: if perms.is_empty() { "rwm" } else { perms }.to_string(),
    })
}
