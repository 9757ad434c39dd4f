//! The `lambda-steps` binary: parses the command line, starts logging, runs a subcommand
//! (`serve` when none is given). The same binary is the client of a running service
//! (`run`, `logs`, `runs`, `cancel`; see `client/`), whose exit status is the outcome.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use lambda_engine::Engine;
use lambda_steps::client;
use lambda_steps::config::{LambdaLocalArgs, LogFormat, RuntimesInstallArgs, ServeSettings};

#[derive(Parser)]
#[command(
    name = "lambda-steps",
    version,
    about = "Runs AWS Lambda workflow steps",
    after_help = "The client commands exit with the run's outcome (`run`, `logs --follow`): 0 succeeded, \
        1 failed, 3 timed out, 4 cancelled, 5 outcome unknown, 6 refused by the service or unreachable, \
        2 usage error. See `lambda-steps run --help`.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeSettings,
}

#[derive(Subcommand)]
enum Command {
    /// The service: REST API, queue workers, and the embedded engine (the default command).
    Serve(Box<ServeSettings>),
    /// Only the embedded Lambda engine: a Lambda-compatible endpoint that runs Python,
    /// Node.js and Ruby functions on this host, no Docker needed.
    LambdaLocal(Box<LambdaLocalArgs>),
    /// Create the database if missing and apply the migrations, then exit.
    Migrate {
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
    /// The AWS SDK of each runtime (boto3, the JavaScript v3 clients, the Ruby gems) for
    /// user code on the embedded engine.
    #[command(subcommand)]
    Runtimes(RuntimesCommand),
    /// Submit a step to a running service and follow its log; exits with the run's outcome.
    Run(Box<client::run::RunArgs>),
    /// Print a run's log (--follow: to its end, exiting with its outcome).
    Logs(Box<client::logs::LogsArgs>),
    /// List a project's runs, newest first.
    Runs(Box<client::runs::RunsArgs>),
    /// Cancel a run.
    Cancel(Box<client::cancel::CancelArgs>),
    /// Replay a finished run on the embedded engine and print what differs; exits 0 when
    /// the outcomes match, 1 when they do not.
    Replay(Box<client::replay::ReplayArgs>),
    /// Approve a callback the run's durable execution waits for (its id is in the run's log).
    Approve(Box<client::approve::ApproveArgs>),
    /// Reject a callback the run's durable execution waits for, with a message.
    Reject(Box<client::approve::RejectArgs>),
}

#[derive(Subcommand)]
enum RuntimesCommand {
    /// Install what is missing or out of date (fast, and no network, when all is there).
    Install(RuntimesInstallArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(Box::new(cli.serve)));
    let outcome = match command {
        Command::Run(args) => client::run::main(*args).await,
        Command::Logs(args) => client::logs::main(*args).await,
        Command::Runs(args) => client::runs::main(*args).await,
        Command::Cancel(args) => client::cancel::main(*args).await,
        Command::Replay(args) => client::replay::main(*args).await,
        Command::Approve(args) => client::approve::approve(*args).await,
        Command::Reject(args) => client::approve::reject(*args).await,
        service => {
            let format = match &service {
                Command::Serve(settings) => settings.log_format,
                Command::LambdaLocal(args) => args.log_format,
                _ => LogFormat::Text,
            };
            let telemetry = lambda_steps::telemetry::start(format);
            let outcome = run_service(service).await;
            telemetry.shutdown();
            return match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // One line a person reads (no backtrace), and the collector's copy.
                    if format == LogFormat::Json {
                        tracing::error!("{e:#}");
                    }
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    outcome.into()
}

async fn run_service(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(settings) => {
            let settings = *settings;
            // Bind first: a taken port is the most common first-minute failure, and says so at once.
            let listener = bind(settings.listen, "--listen", "LAMBDA_STEPS_LISTEN").await?;
            let acquire_timeout = std::time::Duration::from_millis(settings.db_acquire_timeout_ms);
            let db = lambda_steps::db::connect(
                settings.database_url.as_deref(),
                settings.db_connections,
                acquire_timeout,
            )
            .await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            lambda_steps::serve(listener, settings, db, shutdown).await
        }
        Command::LambdaLocal(args) => {
            let settings = args.into_settings();
            let listener = bind(settings.listen, "--listen", "LAMBDA_STEPS_ENGINE_LISTEN").await?;
            let address = listener.local_addr()?;
            let engine = Engine::start(settings)?;
            // Alone, the engine has no key storage: its functions assume their roles with
            // the default credential chain, per the framework's function settings.
            let framework = lambda_steps::aws_settings::Framework::load(None, [])?;
            let functions = lambda_steps::lambda::function_credentials::engine_alone(&framework).await;
            engine.function_aws().set_default(functions);
            tracing::info!(
                "embedded Lambda engine listening on http://{address} (aws lambda --endpoint-url http://{address} ...)"
            );
            announce_engine_key(engine.key(), &engine.settings().region);
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            engine.serve(listener, shutdown).await
        }
        Command::Migrate { database_url } => {
            lambda_steps::db::connect(database_url.as_deref(), 2, std::time::Duration::from_secs(10)).await?;
            tracing::info!("database migrated");
            Ok(())
        }
        Command::Openapi => {
            print!("{}", lambda_steps::http::openapi_json());
            Ok(())
        }
        Command::Runtimes(RuntimesCommand::Install(args)) => {
            let dir = args.dir();
            let said =
                tokio::task::spawn_blocking(move || lambda_engine::sdk::install_for_host(&dir, args.python)).await??;
            for line in said {
                tracing::info!("{line}");
            }
            Ok(())
        }
        Command::Run(_)
        | Command::Logs(_)
        | Command::Runs(_)
        | Command::Cancel(_)
        | Command::Replay(_)
        | Command::Approve(_)
        | Command::Reject(_) => {
            unreachable!("client commands are dispatched in main")
        }
    }
}

/// `lambda-local` prints its key, secret included, as exports for the AWS CLI and the SDKs:
/// whoever started it on their own machine is the one who needs it.
fn announce_engine_key(key: &lambda_engine::auth::EngineKey, region: &str) {
    let from = match &key.source {
        lambda_engine::auth::KeySource::File(path) => format!("kept in {}", path.display()),
        lambda_engine::auth::KeySource::Settings => "from the engine key settings".into(),
    };
    tracing::info!(
        engine_access_key_id = %key.access_key_id,
        "the engine answers only requests signed with its access key ({from}); for the AWS CLI and the SDKs: \
         export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={region}",
        key.access_key_id,
        key.secret_access_key.expose(),
    );
}

/// Binds `address`, or says which address is taken and which flag or variable moves it.
async fn bind(address: std::net::SocketAddr, flag: &str, variable: &str) -> anyhow::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
            "cannot listen on {address}: the address is already in use (another lambda-steps?); \
             choose another with {flag} ADDRESS or {variable}=ADDRESS"
        ),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {address} (set by {flag} or {variable})")),
    }
}

/// Ctrl-C or SIGTERM starts a graceful shutdown.
async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
