//! The rescuer: runs whose lease expired (their worker died or lost the database) are
//! queued again if their Invoke never went out, or failed as `outcome_unknown` if it may
//! have: never invoked twice, never stuck forever. Every replica runs it; SKIP LOCKED
//! keeps them out of each other's way.
//!
//! A lease that ran out while the database was away proves nothing about its worker: no
//! worker could renew it. Failing such a run as `outcome_unknown` would throw away the
//! answer a live worker holds and is about to write. So the rescuer gives every worker one
//! whole lease of a reachable database before it judges a lease, and never judges the
//! runs its own replica has in hand (it is alive: they are settled by their tasks, which
//! retry until their writes land). Leases expired during a
//! restart are left alone until the server has been up a lease (checked in SQL against
//! `pg_postmaster_start_time()`, see store/queue.rs), and after this replica itself could
//! not reach the database (a network cut, a failover) it waits a lease before rescuing
//! again. A live worker's heartbeat retries within a second (pool.rs) and its finish
//! until it lands (batch.rs), so it renews or finishes first; a dead one renews nothing,
//! and its runs are rescued a lease later than they would have been.

use std::time::{Duration, Instant};

use crate::domain::run::RunStatus;
use crate::queue::QueueContext;
use crate::queue::pool::{HeldRuns, held_ids};
use crate::store::queue::rescue_expired;
use crate::store::runs::notify_logs;

pub async fn run(ctx: QueueContext, held: HeldRuns) {
    let lease = Duration::from_secs(ctx.settings.lease_seconds);
    let every = Duration::from_secs_f64((ctx.settings.lease_seconds as f64 / 2.0).clamp(0.2, 10.0));
    // When this replica last failed to reach the database.
    let mut unreachable_at: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if unreachable_at.is_some_and(|at| at.elapsed() < lease) {
            continue;
        }
        let in_hand = held_ids(&held);
        match rescue_expired(&ctx.db, &in_hand, lease.as_secs_f64()).await {
            Ok(rescued) if !rescued.is_empty() => {
                for run in &rescued {
                    crate::metrics::run_rescued(run.status.as_str());
                    tracing::warn!(run.id = %run.id, status = %run.status, "rescued a run whose worker stopped");
                }
                let ids: Vec<_> = rescued.iter().map(|r| r.id).collect();
                let _ = notify_logs(&ctx.db, &ids).await;
                if rescued.iter().any(|r| r.status == RunStatus::Queued) {
                    let _ = crate::store::runs::notify_submitted(&ctx.db).await;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if crate::store::fault::is_transient(&e) {
                    unreachable_at = Some(Instant::now());
                }
                tracing::warn!(error = %e, "rescuing expired runs failed");
            }
        }
    }
}
