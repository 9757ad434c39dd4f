//! One LISTEN connection per replica, fanned out: submit wake-ups and cancel requests for
//! the workers, log and status changes for the log readers. Notifications may be lost
//! while the connection reconnects; everything that waits on them also polls. This
//! replica's own coalesced notifications (wake.rs) are not passed on again: their
//! waiters were woken in process when they were sent.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::store::{LOGS_CHANNEL, RUNS_CHANNEL};

/// What the listener hands out.
#[derive(Clone)]
pub struct Notifications {
    /// A run was submitted (or requeued).
    pub submitted: std::sync::Arc<Notify>,
    /// Cancellation was asked for this running run.
    pub cancels: broadcast::Sender<Uuid>,
    /// The log or status of these runs moved (empty: unknown, re-read all).
    pub logs: broadcast::Sender<std::sync::Arc<Vec<Uuid>>>,
    /// The server process this replica's wake-ups are sent from (0: none yet).
    pub own_notifier: std::sync::Arc<AtomicU32>,
}

impl Notifications {
    pub fn new() -> Self {
        Self {
            submitted: std::sync::Arc::new(Notify::new()),
            cancels: broadcast::channel(1024).0,
            logs: broadcast::channel(4096).0,
            own_notifier: Default::default(),
        }
    }
}

impl Default for Notifications {
    fn default() -> Self {
        Self::new()
    }
}

/// Listens until `shutdown`; reconnects after errors.
pub async fn listen(db: sqlx::PgPool, notifications: Notifications, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&db).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => continue,
                }
            }
        };
        if let Err(e) = listener.listen_all([RUNS_CHANNEL, LOGS_CHANNEL]).await {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            continue;
        }
        loop {
            let notification = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = listener.try_recv() => n,
            };
            match notification {
                Ok(Some(n)) if n.process_id() == notifications.own_notifier.load(Ordering::SeqCst) => {}
                Ok(Some(n)) if n.channel() == RUNS_CHANNEL => {
                    if let Some(id) = n.payload().strip_prefix("cancel:").and_then(|id| id.parse().ok()) {
                        let _ = notifications.cancels.send(id);
                    } else {
                        notifications.submitted.notify_waiters();
                    }
                }
                Ok(Some(n)) => {
                    let ids = n.payload().split(',').filter_map(|id| id.parse().ok()).collect();
                    let _ = notifications.logs.send(std::sync::Arc::new(ids));
                }
                // The connection dropped and sqlx reconnected: anything may have been missed.
                Ok(None) => {
                    notifications.submitted.notify_waiters();
                    let _ = notifications.logs.send(std::sync::Arc::new(Vec::new()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                    break;
                }
            }
        }
    }
}
