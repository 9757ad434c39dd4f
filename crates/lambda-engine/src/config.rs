//! Settings of the embedded Lambda engine, as flags and `LAMBDA_STEPS_ENGINE_*` variables;
//! the service's process configuration (its `config.rs`) flattens them into `serve`, and
//! [`StandaloneArgs`] into `lambda-local` (the engine on its own).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use super::auth::SecretAccessKey;

/// Where the engine's Lambda API listens unless told (`lambda-local --listen`, `serve
/// --engine-listen`, both `LAMBDA_STEPS_ENGINE_LISTEN`).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 9001));
/// Where functions and their code persist unless told (`--data-dir`, `LAMBDA_STEPS_DATA_DIR`).
pub const DEFAULT_DATA_DIR: &str = "lambda-steps-data";
use super::sandbox::{Isolation, LegacySandbox};

/// The networks user code may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Network {
    /// A network namespace per execution environment with egress to the outside through
    /// pasta; the host's loopback and addresses stay closed, but for the function
    /// endpoint's loopback port.
    Isolated,
    /// Whatever the host reaches, its loopback included: single-tenant hosts only.
    Host,
    /// Nothing but the function's own Runtime API.
    None,
}

/// Settings of the embedded Lambda engine.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineSettings {
    /// Set from `lambda-local --listen` or `serve --engine-listen` (see [`Self::placed`]).
    #[arg(skip = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Set from `--data-dir`.
    #[arg(skip)]
    pub data_dir: PathBuf,
    /// Access key id callers of the engine's APIs sign with (with its secret); default:
    /// generated once into the data directory's `engine-credentials`.
    #[arg(
        long = "engine-access-key-id",
        env = "LAMBDA_STEPS_ENGINE_ACCESS_KEY_ID",
        requires = "secret_access_key"
    )]
    pub access_key_id: Option<String>,
    /// Secret access key of `--engine-access-key-id` (never printed).
    #[arg(
        long = "engine-secret-access-key",
        env = "LAMBDA_STEPS_ENGINE_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    pub secret_access_key: Option<SecretAccessKey>,
    /// Region named in ARNs and given to functions as AWS_REGION.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Account id named in ARNs.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// Execution environments one function version may run at once.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_MAX_ENVIRONMENTS", default_value_t = 64)]
    pub max_environments: usize,
    /// Seconds after which an idle environment is stopped.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_IDLE_SECONDS", default_value_t = 300)]
    pub idle_seconds: u64,
    /// Seconds an invoke waits for an environment of a busy function before a 429.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_QUEUE_SECONDS", default_value_t = 60)]
    pub queue_seconds: u64,
    /// How user code is contained: `bubblewrap` (default; where it cannot start, no user
    /// code runs and invokes say why) or `none` (unconfined: single-tenant hosts only).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_ISOLATION", value_enum)]
    pub isolation: Option<Isolation>,
    /// Deprecated name of `--isolation` (`auto` now means `bubblewrap`).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_SANDBOX", value_enum, hide = true)]
    pub sandbox: Option<LegacySandbox>,
    /// The bubblewrap program (default: /usr/bin/bwrap, then /usr/local/bin/bwrap).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_BWRAP")]
    pub bwrap: Option<PathBuf>,
    /// First of the 65,536 uids execution environments run as, one each, when the engine
    /// runs as root.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_FIRST_UID", default_value_t = 1_879_048_192)]
    pub first_uid: u32,
    /// What networks user code reaches: `isolated` (the outside, not this host; needs
    /// bubblewrap, pasta and root), `none` (only its Runtime API; needs bubblewrap) or
    /// `host` (everything this host reaches, its loopback included: single-tenant only).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_NETWORK", value_enum, default_value = "isolated")]
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
    /// Most processes and threads one execution environment may have (Lambda's 1,024).
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_MAX_PROCESSES", default_value_t = 1024)]
    pub max_processes: u64,
    /// CPU seconds one environment may use over its life before it is killed and replaced.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_CPU_SECONDS", default_value_t = 3600)]
    pub cpu_seconds: u64,
    /// Largest file user code may write, in MB.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_FILE_SIZE_MB", default_value_t = 512)]
    pub file_size_mb: u64,
    /// Address space allowed above the function's MemorySize (Python and Ruby, where no
    /// memory cgroup holds MemorySize), in MB.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_ADDRESS_SPACE_HEADROOM_MB", default_value_t = 512)]
    pub address_space_headroom_mb: u32,
    /// Where `lambda-steps runtimes install` put the runtimes' AWS SDKs (default: the data
    /// directory's `runtimes`).
    #[arg(long, env = "LAMBDA_STEPS_RUNTIMES_DIR")]
    pub runtimes_dir: Option<PathBuf>,
    /// Most bytes of events one CloudWatch log group keeps; past it the oldest go first.
    #[arg(long, env = "LAMBDA_STEPS_ENGINE_LOG_GROUP_MAX_MB", default_value_t = 64)]
    pub log_group_max_mb: u64,
}

impl EngineSettings {
    /// `--isolation`, else the deprecated `--sandbox`, else `bubblewrap`.
    pub fn isolation(&self) -> Isolation {
        if self.sandbox.is_some() && self.isolation.is_none() {
            tracing::warn!(
                "LAMBDA_STEPS_ENGINE_SANDBOX (--sandbox) is deprecated: use LAMBDA_STEPS_ENGINE_ISOLATION (--isolation)"
            );
        }
        self.isolation
            .or(self.sandbox.map(Isolation::from))
            .unwrap_or(Isolation::Bubblewrap)
    }
}

/// The engine on its own (`lambda-steps lambda-local`): where its Lambda API listens and
/// where its functions persist, beside its settings.
#[derive(Debug, Clone, clap::Args)]
pub struct StandaloneArgs {
    /// Address the Lambda API listens on.
    #[arg(long = "listen", env = "LAMBDA_STEPS_ENGINE_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Directory where functions, versions, aliases and code persist.
    #[arg(long = "data-dir", env = "LAMBDA_STEPS_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub engine: EngineSettings,
}

impl StandaloneArgs {
    pub fn into_settings(self) -> EngineSettings {
        self.engine.placed(self.listen, self.data_dir)
    }
}

impl EngineSettings {
    /// Settings as `lambda-local`'s command line would give them, for tests, benchmarks and
    /// embedding; a bad argument exits as the command line would.
    pub fn from_args<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        parse_args::<StandaloneArgs, _, _>("lambda-local", args).into_settings()
    }

    /// These settings, listening on `listen` and keeping functions in `data_dir` (the
    /// flags that name them differ between `lambda-local` and `serve`).
    pub fn placed(self, listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            ..self
        }
    }
}

/// Parses `args` (without the program name) into one group of settings as `program`'s
/// command line would; a bad argument exits as the command line would. `serve`'s settings
/// are parsed with it too.
pub fn parse_args<A, I, T>(program: &'static str, args: I) -> A
where
    A: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = A::augment_args(clap::Command::new(program));
    let argv = std::iter::once(std::ffi::OsString::from(program)).chain(args.into_iter().map(Into::into));
    let matches = command.get_matches_from(argv);
    A::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
