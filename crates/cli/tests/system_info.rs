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
