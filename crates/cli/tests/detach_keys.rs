//! End-to-end tests of detaching from a terminal session: `run -it`, `start -ai` and `attach`
//! end on Docker's ctrl-p ctrl-q (or `--detach-keys`, or `detachKeys` in the docker CLI's
//! config.json) and leave the container running, its shell still there for the next attach.

mod common;

use common::{in_pty, in_pty_cmd, Berth};

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

fn status(b: &Berth, name: &str) -> String {
    b.run(&["inspect", "--format", "{{.State.Status}}", name])
        .ok()
        .trim()
        .to_string()
}

#[test]
fn root_run_it_detaches_on_ctrl_p_ctrl_q_and_the_shell_goes_on() {
    let b = busybox();
    let (out, code) = in_pty(
        &b,
        &["run", "-it", "--name", "dk", "busybox", "sh"],
        24,
        80,
        &[b"echo first-$((40+2))\n", b"\x10\x11"],
        None,
    );
    assert_eq!(code, 0, "detaching is no error: {out}");
    assert!(out.contains("first-42"), "{out}");
    assert_eq!(status(&b, "dk"), "running", "{out}");
    // The same shell, attached to again; the typed keys reached it and nothing else did.
    let (out, code) = in_pty(
        &b,
        &["attach", "dk"],
        24,
        80,
        &[b"echo again-$((1+1))\n", b"\x10\x11"],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("again-2"), "{out}");
    assert!(out.contains("read escape sequence"), "{out}");
    assert_eq!(status(&b, "dk"), "running");
    // The shell's exit still ends the session, with its code.
    let (out, code) = in_pty(&b, &["attach", "dk"], 24, 80, &[b"exit 4\n"], None);
    assert_eq!(code, 4, "{out}");
    assert_eq!(b.run(&["wait", "dk"]).ok().trim(), "4");
    b.run(&["rm", "dk"]).ok();
}

#[test]
fn root_detach_keys_come_from_the_flag_or_the_docker_config() {
    let b = busybox();
    // --detach-keys on run: ctrl-p ctrl-q is then just input.
    let (out, code) = in_pty(
        &b,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-x,x",
            "--name",
            "flagged",
            "busybox",
            "sh",
        ],
        24,
        80,
        &[b"\x10\x11echo still-here\n", b"\x18x"],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("still-here"),
        "ctrl-p ctrl-q did not detach: {out}"
    );
    assert_eq!(status(&b, "flagged"), "running");

    // detachKeys in config.json applies to attach, start and run alike.
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"detachKeys": "ctrl-a,d"}"#,
    )
    .unwrap();
    let mut attach = b.cmd(&["attach", "flagged"]);
    attach.env("DOCKER_CONFIG", config.path());
    let (out, code) = in_pty_cmd(attach, 24, 80, &[b"echo via-config\n", b"\x01d"], None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("via-config") && out.contains("read escape sequence"),
        "{out}"
    );
    assert_eq!(status(&b, "flagged"), "running");
    b.run(&["rm", "-f", "flagged"]).ok();

    // start -ai of a container made with -it.
    b.run(&["create", "-it", "--name", "started", "busybox", "sh"])
        .ok();
    let mut start = b.cmd(&["start", "-ai", "started"]);
    start.env("DOCKER_CONFIG", config.path());
    let (out, code) = in_pty_cmd(start, 24, 80, &[b"echo from-start\n", b"\x01d"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("from-start"), "{out}");
    assert_eq!(status(&b, "started"), "running");
    b.run(&["rm", "-f", "started"]).ok();

    // A bad sequence is refused before anything runs.
    let (out, code) = in_pty(
        &b,
        &[
            "run",
            "-it",
            "--detach-keys",
            "ctrl-1",
            "--name",
            "bad",
            "busybox",
            "true",
        ],
        24,
        80,
        &[b""],
        None,
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("ctrl-1"), "{out}");
}

#[test]
fn root_run_it_of_a_quick_command_shows_all_its_output_and_code() {
    let b = busybox();
    // The supervisor keeps what the container printed before the CLI connected.
    let (out, code) = in_pty(
        &b,
        &[
            "run",
            "--rm",
            "-it",
            "busybox",
            "sh",
            "-c",
            "echo one; echo two; exit 7",
        ],
        24,
        80,
        &[b""],
        None,
    );
    assert_eq!(code, 7, "{out}");
    assert_eq!(out.trim(), "one\ntwo", "{out:?}");
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "", "--rm removed it");
}

/// berth processes (supervisors) still running for this test's root.
fn processes_of(b: &Berth, what: &str) -> usize {
    let root = b.root().to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&root) && c.contains(what))
        .count()
}

#[test]
fn root_exec_it_detaches_and_the_process_goes_on() {
    let b = busybox();
    b.run(&["run", "-d", "--name", "host", "busybox", "sleep", "300"])
        .ok();
    let (out, code) = in_pty(
        &b,
        &["exec", "-it", "host", "sh"],
        24,
        80,
        &[b"echo in-exec-$((2*3))\n", b"\x10\x11"],
        None,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("in-exec-6"), "{out}");
    assert!(out.contains("read escape sequence"), "{out}");
    // The exec's shell is still there, held by its supervisor.
    let top = b.run(&["top", "host"]).ok();
    assert!(top.lines().any(|l| l.trim_end().ends_with(" sh")), "{top}");
    assert_eq!(processes_of(&b, "__exec"), 1);
    // A quick exec shows all its output and its code; --detach-keys is taken.
    let (out, code) = in_pty(
        &b,
        &[
            "exec",
            "-it",
            "--detach-keys",
            "ctrl-x,y",
            "host",
            "sh",
            "-c",
            "echo quick; exit 5",
        ],
        24,
        80,
        &[b""],
        None,
    );
    assert_eq!((out.trim(), code), ("quick", 5), "{out:?}");
    // Removing the container ends the detached exec and its supervisor.
    b.run(&["rm", "-f", "host"]).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while processes_of(&b, "__exec") > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(processes_of(&b, "__exec"), 0, "exec supervisor left behind");
}
