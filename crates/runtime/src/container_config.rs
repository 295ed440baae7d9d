//! What a container is created from, in the Engine API's own shape: `Config`, `HostConfig`
//! and `NetworkingConfig`, with Docker's field names and units (bytes, nano-CPUs,
//! nanoseconds), serde-compatible with the body of `POST /containers/create`.
//!
//! The CLI builds a [`ContainerCreate`] from its flags (flag syntax and its messages are the
//! CLI's); the API server will read one from JSON. `Runtime::create` checks it as Docker's
//! daemon does and resolves it against the image.
//!
//! Every known Docker field berth does not implement lands in an `unsupported` map rather than
//! being dropped: the docker CLI sends all of them, mostly zero-valued, so a zero value (null,
//! false, 0, "", [], {}) is accepted and anything else is refused by name
//! ([`ContainerCreate::unsupported_fields`]), never silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use berth_image::config::Healthcheck;

/// `{}`: the value of a set's key in Docker's JSON (`ExposedPorts`, `Volumes`).
pub type Empty = berth_image::config::Empty;

/// The body of `POST /containers/create`: Config, with HostConfig and NetworkingConfig inside.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ContainerCreate {
    #[serde(flatten)]
    pub config: Config,
    #[serde(rename = "HostConfig", default, deserialize_with = "nullable")]
    pub host_config: HostConfig,
    #[serde(rename = "NetworkingConfig", default, deserialize_with = "nullable")]
    pub networking_config: NetworkingConfig,
}

/// Docker's container `Config` (the image-independent part of a container).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// `80/tcp` → {}
    #[serde(deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, Empty>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    /// `KEY=VALUE`; a bare `KEY` removes the image's KEY.
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// None: the image's CMD (unless an entrypoint is given).
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    /// Merged with the image's: fields left zero keep the image's value; `["NONE"]` disables.
    pub healthcheck: Option<Healthcheck>,
    /// Windows-only in Docker; accepted and meaningless here.
    pub args_escaped: bool,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    /// Anonymous volumes: `/data` → {}
    #[serde(deserialize_with = "nullable")]
    pub volumes: BTreeMap<String, Empty>,
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    /// None: the image's ENTRYPOINT; `[""]` (the CLI's `--entrypoint ""`) resets it, and then,
    /// as with any given entrypoint, the image's CMD is not used either.
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    /// Kept for images committed from the container; not run.
    #[serde(deserialize_with = "nullable")]
    pub on_build: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub stop_signal: String,
    /// Seconds.
    pub stop_timeout: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub shell: Vec<String>,
    /// The MAC address of the container's interface on its network (deprecated in Docker's
    /// API 1.44 for the endpoint's own MacAddress, still sent by older clients).
    #[serde(deserialize_with = "nullable")]
    pub mac_address: String,
    /// Not a Config field in Docker (which ignores it there), but docker-py sends
    /// `create_container(runtime=…)` here: taken as HostConfig.Runtime.
    #[serde(deserialize_with = "nullable", skip_serializing)]
    pub runtime: String,
    /// Docker fields berth does not implement (Domainname, NetworkDisabled, MacAddress, …).
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

/// A host device in the container (Docker's `DeviceMapping`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    /// Empty: the host's path.
    pub path_in_container: String,
    /// Some of `r`, `w`, `m`; empty: `rwm`.
    pub cgroup_permissions: String,
}

/// Docker's `HostConfig`: how the container is wired to the host.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `SOURCE:TARGET[:MODE]` with SOURCE an absolute host path or a volume name.
    #[serde(deserialize_with = "nullable")]
    pub binds: Vec<String>,
    /// A client-side option (`--cidfile`); the daemon does not act on it.
    #[serde(rename = "ContainerIDFile", deserialize_with = "nullable")]
    pub container_id_file: String,
    #[serde(deserialize_with = "nullable")]
    pub log_config: LogConfig,
    /// `bridge`, `host`, `none`, a network's name, or `default`/empty (bridge).
    #[serde(deserialize_with = "nullable")]
    pub network_mode: String,
    /// `80/tcp` → host bindings.
    #[serde(deserialize_with = "nullable")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    #[serde(deserialize_with = "nullable")]
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    /// Height and width of the terminal at creation (the CLI sends [0, 0] when it has none).
    pub console_size: Option<[u32; 2]>,
    #[serde(deserialize_with = "nullable")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cap_drop: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_options: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub dns_search: Vec<String>,
    /// `NAME:IP`, IP possibly `host-gateway`.
    #[serde(deserialize_with = "nullable")]
    pub extra_hosts: Vec<String>,
    /// Legacy links, `NAME[:ALIAS]` (see `container_links`).
    #[serde(deserialize_with = "nullable")]
    pub links: Vec<String>,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    /// `no-new-privileges[=BOOL]`, `seccomp=unconfined`, `seccomp=<profile JSON>` (the CLI
    /// reads a profile file and sends its content), `label=…`/`apparmor=…` (no LSM here).
    #[serde(deserialize_with = "nullable")]
    pub security_opt: Vec<String>,
    /// Target → tmpfs mount options (`size=64m,mode=1777`).
    #[serde(deserialize_with = "nullable")]
    pub tmpfs: BTreeMap<String, String>,
    /// Relative CPU weight (0: the default, 1024).
    pub cpu_shares: i64,
    /// Bytes; 0: no limit.
    pub memory: i64,
    /// Billionths of a CPU; 0: no limit.
    pub nano_cpus: i64,
    /// Memory plus swap in bytes; 0: twice the memory; -1: unlimited swap.
    pub memory_swap: i64,
    /// 0 to 100; None or -1: the kernel's default. Applied on cgroup v1 only (v2 has no
    /// such knob; Docker ignores it there too).
    pub memory_swappiness: Option<i64>,
    /// CPUs the container may run on (`0-2,4`); empty: all.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    /// Memory nodes the container may use; empty: all.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_mems: String,
    /// None, 0 or -1: no limit.
    pub pids_limit: Option<i64>,
    /// The CFS period in microseconds (1000 to 1000000); 0: the kernel's (100000).
    pub cpu_period: i64,
    /// CPU time in microseconds per period (1000 and up); 0 or -1: no limit.
    pub cpu_quota: i64,
    /// A soft memory limit in bytes (reclaimed to under pressure); 0: none.
    pub memory_reservation: i64,
    /// Keep the OOM killer away from the container's processes (cgroup v1 only).
    pub oom_kill_disable: Option<bool>,
    /// The processes' OOM score adjustment, -1000 to 1000.
    pub oom_score_adj: i64,
    /// Namespaced kernel parameters (`net.*`, `kernel.shm*`, `kernel.msg*`, `kernel.sem`,
    /// `fs.mqueue.*`).
    #[serde(deserialize_with = "nullable")]
    pub sysctls: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub ulimits: Vec<Ulimit>,
    #[serde(deserialize_with = "nullable")]
    pub mounts: Vec<Mount>,
    /// Run berth-init as PID 1 in front of the command.
    pub init: Option<bool>,
    /// Supplementary groups: names (from the image's /etc/group) or numbers.
    #[serde(deserialize_with = "nullable")]
    pub group_add: Vec<String>,
    /// `host`: the host's PID namespace; `container:NAME`: that running container's; empty:
    /// the container's own.
    #[serde(deserialize_with = "nullable")]
    pub pid_mode: String,
    /// `private`/`shareable` (or empty): an IPC namespace of its own; `host`; `none` (no
    /// /dev/shm); `container:NAME`: that running container's.
    #[serde(deserialize_with = "nullable")]
    pub ipc_mode: String,
    /// `host`: the host's UTS namespace (and hostname); empty: the container's own.
    #[serde(rename = "UTSMode", deserialize_with = "nullable")]
    pub uts_mode: String,
    /// `private` (berth's default, as Docker's on cgroup v2) or `host`.
    #[serde(deserialize_with = "nullable")]
    pub cgroupns_mode: String,
    /// `host` or empty: berth runs containers in the host's user namespace (as Docker without
    /// `userns-remap`), so both mean the same.
    #[serde(deserialize_with = "nullable")]
    pub userns_mode: String,
    /// `default` (or empty): Linux has no other isolation.
    #[serde(deserialize_with = "nullable")]
    pub isolation: String,
    /// `runc` (or empty): berth's built-in OCI runtime answers to Docker's default name.
    #[serde(deserialize_with = "nullable")]
    pub runtime: String,
    /// The driver of volumes made for this container: `local` (or empty) only.
    #[serde(deserialize_with = "nullable")]
    pub volume_driver: String,
    /// Size of /dev/shm in bytes; 0: Docker's default, 64 MiB.
    pub shm_size: i64,
    /// Device cgroup rules added to the default set: `c 7:128 rwm`, `b *:* r`, `a`.
    #[serde(deserialize_with = "nullable")]
    pub device_cgroup_rules: Vec<String>,
    /// Host devices made available in the container (`--device`).
    #[serde(deserialize_with = "nullable")]
    pub devices: Vec<DeviceMapping>,
    /// Containers whose mounts this one gets too: `NAME[:ro|:rw]`.
    #[serde(deserialize_with = "nullable")]
    pub volumes_from: Vec<String>,
    /// Relative block I/O weight, 10 to 1000; 0: not set.
    pub blkio_weight: u16,
    #[serde(deserialize_with = "nullable")]
    pub blkio_weight_device: Vec<crate::block_io::WeightDevice>,
    /// Bytes per second read from a device.
    #[serde(deserialize_with = "nullable")]
    pub blkio_device_read_bps: Vec<crate::block_io::ThrottleDevice>,
    #[serde(deserialize_with = "nullable")]
    pub blkio_device_write_bps: Vec<crate::block_io::ThrottleDevice>,
    /// Operations per second read from a device.
    #[serde(rename = "BlkioDeviceReadIOps", deserialize_with = "nullable")]
    pub blkio_device_read_iops: Vec<crate::block_io::ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps", deserialize_with = "nullable")]
    pub blkio_device_write_iops: Vec<crate::block_io::ThrottleDevice>,
    /// Docker fields berth does not implement (Devices, IpcMode, Links, …).
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// `json-file` (or empty: the default, json-file).
    #[serde(rename = "Type", deserialize_with = "nullable")]
    pub kind: String,
    /// `max-size`, `max-file`.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// Empty: every address.
    #[serde(deserialize_with = "nullable")]
    pub host_ip: String,
    /// A port, a range `8000-8010` (any free one of it), or empty/0 (an ephemeral port).
    #[serde(deserialize_with = "nullable")]
    pub host_port: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// `no` (or empty), `always`, `unless-stopped`, `on-failure`.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// For on-failure; 0: no limit.
    pub maximum_retry_count: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    /// `nofile`, `nproc`, … (without RLIMIT_).
    pub name: String,
    /// -1: unlimited.
    pub soft: i64,
    pub hard: i64,
}

/// One entry of `HostConfig.Mounts` (the CLI's `--mount`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type", deserialize_with = "nullable")]
    pub kind: String,
    /// Host path (bind), volume name (volume; empty: an anonymous volume), empty (tmpfs).
    #[serde(deserialize_with = "nullable")]
    pub source: String,
    #[serde(deserialize_with = "nullable")]
    pub target: String,
    pub read_only: bool,
    /// macOS-only in Docker; accepted and meaningless here.
    #[serde(deserialize_with = "nullable")]
    pub consistency: String,
    pub tmpfs_options: Option<TmpfsOptions>,
    pub volume_options: Option<VolumeOptions>,
    /// BindOptions, ImageOptions, ClusterOptions.
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

/// A volume mount's options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    /// Do not copy the image's content at the target into a new, empty volume.
    pub no_copy: bool,
    /// Labels for the volume, when this mount creates it.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// A directory inside the volume to mount instead of its root (API 1.45).
    #[serde(deserialize_with = "nullable")]
    pub subpath: String,
    /// The volume driver: `local` (or empty) without options only.
    pub driver_config: Option<DriverConfig>,
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DriverConfig {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub options: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    /// Bytes; 0: the kernel's default.
    pub size_bytes: i64,
    /// Permission bits (as a number: 1023 is 01777); 0: the kernel's default.
    pub mode: u32,
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

/// Docker's `NetworkingConfig`: the network the container joins, keyed by network name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    #[serde(deserialize_with = "nullable")]
    pub endpoints_config: BTreeMap<String, EndpointSettings>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(deserialize_with = "nullable")]
    pub aliases: Vec<String>,
    /// `NAME[:ALIAS]`: ALIAS resolves to the container NAME for this container alone.
    #[serde(deserialize_with = "nullable")]
    pub links: Vec<String>,
    /// The interface's MAC address (API 1.44 on; before, Config.MacAddress).
    #[serde(rename = "MacAddress", deserialize_with = "nullable")]
    pub mac_address: String,
    #[serde(deserialize_with = "nullable")]
    pub driver_opts: BTreeMap<String, String>,
    /// The read-only state fields (NetworkID, IPAddress, …).
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address", deserialize_with = "nullable")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", deserialize_with = "nullable")]
    pub ipv6_address: String,
    /// More addresses for the interface, usually from 169.254.0.0/16.
    #[serde(rename = "LinkLocalIPs", deserialize_with = "nullable")]
    pub link_local_ips: Vec<String>,
    /// Anything else.
    #[serde(flatten)]
    pub unsupported: BTreeMap<String, Value>,
}

/// null (which Go clients send for empty slices and maps) as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's StrSlice: a string or a list of strings (null: not given).
fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

/// Whether a JSON value is a zero value (what Go's encoder writes for an unset field).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty() || a.iter().all(is_zero),
        Value::Object(o) => o.values().all(is_zero),
    }
}

pub(crate) fn set_fields(prefix: &str, m: &BTreeMap<String, Value>, out: &mut Vec<String>) {
    out.extend(
        m.iter()
            .filter(|(_, v)| !is_zero(v))
            .map(|(k, _)| format!("{prefix}{k}")),
    );
}

impl EndpointSettings {
    /// The fields set to something berth cannot do.
    pub fn unsupported_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        set_fields("", &self.unsupported, &mut out);
        if let Some(i) = &self.ipam_config {
            set_fields("IPAMConfig.", &i.unsupported, &mut out);
        }
        out
    }
}

impl ContainerCreate {
    /// The fields that are set to something berth cannot do, as `HostConfig.IpcMode`.
    pub fn unsupported_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        set_fields("", &self.config.unsupported, &mut out);
        let h = &self.host_config;
        set_fields("HostConfig.", &h.unsupported, &mut out);
        for m in &h.mounts {
            set_fields("HostConfig.Mounts.", &m.unsupported, &mut out);
            if let Some(t) = &m.tmpfs_options {
                set_fields("HostConfig.Mounts.TmpfsOptions.", &t.unsupported, &mut out);
            }
            if let Some(v) = &m.volume_options {
                set_fields("HostConfig.Mounts.VolumeOptions.", &v.unsupported, &mut out);
                if v.driver_config.as_ref().is_some_and(|d| {
                    !matches!(d.name.as_str(), "" | "local") || !d.options.is_empty()
                }) {
                    out.push("HostConfig.Mounts.VolumeOptions.DriverConfig".into());
                }
            }
        }
        for e in self.networking_config.endpoints_config.values() {
            out.extend(
                e.unsupported_fields()
                    .into_iter()
                    .map(|f| format!("NetworkingConfig.EndpointsConfig.{f}")),
            );
        }
        out.sort();
        out.dedup();
        out
    }

    /// The network the container joins: NetworkMode, with Docker's `default` as bridge.
    pub fn network_name(&self) -> &str {
        match self.host_config.network_mode.as_str() {
            "" | "default" => "bridge",
            n => n,
        }
    }

    /// The endpoint settings for that network (the CLI keys them by the name it was given,
    /// `default` included).
    pub fn endpoint(&self) -> Option<&EndpointSettings> {
        let eps = &self.networking_config.endpoints_config;
        eps.get(self.host_config.network_mode.as_str())
            .or_else(|| eps.get(self.network_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: &str = include_str!("testdata/docker-cli-28-run-plain.json");
    const MANY: &str = include_str!("testdata/docker-cli-28-run-many-flags.json");

    #[test]
    fn the_docker_clis_plain_run_is_read_and_asks_for_nothing_unsupported() {
        let c: ContainerCreate = serde_json::from_str(PLAIN).unwrap();
        assert_eq!(c.config.image, "busybox");
        assert_eq!(c.config.cmd, Some(vec!["echo".to_string(), "hi".into()]));
        assert_eq!(c.config.entrypoint, None);
        assert!(c.host_config.auto_remove);
        assert_eq!(c.network_name(), "bridge");
        assert!(c.endpoint().is_some());
        assert_eq!(c.unsupported_fields(), Vec::<String>::new());
    }

    #[test]
    fn the_docker_clis_flags_arrive_in_their_fields() {
        let c: ContainerCreate = serde_json::from_str(MANY).unwrap();
        let h = &c.host_config;
        assert_eq!(c.unsupported_fields(), Vec::<String>::new());
        assert_eq!(c.config.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(c.config.stop_timeout, Some(3));
        assert!(c.config.volumes.contains_key("/anon"));
        assert_eq!(
            c.config.healthcheck.as_ref().unwrap().interval,
            Some(2_000_000_000)
        );
        assert_eq!(h.memory, 64 << 20);
        assert_eq!(h.nano_cpus, 1_000_000_000);
        assert_eq!(h.restart_policy.name, "on-failure");
        assert_eq!(h.restart_policy.maximum_retry_count, 3);
        assert_eq!(
            h.ulimits,
            vec![Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200
            }]
        );
        assert_eq!(h.tmpfs.get("/run").map(String::as_str), Some("size=1m"));
        assert_eq!(h.mounts[0].tmpfs_options.as_ref().unwrap().mode, 0o1777);
        assert_eq!(
            h.port_bindings["70/tcp"].as_ref().unwrap()[0].host_port,
            "7000-7005"
        );
        assert_eq!(h.init, Some(true));
        assert_eq!(c.network_name(), "mynet");
        let ep = c.endpoint().unwrap();
        assert_eq!(ep.aliases, vec!["x".to_string()]);
        assert_eq!(ep.ipam_config.as_ref().unwrap().ipv4_address, "10.0.0.5");
    }

    #[test]
    fn fields_berth_cannot_do_are_named_when_set() {
        let body = r#"{"Image":"busybox","Domainname":"example.org",
            "HostConfig":{"CpuRealtimeRuntime":5,"Devices":[],"LogConfig":{"Type":"","Config":{}},
              "CpuRealtimePeriod":300,"Mounts":[{"Type":"bind","Source":"/","Target":"/h",
              "BindOptions":{"Propagation":"rshared"}}]},
            "NetworkingConfig":{"EndpointsConfig":{"n":{"MacAddress":"02:42:ac:11:00:02",
              "DriverOpts":{"k":"v"},"IPAMConfig":{"IPv6Address":"2001:db8::5","LinkLocalIPs":["169.254.1.1"]}}}}}"#;
        let c: ContainerCreate = serde_json::from_str(body).unwrap();
        assert_eq!(
            c.unsupported_fields(),
            vec![
                "Domainname",
                "HostConfig.CpuRealtimePeriod",
                "HostConfig.CpuRealtimeRuntime",
                "HostConfig.Mounts.BindOptions",
            ]
        );
    }

    #[test]
    fn cmd_and_entrypoint_take_a_string_or_a_list() {
        let c: ContainerCreate =
            serde_json::from_str(r#"{"Cmd":"echo hi","Entrypoint":["sh","-c"]}"#).unwrap();
        assert_eq!(c.config.cmd, Some(vec!["echo hi".to_string()]));
        assert_eq!(c.config.entrypoint.unwrap().len(), 2);
        let c: ContainerCreate = serde_json::from_str(r#"{"Cmd":null,"Env":null}"#).unwrap();
        assert_eq!(c.config.cmd, None);
        assert!(c.config.env.is_empty());
    }

    #[test]
    fn a_wrong_type_is_refused() {
        let e = serde_json::from_str::<ContainerCreate>(r#"{"HostConfig":{"Memory":"lots"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type"), "{e}");
    }
}
