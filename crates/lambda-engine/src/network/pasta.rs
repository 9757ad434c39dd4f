//! pasta (Debian's passt package) attached to one environment's network namespace: it
//! answers the namespace's packets with sockets of its own on the host, so the outside is
//! reached while the host's loopback is not (its gateway mapping is off, and no loopback
//! port is forwarded but the function endpoint's). It runs in the foreground as the
//! engine's child, dies with the environment (or with the engine), and says it is ready by
//! writing its PID to a pipe, which the sandbox waits for before the runtime starts, so a
//! function's first connection never races it.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::address_watch::Watched;
use super::dns::DNS_FORWARD;

/// How long pasta may take to configure a namespace (it takes tens of milliseconds).
const READY_WITHIN: Duration = Duration::from_secs(10);

/// How environments reach the outside: the pasta binary and, when the host's resolver is
/// on its loopback, the resolver file the sandbox sees instead (file, where it goes).
#[derive(Debug, Clone)]
pub struct Egress {
    binary: PathBuf,
    resolv_conf: Option<(PathBuf, PathBuf)>,
}

impl Egress {
    pub fn new(binary: PathBuf, resolv_conf: Option<(PathBuf, PathBuf)>) -> Self {
        Self { binary, resolv_conf }
    }

    pub fn resolv_conf(&self) -> Option<(&Path, &Path)> {
        self.resolv_conf
            .as_ref()
            .map(|(file, at)| (file.as_path(), at.as_path()))
    }

    /// pasta's arguments for the namespace open as `namespace_fd` (owned by the user
    /// namespace open as `owner_fd`, when that is not the engine's), announcing readiness
    /// on `ready_fd`, forwarding `endpoint_port` of the namespace's loopback to the host's.
    fn arguments(
        &self,
        namespace_fd: i32,
        owner_fd: Option<i32>,
        ready_fd: i32,
        endpoint_port: Option<u16>,
    ) -> Vec<String> {
        let tcp_ns = endpoint_port.map_or_else(|| "none".to_string(), |port| port.to_string());
        let mut arguments: Vec<String> = ["--foreground", "--quiet"].map(str::to_string).to_vec();
        match owner_fd {
            // The engine is not root: pasta joins the user namespace bubblewrap made for
            // the sandbox (the engine's user owns it) to enter its network namespace.
            Some(owner) => arguments.extend(["--userns".to_string(), format!("/proc/self/fd/{owner}")]),
            // The engine is root: pasta would otherwise become nobody, who may not enter
            // the namespace. It keeps only the capabilities it needs.
            None => arguments.extend(["--runas", "0", "--netns-only"].map(str::to_string)),
        }
        arguments.extend(
            [
                // IPv4 only, as a Lambda function outside a VPC: no IPv6 path means no way to
                // the host's IPv6 and link-local addresses either.
                "--ipv4-only",
                "--config-net",
                // The gateway address is the outside's gateway, never the host's loopback.
                "--no-map-gw",
                // Nothing from the host into the namespace...
                "--tcp-ports",
                "none",
                "--udp-ports",
                "none",
                // ...and of the namespace's loopback, only the function endpoint's port leads
                // to the host's (both default to every port the host listens on).
                "--tcp-ns",
                &tcp_ns,
                "--udp-ns",
                "none",
                "--netns",
                &format!("/proc/self/fd/{namespace_fd}"),
                "--pid",
                &format!("/proc/self/fd/{ready_fd}"),
            ]
            .map(str::to_string),
        );
        // Only with the sandbox's own resolv.conf: pasta also gives the forwarding
        // address as the source of every answer from the host's resolver, which a
        // resolver asked directly would reject.
        if self.resolv_conf.is_some() {
            arguments.extend(["--dns-forward".to_string(), DNS_FORWARD.to_string()]);
        }
        arguments
    }

    /// Starts pasta on the namespace open as `namespace`, owned by `owner` when that is not
    /// the engine's user namespace. It is ready once `ready` is.
    pub fn start(
        &self,
        namespace: &std::fs::File,
        owner: Option<&std::fs::File>,
        endpoint_port: Option<u16>,
    ) -> std::io::Result<Pasta> {
        let (ready_read, ready_write) = std::io::pipe()?;
        // Its messages go to an unnamed file, read only if it fails: a pipe nobody reads
        // would end it with SIGPIPE, and the service log has no use for its chatter.
        let messages = tempfile::tempfile()?;
        let owner_fd = owner.map(AsRawFd::as_raw_fd);
        let fds = [namespace.as_raw_fd(), ready_write.as_raw_fd()];
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(self.arguments(fds[0], owner_fd, fds[1], endpoint_port))
            .env_clear()
            .stdin(std::process::Stdio::null())
            .stdout(messages.try_clone()?)
            .stderr(messages.try_clone()?)
            .kill_on_drop(true);
        // SAFETY: only fcntl and prctl between fork and exec.
        unsafe {
            command.pre_exec(move || {
                super::inherit(fds)?;
                if let Some(owner) = owner_fd {
                    super::inherit([owner, owner])?;
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting pasta ({}): {e}", self.binary.display())))?;
        drop(ready_write);
        Ok(Pasta {
            child,
            ready: Some(ready_read),
            messages,
            watched: None,
        })
    }
}

/// A running pasta, killed when dropped.
pub struct Pasta {
    child: tokio::process::Child,
    ready: Option<std::io::PipeReader>,
    messages: std::fs::File,
    /// The namespace's place in the host address watch, left with pasta.
    watched: Option<Watched>,
}

impl Pasta {
    /// Waits until pasta has configured the namespace; if it ends first, the error is
    /// what it said.
    pub async fn ready(&mut self) -> std::io::Result<()> {
        let Some(ready) = self.ready.take() else {
            return Ok(());
        };
        let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(ready))?;
        let mut pid = Vec::new();
        let read = tokio::time::timeout(READY_WITHIN, async {
            let mut buf = [0u8; 32];
            loop {
                let n = pipe.read(&mut buf).await?;
                pid.extend_from_slice(&buf[..n]);
                if n == 0 || pid.contains(&b'\n') {
                    return Ok::<_, std::io::Error>(());
                }
            }
        })
        .await;
        match read {
            Ok(Ok(())) if pid.contains(&b'\n') => Ok(()),
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => {
                let _ = tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await;
                Err(std::io::Error::other(format!(
                    "pasta could not give the sandbox its network: {}",
                    self.said()
                )))
            }
            Err(_) => Err(std::io::Error::other(format!(
                "pasta did not configure the sandbox's network within {} s: {}",
                READY_WITHIN.as_secs(),
                self.said()
            ))),
        }
    }

    /// Keeps the host's addresses closed in the namespace for as long as pasta serves it.
    pub fn keep_closed_while_running(&mut self, watched: Watched) {
        self.watched = Some(watched);
    }

    /// Stops pasta now (the environment's end).
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// Stops pasta and waits for it to be gone.
    pub async fn kill_and_wait(&mut self) {
        let _ = self.child.kill().await;
    }

    /// What pasta wrote, without its complaints about a missing system logger.
    fn said(&self) -> String {
        let mut text = Vec::new();
        let mut offset = 0;
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.messages.read_at(&mut buf, offset) {
            if n == 0 || text.len() > 16 * 1024 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
            offset += n as u64;
        }
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("to syslog"))
            .collect();
        match lines.is_empty() {
            true => "it said nothing".to_string(),
            false => lines.join("; "),
        }
    }
}

impl std::fmt::Debug for Pasta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pasta").field("pid", &self.child.id()).finish()
    }
}
