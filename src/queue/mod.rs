//! The Postgres queue: group-committed submits (handed to idle workers at once), notifications and wake-ups, the log
//! writer, the live log feeds its readers share, the worker pool that claims and runs, the heartbeat that keeps
//! leases, and the rescuer of what dead workers left. No axum here.

pub mod batch;
pub mod handoff;
pub mod log_feed;
pub mod logs;
pub mod notify;
pub mod pool;
pub mod rescue;
pub mod submit;
pub mod wake;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// What the queue works with, built by `app`: its database, its name in claims and leases,
/// the wake-ups, the service's shutdown, and its own settings. Cheap to clone.
#[derive(Clone)]
pub struct QueueContext {
    pub db: PgPool,
    /// Names this replica in claims and leases.
    pub worker_id: String,
    pub notifications: notify::Notifications,
    /// Fires when the service is shutting down: the pool stops claiming.
    pub shutdown: CancellationToken,
    pub settings: QueueSettings,
}

/// The queue's part of the process configuration.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// Runs in hand at once.
    pub workers: usize,
    pub lease_seconds: u64,
    /// The polling fallback, when no NOTIFY wakes the pool.
    pub poll_ms: u64,
    /// Most runs claimed with one statement.
    pub claim_batch: usize,
}
