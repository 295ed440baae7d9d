//! End-to-end tests of `berth serve` driven by the real docker CLI (28 at
//! /usr/local/bin/docker, or whatever `docker` client scripts/deps.sh installed), as a user
//! who points DOCKER_HOST at berth would. Root only: containers are real.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::berth_serve::Server;
use common::registry_server::Registry;
use common::{run_command, Berth};

#[test]
fn root_the_docker_cli_runs_a_container_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    // Followed from now on, filtered by the server.
    let mut follow = s
        .docker_cmd(&[
            "events",
            "--filter",
            "event=start",
            "--format",
            "{{.Actor.Attributes.name}} {{.Action}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    let version = s.docker(&["version"]).ok();
    assert!(version.contains("Server: berth"), "{version}");
    assert!(
        version.contains("API version:      1.50 (minimum version 1.24)"),
        "{version}"
    );
    let images = s
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert_eq!(images.trim(), "busybox:latest");
    s.docker(&["tag", "busybox", "localhost:5000/team/bb:1"])
        .ok();
    let tagged = s
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert!(tagged.contains("localhost:5000/team/bb:1"), "{tagged}");
    let untagged = s.docker(&["rmi", "localhost:5000/team/bb:1"]).ok();
    assert_eq!(untagged.trim(), "Untagged: localhost:5000/team/bb:1");
    let err = s.docker(&["tag", "nope", "x:1"]).fails();
    assert!(err.contains("No such image: nope"), "{err}");

    let id = s
        .docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "team=kiwi",
            "busybox",
            "sh",
            "-c",
            "echo hello; echo oops >&2; sleep 300",
        ])
        .ok();
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    // The engine's own CLI sees the same container.
    assert_eq!(b.run(&["ps", "-q", "--no-trunc"]).ok().trim(), id);
    let ps = s
        .docker(&[
            "ps",
            "--format",
            "{{.Names}} {{.Status}} {{.Label \"team\"}}",
        ])
        .ok();
    assert!(ps.starts_with("web Up "), "{ps}");
    assert!(ps.trim().ends_with(" kiwi"), "{ps}");
    let filtered = s.docker(&["ps", "-q", "--filter", "label=team=other"]).ok();
    assert_eq!(filtered.trim(), "");

    // Output appears once the shell ran; stdout and stderr stay apart (framed streams).
    let start = Instant::now();
    let logs = loop {
        let l = s.docker(&["logs", "web"]);
        if l.stdout.contains("hello") && l.stderr.contains("oops")
            || start.elapsed() > Duration::from_secs(5)
        {
            break l;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(logs.stdout, "hello\n");
    assert_eq!(logs.stderr, "oops\n");
    let state = s
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.Name}} {{.Config.Image}}",
            "web",
        ])
        .ok();
    assert_eq!(state.trim(), "running /web busybox");
    let top = s.docker(&["top", "web"]).ok();
    assert!(top.starts_with("UID") && top.contains("sleep 300"), "{top}");
    assert_eq!(s.docker(&["pause", "web"]).ok().trim(), "web");
    let paused = s.docker(&["ps", "--format", "{{.Status}}"]).ok();
    assert!(paused.contains("(Paused)"), "{paused}");
    let err = s.docker(&["pause", "web"]).fails();
    assert!(err.contains("already paused"), "{err}");
    assert_eq!(s.docker(&["unpause", "web"]).ok().trim(), "web");
    s.docker(&["rename", "web", "web2"]).ok();
    s.docker(&["rename", "web2", "web"]).ok();
    let err = s.docker(&["rename", "web", "bad name"]).fails();
    assert!(err.contains("invalid container name"), "{err}");
    // Limits change on the running container: its cgroup and its record.
    let updated = s
        .docker(&[
            "update",
            "--memory",
            "96m",
            "--memory-swap",
            "192m",
            "--pids-limit",
            "30",
            "web",
        ])
        .ok();
    assert_eq!(updated.trim(), "web");
    let usage = s
        .docker(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "web"])
        .ok();
    assert!(usage.trim().ends_with("/ 96MiB"), "{usage}");
    let limits = s
        .docker(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}",
            "web",
        ])
        .ok();
    assert_eq!(limits.trim(), "100663296 201326592 30");
    let err = s.docker(&["update", "--memory", "1g", "web"]).fails();
    assert!(
        err.contains("update the memoryswap at the same time"),
        "{err}"
    );
    // cpusets change on the running container's cgroup (v1 here) and read back.
    s.docker(&["update", "--cpuset-cpus", "0", "web"]).ok();
    let cpuset = s
        .docker(&["exec", "web", "cat", "/sys/fs/cgroup/cpuset/cpuset.cpus"])
        .ok();
    assert_eq!(cpuset.trim(), "0");
    let shown = s
        .docker(&["inspect", "-f", "{{.HostConfig.CpusetCpus}}", "web"])
        .ok();
    assert_eq!(shown.trim(), "0");
    let err = s
        .docker(&["update", "--cpuset-cpus", "0-4096", "web"])
        .fails();
    assert!(err.contains("Requested CPUs are not available"), "{err}");
    // No weights without BFQ here: dockerd's warning, which the docker CLI prints.
    let out = s.docker(&["update", "--blkio-weight", "300", "web"]).ok();
    let weights = std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        || std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists();
    assert_eq!(
        out.contains("Your kernel does not support Block I/O weight"),
        !weights,
        "{out}"
    );

    assert_eq!(s.docker(&["stop", "-t", "1", "web"]).ok().trim(), "web");
    let ps = s
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .ok();
    assert_eq!(ps.trim(), "web exited");
    assert_eq!(s.docker(&["wait", "web"]).ok().trim(), "137");
    assert_eq!(s.docker(&["rm", "web"]).ok().trim(), "web");
    assert_eq!(s.docker(&["ps", "-aq"]).ok().trim(), "");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(follow.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert_eq!(first, "web start\n");
    let _ = follow.kill();
    let _ = follow.wait();
    // The past, between two times.
    let now = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let history = s
        .docker(&[
            "events",
            "--since",
            &t0,
            "--until",
            &now,
            "--filter",
            "container=web",
            "--format",
            "{{.Type}} {{.Action}}",
        ])
        .ok();
    assert!(
        history.starts_with("container create\ncontainer start\n"),
        "{history}"
    );
    assert!(history.ends_with("container destroy\n"), "{history}");

    // Errors come back with Docker's words and codes.
    let err = s.docker(&["rm", "nosuch"]).fails();
    assert!(err.contains("No such container: nosuch"), "{err}");
    let err = s.docker(&["inspect", "--type", "image", "nope"]).fails();
    assert!(err.contains("No such image: nope"), "{err}");
    let err = s
        .docker(&["create", "--cpu-rt-runtime", "5", "busybox"])
        .fails();
    assert!(err.contains("HostConfig.CpuRealtimeRuntime"), "{err}");
    // What the kernel cannot apply is dropped with dockerd's warning, which the CLI prints.
    let r = s.docker(&[
        "create",
        "--name",
        "weighted",
        "--blkio-weight",
        "300",
        "busybox",
    ]);
    let stderr = r.stderr.clone();
    r.ok();
    assert_eq!(
        stderr.contains("WARNING: Your kernel does not support Block I/O weight"),
        !weights,
        "{stderr}"
    );
    s.docker(&["rm", "weighted"]).ok();
    assert_eq!(
        s.docker(&["ps", "-aq"]).ok().trim(),
        "",
        "nothing half-made"
    );
}

#[test]
fn root_berth_serve_refuses_browsers_and_leaves_containers_running_when_stopped() {
    if !common::have_tool("curl") {
        panic!("curl is needed (scripts/deps.sh installs it)");
    }
    let b = Berth::new();
    b.import_busybox("busybox");
    let mut s = Server::start(&b, &[]);
    let curl = |extra: &[&str], path: &str| {
        let mut c = Command::new("curl");
        c.args(["-s", "-i", "--unix-socket"])
            .arg(&s.socket)
            .args(extra)
            .arg(format!("http://localhost{path}"));
        run_command(c).ok()
    };
    let ping = curl(&[], "/v1.44/_ping");
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    assert!(
        ping.to_ascii_lowercase().contains("api-version: 1.50"),
        "{ping}"
    );
    let page = curl(&["-H", "Origin: http://example.com"], "/containers/json");
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");
    // A page of another site, even one rebound to this Host, is refused; this server's own
    // origin is not another site.
    let rebound = curl(
        &[
            "-H",
            "Origin: http://localhost.evil.example",
            "-H",
            "Host: localhost",
        ],
        "/containers/json",
    );
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    let own = curl(&["-H", "Origin: http://localhost"], "/containers/json");
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    let bad = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{\"Image\": ",
        ],
        "/containers/create",
    );
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(bad.contains("{\"message\":\"invalid JSON"), "{bad}");
    let old = curl(&[], "/v1.12/info");
    assert!(old.contains("too old"), "{old}");

    // No supervisor waits before the first start; one does after it (for the next start),
    // and it goes with the server.
    let standby_pids = || {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(format!("{} __supervise --standby", b.root().display()))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let standbys = || standby_pids().len();
    assert_eq!(standbys(), 0, "a supervisor waits before any start");
    s.docker(&["run", "-d", "--name", "stays", "busybox", "sleep", "300"])
        .ok();
    let t = Instant::now();
    while standbys() != 1 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(standbys(), 1, "one supervisor waits for the next start");
    // The next start is the waiting supervisor's (it keeps its command line, `--standby`),
    // and another one waits: at idle priority, while the one at work is back to normal.
    s.docker(&["run", "-d", "--name", "next", "busybox", "sleep", "300"])
        .ok();
    let t = Instant::now();
    while standbys() != 2 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(standbys(), 2, "the supervisor of next and one waiting");
    let policies = || {
        let mut p: Vec<String> = standby_pids()
            .iter()
            .map(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
                // Field 41 (policy), counted after the command name's closing parenthesis.
                let after = &stat[stat.rfind(')').unwrap() + 2..];
                match after.split(' ').nth(38) {
                    Some("0") => "normal".to_string(),
                    Some("5") => "idle".to_string(),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        p.sort();
        p
    };
    assert_eq!(policies(), ["idle", "normal"]);
    let status = s.terminate();
    assert!(status.success(), "{status}");
    assert!(!s.socket.exists(), "the socket is removed");
    let t = Instant::now();
    while standbys() != 1 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(standbys(), 1, "the waiting supervisor outlived the server");
    let ps = b.run(&["ps", "--format", "{{.Names}} {{.State}}"]).ok();
    let mut ps: Vec<&str> = ps.lines().collect();
    ps.sort();
    assert_eq!(ps, ["next running", "stays running"]);
    b.run(&["rm", "-f", "next"]).ok();
    let t = Instant::now();
    while standbys() != 0 && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(standbys(), 0, "the supervisor of next outlived it");
}

#[test]
fn root_berth_serve_lets_go_of_clients_that_leave_and_removes_only_its_own_socket() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let mut s = Server::start(&b, &[]);
    s.docker(&["run", "-d", "--name", "quiet", "busybox", "sleep", "300"])
        .ok();
    s.docker(&["ps"]).ok();
    // Once the run's connections are closed and the supervisor the server keeps for the
    // next start has been started: unchanged for half a second.
    let mut idle = s.open_fds();
    let mut since = Instant::now();
    let settle_by = Instant::now() + Duration::from_secs(10);
    while since.elapsed() < Duration::from_millis(500) && Instant::now() < settle_by {
        std::thread::sleep(Duration::from_millis(50));
        let n = s.open_fds();
        if n != idle {
            (idle, since) = (n, Instant::now());
        }
    }
    // Two streams with nothing to say: an attach and an exec whose input stays open.
    let mut attach = s
        .docker_cmd(&["attach", "quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut exec = s
        .docker_cmd(&["exec", "-i", "quiet", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = |what: &str, done: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("both streams open", &|| s.open_fds() >= idle + 4);
    let _ = attach.kill();
    let _ = exec.kill();
    let _ = attach.wait();
    let _ = exec.wait();
    until(
        "the server closes the streams of clients that left",
        &|| s.open_fds() <= idle,
    );
    let ps = s.docker(&["ps", "--format", "{{.Names}} {{.State}}"]).ok();
    assert_eq!(ps.trim(), "quiet running");

    // A server stopping while a stream holds it, and a new one on the same path meanwhile:
    // the old one, when it finally goes, leaves the new one's socket alone.
    let mut events = s
        .docker_cmd(&["events"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    until("events connected", &|| s.open_fds() > idle);
    s.signal_stop();
    until("the old server stops accepting", &|| {
        std::os::unix::net::UnixStream::connect(&s.socket).is_err()
    });
    let mut next = Server::start_at(&b, tempfile::tempdir().unwrap(), s.socket.clone(), &[]);
    assert!(s.wait_exit().success());
    let _ = events.kill();
    let _ = events.wait();
    let ps = next.docker(&["ps", "--format", "{{.Names}}"]).ok();
    assert_eq!(ps.trim(), "quiet");
    assert!(next.terminate().success());
    b.run(&["rm", "-f", "quiet"]).ok();
}

#[test]
fn root_the_docker_cli_runs_in_the_foreground_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);

    // Attached: both streams apart, the exit code is docker's, --rm removes it.
    let r = s.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    assert_eq!(s.docker(&["ps", "-aq"]).ok().trim(), "", "--rm removed it");

    // Piped input reaches the container, and its end is the container's (StdinOnce).
    let r = s.docker_stdin(&["run", "--rm", "-i", "busybox", "cat"], b"hello\nworld\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "hello\nworld\n");

    // start -a attaches before the start, so nothing is missed.
    s.docker(&["create", "--name", "later", "busybox", "echo", "again"])
        .ok();
    assert_eq!(s.docker(&["start", "-a", "later"]).ok(), "again\n");
    assert_eq!(s.docker(&["rm", "later"]).ok().trim(), "later");

    // A terminal: sized as the client's from the first instant, typed input echoed.
    let cmd = s.docker_cmd(&[
        "run",
        "--rm",
        "-it",
        "busybox",
        "sh",
        "-c",
        "stty size; read x; echo got $x; exit 4",
    ]);
    let (screen, code) = common::in_pty_cmd(cmd, 30, 100, &[b"", b"abc\r"], None);
    assert!(screen.contains("30 100"), "{screen:?}");
    assert!(screen.contains("got abc"), "{screen:?}");
    assert_eq!(code, 4, "{screen:?}");

    // Attached to a running container, from its next output on; the detach keys leave
    // it running.
    s.docker(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"])
        .ok();
    let cmd = s.docker_cmd(&["attach", "shell"]);
    let (screen, code) =
        common::in_pty_cmd(cmd, 24, 80, &[b"", b"echo $((6*7))\r", b"\x10\x11"], None);
    assert!(screen.contains("42"), "{screen:?}");
    // The docker CLI's own words (and status 1) for a detach, as with dockerd.
    assert!(screen.contains("read escape sequence"), "{screen:?}");
    assert_eq!(code, 1, "{screen:?}");
    let state = s
        .docker(&["inspect", "-f", "{{.State.Status}}", "shell"])
        .ok();
    assert_eq!(state.trim(), "running");

    // exec: the exit code, piped input ending with the client's, a terminal of its size.
    let r = s.docker(&["exec", "shell", "sh", "-c", "echo in; echo e >&2; exit 5"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (5, "in\n", "e\n")
    );
    let r = s.docker_stdin(&["exec", "-i", "shell", "cat"], b"piped\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "piped\n"), "{r:?}");
    let cmd = s.docker_cmd(&[
        "exec",
        "-it",
        "shell",
        "sh",
        "-c",
        "sleep 1; stty size; tty; exit 6",
    ]);
    let (screen, code) = common::in_pty_cmd(cmd, 33, 90, &[b""], None);
    // The size comes as the CLI's resize after the start (berth cannot size an exec's
    // terminal before its process runs yet).
    assert!(screen.contains("33 90"), "{screen:?}");
    assert!(screen.contains("/dev/pts/"), "{screen:?}");
    assert_eq!(code, 6, "{screen:?}");
    let err = s.docker(&["exec", "nosuch", "true"]).fails();
    assert!(err.contains("No such container: nosuch"), "{err}");
    s.docker(&["rm", "-f", "shell"]).ok();
}

#[test]
fn root_the_docker_cli_manages_networks_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    s.docker(&[
        "network",
        "create",
        "--subnet",
        "10.231.0.0/24",
        "--ip-range",
        "10.231.0.128/25",
        "--aux-address",
        "router=10.231.0.128",
        "--label",
        "team=kiwi",
        "apinet",
    ])
    .ok();
    let ipam = s
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{json .IPAM.Config}}",
            "apinet",
        ])
        .ok();
    assert_eq!(
        ipam.trim(),
        r#"[{"Subnet":"10.231.0.0/24","IPRange":"10.231.0.128/25","Gateway":"10.231.0.1","AuxiliaryAddresses":{"router":"10.231.0.128"}}]"#
    );
    let ls = s
        .docker(&[
            "network",
            "ls",
            "--filter",
            "label=team=kiwi",
            "--format",
            "{{.Name}} {{.Driver}}",
        ])
        .ok();
    assert_eq!(ls.trim(), "apinet bridge");
    let subnet = s
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "apinet",
        ])
        .ok();
    assert_eq!(subnet.trim(), "10.231.0.0/24");
    // IPv6 beside IPv4: the docker CLI's --ipv6, --subnet and --ip6.
    let v6net = format!("v6net{}", std::process::id());
    let _v6_cleanup = common::NetworkGuard(v6net.clone());
    s.docker(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:a6::/64",
        &v6net,
    ])
    .ok();
    let addr = s
        .docker(&[
            "run",
            "--rm",
            "--network",
            &v6net,
            "--ip6",
            "2001:db8:a6::66",
            "busybox",
            "ip",
            "-6",
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .ok();
    assert!(addr.contains("inet6 2001:db8:a6::66/64"), "{addr}");
    let ls = s
        .docker(&[
            "network",
            "ls",
            "--filter",
            &format!("name={v6net}"),
            "--format",
            "{{.IPv6}}",
        ])
        .ok();
    assert_eq!(ls.trim(), "true");
    s.docker(&["network", "rm", &v6net]).ok();

    // Containers on it find each other by name; another one joins and leaves.
    s.docker(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "apinet",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let r = s.docker(&[
        "run",
        "--rm",
        "--network",
        "apinet",
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "n1",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // Addresses come from the range, past the auxiliary one.
    let ip = s
        .docker(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.apinet.IPAddress}}",
            "n1",
        ])
        .ok();
    assert_eq!(ip.trim(), "10.231.0.129");
    s.docker(&["run", "-d", "--name", "n2", "busybox", "sleep", "300"])
        .ok();
    s.docker(&[
        "network",
        "connect",
        "--link-local-ip",
        "169.254.8.8",
        "--driver-opt",
        "com.example.setting=on",
        "apinet",
        "n2",
    ])
    .ok();
    // The extra address is on the new interface, and inspect shows what was asked.
    let addrs = s
        .docker(&["exec", "n2", "ip", "-4", "addr", "show", "eth1"])
        .ok();
    assert!(addrs.contains("inet 169.254.8.8/16"), "{addrs}");
    let ep = s
        .docker(&[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks.apinet.IPAMConfig}} {{json .NetworkSettings.Networks.apinet.DriverOpts}}",
            "n2",
        ])
        .ok();
    assert_eq!(
        ep.trim(),
        r#"{"LinkLocalIPs":["169.254.8.8"]} {"com.example.setting":"on"}"#
    );
    let err = s
        .docker(&["network", "connect", "--ip6", "2001:db8::5", "bridge", "n1"])
        .fails();
    assert!(
        err.contains("--ip6") && err.contains("supported on user defined networks only"),
        "{err}"
    );
    let nets = s
        .docker(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            "n2",
        ])
        .ok();
    assert!(nets.contains("apinet"), "{nets}");
    s.docker(&["network", "disconnect", "apinet", "n2"]).ok();
    let err = s.docker(&["network", "rm", "apinet"]).fails();
    assert!(err.contains("active endpoints"), "{err}");
    s.docker(&["rm", "-f", "n1", "n2"]).ok();
    assert_eq!(s.docker(&["network", "rm", "apinet"]).ok().trim(), "apinet");
    let err = s.docker(&["network", "inspect", "apinet"]).fails();
    assert!(err.contains("network apinet not found"), "{err}");
    s.docker(&["network", "prune", "-f"]).ok();
}

#[test]
fn root_the_docker_cli_manages_volumes_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    assert_eq!(
        s.docker(&["volume", "create", "--label", "team=kiwi", "data"])
            .ok()
            .trim(),
        "data"
    );
    let labels = s
        .docker(&[
            "volume",
            "inspect",
            "-f",
            "{{.Labels.team}} {{.Driver}}",
            "data",
        ])
        .ok();
    assert_eq!(labels.trim(), "kiwi local");
    let err = s
        .docker(&["volume", "create", "-o", "type=nfs", "remote"])
        .fails();
    assert!(err.contains("\"type\""), "{err}");
    // A container writes to it; the volume is in use while the container exists.
    s.docker(&[
        "run",
        "--name",
        "writer",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ])
    .ok();
    s.docker(&[
        "run", "-d", "--name", "anon", "-v", "/scratch", "busybox", "true",
    ])
    .ok();
    let ls = s
        .docker(&[
            "volume",
            "ls",
            "--filter",
            "label=team",
            "--format",
            "{{.Name}}",
        ])
        .ok();
    assert_eq!(ls.trim(), "data");
    let err = s.docker(&["volume", "rm", "data"]).fails();
    assert!(err.contains("volume is in use"), "{err}");
    // system df: both volumes are in use, and `-v` counts each container's local volumes.
    let df = s
        .docker(&[
            "system",
            "df",
            "--format",
            "{{.Type}}={{.TotalCount}}/{{.Active}}",
        ])
        .ok();
    assert!(df.contains("Local Volumes=2/2"), "{df}");
    assert!(df.contains("Containers=2/"), "{df}");
    let df = s.docker(&["system", "df", "-v"]).ok();
    let writer = df.lines().find(|l| l.ends_with(" writer")).unwrap_or("");
    assert!(writer.contains("   1   "), "{df}");
    assert_eq!(
        s.docker(&["run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/f"])
            .ok()
            .trim(),
        "kept"
    );
    s.docker(&["rm", "writer", "anon"]).ok();
    // Prune: the anonymous volume only, unless --all.
    let pruned = s.docker(&["volume", "prune", "-f"]).ok();
    assert!(pruned.starts_with("Deleted Volumes:\n"), "{pruned}");
    assert_eq!(s.docker(&["volume", "ls", "-q"]).ok().trim(), "data");
    let pruned = s.docker(&["volume", "prune", "-af"]).ok();
    assert!(pruned.contains("data"), "{pruned}");
    let err = s.docker(&["volume", "inspect", "data"]).fails();
    assert!(err.contains("no such volume"), "{err}");
    let err = s.docker(&["volume", "rm", "data"]).fails();
    assert!(err.contains("no such volume"), "{err}");
    s.docker(&["volume", "rm", "-f", "data"]).ok();
}

#[test]
fn root_the_docker_cli_copies_files_and_reads_stats_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    s.docker(&[
        "run",
        "--name",
        "files",
        "--label",
        "keep=no",
        "busybox",
        "sh",
        "-c",
        "mkdir /data && echo one > /data/a && rm /bin/true",
    ])
    .ok();
    let diff = s.docker(&["diff", "files"]).ok();
    assert!(
        diff.contains("A /data\n") && diff.contains("A /data/a\n"),
        "{diff}"
    );
    assert!(
        diff.contains("D /bin/true\n") && diff.contains("C /bin\n"),
        "{diff}"
    );
    // export: the whole filesystem, with the container's changes.
    let out = s.docker_cmd(&["export", "files"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let listing = tar_names(&out.stdout);
    assert!(listing.contains(&"data/a".to_string()), "{listing:?}");
    assert!(!listing.contains(&"bin/true".to_string()), "{listing:?}");
    // cp out (a file, a directory), in (a file into a directory), and as a tar stream.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |p: &str| d.join(p).display().to_string();
    s.docker(&["cp", "files:/data/a", &path("a.txt")]).ok();
    assert_eq!(std::fs::read_to_string(d.join("a.txt")).unwrap(), "one\n");
    s.docker(&["cp", "files:/data", &path("data")]).ok();
    assert_eq!(std::fs::read_to_string(d.join("data/a")).unwrap(), "one\n");
    std::fs::write(d.join("in.txt"), "two\n").unwrap();
    s.docker(&["cp", &path("in.txt"), "files:/data/"]).ok();
    let out = s
        .docker_cmd(&["cp", "files:/data/in.txt", "-"])
        .output()
        .unwrap();
    assert_eq!(tar_names(&out.stdout), ["in.txt"]);
    // Several clients copying from the stopped container at once share its mount: none
    // unmounts it under another (raw requests, so that they overlap as much as they can).
    let copies: Vec<_> = (0..16)
        .map(|_| {
            let socket = s.socket.clone();
            std::thread::spawn(move || {
                (0..20).all(|_| {
                    use std::io::{Read, Write};
                    let Ok(mut c) = std::os::unix::net::UnixStream::connect(&socket) else {
                        return false;
                    };
                    let _ = c.write_all(
                        b"GET /containers/files/archive?path=/data/a HTTP/1.0\r\nHost: x\r\n\r\n",
                    );
                    let mut answer = Vec::new();
                    let _ = c.read_to_end(&mut answer);
                    answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200")
                })
            })
        })
        .collect();
    for c in copies {
        assert!(c.join().unwrap(), "a concurrent copy failed");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(b.root().to_str().unwrap()),
        "the stopped container's rootfs is unmounted after the copies"
    );
    s.docker(&["start", "files"]).ok();
    let err = s.docker(&["cp", "files:/nosuch", &path("x")]).fails();
    assert!(
        err.contains("Could not find the file /nosuch in container files"),
        "{err}"
    );
    // stats: a running container's sample, and its name in the table.
    s.docker(&["run", "-d", "--name", "busy", "busybox", "sleep", "300"])
        .ok();
    let st = s
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}} {{.MemUsage}}",
            "busy",
        ])
        .ok();
    assert!(st.starts_with("busy 1 "), "{st}");
    // prune: stopped ones only, narrowed by label.
    s.docker(&["run", "--name", "other", "busybox", "true"])
        .ok();
    let pruned = s
        .docker(&["container", "prune", "-f", "--filter", "label=keep=no"])
        .ok();
    assert!(pruned.starts_with("Deleted Containers:\n"), "{pruned}");
    let left = s.docker(&["ps", "-a", "--format", "{{.Names}}"]).ok();
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    assert_eq!(left, ["busy", "other"]);
    s.docker(&["rm", "-f", "busy", "other"]).ok();
}

/// The entry names of a tar stream (directories without their trailing slash).
fn tar_names(tar: &[u8]) -> Vec<String> {
    let mut child = Command::new("tar")
        .arg("t")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = tar.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &data));
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

#[test]
fn root_the_docker_cli_builds_up_images_and_moves_them_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    // commit, history
    s.docker(&[
        "run",
        "--name",
        "maker",
        "busybox",
        "sh",
        "-c",
        "echo made > /made",
    ])
    .ok();
    let id = s
        .docker(&[
            "commit",
            "-c",
            "ENV STAGE=two",
            "-m",
            "add made",
            "maker",
            "made:1",
        ])
        .ok();
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let env = s
        .docker(&["image", "inspect", "-f", "{{json .Config.Env}}", "made:1"])
        .ok();
    assert!(env.contains("STAGE=two"), "{env}");
    let history = s
        .docker(&[
            "history",
            "--format",
            "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
            "made:1",
        ])
        .ok();
    let first = history.lines().next().unwrap_or("");
    assert!(first.ends_with("|add made"), "{history}");
    assert_eq!(history.lines().count(), 2, "{history}");
    s.docker(&["rm", "maker"]).ok();
    // save, then load what was removed
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("made.tar");
    s.docker(&["save", "-o", tar.to_str().unwrap(), "made:1"])
        .ok();
    s.docker(&["rmi", "made:1"]).ok();
    let loaded = s.docker(&["load", "-i", tar.to_str().unwrap()]).ok();
    assert_eq!(loaded.trim(), "Loaded image: made:1");
    // import from stdin
    let rootfs = common::busybox_tar();
    let out = s
        .docker_cmd(&["import", "-", "imported:1"])
        .stdin(std::fs::File::open(&rootfs).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        s.docker(&["run", "--rm", "imported:1", "cat", "/etc/hostname"])
            .code,
        0
    );
    // prune: nothing dangling; with -a, what no container uses.
    let pruned = s.docker(&["image", "prune", "-f"]).ok();
    assert!(pruned.contains("Total reclaimed space: 0B"), "{pruned}");
    s.docker(&["create", "--name", "keeper", "busybox", "true"])
        .ok();
    // Filters: only images created before `until`, with (or without) a label.
    for f in ["until=2000-01-01T00:00:00Z", "label=team=kiwi"] {
        let pruned = s.docker(&["image", "prune", "-af", "--filter", f]).ok();
        assert!(
            pruned.contains("Total reclaimed space: 0B"),
            "{f}: {pruned}"
        );
    }
    let err = s
        .docker(&["image", "prune", "-af", "--filter", "colour=red"])
        .fails();
    assert!(err.contains("invalid filter 'colour'"), "{err}");
    let pruned = s
        .docker(&["image", "prune", "-af", "--filter", "label!=team=kiwi"])
        .ok();
    assert!(pruned.contains("untagged: made:1"), "{pruned}");
    assert!(!pruned.contains("busybox"), "{pruned}");
    s.docker(&["rm", "keeper"]).ok();

    // A registry with a login: push, pull, run pulling what is missing.
    if !(common::have_tool("docker-registry") && common::have_tool("htpasswd")) {
        return;
    }
    let reg = Registry::start(Some(("alice", "s3cret")));
    let r = reg.host();
    let bad = s.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &r],
        b"wrong\n",
    );
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("unauthorized"), "{bad:?}");
    let ok = s.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &r],
        b"s3cret\n",
    );
    assert!(ok.stdout.contains("Login Succeeded"), "{ok:?}");
    let name = format!("{r}/team/busybox:1");
    s.docker(&["tag", "busybox", &name]).ok();
    let pushed = s.docker(&["push", &name]).ok();
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    s.docker(&["rmi", &name]).ok();
    let pulled = s.docker(&["pull", &name]).ok();
    assert!(
        pulled.contains("Status: Image is up to date")
            || pulled.contains("Status: Downloaded newer image"),
        "{pulled}"
    );
    s.docker(&["rmi", &name]).ok();
    let ran = s.docker(&["run", "--rm", &name, "echo", "pulled-and-ran"]);
    assert_eq!(ran.stdout.trim(), "pulled-and-ran", "{ran:?}");
    assert!(ran.stderr.contains("Unable to find image"), "{ran:?}");
    let missing = s.docker(&["pull", &format!("{r}/team/nosuch:1")]).fails();
    assert!(missing.contains("not found"), "{missing}");
    // Without the login, the registry refuses.
    s.docker(&["logout", &r]).ok();
    let denied = s.docker(&["pull", &name]).fails();
    assert!(
        denied.contains("unauthorized") || denied.contains("denied"),
        "{denied}"
    );
}

#[test]
fn root_the_docker_cli_builds_through_berth_serve() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let s = Server::start(&b, &[]);
    let ctx = tempfile::tempdir().unwrap();
    let d = ctx.path();
    std::fs::write(
        d.join("Dockerfile"),
        "FROM busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\n\
         RUN echo \"built by $WHO\" && cat /hello.txt > /copy.txt\n\
         LABEL team=kiwi\nCMD [\"cat\", \"/copy.txt\"]\n",
    )
    .unwrap();
    std::fs::write(d.join("hello.txt"), "from the context\n").unwrap();
    std::fs::write(d.join("Dockerfile.bad"), "FROM busybox\nRUN exit 7\n").unwrap();
    let dir = d.to_str().unwrap();
    let built = s
        .docker(&["build", "--build-arg", "WHO=api", "-t", "built:1", dir])
        .ok();
    assert!(built.contains("Step 4/6 : RUN"), "{built}");
    assert!(
        built.contains("built by api"),
        "RUN output reaches the client: {built}"
    );
    assert!(built.contains("Successfully tagged built:1"), "{built}");
    assert_eq!(
        s.docker(&["run", "--rm", "built:1"]).ok(),
        "from the context\n"
    );
    let label = s
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.Labels.team}}",
            "built:1",
        ])
        .ok();
    assert_eq!(label.trim(), "kiwi");
    let id = s.docker(&["build", "-q", dir]).ok();
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // --cache-from: the cache counts only for steps of the images named (none here: no
    // hits); --shm-size reaches RUN steps.
    let cached = |from: &[&str]| {
        let mut args = vec!["build", "--build-arg", "WHO=api"];
        args.extend(from);
        args.push(dir);
        s.docker(&args).ok().matches("Using cache").count()
    };
    let all = cached(&[]);
    assert!(all >= 3, "{all}");
    assert_eq!(cached(&["--cache-from", "built:1"]), all);
    assert_eq!(cached(&["--cache-from", "nosuch:tag"]), 0);
    std::fs::write(
        d.join("Dockerfile.shm"),
        "FROM busybox
RUN df -k /dev/shm | tail -n 1
",
    )
    .unwrap();
    let shm = s
        .docker(&[
            "build",
            "--no-cache",
            "--shm-size",
            "16m",
            "-f",
            d.join("Dockerfile.shm").to_str().unwrap(),
            dir,
        ])
        .ok();
    assert!(shm.contains(" 16384 "), "{shm}");
    let bad = s
        .docker(&[
            "build",
            "-f",
            d.join("Dockerfile.bad").to_str().unwrap(),
            dir,
        ])
        .fails();
    // The classic builder's words, as dockerd's.
    assert!(
        bad.contains("The command '/bin/sh -c exit 7' returned a non-zero code: 7"),
        "{bad}"
    );
    // A Dockerfile outside the context: the CLI adds it to the context's tar under a
    // random name, and that tar ends right after the last file's content.
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("Dockerfile.outside");
    std::fs::write(
        &outside,
        "FROM busybox\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n",
    )
    .unwrap();
    s.docker(&[
        "build",
        "-q",
        "-t",
        "outside:1",
        "-f",
        outside.to_str().unwrap(),
        dir,
    ])
    .ok();
    assert_eq!(
        s.docker(&["run", "--rm", "outside:1"]).ok(),
        "from the context\n"
    );
    // The failed step's container is gone; the cache can be pruned.
    assert_eq!(s.docker(&["ps", "-aq"]).ok(), "");
    let pruned = s.docker(&["builder", "prune", "-f"]).ok();
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
}

/// The berth binary replaced on disk while `berth serve` runs (an upgrade, a rebuild): the
/// server still starts containers, which it does through supervisors of its own binary, and
/// a user network's DNS server.
#[test]
fn root_serve_keeps_working_when_its_binary_is_replaced() {
    let b = Berth::new();
    b.import_busybox("busybox");
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("berth");
    std::fs::copy(common::bin(), &copy).unwrap();
    let s = Server::start_binary(&b, &copy, &[]);
    // As a package upgrade does: a new file in its place, the old one gone.
    std::fs::remove_file(&copy).unwrap();
    std::fs::write(&copy, b"#!/bin/sh\nexit 99\n").unwrap();
    let out = s
        .docker(&["run", "--rm", "busybox", "echo", "still-here"])
        .ok();
    assert_eq!(out, "still-here\n");
    let net = format!("repl{}", std::process::id());
    s.docker(&["network", "create", &net]).ok();
    s.docker(&[
        "run",
        "-d",
        "--name",
        &format!("{net}-a"),
        "--network",
        &net,
        "busybox",
        "sleep",
        "30",
    ])
    .ok();
    let found = s
        .docker(&[
            "run",
            "--rm",
            "--network",
            &net,
            "busybox",
            "nslookup",
            &format!("{net}-a"),
        ])
        .ok();
    assert!(found.contains(&format!("Name:\t{net}-a")), "{found}");
    s.docker(&["rm", "-f", &format!("{net}-a")]).ok();
    s.docker(&["network", "rm", &net]).ok();
}
