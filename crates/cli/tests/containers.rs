//! End-to-end container tests: real containers from the busybox fixture, driven through the
//! real binary. Root only (namespaces, overlayfs, cgroups).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{busybox_tar, in_pty, json, Berth};

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

/// What berth may leave on the host for a root: nothing once its containers are gone.
fn assert_no_leftovers(b: &Berth) {
    let root = b.root().display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&root), "a mount under {root} is left");
    let containers = std::fs::read_dir(b.root().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(containers, 0, "container state left");
    let runtime = std::fs::read_dir(b.root().join("runtime"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(runtime, 0, "runtime state left");
    let procs = std::process::Command::new("pgrep")
        .arg("-f")
        .arg(format!("__supervise.*{root}|{root}.*__supervise"))
        .output()
        .unwrap();
    assert!(
        procs.stdout.is_empty(),
        "a supervisor is left: {}",
        String::from_utf8_lossy(&procs.stdout)
    );
    // No address lease of this root's containers in the host-wide network state.
    let state = std::fs::read_to_string("/var/lib/berth/network/state.json").unwrap_or_default();
    assert!(
        !state.contains(&format!("{root}/containers")),
        "a network lease of this root is left"
    );
}

/// Our containers' cgroups (other tests' containers may exist at the same time).
fn cgroup_exists(id: &str) -> bool {
    ["memory", "pids", "cpu,cpuacct", "cpu"]
        .iter()
        .any(|c| std::path::Path::new(&format!("/sys/fs/cgroup/{c}/berth/{id}")).exists())
        || std::path::Path::new(&format!("/sys/fs/cgroup/berth/{id}")).exists()
}

#[test]
fn root_run_prints_output_and_returns_exit_codes() {
    let b = busybox();
    assert_eq!(
        b.run(&["run", "--rm", "busybox", "echo", "hello", "world"])
            .ok(),
        "hello world\n"
    );
    let r = b.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "out\n", "err\n")
    );
    // A --rm container's rootfs is disposable: mounted `volatile` (no sync of the whole
    // upper filesystem at unmount); any other container's keeps the overlay's durability.
    let root_options = "grep ' / / ' /proc/self/mountinfo | grep -c volatile";
    assert_eq!(
        b.run(&["run", "--rm", "busybox", "sh", "-c", root_options])
            .ok(),
        "1\n"
    );
    let r = b.run(&["run", "--name", "kept", "busybox", "sh", "-c", root_options]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "0\n"), "{}", r.stderr);
    b.run(&["rm", "kept"]).ok();
    let r = b.run(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(r.code, 127);
    assert_eq!(
        r.stderr,
        "Error: exec: \"nosuchcommand\": executable file not found in $PATH\n"
    );
    let r = b.run(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{}", r.stderr);
    // (--pull never: tests never contact a registry other than their own on 127.0.0.1.)
    let r = b.run(&["run", "--rm", "--pull", "never", "nosuchimage"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (125, "Error: No such image: nosuchimage:latest\n")
    );
    let r = b.run(&["run", "--rm", "--memory", "12q", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr
            .contains("invalid argument \"12q\" for \"-m, --memory\" flag"),
        "{}",
        r.stderr
    );
    let r = b.run(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            125,
            "Error: unable to find user nosuchuser: no matching entries in passwd file\n"
        )
    );
    assert_no_leftovers(&b);
}

#[test]
fn root_run_options_reach_the_container() {
    let b = busybox();
    let dir = tempfile::tempdir().unwrap();
    let envfile = dir.path().join("env");
    std::fs::write(&envfile, "# comment\nFROM_FILE=yes\n").unwrap();
    let out = b
        .run(&[
            "run",
            "--rm",
            "-e",
            "GREETING=hi there",
            "--env-file",
            envfile.to_str().unwrap(),
            "-w",
            "/srv/app",
            "-u",
            "nobody",
            "-h",
            "kiwi",
            "busybox",
            "sh",
            "-c",
            "echo \"$GREETING|$FROM_FILE|$(pwd)|$(id -u):$(id -g)|$(hostname)|$HOSTNAME\"",
        ])
        .ok();
    assert_eq!(out, "hi there|yes|/srv/app|65534:65534|kiwi|kiwi\n");
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "from",
            "entrypoint"
        ])
        .ok(),
        "from entrypoint\n"
    );
    assert_eq!(
        b.run(&["run", "--rm", "-u", "1234:5678", "busybox", "id"])
            .ok(),
        "uid=1234 gid=5678 groups=5678\n"
    );
    let r = b.run(&["run", "--rm", "--read-only", "busybox", "touch", "/x"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    // Image defaults: the imported CMD is ["sh"]; with stdin closed it exits 0 at once.
    assert_eq!(b.run(&["run", "--rm", "busybox"]).code, 0);
    // -i passes stdin through.
    assert_eq!(
        b.run_stdin(&["run", "--rm", "-i", "busybox", "cat"], b"piped input\n")
            .ok(),
        "piped input\n"
    );
    // Names: set, shown, unique.
    b.run(&["create", "--name", "named", "busybox", "true"])
        .ok();
    let r = b.run(&["create", "--name", "named", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr
            .contains("The container name \"/named\" is already in use"),
        "{}",
        r.stderr
    );
    assert_eq!(b.run(&["start", "-a", "named"]).code, 0);
    b.run(&["rm", "named"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_isolation_like_docker() {
    let b = busybox();
    let script = "echo pid=$$; ps -o pid | wc -l; grep CapBnd /proc/self/status; cat /proc/keys 2>&1 | wc -c; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro; \
                  ls /sys/firmware | wc -l; ip link 2>/dev/null | grep -c '^[0-9]'";
    let out = b.run(&["run", "--rm", "busybox", "sh", "-c", script]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "own pid namespace: {out}");
    assert!(
        lines[1].trim().parse::<u32>().unwrap() <= 4,
        "only its own processes: {out}"
    );
    assert_eq!(
        lines[2], "CapBnd:\t00000000a80425fb",
        "Docker's default capabilities: {out}"
    );
    assert_eq!(lines[3].trim(), "0", "/proc/keys masked: {out}");
    assert_eq!(lines[4], "sys-ro", "/proc/sys read-only: {out}");
    assert_eq!(lines[5].trim(), "0", "/sys/firmware masked: {out}");
    assert_eq!(
        lines[6].trim(),
        "2",
        "own network namespace with lo and eth0 on the default bridge: {out}"
    );
    // --network host shares the host's interfaces (other tests' veths and bridges come and
    // go meanwhile, so only the others are compared).
    let stable = |name: &str| {
        !name.starts_with("bv") && !name.starts_with("bt") && !name.starts_with("berth")
    };
    let host_links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| stable(n))
        .collect();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok();
    let mut seen: Vec<&str> = out.lines().filter(|n| stable(n)).collect();
    let mut want: Vec<&str> = host_links.iter().map(String::as_str).collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want);
    assert_no_leftovers(&b);
}

#[test]
fn root_limits_are_enforced_through_cgroups() {
    let b = busybox();
    let out = b
        .run(&[
            "run", "--rm", "--memory", "64m", "--pids-limit", "50", "--cpus", "0.5", "--cpu-shares", "512", "busybox", "sh", "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares",
        ])
        .ok();
    assert_eq!(out, "67108864\n50\n50000\n512\n");
    // A memory-limit kill: exit 137 and OOMKilled, as Docker reports it.
    let r = b.run(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(r.code, 137);
    let v = json(&b.run(&["inspect", "oom"]).ok());
    assert_eq!(v[0]["State"]["OOMKilled"], true);
    assert_eq!(v[0]["State"]["ExitCode"], 137);
    let id = v[0]["Id"].as_str().unwrap().to_string();
    assert!(
        !cgroup_exists(&id),
        "cgroup removed when the container exited"
    );
    b.run(&["rm", "oom"]).ok();
    // The pids limit holds.
    let r = b.run(&[
        "run",
        "--rm",
        "--pids-limit",
        "5",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; wait",
    ]);
    assert!(
        r.stderr.contains("can't fork") || r.stderr.contains("Resource temporarily unavailable"),
        "{}",
        r.stderr
    );
    assert_no_leftovers(&b);
}

/// `--cpu-period`/`--cpu-quota`, `--memory-reservation`, `--oom-kill-disable`,
/// `--oom-score-adj` and `--sysctl` reach the container (cgroup v1 here), with Docker's
/// refusals before anything is created.
#[test]
fn root_cfs_reservation_oom_and_sysctls_reach_the_container() {
    let b = busybox();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--memory-reservation",
            "32m",
            "-m",
            "64m",
            "--oom-kill-disable",
            "--oom-score-adj",
            "200",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=123456789",
            "busybox",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
                 /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /proc/self/oom_score_adj \
                 /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; \
             grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control",
        ])
        .ok();
    assert_eq!(
        out,
        "50000\n25000\n33554432\n200\n1\n123456789\noom_kill_disable 1\n"
    );
    b.run(&[
        "create",
        "--name",
        "lim",
        "--cpu-quota",
        "30000",
        "--oom-score-adj",
        "-5",
        "--sysctl",
        "net.core.somaxconn=256",
        "busybox",
        "true",
    ])
    .ok();
    let shown = b
        .run(&[
            "inspect",
            "-f",
            "{{.HostConfig.CpuQuota}} {{.HostConfig.OomScoreAdj}} {{json .HostConfig.Sysctls}}",
            "lim",
        ])
        .ok();
    assert_eq!(shown.trim(), r#"30000 -5 {"net.core.somaxconn":"256"}"#);
    b.run(&["rm", "lim"]).ok();
    for (flags, message) in [
        (
            vec!["--cpu-period", "10"],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            vec!["--cpus", "1", "--cpu-quota", "50000"],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            vec!["--oom-score-adj", "2000"],
            "range for oom score adj is [-1000, 1000]",
        ),
        (
            vec!["--sysctl", "kernel.hostname=x"],
            "sysctl \"kernel.hostname\" is not allowed",
        ),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"],
            "not allowed in host network namespace",
        ),
        (vec!["--sysctl", "novalue"], "expected KEY=VALUE"),
        (
            vec!["-m", "16m", "--memory-reservation", "32m"],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter().copied());
        args.extend(["busybox", "true"]);
        let err = b.run(&args).fails();
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    assert_no_leftovers(&b);
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`: the node is made in the container and the
/// device cgroup allows what the permissions say; a path that is not a device is refused.
#[test]
fn root_devices_are_made_in_the_container_with_their_permissions() {
    let b = busybox();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--device",
            "/dev/null:/dev/mynull",
            "--device",
            "/dev/loop-control:/dev/lc:r",
            "busybox",
            "sh",
            "-c",
            "ls -l /dev/mynull | cut -c1; echo hi > /dev/mynull && echo wrote; \
             (exec 3</dev/lc) && echo readable; (echo x > /dev/lc) 2>/dev/null || echo refused",
        ])
        .ok();
    // /dev/loop-control is not in the default set: only what `r` allows.
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["c", "wrote", "readable", "refused"]
    );
    let err = b
        .run(&["run", "--rm", "--device", "/etc/passwd", "busybox", "true"])
        .fails();
    assert!(err.contains("not a device node"), "{err}");
    let err = b
        .run(&["run", "--rm", "--device", "/dev/nosuch", "busybox", "true"])
        .fails();
    assert!(
        err.contains(
            "error gathering device information while adding custom device \"/dev/nosuch\""
        ),
        "{err}"
    );
    let err = b
        .run(&[
            "run",
            "--rm",
            "--device",
            "/dev/null:/dev/x:rwz",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("invalid device mode"), "{err}");
    assert_no_leftovers(&b);
}

/// `--pid container:NAME` and `--ipc container:NAME` join a running container's namespaces
/// (its /dev/shm too); `--ipc host` is the host's, `--ipc none` has no /dev/shm; Docker's
/// refusals for a stopped or missing container and a bad mode.
#[test]
fn root_pid_and_ipc_namespaces_are_joined_or_shared() {
    let b = busybox();
    b.run(&[
        "run",
        "-d",
        "--name",
        "nsowner",
        "--ipc",
        "shareable",
        "busybox",
        "sh",
        "-c",
        "echo shared > /dev/shm/marker; sleep 300",
    ])
    .ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.run(&["exec", "nsowner", "cat", "/dev/shm/marker"]).code != 0 {
        assert!(std::time::Instant::now() < deadline, "no marker");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let owner_ipc = b
        .run(&["exec", "nsowner", "readlink", "/proc/self/ns/ipc"])
        .ok();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--pid",
            "container:nsowner",
            "--ipc",
            "container:nsowner",
            "busybox",
            "sh",
            "-c",
            "ps -o comm | grep -c '^sleep'; cat /dev/shm/marker; readlink /proc/self/ns/ipc",
        ])
        .ok();
    assert_eq!(out, format!("1\nshared\n{owner_ipc}"));
    let host_ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--ipc",
            "host",
            "busybox",
            "readlink",
            "/proc/self/ns/ipc",
        ])
        .ok();
    assert_eq!(out.trim(), host_ipc.to_str().unwrap());
    let out = b
        .run(&[
            "run",
            "--rm",
            "--ipc",
            "none",
            "busybox",
            "sh",
            "-c",
            "grep -c ' /dev/shm ' /proc/mounts || true",
        ])
        .ok();
    assert_eq!(out.trim(), "0");
    b.run(&["run", "-d", "--name", "nspriv", "busybox", "sleep", "300"])
        .ok();
    let err = b
        .run(&[
            "run",
            "--rm",
            "--ipc",
            "container:nspriv",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("non-shareable IPC"), "{err}");
    b.run(&["create", "--name", "nsidle", "busybox", "true"])
        .ok();
    let err = b
        .run(&[
            "run",
            "--rm",
            "--pid",
            "container:nsidle",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains("cannot join PID of a non running container"),
        "{err}"
    );
    let err = b
        .run(&[
            "run",
            "--rm",
            "--ipc",
            "container:nosuch",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = b
        .run(&["run", "--rm", "--ipc", "weird", "busybox", "true"])
        .fails();
    assert!(err.contains("invalid IPC mode: weird"), "{err}");
    b.run(&["rm", "-f", "nsowner", "nsidle", "nspriv"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_update_changes_the_limits_of_running_and_stopped_containers() {
    let b = busybox();
    let cat = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max";
    b.run(&[
        "run", "-d", "--name", "up", "-m", "64m", "busybox", "sleep", "300",
    ])
    .ok();
    // Docker's default memory+swap: twice the memory.
    assert_eq!(
        b.run(&["exec", "up", "sh", "-c", cat]).ok(),
        "67108864\n134217728\n-1\nmax\n"
    );
    let r = b.run(&[
        "update",
        "--cpus",
        "0.25",
        "--pids-limit",
        "40",
        "-m",
        "100m",
        "--memory-swap",
        "-1",
        "up",
    ]);
    assert_eq!(r.ok(), "up\n");
    let after = b.run(&["exec", "up", "sh", "-c", cat]).ok();
    let lines: Vec<&str> = after.lines().collect();
    assert_eq!(
        (lines[0], lines[2], lines[3]),
        ("104857600", "25000", "40"),
        "{after}"
    );
    assert!(
        lines[1].parse::<u64>().unwrap() > 1 << 60,
        "unlimited swap: {after}"
    );
    let r = b.run(&["update", "-m", "200m", "up"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        r.stderr
    );
    b.run(&["rm", "-f", "up"]).ok();
    // A stopped container keeps the new limits for its next start.
    b.run(&["create", "--name", "later", "busybox", "sh", "-c", cat])
        .ok();
    b.run(&[
        "update",
        "-m",
        "32m",
        "--memory-swap",
        "48m",
        "--cpus",
        "1",
        "later",
    ])
    .ok();
    b.run(&["start", "-a", "later"]).ok();
    assert_eq!(
        b.run(&["logs", "later"]).ok(),
        "33554432\n50331648\n100000\nmax\n"
    );
    let r = b.run(&["update", "--restart", "always", "nosuch"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error: No such container: nosuch\n")
    );
    b.run(&["rm", "later"]).ok();
    assert_no_leftovers(&b);
}

/// A block device of this machine, for block I/O limits.
fn some_block_device() -> Option<(String, String)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .find_map(|e| {
            let path = format!("/dev/{}", e.file_name().to_string_lossy());
            let m = std::fs::metadata(&path).ok()?;
            let rdev = m.rdev();
            m.file_type()
                .is_block_device()
                .then(|| (path, format!("{}:{}", libc::major(rdev), libc::minor(rdev))))
        })
}

/// `--device-read-bps` and the other throttles reach the blkio cgroup; `--blkio-weight` does
/// too where the kernel has weights, and is discarded with Docker's warning where it has not
/// (this machine: no BFQ); `update` changes the CFS period and quota, the soft limit and the
/// weight of a running container; bad values are refused naming the flag.
#[test]
fn root_block_io_limits_and_updates_reach_the_cgroup() {
    let b = busybox();
    let Some((dev, numbers)) = some_block_device() else {
        panic!("no block device under /sys/block to limit");
    };
    let weights = std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        || std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists();
    let r = b.run(&[
        "run",
        "--name",
        "io",
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-iops",
        &format!("{dev}:100"),
        "--blkio-weight",
        "300",
        "busybox",
        "cat",
        "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device",
        "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
    ]);
    let stderr = r.stderr.clone();
    assert_eq!(
        r.ok(),
        format!("{numbers} 1048576\n{numbers} 100\n"),
        "{stderr}"
    );
    let warning = "WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
    assert_eq!(stderr.contains(warning), !weights, "{stderr}");
    let shown = b
        .run(&[
            "inspect",
            "-f",
            "{{.HostConfig.BlkioWeight}} {{json .HostConfig.BlkioDeviceReadBps}}",
            "io",
        ])
        .ok();
    let weight = if weights { "300" } else { "0" };
    assert_eq!(
        shown.trim(),
        format!(r#"{weight} [{{"Path":"{dev}","Rate":1048576}}]"#)
    );
    b.run(&["rm", "io"]).ok();

    b.run(&["run", "-d", "--name", "upd", "busybox", "sleep", "300"])
        .ok();
    let r = b.run(&[
        "update",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "20000",
        "--memory-reservation",
        "16m",
        "--blkio-weight",
        "200",
        "upd",
    ]);
    let stderr = r.stderr.clone();
    assert_eq!(r.ok(), "upd\n");
    assert_eq!(stderr.contains(warning), !weights, "{stderr}");
    let cat = "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
               /sys/fs/cgroup/memory/memory.soft_limit_in_bytes";
    assert_eq!(
        b.run(&["exec", "upd", "sh", "-c", cat]).ok(),
        "50000\n20000\n16777216\n"
    );
    let shown = b
        .run(&[
            "inspect",
            "-f",
            "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.MemoryReservation}}",
            "upd",
        ])
        .ok();
    assert_eq!(shown.trim(), "50000 20000 16777216");
    let err = b.run(&["update", "--cpus", "1", "upd"]).fails();
    assert!(err.contains("Nano CPUs cannot be updated"), "{err}");
    b.run(&["rm", "-f", "upd"]).ok();

    for (flags, message) in [
        (
            vec!["--device-read-bps".to_string(), dev.clone()],
            format!(r#"invalid argument "{dev}" for "--device-read-bps" flag: bad format: {dev}"#),
        ),
        (
            vec!["--device-write-bps".into(), "sda:1mb".into()],
            "bad format for device path: sda:1mb".into(),
        ),
        (
            vec!["--device-read-iops".into(), format!("{dev}:1mb")],
            "The correct format is <device-path>:<number>. Number must be a positive integer"
                .into(),
        ),
        (
            vec!["--blkio-weight-device".into(), format!("{dev}:5")],
            format!("invalid weight for device: {dev}:5"),
        ),
        (
            vec!["--device-read-bps".into(), "/dev/null:1mb".into()],
            "/dev/null is not a block device".into(),
        ),
        (
            vec!["--blkio-weight".into(), "5".into()],
            if weights {
                "Range of blkio weight is from 10 to 1000".into()
            } else {
                // Docker discards an unsupported weight before checking its range.
                String::new()
            },
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags.iter().map(String::as_str));
        args.extend(["busybox", "true"]);
        if message.is_empty() {
            b.run(&args).ok();
            continue;
        }
        let err = b.run(&args).fails();
        assert!(err.contains(&message), "{flags:?}: {err}");
    }
    assert_no_leftovers(&b);
}

#[test]
fn root_detached_lifecycle() {
    let b = busybox();
    let id = b
        .run(&["run", "-d", "--name", "svc", "busybox", "sh", "-c", "echo started; echo warn >&2; trap 'echo stopping; exit 7' TERM; while true; do sleep 0.1; done"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    let ps = b.run(&["ps"]).ok();
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{ps}");
    assert!(
        ps.contains(&id[..12]) && ps.contains(" svc\n") && ps.contains("Up "),
        "{ps}"
    );
    assert_eq!(b.run(&["ps", "-q", "--no-trunc"]).ok().trim(), id);
    let start = Instant::now();
    while !b.run(&["logs", "svc"]).ok().contains("started") {
        assert!(start.elapsed() < Duration::from_secs(10), "no log output");
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = b.run(&["logs", "svc"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str()),
        ("started\n", "warn\n"),
        "streams kept apart"
    );
    let pid = json(&b.run(&["inspect", "svc"]).ok())[0]["State"]["Pid"]
        .as_i64()
        .unwrap();
    assert!(pid > 0);
    assert_eq!(b.run(&["stop", "svc"]).ok(), "svc\n");
    assert_eq!(b.run(&["wait", "svc"]).ok(), "7\n");
    assert!(b
        .run(&["logs", "--tail", "1", "svc"])
        .ok()
        .contains("stopping"));
    let ps = b
        .run(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
        .ok();
    assert!(ps.starts_with("svc Exited (7)"), "{ps}");
    assert_eq!(b.run(&["ps", "-q"]).ok(), "", "not running any more");
    // Log file in Docker's json-file format.
    let v = json(&b.run(&["inspect", "svc"]).ok());
    let log = std::fs::read_to_string(v[0]["LogPath"].as_str().unwrap()).unwrap();
    // stdout and stderr are separate pipes, so their relative order is not fixed.
    let entries: Vec<serde_json::Value> = log.lines().map(json).collect();
    let out = entries.iter().find(|e| e["stream"] == "stdout").unwrap();
    assert_eq!(out["log"], "started\n");
    assert!(out["time"].as_str().unwrap().ends_with('Z'));
    assert!(entries
        .iter()
        .any(|e| e["stream"] == "stderr" && e["log"] == "warn\n"));
    // rm of a running container needs -f.
    b.run(&["run", "-d", "--name", "busy", "busybox", "sleep", "1000"])
        .ok();
    let r = b.run(&["rm", "busy"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("container is running: stop the container before removing or force remove"),
        "{}",
        r.stderr
    );
    assert_eq!(b.run(&["kill", "-s", "USR1", "busy"]).code, 0);
    // Without a signal, kill returns once the exit is recorded, as docker's does.
    b.run(&["kill", "busy"]).ok();
    let state = b
        .run(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "busy",
        ])
        .ok();
    assert_eq!(state.trim(), "exited 137");
    b.run(&["rm", "-f", "busy", "svc"]).ok();
    let r = b.run(&["rm", "svc"]);
    assert_eq!(r.stderr, "Error: No such container: svc\n");
    assert_no_leftovers(&b);
}

#[test]
fn root_signals_reach_a_foreground_container() {
    let b = busybox();
    let mut child = b
        .cmd(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(42));
    assert_no_leftovers(&b);
}

#[test]
fn root_killed_supervisor_leaves_the_truth_and_rm_cleans_up() {
    let b = busybox();
    let id = b
        .run(&["run", "-d", "busybox", "sleep", "1000"])
        .ok()
        .trim()
        .to_string();
    let root = b.root().display().to_string();
    let sup = std::process::Command::new("pgrep")
        .args(["-f", &format!("{root} __supervise {id}")])
        .output()
        .unwrap();
    let sup_pid: i32 = String::from_utf8_lossy(&sup.stdout)
        .trim()
        .parse()
        .expect("supervisor running");
    unsafe { libc::kill(sup_pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    // The container itself still runs, and ps says so.
    assert!(b.run(&["ps"]).ok().contains(&id[..12]));
    // Once it ends with nothing watching, it is shown exited, with no made-up end time.
    let pid: i32 = b
        .run(&["inspect", "--format", "{{.State.Pid}}", &id])
        .ok()
        .trim()
        .parse()
        .unwrap();
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    let status = b
        .run(&[
            "ps",
            "-a",
            "--filter",
            &format!("id={id}"),
            "--format",
            "{{.Status}}",
        ])
        .ok();
    assert_eq!(status.trim(), "Exited (-1)");
    b.run(&["rm", "-f", &id[..12]]).ok();
    assert!(!cgroup_exists(&id));
    assert_no_leftovers(&b);
}

#[test]
fn root_images_in_use_are_kept() {
    let b = busybox();
    b.run(&["create", "--name", "user", "busybox", "true"]).ok();
    let r = b.run(&["rmi", "busybox"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("image is being used by a container"),
        "{}",
        r.stderr
    );
    b.run(&["rm", "user"]).ok();
    b.run(&["rmi", "busybox"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_many_containers_leave_nothing_behind() {
    let b = busybox();
    let ids_dir = tempfile::tempdir().unwrap();
    let cid = |i: usize| ids_dir.path().join(format!("c{i}")).display().to_string();
    for i in 0..200 {
        let r = b.run(&["run", "--rm", "--cidfile", &cid(i), "busybox", "true"]);
        assert_eq!(r.code, 0, "run {i}: {}", r.stderr);
    }
    let children: Vec<_> = (200..220)
        .map(|i| {
            b.cmd(&[
                "run",
                "--rm",
                "--cidfile",
                &cid(i),
                "busybox",
                "sh",
                "-c",
                "sleep 0.3; echo done",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "done\n",
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Not one cgroup of the 220 containers is left either.
    for i in 0..220 {
        let id = std::fs::read_to_string(cid(i)).unwrap();
        assert_eq!(id.len(), 64);
        assert!(!cgroup_exists(&id), "cgroup of container {i} left");
    }
    let r = b.run(&["run", "--rm", "--cidfile", &cid(0), "busybox", "true"]);
    assert!(r.stderr.contains("container ID file found"), "{}", r.stderr);
    // start -i attaches, with the container's stdin when it was created with -i.
    b.run(&["create", "--name", "reader", "-i", "busybox", "cat"])
        .ok();
    assert_eq!(
        b.run_stdin(&["start", "-i", "reader"], b"to start\n").ok(),
        "to start\n"
    );
    b.run(&["rm", "reader"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_security_options() {
    let b = busybox();
    // The default seccomp profile is really loaded: unshare is refused inside the container,
    // although the capabilities alone would allow a user namespace.
    let r = b.run(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    // The filter is loaded by the container's process from the compiled program with
    // CAP_SYS_ADMIN held for that alone: none of it is left in any set, in the container's
    // process or in an exec'd one (which gets the same filter, as in Docker).
    let docker_caps = "CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
                       CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nSeccomp:\t2\n";
    let status = "grep -E '^(CapPrm|CapEff|CapBnd|CapAmb|Seccomp):' /proc/self/status";
    assert_eq!(
        b.run(&["run", "--rm", "busybox", "sh", "-c", status]).ok(),
        docker_caps
    );
    b.run(&["run", "-d", "--name", "filtered", "busybox", "sleep", "60"])
        .ok();
    assert_eq!(
        b.run(&["exec", "filtered", "sh", "-c", status]).ok(),
        docker_caps
    );
    let r = b.run(&["exec", "filtered", "unshare", "-U", "true"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("Operation not permitted"), "{}", r.stderr);
    let out = b
        .run(&["exec", "-u", "1000", "filtered", "sh", "-c", status])
        .ok();
    assert!(
        out.starts_with("CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"),
        "{out}"
    );
    b.run(&["rm", "-f", "filtered"]).ok();
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "unshare",
            "-U",
            "true"
        ])
        .code,
        0
    );
    // A profile in Docker's format.
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
            {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_SYS_ADMIN"]}}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let r = b.run(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "mkdir /x || echo mkdir-refused; chmod 600 /etc/passwd && echo chmod-ok",
    ]);
    assert_eq!(r.stdout, "mkdir-refused\nchmod-ok\n", "{}", r.stderr);
    let r = b.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=/nonexistent.json",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("/nonexistent.json"), "{}", r.stderr);
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--security-opt",
            "no-new-privileges",
            "busybox",
            "grep",
            "NoNewPrivs",
            "/proc/self/status"
        ])
        .ok(),
        "NoNewPrivs:\t1\n"
    );
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "busybox",
            "grep",
            "NoNewPrivs",
            "/proc/self/status"
        ])
        .ok(),
        "NoNewPrivs:\t0\n"
    );
    // Capabilities.
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            "busybox",
            "grep",
            "CapBnd",
            "/proc/self/status"
        ])
        .ok(),
        "CapBnd:\t0000000000000000\n"
    );
    let r = b.run(&[
        "run",
        "--rm",
        "--cap-drop",
        "chown",
        "busybox",
        "chown",
        "nobody",
        "/etc/passwd",
    ]);
    assert_ne!(r.code, 0, "chown without CAP_CHOWN must fail");
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--cap-add",
            "NET_ADMIN",
            "busybox",
            "ip",
            "link",
            "set",
            "lo",
            "down"
        ])
        .code,
        0
    );
    assert_ne!(
        b.run(&["run", "--rm", "busybox", "ip", "link", "set", "lo", "down"])
            .code,
        0
    );
    let r = b.run(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            125,
            "Error: invalid CapAdd: unknown capability: \"CAP_BOGUS\"\n"
        )
    );
    // --privileged: every capability berth holds, no masked paths.
    let out = b
        .run(&[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "sh",
            "-c",
            "ls /sys/firmware | wc -l; unshare -U true && echo ok",
        ])
        .ok();
    assert!(out.ends_with("ok\n") && !out.starts_with("0\n"), "{out}");
    assert_no_leftovers(&b);
}

#[test]
fn root_volumes_binds_and_tmpfs() {
    let b = busybox();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "from host\n").unwrap();
    let bind = format!("{}:/data", host.path().display());
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "cat /data/in.txt; echo back > /data/out.txt"
        ])
        .ok(),
        "from host\n"
    );
    assert_eq!(
        std::fs::read_to_string(host.path().join("out.txt")).unwrap(),
        "back\n"
    );
    let r = b.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{bind}:ro"),
        "busybox",
        "touch",
        "/data/x",
    ]);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let r = b.run(&[
        "run",
        "--rm",
        "-v",
        "/nonexistent-berth-src:/x",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr
            .contains("bind source path does not exist: /nonexistent-berth-src"),
        "{}",
        r.stderr
    );
    // A named volume is created on first use, seeded from the image, and outlives containers.
    let out = b
        .run(&[
            "run",
            "--rm",
            "-v",
            "binvol:/bin",
            "busybox",
            "sh",
            "-c",
            "ls /bin | grep -c busybox; echo kept > /bin/note",
        ])
        .ok();
    assert_eq!(out, "1\n");
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,source=binvol,target=/v",
            "busybox",
            "cat",
            "/v/note"
        ])
        .ok(),
        "kept\n"
    );
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok(), "binvol\n");
    // tmpfs with options.
    let out = b
        .run(&[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch:size=1m",
            "busybox",
            "sh",
            "-c",
            "mount | grep /scratch",
        ])
        .ok();
    assert!(
        out.contains("tmpfs on /scratch type tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
    // Anonymous volumes go with `rm -v` (and with --rm).
    b.run(&[
        "create", "--name", "anon", "-v", "/cache", "busybox", "true",
    ])
    .ok();
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok().lines().count(), 2);
    let r = b.run(&["volume", "rm", "binvol"]);
    assert_eq!(
        r.code, 0,
        "binvol is not used by any container: {}",
        r.stderr
    );
    b.run(&["rm", "-v", "anon"]).ok();
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok(), "");
    let r = b.run(&["run", "--rm", "-v", "a:b", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains("mount path must be absolute"),
        "{}",
        r.stderr
    );
    assert_no_leftovers(&b);
}

#[test]
fn root_exec_joins_the_running_container() {
    let b = busybox();
    b.run(&[
        "run",
        "-d",
        "--name",
        "target",
        "--memory",
        "32m",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let out = b
        .run(&["exec", "target", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $FROM_RUN; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"])
        .ok();
    assert_eq!(
        out, "sleep 1000 \n1\n33554432\n",
        "same pid namespace, environment and cgroup"
    );
    let r = b.run(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "X=2",
        "target",
        "sh",
        "-c",
        "echo $(id -u) $(pwd) $X; exit 5",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (5, "65534 /tmp 2\n"));
    assert_eq!(b.run(&["exec", "target", "nosuch"]).code, 127);
    assert_eq!(
        b.run_stdin(&["exec", "-i", "target", "cat"], b"through stdin\n")
            .ok(),
        "through stdin\n"
    );
    b.run(&[
        "exec",
        "-d",
        "target",
        "sh",
        "-c",
        "echo detached > /tmp/marker",
    ])
    .ok();
    let start = Instant::now();
    while b.run(&["exec", "target", "cat", "/tmp/marker"]).stdout != "detached\n" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "detached exec never ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b.run(&["stop", "-t", "0", "target"]).ok();
    let r = b.run(&["exec", "target", "true"]);
    assert!(r.stderr.contains("is not running"), "{}", r.stderr);
    b.run(&["rm", "target"]).ok();
    assert_no_leftovers(&b);
}

fn wait_for(b: &Berth, args: &[&str], want: &str) {
    let start = Instant::now();
    loop {
        let out = b.run(args).stdout;
        if out == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{args:?}: got {out:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn root_restart_policies_rename_pause_prune() {
    let b = busybox();
    b.run(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo attempt; exit 3",
    ])
    .ok();
    wait_for(
        &b,
        &[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
            "flaky",
        ],
        "2 exited 3\n",
    );
    assert_eq!(
        b.run(&["logs", "flaky"]).ok(),
        "attempt\nattempt\nattempt\n",
        "first run and two restarts"
    );
    b.run(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.1",
    ])
    .ok();
    let start = Instant::now();
    while json(&b.run(&["inspect", "always"]).ok())[0]["RestartCount"]
        .as_u64()
        .unwrap()
        < 2
    {
        assert!(start.elapsed() < Duration::from_secs(15), "never restarted");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Running or between two runs, it is not removed without -f.
    for _ in 0..5 {
        let r = b.run(&["rm", "always"]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr
                .contains(": stop the container before removing or force remove"),
            "{}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(40));
    }
    b.run(&["stop", "always"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        b.run(&["inspect", "-f", "{{.State.Status}}", "always"])
            .ok(),
        "exited\n",
        "stop wins over --restart always"
    );
    let r = b.run(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert_eq!(r.code, 125);
    let r = b.run(&["run", "--restart", "sometimes", "busybox", "true"]);
    assert!(r.stderr.contains("--restart"), "{}", r.stderr);

    b.run(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"])
        .ok();
    b.run(&["pause", "sleeper"]).ok();
    let v = json(&b.run(&["inspect", "sleeper"]).ok());
    assert_eq!(v[0]["State"]["Paused"], true);
    let pid = v[0]["State"]["Pid"].as_i64().unwrap();
    let state = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        state.contains("State:\tD") || state.contains("State:\tS"),
        "{state}"
    );
    assert!(b.run(&["ps"]).ok().contains("(Paused)"));
    b.run(&["unpause", "sleeper"]).ok();
    b.run(&["rename", "sleeper", "renamed"]).ok();
    assert_eq!(b.run(&["ps", "--format", "{{.Names}}"]).ok(), "renamed\n");
    let r = b.run(&["rename", "renamed", "flaky"]);
    assert!(r.stderr.contains("is already in use"), "{}", r.stderr);
    b.run(&["restart", "-t", "1", "renamed"]).ok();
    assert_eq!(
        b.run(&["inspect", "-f", "{{.State.Status}}", "renamed"])
            .ok(),
        "running\n"
    );
    let out = b.run(&["container", "prune", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Containers:\n") && out.lines().count() == 5,
        "two stopped removed: {out}"
    );
    assert_eq!(
        b.run(&["ps", "-a", "--format", "{{.Names}}"]).ok(),
        "renamed\n"
    );
    b.run(&["rm", "-f", "renamed"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_diff_commit_export_cp_top_stats() {
    let b = busybox();
    b.run(&[
        "run",
        "--name",
        "work",
        "busybox",
        "sh",
        "-c",
        "echo new > /etc/newfile; rm /bin/vi; mkdir /app; echo app > /app/a",
    ])
    .ok();
    assert_eq!(
        b.run(&["diff", "work"]).ok(),
        "A /app\nA /app/a\nC /bin\nD /bin/vi\nC /etc\nA /etc/newfile\n"
    );
    let id = b
        .run(&[
            "commit",
            "-c",
            "CMD [\"cat\", \"/app/a\"]",
            "-m",
            "add app",
            "work",
            "myapp:1",
        ])
        .ok();
    assert!(id.starts_with("sha256:"));
    assert_eq!(
        b.run(&["run", "--rm", "myapp:1"]).ok(),
        "app\n",
        "new CMD and new layer"
    );
    assert_ne!(
        b.run(&["run", "--rm", "myapp:1", "ls", "/bin/vi"]).code,
        0,
        "deletion committed as a whiteout"
    );
    let v = json(&b.run(&["image", "inspect", "myapp:1"]).ok());
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(v[0]["Comment"], "add app");
    let upper = v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(
        !std::path::Path::new(upper).join("etc/hosts").exists(),
        "runtime mount points are not image content"
    );
    // export: the whole filesystem as a tar.
    let out = b.cmd(&["export", "work"]).output().unwrap();
    assert!(out.status.success());
    let names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&"app/a".to_string())
            && names.contains(&"bin/busybox".to_string())
            && !names.contains(&"bin/vi".to_string())
    );
    // cp both ways; a symlink in the container cannot make berth read or write the host.
    let dir = tempfile::tempdir().unwrap();
    b.run(&["cp", "work:/app/a", dir.path().to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a")).unwrap(),
        "app\n"
    );
    std::fs::write(dir.path().join("in.txt"), "host\n").unwrap();
    b.run(&[
        "cp",
        dir.path().join("in.txt").to_str().unwrap(),
        "work:/app/",
    ])
    .ok();
    b.run(&["start", "-a", "work"]);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    b.run(&[
        "run",
        "--name",
        "evil",
        "busybox",
        "ln",
        "-s",
        secret.to_str().unwrap(),
        "/leak",
    ])
    .ok();
    let r = b.run(&["cp", "evil:/leak", dir.path().join("got").to_str().unwrap()]);
    if r.code == 0 {
        let got = std::fs::symlink_metadata(dir.path().join("got")).unwrap();
        assert!(
            got.file_type().is_symlink(),
            "copied as a symlink, not the host file's content"
        );
    }
    let r = b.run(&["cp", "work:/nonexistent", dir.path().to_str().unwrap()]);
    assert!(
        r.stderr
            .contains("Could not find the file /nonexistent in container work"),
        "{}",
        r.stderr
    );
    // top and stats of a running container.
    b.run(&[
        "run", "-d", "--name", "busy", "--memory", "64m", "busybox", "sleep", "1000",
    ])
    .ok();
    let top = b.run(&["top", "busy"]).ok();
    assert!(
        top.starts_with("UID") && top.contains("sleep 1000"),
        "{top}"
    );
    let stats = b.run(&["stats", "--no-stream", "busy"]).ok();
    assert!(
        stats.starts_with("CONTAINER ID") && stats.contains("busy") && stats.contains("/ 64MiB"),
        "{stats}"
    );
    b.run(&["rm", "-f", "busy", "work", "evil"]).ok();
    b.run(&["rmi", "myapp:1"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_init_ulimit_log_opts_attach() {
    let b = busybox();
    // --init: berth-init is PID 1, the command its child; it reaps orphans and forwards signals.
    let out = b
        .run(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "echo $$; cat /proc/1/comm; (sleep 0.1 &) ; sleep 0.3; ps -o stat | grep -c Z; true",
        ])
        .ok();
    assert_eq!(
        out, "2\ndocker-init\n0\n",
        "sh is pid 2, no zombie left: {out}"
    );
    let mut child = b
        .cmd(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "trap 'exit 9' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut buf).unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(
        child.wait().unwrap().code(),
        Some(9),
        "TERM reached the command through the init"
    );
    assert_eq!(
        b.run(&["run", "--rm", "--init", "busybox", "nosuch"]).code,
        127
    );
    // --ulimit, and a clear refusal to raise limits berth cannot raise.
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--ulimit",
            "nofile=256:512",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn"
        ])
        .ok(),
        "256\n512\n"
    );
    let r = b.run(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=4294967295",
        "busybox",
        "true",
    ]);
    if r.code != 0 {
        assert_eq!(r.code, 125);
        assert!(
            r.stderr.contains("--ulimit") && r.stderr.contains("hard limit"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(
        b.run(&["run", "--rm", "--ulimit", "bogus=1", "busybox", "true"])
            .code,
        125
    );
    // --log-opt: rotation by size keeps the newest lines.
    let out = b
        .run(&[
            "run",
            "--name",
            "chatty",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done",
        ])
        .ok();
    assert_eq!(out.lines().count(), 300, "the terminal gets everything");
    let logs = b.run(&["logs", "chatty"]).ok();
    assert!(
        logs.ends_with("line 299\n") && logs.lines().count() < 60,
        "only the last ~2 KB kept: {} lines",
        logs.lines().count()
    );
    let v = json(&b.run(&["inspect", "chatty"]).ok());
    let log_path = v[0]["LogPath"].as_str().unwrap().to_string();
    let total: u64 = [
        log_path.clone(),
        format!("{log_path}.1"),
        format!("{log_path}.2"),
    ]
    .iter()
    .filter_map(|p| std::fs::metadata(p).ok())
    .map(|m| m.len())
    .sum();
    assert!(total <= 2000, "{total}");
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "--log-opt",
            "max-size=big",
            "busybox",
            "true"
        ])
        .code,
        125
    );
    // attach follows live output and ends with the exit code.
    b.run(&[
        "run",
        "-d",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "sleep 0.5; echo late; exit 4",
    ])
    .ok();
    let r = b.run(&["attach", "later"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"));
    b.run(&["rm", "chatty", "later"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_stop_signal_timeout_and_labels() {
    let b = busybox();
    // --stop-signal: `stop` sends it (the trap only answers USR1), then waits.
    b.run(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "USR1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 11' USR1; while true; do sleep 0.1; done",
    ])
    .ok();
    b.run(&["stop", "usr1"]).ok();
    assert_eq!(
        b.run(&["inspect", "-f", "{{.State.ExitCode}}", "usr1"])
            .ok(),
        "11\n"
    );
    // --stop-timeout: a container ignoring SIGTERM is killed after that many seconds.
    b.run(&[
        "run",
        "-d",
        "--name",
        "stubborn",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap '' TERM; while true; do sleep 0.1; done",
    ])
    .ok();
    let t = Instant::now();
    b.run(&["stop", "stubborn"]).ok();
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(
        b.run(&["inspect", "-f", "{{.State.ExitCode}}", "stubborn"])
            .ok(),
        "137\n"
    );
    // --label: shown by inspect, usable in ps filters.
    b.run(&[
        "create",
        "--name",
        "labelled",
        "--label",
        "team=kiwi",
        "-l",
        "tier",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        b.run(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"team\"}}",
            "labelled"
        ])
        .ok(),
        "kiwi\n"
    );
    assert_eq!(
        b.run(&[
            "ps",
            "-a",
            "--filter",
            "label=team=kiwi",
            "--format",
            "{{.Names}}"
        ])
        .ok(),
        "labelled\n"
    );
    assert_eq!(
        b.run(&[
            "ps",
            "-a",
            "--filter",
            "label=tier",
            "--format",
            "{{.Names}}"
        ])
        .ok(),
        "labelled\n"
    );
    assert_eq!(
        b.run(&["ps", "-a", "--filter", "label=team=other", "-q"])
            .ok(),
        ""
    );
    b.run(&["rm", "usr1", "stubborn", "labelled"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_killed_foreground_cli_leaves_the_truth() {
    let b = busybox();
    let mut child = b
        .cmd(&["run", "--name", "fg", "busybox", "sleep", "1000"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !b.run(&["ps", "-q"]).stdout.contains(char::is_alphanumeric) {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The container outlives its CLI, and ps says so; rm -f cleans everything.
    assert!(b
        .run(&["ps", "--format", "{{.Names}} {{.State}}"])
        .ok()
        .contains("fg running"));
    b.run(&["rm", "-f", "fg"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_tty_is_a_real_terminal_with_the_callers_size() {
    let b = busybox();
    let r = b.run(&[
        "run",
        "--rm",
        "-t",
        "busybox",
        "sh",
        "-c",
        "tty; test -t 0 && test -t 1 && echo both-tty",
    ]);
    assert_eq!(r.stdout.replace('\r', ""), "/dev/pts/0\nboth-tty\n");
    let (out, code) = in_pty(
        &b,
        &["run", "--rm", "-t", "busybox", "stty", "size"],
        31,
        101,
        &[b""],
        None,
    );
    assert_eq!((out.trim(), code), ("31 101", 0), "initial size copied");
    let (out, _) = in_pty(
        &b,
        &[
            "run",
            "--rm",
            "-t",
            "busybox",
            "sh",
            "-c",
            "sleep 1; stty size",
        ],
        20,
        80,
        &[b""],
        Some((40, 120)),
    );
    assert_eq!(out.trim(), "40 120", "resized on SIGWINCH");
    let (out, code) = in_pty(
        &b,
        &[
            "run",
            "--rm",
            "-it",
            "busybox",
            "sh",
            "-c",
            "read x; echo got $x; exit 3",
        ],
        24,
        80,
        &[b"abc\n"],
        None,
    );
    assert!(out.contains("got abc"), "{out}");
    assert_eq!(code, 3);
    // -it with stdin that is not a terminal: Docker's refusal.
    let r = b.run(&["run", "--rm", "-it", "busybox", "true"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error: the input device is not a TTY\n")
    );
    // exec with a terminal, in a running container. Its size is set as soon as the terminal
    // exists, which for exec can be just after the command started: hence the short sleep.
    b.run(&["run", "-d", "--name", "host", "busybox", "sleep", "1000"])
        .ok();
    let r = b.run(&[
        "exec",
        "-t",
        "host",
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo exec-tty",
    ]);
    assert_eq!(r.stdout.replace('\r', ""), "exec-tty\n");
    let (out, code) = in_pty(
        &b,
        &[
            "exec",
            "-it",
            "host",
            "sh",
            "-c",
            "sleep 0.2; stty size; read x; echo got $x; exit 6",
        ],
        33,
        99,
        &[b"xyz\n"],
        None,
    );
    assert!(out.contains("got xyz") && out.contains("33 99"), "{out}");
    assert_eq!(code, 6);
    b.run(&["rm", "-f", "host"]).ok();
    // Detached with a terminal: output goes to the log.
    b.run(&["run", "-dt", "--name", "dt", "busybox", "sh", "-c", "tty"])
        .ok();
    assert_eq!(b.run(&["wait", "dt"]).ok(), "0\n");
    assert_eq!(
        b.run(&["logs", "dt"]).ok().replace('\r', ""),
        "/dev/pts/0\n"
    );
    b.run(&["rm", "dt"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_attach_sends_input_detaches_and_proxies_signals() {
    let b = busybox();
    // -di: each attach sends its input to the same open stdin; output is split by stream.
    b.run(&["run", "-di", "--name", "shell", "busybox", "sh"])
        .ok();
    let mut first = b
        .cmd(&["attach", "shell"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        first.stdin.as_mut().unwrap(),
        b"echo first > /tmp/mark; echo to-first\n",
    )
    .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(first.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "to-first\n");
    // The first client goes away without the container noticing.
    first.kill().unwrap();
    first.wait().unwrap();
    // --no-stdin: typed input does not reach the container.
    let mut watcher = b
        .cmd(&["attach", "--no-stdin", "--sig-proxy=false", "shell"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(watcher.stdin.as_mut().unwrap(), b"exit 9\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let r = b.run_stdin(
        &["attach", "shell"],
        b"cat /tmp/mark; echo to-stderr >&2; exit 3\n",
    );
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (3, "first\n", "to-stderr\n")
    );
    // The watcher saw the same output and ends with the same code.
    let w = watcher.wait_with_output().unwrap();
    assert_eq!(w.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&w.stdout), "first\n");

    // -dit: a terminal of the caller's size; the detach keys leave it running.
    b.run(&["run", "-dit", "--name", "term", "busybox", "sh"])
        .ok();
    let (out, code) = in_pty(
        &b,
        &["attach", "term"],
        30,
        90,
        &[b"stty size\n", b"\x10\x11"],
        None,
    );
    assert!(out.contains("30 90"), "{out}");
    assert!(out.contains("read escape sequence"), "{out}");
    assert_eq!(code, 1);
    let (out, code) = in_pty(
        &b,
        &["attach", "--detach-keys", "ctrl-a,x", "term"],
        24,
        80,
        &[b"echo $((6*7))\n", b"\x01x"],
        None,
    );
    assert!(
        out.contains("42") && out.contains("read escape sequence"),
        "{out}"
    );
    assert_eq!(code, 1);
    assert!(b
        .run(&["ps", "--format", "{{.Names}}"])
        .ok()
        .contains("term"));
    let (_, code) = in_pty(&b, &["attach", "term"], 24, 80, &[b"exit 4\n"], None);
    assert_eq!(code, 4);
    b.run(&["run", "-dit", "--name", "term2", "busybox", "sh"])
        .ok();
    let r = b.run(&["attach", "term2"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Error: the input device is not a TTY\n")
    );

    // Signals reach the container (sig-proxy), unless turned off.
    let script = "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done";
    b.run(&["run", "-d", "--name", "sig", "busybox", "sh", "-c", script])
        .ok();
    let attached = b
        .cmd(&["attach", "sig"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(attached.id() as i32, libc::SIGTERM) };
    let out = attached.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got-term\n");
    b.run(&["run", "-d", "--name", "sig2", "busybox", "sh", "-c", script])
        .ok();
    let attached = b
        .cmd(&["attach", "--sig-proxy=false", "sig2"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(attached.id() as i32, libc::SIGTERM) };
    let out = attached.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "attach itself was terminated");
    assert!(b
        .run(&["ps", "--format", "{{.Names}}"])
        .ok()
        .contains("sig2"));

    // A foreground container can be attached to as well; its exit code arrives even though
    // --rm removes it at once.
    let fg = b
        .cmd(&[
            "run",
            "--rm",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
            "sleep 1; echo bye; exit 5",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let r = b.run(&["attach", "fg"]);
    assert_eq!((r.code, r.stdout.as_str()), (5, "bye\n"));
    assert_eq!(fg.wait_with_output().unwrap().status.code(), Some(5));

    // Bad input.
    let r = b.run(&["attach", "shell"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "Error: You cannot attach to a stopped container, start it first\n"
        )
    );
    let r = b.run(&["attach", "--detach-keys", "ctrl-1", "sig2"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--detach-keys") && r.stderr.contains("ctrl-1"),
        "{}",
        r.stderr
    );
    b.run(&["rm", "-f", "shell", "term", "term2", "sig", "sig2"])
        .ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_cp_links_owners_and_tar_streams() {
    use std::os::unix::fs::MetadataExt;
    let b = busybox();
    b.run(&[
        "run",
        "--name",
        "files",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub && echo one > /data/sub/f && chown 1234:5678 /data/sub/f \
         && ln -s /data/sub/f /data/link && ln -s /etc/passwd /data/abs",
    ])
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let host = |p: &str| dir.path().join(p);
    let hs = |p: &str| host(p).to_str().unwrap().to_string();
    // A symlink named as the source is copied as a link; with -L, what it points to, found
    // inside the container (its /etc/passwd, not the host's).
    b.run(&["cp", "files:/data/link", &hs("link")]).ok();
    assert_eq!(
        std::fs::read_link(host("link")).unwrap(),
        std::path::Path::new("/data/sub/f")
    );
    b.run(&["cp", "-L", "files:/data/link", &hs("followed")])
        .ok();
    assert_eq!(std::fs::read_to_string(host("followed")).unwrap(), "one\n");
    b.run(&["cp", "-L", "files:/data/abs", &hs("passwd")]).ok();
    b.run(&["cp", "files:/etc/passwd", &hs("passwd-direct")])
        .ok();
    assert_eq!(
        std::fs::read(host("passwd")).unwrap(),
        std::fs::read(host("passwd-direct")).unwrap()
    );
    // Owners: the caller's by default, the source's with -a.
    b.run(&["cp", "files:/data/sub", &hs("plain")]).ok();
    let m = std::fs::metadata(host("plain/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (0, 0));
    b.run(&["cp", "-a", "files:/data/sub", &hs("archived")])
        .ok();
    let m = std::fs::metadata(host("archived/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    // SRC/. copies a directory's content.
    b.run(&["cp", "files:/data/sub/.", &hs("content")]).ok();
    assert!(host("content/f").is_file());

    // Into the container: root owns the files unless -a keeps the host's owners.
    std::fs::write(host("in.txt"), "in\n").unwrap();
    std::os::unix::fs::chown(host("in.txt"), Some(4321), Some(4321)).unwrap();
    b.run(&["cp", &hs("in.txt"), "files:/in-root.txt"]).ok();
    b.run(&["cp", "-a", &hs("in.txt"), "files:/in-kept.txt"])
        .ok();
    let owners = |path: &str| -> (u64, u64, Vec<u8>) {
        let out = b.cmd(&["cp", path, "-"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut a = tar::Archive::new(&out.stdout[..]);
        let mut e = a.entries().unwrap().next().unwrap().unwrap();
        let h = e.header().clone();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut body).unwrap();
        (h.uid().unwrap(), h.gid().unwrap(), body)
    };
    assert_eq!(owners("files:/in-root.txt"), (0, 0, b"in\n".to_vec()));
    assert_eq!(owners("files:/in-kept.txt"), (4321, 4321, b"in\n".to_vec()));

    // `cp CONTAINER:SRC -` writes a tar named after SRC.
    let out = b.cmd(&["cp", "files:/data", "-"]).output().unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&out.stdout[..]).entries().unwrap() {
        let e = e.unwrap();
        names.push((
            e.path().unwrap().display().to_string(),
            e.header().entry_type().is_symlink(),
            e.header().uid().unwrap(),
        ));
    }
    names.sort();
    assert_eq!(
        names,
        vec![
            ("data".to_string(), false, 0),
            ("data/abs".to_string(), true, 0),
            ("data/link".to_string(), true, 0),
            ("data/sub".to_string(), false, 0),
            ("data/sub/f".to_string(), false, 1234),
        ]
    );

    // `cp - CONTAINER:DIR` extracts a tar; `.wh.` names are plain files there.
    let mut tarball = tar::Builder::new(Vec::new());
    for (name, body) in [("x/y", &b"why\n"[..]), (".wh.z", &b"not a whiteout\n"[..])] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_uid(77);
        h.set_cksum();
        tarball.append_data(&mut h, name, body).unwrap();
    }
    let tarball = tarball.into_inner().unwrap();
    b.run_stdin(&["cp", "-", "files:/tmp"], &tarball).ok();
    assert_eq!(owners("files:/tmp/x/y"), (77, 0, b"why\n".to_vec()));
    assert_eq!(owners("files:/tmp/.wh.z").2, b"not a whiteout\n".to_vec());
    // Bad input: a missing or non-directory extraction point, an entry that climbs out.
    let r = b.run_stdin(&["cp", "-", "files:/nowhere"], &tarball);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Could not find the file /nowhere in container files"),
        "{}",
        r.stderr
    );
    let r = b.run_stdin(&["cp", "-", "files:/etc/passwd"], &tarball);
    assert!(
        r.stderr.contains("extraction point is not a directory"),
        "{}",
        r.stderr
    );
    let mut evil = Vec::new();
    {
        let mut h = tar::Header::new_gnu();
        let body = b"escaped\n";
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        // The tar crate refuses to write `..` through its API, so set the raw name.
        h.as_old_mut().name[..b"../../../escaped".len()].copy_from_slice(b"../../../escaped");
        h.set_cksum();
        evil.extend_from_slice(h.as_bytes());
        let mut padded = body.to_vec();
        padded.resize(512, 0);
        evil.extend_from_slice(&padded);
        evil.extend_from_slice(&[0u8; 1024]);
    }
    let r = b.run_stdin(&["cp", "-", "files:/tmp"], &evil);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("escaped"), "{}", r.stderr);
    let containers = b.root().join("containers");
    let found = std::process::Command::new("find")
        .args([containers.to_str().unwrap(), "-name", "escaped"])
        .output()
        .unwrap();
    assert!(found.stdout.is_empty(), "nothing written anywhere");
    b.run(&["rm", "files"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_health_checks_from_flags_and_image() {
    let b = busybox();
    let health = ["inspect", "-f", "{{.State.Health.Status}}", "hc"];
    b.run(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "echo probing; test -e /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    wait_for(&b, &health, "unhealthy\n");
    let h = json(
        &b.run(&["inspect", "-f", "{{json .State.Health}}", "hc"])
            .ok(),
    );
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], 1);
    assert_eq!(h["Log"][0]["Output"], "probing\n");
    let status = b
        .run(&["ps", "--format", "{{.Status}}", "-f", "name=hc"])
        .ok();
    assert!(status.ends_with("(unhealthy)\n"), "{status}");
    b.run(&["exec", "hc", "touch", "/tmp/ok"]).ok();
    wait_for(&b, &health, "healthy\n");
    let status = b
        .run(&["ps", "--format", "{{.Status}}", "-f", "name=hc"])
        .ok();
    assert!(status.ends_with("(healthy)\n"), "{status}");
    let by_health = |v: &str| {
        b.run(&["ps", "--format", "{{.Names}}", "-f", &format!("health={v}")])
            .ok()
    };
    assert_eq!(by_health("healthy"), "hc\n");
    assert_eq!(by_health("unhealthy"), "");
    assert_eq!(
        b.run(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", "hc"])
            .ok(),
        "[\"CMD-SHELL\",\"echo probing; test -e /tmp/ok\"]\n"
    );
    b.run(&["rm", "-f", "hc"]).ok();

    // The image's HEALTHCHECK (here from `import -c`, as a Dockerfile would set it); a probe
    // outliving its timeout is killed and counts as a failure.
    let tar = busybox_tar();
    b.run(&[
        "import",
        "-c",
        "HEALTHCHECK --interval=100ms --timeout=200ms --retries=1 CMD sleep 5",
        tar.to_str().unwrap(),
        "slowcheck",
    ])
    .ok();
    b.run(&["run", "-d", "--name", "hc", "slowcheck", "sleep", "60"])
        .ok();
    wait_for(&b, &health, "unhealthy\n");
    let h = json(
        &b.run(&["inspect", "-f", "{{json .State.Health}}", "hc"])
            .ok(),
    );
    assert_eq!(h["Log"][0]["ExitCode"], -1, "{h}");
    assert_eq!(
        h["Log"][0]["Output"],
        "Health check exceeded timeout (200ms)"
    );
    b.run(&["rm", "-f", "hc"]).ok();
    // --no-healthcheck turns the image's off; with --health-* it is refused.
    b.run(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--no-healthcheck",
        "slowcheck",
        "sleep",
        "60",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        b.run(&["inspect", "-f", "{{json .State.Health}}", "hc"])
            .ok(),
        "null\n"
    );
    b.run(&["rm", "-f", "hc"]).ok();
    let r = b.run(&[
        "run",
        "--rm",
        "--no-healthcheck",
        "--health-retries",
        "1",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr
            .contains("--no-healthcheck conflicts with --health-* options"),
        "{}",
        r.stderr
    );
    b.run(&["rmi", "slowcheck"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_image_volumes_get_anonymous_volumes() {
    let b = busybox();
    let tar = busybox_tar();
    b.run(&[
        "import",
        "-c",
        "VOLUME /etc",
        "-c",
        r#"CMD ["sh"]"#,
        tar.to_str().unwrap(),
        "withvolume",
    ])
    .ok();
    b.run(&["run", "-d", "--name", "v", "withvolume", "sleep", "60"])
        .ok();
    let mounts = json(&b.run(&["inspect", "-f", "{{json .Mounts}}", "v"]).ok());
    assert_eq!(mounts[0]["Type"], "volume", "{mounts}");
    assert_eq!(mounts[0]["Destination"], "/etc");
    let name = mounts[0]["Name"].as_str().unwrap().to_string();
    // Seeded from the image's content, and the container's writes land in the volume.
    b.run(&[
        "exec",
        "v",
        "sh",
        "-c",
        "test -s /etc/passwd && echo hi > /etc/new",
    ])
    .ok();
    let data = b.root().join("volumes").join(&name).join("_data");
    assert_eq!(std::fs::read_to_string(data.join("new")).unwrap(), "hi\n");
    assert!(data.join("passwd").exists());
    b.run(&["rm", "-f", "-v", "v"]).ok();
    assert!(!data.exists(), "rm -v removes the anonymous volume");
    // A mount of the user's at that path takes its place.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine"), "x").unwrap();
    let bind = format!("{}:/etc", dir.path().display());
    assert_eq!(
        b.run(&["run", "--rm", "-v", &bind, "withvolume", "ls", "/etc/mine"])
            .ok(),
        "/etc/mine\n"
    );
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok(), "");
    b.run(&["rmi", "withvolume"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_host_namespaces_groups_and_the_none_log_driver() {
    let b = busybox();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--uts",
            "host",
            "--pid",
            "host",
            "--group-add",
            "daemon",
            "--group-add",
            "4242",
            "busybox",
            "sh",
            "-c",
            "hostname; id -G; echo $$",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        host.trim(),
        "the host's name in its UTS namespace"
    );
    assert_eq!(lines[1], "0 1 4242");
    assert!(
        lines[2].parse::<u32>().unwrap() > 2,
        "the host's PID namespace: {out}"
    );
    b.run(&[
        "run",
        "--log-driver",
        "none",
        "--name",
        "quiet",
        "busybox",
        "echo",
        "hi",
    ])
    .ok();
    let logs = b.run(&["logs", "quiet"]);
    assert_eq!(logs.code, 1);
    assert!(
        logs.stderr
            .contains("configured logging driver does not support reading"),
        "{}",
        logs.stderr
    );
    // The local driver: its rotated files are gzipped, logs reads them all back in order.
    b.run(&[
        "run",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=4",
        "--name",
        "packed",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
    ])
    .ok();
    let logs = b.run(&["logs", "packed"]).ok();
    let n = logs.lines().count();
    assert!(n > 40 && n < 200, "about 4 KB kept: {n} lines");
    let want: String = (200 - n..200).map(|i| format!("line {i}\n")).collect();
    assert_eq!(logs, want);
    let v = json(&b.run(&["inspect", "packed"]).ok());
    assert_eq!(v[0]["HostConfig"]["LogConfig"]["Type"], "local");
    let log_path = v[0]["LogPath"].as_str().unwrap().to_string();
    let gz = std::fs::read(format!("{log_path}.2.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzipped rotation");
    b.run(&["rm", "packed"]).ok();
    let r = b.run(&[
        "run",
        "--rm",
        "--log-driver",
        "local",
        "--log-opt",
        "labels=a",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr
            .contains("unknown log opt 'labels' for log driver local"),
        "{}",
        r.stderr
    );
    // berth never remaps users: the host's user namespace is the only one, asked or not.
    let out = b
        .run(&[
            "run",
            "--rm",
            "--userns",
            "host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ])
        .ok();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    let err = b
        .run(&["run", "--rm", "--userns", "private", "busybox", "true"])
        .fails();
    assert!(err.contains("--userns: invalid USER mode"), "{err}");
    let r = b.run(&["run", "--rm", "--log-driver", "syslog", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains("no log driver named 'syslog'"),
        "{}",
        r.stderr
    );
    // cpuset and swappiness reach the container's cgroup (v1 here; v2 has no swappiness).
    let out = b
        .run(&[
            "run",
            "--rm",
            "--cpuset-cpus",
            "0",
            "--memory-swappiness",
            "40",
            "busybox",
            "sh",
            "-c",
            "grep Cpus_allowed_list /proc/self/status; cat /sys/fs/cgroup/memory/memory.swappiness",
        ])
        .ok();
    assert_eq!(out, "Cpus_allowed_list:\t0\n40\n");
    let r = b.run(&["run", "--rm", "--cpuset-cpus", "0-4096", "busybox", "true"]);
    assert!(
        r.stderr.contains("Requested CPUs are not available"),
        "{}",
        r.stderr
    );
    // Joining another container's PID namespace (#15) is checked at start: it must run.
    let r = b.run(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:quiet",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = b.run(&["start", "joiner"]);
    assert!(
        r.stderr
            .contains("cannot join PID of a non running container"),
        "{}",
        r.stderr
    );
    b.run(&["rm", "joiner"]).ok();
    let r = b.run(&["create", "--pid", "weird", "busybox", "true"]);
    assert!(r.stderr.contains("invalid PidMode"), "{}", r.stderr);
    b.run(&["rm", "quiet"]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_cp_reaches_into_volumes_and_bind_mounts() {
    let b = busybox();
    let src = tempfile::tempdir().unwrap();
    let bind = format!("{}:/bnd", src.path().display());
    let id = b
        .run(&[
            "create",
            "-v",
            "/vol1",
            "-v",
            &bind,
            "busybox",
            "sh",
            "-c",
            "echo data > /vol1/data.txt; cat /bnd/in.txt",
        ])
        .ok();
    let id = id.trim();
    let host_file = src.path().join("staged.txt");
    std::fs::write(&host_file, "hostfile\n").unwrap();
    // Into a bind mount of a container that never ran: the file lands in the source.
    b.run(&[
        "cp",
        host_file.to_str().unwrap(),
        &format!("{id}:/bnd/in.txt"),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(src.path().join("in.txt")).unwrap(),
        "hostfile\n"
    );
    assert_eq!(b.run(&["start", "-a", id]).ok(), "hostfile\n");
    // Out of its anonymous volume, a file and the mount point itself.
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("got.txt");
    b.run(&[
        "cp",
        &format!("{id}:/vol1/data.txt"),
        dest.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "data\n");
    let dir = out.path().join("vol");
    b.run(&["cp", &format!("{id}:/vol1"), dir.to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(dir.join("data.txt")).unwrap(),
        "data\n"
    );
    b.run(&["rm", "-v", id]).ok();
    assert_no_leftovers(&b);
}

#[test]
fn root_shm_size_device_rules_and_volumes_from() {
    let b = busybox();
    // /dev/shm: Docker's 64 MiB, or what --shm-size says.
    let shm = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend(extra);
        args.extend(["busybox", "sh", "-c", "df -k /dev/shm | tail -n 1"]);
        b.run(&args).ok()
    };
    let plain = shm(&[]);
    assert!(plain.contains(" 65536 "), "{plain}");
    let asked = shm(&["--shm-size", "8m"]);
    assert!(asked.contains(" 8192 "), "{asked}");
    // A device outside the default set opens only with a rule for it (mknod is allowed).
    let open_loop_control = "mknod /tmp/lc c 10 237 && dd if=/tmp/lc of=/dev/null count=0";
    let denied = b.run(&["run", "--rm", "busybox", "sh", "-c", open_loop_control]);
    assert_ne!(denied.code, 0, "{denied:?}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{}",
        denied.stderr
    );
    let rule = ["--device-cgroup-rule", "c 10:237 r"];
    let mut args = vec!["run", "--rm"];
    args.extend(rule);
    args.extend(["busybox", "sh", "-c", open_loop_control]);
    b.run(&args).ok();
    let err = b
        .run(&["create", "--device-cgroup-rule", "c 10:237 x", "busybox"])
        .fails();
    assert!(
        err.contains("invalid device cgroup rule format: 'c 10:237 x'"),
        "{err}"
    );
    // --volumes-from: the other container's volumes and binds, in its mode or the one asked.
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/bnd", host.path().display());
    b.run(&[
        "create", "--name", "src", "-v", "/data", "-v", &bind, "busybox",
    ])
    .ok();
    b.run(&[
        "run",
        "--rm",
        "--volumes-from",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo hi > /data/f && echo there > /bnd/g",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(host.path().join("g")).unwrap(),
        "there\n"
    );
    let r = b.run(&[
        "run",
        "--name",
        "reader",
        "--volumes-from",
        "src:ro",
        "busybox",
        "sh",
        "-c",
        "cat /data/f; touch /data/h",
    ]);
    assert_eq!(r.stdout, "hi\n");
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let from = b.run(&[
        "inspect",
        "-f",
        "{{json .HostConfig.VolumesFrom}}",
        "reader",
    ]);
    assert_eq!(json(&from.ok()), serde_json::json!(["src:ro"]));
    let shm = b
        .run(&["inspect", "-f", "{{.HostConfig.ShmSize}}", "reader"])
        .ok();
    assert_eq!(shm.trim(), "67108864");
    // The volume stays the other container's: removing this one with -v keeps it.
    b.run(&["rm", "-v", "reader"]).ok();
    let vols = b.run(&["volume", "ls", "-q"]).ok();
    assert_eq!(vols.lines().count(), 1, "{vols}");
    let err = b
        .run(&["create", "--volumes-from", "nosuch", "busybox"])
        .fails();
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = b
        .run(&["create", "--volumes-from", "src:rx", "busybox"])
        .fails();
    assert!(err.contains("invalid mode for volumes-from: rx"), "{err}");
    b.run(&["rm", "-v", "src"]).ok();
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok(), "");
    // Volume options of --mount: labels for the volume it makes, no copy of the image's
    // content, a subpath inside the volume.
    let etc = |opts: &str| {
        let m = format!("type=volume,dst=/etc,{opts}");
        b.run(&["run", "--rm", "--mount", &m, "busybox", "ls", "/etc"])
            .ok()
    };
    assert!(etc("src=seeded").contains("passwd"));
    let bare = etc("src=bare,volume-nocopy,volume-label=team=kiwi");
    assert!(!bare.contains("passwd"), "{bare}");
    let label = b
        .run(&["volume", "inspect", "-f", "{{.Labels.team}}", "bare"])
        .ok();
    assert_eq!(label.trim(), "kiwi");
    b.run(&[
        "run",
        "--rm",
        "-v",
        "seeded:/v",
        "busybox",
        "sh",
        "-c",
        "mkdir /v/sub && echo deep > /v/sub/f && ln -s / /v/out",
    ])
    .ok();
    let m = "type=volume,src=seeded,dst=/x,volume-subpath=sub,readonly";
    assert_eq!(
        b.run(&["run", "--rm", "--mount", m, "busybox", "cat", "/x/f"])
            .ok(),
        "deep\n"
    );
    let m = "type=volume,src=seeded,dst=/x,volume-subpath=out";
    let escape = b.run(&["run", "--rm", "--mount", m, "busybox", "true"]);
    assert!(
        escape.stderr.contains("outside the volume"),
        "{}",
        escape.stderr
    );
    let m = "type=volume,src=seeded,dst=/x,volume-subpath=../x";
    let err = b.run(&["create", "--mount", m, "busybox"]).fails();
    assert!(err.contains("relative path inside the volume"), "{err}");
    b.run(&["volume", "rm", "seeded", "bare"]).ok();
    assert_no_leftovers(&b);
}
