//! End-to-end tests of how berth reads its command line, against what the docker CLI does:
//! unknown flags, argument counts, on/off flags, and what a terminal implies.

mod common;

use common::{in_pty, Berth};

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

#[test]
fn unknown_flags_are_errors_never_the_image_name() {
    let b = Berth::new();
    for (args, flag) in [
        (
            vec!["run", "--rm", "--cpu-rt-runtime", "300", "busybox", "true"],
            "unknown flag: --cpu-rt-runtime",
        ),
        (
            vec!["run", "--sig-proxy=false", "busybox"],
            "unknown flag: --sig-proxy",
        ),
        (
            vec!["create", "-a", "stdout", "busybox"],
            "unknown shorthand flag: 'a' in -a",
        ),
        (
            vec!["exec", "--bogus", "c", "true"],
            "unknown flag: --bogus",
        ),
        (vec!["ps", "--foo"], "unknown flag: --foo"),
    ] {
        let r = b.run(&args);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .starts_with(&format!("{flag}\n\nUsage:  berth {}", args[0])),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains(&format!(
                "Run 'berth {} --help' for more information",
                args[0]
            )),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("Unable to find image"), "{}", r.stderr);
    }
    // Nothing was created by any of them.
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "");
}

#[test]
fn argument_counts_are_checked_as_docker_checks_them() {
    let b = Berth::new();
    for (args, want) in [
        (vec!["build"], "berth: 'berth build' requires 1 argument"),
        (
            vec!["stop"],
            "berth: 'berth stop' requires at least 1 argument",
        ),
        (
            vec!["rename", "a"],
            "berth: 'berth rename' requires 2 arguments",
        ),
        (
            vec!["commit"],
            "berth: 'berth commit' requires at least 1 and at most 2 arguments",
        ),
        (
            vec!["network", "rm"],
            "berth: 'berth network rm' requires at least 1 argument",
        ),
    ] {
        let r = b.run(&args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with(want), "{args:?}: {}", r.stderr);
    }
    let err = b.run(&["build", "/nonexistent-context"]).fails();
    assert_eq!(
        err,
        "Error: unable to prepare context: path \"/nonexistent-context\" not found\n"
    );
}

#[test]
fn root_flags_after_the_image_belong_to_the_command() {
    let b = busybox();
    let out = b
        .run(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo $0 $1",
            "-x",
            "--y",
        ])
        .ok();
    assert_eq!(out, "-x --y\n");
    b.run(&["run", "-d", "--name", "c", "busybox", "sleep", "60"])
        .ok();
    assert_eq!(b.run(&["exec", "c", "ls", "-d", "/tmp"]).ok(), "/tmp\n");
    b.run(&["rm", "-f", "c"]).ok();
}

#[test]
fn root_build_rm_is_an_on_off_flag() {
    let b = busybox();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN echo built > /f\n",
    )
    .unwrap();
    let dir = ctx.path().to_str().unwrap();
    for flags in [
        vec!["--rm"],
        vec!["--rm=false"],
        vec!["--force-rm"],
        vec!["--rm=false", "--rm"],
    ] {
        let mut args = vec!["build", "-q"];
        args.extend(flags.iter().copied());
        args.push(dir);
        let r = b.run(&args);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
    }
}

#[test]
fn root_a_terminal_sets_term_unless_the_user_does() {
    let b = busybox();
    let (out, code) = in_pty(
        &b,
        &["run", "--rm", "-t", "busybox", "sh", "-c", "echo T=$TERM"],
        24,
        80,
        &[],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("T=xterm"), "{out}");
    let (out, _) = in_pty(
        &b,
        &[
            "run",
            "--rm",
            "-t",
            "-e",
            "TERM=vt100",
            "busybox",
            "sh",
            "-c",
            "echo T=$TERM",
        ],
        24,
        80,
        &[],
        None,
    );
    assert!(out.contains("T=vt100"), "{out}");
    // Without a terminal there is no TERM, and it is never recorded in the config.
    assert_eq!(
        b.run(&["run", "--rm", "busybox", "sh", "-c", "echo T=$TERM"])
            .ok(),
        "T=\n"
    );
    b.run(&["run", "-d", "-t", "--name", "t", "busybox", "sleep", "60"])
        .ok();
    let env = b.run(&["inspect", "-f", "{{json .Config.Env}}", "t"]).ok();
    assert!(!env.contains("TERM"), "{env}");
    let (out, _) = in_pty(
        &b,
        &["exec", "-t", "t", "sh", "-c", "echo T=$TERM"],
        24,
        80,
        &[],
        None,
    );
    assert!(out.contains("T=xterm"), "{out}");
    b.run(&["rm", "-f", "t"]).ok();
}

#[test]
fn root_limits_and_platforms_docker_refuses_create_nothing() {
    let b = busybox();
    let cpus = std::thread::available_parallelism().unwrap().get();
    let too_many = (cpus + 1).to_string();
    for (args, want) in [
        (vec!["run", "--rm", "-m", "1k", "busybox", "true"], "Error: Minimum memory limit allowed is 6MB\n".to_string()),
        (vec!["run", "-d", "-m", "1k", "busybox", "true"], "Error: Minimum memory limit allowed is 6MB\n".to_string()),
        (vec!["create", "--cpus", &too_many, "busybox"], format!("Error: Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available\n")),
        (vec!["run", "--rm", "-m", "64m", "--memory-swap", "32m", "busybox", "true"], "Error: Minimum memoryswap limit should be larger than memory limit, see usage\n".to_string()),
    ] {
        let r = b.run(&args);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr, want, "{args:?}");
    }
    // The image is for this machine: another platform is never run from it, whether the
    // registry is asked (here one that refuses connections) or not.
    b.run(&["tag", "busybox", "127.0.0.1:9/busybox"]).ok();
    let other = if cfg!(target_arch = "x86_64") {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let err = b
        .run(&[
            "run",
            "--rm",
            "--platform",
            other,
            "127.0.0.1:9/busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains(&format!("does not match the specified platform ({other})")),
        "{err}"
    );
    let err = b
        .run(&[
            "run",
            "--rm",
            "--pull",
            "never",
            "--platform",
            other,
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("was found but its platform (linux/"), "{err}");
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "");
    let host = format!(
        "linux/{}",
        if cfg!(target_arch = "x86_64") {
            "amd64"
        } else {
            "arm64"
        }
    );
    assert_eq!(
        b.run(&["run", "--rm", "--platform", &host, "busybox", "echo", "ok"])
            .ok(),
        "ok\n"
    );
}
