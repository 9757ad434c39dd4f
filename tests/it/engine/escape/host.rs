//! What the host offers an attacker, seen from the test: the TCP ports listening now
//! (`/proc/net/tcp{,6}`), the host's own addresses, listeners of the test's own that count
//! who reaches them (the canaries), and where project B's code, /tmp and Runtime API are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A TCP socket in the LISTEN state.
#[derive(Debug, Clone, Copy)]
pub struct Listening {
    pub address: IpAddr,
    pub port: u16,
}

/// Every listening TCP socket of the host's network namespace.
pub fn listening_ports() -> Vec<Listening> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // 0A is TCP_LISTEN.
            if fields.get(3) != Some(&"0A") {
                continue;
            }
            if let Some(listening) = fields.get(1).and_then(|local| parse_local(local)) {
                found.push(listening);
            }
        }
    }
    found
}

/// `0100007F:1538` (IPv4) or 32 hex digits and a port (IPv6): the kernel prints each 32-bit
/// word of the address as the host's byte order loads it from memory.
fn parse_local(local: &str) -> Option<Listening> {
    let (address, port) = local.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let bytes: Vec<u8> = (0..address.len() / 8)
        .map(|i| u32::from_str_radix(&address[i * 8..i * 8 + 8], 16).map(u32::to_ne_bytes))
        .collect::<Result<Vec<_>, _>>()
        .ok()?
        .concat();
    let address = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(Listening { address, port })
}

/// The host's addresses other than loopback (`hostname -I`: every configured address but
/// loopback and link-local).
pub fn host_addresses() -> Vec<IpAddr> {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("hostname -I runs (Debian's hostname package)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// Where an attacker would connect to reach a listening socket: its own address, or the
/// loopback of its family when it listens on every address.
pub fn loopback_target(listening: &Listening) -> Option<SocketAddr> {
    let address = listening.address;
    if address.is_loopback() {
        Some(SocketAddr::new(address, listening.port))
    } else if address.is_unspecified() {
        let loopback = match address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        Some(SocketAddr::new(loopback, listening.port))
    } else {
        None
    }
}

/// A listener of the test's own that counts the connections it accepts: a leak the test
/// sees from its own side.
pub struct Canary {
    pub address: String,
    accepted: Arc<AtomicU64>,
}

impl Canary {
    /// On `address` (port 0), or `None` where the host has no such address (no IPv6).
    pub async fn tcp(address: &str) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind(address).await.ok()?;
        let address = listener.local_addr().ok()?.to_string();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Some(Self { address, accepted })
    }

    /// An abstract unix socket (`@name`): reachable from the same network namespace only.
    pub fn abstract_unix(name: &str) -> Self {
        use std::os::linux::net::SocketAddrExt;
        let at = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&at).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::UnixListener::from_std(listener).unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            address: name.to_string(),
            accepted,
        }
    }

    /// Connections accepted since the last call.
    pub fn take(&self) -> u64 {
        self.accepted.swap(0, Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.address.parse::<SocketAddr>().map(|a| a.port()).unwrap_or(0)
    }
}

/// Where project B's running function lives on the host.
#[derive(Debug, Default)]
pub struct VictimPlaces {
    /// Its Runtime API address, as its own environment variables say.
    pub runtime_api: Option<String>,
    /// Its unpacked code and zip, wherever the engine keeps them.
    pub code: Vec<PathBuf>,
    /// The marker file it wrote to its /tmp, if the host's file system shows it.
    pub tmp_marker: Vec<PathBuf>,
    /// The engine's work directory that holds its code.
    pub engine_work_dir: Option<PathBuf>,
}

/// Finds B's process by its secret in `/proc/*/environ` (the test runs as root, or as the
/// user that runs the functions), and its files by their contents or name under the engine's
/// work directories (`lambda-steps-engine-*` in the temp directory) and its data directory.
pub fn find_victim(secret: &str, code_marker: &str, tmp_marker: &str, engine_data: &Path) -> VictimPlaces {
    let mut places = VictimPlaces::default();
    let wanted = format!("B_SECRET={secret}");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let variables: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if variables.contains(&wanted) {
            places.runtime_api = variables
                .iter()
                .find_map(|v| v.strip_prefix("AWS_LAMBDA_RUNTIME_API="))
                .map(str::to_string);
        }
    }
    let mut roots: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("lambda-steps-engine-"))
        .map(|e| e.path())
        .collect();
    roots.push(engine_data.to_path_buf());
    for root in roots {
        let before = places.code.len();
        walk(&root, 0, &mut |path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name == tmp_marker {
                places.tmp_marker.push(path.to_path_buf());
            } else if std::fs::metadata(path).is_ok_and(|m| m.len() < 1 << 20)
                && std::fs::read(path)
                    .is_ok_and(|bytes| contains(&bytes, code_marker.as_bytes()) || is_zip_of(&bytes, code_marker))
            {
                places.code.push(path.to_path_buf());
            }
        });
        if places.code.len() > before && root != engine_data {
            places.engine_work_dir = Some(root);
        }
    }
    // Without a sandbox, B's /tmp is the host's.
    let host_tmp = Path::new("/tmp").join(tmp_marker);
    if host_tmp.exists() {
        places.tmp_marker.push(host_tmp);
    }
    places
}

fn walk(dir: &Path, depth: usize, found: &mut impl FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() && depth < 6 => walk(&path, depth + 1, found),
            Ok(kind) if kind.is_file() => found(&path),
            _ => {}
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether `bytes` is a zip with an entry holding `marker`.
fn is_zip_of(bytes: &[u8], marker: &str) -> bool {
    let Ok(mut archive) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return false;
    };
    (0..archive.len()).any(|i| {
        let mut text = String::new();
        archive
            .by_index(i)
            .is_ok_and(|mut entry| std::io::Read::read_to_string(&mut entry, &mut text).is_ok())
            && text.contains(marker)
    })
}
