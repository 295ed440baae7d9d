//! End-to-end tests of `berth compose`: a realistic stack from the project's busybox image
//! brought up, inspected, edited, scaled and taken down as a user would. Root only. They only
//! contact 127.0.0.1 and addresses on the bridges they make; every wait is bounded.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, run_command, Berth, Run};

fn compose_command(b: &Berth, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--root").arg(b.root()).arg("compose").args(args);
    c.current_dir(dir)
        .env_remove("BERTH_ROOT")
        .env_remove("COMPOSE_PROJECT_NAME");
    c
}

fn compose(b: &Berth, dir: &Path, args: &[&str]) -> Run {
    run_command(compose_command(b, dir, args))
}

/// Starts `c` with its stdout read line by line into the channel.
fn spawn_lines(c: &mut Command) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = c
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match got {
            Ok(r) if r.contains(" 200 ") => return r,
            _ if Instant::now() > deadline => {
                panic!("no answer from 127.0.0.1:{port}{path}: {got:?}")
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

const STACK: &str = r#"
name: shop
x-base: &base
  image: busybox
  stop_grace_period: 1s
services:
  web:
    <<: *base
    command: httpd -f -p 80 -h /www
    ports: ["${WEB_PORT:-18931}:80"]
    volumes: [data:/www]
    links: ["worker:helper"]
    depends_on:
      seed: {condition: service_completed_successfully}
      db: {condition: service_healthy}
  seed:
    <<: *base
    command: sh -c 'echo "seeded by $$GREETING" > /www/index.html; echo seeding done'
    environment: [GREETING]
    volumes: [data:/www]
  db:
    <<: *base
    command: sh -c 'echo db starting; touch /tmp/ready; exec sleep 600'
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ready"], interval: 1s, retries: 5}
  worker:
    <<: *base
    command: sh -c 'while true; do sleep 1; done'
    deploy: {replicas: 2}
volumes:
  data: {}
"#;

#[test]
fn root_a_stack_comes_up_in_order_survives_down_and_recreates_only_what_changed() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), STACK).unwrap();
    std::fs::write(dir.path().join(".env"), "GREETING=dotenv\nWEB_PORT=18931\n").unwrap();

    let up = compose(&b, dir.path(), &["up", "-d"]);
    let progress = up.stderr.clone();
    assert_eq!(up.code, 0, "{progress}");
    for line in [
        " Network shop_default  Created",
        " Volume \"shop_data\"  Created",
        " Container shop-db-1  Healthy",
        " Container shop-seed-1  Exited",
        " Container shop-web-1  Started",
        " Container shop-worker-2  Started",
    ] {
        assert!(progress.contains(line), "missing {line:?} in\n{progress}");
    }
    // web starts only after seed completed and db is healthy.
    let at = |s: &str| progress.find(s).unwrap();
    assert!(at("shop-web-1  Starting") > at("shop-db-1  Healthy"));
    assert!(at("shop-web-1  Starting") > at("shop-seed-1  Exited"));
    assert!(http_get(18931, "/").contains("seeded by dotenv"));

    let ps = compose(&b, dir.path(), &["ps"]).ok();
    let header = ps.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("SERVICE") && header.contains("PORTS"),
        "{ps}"
    );
    assert!(ps.contains("0.0.0.0:18931->80/tcp"), "{ps}");
    assert!(ps.contains("(healthy)"), "{ps}");
    assert!(
        !ps.contains("shop-seed-1"),
        "ps without -a shows running ones only:\n{ps}"
    );
    assert!(compose(&b, dir.path(), &["ps", "-a"])
        .ok()
        .contains("Exited (0)"));
    let json = compose(&b, dir.path(), &["ps", "--format", "json"]).ok();
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{json}");
    assert!(rows.iter().all(|r| r["Project"] == "shop"));

    // Replicas answer to their service's name, and every container to its own.
    let look = compose(&b, dir.path(), &["exec", "-T", "web", "nslookup", "worker"]).ok();
    assert_eq!(look.matches("Address: 172.").count(), 2, "{look}");
    // A link's alias, for the linking service alone.
    let look = compose(&b, dir.path(), &["exec", "-T", "web", "nslookup", "helper"]).ok();
    assert_eq!(look.matches("Address: 172.").count(), 2, "{look}");
    let look = compose(&b, dir.path(), &["exec", "-T", "db", "nslookup", "helper"]);
    assert_ne!(look.code, 0, "{look:?}");
    compose(
        &b,
        dir.path(),
        &["exec", "-T", "worker", "ping", "-c1", "-W2", "shop-db-1"],
    )
    .ok();
    compose(
        &b,
        dir.path(),
        &[
            "exec", "--index", "2", "-T", "worker", "ping", "-c1", "-W2", "web",
        ],
    )
    .ok();

    // Logs are prefixed by container, tail per container.
    let logs = compose(&b, dir.path(), &["logs", "seed", "db"]).ok();
    assert!(logs.contains("seed-1  | seeding done"), "{logs}");
    assert!(logs.contains("db-1    | db starting"), "{logs}");
    assert_eq!(
        compose(&b, dir.path(), &["logs", "--no-log-prefix", "seed"]).ok(),
        "seeding done\n"
    );

    // A one-off: its command, the project's network, removed after.
    let one = compose(
        &b,
        dir.path(),
        &[
            "run",
            "--rm",
            "-T",
            "--no-deps",
            "seed",
            "wget",
            "-qO-",
            "http://web/",
        ],
    )
    .ok();
    assert!(one.contains("seeded by dotenv"), "{one}");
    assert!(!compose(&b, dir.path(), &["ps", "-a"])
        .ok()
        .contains("-run-"));

    // An edit recreates only the service it touched.
    let before = b
        .run(&["inspect", "--format", "{{.Id}}", "shop-web-1", "shop-db-1"])
        .ok();
    let edited = STACK.replace("exec sleep 600", "exec sleep 601");
    std::fs::write(dir.path().join("compose.yaml"), edited).unwrap();
    let again = compose(&b, dir.path(), &["up", "-d"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("shop-db-1  Recreated"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("shop-web-1  Running"),
        "{}",
        again.stderr
    );
    assert!(
        !again.stderr.contains("shop-web-1  Recreate"),
        "{}",
        again.stderr
    );
    let after = b
        .run(&["inspect", "--format", "{{.Id}}", "shop-web-1", "shop-db-1"])
        .ok();
    let (b0, a0): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b0[0], a0[0], "web kept");
    assert_ne!(b0[1], a0[1], "db recreated");

    // Compose's labels on what berth made.
    let labels = b
        .run(&[
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            "shop-worker-2",
        ])
        .ok();
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.service"], "worker");
    assert_eq!(labels["com.docker.compose.container-number"], "2");
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(
        labels["com.docker.compose.config-hash"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    // --scale down removes the extra replica.
    let scaled = compose(
        &b,
        dir.path(),
        &["up", "-d", "--scale", "worker=1", "worker"],
    );
    assert_eq!(scaled.code, 0, "{}", scaled.stderr);
    assert!(
        scaled.stderr.contains("shop-worker-2  Removed"),
        "{}",
        scaled.stderr
    );

    // down keeps the named volume; the next up sees its data; down -v removes it.
    let down = compose(&b, dir.path(), &["down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        down.stderr.contains(" Network shop_default  Removed"),
        "{}",
        down.stderr
    );
    assert!(b.run(&["ps", "-aq"]).ok().trim().is_empty());
    assert!(b.run(&["volume", "ls", "-q"]).ok().contains("shop_data"));
    assert!(!b.run(&["network", "ls"]).ok().contains("shop_default"));
    std::fs::write(dir.path().join(".env"), "GREETING=second\n").unwrap();
    compose(&b, dir.path(), &["up", "-d", "web"]).ok();
    assert!(http_get(18931, "/").contains("seeded by second"));
    compose(&b, dir.path(), &["down", "-v"]).ok();
    assert!(b.run(&["volume", "ls", "-q"]).ok().trim().is_empty());
    assert!(b.run(&["ps", "-aq"]).ok().trim().is_empty());
}

#[test]
fn root_attached_up_prefixes_output_and_returns_the_exit_code() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let file = "services:\n  a:\n    image: busybox\n    command: sh -c 'echo from a; sleep 0.3; exit 3'\n  b:\n    image: busybox\n    command: sh -c 'echo from b; sleep 30'\n";
    std::fs::write(dir.path().join("docker-compose.yml"), file).unwrap();
    let r = compose(
        &b,
        dir.path(),
        &["-p", "att", "up", "--exit-code-from", "a"],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("a-1  | from a"), "{}", r.stdout);
    assert!(r.stdout.contains("b-1  | from b"), "{}", r.stdout);
    assert!(r.stdout.contains("a-1 exited with code 3"), "{}", r.stdout);
    let ps = compose(&b, dir.path(), &["-p", "att", "ps", "-q"]).ok();
    assert!(ps.trim().is_empty(), "the others were stopped: {ps}");
    compose(&b, dir.path(), &["-p", "att", "down"]).ok();
}

#[test]
fn root_restart_of_a_service_restarts_the_dependents_that_ask_for_it() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let file = r#"
services:
  db:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
  app:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    depends_on:
      db: {condition: service_started, restart: true}
  report:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    depends_on: [db]
"#;
    std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
    compose(&b, dir.path(), &["-p", "rst", "up", "-d"]).ok();
    let started = |name: &str| {
        b.run(&["inspect", "--format", "{{.State.StartedAt}}", name])
            .ok()
            .trim()
            .to_string()
    };
    let before: Vec<String> = ["rst-db-1", "rst-app-1", "rst-report-1"]
        .iter()
        .map(|n| started(n))
        .collect();
    // StartedAt has nanoseconds, but make sure a restart cannot land on the same instant.
    std::thread::sleep(Duration::from_millis(20));
    compose(&b, dir.path(), &["-p", "rst", "restart", "db"]).ok();
    let after: Vec<String> = ["rst-db-1", "rst-app-1", "rst-report-1"]
        .iter()
        .map(|n| started(n))
        .collect();
    assert_ne!(before[0], after[0], "db was restarted");
    assert_ne!(
        before[1], after[1],
        "app (restart: true) was restarted with db"
    );
    assert_eq!(
        before[2], after[2],
        "report (no restart: true) was left running"
    );
    let ps = compose(
        &b,
        dir.path(),
        &["-p", "rst", "ps", "--format", "{{.Service}} {{.State}}"],
    )
    .ok();
    assert_eq!(ps.matches("running").count(), 3, "{ps}");
    compose(&b, dir.path(), &["-p", "rst", "down"]).ok();
}

#[test]
fn bad_files_are_refused_naming_file_line_and_key() {
    let b = Berth::new();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("compose.yaml");
    std::fs::write(
        &f,
        "services:\n  web:\n    image: busybox\n    prots: [\"80:80\"]\n",
    )
    .unwrap();
    let e = compose(&b, dir.path(), &["config"]).fails();
    assert!(
        e.contains(&format!(
            "{}: line 4: services.web.prots: additional property \"prots\" is not allowed",
            f.display()
        )),
        "{e}"
    );
    std::fs::write(
        &f,
        "services:\n  web:\n    image: \"busybox:${TAG:?set TAG}\"\n",
    )
    .unwrap();
    let e = compose(&b, dir.path(), &["up", "-d"]).fails();
    assert!(
        e.contains("required variable TAG is missing a value: set TAG"),
        "{e}"
    );
    let empty = tempfile::tempdir().unwrap();
    let e = compose(&b, empty.path(), &["ps"]).fails();
    assert!(
        e.contains("no configuration file provided: not found"),
        "{e}"
    );
    // config prints the resolved model.
    std::fs::write(
        &f,
        "services:\n  web:\n    image: busybox:${TAG:-1.36}\n    environment: [A=1]\n",
    )
    .unwrap();
    let out = compose(&b, dir.path(), &["config", "--format", "json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["services"]["web"]["image"], "busybox:1.36");
    assert_eq!(
        v["name"],
        dir.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace('.', "")
    );
}

#[test]
fn root_ctrl_c_on_attached_up_stops_the_project() {
    use std::process::Stdio;
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    let file = "services:\n  s:\n    image: busybox\n    command: sh -c 'echo serving; exec sleep 300'\n    stop_grace_period: 1s\n";
    std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
    let (mut child, rx) =
        spawn_lines(compose_command(&b, dir.path(), &["-p", "intr", "up"]).stderr(Stdio::piped()));
    let seen = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the container's first line");
    assert_eq!(seen, "s-1  | serving");
    // SAFETY: a plain kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "compose up did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("Gracefully stopping..."), "{err}");
    assert!(err.contains(" Container intr-s-1  Stopped"), "{err}");
    let ps = compose(&b, dir.path(), &["-p", "intr", "ps", "-q"]).ok();
    assert!(ps.trim().is_empty(), "{ps}");
    compose(&b, dir.path(), &["-p", "intr", "down"]).ok();
}

#[test]
fn root_up_builds_a_missing_image_and_down_rmi_local_removes_it() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/Dockerfile"),
        "FROM busybox\nARG WHO\nRUN echo built for $WHO > /built\n",
    )
    .unwrap();
    let file = "services:\n  app:\n    build:\n      context: ./app\n      args: [WHO=compose]\n    command: sleep 300\n    stop_grace_period: 1s\n  side:\n    image: busybox\n    command: sleep 300\n    stop_grace_period: 1s\n";
    std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
    let up = compose(&b, dir.path(), &["-p", "bld", "up", "-d"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let built = compose(
        &b,
        dir.path(),
        &["-p", "bld", "exec", "-T", "app", "cat", "/built"],
    )
    .ok();
    assert_eq!(built, "built for compose\n");
    assert!(b.run(&["images"]).ok().contains("bld-app"));
    let down = compose(&b, dir.path(), &["-p", "bld", "down", "--rmi", "local"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(
        down.stderr.contains(" Image bld-app  Removed"),
        "{}",
        down.stderr
    );
    let images = b.run(&["images"]).ok();
    assert!(!images.contains("bld-app"), "{images}");
    assert!(
        images.contains("busybox"),
        "an image the file names stays: {images}"
    );
    let bad = compose(&b, dir.path(), &["-p", "bld", "down", "--rmi", "some"]).fails();
    assert!(bad.contains("invalid --rmi option \"some\""), "{bad}");
}

#[test]
fn root_top_cp_events_and_push_act_on_the_projects_containers() {
    use std::process::Stdio;
    let registry = common::registry_server::Registry::start(None);
    let b = Berth::new();
    b.import_busybox("busybox");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/Dockerfile"),
        "FROM busybox\nRUN echo v1 > /v\n",
    )
    .unwrap();
    let file = format!(
        "services:\n  app:\n    image: {}/tools/app:1\n    build: ./app\n    command: sleep 300\n    stop_grace_period: 1s\n  side:\n    image: busybox\n    command: sleep 301\n    stop_grace_period: 1s\n",
        registry.host()
    );
    std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
    // A follower started before anything happens sees the project's events as they come.
    let (mut follower, rx) = spawn_lines(
        compose_command(&b, dir.path(), &["-p", "tools", "events", "--json", "side"])
            .stderr(Stdio::null()),
    );
    std::thread::sleep(Duration::from_millis(300));
    let up = compose(&b, dir.path(), &["-p", "tools", "up", "-d"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let first: serde_json::Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(first["type"], "container");
    assert_eq!(first["service"], "side");
    assert_eq!(first["action"], "create");
    assert_eq!(first["attributes"]["name"], "tools-side-1");
    assert!(first["attributes"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("com.docker.compose.")));
    let _ = follower.kill();
    let _ = follower.wait();

    let top = compose(&b, dir.path(), &["-p", "tools", "top"]).ok();
    let at = |s: &str| top.find(s).unwrap_or_else(|| panic!("{s:?} in {top}"));
    assert!(at("tools-app-1\nUID") < at("sleep 300"), "{top}");
    assert!(at("tools-side-1\nUID") < at("sleep 301"), "{top}");

    std::fs::write(dir.path().join("note.txt"), "from the host\n").unwrap();
    compose(
        &b,
        dir.path(),
        &["-p", "tools", "cp", "note.txt", "side:/tmp/note.txt"],
    )
    .ok();
    let back = dir.path().join("back.txt");
    compose(
        &b,
        dir.path(),
        &[
            "-p",
            "tools",
            "cp",
            "side:/tmp/note.txt",
            back.to_str().unwrap(),
        ],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");

    // push: the built service's image only (side's busybox is not built here).
    let push = compose(&b, dir.path(), &["-p", "tools", "push"]).ok();
    assert!(push.contains("1: digest: sha256:"), "{push}");
    let tags = http_get(registry.port, "/v2/tools/app/tags/list");
    assert!(tags.contains("\"1\""), "{tags}");
    let catalog = http_get(registry.port, "/v2/_catalog");
    assert!(!catalog.contains("busybox"), "{catalog}");
    compose(&b, dir.path(), &["-p", "tools", "down"]).ok();
}

/// `up` of a project through the API (the dashboard's Compose view) makes the images the store
/// lacks as `docker compose up` does: pulled, or built from the service's `build:`.
#[test]
fn root_up_through_the_api_pulls_a_missing_image() {
    let reg = common::registry_server::Registry::start(None);
    let b = Berth::new();
    b.import_busybox("busybox");
    let image = format!("{}/tools/busybox:1", reg.host());
    b.run(&["tag", "busybox", &image]).ok();
    b.run(&["push", &image]).ok();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        format!(
            "services:\n  web:\n    image: busybox\n    command: sleep 300\n    stop_grace_period: 1s\n  tool:\n    image: {image}\n    command: sleep 300\n    stop_grace_period: 1s\n  made:\n    build: ./ctx\n    image: apimade:1\n    command: sleep 300\n    stop_grace_period: 1s\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("ctx")).unwrap();
    std::fs::write(
        dir.path().join("ctx/Dockerfile"),
        "FROM busybox\nRUN echo built > /built\n",
    )
    .unwrap();
    compose(&b, dir.path(), &["-p", "apipull", "up", "-d"]).ok();
    compose(
        &b,
        dir.path(),
        &["-p", "apipull", "rm", "-sf", "tool", "made"],
    )
    .ok();
    b.run(&["rmi", &image, "apimade:1"]).ok();
    let s = common::berth_serve::Server::start(&b, &[]);
    let socket = s.host().trim_start_matches("unix://").to_string();
    let out = Command::new("curl")
        .args(["-sS", "-XPOST", "--unix-socket", &socket])
        .arg("http://berth/compose/projects/apipull/up")
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("\"Progress\""), "{body}");
    b.run(&["image", "inspect", &image]).ok();
    let ps = compose(
        &b,
        dir.path(),
        &["-p", "apipull", "ps", "--format", "{{.Service}} {{.State}}"],
    )
    .ok();
    assert!(
        ps.contains("tool running") && ps.contains("made running"),
        "{ps}"
    );
    assert_eq!(
        b.run(&["run", "--rm", "apimade:1", "cat", "/built"]).ok(),
        "built\n"
    );
    compose(&b, dir.path(), &["-p", "apipull", "down"]).ok();
}
