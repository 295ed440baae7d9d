//! docker-compose (Debian's 1.29, on its own docker-py) against `berth serve`: a project of two
//! services sharing a named volume, with a published port, service-name DNS, `logs`, `exec`,
//! `run --rm` and `down -v`, as a compose user would work. Root only: containers are real.

mod common;

use std::process::Command;

use common::berth_serve::Server;
use common::{have_tool, run_command, Berth, Run};

fn compose(s: &Server, dir: &std::path::Path, args: &[&str]) -> Run {
    let mut c = Command::new("docker-compose");
    c.args(["-p", "berthcompose"])
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", s.host());
    run_command(c)
}

#[test]
fn root_docker_compose_runs_a_project_through_berth_serve() {
    if !have_tool("docker-compose") {
        return;
    }
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        format!(
            r#"version: "3.8"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    volumes: ["www:/www"]
    ports: ["127.0.0.1:{port}:80"]
    environment:
      ROLE: web
    depends_on: [seed]
    links: ["helper:assistant"]
  helper:
    image: busybox
    command: ["sleep", "60"]
    stop_grace_period: 1s
  seed:
    image: busybox
    command: ["sh", "-c", "echo hello-compose > /www/index.html; echo seeded"]
    volumes: ["www:/www"]
volumes:
  www:
"#
        ),
    )
    .unwrap();
    let d = dir.path();
    let up = compose(&s, d, &["up", "-d"]);
    assert_eq!(up.code, 0, "{up:?}");
    let ps = compose(&s, d, &["ps"]).ok();
    assert!(
        ps.contains("berthcompose_web_1") && ps.contains("Up"),
        "{ps}"
    );
    assert!(
        ps.contains("berthcompose_seed_1") && ps.contains("Exit 0"),
        "{ps}"
    );
    let logs = compose(&s, d, &["logs", "--no-color", "seed"]).ok();
    assert!(logs.contains("seeded"), "{logs}");
    // The web service serves what seed wrote into the shared volume.
    let mut page = String::new();
    for _ in 0..50 {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = c.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let _ = c.read_to_string(&mut page);
            if page.contains("hello-compose") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(page.contains("hello-compose"), "{page}");
    // The link's alias resolves for web. (docker-compose 1.29 links only to the running
    // containers of a service, so the linked one is long-running, not the one-shot seed.)
    let exec = compose(
        &s,
        d,
        &[
            "exec",
            "-T",
            "web",
            "sh",
            "-c",
            "echo $ROLE; nslookup seed; nslookup assistant",
        ],
    )
    .ok();
    assert!(
        exec.starts_with("web\n")
            && exec.contains("Name:\tseed\n")
            && exec.contains("Name:\tassistant"),
        "{exec}"
    );
    // A one-off container runs, its output comes back, and it is removed. (Compose runs
    // `docker start --attach` for it, as by default; see docs/differences.md for
    // COMPOSE_INTERACTIVE_NO_CLI.)
    let run = compose(&s, d, &["run", "--rm", "-T", "seed", "echo", "one-off"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "one-off\n"), "{run:?}");
    let left = s.docker(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    assert!(!left.contains("seed_run"), "{left}");
    let down = compose(&s, d, &["down", "-v"]);
    assert_eq!(down.code, 0, "{down:?}");
    assert_eq!(s.docker(&["ps", "-aq"]).ok(), "");
    assert_eq!(s.docker(&["volume", "ls", "-q"]).ok(), "");
    let nets = s.docker(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!nets.contains("berthcompose"), "{nets}");
}
