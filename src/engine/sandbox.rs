//! How user code is started: a fresh process group with resource limits, none of the
//! engine's environment, an unprivileged user when the engine runs as root, and, where
//! bubblewrap is installed, inside its namespaces with the engine's data hidden.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::config::Network;
use super::network::{self, NetworkGate, NetworkPolicy};

/// Where a runtime process sees its code, bootstrap and scratch directory.
pub const SANDBOX_TASK_ROOT: &str = "/var/task";
pub const SANDBOX_RUNTIME_DIR: &str = "/var/runtime";

/// The directories under the runtime directory where each language's AWS SDK is mounted:
/// Python's modules, Node's `node_modules`, Ruby's gems.
pub const SDK_MOUNTS: [&str; 3] = ["python", "node_modules", "gems"];

/// Where ES modules under /var/task find packages besides their own: a `node_modules` in
/// a directory above the importing file.
const SANDBOX_ESM_MODULES: &str = "/var/node_modules";

/// Which isolation user code gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxMode {
    /// bubblewrap if it is installed and works, else plain processes.
    Auto,
    /// bubblewrap, failing loudly if it cannot start.
    Bubblewrap,
    /// Plain processes with limits only.
    None,
}

/// Resource limits of one execution environment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_mb: u32,
    /// Address space headroom above the function's memory: interpreters map far more
    /// than they touch.
    pub address_space_headroom_mb: u32,
    pub cpu_seconds: u64,
    pub processes: u64,
    pub file_size_mb: u64,
    pub open_files: u64,
    /// Whether to cap the address space at all (V8 reserves gigabytes it never uses).
    pub cap_address_space: bool,
}

/// The sandbox user code runs in, decided once at engine start.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub bubblewrap: Option<PathBuf>,
    /// uid and gid to run as; set when the engine itself runs as root.
    pub user: Option<(u32, u32)>,
    /// Directories user code must not see (the engine's data directory).
    pub hidden: Vec<PathBuf>,
    /// What network user code gets.
    pub network: NetworkPolicy,
}

/// The directories of one environment on the host.
pub struct Mounts<'a> {
    pub task_root: &'a Path,
    pub runtime_dir: &'a Path,
    pub tmp_dir: &'a Path,
    /// SDK directories on the host, each with its place in `SDK_MOUNTS`, mounted read-only.
    pub sdks: &'a [(PathBuf, &'static str)],
}

impl Sandbox {
    /// Decides the sandbox for this host: checks bubblewrap by running it once, then what
    /// `network` needs (`work_dir` holds the files the sandbox's network may need).
    pub fn detect(mode: SandboxMode, network: Network, hidden: Vec<PathBuf>, work_dir: &Path) -> anyhow::Result<Self> {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let user = root.then_some((65534, 65534));
        let mut sandbox = Self {
            bubblewrap: None,
            user,
            hidden,
            network: NetworkPolicy::Host,
        };
        if mode == SandboxMode::None {
            anyhow::ensure!(
                network != Network::None,
                "--network none needs the bubblewrap sandbox, not --sandbox none"
            );
            sandbox.network = network::policy(network, false, work_dir);
            return Ok(sandbox);
        }
        let candidate = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        match candidate {
            Some(path) if sandbox.bubblewrap_works(&path) => sandbox.bubblewrap = Some(path),
            Some(path) if mode == SandboxMode::Bubblewrap => {
                anyhow::bail!("bubblewrap at {} cannot create a sandbox on this host", path.display())
            }
            None if mode == SandboxMode::Bubblewrap => {
                anyhow::bail!("sandbox mode is bubblewrap but bwrap is not installed (apt-get install bubblewrap)")
            }
            _ => {}
        }
        anyhow::ensure!(
            network != Network::None || sandbox.bubblewrap.is_some(),
            "--network none needs a working bubblewrap (apt-get install bubblewrap)"
        );
        sandbox.network = network::policy(network, sandbox.bubblewrap.is_some(), work_dir);
        Ok(sandbox)
    }

    fn bubblewrap_works(&self, bwrap: &Path) -> bool {
        let dir = std::env::temp_dir();
        let mounts = Mounts {
            task_root: &dir,
            runtime_dir: &dir,
            tmp_dir: &dir,
            sdks: &[],
        };
        let mut command = self.bubblewrap_command(bwrap, &mounts, Path::new("/bin/true"), &[], &[]);
        self.apply_user(&mut command);
        match command.output() {
            Ok(out) if out.status.success() => true,
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                tracing::warn!(error = %stderr.trim(), "bubblewrap cannot sandbox on this host; running user code without it");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "bubblewrap did not start; running user code without it");
                false
            }
        }
    }

    /// The path the runtime process sees for an SDK directory mounted at `place`.
    pub fn visible_sdk(&self, host: &Path, place: &str) -> PathBuf {
        match self.bubblewrap {
            Some(_) => Path::new(SANDBOX_RUNTIME_DIR).join(place),
            None => host.to_path_buf(),
        }
    }

    /// Paths the runtime process sees for its task root, runtime dir and /tmp.
    pub fn visible_paths(&self, mounts: &Mounts) -> (PathBuf, PathBuf, PathBuf) {
        if self.bubblewrap.is_some() {
            (SANDBOX_TASK_ROOT.into(), SANDBOX_RUNTIME_DIR.into(), "/tmp".into())
        } else {
            (
                mounts.task_root.into(),
                mounts.runtime_dir.into(),
                mounts.tmp_dir.into(),
            )
        }
    }

    /// The command that starts `program args` in this sandbox with exactly `env`.
    pub fn command(
        &self,
        mounts: &Mounts,
        program: &Path,
        args: &[OsString],
        env: &[(String, String)],
        limits: Limits,
        gate: Option<&NetworkGate>,
    ) -> tokio::process::Command {
        let (gate_args, gate_fds) = gate.map(NetworkGate::bubblewrap_args).unzip();
        let mut command = match &self.bubblewrap {
            Some(bwrap) => self.bubblewrap_command(bwrap, mounts, program, args, &gate_args.unwrap_or_default()),
            None => {
                let mut command = std::process::Command::new(program);
                command.args(args).current_dir(mounts.task_root);
                command
            }
        };
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        self.apply_user(&mut command);
        apply_limits(&mut command, limits, self.user.is_some());
        if let Some(fds) = gate_fds {
            use std::os::unix::process::CommandExt;
            // SAFETY: `inherit` only calls fcntl on the gate's descriptors.
            unsafe {
                command.pre_exec(move || network::inherit(fds));
            }
        }
        tokio::process::Command::from(command)
    }

    fn bubblewrap_command(
        &self,
        bwrap: &Path,
        mounts: &Mounts,
        program: &Path,
        args: &[OsString],
        extra: &[String],
    ) -> std::process::Command {
        let mut command = std::process::Command::new(bwrap);
        command.args(extra);
        command.args([
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]);
        command.args(["--cap-drop", "ALL", "--new-session", "--die-with-parent"]);
        for (source, link) in host_root() {
            match link {
                Some(target) => command.arg("--symlink").arg(target).arg(&source),
                None => command.arg("--ro-bind").arg(&source).arg(&source),
            };
        }
        if let Some((file, at)) = self.network.resolv_conf() {
            command.arg("--ro-bind").arg(file).arg(at);
        }
        command.args(["--dev", "/dev", "--proc", "/proc"]);
        for hidden in &self.hidden {
            command.arg("--tmpfs").arg(hidden);
        }
        command.arg("--bind").arg(mounts.tmp_dir).arg("/tmp");
        command.arg("--ro-bind").arg(mounts.task_root).arg(SANDBOX_TASK_ROOT);
        command
            .arg("--ro-bind")
            .arg(mounts.runtime_dir)
            .arg(SANDBOX_RUNTIME_DIR);
        for (host, place) in mounts.sdks {
            let inside = Path::new(SANDBOX_RUNTIME_DIR).join(place);
            command.arg("--ro-bind").arg(host).arg(&inside);
            if *place == "node_modules" {
                command.arg("--symlink").arg(&inside).arg(SANDBOX_ESM_MODULES);
            }
        }
        command
            .args(["--chdir", SANDBOX_TASK_ROOT, "--"])
            .arg(program)
            .args(args);
        command
    }

    /// std drops supplementary groups itself when root sets a uid.
    fn apply_user(&self, command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        if let Some((uid, gid)) = self.user {
            command.uid(uid).gid(gid);
        }
    }
}

/// A new session (so the whole process tree can be killed by its group), rlimits, and
/// death with the engine. The process cap counts every process of the user, so it is only
/// set for the dedicated sandbox user, never for the user the engine shares with others.
fn apply_limits(command: &mut std::process::Command, limits: Limits, dedicated_user: bool) {
    use std::os::unix::process::CommandExt;
    let mb = 1024 * 1024;
    let address_space = (u64::from(limits.memory_mb) + u64::from(limits.address_space_headroom_mb)) * mb;
    let cap_address_space = limits.cap_address_space;
    // SAFETY: only async-signal-safe calls (setsid, setrlimit, prctl) between fork and exec;
    // std runs this after it changed the uid, so the death signal survives the change.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            let set = |resource, value: u64| {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                libc::setrlimit(resource, &limit);
            };
            if cap_address_space {
                set(libc::RLIMIT_AS, address_space);
            }
            set(libc::RLIMIT_CPU, limits.cpu_seconds);
            if dedicated_user {
                set(libc::RLIMIT_NPROC, limits.processes);
            }
            set(libc::RLIMIT_FSIZE, limits.file_size_mb * mb);
            set(libc::RLIMIT_NOFILE, limits.open_files);
            set(libc::RLIMIT_CORE, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Top-level host directories that user code may read (system files and software, the
/// host's own interpreters included); the homes of users, /var, /run and /tmp stay out.
/// Symlinks (`/bin -> usr/bin` on merged-/usr systems) are recreated as symlinks.
fn host_root() -> Vec<(PathBuf, Option<PathBuf>)> {
    const LEFT_OUT: &[&str] = &[
        "proc",
        "dev",
        "sys",
        "tmp",
        "var",
        "run",
        "root",
        "home",
        "mnt",
        "media",
        "srv",
        "boot",
        "lost+found",
    ];
    let Ok(entries) = std::fs::read_dir("/") else {
        return Vec::new();
    };
    let mut mounts: Vec<_> = entries
        .flatten()
        .filter(|e| !LEFT_OUT.contains(&e.file_name().to_string_lossy().as_ref()))
        .filter_map(|e| {
            let path = e.path();
            let kind = e.file_type().ok()?;
            if kind.is_symlink() {
                Some((path.clone(), std::fs::read_link(&path).ok()))
            } else if kind.is_dir() {
                Some((path, None))
            } else {
                None
            }
        })
        .collect();
    mounts.sort();
    mounts
}
