//! End-to-end tests of the dashboard (`berth serve --dashboard`) in real browsers: Debian's
//! Chromium driven by playwright-core and Debian's Firefox ESR by puppeteer-core (the scripts
//! in tests/dashboard/, node's test runner) on a store with the busybox image. Root only: the container it runs is real.
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

/// Starts `berth serve --dashboard` on `b`'s store and runs the browser test `file` (node's
/// test runner) with the dashboard's URL, the artifacts directory and `args`; asserts that
/// all `passes` tests passed. Returns the URL.
fn browser_test(b: &Berth, file: &str, args: &[&str], passes: usize) -> String {
    let dir = tests_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && std::path::Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium and playwright-core: bash scripts/deps.sh installs them"
    );
    let mut s = Server::start(b, &["--dashboard", "127.0.0.1:0"]);
    let url = dashboard_url(&mut s);
    let mut node = Command::new("node");
    node.arg("--test-reporter=spec")
        .arg(dir.join(file))
        .arg(&url)
        .arg(dir.join("artifacts"))
        .args(args)
        .current_dir(&dir);
    let r = run_command(node);
    assert_eq!(
        r.code, 0,
        "the browser test {file} failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(r.stdout.contains(&format!("pass {passes}")), "{}", r.stdout);
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
    let registry = Registry::start(None);
    let b = Berth::new();
    b.import_busybox("busybox");
    let port = free_port().to_string();
    let url = browser_test(
        &b,
        "dashboard.test.mjs",
        &[port.as_str(), registry.host().as_str()],
        3,
    );
    assert!(
        url.starts_with("http://127.0.0.1:") && url.contains("/?token="),
        "{url}"
    );
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
    browser_test(&b, "compose.test.mjs", &["dashproj"], 1);
    // Down from the page took the containers and the project's network.
    assert_eq!(b.run(&["ps", "-aq"]).ok().trim(), "");
    let networks = b.run(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!networks.contains("dashproj_default"), "{networks}");
}

#[test]
fn root_the_dashboard_shows_the_build_history_and_starts_a_build_in_chromium() {
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
    browser_test(&b, "builds.test.mjs", &[ctx], 1);
    // The page's build made the image, from the cache: the same ID as the CLI's.
    let id = |name: &str| b.run(&["images", "-q", "--no-trunc", name]).ok();
    assert_eq!(id("built:2"), id("built:1"));
}

/// axe-core's WCAG 2.1 A/AA rules over every view (with a container, a volume and a network
/// to show) and the image details and Run dialogs; the notifications' live region.
#[test]
fn root_the_dashboard_passes_an_accessibility_audit_in_chromium() {
    // Made first, dropped last: after the store's containers are gone.
    let net = format!("a11y{}", std::process::id());
    let _cleanup = common::NetworkGuard(net.clone());
    let b = Berth::new();
    b.import_busybox("busybox");
    b.run(&["network", "create", &net]).ok();
    b.run(&["volume", "create", "a11y-data"]).ok();
    b.run(&[
        "run",
        "-d",
        "--name",
        "a11y-web",
        "--network",
        &net,
        "-v",
        "a11y-data:/data",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    browser_test(&b, "accessibility.test.mjs", &[], 1);
    b.run(&["rm", "-f", "a11y-web"]).ok();
    b.run(&["volume", "rm", "a11y-data"]).ok();
    b.run(&["network", "rm", &net]).ok();
}

#[test]
fn root_the_dashboard_runs_and_removes_a_container_in_firefox() {
    assert!(
        std::path::Path::new("/usr/bin/firefox-esr").exists(),
        "the Firefox test needs Debian's firefox-esr: bash scripts/deps.sh installs it"
    );
    let b = Berth::new();
    b.import_busybox("busybox");
    let port = free_port().to_string();
    browser_test(&b, "firefox.test.mjs", &[port.as_str()], 1);
    assert_eq!(b.run(&["ps", "-aq"]).ok().trim(), "");
}
