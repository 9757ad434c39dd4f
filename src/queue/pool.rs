//! The worker pool of one replica: claims queued runs in batches (woken by NOTIFY, with a
//! polling fallback) or takes them from submits while idle (handoff.rs), runs each as a
//! task holding no database connection, keeps their
//! leases with one heartbeat statement, and passes cancel requests on. On shutdown it
//! stops claiming and lets the runs in hand finish or give themselves back.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::QueueContext;
use super::handoff::{Handoff, Intake, StartRun};
use crate::store::fault::Backoff;
use crate::store::queue::{self, ClaimedRun};

/// Why a run in hand must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Cancelled,
    LeaseLost,
}

/// A run this replica holds, and how to stop it.
pub struct Held {
    attempt: i32,
    stop: CancellationToken,
    reason: Arc<Mutex<Option<StopReason>>>,
}

/// The stop signal a running step watches.
#[derive(Clone)]
pub struct StopSignal {
    pub token: CancellationToken,
    reason: Arc<Mutex<Option<StopReason>>>,
}

impl StopSignal {
    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.lock()
    }
}

/// The runs this replica has in hand: a run is in it from its claim until its task ends
/// (its finish landed, it was given back, or its lease was lost).
pub type HeldRuns = Arc<Mutex<HashMap<Uuid, Held>>>;

/// The ids of the runs in hand.
pub fn held_ids(held: &HeldRuns) -> Vec<Uuid> {
    held.lock().keys().copied().collect()
}

/// Runs the pool until `ctx.shutdown`; run tasks are spawned on `tracker`. Runs come from
/// its claims and, while it is idle, from submits through `handoff`.
pub async fn run(
    ctx: QueueContext,
    held: HeldRuns,
    tracker: TaskTracker,
    handoff: Handoff,
    execute: impl Fn(ClaimedRun, StopSignal) -> RunFuture + Clone + Send + Sync + 'static,
) {
    let slots = Arc::new(Semaphore::new(ctx.settings.workers.max(1)));
    tracker.spawn(heartbeat(ctx.clone(), held.clone()));
    tracker.spawn(pass_cancels_on(ctx.clone(), held.clone()));
    let start: StartRun = {
        let (held, tracker) = (held.clone(), tracker.clone());
        Arc::new(move |run, permit| start_run(&held, &tracker, execute.clone(), run, permit))
    };
    // Nothing is handed over before the first claim has looked at the queue.
    let drained = Arc::new(AtomicBool::new(false));
    handoff.open(Intake {
        slots: slots.clone(),
        drained: drained.clone(),
        start: start.clone(),
        worker: ctx.worker_id.clone(),
        lease_seconds: ctx.settings.lease_seconds as f64,
        shutdown: ctx.shutdown.clone(),
    });
    let poll = Duration::from_millis(ctx.settings.poll_ms.max(10));
    let lease = ctx.settings.lease_seconds as f64;
    loop {
        // Register for a wake-up before looking, so a submit in between is not missed.
        let submitted = ctx.notifications.submitted.clone();
        let woken = submitted.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();

        let first = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            permit = slots.clone().acquire_owned() => permit.expect("slots never close"),
        };
        let mut permits = vec![first];
        while permits.len() < ctx.settings.claim_batch.max(1) {
            match slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        let wanted = permits.len();
        let claimed = match queue::claim(&ctx.db, &ctx.worker_id, wanted as i64, lease).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming runs failed; retrying");
                drained.store(false, Ordering::SeqCst);
                drop(permits);
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(poll) => continue,
                }
            }
        };
        let got = claimed.len();
        // A short claim saw the queue empty: submits may hand their runs over until a
        // claim comes back full again.
        drained.store(got < wanted, Ordering::SeqCst);
        for (run, permit) in claimed.into_iter().zip(permits.drain(..)) {
            start(run, permit);
        }
        drop(permits);
        if got == wanted {
            continue; // there may be more waiting
        }
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = &mut woken => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Holds a claimed run and runs it in its slot: it stays in `held` (its lease renewed)
/// until its task ends.
fn start_run(
    held: &HeldRuns,
    tracker: &TaskTracker,
    execute: impl Fn(ClaimedRun, StopSignal) -> RunFuture,
    run: ClaimedRun,
    permit: OwnedSemaphorePermit,
) {
    let stop = CancellationToken::new();
    let reason = Arc::new(Mutex::new(None));
    let mut in_hand = held.lock();
    in_hand.insert(
        run.id,
        Held {
            attempt: run.attempt,
            stop: stop.clone(),
            reason: reason.clone(),
        },
    );
    crate::metrics::runs_in_hand(in_hand.len());
    drop(in_hand);
    let id = run.id;
    let task = execute(run, StopSignal { token: stop, reason });
    let held = held.clone();
    tracker.spawn(async move {
        task.await;
        let mut in_hand = held.lock();
        in_hand.remove(&id);
        crate::metrics::runs_in_hand(in_hand.len());
        drop(permit);
    });
}

/// What `execute` returns: the run's task.
pub type RunFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Renews every held lease every third of the lease; stops runs whose cancel was asked
/// or whose lease another replica's rescuer took. When the database does not answer, it
/// tries again within a second (not a third of a lease later), so that the leases of
/// runs holding answers are renewed as soon as the database is back, before any other
/// replica's rescuer may look at them (rescue.rs waits a lease after a restart). During
/// a shutdown it keeps renewing while runs finish, and ends once the last has.
async fn heartbeat(ctx: QueueContext, held: HeldRuns) {
    let every = Duration::from_secs_f64((ctx.settings.lease_seconds as f64 / 3.0).max(0.2));
    let mut next_beat = Instant::now() + every;
    let mut retries: Option<Backoff> = None;
    loop {
        let shutting_down = ctx.shutdown.is_cancelled();
        // While shutting down, look often for the moment the last run is gone.
        let wake = if shutting_down {
            next_beat.min(Instant::now() + Duration::from_millis(50))
        } else {
            next_beat
        };
        tokio::select! {
            _ = ctx.shutdown.cancelled(), if !shutting_down => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
        let snapshot: Vec<(Uuid, i32)> = held.lock().iter().map(|(id, h)| (*id, h.attempt)).collect();
        if snapshot.is_empty() {
            if ctx.shutdown.is_cancelled() {
                return;
            }
            next_beat = Instant::now() + every;
            continue;
        }
        if Instant::now() < next_beat {
            continue;
        }
        let asked = Instant::now();
        match queue::heartbeat(&ctx.db, &ctx.worker_id, &snapshot, ctx.settings.lease_seconds as f64).await {
            Ok(alive) => {
                if retries.take().is_some() {
                    tracing::info!(runs = snapshot.len(), "leases renewed: the database answers again");
                }
                next_beat = asked + every;
                let alive: HashMap<Uuid, bool> = alive.into_iter().collect();
                let held = held.lock();
                for (id, _) in &snapshot {
                    let Some(run) = held.get(id) else { continue };
                    match alive.get(id) {
                        Some(true) => stop(run, StopReason::Cancelled),
                        Some(false) => {}
                        None => stop(run, StopReason::LeaseLost),
                    }
                }
            }
            Err(e) => {
                let backoff = retries.get_or_insert_with(|| {
                    tracing::warn!(error = %e, runs = snapshot.len(), "heartbeat failed; trying again until the database answers");
                    Backoff::new(Duration::from_millis(100), every.min(Duration::from_secs(1)))
                });
                next_beat = Instant::now() + backoff.next_delay();
            }
        }
    }
}

/// Cancel requests arrive by NOTIFY at once; the heartbeat catches any that were missed.
async fn pass_cancels_on(ctx: QueueContext, held: HeldRuns) {
    let mut cancels = ctx.notifications.cancels.subscribe();
    loop {
        let id = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            id = cancels.recv() => match id {
                Ok(id) => id,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            },
        };
        if let Some(run) = held.lock().get(&id) {
            stop(run, StopReason::Cancelled);
        }
    }
}

fn stop(run: &Held, reason: StopReason) {
    let mut current = run.reason.lock();
    if current.is_none() {
        *current = Some(reason);
    }
    run.stop.cancel();
}
