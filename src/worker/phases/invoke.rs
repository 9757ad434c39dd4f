//! The Invoke every step ends with (`invoking`, then `returned`): marked as sent before it
//! goes out, never sent twice, stopped waiting for on cancel, its answer turned into the
//! run's ending and log.

use std::time::{Duration, Instant};

use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::operation::invoke::InvokeOutput;
use tracing::Instrument as _;

use super::log_fetch::{tail_lines, tail_or_whole};
use super::stopped::stopped;
use crate::domain::run::{RunErrorCode, RunPhase};
use crate::lambda::at_most_once::{InvokeCall, InvokeFailure, RetryPolicy, invoke_at_most_once};
use crate::lambda::client::LambdaTarget;
use crate::lambda::outcome;
use crate::telemetry::spans;
use crate::worker::follow::{FollowPace, Followed, Follower, FunctionLog};
use crate::worker::{Ending, StepContext};

/// Sends the Invoke (at most once) and turns the answer into the run's ending and log:
/// the one Invoke path every step ends with. `follow` names a function the run owns: its
/// log is followed live while the Invoke is in flight.
pub async fn invoke_and_record(ctx: &StepContext<'_>, mut call: InvokeCall, follow: Option<FunctionLog>) -> Ending {
    let call = &mut call;
    let sent_at = chrono::Utc::now().timestamp_millis();
    // Following starts before the Invoke is marked sent: the wait for a Live Tail session
    // is not a time when a crash leaves the Invoke's fate unknown.
    let follower = match follow {
        Some(function) => {
            // A local endpoint (the engine, in process or not) has no quota to spare.
            let pace = match ctx.lambda.target {
                LambdaTarget::Aws => FollowPace::AWS,
                LambdaTarget::Embedded(_) | LambdaTarget::Endpoint(_) => FollowPace::LOCAL,
            };
            let logs = ctx.lambda.clients.logs.clone();
            Some(Follower::start(logs, ctx.log.clone(), function, sent_at, pace).await)
        }
        None => None,
    };
    if let Err(ending) = record_sending(ctx).await {
        if let Some(follower) = follower {
            follower.abandon();
        }
        return ending;
    }
    // From here the Invoke may have gone out: `invoking` is the phase of a sent Invoke.
    ctx.phases.enter(RunPhase::Invoking);
    // The Invoke's span, and its context carried into the function as Lambda carries X-Ray's.
    let span = spans::invoke(
        &ctx.phases.span(),
        &call.function_name,
        call.qualifier.as_deref(),
        call.invocation_type.as_str(),
        &ctx.lambda.client_key.region,
    );
    call.trace_header = crate::telemetry::context::xray_header(&span);
    let call = &*call;
    let started = Instant::now();
    let answer = match send(ctx, call).instrument(span.clone()).await {
        Ok(answer) => answer,
        Err(ending) => {
            match follower {
                // Another replica settled the run: nothing more of the function's output
                // belongs in its log from this one.
                Some(follower) if matches!(ending, Ending::LeaseLost) => follower.abandon(),
                // Cancelled: every line printed before the cancel is read, once.
                Some(follower) => {
                    follower.finish(None).await;
                }
                None => {}
            }
            return ending;
        }
    };
    let elapsed = started.elapsed().as_millis();
    ctx.phases.enter(RunPhase::Returned);
    match &answer {
        Ok(output) => spans::invoke_answered(&span, output.status_code(), output.request_id()),
        Err(_) => spans::invoke_failed(&span),
    }
    drop(span);
    match answer {
        Ok(output) => {
            crate::metrics::invoke_answered(started.elapsed().as_secs_f64());
            let followed = match follower {
                Some(follower) => Some(follower.finish(output.request_id()).await),
                None => None,
            };
            ctx.log
                .info(format!("Lambda answered {} in {elapsed} ms", output.status_code()));
            answered(ctx, call, &output, sent_at, followed).await
        }
        Err(failure) => {
            if let Some(follower) = follower {
                follower.finish(None).await;
            }
            failed(ctx, failure, elapsed)
        }
    }
}

/// Marks the Invoke as sent before it goes out, so it is never sent twice; Err with the
/// ending when it must not go out (cancelled, shutting down, lease lost, database away).
async fn record_sending(ctx: &StepContext<'_>) -> Result<(), Ending> {
    if ctx.stop.token.is_cancelled() {
        return Err(stopped(ctx, "cancelled before the Invoke was sent"));
    }
    if ctx.worker.shutdown.is_cancelled() {
        return Err(Ending::Released);
    }
    // Waits through database faults: the Invoke goes out only once it is recorded.
    let asked = Instant::now();
    match ctx.worker.writes.mark_invoke_sent(ctx.run.id, ctx.run.attempt).await {
        Ok(true) => {}
        Ok(false) => return Err(Ending::LeaseLost),
        // Nothing was sent: another attempt may send it.
        Err(e) => {
            return Err(Ending::Requeued(format!(
                "the Invoke could not be recorded before sending it ({e})"
            )));
        }
    }
    if asked.elapsed() > Duration::from_secs(1) {
        ctx.log.warn(format!(
            "the database was away; the Invoke was recorded after {:.1} s, when it answered again",
            asked.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

/// Sends the Invoke with the retry policy; Err with the ending when the run is stopped
/// while it waits.
async fn send(ctx: &StepContext<'_>, call: &InvokeCall) -> Result<Result<InvokeOutput, InvokeFailure>, Ending> {
    let qualifier = call
        .qualifier
        .as_deref()
        .map(|q| format!(" qualifier {q}"))
        .unwrap_or_default();
    ctx.log.info(format!(
        "invoking {} ({}{qualifier})",
        call.function_name,
        call.invocation_type.as_str()
    ));
    let policy = RetryPolicy {
        max_retries: ctx.worker.settings.invoke_retries,
        base: Duration::from_millis(200),
        cap: Duration::from_secs(20),
    };
    let log = ctx.log.clone();
    let notice = move |message: String| log.warn(message);
    tokio::select! {
        answer = invoke_at_most_once(&ctx.lambda.clients.invoke, call, policy, &notice) => Ok(answer),
        _ = ctx.stop.token.cancelled() => {
            Err(stopped(ctx, "cancelled while the function ran; it is no longer waited for"))
        }
    }
}

/// Lambda answered: the function's log (whole when the tail was cut), what the service
/// read in the answer, and the run's outcome.
async fn answered(
    ctx: &StepContext<'_>,
    call: &InvokeCall,
    output: &InvokeOutput,
    sent_at: i64,
    followed: Option<Followed>,
) -> Ending {
    let outcome = outcome::from_output(output, call.invocation_type);
    let function_log = match followed {
        // Every printed line is in the log already.
        Some(Followed::Complete) => Vec::new(),
        Some(Followed::Incomplete { last: Some(last) }) => {
            ctx.log
                .warn("[the function's log did not reach its REPORT line in time; the rest from Lambda's 4 KB tail]");
            // The tail's lines after the last one followed; the whole tail when it has not
            // that line (then some may be there twice).
            let tail = outcome.function_log.clone();
            let after = tail.iter().rposition(|l| *l == last).map_or(0, |i| i + 1);
            tail_lines(tail[after..].to_vec())
        }
        _ => tail_or_whole(ctx, call, &outcome, sent_at).await,
    };
    for line in function_log {
        ctx.log.function_line(line.time(), line.message);
    }
    for (level, line) in outcome.log {
        ctx.log.line(level, line);
    }
    Ending::Finished {
        status: outcome.status,
        result: Some(Box::new(outcome.result)),
        error: outcome.error,
    }
}

/// Lambda gave no answer to record: the run fails, saying whether it may have run.
fn failed(ctx: &StepContext<'_>, failure: InvokeFailure, elapsed: u128) -> Ending {
    match failure {
        InvokeFailure::OutcomeUnknown(why) => {
            ctx.log.error(format!(
                "outcome unknown after {elapsed} ms: {why}; it is not sent again"
            ));
            Ending::failed(RunErrorCode::OutcomeUnknown, why)
        }
        InvokeFailure::Refused { kind, message } => {
            ctx.log.error(format!("Lambda refused the Invoke: {kind}: {message}"));
            Ending::failed(RunErrorCode::LambdaError, format!("{kind}: {message}"))
        }
        InvokeFailure::GaveUp(why) => {
            ctx.log.error(why.clone());
            Ending::failed(RunErrorCode::Throttled, why)
        }
    }
}
