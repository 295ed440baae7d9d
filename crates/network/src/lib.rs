//! berth's container networking, as Docker's bridge driver does it: a Linux bridge per
//! network, a veth pair per container and network, addresses from a persistent IPAM, NAT out,
//! published ports as DNAT rules, and an embedded DNS server on user-defined networks so
//! containers find each other by name.
//!
//! The runtime calls [`Networking::allocate`] when a container is created (its addresses are
//! leased until it is removed), [`Networking::start`] once its network namespace exists and
//! [`Networking::stop`] when it has exited, [`Networking::release`] when it is removed.
//! Everything berth creates is found again from the kernel (rule tags, interface names), so
//! [`Networking::reconcile`] cleans up after a berth process that was killed.

pub mod command;
pub mod daemonize;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod state;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use ports::{parse_exposed, parse_publish, PortMapping, PortRequest, Proto};
pub use state::{Endpoint, Network, DEFAULT_BRIDGE, DEFAULT_NETWORK};

use command::{ip_batch, sysctl};

/// Networks that exist without being created, as in Docker.
pub const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

/// `network create` options.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    /// `--ip-range`: the part of the subnet addresses are handed out from.
    pub ip_range: Option<String>,
    /// `--aux-address NAME=IP`: addresses kept out of the containers' way.
    pub aux_addresses: Vec<(String, String)>,
    pub internal: bool,
    pub labels: Vec<String>,
    /// IPAM options were sent (empty: berth's IPAM has none); see `Network`.
    pub ipam_options_given: bool,
    /// `--ipv6`: IPv6 beside IPv4, from `ipv6_subnet` (else a unique local /64 of berth's).
    pub enable_ipv6: bool,
    pub ipv6_subnet: Option<String>,
    pub ipv6_gateway: Option<String>,
    pub ipv6_ip_range: Option<String>,
}

/// A container's request to join a network (`--network`, `--network-alias`, `--ip`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Links scoped to this network (`NAME` or `NAME:ALIAS`), user-defined networks only.
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`: the IPv6 address asked for, on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    /// The container interface's MAC address; None: Docker's, from the IP (02:42:a:b:c:d).
    #[serde(default)]
    pub mac: Option<String>,
    /// More addresses on the container's interface (Docker's `LinkLocalIPs`).
    #[serde(default)]
    pub link_local_ips: Vec<std::net::IpAddr>,
    /// The endpoint's driver options, kept and shown; the bridge driver has none of its own
    /// for endpoints (Docker's ignores those it does not know too).
    #[serde(default)]
    pub driver_opts: std::collections::BTreeMap<String, String>,
}

/// A MAC address as six bytes (`02:42:ac:11:00:02`); None when it is not one.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Docker's MAC address for an IPv4 address: 02:42 and the address's four bytes.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

/// What a running container holds: its host port reservations. Drop it once it has exited.
pub struct Running {
    _reservations: Vec<ports::Reservation>,
}

/// Network state is host-wide, as bridges and firewall rules are: every berth root on the
/// host shares it (as podman's network config is shared), so two roots never hand out the
/// same address or fight over a bridge.
pub struct Networking {
    dir: PathBuf,
}

/// `$BERTH_NETWORK_DIR`, or /var/lib/berth/network. Only a separate network namespace (a test
/// harness's, say) should use another one.
pub fn default_dir() -> PathBuf {
    std::env::var_os("BERTH_NETWORK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/berth/network"))
}

/// Start time of a live process (field 22 of /proc/PID/stat), to tell it from a later process
/// that got the same pid.
fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // A zombie has exited: its network namespace is already gone.
    if matches!(fields.next()?, "Z" | "X") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Whether an endpoint's container still exists (None if not) and whether it runs.
pub(crate) fn container_state(e: &Endpoint) -> Option<bool> {
    if !e.container_dir.join("container.json").exists() {
        return None;
    }
    Some(e.pid > 0 && process_start(e.pid) == Some(e.pid_start))
}

/// A flag's value refused, with what was expected.
fn bad_flag(flag: &'static str, value: &str, reason: &str) -> Error {
    Error::BadFlag {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn random_id() -> String {
    let mut b = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    hex::encode(b)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Asked of the kernel for the caller's network namespace (/sys/class/net would show the
/// namespace of whoever mounted /sys).
fn link_exists(name: &str) -> bool {
    if_index(name) != 0
}

/// The interface's index in the caller's network namespace (0 if there is none).
fn if_index(name: &str) -> u32 {
    let Ok(c) = std::ffi::CString::new(name) else {
        return 0;
    };
    // SAFETY: a NUL-terminated name.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

fn delete_link(name: &str) {
    if !name.is_empty() && link_exists(name) {
        let _ = ip_batch("delete link", &format!("link del {name}\n"), None);
    }
}

/// The host end of a container's veth: `bv` + 11 characters of the id + interface number.
fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let n = ifname.trim_start_matches("eth");
    format!("bv{}{}", &container_id[..11.min(container_id.len())], n)
}

impl Networking {
    pub fn open(dir: &Path) -> Networking {
        Networking {
            dir: dir.to_path_buf(),
        }
    }

    fn lock(&self) -> Result<state::Locked> {
        state::lock(&self.dir)
    }

    /// Adds the default `bridge` network to the state if it is not there yet.
    fn ensure_default(st: &mut state::State) -> Result<()> {
        if st.network(DEFAULT_NETWORK).is_some() {
            return Ok(());
        }
        let subnet = st.choose_subnet(&state::host_routes())?;
        st.networks.insert(
            0,
            Network {
                id: random_id(),
                name: DEFAULT_NETWORK.into(),
                driver: "bridge".into(),
                gateway: subnet.hosts().next().ok_or(Error::NoPool)?,
                subnet,
                bridge: DEFAULT_BRIDGE.into(),
                ip_range: None,
                aux_addresses: BTreeMap::new(),
                internal: false,
                labels: BTreeMap::new(),
                created: now(),
                ipam_options_given: false,
                ipv6: None,
            },
        );
        Ok(())
    }

    /// `network create`.
    pub fn create(&self, o: &CreateOptions) -> Result<Network> {
        let bad = bad_flag;
        if let Some(d) = &o.driver {
            if d != "bridge" {
                return Err(bad("--driver", d, "only the bridge driver is supported"));
            }
        }
        // Docker takes any name ("test 01" too); the name is never a path or an interface.
        let valid = !o.name.trim().is_empty() && !o.name.chars().any(char::is_control);
        if !valid {
            return Err(bad(
                "network name",
                &o.name,
                "a name that is not empty and has no control characters",
            ));
        }
        let mut locked = self.lock()?;
        Self::ensure_default(&mut locked.state)?;
        let st = &mut locked.state;
        if PREDEFINED.contains(&o.name.as_str()) || st.networks.iter().any(|n| n.name == o.name) {
            return Err(Error::Exists(o.name.clone()));
        }
        let routes = state::host_routes();
        let subnet = match &o.subnet {
            Some(s) => {
                let net: Ipv4Net = s.parse().map_err(|_| {
                    bad("--subnet", s, "expected an IPv4 CIDR such as 10.20.0.0/16")
                })?;
                if net.prefix_len() > 30 {
                    return Err(bad("--subnet", s, "the subnet is too small (at most /30)"));
                }
                let net = net.trunc();
                if let Some(what) = st.overlap(&net, &routes) {
                    return Err(Error::Overlap(what));
                }
                net
            }
            None => st.choose_subnet(&routes)?,
        };
        let gateway = match &o.gateway {
            Some(g) => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| bad("--gateway", g, "expected an IPv4 address"))?;
                if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
                    return Err(bad(
                        "--gateway",
                        g,
                        &format!("not a host address of {subnet}"),
                    ));
                }
                ip
            }
            None => subnet.hosts().next().ok_or(Error::NoPool)?,
        };
        let ip_range = match &o.ip_range {
            Some(r) => {
                let range: Ipv4Net = r.parse().map_err(|_| {
                    bad(
                        "--ip-range",
                        r,
                        "expected an IPv4 CIDR such as 10.20.5.0/24",
                    )
                })?;
                let range = range.trunc();
                if !subnet.contains(&range) {
                    return Err(bad(
                        "--ip-range",
                        r,
                        &format!("no matching subnet for range {r} (the subnet is {subnet})"),
                    ));
                }
                Some(range)
            }
            None => None,
        };
        let mut aux_addresses = BTreeMap::new();
        for (name, a) in &o.aux_addresses {
            let ip: Ipv4Addr = a
                .parse()
                .map_err(|_| bad("--aux-address", a, "expected NAME=IPv4-ADDRESS"))?;
            if !subnet.contains(&ip) {
                return Err(bad(
                    "--aux-address",
                    a,
                    &format!("no matching subnet for aux-address {a} (the subnet is {subnet})"),
                ));
            }
            aux_addresses.insert(name.clone(), ip);
        }
        let ipv6 = Self::ipv6_pool(o)?;
        let mut labels = BTreeMap::new();
        for l in &o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            labels.insert(k.to_string(), v.to_string());
        }
        let id = random_id();
        let net = Network {
            bridge: format!("berth-{}", &id[..9]),
            id,
            name: o.name.clone(),
            driver: "bridge".into(),
            subnet,
            gateway,
            ip_range,
            aux_addresses,
            internal: o.internal,
            labels,
            created: now(),
            ipam_options_given: o.ipam_options_given,
            ipv6,
        };
        st.networks.push(net.clone());
        locked.save()?;
        Ok(net)
    }

    /// The IPv6 pool `--ipv6` and the IPv6 `--subnet`/`--gateway`/`--ip-range` ask for.
    fn ipv6_pool(o: &CreateOptions) -> Result<Option<state::Ipv6Pool>> {
        let bad = bad_flag;
        if !o.enable_ipv6 {
            return match &o.ipv6_subnet {
                Some(s) => Err(bad("--subnet", s, "an IPv6 subnet needs --ipv6")),
                None => Ok(None),
            };
        }
        let subnet: Ipv6Net = match &o.ipv6_subnet {
            Some(s) => {
                let net: Ipv6Net = s.parse().map_err(|_| {
                    bad("--subnet", s, "expected an IPv6 CIDR such as 2001:db8::/64")
                })?;
                if net.prefix_len() > 120 {
                    return Err(bad("--subnet", s, "the subnet is too small (at most /120)"));
                }
                net.trunc()
            }
            // A unique local /64 of its own (RFC 4193), as Docker's default IPv6 pools give.
            None => {
                let r = random_id();
                let word = |i: usize| u16::from_str_radix(&r[i..i + 4], 16).unwrap_or(0);
                let a = Ipv6Addr::new(0xfd00 | (word(0) & 0xff), word(4), word(8), 0, 0, 0, 0, 0);
                Ipv6Net::new(a, 64).map_err(|_| Error::NoPool)?
            }
        };
        let host = |ip: &Ipv6Addr| subnet.contains(ip) && *ip != subnet.network();
        let gateway = match &o.ipv6_gateway {
            Some(g) => {
                let ip: Ipv6Addr = g
                    .parse()
                    .map_err(|_| bad("--gateway", g, "expected an IPv6 address"))?;
                if !host(&ip) {
                    return Err(bad(
                        "--gateway",
                        g,
                        &format!("not a host address of {subnet}"),
                    ));
                }
                ip
            }
            None => Ipv6Addr::from(u128::from(subnet.network()) + 1),
        };
        let ip_range = match &o.ipv6_ip_range {
            Some(r) => {
                let range: Ipv6Net = r
                    .parse()
                    .map_err(|_| bad("--ip-range", r, "expected an IPv6 CIDR"))?;
                if !subnet.contains(&range) {
                    return Err(bad(
                        "--ip-range",
                        r,
                        &format!("no matching subnet for range {r} (the subnet is {subnet})"),
                    ));
                }
                Some(range.trunc())
            }
            None => None,
        };
        Ok(Some(state::Ipv6Pool {
            subnet,
            gateway,
            ip_range,
        }))
    }

    /// All bridge networks (the default one included).
    pub fn list(&self) -> Result<Vec<Network>> {
        let mut locked = self.lock()?;
        if locked.state.network(DEFAULT_NETWORK).is_none() {
            Self::ensure_default(&mut locked.state)?;
            locked.save()?;
        }
        Ok(locked.state.networks.clone())
    }

    pub fn get(&self, key: &str) -> Result<Network> {
        self.list()?
            .into_iter()
            .find(|n| n.name == key)
            .or_else(|| state::read(&self.dir).network(key).cloned())
            .ok_or_else(|| Error::NotFound(key.to_string()))
    }

    pub fn endpoints(&self, network_id: &str) -> Vec<Endpoint> {
        state::read(&self.dir)
            .endpoints_of(network_id)
            .cloned()
            .collect()
    }

    /// A container's endpoints with their networks, in interface order.
    pub fn container_endpoints(&self, container_id: &str) -> Vec<(Network, Endpoint)> {
        let st = state::read(&self.dir);
        let mut v: Vec<(Network, Endpoint)> = st
            .endpoints
            .iter()
            .filter(|e| e.container_id == container_id)
            .filter_map(|e| {
                st.networks
                    .iter()
                    .find(|n| n.id == e.network_id)
                    .map(|n| (n.clone(), e.clone()))
            })
            .collect();
        v.sort_by(|a, b| a.1.ifname.cmp(&b.1.ifname));
        v
    }

    /// `network rm`.
    pub fn remove(&self, key: &str) -> Result<String> {
        if PREDEFINED.contains(&key) {
            return Err(Error::Predefined(key.to_string()));
        }
        let mut locked = self.lock()?;
        let net = locked
            .state
            .network(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        if net.is_default() {
            return Err(Error::Predefined(net.name));
        }
        if locked.state.endpoints_of(&net.id).next().is_some() {
            return Err(Error::InUse {
                name: net.name,
                id: net.id,
            });
        }
        self.tear_down_network(&net)?;
        locked.state.networks.retain(|n| n.id != net.id);
        locked.state.last_leased.remove(&net.id);
        locked.save()?;
        Ok(net.name)
    }

    fn tear_down_network(&self, net: &Network) -> Result<()> {
        dns::stop(&self.dir, net);
        let tag = firewall::network_tag(net);
        firewall::remove_where(&|t| t == tag)?;
        delete_link(&net.bridge);
        Ok(())
    }

    /// `network prune`: user-defined networks without containers, but those `keep` keeps
    /// (the caller's filters).
    pub fn prune(&self, keep: &dyn Fn(&Network) -> bool) -> Result<Vec<String>> {
        let mut locked = self.lock()?;
        let unused: Vec<Network> = locked
            .state
            .networks
            .iter()
            .filter(|n| !n.is_default() && locked.state.endpoints_of(&n.id).next().is_none())
            .filter(|n| !keep(n))
            .cloned()
            .collect();
        for n in &unused {
            self.tear_down_network(n)?;
        }
        // The default network stays defined, but its bridge and rules go while no container
        // is on it (they come back with the next container): nothing of berth's is left on a
        // host that no longer runs containers.
        if let Some(default) = locked.state.network(DEFAULT_NETWORK).cloned() {
            if locked.state.endpoints_of(&default.id).next().is_none() {
                self.tear_down_network(&default)?;
            }
        }
        locked
            .state
            .networks
            .retain(|n| !unused.iter().any(|u| u.id == n.id));
        for n in &unused {
            locked.state.last_leased.remove(&n.id);
        }
        locked.save()?;
        Ok(unused.into_iter().map(|n| n.name).collect())
    }

    fn new_endpoint(
        st: &state::State,
        container_id: &str,
        container_name: &str,
        container_dir: &Path,
        a: &Attachment,
    ) -> Result<Endpoint> {
        let net = st
            .network(&a.network)
            .cloned()
            .ok_or_else(|| Error::NotFound(a.network.clone()))?;
        if st
            .endpoints
            .iter()
            .any(|e| e.container_id == container_id && e.network_id == net.id)
        {
            return Err(Error::AlreadyAttached {
                container: container_name.to_string(),
                network: net.name,
            });
        }
        if net.is_default() && !a.aliases.is_empty() {
            return Err(Error::BadFlag {
                flag: "--network-alias",
                value: a.aliases.join(","),
                reason: "network-scoped aliases are only supported for user-defined networks"
                    .into(),
            });
        }
        if net.is_default() && !a.links.is_empty() {
            return Err(Error::BadFlag {
                flag: "--link",
                value: a.links.join(","),
                reason: "links of an endpoint are only supported for user-defined networks (on the default bridge, give them to the container: HostConfig.Links)".into(),
            });
        }
        if net.is_default() && (a.ip.is_some() || a.ip6.is_some()) {
            let (flag, value) = match (a.ip, a.ip6) {
                (Some(ip), _) => ("--ip", ip.to_string()),
                (None, ip6) => ("--ip6", ip6.map(|i| i.to_string()).unwrap_or_default()),
            };
            return Err(Error::BadFlag {
                flag,
                value,
                reason: "user specified IP address is supported on user defined networks only"
                    .into(),
            });
        }
        let n = (0..)
            .find(|i| {
                !st.endpoints
                    .iter()
                    .any(|e| e.container_id == container_id && e.ifname == format!("eth{i}"))
            })
            .unwrap_or(0);
        let ifname = format!("eth{n}");
        Ok(Endpoint {
            container_id: container_id.to_string(),
            container_name: container_name.to_string(),
            container_dir: container_dir.to_path_buf(),
            pid: 0,
            pid_start: 0,
            network_id: net.id.clone(),
            ip: st.allocate_ip(&net, a.ip)?,
            ip6: st.allocate_ip6(&net, a.ip6)?,
            asked_ip6: a.ip6,
            mac: a.mac.clone().unwrap_or_default(),
            asked_ip: a.ip,
            link_local_ips: a.link_local_ips.clone(),
            driver_opts: a.driver_opts.clone(),
            aliases: a.aliases.clone(),
            links: a.links.clone(),
            host_veth: host_veth_name(container_id, &ifname),
            ifname,
            ports: Vec::new(),
        })
    }

    /// Leases addresses for a new container on the networks it asks for. Nothing is kept if
    /// one of them fails.
    pub fn allocate(
        &self,
        container_id: &str,
        container_name: &str,
        container_dir: &Path,
        attachments: &[Attachment],
    ) -> Result<Vec<(Network, Endpoint)>> {
        let mut locked = self.lock()?;
        Self::ensure_default(&mut locked.state)?;
        let before = locked.state.endpoints.len();
        for a in attachments {
            match Self::new_endpoint(
                &locked.state,
                container_id,
                container_name,
                container_dir,
                a,
            ) {
                Ok(e) => locked.state.add_endpoint(e),
                Err(e) => {
                    locked.state.endpoints.truncate(before);
                    return Err(e);
                }
            }
        }
        locked.save()?;
        drop(locked);
        Ok(self.container_endpoints(container_id))
    }

    /// Sets up a bridge (with its rules) if the host does not have it yet (first use, or
    /// after a reboot).
    fn ensure_bridge(net: &Network) -> Result<()> {
        if link_exists(&net.bridge) {
            return Ok(());
        }
        firewall::ensure_base()?;
        let batch = format!(
            "link add {br} type bridge\naddr add {gw}/{p} dev {br}\nlink set {br} up\n",
            br = net.bridge,
            gw = net.gateway,
            p = net.subnet.prefix_len()
        );
        ip_batch("create bridge", &batch, None)?;
        if let Some(v6) = &net.ipv6 {
            // A host that turns IPv6 off for new links would refuse the address.
            sysctl(&format!("net/ipv6/conf/{}/disable_ipv6", net.bridge), "0")?;
            let batch = format!(
                "addr add {gw}/{p} dev {br} nodad\n",
                br = net.bridge,
                gw = v6.gateway,
                p = v6.subnet.prefix_len()
            );
            ip_batch("give the bridge its IPv6 address", &batch, None)?;
        }
        sysctl("net/ipv4/ip_forward", "1")?;
        // DNAT of connections to 127.0.0.1 towards the bridge (what podman/netavark do too).
        sysctl(&format!("net/ipv4/conf/{}/route_localnet", net.bridge), "1")?;
        let tag = firewall::network_tag(net);
        firewall::remove_where(&|t| t == tag)?;
        firewall::add_network(net)
    }

    /// Wires one endpoint into the namespace of `pid` (host side: veth into the bridge).
    fn plug(net: &Network, e: &Endpoint, pid: i32, default_route: bool) -> Result<()> {
        Self::ensure_bridge(net)?;
        delete_link(&e.host_veth);
        let bridge_index = if_index(&net.bridge);
        let mac = parse_mac(&e.mac_address()).ok_or_else(|| Error::BadFlag {
            flag: "--mac-address",
            value: e.mac_address(),
            reason: "expected a MAC address such as 02:42:ac:11:00:02".into(),
        })?;
        netlink::create_veth(&e.host_veth, &e.ifname, pid, bridge_index, Some(mac)).map_err(
            |err| Error::Command {
                what: "create veth",
                cmd: format!(
                    "netlink: link add {} type veth peer name {} netns {pid} master {}",
                    e.host_veth, e.ifname, net.bridge
                ),
                reason: err.to_string(),
            },
        )?;
        let ipv6 = match (&net.ipv6, e.ip6) {
            (Some(pool), Some(address)) => Some(netns::Ipv6Setup {
                address,
                prefix: pool.subnet.prefix_len(),
                gateway: default_route.then_some(pool.gateway),
            }),
            _ => None,
        };
        netns::configure_interface(
            pid,
            &e.ifname,
            e.ip,
            net.subnet.prefix_len(),
            default_route.then_some(net.gateway),
            ipv6,
            &e.link_local_ips,
        )
    }

    /// Connects a started container (init process `pid`) to its networks and publishes its
    /// ports on the first one. Keep the returned value until the container has exited.
    pub fn start(&self, container_id: &str, pid: i32, publish: &[PortRequest]) -> Result<Running> {
        let mut locked = self.lock()?;
        let eps = {
            let st = &locked.state;
            let mut v: Vec<(Network, Endpoint)> = st
                .endpoints
                .iter()
                .filter(|e| e.container_id == container_id)
                .filter_map(|e| st.network(&e.network_id).map(|n| (n.clone(), e.clone())))
                .collect();
            v.sort_by(|a, b| a.1.ifname.cmp(&b.1.ifname));
            v
        };
        let mut route_set = false;
        for (net, e) in &eps {
            let route = !route_set && !net.internal;
            route_set |= route;
            Self::plug(net, e, pid, route)?;
        }
        let pid_start = process_start(pid).unwrap_or(0);
        for e in locked
            .state
            .endpoints
            .iter_mut()
            .filter(|e| e.container_id == container_id)
        {
            e.pid = pid;
            e.pid_start = pid_start;
        }
        locked.save()?;
        let mut reservations = Vec::new();
        if let Some((net, first)) = eps.first() {
            if !publish.is_empty() && !net.internal {
                reservations = ports::reserve(publish)?;
                let maps: Vec<PortMapping> =
                    reservations.iter().map(|r| r.mapping.clone()).collect();
                firewall::add_ports(container_id, first.ip, &maps)?;
                if let Some(e) = locked
                    .state
                    .endpoints
                    .iter_mut()
                    .find(|e| e.container_id == container_id && e.ifname == first.ifname)
                {
                    e.ports = maps;
                }
                locked.save()?;
            }
        }
        drop(locked);
        for (net, _) in &eps {
            if !net.is_default() {
                dns::ensure_running(&self.dir, net)?;
            }
        }
        Ok(Running {
            _reservations: reservations,
        })
    }

    /// Undoes `start` once the container has exited: port rules go; leases stay. Its veths
    /// need no work: the kernel removes them with the container's network namespace (deleting
    /// one by hand costs ~17 ms of RCU waiting here, more than the rest of the start-up).
    pub fn stop(&self, container_id: &str) -> Result<()> {
        let mut locked = self.lock()?;
        Self::unpublish(&mut locked.state, container_id)?;
        locked.save()
    }

    fn unpublish(st: &mut state::State, container_id: &str) -> Result<()> {
        let had_ports = st
            .endpoints
            .iter()
            .any(|e| e.container_id == container_id && !e.ports.is_empty());
        if had_ports {
            let tag = firewall::container_tag(container_id);
            firewall::remove_where(&|t| t == tag)?;
        }
        for e in st
            .endpoints
            .iter_mut()
            .filter(|e| e.container_id == container_id)
        {
            e.ports.clear();
            e.pid = 0;
        }
        Ok(())
    }

    /// Frees everything of a removed (or exited `--rm`) container, its leases included.
    pub fn release(&self, container_id: &str) -> Result<()> {
        let mut locked = self.lock()?;
        if !locked
            .state
            .endpoints
            .iter()
            .any(|e| e.container_id == container_id)
        {
            return Ok(());
        }
        Self::unpublish(&mut locked.state, container_id)?;
        locked
            .state
            .endpoints
            .retain(|e| e.container_id != container_id);
        locked.save()
    }

    /// `network connect`: leases an address and, if the container runs (`pid`), plugs it in.
    pub fn connect(
        &self,
        container_id: &str,
        container_name: &str,
        container_dir: &Path,
        a: &Attachment,
        pid: Option<i32>,
    ) -> Result<Endpoint> {
        let mut locked = self.lock()?;
        Self::ensure_default(&mut locked.state)?;
        let mut e = Self::new_endpoint(
            &locked.state,
            container_id,
            container_name,
            container_dir,
            a,
        )?;
        let net = locked
            .state
            .network(&e.network_id)
            .cloned()
            .ok_or_else(|| Error::NotFound(a.network.clone()))?;
        if let Some(pid) = pid {
            let has_route = locked
                .state
                .endpoints
                .iter()
                .filter(|x| x.container_id == container_id)
                .any(|x| {
                    locked
                        .state
                        .network(&x.network_id)
                        .is_some_and(|n| !n.internal)
                });
            Self::plug(&net, &e, pid, !has_route && !net.internal)?;
            e.pid = pid;
            e.pid_start = process_start(pid).unwrap_or(0);
        }
        locked.state.add_endpoint(e.clone());
        locked.save()?;
        drop(locked);
        if pid.is_some() && !net.is_default() {
            dns::ensure_running(&self.dir, &net)?;
        }
        Ok(e)
    }

    /// `network disconnect`.
    pub fn disconnect(
        &self,
        container_id: &str,
        container_name: &str,
        network: &str,
    ) -> Result<()> {
        let mut locked = self.lock()?;
        let net = locked
            .state
            .network(network)
            .cloned()
            .ok_or_else(|| Error::NotFound(network.to_string()))?;
        let Some(pos) = locked
            .state
            .endpoints
            .iter()
            .position(|e| e.container_id == container_id && e.network_id == net.id)
        else {
            return Err(Error::NotAttached {
                container: container_name.to_string(),
                network: net.name,
            });
        };
        let e = locked.state.endpoints.remove(pos);
        if !e.ports.is_empty() {
            let tag = firewall::container_tag(container_id);
            firewall::remove_where(&|t| t == tag)?;
        }
        delete_link(&e.host_veth);
        locked.save()
    }

    /// Keeps DNS names right after `rename`.
    pub fn rename(&self, container_id: &str, new_name: &str) -> Result<()> {
        let mut locked = self.lock()?;
        let mut changed = false;
        for e in locked
            .state
            .endpoints
            .iter_mut()
            .filter(|e| e.container_id == container_id)
        {
            e.container_name = new_name.to_string();
            changed = true;
        }
        if changed {
            locked.save()?;
        }
        Ok(())
    }

    /// Published ports of a container, as recorded while it runs.
    pub fn published(&self, container_id: &str) -> Vec<PortMapping> {
        state::read(&self.dir)
            .endpoints
            .iter()
            .filter(|e| e.container_id == container_id)
            .flat_map(|e| e.ports.clone())
            .collect()
    }

    /// Removes what berth processes that died left behind: leases of containers that no
    /// longer exist, rules and veths of containers that no longer run, rules and bridges of
    /// networks that no longer exist.
    pub fn reconcile(&self) -> Result<()> {
        let mut locked = self.lock()?;
        let st = &mut locked.state;
        let before = st.endpoints.len();
        let mut stale_veths = Vec::new();
        st.endpoints.retain(|e| {
            let keep = container_state(e).is_some();
            if !keep {
                stale_veths.push(e.host_veth.clone());
            }
            keep
        });
        let mut changed = st.endpoints.len() != before;
        let mut running = Vec::new();
        for e in st.endpoints.iter_mut() {
            if container_state(e) == Some(true) {
                running.push(firewall::container_tag(&e.container_id));
            } else {
                stale_veths.push(e.host_veth.clone());
                if !e.ports.is_empty() || e.pid != 0 {
                    e.ports.clear();
                    e.pid = 0;
                    changed = true;
                }
            }
        }
        let nets: Vec<String> = st.networks.iter().map(firewall::network_tag).collect();
        let doomed = |t: &str| {
            if t.starts_with("berth-net:") {
                !nets.iter().any(|n| n == t)
            } else {
                !running.iter().any(|r| r == t)
            }
        };
        if firewall::tags().iter().any(|t| doomed(t)) {
            firewall::remove_where(&doomed)?;
        }
        for v in stale_veths {
            delete_link(&v);
        }
        // Bridges of berth's naming that no network owns any more (removal interrupted).
        let bridges = command::run(
            "list bridges",
            "ip",
            &["-o", "link", "show", "type", "bridge"],
            None,
            None,
        )
        .unwrap_or_default();
        for line in bridges.lines() {
            let name = line.split(':').nth(1).unwrap_or("").trim();
            let name = name.split('@').next().unwrap_or(name);
            if name.starts_with("berth") && !st.networks.iter().any(|n| n.bridge == name) {
                delete_link(name);
            }
        }
        if changed {
            locked.save()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod mac_tests {
    use super::*;

    #[test]
    fn macs_are_parsed_and_derived_as_dockers() {
        assert_eq!(
            parse_mac("02:42:AC:11:00:0a"),
            Some([2, 0x42, 0xac, 0x11, 0, 0x0a])
        );
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42:ac:11:00:0a:01"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:0a"), None);
        assert_eq!(mac_for("172.17.0.2".parse().unwrap()), "02:42:ac:11:00:02");
    }
}
