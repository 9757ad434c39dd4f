//! The step between a sandbox's namespaces and its runtime. bubblewrap gives the sandbox
//! a network namespace of its own (loopback only) and holds it before it starts the
//! runtime; the engine binds the Runtime API listener inside that namespace, at the
//! address AWS uses (127.0.0.1:9001), closes the host's addresses there, attaches the
//! egress when the sandbox has one, then lets the runtime start.
//!
//! Who may enter the namespace depends on who the engine is. Root holds every capability
//! over every namespace, so a thread of the engine joins the network namespace directly.
//! An ordinary user holds them only in the user namespace bubblewrap made for the sandbox
//! (the sandbox itself runs in a namespace nested below that one, without capabilities, so
//! its code cannot change its own routes): joining a user namespace needs a single-threaded
//! process, so a forked child of the engine joins it and then the network namespace, binds,
//! adds the routes, and hands the listening socket back over a socket pair (a socket keeps
//! the namespace it was made in, so the engine accepts on it from outside). pasta joins the
//! same two.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use super::pasta::{Egress, Pasta};
use super::{address_watch, host_addresses};

/// The Runtime API address inside an isolated sandbox.
pub const ISOLATED_RUNTIME_API: &str = "127.0.0.1:9001";

/// The two pipes that let the engine step in between namespace setup and exec:
/// bubblewrap writes the sandbox's PID to one and waits for a byte on the other.
pub struct NetworkGate {
    info_read: std::io::PipeReader,
    info_write: Option<std::io::PipeWriter>,
    block_read: Option<std::io::PipeReader>,
    block_write: std::io::PipeWriter,
}

impl NetworkGate {
    pub fn new() -> std::io::Result<Self> {
        let (info_read, info_write) = std::io::pipe()?;
        let (block_read, block_write) = std::io::pipe()?;
        Ok(Self {
            info_read,
            info_write: Some(info_write),
            block_read: Some(block_read),
            block_write,
        })
    }

    /// bubblewrap arguments, and the descriptors the child must inherit.
    pub fn bubblewrap_args(&self) -> (Vec<String>, [i32; 2]) {
        let info = self.info_write.as_ref().expect("gate not yet used").as_raw_fd();
        let block = self.block_read.as_ref().expect("gate not yet used").as_raw_fd();
        let args = [
            "--unshare-net",
            "--info-fd",
            &info.to_string(),
            "--block-fd",
            &block.to_string(),
        ]
        .map(str::to_string)
        .to_vec();
        (args, [info, block])
    }

    /// After spawn: binds the Runtime API inside the sandbox's network namespace, gives it
    /// egress when asked (pasta, with the host's addresses closed and `endpoint_port` of
    /// its loopback forwarded), and releases the sandbox to start the runtime.
    pub async fn open(mut self, egress: Option<(&Egress, Option<u16>)>) -> std::io::Result<OpenNetwork> {
        // Our copies of the child's ends must close, or a dead bubblewrap never reads EOF.
        drop(self.info_write.take());
        drop(self.block_read.take());
        let mut info = self.info_read;
        let pid = tokio::task::spawn_blocking(move || read_child_pid(&mut info))
            .await
            .map_err(std::io::Error::other)??;
        let namespace = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
        // Root may enter any namespace as it is (bubblewrap, run as the environment's uid,
        // made a user namespace for it, which root needs not join); an ordinary user must
        // go through the user namespace that owns the network namespace.
        // SAFETY: geteuid has no preconditions.
        let owner = match unsafe { libc::geteuid() } {
            0 => None,
            _ => foreign_owner(&namespace)?,
        };
        let closed = match egress {
            Some(_) => host_addresses::host_ipv4_addresses()?,
            None => Vec::new(),
        };
        // The bind waits for bubblewrap to bring the namespace's loopback up; pasta comes
        // after, as it configures the namespace too and bubblewrap fails on a change it
        // did not expect.
        let held = namespace.try_clone()?;
        let closing = closed.clone();
        let listener = match owner.as_ref().map(std::fs::File::try_clone).transpose()? {
            None => tokio::task::spawn_blocking(move || bind_in_namespace(held, &closing)).await,
            Some(owner) => tokio::task::spawn_blocking(move || bind_from_child(owner, held, &closing)).await,
        }
        .map_err(std::io::Error::other)??;
        let pasta = match egress {
            Some((egress, endpoint_port)) => {
                let mut pasta = egress.start(&namespace, owner.as_ref(), endpoint_port)?;
                pasta.ready().await?;
                // Before the runtime starts: from here on, an address the host gains is
                // closed in this namespace too.
                let owner = owner.as_ref().map(std::fs::File::try_clone).transpose()?;
                let net = namespace.try_clone()?;
                let watched = tokio::task::spawn_blocking(move || address_watch::keep_closed(net, owner, pid, closed))
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(|e| std::io::Error::new(e.kind(), format!("closing the host's addresses: {e}")))?;
                pasta.keep_closed_while_running(watched);
                Some(pasta)
            }
            None => None,
        };
        self.block_write.write_all(b"1")?;
        listener.set_nonblocking(true)?;
        Ok(OpenNetwork {
            runtime_api: tokio::net::TcpListener::from_std(listener)?,
            pasta,
        })
    }
}

/// A sandbox's network once it is released: its Runtime API listener and, with egress,
/// the pasta serving it (which ends when dropped).
pub struct OpenNetwork {
    pub runtime_api: tokio::net::TcpListener,
    pub pasta: Option<Pasta>,
}

/// Clears close-on-exec on the gate's child ends, between fork and exec.
///
/// # Safety
/// Only calls fcntl, which is async-signal-safe.
pub unsafe fn inherit(fds: [i32; 2]) -> std::io::Result<()> {
    for fd in fds {
        // SAFETY: fcntl on descriptors this process owns.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// bubblewrap's info is JSON: `{ "child-pid": 1234, ... }`.
fn read_child_pid(info: &mut std::io::PipeReader) -> std::io::Result<i32> {
    let mut text = String::new();
    let mut buf = [0u8; 256];
    loop {
        let n = info.read(&mut buf)?;
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if text.contains('}') {
            break;
        }
    }
    let value: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| std::io::Error::other(format!("bubblewrap info {text:?}: {e}")))?;
    value["child-pid"]
        .as_i64()
        .map(|p| p as i32)
        .ok_or_else(|| std::io::Error::other(format!("bubblewrap info without child-pid: {text}")))
}

/// A socket belongs to the namespace it was created in, so a thread that joins the
/// sandbox's namespace, binds, and ends leaves a listener only the sandbox can reach;
/// routes it adds there (closing `closed`) stay with the namespace too.
fn bind_in_namespace(
    namespace: std::fs::File,
    closed: &[std::net::Ipv4Addr],
) -> std::io::Result<std::net::TcpListener> {
    in_namespace_thread(namespace, || {
        // bubblewrap brings loopback up just after it reports the PID; until it has,
        // nothing else may touch the namespace (pasta brings loopback up too, and
        // bubblewrap fails on finding its address there).
        wait_for_loopback()?;
        host_addresses::close(closed)
            .map_err(|e| std::io::Error::new(e.kind(), format!("closing the host's addresses: {e}")))?;
        std::net::TcpListener::bind(ISOLATED_RUNTIME_API)
    })
}

/// Runs `work` in a thread that joins `namespace` first and ends right after (root's way
/// into a sandbox's network namespace).
fn in_namespace_thread<T: Send>(
    namespace: std::fs::File,
    work: impl FnOnce() -> std::io::Result<T> + Send,
) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let fd: OwnedFd = namespace.into();
                // SAFETY: setns on an open namespace descriptor; it changes only this
                // thread, which ends right after.
                if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                work()
            })
            .join()
            .map_err(|_| std::io::Error::other("namespace thread panicked"))?
    })
}

/// A child that runs no program: it does its work between fork and exec (`pre_exec`) and
/// ends there with `_exit`, so only system calls run in it.
fn namespace_child() -> std::process::Command {
    let mut child = std::process::Command::new("/bin/true");
    child
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    child
}

/// Closes `addresses` in a namespace whose environment is already running (the host
/// gained them since it started): as root from a thread that joins the namespace, as an
/// ordinary user from a forked child that joins `owner` first, as at the start.
pub(super) fn close_in(
    namespace: &std::fs::File,
    owner: Option<&std::fs::File>,
    addresses: &[Ipv4Addr],
) -> std::io::Result<()> {
    let Some(owner) = owner else {
        return in_namespace_thread(namespace.try_clone()?, || host_addresses::close(addresses));
    };
    use std::os::unix::process::CommandExt;
    let fds = (owner.as_raw_fd(), namespace.as_raw_fd());
    let addresses = addresses.to_vec();
    let mut child = namespace_child();
    // SAFETY: between fork and exec the closure makes system calls only (setns, socket,
    // ioctl); a success ends the child with _exit before exec, an error is std's to report
    // as the spawn's error.
    unsafe {
        child.pre_exec(move || {
            let (owner, namespace) = fds;
            if libc::setns(owner, libc::CLONE_NEWUSER) != 0 || libc::setns(namespace, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            host_addresses::close(&addresses)?;
            libc::_exit(0)
        });
    }
    match child.status()? {
        status if status.success() => Ok(()),
        status => Err(std::io::Error::other(format!("the closing child ended with {status}"))),
    }
}

/// Waits (up to a second) until the calling thread's namespace has its loopback up. It
/// allocates nothing: the forked child calls it too.
fn wait_for_loopback() -> std::io::Result<()> {
    // SAFETY: a plain socket call; the descriptor is owned right away.
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `socket` is a descriptor this function just opened.
    let socket = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(socket) };
    // SAFETY: all-zero is a valid ifreq.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, from) in request.ifr_name.iter_mut().zip(b"lo") {
        *to = *from as libc::c_char;
    }
    for _ in 0..1000 {
        // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq it is given.
        if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: SIOCGIFFLAGS set the flags member of the union.
        if i32::from(unsafe { request.ifr_ifru.ifru_flags }) & libc::IFF_UP != 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Err(std::io::Error::from_raw_os_error(libc::ETIMEDOUT))
}

/// The user namespace that owns `namespace`, when it is not the engine's own (the engine
/// is not root, and bubblewrap made one for the sandbox).
fn foreign_owner(namespace: &std::fs::File) -> std::io::Result<Option<std::fs::File>> {
    /// `NS_GET_USERNS` of linux/nsfs.h: a descriptor of the namespace's owning user namespace.
    const NS_GET_USERNS: libc::Ioctl = 0xb701;
    // SAFETY: NS_GET_USERNS takes no argument and answers a new descriptor.
    let fd = unsafe { libc::ioctl(namespace.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor the kernel just opened for this process.
    let owner = unsafe { std::fs::File::from_raw_fd(fd) };
    let (ours, theirs) = (std::fs::metadata("/proc/self/ns/user")?, owner.metadata()?);
    Ok(((ours.dev(), ours.ino()) != (theirs.dev(), theirs.ino())).then_some(owner))
}

/// What the forked child was doing when it failed, sent back as one byte.
const CHILD_STEPS: [&str; 6] = [
    "joining the sandbox's user namespace",
    "joining the sandbox's network namespace",
    "waiting for the sandbox's loopback",
    "closing the host's addresses",
    "binding the Runtime API",
    "handing the Runtime API listener to the engine",
];

/// A forked child joins `owner` (the sandbox's user namespace, where the engine's user has
/// every capability) and then the network namespace, closes `closed` there, binds the
/// Runtime API and sends the listener back. The child runs no program: it ends in the
/// closure std runs between fork and exec, which makes only system calls.
fn bind_from_child(
    owner: std::fs::File,
    namespace: std::fs::File,
    closed: &[Ipv4Addr],
) -> std::io::Result<std::net::TcpListener> {
    use std::os::unix::process::CommandExt;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let fds = (owner.as_raw_fd(), namespace.as_raw_fd(), theirs.as_raw_fd());
    let closed = closed.to_vec();
    let address: SocketAddr = ISOLATED_RUNTIME_API.parse().expect("a socket address");
    let mut child = namespace_child();
    // SAFETY: between fork and exec the closure makes system calls only (setns, ioctl,
    // socket, bind, listen, sendmsg, write, nanosleep); a success ends the child with
    // _exit before exec, an error is std's to report as the spawn's error.
    unsafe {
        child.pre_exec(move || {
            let (owner, namespace, back) = fds;
            match enter_bind_and_send(owner, namespace, back, &closed, address) {
                Ok(()) => libc::_exit(0),
                Err((step, error)) => {
                    libc::write(back, [step].as_ptr().cast(), 1);
                    Err(error)
                }
            }
        });
    }
    let ended = child.status();
    drop(theirs);
    drop((owner, namespace));
    let step = |ours: &std::os::unix::net::UnixStream| {
        let mut byte = [0u8; 1];
        ours.set_nonblocking(true).ok();
        match (&*ours).read(&mut byte) {
            Ok(1) => CHILD_STEPS.get(usize::from(byte[0]).wrapping_sub(1)).copied(),
            _ => None,
        }
        .unwrap_or("entering the sandbox's namespaces")
    };
    match ended {
        Ok(status) if status.success() => {
            // SAFETY: receives at most one descriptor into a buffer sized for it.
            let fd = unsafe { receive_fd(ours.as_raw_fd()) }?;
            // SAFETY: a listening TCP socket the child made and the kernel just handed over.
            Ok(unsafe { std::net::TcpListener::from_raw_fd(fd.into_raw_fd()) })
        }
        Ok(status) => Err(std::io::Error::other(format!(
            "{}: the child ended with {status}",
            step(&ours)
        ))),
        Err(e) => Err(std::io::Error::new(e.kind(), format!("{}: {e}", step(&ours)))),
    }
}

/// The forked child's work: joins `owner`, then `namespace`, waits for its loopback,
/// closes `closed`, binds `address` and sends the listener over `back`. An error comes with
/// the number of its step in `CHILD_STEPS`.
fn enter_bind_and_send(
    owner: RawFd,
    namespace: RawFd,
    back: RawFd,
    closed: &[Ipv4Addr],
    address: SocketAddr,
) -> Result<(), (u8, std::io::Error)> {
    // SAFETY: setns on descriptors the engine opened; the child is single-threaded.
    if unsafe { libc::setns(owner, libc::CLONE_NEWUSER) } != 0 {
        return Err((1, std::io::Error::last_os_error()));
    }
    // SAFETY: as above.
    if unsafe { libc::setns(namespace, libc::CLONE_NEWNET) } != 0 {
        return Err((2, std::io::Error::last_os_error()));
    }
    wait_for_loopback().map_err(|e| (3, e))?;
    host_addresses::close(closed).map_err(|e| (4, e))?;
    let listener = std::net::TcpListener::bind(address).map_err(|e| (5, e))?;
    // SAFETY: sends a descriptor this child owns over its end of the pair.
    unsafe { send_fd(back, listener.as_raw_fd()) }.map_err(|e| (6, e))
}

/// Room for one descriptor's control message, aligned as cmsghdr wants.
type ControlBuffer = [u64; 4];

/// Sends `fd` over the unix socket `socket` (SCM_RIGHTS) with a zero byte.
///
/// # Safety
/// `socket` and `fd` must be open descriptors of this process.
unsafe fn send_fd(socket: RawFd, fd: RawFd) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control: ControlBuffer = [0; 4];
    // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is arithmetic.
    message.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as _;
    // SAFETY: the control buffer holds one header and one descriptor (CMSG_SPACE above).
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
    }
    // SAFETY: a complete msghdr over live buffers.
    match unsafe { libc::sendmsg(socket, &message, 0) } {
        n if n < 0 => Err(std::io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// Receives the descriptor `send_fd` sent (close-on-exec).
///
/// # Safety
/// `socket` must be an open unix socket of this process.
unsafe fn receive_fd(socket: RawFd) -> std::io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control: ControlBuffer = [0; 4];
    // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = std::mem::size_of::<ControlBuffer>();
    // SAFETY: a complete msghdr over live buffers; the child has ended, so what it sent is
    // queued and this does not wait.
    if unsafe { libc::recvmsg(socket, &mut message, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: reads the header recvmsg filled, if any.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null() || (*header).cmsg_level != libc::SOL_SOCKET || (*header).cmsg_type != libc::SCM_RIGHTS {
            return Err(std::io::Error::other("the child sent no Runtime API listener"));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}
