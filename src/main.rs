//! The `lambda-steps` binary: parses the command line, starts logging, runs a subcommand
//! (`serve` when none is given).

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use lambda_steps::config::{LambdaLocalArgs, ServeSettings};
use lambda_steps::engine::Engine;

#[derive(Parser)]
#[command(
    name = "lambda-steps",
    version,
    about = "Runs AWS Lambda workflow steps",
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(Box::new(cli.serve))) {
        Command::Serve(settings) => {
            let settings = *settings;
            let acquire_timeout = std::time::Duration::from_millis(settings.db_acquire_timeout_ms);
            let db = lambda_steps::db::connect(
                settings.database_url.as_deref(),
                settings.db_connections,
                acquire_timeout,
            )
            .await?;
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(stop_on_signal(shutdown.clone()));
            lambda_steps::serve(listener, settings, db, shutdown).await
        }
        Command::LambdaLocal(args) => {
            let settings = args.into_settings();
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
            let address = listener.local_addr()?;
            let engine = Engine::start(settings)?;
            tracing::info!(
                "embedded Lambda engine listening on http://{address} (aws lambda --endpoint-url http://{address} ...)"
            );
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
