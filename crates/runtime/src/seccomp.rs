//! Seccomp profiles in the OCI form libcontainer loads (through libseccomp).
//!
//! The default profile allows exactly what Docker's default profile allows (an allowlist:
//! everything else gets EPERM), so programs that run under Docker run here and nothing more
//! does. It is kept below as data in Docker's own JSON shape and goes through the same
//! filtering as a user's `--security-opt seccomp=FILE`: rules that depend on a capability
//! (`includes.caps`), on the architecture (`includes.arches`) or on the kernel version
//! (`includes.minKernel`) apply only when those hold for this container and host.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// Syscalls any container may make.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    // files and directories
    "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range",
    "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32",
    "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock",
    "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
    "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64",
    "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listxattr", "llistxattr", "_llseek",
    "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "mkdir", "mkdirat", "mknod",
    "mknodat", "name_to_handle_at", "newfstatat", "open", "openat", "openat2", "pread64",
    "preadv", "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "removexattr", "rename", "renameat", "renameat2", "rmdir",
    "sendfile", "sendfile64", "setxattr", "splice", "stat", "stat64", "statfs", "statfs64",
    "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee", "truncate",
    "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64",
    "utimes", "vmsplice", "write", "writev",
    // asynchronous and multiplexed I/O
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "io_cancel",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
    "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ioctl",
    "ioprio_get", "ioprio_set", "_newselect", "pipe", "pipe2", "poll", "ppoll",
    "ppoll_time64", "pselect6", "pselect6_time64", "select",
    // memory
    "brk", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync", "munlock",
    "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
    // processes, identity and scheduling
    "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "getcpu",
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
    "getsid", "get_thread_area", "gettid", "getuid", "getuid32", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "pidfd_open", "pidfd_send_signal",
    "prctl", "prlimit64", "process_mrelease", "restart_syscall", "rseq", "sched_getaffinity",
    "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
    "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
    "sched_yield", "seccomp", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
    "setgid32", "setgroups", "setgroups32", "setpgid", "setpriority", "setregid",
    "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid",
    "setreuid32", "setrlimit", "set_robust_list", "setsid", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "sysinfo", "uname", "ugetrlimit", "vfork",
    "wait4", "waitid", "waitpid",
    // signals
    "alarm", "kill", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaltstack", "signalfd", "signalfd4",
    "sigprocmask", "sigreturn", "tgkill", "tkill",
    // time (reading it, timers, sleeping; adjtimex and clock_adjtime only read without
    // CAP_SYS_TIME)
    "adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
    "futex", "futex_time64", "futex_waitv", "getitimer", "gettimeofday", "nanosleep",
    "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times",
    // System V and POSIX IPC
    "ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
    "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget",
    // sockets (`socket` itself is below: not for AF_VSOCK)
    "accept", "accept4", "bind", "connect", "getpeername", "getrandom", "getsockname",
    "getsockopt", "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "send", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketcall",
    "socketpair",
];

/// Allowed when the container holds the capability that makes the call legitimate.
#[rustfmt::skip]
const WITH_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
            "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
            "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
            "setns", "syslog", "umount", "umount2", "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    ("CAP_SYS_MODULE", &["delete_module", "init_module", "finit_module"]),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    ("CAP_SYS_TIME", &["settimeofday", "stime", "clock_settime", "clock_settime64"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Allowed on some architectures only (Go's names for them, as in Docker's profiles).
#[rustfmt::skip]
const ON_ARCHITECTURE: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
            "cacheflush", "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// The namespace flags of clone(2): without CAP_SYS_ADMIN, clone may not use any of them.
const CLONE_NS_FLAGS: u64 = 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// personality(2) domains allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and
/// the query value 0xffffffff.
const PERSONALITIES: &[u64] = &[0, 0x0008, 0x20000, 0x20008, 0xffff_ffff];

const AF_VSOCK: u64 = 40;

/// The default profile in Docker's JSON format (capability, architecture and kernel
/// conditions still unresolved).
pub fn default_docker_profile() -> Value {
    let allow = |names: &[&str]| json!({"names": names, "action": "SCMP_ACT_ALLOW"});
    let mut rules = vec![allow(ALLOWED)];
    // ptrace is safe under seccomp from Linux 4.8 on (it can no longer bypass the filter).
    let mut ptrace = allow(&["process_vm_readv", "process_vm_writev", "ptrace"]);
    ptrace["includes"] = json!({"minKernel": "4.8"});
    rules.push(ptrace);
    rules.push(json!({
        "names": ["socket"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}],
    }));
    for v in PERSONALITIES {
        rules.push(json!({
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}],
        }));
    }
    for (arches, names) in ON_ARCHITECTURE {
        let mut r = allow(names);
        r["includes"] = json!({ "arches": arches });
        rules.push(r);
    }
    for (cap, names) in WITH_CAPABILITY {
        let mut r = allow(names);
        r["includes"] = json!({ "caps": [cap] });
        rules.push(r);
    }
    // Without CAP_SYS_ADMIN: clone only without namespace flags (on s390 the flags are the
    // second argument); clone3's flags are in memory seccomp cannot read, so it gets ENOSYS
    // and libc falls back to clone.
    rules.push(json!({
        "names": ["clone"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": CLONE_NS_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}],
        "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
    }));
    rules.push(json!({
        "names": ["clone"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 1, "value": CLONE_NS_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}],
        "includes": {"arches": ["s390", "s390x"]},
        "excludes": {"caps": ["CAP_SYS_ADMIN"]},
    }));
    rules.push(json!({
        "names": ["clone3"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": libc::ENOSYS,
        "excludes": {"caps": ["CAP_SYS_ADMIN"]},
    }));
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "syscalls": rules,
    })
}

/// The default profile for a container with capabilities `caps`, in the OCI form.
pub fn default_profile(caps: &[String]) -> Value {
    match from_docker_value(&default_docker_profile(), "default profile", caps) {
        Ok(p) => p,
        // Our own data is well-formed (a unit test checks it); refuse everything otherwise.
        Err(_) => json!({"defaultAction": "SCMP_ACT_KILL", "syscalls": []}),
    }
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

/// Go's name for this architecture, as Docker's profiles use it.
fn go_architecture() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else if cfg!(target_arch = "riscv64") {
        "riscv64"
    } else if cfg!(target_arch = "s390x") {
        "s390x"
    } else {
        std::env::consts::ARCH
    }
}

/// The running kernel's (major, minor) version.
fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_version(&release)
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Converts a profile in Docker's JSON format to the OCI form, for capabilities `caps`.
pub fn from_docker_profile(text: &str, file: &str, caps: &[String]) -> Result<Value> {
    let p: Value = serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("seccomp profile {file}: invalid JSON: {e}")))?;
    from_docker_value(&p, file, caps)
}

fn from_docker_value(p: &Value, file: &str, caps: &[String]) -> Result<Value> {
    let bad = |reason: String| Error::Invalid(format!("seccomp profile {file}: {reason}"));
    let default = p["defaultAction"]
        .as_str()
        .ok_or_else(|| bad("missing defaultAction".into()))?;
    let arch = native_architectures();
    let kernel = kernel_version();
    let wanted = |cond: &Value, include: bool| -> Result<bool> {
        let caps_ok = cond["caps"].as_array().is_none_or(|l| {
            let hit = |c: &Value| caps.iter().any(|x| Some(x.as_str()) == c.as_str());
            if include {
                l.iter().all(hit)
            } else {
                !l.iter().any(hit)
            }
        });
        let arch_ok = cond["arches"].as_array().is_none_or(|l| {
            let hit = l.iter().any(|a| a.as_str() == Some(go_architecture()));
            if include {
                hit
            } else {
                !hit
            }
        });
        // Docker reads minKernel in `includes` only.
        let kernel_ok = match (include, cond["minKernel"].as_str()) {
            (true, Some(v)) => {
                let min = parse_version(v)
                    .ok_or_else(|| bad(format!("minKernel {v:?} is not a kernel version")))?;
                kernel.is_some_and(|k| k >= min)
            }
            _ => true,
        };
        Ok(caps_ok && arch_ok && kernel_ok)
    };
    let mut syscalls = Vec::new();
    for s in p["syscalls"].as_array().cloned().unwrap_or_default() {
        if !wanted(&s["includes"], true)? || !wanted(&s["excludes"], false)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    /// Syscalls allowed without conditions, and the rules with arguments, by name.
    fn split(p: &Value) -> (Vec<String>, Vec<Value>) {
        let mut plain = Vec::new();
        let mut conditional = Vec::new();
        for r in p["syscalls"].as_array().unwrap() {
            if r["action"] != "SCMP_ACT_ALLOW" || r.get("args").is_some() {
                conditional.push(r.clone());
                continue;
            }
            for n in r["names"].as_array().unwrap() {
                plain.push(n.as_str().unwrap().to_string());
            }
        }
        (plain, conditional)
    }

    #[test]
    fn default_profile_is_an_allowlist_like_dockers() {
        let p = default_profile(&caps(crate::spec::DOCKER_CAPS));
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], libc::EPERM);
        let (plain, conditional) = split(&p);
        for ok in ["read", "openat", "chroot", "ptrace", "io_uring_setup"] {
            assert!(plain.iter().any(|n| n == ok), "{ok} should be allowed");
        }
        // Not in Docker's list, or only with a capability the defaults lack.
        for refused in [
            "mount",
            "unshare",
            "setns",
            "syslog",
            "vhangup",
            "uselib",
            "kcmp",
            "acct",
            "reboot",
            "bpf",
            "keyctl",
            "add_key",
            "kexec_load",
            "nfsservctl",
            "sethostname",
            "clock_settime",
            "open_by_handle_at",
            "socket",
            "clone",
            "personality",
        ] {
            assert!(
                !plain.iter().any(|n| n == refused),
                "{refused} should not be plain"
            );
        }
        let rule = |name: &str| -> Vec<Value> {
            conditional
                .iter()
                .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name))
                .cloned()
                .collect()
        };
        let socket = rule("socket");
        assert_eq!(socket.len(), 1);
        assert_eq!(socket[0]["args"][0]["value"], AF_VSOCK);
        assert_eq!(socket[0]["args"][0]["op"], "SCMP_CMP_NE");
        let clone = rule("clone");
        assert_eq!(clone.len(), 1, "one clone rule on this architecture");
        assert_eq!(clone[0]["args"][0]["value"], 0x7E02_0000u64);
        assert_eq!(rule("clone3")[0]["errnoRet"], libc::ENOSYS);
        assert_eq!(rule("personality").len(), PERSONALITIES.len());
        if cfg!(target_arch = "x86_64") {
            assert!(plain.iter().any(|n| n == "arch_prctl"));
            assert!(!plain.iter().any(|n| n == "set_tls"));
        }
    }

    #[test]
    fn capabilities_widen_the_default_profile() {
        let mut list = caps(crate::spec::DOCKER_CAPS);
        list.extend(caps(&["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"]));
        let p = default_profile(&list);
        let (plain, conditional) = split(&p);
        for ok in [
            "mount",
            "unshare",
            "clone",
            "clone3",
            "kcmp",
            "clock_settime",
            "syslog",
        ] {
            assert!(plain.iter().any(|n| n == ok), "{ok} should be allowed");
        }
        // No conditional clone rules with CAP_SYS_ADMIN.
        assert!(!conditional.iter().any(|r| r["names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "clone")));
    }

    #[test]
    fn every_default_name_is_a_syscall_libseccomp_knows() {
        // A misspelt name would silently allow nothing (libcontainer skips unknown names).
        let p = default_docker_profile();
        for r in p["syscalls"].as_array().unwrap() {
            for n in r["names"].as_array().unwrap() {
                let n = n.as_str().unwrap();
                assert!(
                    libseccomp::ScmpSyscall::from_name(n).is_ok(),
                    "{n} is unknown to libseccomp"
                );
            }
        }
    }

    #[test]
    fn min_kernel_and_bad_profiles() {
        assert_eq!(parse_version("6.18.44-fc-v657"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        let p = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"99.0"}},
            {"names":["rmdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"3.0"}}]}"#;
        let out = from_docker_profile(p, "p.json", &[]).unwrap();
        let names: Vec<&Value> = out["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["names"][0])
            .collect();
        assert_eq!(names, vec!["rmdir"]);
        let bad = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"new"}}]}"#;
        let e = from_docker_profile(bad, "p.json", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("minKernel"), "{e}");
        let e = from_docker_profile("{", "p.json", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("invalid JSON"), "{e}");
    }
}
