//! The host's addresses stay closed in every isolated namespace for as long as it lives.
//! An environment closes the addresses the host has when it starts (`gate`); one the host
//! gains later (a VPN comes up, a container runtime adds a bridge, a test adds a veth)
//! would be reached through pasta as if it were the outside. One thread per process
//! listens for the kernel's address events (rtnetlink, `RTMGRP_IPV4_IFADDR`) and closes
//! each new address in every live namespace; where it cannot, it ends that environment
//! rather than leave the address open.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::LazyLock;
use std::time::Duration;

use parking_lot::Mutex;

use super::gate;
use super::host_addresses;

/// How often the host's addresses are read when the kernel's events cannot be had.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The namespaces kept closed, process-wide: the host's addresses are the process's.
static WATCH: LazyLock<Watch> = LazyLock::new(Watch::start);

/// One isolated namespace, held open while its environment lives.
struct Namespace {
    /// The network namespace.
    net: std::fs::File,
    /// The user namespace that owns it, when that is not the engine's (an ordinary user).
    owner: Option<std::fs::File>,
    /// The sandbox's first process: killing it ends the environment.
    pid: i32,
    /// The addresses closed in it so far.
    closed: Vec<Ipv4Addr>,
}

#[derive(Default)]
struct Watch {
    live: Mutex<HashMap<u64, Namespace>>,
    next: Mutex<u64>,
}

/// A namespace kept closed; it leaves the watch when dropped.
pub struct Watched(u64);

impl Drop for Watched {
    fn drop(&mut self) {
        WATCH.live.lock().remove(&self.0);
    }
}

/// Keeps the host's addresses closed in `net` (owned by `owner` when that is not the
/// engine's user namespace) for as long as the answer lives; `closed` are those already
/// closed there, and `pid` the sandbox's first process. Addresses the host gained since
/// `closed` was read are closed before this returns; an error means they could not be.
pub fn keep_closed(
    net: std::fs::File,
    owner: Option<std::fs::File>,
    pid: i32,
    closed: Vec<Ipv4Addr>,
) -> std::io::Result<Watched> {
    let watch = &*WATCH;
    let id = {
        let mut next = watch.next.lock();
        *next += 1;
        *next
    };
    let namespace = Namespace {
        net,
        owner,
        pid,
        closed,
    };
    // Registered first, read after: an address gained in between is either in this read or
    // in an event the watch thread handles once this one is in the list.
    watch.live.lock().insert(id, namespace);
    let watched = Watched(id);
    let addresses = host_addresses::host_ipv4_addresses()?;
    let mut live = watch.live.lock();
    if let Some(namespace) = live.get_mut(&id) {
        namespace.close_new(&addresses)?;
    }
    Ok(watched)
}

impl Namespace {
    /// Closes those of `addresses` not closed yet.
    fn close_new(&mut self, addresses: &[Ipv4Addr]) -> std::io::Result<()> {
        let new: Vec<Ipv4Addr> = addresses.iter().filter(|a| !self.closed.contains(a)).copied().collect();
        if new.is_empty() {
            return Ok(());
        }
        gate::close_in(&self.net, self.owner.as_ref(), &new)?;
        self.closed.extend(new);
        Ok(())
    }
}

impl Watch {
    fn start() -> Self {
        let spawned = std::thread::Builder::new().name("host-address-watch".into()).spawn(|| {
            let events = match subscribe() {
                Ok(socket) => Some(socket),
                Err(e) => {
                    tracing::warn!(
                        "cannot follow the host's address changes ({e}); reading them every {} ms instead",
                        POLL_EVERY.as_millis()
                    );
                    None
                }
            };
            loop {
                match &events {
                    Some(socket) => wait_for_event(socket),
                    None => std::thread::sleep(POLL_EVERY),
                }
                WATCH.sweep();
            }
        });
        if let Err(e) = spawned {
            // Without the thread, a later address stays open: said loudly, and every
            // environment still closes what the host has when it starts.
            tracing::error!("cannot start the host address watch: {e}");
        }
        Self::default()
    }

    /// Closes the host's current addresses in every live namespace; one that cannot be
    /// closed is ended.
    fn sweep(&self) {
        let addresses = match host_addresses::host_ipv4_addresses() {
            Ok(addresses) => addresses,
            Err(e) => {
                tracing::error!("reading the host's addresses: {e}");
                return;
            }
        };
        let mut live = self.live.lock();
        for namespace in live.values_mut() {
            if let Err(e) = namespace.close_new(&addresses) {
                tracing::error!(
                    pid = namespace.pid,
                    "the host gained an address that could not be closed in an isolated environment ({e}); \
                     ending that environment"
                );
                // SAFETY: kill has no memory-safety preconditions; the PID namespace's
                // first process takes the rest of the sandbox with it.
                unsafe { libc::kill(namespace.pid, libc::SIGKILL) };
            }
        }
    }
}

/// A netlink socket that receives the kernel's IPv4 address events.
fn subscribe() -> std::io::Result<OwnedFd> {
    // SAFETY: a plain socket call; the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor this function just opened.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero is a valid sockaddr_nl (the kernel picks the port id).
    let mut address: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    address.nl_groups = libc::RTMGRP_IPV4_IFADDR as u32;
    // SAFETY: binds to an address of the size given.
    let bound = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&address as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if bound != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(socket)
}

/// Blocks until the kernel reports an address change (or its queue overflowed, which may
/// have dropped one: either way the caller reads the addresses again).
fn wait_for_event(socket: &OwnedFd) {
    let mut buffer = [0u8; 8192];
    // SAFETY: receives into a buffer of the length given.
    let n = unsafe { libc::recv(socket.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    if n < 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ENOBUFS) && error.kind() != std::io::ErrorKind::Interrupted {
            // Not expected; read again after a pause rather than spin.
            std::thread::sleep(POLL_EVERY);
        }
    }
}
