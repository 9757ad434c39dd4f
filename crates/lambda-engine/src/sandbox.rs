//! How user code is contained. Decided once at engine start (`Sandbox::detect`): whether
//! bubblewrap works here, who environments run as (`sandbox_users`), which cgroup
//! controllers the engine may use (`sandbox_cgroup`). Described per environment as a
//! `Policy` (`sandbox_policy`), then started as a command: bubblewrap's namespaces and
//! mounts, the environment's cgroup, rlimits, a session of its own, death with the engine.
//!
//! Fail closed: unless the operator says `--isolation none`, a host where bubblewrap
//! cannot start keeps the engine's API but refuses to run user code, with `refusal` saying
//! what is missing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::config::Network;
use super::network::{self, NetworkGate, NetworkPolicy};
use super::sandbox_cgroup::{CgroupTree, EnvironmentCgroup};
use super::sandbox_policy::{CgroupLimits, Mount, NAMESPACES, PRLIMIT, Policy, Rlimit};
use super::sandbox_probe;
use super::sandbox_users::{SandboxUsers, UserLease};

/// Where a runtime process sees its code, bootstrap and scratch directory.
pub const SANDBOX_TASK_ROOT: &str = "/var/task";
pub const SANDBOX_RUNTIME_DIR: &str = "/var/runtime";

/// The directories under the runtime directory where each language's AWS SDK is mounted:
/// Python's modules, Node's `node_modules`, Ruby's gems.
pub const SDK_MOUNTS: [&str; 3] = ["python", "node_modules", "gems"];

/// Where ES modules under /var/task find packages besides their own: a `node_modules` in
/// a directory above the importing file.
const SANDBOX_ESM_MODULES: &str = "/var/node_modules";

const MB: u64 = 1024 * 1024;

/// What a runtime's writable private memory may exceed MemorySize by without a memory
/// cgroup: the interpreter's own data and its threads' stacks (Python with boto3 loaded
/// stays well inside a 128 MB function plus this).
const DATA_HEADROOM_MB: u64 = 64;

/// The size of the tmpfs that hides a directory: one page, as little as tmpfs takes.
const HIDDEN_BYTES: u64 = 4096;

/// How user code is contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// bubblewrap, a user and cgroup per environment where the host allows; no user code
    /// runs where bubblewrap cannot start.
    Bubblewrap,
    /// Plain processes with rlimits (and cgroups, and a user of their own as root): user
    /// code reads what that user can. Single-tenant hosts only.
    None,
}

/// `--sandbox`, kept for old configurations: `auto` and `bubblewrap` now both require
/// bubblewrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LegacySandbox {
    Auto,
    Bubblewrap,
    None,
}

impl From<LegacySandbox> for Isolation {
    fn from(legacy: LegacySandbox) -> Self {
        match legacy {
            LegacySandbox::Auto | LegacySandbox::Bubblewrap => Self::Bubblewrap,
            LegacySandbox::None => Self::None,
        }
    }
}

/// Resource limits of one execution environment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_mb: u32,
    /// Address space headroom above the function's memory (only without a memory cgroup):
    /// interpreters map far more than they touch.
    pub address_space_headroom_mb: u32,
    pub cpu_seconds: u64,
    pub processes: u64,
    pub file_size_mb: u64,
    pub open_files: u64,
    /// Whether an address-space cap may stand in for the memory cgroup (V8 reserves
    /// gigabytes it never uses, so not for Node).
    pub cap_address_space: bool,
    /// The size of /tmp (EphemeralStorage).
    pub tmp_mb: u32,
}

/// The sandbox user code runs in, decided once at engine start.
#[derive(Debug)]
pub struct Sandbox {
    /// bubblewrap, when it works here.
    pub bubblewrap: Option<PathBuf>,
    /// Why no user code runs (isolation wanted, not available), naming what is missing.
    pub refusal: Option<String>,
    /// Whether bubblewrap sizes its tmpfs (0.8 and later).
    sized_tmp: bool,
    pub users: SandboxUsers,
    cgroups: Option<CgroupTree>,
    /// Directories user code must not see (the engine's data and work directories).
    hidden: Vec<PathBuf>,
    /// What network user code gets.
    pub network: NetworkPolicy,
}

/// The directories of one environment on the host.
pub struct Mounts<'a> {
    pub task_root: &'a Path,
    pub runtime_dir: &'a Path,
    /// The host scratch directory used as /tmp without bubblewrap.
    pub tmp_dir: &'a Path,
    /// SDK directories on the host, each with its place in `SDK_MOUNTS`, mounted read-only.
    pub sdks: &'a [(PathBuf, &'static str)],
}

/// What one environment holds of the host until it ends: its user and its cgroup.
#[derive(Debug)]
pub struct Confinement {
    pub user: UserLease,
    pub cgroup: Option<EnvironmentCgroup>,
    pub policy: Policy,
}

impl Sandbox {
    /// Decides the sandbox for this host. Only contradictory settings fail the start; a host
    /// that cannot isolate is a `refusal`.
    pub fn detect(
        isolation: Isolation,
        bwrap: Option<&Path>,
        first_uid: u32,
        network: Network,
        hidden: Vec<PathBuf>,
        work_dir: &Path,
    ) -> anyhow::Result<Self> {
        let mut sandbox = Self {
            bubblewrap: None,
            refusal: None,
            sized_tmp: false,
            users: SandboxUsers::detect(first_uid),
            cgroups: CgroupTree::detect(),
            hidden,
            network: NetworkPolicy::Host,
        };
        if isolation == Isolation::None {
            anyhow::ensure!(
                network != Network::None,
                "--network none needs the bubblewrap sandbox, not --isolation none"
            );
            tracing::warn!(
                "--isolation none: user code runs unconfined, as {}, and can read what that user can \
                 (other functions' code, the engine's data directory where its modes allow) and see every process; \
                 use it on a single-tenant host only",
                sandbox.users.describe()
            );
            // Unconfined in so many words: the host's network too, as the rest of the host
            // (announced with the host network's warning); `none` still asks for bubblewrap.
            sandbox.network = match network {
                Network::Isolated => NetworkPolicy::Host,
                other => network::policy(other, false, work_dir),
            };
            return Ok(sandbox);
        }
        match sandbox_probe::find_bwrap(bwrap) {
            Ok(path) => {
                sandbox.sized_tmp = sandbox_probe::sizes_tmpfs(&path);
                match sandbox.try_bubblewrap(&path) {
                    Ok(()) => sandbox.bubblewrap = Some(path),
                    Err(why) => sandbox.refusal = Some(sandbox_probe::refusal(&why)),
                }
            }
            Err(missing) => sandbox.refusal = Some(sandbox_probe::refusal(&missing)),
        }
        if let Some(refusal) = &sandbox.refusal {
            tracing::error!("{refusal}");
        }
        sandbox.network = network::policy(network, sandbox.bubblewrap.is_some(), work_dir);
        Ok(sandbox)
    }

    /// Starts `/bin/true` under bubblewrap with an environment's policy, as an environment's
    /// user would.
    fn try_bubblewrap(&self, bwrap: &Path) -> Result<(), String> {
        let counts_processes = self.cgroups.as_ref().is_some_and(CgroupTree::limits_processes);
        if !self.users.switches() && !counts_processes && !Path::new(PRLIMIT).exists() {
            return Err(format!(
                "{PRLIMIT} is missing (Debian and Ubuntu: apt-get install util-linux): an engine that is not root and \
                 has no pids cgroup limits each environment's processes with it, inside the environment's own user namespace"
            ));
        }
        let dir = std::env::temp_dir();
        let mounts = Mounts {
            task_root: &dir,
            runtime_dir: &dir,
            tmp_dir: &dir,
            sdks: &[],
        };
        let user = self.users.lease().ok_or("no free sandbox user")?;
        let policy = self.policy_for(true, &mounts, probe_limits(), &user, CgroupLimits::default());
        let mut command = std::process::Command::new(bwrap);
        command
            .args(policy.bubblewrap_args())
            .arg("--")
            .args(policy.inside(Path::new("/bin/true"), &[]));
        self.apply_user(&mut command, &user);
        match command.output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(sandbox_probe::diagnose(
                bwrap,
                out.status,
                &String::from_utf8_lossy(&out.stderr),
            )),
            Err(e) => Err(format!("bubblewrap at {} did not start ({e})", bwrap.display())),
        }
    }

    /// What contains user code here, item by item, for the start log.
    pub fn describe(&self) -> String {
        let mb_tmp = match (&self.bubblewrap, self.sized_tmp) {
            (Some(_), true) => "a private tmpfs sized as EphemeralStorage",
            (Some(_), false) => "a private tmpfs without a size (bubblewrap older than 0.8)",
            (None, _) => "a host directory of the environment's user, files capped by RLIMIT_FSIZE",
        };
        let memory = match self.cgroups.as_ref().is_some_and(CgroupTree::limits_memory) {
            true => "a memory cgroup of MemorySize",
            false => {
                "RLIMIT_DATA at MemorySize + 64 MB (writable private memory, every runtime), RLIMIT_AS at MemorySize \
                 plus headroom for Python and Ruby, V8's heap cap for Node"
            }
        };
        let processes = match (
            self.cgroups.as_ref().is_some_and(CgroupTree::limits_processes),
            &self.users,
        ) {
            (true, _) => "a pids cgroup per environment",
            (false, SandboxUsers::Dedicated(_)) => "RLIMIT_NPROC of the environment's own uid",
            (false, SandboxUsers::Shared(_)) => "RLIMIT_NPROC of the shared sandbox user (shared by every environment)",
            (false, SandboxUsers::Engine) if self.bubblewrap.is_some() => {
                "RLIMIT_NPROC inside the environment's own user namespace (prlimit)"
            }
            (false, SandboxUsers::Engine) => "nothing (not root, no writable pids cgroup, no sandbox)",
        };
        let confinement = match (&self.bubblewrap, &self.refusal) {
            (Some(path), _) => format!("bubblewrap {} (own PID, IPC, UTS, mount namespaces)", path.display()),
            (None, Some(_)) => "none: user code is refused".into(),
            (None, None) => "none (--isolation none)".into(),
        };
        format!(
            "sandbox: {confinement}; user: {}; cgroups: {}; memory: {memory}; processes: {processes}; /tmp: {mb_tmp}",
            self.users.describe(),
            self.cgroups
                .as_ref()
                .map_or("none writable".into(), CgroupTree::describe),
        )
    }

    /// Takes a user and a cgroup for a new environment and describes its confinement.
    pub fn confine(&self, id: &str, mounts: &Mounts, limits: Limits) -> std::io::Result<Confinement> {
        let user = self
            .users
            .lease()
            .ok_or_else(|| std::io::Error::other("every sandbox uid is in use"))?;
        let wanted = CgroupLimits {
            memory_bytes: self
                .cgroups
                .as_ref()
                .filter(|c| c.limits_memory())
                .map(|_| u64::from(limits.memory_mb) * MB),
            processes: self
                .cgroups
                .as_ref()
                .filter(|c| c.limits_processes())
                .map(|_| limits.processes),
        };
        let cgroup = match &self.cgroups {
            Some(tree) if wanted != CgroupLimits::default() => {
                Some(tree.create(id, wanted.memory_bytes, wanted.processes)?)
            }
            _ => None,
        };
        let policy = self.policy_for(self.bubblewrap.is_some(), mounts, limits, &user, wanted);
        Ok(Confinement { user, cgroup, policy })
    }

    fn policy_for(
        &self,
        bubblewrap: bool,
        mounts: &Mounts,
        limits: Limits,
        user: &UserLease,
        cgroup: CgroupLimits,
    ) -> Policy {
        let mut rlimits = vec![
            Rlimit::CpuSeconds(limits.cpu_seconds),
            Rlimit::FileSizeBytes(limits.file_size_mb * MB),
            Rlimit::OpenFiles(limits.open_files),
            Rlimit::CoreBytes(0),
        ];
        if limits.cap_address_space && cgroup.memory_bytes.is_none() {
            let bytes = (u64::from(limits.memory_mb) + u64::from(limits.address_space_headroom_mb)) * MB;
            rlimits.push(Rlimit::AddressSpaceBytes(bytes));
        }
        // Without a memory cgroup (an engine that is not root, most containers) the address
        // space is no measure of memory (interpreters map far more than they fill, V8 most
        // of all): the writable private memory is, for every runtime, Node's buffers
        // outside V8's heap included.
        if cgroup.memory_bytes.is_none() {
            rlimits.push(Rlimit::DataBytes((u64::from(limits.memory_mb) + DATA_HEADROOM_MB) * MB));
        }
        // The per-user count is per environment only with a uid of its own; a shared user's
        // count would let one environment starve the others, so the pids cgroup does it.
        if user.dedicated || (self.users.switches() && cgroup.processes.is_none()) {
            rlimits.push(Rlimit::Processes(limits.processes));
        }
        let switched = self.users.switches().then_some((user.uid, user.gid));
        if !bubblewrap {
            return Policy {
                user: switched,
                user_is_dedicated: user.dedicated,
                namespaces: Vec::new(),
                mounts: Vec::new(),
                rlimits,
                cgroup,
                processes_in_namespace: None,
                workdir: mounts.task_root.to_path_buf(),
            };
        }
        // Without root every environment runs as the engine's user: its process count is
        // the environment's own only inside the user namespace bubblewrap makes for it.
        let processes_in_namespace = (!self.users.switches() && cgroup.processes.is_none()).then_some(limits.processes);
        let mut all: Vec<Mount> = host_root()
            .into_iter()
            .map(|(path, link)| match link {
                Some(target) => Mount::Symlink { target, at: path },
                None => Mount::HostReadOnly(path),
            })
            .collect();
        if let Some((file, at)) = self.network.resolv_conf() {
            all.push(Mount::ReadOnly {
                host: file.into(),
                at: at.into(),
            });
        }
        all.push(Mount::Dev("/dev".into()));
        all.push(Mount::Proc("/proc".into()));
        all.extend(self.hidden.iter().cloned().map(|at| Mount::Hidden {
            at,
            bytes: self.sized_tmp.then_some(HIDDEN_BYTES),
        }));
        all.push(Mount::Scratch {
            at: "/tmp".into(),
            bytes: self.sized_tmp.then_some(u64::from(limits.tmp_mb) * MB),
        });
        all.push(Mount::ReadOnly {
            host: mounts.task_root.into(),
            at: SANDBOX_TASK_ROOT.into(),
        });
        all.push(Mount::ReadOnly {
            host: mounts.runtime_dir.into(),
            at: SANDBOX_RUNTIME_DIR.into(),
        });
        for (host, place) in mounts.sdks {
            let inside = Path::new(SANDBOX_RUNTIME_DIR).join(place);
            all.push(Mount::ReadOnly {
                host: host.clone(),
                at: inside.clone(),
            });
            if *place == "node_modules" {
                all.push(Mount::Symlink {
                    target: inside,
                    at: SANDBOX_ESM_MODULES.into(),
                });
            }
        }
        Policy {
            user: switched,
            user_is_dedicated: user.dedicated,
            namespaces: NAMESPACES.to_vec(),
            mounts: all,
            rlimits,
            cgroup,
            processes_in_namespace,
            workdir: SANDBOX_TASK_ROOT.into(),
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

    /// The command that starts `program args` confined as `confinement` says, with exactly
    /// `env`.
    pub fn command(
        &self,
        confinement: &Confinement,
        program: &Path,
        args: &[OsString],
        env: &[(String, String)],
        gate: Option<&NetworkGate>,
    ) -> tokio::process::Command {
        let (gate_args, gate_fds) = gate.map(NetworkGate::bubblewrap_args).unzip();
        let policy = &confinement.policy;
        let mut command = match &self.bubblewrap {
            Some(bwrap) => {
                let mut command = std::process::Command::new(bwrap);
                command
                    .args(gate_args.unwrap_or_default())
                    .args(policy.bubblewrap_args())
                    .arg("--")
                    .args(policy.inside(program, args));
                command
            }
            None => {
                let mut command = std::process::Command::new(program);
                command.args(args).current_dir(&policy.workdir);
                command
            }
        };
        command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
        self.apply_user(&mut command, &confinement.user);
        let cgroup_fds = confinement
            .cgroup
            .as_ref()
            .map(EnvironmentCgroup::join_fds)
            .unwrap_or_default();
        apply_limits(&mut command, policy.rlimits.clone(), cgroup_fds);
        if let Some(fds) = gate_fds {
            use std::os::unix::process::CommandExt;
            // SAFETY: `inherit` only calls fcntl on the gate's descriptors.
            unsafe {
                command.pre_exec(move || network::inherit(fds));
            }
        }
        tokio::process::Command::from(command)
    }

    /// std drops supplementary groups itself when root sets a uid.
    fn apply_user(&self, command: &mut std::process::Command, user: &UserLease) {
        use std::os::unix::process::CommandExt;
        if self.users.switches() {
            command.uid(user.uid).gid(user.gid);
        }
    }
}

/// The limits the start-up probe runs with: what any environment gets.
fn probe_limits() -> Limits {
    Limits {
        memory_mb: 128,
        address_space_headroom_mb: 512,
        cpu_seconds: 10,
        processes: 64,
        file_size_mb: 1,
        open_files: 64,
        cap_address_space: false,
        tmp_mb: 1,
    }
}

/// A new session (so the whole process tree can be killed by its group), the cgroup, the
/// rlimits, and death with the engine.
fn apply_limits(command: &mut std::process::Command, rlimits: Vec<Rlimit>, cgroup_fds: Vec<i32>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls (setsid, write, setrlimit, prctl) between fork
    // and exec; std runs this after it changed the uid, so the death signal survives the
    // change, and the cgroup descriptors were opened by the engine before the fork.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            super::sandbox_cgroup::join(&cgroup_fds)?;
            for limit in &rlimits {
                let (resource, value) = limit.raw();
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                libc::setrlimit(resource, &limit);
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// The host's system directories user code may read: its software (the interpreters and
/// their libraries) and `/etc`. An allowlist, not everything but a denylist: any other
/// top-level directory (a checkout under /work, /srv, /mnt, a data volume) may hold another
/// tenant's files. Symlinks (`/bin -> usr/bin` on merged-/usr systems) are recreated as
/// symlinks.
fn host_root() -> Vec<(PathBuf, Option<PathBuf>)> {
    const SYSTEM: &[&str] = &["bin", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr"];
    let mut mounts: Vec<_> = SYSTEM
        .iter()
        .map(|name| Path::new("/").join(name))
        .filter_map(|path| {
            let kind = std::fs::symlink_metadata(&path).ok()?.file_type();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox_policy::mounted_at;

    fn sandbox(users: SandboxUsers) -> Sandbox {
        Sandbox {
            bubblewrap: Some("/usr/bin/bwrap".into()),
            refusal: None,
            sized_tmp: true,
            users,
            cgroups: None,
            hidden: vec!["/srv/data".into(), "/tmp/engine-work".into()],
            network: NetworkPolicy::Host,
        }
    }

    fn limits() -> Limits {
        Limits {
            tmp_mb: 600,
            cap_address_space: true,
            ..probe_limits()
        }
    }

    #[test]
    fn an_environment_sees_its_own_code_a_sized_private_tmp_and_none_of_the_engine() {
        let sandbox = sandbox(SandboxUsers::Engine);
        let sdks = [(PathBuf::from("/srv/data/runtimes/python"), "python")];
        let mounts = Mounts {
            task_root: Path::new("/tmp/engine-work/code/abc"),
            runtime_dir: Path::new("/tmp/engine-work/runtime"),
            tmp_dir: Path::new("/tmp/engine-work/environments/x"),
            sdks: &sdks,
        };
        let user = sandbox.users.lease().unwrap();
        let policy = sandbox.policy_for(true, &mounts, limits(), &user, CgroupLimits::default());

        assert_eq!(
            mounted_at(&policy, Path::new("/tmp")),
            Some(&Mount::Scratch {
                at: "/tmp".into(),
                bytes: Some(600 * MB)
            })
        );
        assert_eq!(
            mounted_at(&policy, Path::new(SANDBOX_TASK_ROOT)),
            Some(&Mount::ReadOnly {
                host: mounts.task_root.into(),
                at: SANDBOX_TASK_ROOT.into()
            })
        );
        // The engine's directories are hidden before its own parts are mounted from them.
        let position = |wanted: &Mount| policy.mounts.iter().position(|m| m == wanted).unwrap();
        let hidden = position(&Mount::Hidden {
            at: "/tmp/engine-work".into(),
            bytes: Some(HIDDEN_BYTES),
        });
        assert!(hidden < position(mounted_at(&policy, Path::new(SANDBOX_TASK_ROOT)).unwrap()));
        assert!(
            position(&Mount::Hidden {
                at: "/srv/data".into(),
                bytes: Some(HIDDEN_BYTES),
            }) < position(mounted_at(&policy, Path::new("/var/runtime/python")).unwrap())
        );

        let args: Vec<String> = policy
            .bubblewrap_args()
            .iter()
            .map(|a| a.to_string_lossy().to_string())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.starts_with("--unshare-pid --unshare-ipc --unshare-uts --unshare-cgroup-try --cap-drop ALL"),
            "{joined}"
        );
        assert!(
            joined.contains(&format!("--perms 0700 --size {} --tmpfs /tmp", 600 * MB)),
            "{joined}"
        );
        assert!(joined.ends_with("--chdir /var/task"), "{joined}");

        let said = policy.to_string();
        assert!(said.contains("tmpfs /tmp of 600 MB"), "{said}");
        assert!(said.contains("hidden /srv/data"), "{said}");
        // No memory cgroup: the address space stands in for Python and Ruby, the writable
        // memory for every runtime.
        assert!(
            policy.rlimits.contains(&Rlimit::AddressSpaceBytes((128 + 512) * MB)),
            "{said}"
        );
        assert!(policy.rlimits.contains(&Rlimit::DataBytes((128 + 64) * MB)), "{said}");
        // Not root, no pids cgroup: the process count is set inside the sandbox's own user
        // namespace, never before bubblewrap (where it would count every environment).
        assert_eq!(policy.processes_in_namespace, Some(64), "{said}");
        assert!(
            !policy.rlimits.iter().any(|r| matches!(r, Rlimit::Processes(_))),
            "{said}"
        );
        let inside = policy.inside(Path::new("/usr/bin/python3"), &["x.py".into()]);
        assert_eq!(
            inside,
            ["/usr/bin/prlimit", "--nproc=64", "--", "/usr/bin/python3", "x.py"].map(OsString::from)
        );
        assert!(joined.contains("--dev /dev --remount-ro /dev"), "{joined}");
        assert!(joined.contains("--size 4096 --tmpfs /srv/data"), "{joined}");
    }

    #[test]
    fn a_memory_cgroup_replaces_the_address_space_cap_and_a_shared_user_gets_no_process_count() {
        let sandbox = sandbox(SandboxUsers::Shared((65534, 65534)));
        let dir = Path::new("/x");
        let mounts = Mounts {
            task_root: dir,
            runtime_dir: dir,
            tmp_dir: dir,
            sdks: &[],
        };
        let user = sandbox.users.lease().unwrap();
        let cgroup = CgroupLimits {
            memory_bytes: Some(128 * MB),
            processes: Some(1024),
        };
        let policy = sandbox.policy_for(true, &mounts, limits(), &user, cgroup);
        assert!(
            !policy
                .rlimits
                .iter()
                .any(|r| matches!(r, Rlimit::AddressSpaceBytes(_) | Rlimit::DataBytes(_))),
            "{policy}"
        );
        assert_eq!(policy.processes_in_namespace, None, "{policy}");
        // One uid for all: its count would be every environment's, so the pids cgroup counts.
        assert!(
            !policy.rlimits.iter().any(|r| matches!(r, Rlimit::Processes(_))),
            "{policy}"
        );
        assert_eq!(policy.user, Some((65534, 65534)));
        assert!(policy.to_string().contains("user 65534:65534 (shared)"), "{policy}");
    }
}
