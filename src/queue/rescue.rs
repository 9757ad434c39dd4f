//! The rescuer: runs whose lease expired (their worker died or lost the database) are
//! queued again if their Invoke never went out, or failed as `outcome_unknown` if it may
//! have: never invoked twice, never stuck forever. Every replica runs it; SKIP LOCKED
//! keeps them out of each other's way.

use std::time::Duration;

use crate::app::AppState;
use crate::store::queue::rescue_expired;
use crate::store::runs::notify_logs;

pub async fn run(app: AppState) {
    let every = Duration::from_secs_f64((app.settings.lease_seconds as f64 / 2.0).clamp(0.2, 10.0));
    loop {
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match rescue_expired(&app.db).await {
            Ok(rescued) if !rescued.is_empty() => {
                for run in &rescued {
                    crate::metrics::run_rescued(run.status.clone());
                    tracing::warn!(run.id = %run.id, status = %run.status, "rescued a run whose worker stopped");
                }
                let ids: Vec<_> = rescued.iter().map(|r| r.id).collect();
                let _ = notify_logs(&app.db, &ids).await;
                if rescued.iter().any(|r| r.status == "queued") {
                    let _ = crate::store::runs::notify_submitted(&app.db).await;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "rescuing expired runs failed"),
        }
    }
}
