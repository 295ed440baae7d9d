//! End-to-end tests of `berth info`: counts by state, images, host facts, a stable engine ID,
//! and `--format` over Docker's field names.

mod common;

use common::Berth;

#[test]
fn root_info_counts_containers_by_state_and_formats() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&["run", "-d", "--name", "up", "busybox", "sleep", "300"])
        .ok();
    b.run(&["run", "-d", "--name", "frozen", "busybox", "sleep", "300"])
        .ok();
    b.run(&["pause", "frozen"]).ok();
    b.run(&["create", "--name", "idle", "busybox", "true"]).ok();
    let f = "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}} {{.Images}}";
    assert_eq!(b.run(&["info", "--format", f]).ok().trim(), "3 1 1 1 1");
    let id = b.run(&["info", "--format", "{{.ID}}"]).ok();
    assert_eq!(id.trim().len(), 64);
    assert_eq!(
        b.run(&["system", "info", "--format", "{{.ID}}"]).ok(),
        id,
        "stable"
    );
    let json = common::json(&b.run(&["info", "--format", "json"]).ok());
    assert_eq!(json["OSType"], "linux");
    assert_eq!(json["DockerRootDir"], b.root().to_str().unwrap());
    assert!(json["NCPU"].as_u64().unwrap() >= 1);
    assert!(json["MemTotal"].as_u64().unwrap() > 0);
    let text = b.run(&["info"]).ok();
    assert!(
        text.contains(
            "\nServer:\n Containers: 3\n  Running: 1\n  Paused: 1\n  Stopped: 1\n Images: 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!(" Docker Root Dir: {}\n", b.root().display())),
        "{text}"
    );
    b.run(&["rm", "-f", "up", "frozen", "idle"]).ok();
}

/// `berth version` as `docker version` prints it: the client's half and the engine's, and
/// `--format` over Docker's field names (Go's `APIVersion` for the JSON's `ApiVersion`).
#[test]
fn version_has_dockers_client_and_server_sections() {
    let b = Berth::new();
    let out = b.run(&["version"]).ok();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Client:");
    assert!(lines.contains(&" API version:       1.50"), "{out}");
    assert!(lines.contains(&"Server: berth"), "{out}");
    assert!(lines.contains(&" Engine:"), "{out}");
    assert!(
        lines.contains(&"  API version:      1.50 (minimum version 1.24)"),
        "{out}"
    );
    let f = "{{.Client.APIVersion}} {{.Server.Version}} {{.Server.MinAPIVersion}} {{.Server.KernelVersion}}";
    assert_eq!(
        b.run(&["version", "--format", f]).ok().trim(),
        format!("1.50 {} 1.24 {}", env!("CARGO_PKG_VERSION"), release.trim())
    );
    let json = common::json(&b.run(&["version", "-f", "json"]).ok());
    assert_eq!(json["Server"]["ApiVersion"], "1.50");
    assert_eq!(json["Server"]["Components"][0]["Name"], "Engine");
    assert_eq!(json["Client"]["Context"], "default");
}
