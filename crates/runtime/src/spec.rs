//! The OCI runtime spec (config.json) for a container, from the image config and run options.
//! Starts from oci-spec's defaults (runc's: namespaces, /proc, /dev, /sys, masked and
//! read-only paths) and sets what Docker sets.

use std::path::Path;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::record::ContainerRecord;

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

/// Builds config.json for `rec`, whose rootfs is mounted at `rootfs`, with the user already
/// resolved to ids.
pub fn build_spec(
    rec: &ContainerRecord,
    dir: &Path,
    rootfs: &Path,
    user: (u32, u32, Vec<u32>),
) -> Result<Value> {
    let mut spec =
        serde_json::to_value(oci_spec::runtime::Spec::default()).map_err(|e| Error::Json {
            what: "default runtime spec".into(),
            source: e,
        })?;
    let c = &rec.config;
    let caps: Vec<&str> = DOCKER_CAPS.to_vec();
    // Like Docker, the primary group is also a supplementary group.
    let mut groups = vec![user.1];
    groups.extend(user.2.iter().copied().filter(|g| *g != user.1));
    spec["process"] = json!({
        "terminal": false,
        "user": {"uid": user.0, "gid": user.1, "additionalGids": groups},
        "args": c.args,
        "env": c.env,
        "cwd": if c.working_dir.is_empty() { "/" } else { c.working_dir.as_str() },
        "capabilities": {
            "bounding": caps, "effective": caps, "permitted": caps,
        },
        "noNewPrivileges": false,
    });
    spec["root"] = json!({"path": rootfs, "readonly": c.read_only});
    spec["hostname"] = json!(c.hostname);
    let mut mounts = spec["mounts"].as_array().cloned().unwrap_or_default();
    for f in ["hostname", "hosts", "resolv.conf"] {
        mounts.push(json!({
            "destination": format!("/etc/{f}"),
            "type": "bind",
            "source": dir.join(f),
            "options": ["rbind", "rprivate"],
        }));
    }
    spec["mounts"] = Value::Array(mounts);

    let linux = &mut spec["linux"];
    linux["cgroupsPath"] = json!(format!("/berth/{}", rec.id));
    if c.network == "host" {
        if let Some(ns) = linux["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
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
    if !cpu.is_empty() {
        resources["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = c.pids_limit {
        resources["pids"] = json!({"limit": p});
    }
    linux["resources"] = resources;
    // The caller's rlimits are inherited: root here may not raise them (no CAP_SYS_RESOURCE).
    if let Some(p) = spec["process"].as_object_mut() {
        p.remove("rlimits");
    }
    Ok(spec)
}
