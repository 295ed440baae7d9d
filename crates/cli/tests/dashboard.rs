//! End-to-end tests of the dashboard (`berth serve --dashboard`) in a real browser: Debian's
//! Chromium driven by playwright-core (tests/dashboard/dashboard.test.mjs, node's test
//! runner) on a store with the busybox image. Root only: the container it runs is real.
//! Screenshots of the main views are kept in tests/dashboard/artifacts/.

mod common;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::Command;

use common::berth_serve::Server;
use common::registry_server::Registry;
use common::{run_command, Berth};

fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/dashboard")
}

/// The dashboard's URL, from what `berth serve` prints on stderr (the rest is drained).
fn dashboard_url(s: &mut Server) -> String {
    let err = s.child.stderr.take().expect("serve's stderr");
    let mut lines = std::io::BufReader::new(err).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed no dashboard URL")
            .unwrap();
        if let Some(url) = line.strip_prefix("Dashboard: ") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    url
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn root_the_dashboard_runs_a_container_and_moves_images_through_a_registry_in_chromium() {
    let dir = tests_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and playwright-core: bash scripts/deps.sh installs them"
    );
    let registry = Registry::start(None);
    let b = Berth::new();
    b.import_busybox("busybox");
    let mut s = Server::start(&b, &["--dashboard", "127.0.0.1:0"]);
    let url = dashboard_url(&mut s);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
        "{url}"
    );
    let port = free_port().to_string();
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(dir.join("dashboard.test.mjs"))
        .args([url.as_str(), port.as_str()])
        .arg(dir.join("artifacts"))
        .arg(registry.host())
        .current_dir(&dir);
    let r = run_command(node);
    assert_eq!(
        r.code, 0,
        "the browser test failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("pass 3"), "{}", r.stdout);
    // What the page removed is gone from the engine too.
    assert_eq!(b.run(&["ps", "-aq"]).ok().trim(), "");
    assert!(!b.run(&["volume", "ls", "-q"]).ok().contains("dash-data"));
    // The image pulled back through the page is in the store, under the name pushed.
    let images = b
        .run(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert_eq!(images.trim(), format!("{}/team/bb:1", registry.host()));
    for view in [
        "containers",
        "images",
        "run-dialog",
        "container-logs",
        "volumes",
        "image-push",
        "image-pull",
    ] {
        assert!(
            dir.join(format!("artifacts/{view}.png")).is_file(),
            "{view}.png"
        );
    }
}

#[test]
fn root_the_dashboard_stops_brings_up_and_takes_down_a_compose_project_in_chromium() {
    let dir = tests_dir();
    let b = Berth::new();
    b.import_busybox("busybox");
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("compose.yaml"),
        "services:\n  web:\n    image: busybox\n    command: httpd -f -p 80\n    stop_signal: SIGKILL\n  cache:\n    image: busybox\n    command: sleep 300\n    stop_signal: SIGKILL\n",
    )
    .unwrap();
    let mut up = b.cmd(&["compose", "-p", "dashproj", "up", "-d"]);
    up.current_dir(project.path());
    run_command(up).ok();
    // The same listing `berth compose ls` prints (the engine's `list_projects`).
    let ls = b.run(&["compose", "ls", "--format", "json"]).ok();
    let ls = common::json(&ls);
    assert_eq!(ls[0]["Name"], "dashproj", "{ls}");
    assert_eq!(ls[0]["Status"], "running(2)", "{ls}");
    assert!(
        ls[0]["ConfigFiles"]
            .as_str()
            .unwrap()
            .ends_with("/compose.yaml"),
        "{ls}"
    );
    let mut s = Server::start(&b, &["--dashboard", "127.0.0.1:0"]);
    let url = dashboard_url(&mut s);
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(dir.join("compose.test.mjs"))
        .args([url.as_str(), "dashproj"])
        .arg(dir.join("artifacts"))
        .current_dir(&dir);
    let r = run_command(node);
    assert_eq!(
        r.code, 0,
        "the browser test failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("pass 1"), "{}", r.stdout);
    // Down from the page took the containers and the project's network.
    assert_eq!(b.run(&["ps", "-aq"]).ok().trim(), "");
    let networks = b.run(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!networks.contains("dashproj_default"), "{networks}");
}

#[test]
fn root_the_dashboard_shows_the_build_history_and_starts_a_build_in_chromium() {
    let dir = tests_dir();
    let b = Berth::new();
    b.import_busybox("busybox");
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM busybox\nRUN echo step-output-here\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();
    std::fs::write(context.path().join("hello.txt"), "hello\n").unwrap();
    let ctx = context.path().to_str().unwrap();
    b.run(&["build", "-q", "-t", "built:1", ctx]).ok();
    let mut s = Server::start(&b, &["--dashboard", "127.0.0.1:0"]);
    let url = dashboard_url(&mut s);
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(dir.join("builds.test.mjs"))
        .args([url.as_str(), ctx])
        .arg(dir.join("artifacts"))
        .current_dir(&dir);
    let r = run_command(node);
    assert_eq!(
        r.code, 0,
        "the browser test failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains("pass 1"), "{}", r.stdout);
    // The page's build made the image, from the cache: the same ID as the CLI's.
    let id = |name: &str| b.run(&["images", "-q", "--no-trunc", name]).ok();
    assert_eq!(id("built:2"), id("built:1"));
}
