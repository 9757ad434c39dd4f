//! What one execution environment's processes get, as one value: the user they run as,
//! the namespaces, every mount, the resource limits and which mechanism enforces each.
//! The engine builds it (`Sandbox::policy`), logs it, and only then turns it into
//! bubblewrap's arguments and the rlimits set before exec. The network is not part of it:
//! the network gate (`engine::network`) adds its own arguments.

use std::ffi::OsString;
use std::path::PathBuf;

/// A mount of the sandbox, in the order bubblewrap applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host directory at the same place, read-only (system files and software).
    HostReadOnly(PathBuf),
    /// A symlink at `at` pointing at `target` (`/bin -> usr/bin`).
    Symlink { target: PathBuf, at: PathBuf },
    /// A `/proc` of the sandbox's own PID namespace.
    Proc(PathBuf),
    /// A minimal `/dev` (null, zero, random, tty...), remounted read-only: its tmpfs has
    /// no size, and without root the sandbox's user owns it (its device nodes still work).
    Dev(PathBuf),
    /// An empty tmpfs over a host directory user code must not see, of one page where
    /// bubblewrap sizes tmpfs (`bytes`): without root the sandbox's user owns it, and an
    /// unsized one would hold as much as memory.
    Hidden { at: PathBuf, bytes: Option<u64> },
    /// A private tmpfs owned by the sandbox user (mode 0700), of at most `bytes` (no size
    /// when bubblewrap is older than 0.8).
    Scratch { at: PathBuf, bytes: Option<u64> },
    /// A host directory at `at`, read-only.
    ReadOnly { host: PathBuf, at: PathBuf },
}

/// A resource limit set with setrlimit before exec (soft and hard alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rlimit {
    CpuSeconds(u64),
    AddressSpaceBytes(u64),
    /// The process's writable private memory (heap, anonymous mappings, thread stacks):
    /// what it can fill, as opposed to what it maps.
    DataBytes(u64),
    /// Processes and threads of the real user id, across every process of that user.
    Processes(u64),
    FileSizeBytes(u64),
    OpenFiles(u64),
    CoreBytes(u64),
}

impl Rlimit {
    /// The resource and value as setrlimit takes them.
    pub fn raw(self) -> (libc::__rlimit_resource_t, u64) {
        match self {
            Self::CpuSeconds(v) => (libc::RLIMIT_CPU, v),
            Self::AddressSpaceBytes(v) => (libc::RLIMIT_AS, v),
            Self::DataBytes(v) => (libc::RLIMIT_DATA, v),
            Self::Processes(v) => (libc::RLIMIT_NPROC, v),
            Self::FileSizeBytes(v) => (libc::RLIMIT_FSIZE, v),
            Self::OpenFiles(v) => (libc::RLIMIT_NOFILE, v),
            Self::CoreBytes(v) => (libc::RLIMIT_CORE, v),
        }
    }
}

/// The limits a cgroup of the environment's own holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CgroupLimits {
    pub memory_bytes: Option<u64>,
    pub processes: Option<u64>,
}

/// How one environment's processes are confined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// uid and gid; `None` runs as the engine's own user.
    pub user: Option<(u32, u32)>,
    /// Whether the uid is this environment's alone (so a process count per uid is per
    /// environment).
    pub user_is_dedicated: bool,
    /// Namespaces bubblewrap creates (empty: no bubblewrap). The network's are the gate's.
    pub namespaces: Vec<&'static str>,
    pub mounts: Vec<Mount>,
    pub rlimits: Vec<Rlimit>,
    pub cgroup: CgroupLimits,
    /// The process count set inside the sandbox's own user namespace (an engine that is
    /// not root and has no pids cgroup): the kernel counts a user's processes per user
    /// namespace, so this count is the environment's alone. Set before bubblewrap, it
    /// would also cap every environment's processes together (the kernel checks each
    /// namespace's count against the limit its creator had).
    pub processes_in_namespace: Option<u64>,
    /// The directory the runtime starts in, as it sees it.
    pub workdir: PathBuf,
}

/// The program that sets the process count inside the sandbox (util-linux's prlimit,
/// under /usr, which every sandbox mounts).
pub const PRLIMIT: &str = "/usr/bin/prlimit";

/// bubblewrap's namespaces for every environment: its own processes, System V IPC and
/// host name; its own cgroup view where the kernel has cgroup namespaces.
pub const NAMESPACES: [&str; 4] = ["pid", "ipc", "uts", "cgroup"];

impl Policy {
    /// bubblewrap's arguments up to (not including) the program.
    pub fn bubblewrap_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&std::ffi::OsStr]| args.extend(items.iter().map(|s| s.to_os_string()));
        for namespace in &self.namespaces {
            let flag = match *namespace {
                "cgroup" => "--unshare-cgroup-try".to_string(),
                other => format!("--unshare-{other}"),
            };
            push(&[flag.as_ref()]);
        }
        push(&[
            "--cap-drop".as_ref(),
            "ALL".as_ref(),
            "--new-session".as_ref(),
            "--die-with-parent".as_ref(),
        ]);
        for mount in &self.mounts {
            match mount {
                Mount::HostReadOnly(path) => push(&["--ro-bind".as_ref(), path.as_os_str(), path.as_os_str()]),
                Mount::Symlink { target, at } => push(&["--symlink".as_ref(), target.as_os_str(), at.as_os_str()]),
                Mount::Proc(at) => push(&["--proc".as_ref(), at.as_os_str()]),
                Mount::Dev(at) => push(&[
                    "--dev".as_ref(),
                    at.as_os_str(),
                    "--remount-ro".as_ref(),
                    at.as_os_str(),
                ]),
                Mount::Hidden { at, bytes } => {
                    if let Some(bytes) = bytes {
                        push(&["--size".as_ref(), bytes.to_string().as_ref()]);
                    }
                    push(&["--tmpfs".as_ref(), at.as_os_str()]);
                }
                Mount::Scratch { at, bytes } => {
                    push(&["--perms".as_ref(), "0700".as_ref()]);
                    if let Some(bytes) = bytes {
                        push(&["--size".as_ref(), bytes.to_string().as_ref()]);
                    }
                    push(&["--tmpfs".as_ref(), at.as_os_str()]);
                }
                Mount::ReadOnly { host, at } => push(&["--ro-bind".as_ref(), host.as_os_str(), at.as_os_str()]),
            }
        }
        push(&["--chdir".as_ref(), self.workdir.as_os_str()]);
        args
    }

    /// What bubblewrap runs: `program args`, behind prlimit when the process count is set
    /// inside the sandbox.
    pub fn inside(&self, program: &std::path::Path, args: &[OsString]) -> Vec<OsString> {
        let mut line = Vec::new();
        if let Some(count) = self.processes_in_namespace {
            line.extend([PRLIMIT.into(), format!("--nproc={count}").into(), "--".into()]);
        }
        line.push(program.as_os_str().to_os_string());
        line.extend(args.iter().cloned());
        line
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |bytes: u64| format!("{} MB", bytes / (1024 * 1024));
        match self.user {
            Some((uid, gid)) if self.user_is_dedicated => write!(f, "user {uid}:{gid} (its own)")?,
            Some((uid, gid)) => write!(f, "user {uid}:{gid} (shared)")?,
            None => write!(f, "the engine's user")?,
        }
        match self.namespaces.is_empty() {
            true => write!(f, "; no bubblewrap: no namespaces, no mounts")?,
            false => write!(f, "; namespaces {}", self.namespaces.join(" "))?,
        }
        for mount in &self.mounts {
            match mount {
                Mount::HostReadOnly(path) => write!(f, "; ro {}", path.display())?,
                Mount::Symlink { target, at } => write!(f, "; {} -> {}", at.display(), target.display())?,
                Mount::Proc(at) => write!(f, "; proc {}", at.display())?,
                Mount::Dev(at) => write!(f, "; dev {} (read-only)", at.display())?,
                Mount::Hidden { at, .. } => write!(f, "; hidden {}", at.display())?,
                Mount::Scratch { at, bytes: Some(bytes) } => write!(f, "; tmpfs {} of {}", at.display(), mb(*bytes))?,
                Mount::Scratch { at, bytes: None } => write!(f, "; tmpfs {} (no size)", at.display())?,
                Mount::ReadOnly { host, at } => write!(f, "; ro {} at {}", host.display(), at.display())?,
            }
        }
        for limit in &self.rlimits {
            match limit {
                Rlimit::CpuSeconds(v) => write!(f, "; rlimit cpu {v} s")?,
                Rlimit::AddressSpaceBytes(v) => write!(f, "; rlimit address space {}", mb(*v))?,
                Rlimit::DataBytes(v) => write!(f, "; rlimit data {}", mb(*v))?,
                Rlimit::Processes(v) => write!(f, "; rlimit processes {v}")?,
                Rlimit::FileSizeBytes(v) => write!(f, "; rlimit file size {}", mb(*v))?,
                Rlimit::OpenFiles(v) => write!(f, "; rlimit open files {v}")?,
                Rlimit::CoreBytes(v) => write!(f, "; rlimit core {v}")?,
            }
        }
        if let Some(bytes) = self.cgroup.memory_bytes {
            write!(f, "; cgroup memory {}", mb(bytes))?;
        }
        if let Some(count) = self.cgroup.processes {
            write!(f, "; cgroup processes {count}")?;
        }
        if let Some(count) = self.processes_in_namespace {
            write!(f, "; processes {count} in its own user namespace")?;
        }
        Ok(())
    }
}

/// Whether `path` is where a mount of the policy puts something (for the tests).
#[cfg(test)]
pub fn mounted_at<'a>(policy: &'a Policy, path: &std::path::Path) -> Option<&'a Mount> {
    policy.mounts.iter().rev().find(|m| match m {
        Mount::HostReadOnly(p) | Mount::Proc(p) | Mount::Dev(p) => p == path,
        Mount::Hidden { at, .. }
        | Mount::Symlink { at, .. }
        | Mount::Scratch { at, .. }
        | Mount::ReadOnly { at, .. } => at == path,
    })
}
