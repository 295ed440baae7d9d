//! The OCI runtime spec (config.json) for a container, from the image config and run options.
//! Starts from oci-spec's defaults (runc's: namespaces, /proc, /dev, /sys, masked and
//! read-only paths) and sets what Docker sets.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::record::ContainerRecord;

/// /dev/shm's size when HostConfig.ShmSize is 0, as Docker's.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

/// Docker's default capability set.
pub const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability (for --privileged and --cap-add ALL).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capability set for `--privileged`, `--cap-add`, `--cap-drop` (names with or without
/// `CAP_`, any case, `ALL`), starting from Docker's default set.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
    let norm = |field: &'static str, c: &str| -> Result<String> {
        let u = c.to_ascii_uppercase();
        if u == "ALL" {
            return Ok(u);
        }
        let full = if u.starts_with("CAP_") {
            u
        } else {
            format!("CAP_{u}")
        };
        if ALL_CAPS.contains(&full.as_str()) {
            Ok(full)
        } else {
            Err(Error::Invalid(format!(
                "invalid {field}: unknown capability: {full:?}"
            )))
        }
    };
    // Like Docker, "all" means all that berth itself holds (root here may lack some, e.g.
    // CAP_SYS_RESOURCE, and cannot hand out what it does not have).
    let held = held_capabilities();
    let all: Vec<String> = ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| held & (1u64 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect();
    let mut caps: Vec<String> = if privileged {
        all.clone()
    } else {
        DOCKER_CAPS.iter().map(|s| s.to_string()).collect()
    };
    for d in drop {
        let d = norm("CapDrop", d)?;
        if d == "ALL" {
            caps.clear();
        } else {
            caps.retain(|c| *c != d);
        }
    }
    for a in add {
        let a = norm("CapAdd", a)?;
        let new: Vec<String> = if a == "ALL" {
            all.clone()
        } else if !all.contains(&a) {
            return Err(Error::Invalid(format!(
                "invalid CapAdd: berth itself does not hold {a}, so it cannot grant it"
            )));
        } else {
            vec![a]
        };
        for c in new {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    Ok(caps)
}

/// The bounding set of this process (bit n = capability n).
fn held_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string()))
        })
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// What a volume mount mounts: the volume's data, or the directory its subpath names in it,
/// which must exist and stay inside the volume (symbolic links included).
fn volume_source(
    volumes: &crate::volumes::Volumes,
    m: &crate::volumes::MountSpec,
) -> Result<std::path::PathBuf> {
    let data = volumes.data_dir(&m.source);
    if m.subpath.is_empty() {
        return Ok(data);
    }
    let fail = |reason: String| {
        Error::Invalid(format!(
            "cannot mount subpath {:?} of volume {}: {reason}",
            m.subpath, m.source
        ))
    };
    let root = std::fs::canonicalize(&data).map_err(|e| fail(e.to_string()))?;
    let dir = std::fs::canonicalize(data.join(&m.subpath)).map_err(|e| fail(e.to_string()))?;
    if !dir.starts_with(&root) {
        return Err(fail("it leads outside the volume".into()));
    }
    Ok(dir)
}

/// Builds config.json for `rec`, whose rootfs is mounted at `rootfs`, with the user already
/// resolved to ids.
/// A mount of a directory onto a file in the image (or of a file onto a directory) is
/// refused here, with the runtime's words and what to check (libcontainer would only say
/// "failed to prepare rootfs").
fn check_mount_target(
    rootfs: &Path,
    target: &str,
    source: &str,
    source_is_dir: bool,
) -> Result<()> {
    // berth's own files are mounted there first, whatever the image has.
    let generated =
        ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"].contains(&target.trim_end_matches('/'));
    let dest = crate::rootfs::resolve_in_root(rootfs, Path::new(target));
    let dest_is_dir = match std::fs::metadata(&dest) {
        _ if generated => Some(false),
        Ok(md) => Some(md.is_dir()),
        Err(_) => None,
    };
    match dest_is_dir {
        Some(is_dir) if is_dir != source_is_dir => Err(Error::Invalid(format!(
            "error mounting {source:?} to rootfs at {target:?}: not a directory: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type"
        ))),
        _ => Ok(()),
    }
}

pub fn build_spec(
    rec: &ContainerRecord,
    dir: &Path,
    rootfs: &Path,
    user: (u32, u32, Vec<u32>),
    volumes: &crate::volumes::Volumes,
    init: Option<&Path>,
) -> Result<Value> {
    let mut spec =
        serde_json::to_value(oci_spec::runtime::Spec::default()).map_err(|e| Error::Json {
            what: "default runtime spec".into(),
            source: e,
        })?;
    let c = &rec.config;
    let caps = &c.caps;
    // Like Docker, the primary group is also a supplementary group.
    let mut groups = vec![user.1];
    groups.extend(user.2.iter().copied().filter(|g| *g != user.1));
    // The caller's rlimits are inherited unless --ulimit says otherwise: oci-spec's default
    // (nofile 1024) is not Docker's, and root here may not raise limits.
    spec["process"] = json!({
        "terminal": c.tty,
        "user": {"uid": user.0, "gid": user.1, "additionalGids": groups},
        "args": c.args,
        "env": process_env(&c.env, c.tty),
        "cwd": if c.working_dir.is_empty() { "/" } else { c.working_dir.as_str() },
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps,
        },
    });
    // Only when set: libcontainer 0.7 loads seccomp before dropping capabilities only when
    // the key is absent, so an explicit `false` would make loading the profile fail.
    if c.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if let Some(init) = init {
        let mut args = vec![crate::options::INIT_PATH.to_string(), "--".to_string()];
        args.extend(c.args.iter().cloned());
        spec["process"]["args"] = json!(args);
        if let Some(m) = spec["mounts"].as_array_mut() {
            m.push(json!({"destination": crate::options::INIT_PATH, "type": "bind", "source": init, "options": ["bind", "ro", "rprivate"]}));
        }
    }
    if c.oom_score_adj != 0 {
        spec["process"]["oomScoreAdj"] = json!(c.oom_score_adj);
    }
    if !c.ulimits.is_empty() {
        spec["process"]["rlimits"] = json!(c
            .ulimits
            .iter()
            .map(|(t, soft, hard)| json!({"type": t, "soft": soft, "hard": hard}))
            .collect::<Vec<_>>());
    }
    spec["root"] = json!({"path": rootfs, "readonly": c.read_only});
    // In the host's UTS namespace the host keeps its name.
    if !c.host_namespaces.iter().any(|h| h == "uts") {
        spec["hostname"] = json!(c.hostname);
    } else if let Some(o) = spec.as_object_mut() {
        o.remove("hostname");
    }
    let mut mounts = spec["mounts"].as_array().cloned().unwrap_or_default();
    // Docker's /dev/shm: 64 MiB unless HostConfig.ShmSize says otherwise.
    let shm_size = c.shm_size.unwrap_or(DEFAULT_SHM_SIZE);
    for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
        if let Some(opts) = m["options"].as_array_mut() {
            opts.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("size=")));
            opts.push(json!(format!("size={shm_size}")));
        }
        // `--ipc host`: the host's /dev/shm, as Docker binds it.
        if c.ipc_mode == "host" {
            *m = json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm",
                        "options": ["rbind", "rprivate"]});
        }
    }
    if c.ipc_mode == "none" {
        mounts.retain(|m| m["destination"] != "/dev/shm");
    }
    for f in ["hostname", "hosts", "resolv.conf"] {
        mounts.push(json!({
            "destination": format!("/etc/{f}"),
            "type": "bind",
            "source": dir.join(f),
            "options": ["rbind", "rprivate"],
        }));
    }
    for m in &c.mounts {
        let mut opts: Vec<String> = Vec::new();
        let (kind, source) = match m.kind.as_str() {
            "tmpfs" => {
                opts.extend(["nosuid", "nodev", "noexec"].map(String::from));
                opts.extend(m.options.iter().cloned());
                ("tmpfs", "tmpfs".to_string())
            }
            "volume" => {
                opts.extend(["rbind", "rprivate"].map(String::from));
                ("bind", volume_source(volumes, m)?.display().to_string())
            }
            _ => {
                opts.extend(["rbind", "rprivate"].map(String::from));
                ("bind", m.source.clone())
            }
        };
        let source_is_dir = kind == "tmpfs" || Path::new(&source).is_dir();
        check_mount_target(rootfs, &m.target, &source, source_is_dir)?;
        if m.readonly {
            opts.push("ro".into());
        }
        mounts.push(
            json!({"destination": m.target, "type": kind, "source": source, "options": opts}),
        );
    }
    spec["mounts"] = Value::Array(mounts);

    let linux = &mut spec["linux"];
    linux["cgroupsPath"] = json!(format!("/berth/{}", rec.id));
    if !c.sysctls.is_empty() {
        linux["sysctl"] = json!(c.sysctls);
    }
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.retain(|n| {
            let kind = n["type"].as_str().unwrap_or("");
            let shared = c.host_namespaces.iter().any(|h| h == kind)
                || (kind == "network" && c.network == "host");
            !shared
        });
        // A user namespace of its own, made first, so the others it makes belong to it.
        if c.userns_remap.is_some() && !ns.iter().any(|n| n["type"] == "user") {
            ns.push(json!({"type": "user"}));
        }
    }
    if let Some(m) = &c.userns_remap {
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": m.uid, "size": m.uid_size}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": m.gid, "size": m.gid_size}]);
    }

    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    if let Some(m) = c.memory {
        resources["memory"] = json!({"limit": m});
        if let Some(s) = c.memory_swap {
            resources["memory"]["swap"] = json!(s);
        }
    }
    let mut cpu = serde_json::Map::new();
    if let Some(n) = c.nano_cpus {
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(n / 10_000));
    }
    if let Some(s) = c.cpu_shares {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(cpus) = &c.cpuset_cpus {
        cpu.insert("cpus".into(), json!(cpus));
    }
    if let Some(p) = c.cpu_period {
        cpu.insert("period".into(), json!(p));
    }
    if let Some(q) = c.cpu_quota {
        cpu.insert("quota".into(), json!(q));
    }
    if let Some(r) = c.memory_reservation {
        resources["memory"]["reservation"] = json!(r);
    }
    // libcontainer 0.7 does not act on disableOOMKiller: the container's start sets it
    // (`CgroupFs::disable_oom_killer`); it is in the spec for what reads the bundle.
    if c.oom_kill_disable && crate::cgroups::CgroupFs::host().is_v1() {
        resources["memory"]["disableOOMKiller"] = json!(true);
    }
    if let Some(mems) = &c.cpuset_mems {
        cpu.insert("mems".into(), json!(mems));
    }
    // cgroup v2 has no swappiness (Docker leaves it out there too).
    if let Some(s) = c.memory_swappiness {
        if crate::cgroups::CgroupFs::host().is_v1() {
            resources["memory"]["swappiness"] = json!(s);
        }
    }
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = c.pids_limit {
        resources["pids"] = json!({"limit": p});
    }
    if !c.block_io.is_empty() {
        resources["blockIO"] = c.block_io.to_oci();
    }
    if !c.devices.is_empty() {
        let nodes: Vec<Value> = c
            .devices
            .iter()
            .map(|d| {
                json!({"path": d.path_in_container, "type": d.kind, "major": d.major,
                       "minor": d.minor, "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid})
            })
            .collect();
        match linux["devices"].as_array_mut() {
            Some(list) => list.extend(nodes),
            None => linux["devices"] = Value::Array(nodes),
        }
    }
    if let Some(devices) = resources["devices"].as_array_mut() {
        for d in &c.devices {
            devices.push(json!({"allow": true, "type": d.kind, "major": d.major,
                                "minor": d.minor, "access": d.access}));
        }
        for r in &c.device_rules {
            let mut d = json!({"allow": true, "type": r.kind, "access": r.access});
            if let Some(n) = r.major {
                d["major"] = json!(n);
            }
            if let Some(n) = r.minor {
                d["minor"] = json!(n);
            }
            devices.push(d);
        }
    }
    if c.privileged {
        resources["devices"] = json!([{"allow": true, "access": "rwm"}]);
        if let Some(l) = linux.as_object_mut() {
            l.remove("maskedPaths");
            l.remove("readonlyPaths");
        }
    }
    linux["resources"] = resources;
    if let Some(profile) = &c.seccomp {
        linux["seccomp"] = serde_json::from_str(profile.get()).map_err(|e| Error::Json {
            what: "the container's seccomp profile".into(),
            source: e,
        })?;
    }
    Ok(spec)
}

/// A process's environment from a config's: bare names left out (they unset, see
/// container_create::merge_env), and Docker's `TERM=xterm` added when it has a terminal and
/// neither the image nor the user set TERM. Applied when the process starts, not recorded in
/// the container's config (as Docker's `inspect` and `commit` do not show it).
pub(crate) fn process_env(env: &[String], tty: bool) -> Vec<String> {
    let mut out: Vec<String> = env.iter().filter(|e| e.contains('=')).cloned().collect();
    if tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        out.push("TERM=xterm".into());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_terminal_gets_term_xterm_unless_term_is_set() {
        let env = vec!["PATH=/bin".to_string()];
        assert_eq!(super::process_env(&env, false), env);
        assert_eq!(super::process_env(&env, true), ["PATH=/bin", "TERM=xterm"]);
        let own = vec!["TERM=vt100".to_string()];
        assert_eq!(super::process_env(&own, true), own);
    }

    fn spec_of(config: crate::record::RunConfig) -> serde_json::Value {
        let root = tempfile::tempdir().unwrap();
        let rec = crate::record::ContainerRecord {
            id: "c1".into(),
            name: "c1".into(),
            created: String::new(),
            image: "busybox".into(),
            image_id: String::new(),
            lower_dirs: Vec::new(),
            config,
            state: Default::default(),
            host_config: None,
        };
        let volumes = crate::volumes::Volumes::new(root.path()).unwrap();
        super::build_spec(
            &rec,
            root.path(),
            root.path(),
            (0, 0, vec![]),
            &volumes,
            None,
        )
        .unwrap()
    }

    #[test]
    fn shm_size_and_device_rules_reach_the_runtime_spec() {
        let shm = |s: &serde_json::Value| {
            let m = s["mounts"].as_array().unwrap();
            let shm = m.iter().find(|m| m["destination"] == "/dev/shm").unwrap();
            let sizes: Vec<_> = shm["options"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|o| o.as_str()?.strip_prefix("size=").map(String::from))
                .collect();
            sizes
        };
        let plain = spec_of(Default::default());
        assert_eq!(shm(&plain), ["67108864"]);
        assert_eq!(
            plain["linux"]["resources"]["devices"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let asked = spec_of(crate::record::RunConfig {
            shm_size: Some(128 << 20),
            device_rules: vec![
                crate::options::parse_device_rule("c 7:128 rwm").unwrap(),
                crate::options::parse_device_rule("b *:* r").unwrap(),
            ],
            ..Default::default()
        });
        assert_eq!(shm(&asked), ["134217728"]);
        let d = &asked["linux"]["resources"]["devices"];
        assert_eq!(d[0]["allow"], false, "the default deny stays first");
        assert_eq!(
            d[1],
            serde_json::json!({"allow": true, "type": "c", "major": 7, "minor": 128, "access": "rwm"})
        );
        assert_eq!(
            d[2],
            serde_json::json!({"allow": true, "type": "b", "access": "r"})
        );
    }
}
