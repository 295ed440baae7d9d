//! Networks and endpoints on disk (`<root>/network/state.json`), changed only under an
//! exclusive lock (`<root>/network/lock`), so IP leases are never handed out twice, even by
//! berth processes running side by side. Also the address management (IPAM) that works on it.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::ports::PortMapping;

/// A bridge network.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Where addresses are handed out from (None: the whole subnet).
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    /// Addresses no container gets (AuxiliaryAddresses).
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
    /// The Linux bridge on the host.
    pub bridge: String,
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub created: String,
    /// Whether the creator sent IPAM options (empty ones: berth has none of its own); inspect
    /// shows `{}` then, `null` otherwise, as Docker does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ipam_options_given: bool,
    /// IPv6 beside IPv4 (`--ipv6`, `EnableIPv6`): containers get an address of this pool too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Pool>,
}

/// A network's IPv6 subnet, gateway (the bridge's address) and the range addresses are
/// handed out from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Pool {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    #[serde(default)]
    pub ip_range: Option<Ipv6Net>,
}

impl Network {
    /// The default `bridge` network: no DNS between containers, as in Docker.
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_NETWORK
    }
}

/// A container's place on a network; the lease of its address lives as long as it does.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Endpoint {
    pub container_id: String,
    pub container_name: String,
    /// The container's record directory: the endpoint is stale once it is gone.
    pub container_dir: PathBuf,
    /// The container's init process while it runs (0 otherwise), with its start time.
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub pid_start: u64,
    pub network_id: String,
    pub ip: Ipv4Addr,
    /// The MAC address asked for; empty: Docker's, from the IP (`mac_address`).
    #[serde(default)]
    pub mac: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Links of a user-defined network, as asked (`NAME` or `NAME:ALIAS`): the container
    /// alone resolves ALIAS to the container NAME on this network.
    #[serde(default)]
    pub links: Vec<String>,
    /// The address that was asked for (IPAMConfig.IPv4Address), if one was.
    #[serde(default)]
    pub asked_ip: Option<Ipv4Addr>,
    /// The IPv6 address on a network with IPv6, and the one asked for (IPv6Address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_ip6: Option<Ipv6Addr>,
    /// Further addresses on the interface (IPAMConfig.LinkLocalIPs).
    #[serde(default)]
    pub link_local_ips: Vec<std::net::IpAddr>,
    /// The endpoint's DriverOpts, as given.
    #[serde(default)]
    pub driver_opts: std::collections::BTreeMap<String, String>,
    /// The interface inside the container (eth0, eth1, …).
    pub ifname: String,
    /// The veth end on the host, attached to the bridge.
    pub host_veth: String,
    /// Published ports while the container runs (empty otherwise).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
}

impl Endpoint {
    /// The container interface's MAC address: the one asked for, else Docker's from the IP.
    pub fn mac_address(&self) -> String {
        if self.mac.is_empty() {
            crate::mac_for(self.ip)
        } else {
            self.mac.clone()
        }
    }
}

#[derive(Serialize, Deserialize, Default, Debug)]
pub struct State {
    #[serde(default)]
    pub networks: Vec<Network>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// The address each network leased last (by network id): the next lease starts after
    /// it. See `allocate_ip`.
    #[serde(default)]
    pub last_leased: BTreeMap<String, Ipv4Addr>,
}

pub const DEFAULT_NETWORK: &str = "bridge";
pub const DEFAULT_BRIDGE: &str = "berth0";

impl State {
    pub fn network(&self, key: &str) -> Option<&Network> {
        self.networks
            .iter()
            .find(|n| n.name == key)
            .or_else(|| self.networks.iter().find(|n| n.id == key))
            .or_else(|| {
                let mut m = self.networks.iter().filter(|n| n.id.starts_with(key));
                match (m.next(), m.next()) {
                    (Some(n), None) if !key.is_empty() => Some(n),
                    _ => None,
                }
            })
    }

    pub fn endpoints_of<'a>(
        &'a self,
        network_id: &'a str,
    ) -> impl Iterator<Item = &'a Endpoint> + 'a {
        self.endpoints
            .iter()
            .filter(move |e| e.network_id == network_id)
    }

    /// Leases `e`'s address (see `allocate_ip`).
    pub fn add_endpoint(&mut self, e: Endpoint) {
        self.last_leased.insert(e.network_id.clone(), e.ip);
        self.endpoints.push(e);
    }

    /// The first free address of the network after the one leased last, wrapping around (or
    /// `wanted`, if free and inside it). Round-robin, as podman's (CNI host-local) IPAM
    /// does, rather than the lowest free address: a new container must not take the address
    /// of one just removed, whose connections the kernel still tracks (for two minutes after
    /// they close). Its NAT then had to pick other ports for clients of the new container's
    /// published ports, and the container, handed connections whose TCP timestamps did not
    /// follow those of the earlier ones on the same ports, refused them as old (PAWS):
    /// throughput through `-p` fell to a fifth, round after round.
    pub fn allocate_ip(&self, net: &Network, wanted: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        let used = |ip: Ipv4Addr| {
            ip == net.gateway
                || ip == net.subnet.network()
                || ip == net.subnet.broadcast()
                || net.aux_addresses.values().any(|a| *a == ip)
                || self.endpoints_of(&net.id).any(|e| e.ip == ip)
        };
        if let Some(ip) = wanted {
            if !net.subnet.contains(&ip) {
                return Err(Error::BadFlag {
                    flag: "--ip",
                    value: ip.to_string(),
                    reason: format!("not in network {}'s subnet {}", net.name, net.subnet),
                });
            }
            if used(ip) {
                return Err(Error::AddressInUse(ip.to_string()));
            }
            return Ok(ip);
        }
        let after = self.last_leased.get(&net.id).copied();
        let past = move |ip: &Ipv4Addr| after.is_some_and(|a| *ip <= a);
        // Addresses asked for may be anywhere in the subnet; the others come from the range.
        let pool = net.ip_range.unwrap_or(net.subnet);
        let in_pool = move |ip: &Ipv4Addr| pool.contains(ip);
        net.subnet
            .hosts()
            .filter(in_pool)
            .skip_while(past)
            .chain(net.subnet.hosts().filter(in_pool).take_while(past))
            .find(|ip| !used(*ip))
            .ok_or_else(|| Error::Exhausted(net.name.clone()))
    }

    /// An IPv6 address on `net` for a new endpoint: `wanted` if it is free, else the first
    /// free one of the range (None on a network without IPv6, where asking is an error).
    pub fn allocate_ip6(
        &self,
        net: &Network,
        wanted: Option<Ipv6Addr>,
    ) -> Result<Option<Ipv6Addr>> {
        let Some(pool) = &net.ipv6 else {
            return match wanted {
                Some(ip) => Err(Error::BadFlag {
                    flag: "--ip6",
                    value: ip.to_string(),
                    reason: format!("network {} has no IPv6 (create it with --ipv6)", net.name),
                }),
                None => Ok(None),
            };
        };
        let used = |ip: Ipv6Addr| {
            ip == pool.gateway
                || ip == pool.subnet.network()
                || self.endpoints_of(&net.id).any(|e| e.ip6 == Some(ip))
        };
        if let Some(ip) = wanted {
            if !pool.subnet.contains(&ip) {
                return Err(Error::BadFlag {
                    flag: "--ip6",
                    value: ip.to_string(),
                    reason: format!("not in network {}'s subnet {}", net.name, pool.subnet),
                });
            }
            if used(ip) {
                return Err(Error::AddressInUse(ip.to_string()));
            }
            return Ok(Some(ip));
        }
        let range = pool.ip_range.unwrap_or(pool.subnet);
        let base = u128::from(range.network());
        // A /64 has more addresses than containers: the first free one after the start.
        (1..=u128::from(u16::MAX))
            .filter_map(|i| base.checked_add(i).map(Ipv6Addr::from))
            .take_while(|ip| range.contains(ip))
            .find(|ip| !used(*ip))
            .map(Some)
            .ok_or_else(|| Error::Exhausted(net.name.clone()))
    }

    /// A subnet for a new network: the first of Docker's default pools (172.17–31.0.0/16,
    /// then 192.168.N.0/20) that overlaps no berth network and no route on the host.
    pub fn choose_subnet(&self, host_routes: &[Ipv4Net]) -> Result<Ipv4Net> {
        let candidates = (17..=31)
            .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16))
            .chain((0..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20)));
        for c in candidates.flatten() {
            if self.overlap(&c, host_routes).is_none() {
                return Ok(c);
            }
        }
        Err(Error::NoPool)
    }

    /// What `subnet` overlaps with, if anything.
    pub fn overlap(&self, subnet: &Ipv4Net, host_routes: &[Ipv4Net]) -> Option<String> {
        let clash = |a: &Ipv4Net, b: &Ipv4Net| a.contains(&b.network()) || b.contains(&a.network());
        if let Some(n) = self.networks.iter().find(|n| clash(&n.subnet, subnet)) {
            return Some(format!("network {} has {}", n.name, n.subnet));
        }
        host_routes
            .iter()
            .find(|r| r.prefix_len() > 0 && clash(r, subnet))
            .map(|r| format!("a route on the host covers {r}"))
    }
}

/// IPv4 routes of the host's network namespace (from /proc/net/route).
pub fn host_routes() -> Vec<Ipv4Net> {
    let text = fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dst = u32::from_str_radix(f[1], 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(f[7], 16).ok()?.swap_bytes();
            Ipv4Net::new(Ipv4Addr::from(dst), mask.count_ones() as u8).ok()
        })
        .collect()
}

/// The state file with its lock held; `save` writes it back atomically.
pub struct Locked {
    pub state: State,
    path: PathBuf,
    /// The network definitions as loaded, to tell whether a save changes them.
    networks_at_load: Vec<u8>,
    _lock: fs::File,
}

impl Drop for Locked {
    /// flock locks belong to the open file, which a container process cloned (not exec'd) from
    /// this one meanwhile shares: closing ours would leave the lock held for as long as that
    /// process lives, so the lock is released explicitly.
    fn drop(&mut self) {
        let _ = self._lock.unlock();
    }
}

pub fn lock(dir: &Path) -> Result<Locked> {
    fs::create_dir_all(dir).ctx("create directory", dir)?;
    let lock_path = dir.join("lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ctx("open", &lock_path)?;
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).ctx("lock", &lock_path);
    }
    let path = dir.join("state.json");
    let state = match fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
        Err(e) => return Err(e).ctx("read", &path),
    };
    Ok(Locked {
        networks_at_load: serde_json::to_vec(&state.networks).unwrap_or_default(),
        state,
        path,
        _lock: lock,
    })
}

impl Locked {
    pub fn save(&self) -> Result<()> {
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let body = serde_json::to_vec_pretty(&self.state).map_err(|e| Error::State {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let mut f = fs::File::create(&tmp).ctx("create", &tmp)?;
        f.write_all(&body).ctx("write", &tmp)?;
        // Networks must survive a power loss; endpoints need not (after one no container
        // runs, and stale endpoints are reconciled), so a save that changes only endpoints,
        // as every container start and stop does, skips the fsync (~0.5 ms each here).
        // The rename keeps it atomic either way.
        if serde_json::to_vec(&self.state.networks).unwrap_or_default() != self.networks_at_load {
            f.sync_all().ctx("sync", &tmp)?;
        }
        fs::rename(&tmp, &self.path).ctx("rename", &self.path)
    }
}

/// Reads the state without locking (for read-only views such as `berth port`).
pub fn read(dir: &Path) -> State {
    fs::read(dir.join("state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, subnet: &str) -> Network {
        let subnet: Ipv4Net = subnet.parse().unwrap();
        Network {
            id: format!("{name:0>64}"),
            name: name.into(),
            driver: "bridge".into(),
            gateway: subnet.hosts().next().unwrap(),
            subnet,
            bridge: "berth-x".into(),
            ip_range: None,
            aux_addresses: BTreeMap::new(),
            internal: false,
            labels: BTreeMap::new(),
            created: String::new(),
            ipam_options_given: false,
            ipv6: None,
        }
    }

    fn ep(n: &Network, ip: &str) -> Endpoint {
        Endpoint {
            container_id: ip.into(),
            container_name: ip.into(),
            container_dir: PathBuf::new(),
            pid: 0,
            pid_start: 0,
            network_id: n.id.clone(),
            ip: ip.parse().unwrap(),
            ip6: None,
            asked_ip6: None,
            mac: String::new(),
            asked_ip: None,
            link_local_ips: Vec::new(),
            driver_opts: Default::default(),
            aliases: vec![],
            links: vec![],
            ifname: "eth0".into(),
            host_veth: String::new(),
            ports: vec![],
        }
    }

    #[test]
    fn ipv6_addresses_come_from_the_range_and_skip_the_gateway_and_leases() {
        let mut n = net("six", "10.9.0.0/24");
        n.ipv6 = Some(Ipv6Pool {
            subnet: "2001:db8::/64".parse().unwrap(),
            gateway: "2001:db8::1".parse().unwrap(),
            ip_range: Some("2001:db8::100/120".parse().unwrap()),
        });
        let mut s = State {
            networks: vec![n.clone()],
            endpoints: vec![],
            last_leased: BTreeMap::new(),
        };
        let first = s.allocate_ip6(&n, None).unwrap().unwrap();
        assert_eq!(first, "2001:db8::101".parse::<Ipv6Addr>().unwrap());
        let mut e = ep(&n, "10.9.0.2");
        e.ip6 = Some(first);
        s.endpoints.push(e);
        assert_eq!(
            s.allocate_ip6(&n, None).unwrap(),
            Some("2001:db8::102".parse().unwrap())
        );
        // Asked for: anywhere in the subnet, not the gateway, not taken.
        assert!(s
            .allocate_ip6(&n, Some("2001:db8::f00d".parse().unwrap()))
            .is_ok());
        assert!(matches!(
            s.allocate_ip6(&n, Some(first)),
            Err(Error::AddressInUse(_))
        ));
        assert!(s
            .allocate_ip6(&n, Some("2001:db8::1".parse().unwrap()))
            .is_err());
        let err = s
            .allocate_ip6(&n, Some("2001:db9::1".parse().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("subnet 2001:db8::/64"), "{err}");
        // A network without IPv6 gives none, and refuses one asked for.
        let plain = net("plain", "10.8.0.0/24");
        assert_eq!(s.allocate_ip6(&plain, None).unwrap(), None);
        let err = s
            .allocate_ip6(&plain, Some("2001:db8::5".parse().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ipv6"), "{err}");
    }

    #[test]
    fn addresses_skip_gateway_and_leases() {
        let n = net("a", "10.9.0.0/29");
        let mut s = State {
            networks: vec![n.clone()],
            endpoints: vec![],
            ..State::default()
        };
        assert_eq!(s.allocate_ip(&n, None).unwrap().to_string(), "10.9.0.2");
        s.add_endpoint(ep(&n, "10.9.0.2"));
        s.endpoints.push(ep(&n, "10.9.0.4"));
        assert_eq!(s.allocate_ip(&n, None).unwrap().to_string(), "10.9.0.3");
        s.add_endpoint(ep(&n, "10.9.0.3"));
        // A released address is not the next one leased: the round goes on first.
        s.endpoints.retain(|e| e.ip.to_string() != "10.9.0.2");
        for ip in ["10.9.0.5", "10.9.0.6", "10.9.0.2"] {
            let got = s.allocate_ip(&n, None).unwrap();
            assert_eq!(got.to_string(), ip);
            s.add_endpoint(ep(&n, ip));
        }
        // .7 is the broadcast address: the /29 is full.
        assert!(matches!(s.allocate_ip(&n, None), Err(Error::Exhausted(_))));
        let e = s
            .allocate_ip(&n, Some("10.9.0.4".parse().unwrap()))
            .unwrap_err();
        assert_eq!(e.to_string(), "Address already in use: 10.9.0.4");
        let e = s
            .allocate_ip(&n, Some("10.8.0.4".parse().unwrap()))
            .unwrap_err();
        assert!(e
            .to_string()
            .contains("not in network a's subnet 10.9.0.0/29"));
    }

    #[test]
    fn addresses_come_from_the_range_and_skip_aux_addresses() {
        let mut n = net("r", "10.9.0.0/16");
        n.ip_range = Some("10.9.5.0/30".parse().unwrap());
        n.aux_addresses
            .insert("a".into(), "10.9.5.1".parse().unwrap());
        let mut s = State {
            networks: vec![n.clone()],
            endpoints: vec![],
            ..State::default()
        };
        // The range's own first and last addresses are hosts of the subnet.
        for ip in ["10.9.5.0", "10.9.5.2", "10.9.5.3"] {
            let got = s.allocate_ip(&n, None).unwrap();
            assert_eq!(got.to_string(), ip);
            s.add_endpoint(ep(&n, ip));
        }
        assert!(matches!(s.allocate_ip(&n, None), Err(Error::Exhausted(_))));
        // An address asked for may lie outside the range, never on an aux address.
        assert_eq!(
            s.allocate_ip(&n, Some("10.9.7.7".parse().unwrap()))
                .unwrap()
                .to_string(),
            "10.9.7.7"
        );
        assert!(s
            .allocate_ip(&n, Some("10.9.5.1".parse().unwrap()))
            .is_err());
    }

    #[test]
    fn subnets_avoid_networks_and_routes() {
        let s = State {
            networks: vec![net("a", "172.18.0.0/16")],
            endpoints: vec![],
            ..State::default()
        };
        let routes: Vec<Ipv4Net> = vec![
            "0.0.0.0/0".parse().unwrap(),
            "172.17.0.0/16".parse().unwrap(),
            "172.19.5.0/24".parse().unwrap(),
        ];
        assert_eq!(
            s.choose_subnet(&routes).unwrap().to_string(),
            "172.20.0.0/16"
        );
        assert!(s
            .overlap(&"172.18.3.0/24".parse().unwrap(), &routes)
            .unwrap()
            .contains("network a"));
        assert!(s
            .overlap(&"10.1.0.0/16".parse().unwrap(), &routes)
            .is_none());
    }

    #[test]
    fn lookup_by_name_id_and_prefix() {
        let s = State {
            networks: vec![net("a", "10.1.0.0/16"), net("b", "10.2.0.0/16")],
            endpoints: vec![],
            ..State::default()
        };
        assert_eq!(s.network("a").unwrap().name, "a");
        assert_eq!(s.network(&s.networks[1].id.clone()).unwrap().name, "b");
        assert!(s.network("000").is_none(), "ambiguous prefix");
        assert!(s.network("zzz").is_none());
    }
}
