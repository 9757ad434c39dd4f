//! Whether bubblewrap can contain user code on this host, tried once at start with the
//! policy every environment gets; when it cannot, the reason in words an operator can act
//! on: what is missing and how to grant it.

use std::path::{Path, PathBuf};

/// Where bubblewrap is looked for when no path is set.
const BWRAP_PLACES: [&str; 2] = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"];

/// What to install when bubblewrap is missing.
const INSTALL: &str = "Debian and Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap";

/// The bubblewrap to use: the configured path, else the first of the usual places.
pub fn find_bwrap(configured: Option<&Path>) -> Result<PathBuf, String> {
    match configured {
        Some(path) if path.exists() => Ok(path.to_path_buf()),
        Some(path) => Err(format!("bubblewrap is not installed at {} ({INSTALL})", path.display())),
        None => BWRAP_PLACES
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| format!("bubblewrap is not installed ({INSTALL})")),
    }
}

/// Whether this bubblewrap takes `--size` (0.8 and later), from `bwrap --version`.
pub fn sizes_tmpfs(bwrap: &Path) -> bool {
    let Ok(out) = std::process::Command::new(bwrap).arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let version: Vec<u32> = text
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    matches!(version.as_slice(), [major, minor, ..] if (*major, *minor) >= (0, 8))
}

/// Why bubblewrap failed, from what it printed and what the host says, with the way to
/// grant what it lacks.
pub fn diagnose(bwrap: &Path, status: std::process::ExitStatus, stderr: &str) -> String {
    let said = match stderr.trim() {
        "" => format!("{} ended with {status} and said nothing", bwrap.display()),
        said => said.to_string(),
    };
    let read = |path: &str| std::fs::read_to_string(path).ok().map(|v| v.trim().to_string());
    let in_container = Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists();
    let mut why = format!("bubblewrap cannot create a sandbox here ({said})");
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        why.push_str("; user namespaces are off: sysctl -w kernel.unprivileged_userns_clone=1");
    } else if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        why.push_str("; user namespaces are off: sysctl -w user.max_user_namespaces=15000");
    } else if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        why.push_str(
            "; AppArmor keeps unprivileged programs from user namespaces: \
             sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile for bwrap",
        );
    } else if in_container && said.contains("mount proc") {
        // The runtime masks /proc's paths (/proc/kcore, /proc/sys...) with mounts of its own,
        // and the kernel refuses a new /proc over a masked one: seccomp is not the cause.
        why.push_str(
            "; in a container, the runtime's masked /proc paths keep bubblewrap from mounting the sandbox's /proc: \
             run it with --security-opt systempaths=unconfined (podman also takes unmask=ALL), plus the seccomp \
             and AppArmor settings of docker-compose.yml",
        );
    } else if in_container {
        why.push_str(
            "; in a container, the default seccomp and AppArmor profiles refuse the namespaces bubblewrap makes: \
             run it with --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
             (see docker-compose.yml)",
        );
    } else if said.contains("Permission denied") || said.contains("Operation not permitted") {
        why.push_str("; this host refuses user namespaces to this user (check the sysctls user.max_user_namespaces and kernel.unprivileged_userns_clone)");
    }
    why
}

/// The message every refused run carries: what is missing, and the two ways out.
pub fn refusal(missing: &str) -> String {
    format!(
        "the embedded Lambda engine runs no user code on this host, because it cannot contain it: {missing}. \
         Grant that, or, on a single-tenant host only, start the service with --isolation none \
         (LAMBDA_STEPS_ENGINE_ISOLATION=none) to run user code unconfined"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_bwrap_names_the_package_and_a_refusal_names_the_way_out() {
        let refusal = refusal("bubblewrap is not installed (apt-get install bubblewrap)");
        assert!(refusal.contains("apt-get install bubblewrap"), "{refusal}");
        assert!(refusal.contains("--isolation none"), "{refusal}");
        assert!(refusal.contains("LAMBDA_STEPS_ENGINE_ISOLATION=none"), "{refusal}");
        let missing = find_bwrap(Some(Path::new("/nonexistent/bwrap"))).unwrap_err();
        assert!(missing.contains("apt-get install bubblewrap"), "{missing}");
    }

    #[test]
    fn what_bubblewrap_printed_is_kept_in_the_diagnosis() {
        use std::os::unix::process::ExitStatusExt;
        let failed = std::process::ExitStatus::from_raw(1 << 8);
        let why = diagnose(
            Path::new("/usr/bin/bwrap"),
            failed,
            "bwrap: No permissions to creating new namespace\n",
        );
        assert!(
            why.starts_with("bubblewrap cannot create a sandbox here (bwrap: No permissions"),
            "{why}"
        );
        let silent = diagnose(Path::new("/bin/false"), failed, "");
        assert!(
            silent.contains("/bin/false ended with exit status: 1 and said nothing"),
            "{silent}"
        );
    }
}
