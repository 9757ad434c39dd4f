//! Name resolution inside an isolated namespace. The sandbox reads the host's
//! /etc/resolv.conf; a resolver on the outside is reached through pasta like any address,
//! but one on the host's loopback (systemd-resolved's 127.0.0.53, Docker's 127.0.0.11)
//! would be looked for on the namespace's own loopback. For those, the sandbox gets a
//! resolv.conf naming `DNS_FORWARD`, an address pasta maps to the host's first resolver.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The address the namespace sends DNS queries to when the host's resolver is on its
/// loopback (pasta's `--dns-forward`): link-local, so it names nothing on the outside.
pub const DNS_FORWARD: &str = "169.254.0.53";

/// The resolver file for the sandbox and where it is mounted, or `None` when the host's
/// own serves (no resolver on the host's loopback).
pub fn sandbox_resolv_conf(host: &Path, work_dir: &Path) -> std::io::Result<Option<(PathBuf, PathBuf)>> {
    let Ok(text) = std::fs::read_to_string(host) else {
        return Ok(None);
    };
    let Some(rewritten) = rewrite(&text) else {
        return Ok(None);
    };
    let file = work_dir.join("resolv.conf");
    std::fs::write(&file, rewritten)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    }
    // systemd-resolved makes /etc/resolv.conf a link into /run, which the sandbox does
    // not have: the file goes where the link leads, so the link finds it.
    let target = host.canonicalize().unwrap_or_else(|_| host.to_path_buf());
    Ok(Some((file, target)))
}

/// The host's resolv.conf with its nameservers replaced by `DNS_FORWARD`, when one of
/// them is on the loopback; search domains and options are kept.
fn rewrite(text: &str) -> Option<String> {
    let nameserver = |line: &str| {
        line.strip_prefix("nameserver")
            .map(|rest| rest.trim().split('%').next().unwrap_or("").parse::<IpAddr>())
    };
    let on_loopback = text
        .lines()
        .filter_map(nameserver)
        .any(|address| address.is_ok_and(|a| a.is_loopback()));
    if !on_loopback {
        return None;
    }
    let mut out = format!("nameserver {DNS_FORWARD}\n");
    for line in text.lines().filter(|line| nameserver(line).is_none()) {
        out.push_str(line);
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_resolver_is_replaced_by_the_forwarded_address_and_the_rest_kept() {
        let host = "# managed\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n";
        assert_eq!(
            rewrite(host).unwrap(),
            format!("nameserver {DNS_FORWARD}\n# managed\noptions edns0 trust-ad\nsearch corp.example\n")
        );
        assert!(rewrite("nameserver ::1\n").is_some());
    }

    #[test]
    fn resolvers_on_the_outside_are_used_as_they_are() {
        assert_eq!(rewrite("nameserver 10.255.255.53\nnameserver fe80::1%eth0\n"), None);
        assert_eq!(rewrite(""), None);
    }
}
