//! The application state every handler and worker shares: cheap to clone.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::config::ServeSettings;
use crate::domain::step::PayloadLimits;
use crate::lambda::client::LambdaTarget;
use crate::queue::batch::RunWrites;
use crate::queue::logs::LogSink;
use crate::queue::notify::Notifications;

#[derive(Clone)]
pub struct AppState(Arc<App>);

/// Functions' timeouts as read from Lambda: (project, function, qualifier) to (when, timeout).
pub type FunctionTimeouts =
    std::collections::HashMap<(String, String, Option<String>), (std::time::Instant, std::time::Duration)>;

pub struct App {
    pub db: PgPool,
    pub settings: ServeSettings,
    pub target: LambdaTarget,
    /// Each project's Lambda (settings resolved, credentials opened).
    pub lambdas: crate::lambda::directory::LambdaDirectory,
    pub logs: LogSink,
    /// Group-committed run writes: Invoke marks and finishes.
    pub writes: RunWrites,
    pub notifications: Notifications,
    /// Fires when the service is shutting down: streams end, workers stop claiming.
    pub shutdown: CancellationToken,
    /// Names this replica in claims and leases.
    pub worker_id: String,
    /// SHA-256 of the bootstrap admin token.
    pub admin_token_hash: Vec<u8>,
    /// Functions' own timeouts, by (project, function, qualifier), with when they were read.
    pub function_timeouts: std::sync::Mutex<FunctionTimeouts>,
    /// The key secrets are encrypted under.
    pub master_key: crate::key_storage::MasterKey,
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
}
