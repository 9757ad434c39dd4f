//! Handing a submitted run straight to an idle worker of this replica. When the pool has
//! free slots and its last claim found the queue empty, a submit stores its run already
//! claimed by this replica (`running`, attempt 1, leased, as a claim leaves it) in the
//! submit's own statement, and the pool starts it at once: no claim statement, no wait for
//! a wake-up. Everything after is the claimed run's ordinary path (heartbeat, mark as sent,
//! finish fenced by attempt), and so is a crash: the lease runs out and the rescuer queues
//! the run again, its Invoke never sent.
//!
//! Runs are only taken this way while the queue is drained, so a submit never overtakes
//! runs already waiting here; and never once the service is shutting down.

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::store::queue::ClaimedRun;

/// Starts a run in one of the pool's slots.
pub type StartRun = Arc<dyn Fn(ClaimedRun, OwnedSemaphorePermit) + Send + Sync>;

/// Between the submits and the pool. Cheap to clone; takes nothing until the pool opened it.
#[derive(Clone, Default)]
pub struct Handoff(Arc<Mutex<Option<Intake>>>);

/// What the pool lends the submits.
#[derive(Clone)]
pub struct Intake {
    pub slots: Arc<Semaphore>,
    /// True while the pool's last claim found fewer queued runs than it had slots for.
    pub drained: Arc<AtomicBool>,
    pub start: StartRun,
    pub worker: String,
    pub lease_seconds: f64,
    pub shutdown: CancellationToken,
}

/// Slots taken for runs of one batch of submits.
pub struct Reserved {
    pub permits: Vec<OwnedSemaphorePermit>,
    pub start: StartRun,
    pub worker: String,
    pub lease_seconds: f64,
}

impl Handoff {
    /// The pool takes runs from submits from now on.
    pub fn open(&self, intake: Intake) {
        *self.0.lock() = Some(intake);
    }

    /// Runs were queued (no slot was free for them): nothing is handed over until the
    /// pool's next claim has taken them.
    pub fn runs_queued(&self) {
        if let Some(intake) = self.0.lock().as_ref() {
            intake.drained.store(false, Ordering::SeqCst);
        }
    }

    /// Free slots for up to `wanted` runs, when the pool is idle and the queue drained;
    /// None otherwise.
    pub fn reserve(&self, wanted: usize) -> Option<Reserved> {
        let intake = self.0.lock().clone()?;
        if intake.shutdown.is_cancelled() || !intake.drained.load(Ordering::SeqCst) {
            return None;
        }
        let mut permits = Vec::new();
        while permits.len() < wanted {
            match intake.slots.clone().try_acquire_owned() {
                Ok(permit) => permits.push(permit),
                Err(_) => break,
            }
        }
        (!permits.is_empty()).then_some(Reserved {
            permits,
            start: intake.start,
            worker: intake.worker,
            lease_seconds: intake.lease_seconds,
        })
    }
}
