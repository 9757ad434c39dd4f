//! Typed process configuration, read once at start from flags and environment variables.
//! The engine's own settings live in the engine crate (`crates/lambda-engine/src/config.rs`);
//! this file flattens them into `serve` and `lambda-local`.
//!
//! The service (`serve`, each also a flag):
//! - `LAMBDA_STEPS_LISTEN`: address of the REST API (default `127.0.0.1:8080`)
//! - `DATABASE_URL`: Postgres (default: a local server, database `lambda_steps`, created if missing)
//! - `LAMBDA_STEPS_AWS_ENDPOINT_URL`: `embedded` (default), `aws`, or a Lambda-compatible URL
//! - `LAMBDA_STEPS_AWS_REGION`, `LAMBDA_STEPS_AWS_LAMBDA_ROLE_ARN`
//! - `LAMBDA_STEPS_WORKERS`, `LAMBDA_STEPS_LEASE_SECONDS`, `LAMBDA_STEPS_POLL_MS`,
//!   `LAMBDA_STEPS_NOTIFY_MS`, `LAMBDA_STEPS_CLAIM_BATCH`, `LAMBDA_STEPS_INVOKE_RETRIES`, `LAMBDA_STEPS_DRAIN_SECONDS`,
//!   `LAMBDA_STEPS_SWEEP_SECONDS`, `LAMBDA_STEPS_MAX_WEBHOOK_BYTES`,
//!   `LAMBDA_STEPS_INVOKE_TIMEOUT_MARGIN_SECONDS`
//! - `LAMBDA_STEPS_ADMIN_TOKEN`, `LAMBDA_STEPS_MASTER_KEY` (secrets: never printed)
//! - `LAMBDA_STEPS_CONFIG`: TOML file of framework settings (see `aws_settings/`)
//!   `LAMBDA_STEPS_DB_CONNECTIONS`, `LAMBDA_STEPS_DB_ACQUIRE_TIMEOUT_MS`,
//!   `LAMBDA_STEPS_MAX_SYNC_PAYLOAD_BYTES`,
//!   `LAMBDA_STEPS_MAX_EVENT_PAYLOAD_BYTES`
//!
//! - `LAMBDA_STEPS_LOG_FORMAT`: `text` (the default; colour only on a terminal) or `json`
//! - `LAMBDA_STEPS_PIP`, `LAMBDA_STEPS_NPM`, `LAMBDA_STEPS_GEM`: the installers of custom
//!   code's `packages` (default `pip3`, `npm`, `gem` on PATH);
//!   `LAMBDA_STEPS_PACKAGE_INSTALL_SECONDS`: how long one install may take (default 600)
//!
//! The client commands (`run`, `logs`, `runs`, `cancel`) read `LAMBDA_STEPS_URL`,
//! `LAMBDA_STEPS_TOKEN`, `LAMBDA_STEPS_DATA_DIR`, `LAMBDA_STEPS_PROJECT` and `NO_COLOR`
//! (see `client/mod.rs`).
//!
//! The embedded engine (`lambda-local`, and `serve` when the endpoint is `embedded`):
//! - `LAMBDA_STEPS_ENGINE_LISTEN`: address of the Lambda API (default `127.0.0.1:9001`)
//! - `LAMBDA_STEPS_DATA_DIR`: where functions and their code persist (default `./lambda-steps-data`)
//! - `LAMBDA_STEPS_ENGINE_REGION`, `LAMBDA_STEPS_ENGINE_ACCOUNT_ID`: what ARNs say
//! - `LAMBDA_STEPS_ENGINE_ACCESS_KEY_ID`, `LAMBDA_STEPS_ENGINE_SECRET_ACCESS_KEY` (secret: never
//!   printed by `serve`): the key callers of the engine's APIs sign with (default: generated
//!   into the data directory's `engine-credentials`); `serve` pointed at an engine elsewhere
//!   signs with it
//! - `LAMBDA_STEPS_ENGINE_MAX_ENVIRONMENTS`: concurrent environments per function version
//! - `LAMBDA_STEPS_ENGINE_IDLE_SECONDS`: an idle environment is reaped after this
//! - `LAMBDA_STEPS_ENGINE_QUEUE_SECONDS`: how long an invoke waits for a busy function
//! - `LAMBDA_STEPS_ENGINE_ISOLATION`: `bubblewrap` (default: where it cannot start, the API
//!   works but no user code runs, and invokes say what is missing) or `none` (unconfined,
//!   single-tenant hosts only); `LAMBDA_STEPS_ENGINE_SANDBOX` is its deprecated name
//! - `LAMBDA_STEPS_ENGINE_BWRAP`: the bubblewrap program (default `/usr/bin/bwrap`)
//! - `LAMBDA_STEPS_ENGINE_FIRST_UID`: first of the 65,536 uids environments run as, one
//!   each, when the engine runs as root (default `1879048192`)
//! - `LAMBDA_STEPS_ENGINE_NETWORK`: `isolated` (default: the outside through pasta, nothing of this host
//!   but the function endpoint's loopback port), `none` (only the Runtime API) or `host` (what the host
//!   reaches, its loopback included: single-tenant only, WARN at start)
//! - `LAMBDA_STEPS_ENGINE_PYTHON`, `..._NODE`, `..._RUBY`: interpreter paths
//! - `LAMBDA_STEPS_ENGINE_MAX_PROCESSES`, `..._CPU_SECONDS`, `..._FILE_SIZE_MB`,
//!   `..._ADDRESS_SPACE_HEADROOM_MB`: resource limits of user code (processes per
//!   environment; address space only where no memory cgroup holds MemorySize)
//! - `LAMBDA_STEPS_ENGINE_LOG_GROUP_MAX_MB`: most bytes of events one log group keeps
//! - `LAMBDA_STEPS_RUNTIMES_DIR`: the runtimes' AWS SDKs (default: the data directory's
//!   `runtimes`), as `lambda-steps runtimes install` puts them there

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::aws_settings::Name;
use lambda_engine::{DEFAULT_DATA_DIR, DEFAULT_LISTEN, EngineSettings, StandaloneArgs};

/// How the service writes its own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people; colour only when stdout is a terminal and `NO_COLOR` is unset.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// `runtimes install`: the AWS SDK of each runtime, for user code on the embedded engine.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimesInstallArgs {
    /// Where functions and their code persist; the SDKs go in its `runtimes` directory.
    #[arg(long = "data-dir", env = "LAMBDA_STEPS_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Where the SDKs go instead (the engine reads the same variable).
    #[arg(long = "runtimes-dir", env = "LAMBDA_STEPS_RUNTIMES_DIR")]
    pub runtimes_dir: Option<PathBuf>,
    /// The Python that pip installs for (default: python3, found as the engine finds it).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_PYTHON")]
    pub python: Option<PathBuf>,
}

impl RuntimesInstallArgs {
    /// The directory the SDKs go to.
    pub fn dir(&self) -> PathBuf {
        self.runtimes_dir
            .clone()
            .unwrap_or_else(|| lambda_engine::sdk::default_dir(&self.data_dir))
    }
}

/// `lambda-local`: the engine on its own (its flags are the engine crate's), and this
/// process's log format.
#[derive(Debug, Clone, clap::Args)]
pub struct LambdaLocalArgs {
    #[command(flatten)]
    pub standalone: StandaloneArgs,
    /// The service's own log: `text` (colour only on a terminal) or `json` (one object a line).
    #[arg(long, env = "LAMBDA_STEPS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl LambdaLocalArgs {
    pub fn into_settings(self) -> EngineSettings {
        self.standalone.into_settings()
    }
}

/// `serve`: the REST API, the queue's workers, and the embedded engine when used.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeSettings {
    /// Address the REST API listens on.
    #[arg(long = "listen", env = "LAMBDA_STEPS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory of the embedded engine's functions (and of a private Postgres started by scripts/start).
    #[arg(long = "data-dir", env = "LAMBDA_STEPS_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Postgres URL; default: a local server (unix socket, then 127.0.0.1:5432), database lambda_steps.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most database connections of this replica.
    #[arg(long, env = "LAMBDA_STEPS_DB_CONNECTIONS", default_value_t = 20)]
    pub db_connections: u32,
    /// Milliseconds a request waits for a database connection (while the database is away
    /// or every connection is busy) before it is answered 503 with Retry-After.
    #[arg(long, env = "LAMBDA_STEPS_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5000)]
    pub db_acquire_timeout_ms: u64,
    /// `embedded` (the engine in this process, the default), `aws` (AWS Lambda), or a Lambda-compatible URL.
    #[arg(long = "aws-endpoint-url", env = "LAMBDA_STEPS_AWS_ENDPOINT_URL", value_parser = aws_value(Name::EndpointUrl))]
    pub endpoint_url: Option<String>,
    /// Region of the Lambda calls (default us-east-1).
    #[arg(id = "aws_region", long = "aws-region", env = "LAMBDA_STEPS_AWS_REGION", value_parser = aws_value(Name::Region))]
    pub region: Option<String>,
    /// Execution role of custom-code functions.
    #[arg(long = "aws-lambda-role-arn", env = "LAMBDA_STEPS_AWS_LAMBDA_ROLE_ARN", value_parser = aws_value(Name::LambdaRoleArn))]
    pub lambda_role_arn: Option<String>,
    /// Address of the embedded engine's Lambda API (when the endpoint is `embedded`).
    #[arg(long = "engine-listen", env = "LAMBDA_STEPS_ENGINE_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub engine_listen: SocketAddr,
    /// Runs one replica works on at once (each is a task, not a thread).
    #[arg(long, env = "LAMBDA_STEPS_WORKERS", default_value_t = 2048)]
    pub workers: usize,
    /// Seconds a claimed run's lease lasts; a heartbeat renews it every third of that.
    #[arg(long, env = "LAMBDA_STEPS_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,
    /// Milliseconds between polls for queued runs when no notification came.
    #[arg(long, env = "LAMBDA_STEPS_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// Milliseconds between two NOTIFYs that tell the other replicas of submits, finishes
    /// and log lines (coalesced; this replica's own workers and readers are woken at once).
    #[arg(long, env = "LAMBDA_STEPS_NOTIFY_MS", default_value_t = 10)]
    pub notify_ms: u64,
    /// Most runs claimed in one statement.
    #[arg(long, env = "LAMBDA_STEPS_CLAIM_BATCH", default_value_t = 64)]
    pub claim_batch: usize,
    /// Retries of an Invoke that Lambda throttled or found not ready.
    #[arg(long, env = "LAMBDA_STEPS_INVOKE_RETRIES", default_value_t = 6)]
    pub invoke_retries: u32,
    /// Seconds an Invoke waits beyond the function's own timeout before its outcome is unknown.
    #[arg(long, env = "LAMBDA_STEPS_INVOKE_TIMEOUT_MARGIN_SECONDS", default_value_t = 30)]
    pub invoke_timeout_margin_seconds: u64,
    /// Seconds between sweeps for functions of finished runs left behind by a crash.
    #[arg(long, env = "LAMBDA_STEPS_SWEEP_SECONDS", default_value_t = 60)]
    pub sweep_seconds: u64,
    /// Days the CloudWatch log group of a custom-code function keeps its lines (one of
    /// CloudWatch's retention values); the sweeper deletes the group after that.
    #[arg(long, env = "LAMBDA_STEPS_CUSTOM_CODE_LOG_DAYS", default_value_t = 1,
        value_parser = retention_days)]
    pub custom_code_log_days: i32,
    /// pip that installs Python custom code's `packages` (wheels only; default: pip3 on PATH).
    #[arg(long, env = "LAMBDA_STEPS_PIP", default_value = "pip3")]
    pub pip: PathBuf,
    /// npm that installs Node.js custom code's `packages` (with scripts off).
    #[arg(long, env = "LAMBDA_STEPS_NPM", default_value = "npm")]
    pub npm: PathBuf,
    /// gem that installs Ruby custom code's `packages` (gems without native extensions).
    #[arg(long, env = "LAMBDA_STEPS_GEM", default_value = "gem")]
    pub gem: PathBuf,
    /// Seconds one install of a step's packages may take.
    #[arg(long, env = "LAMBDA_STEPS_PACKAGE_INSTALL_SECONDS", default_value_t = 600)]
    pub package_install_seconds: u64,
    /// Seconds a shutdown waits for running steps before it leaves them to the rescuer.
    #[arg(long, env = "LAMBDA_STEPS_DRAIN_SECONDS", default_value_t = 30)]
    pub drain_seconds: u64,
    /// The bootstrap admin token; default: generated once into `admin-token` in the data directory.
    #[arg(long, env = "LAMBDA_STEPS_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<crate::key_storage::Secret>,
    /// Base64 of the 32-byte key secrets are encrypted under; default: `master.key` in the data directory.
    #[arg(long, env = "LAMBDA_STEPS_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<crate::key_storage::Secret>,
    /// TOML file of framework settings (`aws.access_key`, `aws.region`...); default `lambda-steps.toml` if present.
    #[arg(long = "config", env = "LAMBDA_STEPS_CONFIG")]
    pub config_file: Option<PathBuf>,
    /// Largest webhook body, in bytes.
    #[arg(long, env = "LAMBDA_STEPS_MAX_WEBHOOK_BYTES", default_value_t = 1024 * 1024)]
    pub max_webhook_bytes: usize,
    /// Largest payload of a synchronous (RequestResponse, DryRun) step.
    #[arg(long, env = "LAMBDA_STEPS_MAX_SYNC_PAYLOAD_BYTES", default_value_t = 6 * 1024 * 1024)]
    pub max_sync_payload_bytes: usize,
    /// Largest payload of an Event step.
    #[arg(long, env = "LAMBDA_STEPS_MAX_EVENT_PAYLOAD_BYTES", default_value_t = 1024 * 1024)]
    pub max_event_payload_bytes: usize,
    /// The service's own log: `text` (colour only on a terminal) or `json` (one object a line).
    #[arg(long, env = "LAMBDA_STEPS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub engine: EngineSettings,
}

impl ServeSettings {
    /// Settings as the command line would give them, for tests and embedding.
    pub fn from_args<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        lambda_engine::parse_args::<ServeSettings, _, _>("lambda-steps", args)
    }

    /// The framework AWS settings given as flags, which win over the file and variables.
    pub fn aws_flags(&self) -> Vec<(Name, String)> {
        [
            (Name::EndpointUrl, &self.endpoint_url),
            (Name::Region, &self.region),
            (Name::LambdaRoleArn, &self.lambda_role_arn),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.clone()?)))
        .collect()
    }

    /// The settings of the engine this service runs in-process.
    pub fn engine_settings(&self) -> EngineSettings {
        self.engine.clone().placed(self.engine_listen, self.data_dir.clone())
    }
}

/// A framework AWS setting given as a flag, checked by its setting's rule.
fn aws_value(name: Name) -> impl Fn(&str) -> Result<String, &'static str> + Clone + Send + Sync + 'static {
    move |value| name.check(value).map(|()| value.to_string())
}

/// A number of days CloudWatch Logs does not accept as a retention.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("CloudWatch Logs keeps logs for one of {:?} days", lambda_rules::RETENTION_DAYS)]
struct NotARetention;

/// A retention CloudWatch Logs accepts.
fn retention_days(value: &str) -> Result<i32, NotARetention> {
    let allowed = lambda_rules::RETENTION_DAYS;
    value
        .parse::<i32>()
        .ok()
        .filter(|days| allowed.contains(days))
        .ok_or(NotARetention)
}

#[cfg(test)]
mod tests {
    #[test]
    fn custom_code_log_days_must_be_a_cloudwatch_retention() {
        assert_eq!(super::retention_days("7"), Ok(7));
        let refused = super::retention_days("2").unwrap_err().to_string();
        assert!(
            refused.starts_with("CloudWatch Logs keeps logs for one of [1, 3, 5, 7"),
            "{refused}"
        );
        assert!(super::retention_days("a week").is_err());
    }
}
