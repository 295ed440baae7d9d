//! docker-py (PyPI `docker`, what Python tools and testcontainers build on) against `berth
//! serve`: tests/docker_py/test_docker_py.py, run with DOCKER_HOST at a server of its own.
//! Root only: containers are real.

mod common;

use std::process::Command;

use common::berth_serve::Server;
use common::{run_command, Berth};

fn have_docker_py() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "docker-py must be installed under CI (scripts/deps.sh installs it)"
        );
        eprintln!("skipping: docker-py is not installed");
    }
    found
}

#[test]
fn root_docker_py_drives_berth_serve() {
    if !have_docker_py() {
        return;
    }
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/docker_py/test_docker_py.py"
    );
    let mut cmd = Command::new("python3");
    cmd.arg(script).env("DOCKER_HOST", s.host());
    let r = run_command(cmd);
    assert_eq!(r.code, 0, "docker-py's tests failed:\n{}", r.stderr);
    assert!(r.stderr.contains("\nOK"), "{}", r.stderr);
    // What the tests made, they removed.
    assert_eq!(s.docker(&["ps", "-aq"]).ok(), "");
    assert_eq!(s.docker(&["volume", "ls", "-q"]).ok(), "");
}
