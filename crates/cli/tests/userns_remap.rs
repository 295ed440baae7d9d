//! End-to-end tests of user-namespace remapping (dockerd's `userns-remap`, here the store's
//! `daemon.json`): a remapped container's root is an unprivileged host id, yet sees its image
//! as root's, writes its volumes and working directory, and `cp`, `export`, `commit` and
//! `diff` give the owners the container sees. Root only (user namespaces, idmapped mounts).

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::berth_serve::Server;
use common::{json, Berth};

/// Host ids of the test's range: far above any a distribution hands out.
const START: u32 = 1_600_000_000;
const SIZE: u32 = 65536;

/// A system user with subordinate ranges in /etc/subuid and /etc/subgid for the test's
/// length; removed (user and lines) when dropped.
struct RemapUser(String);

impl RemapUser {
    fn new() -> RemapUser {
        let name = format!("berthremap{}", std::process::id() % 100_000);
        let made = Command::new("useradd")
            .args(["-r", "-M", "-s", "/bin/false", &name])
            .status()
            .expect("useradd");
        assert!(made.success(), "useradd {name}");
        let user = RemapUser(name);
        for db in ["/etc/subuid", "/etc/subgid"] {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(db)
                .unwrap();
            writeln!(f, "{}:{START}:{SIZE}", user.0).unwrap();
        }
        user
    }
}

impl Drop for RemapUser {
    fn drop(&mut self) {
        for db in ["/etc/subuid", "/etc/subgid"] {
            if let Ok(text) = std::fs::read_to_string(db) {
                let prefix = format!("{}:", self.0);
                let kept: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = std::fs::write(db, kept);
            }
        }
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

/// The lines of `s`, with runs of blanks as one space (/proc's maps align their columns).
fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn root_remapped_containers_run_as_an_unprivileged_range() {
    let user = RemapUser::new();
    let b = Berth::new();
    b.import_busybox("busybox");
    std::fs::write(
        b.root().join("daemon.json"),
        format!(r#"{{"userns-remap": "{}"}}"#, user.0),
    )
    .unwrap();
    let info = b
        .run(&["info", "--format", "{{json .SecurityOptions}}"])
        .ok();
    assert!(info.contains("name=userns"), "{info}");

    // Root inside, the range outside; the image's files are root's; root can write.
    let out = b
        .run(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /made && stat -c %u /made",
        ])
        .ok();
    assert_eq!(
        lines(&out),
        ["0", &format!("0 {START} {SIZE}"), "0:0", "0"],
        "{out}"
    );

    // Builds are not remapped: what RUN makes is root's in the image, and root's again in
    // a remapped container of it.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN touch /built && cat /proc/self/uid_map\n",
    )
    .unwrap();
    b.run(&["build", "-t", "built", ctx.path().to_str().unwrap()])
        .ok();
    for userns in ["host", ""] {
        let out = b
            .run(&[
                "run", "--rm", "--userns", userns, "built", "stat", "-c", "%u:%g", "/built",
            ])
            .ok();
        assert_eq!(out.trim(), "0:0", "--userns {userns:?}");
    }

    // A running one: its process is the range's first id on the host; a new volume and a
    // working directory berth made are its root's; exec joins its user namespace.
    let id = b
        .run(&[
            "run",
            "-d",
            "--name",
            "web",
            "-v",
            "data:/data",
            "-w",
            "/work",
            "busybox",
            "sleep",
            "600",
        ])
        .ok()
        .trim()
        .to_string();
    let pid = json(&b.run(&["inspect", "web"]).ok())[0]["State"]["Pid"]
        .as_i64()
        .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.split_whitespace().nth(1) == Some(&START.to_string()),
        "{uid_line}"
    );
    let out = b
        .run(&[
            "exec",
            "web",
            "sh",
            "-c",
            "id -u; echo hi > /data/f && echo x > g && cat /proc/self/uid_map; echo 1.2.3.4 extra >> /etc/hosts",
        ])
        .ok();
    assert_eq!(lines(&out), ["0", &format!("0 {START} {SIZE}")], "{out}");
    // A container in its network namespace joins its user namespace too; one that is not
    // remapped may join it, a remapped one may not join an unremapped one.
    b.run(&[
        "run",
        "-d",
        "--name",
        "side",
        "--network",
        "container:web",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let out = b
        .run(&[
            "exec",
            "side",
            "sh",
            "-c",
            "cat /proc/self/uid_map; cat /sys/class/net/eth0/address",
        ])
        .ok();
    let web_mac = b
        .run(&["exec", "web", "cat", "/sys/class/net/eth0/address"])
        .ok();
    assert_eq!(
        lines(&out),
        [format!("0 {START} {SIZE}"), web_mac.trim().to_string()],
        "{out}"
    );
    let pid_of = |name: &str| {
        json(&b.run(&["inspect", name]).ok())[0]["State"]["Pid"]
            .as_i64()
            .unwrap()
    };
    let userns = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_eq!(userns(pid_of("side")), userns(pid_of("web")));
    b.run(&["rm", "-f", "side"]).ok();
    b.run(&[
        "run",
        "--rm",
        "--userns",
        "host",
        "--network",
        "container:web",
        "busybox",
        "true",
    ])
    .ok();
    b.run(&[
        "run", "-d", "--name", "plain", "--userns", "host", "busybox", "sleep", "600",
    ])
    .ok();
    let e = b
        .run(&[
            "run",
            "--rm",
            "--network",
            "container:plain",
            "busybox",
            "true",
        ])
        .fails();
    assert!(e.contains("does not run remapped as this one would"), "{e}");
    b.run(&["rm", "-f", "plain"]).ok();

    let vol = b.root().join("volumes/data/_data/f");
    assert_eq!(std::fs::metadata(&vol).unwrap().uid(), START, "volume file");

    // cp in: root's inside (the range's first id on the host); cp out and export: the
    // owners the container sees.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("in.txt"), "in").unwrap();
    b.run(&[
        "cp",
        host.path().join("in.txt").to_str().unwrap(),
        "web:/in.txt",
    ])
    .ok();
    let out = b
        .run(&["exec", "web", "stat", "-c", "%u:%g", "/in.txt"])
        .ok();
    assert_eq!(out.trim(), "0:0");
    let tar = b.cmd(&["cp", "web:/work", "-"]).output().unwrap();
    assert!(tar.status.success());
    let listing = tar_listing(&tar.stdout);
    assert!(
        listing.iter().any(|l| l.starts_with("0/0 work/g")),
        "{listing:?}"
    );
    let exported = b.cmd(&["export", "web"]).output().unwrap();
    assert!(exported.status.success());
    let listing = tar_listing(&exported.stdout);
    for want in ["0/0 bin/busybox", "0/0 work/g", "0/0 in.txt"] {
        assert!(
            listing.iter().any(|l| l.starts_with(want)),
            "{want}: {listing:?}"
        );
    }
    let diff = b.run(&["diff", "web"]).ok();
    assert!(lines(&diff).contains(&"A /work/g".to_string()), "{diff}");
    assert!(!lines(&diff).iter().any(|l| l == "C /"), "{diff}");

    // A commit is an image with the owners the container saw: an unremapped container of
    // it finds root's files.
    b.run(&["commit", "web", "snap"]).ok();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--userns",
            "host",
            "snap",
            "sh",
            "-c",
            "cat /proc/self/uid_map; stat -c %u:%g /work/g /in.txt",
        ])
        .ok();
    assert_eq!(
        lines(&out),
        ["0 0 4294967295", "0:0", "0:0"],
        "--userns host is not remapped; the commit kept root's owners"
    );

    // What dockerd refuses with remapping on.
    let e = b
        .run(&["run", "--rm", "--privileged", "busybox", "true"])
        .fails();
    assert!(
        e.contains("privileged mode is incompatible with user namespaces"),
        "{e}"
    );
    let e = b
        .run(&["run", "--rm", "--network", "host", "busybox", "true"])
        .fails();
    assert!(
        e.contains("cannot share the host's network namespace when user namespaces are enabled"),
        "{e}"
    );
    b.run(&[
        "run",
        "--rm",
        "--userns",
        "host",
        "--network",
        "host",
        "busybox",
        "true",
    ])
    .ok();

    // Through `berth serve`, the docker CLI gets the same: the server reads the same file.
    let server = Server::start(&b, &[]);
    let info = server
        .docker(&["info", "--format", "{{json .SecurityOptions}}"])
        .ok();
    assert!(info.contains("name=userns"), "{info}");
    let out = server
        .docker(&["run", "--rm", "busybox", "cat", "/proc/self/uid_map"])
        .ok();
    assert_eq!(lines(&out), [format!("0 {START} {SIZE}")], "{out}");
    let out = server
        .docker(&[
            "run",
            "--rm",
            "--userns",
            "host",
            "busybox",
            "cat",
            "/proc/self/uid_map",
        ])
        .ok();
    assert_eq!(lines(&out), ["0 0 4294967295"], "{out}");
    server
        .docker(&["run", "-d", "--name", "api-web", "busybox", "sleep", "600"])
        .ok();
    let out = server
        .docker(&[
            "exec",
            "api-web",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ])
        .ok();
    assert_eq!(lines(&out), ["0", &format!("0 {START} {SIZE}")], "{out}");
    server.docker(&["rm", "-f", "api-web"]).ok();
    let e = server
        .docker(&["run", "--rm", "--privileged", "busybox", "true"])
        .fails();
    assert!(
        e.contains("privileged mode is incompatible with user namespaces"),
        "{e}"
    );
    drop(server);

    // Removed, nothing of it stays mounted (its idmapped layers included).
    b.run(&["rm", "-f", "web"]).ok();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "{mounts}");
    assert!(
        !mounts.contains(b.root().to_str().unwrap()),
        "mounts left under the root: {mounts}"
    );
}

/// `uid/gid path` of each entry of a tar, as GNU tar lists it numerically.
fn tar_listing(tar: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new("tar")
        .args(["--numeric-owner", "-tvf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(tar).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some(format!(
                "{} {}",
                f.get(1)?,
                f.get(5)?.trim_start_matches("./")
            ))
        })
        .collect()
}
