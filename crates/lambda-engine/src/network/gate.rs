//! The step between a sandbox's namespaces and its runtime. bubblewrap gives the sandbox
//! a network namespace of its own (loopback only) and holds it before it starts the
//! runtime; the engine binds the Runtime API listener inside that namespace, at the
//! address AWS uses (127.0.0.1:9001), attaches the egress when the sandbox has one, then
//! lets the runtime start.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use super::host_addresses;
use super::pasta::{Egress, Pasta};

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
        let closed = match egress {
            Some(_) => host_addresses::host_ipv4_addresses()?,
            None => Vec::new(),
        };
        // The bind waits for bubblewrap to bring the namespace's loopback up; pasta comes
        // after, as it configures the namespace too and bubblewrap fails on a change it
        // did not expect.
        let held = namespace.try_clone()?;
        let listener = tokio::task::spawn_blocking(move || bind_in_namespace(held, &closed))
            .await
            .map_err(std::io::Error::other)??;
        let pasta = match egress {
            Some((egress, endpoint_port)) => {
                let mut pasta = egress.start(&namespace, endpoint_port)?;
                pasta.ready().await?;
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
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let fd: OwnedFd = namespace.into();
                // SAFETY: setns on an open namespace descriptor; it changes only this
                // thread, which ends right after.
                if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // bubblewrap brings loopback up just after it reports the PID; until it
                // has, nothing else may touch the namespace (pasta brings loopback up too,
                // and bubblewrap fails on finding its address there).
                wait_for_loopback()?;
                host_addresses::close(closed)?;
                std::net::TcpListener::bind(ISOLATED_RUNTIME_API)
            })
            .join()
            .map_err(|_| std::io::Error::other("namespace thread panicked"))?
    })
}

/// Waits (up to a second) until the calling thread's namespace has its loopback up.
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
    Err(std::io::Error::other("the sandbox's loopback never came up"))
}
