//! Small things done inside a container's network namespace without starting a program.

use crate::error::{Error, Result};

/// Brings `lo` up in the network namespace of `pid` (what Docker does for `--network none`
/// too). A short-lived thread joins the namespace, so the caller's own stays untouched.
pub fn loopback_up(pid: i32) -> Result<()> {
    let fail = |reason: String| Error::Command {
        what: "bringing up lo",
        cmd: format!("setns /proc/{pid}/ns/net"),
        reason,
    };
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).map_err(|e| fail(e.to_string()))?;
    let worker = std::thread::spawn(move || -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: setns on this thread only; the socket and ioctl use memory we own.
        unsafe {
            if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if s < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut req: libc::ifreq = std::mem::zeroed();
            for (i, b) in b"lo\0".iter().enumerate() {
                req.ifr_name[i] = *b as libc::c_char;
            }
            let mut r = libc::ioctl(s, libc::SIOCGIFFLAGS, &mut req);
            if r == 0 {
                req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                r = libc::ioctl(s, libc::SIOCSIFFLAGS, &req);
            }
            let err = std::io::Error::last_os_error();
            libc::close(s);
            if r != 0 {
                return Err(err);
            }
        }
        Ok(())
    });
    match worker.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail("the worker thread panicked".into())),
    }
}

/// The kernel's `struct rtentry` (for SIOCADDRT); the libc crate has it only for musl.
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_pad4: *mut libc::c_void,
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

fn sockaddr(ip: std::net::Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; this is how the API is used.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// The prefix an extra (link-local) address gets: its link-local network's, else a host
/// address.
fn link_local_prefix(a: std::net::IpAddr) -> u8 {
    match a {
        std::net::IpAddr::V4(v) if v.is_link_local() => 16,
        std::net::IpAddr::V4(_) => 32,
        std::net::IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80 => 64,
        std::net::IpAddr::V6(_) => 128,
    }
}

/// Inside the namespace of `pid`: `lo` up, `ifname` up with `ip/prefix` and the `extra`
/// addresses, and a default route via `gateway`. Classic interface ioctls from a thread that joined the namespace, rather
/// than another `ip` process: this is on every container's start-up path.
/// A container interface's IPv6 address, its prefix, and the default route's gateway (on
/// the container's first network only).
pub struct Ipv6Setup {
    pub address: std::net::Ipv6Addr,
    pub prefix: u8,
    pub gateway: Option<std::net::Ipv6Addr>,
}

pub fn configure_interface(
    pid: i32,
    ifname: &str,
    ip: std::net::Ipv4Addr,
    prefix: u8,
    gateway: Option<std::net::Ipv4Addr>,
    ipv6: Option<Ipv6Setup>,
    extra: &[std::net::IpAddr],
) -> Result<()> {
    let extra = extra.to_vec();
    let fail = |what: &str, reason: String| Error::Command {
        what: "configuring the container's network",
        cmd: format!("{what} in the network namespace of pid {pid}"),
        reason,
    };
    if ifname.len() >= libc::IFNAMSIZ {
        return Err(fail("name", format!("interface name {ifname} is too long")));
    }
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .map_err(|e| fail("open namespace", e.to_string()))?;
    let ifname = ifname.to_string();
    let worker = std::thread::spawn(
        move || -> std::result::Result<(), (&'static str, std::io::Error)> {
            use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
            let os = std::io::Error::last_os_error;
            // SAFETY: setns on this thread only; ioctls on a socket we own with structures
            // that are fully initialised.
            unsafe {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(("setns", os()));
                }
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if s < 0 {
                    return Err(("socket", os()));
                }
                let s = OwnedFd::from_raw_fd(s);
                let req_for = |name: &str| {
                    let mut req: libc::ifreq = std::mem::zeroed();
                    for (i, b) in name.bytes().enumerate() {
                        req.ifr_name[i] = b as libc::c_char;
                    }
                    req
                };
                let up = |name: &str| -> std::result::Result<(), (&'static str, std::io::Error)> {
                    let mut req = req_for(name);
                    if libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
                        return Err(("get flags", os()));
                    }
                    req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                    if libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
                        return Err(("set flags", os()));
                    }
                    Ok(())
                };
                up("lo")?;
                let mut req = req_for(&ifname);
                req.ifr_ifru.ifru_addr = sockaddr(ip);
                if libc::ioctl(s.as_raw_fd(), libc::SIOCSIFADDR, &req) != 0 {
                    return Err(("set address", os()));
                }
                let mask = if prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - prefix as u32)
                };
                req.ifr_ifru.ifru_netmask = sockaddr(std::net::Ipv4Addr::from(mask));
                if libc::ioctl(s.as_raw_fd(), libc::SIOCSIFNETMASK, &req) != 0 {
                    return Err(("set netmask", os()));
                }
                up(&ifname)?;
                if !extra.is_empty() || ipv6.is_some() {
                    let name = std::ffi::CString::new(ifname.as_str())
                        .map_err(|_| ("interface name", std::io::ErrorKind::InvalidInput.into()))?;
                    let index = libc::if_nametoindex(name.as_ptr());
                    if index == 0 {
                        return Err(("find interface", os()));
                    }
                    for a in &extra {
                        crate::netlink::add_address(index, *a, link_local_prefix(*a))
                            .map_err(|e| ("add address", e))?;
                    }
                    if let Some(v6) = &ipv6 {
                        crate::netlink::add_address(index, v6.address.into(), v6.prefix)
                            .map_err(|e| ("add IPv6 address", e))?;
                        if let Some(gw) = v6.gateway {
                            crate::netlink::add_default_route_v6(index, gw)
                                .map_err(|e| ("add IPv6 default route", e))?;
                        }
                    }
                }
                if let Some(gw) = gateway {
                    let mut rt: RtEntry = std::mem::zeroed();
                    rt.rt_dst = sockaddr(std::net::Ipv4Addr::UNSPECIFIED);
                    rt.rt_genmask = sockaddr(std::net::Ipv4Addr::UNSPECIFIED);
                    rt.rt_gateway = sockaddr(gw);
                    rt.rt_flags = (libc::RTF_UP | libc::RTF_GATEWAY) as libc::c_ushort;
                    if libc::ioctl(s.as_raw_fd(), libc::SIOCADDRT, &rt) != 0 {
                        return Err(("add default route", os()));
                    }
                }
            }
            Ok(())
        },
    );
    match worker.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err((what, e))) => Err(fail(what, e.to_string())),
        Err(_) => Err(fail("configure", "the worker thread panicked".into())),
    }
}
