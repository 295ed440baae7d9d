//! End-to-end tests of what every command does to a paused container, as Docker does it.
//! Root only (the freezer cgroup).

mod common;

use std::time::{Duration, Instant};

use common::Berth;

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

fn status(b: &Berth, name: &str) -> String {
    b.run(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ])
    .ok()
    .trim()
    .to_string()
}

fn paused_sleeper(b: &Berth, name: &str) -> String {
    let id = b
        .run(&["run", "-d", "--name", name, "busybox", "sleep", "600"])
        .ok()
        .trim()
        .to_string();
    b.run(&["pause", name]).ok();
    assert!(status(b, name).ends_with("(Paused)"), "{}", status(b, name));
    // Docker's status word for it is "paused", in filters and in --format alike.
    let paused = b
        .run(&["ps", "-q", "--no-trunc", "--filter", "status=paused"])
        .ok();
    assert!(paused.contains(&id), "{paused}");
    let running = b
        .run(&["ps", "-q", "--no-trunc", "--filter", "status=running"])
        .ok();
    assert!(!running.contains(&id), "{running}");
    let state = b
        .run(&[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.State}}",
        ])
        .ok();
    assert_eq!(state.trim(), "paused");
    id
}

#[test]
fn root_stop_kill_and_restart_of_a_paused_container() {
    let b = busybox();
    paused_sleeper(&b, "p");
    // The stop signal cannot reach a frozen process: after the timeout, SIGKILL and a thaw.
    let t = Instant::now();
    assert_eq!(b.run(&["stop", "-t", "1", "p"]).ok(), "p\n");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(
        status(&b, "p").starts_with("Exited (137)"),
        "{}",
        status(&b, "p")
    );
    let state = common::json(&b.run(&["inspect", "-f", "{{json .State}}", "p"]).ok());
    assert_eq!(state["Paused"], false);
    assert_eq!(state["Status"], "exited");

    // kill (SIGKILL) of a paused container ends it at once.
    b.run(&["start", "p"]).ok();
    b.run(&["pause", "p"]).ok();
    let t = Instant::now();
    b.run(&["kill", "p"]).ok();
    while !status(&b, "p").starts_with("Exited (137)") {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", status(&b, "p"));
        std::thread::sleep(Duration::from_millis(20));
    }

    // restart of a paused container runs it again, unpaused.
    b.run(&["start", "p"]).ok();
    b.run(&["pause", "p"]).ok();
    b.run(&["restart", "-t", "1", "p"]).ok();
    let s = status(&b, "p");
    assert!(s.starts_with("Up") && !s.contains("Paused"), "{s}");
    b.run(&["rm", "-f", "p"]).ok();
}

#[test]
fn root_rm_force_of_a_paused_container_removes_it() {
    let b = busybox();
    let id = paused_sleeper(&b, "first");
    b.run(&["rename", "first", "second"]).ok();
    let t = Instant::now();
    assert_eq!(b.run(&["rm", "-f", "second"]).ok(), "second\n");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // Nothing comes back: no record under either name, no cgroup, no state.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "");
    assert!(!b.root().join("containers").join(&id).exists());
    for c in ["freezer", "memory", "pids"] {
        assert!(
            !std::path::Path::new(&format!("/sys/fs/cgroup/{c}/berth/{id}")).exists(),
            "{c} cgroup left"
        );
    }
}

#[test]
fn root_commit_never_leaves_a_container_paused() {
    let b = busybox();
    b.run(&["run", "-d", "--name", "c", "busybox", "sleep", "600"])
        .ok();
    // A bad reference is refused before the container is paused.
    let err = b.run(&["commit", "c", "Bad:Ref:x"]).fails();
    assert!(err.contains("invalid reference format"), "{err}");
    let s = status(&b, "c");
    assert!(!s.contains("Paused"), "{s}");
    assert_eq!(b.run(&["exec", "c", "echo", "alive"]).ok(), "alive\n");
    // A good commit pauses and unpauses.
    b.run(&["commit", "c", "committed:1"]).ok();
    assert!(!status(&b, "c").contains("Paused"));
    // Commit of a container the user paused keeps it paused, as Docker does.
    b.run(&["pause", "c"]).ok();
    b.run(&["commit", "c", "committed:2"]).ok();
    assert!(status(&b, "c").ends_with("(Paused)"));
    b.run(&["rm", "-f", "c"]).ok();
}

#[test]
fn root_exec_cp_and_export_of_a_paused_container() {
    let b = busybox();
    let id = paused_sleeper(&b, "p");
    // exec is refused (its process would be frozen too), as Docker refuses it.
    let err = b.run(&["exec", "p", "true"]).fails();
    assert!(
        err.contains(&format!(
            "Container {id} is paused, unpause the container before exec"
        )),
        "{err}"
    );
    // cp both ways and export work on the filesystem while it is paused.
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("note.txt");
    std::fs::write(&host, "from the host\n").unwrap();
    b.run(&["cp", host.to_str().unwrap(), "p:/tmp/note.txt"])
        .ok();
    let back = dir.path().join("back.txt");
    b.run(&["cp", "p:/tmp/note.txt", back.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");
    let tar = dir.path().join("fs.tar");
    b.run(&["export", "-o", tar.to_str().unwrap(), "p"]).ok();
    assert!(std::fs::metadata(&tar).unwrap().len() > 10_000);
    assert!(status(&b, "p").ends_with("(Paused)"));
    b.run(&["unpause", "p"]).ok();
    assert_eq!(
        b.run(&["exec", "p", "cat", "/tmp/note.txt"]).ok(),
        "from the host\n"
    );
    b.run(&["rm", "-f", "p"]).ok();
}

/// Not about pausing: `diff` of a container nobody changed (the files berth mounts over
/// /etc are not changes), next to the other filesystem commands above.
#[test]
fn root_diff_of_an_untouched_container_is_empty() {
    let b = busybox();
    b.run(&["run", "--name", "quiet", "busybox", "true"]).ok();
    assert_eq!(b.run(&["diff", "quiet"]).ok(), "");
    b.run(&["run", "-d", "--name", "up", "busybox", "sleep", "60"])
        .ok();
    assert_eq!(b.run(&["diff", "up"]).ok(), "");
    b.run(&["exec", "up", "touch", "/etc/made"]).ok();
    assert_eq!(b.run(&["diff", "up"]).ok(), "C /etc\nA /etc/made\n");
    b.run(&["rm", "-f", "quiet", "up"]).ok();
}
