//! The one rtnetlink request on every container's start-up path: create a veth pair whose
//! peer lands directly in the container's namespace, with the host end enslaved to the bridge
//! and up. One message on a netlink socket instead of starting `ip` (which costs 3–10 ms of
//! process start-up on a loaded machine), and the extra addresses a container can ask for.
//! Everything rarer still goes through `ip`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NLMSG_ERROR: u16 = 2;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const IFA_F_NODAD: u8 = 0x02;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const NLA_F_NESTED: u16 = 0x8000;

/// A netlink message under construction: attributes are 4-byte aligned, nests are patched
/// with their length when closed.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(kind: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
        Msg { buf }
    }

    /// struct ifinfomsg: family, pad, type, index, flags, change.
    fn ifinfo(&mut self, flags: u32, change: u32) {
        self.buf.extend([0u8; 8]);
        self.buf.extend(flags.to_ne_bytes());
        self.buf.extend(change.to_ne_bytes());
    }

    fn align(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        self.buf.extend(len.to_ne_bytes());
        self.buf.extend(kind.to_ne_bytes());
        self.buf.extend(data);
        self.align();
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut d = s.as_bytes().to_vec();
        d.push(0);
        self.attr(kind, &d);
    }

    fn begin(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend([0u8, 0]);
        self.buf.extend((kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    fn end(&mut self, at: usize) {
        self.align();
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// Sends one request and reads its acknowledgement.
fn request(msg: &[u8]) -> std::io::Result<()> {
    let os = std::io::Error::last_os_error;
    // SAFETY: a netlink socket we own; buffers are ours and sized as passed.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(os());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let sent = libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr() as *const libc::c_void,
            msg.len(),
            0,
            &sa as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        );
        if sent < 0 {
            return Err(os());
        }
        let mut buf = [0u8; 4096];
        let n = libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        );
        if n < 0 {
            return Err(os());
        }
        let n = n as usize;
        if n < 20 || u16::from_ne_bytes([buf[4], buf[5]]) != NLMSG_ERROR {
            return Err(std::io::Error::other("unexpected netlink reply"));
        }
        let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        if err != 0 {
            return Err(std::io::Error::from_raw_os_error(-err));
        }
    }
    Ok(())
}

/// `ip link add HOST type veth peer name PEER netns PID` + `ip link set HOST master BRIDGE up`
/// in one request.
pub fn create_veth(
    host: &str,
    peer: &str,
    peer_pid: i32,
    bridge_index: u32,
    peer_mac: Option<[u8; 6]>,
) -> std::io::Result<()> {
    let mut m = Msg::new(
        RTM_NEWLINK,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    );
    let up = libc::IFF_UP as u32;
    m.ifinfo(up, up);
    m.attr_str(IFLA_IFNAME, host);
    m.attr(IFLA_MASTER, &bridge_index.to_ne_bytes());
    let info = m.begin(IFLA_LINKINFO);
    m.attr_str(IFLA_INFO_KIND, "veth");
    let data = m.begin(IFLA_INFO_DATA);
    let peer_at = m.begin(VETH_INFO_PEER);
    m.ifinfo(0, 0);
    m.attr_str(IFLA_IFNAME, peer);
    if let Some(mac) = peer_mac {
        m.attr(IFLA_ADDRESS, &mac);
    }
    m.attr(IFLA_NET_NS_PID, &(peer_pid as u32).to_ne_bytes());
    m.end(peer_at);
    m.end(data);
    m.end(info);
    request(&m.finish())
}

/// `ip addr add ADDR/PREFIX dev INDEX` in the calling thread's network namespace.
pub fn add_address(index: u32, addr: std::net::IpAddr, prefix: u8) -> std::io::Result<()> {
    let mut m = Msg::new(
        RTM_NEWADDR,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    );
    let (family, bytes) = match addr {
        std::net::IpAddr::V4(a) => (libc::AF_INET as u8, a.octets().to_vec()),
        std::net::IpAddr::V6(a) => (libc::AF_INET6 as u8, a.octets().to_vec()),
    };
    // An IPv6 address is usable at once: a new namespace's link has no one to duplicate it,
    // and duplicate detection would keep it "tentative" (unusable) for a second or more.
    let flags = if addr.is_ipv6() { IFA_F_NODAD } else { 0 };
    // struct ifaddrmsg: family, prefix length, flags, scope (universe), index.
    m.buf.extend([family, prefix, flags, 0]);
    m.buf.extend(index.to_ne_bytes());
    m.attr(IFA_LOCAL, &bytes);
    m.attr(IFA_ADDRESS, &bytes);
    request(&m.finish())
}

/// `ip -6 route add default via GATEWAY dev INDEX` in the calling thread's namespace.
pub fn add_default_route_v6(index: u32, gateway: std::net::Ipv6Addr) -> std::io::Result<()> {
    let mut m = Msg::new(
        RTM_NEWROUTE,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
    );
    // struct rtmsg: family, dst_len 0 (default), src_len, tos, table main (254), protocol
    // boot (3), scope universe (0), type unicast (1), flags.
    m.buf.extend([libc::AF_INET6 as u8, 0, 0, 0, 254, 3, 0, 1]);
    m.buf.extend(0u32.to_ne_bytes());
    m.attr(RTA_GATEWAY, &gateway.octets());
    m.attr(RTA_OIF, &index.to_ne_bytes());
    request(&m.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_aligned_and_nests_sized() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_REQUEST);
        m.ifinfo(1, 1);
        m.attr_str(IFLA_IFNAME, "abc"); // 4 + 4 bytes
        let n = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth"); // 4 + 5 -> 12
        m.end(n);
        let b = m.finish();
        assert_eq!(b.len(), 16 + 16 + 8 + 4 + 12);
        assert_eq!(
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize,
            b.len()
        );
        // The nest's length covers its header and the padded attribute inside.
        assert_eq!(u16::from_ne_bytes([b[40], b[41]]), 16);
        assert_eq!(
            u16::from_ne_bytes([b[42], b[43]]),
            IFLA_LINKINFO | NLA_F_NESTED
        );
    }
}
