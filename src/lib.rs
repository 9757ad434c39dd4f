//! lambda-steps: runs AWS Lambda workflow steps, with an embedded Docker-free Lambda engine.
//!
//! `serve` is the whole service; tests call it with their own listener and database.
//!
//! # The layers, and which may use which
//!
//! The workspace holds three crates; the compiler keeps the first two apart from the service:
//!
//! ```text
//! crates/lambda-rules       Lambda's own rules (names, ARNs, limits, runtimes, log groups): pure
//! crates/lambda-engine      the embedded Lambda engine; uses lambda-rules, never this crate.
//!                           Its function_aws is what user code gets for its own AWS calls
//!                           (endpoint, role credentials), announced per function in-process
//! lambda-steps (this crate) the service and the CLI, in these layers:
//!
//! main.rs, lib.rs, db       wiring: boot (serve), the one shutdown token and task tracker
//! http                      the REST API; error.rs is its one error shape
//! app                       AppState for the handlers; builds QueueContext and WorkerContext
//! config                    process flags; flattens lambda_engine::EngineSettings
//! worker                    one run's step and its one Invoke path; the sweeper (WorkerContext)
//! queue                     claim, heartbeat, rescue, log writer, run writes (QueueContext)
//! lambda                    Lambda clients per project, the at-most-once Invoke, CloudWatch
//! aws_settings              AWS settings by Rundeck's names, resolved
//! store                     the only SQL (Postgres)
//! key_storage               the master key, sealed secrets, the admin token
//! domain                    Run, Step, Caller: parsed at the edge
//! metrics                   Prometheus
//!
//! client                    the command line client: talks HTTP to a service
//! ```
//!
//! A module uses only those listed below it: the queue and the workers get narrow contexts
//! from `app` and never see `AppState`; the pool runs whatever `execute` it is handed, so
//! `queue` knows nothing of `worker`; `domain` is pure (no HTTP, no database, no engine).
//! Only `main.rs`, `lib.rs`, `config` and the function credentials of `lambda` reach into
//! the engine crate. So a change to the retry policy of an Invoke goes in
//! `lambda/at_most_once.rs`, to how a project's Lambda is resolved in `lambda/directory.rs`
//! and `aws_settings/`, to what a step may contain in `domain/step.rs`, to a rule of
//! Lambda's in `crates/lambda-rules`.

pub mod app;
pub mod aws_settings;
pub mod client;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod key_storage;
pub mod lambda;
pub mod metrics;
pub mod queue;
pub mod store;
pub mod telemetry;
pub mod worker;

use std::net::SocketAddr;
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
    let framework = aws_settings::Framework::load(settings.config_file.as_deref(), settings.aws_flags())?;
    let (target, engine) = start_lambda(&settings, &framework).await?;
    let in_process = engine.as_ref().map(|e| e.in_process.clone());
    let engine_key = engine.as_ref().map(|e| e.key.clone());
    let engine_keys = engine_key.as_ref().map(engine_keys).or_else(|| {
        // No engine here: the engine settings, when given, name the key of one elsewhere.
        let configured = &settings.engine;
        let secret = configured.secret_access_key.as_ref()?;
        Some((configured.access_key_id.clone()?, secret.expose().to_string()))
    });
    let state = build_state(
        settings,
        db,
        framework,
        &target,
        in_process,
        engine_keys,
        shutdown.clone(),
    )?;
    if let Err(e) = state.lambdas.set_engine_default(&state.db, &state.master_key).await {
        tracing::warn!("functions created through the engine's own Lambda API get no AWS credentials: {e}");
    }
    announce(listener.local_addr()?, &target, &state.settings)?;
    if let (Some(key), Some(url)) = (&engine_key, target.endpoint()) {
        announce_engine_key(key, url);
    }

    // Everything below the HTTP server is on this tracker and ends with `shutdown`.
    let tracker = TaskTracker::new();
    start_background_work(&state, &tracker);
    let stop = shutdown.clone();
    axum::serve(listener, http::router(state.clone()))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await?;
    drain(&tracker, Duration::from_secs(state.settings.drain_seconds)).await;
    if let Some(engine) = engine {
        engine.stop().await;
    }
    Ok(())
}

/// The embedded engine running in this process. It has its own stop, fired only after the
/// drain: the steps in hand still call it while they finish.
struct RunningEngine {
    /// What the service reaches of it in process: each function's AWS calls, its logs.
    in_process: lambda::directory::InProcessEngine,
    /// The key the runner signs its calls to the engine with.
    key: lambda_engine::auth::EngineKey,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningEngine {
    async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Where steps run: the embedded engine (started here), AWS, or a Lambda-compatible URL.
async fn start_lambda(
    settings: &ServeSettings,
    framework: &aws_settings::Framework,
) -> anyhow::Result<(LambdaTarget, Option<RunningEngine>)> {
    Ok(match &framework.aws().endpoint {
        aws_settings::Endpoint::Embedded => {
            let engine = lambda_engine::Engine::start(settings.engine_settings())?;
            let engine_listener = tokio::net::TcpListener::bind(settings.engine_listen)
                .await
                .with_context(|| {
                    format!(
                        "cannot listen on {} for the embedded engine; choose another address with --engine-listen or LAMBDA_STEPS_ENGINE_LISTEN",
                        settings.engine_listen
                    )
                })?;
            let url = format!("http://{}", engine_listener.local_addr()?);
            let stop = CancellationToken::new();
            let in_process = lambda::directory::InProcessEngine {
                functions: engine.function_aws().clone(),
                logs: engine.local_logs(),
                router: engine.router(),
            };
            let key = engine.key().clone();
            let task = tokio::spawn(engine.serve(engine_listener, stop.clone()));
            (
                LambdaTarget::Embedded(url),
                Some(RunningEngine {
                    in_process,
                    key,
                    stop,
                    task,
                }),
            )
        }
        aws_settings::Endpoint::Aws => (LambdaTarget::Aws, None),
        aws_settings::Endpoint::Url(url) => (LambdaTarget::Endpoint(url.clone()), None),
    })
}

/// The state the handlers share: secrets loaded, writers started, this replica named.
fn build_state(
    settings: ServeSettings,
    db: PgPool,
    framework: aws_settings::Framework,
    target: &LambdaTarget,
    in_process: Option<lambda::directory::InProcessEngine>,
    engine_keys: Option<(String, String)>,
    shutdown: CancellationToken,
) -> anyhow::Result<AppState> {
    let embedded_url = match target {
        LambdaTarget::Embedded(url) => Some(url.clone()),
        _ => None,
    };
    let packages = package_cache(&settings, embedded_url.is_some());
    let lambdas = lambda::directory::LambdaDirectory::new(framework, embedded_url, in_process, engine_keys);
    std::fs::create_dir_all(&settings.data_dir)?;
    let admin_token = key_storage::admin_token(settings.admin_token.as_ref(), &settings.data_dir)?;
    let master_key = key_storage::MasterKey::load(settings.master_key.as_ref(), &settings.data_dir)?;
    let worker_id = format!(
        "{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let notifications = queue::notify::Notifications::new();
    let wakeups = queue::wake::Wakeups::start(
        db.clone(),
        notifications.clone(),
        Duration::from_millis(settings.notify_ms.max(1)),
    );
    let writes = queue::batch::RunWrites::start(db.clone(), worker_id.clone(), wakeups.clone());
    let feeds = queue::log_feed::LogFeeds::start(db.clone(), &notifications, shutdown.clone());
    Ok(AppState::new(App {
        feeds,
        logs: writes.log_sink(),
        writes,
        submits: queue::submit::Submits::start(db.clone(), wakeups.clone(), queue::handoff::Handoff::default()),
        notifications,
        wakeups,
        admin_token_hash: domain::access::token_hash(&admin_token),
        master_key,
        worker_id,
        db,
        settings,
        lambdas: std::sync::Arc::new(lambdas),
        shutdown,
        packages: std::sync::Arc::new(packages),
    }))
}

/// The cache of custom-code packages, under the data directory; packages of functions the
/// embedded engine runs are installed for its interpreters.
fn package_cache(settings: &ServeSettings, embedded: bool) -> worker::packages::PackageCache {
    let engine = &settings.engine;
    let interpreters = embedded.then(|| {
        lambda_engine::runtimes::Interpreters::discover(engine.python.clone(), engine.node.clone(), engine.ruby.clone())
    });
    let installers = worker::packages::Installers {
        pip: settings.pip.clone(),
        npm: settings.npm.clone(),
        gem: settings.gem.clone(),
        engine_python: interpreters.as_ref().and_then(|i| i.python.clone()),
        engine_ruby: interpreters.and_then(|i| i.ruby),
        timeout: Duration::from_secs(settings.package_install_seconds),
    };
    worker::packages::PackageCache::new(settings.data_dir.join("packages"), installers)
}

/// The startup lines: where the console and the API are, where steps run, where the admin token is.
fn announce(address: SocketAddr, target: &LambdaTarget, settings: &ServeSettings) -> anyhow::Result<()> {
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
        api = %format!("http://{address}/v1"),
        admin_token = %token_at,
        "ready: console http://{address}/ ; API http://{address}/v1 (spec http://{address}/openapi.json) ; admin token in {token_at} ; try `lambda-steps run --url http://{address} --runtime python3.12 --code FILE`"
    );
    Ok(())
}

/// The engine key as the Lambda clients take it: (access key id, secret).
fn engine_keys(key: &lambda_engine::auth::EngineKey) -> (String, String) {
    (key.access_key_id.clone(), key.secret_access_key.expose().to_string())
}

/// The startup line of the in-process engine's key: its id and where its secret is (never
/// the secret itself).
fn announce_engine_key(key: &lambda_engine::auth::EngineKey, url: &str) {
    match &key.source {
        lambda_engine::auth::KeySource::File(path) => tracing::info!(
            engine_access_key_id = %key.access_key_id,
            engine_credentials = %path.display(),
            "the embedded engine at {url} answers only requests signed with its access key {}; the secret is in {} \
             (`AWS_SHARED_CREDENTIALS_FILE={} aws lambda list-functions --endpoint-url {url}`)",
            key.access_key_id,
            path.display(),
            path.display(),
        ),
        lambda_engine::auth::KeySource::Settings => tracing::info!(
            engine_access_key_id = %key.access_key_id,
            "the embedded engine at {url} answers only requests signed with its access key {} \
             (its secret from --engine-secret-access-key / LAMBDA_STEPS_ENGINE_SECRET_ACCESS_KEY)",
            key.access_key_id,
        ),
    }
}

/// The NOTIFY listener, the rescuer, the sweeper and the worker pool, each given the
/// context it needs, all on `tracker`.
fn start_background_work(state: &AppState, tracker: &TaskTracker) {
    metrics::handle();
    let queue = state.queue_context();
    let worker = state.worker_context();
    tracker.spawn(queue::notify::listen(
        state.db.clone(),
        state.notifications.clone(),
        state.shutdown.clone(),
    ));
    let held = queue::pool::HeldRuns::default();
    tracker.spawn(queue::rescue::run(queue.clone(), held.clone()));
    tracker.spawn(worker::sweeper::run(
        worker.clone(),
        Duration::from_secs(state.settings.sweep_seconds.max(1)),
    ));
    let execute = move |run, stop| worker::execute(worker.clone(), run, stop);
    tracker.spawn(queue::pool::run(
        queue,
        held,
        tracker.clone(),
        state.submits.handoff(),
        execute,
    ));
}

/// Waits for the pool and the steps in hand, up to the drain time.
async fn drain(tracker: &TaskTracker, drain: Duration) {
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            "steps still running after the drain time; their leases will expire and the rescuer settles them"
        );
    }
}
