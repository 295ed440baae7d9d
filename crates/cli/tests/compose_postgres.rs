//! End-to-end test of `berth compose` on a realistic stack: a web app (two replicas), Debian's
//! PostgreSQL in an image built by `up --build` on the project's Debian base, a one-shot
//! migration and a worker (tests/fixtures/compose-postgres). Root only. It needs the Debian
//! fixtures that `scripts/test.sh` makes at setup (tests/fixtures/make-debian-fixtures.sh), so
//! the test itself only talks to 127.0.0.1 and the bridge it makes; every wait is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, run_command, Berth, Run};

fn compose(b: &Berth, dir: &Path, args: &[&str]) -> Run {
    let mut c = Command::new(bin());
    c.arg("--root").arg(b.root()).arg("compose").args(args);
    c.current_dir(dir)
        .env_remove("BERTH_ROOT")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("TAG");
    run_command(c)
}

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("BERTH_DEBIAN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/berth-tests"));
    assert!(
        dir.join("rootfs.tar").is_file() && dir.join("postgresql-debs/.complete").is_file(),
        "the Debian fixtures are missing from {}: run `bash tests/fixtures/make-debian-fixtures.sh {}` \
         (scripts/test.sh does)",
        dir.display(),
        dir.display()
    );
    dir
}

fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// `GET path` on addr, retried for a while: the last line of the first 200.
fn http_body(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match got {
            // The CGI's own headers end with a bare "\n\n": the body is its last line.
            Ok(r) if r.contains(" 200 ") => {
                return r.trim_end().lines().last().unwrap_or_default().to_string()
            }
            _ if Instant::now() > deadline => panic!("no answer from {addr}{path}: {got:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// "served by HOST: N visits" → (HOST, N).
fn visits(body: &str) -> (String, u64) {
    let rest = body
        .trim()
        .strip_prefix("served by ")
        .unwrap_or_else(|| panic!("{body}"));
    let (host, n) = rest.split_once(": ").unwrap_or_else(|| panic!("{body}"));
    let n = n
        .strip_suffix(" visits")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{body}"));
    (host.to_string(), n)
}

fn sql(b: &Berth, dir: &Path, query: &str) -> String {
    compose(
        b,
        dir,
        &["exec", "-T", "db", "psql", "-U", "postgres", "-tAc", query],
    )
    .ok()
    .trim()
    .to_string()
}

/// Polls `f` until it is true, for at most `secs`.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn root_web_postgres_and_worker_stack_with_health_replicas_volume_and_edits() {
    let fx = fixtures();
    let b = Berth::new();
    let work = tempfile::tempdir().unwrap();
    // The Debian base image, as the quickstart makes it.
    let base = work.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(
        repo.join("examples/debian-base/Dockerfile"),
        base.join("Dockerfile"),
    )
    .unwrap();
    link_or_copy(&fx.join("rootfs.tar"), &base.join("rootfs.tar"));
    b.run(&[
        "build",
        "-q",
        "-t",
        "debian-base:bookworm",
        base.to_str().unwrap(),
    ])
    .ok();
    // The project, with the .deb files and busybox in the PostgreSQL image's context.
    let dir = work.path().join("shop");
    copy_tree(&repo.join("tests/fixtures/compose-postgres"), &dir);
    let debs = dir.join("pg/debs");
    std::fs::create_dir(&debs).unwrap();
    for e in std::fs::read_dir(fx.join("postgresql-debs")).unwrap() {
        let e = e.unwrap();
        link_or_copy(&e.path(), &debs.join(e.file_name()));
    }
    std::fs::copy("/bin/busybox", dir.join("pg/busybox")).unwrap();
    let dir = dir.as_path();

    let up = compose(&b, dir, &["up", "-d", "--build"]);
    let progress = up.stderr.clone();
    assert_eq!(up.code, 0, "{progress}");
    for line in [
        " Volume \"shop_pgdata\"  Created",
        " Container shop-db-1  Healthy",
        " Container shop-migrate-1  Exited",
        " Container shop-web-1  Started",
        " Container shop-web-2  Started",
        " Container shop-worker-1  Started",
    ] {
        assert!(progress.contains(line), "missing {line:?} in\n{progress}");
    }
    let at = |s: &str| progress.find(s).unwrap();
    assert!(at("shop-migrate-1  Starting") > at("shop-db-1  Healthy"));
    assert!(at("shop-web-1  Starting") > at("shop-migrate-1  Exited"));
    assert!(at("shop-worker-1  Starting") > at("shop-migrate-1  Exited"));
    assert!(b
        .run(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok()
        .contains("shop-pg:test"));

    // A command with newlines stays on its row, quoted as Docker quotes it (Go's %q).
    let ps = compose(&b, dir, &["ps", "db"]).ok();
    assert!(ps.contains(r#""sh -c set -e\nd=/var…""#), "{ps}");
    assert_eq!(ps.lines().count(), 2, "{ps}");

    // The worker writes, the web app reads: through each replica's published port.
    let mut hosts = Vec::new();
    for index in ["1", "2"] {
        let addr = compose(&b, dir, &["port", "--index", index, "web", "8080"]).ok();
        let addr = addr.trim().to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let mut seen = (String::new(), 0);
        eventually(30, "the worker's rows, seen by the web app", || {
            seen = visits(&http_body(&addr, "/cgi-bin/visits"));
            seen.1 > 0
        });
        hosts.push(seen.0);
    }
    assert_ne!(hosts[0], hosts[1], "two replicas answered");

    // Both replicas answer to the service's name, and each to its container name.
    let look = compose(
        &b,
        dir,
        &["exec", "-T", "worker", "getent", "ahostsv4", "web"],
    )
    .ok();
    let ips: std::collections::BTreeSet<&str> = look
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ips.len(), 2, "{look}");
    for name in ["shop-web-1", "shop-web-2"] {
        let url = format!("http://{name}:8080/cgi-bin/visits");
        let body = compose(
            &b,
            dir,
            &["exec", "-T", "worker", "busybox", "wget", "-qO-", &url],
        )
        .ok();
        assert!(hosts.contains(&visits(&body).0), "{body}");
    }
    let logs = compose(&b, dir, &["logs", "db"]);
    assert!(
        (logs.stdout.clone() + &logs.stderr).contains("db-1  | ")
            && logs
                .stderr
                .contains("database system is ready to accept connections"),
        "{logs:?}"
    );

    // An edit (the worker's environment) recreates the worker only.
    let ids = |b: &Berth| {
        b.run(&[
            "inspect",
            "--format",
            "{{.Id}}",
            "shop-db-1",
            "shop-web-1",
            "shop-web-2",
            "shop-worker-1",
        ])
        .ok()
    };
    let before = ids(&b);
    std::fs::write(dir.join(".env"), "TAG=second\n").unwrap();
    let again = compose(&b, dir, &["up", "-d"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("shop-worker-1  Recreated"),
        "{}",
        again.stderr
    );
    for kept in ["shop-db-1", "shop-web-1", "shop-web-2"] {
        assert!(
            !again.stderr.contains(&format!("{kept}  Recreate")),
            "{}",
            again.stderr
        );
    }
    let after = ids(&b);
    let (b0, a0): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(b0[..3], a0[..3], "db and web kept");
    assert_ne!(b0[3], a0[3], "worker recreated");
    eventually(30, "rows from the edited worker", || {
        sql(&b, dir, "select count(*) from visits where tag = 'second'") != "0"
    });

    // down keeps the named volume: the next up finds the data; down -v removes it.
    let first: u64 = sql(&b, dir, "select count(*) from visits where tag = 'first'")
        .parse()
        .unwrap();
    assert!(first > 0);
    let down = compose(&b, dir, &["down"]);
    assert_eq!(down.code, 0, "{}", down.stderr);
    assert!(b.run(&["ps", "-aq"]).ok().trim().is_empty());
    assert!(b.run(&["volume", "ls", "-q"]).ok().contains("shop_pgdata"));
    let up = compose(&b, dir, &["up", "-d", "--wait", "db"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    assert_eq!(
        sql(&b, dir, "select count(*) from visits where tag = 'first'"),
        first.to_string()
    );
    // --rmi local keeps an image the file names itself; --rmi all removes it.
    let local = compose(&b, dir, &["down", "--rmi", "local"]);
    assert!(!local.stderr.contains(" Image "), "{}", local.stderr);
    let all = compose(&b, dir, &["down", "-v", "--rmi", "all"]);
    assert!(
        all.stderr.contains(" Image shop-pg:test  Removed"),
        "{}",
        all.stderr
    );
    assert!(!b.run(&["images"]).ok().contains("shop-pg"));
    assert!(b.run(&["volume", "ls", "-q"]).ok().trim().is_empty());
    assert!(b.run(&["ps", "-aq"]).ok().trim().is_empty());
}
