//! Python clients against `berth serve`: docker-py (PyPI `docker`, what Python tools build
//! on; tests/docker_py) and testcontainers-python (tests/testcontainers), each run with
//! DOCKER_HOST at a server of its own. Root only: containers are real.

mod common;

use std::process::Command;

use common::berth_serve::Server;
use common::{run_command, Berth};

fn have_module(module: &str, package: &str) -> bool {
    let found = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "{package} must be installed under CI (scripts/deps.sh installs it)"
        );
        eprintln!("skipping: {package} is not installed");
    }
    found
}

/// Runs a unittest script under tests/ against a fresh server; asserts it passed and left
/// no containers or volumes.
fn run_suite(script: &str, env: &[(&str, &str)]) {
    let b = Berth::new();
    b.import_busybox("busybox");
    // A TCP address too: docker-py's WebSocket attach speaks TCP only.
    let tcp = format!("tcp://127.0.0.1:{}", common::registry_server::free_port());
    let s = Server::start(&b, &["-H", &tcp]);
    let path = format!("{}/../../tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("python3");
    cmd.arg(path)
        .env("DOCKER_HOST", s.host())
        .env("BERTH_TCP_HOST", &tcp)
        .env("BERTH_SERVE_PID", s.child.id().to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run_command(cmd);
    assert_eq!(r.code, 0, "{script} failed:\n{}", r.stderr);
    assert!(r.stderr.contains("\nOK"), "{}", r.stderr);
    assert_eq!(s.docker(&["ps", "-aq"]).ok(), "");
    assert_eq!(s.docker(&["volume", "ls", "-q"]).ok(), "");
}

#[test]
fn root_docker_py_drives_berth_serve() {
    if have_module("docker", "docker-py") {
        run_suite("docker_py/test_docker_py.py", &[]);
    }
}

#[test]
fn root_testcontainers_python_runs_a_throwaway_container_on_berth_serve() {
    if have_module("testcontainers", "testcontainers") {
        run_suite(
            "testcontainers/test_testcontainers.py",
            &[("TESTCONTAINERS_RYUK_DISABLED", "true")],
        );
    }
}
