//! A cgroup per execution environment, where this host lets the engine make one: the
//! memory controller holds the function's MemorySize (the kernel kills past it, as Lambda
//! does), the pids controller its process count, and every process of the environment can
//! be found and killed through it, whatever it did to leave its process group.
//!
//! The engine nests its cgroups under its own: cgroup v1 (a hierarchy per controller, at
//! `/sys/fs/cgroup/{memory,pids}`) or cgroup v2 (one hierarchy; the engine first moves
//! itself into a leaf of its cgroup, as v2 allows controllers only on cgroups without
//! processes). A read-only or absent hierarchy (most containers) leaves the controller out;
//! the start log says which limits hold by which means.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cgroup directories the engine creates environments under.
#[derive(Debug)]
pub enum CgroupTree {
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
    },
    V2 {
        dir: PathBuf,
        memory: bool,
        pids: bool,
    },
}

/// One environment's cgroup(s). Dropping it kills what is left in them and removes them.
#[derive(Debug)]
pub struct EnvironmentCgroup {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each, opened by the engine: the child writes "0" to each between
    /// fork and exec, so the runtime and everything it starts is inside from its first
    /// instruction.
    procs: Vec<OwnedFd>,
    /// Where the kernel counts OOM kills (`memory.oom_control` or `memory.events`).
    oom_events: Option<PathBuf>,
}

impl CgroupTree {
    /// Finds what this host lets the engine use; `None` when no controller is writable.
    pub fn detect() -> Option<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        // Several engines may share a process (tests do).
        static ENGINES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let serial = ENGINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{serial}", std::process::id());
        let v1 = |controller: &str| -> Option<PathBuf> {
            let path = own.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.to_string())
            })?;
            let mount = Path::new("/sys/fs/cgroup").join(controller);
            let mine = mount.join(path.trim_start_matches('/'));
            sweep_stale(&mine);
            let dir = mine.join(&name);
            std::fs::create_dir(&dir).ok()?;
            Some(dir)
        };
        let (memory, pids) = (v1("memory"), v1("pids"));
        if memory.is_some() || pids.is_some() {
            return Some(Self::V1 { memory, pids });
        }
        v2(&own, &name)
    }

    /// Makes the cgroup of one environment with its limits.
    pub fn create(
        &self,
        id: &str,
        memory_bytes: Option<u64>,
        processes: Option<u64>,
    ) -> std::io::Result<EnvironmentCgroup> {
        let mut cgroup = EnvironmentCgroup {
            dirs: Vec::new(),
            procs: Vec::new(),
            oom_events: None,
        };
        match self {
            Self::V1 { memory, pids } => {
                if let (Some(parent), Some(bytes)) = (memory, memory_bytes) {
                    let dir = cgroup.make(parent, id)?;
                    write(&dir.join("memory.limit_in_bytes"), bytes)?;
                    // With swap accounting, swap is no way around the limit.
                    let _ = write(&dir.join("memory.memsw.limit_in_bytes"), bytes);
                    cgroup.oom_events = Some(dir.join("memory.oom_control"));
                }
                if let (Some(parent), Some(count)) = (pids, processes) {
                    let dir = cgroup.make(parent, id)?;
                    write(&dir.join("pids.max"), count)?;
                }
            }
            Self::V2 {
                dir: parent,
                memory,
                pids,
            } => {
                let dir = cgroup.make(parent, id)?;
                if let (true, Some(bytes)) = (memory, memory_bytes) {
                    write(&dir.join("memory.max"), bytes)?;
                    let _ = write(&dir.join("memory.swap.max"), 0);
                    cgroup.oom_events = Some(dir.join("memory.events"));
                }
                if let (true, Some(count)) = (pids, processes) {
                    write(&dir.join("pids.max"), count)?;
                }
            }
        }
        Ok(cgroup)
    }

    pub fn limits_memory(&self) -> bool {
        matches!(self, Self::V1 { memory: Some(_), .. } | Self::V2 { memory: true, .. })
    }

    pub fn limits_processes(&self) -> bool {
        matches!(self, Self::V1 { pids: Some(_), .. } | Self::V2 { pids: true, .. })
    }

    /// For the start log.
    pub fn describe(&self) -> String {
        match self {
            Self::V1 { memory, pids } => format!(
                "cgroup v1 (memory: {}, pids: {})",
                memory
                    .as_ref()
                    .map_or("not writable".into(), |d| d.display().to_string()),
                pids.as_ref().map_or("not writable".into(), |d| d.display().to_string()),
            ),
            Self::V2 { dir, memory, pids } => {
                format!("cgroup v2 at {} (memory: {memory}, pids: {pids})", dir.display())
            }
        }
    }
}

impl Drop for CgroupTree {
    /// Its environments' cgroups go in threads of their own: this waits for them a while.
    fn drop(&mut self) {
        let dirs: Vec<PathBuf> = match self {
            Self::V1 { memory, pids } => [memory.clone(), pids.clone()].into_iter().flatten().collect(),
            Self::V2 { dir, .. } => vec![dir.clone()],
        };
        std::thread::spawn(move || remove_when_empty(dirs));
    }
}

/// The name of every engine's cgroup: the prefix, its process id, a serial number.
const PREFIX: &str = "lambda-steps-engine-";

/// Removes the cgroups engines that are gone left behind (a crash, or an exit before the
/// removal threads were done): those whose process no longer runs.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.split('-').next()) else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        if let Ok(children) = std::fs::read_dir(entry.path()) {
            for child in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = std::fs::remove_dir(child.path());
            }
        }
        let _ = std::fs::remove_dir(entry.path());
    }
}

/// rmdir, retried for a few seconds: a cgroup goes only once its last process is reaped.
fn remove_when_empty(dirs: Vec<PathBuf>) {
    for dir in dirs {
        for _ in 0..100 {
            if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// cgroup v2: the engine's own cgroup, with the memory and pids controllers enabled for its
/// children; the engine moves into a `service` leaf first when it must.
fn v2(own: &str, name: &str) -> Option<CgroupTree> {
    let path = own.lines().find_map(|line| line.strip_prefix("0::"))?;
    let mine = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let available = std::fs::read_to_string(mine.join("cgroup.controllers")).ok()?;
    let has = |c: &str| available.split_whitespace().any(|a| a == c);
    let (memory, pids) = (has("memory"), has("pids"));
    if !memory && !pids {
        return None;
    }
    let wanted: String = [("memory", memory), ("pids", pids)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(c, _)| format!("+{c} "))
        .collect();
    let enable = || std::fs::write(mine.join("cgroup.subtree_control"), wanted.trim());
    if enable().is_err() {
        // Processes in a cgroup keep its controllers from its children: move into a leaf.
        let leaf = mine.join("service");
        let _ = std::fs::create_dir(&leaf);
        std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string()).ok()?;
        enable().ok()?;
    }
    sweep_stale(&mine);
    let dir = mine.join(name);
    std::fs::create_dir(&dir).ok()?;
    std::fs::write(dir.join("cgroup.subtree_control"), wanted.trim()).ok()?;
    Some(CgroupTree::V2 { dir, memory, pids })
}

impl EnvironmentCgroup {
    fn make(&mut self, parent: &Path, id: &str) -> std::io::Result<PathBuf> {
        let dir = parent.join(id);
        std::fs::create_dir(&dir)?;
        self.dirs.push(dir.clone());
        let procs = std::fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?;
        self.procs.push(procs.into());
        Ok(dir)
    }

    /// The descriptors the child writes itself into.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.procs.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// How many of its processes the kernel killed for memory so far.
    pub fn oom_kills(&self) -> u64 {
        let Some(events) = &self.oom_events else { return 0 };
        std::fs::read_to_string(events)
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// SIGKILL to every process in it, until none is left.
    pub fn kill_all(&self) {
        kill_all(&self.dirs);
    }
}

impl Drop for EnvironmentCgroup {
    /// Removing a cgroup waits for its last process to be reaped, which may take a moment
    /// after the kill: a thread kills and tries for a few seconds so the caller does not wait.
    fn drop(&mut self) {
        let dirs = std::mem::take(&mut self.dirs);
        if dirs.is_empty() {
            return;
        }
        std::thread::spawn(move || {
            kill_all(&dirs);
            remove_when_empty(dirs);
        });
    }
}

/// SIGKILL to every process in the cgroups, until none is left (a fork racing the kill
/// is caught by the next round).
fn kill_all(dirs: &[PathBuf]) {
    for dir in dirs {
        for _ in 0..20 {
            let pids = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = pids.lines().filter_map(|p| p.trim().parse().ok()).collect();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn write(path: &Path, value: u64) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(value.to_string().as_bytes())
}

/// Moves the calling process into each cgroup, between fork and exec.
///
/// # Safety
/// Only calls write(2), which is async-signal-safe.
pub unsafe fn join(fds: &[RawFd]) -> std::io::Result<()> {
    for fd in fds {
        // SAFETY: writing two bytes from a static buffer to a descriptor this process owns.
        if unsafe { libc::write(*fd, b"0\n".as_ptr().cast(), 2) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
