//! The embedded DNS server of a user-defined network: containers on it resolve each other by
//! name, network alias and short id, as with Docker; other names are forwarded to the host's
//! resolvers. One small process per network (`berth __dns NETWORK-ID`), listening on the
//! network's gateway address, started with the first container and gone a few seconds after
//! the last one (or at once when the network is removed).
//!
//! The message handling is our own rather than a DNS crate's: it answers one question with A
//! records from the endpoint list and passes everything else through untouched, which is a
//! few dozen lines; full DNS libraries bring a resolver, async runtime and much more.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
use crate::state::{self, Endpoint, Network};

const TTL: u32 = 600;
/// How long the server stays up with no container on its bridge.
const IDLE_EXIT: Duration = Duration::from_secs(3);
/// Forwarded queries in flight at once; more are dropped (the client retries).
const MAX_FORWARDS: usize = 64;

fn pid_file(dir: &Path, net: &Network) -> PathBuf {
    dir.join("dns").join(format!("{}.pid", &net.id[..12]))
}

fn running_pid(dir: &Path, net: &Network) -> Option<i32> {
    let text = fs::read_to_string(pid_file(dir, net)).ok()?;
    let (pid, start) = text.trim().split_once(' ')?;
    let pid: i32 = pid.parse().ok()?;
    (crate::process_start(pid)? == start.parse::<u64>().ok()?).then_some(pid)
}

/// Starts the network's DNS server unless it runs.
pub fn ensure_running(dir: &Path, net: &Network) -> Result<()> {
    let dns_dir = dir.join("dns");
    fs::create_dir_all(&dns_dir).ctx("create directory", &dns_dir)?;
    let lock_path = dns_dir.join(format!("{}.lock", &net.id[..12]));
    let lock = fs::File::create(&lock_path).ctx("open", &lock_path)?;
    // SAFETY: flock on our own descriptor.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    // Released explicitly, not by closing: see `state::Locked`'s Drop.
    struct Unlock(fs::File);
    impl Drop for Unlock {
        fn drop(&mut self) {
            let _ = self.0.unlock();
        }
    }
    let _lock = Unlock(lock);
    if running_pid(dir, net).is_some() {
        return Ok(());
    }
    // The running binary, even if the file was replaced meanwhile (see `berth serve`).
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let mut cmd = std::process::Command::new(&exe);
    cmd.arg("__dns").arg(&net.id).env("BERTH_NETWORK_DIR", dir);
    let msg = crate::daemonize::spawn_and_wait_ready(cmd).ctx("start DNS server", &exe)?;
    match msg.trim() {
        "ok" => Ok(()),
        m => Err(Error::Command {
            what: "starting the DNS server",
            cmd: format!("berth __dns {}", &net.id[..12]),
            reason: if m.is_empty() {
                "it exited at once".into()
            } else {
                m.to_string()
            },
        }),
    }
}

/// Stops the network's DNS server, if it runs.
pub fn stop(dir: &Path, net: &Network) {
    if let Some(pid) = running_pid(dir, net) {
        // SAFETY: a pid checked against its start time just now.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let _ = fs::remove_file(pid_file(dir, net));
}

/// Host resolvers to forward to (the DNS server runs in the host's namespace, so a
/// 127.0.0.53 stub works here).
fn upstreams() -> Vec<SocketAddr> {
    let text = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|s| s.trim().parse::<Ipv4Addr>().ok())
        .map(|ip| SocketAddr::from((ip, 53)))
        .collect()
}

/// The server: `berth __dns NETWORK-ID`. `ready` gets "ok" once it listens (or the error).
pub fn serve(dir: &Path, network_id: &str, ready: Option<fs::File>) -> Result<()> {
    let mut ready = ready;
    let mut report = |m: &str| {
        if let Some(mut f) = ready.take() {
            let _ = f.write_all(m.as_bytes());
        }
    };
    let st = state::read(dir);
    let Some(net) = st.network(network_id).cloned() else {
        report("no such network");
        return Err(Error::NotFound(network_id.to_string()));
    };
    let sock = match UdpSocket::bind((net.gateway, 53)) {
        Ok(s) => s,
        Err(e) => {
            report(&format!("listen on {}:53: {e}", net.gateway));
            return Err(e).ctx("listen", format!("{}:53", net.gateway));
        }
    };
    let pid = std::process::id() as i32;
    let start = crate::process_start(pid).unwrap_or(0);
    let pf = pid_file(dir, &net);
    let tmp = pf.with_extension("tmp");
    fs::write(&tmp, format!("{pid} {start}\n")).ctx("write", &tmp)?;
    fs::rename(&tmp, &pf).ctx("rename", &pf)?;
    report("ok");
    let _ = sock.set_read_timeout(Some(Duration::from_millis(500)));
    let upstream = upstreams();
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut endpoints: Vec<Endpoint> = st.endpoints_of(&net.id).cloned().collect();
    let mut last_check = Instant::now();
    let mut idle_since: Option<Instant> = None;
    let mut buf = [0u8; 1500];
    loop {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let query = &buf[..n];
            let mut reply = answer(query, &endpoints, from.ip());
            // A name not known yet may be a container that has just started: the state
            // (a few kB) is read again at once, not only at the next periodic look. Not
            // by its modification time: two saves in one clock tick share it.
            if matches!(reply, Some(Reply::Forward)) {
                endpoints = state::read(dir).endpoints_of(&net.id).cloned().collect();
                reply = answer(query, &endpoints, from.ip());
            }
            match reply {
                Some(Reply::Answer(r)) => {
                    let _ = sock.send_to(&r, from);
                }
                Some(Reply::Forward) if !net.internal && !upstream.is_empty() => {
                    let busy = in_flight.load(std::sync::atomic::Ordering::Relaxed) >= MAX_FORWARDS;
                    if !busy {
                        if let Ok(reply_sock) = sock.try_clone() {
                            let q = query.to_vec();
                            let ups = upstream.clone();
                            let count = in_flight.clone();
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            std::thread::spawn(move || {
                                if let Some(r) = forward(&q, &ups) {
                                    let _ = reply_sock.send_to(&r, from);
                                }
                                count.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                            });
                        }
                    }
                }
                Some(Reply::Forward) => {
                    if let Some(r) = error_reply(query, RCODE_NXDOMAIN) {
                        let _ = sock.send_to(&r, from);
                    }
                }
                None => {}
            }
        }
        if last_check.elapsed() >= Duration::from_millis(300) {
            last_check = Instant::now();
            let st = state::read(dir);
            if st.network(&net.id).is_none() {
                break;
            }
            endpoints = st.endpoints_of(&net.id).cloned().collect();
            let busy = endpoints
                .iter()
                .any(|e| crate::container_state(e) == Some(true));
            match (busy, idle_since) {
                (true, _) => idle_since = None,
                (false, None) => idle_since = Some(Instant::now()),
                (false, Some(t)) if t.elapsed() >= IDLE_EXIT => break,
                _ => {}
            }
        }
    }
    // Only remove the pid file if it is still ours.
    if fs::read_to_string(&pf)
        .map(|t| t.starts_with(&format!("{pid} ")))
        .unwrap_or(false)
    {
        let _ = fs::remove_file(&pf);
    }
    Ok(())
}

fn forward(query: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 4096];
    for up in upstreams {
        if s.send_to(query, up).is_err() {
            continue;
        }
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if from == *up && n >= 2 && buf[..2] == query[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

pub(crate) enum Reply {
    Answer(Vec<u8>),
    Forward,
}

const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;

/// The question of a query: (lower-case name without the final dot, type, end offset).
fn question(q: &[u8]) -> Option<(String, u16, usize)> {
    if q.len() < 12 || q[2] & 0x80 != 0 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression pointers have no place in a question
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
        if i > 12 + 255 {
            return None;
        }
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let qclass = u16::from_be_bytes([*q.get(i + 2)?, *q.get(i + 3)?]);
    if qclass != 1 && qclass != 255 {
        return None;
    }
    Some((labels.join("."), qtype, i + 4))
}

fn header(q: &[u8], rcode: u8, answers: u16) -> Vec<u8> {
    // QR=1, the query's opcode and RD, RA=1.
    let flags1 = 0x80 | (q[2] & 0x79);
    let flags2 = 0x80 | rcode;
    let mut h = vec![q[0], q[1], flags1, flags2, 0, 1];
    h.extend(answers.to_be_bytes());
    h.extend([0, 0, 0, 0]);
    h
}

fn error_reply(q: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let (_, _, end) = question(q)?;
    let mut r = header(q, rcode, 0);
    r.extend(&q[12..end]);
    Some(r)
}

/// The endpoints a name means on this network: container name, alias, or id (full or 12).
fn lookup<'a>(name: &str, endpoints: &'a [Endpoint]) -> Vec<&'a Endpoint> {
    endpoints
        .iter()
        .filter(|e| {
            e.container_name.eq_ignore_ascii_case(name)
                || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
                || (name.len() >= 12 && e.container_id.starts_with(name))
        })
        .collect()
}

/// What a link of the asking container's (`NAME:ALIAS`, or `NAME` for itself) makes `name`
/// mean: the container NAME. Links are the asker's alone, as with Docker.
fn linked<'a>(name: &str, endpoints: &'a [Endpoint], from: IpAddr) -> Vec<&'a Endpoint> {
    let Some(asker) = endpoints.iter().find(|e| IpAddr::V4(e.ip) == from) else {
        return Vec::new();
    };
    asker
        .links
        .iter()
        .map(|l| l.split_once(':').unwrap_or((l, l)))
        .filter(|(_, alias)| {
            alias
                .rsplit('/')
                .next()
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
        })
        .flat_map(|(target, _)| lookup(target.trim_start_matches('/'), endpoints))
        .collect()
}

/// What to do with one datagram from `from`: answer it, forward it, or drop it (None: not
/// a query).
pub(crate) fn answer(q: &[u8], endpoints: &[Endpoint], from: IpAddr) -> Option<Reply> {
    if q.len() >= 12 && q[2] & 0x80 == 0 && question(q).is_none() {
        return error_reply_raw(q, RCODE_FORMERR).map(Reply::Answer);
    }
    let (name, qtype, end) = question(q)?;
    let mut found = linked(&name, endpoints, from);
    if found.is_empty() {
        found = lookup(&name, endpoints);
    }
    if found.is_empty() {
        return Some(Reply::Forward);
    }
    // A known name without an address of the type asked (IPv6 on a network without it,
    // other records): NOERROR, no answer.
    let mut ips: Vec<IpAddr> = Vec::new();
    if qtype == TYPE_A || qtype == TYPE_ANY {
        ips.extend(found.iter().map(|e| IpAddr::V4(e.ip)));
    }
    if qtype == TYPE_AAAA || qtype == TYPE_ANY {
        ips.extend(found.iter().filter_map(|e| e.ip6.map(IpAddr::V6)));
    }
    let mut r = header(q, 0, ips.len() as u16);
    r.extend(&q[12..end]);
    for ip in ips {
        r.extend([0xC0, 0x0C]); // the name, by pointer to the question
        let (kind, data) = match ip {
            IpAddr::V4(a) => (TYPE_A, a.octets().to_vec()),
            IpAddr::V6(a) => (TYPE_AAAA, a.octets().to_vec()),
        };
        r.extend(kind.to_be_bytes());
        r.extend(1u16.to_be_bytes());
        r.extend(TTL.to_be_bytes());
        r.extend((data.len() as u16).to_be_bytes());
        r.extend(data);
    }
    Some(Reply::Answer(r))
}

fn error_reply_raw(q: &[u8], rcode: u8) -> Option<Vec<u8>> {
    let mut r = header(q, rcode, 0);
    r[4] = 0;
    r[5] = 0;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A querier that is none of the endpoints (no links apply).
    const OUTSIDE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 5, 0, 99));

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend(l.as_bytes());
        }
        q.push(0);
        q.extend(qtype.to_be_bytes());
        q.extend(1u16.to_be_bytes());
        q
    }

    fn ep(name: &str, alias: &str, ip: &str) -> Endpoint {
        Endpoint {
            container_id: format!("{name:0<64}"),
            container_name: name.into(),
            container_dir: PathBuf::new(),
            pid: 0,
            pid_start: 0,
            network_id: "n".into(),
            ip: ip.parse().unwrap(),
            ip6: None,
            asked_ip6: None,
            mac: String::new(),
            asked_ip: None,
            link_local_ips: Vec::new(),
            driver_opts: Default::default(),
            aliases: vec![alias.into()],
            links: vec![],
            ifname: "eth0".into(),
            host_veth: String::new(),
            ports: vec![],
        }
    }

    fn answers(r: &[u8]) -> Vec<Ipv4Addr> {
        let n = u16::from_be_bytes([r[6], r[7]]) as usize;
        let (_, _, end) = question(&{
            let mut q = r.to_vec();
            q[2] &= 0x7f;
            q
        })
        .unwrap();
        (0..n)
            .map(|i| {
                let at = end + i * 16 + 12;
                Ipv4Addr::new(r[at], r[at + 1], r[at + 2], r[at + 3])
            })
            .collect()
    }

    #[test]
    fn names_aliases_and_ids_resolve() {
        let eps = vec![ep("web", "www", "10.5.0.2"), ep("db", "data", "10.5.0.3")];
        for (name, want) in [
            ("web", "10.5.0.2"),
            ("WWW", "10.5.0.2"),
            ("data", "10.5.0.3"),
        ] {
            let Some(Reply::Answer(r)) = answer(&query(name, TYPE_A), &eps, OUTSIDE) else {
                panic!("{name} not answered")
            };
            assert_eq!(&r[..2], &[0x12, 0x34]);
            assert_eq!(r[3] & 0x0f, 0, "NOERROR");
            assert_eq!(answers(&r), vec![want.parse::<Ipv4Addr>().unwrap()]);
        }
        let id = eps[1].container_id[..12].to_string();
        let Some(Reply::Answer(r)) = answer(&query(&id, TYPE_A), &eps, OUTSIDE) else {
            panic!()
        };
        assert_eq!(answers(&r), vec!["10.5.0.3".parse::<Ipv4Addr>().unwrap()]);
    }

    #[test]
    fn a_name_with_an_ipv6_address_has_an_aaaa_record() {
        let mut web = ep("web", "www", "10.5.0.2");
        web.ip6 = Some("2001:db8::5".parse().unwrap());
        let Some(Reply::Answer(r)) = answer(&query("www", TYPE_AAAA), &[web], OUTSIDE) else {
            panic!()
        };
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
        let (_, _, end) = question(&{
            let mut q = r.clone();
            q[2] &= 0x7f;
            q
        })
        .unwrap();
        // name pointer, type AAAA, class IN, TTL, length 16, the address.
        assert_eq!(u16::from_be_bytes([r[end + 2], r[end + 3]]), TYPE_AAAA);
        assert_eq!(u16::from_be_bytes([r[end + 10], r[end + 11]]), 16);
        let a: [u8; 16] = r[end + 12..end + 28].try_into().unwrap();
        assert_eq!(
            std::net::Ipv6Addr::from(a),
            "2001:db8::5".parse::<std::net::Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn known_name_without_ipv6_gets_empty_answer_and_others_forward() {
        let eps = vec![ep("web", "www", "10.5.0.2")];
        let Some(Reply::Answer(r)) = answer(&query("web", TYPE_AAAA), &eps, OUTSIDE) else {
            panic!()
        };
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 0);
        assert_eq!(r[3] & 0x0f, 0);
        assert!(matches!(
            answer(&query("example.org", TYPE_A), &eps, OUTSIDE),
            Some(Reply::Forward)
        ));
    }

    #[test]
    fn malformed_queries_never_panic() {
        let eps = vec![ep("web", "www", "10.5.0.2")];
        let q = query("web", TYPE_A);
        for cut in 0..q.len() {
            let _ = answer(&q[..cut], &eps, OUTSIDE);
        }
        let mut bad = q.clone();
        bad[12] = 0xC0; // a pointer in the question
        assert!(
            matches!(answer(&bad, &eps, OUTSIDE), Some(Reply::Answer(r)) if r[3] & 0x0f == RCODE_FORMERR)
        );
        let mut resp = q;
        resp[2] |= 0x80; // a response, not a query: dropped
        assert!(answer(&resp, &eps, OUTSIDE).is_none());
    }

    #[test]
    fn a_link_is_resolved_for_the_container_that_has_it_only() {
        let mut client = ep("client", "c", "10.5.0.4");
        client.links = vec!["db:database".into(), "/web:/client/front".into()];
        let eps = vec![
            ep("web", "www", "10.5.0.2"),
            ep("db", "data", "10.5.0.3"),
            client,
        ];
        let from_client = IpAddr::V4(Ipv4Addr::new(10, 5, 0, 4));
        let Some(Reply::Answer(r)) = answer(&query("DATABASE", TYPE_A), &eps, from_client) else {
            panic!("the link's alias is not answered")
        };
        assert_eq!(answers(&r), vec!["10.5.0.3".parse::<Ipv4Addr>().unwrap()]);
        // Names as inspect shows them (`/NAME:/CONTAINER/ALIAS`) mean the same.
        let Some(Reply::Answer(r)) = answer(&query("front", TYPE_A), &eps, from_client) else {
            panic!()
        };
        assert_eq!(answers(&r), vec!["10.5.0.2".parse::<Ipv4Addr>().unwrap()]);
        // Someone else asking for the alias: not a name on this network.
        assert!(matches!(
            answer(&query("database", TYPE_A), &eps, OUTSIDE),
            Some(Reply::Forward)
        ));
    }
}
