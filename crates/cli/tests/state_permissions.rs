//! End-to-end tests of who may read berth's state: the root is 0710 and everything a container
//! leaves in it (record, OCI spec with the environment, logs) is owner-only, so no other local
//! user reads a secret passed with `-e`; a store from an older berth is closed on first use; a
//! non-root user gets one clear message and berth touches nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{bin, run_command, Berth};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Runs `args` as the unprivileged user nobody.
fn as_nobody(program: &str, args: &[&str]) -> common::Run {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", program])
        .args(args);
    run_command(c)
}

/// Every file and directory under `dir` that grants anything to other users.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut open = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = std::fs::symlink_metadata(e.path()).unwrap();
        if m.file_type().is_symlink() || m.file_type().is_socket_like() {
            continue;
        }
        if is_container_filesystem(&e.path()) {
            continue;
        }
        if m.permissions().mode() & 0o077 != 0 && !is_container_etc_file(&e.path()) {
            open.push(format!(
                "{:o} {}",
                m.permissions().mode() & 0o7777,
                e.path().display()
            ));
        }
        if m.is_dir() {
            open.extend(open_to_others(&e.path()));
        }
    }
    open
}

/// The container's own filesystem (overlay upper, work and mount point) keeps the modes the
/// image gave it; the compiled seccomp program is berth's public default profile.
fn is_container_filesystem(p: &Path) -> bool {
    matches!(
        p.file_name().and_then(|n| n.to_str()),
        Some("upper" | "work" | "rootfs" | "seccomp.bpf")
    )
}

/// hostname, hosts and resolv.conf are bind-mounted into the container, where its users must
/// read them, as Docker's are.
fn is_container_etc_file(p: &Path) -> bool {
    matches!(
        p.file_name().and_then(|n| n.to_str()),
        Some("hostname" | "hosts" | "resolv.conf")
    )
}

trait SocketLike {
    fn is_socket_like(&self) -> bool;
}
impl SocketLike for std::fs::FileType {
    fn is_socket_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_socket() || self.is_fifo()
    }
}

fn container_dir(b: &Berth, name: &str) -> std::path::PathBuf {
    let id = b
        .run(&["inspect", "--format", "{{.Id}}", name])
        .ok()
        .trim()
        .to_string();
    b.root().join("containers").join(id)
}

#[test]
fn root_a_container_environment_and_logs_are_readable_by_root_only() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "run",
        "--name",
        "secretive",
        "-e",
        "API_TOKEN=hunter2",
        "busybox",
        "sh",
        "-c",
        "echo token is $API_TOKEN",
    ])
    .ok();
    let dir = container_dir(&b, "secretive");
    assert_eq!(mode(b.root()) & 0o067, 0, "root: {:o}", mode(b.root()));
    assert_eq!(mode(&b.root().join("containers")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    for f in ["container.json", "config.json"] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    let log = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-json.log"))
        .expect("a json log");
    assert_eq!(mode(&log), 0o600);
    let open = open_to_others(&b.root().join("containers"));
    assert!(open.is_empty(), "readable by others: {open:#?}");

    // Even a user who could reach the directory cannot read the files in it.
    std::fs::set_permissions(b.root(), std::fs::Permissions::from_mode(0o711)).unwrap();
    std::fs::set_permissions(
        b.root().join("containers"),
        std::fs::Permissions::from_mode(0o711),
    )
    .unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    for f in [dir.join("config.json"), log] {
        let r = as_nobody("cat", &[f.to_str().unwrap()]);
        assert_ne!(r.code, 0, "nobody read {}: {}", f.display(), r.stdout);
        assert!(!r.stdout.contains("hunter2"));
    }
}

#[test]
fn root_a_new_root_is_0710_and_an_old_open_store_is_closed_on_first_use() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("state");
    let mut c = Command::new(bin());
    c.arg("--root").arg(&root).args(["ps", "-a"]);
    run_command(c).ok();
    assert_eq!(mode(&root), 0o710, "a new root");

    // A store as an older berth left it: everything world-readable.
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&[
        "create",
        "--name",
        "old",
        "-e",
        "PASSWORD=x",
        "busybox",
        "true",
    ])
    .ok();
    let dir = container_dir(&b, "old");
    for (p, m) in [
        (b.root().to_path_buf(), 0o755),
        (b.root().join("containers"), 0o755),
        (dir.clone(), 0o755),
        (dir.join("container.json"), 0o644),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    b.run(&["ps", "-a"]).ok();
    assert_eq!(mode(b.root()), 0o710);
    assert_eq!(mode(&b.root().join("containers")), 0o700);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("container.json")), 0o600);
}

#[test]
fn root_a_non_root_user_is_told_berth_needs_root_and_nothing_is_touched() {
    if !Path::new("/usr/bin/setpriv").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "setpriv (util-linux) is missing"
        );
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    // nobody may reach the parent, so a berth that tried would create the root.
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let root = parent.path().join("state");
    let root_arg = root.to_str().unwrap();
    for args in [
        vec!["--root", root_arg, "ps"],
        vec!["--root", root_arg, "images"],
        vec!["--root", root_arg, "run", "--rm", "busybox", "true"],
    ] {
        let r = as_nobody(bin(), &args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim(),
            "Error: berth needs root: run it as root or with sudo (rootless mode is not supported yet)",
            "{args:?}"
        );
        assert!(!root.exists(), "{args:?} touched the root");
    }
    // What needs no root still works.
    let r = as_nobody(bin(), &["version"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Docker's layout: the client's half, then the engine's (#13 asked for it; before,
    // one "berth version X" line).
    assert!(r.stdout.starts_with("Client:\n Version:"), "{}", r.stdout);
    assert!(
        r.stdout.contains("\nServer: berth\n Engine:\n"),
        "{}",
        r.stdout
    );
}
