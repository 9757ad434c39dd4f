//! The host's own addresses, closed inside an isolated namespace. pasta gives the namespace
//! the address of the host's outbound interface, so that one already stays inside; any
//! other (a Docker bridge's 172.17.0.1, a second interface) would be reached through
//! pasta as if it were the outside, and with it every service the host binds to all
//! addresses. Each gets an unreachable route in the namespace, which fails a connection
//! at once rather than letting it wait. (pasta runs IPv4 only, so IPv6 addresses, link-
//! local ones included, have no way out to close.)

use std::net::Ipv4Addr;

/// The host's IPv4 addresses outside 127.0.0.0/8, read in the caller's (the host's)
/// network namespace.
pub fn host_ipv4_addresses() -> std::io::Result<Vec<Ipv4Addr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list`, freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut addresses = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: a non-null entry of the list getifaddrs returned, alive until freeifaddrs.
        let ifaddr = unsafe { &*entry };
        if !ifaddr.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = unsafe { (*ifaddr.ifa_addr).sa_family };
            if i32::from(family) == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifaddr.ifa_addr as *const libc::sockaddr_in) };
                let address = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !address.is_loopback() && !addresses.contains(&address) {
                    addresses.push(address);
                }
            }
        }
        entry = ifaddr.ifa_next;
    }
    // SAFETY: the list getifaddrs allocated, freed once.
    unsafe { libc::freeifaddrs(list) };
    Ok(addresses)
}

/// glibc's `struct rtentry` (the kernel's), which the libc crate only has for musl.
#[repr(C)]
struct RouteEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_tos: libc::c_uchar,
    rt_class: libc::c_uchar,
    rt_pad4: [libc::c_short; 3],
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

/// Adds an unreachable host route for each address, in the calling thread's network
/// namespace. It allocates nothing (a forked child of the engine calls it too): an error
/// is the kernel's, and the caller says what it was doing.
pub fn close(addresses: &[Ipv4Addr]) -> std::io::Result<()> {
    if addresses.is_empty() {
        return Ok(());
    }
    // SAFETY: a plain socket call; the descriptor is owned right away.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `socket` is a descriptor this function just opened.
    let socket = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(socket) };
    for address in addresses {
        // SAFETY: all-zero is a valid RouteEntry (no device, no gateway).
        let mut route: RouteEntry = unsafe { std::mem::zeroed() };
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(*address).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: sockaddr_in and sockaddr have the same size; the bytes are copied.
        route.rt_dst = unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) };
        route.rt_flags = libc::RTF_UP | libc::RTF_HOST | libc::RTF_REJECT;
        // SAFETY: SIOCADDRT reads one rtentry from the pointer it is given.
        let done = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                libc::SIOCADDRT,
                &route as *const RouteEntry,
            )
        };
        if done != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EEXIST) {
                return Err(error);
            }
        }
    }
    Ok(())
}
