//! Seccomp profiles in the OCI form libcontainer loads (through libseccomp).
//!
//! The default profile is an allowlist, as Docker's is: every syscall libseccomp knows for
//! this architecture is allowed except those Docker's documentation lists as blocked by its
//! default profile — kernel modules, kexec, keyrings, mount and namespace changes, clock
//! setting, BPF, perf, cross-process memory access, … — unless the container holds the
//! capability that makes the call legitimate; `clone` only without namespace flags,
//! `personality` only with the values Docker allows. Anything else (a syscall newer than
//! libseccomp's table) gets EPERM.
//!
//! `--security-opt seccomp=FILE` takes a profile in Docker's JSON format (names/action/args,
//! with `includes`/`excludes` on capabilities and architectures).

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Syscalls blocked by default, with the capability that unblocks each (if any).
const BLOCKED: &[(&str, Option<&str>)] = &[
    ("acct", Some("CAP_SYS_PACCT")),
    ("add_key", None),
    ("bpf", Some("CAP_SYS_ADMIN")),
    ("clock_adjtime", Some("CAP_SYS_TIME")),
    ("clock_settime", Some("CAP_SYS_TIME")),
    ("settimeofday", Some("CAP_SYS_TIME")),
    ("delete_module", Some("CAP_SYS_MODULE")),
    ("finit_module", Some("CAP_SYS_MODULE")),
    ("init_module", Some("CAP_SYS_MODULE")),
    ("get_mempolicy", Some("CAP_SYS_NICE")),
    ("mbind", Some("CAP_SYS_NICE")),
    ("set_mempolicy", Some("CAP_SYS_NICE")),
    ("move_pages", Some("CAP_SYS_NICE")),
    ("kcmp", Some("CAP_SYS_PTRACE")),
    ("process_vm_readv", Some("CAP_SYS_PTRACE")),
    ("process_vm_writev", Some("CAP_SYS_PTRACE")),
    ("kexec_file_load", Some("CAP_SYS_BOOT")),
    ("kexec_load", Some("CAP_SYS_BOOT")),
    ("reboot", Some("CAP_SYS_BOOT")),
    ("keyctl", None),
    ("request_key", None),
    ("lookup_dcookie", Some("CAP_SYS_ADMIN")),
    ("mount", Some("CAP_SYS_ADMIN")),
    ("umount2", Some("CAP_SYS_ADMIN")),
    ("pivot_root", Some("CAP_SYS_ADMIN")),
    ("fsopen", Some("CAP_SYS_ADMIN")),
    ("fsconfig", Some("CAP_SYS_ADMIN")),
    ("fsmount", Some("CAP_SYS_ADMIN")),
    ("fspick", Some("CAP_SYS_ADMIN")),
    ("move_mount", Some("CAP_SYS_ADMIN")),
    ("open_tree", Some("CAP_SYS_ADMIN")),
    ("name_to_handle_at", Some("CAP_SYS_ADMIN")),
    ("open_by_handle_at", Some("CAP_DAC_READ_SEARCH")),
    ("perf_event_open", Some("CAP_PERFMON")),
    ("quotactl", Some("CAP_SYS_ADMIN")),
    ("setns", Some("CAP_SYS_ADMIN")),
    ("unshare", Some("CAP_SYS_ADMIN")),
    ("swapon", Some("CAP_SYS_ADMIN")),
    ("swapoff", Some("CAP_SYS_ADMIN")),
    ("sysfs", None),
    ("userfaultfd", Some("CAP_SYS_PTRACE")),
    ("ustat", None),
];

/// x86-only syscalls (not known to libseccomp on other architectures).
const BLOCKED_X86: &[(&str, Option<&str>)] = &[
    ("ioperm", Some("CAP_SYS_RAWIO")),
    ("iopl", Some("CAP_SYS_RAWIO")),
    ("uselib", None),
];

const CLONE_NS_FLAGS: &[u64] = &[
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
];

/// The default profile for a container with capabilities `caps`.
pub fn default_profile(caps: &[String]) -> Value {
    let has = |c: &Option<&str>| c.is_some_and(|c| caps.iter().any(|x| x == c));
    let mut list: Vec<&(&str, Option<&str>)> = BLOCKED.iter().collect();
    if cfg!(target_arch = "x86_64") {
        list.extend(BLOCKED_X86.iter());
    }
    let blocked: Vec<&str> = list
        .iter()
        .filter(|(_, cap)| !has(cap))
        .map(|(n, _)| *n)
        .collect();
    let special = ["clone", "clone3", "personality"];
    let mut allowed: Vec<String> = (0..1024)
        .filter_map(|nr: i32| libseccomp::ScmpSyscall::from(nr).get_name().ok())
        .filter(|n| !blocked.contains(&n.as_str()) && !special.contains(&n.as_str()))
        .collect();
    allowed.sort();
    allowed.dedup();
    let mut syscalls = vec![json!({"names": allowed, "action": "SCMP_ACT_ALLOW"})];
    if caps.iter().any(|c| c == "CAP_SYS_ADMIN") {
        syscalls.push(json!({"names": ["clone", "clone3"], "action": "SCMP_ACT_ALLOW"}));
    } else {
        let ns_mask: u64 = CLONE_NS_FLAGS.iter().sum();
        syscalls.push(json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": ns_mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        }));
        // clone3's flags are in memory seccomp cannot read: ENOSYS makes libc fall back to
        // clone, which the rule above checks (Docker does the same).
        syscalls.push(
            json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS}),
        );
    }
    // personality(2): only the execution domains Docker allows.
    for v in [0u64, 0x0008, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(json!({
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}],
        }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": native_architectures(),
        "syscalls": syscalls,
    })
}

fn native_architectures() -> Vec<&'static str> {
    if cfg!(target_arch = "x86_64") {
        vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        vec!["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    } else {
        vec![]
    }
}

/// Converts a profile in Docker's JSON format to the OCI form, for capabilities `caps`.
pub fn from_docker_profile(text: &str, file: &str, caps: &[String]) -> Result<Value> {
    let bad = |reason: String| Error::BadFlag {
        flag: "--security-opt seccomp",
        value: file.to_string(),
        reason,
    };
    let p: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let default = p["defaultAction"]
        .as_str()
        .ok_or_else(|| bad("missing defaultAction".into()))?;
    let arch = native_architectures();
    let wanted = |cond: &Value, include: bool| -> bool {
        let caps_ok = cond["caps"].as_array().is_none_or(|l| {
            let hit = |c: &Value| caps.iter().any(|x| Some(x.as_str()) == c.as_str());
            if include {
                l.iter().all(hit)
            } else {
                !l.iter().any(hit)
            }
        });
        let arch_name = if cfg!(target_arch = "x86_64") {
            "amd64"
        } else {
            "arm64"
        };
        let arch_ok = cond["arches"].as_array().is_none_or(|l| {
            let hit = l.iter().any(|a| a.as_str() == Some(arch_name));
            if include {
                hit
            } else {
                !hit
            }
        });
        caps_ok && arch_ok
    };
    let mut syscalls = Vec::new();
    for s in p["syscalls"].as_array().cloned().unwrap_or_default() {
        if !wanted(&s["includes"], true) || !wanted(&s["excludes"], false) {
            continue;
        }
        let names: Vec<Value> = match (&s["names"], &s["name"]) {
            (Value::Array(n), _) => n.clone(),
            (_, Value::String(n)) => vec![json!(n)],
            _ => return Err(bad("a syscall rule has no names".into())),
        };
        let mut rule = json!({"names": names, "action": s["action"]});
        if let Some(e) = s["errnoRet"].as_u64() {
            rule["errnoRet"] = json!(e);
        }
        if let Some(args) = s["args"].as_array() {
            if !args.is_empty() {
                rule["args"] = json!(args);
            }
        }
        syscalls.push(rule);
    }
    let mut out = json!({"defaultAction": default, "architectures": arch, "syscalls": syscalls});
    if let Some(e) = p["defaultErrnoRet"].as_u64() {
        out["defaultErrnoRet"] = json!(e);
    }
    Ok(out)
}
