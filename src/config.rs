//! Typed settings, read once at start from flags and environment variables.
//!
//! Environment variables of the embedded engine (each also a `lambda-local` flag):
//! - `LAMBDA_STEPS_ENGINE_LISTEN`: address of the Lambda API (default `127.0.0.1:9001`)
//! - `LAMBDA_STEPS_DATA_DIR`: where functions and their code persist (default `./lambda-steps-data`)
//! - `LAMBDA_STEPS_ENGINE_REGION`, `LAMBDA_STEPS_ENGINE_ACCOUNT_ID`: what ARNs say
//! - `LAMBDA_STEPS_ENGINE_MAX_ENVIRONMENTS`: concurrent environments per function version
//! - `LAMBDA_STEPS_ENGINE_IDLE_SECONDS`: an idle environment is reaped after this
//! - `LAMBDA_STEPS_ENGINE_QUEUE_SECONDS`: how long an invoke waits for a busy function
//! - `LAMBDA_STEPS_ENGINE_SANDBOX`: `auto`, `bubblewrap` or `none`
//! - `LAMBDA_STEPS_ENGINE_NETWORK`: `host` (functions reach what the host reaches) or `none`
//! - `LAMBDA_STEPS_ENGINE_PYTHON`, `..._NODE`, `..._RUBY`: interpreter paths
//! - `LAMBDA_STEPS_ENGINE_MAX_PROCESSES`, `..._CPU_SECONDS`, `..._FILE_SIZE_MB`,
//!   `..._ADDRESS_SPACE_HEADROOM_MB`: resource limits of user code

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::engine::sandbox::SandboxMode;

/// The networks user code may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// Whatever the host reaches, as a Lambda function outside a VPC.
    Host,
    /// Nothing but the function's own Runtime API.
    None,
}

/// Settings of the embedded Lambda engine.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineSettings {
    /// Address the Lambda API listens on.
    #[arg(
        long = "listen",
        env = "LAMBDA_STEPS_ENGINE_LISTEN",
        default_value = "127.0.0.1:9001"
    )]
    pub listen: SocketAddr,
    /// Directory where functions, versions, aliases and code persist.
    #[arg(
        long = "data-dir",
        env = "LAMBDA_STEPS_DATA_DIR",
        default_value = "lambda-steps-data"
    )]
    pub data_dir: PathBuf,
    /// Region named in ARNs and given to functions as AWS_REGION.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Account id named in ARNs.
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_ACCOUNT_ID",
        default_value = "000000000000"
    )]
    pub account_id: String,
    /// Execution environments one function version may run at once.
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_MAX_ENVIRONMENTS",
        default_value_t = 64
    )]
    pub max_environments: usize,
    /// Seconds after which an idle environment is stopped.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_IDLE_SECONDS", default_value_t = 300)]
    pub idle_seconds: u64,
    /// Seconds an invoke waits for an environment of a busy function before a 429.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_QUEUE_SECONDS", default_value_t = 60)]
    pub queue_seconds: u64,
    /// Isolation of user code.
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_SANDBOX",
        value_enum,
        default_value = "auto"
    )]
    pub sandbox: SandboxMode,
    /// What networks user code reaches: `host`, or `none` (only its Runtime API; needs bubblewrap).
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_NETWORK",
        value_enum,
        default_value = "host"
    )]
    pub network: Network,
    /// Python interpreter (default: python3 from /usr/local/bin, /usr/bin, then PATH).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_PYTHON")]
    pub python: Option<PathBuf>,
    /// Node.js interpreter (default: node, found as python3 is).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_NODE")]
    pub node: Option<PathBuf>,
    /// Ruby interpreter (default: ruby, found as python3 is).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_RUBY")]
    pub ruby: Option<PathBuf>,
    /// Most processes and threads the sandbox user may have (only when the engine runs as root).
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_MAX_PROCESSES",
        default_value_t = 4096
    )]
    pub max_processes: u64,
    /// CPU seconds one environment may use over its life before it is killed and replaced.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_CPU_SECONDS", default_value_t = 3600)]
    pub cpu_seconds: u64,
    /// Largest file user code may write, in MB.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_FILE_SIZE_MB", default_value_t = 512)]
    pub file_size_mb: u64,
    /// Address space allowed above the function's MemorySize (Python and Ruby), in MB.
    #[arg(
        long,
        env = "LAMBDA_STEPS_ENGINE_ADDRESS_SPACE_HEADROOM_MB",
        default_value_t = 512
    )]
    pub address_space_headroom_mb: u32,
}

impl EngineSettings {
    /// Settings as the command line would give them, for tests and embedding.
    pub fn from_args<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            settings: EngineSettings,
        }
        let argv = std::iter::once(std::ffi::OsString::from("lambda-steps"))
            .chain(args.into_iter().map(Into::into));
        <Wrapper as clap::Parser>::parse_from(argv).settings
    }
}
