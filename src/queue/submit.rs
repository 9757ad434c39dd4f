//! Group commit for submits, as batch.rs does for marks and finishes: one task takes every
//! submit already waiting and stores them in one statement, each caller answered with its
//! own run. No added wait when the service is idle (a lone submit is written at once);
//! under load the batches grow by themselves, so more clients mean more runs per commit,
//! not a queue at one lock. Runs this replica's idle workers can take at once are stored
//! claimed and handed to them (handoff.rs); for the others the workers are woken once the
//! runs are stored (wake.rs).
//!
//! A submit with an Idempotency-Key is written alone: its replay answers the first run,
//! which a batch statement cannot tell apart from a conflict inside the batch. A batch
//! Postgres refuses (a project that does not exist, a lost connection) is written again
//! one run at a time, so each caller gets its own answer; the runs' ids are chosen before
//! the first try, so a run the lost reply had stored is found, never stored twice.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::handoff::{Handoff, Reserved};
use super::wake::Wakeups;
use crate::domain::run::Run;
use crate::store::queue::ClaimedRun;
use crate::store::runs::{self, ClaimedBySubmit, NewRun, SubmitRefused};

const MAX_BATCH: usize = 500;

type Reply = oneshot::Sender<Result<Run, SubmitRefused>>;

/// Where the API submits runs. Cheap to clone.
#[derive(Clone)]
pub struct Submits {
    db: sqlx::PgPool,
    wakeups: Wakeups,
    handoff: Handoff,
    requests: mpsc::UnboundedSender<(NewRun, Reply)>,
}

impl Submits {
    /// Starts the writer, which hands runs to idle workers through `handoff`; it ends
    /// when every `Submits` is dropped.
    pub fn start(db: sqlx::PgPool, wakeups: Wakeups, handoff: Handoff) -> Self {
        let (requests, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_submits(db.clone(), wakeups.clone(), handoff.clone(), receiver));
        Self {
            db,
            wakeups,
            handoff,
            requests,
        }
    }

    /// Where the pool opens its idle slots to these submits.
    pub fn handoff(&self) -> Handoff {
        self.handoff.clone()
    }

    /// Stores a queued run and wakes the workers (or hands it to an idle one). With an
    /// idempotency key already used in the project, returns the first run instead
    /// (`false`: nothing was created).
    pub async fn submit(
        &self,
        project: &str,
        step: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<(Run, bool), SubmitRefused> {
        // With traces exported, the run keeps its submit's context: the worker continues it.
        let span = crate::telemetry::spans::submit(project, step["type"].as_str().unwrap_or("unknown"));
        let traceparent = crate::telemetry::context::traceparent_of(&span);
        let submitted = match idempotency_key {
            Some(_) => {
                let submitted = runs::submit(&self.db, project, step, idempotency_key, traceparent.as_deref()).await?;
                if submitted.1 {
                    self.handoff.runs_queued();
                    self.wakeups.submitted();
                }
                submitted
            }
            None => {
                let run = NewRun {
                    id: Uuid::new_v4(),
                    project: project.to_string(),
                    step: step.clone(),
                    traceparent,
                };
                let (reply, answer) = oneshot::channel();
                self.requests
                    .send((run, reply))
                    .map_err(|_| SubmitRefused::Database(sqlx::Error::PoolClosed))?;
                let run = answer
                    .await
                    .map_err(|_| SubmitRefused::Database(sqlx::Error::PoolClosed))??;
                (run, true)
            }
        };
        span.record("run.id", tracing::field::display(submitted.0.id));
        Ok(submitted)
    }
}

async fn write_submits(
    db: sqlx::PgPool,
    wakeups: Wakeups,
    handoff: Handoff,
    mut requests: mpsc::UnboundedReceiver<(NewRun, Reply)>,
) {
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let new: Vec<NewRun> = batch.iter().map(|(run, _)| run.clone()).collect();
        let mut reserved = handoff.reserve(new.len());
        let claimed = reserved.as_ref().map(|r| ClaimedBySubmit {
            worker: &r.worker,
            lease_seconds: r.lease_seconds,
            runs: r.permits.len(),
        });
        match runs::submit_many(&db, &new, claimed).await {
            Ok(stored) => {
                let mut queued = false;
                let mut stored: HashMap<Uuid, runs::Submitted> = stored.into_iter().map(|s| (s.run.id, s)).collect();
                for (run, reply) in batch {
                    let answer = match stored.remove(&run.id) {
                        Some(submitted) => {
                            match (submitted.claimed_step, reserved.as_mut()) {
                                (Some(step), Some(reserved)) => {
                                    hand_over(reserved, &submitted.run, step, run.traceparent.clone())
                                }
                                _ => queued = true,
                            }
                            Ok(submitted.run)
                        }
                        None => Err(SubmitRefused::Database(sqlx::Error::RowNotFound)),
                    };
                    let _ = reply.send(answer);
                }
                if queued {
                    handoff.runs_queued();
                    wakeups.submitted();
                }
            }
            Err(e) if crate::store::fault::is_transient(&e) => {
                // The database is away: every caller gets its 503 now, as a lone submit
                // would after one acquire timeout. Trying each again would make the last
                // caller wait one timeout per run ahead of it, past the outage itself.
                tracing::warn!(error = %e, submits = batch.len(), "a batch of submits could not be stored");
                for (_, reply) in batch {
                    let _ = reply.send(Err(SubmitRefused::Database(unavailable(&e))));
                }
            }
            Err(e) => {
                if batch.len() > 1 {
                    tracing::warn!(error = %e, submits = batch.len(), "a batch of submits was refused; writing each alone");
                }
                // Each alone, queued: the slots reserved are given back.
                drop(reserved);
                for (run, reply) in batch {
                    let answer = submit_alone(&db, run).await;
                    if answer.is_ok() {
                        handoff.runs_queued();
                        wakeups.submitted();
                    }
                    let _ = reply.send(answer);
                }
            }
        }
    }
}

/// Starts a run the submit stored claimed, in one of the slots reserved for it.
fn hand_over(reserved: &mut Reserved, run: &Run, step: String, traceparent: Option<String>) {
    let Some(permit) = reserved.permits.pop() else {
        // Never: the statement claims no more runs than slots were reserved.
        tracing::error!(run.id = %run.id, "a run was stored claimed without a slot; the rescuer queues it again");
        return;
    };
    let claimed = ClaimedRun {
        id: run.id,
        project: run.project.clone(),
        step,
        attempt: 1,
        // After the `queued` line the submit stored.
        next_seq: 2,
        // A submit is never a replay: replays are stored by `store::replays`, queued.
        replay_of: None,
        created_at: run.created_at,
        traceparent,
    };
    (reserved.start)(claimed, permit);
}

/// The same transient fault for each caller of a batch (`sqlx::Error` is not `Clone`):
/// a pool timeout stays one (nothing was sent), anything else becomes the I/O error it
/// amounts to, which the API answers with 503 and Retry-After as it would the original.
fn unavailable(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        other => sqlx::Error::Io(std::io::Error::other(other.to_string())),
    }
}

/// One run in its own statement; found by its id when an earlier try stored it already.
async fn submit_alone(db: &sqlx::PgPool, run: NewRun) -> Result<Run, SubmitRefused> {
    match runs::submit_many(db, std::slice::from_ref(&run), None).await {
        Ok(mut stored) if !stored.is_empty() => Ok(stored.remove(0).run),
        Ok(_) => runs::get(db, run.id)
            .await
            .map_err(SubmitRefused::Database)?
            .ok_or(SubmitRefused::Database(sqlx::Error::RowNotFound)),
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Err(SubmitRefused::NoSuchProject),
        Err(e) => Err(SubmitRefused::Database(e)),
    }
}
