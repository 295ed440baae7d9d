//! End-to-end tests of how errors read: one line, each cause once, one `Error:` prefix, and
//! never raw bytes of a bad file on the terminal.

mod common;

use common::Berth;

#[test]
fn causes_are_printed_once() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    let err = b.run(&["build", ctx.path().to_str().unwrap()]).fails();
    let cause = "No such file or directory (os error 2)";
    assert_eq!(err.matches(cause).count(), 1, "{err}");
    assert_eq!(err.matches("Error:").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_login_without_credentials_says_error_once() {
    let b = Berth::new();
    let home = tempfile::tempdir().unwrap();
    let r = b.run_env(&["login", "127.0.0.1:1"], "DOCKER_CONFIG", home.path());
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "Error: Username and password are required\n");
}

#[test]
fn run_of_a_bad_reference_says_so_without_looking_for_it() {
    let b = Berth::new();
    let r = b.run(&["run", "--rm", "Bad:Ref:x"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid reference format"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Unable to find image"), "{}", r.stderr);
}

#[test]
fn an_unknown_build_target_is_named_once_without_a_file_position() {
    let b = Berth::new();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch AS base\n").unwrap();
    let err = b
        .run(&["build", "--target", "nope", ctx.path().to_str().unwrap()])
        .fails();
    assert_eq!(
        err,
        "Error: failed to reach build target nope in Dockerfile\n"
    );
}

#[test]
fn root_files_of_random_bytes_give_printable_errors() {
    let b = Berth::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("random.bin");
    // Bytes that are neither text nor a tar, control characters among them.
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&file, bytes).unwrap();
    for args in [
        vec!["load", "-i", file.to_str().unwrap()],
        vec!["import", file.to_str().unwrap(), "x"],
    ] {
        let r = b.run(&args);
        assert_ne!(r.code, 0, "{args:?}");
        assert!(r.stderr.starts_with("Error: "), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {:?}", r.stderr);
        assert!(
            r.stderr
                .trim_end()
                .ends_with("not a valid tar archive or truncated: invalid tar header"),
            "{args:?}: {:?}",
            r.stderr
        );
        assert!(
            !r.stderr
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{fffd}'),
            "{args:?}: {:?}",
            r.stderr
        );
    }
}

#[test]
fn root_network_rm_in_use_says_error_like_every_other_command() {
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&["network", "create", "errnet"]).ok();
    b.run(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        "errnet",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let err = b.run(&["network", "rm", "errnet"]).fails();
    assert!(err.starts_with("Error: "), "{err}");
    assert!(!err.contains("daemon"), "{err}");
    b.run(&["rm", "-f", "c"]).ok();
    b.run(&["network", "rm", "errnet"]).ok();
}

/// `run -w` onto a file says so and what to change (it was libcontainer's opaque "failed to
/// unix syscall"), and `--rm` leaves nothing.
#[test]
fn root_a_working_directory_that_is_a_file_is_named() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let r = b.run(&[
        "run",
        "--rm",
        "--name",
        "wdfile",
        "-w",
        "/etc/passwd",
        "busybox",
        "pwd",
    ]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("cannot use /etc/passwd as the working directory: not a directory"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("syscall"), "{}", r.stderr);
    assert!(b.run(&["ps", "-aq"]).ok().trim().is_empty());
}

/// What libcontainer would only call "failed to prepare rootfs" or "open subpath in procfs
/// failed" is named before anything runs, with what to change, and `--rm` leaves nothing.
#[test]
fn root_mount_sysctl_and_cpuset_mistakes_are_named() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let hint = "Are you trying to mount a directory onto a file (or vice-versa)?";
    for (args, want) in [
        (
            &["-v", "/etc/hostname:/bin"][..],
            format!(
                "error mounting \"/etc/hostname\" to rootfs at \"/bin\": not a directory: {hint}"
            ),
        ),
        (
            &["-v", "/tmp:/etc/hostname"][..],
            format!(
                "error mounting \"/tmp\" to rootfs at \"/etc/hostname\": not a directory: {hint}"
            ),
        ),
        (
            &["--tmpfs", "/etc/passwd"][..],
            format!(
                "error mounting \"tmpfs\" to rootfs at \"/etc/passwd\": not a directory: {hint}"
            ),
        ),
        (
            &["--sysctl", "net.ipv4.no_such_parameter=1"][..],
            "sysctl \"net.ipv4.no_such_parameter\" is not a kernel parameter on this host"
                .to_string(),
        ),
        (
            &["--cpuset-mems", "7"][..],
            "Requested memory nodes are not available - requested 7, available: ".to_string(),
        ),
    ] {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend_from_slice(args);
        cmd.extend_from_slice(&["busybox", "true"]);
        let r = b.run(&cmd);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(&want), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("rootfs\n"), "{}", r.stderr);
        assert!(
            b.run(&["ps", "-aq"]).ok().trim().is_empty(),
            "{args:?} left a container"
        );
    }
    // Files onto files and directories onto directories still work.
    b.run(&[
        "run",
        "--rm",
        "-v",
        "/etc/hostname:/etc/hostname:ro",
        "-v",
        "/tmp:/mnt",
        "busybox",
        "true",
    ])
    .ok();
}

/// `exec -w` into a directory the container does not have says so (libcontainer's own
/// message was "failed to unix syscall"); one on a volume, seen only inside, works.
#[test]
fn root_an_exec_working_directory_that_is_missing_is_named() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let c = b
        .run(&[
            "run",
            "-d",
            "-v",
            "/tmp:/outside-only",
            "busybox",
            "sleep",
            "30",
        ])
        .ok()
        .trim()
        .to_string();
    let r = b.run(&["exec", "-w", "/no/such/dir", &c, "pwd"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains(
            "chdir to cwd (\"/no/such/dir\") set in config.json failed: no such file or directory"
        ),
        "{}",
        r.stderr
    );
    let r = b.run(&["exec", "-w", "/etc/passwd", &c, "pwd"]);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    assert_eq!(
        b.run(&["exec", "-w", "/outside-only", &c, "pwd"]).ok(),
        "/outside-only\n"
    );
    b.run(&["rm", "-f", &c]).ok();
}
