//! Group commit for the two statements every run makes: marking its Invoke as sent, and
//! finishing it. One task per statement takes whatever requests are already waiting and
//! writes them in one statement: no added wait when the service is idle, batches that
//! grow by themselves under load. Finishes are taken by the log writer (logs.rs), which
//! writes each batch of them with the log lines sent before them in one transaction; the
//! writer wakes the runs' readers once it landed.
//!
//! Both are written until they land: a finish carries Lambda's answer, which exists
//! nowhere else, so a transient database fault (a restart, a lost connection, a deadlock
//! victim) is waited through with backoff, never turned into an error. The run stays in
//! its worker's hands meanwhile, so the heartbeat keeps its lease from the moment the
//! database answers again; both statements are fenced by attempt and safe to repeat. A
//! batch Postgres refuses for good is split, so only the request at fault gets the error.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::logs::{self, LogSink};
use super::wake::Wakeups;
use crate::store::fault::{Backoff, is_transient};
use crate::store::logs::{NewLogLine, insert_batch};
use crate::store::queue::{self, Finish};

const MAX_BATCH: usize = 1000;

type Reply = oneshot::Sender<Result<bool, RunWriteError>>;
/// How a finish is answered: true once it landed, false when the attempt lost its lease.
pub(super) type FinishReply = Reply;

/// Why a mark or a finish did not land (transient faults are waited through, never this).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunWriteError {
    /// Postgres refused this write for good (e.g. a value it cannot store).
    #[error("{0}")]
    Refused(Arc<sqlx::Error>),
    /// The writer task is gone (the service is stopping).
    #[error("the writer stopped")]
    WriterStopped,
}

/// Where runs ask for their Invoke to be marked sent, and for their finish.
#[derive(Clone)]
pub struct RunWrites {
    marks: mpsc::UnboundedSender<((Uuid, i32), Reply)>,
    /// The log writer, which also writes finishes.
    logs: LogSink,
}

impl RunWrites {
    /// Starts the writers of the replica named `worker` in leases: the marks', and the log
    /// writer that finishes runs (`log_sink` hands it out).
    pub fn start(db: sqlx::PgPool, worker: String, wakeups: Wakeups) -> Self {
        let (marks, mark_requests) = mpsc::unbounded_channel();
        tokio::spawn(write_marks(db.clone(), mark_requests));
        let logs = LogSink::start(db, worker, wakeups);
        Self { marks, logs }
    }

    /// The log writer these finishes go through: a run's lines must be sent to it for its
    /// finish to carry them.
    pub fn log_sink(&self) -> LogSink {
        self.logs.clone()
    }

    /// Marks a run's Invoke as about to be sent; false when the attempt lost its lease.
    /// Waits through transient faults; an error means Postgres refused the write for good.
    pub async fn mark_invoke_sent(&self, id: Uuid, attempt: i32) -> Result<bool, RunWriteError> {
        let (reply, answer) = oneshot::channel();
        self.marks
            .send(((id, attempt), reply))
            .map_err(|_| RunWriteError::WriterStopped)?;
        answer.await.map_err(|_| RunWriteError::WriterStopped)?
    }

    /// Finishes a run, with every log line sent before it through `log_sink` stored in the
    /// same transaction; false when the attempt lost its lease. Waits through transient
    /// faults; an error means Postgres refused this finish for good (a value it cannot store).
    pub async fn finish(&self, finish: Finish) -> Result<bool, RunWriteError> {
        self.logs.finish(finish).await
    }
}

/// Everything already waiting, after the first, up to the batch cap.
fn gather<T>(first: T, requests: &mut mpsc::UnboundedReceiver<T>) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match requests.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
    batch
}

async fn write_marks(db: sqlx::PgPool, mut requests: mpsc::UnboundedReceiver<((Uuid, i32), Reply)>) {
    while let Some(first) = requests.recv().await {
        let batch = gather(first, &mut requests);
        let _ = write_until_landed(
            "marking Invokes as sent",
            batch,
            |(id, _)| *id,
            |runs: Vec<(Uuid, i32)>| {
                let db = db.clone();
                async move { queue::mark_invokes_sent(&db, &runs).await }
            },
        )
        .await;
    }
}

/// Writes a batch of log lines and the finishes sent after them in one transaction, trying
/// again through transient faults (both are safe to repeat: lines already stored are
/// skipped, a finish that landed is answered as finished); answers each finish and returns
/// the runs finished. When Postgres refuses the transaction for good, the lines and the
/// finishes are written apart, each split as its own writer does, so a value that cannot
/// be stored fails only its own line or run.
pub(super) async fn write_lines_and_finishes(
    db: &sqlx::PgPool,
    worker: &str,
    lines: &[NewLogLine],
    batch: Vec<(Finish, Reply)>,
) -> Vec<Uuid> {
    let finishes: Vec<Finish> = batch.iter().map(|(finish, _)| finish.clone()).collect();
    let finishes = &finishes;
    let together = retry_transient("finishing runs", finishes.len(), || async move {
        if lines.is_empty() {
            return queue::finish_many(db, worker, finishes).await;
        }
        let mut tx = db.begin().await?;
        insert_batch(&mut *tx, lines).await?;
        let finished = queue::finish_many(&mut *tx, worker, finishes).await?;
        tx.commit().await?;
        Ok(finished)
    })
    .await;
    match together {
        Ok(finished) => {
            answer(batch, &finished.iter().copied().collect(), |f| f.id);
            finished
        }
        Err(e) => {
            tracing::warn!(error = %e, lines = lines.len(), finishes = batch.len(), "Postgres refused a batch of log lines and finishes; writing them apart");
            logs::write(db, lines).await;
            write_until_landed(
                "finishing runs",
                batch,
                |f| f.id,
                |finishes: Vec<Finish>| async move { queue::finish_many(db, worker, &finishes).await },
            )
            .await
        }
    }
}

/// Writes a batch, trying again through transient faults until it lands, and answers
/// each request; returns the ids written. When Postgres refuses the batch for good, each
/// request is written alone (and waited through faults the same way), so one bad value
/// fails only its own run.
async fn write_until_landed<T, W, F>(what: &str, batch: Vec<(T, Reply)>, id_of: fn(&T) -> Uuid, write: W) -> Vec<Uuid>
where
    T: Clone,
    W: Fn(Vec<T>) -> F,
    F: Future<Output = sqlx::Result<Vec<Uuid>>>,
{
    let items: Vec<T> = batch.iter().map(|(item, _)| item.clone()).collect();
    match retry_transient(what, items.len(), || write(items.clone())).await {
        Ok(written) => {
            answer(batch, &written.iter().copied().collect(), id_of);
            written
        }
        Err(e) if batch.len() == 1 => {
            let refused = RunWriteError::Refused(Arc::new(e));
            for (_, reply) in batch {
                let _ = reply.send(Err(refused.clone()));
            }
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, requests = batch.len(), "Postgres refused a batch of {what}; writing each alone");
            let mut landed = Vec::new();
            for (item, reply) in batch {
                let outcome = retry_transient(what, 1, || write(vec![item.clone()])).await;
                let written = outcome.map(|written| written.contains(&id_of(&item)));
                if matches!(written, Ok(true)) {
                    landed.push(id_of(&item));
                }
                let _ = reply.send(written.map_err(|e| RunWriteError::Refused(Arc::new(e))));
            }
            landed
        }
    }
}

/// Runs `write` until it succeeds or fails with an error that will not pass.
async fn retry_transient<F>(what: &str, requests: usize, write: impl Fn() -> F) -> sqlx::Result<Vec<Uuid>>
where
    F: Future<Output = sqlx::Result<Vec<Uuid>>>,
{
    let started = Instant::now();
    let mut backoff = Backoff::for_writes();
    let mut tries = 0u32;
    loop {
        tries += 1;
        match write().await {
            Ok(written) => {
                if tries > 1 {
                    tracing::info!(
                        requests,
                        tries,
                        waited_ms = started.elapsed().as_millis() as u64,
                        "{what}: written once the database answered again"
                    );
                }
                return Ok(written);
            }
            Err(e) if is_transient(&e) => {
                // One line when the fault starts, then one every few seconds: the log
                // shows the delay without a line per retry.
                if tries == 1 || tries.is_multiple_of(10) {
                    tracing::warn!(error = %e, requests, tries, "{what}: the database is away; trying again until it lands");
                }
                backoff.wait().await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn answer<T>(batch: Vec<(T, Reply)>, written: &HashSet<Uuid>, id_of: fn(&T) -> Uuid) {
    for (item, reply) in batch {
        let _ = reply.send(Ok(written.contains(&id_of(&item))));
    }
}
