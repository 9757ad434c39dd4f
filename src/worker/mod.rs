//! Running one claimed run: its span and log, the step, and finishing it fenced by attempt.

mod custom_code;
mod durable_step;
mod follow;
mod lambda_invoke;
pub mod packages;
mod phases;
mod replay;
pub mod sweeper;

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use tracing::Instrument;

use crate::domain::run::{LogLevel, RunError, RunErrorCode, RunPhase, RunResult, RunStatus};
use crate::domain::step::Step;
use crate::key_storage::MasterKey;
use crate::lambda::directory::{DirectoryError, LambdaDirectory};
use crate::queue::batch::{RunWriteError, RunWrites};
use crate::queue::logs::LogSink;
use crate::queue::logs::RunLog;
use crate::queue::pool::{RunFuture, StopSignal};
use crate::store::fault::{Backoff, is_transient};
use crate::store::queue::{self, ClaimedRun};

/// What the workers work with, built by `app`: cheap to clone.
#[derive(Clone)]
pub struct WorkerContext(Arc<Worker>);

/// The parts of the service one run needs.
pub struct Worker {
    pub db: PgPool,
    pub logs: LogSink,
    /// Group-committed run writes: Invoke marks and finishes.
    pub writes: RunWrites,
    /// Wakes the workers when a run goes back to the queue.
    pub wakeups: crate::queue::wake::Wakeups,
    /// Each project's Lambda (settings resolved, credentials opened).
    pub lambdas: Arc<LambdaDirectory>,
    /// The key project secrets are encrypted under.
    pub master_key: MasterKey,
    /// Names this replica in claims, leases and run logs.
    pub worker_id: String,
    /// Fires when the service is shutting down: a step not yet sent gives its run back.
    pub shutdown: CancellationToken,
    /// Functions' own timeouts, by (project, function, qualifier), with when they were read.
    pub function_timeouts: Mutex<FunctionTimeouts>,
    /// Whether functions are durable, by (project, function, qualifier), with when it was read.
    pub durable_functions: Mutex<DurableFunctions>,
    /// Published versions' configurations as replays record them (a version never changes).
    pub recorded_versions: replay::record::RecordedVersions,
    /// Custom-code steps' packages, installed once per list and shared by every run.
    pub packages: Arc<packages::PackageCache>,
    pub settings: WorkerSettings,
}

/// Functions' timeouts as read from Lambda: (project, function, qualifier) to (when,
/// timeout, what a replay needs of the same answer).
pub type FunctionTimeouts = HashMap<
    (String, String, Option<String>),
    (
        std::time::Instant,
        Duration,
        Option<crate::domain::replay::RecordedFunction>,
    ),
>;

/// Whether functions are durable: (project, function, qualifier) to (when, durable).
pub type DurableFunctions = HashMap<(String, String, Option<String>), (Instant, bool)>;

/// The workers' part of the process configuration.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Retries of an Invoke that never reached Lambda (throttled, unreachable).
    pub invoke_retries: u32,
    /// Seconds waited for a synchronous answer beyond the function's own timeout.
    pub invoke_timeout_margin_seconds: u64,
    /// Retention of custom-code functions' log groups.
    pub custom_code_log_days: i32,
}

impl WorkerContext {
    pub fn new(worker: Worker) -> Self {
        Self(Arc::new(worker))
    }
}

impl std::ops::Deref for WorkerContext {
    type Target = Worker;
    fn deref(&self) -> &Worker {
        &self.0
    }
}

/// How a step ended, from the worker's side.
pub enum Ending {
    /// The run is over: record this.
    Finished {
        status: RunStatus,
        result: Option<Box<RunResult>>,
        error: Option<RunError>,
    },
    /// Shutdown came before the Invoke went out: give the run back to the queue.
    Released,
    /// Shutdown came while the step followed what its next attempt re-attaches to (a
    /// durable execution): give the run back to the queue, its log saying this.
    GivenBack(String),
    /// A fault that passes (the database was away) came before the Invoke was marked as
    /// sent: nothing went out, so the run goes back to the queue, its log saying why,
    /// rather than failing for a reason that has nothing to do with the step.
    Requeued(String),
    /// Another replica took the run over; this attempt must not write anything.
    LeaseLost,
}

impl Ending {
    pub fn failed(code: RunErrorCode, message: impl Into<String>) -> Self {
        Self::Finished {
            status: RunStatus::Failed,
            result: None,
            error: Some(RunError::new(code, message)),
        }
    }

    pub fn cancelled(message: impl Into<String>) -> Self {
        Self::Finished {
            status: RunStatus::Cancelled,
            result: None,
            error: Some(RunError::new(RunErrorCode::Cancelled, message)),
        }
    }
}

/// What a step works with.
pub struct StepContext<'a> {
    pub worker: &'a WorkerContext,
    /// The Lambda of the run's project.
    pub lambda: &'a crate::lambda::directory::ProjectLambda,
    pub run: &'a ClaimedRun,
    pub log: &'a RunLog,
    /// The run's phase: what its log lines carry, its trace's spans.
    pub phases: &'a phases::Phases,
    pub stop: &'a StopSignal,
}

/// The worker pool's entry point for one claimed run.
pub fn execute(worker: WorkerContext, run: ClaimedRun, stop: StopSignal) -> RunFuture {
    let kind = step_kind(&run.step);
    let span = tracing::info_span!(
        "run",
        run.id = %run.id,
        step.type = %kind,
        attempt = run.attempt,
        project = %run.project,
    );
    // The submit's trace continues here, on whichever replica claimed the run.
    crate::telemetry::spans::continue_run(&span, run.traceparent.as_deref());
    crate::telemetry::spans::queue_wait(run.traceparent.as_deref(), run.created_at, run.id);
    crate::metrics::phase_took(
        RunPhase::Queued.as_str(),
        kind,
        (chrono::Utc::now() - run.created_at).as_seconds_f64().max(0.0),
    );
    Box::pin(execute_run(worker, run, stop, kind, span.clone()).instrument(span))
}

/// The step's `type`, read without reading the rest (which may not be readable).
fn step_kind(step: &str) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Kind {
        r#type: String,
    }
    match serde_json::from_str::<Kind>(step).map(|k| k.r#type).as_deref() {
        Ok("lambda_invoke") => "lambda_invoke",
        Ok("lambda_custom_code") => "lambda_custom_code",
        _ => "unknown",
    }
}

async fn execute_run(
    worker: WorkerContext,
    run: ClaimedRun,
    stop: StopSignal,
    kind: &'static str,
    span: tracing::Span,
) {
    let started = Instant::now();
    let log = worker.logs.for_run(run.id, run.attempt, run.next_seq);
    let phases = phases::Phases::claimed(log.clone(), span, kind);
    log.info(format!(
        "claimed by worker {} (attempt {})",
        worker.worker_id, run.attempt
    ));
    let ending = match serde_json::from_str::<Step>(&run.step) {
        Err(e) => Ending::failed(
            RunErrorCode::InvalidStep,
            format!("the stored step cannot be read: {e}"),
        ),
        Ok(step) => match worker
            .lambdas
            .for_project(&worker.db, &worker.master_key, &run.project)
            .await
        {
            Err(DirectoryError::Database { what, source }) if is_transient(&source) => {
                Ending::Requeued(format!("the project's settings could not be read ({what}: {source})"))
            }
            Err(why) => {
                log.error(format!("cannot reach this project's Lambda: {why}"));
                Ending::failed(RunErrorCode::Configuration, why.to_string())
            }
            Ok(lambda) => {
                let context = StepContext {
                    worker: &worker,
                    lambda: &lambda,
                    run: &run,
                    log: &log,
                    phases: &phases,
                    stop: &stop,
                };
                match &step {
                    _ if run.replay_of.is_some() => replay::run(&context, &step).await,
                    Step::LambdaInvoke(step) => lambda_invoke::run(&context, step).await,
                    Step::LambdaCustomCode(step) => custom_code::run(&context, step).await,
                }
            }
        },
    };
    match ending {
        Ending::Finished { status, result, error } => {
            phases.enter(RunPhase::Finished);
            let summary = match &error {
                Some(e) => format!("run {} ({}: {})", status.as_str(), e.code, e.message),
                None => format!("run {}", status.as_str()),
            };
            log.line(
                if error.is_some() {
                    LogLevel::Warn
                } else {
                    LogLevel::Info
                },
                summary,
            );
            // The finish stores every line sent before it in its own transaction, so a
            // reader that sees the run finished has all of its log.
            let finish = queue::Finish {
                id: run.id,
                attempt: run.attempt,
                status,
                // Lambda chose these words, not the service: kept as they can be stored.
                result: result
                    .and_then(|r| serde_json::to_value(r).ok())
                    .map(crate::domain::json::storable),
                error: error
                    .and_then(|e| serde_json::to_value(e).ok())
                    .map(crate::domain::json::storable),
            };
            match worker.writes.finish(finish.clone()).await {
                Ok(true) => {
                    crate::metrics::run_finished(status.as_str());
                    tracing::info!(
                        status = status.as_str(),
                        duration_ms = started.elapsed().as_millis() as u64,
                        "run finished"
                    );
                }
                Ok(false) => tracing::warn!("run was taken over by another worker; this attempt's result is dropped"),
                Err(e) => finish_without_result(&worker, &log, finish, e).await,
            }
        }
        Ending::Released => {
            phases.enter(RunPhase::Queued);
            log.info("the service is shutting down before the Invoke went out: queued again for another worker");
            give_back(&worker, &run, &log).await;
        }
        Ending::GivenBack(why) => {
            phases.enter(RunPhase::Queued);
            log.info(why);
            give_back(&worker, &run, &log).await;
        }
        Ending::Requeued(why) => {
            phases.enter(RunPhase::Queued);
            log.warn(format!(
                "{why}; nothing was sent to Lambda: queued again (attempt {} counted)",
                run.attempt
            ));
            tracing::warn!(why = %why, "the database was away before the Invoke went out; queued again");
            give_back(&worker, &run, &log).await;
        }
        Ending::LeaseLost => {
            log.flush().await;
            tracing::warn!("lease lost; another worker owns this run now");
        }
    }
}

/// Gives a run whose Invoke never went out back to the queue, trying through transient
/// faults: until the write lands the run stays in this worker's hands and its lease
/// renewed, and if the lease is lost meanwhile, the rescuer queues it again all the same.
async fn give_back(worker: &WorkerContext, run: &ClaimedRun, log: &RunLog) {
    log.flush().await;
    let mut backoff = Backoff::for_writes();
    loop {
        match queue::release(&worker.db, run.id, run.attempt).await {
            Ok(true) => {
                worker.wakeups.submitted();
                return;
            }
            Ok(false) => return,
            Err(e) if is_transient(&e) => {
                backoff.wait().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "giving a run back to the queue failed; the rescuer will once its lease expires");
                return;
            }
        }
    }
}

/// Postgres refused a finish for good (its result holds a value Postgres cannot store):
/// the run still ends with the outcome Lambda gave, without the result, its log saying why.
async fn finish_without_result(worker: &WorkerContext, log: &RunLog, finish: queue::Finish, refused: RunWriteError) {
    tracing::error!(error = %refused, "the run's result could not be stored; finishing it without");
    log.error(format!(
        "the result could not be stored ({refused}); the run ends without it"
    ));
    let error = RunError::new(
        RunErrorCode::ResultNotStored,
        format!(
            "the run {} but its result could not be stored: {refused}",
            finish.status.as_str()
        ),
    );
    let bare = queue::Finish {
        result: None,
        error: serde_json::to_value(error).ok(),
        ..finish
    };
    match worker.writes.finish(bare).await {
        Ok(true) => crate::metrics::run_finished(finish.status.as_str()),
        Ok(false) => tracing::warn!("run was taken over by another worker; this attempt's result is dropped"),
        Err(e) => tracing::error!(error = %e, "finishing the run without its result failed too"),
    }
}
