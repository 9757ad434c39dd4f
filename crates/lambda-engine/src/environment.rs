//! One execution environment: a runtime process, its own Runtime API listener and its
//! captured output. It serves one invocation at a time, is reused while warm, and is
//! killed (with every process it started) on timeout, retirement or drop.

use parking_lot::Mutex;
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::logs::{LogSink, LogStore};
use super::network::{ISOLATED_RUNTIME_API, NetworkGate, NetworkPolicy, Pasta};
use super::output::OutputCapture;
use super::runtime_api::{self, Invocation, InvocationRequest, RuntimeChannel, RuntimeReply};
use super::sandbox::{Confinement, Limits, Mounts, Sandbox};
use crate::function_aws::RoleCredentials;
use lambda_rules::Language;

/// An environment stops taking invocations this long before its credentials expire, on
/// top of the invocation's own timeout, so no call is signed with expired credentials.
const CREDENTIALS_MARGIN: Duration = Duration::from_secs(60);

/// What an environment needs to start.
pub struct EnvironmentSpec<'a> {
    pub function_name: &'a str,
    pub version: &'a str,
    pub runtime: &'a str,
    pub handler: &'a str,
    pub memory_mb: u32,
    pub region: &'a str,
    pub user_environment: &'a std::collections::BTreeMap<String, String>,
    pub language: Language,
    pub interpreter: Option<&'a Path>,
    pub code_dir: &'a Path,
    pub runtime_dir: &'a Path,
    pub work_dir: &'a Path,
    pub sandbox: &'a Sandbox,
    pub limits: Limits,
    pub logs: &'a std::sync::Arc<LogStore>,
    /// The language's AWS SDK on the host, when installed.
    pub sdk: Option<&'a Path>,
    /// `AWS_ENDPOINT_URL` for the function's own AWS calls.
    pub aws_endpoint_url: Option<&'a str>,
    /// The execution role's temporary credentials, when it has some.
    pub credentials: Option<&'a RoleCredentials>,
    /// A line the engine writes to the environment's log stream first (why it has no
    /// credentials, say).
    pub notice: Option<String>,
    /// A durable function's: the SDK inside finds the execution's checkpoint API on this
    /// environment's own listener through `AWS_ENDPOINT_URL_LAMBDA`.
    pub durable: bool,
}

/// What boto3 inside a durable function without an execution role's credentials signs its
/// checkpoint calls with (it refuses to send unsigned ones); the environment's own
/// listener, which alone answers them, needs no signature. Named so that nobody mistakes
/// them for a key of anything.
const DURABLE_PLACEHOLDER_KEY: (&str, &str) = (
    "LAMBDASTEPSDURABLE",
    "no-secret-the-environment-listener-checks-no-signature",
);

/// How one invocation in an environment ended.
#[derive(Debug)]
pub enum InvocationEnd {
    Reply(RuntimeReply),
    TimedOut,
    /// The runtime process exited before answering; Go-style description as AWS prints.
    Exited(String),
    /// The kernel killed it for going past the memory cgroup's limit (MemorySize).
    OutOfMemory,
}

/// A running execution environment.
pub struct ExecutionEnvironment {
    /// Whether the runtime runs under bubblewrap (its PID namespace's init is our child's child).
    sandboxed: bool,
    channel: std::sync::Arc<RuntimeChannel>,
    inbox: mpsc::Sender<Invocation>,
    pid: i32,
    exited: watch::Receiver<Option<String>>,
    pub output: OutputCapture,
    /// The environment's CloudWatch log stream, for the lines the engine writes itself.
    pub log: LogSink,
    last_used: Mutex<Instant>,
    server: tokio::task::JoinHandle<()>,
    /// The host directory used as /tmp without bubblewrap (under it, /tmp is a tmpfs).
    tmp_dir: Option<PathBuf>,
    /// Its user and cgroup, given back (the cgroup emptied and removed) when it is dropped.
    confinement: Confinement,
    /// When the credentials given to the runtime expire.
    credentials_expire_at: Option<std::time::SystemTime>,
    /// The egress of an isolated sandbox, ended with it.
    pasta: Mutex<Option<Pasta>>,
    /// The runtime's own process under bubblewrap's two, once found.
    runtime_pid: std::sync::OnceLock<i32>,
}

impl ExecutionEnvironment {
    /// Starts the runtime process; it initialises while the first invocation waits.
    pub async fn start(spec: EnvironmentSpec<'_>) -> Result<Self, StartError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let tmp_dir = spec.work_dir.join(&id);

        // Sandboxes with a network namespace get their Runtime API inside it, bound once
        // the sandbox exists; the others get a host loopback port now.
        if let NetworkPolicy::Unavailable(why) = &spec.sandbox.network {
            return Err(StartError::Network(why.clone()));
        }
        let gate = match spec.sandbox.network.namespaced() {
            true => Some(NetworkGate::new().map_err(io("creating sandbox pipes"))?),
            false => None,
        };
        let (host_listener, runtime_api) = match gate {
            Some(_) => (None, ISOLATED_RUNTIME_API.to_string()),
            None => {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(io("binding the Runtime API"))?;
                let address = listener.local_addr()?;
                (Some(listener), address.to_string())
            }
        };
        let (inbox, invocations) = mpsc::channel(1);
        let channel = RuntimeChannel::new(invocations);
        let router = runtime_api::router(channel.clone());

        let sdk_mounts: Vec<(PathBuf, &'static str)> = spec
            .sdk
            .and_then(|host| sdk_place(spec.language).map(|place| (host.to_path_buf(), place)))
            .into_iter()
            .collect();
        let mounts = Mounts {
            task_root: spec.code_dir,
            runtime_dir: spec.runtime_dir,
            tmp_dir: &tmp_dir,
            sdks: &sdk_mounts,
        };
        let confinement = spec
            .sandbox
            .confine(&id, &mounts, spec.limits)
            .map_err(io("confining the environment"))?;
        tracing::debug!(function = spec.function_name, environment = %id, policy = %confinement.policy, "starting an execution environment");
        let tmp_dir = match spec.sandbox.bubblewrap {
            Some(_) => None,
            None => {
                let owner = spec
                    .sandbox
                    .users
                    .switches()
                    .then_some((confinement.user.uid, confinement.user.gid));
                make_private_dir(&tmp_dir, owner).map_err(io("creating environment directory"))?;
                Some(tmp_dir.clone())
            }
        };
        let sdk_visible = sdk_mounts
            .first()
            .map(|(host, place)| spec.sandbox.visible_sdk(host, place));
        let (task_root, runtime_dir, tmp) = spec.sandbox.visible_paths(&mounts);
        let log_stream = format!("{}/[{}]{id}", chrono::Utc::now().format("%Y/%m/%d"), spec.version);
        let env = environment_variables(
            &spec,
            &runtime_api.to_string(),
            &task_root,
            &runtime_dir,
            &tmp,
            &log_stream,
            sdk_visible.as_deref(),
        );
        let (program, args) = command_line(&spec, &task_root, &runtime_dir)?;

        let (reader, writer) = std::io::pipe().map_err(io("creating output pipe"))?;
        let writer_err = writer.try_clone()?;
        let mut command = spec.sandbox.command(&confinement, &program, &args, &env, gate.as_ref());
        command
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(writer_err);
        let mut child = command.spawn().map_err(|source| StartError::Io {
            what: format!("starting runtime {}", program.display()),
            source,
        })?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
            .map_err(io("reading runtime output"))?;
        let log = LogSink::new(
            spec.logs.clone(),
            lambda_rules::log_group_name(spec.function_name),
            log_stream,
        );
        if let Some(notice) = &spec.notice {
            log.write_now(std::slice::from_ref(notice));
        }
        let output = OutputCapture::start(receiver, log.clone());

        let (exit_tx, exited) = watch::channel(None);
        tokio::spawn(async move {
            let description = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(e) => format!("wait failed: {e}"),
            };
            let _ = exit_tx.send(Some(description));
        });
        drop(command);

        let egress = match &spec.sandbox.network {
            NetworkPolicy::Isolated(egress) => Some((egress, spec.aws_endpoint_url.and_then(loopback_port))),
            _ => None,
        };
        let (listener, pasta) = match (host_listener, gate) {
            (Some(listener), _) => (listener, None),
            (None, Some(gate)) => {
                let open = gate.open(egress).await.map_err(|e| {
                    kill_group(pid);
                    io("opening the sandbox's network")(e)
                })?;
                (open.runtime_api, open.pasta)
            }
            (None, None) => unreachable!("either a host listener or a gate"),
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });

        Ok(Self {
            sandboxed: spec.sandbox.bubblewrap.is_some(),
            channel,
            inbox,
            pid,
            exited,
            output,
            log,
            last_used: Mutex::new(Instant::now()),
            server,
            tmp_dir,
            confinement,
            credentials_expire_at: spec.credentials.map(|c| c.expires_at),
            pasta: Mutex::new(pasta),
            runtime_pid: std::sync::OnceLock::new(),
        })
    }

    /// Hands one invocation to the runtime and waits for its answer, the timeout or the
    /// process's exit, whichever comes first.
    pub async fn run(&self, request: InvocationRequest, timeout: Duration) -> InvocationEnd {
        let (reply_tx, mut reply) = oneshot::channel();
        let invocation = Invocation {
            request,
            reply: reply_tx,
        };
        let oom_kills_before = self.oom_kills();
        if self.inbox.send(invocation).await.is_err() {
            return InvocationEnd::Exited("runtime API closed".into());
        }
        let mut exited = self.exited.clone();
        let ending = tokio::select! {
            biased;
            answer = &mut reply => match answer {
                Ok(answer) => InvocationEnd::Reply(answer),
                Err(_) => InvocationEnd::Exited("runtime API closed".into()),
            },
            _ = tokio::time::sleep(timeout) => InvocationEnd::TimedOut,
            status = exited.wait_for(Option::is_some) => {
                let description = status.ok().and_then(|s| s.clone()).unwrap_or_default();
                // An answer posted just before exiting still counts.
                match reply.try_recv() {
                    Ok(answer) => InvocationEnd::Reply(answer),
                    Err(_) if self.oom_kills() > oom_kills_before => InvocationEnd::OutOfMemory,
                    Err(_) => InvocationEnd::Exited(description),
                }
            }
        };
        *self.last_used.lock() = Instant::now();
        ending
    }

    /// When the runtime finished initialising (first asked for an invocation).
    pub fn initialized_at(&self) -> Option<Instant> {
        self.channel.initialized.get().copied()
    }

    pub fn is_alive(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Whether the credentials it was given outlast an invocation of `timeout` (always,
    /// when it has none).
    pub fn fresh_for(&self, timeout: Duration) -> bool {
        outlasts(self.credentials_expire_at, std::time::SystemTime::now(), timeout)
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used.lock().elapsed()
    }

    /// Kills the runtime and everything it started (its process group, or its PID
    /// namespace under bubblewrap, whose init takes the rest down with it; what left the
    /// group goes with the cgroup when dropped).
    pub fn kill(&self) {
        kill_group(self.pid);
    }

    /// How many of its processes the kernel killed for memory (its cgroup's count): a rise
    /// during an invocation that ends in the runtime's death is an out-of-memory end.
    fn oom_kills(&self) -> u64 {
        self.confinement.cgroup.as_ref().map_or(0, |cgroup| cgroup.oom_kills())
    }

    /// Kills the environment and waits (up to 5 s) until every process in it is gone, so
    /// that what it held (processes of the sandbox user above all) is free again. Under
    /// bubblewrap the sandbox's init goes first: the kernel then ends the whole namespace
    /// and bubblewrap reaps it before it exits itself.
    pub async fn kill_and_wait(&self) {
        if self.sandboxed {
            for child in children(self.pid) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(child, libc::SIGKILL) };
            }
        } else {
            kill_group(self.pid);
        }
        if let Some(cgroup) = &self.confinement.cgroup {
            cgroup.kill_all();
        }
        let mut exited = self.exited.clone();
        let _ = tokio::time::timeout(Duration::from_secs(5), exited.wait_for(Option::is_some)).await;
        kill_group(self.pid);
        let pasta = self.pasta.lock().take();
        if let Some(mut pasta) = pasta {
            pasta.kill_and_wait().await;
        }
    }

    /// A handle that kills this environment from elsewhere (retirement of a busy one).
    pub fn kill_switch(&self) -> KillSwitch {
        KillSwitch(self.pid)
    }

    /// Peak resident memory of the runtime's processes, in MB, from /proc. Read after
    /// every invocation, so it starts at the runtime itself: bubblewrap's own processes
    /// above it are small and reading them tripled the cost.
    pub fn max_memory_used_mb(&self) -> u64 {
        let mut peak_kb = 0;
        let mut pending = vec![self.runtime_root()];
        let mut seen = 0;
        while let Some(pid) = pending.pop() {
            seen += 1;
            if seen > 64 {
                break;
            }
            if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                let hwm = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    .unwrap_or(0);
                peak_kb = peak_kb.max(hwm);
            }
            pending.extend(children(pid));
        }
        peak_kb.div_ceil(1024)
    }

    /// The first process of the environment that is not bubblewrap's: the runtime. Until
    /// it is found (or without bubblewrap), the environment's own first process.
    fn runtime_root(&self) -> i32 {
        if !self.sandboxed {
            return self.pid;
        }
        if let Some(pid) = self.runtime_pid.get() {
            return *pid;
        }
        let mut pending = vec![self.pid];
        for _ in 0..16 {
            let Some(pid) = pending.pop() else { break };
            match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                Ok(comm) if comm.trim_end() == "bwrap" => pending.extend(children(pid)),
                Ok(_) => return *self.runtime_pid.get_or_init(|| pid),
                Err(_) => {}
            }
        }
        self.pid
    }
}

impl Drop for ExecutionEnvironment {
    fn drop(&mut self) {
        self.kill();
        if let Some(pasta) = self.pasta.get_mut().as_mut() {
            pasta.kill();
        }
        self.server.abort();
        if let Some(tmp_dir) = &self.tmp_dir {
            let _ = std::fs::remove_dir_all(tmp_dir);
        }
    }
}

/// Kills one environment's process tree.
#[derive(Debug, Clone, Copy)]
pub struct KillSwitch(i32);

impl KillSwitch {
    pub fn kill(&self) {
        kill_group(self.0);
    }
}

fn kill_group(pid: i32) {
    if pid > 0 {
        // SAFETY: kill has no memory-safety preconditions; a negative pid is the group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|list| list.split_whitespace().filter_map(|c| c.parse().ok()).collect())
        .unwrap_or_default()
}

fn make_private_dir(dir: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Why an execution environment could not start; the function's error message
/// (`Runtime.InvalidEntrypoint`), as in Lambda.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A system call the start needs failed: what it was for, and why.
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Os(#[from] std::io::Error),
    /// A `provided` runtime whose code has no `bootstrap` (the path as the sandbox sees it).
    #[error("Couldn't find valid bootstrap(s): [{}/bootstrap]", .0.display())]
    NoBootstrap(PathBuf),
    #[error("no interpreter")]
    NoInterpreter,
    #[error(transparent)]
    Runtime(#[from] super::runtimes::RuntimeUnavailable),
    #[error(transparent)]
    Code(#[from] super::code::CodeError),
    /// The network the engine is set to give user code cannot be had on this host.
    #[error(transparent)]
    Network(super::network::NetworkUnavailable),
}

/// Names what a failed system call was for.
fn io(what: &'static str) -> impl Fn(std::io::Error) -> StartError {
    move |source| StartError::Io {
        what: what.to_string(),
        source,
    }
}

fn command_line(
    spec: &EnvironmentSpec,
    task_root: &Path,
    runtime_dir: &Path,
) -> Result<(PathBuf, Vec<OsString>), StartError> {
    let Some((bootstrap, _)) = super::runtimes::bootstrap(spec.language) else {
        if !spec.code_dir.join("bootstrap").is_file() {
            return Err(StartError::NoBootstrap(task_root.to_path_buf()));
        }
        return Ok((task_root.join("bootstrap"), Vec::new()));
    };
    let interpreter = spec.interpreter.ok_or(StartError::NoInterpreter)?.to_path_buf();
    let mut args: Vec<OsString> = Vec::new();
    if spec.language == Language::Node {
        // What AWS gives the V8 heap of a function of this size.
        args.push(format!("--max-old-space-size={}", spec.memory_mb * 9 / 10).into());
    }
    args.push(runtime_dir.join(bootstrap).into());
    Ok((interpreter, args))
}

/// The environment AWS gives a runtime, then the function's own variables; nothing of
/// the engine's environment is passed on.
fn environment_variables(
    spec: &EnvironmentSpec,
    runtime_api: &str,
    task_root: &Path,
    runtime_dir: &Path,
    tmp: &Path,
    log_stream: &str,
    sdk: Option<&Path>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = spec
        .user_environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The SDK comes after what the function's own settings put on the path, as AWS's
    // /var/runtime comes after /var/task and the layers.
    if let (Some(sdk), Some(variable)) = (sdk, module_path_variable(spec.language)) {
        let sdk = sdk.display().to_string();
        match env.iter_mut().find(|(k, _)| k == variable) {
            Some((_, value)) => *value = format!("{value}:{sdk}"),
            None => env.push((variable.to_string(), sdk)),
        }
    }
    let mut aws: Vec<(&str, String)> = Vec::new();
    if let Some(url) = spec.aws_endpoint_url {
        aws.push(("AWS_ENDPOINT_URL", url.to_string()));
    }
    if let Some(credentials) = spec.credentials {
        aws.push(("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()));
        aws.push(("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key.clone()));
        aws.push(("AWS_SESSION_TOKEN", credentials.session_token.clone()));
    }
    if spec.durable {
        aws.push(("AWS_ENDPOINT_URL_LAMBDA", format!("http://{runtime_api}")));
        if spec.credentials.is_none() {
            aws.push(("AWS_ACCESS_KEY_ID", DURABLE_PLACEHOLDER_KEY.0.to_string()));
            aws.push(("AWS_SECRET_ACCESS_KEY", DURABLE_PLACEHOLDER_KEY.1.to_string()));
        }
    }
    // Reserved as on AWS: a function's own variables cannot replace its role's credentials.
    env.retain(|(k, _)| {
        !matches!(
            k.as_str(),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
        ) && !aws.iter().any(|(a, _)| a == k)
    });
    env.extend(aws.into_iter().map(|(k, v)| (k.to_string(), v)));
    let fixed = [
        ("_HANDLER", spec.handler.to_string()),
        ("AWS_REGION", spec.region.to_string()),
        ("AWS_DEFAULT_REGION", spec.region.to_string()),
        ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.function_name.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.to_string()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            lambda_rules::log_group_name(spec.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_string()),
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("LAMBDA_RUNTIME_DIR", runtime_dir.display().to_string()),
        ("TMPDIR", tmp.display().to_string()),
        ("HOME", tmp.display().to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
        ("PYTHONUNBUFFERED", "1".to_string()),
        ("PYTHONDONTWRITEBYTECODE", "1".to_string()),
    ];
    env.retain(|(k, _)| !fixed.iter().any(|(f, _)| f == k));
    env.extend(fixed.into_iter().map(|(k, v)| (k.to_string(), v)));
    env
}

/// Whether credentials expiring at `expire_at` (none: never) still hold, with the margin,
/// at the end of an invocation of `timeout` starting `now`.
fn outlasts(expire_at: Option<std::time::SystemTime>, now: std::time::SystemTime, timeout: Duration) -> bool {
    expire_at.is_none_or(|at| now + timeout + CREDENTIALS_MARGIN < at)
}

/// The variable that puts a language's SDK on its module path.
fn module_path_variable(language: Language) -> Option<&'static str> {
    match language {
        Language::Python => Some("PYTHONPATH"),
        Language::Node => Some("NODE_PATH"),
        Language::Ruby => Some("GEM_PATH"),
        Language::Provided => None,
    }
}

/// Where a language's SDK is mounted in the sandbox (one of `sandbox::SDK_MOUNTS`).
fn sdk_place(language: Language) -> Option<&'static str> {
    match language {
        Language::Python => Some("python"),
        Language::Node => Some("node_modules"),
        Language::Ruby => Some("gems"),
        Language::Provided => None,
    }
}

/// The port of an endpoint on the host's loopback (moto, LocalStack beside the service),
/// which an isolated sandbox forwards to the host; endpoints elsewhere are reached as the
/// outside is.
fn loopback_port(endpoint_url: &str) -> Option<u16> {
    let url = url::Url::parse(endpoint_url).ok()?;
    let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']');
    let on_loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    let port = url.port_or_known_default()?;
    // The namespace's own port 9001 is its Runtime API.
    (on_loopback && port != 9001).then_some(port)
}

/// Go's wording, which is what AWS prints in `Runtime exited with error: ...`.
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(libc::SIGKILL)) => "signal: killed".into(),
        (None, Some(libc::SIGSEGV)) => "signal: segmentation fault".into(),
        (None, Some(libc::SIGXCPU)) => "signal: CPU time limit exceeded".into(),
        (None, Some(libc::SIGXFSZ)) => "signal: file size limit exceeded".into(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => "exited".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_endpoint_on_the_loopback_has_its_port_forwarded() {
        assert_eq!(loopback_port("http://127.0.0.1:5000"), Some(5000));
        assert_eq!(loopback_port("http://localhost:4566/"), Some(4566));
        assert_eq!(loopback_port("http://[::1]:8080"), Some(8080));
        assert_eq!(loopback_port("https://127.0.0.2"), Some(443));
        assert_eq!(loopback_port("http://localstack:4566"), None);
        assert_eq!(loopback_port("https://sts.us-east-1.amazonaws.com"), None);
        // Inside the sandbox, 9001 is its Runtime API.
        assert_eq!(loopback_port("http://127.0.0.1:9001"), None);
        assert_eq!(loopback_port("not a url"), None);
    }

    #[test]
    fn an_environment_takes_no_invocation_its_credentials_could_not_outlast() {
        let now = std::time::SystemTime::now();
        let hour = Duration::from_secs(3600);
        assert!(outlasts(None, now, hour), "no credentials never expire");
        let expire = Some(now + hour);
        assert!(outlasts(expire, now, Duration::from_secs(60)));
        // 15 minutes of timeout an hour minus 10 minutes later: they would expire mid-call.
        assert!(!outlasts(
            expire,
            now + Duration::from_secs(3000),
            Duration::from_secs(900)
        ));
        // Within the margin of the expiry, even a short invocation is refused.
        assert!(!outlasts(
            expire,
            now + hour - Duration::from_secs(30),
            Duration::from_secs(1)
        ));
    }
}
