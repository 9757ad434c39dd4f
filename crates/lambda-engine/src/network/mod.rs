//! What network user code gets. `host`: the host's own. `none`: a network namespace of
//! its own with nothing but its Runtime API. `isolated` (the default): the same namespace
//! plus egress through pasta, a user-mode network stack that reaches the outside from the
//! host's side while the host itself stays closed: its loopback (the service, its
//! database, the engine's API, other environments' Runtime APIs) and its own addresses.
//! The one opening is the loopback port of the function's `AWS_ENDPOINT_URL` (moto,
//! LocalStack), forwarded on its own.

mod address_watch;
mod dns;
mod gate;
mod host_addresses;
mod pasta;

use std::path::{Path, PathBuf};

pub use gate::{ISOLATED_RUNTIME_API, NetworkGate, inherit};
pub use pasta::{Egress, Pasta};

use super::config::Network;

/// The network every environment of this engine gets, decided once at start.
#[derive(Debug, Clone)]
pub enum NetworkPolicy {
    /// The host's network, shared.
    Host,
    /// A namespace of its own with only the Runtime API.
    None,
    /// A namespace of its own with egress through pasta.
    Isolated(Egress),
    /// Isolation was asked for and cannot be had here: no environment starts, and each
    /// start says why rather than falling back to the host's network.
    Unavailable(NetworkUnavailable),
}

/// Why `--network isolated` cannot be had on this host; the message names the fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NetworkUnavailable(String);

impl NetworkPolicy {
    /// Whether environments get a network namespace of their own (their Runtime API
    /// bound inside it).
    pub fn namespaced(&self) -> bool {
        matches!(self, Self::None | Self::Isolated(_))
    }

    /// The resolver file the sandbox sees instead of the host's, when it has one.
    pub fn resolv_conf(&self) -> Option<(&Path, &Path)> {
        match self {
            Self::Isolated(egress) => egress.resolv_conf(),
            _ => None,
        }
    }
}

/// Decides the network of every environment: checks that what `network` needs is there.
/// `bubblewrap` says whether the sandbox works on this host; `work_dir` is where the
/// engine may write the sandbox's resolver file.
pub fn policy(network: Network, bubblewrap: bool, work_dir: &Path) -> NetworkPolicy {
    match network {
        Network::Host => NetworkPolicy::Host,
        Network::None => NetworkPolicy::None,
        Network::Isolated => match isolated(bubblewrap, work_dir) {
            Ok(egress) => NetworkPolicy::Isolated(egress),
            Err(why) => NetworkPolicy::Unavailable(why),
        },
    }
}

/// What `--network isolated` needs: bubblewrap for the namespace and pasta for the egress.
/// The engine enters each namespace to bind the Runtime API and close the host's
/// addresses there: as root directly, as an ordinary user through the user namespace
/// bubblewrap made for the sandbox (`gate`).
pub fn isolated(bubblewrap: bool, work_dir: &Path) -> Result<Egress, NetworkUnavailable> {
    let unavailable = |what: &str| {
        Err(NetworkUnavailable(format!(
            "`--network isolated` {what}; or set `--network none` (no network but the Runtime API) \
             or, on a single-tenant host only, `--network host`"
        )))
    };
    if !bubblewrap {
        return unavailable("needs a working bubblewrap sandbox (apt-get install bubblewrap)");
    }
    let Some(pasta) = find_pasta() else {
        return unavailable("needs pasta from Debian's passt package (apt-get install passt)");
    };
    // pasta gives the namespace its interface through the TUN device, opened by the
    // engine's user; container runtimes leave it out unless asked.
    match std::fs::OpenOptions::new().read(true).write(true).open(TUN) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return unavailable(&format!(
                "needs the TUN device {TUN} open to the engine's user for pasta, and it is not ({e}): \
                 chmod 0666 {TUN}, the mode distributions' udev gives it"
            ));
        }
        Err(e) => {
            return unavailable(&format!(
                "needs the TUN device {TUN} for pasta ({e}): in a container, --device {TUN} \
                 (`devices:` in docker-compose.yml); on a host, modprobe tun"
            ));
        }
    }
    let resolv_conf = dns::sandbox_resolv_conf(Path::new("/etc/resolv.conf"), work_dir)
        .map_err(|e| NetworkUnavailable(format!("writing the sandbox's resolv.conf: {e}")))?;
    Ok(Egress::new(pasta, resolv_conf))
}

/// The TUN device pasta opens.
const TUN: &str = "/dev/net/tun";

fn find_pasta() -> Option<PathBuf> {
    ["/usr/bin/pasta", "/usr/local/bin/pasta", "/usr/sbin/pasta"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Says at start what user code's network exposes when that is more than its own.
pub fn announce(policy: &NetworkPolicy) {
    match policy {
        NetworkPolicy::Host => tracing::warn!(
            "--network host: user code reaches everything this host reaches, its loopback included: \
             this service's API and database, the engine's API, other functions' Runtime APIs and \
             every other local service. Use it only on a single-tenant host; the default, \
             --network isolated, gives each environment the outside without the host"
        ),
        NetworkPolicy::Unavailable(why) => {
            tracing::error!("no function can run until this is fixed: {why}")
        }
        NetworkPolicy::None | NetworkPolicy::Isolated(_) => {}
    }
}
