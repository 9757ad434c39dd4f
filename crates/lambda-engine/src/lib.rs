//! The embedded Lambda engine: a Lambda-compatible HTTP endpoint that runs functions on
//! this host in execution environments speaking the Lambda Runtime API, without Docker.
//!
//! A crate of its own so that the compiler keeps it apart from the service that embeds it:
//! it depends on `lambda-rules` (Lambda's own rules, shared with the service) and on
//! nothing of `lambda-steps`. What the service and `lambda-local` use is the public API:
//! [`Engine`] (start, serve, stop, its key and its [`function_aws`] directory),
//! [`EngineSettings`], [`auth::EngineKey`], [`runtimes::Interpreters`] and [`sdk`]'s installer.

mod api;
mod archive;
pub mod auth;
mod code;
mod config;
mod durable;
mod environment;
mod error;
pub mod function_aws;
mod function_files;
mod invocation;
mod logs;
mod model;
mod network;
mod output;
mod pool;
mod pool_timing;
mod runtime_api;
pub mod runtimes;
mod sandbox;
mod sandbox_cgroup;
mod sandbox_policy;
mod sandbox_probe;
mod sandbox_reach;
mod sandbox_users;
pub mod sdk;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use code::CodeCache;
use function_files::FunctionFiles;
use lambda_rules::Language;
use logs::LogStore;
use model::Location;
use pool::Pools;
use runtimes::Interpreters;
use sandbox::Sandbox;
use sdk::RuntimeSdks;

use crate::function_aws::FunctionAwsDirectory;

/// How often events past their group's retention are deleted (reads never return them).
const EXPIRY_EVERY: Duration = Duration::from_secs(60);

pub use config::{DEFAULT_DATA_DIR, DEFAULT_LISTEN, EngineSettings, Network, StandaloneArgs, parse_args};
pub(crate) use invocation::InvokeRequest;
pub use logs::local::{LocalEvent, LocalFilter, LocalLogs, LocalLogsError};

/// The engine: its function files, its environments and how it runs code. Cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<EngineInner>);

pub struct EngineInner {
    settings: EngineSettings,
    /// The one key callers of its APIs sign with.
    key: auth::EngineKey,
    location: Location,
    functions: FunctionFiles,
    /// What functions printed, as CloudWatch Logs keeps it.
    logs: Arc<LogStore>,
    /// Durable executions, with their operations and timers.
    durable: Arc<durable::Durable>,
    pools: Pools,
    code: CodeCache,
    interpreters: Interpreters,
    /// The AWS SDK of each runtime, found at start.
    sdks: RuntimeSdks,
    /// Where each function's AWS calls go and with which credentials.
    function_aws: FunctionAwsDirectory,
    sandbox: Sandbox,
    /// Bundled bootstraps, readable by the sandbox user.
    runtime_dir: PathBuf,
    /// Scratch directories of environments.
    environments_dir: PathBuf,
    /// Holds the work directory (code, bootstraps, scratch) until the engine is dropped.
    _work_dir: tempfile::TempDir,
    /// Event invocations still running in the background.
    background: TaskTracker,
    shutdown: CancellationToken,
}

impl std::ops::Deref for Engine {
    type Target = EngineInner;
    fn deref(&self) -> &EngineInner {
        &self.0
    }
}

impl Engine {
    /// Opens the function files, finds interpreters and the sandbox, and starts the reaper.
    pub fn start(settings: EngineSettings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        let data_dir = settings.data_dir.canonicalize()?;
        let key = auth::EngineKey::load(
            settings.access_key_id.as_deref(),
            settings.secret_access_key.as_ref(),
            &data_dir,
        )?;
        let functions = FunctionFiles::open(&data_dir)?;
        let logs = Arc::new(LogStore::open(&data_dir, settings.log_group_max_mb * 1024 * 1024)?);
        let durable = Arc::new(durable::Durable::open(&data_dir)?);
        let work_dir = tempfile::Builder::new()
            .prefix("lambda-steps-engine-")
            .tempdir()
            .context("creating the engine's work directory")?;
        let runtime_dir = work_dir.path().join("runtime");
        let environments_dir = work_dir.path().join("environments");
        write_bootstraps(&runtime_dir)?;
        std::fs::create_dir_all(&environments_dir)?;
        open_to_sandbox(work_dir.path())?;
        open_to_sandbox(&environments_dir)?;
        let code = CodeCache::new(work_dir.path().join("code"))?;
        let sandbox = Sandbox::detect(
            settings.isolation(),
            settings.bwrap.as_deref(),
            settings.first_uid,
            settings.network,
            vec![data_dir.clone(), work_dir.path().to_path_buf()],
            work_dir.path(),
        )?;
        tracing::info!("{}", sandbox.describe());
        network::announce(&sandbox.network);
        let interpreters =
            Interpreters::discover(settings.python.clone(), settings.node.clone(), settings.ruby.clone());
        let runtimes_dir = settings
            .runtimes_dir
            .clone()
            .unwrap_or_else(|| sdk::default_dir(&data_dir));
        let mut sdks = RuntimeSdks::discover(&runtimes_dir);
        if let Some(user) = sandbox.users.representative() {
            check_work_dir_reach(user, work_dir.path());
            sdks.withhold_unreadable(user, &runtimes_dir);
        }
        link_node_sdk_for_modules(work_dir.path(), &sandbox, &sdks)?;
        tracing::info!(
            data_dir = %data_dir.display(),
            functions = functions.list().len(),
            bubblewrap = sandbox.bubblewrap.is_some(),
            runs_user_code = sandbox.refusal.is_none(),
            network = ?settings.network,
            python = ?interpreters.python,
            node = ?interpreters.node,
            ruby = ?interpreters.ruby,
            "embedded Lambda engine ready"
        );
        tracing::info!(
            runtimes_dir = %runtimes_dir.display(),
            "AWS SDKs offered to functions: {}",
            sdks.describe()
        );
        let engine = Self(Arc::new(EngineInner {
            location: Location {
                region: settings.region.clone(),
                account_id: settings.account_id.clone(),
            },
            pools: Pools::new(settings.max_environments),
            settings,
            key,
            functions,
            logs,
            durable,
            code,
            interpreters,
            sdks,
            function_aws: FunctionAwsDirectory::default(),
            sandbox,
            runtime_dir,
            environments_dir,
            _work_dir: work_dir,
            background: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }));
        engine.spawn_reaper();
        engine.resume_durable_executions();
        Ok(engine)
    }

    /// The Lambda REST API and the CloudWatch Logs API of this engine.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// Serves the Lambda API on `listener` until `shutdown` fires, then stops every
    /// environment after the Event invocations still running (bounded).
    pub async fn serve(self, listener: tokio::net::TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
        let router = self.router();
        let stop = shutdown.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await?;
        self.stop(Duration::from_secs(10)).await;
        Ok(())
    }

    /// Waits (up to `grace`) for background invocations, then kills every environment.
    pub async fn stop(&self, grace: Duration) {
        self.shutdown.cancel();
        self.background.close();
        let _ = tokio::time::timeout(grace, self.background.wait()).await;
        self.pools.retire_all();
    }

    /// Stops idle environments, and (every `EXPIRY_EVERY`) deletes log events past their
    /// group's retention.
    fn spawn_reaper(&self) {
        let idle = Duration::from_secs(self.settings.idle_seconds);
        let every = (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
        let weak = Arc::downgrade(&self.0);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let mut last_expiry = std::time::Instant::now() - EXPIRY_EVERY;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let Some(engine) = weak.upgrade() else { return };
                let reaped = engine.pools.reap(idle);
                if last_expiry.elapsed() >= EXPIRY_EVERY {
                    engine.logs.expire();
                    last_expiry = std::time::Instant::now();
                }
                if reaped > 0 {
                    tracing::debug!(reaped, "stopped idle execution environments");
                }
            }
        });
    }

    /// Drives again every durable execution a previous run of the engine left running:
    /// their timers are in their operations, so a wait started before a restart ends on time.
    fn resume_durable_executions(&self) {
        let running = self.durable.running();
        if running.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("no async runtime at start: durable executions are not resumed");
            return;
        }
        tracing::info!(executions = running.len(), "resuming durable executions");
        for execution in running {
            durable::driver::spawn(self, execution);
        }
    }

    /// The access key callers of its Lambda and CloudWatch Logs APIs sign with: the
    /// in-process runner's, and what `lambda-local` prints.
    pub fn key(&self) -> &auth::EngineKey {
        &self.key
    }

    /// The settings it was started with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The engine's logs for a reader in the same process (the service that embeds it).
    pub fn local_logs(&self) -> LocalLogs {
        LocalLogs(self.logs.clone())
    }

    /// Idle execution environments across all functions (for tests and metrics).
    pub fn idle_environments(&self) -> usize {
        self.pools.idle_count()
    }

    /// Where each function's AWS calls go and with which credentials; the service in the
    /// same process announces the functions it creates here.
    pub fn function_aws(&self) -> &FunctionAwsDirectory {
        &self.function_aws
    }

    /// Checks that this host can run a runtime; the error names what to install.
    pub fn check_runtime(&self, runtime: &str) -> Result<Language, runtimes::RuntimeUnavailable> {
        let language =
            Language::of(runtime).ok_or_else(|| runtimes::RuntimeUnavailable::Unknown(runtime.to_string()))?;
        self.interpreters.for_language(language)?;
        Ok(language)
    }
}

impl Drop for EngineInner {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.pools.retire_all();
    }
}

fn write_bootstraps(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    // Where the sandbox mounts each runtime's SDK, as AWS has them under /var/runtime.
    for sdk_mount in sandbox::SDK_MOUNTS {
        std::fs::create_dir_all(dir.join(sdk_mount))?;
        open_to_sandbox(&dir.join(sdk_mount))?;
    }
    for language in [Language::Python, Language::Node, Language::Ruby] {
        if let Some((name, source)) = runtimes::bootstrap(language) {
            std::fs::write(dir.join(name), source)?;
        }
    }
    open_to_sandbox(dir)?;
    for entry in std::fs::read_dir(dir)? {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o644))?;
        }
    }
    Ok(())
}

/// ES modules do not read NODE_PATH: they find packages in a `node_modules` beside or above
/// the importing file. Without bubblewrap a function's code is under `<work>/code/<zip>`,
/// so `<work>/code/node_modules` is where the SDK goes (under bubblewrap the sandbox has
/// `/var/node_modules`); the function's own `node_modules` is nearer, and wins.
fn link_node_sdk_for_modules(work_dir: &std::path::Path, sandbox: &Sandbox, sdks: &RuntimeSdks) -> anyhow::Result<()> {
    if sandbox.bubblewrap.is_some() {
        return Ok(());
    }
    if let Some(modules) = sdks.node.as_ref().and_then(|sdk| sdk.module_dir.as_ref()) {
        std::fs::create_dir_all(work_dir.join("code"))?;
        std::os::unix::fs::symlink(modules, work_dir.join("code").join("node_modules"))?;
    }
    Ok(())
}

/// Every environment's code, bootstraps and scratch directory live in the work directory,
/// under TMPDIR: if the sandbox user cannot reach it no function can start, and only the
/// service log can say why.
fn check_work_dir_reach(user: (u32, u32), work_dir: &std::path::Path) {
    if let Err(at) = sandbox_reach::check_dir(user, work_dir) {
        tracing::error!(
            work_dir = %work_dir.display(),
            "the sandbox user (uid {}) cannot reach the engine's work directory {}: {at}; no function can start. \
             Fix: set TMPDIR to a directory every user can enter (such as /tmp), or `{}`",
            user.0,
            work_dir.display(),
            at.chmod(),
        );
    }
}

/// The sandbox user must traverse and read the engine's work directories.
fn open_to_sandbox(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}
