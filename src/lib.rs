//! lambda-steps: runs AWS Lambda workflow steps, with an embedded Docker-free Lambda engine.
//!
//! `serve` is the whole service; tests call it with their own listener and database.

pub mod app;
pub mod client;
pub mod config;
pub mod db;
pub mod domain;
pub mod engine;
pub mod error;
pub mod http;
pub mod key_storage;
pub mod lambda;
pub mod lambda_rules;
pub mod metrics;
pub mod queue;
pub mod settings;
pub mod store;
pub mod worker;

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use app::{App, AppState};
use config::ServeSettings;
use lambda::client::LambdaTarget;

/// Runs the service on `listener` until `shutdown`: the REST API, the workers, the
/// rescuer, the sweeper, and the embedded engine when the endpoint is `embedded`. On
/// shutdown it stops taking work, lets the steps in hand finish for up to the drain time,
/// gives back those that had not invoked yet, then stops the engine.
pub async fn serve(
    listener: tokio::net::TcpListener,
    settings: ServeSettings,
    db: PgPool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let engine_stop = CancellationToken::new();
    let framework = settings::Framework::load(settings.config_file.as_deref())?.with_flags(
        settings.endpoint_url.as_deref(),
        settings.region.as_deref(),
        settings.lambda_role_arn.as_deref(),
    );
    let endpoint = framework.get("endpoint_url").unwrap_or("embedded").to_string();
    let (target, engine_task) = match endpoint.as_str() {
        "embedded" => {
            let engine = engine::Engine::start(settings.engine_settings())?;
            let engine_listener = tokio::net::TcpListener::bind(settings.engine_listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} for the embedded engine; choose another address with --engine-listen or LAMBDA_STEPS_ENGINE_LISTEN",
                        settings.engine_listen
                    )
                })?;
            let url = format!("http://{}", engine_listener.local_addr()?);
            let task = tokio::spawn(engine.serve(engine_listener, engine_stop.clone()));
            (LambdaTarget::Embedded(url), Some(task))
        }
        "aws" => (LambdaTarget::Aws, None),
        url => (LambdaTarget::Endpoint(url.to_string()), None),
    };
    let embedded_url = match &target {
        LambdaTarget::Embedded(url) => Some(url.clone()),
        _ => None,
    };
    let lambdas = lambda::directory::LambdaDirectory::new(framework, embedded_url);
    std::fs::create_dir_all(&settings.data_dir)?;
    let admin_token = key_storage::admin_token(settings.admin_token.as_ref(), &settings.data_dir)?;
    let master_key = key_storage::MasterKey::load(settings.master_key.as_ref(), &settings.data_dir)?;
    let address = listener.local_addr()?;
    let token_at = match &settings.admin_token {
        Some(_) => "the --admin-token / LAMBDA_STEPS_ADMIN_TOKEN setting".to_string(),
        None => std::path::absolute(settings.data_dir.join("admin-token"))?
            .display()
            .to_string(),
    };
    tracing::info!(
        "lambda-steps listening on http://{address}; running steps on {}",
        target.describe()
    );
    tracing::info!(
        console = %format!("http://{address}/"),
        admin_token = %token_at,
        "ready: console http://{address}/ ; admin token in {token_at} ; try `lambda-steps run --url http://{address} --runtime python3.12 --code FILE`"
    );
    let worker_id = format!(
        "{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let state = AppState::new(App {
        logs: queue::logs::LogSink::start(db.clone()),
        writes: queue::batch::RunWrites::start(db.clone(), worker_id.clone()),
        notifications: queue::notify::Notifications::new(),
        admin_token_hash: domain::access::token_hash(&admin_token),
        function_timeouts: Default::default(),
        master_key,
        worker_id: worker_id.clone(),
        db,
        settings,
        target,
        lambdas,
        shutdown: shutdown.clone(),
    });

    metrics::handle();
    let tracker = TaskTracker::new();
    tracker.spawn(queue::notify::listen(
        state.db.clone(),
        state.notifications.clone(),
        shutdown.clone(),
    ));
    let held = queue::pool::HeldRuns::default();
    tracker.spawn(queue::rescue::run(state.clone(), held.clone()));
    tracker.spawn(worker::sweeper::run(
        state.clone(),
        Duration::from_secs(state.settings.sweep_seconds.max(1)),
    ));
    let workers = tokio::spawn(queue::pool::run(state.clone(), held, tracker.clone(), worker::execute));

    let router = http::router(state.clone());
    let stop = shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;

    let _ = workers.await;
    tracker.close();
    let drain = Duration::from_secs(state.settings.drain_seconds);
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            "steps still running after the drain time; their leases will expire and the rescuer settles them"
        );
    }
    engine_stop.cancel();
    if let Some(task) = engine_task {
        let _ = task.await;
    }
    Ok(())
}
