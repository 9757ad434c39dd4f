//! What the sandbox user can reach on the host. When the engine runs as root, user code
//! runs as `nobody`, and so does bubblewrap: a path it is asked to bind-mount but cannot
//! reach fails the whole start ("Can't find source path ...: Permission denied"), as a
//! directory under /root or in a private (0700) temp directory does. The kernel is asked as
//! that user, in a child process, so ACLs and mount options count as they do for user code.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the sandbox user's way into a directory stops.
#[derive(Debug)]
pub struct Blocked {
    /// The first directory on the way that it may not enter, or the directory itself when
    /// it may not list it.
    pub at: PathBuf,
    /// Whether `at` is the directory asked about (else one above it).
    pub is_target: bool,
    /// `at`'s permission bits and owner, for the message; `None` if even root cannot stat it.
    pub mode_owner: Option<(u32, u32)>,
}

impl Blocked {
    /// The command that opens the way for every user, as `runtimes install` leaves its
    /// own directories.
    pub fn chmod(&self) -> String {
        match self.is_target {
            true => format!("chmod -R o+rX {}", self.at.display()),
            false => format!("chmod o+x {}", self.at.display()),
        }
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.is_target { "list" } else { "enter" };
        write!(f, "it may not {verb} {}", self.at.display())?;
        match self.mode_owner {
            Some((mode, owner)) => write!(f, " (mode {:04o}, owner uid {owner})", mode & 0o7777),
            None => Ok(()),
        }
    }
}

/// Whether `user` (uid, gid, no supplementary groups, as the sandbox runs) can enter and
/// list `dir`; if not, where it is stopped.
pub fn check_dir(user: (u32, u32), dir: &Path) -> Result<(), Blocked> {
    if access_as(user, dir, libc::R_OK | libc::X_OK).is_ok() {
        return Ok(());
    }
    // The real path names the directories the message must point at (a symlink on the way
    // is not what needs opening); root can resolve it.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut on_the_way: Vec<&Path> = dir.ancestors().skip(1).collect();
    on_the_way.reverse();
    let above = on_the_way
        .into_iter()
        .find(|above| access_as(user, above, libc::X_OK).is_err());
    let at = above.unwrap_or(&dir).to_path_buf();
    Err(Blocked {
        is_target: above.is_none(),
        mode_owner: std::fs::metadata(&at).ok().map(|m| (m.mode(), m.uid())),
        at,
    })
}

/// access(2) of `path` as `user`, in a child that switches to the user and exits without
/// running any program: nothing on this host has to be executable for the check to work.
fn access_as(user: (u32, u32), path: &Path, mode: libc::c_int) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut probe = std::process::Command::new("/bin/true");
    probe
        .uid(user.0)
        .gid(user.1)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: access and _exit are async-signal-safe. std runs this after it switched to
    // the user (real and effective ids, which access checks); an error is handed back to
    // `status` as the spawn's error, a success ends the child before exec.
    unsafe {
        probe.pre_exec(move || {
            if libc::access(path.as_ptr(), mode) == 0 {
                libc::_exit(0);
            }
            Err(std::io::Error::last_os_error())
        });
    }
    let status = probe.status()?;
    match status.success() {
        true => Ok(()),
        false => Err(std::io::Error::other(format!("access probe ended with {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const NOBODY: (u32, u32) = (65534, 65534);

    /// Meaningful only as root, which can switch to another user (the suite runs as root).
    fn as_root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    #[test]
    fn a_directory_inside_a_private_one_is_blocked_where_the_way_closes() {
        if !as_root() {
            eprintln!("not root: the sandbox user is this user, nothing to check");
            return;
        }
        let private = tempfile::tempdir().unwrap();
        std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let sdk = private.path().join("runtimes/python");
        std::fs::create_dir_all(&sdk).unwrap();
        let blocked = check_dir(NOBODY, &sdk).unwrap_err();
        assert_eq!(blocked.at, private.path().canonicalize().unwrap());
        assert!(!blocked.is_target);
        assert_eq!(blocked.chmod(), format!("chmod o+x {}", blocked.at.display()));
        assert!(blocked.to_string().contains("(mode 0700, owner uid 0)"), "{blocked}");

        std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(&sdk, std::fs::Permissions::from_mode(0o700)).unwrap();
        let blocked = check_dir(NOBODY, &sdk).unwrap_err();
        assert!(blocked.is_target, "{blocked}");
        assert!(blocked.to_string().starts_with("it may not list"), "{blocked}");

        std::fs::set_permissions(&sdk, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(private.path().join("runtimes"), std::fs::Permissions::from_mode(0o755)).unwrap();
        check_dir(NOBODY, &sdk).expect("open all the way");
    }
}
