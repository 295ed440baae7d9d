//! End-to-end networking tests: bridge, published ports, user-defined networks with DNS,
//! cleanup. Root only. They only contact 127.0.0.1, addresses on berth's own bridges, and
//! addresses inside network namespaces they make themselves; every loop is bounded.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, json, Berth, NetworkGuard};

fn busybox() -> Berth {
    let b = Berth::new();
    b.import_busybox("busybox");
    b
}

/// `GET /hostname` from busybox httpd serving /etc; retried for up to 5 s while it starts.
fn http_get(addr: (Ipv4Addr, u16)) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(r) if r.starts_with("HTTP/1.") && r.contains("200") => return Ok(r),
            Ok(r) if Instant::now() > deadline => return Err(format!("bad reply: {r}")),
            Err(e) if Instant::now() > deadline => return Err(e.to_string()),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn network_state() -> serde_json::Value {
    let p = std::env::var("BERTH_NETWORK_DIR").unwrap_or_else(|_| "/var/lib/berth/network".into());
    std::fs::read(format!("{p}/state.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(serde_json::json!({}))
}

fn iptables_rules() -> String {
    let mut all = String::new();
    for table in ["nat", "filter"] {
        let o = Command::new("iptables")
            .args(["-w", "-t", table, "-S"])
            .output()
            .unwrap();
        all.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    all
}

fn links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Nothing of these containers is left: no lease, no rule, no veth. (The kernel removes a
/// veth with its network namespace, asynchronously: give it a few seconds.)
fn assert_network_clean(ids: &[String]) {
    let st = network_state();
    let rules = iptables_rules();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut links = links();
    while Instant::now() < deadline
        && ids.iter().any(|id| {
            links
                .iter()
                .any(|l| l.starts_with(&format!("bv{}", &id[..11])))
        })
    {
        std::thread::sleep(Duration::from_millis(50));
        links = self::links();
    }
    for id in ids {
        let leased = st["endpoints"]
            .as_array()
            .map(|a| a.iter().any(|e| e["container_id"] == id.as_str()))
            .unwrap_or(false);
        assert!(!leased, "lease of {id} left");
        assert!(!rules.contains(&format!("berth:{id}")), "rule of {id} left");
        let veth = format!("bv{}", &id[..11]);
        assert!(
            !links.iter().any(|l| l.starts_with(&veth)),
            "veth of {id} left"
        );
    }
}

fn gateway() -> Ipv4Addr {
    let st = network_state();
    let bridge = st["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "bridge")
        .unwrap();
    bridge["gateway"].as_str().unwrap().parse().unwrap()
}

#[test]
fn root_published_port_serves_http_from_host_and_containers() {
    let b = busybox();
    let id = b
        .run(&[
            "run",
            "-d",
            "-p",
            "127.0.0.1::80",
            "-p",
            "0:80",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ])
        .ok()
        .trim()
        .to_string();
    // Ephemeral host ports, shown by `port`, `ps` and `inspect`.
    let ports = b.run(&["port", &id]).ok();
    let local: u16 = ports
        .lines()
        .find_map(|l| l.strip_prefix("80/tcp -> 127.0.0.1:"))
        .unwrap_or_else(|| panic!("no 127.0.0.1 mapping in {ports}"))
        .parse()
        .unwrap();
    let any: u16 = ports
        .lines()
        .find_map(|l| l.strip_prefix("80/tcp -> 0.0.0.0:"))
        .unwrap_or_else(|| panic!("no 0.0.0.0 mapping in {ports}"))
        .parse()
        .unwrap();
    assert_eq!(
        b.run(&["port", &id, "80"]).ok(),
        format!("127.0.0.1:{local}\n0.0.0.0:{any}\n")
    );
    let ps = b.run(&["ps", "--format", "{{.Ports}}"]).ok();
    assert!(ps.contains(&format!("127.0.0.1:{local}->80/tcp")), "{ps}");
    let ins = b.inspect(&id);
    let ip: Ipv4Addr = ins["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        ins["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        local.to_string()
    );
    let hostname = &id[..12];
    // From the host on 127.0.0.1, and on a host address that is not loopback (the bridge's).
    let r = http_get((Ipv4Addr::LOCALHOST, local)).unwrap();
    assert!(r.ends_with(&format!("{hostname}\n")), "{r}");
    let r = http_get((gateway(), any)).unwrap();
    assert!(r.ends_with(&format!("{hostname}\n")), "{r}");
    // The 127.0.0.1-only mapping is not reachable on other addresses.
    assert!(
        TcpStream::connect_timeout(&(gateway(), local).into(), Duration::from_millis(500)).is_err()
    );
    // From another container: through the published port on the host, and directly.
    let script = format!(
        "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {gw} {any} | tail -1; \
         printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 80 | tail -1",
        gw = gateway()
    );
    let out = b.run(&["run", "--rm", "busybox", "sh", "-c", &script]).ok();
    assert_eq!(out, format!("{hostname}\n{hostname}\n"));
    // A host port that is taken: a clear error before the container starts, nothing left.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let r = b.run(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "httpd",
        "-f",
    ]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains(&format!(
            "Bind for 127.0.0.1:{port} failed: port is already allocated"
        )),
        "{}",
        r.stderr
    );
    let ids: Vec<String> = b
        .run(&["ps", "-aq", "--no-trunc"])
        .ok()
        .lines()
        .map(String::from)
        .collect();
    b.run(&["rm", "-f", &id]).ok();
    for i in &ids {
        let _ = b.run(&["rm", "-f", i]);
    }
    // Once removed, the port answers no more and everything is gone.
    assert!(TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, local).into(),
        Duration::from_millis(500)
    )
    .is_err());
    assert_network_clean(&ids);
}

/// tests/fixtures/udp-echo.c built statically (busybox has no UDP server).
fn udp_echo() -> std::path::PathBuf {
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("udp-echo-{}", std::process::id()));
    if !out.exists() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/udp-echo.c");
        let st = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run cc");
        assert!(
            st.success(),
            "building udp-echo failed (is libc6-dev installed?)"
        );
    }
    out
}

#[test]
fn root_port_ranges_udp_and_publish_all() {
    let b = busybox();
    // Two consecutive free ports on 127.0.0.1 for the range.
    let base = (20000u16..30000)
        .step_by(7)
        .find(|p| {
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
        })
        .unwrap();
    let range = format!("127.0.0.1:{}-{}:80-81", base, base + 1);
    let echo = format!("{}:/udp-echo:ro", udp_echo().display());
    let id = b
        .run(&[
            "run",
            "-d",
            "-p",
            &range,
            "-p",
            "127.0.0.1::9999/udp",
            "--expose",
            "7000",
            "-P",
            "-v",
            &echo,
            "busybox",
            "sh",
            "-c",
            "httpd -p 80 -h /etc; httpd -p 81 -h /etc; exec /udp-echo 9999",
        ])
        .ok()
        .trim()
        .to_string();
    for p in [base, base + 1] {
        http_get((Ipv4Addr::LOCALHOST, p)).unwrap();
    }
    let ports = b.run(&["port", &id]).ok();
    assert!(ports.contains("9999/udp -> 127.0.0.1:"), "{ports}");
    assert!(
        ports.contains("7000/tcp -> 0.0.0.0:"),
        "-P publishes --expose: {ports}"
    );
    let udp: u16 = b.run(&["port", &id, "9999/udp"]).ok().trim()["127.0.0.1:".len()..]
        .parse()
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut got = String::new();
    for _ in 0..20 {
        sock.send_to(b"ping-udp", ("127.0.0.1", udp)).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            got = String::from_utf8_lossy(&buf[..n]).into_owned();
            break;
        }
    }
    assert_eq!(
        got, "echo:ping-udp",
        "UDP round trip through the published port"
    );
    b.run(&["rm", "-f", &id]).ok();
    assert_network_clean(&[id]);
}

#[test]
fn root_user_network_resolves_names_and_aliases() {
    let net = format!("bt{}", std::process::id());
    let _cleanup = NetworkGuard(net.clone());
    let b = busybox();
    b.run(&["network", "create", &net]).ok();
    let web = b
        .run(&[
            "run",
            "-d",
            "--name",
            &format!("{net}-web"),
            "--network",
            &net,
            "--network-alias",
            "www",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ])
        .ok()
        .trim()
        .to_string();
    let script = format!(
        "nslookup {net}-web >/dev/null && echo name-ok; nslookup www >/dev/null && echo alias-ok; \
         printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 www 80 | tail -1"
    );
    let out = b
        .run(&[
            "run",
            "--rm",
            "--network",
            &net,
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .ok();
    assert_eq!(out, format!("name-ok\nalias-ok\n{}\n", &web[..12]));
    // On the default bridge, names do not resolve (as in Docker).
    let out = b
        .run(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("nslookup {net}-web >/dev/null 2>&1 && echo found || echo not-found"),
        ])
        .ok();
    assert_eq!(out, "not-found\n");
    // inspect and ls show it; rm refuses while a container is attached.
    let ni = json(&b.run(&["network", "inspect", &net]).ok())[0].clone();
    assert_eq!(ni["Containers"][&web]["Name"], format!("{net}-web"));
    assert!(b
        .run(&["network", "ls", "-q"])
        .ok()
        .contains(&ni["Id"].as_str().unwrap()[..12]));
    let e = b.run(&["network", "rm", &net]).fails();
    assert!(e.contains("has active endpoints"), "{e}");
    // connect / disconnect a running container.
    let gw = ni["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let other = b
        .run(&["run", "-d", "busybox", "sleep", "30"])
        .ok()
        .trim()
        .to_string();
    b.run(&["network", "connect", "--alias", "late", &net, &other])
        .ok();
    let out = b
        .run(&[
            "exec",
            &other,
            "sh",
            "-c",
            &format!("ip -o -4 addr show eth1 | wc -l; nslookup www {gw} >/dev/null && echo ok"),
        ])
        .ok();
    assert_eq!(out, "1\nok\n");
    b.run(&["network", "disconnect", &net, &other]).ok();
    let out = b
        .run(&["exec", &other, "sh", "-c", "ls /sys/class/net"])
        .ok();
    assert!(!out.contains("eth1"), "{out}");
    b.run(&["rm", "-f", &web, &other]).ok();
    b.run(&["network", "rm", &net]).ok();
    // Its DNS server and bridge are gone with it.
    let bridge = format!("berth-{}", &ni["Id"].as_str().unwrap()[..9]);
    assert!(!links().contains(&bridge));
    let dns = Command::new("pgrep")
        .args(["-f", &format!("__dns {}", ni["Id"].as_str().unwrap())])
        .output()
        .unwrap();
    assert!(dns.stdout.is_empty(), "DNS server left");
    assert!(!iptables_rules().contains(&format!("berth-net:{}", &ni["Id"].as_str().unwrap()[..12])));
    assert_network_clean(&[web, other]);
}

#[test]
fn root_network_bad_input_is_refused_cleanly() {
    let net = format!("bb{}", std::process::id());
    let _cleanup = NetworkGuard(net.clone());
    let b = busybox();
    b.run(&["network", "create", "--subnet", "10.213.0.0/16", &net])
        .ok();
    let e = b
        .run(&[
            "network",
            "create",
            "--subnet",
            "10.213.4.0/24",
            &format!("{net}x"),
        ])
        .fails();
    assert!(e.contains("Pool overlaps"), "{e}");
    let e = b.run(&["network", "create", &net]).fails();
    assert!(e.contains("already exists"), "{e}");
    let e = b
        .run(&["network", "create", "--subnet", "10.300.0.0/16", "zz"])
        .fails();
    assert!(e.contains("--subnet"), "{e}");
    for (args, want) in [
        (
            vec!["run", "--rm", "--network", "nope", "busybox", "true"],
            "network nope not found",
        ),
        (
            vec!["run", "--rm", "-p", "abc", "busybox", "true"],
            "invalid container port \"abc\"",
        ),
        (
            vec!["run", "--rm", "-p", "70000:80", "busybox", "true"],
            "outside 1-65535",
        ),
        (
            vec![
                "run",
                "--rm",
                "--network",
                &net,
                "--ip",
                "10.213.0.300",
                "busybox",
                "true",
            ],
            "--ip",
        ),
        (
            vec![
                "run",
                "--rm",
                "--network",
                &net,
                "--ip",
                "10.99.0.5",
                "busybox",
                "true",
            ],
            "not in network",
        ),
        (
            vec!["run", "--rm", "--add-host", "nohost", "busybox", "true"],
            "--add-host",
        ),
    ] {
        let r = b.run(&args);
        assert_eq!(r.code, 125, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "", "nothing half-made");
    let e = b.run(&["network", "rm", "bridge"]).fails();
    assert!(e.contains("pre-defined network"), "{e}");
    let e = b.run(&["network", "rm", "nope"]).fails();
    assert!(e.contains("network nope not found"), "{e}");
    // --ip, --add-host, --dns on a user network.
    let out = b
        .run(&[
            "run", "--rm", "--network", &net, "--ip", "10.213.0.77", "--add-host",
            "db.local:10.1.2.3", "--add-host", "gw:host-gateway", "busybox", "sh", "-c",
            "ip -o -4 addr show eth0 | awk '{print $4}'; grep db.local /etc/hosts; grep -c gw /etc/hosts",
        ])
        .ok();
    assert_eq!(out, "10.213.0.77/16\n10.1.2.3\tdb.local\n1\n");
    let out = b
        .run(&[
            "run",
            "--rm",
            "--dns",
            "10.9.9.9",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok();
    assert!(out.contains("nameserver 10.9.9.9"), "{out}");
    b.run(&["network", "rm", &net]).ok();
}

#[test]
fn root_fifty_published_containers_leave_nothing() {
    let b = busybox();
    let mut ids = Vec::new();
    for _ in 0..50 {
        let id = b
            .run(&["run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "30"])
            .ok()
            .trim()
            .to_string();
        ids.push(id);
    }
    let rules = iptables_rules();
    for id in &ids {
        assert!(
            rules.contains(&format!("berth:{id}")),
            "no DNAT rule for {id}"
        );
    }
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    b.run(&args).ok();
    assert_network_clean(&ids);
}

#[test]
fn root_killed_berth_is_cleaned_up_by_next_network_command() {
    let b = busybox();
    let id = b
        .run(&["run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "60"])
        .ok()
        .trim()
        .to_string();
    let ins = b.inspect(&id);
    let pid = ins["State"]["Pid"].as_i64().unwrap();
    // Kill the supervisor first, then the container: nobody is left to clean up.
    let sup = Command::new("pgrep")
        .args(["-f", &format!("__supervise {id}")])
        .output()
        .unwrap();
    for p in String::from_utf8_lossy(&sup.stdout).split_whitespace() {
        unsafe { libc::kill(p.parse().unwrap(), libc::SIGKILL) };
    }
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(200));
    // (Another test's network command may already have reconciled; this one must.)
    b.run(&["network", "ls"]).ok();
    assert!(
        !iptables_rules().contains(&format!("berth:{id}")),
        "the rule of a dead container survived reconciliation"
    );
    b.run(&["rm", "-f", &id]).ok();
    assert_network_clean(&[id]);
}

/// A network namespace of the test's own that plays a host whose iptables FORWARD policy is
/// DROP (as Docker leaves it), with a second namespace as the outside world.
struct Lab {
    host: String,
    ext: String,
    state: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let tag = format!("{}", std::process::id() % 100000);
        let (host, ext) = (format!("bth{tag}"), format!("bte{tag}"));
        let sh = |c: &str| {
            let st = Command::new("sh").arg("-ec").arg(c).status().unwrap();
            assert!(st.success(), "{c}");
        };
        let _ = Command::new("ip").args(["netns", "del", &host]).status();
        let _ = Command::new("ip").args(["netns", "del", &ext]).status();
        sh(&format!(
            "ip netns add {host}; ip netns add {ext}
             ip link add bta{tag} type veth peer name btb{tag}
             ip link set bta{tag} netns {host}; ip link set btb{tag} netns {ext}
             ip -n {host} addr add 10.231.0.1/30 dev bta{tag}; ip -n {host} link set bta{tag} up
             ip -n {ext} addr add 10.231.0.2/30 dev btb{tag}; ip -n {ext} link set btb{tag} up
             ip -n {host} link set lo up; ip -n {ext} link set lo up
             ip netns exec {host} iptables -w -P FORWARD DROP"
        ));
        Lab {
            host,
            ext,
            state: tempfile::tempdir().unwrap(),
        }
    }

    /// berth inside the lab's host namespace. nsenter rather than `ip netns exec`: the
    /// latter mounts a fresh /sys, which hides the cgroup hierarchy.
    fn berth(&self, b: &Berth, args: &[&str]) -> common::Run {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.host))
            .args([bin(), "--root"])
            .arg(b.root())
            .args(args)
            .env("BERTH_NETWORK_DIR", self.state.path());
        common::run_command(c)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.host])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ext])
            .status();
    }
}

#[test]
fn root_forward_drop_policy_does_not_block_berth_traffic() {
    let b = busybox();
    let lab = Lab::new();
    let id = lab
        .berth(
            &b,
            &[
                "run", "-d", "-p", "8080:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc",
            ],
        )
        .ok()
        .trim()
        .to_string();
    // From the outside namespace, through DNAT and FORWARD, to the container.
    let fetch = Command::new("ip")
        .args(["netns", "exec", &lab.ext, "busybox", "sh", "-c"])
        .arg("for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 2 10.231.0.1 8080 | tail -1 | grep . && exit 0; sleep 0.3; done; exit 1")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fetch.stdout),
        format!("{}\n", &id[..12]),
        "{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    // From a container out to the outside namespace (masquerade through FORWARD).
    let out = lab
        .berth(
            &b,
            &[
                "run",
                "--rm",
                "busybox",
                "ping",
                "-c",
                "1",
                "-W",
                "3",
                "10.231.0.2",
            ],
        )
        .ok();
    assert!(out.contains("1 packets received"), "{out}");
    lab.berth(&b, &["rm", "-f", &id]).ok();
    // An --internal network: peers reach each other by name, nothing reaches outside.
    lab.berth(&b, &["network", "create", "--internal", "inside"])
        .ok();
    let peer = lab
        .berth(
            &b,
            &[
                "run",
                "-d",
                "--network",
                "inside",
                "--name",
                "peer",
                "busybox",
                "sleep",
                "60",
            ],
        )
        .ok()
        .trim()
        .to_string();
    let out = lab
        .berth(
            &b,
            &[
                "run", "--rm", "--network", "inside", "busybox", "sh", "-c",
                "ping -c 1 -W 2 peer >/dev/null && echo peer-ok; \
                 ping -c 1 -W 2 10.231.0.2 >/dev/null 2>&1 && echo outside-reached || echo outside-blocked",
            ],
        )
        .ok();
    assert_eq!(out, "peer-ok\noutside-blocked\n");
    lab.berth(&b, &["rm", "-f", &peer]).ok();
    // prune removes unused user networks only; Docker's filters narrow it.
    let used = lab
        .berth(&b, &["create", "--network", "inside", "busybox", "true"])
        .ok()
        .trim()
        .to_string();
    lab.berth(&b, &["network", "create", "--label", "keep=yes", "kept"])
        .ok();
    let prune = |filter: &str| lab.berth(&b, &["network", "prune", "-f", "--filter", filter]);
    assert_eq!(
        prune("until=2000-01-01T00:00:00Z").ok(),
        "",
        "nothing is that old"
    );
    assert_eq!(prune("label!=keep=yes").ok(), "");
    assert_eq!(prune("label=keep").ok(), "Deleted Networks:\nkept\n");
    let err = prune("dangling=true").fails();
    assert!(
        err.contains("invalid filter 'dangling': supported filters are until, label, label!"),
        "{err}"
    );
    lab.berth(&b, &["network", "create", "spare"]).ok();
    let out = lab.berth(&b, &["network", "prune", "-f"]).ok();
    assert_eq!(out, "Deleted Networks:\nspare\n");
    let ls = lab
        .berth(&b, &["network", "ls", "--format", "{{.Name}}"])
        .ok();
    assert_eq!(ls, "bridge\ninside\nhost\nnone\n");
    lab.berth(&b, &["rm", &used]).ok();
    lab.berth(&b, &["network", "rm", "inside"]).ok();
}

#[test]
fn root_addresses_go_round_before_being_leased_again() {
    // The kernel tracks a removed container's connections for two minutes: an address is
    // leased again only after the rest of the subnet has had its turn (see allocate_ip).
    let net = format!("br{}", std::process::id());
    let _cleanup = NetworkGuard(net.clone());
    let b = busybox();
    b.run(&["network", "create", "--subnet", "10.233.7.0/29", &net])
        .ok();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let id = b
            .run(&["run", "-d", "--network", &net, "busybox", "sleep", "60"])
            .ok()
            .trim()
            .to_string();
        let ip = b.inspect(&id)["NetworkSettings"]["Networks"][&net]["IPAddress"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        seen.push(ip);
        b.run(&["rm", "-f", &id]).ok();
    }
    // A /29 has .2 to .6 for containers (.1 is the gateway, .7 broadcast).
    assert_eq!(
        seen,
        [
            "10.233.7.2",
            "10.233.7.3",
            "10.233.7.4",
            "10.233.7.5",
            "10.233.7.6",
            "10.233.7.2"
        ]
    );
}

/// `--network container:NAME`: the container shares another's network namespace (its
/// loopback, addresses and names), publishes nothing of its own, needs the other running,
/// and is refused Docker's conflicting options. Removing both leaves nothing.
#[test]
fn root_container_network_mode_shares_the_other_containers_network() {
    let b = busybox();
    let web = b
        .run(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "127.0.0.1:8080",
            "-h",
            "/etc",
        ])
        .ok()
        .trim()
        .to_string();
    let web_ip = b.inspect("web")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let side = b
        .run(&[
            "create",
            "--name",
            "side",
            "--network",
            "container:web",
            "busybox",
            "sh",
            "-c",
            "wget -qO- http://127.0.0.1:8080/hostname; hostname; \
             ip -4 -o addr show eth0 | awk '{print $4}'",
        ])
        .ok()
        .trim()
        .to_string();
    b.run(&["start", "-a", "side"]).ok();
    let out = b.run(&["logs", "side"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    // The other's loopback server, its hostname, its address.
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], &web[..12], "{out}");
    assert_eq!(lines[1], &web[..12], "{out}");
    assert!(lines[2].starts_with(&format!("{web_ip}/")), "{out}");
    let side_json = b.inspect("side");
    // Recorded by ID, as Docker records it.
    assert_eq!(
        side_json["HostConfig"]["NetworkMode"],
        format!("container:{web}").as_str()
    );
    assert_eq!(
        side_json["NetworkSettings"]["Networks"],
        serde_json::json!({})
    );
    let nets = b
        .run(&[
            "ps",
            "-a",
            "--filter",
            "name=side",
            "--format",
            "{{.Networks}}|{{.Ports}}",
        ])
        .ok();
    assert_eq!(nets.trim(), "|");
    let nets = b
        .run(&["ps", "--filter", "name=web", "--format", "{{.Networks}}"])
        .ok();
    assert_eq!(nets.trim(), "bridge");

    // Docker's conflicts, before anything is made.
    for (flags, message) in [
        (
            vec!["-p", "8081:80"],
            "conflicting options: port publishing and the container type network mode",
        ),
        (
            vec!["--hostname", "x"],
            "conflicting options: hostname and the network mode",
        ),
        (
            vec!["--dns", "10.0.0.1"],
            "conflicting options: dns and the network mode",
        ),
        (
            vec!["--add-host", "a:10.0.0.1"],
            "conflicting options: custom host-to-IP mapping and the network mode",
        ),
        (
            vec!["--expose", "90"],
            "conflicting options: port exposing and the container type network mode",
        ),
    ] {
        let mut args = vec!["run", "--rm", "--network", "container:web"];
        args.extend(flags.iter().copied());
        args.extend(["busybox", "true"]);
        let err = b.run(&args).fails();
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    let err = b
        .run(&[
            "run",
            "--rm",
            "--network",
            "container:nosuch",
            "busybox",
            "true",
        ])
        .fails();
    assert!(err.contains("No such container: nosuch"), "{err}");

    // The other must be running.
    b.run(&["stop", "-t", "1", "web"]).ok();
    let err = b.run(&["start", "side"]).fails();
    assert!(
        err.contains("cannot join network of a non running container"),
        "{err}"
    );
    b.run(&["rm", "-f", "side", "web"]).ok();
    assert_network_clean(&[web, side]);
}

/// `network create --ipv6`: containers get an address of the IPv6 pool as well (one asked for
/// with `--ip6`, else the first free one), a default IPv6 route via the bridge, and the
/// network's DNS answers AAAA for their names; inspect shows it all as Docker does.
#[test]
fn root_ipv6_network_gives_containers_an_ipv6_address_and_name() {
    let net = format!("b6{}", std::process::id());
    let _cleanup = NetworkGuard(net.clone());
    let b = busybox();
    b.run(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "2001:db8:b6::/64",
        "--gateway",
        "2001:db8:b6::ffff",
        &net,
    ])
    .ok();
    let n = json(&b.run(&["network", "inspect", &net]).ok())[0].clone();
    assert_eq!(n["EnableIPv6"], true);
    let configs = n["IPAM"]["Config"].as_array().unwrap();
    assert!(
        configs
            .iter()
            .any(|c| c["Subnet"] == "2001:db8:b6::/64" && c["Gateway"] == "2001:db8:b6::ffff"),
        "{configs:?}"
    );
    let server = format!("{net}-srv");
    b.run(&[
        "run",
        "-d",
        "--name",
        &server,
        "--network",
        &net,
        "--ip6",
        "2001:db8:b6::f00d",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ])
    .ok();
    let c = b.inspect(&server);
    let ep = &c["NetworkSettings"]["Networks"][&net];
    assert_eq!(ep["GlobalIPv6Address"], "2001:db8:b6::f00d");
    assert_eq!(ep["GlobalIPv6PrefixLen"], 64);
    assert_eq!(ep["IPv6Gateway"], "2001:db8:b6::ffff");
    assert_eq!(ep["IPAMConfig"]["IPv6Address"], "2001:db8:b6::f00d");
    let n = json(&b.run(&["network", "inspect", &net]).ok())[0].clone();
    let id = c["Id"].as_str().unwrap();
    assert_eq!(n["Containers"][id]["IPv6Address"], "2001:db8:b6::f00d/64");
    // A second container: the first free address, the route, and the server by name.
    let script = format!(
        "ip -6 addr show dev eth0 | grep -o '2001:db8:b6::[0-9a-f]*/64'; ip -6 route | grep default; \
         nslookup -type=AAAA {server} | grep -c 2001:db8:b6::f00d; \
         printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 2001:db8:b6::f00d 80 | tail -1"
    );
    let out = b
        .run(&[
            "run",
            "--rm",
            "--network",
            &net,
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"2001:db8:b6::1/64"), "{out}");
    assert!(
        out.contains("default via 2001:db8:b6::ffff dev eth0"),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.trim() == "1"),
        "AAAA answered: {out}"
    );
    assert_eq!(lines.last().map(|l| l.trim()), Some(&id[..12]), "{out}");
    // Bad input is named.
    let err = b
        .run(&[
            "run",
            "--rm",
            "--network",
            &net,
            "--ip6",
            "2001:db9::1",
            "busybox",
            "true",
        ])
        .fails();
    assert!(
        err.contains("not in network") && err.contains("2001:db8:b6::/64"),
        "{err}"
    );
    let err = b
        .run(&[
            "network",
            "create",
            "--subnet",
            "2001:db8:b7::/64",
            &format!("{net}x"),
        ])
        .fails();
    assert!(err.contains("needs --ipv6"), "{err}");
    b.run(&["rm", "-f", &server]).ok();
    b.run(&["network", "rm", &net]).ok();
}
