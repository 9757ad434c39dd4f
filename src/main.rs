//! The `lambda-steps` binary: parses the command line, starts logging, runs a subcommand.

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use lambda_steps::config::EngineSettings;
use lambda_steps::engine::Engine;

#[derive(Parser)]
#[command(
    name = "lambda-steps",
    version,
    about = "Runs AWS Lambda workflow steps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the embedded Lambda engine: a Lambda-compatible endpoint that runs Python,
    /// Node.js and Ruby functions on this host, no Docker needed.
    LambdaLocal(EngineSettings),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::LambdaLocal(settings) => {
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
