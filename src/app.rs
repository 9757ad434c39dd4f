//! The application state the HTTP handlers share, and the narrow contexts built from it for
//! the queue and the workers (which never see `AppState`). Cheap to clone.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::ServeSettings;
use crate::domain::step::PayloadLimits;
use crate::lambda::directory::LambdaDirectory;
use crate::queue::batch::RunWrites;
use crate::queue::log_feed::LogFeeds;
use crate::queue::logs::LogSink;
use crate::queue::notify::Notifications;
use crate::queue::submit::Submits;
use crate::queue::wake::Wakeups;
use crate::queue::{QueueContext, QueueSettings};
use crate::worker::{Worker, WorkerContext, WorkerSettings};

#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub db: PgPool,
    pub settings: ServeSettings,
    /// Each project's Lambda (settings resolved, credentials opened).
    pub lambdas: Arc<LambdaDirectory>,
    pub logs: LogSink,
    /// Group-committed run writes: Invoke marks and finishes.
    pub writes: RunWrites,
    pub notifications: Notifications,
    /// One shared reading of each live run's log for all its SSE readers here.
    pub feeds: LogFeeds,
    /// Wakes workers and log readers after a write, here at once and on other replicas.
    pub wakeups: Wakeups,
    /// Group-committed submits.
    pub submits: Submits,
    /// Fires when the service is shutting down: streams end, workers stop claiming.
    pub shutdown: CancellationToken,
    /// Names this replica in claims and leases.
    pub worker_id: String,
    /// SHA-256 of the bootstrap admin token.
    pub admin_token_hash: Vec<u8>,
    /// The key secrets are encrypted under.
    pub master_key: crate::key_storage::MasterKey,
    /// Custom-code steps' packages, installed once per list.
    pub packages: Arc<crate::worker::packages::PackageCache>,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    pub fn new(app: App) -> Self {
        Self(Arc::new(app))
    }

    pub fn payload_limits(&self) -> PayloadLimits {
        PayloadLimits {
            sync_bytes: self.settings.max_sync_payload_bytes,
            event_bytes: self.settings.max_event_payload_bytes,
        }
    }

    /// What the queue (pool, heartbeat, rescuer) works with.
    pub fn queue_context(&self) -> QueueContext {
        QueueContext {
            db: self.db.clone(),
            worker_id: self.worker_id.clone(),
            notifications: self.notifications.clone(),
            shutdown: self.shutdown.clone(),
            settings: QueueSettings {
                workers: self.settings.workers,
                lease_seconds: self.settings.lease_seconds,
                poll_ms: self.settings.poll_ms,
                claim_batch: self.settings.claim_batch,
            },
        }
    }

    /// What the workers and the sweeper work with. Built once per service: it holds the
    /// functions' timeouts the workers remember.
    pub fn worker_context(&self) -> WorkerContext {
        WorkerContext::new(Worker {
            db: self.db.clone(),
            logs: self.logs.clone(),
            writes: self.writes.clone(),
            wakeups: self.wakeups.clone(),
            lambdas: self.lambdas.clone(),
            master_key: self.master_key.clone(),
            worker_id: self.worker_id.clone(),
            shutdown: self.shutdown.clone(),
            function_timeouts: Default::default(),
            durable_functions: Default::default(),
            recorded_versions: Default::default(),
            packages: self.packages.clone(),
            settings: WorkerSettings {
                invoke_retries: self.settings.invoke_retries,
                invoke_timeout_margin_seconds: self.settings.invoke_timeout_margin_seconds,
                custom_code_log_days: self.settings.custom_code_log_days,
            },
        })
    }
}
